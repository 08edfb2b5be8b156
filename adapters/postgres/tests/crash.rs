//! Crash safety: a child process puts sales through the durable store and reports each
//! acknowledged batch; the test kills it with SIGKILL mid-run, three times, restarting it on
//! the same database. After every kill, every acknowledged transfer is stored exactly once,
//! no batch is half-applied, rejected batches left nothing, and every balance equals the sum
//! of the transfers that moved it.
#![expect(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::arithmetic_side_effects,
    reason = "test drivers fail loudly and talk to their parent on stdout"
)]

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bazaar_ledger::{
    AccountCode, AccountId, BalanceConstraint, Currency, LedgerStore, Metadata, Money, NewAccount,
    Owner, RequestKind, Side, TransferId, TransferRequest,
};
use bazaar_postgres::{LedgerConfig, PostgresLedger, SystemClock};
use bazaar_testdb::TestDatabase;
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use uuid::Uuid;

const FUNDING: u128 = 0xF0;
const COMMISSION: u128 = 0xC0;
const BUYERS: u128 = 20;
const SELLERS: u128 = 40;
const SUBMITTERS: u128 = 8;

fn buyer(i: u128) -> AccountId {
    AccountId::from_u128(0xB000 + i % BUYERS)
}

fn seller(i: u128) -> AccountId {
    AccountId::from_u128(0x5000 + i % SELLERS)
}

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

fn direct(id: TransferId, debit: AccountId, credit: AccountId, minor: i64) -> TransferRequest {
    TransferRequest {
        id,
        kind: RequestKind::Direct {
            debit_account_id: debit,
            credit_account_id: credit,
            amount: eur(minor),
        },
        metadata: Metadata::new(),
    }
}

/// A sale's two legs: ids `base | 1` and `base | 2`. Buyers hold little, so some sales are
/// rejected with `exceeds_credits`; every fifth batch tops a buyer up instead.
fn batch(run: u128, submitter: u128, n: u128) -> Vec<TransferRequest> {
    let base = (run << 96) | (submitter << 64) | (n << 8);
    let id = |leg: u128| TransferId::from_u128(base | leg);
    let who = submitter * 7 + n;
    if n.is_multiple_of(5) {
        vec![
            direct(id(1), AccountId::from_u128(FUNDING), buyer(who), 5_000),
            direct(id(2), AccountId::from_u128(FUNDING), buyer(who + 1), 5_000),
        ]
    } else {
        let amount = i64::try_from(who % 13 + 1).unwrap() * 100;
        vec![
            direct(id(1), buyer(who), seller(who), amount * 9 / 10),
            direct(
                id(2),
                buyer(who),
                AccountId::from_u128(COMMISSION),
                amount / 10,
            ),
        ]
    }
}

