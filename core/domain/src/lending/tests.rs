#![expect(
    clippy::arithmetic_side_effects,
    reason = "test drivers with small values"
)]

use std::collections::BTreeMap;

use bazaar_money::{Currency, Money};
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::chart::{ChartAccount, SellerId};
use crate::fx::calendar::Date;
use crate::postings::Leg;

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

fn day(text: &str) -> Date {
    Date::parse_iso(text).unwrap()
}

fn shop() -> SellerId {
    SellerId::from_uuid(Uuid::from_u128(7))
}

/// Six months of sales: one a day of EUR 100.00, every twentieth refunded by half.
fn six_months(refund_every: usize, dispute_every: usize) -> Vec<SettledSale> {
    let start = day("2026-01-01");
    (0..182_usize)
        .map(|n| SettledSale {
            day: start.add_days(i64::try_from(n).unwrap()).unwrap(),
            net: eur(10_000),
            refunded: if refund_every > 0 && n.is_multiple_of(refund_every) {
                eur(5_000)
            } else {
                eur(0)
            },
            disputed: dispute_every > 0 && n.is_multiple_of(dispute_every),
        })
        .collect()
}

/// The offer of six months of sales with a refund every twentieth, and a loan opened from it.
fn standard_offer() -> Offer {
    offer(
        shop(),
        Currency::EUR,
        &six_months(20, 0),
        day("2026-07-02"),
        &Policy::default(),
    )
    .unwrap()
}

fn fresh_loan(n: u128) -> (Offer, Loan) {
    let offer = standard_offer();
    let loan = Loan::open(
        LoanId::from_uuid(Uuid::from_u128(n)),
        &offer,
        day("2026-07-03"),
    );
    (offer, loan)
}

#[test]
fn six_months_of_sales_earn_an_offer_and_the_same_history_always_the_same_one() {
    let today = day("2026-07-02");
    let history = six_months(20, 0);
    let offer = offer(shop(), Currency::EUR, &history, today, &Policy::default()).unwrap();
    // 182 sales of 100.00: 18,200.00; 15% is 2,730.00. Refunds 10 x 50.00 = 2.7%: tier B.
    assert_eq!(offer.advance, eur(273_000));
    assert_eq!(offer.tier, Tier::B);
    assert_eq!(offer.fee, eur(32_760));
    assert_eq!(offer.expires_on, day("2026-08-01"));
    // 3,057.60 in nine months of 18,200.00 a year: 22.4%, capped at 20%.
    assert_eq!(offer.withhold_rate.get(), 2_000);
    assert_eq!(offer.minimum, eur(50_960));
    let again = super::offer(shop(), Currency::EUR, &history, today, &Policy::default());
    assert_eq!(again, Ok(offer));
}

#[test]
fn a_new_seller_a_refunding_one_and_a_disputed_one_get_no_offer() {
    let policy = Policy::default();
    let early = offer(
        shop(),
        Currency::EUR,
        &six_months(0, 0),
        day("2026-05-01"),
        &policy,
    );
    assert_eq!(early.unwrap_err().code(), "loan_history_too_short");
    let refunds = offer(
        shop(),
        Currency::EUR,
        &six_months(2, 0),
        day("2026-07-02"),
        &policy,
    );
    assert_eq!(refunds.unwrap_err().code(), "loan_refund_rate_too_high");
    let disputes = offer(
        shop(),
        Currency::EUR,
        &six_months(0, 50),
        day("2026-07-02"),
        &policy,
    );
    assert_eq!(disputes.unwrap_err().code(), "loan_dispute_rate_too_high");
    let clean = offer(
        shop(),
        Currency::EUR,
        &six_months(0, 0),
        day("2026-07-02"),
        &policy,
    );
    assert_eq!(clean.unwrap().tier, Tier::A);
    let usd = offer(
        shop(),
        Currency::USD,
        &six_months(0, 0),
        day("2026-07-02"),
        &policy,
    );
    assert_eq!(usd.unwrap_err().code(), "loan_currency_mismatch");
}

/// The ledger's balances, credit minus debit per account, from the legs posted.
#[derive(Default)]
struct Books(BTreeMap<String, i64>);

impl Books {
    fn post(&mut self, legs: &[Leg]) {
        for leg in legs {
            assert!(!leg.amount.is_negative(), "{leg:?}");
            *self.0.entry(key(&leg.debit)).or_default() -= leg.amount.minor();
            *self.0.entry(key(&leg.credit)).or_default() += leg.amount.minor();
        }
        assert_eq!(self.0.values().sum::<i64>(), 0, "the books balance");
    }

    fn credit_balance(&self, account: &ChartAccount) -> i64 {
        self.0.get(&key(account)).copied().unwrap_or(0)
    }
}

fn key(account: &ChartAccount) -> String {
    format!("{}:{}", account.code(), account.owner())
}

