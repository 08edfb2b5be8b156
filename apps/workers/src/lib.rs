//! Bazaar's background workers, as a process of their own (`bazaar-workers`):
//!
//! - the **relay** claims unsent outbox events, publishes them to RabbitMQ with publisher
//!   confirms and marks them sent only once the broker confirmed them;
//! - the **activity** consumer counts every seller's events (`event_counts`), exactly once per
//!   event;
//! - the **webhooks** consumer turns each event into deliveries for the endpoints that
//!   subscribe to it and sends them at once; a poller sends the retries when they fall due;
//! - the **payouts** role releases sellers' funds, runs their scheduled payouts, drives each
//!   payout through the ledger and its rail and applies the rails' events (`payouts.rs`).
//!
//! Any number of processes share the work. Each loop reconnects with backoff when PostgreSQL
//! or RabbitMQ goes away, and says so in the log. See `docs/events.md`.

pub mod config;
pub mod deliver;
pub mod payouts;
pub mod receiver;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bazaar_domain::events::{EVENT_VERSION, EventBus, EventEnvelope, EventStoreError, Outbox};
use bazaar_domain::webhooks::{AttemptResult, DeliveryJob, RetrySchedule, WebhookPolicy, Webhooks};
use bazaar_postgres::{PostgresEvents, RetryPolicy, SecretKey, SecretKeys};
use bazaar_rabbitmq::{
    AmqpBus, ConsumerSpec, EnvelopeError, Link, Topology, Verdict, backoff, sleep_or_shutdown,
};
use tokio::sync::{Semaphore, mpsc, watch};

pub use config::{Role, WorkerConfig};
pub use deliver::{Resolver, SystemResolver};
use deliver::{Sender, now};

/// The activity consumer's name (its queue is `<prefix>.activity`).
pub const ACTIVITY: &str = "activity";
/// The webhook consumer's name.
pub const WEBHOOKS: &str = "webhooks";
/// Relay loops per process.
const RELAY_TASKS: usize = 2;
/// The most delivery results recorded in one transaction.
const RECORD_BATCH: usize = 256;
/// Recording transactions in flight at once.
const RECORDS_IN_FLIGHT: usize = 4;

/// The webhooks service on PostgreSQL, as the consumers and the poller use it.
type WebhookService = Webhooks<PostgresEvents>;

/// Why the workers could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("BAZAAR_SECRETS_KEY: {0}")]
    SecretsKey(#[from] bazaar_postgres::SealError),
    #[error(
        "production mode (BAZAAR_ENV=production) refuses to run without the card vault: \
         BAZAAR_VAULT_URL is unset, so secrets would be sealed by one flat key that never rotates"
    )]
    NoVault,
    #[error(
        "production mode (BAZAAR_ENV=production) refuses the vault channel's public \
         development key in {0}"
    )]
    DevelopmentVaultKey(&'static str),
    #[error("the HTTP client could not be built: {0}")]
    Http(#[from] reqwest::Error),
    #[error(
        "production mode (BAZAAR_ENV=production) refuses the payouts role: its only rail \
         connector is the sandbox"
    )]
    SandboxRails,
}

/// The topology the workers use.
pub fn topology(config: &WorkerConfig) -> Topology {
    Topology {
        prefix: config.amqp_prefix.clone(),
        retry_delays: config.retry_delays.clone(),
    }
}

/// The consumers and the events each binds.
pub fn consumers() -> Vec<ConsumerSpec> {
    vec![
        ConsumerSpec {
            name: ACTIVITY.to_owned(),
            patterns: vec!["#".to_owned()],
        },
        ConsumerSpec {
            name: WEBHOOKS.to_owned(),
            patterns: vec!["#".to_owned()],
        },
    ]
}

