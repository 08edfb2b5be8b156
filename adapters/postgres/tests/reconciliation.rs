//! Bank statements on the real PostgreSQL and ledger: a camt.053 file imports once, each
//! entry once whichever file carries it, a batch entry with its parts; a statement that does
//! not balance imports nothing; the bank's debits match the ledger's payouts, a run writes
//! nothing and repeats itself, and a bank charge is booked once.
#![expect(clippy::unwrap_used, reason = "test drivers fail loudly")]
#![expect(
    clippy::arithmetic_side_effects,
    reason = "small constants in test data"
)]

use bazaar_domain::fx::calendar::Date;
use std::sync::Arc;

use bazaar_domain::chart::{ChartAccount, Expense};
use bazaar_domain::reconciliation::{
    BalanceType, BankEntry, BankStatement, CamtVersion, DifferenceReason, EntryPart, EntryStatus,
    ImportOutcome, Reconciliations, ReferenceRule, Rule, StatementBalance, Strategy, write_camt053,
};
use bazaar_ledger::{
    Clock, LedgerStore, Metadata, RequestKind, Timestamp, TransferId, TransferRequest,
};
use bazaar_money::{Currency, Money};
use bazaar_postgres::{
    LedgerConfig, PostgresLedger, PostgresReconciliation, RetryPolicy, SystemClock,
};
use bazaar_schema::schema::{recon_bank_entries, recon_imports};
use bazaar_testdb::TestDatabase;
use diesel::prelude::*;

const V02: &str = include_str!("../../../core/domain/src/reconciliation/testdata/camt053_v02.xml");
const V08: &str = include_str!("../../../core/domain/src/reconciliation/testdata/camt053_v08.xml");
const IBAN: &str = "DE89370400440532013000";

type Service = Reconciliations<PostgresReconciliation, PostgresLedger>;

async fn service(db: &TestDatabase) -> Service {
    let ledger = PostgresLedger::connect(LedgerConfig::new(db.url()), Arc::new(SystemClock))
        .await
        .unwrap();
    Reconciliations::new(
        PostgresReconciliation::new(db.url(), 2, RetryPolicy::default()),
        ledger,
    )
}

fn counts(db: &TestDatabase) -> (i64, i64) {
    let mut conn = PgConnection::establish(db.url()).unwrap();
    let imports = recon_imports::table.count().get_result(&mut conn).unwrap();
    let entries = recon_bank_entries::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    (imports, entries)
}

#[tokio::test]
async fn a_statement_imports_once_with_its_batch_entry_in_parts() {
    let db = TestDatabase::new().unwrap();
    let service = service(&db).await;
    let now = Timestamp::from_micros(1);

    let first = service
        .import_camt053("statement.xml", V02, now)
        .await
        .unwrap();
    assert_eq!(first, ImportOutcome::Imported { entries: 5 });
    let entries = service
        .bank_entries(
            IBAN,
            Currency::EUR,
            Date::new(2026, 11, 1).unwrap(),
            Date::new(2026, 12, 31).unwrap(),
        )
        .await
        .unwrap();
    assert!(!entries.is_empty() && entries.len() <= 5);
    let batch = entries
        .iter()
        .find(|e| e.amount == Money::from_minor(42_956, Currency::EUR))
        .unwrap();
    assert_eq!(batch.parts, 2);
    assert!(
        batch
            .end_to_end_ids
            .as_deref()
            .unwrap()
            .contains("BZR-PAY-7f3a91c2")
    );
    assert_eq!(batch.account_hint, "3000");
    assert_ne!(
        batch.account_key, IBAN,
        "the account number is not stored in clear"
    );

    // The same file again stores nothing; the same statement in other bytes stores no entry
    // twice.
    assert_eq!(
        service.import_camt053("again.xml", V02, now).await.unwrap(),
        ImportOutcome::AlreadyImported
    );
    let reformatted = V02.replace("<Stmt>", "<Stmt>\n");
    assert_eq!(
        service
            .import_camt053("resent.xml", &reformatted, now)
            .await
            .unwrap(),
        ImportOutcome::Imported { entries: 0 }
    );
    assert_eq!(counts(&db), (2, 5));

    // A statement that does not add up is refused and stores nothing.
    let wrong = V08.replacen("<Amt Ccy=\"EUR\">", "<Amt Ccy=\"EUR\">1", 1);
    let refused = service
        .import_camt053("wrong.xml", &wrong, now)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "camt_does_not_balance");
    assert_eq!(counts(&db), (2, 5));
    assert_eq!(
        service.import_camt053("v08.xml", V08, now).await.unwrap(),
        ImportOutcome::Imported { entries: 6 }
    );
}

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

