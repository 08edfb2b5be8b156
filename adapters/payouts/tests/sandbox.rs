//! The sandbox rails against the port's contract: idempotent submissions, refusals that are
//! answers and not errors, outcomes reported once at the rail's expected arrival, returns.
#![expect(
    clippy::unwrap_used,
    reason = "fixtures fail loudly when a fixture is broken"
)]
#![expect(
    clippy::arithmetic_side_effects,
    reason = "test instants are small multiples of an hour"
)]

use bazaar_domain::payouts::{
    BankDetails, FailureCode, PayoutId, PayoutRails, Rail, RailAcceptance, RailError, RailEvent,
    RailOutcome, RailSubmission,
};
use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};
use bazaar_payouts::SandboxRails;
use bazaar_testdb::TestDatabase;

const HOUR: i64 = 3_600_000_000;
/// Tuesday 2026-03-10 00:00 UTC.
const TUESDAY: i64 = 1_773_100_800_000_000;

fn at(hours: i64) -> Timestamp {
    Timestamp::from_micros(TUESDAY + hours * HOUR)
}

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::USD)
}

fn us_account(number: &str) -> BankDetails {
    BankDetails::UsAccount {
        routing_number: "021000021".to_owned(),
        account_number: number.to_owned(),
    }
}

fn ach(payout: u128, number: &str, amount: Money) -> RailSubmission {
    RailSubmission {
        payout: PayoutId::from_u128(payout),
        rail: Rail::Ach,
        amount,
        destination: us_account(number),
        holder_name: "Ada Seller".to_owned(),
        statement_reference: "BAZAAR PAYOUT".to_owned(),
    }
}

async fn all_events(rails: &SandboxRails, now: Timestamp) -> Vec<RailEvent> {
    rails.events(None, 100, now).await.unwrap()
}

#[tokio::test]
async fn an_ach_payout_is_paid_the_next_business_day_and_reported_once() {
    let db = TestDatabase::new().unwrap();
    let rails = SandboxRails::new(db.url(), 2);
    // 14:00 UTC is 10:00 in New York (summer time from 8 March): before the 16:00 cut-off.
    let answer = rails
        .submit(ach(1, "000123453000", usd(50_000)), at(14))
        .await
        .unwrap();
    let RailAcceptance::Accepted { expected_at, .. } = answer else {
        panic!("refused: {answer:?}");
    };
    assert_eq!(expected_at, at(24 + 12), "noon UTC on Wednesday");
    assert!(all_events(&rails, at(24 + 11)).await.is_empty());
    let events = all_events(&rails, at(24 + 12)).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, RailOutcome::Paid);
    assert_eq!(events[0].payout, PayoutId::from_u128(1));
    // Asking again reports nothing new; reading from the start gives the same event.
    let later = all_events(&rails, at(24 * 5)).await;
    assert_eq!(later, events);
    let after = rails
        .events(Some(events[0].event_id.clone()), 100, at(24 * 5))
        .await
        .unwrap();
    assert!(after.is_empty());
}

#[tokio::test]
async fn a_submission_is_idempotent_by_payout_id() {
    let db = TestDatabase::new().unwrap();
    let rails = SandboxRails::new(db.url(), 2);
    let first = rails
        .submit(ach(1, "000123453000", usd(50_000)), at(14))
        .await;
    let again = rails
        .submit(ach(1, "000123453000", usd(50_000)), at(15))
        .await;
    assert_eq!(first, again);
    let other = rails
        .submit(ach(1, "000123453000", usd(49_999)), at(15))
        .await;
    assert!(matches!(other, Err(RailError::Rejected(_))));
    // One payout, one outcome.
    assert_eq!(all_events(&rails, at(24 * 5)).await.len(), 1);
}

#[tokio::test]
async fn refusals_are_answers_with_their_failure_code() {
    let db = TestDatabase::new().unwrap();
    let rails = SandboxRails::new(db.url(), 2);
    let closed = rails
        .submit(ach(1, "000123450003", usd(1_000)), at(14))
        .await;
    assert_eq!(
        closed,
        Ok(RailAcceptance::Refused(FailureCode::AccountClosed))
    );
    let mut bad_routing = ach(2, "000123453000", usd(1_000));
    bad_routing.destination = BankDetails::UsAccount {
        routing_number: "021000022".to_owned(),
        account_number: "000123453000".to_owned(),
    };
    let invalid = rails.submit(bad_routing, at(14)).await;
    assert_eq!(
        invalid,
        Ok(RailAcceptance::Refused(FailureCode::InvalidAccountNumber))
    );
    let euros = ach(3, "000123453000", Money::from_minor(1_000, Currency::EUR));
    assert_eq!(
        rails.submit(euros, at(14)).await,
        Ok(RailAcceptance::Refused(FailureCode::InvalidCurrency))
    );
    // Details the rail does not take at all are the caller's mistake.
    let mut wrong_kind = ach(4, "000123453000", usd(1_000));
    wrong_kind.destination = BankDetails::Iban {
        iban: "DE89370400440532013000".to_owned(),
    };
    assert!(matches!(
        rails.submit(wrong_kind, at(14)).await,
        Err(RailError::Rejected(_))
    ));
    assert!(all_events(&rails, at(24 * 5)).await.is_empty());
}

