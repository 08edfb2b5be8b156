//! Outage tests: the durable store against a PostgreSQL server of the test's own
//! ([`PrivateServer`]), which the test starts late, and stops and restarts under load. The
//! machine's shared server (`BAZAAR_TEST_DATABASE_URL`) is never touched; see
//! `bazaar_testdb::private_server` for how the private one is run and cleaned up.
//!
//! `cargo nextest run -p bazaar-postgres outage --no-capture` shows the store's reconnect
//! warnings and each run's outage statistics.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "test drivers fail loudly"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bazaar_ledger::{
    AccountCode, AccountId, Balance, BalanceConstraint, BatchError, Clock, Currency, LedgerStore,
    Metadata, Money, NewAccount, Owner, Receipt, RequestKind, Side, StoreError, Timestamp,
    TransferId, TransferRequest,
};
use bazaar_postgres::{LedgerConfig, PostgresLedger, RetryPolicy, SystemClock};
use bazaar_testdb::private_server::PrivateServer;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{BigInt, Integer, Text, Uuid as SqlUuid};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(filter)
        .try_init();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `work` on `runtime`, for at most `limit`.
fn within<F: std::future::Future>(
    runtime: &tokio::runtime::Runtime,
    limit: Duration,
    work: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    runtime.block_on(async { tokio::time::timeout(limit, work).await })
}

fn config(url: String, unavailable_for_max: Duration) -> LedgerConfig {
    let mut config = LedgerConfig::new(url);
    config.retry = RetryPolicy {
        unavailable_for_max,
        ..RetryPolicy::default()
    };
    config
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

fn new_account(id: AccountId, currency: Currency, side: Side, limited: bool) -> NewAccount {
    NewAccount {
        id,
        currency,
        code: AccountCode::new("outage").unwrap(),
        owner: Owner::platform(),
        normal_side: side,
        constraint: if limited {
            BalanceConstraint::DebitsMustNotExceedCredits { overdraft: 0 }
        } else {
            BalanceConstraint::Unconstrained
        },
    }
}

fn direct(id: TransferId, debit: AccountId, credit: AccountId, amount: Money) -> TransferRequest {
    TransferRequest {
        id,
        kind: RequestKind::Direct {
            debit_account_id: debit,
            credit_account_id: credit,
            amount,
        },
        metadata: Metadata::new(),
    }
}

#[derive(QueryableByName, Debug)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, query: &str) -> i64 {
    sql_query(query).load::<CountRow>(conn).unwrap()[0].n
}

// ---------------------------------------------------------------------------------------------
// The load for `database_restarted_mid_run`: accounts, batches, submitters, stored rows
// ---------------------------------------------------------------------------------------------

const SUBMITTERS: u64 = 8;
const BUYERS: u64 = 4;
const CURRENCIES: [Currency; 2] = [Currency::EUR, Currency::USD];
/// Acknowledged batches before the first outage, and after each restart before the next
/// step, so that every outage hits a running load.
const ACKS_BETWEEN_OUTAGES: u64 = 150;
/// Each outage: how the server is stopped (pg_ctl's mode), and whether a commit is held in
/// flight when it stops (see [`PrivateServer::hold_next_commit`]); then it stays down for
/// `DOWN_FOR`.
const OUTAGES: [(&str, bool); 2] = [("fast", true), ("immediate", false)];
const DOWN_FOR: Duration = Duration::from_millis(1_500);
/// How long the store keeps reconnecting before it answers `Unavailable`: well under the
/// downtime, so callers see the outage and retry themselves; long enough that the group in
/// flight when the server comes back reconnects inside the store.
const STORE_PATIENCE: Duration = Duration::from_millis(400);
/// A batch still unanswered after this long fails the test.
const GIVE_UP: Duration = Duration::from_secs(30);

fn funding(currency: usize) -> AccountId {
    AccountId::from_u128(0xF000 + u128::try_from(currency).unwrap())
}

