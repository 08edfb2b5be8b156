//! Connections that come back: [`Link`] reconnects with backoff when the broker goes away;
//! [`AmqpBus`] publishes with confirms; [`Link::consume`] runs a consumer with acknowledgements,
//! retries through the retry queues, and the dead-letter queue.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bazaar_domain::events::{BusError, EventBus, EventEnvelope};
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions, ConfirmSelectOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use tokio::sync::{Mutex, watch};

use crate::envelope::{self, EnvelopeError};
use crate::topology::{ConsumerSpec, Topology};

/// The header counting how many retry steps a message has been through.
pub const RETRIES_HEADER: &str = "x-bazaar-retries";

/// Chunks of messages a consumer handles at once.
const CHUNKS_IN_FLIGHT: usize = 4;

/// How long a publish may wait for the broker's confirms before the connection is treated as
/// lost.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

/// What went wrong talking to the broker.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("RabbitMQ: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("RabbitMQ did not confirm within {0:?}")]
    Timeout(Duration),
}

/// A connection to RabbitMQ that reconnects on demand.
#[derive(Debug)]
pub struct Link {
    uri: String,
    name: String,
    connection: Mutex<Option<Connection>>,
}

impl Link {
    /// A link to `uri` (e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`); `name` shows in the
    /// broker's connection list. Nothing connects until a channel is asked for.
    pub fn new(uri: &str, name: &str) -> Self {
        Self {
            uri: uri.to_owned(),
            name: name.to_owned(),
            connection: Mutex::new(None),
        }
    }

    /// A new channel on a live connection, connecting first if there is none.
    pub async fn channel(&self) -> Result<Channel, LinkError> {
        let mut guard = self.connection.lock().await;
        if let Some(connection) = guard.as_ref()
            && connection.status().connected()
        {
            return Ok(connection.create_channel().await?);
        }
        let properties = ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio)
            .with_connection_name(self.name.clone().into());
        let connection = Connection::connect(&self.uri, properties).await?;
        tracing::info!(name = %self.name, "connected to RabbitMQ");
        let channel = connection.create_channel().await?;
        *guard = Some(connection);
        Ok(channel)
    }

    /// Forgets the connection (after an error), so the next [`Link::channel`] reconnects.
    pub async fn reset(&self) {
        if let Some(connection) = self.connection.lock().await.take() {
            // The connection may already be dead; closing it is best effort.
            if let Err(error) = connection.close(320, "reconnecting").await {
                tracing::debug!(%error, "closing a broken RabbitMQ connection");
            }
        }
    }

    /// A channel with publisher confirms on, retrying with backoff until one opens or
    /// `shutdown` turns true (then `None`).
    pub async fn confirm_channel(
        &self,
        shutdown: &mut watch::Receiver<bool>,
        setup: impl AsyncFn(&Channel) -> Result<(), lapin::Error>,
    ) -> Option<Channel> {
        let mut failures: u32 = 0;
        loop {
            if *shutdown.borrow() {
                return None;
            }
            let attempt = async {
                let channel = self.channel().await?;
                channel
                    .confirm_select(ConfirmSelectOptions::default())
                    .await?;
                setup(&channel).await?;
                Ok::<_, LinkError>(channel)
            };
            match attempt.await {
                Ok(channel) => {
                    if failures > 0 {
                        tracing::info!(name = %self.name, failures, "RabbitMQ is back");
                    }
                    return Some(channel);
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let wait = backoff(failures);
                    tracing::warn!(name = %self.name, %error, failures, retry_in_ms = wait.as_millis(),
                        "RabbitMQ unavailable; reconnecting");
                    self.reset().await;
                    if sleep_or_shutdown(wait, shutdown).await {
                        return None;
                    }
                }
            }
        }
    }

    /// Runs a consumer until `shutdown`: declares its queues, takes up to `prefetch`
    /// messages at a time and hands those already waiting to `handle` together (it answers a
    /// verdict per message, in order), then acts on each verdict.
    /// A lost connection is re-established with backoff; messages in flight return to the
    /// queue and are delivered again (consumers are idempotent).
    pub async fn consume<F, Fut>(
        &self,
        topology: &Topology,
        spec: &ConsumerSpec,
        prefetch: u16,
        handle: F,
        mut shutdown: watch::Receiver<bool>,
    ) where
        F: Fn(Vec<Result<EventEnvelope, EnvelopeError>>) -> Fut + Send + Sync,
        Fut: Future<Output = Vec<Verdict>> + Send,
    {
        let handle = &handle;
        loop {
            let Some(channel) = self
                .confirm_channel(&mut shutdown, async |channel: &Channel| {
                    topology.declare_consumer(channel, spec).await?;
                    channel
                        .basic_qos(prefetch, BasicQosOptions::default())
                        .await
                })
                .await
            else {
                return;
            };
            let consumer = match channel
                .basic_consume(
                    &topology.queue(&spec.name),
                    &format!("{}-{}", self.name, spec.name),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
            {
                Ok(consumer) => consumer,
                Err(error) => {
                    tracing::warn!(consumer = %spec.name, %error, "could not start consuming");
                    self.reset().await;
                    continue;
                }
            };
            tracing::info!(consumer = %spec.name, queue = %topology.queue(&spec.name), "consuming");
            let channel = &channel;
            let mut stop = shutdown.clone();
            let stopped = async move {
                while !*stop.borrow() {
                    if stop.changed().await.is_err() {
                        break;
                    }
                }
            };
            // Messages already waiting are handled together (one transaction per chunk in the
            // consumers), a few chunks at a time.
            consumer
                .take_until(Box::pin(stopped))
                .ready_chunks((usize::from(prefetch) / CHUNKS_IN_FLIGHT).max(1))
                .for_each_concurrent(CHUNKS_IN_FLIGHT, |chunk| async move {
                    let mut deliveries = Vec::with_capacity(chunk.len());
                    for delivery in chunk {
                        match delivery {
                            Ok(delivery) => deliveries.push(delivery),
                            Err(error) => {
                                tracing::warn!(consumer = %spec.name, %error, "consumer stream failed");
                            }
                        }
                    }
                    if deliveries.is_empty() {
                        return;
                    }
                    let decoded = deliveries.iter().map(|d| envelope::decode(&d.data)).collect();
                    let verdicts = handle(decoded).await;
                    let missing = || Verdict::Retry("the consumer gave no verdict".to_owned());
                    let verdicts = verdicts.into_iter().chain(std::iter::repeat_with(missing));
                    for (delivery, verdict) in deliveries.iter().zip(verdicts) {
                        if let Err(error) = settle(channel, topology, spec, delivery, verdict).await {
                            tracing::warn!(consumer = %spec.name, %error,
                                "could not settle a message; it will be delivered again");
                        }
                    }
                })
                .await;
            if *shutdown.borrow() {
                return;
            }
            tracing::warn!(consumer = %spec.name, "consumer stopped; reconnecting");
            self.reset().await;
            if sleep_or_shutdown(backoff(1), &mut shutdown).await {
                return;
            }
        }
    }
}

