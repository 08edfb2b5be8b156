//! Account history, the engine's statistics and the SQL statement counter, against the real
//! PostgreSQL: history lists an account's transfers newest first with the balances
//! `balance_at` gives, pages without gaps or repeats, and the counters count what was done.
#![expect(clippy::unwrap_used, reason = "test drivers fail loudly")]

use std::sync::Arc;
use std::time::Duration;

use bazaar_ledger::{
    AccountCode, AccountId, Balance, BalanceConstraint, Currency, LedgerStore, Metadata, Money,
    NewAccount, Owner, RequestKind, Side, Timestamp, TransferId, TransferKind, TransferRequest,
};
use bazaar_postgres::{
    EngineStats, HistoryCursor, HistoryEntry, LedgerConfig, PostgresLedger, SystemClock,
};
use bazaar_testdb::TestDatabase;
use uuid::Uuid;

fn open(id: u128) -> NewAccount {
    NewAccount {
        id: AccountId::from_u128(id),
        currency: Currency::EUR,
        code: AccountCode::new("test").unwrap(),
        owner: Owner::platform(),
        normal_side: Side::Credit,
        constraint: BalanceConstraint::Unconstrained,
    }
}

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

fn request(id: u128, kind: RequestKind) -> TransferRequest {
    let mut metadata = Metadata::new();
    metadata.insert("order".to_owned(), format!("ord_{id}"));
    TransferRequest {
        id: TransferId::from_u128(id),
        kind,
        metadata,
    }
}

fn direct(id: u128, debit: AccountId, credit: AccountId, amount: i64) -> TransferRequest {
    request(
        id,
        RequestKind::Direct {
            debit_account_id: debit,
            credit_account_id: credit,
            amount: eur(amount),
        },
    )
}

async fn connect(db: &TestDatabase, config: impl FnOnce(&mut LedgerConfig)) -> PostgresLedger {
    let mut settings = LedgerConfig::new(db.url());
    config(&mut settings);
    PostgresLedger::connect(settings, Arc::new(SystemClock))
        .await
        .unwrap()
}

