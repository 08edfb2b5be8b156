//! The events benchmark.
//!
//! 1. Relay throughput: `--events` outbox rows are inserted in one statement, one quorum queue
//!    bound to `#` receives every message, and the workers run the relay alone until no row is
//!    left unsent (publisher confirms on, so each message is in a quorum queue before it counts).
//! 2. End-to-end latency: a generator commits one outbox row per transaction at `--rate` events
//!    per second for `--seconds`; the workers run every role and deliver each event to a webhook
//!    endpoint served here, which records arrival time minus the event's `occurred_at_us`.
//!
//! Everything runs against the database `bazaar_bench_events` (recreated) and the local
//! RabbitMQ; the exchange and queues are deleted afterwards.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bazaar_domain::chart::SellerId;
use bazaar_domain::webhooks::{EndpointSecret, WebhookPolicy, Webhooks};
use bazaar_ledger::Timestamp;
use bazaar_postgres::{PostgresEvents, RetryPolicy, SecretKey};
use bazaar_rabbitmq::{ConsumerSpec, Link, Topology};
use bazaar_schema::schema::{outbox_events, sellers};
use bazaar_workers::{Role, WorkerConfig};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use uuid::Uuid;

use crate::ledger::recreate_database;
use crate::stats;

const DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/bazaar_bench_events";
const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// The blocking connections that commit the latency run's events.
const GENERATORS: u64 = 16;
/// How long the relay run may take before the benchmark gives up.
const RELAY_DEADLINE: Duration = Duration::from_secs(900);
/// How long to wait for the last webhooks once the generator stopped.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(60);
/// How often the relay run looks for unsent rows.
const POLL: Duration = Duration::from_millis(50);
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

#[derive(Debug)]
pub struct Options {
    events: u64,
    rate: u64,
    seconds: u64,
    relay_batch: u32,
    db_pool: u32,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Self {
            events: 200_000,
            rate: 2_000,
            seconds: 20,
            relay_batch: 1_000,
            db_pool: 8,
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            let number = |text: &String| {
                text.parse::<u64>()
                    .map_err(|_| format!("{flag}: {text:?} is not a number"))
            };
            match flag.as_str() {
                "--events" => options.events = number(value()?)?.max(1),
                "--rate" => options.rate = number(value()?)?.max(1),
                "--seconds" => options.seconds = number(value()?)?.max(1),
                "--relay-batch" => {
                    options.relay_batch = u32::try_from(number(value()?)?.clamp(1, 10_000))
                        .map_err(|_| "--relay-batch is too large".to_owned())?;
                }
                "--db-pool" => {
                    options.db_pool = u32::try_from(number(value()?)?.clamp(1, 64))
                        .map_err(|_| "--db-pool is too large".to_owned())?;
                }
                other => return Err(format!("unknown option {other}")),
            }
        }
        Ok(options)
    }
}

fn fail(what: &str) -> impl Fn(diesel::result::Error) -> String + '_ {
    move |error| format!("{what}: {error}")
}

/// Microseconds since the Unix epoch.
fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|elapsed| i64::try_from(elapsed.as_micros()).ok())
        .unwrap_or(0)
}

fn connect() -> Result<PgConnection, String> {
    PgConnection::establish(DATABASE_URL)
        .map_err(|error| format!("cannot connect to {DATABASE_URL}: {error}"))
}

/// A prefix no other run uses, so the benchmark never touches anyone's queues.
fn unique_prefix() -> String {
    format!("bench{:08x}", rand::rng().random::<u32>())
}