#[tokio::test]
async fn test_accounts_fail_or_come_back() {
    let db = TestDatabase::new().unwrap();
    let rails = SandboxRails::new(db.url(), 2);
    for (payout, number) in [(1, "000123450006"), (2, "000123450005")] {
        let answer = rails.submit(ach(payout, number, usd(2_000)), at(14)).await;
        assert!(matches!(answer, Ok(RailAcceptance::Accepted { .. })));
    }
    let arrival = all_events(&rails, at(24 + 12)).await;
    let outcome = |events: &[RailEvent], payout: u128| -> Vec<RailOutcome> {
        events
            .iter()
            .filter(|e| e.payout == PayoutId::from_u128(payout))
            .map(|e| e.outcome)
            .collect()
    };
    assert_eq!(
        outcome(&arrival, 1),
        [RailOutcome::Failed(FailureCode::InvalidAccountNumber)]
    );
    assert_eq!(outcome(&arrival, 2), [RailOutcome::Paid]);
    let next_day = all_events(&rails, at(48 + 12)).await;
    assert_eq!(
        outcome(&next_day, 2),
        [
            RailOutcome::Paid,
            RailOutcome::Returned(FailureCode::AccountClosed)
        ]
    );
    let ids: std::collections::HashSet<_> = next_day.iter().map(|e| &e.event_id).collect();
    assert_eq!(ids.len(), next_day.len(), "event ids are unique");
}

#[tokio::test]
async fn an_instant_rail_pays_within_minutes_on_a_sunday() {
    let db = TestDatabase::new().unwrap();
    let rails = SandboxRails::new(db.url(), 2);
    let sunday_night = at(24 * 5 + 23);
    let submission = RailSubmission {
        rail: Rail::Rtp,
        ..ach(1, "000123453000", usd(10_000))
    };
    let answer = rails.submit(submission, sunday_night).await.unwrap();
    let RailAcceptance::Accepted { expected_at, .. } = answer else {
        panic!("refused: {answer:?}");
    };
    assert!(expected_at > sunday_night);
    assert!(expected_at.as_micros() - sunday_night.as_micros() <= HOUR);
}

#[tokio::test]
async fn micro_deposits_are_small_and_stable_per_account() {
    let db = TestDatabase::new().unwrap();
    let rails = SandboxRails::new(db.url(), 2);
    let first = rails
        .micro_deposits(Rail::Ach, us_account("000123453000"), at(1))
        .await
        .unwrap();
    let again = rails
        .micro_deposits(Rail::Ach, us_account("000123453000"), at(2))
        .await
        .unwrap();
    assert_eq!(first, again);
    for amount in first {
        assert!((1..=99).contains(&amount.minor()));
        assert_eq!(amount.currency(), Currency::USD);
    }
    let refused = rails
        .micro_deposits(
            Rail::Ach,
            BankDetails::UsAccount {
                routing_number: "021000022".to_owned(),
                account_number: "1".to_owned(),
            },
            at(1),
        )
        .await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn the_rails_remember_across_instances_and_number_events_in_order() {
    let db = TestDatabase::new().unwrap();
    let first = SandboxRails::new(db.url(), 2);
    first
        .submit(ach(1, "000123453000", usd(1_000)), at(14))
        .await
        .unwrap();
    // A restarted process (another instance on the same records) reports it, once.
    let restarted = SandboxRails::new(db.url(), 2);
    let again = restarted
        .submit(ach(1, "000123453000", usd(1_000)), at(20))
        .await
        .unwrap();
    let RailAcceptance::Accepted { expected_at, .. } = again else {
        panic!("refused: {again:?}");
    };
    assert_eq!(expected_at, at(24 + 12), "the first answer, not a new one");
    restarted
        .submit(ach(2, "000123450005", usd(2_000)), at(15))
        .await
        .unwrap();
    let events = all_events(&first, at(24 * 3)).await;
    let seen: Vec<_> = events
        .iter()
        .map(|event| (event.payout, event.outcome))
        .collect();
    assert_eq!(
        seen,
        vec![
            (PayoutId::from_u128(1), RailOutcome::Paid),
            (PayoutId::from_u128(2), RailOutcome::Paid),
            (
                PayoutId::from_u128(2),
                RailOutcome::Returned(FailureCode::AccountClosed)
            ),
        ]
    );
    assert_eq!(all_events(&restarted, at(24 * 4)).await, events);
    let ids: Vec<_> = events.iter().map(|event| event.event_id.clone()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let tail = restarted
        .events(Some(ids[0].clone()), 10, at(24 * 4))
        .await
        .unwrap();
    assert_eq!(tail, events[1..].to_vec());
}