/// A payout leaving the bank in the ledger: `payouts_in_transit` to `bank`.
async fn payout_paid(ledger: &PostgresLedger, payout: &str, minor: i64) {
    let mut metadata = Metadata::new();
    metadata.insert("kind".into(), "payout_bank".into());
    metadata.insert("payout_id".into(), payout.to_owned());
    ledger
        .submit(vec![TransferRequest {
            id: TransferId::from_uuid(uuid::Uuid::new_v4()),
            kind: RequestKind::Direct {
                debit_account_id: ChartAccount::PayoutsInTransit.id(Currency::EUR),
                credit_account_id: ChartAccount::Bank.id(Currency::EUR),
                amount: eur(minor),
            },
            metadata,
        }])
        .await
        .unwrap()
        .unwrap();
}

fn debit(
    reference: &str,
    minor: i64,
    e2e: Option<&str>,
    text: Option<&str>,
    day: Date,
) -> BankEntry {
    BankEntry {
        reference: Some(reference.to_owned()),
        amount: eur(-minor),
        reversal: false,
        status: EntryStatus::Booked,
        booking_date: Some(day),
        value_date: Some(day),
        servicer_reference: Some(format!("SVC-{reference}")),
        transaction_code: Some("PMNT/ICDT/ESCT".to_owned()),
        batches: Vec::new(),
        parts: vec![EntryPart {
            end_to_end_id: e2e.map(str::to_owned),
            servicer_reference: None,
            amount: Some(eur(-minor)),
            remittance: text.map(str::to_owned),
            creditor_reference: None,
        }],
    }
}

#[tokio::test]
async fn bank_debits_match_the_ledgers_payouts_and_a_bank_charge_is_booked_once() {
    let db = TestDatabase::new().unwrap();
    let service = service(&db).await;
    let ledger = PostgresLedger::connect(LedgerConfig::new(db.url()), Arc::new(SystemClock))
        .await
        .unwrap();
    for account in [ChartAccount::Bank, ChartAccount::PayoutsInTransit] {
        ledger
            .create_account(account.new_account(Currency::EUR).unwrap())
            .await
            .unwrap()
            .unwrap();
    }
    let (a, b, c) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    payout_paid(&ledger, &a.to_string(), 70_000).await;
    payout_paid(&ledger, &b.to_string(), 25_000).await;
    payout_paid(&ledger, &c.to_string(), 9_900).await;

    // The bank's statement: payout A as sent, payout B with a 0.25 charge, an account fee.
    let today = Date::of_instant(SystemClock.now()).unwrap();
    let balance = |kind, minor| StatementBalance {
        kind,
        amount: eur(minor),
        date: today,
    };
    let statement = BankStatement {
        version: CamtVersion::V08,
        id: "STMT-TODAY".to_owned(),
        sequence: Some(1),
        created_at: "2026-12-01T18:00:00".to_owned(),
        account: IBAN.to_owned(),
        currency: Currency::EUR,
        page: None,
        last_page: None,
        balances: vec![
            balance(BalanceType::OpeningBooked, 1_000_000),
            balance(
                BalanceType::ClosingBooked,
                1_000_000 - 70_000 - 25_025 - 1_300,
            ),
        ],
        entries: vec![
            debit("1", 70_000, Some(&format!("BAZAAR {a}")), None, today),
            debit("2", 25_025, Some(&b.to_string()), Some("Payout"), today),
            debit("3", 1_300, None, Some("ACCOUNT FEE NOVEMBER"), today),
        ],
    };
    let xml = write_camt053("MSG-1", "2026-12-01T18:00:00", &[statement]);
    let now = Timestamp::from_micros(1);
    service
        .import_camt053("today.xml", &xml, now)
        .await
        .unwrap();

    let rules = [
        Rule {
            name: "payout".to_owned(),
            strategy: Strategy::OneToOne,
            amount_drift_minor: 0,
            date_drift_days: 1,
            reference: ReferenceRule::Contains,
        },
        Rule {
            name: "payout with a bank charge".to_owned(),
            strategy: Strategy::OneToOne,
            amount_drift_minor: 100,
            date_drift_days: 1,
            reference: ReferenceRule::Contains,
        },
    ];
    let before = counts(&db);
    let result = service
        .reconcile_bank(IBAN, Currency::EUR, today, today, &rules)
        .await
        .unwrap();
    assert_eq!(counts(&db), before, "a run writes nothing");
    assert_eq!(result.matched.len(), 1);
    assert_eq!(result.amount_differences.len(), 1);
    assert_eq!(result.amount_differences[0].difference, eur(-25));
    assert_eq!(result.unmatched_external.len(), 1);
    assert_eq!(result.unmatched_internal.len(), 1);
    assert_eq!(
        service
            .reconcile_bank(IBAN, Currency::EUR, today, today, &rules)
            .await
            .unwrap(),
        result,
        "the same inputs give the same result"
    );

    // The charge is booked once, however often it is asked for.
    let net = |ledger: PostgresLedger, account: ChartAccount| async move {
        let (_, balance) = ledger
            .account(account.id(Currency::EUR))
            .await
            .unwrap()
            .unwrap();
        balance.debits_posted - balance.credits_posted
    };
    for _ in 0..2 {
        assert_eq!(
            service
                .book_differences(&result, DifferenceReason::BankCharge)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            net(ledger.clone(), ChartAccount::Bank).await,
            -(70_000 + 25_000 + 9_900 + 25)
        );
        assert_eq!(
            net(ledger.clone(), ChartAccount::Expense(Expense::BankCharges)).await,
            25
        );
    }
}