/// The balance of `account` once a direct transfer that touched it has been applied to
/// `before`.
fn after_direct(before: Balance, account: AccountId, entry: &HistoryEntry) -> Option<Balance> {
    let amount = entry.transfer.amount.minor();
    if entry.transfer.debit_account_id == account {
        Some(Balance {
            debits_posted: before.debits_posted.checked_add(amount)?,
            ..before
        })
    } else {
        Some(Balance {
            credits_posted: before.credits_posted.checked_add(amount)?,
            ..before
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_transfers_newest_first_with_their_balances_and_pages() {
    let db = TestDatabase::new().unwrap();
    let ledger = connect(&db, |_| {}).await;
    assert_eq!(ledger.engine_stats(), EngineStats::default());
    for result in ledger
        .create_accounts((1..=4).map(open).collect())
        .await
        .unwrap()
    {
        result.unwrap();
    }
    let (a, b, c, quiet) = (
        AccountId::from_u128(1),
        AccountId::from_u128(2),
        AccountId::from_u128(3),
        AccountId::from_u128(4),
    );

    // Batches touching `a` on both sides, some more than once in one batch, one not at all,
    // and a pending transfer posted in part, so that history holds every shape of entry.
    let batches = vec![
        vec![direct(100, a, b, 1_00)],
        vec![direct(101, b, a, 50), direct(102, a, c, 30)],
        vec![direct(103, c, b, 10)],
        vec![
            direct(104, a, b, 1),
            direct(105, b, a, 2),
            direct(106, c, a, 3),
        ],
        vec![request(
            107,
            RequestKind::Pending {
                debit_account_id: a,
                credit_account_id: b,
                amount: eur(5_00),
                timeout_secs: 3_600,
            },
        )],
        vec![request(
            108,
            RequestKind::PostPending {
                pending_id: TransferId::from_u128(107),
                amount: eur(2_00),
            },
        )],
        vec![direct(109, c, a, 7), direct(110, b, c, 8)],
        vec![direct(111, a, c, 9), direct(112, a, b, 11)],
    ];
    let legs = u64::try_from(batches.iter().map(Vec::len).sum::<usize>()).unwrap();
    let submissions = u64::try_from(batches.len()).unwrap();
    let mut touching_a = Vec::new();
    for batch in batches {
        for leg in &batch {
            let touches = match &leg.kind {
                RequestKind::Direct {
                    debit_account_id,
                    credit_account_id,
                    ..
                }
                | RequestKind::Pending {
                    debit_account_id,
                    credit_account_id,
                    ..
                } => *debit_account_id == a || *credit_account_id == a,
                // The post of transfer 107 moves money between `a` and `b`.
                _ => true,
            };
            if touches {
                touching_a.push(leg.id);
            }
        }
        ledger.submit(batch).await.unwrap().unwrap();
    }

    // Every transfer touching `a`, newest first.
    let full = ledger.history(a, None, 500).await.unwrap();
    let listed: Vec<TransferId> = full.iter().map(|entry| entry.transfer.id).collect();
    let mut expected = touching_a.clone();
    expected.reverse();
    assert_eq!(listed, expected);
    for pair in full.windows(2) {
        assert!(
            (pair[0].transfer.timestamp, pair[0].leg) > (pair[1].transfer.timestamp, pair[1].leg)
        );
    }
    for entry in &full {
        assert!(entry.transfer.debit_account_id == a || entry.transfer.credit_account_id == a);
        let stored = ledger.transfer(entry.transfer.id).await.unwrap().unwrap();
        assert_eq!(entry.transfer, stored);
    }
    assert_eq!(full[0].transfer.kind, TransferKind::Direct);
    assert!(full.iter().any(|entry| matches!(
        entry.transfer.kind,
        TransferKind::PostPending { pending_id } if pending_id == TransferId::from_u128(107)
    )));
    assert_eq!(full[0].transfer.metadata["order"], "ord_112");

    // The newest entry's balance of each timestamp is the balance at that instant; older legs
    // of the same batch follow from the newer ones by the transfer's own amount.
    let newer = std::iter::once(None).chain(full.iter().map(Some));
    for (newer, entry) in newer.zip(&full) {
        let at = entry.transfer.timestamp;
        if newer.is_none_or(|newer| newer.transfer.timestamp != at) {
            assert_eq!(
                ledger.balance_at(a, at).await.unwrap(),
                Some(entry.balance_after),
                "balance after {:?}",
                entry.transfer.id
            );
        }
    }
    for pair in full.windows(2) {
        let (newer, older) = (&pair[0], &pair[1]);
        if matches!(newer.transfer.kind, TransferKind::Direct) {
            assert_eq!(
                after_direct(older.balance_after, a, newer),
                Some(newer.balance_after),
                "balance after {:?}",
                newer.transfer.id
            );
        }
    }
    let oldest = full.last().unwrap();
    let before_oldest = Timestamp::from_micros(
        oldest
            .transfer
            .timestamp
            .as_micros()
            .checked_sub(1)
            .unwrap(),
    );
    assert_eq!(
        ledger.balance_at(a, before_oldest).await.unwrap(),
        Some(Balance::default())
    );
    assert_eq!(
        after_direct(Balance::default(), a, oldest),
        Some(oldest.balance_after)
    );
    let (_, current) = ledger.account(a).await.unwrap().unwrap();
    assert_eq!(full[0].balance_after, current);
    assert_eq!(current.debits_pending, 0);
    // Debits: 1_00, 30, 1, the 2_00 posted of the reservation, 9 and 11; credits: 50, 2, 3, 7.
    assert_eq!(current.debits_posted, 3_51);
    assert_eq!(current.credits_posted, 62);

    // Pages of several sizes, each continuing from the last entry of the one before: the legs of one
    // batch fall on both sides of a page boundary, and nothing is lost or repeated.
    for size in [1, 2, 3, 5] {
        let mut paged = Vec::new();
        let mut cursor: Option<HistoryCursor> = None;
        loop {
            let page = ledger.history(a, cursor, size).await.unwrap();
            assert!(page.len() <= usize::try_from(size).unwrap());
            let Some(last) = page.last() else { break };
            cursor = Some(last.cursor());
            paged.extend(page);
        }
        assert_eq!(paged, full, "pages of {size}");
    }
    let end = full.last().unwrap().cursor();
    assert!(ledger.history(a, Some(end), 10).await.unwrap().is_empty());
    // A cursor in the middle of a batch continues with that batch's earlier legs.
    let middle = full
        .iter()
        .position(|entry| entry.transfer.id == TransferId::from_u128(105))
        .unwrap();
    let rest = ledger
        .history(a, Some(full[middle].cursor()), 500)
        .await
        .unwrap();
    assert_eq!(rest, full[middle..][1..]);

    // Limits: zero lists nothing, and more than the maximum is cut, not refused.
    assert!(ledger.history(a, None, 0).await.unwrap().is_empty());
    assert_eq!(ledger.history(a, None, u32::MAX).await.unwrap(), full);

    // `b` sees the same transfers from its side, with its own balances.
    let of_b = ledger.history(b, None, 500).await.unwrap();
    let (_, balance_b) = ledger.account(b).await.unwrap().unwrap();
    assert_eq!(of_b[0].balance_after, balance_b);
    assert_eq!(of_b[0].transfer.id, TransferId::from_u128(112));

    // Accounts without transfers, and unknown ones, have no history.
    assert!(ledger.history(quiet, None, 500).await.unwrap().is_empty());
    assert!(
        ledger
            .history(AccountId::from_u128(99), None, 500)
            .await
            .unwrap()
            .is_empty()
    );

    // One group for the accounts and one per batch, submitted one after another.
    assert_eq!(
        ledger.engine_stats(),
        EngineStats {
            groups: submissions + 1,
            submissions,
            legs,
            group_size_max: 1,
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_stats_count_groups_submissions_and_legs() {
    let db = TestDatabase::new().unwrap();
    let setup = connect(&db, |_| {}).await;
    let accounts = setup.create_accounts(vec![open(1), open(2)]).await.unwrap();
    assert!(accounts.iter().all(Result::is_ok));
    assert_eq!(
        setup.engine_stats(),
        EngineStats {
            groups: 1,
            submissions: 0,
            legs: 0,
            group_size_max: 1,
        }
    );
    let (a, b) = (AccountId::from_u128(1), AccountId::from_u128(2));

    // A second engine on the same database holds each group open until it has five pieces of
    // work, and the test sends exactly five at once, so they commit together. Its statistics
    // are its own.
    let ledger = connect(&db, |config| {
        config.batch_max = 5;
        config.batch_wait = Duration::from_secs(30);
    })
    .await;
    assert_eq!(ledger.engine_stats(), EngineStats::default());
    let fresh = || Uuid::new_v4().as_u128();
    let mut batches: Vec<Vec<TransferRequest>> = (1..=4)
        .map(|legs| (0..legs).map(|_| direct(fresh(), a, b, 1)).collect())
        .collect();
    // A fifth batch of five legs that the ledger refuses (it repeats an id) is counted all
    // the same: fifteen legs in all.
    let repeated = fresh();
    batches.push(vec![
        direct(repeated, a, b, 1),
        direct(repeated, a, b, 1),
        direct(fresh(), a, b, 1),
        direct(fresh(), a, b, 1),
        direct(fresh(), a, b, 1),
    ]);
    let tasks: Vec<_> = batches
        .into_iter()
        .map(|batch| {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.submit(batch).await })
        })
        .collect();
    let mut refused = Vec::new();
    for task in tasks {
        refused.push(task.await.unwrap().unwrap().is_err());
    }
    assert_eq!(refused, [false, false, false, false, true]);
    assert_eq!(
        ledger.engine_stats(),
        EngineStats {
            groups: 1,
            submissions: 5,
            legs: 15,
            group_size_max: 5,
        }
    );
    // Clones share the engine, and so its statistics.
    assert_eq!(ledger.clone().engine_stats().submissions, 5);
    assert_eq!(setup.engine_stats().submissions, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_are_counted_once_counting_has_started() {
    bazaar_postgres::count_queries();
    // Idempotent: a second call neither fails nor installs a second counter.
    bazaar_postgres::count_queries();
    let db = TestDatabase::new().unwrap();
    let ledger = connect(&db, |_| {}).await;
    let before = bazaar_postgres::queries_executed();
    ledger.ping().await.unwrap();
    let after_ping = bazaar_postgres::queries_executed();
    assert!(after_ping > before, "{after_ping} after {before}");
    assert!(
        ledger
            .history(AccountId::from_u128(1), None, 50)
            .await
            .unwrap()
            .is_empty()
    );
    let after_read = bazaar_postgres::queries_executed();
    assert!(after_read > after_ping, "{after_read} after {after_ping}");
    // The committer's connection is counted too: it opened after counting started.
    ledger.create_accounts(vec![open(1)]).await.unwrap();
    let after_write = bazaar_postgres::queries_executed();
    assert!(after_write > after_read, "{after_write} after {after_read}");
}