/// What production mode refuses: the sandbox rails, running without the vault, and the
/// vault channel's development keys.
fn refuse_in_production(config: &WorkerConfig) -> Result<(), StartError> {
    if config.roles.contains(&Role::Payouts) {
        return Err(StartError::SandboxRails);
    }
    let Some(vault) = &config.vault else {
        return Err(StartError::NoVault);
    };
    let development = vault.development_keys();
    [
        (development.channel, "BAZAAR_VAULT_CHANNEL_KEY"),
        (development.api, "BAZAAR_VAULT_API_SEED"),
        (development.vault, "BAZAAR_VAULT_PUBLIC_KEY"),
    ]
    .into_iter()
    .find_map(|(refused, name)| refused.then_some(name))
    .map_or(Ok(()), |name| Err(StartError::DevelopmentVaultKey(name)))
}

/// The keys of webhook secrets and bank details: the vault's keyrings (signing as the API),
/// with `BAZAAR_SECRETS_KEY`, when set, still opening what it sealed; without a vault, that
/// flat key alone.
fn secret_keys(config: &WorkerConfig) -> Result<(SecretKeys, SecretKeys), StartError> {
    let flat = if config.secrets_key.is_empty() {
        None
    } else {
        Some(SecretKey::from_hex(&config.secrets_key)?)
    };
    Ok(match (&config.vault, flat) {
        (Some(link), flat) => SecretKeys::keyrings(link.api(), flat),
        (None, Some(flat)) => (flat.clone().into(), flat.into()),
        (None, None) => return Err(StartError::SecretsKey(bazaar_postgres::SealError::BadKey)),
    })
}

/// Runs the configured roles until `shutdown` turns true, resolving webhook hosts with the
/// operating system's resolver.
pub async fn run(config: WorkerConfig, shutdown: watch::Receiver<bool>) -> Result<(), StartError> {
    run_with(config, Arc::new(SystemResolver), shutdown).await
}

/// [`run`], resolving webhook hosts with `resolver`.
pub async fn run_with(
    config: WorkerConfig,
    resolver: Arc<dyn Resolver>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), StartError> {
    if config.production {
        refuse_in_production(&config)?;
    }
    let (webhook_keys, bank_keys) = secret_keys(&config)?;
    let events = Arc::new(PostgresEvents::new(
        &config.database_url,
        config.db_pool,
        RetryPolicy::default(),
        webhook_keys,
    ));
    let webhooks = Arc::new(Webhooks::new(
        PostgresEvents::clone(&events),
        WebhookPolicy {
            allow_loopback_http: config.allow_loopback,
            disable_after: config.disable_after,
            lease: config.delivery_lease,
        },
    ));
    let link = Arc::new(Link::new(&config.amqp_url, &config.name));
    let topology = topology(&config);
    let sender = Sender::new(
        RetrySchedule {
            first: config.retry_first,
            ..RetrySchedule::default()
        },
        config.allow_loopback,
        resolver,
    )?;
    let permits = Arc::new(Semaphore::new(config.delivery_concurrency));
    // The loops run together on this task (a consumer's future borrows across awaits in a way
    // that is not `Send`); the deliveries they start are tasks of their own.
    let mut tasks: Vec<Task> = Vec::new();
    let mut recorders = Vec::new();
    tracing::info!(name = %config.name, roles = ?config.roles, prefix = %config.amqp_prefix, "workers starting");
    for role in &config.roles {
        match role {
            Role::Relay => {
                for _ in 0..RELAY_TASKS {
                    let bus = AmqpBus::new(link.clone(), topology.clone());
                    tasks.push(Box::pin(relay(
                        events.clone(),
                        bus,
                        config.relay_lease,
                        config.relay_batch,
                        config.relay_idle,
                        shutdown.clone(),
                    )));
                }
            }
            Role::Activity => tasks.push(activity_task(
                webhooks.clone(),
                link.clone(),
                topology.clone(),
                config.prefetch,
                shutdown.clone(),
            )),
            Role::Webhooks => {
                let (results, recorded) = mpsc::unbounded_channel();
                recorders.push(tokio::spawn(record(webhooks.clone(), recorded)));
                let context = Arc::new(Delivering {
                    webhooks: webhooks.clone(),
                    sender: sender.clone(),
                    permits: permits.clone(),
                    results,
                });
                tasks.extend(delivery_tasks(
                    context,
                    link.clone(),
                    topology.clone(),
                    &config,
                    &shutdown,
                ));
            }
            Role::Payouts => tasks.push(Box::pin(payouts::run(
                config.clone(),
                bank_keys.clone(),
                shutdown.clone(),
            ))),
        }
    }
    futures_util::future::join_all(tasks).await;
    // Deliveries in flight finish (or time out) and their results are recorded before the
    // process ends.
    let _drained = permits
        .acquire_many(u32::try_from(config.delivery_concurrency).unwrap_or(u32::MAX))
        .await;
    for recorder in recorders {
        if let Err(error) = recorder.await {
            tracing::error!(%error, "the delivery recorder failed");
        }
    }
    tracing::info!(name = %config.name, "workers stopped");
    Ok(())
}

