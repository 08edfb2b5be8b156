//! The lending store port: what an implementation MUST do.

use std::future::Future;

use bazaar_ledger::Timestamp;

use super::{Loan, LoanId, Offer, OfferId};
use crate::chart::SellerId;

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
/// - keep one offer per id: saving an id that exists returns the stored offer unchanged;
/// - keep one loan per offer: opening a loan for an offer that has one returns that loan
///   unchanged, and marks the offer accepted in the same transaction;
/// - return a seller's offers and loans only to calls that name that seller.
pub trait LendingStore: Send + Sync {
    /// Stores `offer` under `id`, or returns the one stored there.
    fn save_offer(
        &self,
        id: OfferId,
        offer: &Offer,
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
        now: Timestamp,
    ) -> impl Future<Output = Result<Loan, LendingStoreError>> + Send;

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
