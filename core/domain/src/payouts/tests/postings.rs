//! A payout's postings applied to the reference ledger: every allowed sequence of events
//! leaves the seller's money where the lifecycle says, and a failure leaves the available
//! balance exactly as it was.
#![expect(
    clippy::arithmetic_side_effects,
    reason = "balances and instants of a test stay far from the limits of i64"
)]

use bazaar_ledger::{AccountId, LedgerState, Timestamp};
use bazaar_money::{Currency, Money};
use proptest::prelude::*;

use super::lifecycle::any_event;
use super::*;
use crate::chart::{ChartAccount, Revenue, SellerId};

const T0: i64 = 1_780_000_000_000_000;
const FUNDED: i64 = 1_000_000;

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

/// A ledger with the accounts a payout touches and `FUNDED` in the seller's available
/// balance.
fn funded(seller: SellerId) -> LedgerState {
    let mut ledger = LedgerState::default();
    let now = Timestamp::from_micros(T0);
    for account in [
        ChartAccount::SellerAvailable(seller),
        ChartAccount::PayoutsInTransit,
        ChartAccount::Bank,
        ChartAccount::Revenue(Revenue::InstantPayoutFees),
    ] {
        ledger
            .create_account(account.new_account(Currency::EUR).unwrap(), now)
            .unwrap();
    }
    let funding = bazaar_ledger::TransferRequest {
        id: bazaar_ledger::TransferId::from_u128(1),
        kind: bazaar_ledger::RequestKind::Direct {
            debit_account_id: ChartAccount::Bank.id(Currency::EUR),
            credit_account_id: ChartAccount::SellerAvailable(seller).id(Currency::EUR),
            amount: eur(FUNDED),
        },
        metadata: bazaar_ledger::Metadata::new(),
    };
    ledger.submit(&[funding], now).0.unwrap();
    ledger
}

/// Credits minus debits, posted only.
fn posted(ledger: &LedgerState, id: AccountId) -> i64 {
    let balance = ledger.account(id).unwrap().balance;
    balance.credits_posted - balance.debits_posted
}

/// Credits minus debits, pending included.
fn with_pending(ledger: &LedgerState, id: AccountId) -> i64 {
    let balance = ledger.account(id).unwrap().balance;
    balance.credits_posted + balance.credits_pending
        - balance.debits_posted
        - balance.debits_pending
}

fn apply(ledger: &mut LedgerState, payout: &PayoutMoney, change: LedgerChange, at: i64) {
    if let Some(posting) = payout.posting(change).unwrap() {
        let (result, _) = ledger.submit(&posting.requests, Timestamp::from_micros(at));
        result.unwrap();
        // Posting the same step again changes nothing.
        let (again, _) = ledger.submit(&posting.requests, Timestamp::from_micros(at + 1));
        again.unwrap();
    }
}

/// An instant payout of 100.00 EUR with a fee of 1.00 EUR.
fn instant_payout(seller: SellerId) -> PayoutMoney {
    PayoutMoney {
        id: PayoutId::from_u128(9),
        seller,
        amount: eur(10_000),
        fee: Some(eur(100)),
    }
}

/// A funded seller whose instant payout is open.
fn instant_payout_opened() -> (SellerId, LedgerState) {
    let seller = SellerId::from_u128(7);
    let mut ledger = funded(seller);
    apply(
        &mut ledger,
        &instant_payout(seller),
        LedgerChange::PostPending,
        T0 + 10,
    );
    (seller, ledger)
}

#[test]
fn a_failed_instant_payout_gives_back_the_amount_and_the_fee() {
    let (seller, mut ledger) = instant_payout_opened();
    let available = ChartAccount::SellerAvailable(seller).id(Currency::EUR);
    let payout = instant_payout(seller);
    assert_eq!(with_pending(&ledger, available), FUNDED - 10_100);
    apply(&mut ledger, &payout, LedgerChange::VoidPending, T0 + 20);
    assert_eq!(with_pending(&ledger, available), FUNDED);
    assert_eq!(posted(&ledger, available), FUNDED);
    let fees = ChartAccount::Revenue(Revenue::InstantPayoutFees).id(Currency::EUR);
    assert_eq!(posted(&ledger, fees), 0);
}

