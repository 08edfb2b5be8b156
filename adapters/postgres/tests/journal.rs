//! The journal engine against the real PostgreSQL: a second engine that posts takes the
//! ledger over through the tables and fences the first, which then reloads and sees what the
//! second wrote; a journal row whose replay disagrees with what its writer answered stops
//! the tables from applying it; a tiny memory bound keeps every answer right, repeats of
//! sales the engine no longer holds in memory included.
#![expect(clippy::unwrap_used, reason = "test drivers fail loudly")]

use std::sync::Arc;

use bazaar_ledger::{
    AccountCode, AccountId, BalanceConstraint, Currency, LedgerStore, Metadata, Money, NewAccount,
    Owner, RequestKind, Side, StoreError, TransferId, TransferRequest,
};
use bazaar_postgres::{LedgerConfig, PostgresLedger, SystemClock};
use bazaar_testdb::TestDatabase;
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::BigInt;

const BANK: u128 = 0xBA;
const SHOP: u128 = 0x5A;

async fn ledger(db: &TestDatabase, memory_max: usize) -> PostgresLedger {
    let mut config = LedgerConfig::new(db.url());
    config.journal = true;
    config.journal_memory_max = memory_max;
    PostgresLedger::connect(config, Arc::new(SystemClock))
        .await
        .unwrap()
}

async fn open_accounts(ledger: &PostgresLedger) {
    for id in [BANK, SHOP] {
        let account = NewAccount {
            id: AccountId::from_u128(id),
            currency: Currency::EUR,
            code: AccountCode::new("journal").unwrap(),
            owner: Owner::platform(),
            normal_side: Side::Credit,
            constraint: BalanceConstraint::Unconstrained,
        };
        ledger.create_account(account).await.unwrap().unwrap();
    }
}

fn sale(id: u128, minor: i64) -> Vec<TransferRequest> {
    vec![TransferRequest {
        id: TransferId::from_u128(id),
        kind: RequestKind::Direct {
            debit_account_id: AccountId::from_u128(BANK),
            credit_account_id: AccountId::from_u128(SHOP),
            amount: Money::from_minor(minor, Currency::EUR),
        },
        metadata: Metadata::new(),
    }]
}

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn number(conn: &mut PgConnection, query: &str) -> i64 {
    sql_query(query).get_result::<Number>(conn).unwrap().n
}

