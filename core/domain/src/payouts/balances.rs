//! A seller's balances by type, read from the ledger.

use bazaar_ledger::Balance;
use bazaar_money::{Currency, Money};

use super::PayoutError;

/// A seller's money in one currency, by what can be done with it. Every figure but
/// `instant_available` is a ledger balance; `instant_available` is bounded by one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Balances {
    /// Released and free: what a payout may take now (`seller_available`, less what open
    /// payouts hold).
    pub available: Money,
    /// Captured, waiting for release (`seller_pending`).
    pub pending: Money,
    /// Held by the rolling reserve (`seller_reserve`).
    pub reserved: Money,
    /// The part of `available` an instant payout may take: released funds the provider has
    /// already settled from card payments, less instant payouts made from them.
    pub instant_available: Money,
    /// On its way to the seller's bank: held by payouts not yet paid, failed or canceled.
    pub in_transit: Money,
}

impl Balances {
    /// The balances from the seller's three ledger accounts in `currency` (credit-normal,
    /// so credits minus debits) and the instant-eligible amount the payouts store keeps.
    /// A balance outside `i64` means the ledger is corrupt and is refused.
    pub fn from_ledger(
        currency: Currency,
        available: &Balance,
        pending: &Balance,
        reserve: &Balance,
        instant_eligible: Money,
    ) -> Result<Self, PayoutError> {
        let money = |value: i128| {
            i64::try_from(value)
                .map(|minor| Money::from_minor(minor, currency))
                .map_err(|_| PayoutError::Money(bazaar_money::MoneyError::Overflow))
        };
        let free = money(available.available_credit())?;
        let instant = if instant_eligible.currency() != currency {
            return Err(PayoutError::CurrencyMismatch {
                expected: currency,
                found: instant_eligible.currency(),
            });
        } else {
            instant_eligible.minor().clamp(0, free.minor().max(0))
        };
        Ok(Self {
            available: free,
            pending: money(pending.available_credit())?,
            reserved: money(reserve.available_credit())?,
            instant_available: Money::from_minor(instant, currency),
            in_transit: money(i128::from(available.debits_pending))?,
        })
    }
}

/// What a payout may take: the available balance (less open holds), less what the seller
/// owes when refunds after release took the pending balance below zero; never below zero.
pub fn payable_of(
    currency: Currency,
    available: &Balance,
    pending: &Balance,
) -> Result<Money, PayoutError> {
    let overflow = || PayoutError::Money(bazaar_money::MoneyError::Overflow);
    let owed = pending.available_credit().min(0);
    let payable = available
        .available_credit()
        .checked_add(owed)
        .ok_or_else(overflow)?
        .max(0);
    Ok(Money::from_minor(
        i64::try_from(payable).map_err(|_| overflow())?,
        currency,
    ))
}