type Task = Pin<Box<dyn Future<Output = ()>>>;

/// The activity role's consumer: every event into the sellers' event counts.
fn activity_task(
    webhooks: Arc<WebhookService>,
    link: Arc<Link>,
    topology: Topology,
    prefetch: u16,
    shutdown: watch::Receiver<bool>,
) -> Task {
    Box::pin(async move {
        let spec = spec(ACTIVITY);
        let handler = |decoded| count_events(&webhooks, decoded, shutdown.clone());
        link.consume(&topology, &spec, prefetch, handler, shutdown.clone())
            .await;
    })
}

/// The webhook role's loops: the consumer that fans events out and sends them at once, and
/// the poller that sends what fell due.
fn delivery_tasks(
    context: Arc<Delivering>,
    link: Arc<Link>,
    topology: Topology,
    config: &WorkerConfig,
    shutdown: &watch::Receiver<bool>,
) -> [Task; 2] {
    let (prefetch, fan_shutdown) = (config.prefetch, shutdown.clone());
    let consumer = context.clone();
    let fan_out: Task = Box::pin(async move {
        let spec = spec(WEBHOOKS);
        let handler = |decoded| consumer.clone().fan_out(decoded, fan_shutdown.clone());
        link.consume(&topology, &spec, prefetch, handler, fan_shutdown.clone())
            .await;
    });
    let poll: Task = Box::pin(context.poll(config.delivery_poll, shutdown.clone()));
    [fan_out, poll]
}

fn spec(name: &str) -> ConsumerSpec {
    consumers()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or(ConsumerSpec {
            name: name.to_owned(),
            patterns: vec!["#".to_owned()],
        })
}

/// The relay loop.
async fn relay(
    events: Arc<PostgresEvents>,
    bus: AmqpBus,
    lease: Duration,
    batch: u32,
    idle: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failures: u32 = 0;
    while !*shutdown.borrow() {
        let claimed = match events.claim(batch, lease, now()).await {
            Ok(claimed) => claimed,
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%error, failures, "relay cannot read the outbox; retrying");
                if sleep_or_shutdown(backoff(failures), &mut shutdown).await {
                    return;
                }
                continue;
            }
        };
        if claimed.is_empty() {
            if sleep_or_shutdown(idle, &mut shutdown).await {
                return;
            }
            continue;
        }
        let ids: Vec<_> = claimed.iter().map(|e| e.id).collect();
        match bus.publish(&claimed).await {
            Ok(()) => {
                if failures > 0 {
                    tracing::info!(failures, "relay publishing again");
                }
                failures = 0;
                // If this fails the lease runs out and the events are published again:
                // consumers are idempotent, so a second copy changes nothing.
                if let Err(error) = events.mark_sent(&ids, now()).await {
                    tracing::warn!(%error, events = ids.len(), "published events not marked sent; they will be sent again");
                }
                tracing::debug!(events = ids.len(), "relayed");
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%error, failures, events = ids.len(), "relay could not publish; retrying");
                if let Err(error) = events.release(&ids).await {
                    tracing::warn!(%error, "claimed events not released; their lease will run out");
                }
                if sleep_or_shutdown(backoff(failures), &mut shutdown).await {
                    return;
                }
            }
        }
    }
}