/// What a consumer decided about one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Applied (now or before): acknowledge.
    Done,
    /// Failed in a way that may pass later: through the next retry queue, or to the
    /// dead-letter queue when the retries are used up.
    Retry(String),
    /// Can never be applied (malformed, unknown version): straight to the dead-letter queue.
    Poison(String),
}

fn retries_of(delivery: &Delivery) -> usize {
    delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get(RETRIES_HEADER))
        .and_then(|value| match value {
            AMQPValue::LongLongInt(n) => usize::try_from(*n).ok(),
            AMQPValue::LongInt(n) => usize::try_from(*n).ok(),
            _ => None,
        })
        .unwrap_or(0)
}

async fn settle(
    channel: &Channel,
    topology: &Topology,
    spec: &ConsumerSpec,
    delivery: &Delivery,
    verdict: Verdict,
) -> Result<(), LinkError> {
    let dead_letter = BasicRejectOptions { requeue: false };
    match verdict {
        Verdict::Done => delivery.ack(BasicAckOptions::default()).await?,
        Verdict::Poison(reason) => {
            tracing::error!(consumer = %spec.name, %reason, "message cannot be applied; dead-lettered");
            delivery.reject(dead_letter).await?;
        }
        Verdict::Retry(reason) => {
            let retries = retries_of(delivery);
            if retries >= topology.retry_delays.len() {
                tracing::error!(consumer = %spec.name, %reason, retries,
                    "message failed after every retry; dead-lettered");
                delivery.reject(dead_letter).await?;
                return Ok(());
            }
            let mut headers = delivery.properties.headers().clone().unwrap_or_default();
            headers.insert(
                ShortString::from(RETRIES_HEADER),
                AMQPValue::LongLongInt(
                    i64::try_from(retries.saturating_add(1)).unwrap_or(i64::MAX),
                ),
            );
            let properties = delivery.properties.clone().with_headers(headers);
            let queue = topology.retry_queue(&spec.name, retries);
            tracing::warn!(consumer = %spec.name, %reason, retry = retries.saturating_add(1),
                delay_ms = topology.retry_delays.get(retries).map_or(0, Duration::as_millis),
                "message failed; retrying later");
            let confirm = channel
                .basic_publish(
                    "",
                    &queue,
                    BasicPublishOptions::default(),
                    &delivery.data,
                    properties,
                )
                .await?;
            match tokio::time::timeout(CONFIRM_TIMEOUT, confirm).await {
                Ok(Ok(Confirmation::Ack(_) | Confirmation::NotRequested)) => {
                    delivery.ack(BasicAckOptions::default()).await?;
                }
                Ok(Ok(Confirmation::Nack(_))) => {
                    delivery
                        .nack(BasicNackOptions {
                            requeue: true,
                            ..BasicNackOptions::default()
                        })
                        .await?;
                }
                Ok(Err(error)) => return Err(error.into()),
                Err(_) => return Err(LinkError::Timeout(CONFIRM_TIMEOUT)),
            }
        }
    }
    Ok(())
}

