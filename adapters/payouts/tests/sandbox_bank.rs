//! The sandbox bank on the real database: provider payouts credited once, payouts the
//! sandbox rails pay debited once and credited back when returned, a bank charge as its own
//! entry, and daily camt.053 statements that read back and carry their balance over.
#![expect(
    clippy::unwrap_used,
    reason = "fixtures fail loudly when a fixture is broken"
)]
#![expect(
    clippy::arithmetic_side_effects,
    reason = "test instants are small multiples of an hour"
)]

use bazaar_domain::fx::calendar::Date;
use bazaar_domain::payouts::{
    BankDetails, PayoutId, PayoutRails, Rail, RailAcceptance, RailSubmission,
};
use bazaar_domain::reconciliation::{BankStatement, EntryStatus, parse_camt053};
use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};
use bazaar_payouts::{BankError, SandboxBank, SandboxRails};
use bazaar_testdb::TestDatabase;

const HOUR: i64 = 3_600_000_000;
/// Tuesday 2026-03-10 00:00 UTC.
const TUESDAY: i64 = 1_773_100_800_000_000;

fn at(hours: i64) -> Timestamp {
    Timestamp::from_micros(TUESDAY + hours * HOUR)
}

/// The day `offset` days after Tuesday 2026-03-10.
fn day(offset: i64) -> Date {
    Date::new(2026, 3, 10).unwrap().add_days(offset).unwrap()
}

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::USD)
}

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

fn ach(payout: u128, number: &str, amount: Money) -> RailSubmission {
    RailSubmission {
        payout: PayoutId::from_u128(payout),
        rail: Rail::Ach,
        amount,
        destination: BankDetails::UsAccount {
            routing_number: "021000021".to_owned(),
            account_number: number.to_owned(),
        },
        holder_name: "Ada Seller".to_owned(),
        statement_reference: "BAZAAR PAYOUT".to_owned(),
    }
}

/// Submits an ACH payout at Tuesday 14:00 UTC (before the cut-off): it arrives Wednesday
/// noon, and a returning account sends it back Thursday noon.
async fn submit(rails: &SandboxRails, payout: u128, number: &str, amount: Money) {
    let answer = rails
        .submit(ach(payout, number, amount), at(14))
        .await
        .unwrap();
    assert!(
        matches!(answer, RailAcceptance::Accepted { expected_at, .. } if expected_at == at(36)),
        "{answer:?}"
    );
}

/// The rails report (and so book) everything due by `now`.
async fn report(rails: &SandboxRails, now: Timestamp) {
    rails.events(None, 100, now).await.unwrap();
}

/// The day's statement, as the reconciliation reads it.
async fn statement(bank: &SandboxBank, currency: Currency, on: Date) -> BankStatement {
    let xml = bank
        .statement(currency, on, "2026-03-20T06:00:00Z")
        .await
        .unwrap();
    let mut statements = parse_camt053(&xml).unwrap();
    assert_eq!(statements.len(), 1);
    statements.remove(0)
}

fn opening(statement: &BankStatement) -> Money {
    statement.opening_balance().unwrap().amount
}

fn closing(statement: &BankStatement) -> Money {
    statement.closing_balance().unwrap().amount
}

