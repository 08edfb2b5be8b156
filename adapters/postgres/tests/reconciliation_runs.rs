//! Three-way runs on the real PostgreSQL and ledger: a provider's settlement report imports
//! once; its batch's payout matches the bank's credit and its rows the ledger's settlements;
//! a dry run stores nothing, a stored run keeps its items and repeats itself; the fee row and
//! the bank charge are booked once, after which nothing is left unmatched.
#![expect(clippy::unwrap_used, reason = "test drivers fail loudly")]
#![expect(
    clippy::arithmetic_side_effects,
    reason = "small constants in test data"
)]

use std::sync::Arc;

use bazaar_domain::chart::{ChartAccount, Expense, ProviderName};
use bazaar_domain::fx::calendar::Date;
use bazaar_domain::payments::{
    Fees, JournalType, PaymentId, SettlementRow, write_settlement_report,
};
use bazaar_domain::postings::{settlement_posting, submit};
use bazaar_domain::reconciliation::{
    BalanceType, BankEntry, BankStatement, Bucket, CamtVersion, EntryPart, EntryStatus,
    ImportOutcome, Reconciliations, RunMode, StatementBalance, ThreeWayRules, write_camt053,
};
use bazaar_ledger::{Clock, LedgerStore, Timestamp};
use bazaar_money::{Currency, Money};
use bazaar_postgres::{
    LedgerConfig, PostgresLedger, PostgresReconciliation, RetryPolicy, SystemClock,
};
use bazaar_schema::schema::{recon_provider_rows, recon_run_items, recon_runs};
use bazaar_testdb::TestDatabase;
use diesel::prelude::*;

const IBAN: &str = "DE89370400440532013000";

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

fn row(journal: JournalType, payment: &str, gross: i64, fee: i64, day: Date) -> SettlementRow {
    let mut fees = Fees::zero(Currency::EUR);
    fees.commission = eur(fee);
    SettlementRow {
        company_account: "Bazaar".to_owned(),
        merchant_account: "BazaarEU".to_owned(),
        psp_reference: if payment.is_empty() {
            String::new()
        } else {
            format!("PSP{}", &payment[..8])
        },
        merchant_reference: payment.to_owned(),
        payment_method: "visa".to_owned(),
        created: format!("{day} 10:00:00"),
        time_zone: "UTC".to_owned(),
        journal,
        modification_reference: String::new(),
        gross: eur(gross),
        exchange_rate: "1".to_owned(),
        net: eur(gross - fee),
        fees,
        variant: "visa".to_owned(),
        modification_merchant_reference: String::new(),
        batch: 7,
    }
}

fn entry(id: &str, minor: i64, e2e: &str, code: &str, day: Date) -> BankEntry {
    BankEntry {
        reference: Some(id.to_owned()),
        amount: eur(minor),
        reversal: false,
        status: EntryStatus::Booked,
        booking_date: Some(day),
        value_date: Some(day),
        servicer_reference: Some(format!("SVC-{id}")),
        transaction_code: Some(code.to_owned()),
        batches: Vec::new(),
        parts: vec![EntryPart {
            end_to_end_id: Some(e2e.to_owned()),
            servicer_reference: None,
            amount: Some(eur(minor)),
            remittance: None,
            creditor_reference: None,
        }],
    }
}

fn count(db: &TestDatabase) -> (i64, i64, i64) {
    let mut conn = PgConnection::establish(db.url()).unwrap();
    (
        recon_provider_rows::table
            .count()
            .get_result(&mut conn)
            .unwrap(),
        recon_runs::table.count().get_result(&mut conn).unwrap(),
        recon_run_items::table
            .count()
            .get_result(&mut conn)
            .unwrap(),
    )
}