/// The child: submits batches from several tasks until it is killed, printing `ACK` or `REJ`
/// with the batch's ids once the store has answered.
#[test]
#[ignore = "run as a child process by the crash test"]
fn crash_child() {
    let Ok(url) = std::env::var("BAZAAR_CRASH_URL") else {
        return;
    };
    let run: u128 = std::env::var("BAZAAR_CRASH_RUN").unwrap().parse().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let mut config = LedgerConfig::new(url);
        config.journal = std::env::var_os("BAZAAR_CRASH_JOURNAL").is_some();
        let ledger = PostgresLedger::connect(config, Arc::new(SystemClock))
            .await
            .unwrap();
        let (lines, printed) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            let stdout = std::io::stdout();
            for line in printed {
                let mut out = stdout.lock();
                writeln!(out, "{line}").unwrap();
                out.flush().unwrap();
            }
        });
        let mut tasks = Vec::new();
        for submitter in 0..SUBMITTERS {
            let ledger = ledger.clone();
            let lines = lines.clone();
            tasks.push(tokio::spawn(async move {
                for n in 1.. {
                    let batch = batch(run, submitter, n);
                    let ids: Vec<String> = batch.iter().map(|r| r.id.to_string()).collect();
                    // An unknown outcome is retried with the same ids until answered.
                    loop {
                        match ledger.submit(batch.clone()).await {
                            Ok(Ok(_)) => {
                                lines.send(format!("ACK {}", ids.join(" "))).unwrap();
                                break;
                            }
                            Ok(Err(_)) => {
                                lines.send(format!("REJ {}", ids.join(" "))).unwrap();
                                break;
                            }
                            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

#[derive(QueryableByName)]
struct SumRow {
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    debits: i64,
    #[diesel(sql_type = BigInt)]
    credits: i64,
}

#[derive(QueryableByName)]
struct MismatchRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

fn open_accounts(url: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let ledger = PostgresLedger::connect(LedgerConfig::new(url), Arc::new(SystemClock))
            .await
            .unwrap();
        let account = |id: u128, code: &str, constraint| NewAccount {
            id: AccountId::from_u128(id),
            currency: Currency::EUR,
            code: AccountCode::new(code).unwrap(),
            owner: Owner::platform(),
            normal_side: Side::Credit,
            constraint,
        };
        let held = BalanceConstraint::DebitsMustNotExceedCredits { overdraft: 0 };
        let mut accounts = vec![
            account(FUNDING, "bank", BalanceConstraint::Unconstrained),
            account(COMMISSION, "revenue_commission", held),
        ];
        accounts.extend((0..BUYERS).map(|i| account(0xB000 + i, "buyer_funds", held)));
        accounts.extend((0..SELLERS).map(|i| account(0x5000 + i, "seller_pending", held)));
        for result in ledger.create_accounts(accounts).await.unwrap() {
            result.unwrap();
        }
    });
}

/// Runs the child until it has acknowledged `acks_min` batches (or 20 s pass), kills it with
/// SIGKILL, and returns the ids of acknowledged and rejected batches.
fn run_and_kill(url: &str, run: u128, acks_min: usize, journal: bool) -> (Vec<Uuid>, Vec<Uuid>) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    if journal {
        command.env("BAZAAR_CRASH_JOURNAL", "1");
    }
    let mut child = command
        .args([
            "--exact",
            "crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BAZAAR_CRASH_URL", url)
        .env("BAZAAR_CRASH_RUN", run.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut acked = Vec::new();
    let mut rejected = Vec::new();
    let mut acked_batches = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked_batches < acks_min && Instant::now() < deadline {
        let Ok(line) = received.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        let mut words = line.split_whitespace();
        let target = match words.next() {
            Some("ACK") => {
                acked_batches += 1;
                &mut acked
            }
            Some("REJ") => &mut rejected,
            _ => continue,
        };
        target.extend(words.map(|word| Uuid::parse_str(word).unwrap()));
    }
    // Mid-run: the child is submitting from every task right now.
    child.kill().unwrap();
    child.wait().unwrap();
    // Answers the child printed before it died still count.
    while let Ok(line) = received.recv_timeout(Duration::from_millis(200)) {
        let mut words = line.split_whitespace();
        let target = match words.next() {
            Some("ACK") => &mut acked,
            Some("REJ") => &mut rejected,
            _ => continue,
        };
        target.extend(words.map(|word| Uuid::parse_str(word).unwrap()));
    }
    assert!(
        acked_batches >= acks_min,
        "the child acknowledged only {acked_batches} batches"
    );
    (acked, rejected)
}

#[derive(QueryableByName)]
struct JournalHead {
    #[diesel(sql_type = BigInt)]
    journal_seq: i64,
}

/// Applies what the killed child left in the journal, as a restarted ledger's first read does.
fn apply_journal(url: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let ledger = PostgresLedger::connect(LedgerConfig::new(url), Arc::new(SystemClock))
            .await
            .unwrap();
        ledger.caught_up().await.unwrap();
    });
}

fn check(conn: &mut PgConnection, acked: &[Uuid], rejected: &[Uuid]) {
    let stored: Vec<IdRow> = sql_query("SELECT id FROM ledger_transfers")
        .load(conn)
        .unwrap();
    let stored: HashSet<Uuid> = stored.into_iter().map(|row| row.id).collect();
    for id in acked {
        assert!(stored.contains(id), "acknowledged transfer {id} is missing");
    }
    for id in rejected {
        assert!(!stored.contains(id), "rejected transfer {id} was stored");
    }
    // Ids are the primary key, so nothing is stored twice; every batch is whole.
    for id in &stored {
        let partner = Uuid::from_u128(id.as_u128() ^ 0b11);
        let is_setup = id.as_u128() >> 96 == 0;
        assert!(
            is_setup || stored.contains(&partner),
            "batch of {id} is half-applied"
        );
    }
    let sums: Vec<SumRow> = sql_query(
        "SELECT currency::text AS currency, SUM(debits_posted)::int8 AS debits, \
         SUM(credits_posted)::int8 AS credits FROM ledger_accounts GROUP BY currency",
    )
    .load(conn)
    .unwrap();
    for sum in &sums {
        assert_eq!(sum.debits, sum.credits, "{} does not balance", sum.currency);
    }
    // Every balance is exactly the sum of its transfers.
    let mismatched: Vec<MismatchRow> = sql_query(
        "SELECT a.id FROM ledger_accounts a \
         LEFT JOIN (SELECT debit_account_id AS id, SUM(amount)::int8 AS total FROM ledger_transfers GROUP BY 1) d ON d.id = a.id \
         LEFT JOIN (SELECT credit_account_id AS id, SUM(amount)::int8 AS total FROM ledger_transfers GROUP BY 1) c ON c.id = a.id \
         WHERE a.debits_posted <> COALESCE(d.total, 0) OR a.credits_posted <> COALESCE(c.total, 0)",
    )
    .load(conn)
    .unwrap();
    assert!(
        mismatched.is_empty(),
        "balances differ from their transfers: {:?}",
        mismatched.iter().map(|row| row.id).collect::<Vec<_>>()
    );
}

#[test]
fn sigkill_mid_run_loses_no_acknowledged_transfer() {
    sigkill_three_times(false);
}

/// The same with the journal engine: what it acknowledged is in its journal, and the tables
/// hold it once a restarted ledger has applied the journal (as every read does first).
#[test]
fn sigkill_mid_run_loses_no_acknowledged_journal_row() {
    sigkill_three_times(true);
}

fn sigkill_three_times(journal: bool) {
    let db = TestDatabase::new().unwrap();
    open_accounts(db.url());
    let mut conn = db.connect().unwrap();
    let mut all_acked = Vec::new();
    let mut outcomes = BTreeMap::new();
    for run in 1..=3 {
        let (acked, rejected) = run_and_kill(db.url(), run, 200, journal);
        outcomes.insert(run, (acked.len() / 2, rejected.len() / 2));
        all_acked.extend(acked);
        if journal {
            // The child wrote its sales to the journal, not to the tables.
            let head: Vec<JournalHead> = sql_query("SELECT journal_seq FROM ledger_clock")
                .load(&mut conn)
                .unwrap();
            assert!(head.iter().all(|row| row.journal_seq > 0), "no journal row");
            apply_journal(db.url());
        }
        check(&mut conn, &all_acked, &rejected);
    }
    println!("acknowledged and rejected batches per run: {outcomes:?}");
    let rejected_total: usize = outcomes.values().map(|(_, rejected)| rejected).sum();
    assert!(
        rejected_total > 0,
        "the load never hit a rejection: {outcomes:?}"
    );
}