/// Each entry as (amount, end-to-end id, remittance, bank transaction code).
fn entries(statement: &BankStatement) -> Vec<(Money, String, String, String)> {
    statement
        .entries
        .iter()
        .map(|entry| {
            assert_eq!(entry.parts.len(), 1);
            let part = entry.parts.first().unwrap();
            (
                entry.amount,
                part.end_to_end_id.clone().unwrap(),
                part.remittance.clone().unwrap(),
                entry.transaction_code.clone().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_provider_payout_is_credited_once_even_if_recorded_twice() {
    let db = TestDatabase::new().unwrap();
    let bank = SandboxBank::new(db.url(), 2);
    let pay = |amount: Money, provider: &'static str| {
        let bank = bank.clone();
        async move {
            bank.receive_provider_payout(amount.currency(), amount, at(10), provider, 42)
                .await
        }
    };
    assert_eq!(pay(eur(100_000), "adyen").await, Ok(true));
    assert_eq!(pay(eur(100_000), "adyen").await, Ok(false), "a no-op");
    assert!(matches!(
        pay(eur(99_999), "adyen").await,
        Err(BankError::Conflict(_))
    ));
    // The same batch number in another currency is another entry.
    assert_eq!(pay(usd(7_000), "adyen").await, Ok(true));
    let refused = [
        bank.receive_provider_payout(Currency::EUR, usd(1), at(10), "adyen", 43)
            .await,
        pay(eur(1), "").await,
        pay(eur(1), "adyen payouts").await,
    ];
    for answer in refused {
        assert_eq!(answer.unwrap_err().code(), "bank_rejected");
    }

    let tuesday = statement(&bank, Currency::EUR, day(0)).await;
    assert_eq!(
        entries(&tuesday),
        [(
            eur(100_000),
            "adyen-batch-42".to_owned(),
            "adyen payout batch 42".to_owned(),
            "PMNT/RCDT/ESCT".to_owned()
        )]
    );
    assert_eq!(
        (opening(&tuesday), closing(&tuesday)),
        (eur(0), eur(100_000))
    );
    assert_eq!(tuesday.account, SandboxBank::account(Currency::EUR));
    let iban = BankDetails::Iban {
        iban: tuesday.account.clone(),
    };
    assert!(iban.validate().is_ok(), "the EUR account is a valid IBAN");
    let dollars = statement(&bank, Currency::USD, day(0)).await;
    assert_eq!(closing(&dollars), usd(7_000));
    assert_ne!(dollars.account, tuesday.account);
    assert_eq!(
        bank.currencies_with_entries().await.unwrap(),
        [Currency::EUR, Currency::USD]
    );
}

#[tokio::test]
async fn a_paid_payout_debits_the_bank_once_and_a_failed_one_not_at_all() {
    let db = TestDatabase::new().unwrap();
    let rails = SandboxRails::new(db.url(), 2);
    let bank = SandboxBank::new(db.url(), 2);
    submit(&rails, 1, "000123453000", usd(50_000)).await;
    submit(&rails, 2, "000123450006", usd(9_000)).await;
    report(&rails, at(35)).await;
    assert!(bank.currencies_with_entries().await.unwrap().is_empty());
    report(&rails, at(36)).await;
    // Asking the rails again, from another instance too, books nothing new.
    report(&rails, at(24 * 5)).await;
    report(&SandboxRails::new(db.url(), 1), at(24 * 6)).await;

    let wednesday = statement(&bank, Currency::USD, day(1)).await;
    let payout = PayoutId::from_u128(1).to_string();
    assert_eq!(
        entries(&wednesday),
        [(
            usd(-50_000),
            payout.clone(),
            "Bazaar seller payout".to_owned(),
            "PMNT/ICDT/ESCT".to_owned()
        )]
    );
    assert_eq!(
        wednesday.entries[0].booking_date,
        Some(day(1)),
        "booked on the day it arrived"
    );
    for other in [0, 2, 3] {
        assert!(
            statement(&bank, Currency::USD, day(other))
                .await
                .entries
                .is_empty()
        );
    }
    assert_eq!(
        closing(&statement(&bank, Currency::USD, day(5)).await),
        usd(-50_000)
    );
}

#[tokio::test]
async fn a_returned_payout_is_credited_back_and_balances_carry_over() {
    let db = TestDatabase::new().unwrap();
    let rails = SandboxRails::new(db.url(), 2);
    let bank = SandboxBank::new(db.url(), 2);
    bank.receive_provider_payout(Currency::USD, usd(80_000), at(9), "adyen", 7)
        .await
        .unwrap();
    submit(&rails, 5, "000123450005", usd(2_000)).await;
    submit(&rails, 6, "000123453000", usd(30_000)).await;
    report(&rails, at(48 + 12)).await;
    report(&rails, at(24 * 4)).await;

    let returned = PayoutId::from_u128(5).to_string();
    let thursday = statement(&bank, Currency::USD, day(2)).await;
    assert_eq!(
        entries(&thursday),
        [(
            usd(2_000),
            returned.clone(),
            "Bazaar seller payout returned: account_closed".to_owned(),
            "PMNT/ICDT/RRTN".to_owned()
        )]
    );
    let wednesday = statement(&bank, Currency::USD, day(1)).await;
    let mut debits: Vec<(Money, String)> = entries(&wednesday)
        .into_iter()
        .map(|(amount, id, _, _)| (amount, id))
        .collect();
    // Both arrived at Wednesday noon; entries of one instant come in the order of their
    // bank ids, which follow nothing the test knows.
    debits.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        debits,
        [
            (usd(-2_000), returned),
            (usd(-30_000), PayoutId::from_u128(6).to_string())
        ]
    );

    // Monday (before anything) to Saturday: each day opens where the one before closed.
    let mut week = Vec::new();
    for offset in -1..=4 {
        week.push(statement(&bank, Currency::USD, day(offset)).await);
    }
    assert_eq!(opening(&week[0]), usd(0));
    assert_eq!(closing(&week[0]), usd(0));
    for pair in week.windows(2) {
        assert_eq!(closing(&pair[0]), opening(&pair[1]));
    }
    assert_eq!(closing(&week[5]), usd(80_000 - 30_000));
    for (statement, offset) in week.iter().zip(-1..) {
        let on = day(offset);
        assert_eq!(statement.id, SandboxBank::statement_id(Currency::USD, on));
        assert_eq!(
            statement.sequence,
            on.days_since_epoch().and_then(|d| u64::try_from(d).ok())
        );
        assert_eq!(statement.currency, Currency::USD);
        for entry in &statement.entries {
            assert_eq!(entry.status, EntryStatus::Booked);
            assert_eq!((entry.booking_date, entry.value_date), (Some(on), Some(on)));
            let reference = entry.servicer_reference.clone().unwrap();
            assert_eq!(reference.len(), 32, "{reference}");
        }
    }
    // The same day's statement is the same document when written again.
    let once = bank.statement(Currency::USD, day(1), "2026-03-20T06:00:00Z");
    let twice = bank.statement(Currency::USD, day(1), "2026-03-20T06:00:00Z");
    assert_eq!(once.await.unwrap(), twice.await.unwrap());
}

#[tokio::test]
async fn a_bank_charge_is_its_own_entry_when_configured() {
    let db = TestDatabase::new().unwrap();
    let rails = SandboxRails::new(db.url(), 2).with_bank_charge(150);
    let bank = SandboxBank::new(db.url(), 2);
    submit(&rails, 1, "000123453000", usd(50_000)).await;
    submit(&rails, 2, "000123450006", usd(9_000)).await;
    submit(&rails, 3, "000123450005", usd(2_000)).await;
    report(&rails, at(24 * 3)).await;
    report(&rails, at(24 * 4)).await;

    let wednesday = statement(&bank, Currency::USD, day(1)).await;
    let booked: Vec<(Money, String, String)> = entries(&wednesday)
        .into_iter()
        .map(|(amount, id, remittance, _)| (amount, id, remittance))
        .collect();
    let (paid, returned) = (
        PayoutId::from_u128(1).to_string(),
        PayoutId::from_u128(3).to_string(),
    );
    let payout = |amount, id: &String| (amount, id.clone(), "Bazaar seller payout".to_owned());
    let charge = |id: &String| (usd(-150), format!("charge-{id}"), "bank charge".to_owned());
    let mut expected = vec![
        payout(usd(-50_000), &paid),
        charge(&paid),
        payout(usd(-2_000), &returned),
        charge(&returned),
    ];
    // Entries of one instant come in the order of their bank ids: compared sorted.
    let mut got = booked.clone();
    got.sort_by(|a, b| a.1.cmp(&b.1));
    expected.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(got, expected, "no charge for the failed payout");
    let code = &wednesday
        .entries
        .iter()
        .find(|entry| entry.amount == usd(-150))
        .unwrap()
        .transaction_code;
    assert_eq!(code.as_deref(), Some("ACMT/MDOP/CHRG"));
    // The return brings the payout back, not the charge.
    let thursday = statement(&bank, Currency::USD, day(2)).await;
    assert_eq!(closing(&thursday), usd(-50_000 - 150 - 150));
}
