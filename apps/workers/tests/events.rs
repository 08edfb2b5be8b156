//! The workers against the real services: `bazaar-workers` processes (the built binary) relay
//! a stream of outbox events to RabbitMQ, the activity consumer counts them, and the webhook
//! consumer delivers them to local HTTP receivers that check every signature.
//!
//! Each test has a database of its own and its own exchange and queues (a random prefix),
//! deleted at the end. Faults: RabbitMQ cut off through a TCP proxy (other tests keep their
//! broker), a worker killed with SIGKILL mid-delivery, and PostgreSQL restarted (a private
//! server the test starts, so other tests keep theirs). Afterwards every event reached every
//! receiver subscribed to it at least once, each consumer applied each event exactly once, and
//! the dead-letter queues hold exactly the events made undeliverable on purpose.
//!
//! `cargo nextest run -p bazaar-workers --no-capture` shows the workers' logs.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects,
    reason = "test drivers fail loudly"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bazaar_domain::chart::SellerId;
use bazaar_domain::events::{EventEnvelope, EventId};
use bazaar_domain::webhooks::{
    AttemptOutcome, DeliveryId, DeliveryJob, EndpointId, EndpointSecret, RetrySchedule,
    SIGNATURE_HEADER, SecretUnavailable, WebhookPolicy, WebhookStore, Webhooks,
};
use bazaar_ledger::Clock;
use bazaar_postgres::{PostgresEvents, RetryPolicy, SecretKey, SystemClock};
use bazaar_rabbitmq::{Link, Topology};
use bazaar_testdb::TestDatabase;
use bazaar_testdb::private_server::PrivateServer;
use bazaar_testdb::proxy::TcpProxy;
use bazaar_workers::deliver::{Lookup, Resolver, Sender};
use bazaar_workers::receiver::accept;
use bazaar_workers::{Role, WorkerConfig};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use lapin::options::BasicGetOptions;
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

const BROKER: &str = "127.0.0.1:5672";