#[tokio::test]
async fn an_import_cut_short_is_not_read_and_importing_again_resumes_it() {
    use bazaar_domain::reconciliation::{ImportKind, ImportStart, ReconciliationStore};
    let db = TestDatabase::new().unwrap();
    let service = service(&db).await;
    let store = PostgresReconciliation::new(db.url(), 2, RetryPolicy::default());
    let now = Timestamp::from_micros(1);
    // A file imported whole, telling its progress.
    let mut progress = Vec::new();
    let outcome = service
        .import_file(
            ImportKind::Camt053,
            "",
            "first.xml",
            V02,
            now,
            &mut |done, total| {
                progress.push((done, total));
            },
        )
        .await
        .unwrap();
    assert_eq!(outcome, ImportOutcome::Imported { entries: 5 });
    assert_eq!(progress.first(), Some(&(0, 5)));
    assert_eq!(progress.last(), Some(&(5, 5)));

    // A second file, begun and cut short: its entries are not read until it completes.
    let other = bazaar_domain::reconciliation::ImportedFile {
        id: bazaar_domain::reconciliation::ImportId::from_uuid(uuid::Uuid::new_v4()),
        kind: ImportKind::Camt053,
        sha256: "0".repeat(64),
        name: "cut short".to_owned(),
    };
    let window = (
        Date::new(2026, 11, 1).unwrap(),
        Date::new(2026, 12, 31).unwrap(),
    );
    let read = || service.bank_entries(IBAN, Currency::EUR, window.0, window.1);
    let before = read().await.unwrap();
    assert_eq!(
        store.begin_import(other.clone(), now).await.unwrap(),
        ImportStart::New
    );
    let mut fresh = before[0].clone();
    fresh.id = bazaar_domain::reconciliation::BankEntryId::from_uuid(uuid::Uuid::new_v4());
    assert_eq!(
        store.add_bank_entries(other.id, vec![fresh]).await.unwrap(),
        1
    );
    assert_eq!(read().await.unwrap(), before, "cut short: not read");
    assert_eq!(
        store.begin_import(other.clone(), now).await.unwrap(),
        ImportStart::Resume
    );
    assert_eq!(store.finish_import(other.id).await.unwrap(), 1);
    assert_eq!(
        read().await.unwrap().len(),
        before.len() + 1,
        "complete: read"
    );
    assert_eq!(
        store.begin_import(other, now).await.unwrap(),
        ImportStart::AlreadyImported
    );
}