/// BAZAAR's defaults (apps/workers/src/config.rs), on the benchmark's database and prefix.
fn worker_config(
    prefix: &str,
    secrets_key: String,
    roles: Vec<Role>,
    options: &Options,
) -> WorkerConfig {
    WorkerConfig {
        database_url: DATABASE_URL.to_owned(),
        amqp_url: AMQP_URL.to_owned(),
        amqp_prefix: prefix.to_owned(),
        secrets_key,
        vault: None,
        roles,
        relay_batch: options.relay_batch,
        relay_idle: Duration::from_millis(20),
        relay_lease: Duration::from_secs(30),
        prefetch: 512,
        retry_delays: vec![Duration::from_millis(200), Duration::from_secs(1)],
        delivery_poll: Duration::from_millis(200),
        delivery_concurrency: 256,
        disable_after: 100,
        retry_first: Duration::from_secs(1),
        delivery_lease: Duration::from_secs(60),
        db_pool: options.db_pool,
        log_json: false,
        name: format!("{prefix}-workers"),
        production: false,
        payout_poll: Duration::from_millis(500),
        payout_run_every: Duration::from_secs(60),
        loan_charge_off_days: 90,
        // The benchmark's webhook receiver listens on loopback.
        allow_loopback: true,
    }
}

/// Runs the workers while `work` runs, and stops them when it ends.
async fn with_workers<T>(
    config: WorkerConfig,
    work: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let (stop, shutdown) = watch::channel(false);
    let measured = async {
        let result = work.await;
        let _stopped = stop.send(true);
        result
    };
    // The workers' future is not `Send`; it runs on this task beside the measurement.
    let (ran, result) = tokio::join!(bazaar_workers::run(config, shutdown), measured);
    ran.map_err(|error| format!("workers: {error}"))?;
    result
}

/// Declares the exchange and `consumers`' queues.
async fn declare(topology: &Topology, consumers: &[ConsumerSpec]) -> Result<(), String> {
    let link = Link::new(AMQP_URL, "bench-events-setup");
    let channel = link.channel().await.map_err(|error| error.to_string())?;
    for consumer in consumers {
        topology
            .declare_consumer(&channel, consumer)
            .await
            .map_err(|error| format!("declare {}: {error}", topology.queue(&consumer.name)))?;
    }
    link.reset().await;
    Ok(())
}

/// Deletes `consumers`' queues and the exchange.
async fn remove(topology: &Topology, consumers: &[ConsumerSpec]) -> Result<(), String> {
    let link = Link::new(AMQP_URL, "bench-events-cleanup");
    let channel = link.channel().await.map_err(|error| error.to_string())?;
    for consumer in consumers {
        topology
            .delete_consumer(&channel, &consumer.name)
            .await
            .map_err(|error| format!("delete {}: {error}", topology.queue(&consumer.name)))?;
    }
    topology
        .delete_exchange(&channel)
        .await
        .map_err(|error| format!("delete {}: {error}", topology.exchange()))?;
    link.reset().await;
    println!("deleted exchange {} and its queues", topology.exchange());
    Ok(())
}

/// Inserts `events` unsent outbox rows in one statement.
fn fill_outbox(events: u64) -> Result<(), String> {
    let mut conn = connect()?;
    let count = i64::try_from(events).map_err(|_| "--events is too large".to_owned())?;
    // raw SQL: INSERT ... SELECT over generate_series with gen_random_uuid() and jsonb_build_object
    sql_query(
        "INSERT INTO outbox_events (id, event_type, version, resource_type, resource_id, seller_id, \
                                    payload, occurred_at) \
         SELECT gen_random_uuid(), 'order.paid', 1, 'order', o.id, NULL, \
                jsonb_build_object('order_id', o.id, 'state', 'paid', 'total_minor', 1299), $1 \
         FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, $2)) AS o",
    )
    .bind::<BigInt, _>(now_us())
    .bind::<BigInt, _>(count)
    .execute(&mut conn)
    .map_err(fail("fill the outbox"))?;
    // raw SQL: ANALYZE, a maintenance statement the builder has no form for
    sql_query("ANALYZE outbox_events")
        .execute(&mut conn)
        .map_err(fail("analyze the outbox"))?;
    Ok(())
}