fn seller(currency: usize) -> AccountId {
    AccountId::from_u128(0x5E00 + u128::try_from(currency).unwrap())
}

fn commission(currency: usize) -> AccountId {
    AccountId::from_u128(0xC000 + u128::try_from(currency).unwrap())
}

fn buyer(index: u64) -> AccountId {
    AccountId::from_u128(0xB000 + u128::from(index))
}

fn buyer_currency(index: u64) -> usize {
    usize::try_from(index % 2).unwrap()
}

fn accounts() -> Vec<NewAccount> {
    let mut accounts = Vec::new();
    for (c, currency) in CURRENCIES.iter().enumerate() {
        accounts.push(new_account(funding(c), *currency, Side::Debit, false));
        accounts.push(new_account(seller(c), *currency, Side::Credit, true));
        accounts.push(new_account(commission(c), *currency, Side::Credit, false));
    }
    for b in 0..BUYERS {
        let currency = CURRENCIES[buyer_currency(b)];
        accounts.push(new_account(buyer(b), currency, Side::Credit, true));
    }
    accounts
}

#[derive(Clone, Copy, Debug)]
struct Leg {
    id: TransferId,
    debit: AccountId,
    credit: AccountId,
    amount: Money,
}

/// A linked batch of submitter `task`: a top-up of its buyer, a sale (the buyer pays a seller
/// and the commission), or both in one batch. Sales the buyer cannot pay are rejected.
fn batch(task: u64, sequence: u64, rng: &mut StdRng) -> Vec<Leg> {
    let b = task % BUYERS;
    let c = buyer_currency(b);
    let money = |minor| Money::from_minor(minor, CURRENCIES[c]);
    let id = |leg: u128| {
        TransferId::from_u128((u128::from(task + 1) << 64) | (u128::from(sequence) << 8) | leg)
    };
    let top_up = Leg {
        id: id(0),
        debit: funding(c),
        credit: buyer(b),
        amount: money(rng.random_range(300..=1_500)),
    };
    let price = rng.random_range(100..=900);
    let pay_seller = Leg {
        id: id(1),
        debit: buyer(b),
        credit: seller(c),
        amount: money(price),
    };
    let pay_commission = Leg {
        id: id(2),
        debit: buyer(b),
        credit: commission(c),
        amount: money(price / 10 + 1),
    };
    match rng.random_range(0..4) {
        0 => vec![top_up],
        1 => vec![top_up, pay_seller, pay_commission],
        _ => vec![pay_seller, pay_commission],
    }
}

fn requests(legs: &[Leg]) -> Vec<TransferRequest> {
    legs.iter()
        .map(|leg| direct(leg.id, leg.debit, leg.credit, leg.amount))
        .collect()
}

/// One batch as its submitter saw it.
#[derive(Debug)]
struct Submitted {
    legs: Vec<Leg>,
    answer: Result<Vec<Receipt>, BatchError>,
    /// `Err(StoreError)` answers before the final one: outcome unknown, retried.
    unknown: u32,
    started: Instant,
    /// How long the attempt that was answered took.
    last_attempt: Duration,
    /// The longest attempt that was answered with an `Err`.
    slowest_unknown: Duration,
    /// The store's clock when the last `Err` came.
    last_unknown_at: Option<Timestamp>,
    answered: Instant,
    /// The store's clock when the answer came.
    answered_at: Timestamp,
}

/// What the submitters share with the test's driver.
struct Load {
    stop: AtomicBool,
    acknowledged: AtomicU64,
    /// The latest outage begun: 0 before the first, 1 during and after the first, ...
    outage: AtomicUsize,
    /// `Err` answers, by the outage that was the latest when they came.
    unknown_by_outage: [AtomicU64; OUTAGES.len() + 1],
    internal: AtomicU64,
}