fn amqp_url(addr: SocketAddr) -> String {
    format!("amqp://guest:guest@{addr}/%2f")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

// --- the receiver -------------------------------------------------------------------------------

/// A local HTTP endpoint that checks each delivery's signature and records the event ids.
struct Receiver {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Uuid>>>,
    forged: Arc<Mutex<u32>>,
    /// TCP connections accepted, whatever came over them.
    connections: Arc<AtomicUsize>,
}

impl Receiver {
    fn start(rt: &tokio::runtime::Runtime, secret: String, delay: Duration) -> Self {
        Self::answering(rt, secret, delay, None)
    }

    /// A receiver that answers every delivery with `status` (e.g. `410 Gone`) when given.
    fn answering(
        rt: &tokio::runtime::Runtime,
        secret: String,
        delay: Duration,
        status: Option<&'static str>,
    ) -> Self {
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let forged = Arc::new(Mutex::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let (r, f, c) = (received.clone(), forged.clone(), connections.clone());
        rt.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                c.fetch_add(1, Ordering::SeqCst);
                let (r, f, secret) = (r.clone(), f.clone(), secret.clone());
                tokio::spawn(serve(stream, secret, delay, status, r, f));
            }
        });
        Self {
            addr,
            received,
            forged,
            connections,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    fn ids(&self) -> BTreeSet<Uuid> {
        self.received.lock().unwrap().iter().copied().collect()
    }
}

async fn serve(
    mut stream: tokio::net::TcpStream,
    secret: String,
    delay: Duration,
    fixed_status: Option<&'static str>,
    received: Arc<Mutex<Vec<Uuid>>>,
    forged: Arc<Mutex<u32>>,
) {
    let mut buffer = Vec::new();
    loop {
        let head_end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
        let header = |name: &str| {
            head.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
        };
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buffer.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let body = buffer[head_end..head_end + length].to_vec();
        buffer.drain(..head_end + length);
        tokio::time::sleep(delay).await;
        let now = SystemClock.now().as_micros() / 1_000_000;
        let signature = header(SIGNATURE_HEADER).unwrap_or_default();
        // Every delivery goes through the receiver function the README shows; `seen` is
        // that function's replay guard, and duplicates are still recorded (at least once).
        let mut seen = std::collections::HashSet::new();
        let status = match accept(&signature, &body, &secret, now, &mut seen) {
            Ok(_) => {
                let envelope: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let id: Uuid = envelope["id"].as_str().unwrap().parse().unwrap();
                received.lock().unwrap().push(id);
                "200 OK"
            }
            Err(_) => {
                *forged.lock().unwrap() += 1;
                "400 Bad Request"
            }
        };
        let status = fixed_status.unwrap_or(status);
        let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
        if stream.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

// --- the world ----------------------------------------------------------------------------------

/// Sellers, endpoints and receivers in one database, and the broker names of this test, whose
/// exchange and queues are declared when the world is made and deleted when it is dropped.
struct World {
    database_url: String,
    prefix: String,
    key: SecretKey,
    store: Webhooks<PostgresEvents>,
    /// seller -> (its receiver, the patterns it subscribed)
    sellers: Vec<(Uuid, Receiver, String)>,
}

fn add_seller(conn: &mut PgConnection, id: Uuid) {
    sql_query(
        "INSERT INTO sellers (id, name, country, home_region, settlement_currency, commission_bps, created_at) \
         VALUES ($1, 'Test seller', 'DE', 'eu', 'EUR', 1000, 0)",
    )
    .bind::<SqlUuid, _>(id)
    .execute(conn)
    .unwrap();
}

impl World {
    /// Two sellers: one subscribed to `order.*`, one to everything; `delay` slows receivers.
    fn new(rt: &tokio::runtime::Runtime, database_url: &str, delay: Duration) -> Self {
        let key = SecretKey::generate();
        let store = Webhooks::new(
            PostgresEvents::new(database_url, 2, RetryPolicy::default(), key.clone()),
            WebhookPolicy {
                allow_loopback_http: true,
                ..WebhookPolicy::default()
            },
        );
        let mut conn = PgConnection::establish(database_url).unwrap();
        let mut sellers = Vec::new();
        for pattern in ["order.*", "*"] {
            let seller = Uuid::new_v4();
            add_seller(&mut conn, seller);
            let secret = EndpointSecret::from_bytes(rand::rng().random());
            let receiver = Receiver::start(rt, secret.as_str().to_owned(), delay);
            rt.block_on(store.create_endpoint(
                SellerId::from_uuid(seller),
                &receiver.url(),
                &[pattern.to_owned()],
                secret,
                SystemClock.now(),
            ))
            .unwrap();
            sellers.push((seller, receiver, pattern.to_owned()));
        }
        let world = Self {
            database_url: database_url.to_owned(),
            prefix: format!("t{:016x}", rand::rng().random::<u64>()),
            key,
            store,
            sellers,
        };
        world.declare_queues();
        world
    }

    /// Declares the queues before the first event, so none is published to an exchange
    /// without queues.
    fn declare_queues(&self) {
        runtime().block_on(async {
            let link = Link::new(&amqp_url(BROKER.parse().unwrap()), "test-setup");
            let channel = link.channel().await.unwrap();
            for consumer in bazaar_workers::consumers() {
                self.topology()
                    .declare_consumer(&channel, &consumer)
                    .await
                    .unwrap();
            }
        });
    }

    fn topology(&self) -> Topology {
        Topology {
            prefix: self.prefix.clone(),
            retry_delays: retry_delays(),
        }
    }

    /// Starts a worker process talking to the broker at `broker`.
    fn worker(&self, broker: SocketAddr, name: &str) -> Child {
        self.worker_with(broker, name, &[])
    }

    /// [`World::worker`] with more settings.
    fn worker_with(&self, broker: SocketAddr, name: &str, settings: &[(&str, &str)]) -> Child {
        Command::new(env!("CARGO_BIN_EXE_bazaar-workers"))
            // The receivers listen on loopback.
            .env("BAZAAR_WEBHOOK_ALLOW_LOOPBACK_HTTP", "1")
            .envs(settings.iter().copied())
            .env("BAZAAR_DATABASE_URL", &self.database_url)
            .env("BAZAAR_AMQP_URL", amqp_url(broker))
            .env("BAZAAR_AMQP_PREFIX", &self.prefix)
            .env("BAZAAR_SECRETS_KEY", self.key.to_hex())
            .env(
                "BAZAAR_RETRY_DELAYS_MS",
                retry_delays()
                    .iter()
                    .map(|d| d.as_millis().to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            )
            .env("BAZAAR_RELAY_BATCH", "50")
            .env("BAZAAR_RELAY_IDLE_MS", "10")
            .env("BAZAAR_RELAY_LEASE_MS", "3000")
            .env("BAZAAR_DELIVERY_LEASE_MS", "3000")
            .env("BAZAAR_DELIVERY_POLL_MS", "100")
            .env("BAZAAR_WEBHOOK_RETRY_FIRST_MS", "200")
            .env("BAZAAR_WORKER_NAME", name)
            .env(
                "BAZAAR_LOG",
                std::env::var("BAZAAR_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdin(Stdio::null())
            .spawn()
            .unwrap()
    }
}

fn retry_delays() -> Vec<Duration> {
    vec![
        Duration::from_millis(200),
        Duration::from_millis(400),
        Duration::from_millis(800),
    ]
}

impl Drop for World {
    /// Deletes the test's queues and exchange.
    fn drop(&mut self) {
        let topology = self.topology();
        runtime().block_on(async {
            let link = Link::new(&amqp_url(BROKER.parse().unwrap()), "test-cleanup");
            if let Ok(channel) = link.channel().await {
                for consumer in bazaar_workers::consumers() {
                    let _deleted = topology.delete_consumer(&channel, &consumer.name).await;
                }
                let _deleted = topology.delete_exchange(&channel).await;
            }
        });
    }
}

/// Kills a worker process when the test ends, however it ends.
struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _killed = self.0.kill();
        let _reaped = self.0.wait();
    }
}

/// What the test wrote to the outbox.
#[derive(Default)]
struct Written {
    /// (event id, seller, type)
    events: Vec<(Uuid, Uuid, String)>,
    /// Events every consumer must refuse (an unknown payload version).
    poison: BTreeSet<Uuid>,
    /// Events about a seller no one knows: the activity consumer retries, then gives up.
    orphans: BTreeSet<Uuid>,
}

const TYPES: [&str; 4] = [
    "order.created",
    "order.paid",
    "review.created",
    "refund.succeeded",
];

/// Writes one event in a transaction of its own, retrying while the database is away.
fn write_event(url: &str, id: Uuid, seller: Uuid, event_type: &str, version: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = PgConnection::establish(url).and_then(|mut conn| {
            sql_query(
                "INSERT INTO outbox_events (id, event_type, version, resource_type, resource_id, seller_id, payload, occurred_at) \
                 VALUES ($1, $2, $3, 'order', $1, $4, $5::JSONB, $6) ON CONFLICT (id) DO NOTHING",
            )
            .bind::<SqlUuid, _>(id)
            .bind::<Text, _>(event_type)
            .bind::<BigInt, _>(version)
            .bind::<SqlUuid, _>(seller)
            .bind::<Text, _>(format!(r#"{{"seller_id":"{seller}","note":"test"}}"#))
            .bind::<BigInt, _>(SystemClock.now().as_micros())
            .execute(&mut conn)
            .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))
        });
        match done {
            Ok(_) => return,
            Err(error) if Instant::now() < deadline => {
                let _ = error;
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(error) => panic!("could not write an event: {error}"),
        }
    }
}

/// Writes `count` events spread over the sellers and types, with `fault` run halfway.
fn stream(world: &World, count: usize, pace: Duration, fault: impl FnOnce()) -> Written {
    let mut written = Written::default();
    let mut fault = Some(fault);
    for i in 0..count {
        if i == count / 2
            && let Some(fault) = fault.take()
        {
            fault();
        }
        let (seller, _, _) = &world.sellers[i % world.sellers.len()];
        let event_type = TYPES[(i / world.sellers.len()) % TYPES.len()];
        let id = Uuid::new_v4();
        write_event(&world.database_url, id, *seller, event_type, 1);
        written.events.push((id, *seller, event_type.to_owned()));
        std::thread::sleep(pace);
    }
    let poison = Uuid::new_v4();
    write_event(
        &world.database_url,
        poison,
        world.sellers[0].0,
        "order.paid",
        99,
    );
    written.poison.insert(poison);
    let orphan = Uuid::new_v4();
    write_event(&world.database_url, orphan, Uuid::new_v4(), "order.paid", 1);
    written.orphans.insert(orphan);
    written
}

fn subscribed(pattern: &str, event_type: &str) -> bool {
    pattern == "*" || event_type.starts_with(pattern.trim_end_matches('*'))
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

fn count(url: &str, query: &str) -> i64 {
    let mut conn = PgConnection::establish(url).unwrap();
    sql_query(query)
        .get_result::<Count>(&mut conn)
        .unwrap()
        .value
}

#[derive(QueryableByName)]
struct EventCount {
    #[diesel(sql_type = SqlUuid)]
    seller_id: Uuid,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = BigInt)]
    events: i64,
}

/// Message ids in a dead-letter queue (taken off it).
fn dead_letters(topology: &Topology, consumer: &str) -> BTreeSet<Uuid> {
    runtime().block_on(async {
        let link = Link::new(&amqp_url(BROKER.parse().unwrap()), "test-dlq");
        let channel = link.channel().await.unwrap();
        let mut ids = BTreeSet::new();
        while let Some(message) = channel
            .basic_get(
                &topology.dead_letter_queue(consumer),
                BasicGetOptions { no_ack: true },
            )
            .await
            .unwrap()
        {
            let id = message
                .delivery
                .properties
                .message_id()
                .as_ref()
                .map(|id| id.as_str().parse::<Uuid>().unwrap())
                .unwrap();
            ids.insert(id);
        }
        ids
    })
}

/// Waits until every expectation holds (or fails after `within`), then checks them all.
fn settle_and_check(world: &World, written: &Written, within: Duration) {
    let url = &world.database_url;
    let expected: Vec<(usize, BTreeSet<Uuid>)> = world
        .sellers
        .iter()
        .enumerate()
        .map(|(i, (seller, _, pattern))| {
            let ids = written
                .events
                .iter()
                .filter(|(_, s, t)| s == seller && subscribed(pattern, t))
                .map(|(id, _, _)| *id)
                .collect();
            (i, ids)
        })
        .collect();
    let total = i64::try_from(written.events.len()).unwrap();
    let deadline = Instant::now() + within;
    loop {
        let all_received = expected
            .iter()
            .all(|(i, ids)| world.sellers[*i].1.ids().is_superset(ids));
        let counted = count(
            url,
            "SELECT COALESCE(SUM(events), 0)::INT8 AS value FROM event_counts",
        );
        let unsent = count(
            url,
            "SELECT COUNT(*) AS value FROM outbox_events WHERE sent_at IS NULL",
        );
        if all_received && counted == total && unsent == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not settled: all received {all_received}, counted {counted} of {total}, unsent {unsent}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The dead letters take the retry delays (1.4 s in all) to arrive.
    std::thread::sleep(Duration::from_secs(3));

    // Exactly once per consumer: the counts match what was written, event by event type.
    let mut conn = PgConnection::establish(url).unwrap();
    let counts: Vec<EventCount> =
        sql_query("SELECT seller_id, event_type, events FROM event_counts")
            .load(&mut conn)
            .unwrap();
    let mut want: BTreeMap<(Uuid, String), i64> = BTreeMap::new();
    for (_, seller, event_type) in &written.events {
        *want.entry((*seller, event_type.clone())).or_default() += 1;
    }
    let got: BTreeMap<(Uuid, String), i64> = counts
        .into_iter()
        .map(|c| ((c.seller_id, c.event_type), c.events))
        .collect();
    assert_eq!(got, want, "activity counts");
    assert_eq!(
        count(
            url,
            "SELECT COUNT(*) AS value FROM processed_messages WHERE consumer = 'activity'"
        ),
        total,
        "the activity consumer recorded each event once (poison and orphans not at all)"
    );
    let subscribed_total: usize = expected.iter().map(|(_, ids)| ids.len()).sum();
    assert_eq!(
        count(url, "SELECT COUNT(*) AS value FROM webhook_deliveries"),
        i64::try_from(subscribed_total).unwrap(),
        "one delivery per subscribed endpoint and event"
    );
    assert_eq!(
        count(
            url,
            "SELECT COUNT(*) AS value FROM webhook_deliveries WHERE state <> 'succeeded'"
        ),
        0
    );
    for (i, ids) in &expected {
        let receiver = &world.sellers[*i].1;
        assert_eq!(
            &receiver.ids(),
            ids,
            "receiver {i} got exactly its subscribed events"
        );
        assert_eq!(
            *receiver.forged.lock().unwrap(),
            0,
            "every signature verified"
        );
    }
    // The dead-letter queues hold exactly what was made undeliverable on purpose.
    let topology = world.topology();
    let mut activity_dead = written.poison.clone();
    activity_dead.extend(&written.orphans);
    assert_eq!(dead_letters(&topology, "activity"), activity_dead);
    assert_eq!(dead_letters(&topology, "webhooks"), written.poison);
}

#[test]
fn two_workers_deliver_every_event_once_and_dead_letter_the_poison() {
    let rt = runtime();
    let db = TestDatabase::new().unwrap();
    let world = World::new(&rt, db.url(), Duration::ZERO);
    let broker: SocketAddr = BROKER.parse().unwrap();
    let _a = Worker(world.worker(broker, "worker-a"));
    let _b = Worker(world.worker(broker, "worker-b"));
    let written = stream(&world, 200, Duration::ZERO, || {});
    settle_and_check(&world, &written, Duration::from_secs(60));
}

#[test]
fn rabbitmq_cut_mid_stream() {
    let rt = runtime();
    let db = TestDatabase::new().unwrap();
    let world = World::new(&rt, db.url(), Duration::ZERO);
    let proxy = TcpProxy::start(BROKER.parse().unwrap()).unwrap();
    let _a = Worker(world.worker(proxy.addr(), "worker-a"));
    let _b = Worker(world.worker(proxy.addr(), "worker-b"));
    let written = stream(&world, 300, Duration::from_millis(5), || {
        proxy.cut();
        std::thread::sleep(Duration::from_secs(3));
        proxy.restore();
    });
    settle_and_check(&world, &written, Duration::from_secs(90));
    assert!(proxy.connections() > 2, "the workers reconnected");
}

#[test]
fn worker_killed_mid_delivery() {
    let rt = runtime();
    let db = TestDatabase::new().unwrap();
    // Slow receivers keep deliveries in flight when the worker dies.
    let world = World::new(&rt, db.url(), Duration::from_millis(50));
    let broker: SocketAddr = BROKER.parse().unwrap();
    let mut victim = Some(Worker(world.worker(broker, "worker-victim")));
    let _survivor = Worker(world.worker(broker, "worker-survivor"));
    let mut replacement = None;
    let written = stream(&world, 300, Duration::from_millis(5), || {
        let mut worker = victim.take().unwrap();
        worker.0.kill().unwrap(); // SIGKILL
        worker.0.wait().unwrap();
        replacement = Some(Worker(world.worker(broker, "worker-replacement")));
    });
    settle_and_check(&world, &written, Duration::from_secs(90));
    drop(replacement);
}

#[test]
fn postgresql_restarted_mid_stream() {
    let rt = runtime();
    let server = PrivateServer::init();
    server.start();
    server.create_migrated_database("events");
    let url = server.url("events");
    let world = World::new(&rt, &url, Duration::ZERO);
    let broker: SocketAddr = BROKER.parse().unwrap();
    let _a = Worker(world.worker(broker, "worker-a"));
    let _b = Worker(world.worker(broker, "worker-b"));
    let written = stream(&world, 200, Duration::from_millis(5), || {
        server.stop("immediate");
        std::thread::sleep(Duration::from_secs(3));
        server.start();
    });
    settle_and_check(&world, &written, Duration::from_secs(120));
}

#[derive(QueryableByName)]
struct AttemptRow {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
    status_code: Option<i32>,
    #[diesel(sql_type = Text)]
    outcome: String,
    #[diesel(sql_type = BigInt)]
    started_at: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    next_attempt_at: Option<i64>,
}

fn attempts(url: &str, endpoint: Uuid) -> Vec<AttemptRow> {
    let mut conn = PgConnection::establish(url).unwrap();
    sql_query(
        "SELECT a.status_code, a.outcome, a.started_at, a.next_attempt_at FROM webhook_attempts a \
         JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.endpoint_id = $1 ORDER BY a.attempt",
    )
    .bind::<SqlUuid, _>(endpoint)
    .load(&mut conn)
    .unwrap()
}

fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn failing_endpoints_are_retried_rejected_and_disabled() {
    let rt = runtime();
    let db = TestDatabase::new().unwrap();
    let world = World::new(&rt, db.url(), Duration::ZERO);
    let url = db.url();
    let (seller, _, _) = &world.sellers[1];
    let store = &world.store;
    let endpoint = |target: String| {
        rt.block_on(store.create_endpoint(
            SellerId::from_uuid(*seller),
            &target,
            &["order.*".to_owned()],
            EndpointSecret::from_bytes(rand::rng().random()),
            SystemClock.now(),
        ))
        .unwrap()
        .id
        .as_uuid()
    };
    // Nothing listens on this port: every attempt is a network error, retried.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let unreachable = endpoint(format!("http://{closed}/hooks"));
    // This one answers 410 Gone: refused, not retried.
    let gone_receiver = Receiver::answering(&rt, String::new(), Duration::ZERO, Some("410 Gone"));
    let gone = endpoint(gone_receiver.url());
    let _worker = Worker(world.worker_with(
        BROKER.parse().unwrap(),
        "worker-failing",
        &[("BAZAAR_WEBHOOK_DISABLE_AFTER", "3")],
    ));
    let event = Uuid::new_v4();
    write_event(url, event, *seller, "order.paid", 1);

    let state = |endpoint: Uuid| {
        count(
            url,
            &format!(
                "SELECT CASE WHEN state = 'enabled' THEN 1 ELSE 0 END::INT8 AS value \
                 FROM webhook_endpoints WHERE id = '{endpoint}'"
            ),
        )
    };
    wait_for(
        "the unreachable endpoint to be disabled",
        Duration::from_secs(60),
        || state(unreachable) == 0,
    );
    let tries = attempts(url, unreachable);
    assert_eq!(tries.len(), 3, "three failures in a row disable it");
    for pair in tries.windows(2) {
        let (first, second) = (&pair[0], &pair[1]);
        assert!(
            second.started_at >= first.next_attempt_at.unwrap(),
            "waited for the retry"
        );
    }
    assert!(
        tries
            .iter()
            .all(|a| a.outcome == "retry" && a.status_code.is_none())
    );
    // Each wait is at least half the nominal delay (200 ms, then 400 ms: equal jitter).
    let gaps: Vec<i64> = tries
        .iter()
        .map(|a| a.next_attempt_at.unwrap() - a.started_at)
        .collect();
    assert!(gaps[0] >= 100_000 && gaps[1] >= 200_000, "{gaps:?}");
    wait_for(
        "the disabled endpoint's delivery to close",
        Duration::from_secs(30),
        || {
            count(
                url,
                &format!(
                    "SELECT COUNT(*) AS value FROM webhook_deliveries \
                 WHERE endpoint_id = '{unreachable}' AND state = 'failed'"
                ),
            ) == 1
        },
    );

    let refused = attempts(url, gone);
    assert_eq!(refused.len(), 1, "a 410 is not retried");
    assert_eq!(refused[0].status_code, Some(410));
    assert_eq!(refused[0].outcome, "rejected");
    assert_eq!(state(gone), 1, "one failure does not disable");

    // The disabling is an event of its own, relayed and counted like any other.
    wait_for(
        "the disabled event to be counted",
        Duration::from_secs(30),
        || {
            count(
                url,
                &format!(
                    "SELECT COALESCE(SUM(events), 0)::INT8 AS value FROM event_counts \
                 WHERE seller_id = '{seller}' AND event_type = 'webhook_endpoint.disabled'"
                ),
            ) == 1
        },
    );
    assert_eq!(
        count(
            url,
            &format!(
                "SELECT COUNT(*) AS value FROM outbox_events WHERE event_type = 'webhook_endpoint.disabled' \
                 AND payload->>'endpoint_id' = '{unreachable}'"
            ),
        ),
        1
    );
}

#[test]
fn rotated_secrets_sign_during_the_overlap_and_deliveries_replay() {
    let rt = runtime();
    let db = TestDatabase::new().unwrap();
    let world = World::new(&rt, db.url(), Duration::ZERO);
    let url = db.url();
    // This seller's receiver knows only the secret the endpoint was created with.
    let (seller, receiver, _) = &world.sellers[0];
    let seller_id = SellerId::from_uuid(*seller);
    let store = &world.store;
    let endpoint = rt
        .block_on(store.endpoints(seller_id, SystemClock.now()))
        .unwrap()[0]
        .id;
    let _worker = Worker(world.worker(BROKER.parse().unwrap(), "worker-rotation"));
    let times_received = |id: Uuid| {
        receiver
            .received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| **r == id)
            .count()
    };

    // Rotated with an hour of overlap: deliveries carry both signatures, and the receiver
    // still holding the old secret accepts them.
    rt.block_on(store.rotate_secret(
        seller_id,
        endpoint,
        EndpointSecret::from_bytes(rand::rng().random()),
        Duration::from_secs(3600),
        SystemClock.now(),
    ))
    .unwrap();
    let first = Uuid::new_v4();
    write_event(url, first, *seller, "order.paid", 1);
    wait_for("the first event", Duration::from_secs(30), || {
        times_received(first) == 1
    });

    // A replay sends the delivered event again, with a fresh attempt in the log.
    let delivery = rt
        .block_on(store.deliveries(seller_id, endpoint, None, 10, SystemClock.now()))
        .unwrap()
        .items
        .into_iter()
        .find(|d| d.event_id.as_uuid() == first)
        .unwrap();
    let replayed = rt
        .block_on(store.replay(seller_id, delivery.id, SystemClock.now()))
        .unwrap();
    assert_eq!(
        replayed.state,
        bazaar_domain::webhooks::DeliveryState::Pending
    );
    wait_for("the replay", Duration::from_secs(30), || {
        times_received(first) == 2
    });
    wait_for(
        "the replay's attempt to be logged",
        Duration::from_secs(30),
        || {
            rt.block_on(store.deliveries(seller_id, endpoint, None, 10, SystemClock.now()))
                .unwrap()
                .items
                .iter()
                .any(|d| d.id == delivery.id && d.attempts.len() == 2)
        },
    );

    // Rotated again with no overlap: only the newest secret signs, and the receiver with the
    // old one refuses (400, which is not retried).
    rt.block_on(store.rotate_secret(
        seller_id,
        endpoint,
        EndpointSecret::from_bytes(rand::rng().random()),
        Duration::ZERO,
        SystemClock.now(),
    ))
    .unwrap();
    let second = Uuid::new_v4();
    write_event(url, second, *seller, "order.paid", 1);
    wait_for(
        "the refused delivery to fail",
        Duration::from_secs(30),
        || {
            count(
                url,
                &format!(
                    "SELECT COUNT(*) AS value FROM webhook_deliveries \
                 WHERE event_id = '{second}' AND state = 'failed' AND last_status = 400"
                ),
            ) == 1
        },
    );
    assert_eq!(times_received(second), 0);
    assert_eq!(*receiver.forged.lock().unwrap(), 1);
}

// --- blocked addresses and unopenable secrets ---------------------------------------------------

/// A resolver that answers from a fixed table and remembers what it was asked.
struct Hosts {
    table: BTreeMap<String, Vec<IpAddr>>,
    asked: Mutex<Vec<String>>,
}

impl Hosts {
    fn new(table: &[(&str, &[&str])]) -> Arc<Self> {
        Arc::new(Self {
            table: table
                .iter()
                .map(|(name, addresses)| {
                    let addresses = addresses.iter().map(|a| a.parse().unwrap()).collect();
                    ((*name).to_owned(), addresses)
                })
                .collect(),
            asked: Mutex::new(Vec::new()),
        })
    }

    fn was_asked(&self, name: &str) -> bool {
        self.asked.lock().unwrap().iter().any(|n| n == name)
    }
}

impl Resolver for Hosts {
    fn lookup(&self, host: &str) -> Lookup {
        self.asked.lock().unwrap().push(host.to_owned());
        let answer = self
            .table
            .get(host)
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, host.to_owned()));
        Box::pin(async move { answer })
    }
}

/// Public-looking names: one that resolves to loopback, one that also resolves to a public
/// address (a rebinding name answers both), and `localhost`.
fn rebinding_hosts() -> Arc<Hosts> {
    Hosts::new(&[
        ("hooks.shop-example.com", &["127.0.0.1"]),
        ("rebound.shop-example.com", &["93.184.216.34", "127.0.0.1"]),
        ("localhost", &["127.0.0.1"]),
    ])
}

fn envelope(seller: Uuid) -> EventEnvelope {
    let id = Uuid::new_v4();
    EventEnvelope {
        id: EventId::from_uuid(id),
        event_type: "order.paid".to_owned(),
        version: 1,
        resource_type: "order".to_owned(),
        resource_id: bazaar_domain::events::ResourceId::from_uuid(id),
        seller_id: Some(SellerId::from_uuid(seller)),
        payload: format!(r#"{{"seller_id":"{seller}"}}"#),
        occurred_at: SystemClock.now(),
    }
}

#[test]
fn the_sender_connects_only_to_addresses_it_checked() {
    let rt = runtime();
    let secret = EndpointSecret::from_bytes(rand::rng().random());
    let receiver = Receiver::start(&rt, secret.as_str().to_owned(), Duration::ZERO);
    let port = receiver.addr.port();
    let hosts = rebinding_hosts();
    let schedule = RetrySchedule::default();
    let job = |url: String| DeliveryJob {
        delivery_id: DeliveryId::from_uuid(Uuid::new_v4()),
        endpoint_id: EndpointId::from_uuid(Uuid::new_v4()),
        url,
        secrets: Ok(vec![secret.clone()]),
        event: envelope(Uuid::new_v4()),
        attempts: 0,
        first_attempt_at: None,
    };

    // Loopback allowed (local testing): the name goes through the resolver to the receiver,
    // so the refusals below are the check's doing, not an unreachable address.
    let local = Sender::new(schedule, true, hosts.clone()).unwrap();
    let delivered = job(format!("http://localhost:{port}/hooks"));
    let result = rt.block_on(local.attempt(&delivered));
    assert_eq!(result.status_code, Some(200), "{result:?}");
    assert!(hosts.was_asked("localhost"));
    assert_eq!(
        receiver.ids(),
        BTreeSet::from([delivered.event.id.as_uuid()])
    );
    let connections = receiver.connections.load(Ordering::SeqCst);
    assert_eq!(connections, 1);

    // The production setting: every one of these reaches loopback in the end.
    let strict = Sender::new(schedule, false, hosts.clone()).unwrap();
    for url in [
        format!("http://localhost:{port}/hooks"),
        format!("https://hooks.shop-example.com:{port}/hooks"),
        format!("https://rebound.shop-example.com:{port}/hooks"),
        format!("https://127.0.0.1:{port}/hooks"),
        format!("https://[::ffff:127.0.0.1]:{port}/hooks"),
    ] {
        let result = rt.block_on(strict.attempt(&job(url.clone())));
        assert_eq!(result.error.as_deref(), Some("address_blocked"), "{url}");
        assert_eq!(result.status_code, None, "{url}");
        assert_eq!(result.latency_ms, 0, "{url}");
        assert_eq!(result.outcome, AttemptOutcome::Retry, "{url}");
        assert!(result.next_attempt_at.is_some(), "{url}");
    }
    assert!(hosts.was_asked("hooks.shop-example.com"));
    assert!(hosts.was_asked("rebound.shop-example.com"));
    // Under the loopback flag a private address is still refused.
    let private = Hosts::new(&[("hooks.shop-example.com", &["10.1.2.3"])]);
    let local_private = Sender::new(schedule, true, private).unwrap();
    let result = rt.block_on(
        local_private.attempt(&job(format!("https://hooks.shop-example.com:{port}/hooks"))),
    );
    assert_eq!(result.error.as_deref(), Some("address_blocked"));

    // A job whose secret does not open sends nothing and is retried.
    let mut unsigned = job(format!("http://localhost:{port}/hooks"));
    unsigned.secrets = Err(SecretUnavailable);
    let result = rt.block_on(local.attempt(&unsigned));
    assert_eq!(result.error.as_deref(), Some("secret_unavailable"));
    assert_eq!(result.outcome, AttemptOutcome::Retry);
    assert_eq!(result.status_code, None);

    // The attempts are over, so a connection would already have been accepted.
    assert_eq!(receiver.connections.load(Ordering::SeqCst), connections);
    assert_eq!(receiver.ids().len(), 1);
}

impl World {
    /// The settings of an in-process worker, as [`World::worker`] gives a process.
    fn config(&self, name: &str, allow_loopback: bool) -> WorkerConfig {
        WorkerConfig {
            database_url: self.database_url.clone(),
            amqp_url: amqp_url(BROKER.parse().unwrap()),
            amqp_prefix: self.prefix.clone(),
            secrets_key: self.key.to_hex(),
            vault: None,
            roles: vec![Role::Relay, Role::Activity, Role::Webhooks],
            relay_batch: 50,
            relay_idle: Duration::from_millis(10),
            prefetch: 64,
            retry_delays: retry_delays(),
            delivery_poll: Duration::from_millis(100),
            delivery_concurrency: 16,
            disable_after: 100,
            retry_first: Duration::from_millis(200),
            relay_lease: Duration::from_secs(3),
            delivery_lease: Duration::from_secs(3),
            allow_loopback,
            db_pool: 4,
            log_json: false,
            name: name.to_owned(),
            production: false,
            payout_poll: Duration::from_millis(500),
            payout_run_every: Duration::from_secs(60),
            loan_charge_off_days: 90,
        }
    }
}

/// A worker running in this process with a resolver of the test's; stopped when dropped.
struct InProcess {
    shutdown: tokio::sync::watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcess {
    fn start(config: WorkerConfig, resolver: Arc<dyn Resolver>) -> Self {
        let (shutdown, stop) = tokio::sync::watch::channel(false);
        let thread = std::thread::spawn(move || {
            runtime()
                .block_on(bazaar_workers::run_with(config, resolver, stop))
                .unwrap();
        });
        Self {
            shutdown,
            thread: Some(thread),
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let _sent = self.shutdown.send(true);
        if let Some(thread) = self.thread.take() {
            let _joined = thread.join();
        }
    }
}

#[test]
fn a_name_resolving_to_loopback_is_refused_and_logged_as_address_blocked() {
    let rt = runtime();
    let db = TestDatabase::new().unwrap();
    let world = World::new(&rt, db.url(), Duration::ZERO);
    let url = db.url();
    let (seller, _, _) = &world.sellers[1];
    // A real listener waits where the name leads.
    let target = Receiver::start(&rt, String::new(), Duration::ZERO);
    let mut endpoints = Vec::new();
    for name in ["hooks.shop-example.com", "rebound.shop-example.com"] {
        let endpoint = rt
            .block_on(world.store.create_endpoint(
                SellerId::from_uuid(*seller),
                &format!("https://{name}:{}/hooks", target.addr.port()),
                &["order.*".to_owned()],
                EndpointSecret::from_bytes(rand::rng().random()),
                SystemClock.now(),
            ))
            .unwrap();
        endpoints.push(endpoint.id.as_uuid());
    }
    let hosts = rebinding_hosts();
    let _worker = InProcess::start(world.config("worker-blocked", false), hosts.clone());
    write_event(url, Uuid::new_v4(), *seller, "order.paid", 1);

    for endpoint in &endpoints {
        wait_for("a refused attempt", Duration::from_secs(30), || {
            !attempts(url, *endpoint).is_empty()
        });
    }
    let logged: Vec<(Option<String>, Option<i32>, i32, String)> = {
        let mut conn = PgConnection::establish(url).unwrap();
        sql_query(
            "SELECT a.error, a.status_code, a.latency_ms, a.outcome FROM webhook_attempts a \
             JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.endpoint_id = ANY($1)",
        )
        .bind::<diesel::sql_types::Array<SqlUuid>, _>(&endpoints)
        .load::<LoggedAttempt>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|a| (a.error, a.status_code, a.latency_ms, a.outcome))
        .collect()
    };
    assert!(logged.len() >= 2);
    for attempt in &logged {
        assert_eq!(
            attempt,
            &(
                Some("address_blocked".to_owned()),
                None,
                0,
                "retry".to_owned()
            )
        );
    }
    assert!(hosts.was_asked("hooks.shop-example.com"));
    assert!(hosts.was_asked("rebound.shop-example.com"));
    assert_eq!(target.connections.load(Ordering::SeqCst), 0);
    // The seller's own receiver is on loopback too, and this worker refuses it as well.
    assert!(world.sellers[1].1.ids().is_empty());
}

#[derive(QueryableByName)]
struct LoggedAttempt {
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    error: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
    status_code: Option<i32>,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    latency_ms: i32,
    #[diesel(sql_type = Text)]
    outcome: String,
}

#[test]
fn an_unopenable_secret_holds_back_only_its_own_endpoint() {
    let rt = runtime();
    let db = TestDatabase::new().unwrap();
    let world = World::new(&rt, db.url(), Duration::ZERO);
    let url = db.url();
    let (broken_seller, broken_receiver, _) = &world.sellers[0];
    let (healthy_seller, healthy_receiver, _) = &world.sellers[1];
    let mut conn = PgConnection::establish(url).unwrap();
    sql_query(
        "UPDATE webhook_endpoints SET secret_sealed = decode('00ff', 'hex') WHERE seller_id = $1",
    )
    .bind::<SqlUuid, _>(*broken_seller)
    .execute(&mut conn)
    .unwrap();
    let broken = rt
        .block_on(
            world
                .store
                .endpoints(SellerId::from_uuid(*broken_seller), SystemClock.now()),
        )
        .unwrap()[0]
        .id;

    // The store directly, with both sellers' events in one chunk: fan-out and the retry
    // poller's claim each answer for both endpoints.
    let (first_broken, first_healthy) = (envelope(*broken_seller), envelope(*healthy_seller));
    for event in [&first_broken, &first_healthy] {
        let seller = event.seller_id.unwrap().as_uuid();
        write_event(url, event.id.as_uuid(), seller, &event.event_type, 1);
    }
    sql_query("UPDATE outbox_events SET sent_at = 0")
        .execute(&mut conn)
        .unwrap();
    // The port itself, with no hold, so the poller below finds the deliveries due at once.
    let port = PostgresEvents::new(url, 1, RetryPolicy::default(), world.key.clone());
    let answers = rt
        .block_on(port.fan_out(
            "webhooks",
            &[first_broken.clone(), first_healthy.clone()],
            Duration::ZERO,
            SystemClock.now(),
        ))
        .unwrap();
    let jobs: Vec<DeliveryJob> = answers.into_iter().flatten().flatten().collect();
    assert_eq!(jobs.len(), 2);
    for job in &jobs {
        assert_eq!(job.secrets.is_err(), job.endpoint_id == broken);
    }
    let claimed = rt
        .block_on(port.claim_deliveries(10, Duration::ZERO, SystemClock.now()))
        .unwrap();
    assert_eq!(claimed.len(), 2);
    for job in &claimed {
        assert_eq!(job.secrets.is_err(), job.endpoint_id == broken);
    }

    // A worker sends those (the poller) and new events (fan-out): the healthy seller gets
    // everything, the broken endpoint's deliveries wait with `secret_unavailable`.
    let _worker = Worker(world.worker(BROKER.parse().unwrap(), "worker-secrets"));
    let (second_broken, second_healthy) = (Uuid::new_v4(), Uuid::new_v4());
    write_event(url, second_broken, *broken_seller, "order.paid", 1);
    write_event(url, second_healthy, *healthy_seller, "order.paid", 1);
    wait_for(
        "the healthy seller's webhooks",
        Duration::from_secs(30),
        || {
            let ids = healthy_receiver.ids();
            ids.contains(&first_healthy.id.as_uuid()) && ids.contains(&second_healthy)
        },
    );
    let waiting = |clause: &str| {
        count(
            url,
            &format!(
                "SELECT COUNT(DISTINCT a.delivery_id) AS value FROM webhook_attempts a \
                 JOIN webhook_deliveries d ON d.id = a.delivery_id \
                 WHERE d.endpoint_id = '{broken}' AND {clause}"
            ),
        )
    };
    wait_for(
        "the broken endpoint's attempts",
        Duration::from_secs(30),
        || {
            waiting(
                "a.error = 'secret_unavailable' AND a.outcome = 'retry' \
                 AND a.status_code IS NULL AND d.state = 'pending'",
            ) == 2
        },
    );
    assert_eq!(waiting("a.error IS DISTINCT FROM 'secret_unavailable'"), 0);
    assert!(broken_receiver.ids().is_empty());
    assert_eq!(broken_receiver.connections.load(Ordering::SeqCst), 0);
}