async fn shop_credits(ledger: &PostgresLedger) -> i64 {
    let (_, balance) = ledger
        .account(AccountId::from_u128(SHOP))
        .await
        .unwrap()
        .unwrap();
    balance.credits_posted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_engine_fences_the_first() {
    let db = TestDatabase::new().unwrap();
    let mut conn = db.connect().unwrap();
    let first = ledger(&db, 4_000_000).await;
    let second = ledger(&db, 4_000_000).await;
    open_accounts(&first).await;

    // The first engine owns the ledger: its sales go to the journal.
    let receipts = first.submit(sale(1, 100)).await.unwrap().unwrap();
    first.submit(sale(2, 200)).await.unwrap().unwrap();
    let head = number(&mut conn, "SELECT journal_seq AS n FROM ledger_clock");
    assert!(head >= 1, "the first engine wrote no journal row");

    // The second applies that journal, writes through the tables and owns the ledger.
    second.submit(sale(3, 300)).await.unwrap().unwrap();
    assert_eq!(
        number(&mut conn, "SELECT count(*) AS n FROM ledger_journal"),
        0
    );
    assert_eq!(
        number(&mut conn, "SELECT count(*) AS n FROM ledger_transfers"),
        3
    );

    // The first is fenced: its next sale goes through the tables, from what they hold now.
    first.submit(sale(4, 400)).await.unwrap().unwrap();
    assert_eq!(shop_credits(&first).await, 1_000);
    assert_eq!(shop_credits(&second).await, 1_000);

    // A repeat is answered from the stored transfer whichever engine gets it, and a reused id
    // with another amount is refused.
    let again = second.submit(sale(1, 100)).await.unwrap().unwrap();
    assert_eq!(again, receipts);
    assert!(first.submit(sale(3, 301)).await.unwrap().is_err());

    // And the first owns the ledger again: another sale goes to the journal.
    let before = number(&mut conn, "SELECT journal_seq AS n FROM ledger_clock");
    first.submit(sale(5, 500)).await.unwrap().unwrap();
    first.submit(sale(6, 600)).await.unwrap().unwrap();
    let after = number(&mut conn, "SELECT journal_seq AS n FROM ledger_clock");
    assert!(
        after > before,
        "the first engine did not return to its journal"
    );
    assert_eq!(shop_credits(&second).await, 2_100);
    assert_eq!(
        number(&mut conn, "SELECT count(*) AS n FROM ledger_transfers"),
        6
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_that_disagrees_is_not_applied() {
    let db = TestDatabase::new().unwrap();
    let mut conn = db.connect().unwrap();
    let ledger = ledger(&db, 4_000_000).await;
    open_accounts(&ledger).await;
    ledger.submit(sale(1, 100)).await.unwrap().unwrap();
    ledger.caught_up().await.unwrap();

    // A row claiming its one batch was refused, though the rules accept it.
    let request = format!(
        "[[{{\"kind\":\"direct\",\"id\":\"{}\",\"debit_account_id\":\"{}\",\
         \"credit_account_id\":\"{}\",\"amount\":700,\"currency\":\"EUR\",\"metadata\":{{}}}}]]",
        TransferId::from_u128(7),
        AccountId::from_u128(BANK),
        AccountId::from_u128(SHOP)
    );
    let next = number(&mut conn, "SELECT journal_seq + 1 AS n FROM ledger_clock");
    let last = number(&mut conn, "SELECT last_ts AS n FROM ledger_clock");
    sql_query(format!(
        "UPDATE ledger_clock SET journal_seq = {next}, last_ts = {}",
        last + 1
    ))
    .execute(&mut conn)
    .unwrap();
    sql_query(format!(
        "INSERT INTO ledger_journal (seq, prev_ts, now_ts, accepted, body) \
         VALUES ({next}, {last}, {}, 0, convert_to($1, 'UTF8'))",
        last + 1
    ))
    .bind::<diesel::sql_types::Text, _>(&request)
    .execute(&mut conn)
    .unwrap();

    let read = ledger.account(AccountId::from_u128(SHOP)).await;
    assert!(matches!(read, Err(StoreError::Internal(_))), "{read:?}");
    assert_eq!(
        number(&mut conn, "SELECT count(*) AS n FROM ledger_transfers"),
        1
    );
    assert_eq!(
        number(&mut conn, "SELECT count(*) AS n FROM ledger_journal"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_memory_bound_keeps_every_answer() {
    let db = TestDatabase::new().unwrap();
    let ledger = ledger(&db, 3).await;
    open_accounts(&ledger).await;
    let mut tasks = Vec::new();
    for submitter in 0..4_u128 {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..25_u128 {
                let id = (submitter << 32) | (n + 1);
                ledger.submit(sale(id, 10)).await.unwrap().unwrap();
                // Every fifth sale is repeated: the same receipt, no second transfer.
                if n % 5 == 0 {
                    ledger.submit(sale(id, 10)).await.unwrap().unwrap();
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(shop_credits(&ledger).await, 1_000);
    let mut conn = db.connect().unwrap();
    assert_eq!(
        number(&mut conn, "SELECT count(*) AS n FROM ledger_transfers"),
        100
    );

    // Long forgotten by the engine's memory, each first sale is in the tables only: a repeat
    // is taken for new until its row's write finds it there, and is then answered from it.
    let receipts = ledger.submit(sale(1, 10)).await.unwrap().unwrap();
    let stored = ledger
        .transfer(TransferId::from_u128(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(receipts[0].timestamp, stored.timestamp);
    assert!(ledger.submit(sale(1, 11)).await.unwrap().is_err());
    // And with a new sale in the same group or the next.
    let (repeat, new) = tokio::join!(
        ledger.submit(sale(1 << 32 | 1, 10)),
        ledger.submit(sale(999, 10))
    );
    repeat.unwrap().unwrap();
    new.unwrap().unwrap();
    assert_eq!(shop_credits(&ledger).await, 1_010);
    assert_eq!(
        number(&mut conn, "SELECT count(*) AS n FROM ledger_transfers"),
        101
    );
}