async fn submitter(task: u64, ledger: PostgresLedger, load: Arc<Load>) -> Vec<Submitted> {
    let mut rng = StdRng::seed_from_u64(task);
    let mut done = Vec::new();
    let mut sequence = 0;
    while !load.stop.load(Ordering::SeqCst) {
        sequence += 1;
        let legs = batch(task, sequence, &mut rng);
        let batch = requests(&legs);
        let started = Instant::now();
        let mut unknown = 0;
        let mut slowest_unknown = Duration::ZERO;
        let mut last_unknown_at = None;
        let (answer, last_attempt) = loop {
            let attempt = Instant::now();
            match ledger.submit(batch.clone()).await {
                Ok(answer) => break (answer, attempt.elapsed()),
                Err(error) => {
                    // The outcome is unknown: retry the same batch, same ids.
                    unknown += 1;
                    slowest_unknown = slowest_unknown.max(attempt.elapsed());
                    last_unknown_at = Some(SystemClock.now());
                    let outage = load.outage.load(Ordering::SeqCst);
                    load.unknown_by_outage[outage].fetch_add(1, Ordering::SeqCst);
                    if matches!(error, StoreError::Internal(_)) {
                        load.internal.fetch_add(1, Ordering::SeqCst);
                    }
                    assert!(
                        started.elapsed() < GIVE_UP,
                        "submitter {task}, batch {sequence}: no answer after {:?}: {error}",
                        started.elapsed()
                    );
                    let pause = rand::rng().random_range(5..=50);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            }
        };
        if answer.is_ok() {
            load.acknowledged.fetch_add(1, Ordering::SeqCst);
        }
        done.push(Submitted {
            legs,
            answer,
            unknown,
            started,
            last_attempt,
            slowest_unknown,
            last_unknown_at,
            answered: Instant::now(),
            answered_at: SystemClock.now(),
        });
    }
    done
}

/// Waits until `acks` batches are acknowledged and at least `min` has passed since `since`.
fn wait_for_load(load: &Load, acks: u64, since: Instant, min: Duration, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while load.acknowledged.load(Ordering::SeqCst) < acks || since.elapsed() < min {
        assert!(
            Instant::now() < deadline,
            "{what}: only {} of {acks} batches acknowledged",
            load.acknowledged.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[derive(QueryableByName, Debug)]
struct StoredTransfer {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = SqlUuid)]
    debit_account_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    credit_account_id: Uuid,
    #[diesel(sql_type = BigInt)]
    amount: i64,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    ts: i64,
    #[diesel(sql_type = Integer)]
    leg: i32,
}

#[derive(QueryableByName, Debug)]
struct StoredFailure {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    error: String,
    #[diesel(sql_type = BigInt)]
    failed_at: i64,
}

/// An account's stored balance next to the sums of the transfers that debit and credit it.
#[derive(QueryableByName, Debug)]
struct StoredAccount {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    debits_pending: i64,
    #[diesel(sql_type = BigInt)]
    debits_posted: i64,
    #[diesel(sql_type = BigInt)]
    credits_pending: i64,
    #[diesel(sql_type = BigInt)]
    credits_posted: i64,
    #[diesel(sql_type = BigInt)]
    debited: i64,
    #[diesel(sql_type = BigInt)]
    credited: i64,
}

#[derive(QueryableByName, Debug)]
struct CurrencyTotals {
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    debits_posted: i64,
    #[diesel(sql_type = BigInt)]
    credits_posted: i64,
    #[diesel(sql_type = BigInt)]
    pending: i64,
}

// ---------------------------------------------------------------------------------------------
// The tests, in a module whose name puts `outage` in their names
// (`cargo nextest run -p bazaar-postgres outage`).
// ---------------------------------------------------------------------------------------------

mod outage {
    use super::*;

    /// `connect` keeps trying while no server listens: with little patience it gives up with
    /// `Unavailable` (no panic, no hang); with enough, it connects once the server comes up two
    /// seconds later, and the store then works.
    #[test]
    fn database_unreachable_at_start() {
        init_tracing();
        let runtime = runtime();
        let server = PrivateServer::init();
        let url = server.url("ledger");

        // Nothing listens on the port, and the store may wait one second.
        let asked = Instant::now();
        let outcome = within(
            &runtime,
            Duration::from_secs(15),
            PostgresLedger::connect(config(url.clone(), Duration::from_secs(1)), clock()),
        );
        let waited = asked.elapsed();
        match outcome {
            Ok(Err(StoreError::Unavailable(_))) => {}
            Ok(other) => panic!("connect to a server that is down answered {other:?}"),
            Err(_) => panic!("connect to a server that is down hung for {waited:?}"),
        }
        assert!(
            waited >= Duration::from_secs(1) && waited < Duration::from_secs(5),
            "connect gave up after {waited:?}, with one second of patience"
        );

        // Twenty seconds of patience; the server starts two seconds in.
        let asked = Instant::now();
        let connecting = runtime.spawn(PostgresLedger::connect(
            config(url.clone(), Duration::from_secs(20)),
            clock(),
        ));
        std::thread::sleep(Duration::from_secs(2));
        assert!(
            !connecting.is_finished(),
            "connect returned while no server was running"
        );
        let up = Instant::now();
        server.start();
        server.create_migrated_database("ledger");
        let ready = up.elapsed();
        let ledger = runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(25), connecting).await })
            .expect("connect hung after the server came up")
            .unwrap()
            .expect("connect failed although the server came up");
        let connected = asked.elapsed();
        let after_ready = up.elapsed().saturating_sub(ready);
        eprintln!(
            "connect: server started {:?} after the call, database ready {ready:?} later, \
             connected {after_ready:?} after that ({connected:?} in all)",
            up.duration_since(asked)
        );
        assert!(
            after_ready < Duration::from_secs(5),
            "connect took {after_ready:?} to notice the database"
        );

        // The store works.
        runtime.block_on(async {
            let funding = AccountId::from_u128(0xF0);
            let buyer = AccountId::from_u128(0xB0);
            let opened = ledger
                .create_accounts(vec![
                    new_account(funding, Currency::EUR, Side::Debit, false),
                    new_account(buyer, Currency::EUR, Side::Credit, true),
                ])
                .await
                .unwrap();
            assert!(opened.iter().all(Result::is_ok), "{opened:?}");
            let eur = |minor| Money::from_minor(minor, Currency::EUR);
            let top_up = vec![direct(TransferId::from_u128(1), funding, buyer, eur(1_000))];
            let receipts = ledger.submit(top_up.clone()).await.unwrap().unwrap();
            assert_eq!(receipts.len(), 1);
            assert_eq!(ledger.submit(top_up).await.unwrap(), Ok(receipts));
            let overdraw = vec![direct(TransferId::from_u128(2), buyer, funding, eur(5_000))];
            let refused = ledger.submit(overdraw).await.unwrap().unwrap_err();
            assert_eq!(refused.code(), "exceeds_credits");
            let (_, balance) = ledger.account(buyer).await.unwrap().unwrap();
            assert_eq!(
                balance,
                Balance {
                    credits_posted: 1_000,
                    ..Balance::default()
                }
            );
            ledger.ping().await.unwrap();
        });
        let mut conn = PgConnection::establish(&url).unwrap();
        assert_eq!(
            count(&mut conn, "SELECT count(*) AS n FROM ledger_transfers"),
            1
        );
        assert_eq!(
            count(&mut conn, "SELECT count(*) AS n FROM ledger_failures"),
            1
        );
    }

    /// Eight submitters post linked batches while the server is stopped and started again twice:
    /// once `fast` with a commit held between durable and acknowledged (so that its answer is
    /// lost), once `immediate` (crash recovery on restart). Submitters retry every batch whose
    /// outcome is unknown with the same ids until it is answered. Then the database must hold
    /// exactly the acknowledged batches, each whole, balanced, with balances that agree with the
    /// transfers, the held batches must have been resolved by retries, and the store must still
    /// answer.
    #[test]
    fn database_restarted_mid_run() {
        init_tracing();
        let runtime = runtime();
        let server = PrivateServer::init();
        server.start();
        server.create_migrated_database("ledger");
        let url = server.url("ledger");
        let ledger = runtime
            .block_on(PostgresLedger::connect(
                config(url.clone(), STORE_PATIENCE),
                clock(),
            ))
            .unwrap();
        let opened = runtime
            .block_on(ledger.create_accounts(accounts()))
            .unwrap();
        assert!(opened.iter().all(Result::is_ok), "{opened:?}");

        let load = Arc::new(Load {
            stop: AtomicBool::new(false),
            acknowledged: AtomicU64::new(0),
            outage: AtomicUsize::new(0),
            unknown_by_outage: Default::default(),
            internal: AtomicU64::new(0),
        });
        let began = Instant::now();
        let tasks: Vec<_> = (0..SUBMITTERS)
            .map(|task| runtime.spawn(submitter(task, ledger.clone(), load.clone())))
            .collect();
        wait_for_load(
            &load,
            ACKS_BETWEEN_OUTAGES,
            began,
            Duration::from_secs(1),
            "before the first outage",
        );
        // (stopping began, server up again) for each outage
        let mut windows = Vec::new();
        for (index, (mode, hold)) in OUTAGES.iter().enumerate() {
            load.outage.store(index + 1, Ordering::SeqCst);
            if *hold {
                server.hold_next_commit();
            }
            let down = Instant::now();
            server.stop(mode);
            std::thread::sleep(DOWN_FOR);
            server.start();
            let up = Instant::now();
            windows.push((down, up));
            let acks = load.acknowledged.load(Ordering::SeqCst);
            wait_for_load(
                &load,
                acks + ACKS_BETWEEN_OUTAGES,
                up,
                Duration::from_secs(1),
                &format!("after outage {} ({mode}, commit held: {hold})", index + 1),
            );
        }
        load.stop.store(true, Ordering::SeqCst);
        let submitted: Vec<Submitted> = runtime.block_on(async {
            let mut all = Vec::new();
            for task in tasks {
                let done = tokio::time::timeout(GIVE_UP, task)
                    .await
                    .expect("a submitter did not finish")
                    .unwrap();
                all.extend(done);
            }
            all
        });
        let load_time = began.elapsed();

        // What the submitters were told.
        let mut acknowledged: BTreeMap<Uuid, (Leg, i64, usize)> = BTreeMap::new();
        let mut rejected_legs: BTreeMap<Uuid, &'static str> = BTreeMap::new();
        let mut expected: BTreeMap<Uuid, (i64, i64)> = BTreeMap::new();
        let mut timestamps = BTreeSet::new();
        let mut rejections = 0;
        for batch in &submitted {
            match &batch.answer {
                Ok(receipts) => {
                    let ids: Vec<_> = receipts.iter().map(|r| r.id).collect();
                    let legs: Vec<_> = batch.legs.iter().map(|l| l.id).collect();
                    assert_eq!(ids, legs, "receipts out of leg order");
                    let ts = receipts[0].timestamp;
                    assert!(receipts.iter().all(|r| r.timestamp == ts));
                    assert!(timestamps.insert(ts), "two batches share timestamp {ts}");
                    for (index, leg) in batch.legs.iter().enumerate() {
                        acknowledged.insert(leg.id.as_uuid(), (*leg, ts.as_micros(), index));
                        expected.entry(leg.debit.as_uuid()).or_default().0 += leg.amount.minor();
                        expected.entry(leg.credit.as_uuid()).or_default().1 += leg.amount.minor();
                    }
                }
                Err(BatchError::Rejected { index, id, error }) => {
                    rejections += 1;
                    assert_eq!(batch.legs[*index].id, *id);
                    // Only the buyer's balance can refuse a batch; anything else (an id conflict
                    // after a retry, say) is a bug.
                    assert_eq!(error.code(), "exceeds_credits", "{:?}", batch.answer);
                    assert!(batch.legs[*index].debit.as_uuid().as_u128() >= 0xB000);
                    rejected_legs.insert(id.as_uuid(), error.code());
                }
                Err(other) => panic!("unexpected rejection {other:?}"),
            }
        }
        let batches = submitted.len();
        let affected = submitted.iter().filter(|b| b.unknown > 0).count();
        let unknown: u32 = submitted.iter().map(|b| b.unknown).sum();
        let unknown_by_outage: Vec<u64> = load
            .unknown_by_outage
            .iter()
            .map(|n| n.load(Ordering::SeqCst))
            .collect();
        let internal = load.internal.load(Ordering::SeqCst);
        let slowest = submitted
            .iter()
            .map(|b| b.answered.duration_since(b.started))
            .max()
            .unwrap_or_default();
        let in_flight: Vec<usize> = windows
            .iter()
            .map(|(down, up)| {
                submitted
                    .iter()
                    .filter(|b| b.started < *up && b.answered > *down)
                    .count()
            })
            .collect();
        // A commit takes milliseconds; an answered attempt this slow waited for the store to
        // reconnect.
        let reconnected = submitted
            .iter()
            .filter(|b| b.last_attempt > Duration::from_millis(200))
            .count();
        // The longest `submit` that answered `Err`: how long the store kept the caller
        // waiting before it gave up, against its patience (`unavailable_for_max`).
        let longest_unknown = submitted
            .iter()
            .map(|b| b.slowest_unknown)
            .max()
            .unwrap_or_default();
        // Batches stamped before their last `Err` came: an attempt that answered `Err` had
        // committed them (the acknowledgement was lost), and the retry got the original receipt.
        // (Rejected ones are counted below, from the time their failure was remembered.)
        let committed_unacknowledged = submitted
            .iter()
            .filter(|b| match (&b.answer, b.last_unknown_at) {
                (Ok(receipts), Some(at)) => receipts[0].timestamp < at,
                _ => false,
            })
            .count();
        // How far a batch's timestamp lags the time its answer came: the store stamps a
        // group when it takes it, so a group that waits for a reconnect is stamped early.
        let stamp_lag_ms = submitted
            .iter()
            .filter_map(|b| {
                let receipts = b.answer.as_ref().ok()?;
                Some(b.answered_at.as_micros() - receipts[0].timestamp.as_micros())
            })
            .max()
            .unwrap_or_default()
            / 1_000;
        eprintln!(
            "restart under load: {load_time:?}, {batches} batches ({} acknowledged, {rejections} \
             rejected); {affected} batches saw {unknown} unknown-outcome answers \
             (by outage: {unknown_by_outage:?}; {internal} of them Internal); batches in flight \
             during each outage: {in_flight:?}; {reconnected} answered after waiting for the \
             store to reconnect; slowest answer {slowest:?}; longest `Err` answer \
             {longest_unknown:?} (patience {STORE_PATIENCE:?}); timestamps lag answers by up to \
             {stamp_lag_ms} ms; {committed_unacknowledged} batches were committed by an attempt \
             that answered `Err`; outages lasted {:?}",
            batches - rejections,
            windows
                .iter()
                .map(|(down, up)| up.duration_since(*down))
                .collect::<Vec<_>>(),
        );
        assert_eq!(unknown_by_outage[0], 0, "errors before any outage");
        for (index, errors) in unknown_by_outage.iter().enumerate().skip(1) {
            assert!(
                *errors > 0,
                "no submission saw outage {index}: the test proved nothing"
            );
        }
        assert!(
            rejections > 0,
            "no batch was rejected: rejections went untested"
        );
        assert!(batches - rejections > 0);

        // What the database holds.
        let mut conn = PgConnection::establish(&url).unwrap();
        let stored: Vec<StoredTransfer> = sql_query(
            "SELECT id, kind, debit_account_id, credit_account_id, amount, \
             currency::text AS currency, ts, leg FROM ledger_transfers",
        )
        .load(&mut conn)
        .unwrap();
        // Every acknowledged transfer exactly once, and nothing else (every batch was answered,
        // so none is left whose outcome is unknown).
        assert_eq!(stored.len(), acknowledged.len(), "stored transfers");
        let mut seen = BTreeSet::new();
        let mut batch_of_ts: BTreeMap<i64, u128> = BTreeMap::new();
        for row in &stored {
            assert!(seen.insert(row.id), "transfer {} stored twice", row.id);
            let (leg, ts, index) = acknowledged
                .get(&row.id)
                .unwrap_or_else(|| panic!("transfer {} stored but never acknowledged", row.id));
            assert_eq!(row.kind, "direct");
            assert_eq!(row.debit_account_id, leg.debit.as_uuid());
            assert_eq!(row.credit_account_id, leg.credit.as_uuid());
            assert_eq!(row.amount, leg.amount.minor());
            assert_eq!(row.currency, leg.amount.currency().code());
            assert_eq!(row.ts, *ts, "transfer {} has another timestamp", row.id);
            assert_eq!(usize::try_from(row.leg).unwrap(), *index);
            // All rows with one timestamp belong to one batch (same submitter and sequence).
            let batch_key = row.id.as_u128() >> 8;
            assert_eq!(*batch_of_ts.entry(row.ts).or_insert(batch_key), batch_key);
        }
        // Every batch all or nothing; rejected batches left no transfer, only their failing leg.
        let stored_ids: BTreeSet<Uuid> = stored.iter().map(|row| row.id).collect();
        for batch in &submitted {
            let present = batch
                .legs
                .iter()
                .filter(|leg| stored_ids.contains(&leg.id.as_uuid()))
                .count();
            let whole = if batch.answer.is_ok() {
                batch.legs.len()
            } else {
                0
            };
            assert_eq!(
                present, whole,
                "batch {:?}: {present} legs stored",
                batch.answer
            );
        }
        let failures: Vec<StoredFailure> =
            sql_query("SELECT id, error, failed_at FROM ledger_failures")
                .load(&mut conn)
                .unwrap();
        let failures: BTreeMap<Uuid, (String, i64)> = failures
            .into_iter()
            .map(|row| (row.id, (row.error, row.failed_at)))
            .collect();
        assert_eq!(failures.len(), rejected_legs.len(), "remembered failures");
        for (id, code) in &rejected_legs {
            assert_eq!(failures.get(id).map(|f| f.0.as_str()), Some(*code));
        }
        // The commit held across the first outage must have reached its submitters as `Err`s
        // and been resolved by their retries; otherwise the lost-acknowledgement case went
        // untested.
        let rejected_unacknowledged = submitted
            .iter()
            .filter(|b| match (&b.answer, b.last_unknown_at) {
                (Err(BatchError::Rejected { id, .. }), Some(at)) => failures
                    .get(&id.as_uuid())
                    .is_some_and(|f| f.1 < at.as_micros()),
                _ => false,
            })
            .count();
        eprintln!(
            "committed by an attempt that answered `Err`, then resolved by a retry: \
             {committed_unacknowledged} acknowledged and {rejected_unacknowledged} rejected batches"
        );
        assert!(
            committed_unacknowledged + rejected_unacknowledged > 0,
            "no batch was committed by an attempt that answered `Err`"
        );
        // Per currency, debits equal credits; nothing is pending.
        let totals: Vec<CurrencyTotals> = sql_query(
            "SELECT currency::text AS currency, sum(debits_posted)::int8 AS debits_posted, \
             sum(credits_posted)::int8 AS credits_posted, \
             sum(debits_pending + credits_pending)::int8 AS pending \
             FROM ledger_accounts GROUP BY currency ORDER BY currency",
        )
        .load(&mut conn)
        .unwrap();
        assert_eq!(totals.len(), CURRENCIES.len());
        for total in &totals {
            assert_eq!(
                total.debits_posted, total.credits_posted,
                "{} is out of balance",
                total.currency
            );
            assert_eq!(total.pending, 0);
            assert!(total.debits_posted > 0);
        }
        // Each balance is the sum of the transfers on the account, and what the acknowledged
        // batches add up to; no buyer is overdrawn; the store reads the same.
        let balances: Vec<StoredAccount> = sql_query(
            "SELECT a.id, a.currency::text AS currency, a.debits_pending, a.debits_posted, \
             a.credits_pending, a.credits_posted, \
             COALESCE((SELECT sum(t.amount) FROM ledger_transfers t \
                   WHERE t.debit_account_id = a.id AND t.kind = 'direct'), 0)::int8 AS debited, \
             COALESCE((SELECT sum(t.amount) FROM ledger_transfers t \
                   WHERE t.credit_account_id = a.id AND t.kind = 'direct'), 0)::int8 AS credited \
             FROM ledger_accounts a",
        )
        .load(&mut conn)
        .unwrap();
        assert_eq!(balances.len(), accounts().len());
        for account in &balances {
            assert_eq!(
                (account.debits_posted, account.credits_posted),
                (account.debited, account.credited),
                "account {} disagrees with its transfers",
                account.id
            );
            assert_eq!(
                (account.debits_posted, account.credits_posted),
                expected.get(&account.id).copied().unwrap_or_default(),
                "account {} disagrees with the acknowledged batches",
                account.id
            );
            assert_eq!((account.debits_pending, account.credits_pending), (0, 0));
            let id = AccountId::from_uuid(account.id);
            let (held, balance) = runtime.block_on(ledger.account(id)).unwrap().unwrap();
            assert_eq!(held.currency.code(), account.currency);
            let stored_balance = Balance {
                debits_pending: account.debits_pending,
                debits_posted: account.debits_posted,
                credits_pending: account.credits_pending,
                credits_posted: account.credits_posted,
            };
            assert_eq!(balance, stored_balance);
            assert_eq!(
                runtime
                    .block_on(ledger.balance_at(id, Timestamp::MAX))
                    .unwrap(),
                Some(stored_balance),
                "history of {id:?}"
            );
            if matches!(
                held.constraint,
                BalanceConstraint::DebitsMustNotExceedCredits { .. }
            ) {
                assert!(
                    account.debits_posted <= account.credits_posted,
                    "{account:?}"
                );
            }
        }
        let last_ts = count(&mut conn, "SELECT last_ts AS n FROM ledger_clock");
        assert!(timestamps.iter().all(|ts| ts.as_micros() <= last_ts));

        // The store still answers: a fresh batch, and replays of batches from before the outages.
        runtime.block_on(async {
            let fresh = vec![direct(
                TransferId::from_u128(0xF2E5),
                funding(0),
                buyer(0),
                Money::from_minor(1, Currency::EUR),
            )];
            let receipts = ledger.submit(fresh).await.unwrap().unwrap();
            assert!(receipts[0].timestamp.as_micros() > last_ts);
            let first_ok = submitted.iter().find(|b| b.answer.is_ok()).unwrap();
            let first_rejected = submitted.iter().find(|b| b.answer.is_err()).unwrap();
            for earlier in [first_ok, first_rejected] {
                let replay = ledger.submit(requests(&earlier.legs)).await.unwrap();
                assert_eq!(replay, earlier.answer, "a replay answered otherwise");
            }
        });
        assert_eq!(
            count(&mut conn, "SELECT count(*) AS n FROM ledger_transfers"),
            i64::try_from(acknowledged.len() + 1).unwrap()
        );
    }
}