#[test]
fn a_paid_payout_leaves_the_bank_and_a_return_brings_it_back() {
    let seller = SellerId::from_u128(7);
    let mut ledger = funded(seller);
    let available = ChartAccount::SellerAvailable(seller).id(Currency::EUR);
    let in_transit = ChartAccount::PayoutsInTransit.id(Currency::EUR);
    let bank = ChartAccount::Bank.id(Currency::EUR);
    let payout = PayoutMoney {
        id: PayoutId::from_u128(9),
        seller,
        amount: eur(25_000),
        fee: None,
    };
    let bank_before = posted(&ledger, bank);
    apply(&mut ledger, &payout, LedgerChange::PostPending, T0 + 10);
    apply(&mut ledger, &payout, LedgerChange::PostPaid, T0 + 20);
    assert_eq!(posted(&ledger, available), FUNDED - 25_000);
    assert_eq!(with_pending(&ledger, in_transit), 0);
    // `bank` is a debit-normal account: money leaving it is a credit.
    assert_eq!(posted(&ledger, bank) - bank_before, 25_000);
    apply(&mut ledger, &payout, LedgerChange::ReversePaid, T0 + 30);
    assert_eq!(posted(&ledger, available), FUNDED);
    assert_eq!(posted(&ledger, bank), bank_before);
}

#[test]
fn amounts_must_be_positive() {
    let payout = PayoutMoney {
        id: PayoutId::from_u128(9),
        seller: SellerId::from_u128(7),
        amount: eur(0),
        fee: None,
    };
    assert!(payout.posting(LedgerChange::PostPending).is_err());
}

proptest! {
    #[test]
    fn every_sequence_of_events_leaves_the_money_where_the_state_says(
        amount in 1_i64..500_000,
        fee in prop::option::of(1_i64..5_000),
        events in prop::collection::vec(any_event(), 0..8),
    ) {
        let seller = SellerId::from_u128(7);
        let mut ledger = funded(seller);
        let available = ChartAccount::SellerAvailable(seller).id(Currency::EUR);
        let payout = PayoutMoney {
            id: PayoutId::from_u128(9),
            seller,
            amount: eur(amount),
            fee: fee.map(eur),
        };
        let fee = fee.unwrap_or(0);
        let mut at = T0;
        let opened = open();
        apply(&mut ledger, &payout, opened.ledger, at);
        let mut state = opened.state;
        for event in events {
            at += 3_600_000_000;
            if let Ok(change) = transition(state, event, Timestamp::from_micros(at), Rail::SepaCredit) {
                apply(&mut ledger, &payout, change.ledger, at);
                state = change.state;
            }
        }
        let left = with_pending(&ledger, available);
        let expected = match state {
            PayoutState::Pending | PayoutState::InTransit | PayoutState::Paid { .. } => {
                FUNDED - amount - fee
            }
            PayoutState::Failed(_) | PayoutState::Canceled => FUNDED,
            PayoutState::Returned(_) => FUNDED - fee,
        };
        prop_assert_eq!(left, expected, "{:?}", state);
    }
}

#[test]
fn balances_by_type_follow_the_ledger() {
    let (seller, ledger) = instant_payout_opened();
    let available = ledger
        .account(ChartAccount::SellerAvailable(seller).id(Currency::EUR))
        .unwrap()
        .balance;
    let none = bazaar_ledger::Balance::default();
    let balances =
        Balances::from_ledger(Currency::EUR, &available, &none, &none, eur(2_000_000)).unwrap();
    // The fee is posted; the amount is held by the open pending transfer.
    assert_eq!(balances.available, eur(FUNDED - 10_100));
    assert_eq!(balances.in_transit, eur(10_000));
    assert_eq!(balances.pending, eur(0));
    // Instant availability never exceeds what is available.
    assert_eq!(balances.instant_available, balances.available);
    let small = Balances::from_ledger(Currency::EUR, &available, &none, &none, eur(500)).unwrap();
    assert_eq!(small.instant_available, eur(500));
    let wrong = Balances::from_ledger(
        Currency::EUR,
        &available,
        &none,
        &none,
        Money::from_minor(1, Currency::USD),
    );
    assert_eq!(wrong.unwrap_err().code(), "currency_mismatch");
}