/// Exponential backoff from 100 ms, capped at 5 s.
pub fn backoff(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(6);
    Duration::from_millis(100u64.saturating_mul(1u64 << exponent)).min(Duration::from_secs(5))
}

/// Sleeps for `wait`; true if `shutdown` turned true meanwhile.
pub async fn sleep_or_shutdown(wait: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(wait) => *shutdown.borrow(),
        changed = shutdown.changed() => changed.is_err() || *shutdown.borrow(),
    }
}

/// Publishes events to the topology's exchange with publisher confirms.
#[derive(Debug)]
pub struct AmqpBus {
    link: Arc<Link>,
    topology: Topology,
    channel: Mutex<Option<Channel>>,
}

impl AmqpBus {
    pub fn new(link: Arc<Link>, topology: Topology) -> Self {
        Self {
            link,
            topology,
            channel: Mutex::new(None),
        }
    }

    async fn publish_all(&self, events: &[EventEnvelope]) -> Result<usize, LinkError> {
        let mut guard = self.channel.lock().await;
        let channel = match guard.as_ref() {
            Some(channel) if channel.status().connected() => channel.clone(),
            _ => {
                let channel = self.link.channel().await?;
                channel
                    .confirm_select(ConfirmSelectOptions::default())
                    .await?;
                self.topology.declare_exchange(&channel).await?;
                *guard = Some(channel.clone());
                channel
            }
        };
        drop(guard);
        let exchange = self.topology.exchange();
        let mut confirms = Vec::with_capacity(events.len());
        let mut refused: usize = 0;
        for event in events {
            let body = match envelope::encode(event) {
                Ok(body) => body,
                Err(error) => {
                    tracing::error!(event_id = %event.id, %error, "event cannot be encoded");
                    refused = refused.saturating_add(1);
                    continue;
                }
            };
            let seconds =
                u64::try_from(event.occurred_at.as_micros().div_euclid(1_000_000)).unwrap_or(0);
            let properties = BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("application/json".into())
                .with_message_id(event.id.to_string().into())
                .with_type(event.event_type.clone().into())
                .with_timestamp(seconds);
            confirms.push(
                channel
                    .basic_publish(
                        &exchange,
                        &event.event_type,
                        BasicPublishOptions::default(),
                        &body,
                        properties,
                    )
                    .await?,
            );
        }
        let confirmed = async {
            for confirm in confirms {
                if let Confirmation::Nack(_) = confirm.await? {
                    refused = refused.saturating_add(1);
                }
            }
            Ok::<_, LinkError>(refused)
        };
        tokio::time::timeout(CONFIRM_TIMEOUT, confirmed)
            .await
            .map_err(|_| LinkError::Timeout(CONFIRM_TIMEOUT))?
    }
}

impl EventBus for AmqpBus {
    async fn publish(&self, events: &[EventEnvelope]) -> Result<(), BusError> {
        match self.publish_all(events).await {
            Ok(0) => Ok(()),
            Ok(refused) => Err(BusError::Refused(refused)),
            Err(error) => {
                *self.channel.lock().await = None;
                self.link.reset().await;
                Err(BusError::Unavailable(error.to_string()))
            }
        }
    }
}