/// Checks what every consumer needs of a message: that it decodes and has a known version.
fn readable(decoded: Result<EventEnvelope, EnvelopeError>) -> Result<EventEnvelope, Verdict> {
    let event = decoded.map_err(|error| Verdict::Poison(error.to_string()))?;
    if event.version != EVENT_VERSION {
        return Err(Verdict::Poison(format!(
            "event {} has version {}; this worker reads {EVENT_VERSION}",
            event.id, event.version
        )));
    }
    Ok(event)
}

/// A chunk of messages: verdicts for those that cannot be read, and the events of the rest.
struct Chunk {
    verdicts: Vec<Option<Verdict>>,
    events: Vec<EventEnvelope>,
    /// `events[i]` answers `verdicts[slots[i]]`.
    slots: Vec<usize>,
}

impl Chunk {
    fn new(decoded: Vec<Result<EventEnvelope, EnvelopeError>>) -> Self {
        let mut chunk = Self {
            verdicts: Vec::with_capacity(decoded.len()),
            events: Vec::new(),
            slots: Vec::new(),
        };
        for (slot, message) in decoded.into_iter().enumerate() {
            match readable(message) {
                Ok(event) => {
                    chunk.events.push(event);
                    chunk.slots.push(slot);
                    chunk.verdicts.push(None);
                }
                Err(verdict) => chunk.verdicts.push(Some(verdict)),
            }
        }
        chunk
    }

    /// The verdicts, given one per event.
    fn answer(mut self, verdicts: impl IntoIterator<Item = Verdict>) -> Vec<Verdict> {
        for (slot, verdict) in self.slots.iter().zip(verdicts) {
            if let Some(place) = self.verdicts.get_mut(*slot) {
                *place = Some(verdict);
            }
        }
        self.verdicts
            .into_iter()
            .map(|v| v.unwrap_or_else(|| Verdict::Retry("not handled".to_owned())))
            .collect()
    }

    /// The same verdict for every event.
    fn answer_all(self, verdict: &Verdict) -> Vec<Verdict> {
        let count = self.events.len();
        self.answer(std::iter::repeat_n(verdict.clone(), count))
    }
}

impl Chunk {
    /// Runs `work` (the chunk's transaction) until the store answers, waiting out outages: the
    /// messages stay unacknowledged meanwhile, so an outage never uses up their retries. The
    /// error is the verdict for every message when the transaction failed or the worker is
    /// shutting down.
    async fn run<T, F, Fut>(
        &self,
        what: &str,
        mut shutdown: watch::Receiver<bool>,
        work: F,
    ) -> Result<T, Verdict>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, EventStoreError>>,
    {
        let mut failures: u32 = 0;
        loop {
            match work().await {
                Ok(answer) => return Ok(answer),
                Err(EventStoreError::Unavailable) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(
                        what,
                        events = self.events.len(),
                        failures,
                        "database unavailable; holding the messages and retrying"
                    );
                    if sleep_or_shutdown(backoff(failures), &mut shutdown).await {
                        return Err(Verdict::Retry("worker shutting down".to_owned()));
                    }
                }
                Err(error) => return Err(Verdict::Retry(error.to_string())),
            }
        }
    }
}

async fn count_events(
    webhooks: &WebhookService,
    decoded: Vec<Result<EventEnvelope, EnvelopeError>>,
    shutdown: watch::Receiver<bool>,
) -> Vec<Verdict> {
    let chunk = Chunk::new(decoded);
    if chunk.events.is_empty() {
        return chunk.answer(Vec::new());
    }
    let work = || webhooks.count_events(ACTIVITY, &chunk.events, now());
    match chunk.run(ACTIVITY, shutdown, work).await {
        Ok(answers) => {
            let verdicts: Vec<Verdict> = answers
                .into_iter()
                .map(|answer| match answer {
                    Ok(_) => Verdict::Done,
                    Err(error) => Verdict::Retry(error.to_string()),
                })
                .collect();
            chunk.answer(verdicts)
        }
        Err(verdict) => chunk.answer_all(&verdict),
    }
}