#[tokio::test]
async fn a_batch_reconciles_three_ways_and_what_the_ledger_lacks_is_booked_once() {
    let db = TestDatabase::new().unwrap();
    let ledger = PostgresLedger::connect(LedgerConfig::new(db.url()), Arc::new(SystemClock))
        .await
        .unwrap();
    let provider = ProviderName::new("sandbox").unwrap();
    for account in [
        ChartAccount::Bank,
        ChartAccount::PspClearing(provider.clone()),
        ChartAccount::Expense(Expense::PspFees),
        ChartAccount::Expense(Expense::BankCharges),
    ] {
        ledger
            .create_account(account.new_account(Currency::EUR).unwrap())
            .await
            .unwrap()
            .unwrap();
    }
    let service = Reconciliations::new(
        PostgresReconciliation::new(db.url(), 2, RetryPolicy::default()),
        ledger.clone(),
    );
    let today = Date::of_instant(SystemClock.now()).unwrap();

    // Two captures settled in the ledger (gross less the provider's fee reaches the bank).
    let (a, b) = (
        PaymentId::from_uuid(uuid::Uuid::new_v4()),
        PaymentId::from_uuid(uuid::Uuid::new_v4()),
    );
    for (payment, gross, fee) in [(a, 33_000, 44), (b, 10_012, 12)] {
        let posting = settlement_posting(payment, &provider, eur(gross), eur(fee)).unwrap();
        submit(&ledger, posting).await.unwrap();
    }

    // The provider's report: both rows, a fee row, the batch's payout.
    let mut rows = vec![
        row(JournalType::Settled, &a.to_string(), 33_000, 44, today),
        row(JournalType::Settled, &b.to_string(), 10_012, 12, today),
        row(JournalType::Fee, "", 0, 120, today),
    ];
    let payout = 32_956 + 10_000 - 120;
    rows.push(row(JournalType::MerchantPayout, "", payout, 0, today));
    // The report writes what it paid out as a debit of the provider's balance.
    rows.last_mut().unwrap().gross = eur(-payout);
    rows.last_mut().unwrap().net = eur(-payout);
    let report = write_settlement_report(&rows);
    let now = Timestamp::from_micros(SystemClock.now().as_micros());
    assert_eq!(
        service
            .import_settlement_report("sandbox", "batch-7.csv", &report, now)
            .await
            .unwrap(),
        ImportOutcome::Imported { entries: 4 }
    );
    assert_eq!(
        service
            .import_settlement_report("sandbox", "batch-7 again.csv", &report, now)
            .await
            .unwrap(),
        ImportOutcome::AlreadyImported
    );

    // The bank: the batch's credit and a charge for it.
    let opening = 500_000;
    let statement = BankStatement {
        version: CamtVersion::V08,
        id: format!("STMT-{today}"),
        sequence: Some(1),
        created_at: format!("{today}T18:00:00"),
        account: IBAN.to_owned(),
        currency: Currency::EUR,
        page: None,
        last_page: None,
        balances: [
            (BalanceType::OpeningBooked, opening),
            (BalanceType::ClosingBooked, opening + payout - 35),
        ]
        .into_iter()
        .map(|(kind, minor)| StatementBalance {
            kind,
            amount: eur(minor),
            date: today,
        })
        .collect(),
        entries: vec![
            entry("1", payout, "sandbox-batch-7", "PMNT/RCDT/ESCT", today),
            entry("2", -35, "charges", "ACMT/MDOP/CHRG", today),
        ],
    };
    let xml = write_camt053("MSG-1", &format!("{today}T18:00:00"), &[statement]);
    service
        .import_camt053("today.xml", &xml, now)
        .await
        .unwrap();

    let rules = ThreeWayRules::default();
    let days = (today, today);
    let before = count(&db);
    let dry = service
        .run(IBAN, Currency::EUR, days, &rules, RunMode::DryRun, now)
        .await
        .unwrap();
    assert_eq!(count(&db), before, "a dry run writes nothing");
    assert_eq!(dry.summary.counts, [6, 0, 2, 0]);
    assert_eq!(dry.three_way.to_book.len(), 2);

    let stored = service
        .run(IBAN, Currency::EUR, days, &rules, RunMode::Store, now)
        .await
        .unwrap();
    assert_eq!(
        stored.summary.sha256, dry.summary.sha256,
        "same inputs, same result"
    );
    let runs = service.runs(10).await.unwrap();
    assert_eq!(runs, std::slice::from_ref(&stored.summary));
    assert_eq!(
        service.run_items(stored.summary.id, None).await.unwrap(),
        stored.items
    );
    let unmatched = service
        .run_items(stored.summary.id, Some(Bucket::UnmatchedExternal))
        .await
        .unwrap();
    let amounts: Vec<i64> = unmatched.iter().map(|i| i.amount.minor()).collect();
    assert_eq!(amounts, [-35, -120]);

    // Booked once however often asked; then the run finds nothing left.
    let before_booking = SystemClock.now();
    for _ in 0..2 {
        service.book(&stored.three_way).await.unwrap();
    }
    let expense = |account: ChartAccount| {
        let ledger = ledger.clone();
        async move {
            let (_, balance) = ledger
                .account(account.id(Currency::EUR))
                .await
                .unwrap()
                .unwrap();
            balance.debits_posted - balance.credits_posted
        }
    };
    assert_eq!(
        expense(ChartAccount::Expense(Expense::BankCharges)).await,
        35
    );
    assert_eq!(
        expense(ChartAccount::Expense(Expense::PspFees)).await,
        44 + 12 + 120
    );
    let after = service
        .run(IBAN, Currency::EUR, days, &rules, RunMode::DryRun, now)
        .await
        .unwrap();
    assert_eq!(after.summary.counts, [10, 0, 0, 0]);
    assert!(after.three_way.to_book.is_empty());

    // The trial balance now and as it stood before the booking, both balanced.
    let charges = |trials: &[bazaar_domain::reconciliation::TrialBalance]| {
        assert!(trials.iter().all(|t| t.balanced()));
        trials[0].net("expense_bank_charges").unwrap().minor()
    };
    assert_eq!(charges(&service.trial_balance(None).await.unwrap()), 35);
    assert_eq!(
        charges(&service.trial_balance(Some(before_booking)).await.unwrap()),
        0
    );
    let overview = service.overview(None, 5).await.unwrap();
    assert_eq!(overview.positions[0].bank.minor(), payout - 35);
    assert_eq!(overview.runs.len(), 1);
}
