//! The lending store port: what an implementation MUST do.

use std::future::Future;

use bazaar_ledger::Timestamp;
use bazaar_money::Money;

use super::{Loan, LoanId, Offer, OfferId};
use crate::chart::SellerId;
use crate::events::EventType;

/// An event a lending step writes to the outbox with the change it belongs to.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LoanEvent {
    /// `loan.offered`, `loan.accepted`, ...
    pub event_type: EventType,
    /// Names this occurrence among the loan's events of its type (empty for those that
    /// happen once): the event's id derives from the loan, the type and the key, so writing
    /// it again is a no-op.
    pub key: String,
    /// The amount the event moved (a repayment, a write-off), if any.
    pub amount: Option<Money>,
}

impl LoanEvent {
    /// An event that happens once per loan (or offer).
    pub fn once(event_type: EventType) -> Self {
        Self {
            event_type,
            key: String::new(),
            amount: None,
        }
    }
}

/// Why the lending store refused or failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum LendingStoreError {
    /// The database could not be reached; the call may be retried.
    #[error("the lending store is unavailable")]
    Unavailable,
    /// A stored row does not read back.
    #[error("the lending store holds a row it cannot read")]
    Corrupt,
}

impl LendingStoreError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::Corrupt => "internal",
        }
    }
}

/// An offer as stored, with its id.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct StoredOffer {
    /// Derived from the seller, the currency and the day.
    pub id: OfferId,
    /// The terms.
    pub offer: Offer,
    /// The loan that accepted it, if one did.
    pub loan: Option<LoanId>,
}

/// The lending store. An implementation MUST:
/// - keep one offer per id: saving an id that exists returns the stored offer unchanged and
///   writes no event;
/// - keep one loan per offer: opening a loan for an offer that has one returns that loan
///   unchanged, and marks the offer accepted in the same transaction;
/// - write the events it is given to the outbox in the transaction of the change they
///   describe, with the seller's id, each at most once (by loan, type and key);
/// - save a loan only over the loan it was read as (`before`), answering `false` and
///   changing nothing when the stored loan is another;
/// - return a seller's offers and loans only to calls that name that seller.
pub trait LendingStore: Send + Sync {
    /// Stores `offer` under `id`, or returns the one stored there.
    fn save_offer(
        &self,
        id: OfferId,
        offer: &Offer,
        events: &[LoanEvent],
        now: Timestamp,
    ) -> impl Future<Output = Result<StoredOffer, LendingStoreError>> + Send;

    /// The seller's offer with this id.
    fn offer(
        &self,
        seller: SellerId,
        id: OfferId,
    ) -> impl Future<Output = Result<Option<StoredOffer>, LendingStoreError>> + Send;

    /// Stores the loan an offer opened, or returns the one it opened before.
    fn open_loan(
        &self,
        offer: OfferId,
        loan: &Loan,
        events: &[LoanEvent],
        now: Timestamp,
    ) -> impl Future<Output = Result<Loan, LendingStoreError>> + Send;

    /// Replaces the loan stored as `before` by `after`, with its events; `false` when the
    /// stored loan is no longer `before` (another worker moved it first).
    fn save_loan(
        &self,
        before: &Loan,
        after: &Loan,
        events: &[LoanEvent],
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, LendingStoreError>> + Send;

    /// The seller's loans, newest first.
    fn loans_of(
        &self,
        seller: SellerId,
    ) -> impl Future<Output = Result<Vec<Loan>, LendingStoreError>> + Send;

    /// Up to `limit` loans of every seller in id order after `after`: the portfolio, a page
    /// at a time.
    fn loans(
        &self,
        after: Option<LoanId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Loan>, LendingStoreError>> + Send;
}