#[derive(Clone, Debug)]
enum Event {
    Sale(i64),
    Refund(i64),
    Chargeback(i64),
    Payout(i64),
    NextDueDate,
    RepayInFull,
    ChargeOff,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        6 => (1_i64..200_000).prop_map(Event::Sale),
        1 => (1_i64..50_000).prop_map(Event::Refund),
        1 => (1_i64..50_000).prop_map(Event::Chargeback),
        2 => (1_i64..300_000).prop_map(Event::Payout),
        2 => Just(Event::NextDueDate),
        1 => Just(Event::RepayInFull),
        1 => Just(Event::ChargeOff),
    ]
}

fn check(loan: &Loan, books: &Books) {
    let seller = loan.seller;
    assert_eq!(
        loan.paid().unwrap().checked_add(loan.remaining().unwrap()),
        loan.total(),
        "paid plus remaining is advance plus fee"
    );
    assert!(!loan.remaining().unwrap().is_negative());
    let receivable = -books.credit_balance(&ChartAccount::LoansReceivable(loan.id));
    let unearned = books.credit_balance(&ChartAccount::LoanFeesUnearned(loan.id));
    let (owed, fee_owed) = match loan.state {
        LoanState::ChargedOff { .. } => (0, 0),
        _ => (
            loan.remaining().unwrap().minor(),
            loan.fee.checked_sub(loan.paid_fee).unwrap().minor(),
        ),
    };
    assert_eq!(receivable, owed, "loans_receivable holds what is owed");
    assert_eq!(unearned, fee_owed, "loan_fees_unearned holds the fee owed");
    assert_eq!(
        books.credit_balance(&ChartAccount::Revenue(crate::chart::Revenue::LoanFees)),
        loan.paid_fee.minor()
    );
    assert_eq!(
        -books.credit_balance(&ChartAccount::Expense(crate::chart::Expense::LoanLosses)),
        loan.written_off.minor()
    );
    assert!(books.credit_balance(&ChartAccount::SellerAvailable(seller)) >= 0);
    assert_eq!(
        loan.remaining().unwrap().is_zero(),
        matches!(loan.state, LoanState::PaidOff { .. }),
    );
    // Arrears make a loan past due, and stay owed after a charge-off.
    match loan.state {
        LoanState::PastDue { .. } => assert!(loan.arrears.is_positive()),
        LoanState::Active | LoanState::PaidOff { .. } => assert!(loan.arrears.is_zero()),
        LoanState::ChargedOff { .. } => {}
    }
}

