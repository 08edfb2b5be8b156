//! Exchange and queue names, and declaring them (idempotently: every worker declares the
//! topology it uses when it connects).

use std::time::Duration;

use lapin::options::{
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

/// How many times a quorum queue delivers one message before dead-lettering it: a message
/// that keeps crashing its consumer ends in the dead-letter queue instead of looping.
pub const DELIVERY_LIMIT: i32 = 20;

/// A consumer's queue: its name and the routing patterns it binds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerSpec {
    pub name: String,
    pub patterns: Vec<String>,
}

/// The names of everything on the broker, and the retry delays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    pub prefix: String,
    /// The wait before each retry; a message that fails once more after the last one goes to
    /// the dead-letter queue.
    pub retry_delays: Vec<Duration>,
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

fn quorum(mut args: FieldTable) -> FieldTable {
    args.insert(ShortString::from("x-queue-type"), text("quorum"));
    args
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

impl Topology {
    pub fn exchange(&self) -> String {
        format!("{}.events", self.prefix)
    }

    pub fn queue(&self, consumer: &str) -> String {
        format!("{}.{consumer}", self.prefix)
    }

    pub fn dead_letter_queue(&self, consumer: &str) -> String {
        format!("{}.{consumer}.dlq", self.prefix)
    }

    /// The queue of retry step `step` (0-based).
    pub fn retry_queue(&self, consumer: &str, step: usize) -> String {
        format!("{}.{consumer}.retry.{step}", self.prefix)
    }

    /// Declares the exchange.
    pub async fn declare_exchange(&self, channel: &Channel) -> Result<(), lapin::Error> {
        channel
            .exchange_declare(
                &self.exchange(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
    }

    /// Declares the exchange and a consumer's queue, dead-letter queue and retry queues, and
    /// binds its patterns.
    pub async fn declare_consumer(
        &self,
        channel: &Channel,
        consumer: &ConsumerSpec,
    ) -> Result<(), lapin::Error> {
        self.declare_exchange(channel).await?;
        let queue = self.queue(&consumer.name);
        let dlq = self.dead_letter_queue(&consumer.name);
        channel
            .queue_declare(&dlq, durable(), quorum(FieldTable::default()))
            .await?;
        let mut args = FieldTable::default();
        args.insert(ShortString::from("x-dead-letter-exchange"), text(""));
        args.insert(ShortString::from("x-dead-letter-routing-key"), text(&dlq));
        args.insert(
            ShortString::from("x-delivery-limit"),
            AMQPValue::LongInt(DELIVERY_LIMIT),
        );
        channel
            .queue_declare(&queue, durable(), quorum(args))
            .await?;
        for (step, delay) in self.retry_delays.iter().enumerate() {
            let mut args = FieldTable::default();
            args.insert(ShortString::from("x-dead-letter-exchange"), text(""));
            args.insert(ShortString::from("x-dead-letter-routing-key"), text(&queue));
            args.insert(
                ShortString::from("x-message-ttl"),
                AMQPValue::LongLongInt(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
            );
            channel
                .queue_declare(
                    &self.retry_queue(&consumer.name, step),
                    durable(),
                    quorum(args),
                )
                .await?;
        }
        for pattern in &consumer.patterns {
            channel
                .queue_bind(
                    &queue,
                    &self.exchange(),
                    pattern,
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }

    /// Deletes a consumer's queues (tests and benchmarks clean up after themselves).
    pub async fn delete_consumer(
        &self,
        channel: &Channel,
        consumer: &str,
    ) -> Result<(), lapin::Error> {
        let mut queues = vec![self.queue(consumer), self.dead_letter_queue(consumer)];
        queues.extend((0..self.retry_delays.len()).map(|step| self.retry_queue(consumer, step)));
        for queue in queues {
            channel
                .queue_delete(&queue, QueueDeleteOptions::default())
                .await?;
        }
        Ok(())
    }

    /// Deletes the exchange.
    pub async fn delete_exchange(&self, channel: &Channel) -> Result<(), lapin::Error> {
        channel
            .exchange_delete(
                &self.exchange(),
                lapin::options::ExchangeDeleteOptions::default(),
            )
            .await
    }
}