/// Waits until no row is unsent; the time since `started`.
fn wait_until_sent(started: Instant) -> Result<Duration, String> {
    let mut conn = connect()?;
    let mut reported = Instant::now();
    loop {
        let unsent: bool = diesel::select(diesel::dsl::exists(
            outbox_events::table.filter(outbox_events::sent_at.is_null()),
        ))
        .get_result(&mut conn)
        .map_err(fail("look for unsent events"))?;
        if !unsent {
            return Ok(started.elapsed());
        }
        if started.elapsed() > RELAY_DEADLINE {
            return Err(format!("events still unsent after {RELAY_DEADLINE:?}"));
        }
        if reported.elapsed() >= Duration::from_secs(5) {
            reported = Instant::now();
            let left: i64 = outbox_events::table
                .filter(outbox_events::sent_at.is_null())
                .count()
                .get_result(&mut conn)
                .map_err(fail("count unsent events"))?;
            println!("  {} s: {left} events unsent", started.elapsed().as_secs());
        }
        std::thread::sleep(POLL);
    }
}

/// Part 1; events per second.
async fn relay_throughput(options: &Options) -> Result<u64, String> {
    println!("relay: inserting {} outbox events", options.events);
    let events = options.events;
    tokio::task::spawn_blocking(move || fill_outbox(events))
        .await
        .map_err(|error| error.to_string())??;
    let prefix = unique_prefix();
    let topology = Topology {
        prefix: prefix.clone(),
        retry_delays: Vec::new(),
    };
    let sink = [ConsumerSpec {
        name: "sink".to_owned(),
        patterns: vec!["#".to_owned()],
    }];
    declare(&topology, &sink).await?;
    let config = worker_config(
        &prefix,
        SecretKey::generate().to_hex(),
        vec![Role::Relay],
        options,
    );
    println!(
        "relay: publishing to {} (one quorum queue bound to #), batch {}",
        topology.exchange(),
        options.relay_batch
    );
    let started = Instant::now();
    let measured = with_workers(config, async {
        tokio::task::spawn_blocking(move || wait_until_sent(started))
            .await
            .map_err(|error| error.to_string())?
    })
    .await;
    let cleaned = remove(&topology, &sink).await;
    let elapsed = measured?;
    cleaned?;
    let elapsed_ms = u64::try_from(elapsed.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    let per_second = events.saturating_mul(1000) / elapsed_ms;
    println!(
        "relay  events={events} seconds={}.{:03} events_per_s={per_second}",
        elapsed_ms / 1000,
        elapsed_ms % 1000
    );
    Ok(per_second)
}

/// What the webhook receiver saw: event id to latency in microseconds (first arrival).
type Received = Arc<Mutex<HashMap<String, u64>>>;

fn delivered(received: &Received) -> u64 {
    received
        .lock()
        .map_or(0, |seen| u64::try_from(seen.len()).unwrap_or(u64::MAX))
}

fn record(body: &[u8], received: &Received) {
    let arrived = now_us();
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(body) else {
        tracing::warn!("webhook body is not JSON");
        return;
    };
    let (Some(id), Some(occurred)) = (
        event.get("id").and_then(serde_json::Value::as_str),
        event
            .get("occurred_at_us")
            .and_then(serde_json::Value::as_i64),
    ) else {
        tracing::warn!("webhook body without id or occurred_at_us");
        return;
    };
    let latency = u64::try_from(arrived.saturating_sub(occurred)).unwrap_or(0);
    if let Ok(mut seen) = received.lock() {
        seen.entry(id.to_owned()).or_insert(latency);
    }
}

fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            if name.trim().eq_ignore_ascii_case("content-length") {
                value.trim().parse().ok()
            } else {
                None
            }
        })
        .unwrap_or(0)
}

/// One keep-alive HTTP/1.1 connection: every request is answered 200 with an empty body.
async fn connection(mut stream: TcpStream, received: Received) {
    let mut buffer: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0_u8; 16 * 1024];
    loop {
        let mut head = None;
        let (head_end, body_end) = loop {
            if head.is_none() {
                head = buffer
                    .windows(4)
                    .position(|window| window == b"\r\n\r\n")
                    .map(|at| at + 4);
            }
            if let Some(end) = head {
                let wanted = end + content_length(buffer.get(..end).unwrap_or_default());
                if buffer.len() >= wanted {
                    break (end, wanted);
                }
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => buffer.extend_from_slice(chunk.get(..read).unwrap_or_default()),
            }
        };
        record(
            buffer.get(head_end..body_end).unwrap_or_default(),
            &received,
        );
        buffer.drain(..body_end);
        if stream.write_all(RESPONSE).await.is_err() {
            return;
        }
    }
}

