//! The tax store port: sellers' registrations and the remittances posted.

use std::future::Future;

use bazaar_ledger::Timestamp;
use bazaar_money::Money;

use crate::chart::{Jurisdiction, SellerId};
use crate::tax::{Area, TaxRegistration};

/// How many registrations one seller may keep.
pub const REGISTRATIONS_MAX: usize = 50;

/// Why the tax store refused or failed.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum TaxStoreError {
    /// The seller does not exist.
    #[error("seller not found")]
    UnknownSeller,
    /// The seller has [`REGISTRATIONS_MAX`] registrations already.
    #[error("a seller may keep at most {REGISTRATIONS_MAX} tax registrations")]
    TooManyRegistrations,
    /// The database could not be reached; the call may be retried.
    #[error("the tax store is unavailable")]
    Unavailable,
    /// A stored row does not read.
    #[error("the tax store holds a row it cannot read")]
    Corrupt,
}

impl TaxStoreError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownSeller => "not_found",
            Self::TooManyRegistrations => "too_many_registrations",
            Self::Unavailable => "unavailable",
            Self::Corrupt => "internal",
        }
    }
}

/// One remittance: what was paid from the bank to one authority for one period.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Remittance {
    /// The `tax_payable` account's owner (`IT-OSS`, `IN-TCS-IGST`).
    pub jurisdiction: Jurisdiction,
    /// The period, as `YYYY-MM` or `YYYY-Qn`.
    pub period: String,
    /// What was paid, in the account's currency; negative when the authority owed money
    /// back (refunds exceeded the period's tax).
    pub amount: Money,
    /// The ledger's timestamp of the posting.
    pub posted_at: Timestamp,
}

/// The tax store. An implementation MUST:
/// - keep at most one registration per seller and area, replacing the number when the same
///   area is registered again, and refuse a new area beyond [`REGISTRATIONS_MAX`];
/// - keep at most one remittance per jurisdiction, currency and period: recording one that
///   exists leaves it as it is.
pub trait TaxStore: Send + Sync {
    /// Stores `registration` for `seller`.
    fn put_registration(
        &self,
        seller: SellerId,
        registration: &TaxRegistration,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), TaxStoreError>> + Send;

    /// Removes the seller's registration in `area`; whether there was one.
    fn remove_registration(
        &self,
        seller: SellerId,
        area: Area,
    ) -> impl Future<Output = Result<bool, TaxStoreError>> + Send;

    /// The seller's registrations, by area.
    fn registrations(
        &self,
        seller: SellerId,
    ) -> impl Future<Output = Result<Vec<TaxRegistration>, TaxStoreError>> + Send;

    /// Records a remittance posted to the ledger.
    fn record_remittance(
        &self,
        remittance: &Remittance,
    ) -> impl Future<Output = Result<(), TaxStoreError>> + Send;

    /// Every remittance of the jurisdiction's payable in the amount's currency, oldest first.
    fn remittances(
        &self,
        jurisdiction: &Jurisdiction,
        currency: bazaar_money::Currency,
    ) -> impl Future<Output = Result<Vec<Remittance>, TaxStoreError>> + Send;
}
