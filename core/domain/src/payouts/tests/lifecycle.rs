//! The payout state machine: the allowed moves, failure codes, and a property test over
//! random event sequences for the money invariant.

use std::collections::HashSet;

use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};
use proptest::prelude::*;

use super::*;

const DAY_MICROS: i64 = 86_400_000_000;
const T0: i64 = 1_780_000_000_000_000;

fn at(micros: i64) -> Timestamp {
    Timestamp::from_micros(micros)
}

fn days_after(start: i64, days: i64) -> Timestamp {
    at(days
        .checked_mul(DAY_MICROS)
        .and_then(|d| d.checked_add(start))
        .unwrap())
}

#[test]
fn the_allowed_moves_and_what_they_post() {
    let now = at(T0);
    let rail = Rail::Ach;
    let closed = FailureCode::AccountClosed;
    let cases = [
        (
            PayoutState::Pending,
            PayoutEvent::Submitted,
            PayoutState::InTransit,
            LedgerChange::Nothing,
            None,
        ),
        (
            PayoutState::Pending,
            PayoutEvent::Canceled,
            PayoutState::Canceled,
            LedgerChange::VoidPending,
            None,
        ),
        (
            PayoutState::Pending,
            PayoutEvent::Failed(closed),
            PayoutState::Failed(closed),
            LedgerChange::VoidPending,
            Some(FailureAction::MarkBankAccountErrored),
        ),
        (
            PayoutState::InTransit,
            PayoutEvent::Paid,
            PayoutState::Paid { paid_at: now },
            LedgerChange::PostPaid,
            None,
        ),
        (
            PayoutState::InTransit,
            PayoutEvent::Failed(FailureCode::CouldNotProcess),
            PayoutState::Failed(FailureCode::CouldNotProcess),
            LedgerChange::VoidPending,
            Some(FailureAction::Retry),
        ),
        (
            PayoutState::Paid { paid_at: now },
            PayoutEvent::Returned(FailureCode::NoAccount),
            PayoutState::Returned(FailureCode::NoAccount),
            LedgerChange::ReversePaid,
            Some(FailureAction::MarkBankAccountErrored),
        ),
    ];
    for (from, event, state, ledger, follow_up) in cases {
        assert_eq!(
            transition(from, event, now, rail),
            Ok(Change {
                state,
                ledger,
                follow_up
            }),
            "{from:?} {event:?}"
        );
    }
    assert_eq!(
        open(),
        Change {
            state: PayoutState::Pending,
            ledger: LedgerChange::PostPending,
            follow_up: None
        }
    );
}

#[test]
fn moves_outside_the_table_are_refused() {
    let now = at(T0);
    let refused = [
        (PayoutState::Pending, PayoutEvent::Paid),
        (
            PayoutState::Pending,
            PayoutEvent::Returned(FailureCode::Declined),
        ),
        (PayoutState::InTransit, PayoutEvent::Canceled),
        (PayoutState::InTransit, PayoutEvent::Submitted),
        (
            PayoutState::Paid { paid_at: now },
            PayoutEvent::Failed(FailureCode::Declined),
        ),
        (PayoutState::Paid { paid_at: now }, PayoutEvent::Canceled),
        (PayoutState::Canceled, PayoutEvent::Submitted),
        (
            PayoutState::Failed(FailureCode::Declined),
            PayoutEvent::Paid,
        ),
        (
            PayoutState::Returned(FailureCode::Declined),
            PayoutEvent::Returned(FailureCode::Declined),
        ),
    ];
    for (from, event) in refused {
        assert_eq!(
            transition(from, event, now, Rail::Pix),
            Err(PayoutError::TransitionNotAllowed {
                from: from.as_str(),
                event: event.as_str()
            }),
            "{from:?} {event:?}"
        );
    }
}

#[test]
fn returns_close_with_the_rails_window() {
    let paid = PayoutState::Paid { paid_at: at(T0) };
    let returned = PayoutEvent::Returned(FailureCode::AccountClosed);
    let window = Rail::Ach.spec().return_window_days;
    let last = days_after(T0, i64::from(window));
    assert!(transition(paid, returned, last, Rail::Ach).is_ok());
    let late = at(last.as_micros().checked_add(1).unwrap());
    assert_eq!(
        transition(paid, returned, late, Rail::Ach),
        Err(PayoutError::ReturnWindowClosed {
            rail: Rail::Ach,
            days: window
        })
    );
    // A clock a little behind the one that recorded the payment is within the window.
    assert!(transition(paid, returned, at(T0 - 1), Rail::Ach).is_ok());
}