async fn serve(listener: TcpListener, received: Received) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _nodelay = stream.set_nodelay(true);
                tokio::spawn(connection(stream, received.clone()));
            }
            Err(error) => {
                tracing::warn!(%error, "webhook receiver cannot accept");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// What one generator thread did.
#[derive(Clone, Copy, Debug, Default)]
struct Generated {
    sent: u64,
    errors: u64,
    /// How far behind its schedule the thread fell at worst.
    max_lag_us: u64,
}

/// Commits events `first`, `first + GENERATORS`, … below `total`, each at its slot of the
/// schedule `start + i / rate`, one transaction per event.
fn generate(
    seller: Uuid,
    first: u64,
    total: u64,
    rate: u64,
    start: Instant,
) -> Result<Generated, String> {
    let mut conn = connect()?;
    let mut done = Generated::default();
    let mut index = first;
    while index < total {
        let due = start + Duration::from_micros(index.saturating_mul(1_000_000) / rate);
        let now = Instant::now();
        match due.checked_duration_since(now) {
            Some(wait) => std::thread::sleep(wait),
            None => {
                let lag = u64::try_from(now.duration_since(due).as_micros()).unwrap_or(u64::MAX);
                done.max_lag_us = done.max_lag_us.max(lag);
            }
        }
        // raw SQL: INSERT ... SELECT with gen_random_uuid() and jsonb_build_object
        let inserted = sql_query(
            "INSERT INTO outbox_events (id, event_type, version, resource_type, resource_id, \
                                        seller_id, payload, occurred_at) \
             SELECT gen_random_uuid(), 'order.paid', 1, 'order', o.id, $1, \
                    jsonb_build_object('order_id', o.id, 'state', 'paid', 'total_minor', 1299), $2 \
             FROM (SELECT gen_random_uuid() AS id) AS o",
        )
        .bind::<SqlUuid, _>(seller)
        .bind::<BigInt, _>(now_us())
        .execute(&mut conn);
        match inserted {
            Ok(_) => done.sent += 1,
            Err(error) => {
                done.errors += 1;
                tracing::warn!(%error, "event not committed");
            }
        }
        index += GENERATORS;
    }
    Ok(done)
}

/// Empties the outbox and adds the seller whose endpoint receives the events.
fn prepare_seller(seller: Uuid) -> Result<(), String> {
    let mut conn = connect()?;
    // raw SQL: TRUNCATE, which the builder has no statement for
    sql_query("TRUNCATE outbox_events")
        .execute(&mut conn)
        .map_err(fail("empty the outbox"))?;
    diesel::insert_into(sellers::table)
        .values((
            sellers::id.eq(seller),
            sellers::name.eq("Bench Seller"),
            sellers::country.eq("DE"),
            sellers::home_region.eq("eu"),
            sellers::settlement_currency.eq("EUR"),
            sellers::commission_bps.eq(1000),
            sellers::created_at.eq(now_us()),
        ))
        .execute(&mut conn)
        .map_err(fail("insert the seller"))?;
    Ok(())
}

/// What the latency run measured.
#[derive(Debug)]
struct Latency {
    generated: Generated,
    generating: Duration,
    latencies_us: Vec<u64>,
}

/// Runs the generator and waits for the webhooks.
async fn generate_and_wait(
    options: &Options,
    seller: Uuid,
    received: &Received,
) -> Result<Latency, String> {
    // Let the consumers attach before the first event.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let total = options.rate.saturating_mul(options.seconds);
    let start = Instant::now();
    let threads: Vec<_> = (0..GENERATORS)
        .map(|first| {
            let rate = options.rate;
            tokio::task::spawn_blocking(move || generate(seller, first, total, rate, start))
        })
        .collect();
    let mut generated = Generated::default();
    for thread in threads {
        let done = thread.await.map_err(|error| error.to_string())??;
        generated.sent += done.sent;
        generated.errors += done.errors;
        generated.max_lag_us = generated.max_lag_us.max(done.max_lag_us);
    }
    let generating = start.elapsed();
    let waiting = Instant::now();
    while delivered(received) < generated.sent && waiting.elapsed() < DELIVERY_DEADLINE {
        tokio::time::sleep(POLL).await;
    }
    let latencies_us = received
        .lock()
        .map(|seen| seen.values().copied().collect())
        .unwrap_or_default();
    Ok(Latency {
        generated,
        generating,
        latencies_us,
    })
}

/// Part 2.
async fn end_to_end(options: &Options) -> Result<Latency, String> {
    let seller = Uuid::from_u128(rand::rng().random::<u128>());
    tokio::task::spawn_blocking(move || prepare_seller(seller))
        .await
        .map_err(|error| error.to_string())??;
    let key = SecretKey::generate();
    let secrets_key = key.to_hex();
    let webhooks = Webhooks::new(
        PostgresEvents::new(DATABASE_URL, 2, RetryPolicy::default(), key),
        WebhookPolicy {
            allow_loopback_http: true,
            ..WebhookPolicy::default()
        },
    );
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|error| format!("webhook receiver: {error}"))?;
    let port = listener
        .local_addr()
        .map_err(|error| format!("webhook receiver: {error}"))?
        .port();
    let received: Received = Arc::default();
    let receiver = tokio::spawn(serve(listener, received.clone()));
    webhooks
        .create_endpoint(
            SellerId::from_uuid(seller),
            &format!("http://127.0.0.1:{port}/hook"),
            &["order.*".to_owned()],
            EndpointSecret::from_bytes(rand::rng().random()),
            Timestamp::from_micros(now_us()),
        )
        .await
        .map_err(|error| format!("create the endpoint: {error}"))?;
    let prefix = unique_prefix();
    let config = worker_config(
        &prefix,
        secrets_key,
        vec![Role::Relay, Role::Activity, Role::Webhooks],
        options,
    );
    let topology = bazaar_workers::topology(&config);
    let consumers = bazaar_workers::consumers();
    // Declared before the relay starts, so no event is published with nowhere to go.
    declare(&topology, &consumers).await?;
    println!(
        "latency: {} events/s for {} s, one transaction per event, webhook to 127.0.0.1:{port}, \
         workers on {}",
        options.rate,
        options.seconds,
        topology.exchange()
    );
    let measured = with_workers(config, generate_and_wait(options, seller, &received)).await;
    receiver.abort();
    let cleaned = remove(&topology, &consumers).await;
    let latency = measured?;
    cleaned?;
    Ok(latency)
}