/// What the webhook consumer and the delivery poller share.
struct Delivering {
    webhooks: Arc<WebhookService>,
    sender: Sender,
    permits: Arc<Semaphore>,
    results: mpsc::UnboundedSender<(DeliveryJob, AttemptResult)>,
}

impl Delivering {
    async fn fan_out(
        self: Arc<Self>,
        decoded: Vec<Result<EventEnvelope, EnvelopeError>>,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<Verdict> {
        let chunk = Chunk::new(decoded);
        if chunk.events.is_empty() {
            return chunk.answer(Vec::new());
        }
        let work = || self.webhooks.fan_out(WEBHOOKS, &chunk.events, now());
        match chunk.run(WEBHOOKS, shutdown, work).await {
            Ok(answers) => {
                let count = answers.len();
                for job in answers.into_iter().flatten().flatten() {
                    self.clone().send(job).await;
                }
                chunk.answer(std::iter::repeat_n(Verdict::Done, count))
            }
            Err(verdict) => chunk.answer_all(&verdict),
        }
    }

    /// Starts sending `job` once a permit is free; its result goes to the recorder.
    async fn send(self: Arc<Self>, job: DeliveryJob) {
        let Ok(permit) = self.permits.clone().acquire_owned().await else {
            return;
        };
        tokio::spawn(async move {
            let result = self.sender.attempt(&job).await;
            tracing::debug!(delivery = %job.delivery_id, event_id = %job.event.id,
                status = ?result.status_code, latency_ms = result.latency_ms, "webhook attempt");
            if self.results.send((job, result)).is_err() {
                tracing::warn!(
                    "attempt not recorded (shutting down); the delivery is sent again when its lease runs out"
                );
            }
            drop(permit);
        });
    }

    /// Sends deliveries that fell due (retries, replays, and deliveries whose worker died).
    async fn poll(self: Arc<Self>, every: Duration, mut shutdown: watch::Receiver<bool>) {
        let mut failures: u32 = 0;
        while !*shutdown.borrow() {
            let limit = u32::try_from(self.permits.available_permits().max(1)).unwrap_or(1);
            match self.webhooks.claim_deliveries(limit, now()).await {
                Ok(jobs) => {
                    failures = 0;
                    let full = u32::try_from(jobs.len()).unwrap_or(u32::MAX) >= limit;
                    for job in jobs {
                        self.clone().send(job).await;
                    }
                    if full {
                        continue;
                    }
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, failures, "cannot look for due deliveries; retrying");
                    if sleep_or_shutdown(backoff(failures), &mut shutdown).await {
                        return;
                    }
                    continue;
                }
            }
            if sleep_or_shutdown(every, &mut shutdown).await {
                return;
            }
        }
    }
}

/// Records attempts as they come, many per transaction and a few transactions at once, until
/// every sender is gone.
async fn record(
    webhooks: Arc<WebhookService>,
    mut results: mpsc::UnboundedReceiver<(DeliveryJob, AttemptResult)>,
) {
    let mut in_flight = tokio::task::JoinSet::new();
    loop {
        let mut batch = Vec::new();
        if results.recv_many(&mut batch, RECORD_BATCH).await == 0 {
            break;
        }
        while in_flight.len() >= RECORDS_IN_FLIGHT {
            let _done = in_flight.join_next().await;
        }
        in_flight.spawn(record_batch(webhooks.clone(), batch));
    }
    while in_flight.join_next().await.is_some() {}
}

async fn record_batch(webhooks: Arc<WebhookService>, batch: Vec<(DeliveryJob, AttemptResult)>) {
    let mut failures: u32 = 0;
    loop {
        match webhooks.record_attempts(&batch, now()).await {
            Ok(()) => return,
            Err(EventStoreError::Unavailable) => {
                failures = failures.saturating_add(1);
                tracing::warn!(
                    attempts = batch.len(),
                    failures,
                    "database unavailable; holding delivery results and retrying"
                );
                tokio::time::sleep(backoff(failures)).await;
            }
            Err(error) => {
                tracing::error!(%error, attempts = batch.len(),
                    "delivery results not recorded; the deliveries are sent again when their lease runs out");
                return;
            }
        }
    }
}