#[test]
fn failure_codes_read_print_and_say_what_to_do() {
    let names: HashSet<&str> = FailureCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(names.len(), 15);
    for code in FailureCode::ALL {
        assert_eq!(FailureCode::parse(code.as_str()), Some(code));
        assert_eq!(code.to_string(), code.as_str());
    }
    assert_eq!(FailureCode::parse("lost_in_the_mail"), None);
    let retried: Vec<FailureCode> = FailureCode::ALL
        .into_iter()
        .filter(|code| code.action() == FailureAction::Retry)
        .collect();
    assert_eq!(
        retried,
        [FailureCode::CouldNotProcess, FailureCode::InsufficientFunds]
    );
}

/// Which moves the state machine allows, written out apart from `transition`: the names of
/// the state and the event.
fn allowed(state: PayoutState, event: PayoutEvent) -> bool {
    matches!(
        (state.as_str(), event.as_str()),
        ("pending", "submitted" | "canceled" | "failed")
            | ("in_transit", "paid" | "failed")
            | ("paid", "returned")
    )
}

fn any_code() -> impl Strategy<Value = FailureCode> {
    prop::sample::select(FailureCode::ALL.to_vec())
}

pub(super) fn any_event() -> impl Strategy<Value = PayoutEvent> {
    prop_oneof![
        Just(PayoutEvent::Submitted),
        Just(PayoutEvent::Canceled),
        Just(PayoutEvent::Paid),
        any_code().prop_map(PayoutEvent::Failed),
        any_code().prop_map(PayoutEvent::Returned),
    ]
}

/// The seller's money as the ledger would hold it for one payout: what a pending transfer
/// holds, and what has been posted to `payouts_in_transit`.
#[derive(Debug)]
struct Ledger {
    pending: Money,
    posted: Money,
}

impl Ledger {
    fn apply(&mut self, change: LedgerChange, amount: Money) {
        let zero = Money::zero(amount.currency());
        match change {
            LedgerChange::PostPending => {
                assert_eq!(self.pending, zero, "a second pending transfer");
                self.pending = amount;
            }
            LedgerChange::Nothing => {}
            LedgerChange::PostPaid => {
                assert_eq!(self.pending, amount, "posting without a pending transfer");
                self.pending = zero;
                self.posted = self.posted.checked_add(amount).unwrap();
            }
            LedgerChange::VoidPending => {
                assert_eq!(self.pending, amount, "voiding without a pending transfer");
                self.pending = zero;
            }
            LedgerChange::ReversePaid => {
                self.posted = self.posted.checked_sub(amount).unwrap();
            }
        }
    }
}

proptest! {
    // At least 5,000 sequences; PROPTEST_CASES may ask for more.
    #![proptest_config(ProptestConfig {
        cases: ProptestConfig::default().cases.max(5_000),
        ..ProptestConfig::default()
    })]

    /// Every refused event leaves the payout as it was, every allowed one is taken, and the
    /// money ends where the final state says: nothing moved for failed, canceled and
    /// returned payouts, the amount for paid ones, the amount held for open ones.
    #[test]
    fn random_event_sequences_keep_the_money_whole(
        amount in 1..1_000_000_000_i64,
        rail in prop::sample::select(Rail::ALL.to_vec()),
        steps in prop::collection::vec((any_event(), 0..40_i64), 0..24),
    ) {
        let amount = Money::from_minor(amount, Currency::EUR);
        let zero = Money::zero(Currency::EUR);
        let mut ledger = Ledger { pending: zero, posted: zero };
        let opened = open();
        ledger.apply(opened.ledger, amount);
        let mut state = opened.state;
        let mut now = T0;
        for (event, days) in steps {
            now = days_after(now, days).as_micros();
            let window = i64::from(rail.spec().return_window_days);
            let in_window = match state {
                PayoutState::Paid { paid_at } => {
                    now.checked_sub(paid_at.as_micros()) <= window.checked_mul(DAY_MICROS)
                }
                _ => true,
            };
            match transition(state, event, at(now), rail) {
                Ok(change) => {
                    prop_assert!(allowed(state, event) && in_window, "{:?} {:?}", state, event);
                    ledger.apply(change.ledger, amount);
                    state = change.state;
                }
                Err(error) => {
                    prop_assert!(!allowed(state, event) || !in_window, "{:?} {:?}", state, event);
                    let expected = if allowed(state, event) {
                        "return_window_closed"
                    } else {
                        "transition_not_allowed"
                    };
                    prop_assert_eq!(error.code(), expected);
                }
            }
        }
        let (pending, posted) = match state {
            PayoutState::Pending | PayoutState::InTransit => (amount, zero),
            PayoutState::Paid { .. } => (zero, amount),
            PayoutState::Failed(_) | PayoutState::Canceled | PayoutState::Returned(_) => {
                (zero, zero)
            }
        };
        prop_assert_eq!(ledger.pending, pending, "pending in {:?}", state);
        prop_assert_eq!(ledger.posted, posted, "posted in {:?}", state);
    }
}