pub fn run(options: Options) -> Result<(), String> {
    println!("recreating {DATABASE_URL}");
    recreate_database(DATABASE_URL)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    runtime.block_on(async {
        let relayed_per_s = relay_throughput(&options).await?;
        let Latency {
            generated,
            generating,
            mut latencies_us,
        } = end_to_end(&options).await?;
        latencies_us.sort_unstable();
        let delivered = u64::try_from(latencies_us.len()).unwrap_or(u64::MAX);
        let generating_ms = u64::try_from(generating.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let achieved = generated.sent.saturating_mul(1000) / generating_ms;
        let p50 = stats::ms(stats::percentile(&latencies_us, 50));
        let p90 = stats::ms(stats::percentile(&latencies_us, 90));
        let p99 = stats::ms(stats::percentile(&latencies_us, 99));
        let max = stats::ms(latencies_us.last().copied().unwrap_or(0));
        println!(
            "latency sent={} errors={} delivered={delivered} achieved_per_s={achieved} \
             generator_max_lag_ms={} p50_ms={p50} p90_ms={p90} p99_ms={p99} max_ms={max}",
            generated.sent,
            generated.errors,
            stats::ms(generated.max_lag_us)
        );
        println!(
            "events: relay_events_per_s={relayed_per_s} e2e_rate={} sent={} delivered={delivered} \
             p50_ms={p50} p90_ms={p90} p99_ms={p99} max_ms={max}",
            options.rate, generated.sent
        );
        if delivered < generated.sent {
            return Err(format!(
                "only {delivered} of {} events reached the endpoint within {DELIVERY_DEADLINE:?}",
                generated.sent
            ));
        }
        Ok(())
    })
}