proptest! {
    // At least 5,000 sequences; PROPTEST_CASES may ask for more.
    #![proptest_config(ProptestConfig {
        cases: ProptestConfig::default().cases.max(5_000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn paid_plus_remaining_is_always_advance_plus_fee_and_the_ledger_agrees(
        events in proptest::collection::vec(event(), 1..120),
    ) {
        let seller = shop();
        let (offer, mut loan) = fresh_loan(99);
        let mut today = day("2026-07-03");
        let mut books = Books::default();
        let _ = offer;
        books.post(&disbursement_legs(&loan));
        // The loan as the store last saved it: at a due date or a charge-off.
        let mut stored = loan;
        let available = |books: &Books| eur(books.credit_balance(&ChartAccount::SellerAvailable(seller)));
        check(&loan, &books);
        for event in events {
            match event {
                Event::Sale(net) => {
                    // The sale's proceeds arrive pending, the withholding leaves from there,
                    // and the rest is released to the available balance.
                    books.post(&[Leg { name: "sale", debit: ChartAccount::Bank, credit: ChartAccount::SellerPending(seller), amount: eur(net) }]);
                    let repaid = loan.withhold(eur(net), today).unwrap();
                    books.post(&repayment_legs(&loan, repaid, RepaidFrom::Settlement).unwrap());
                    let rest = net - repaid.total().unwrap().minor();
                    prop_assert!(rest >= 0);
                    books.post(&[Leg { name: "release", debit: ChartAccount::SellerPending(seller), credit: ChartAccount::SellerAvailable(seller), amount: eur(rest) }]);
                }
                Event::Refund(amount) | Event::Chargeback(amount) => {
                    // Refunds and chargebacks come out of the seller's balance; the loan is
                    // untouched.
                    let take = amount.min(available(&books).minor());
                    books.post(&[Leg { name: "refund", debit: ChartAccount::SellerAvailable(seller), credit: ChartAccount::Bank, amount: eur(take) }]);
                }
                Event::Payout(amount) => {
                    let take = amount.min(available(&books).minor());
                    books.post(&[Leg { name: "payout", debit: ChartAccount::SellerAvailable(seller), credit: ChartAccount::Bank, amount: eur(take) }]);
                }
                Event::NextDueDate => {
                    today = today.max(loan.due_on().unwrap());
                    match loan.close_interval(today, available(&books)) {
                        Ok(outcome) => {
                            prop_assert!(outcome.collected.total().unwrap().minor() <= outcome.shortfall.minor());
                            books.post(&repayment_legs(&loan, outcome.collected, RepaidFrom::Balance).unwrap());
                            stored = loan;
                        }
                        Err(error) => prop_assert_eq!(error, LoanError::Closed),
                    }
                }
                Event::RepayInFull => {
                    let before = loan;
                    match loan.repay_in_full(available(&books), today) {
                        Ok(repaid) => {
                            prop_assert_eq!(repaid.total(), before.remaining());
                            books.post(&repayment_legs(&loan, repaid, RepaidFrom::Balance).unwrap());
                        }
                        Err(_) => prop_assert_eq!(loan, before),
                    }
                }
                Event::ChargeOff => {
                    // A month passes; a loan past due 30 days by then is charged off.
                    today = today.add_days(31).unwrap();
                    if loan.charge_off(today, 30).is_ok() {
                        books.post(&charge_off_legs(&loan).unwrap());
                        stored = loan;
                    }
                }
            }
            check(&loan, &books);
            // The stored loan caught up with the ledger's balances is the loan itself.
            if !matches!(loan.state, LoanState::ChargedOff { .. }) {
                let owed = eur(-books.credit_balance(&ChartAccount::LoansReceivable(loan.id)));
                let fee_owed = eur(books.credit_balance(&ChartAccount::LoanFeesUnearned(loan.id)));
                let mut seen = stored.caught_up(owed, fee_owed, today).unwrap();
                // A payoff is dated the day it is seen.
                if let (LoanState::PaidOff { .. }, LoanState::PaidOff { on }) = (seen.state, loan.state) {
                    seen.state = LoanState::PaidOff { on };
                }
                prop_assert_eq!(seen, loan);
            }
        }
    }
}

#[test]
fn a_missed_minimum_goes_past_due_is_caught_up_and_the_loan_paid_off_with_a_refill_withheld() {
    let (offer, mut loan) = fresh_loan(1);
    // Nothing sold, nothing available at the first due date: past due by the minimum.
    let outcome = loan.close_interval(day("2026-09-01"), eur(0)).unwrap();
    assert_eq!(outcome.unpaid, offer.minimum);
    assert_eq!(
        loan.state,
        LoanState::PastDue {
            since: day("2026-09-01")
        }
    );
    assert_eq!(
        loan.close_interval(day("2026-09-02"), eur(0)).unwrap_err(),
        LoanError::NotDue
    );
    // A sale's withholding catches up.
    let repaid = loan.withhold(eur(300_000), day("2026-09-10")).unwrap();
    assert_eq!(repaid.total().unwrap(), eur(60_000));
    assert_eq!(loan.state, LoanState::Active);
    assert!(loan.ever_past_due);
    // Paid early in full, no penalty: what remains, exactly.
    let left = loan.remaining().unwrap();
    assert_eq!(
        loan.repay_in_full(eur(1), day("2026-09-11")),
        Err(LoanError::InsufficientBalance)
    );
    let last = loan.repay_in_full(left, day("2026-09-11")).unwrap();
    assert_eq!(last.total().unwrap(), left);
    assert_eq!(loan.paid_advance, loan.advance);
    assert_eq!(loan.paid_fee, loan.fee);
    assert_eq!(
        loan.state,
        LoanState::PaidOff {
            on: day("2026-09-11")
        }
    );
    assert!(!loan.refill_eligible().unwrap());
    assert_eq!(
        loan.withhold(eur(10_000), day("2026-09-12"))
            .unwrap()
            .total()
            .unwrap(),
        eur(0)
    );
}

#[test]
fn a_loan_past_due_long_enough_is_charged_off_for_its_unpaid_advance() {
    let (_, mut loan) = fresh_loan(2);
    loan.withhold(eur(100_000), day("2026-07-10")).unwrap();
    assert_eq!(
        loan.charge_off(day("2026-07-11"), 30),
        Err(LoanError::NotChargeable)
    );
    loan.close_interval(day("2026-09-01"), eur(0)).unwrap();
    assert_eq!(
        loan.charge_off(day("2026-09-30"), 30),
        Err(LoanError::NotChargeable)
    );
    let written_off = loan.charge_off(day("2026-10-01"), 30).unwrap();
    assert_eq!(
        written_off,
        loan.advance.checked_sub(loan.paid_advance).unwrap()
    );
    assert_eq!(
        loan.state,
        LoanState::ChargedOff {
            on: day("2026-10-01")
        }
    );
    assert_eq!(
        loan.withhold(eur(10_000), day("2026-10-02"))
            .unwrap()
            .total()
            .unwrap(),
        eur(0)
    );
}

#[test]
fn a_loan_three_quarters_repaid_on_time_may_be_refilled() {
    let (_, mut loan) = fresh_loan(3);
    let total = loan.total().unwrap().minor();
    while loan.paid().unwrap().minor() * 4 < total * 3 {
        assert!(!loan.refill_eligible().unwrap());
        loan.withhold(eur(100_000), day("2026-07-10")).unwrap();
    }
    assert!(loan.refill_eligible().unwrap());
}
