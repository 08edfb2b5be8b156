//! The payouts store port: what an implementation MUST do.

use std::future::Future;

use bazaar_ledger::Timestamp;

use super::{BankAccount, BankAccountId, NewBankAccount};
use crate::chart::SellerId;

/// Why the payouts store refused or failed.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PayoutStoreError {
    /// Nothing with that id belongs to the seller (whether or not it exists for another).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The id was used before for a different request.
    #[error("the id was used before for a different request")]
    IdReused,
    /// The seller has [`BANK_ACCOUNTS_MAX`](super::BANK_ACCOUNTS_MAX) accounts already.
    #[error("a seller may have at most {} bank accounts", super::BANK_ACCOUNTS_MAX)]
    TooManyAccounts,
    /// The account is not waiting for verification (verified already, or errored).
    #[error("the bank account is not waiting for verification")]
    NotVerifiable,
    /// The database could not be reached; the call may be retried.
    #[error("the payouts store is unavailable")]
    Unavailable,
    /// Stored data does not read back, or a bug.
    #[error("internal error")]
    Internal,
}

impl PayoutStoreError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::IdReused => "idempotency_key_reused",
            Self::TooManyAccounts => "too_many_bank_accounts",
            Self::NotVerifiable => "bank_account_not_verifiable",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

/// How a verification answer went.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Verification {
    /// The amounts matched: the account is verified.
    Verified(BankAccount),
    /// They did not; `attempts_left` more answers are allowed (none: the account is errored).
    Wrong {
        /// The account after the wrong answer.
        account: BankAccount,
        /// Answers still allowed.
        attempts_left: u32,
    },
}

/// Where payouts, and the bank accounts they go to, are kept.
///
/// Every implementation MUST:
/// - keep bank details and micro-deposit amounts sealed (encrypted, bound to the account id)
///   and never return, log or index them in the clear; answers carry the masked form only;
/// - scope every call to the seller given: another seller's account answers `NotFound`;
/// - make `add_bank_account` idempotent by id (the same request answers the account as first
///   added; a different one under the same id is `IdReused`) and refuse a seller's account
///   beyond [`BANK_ACCOUNTS_MAX`](super::BANK_ACCOUNTS_MAX) atomically with the insert;
/// - decide `verify_bank_account` under a lock on the account, counting a wrong answer and
///   marking the account errored at [`VERIFY_ATTEMPTS_MAX`](super::VERIFY_ATTEMPTS_MAX).
pub trait PayoutStore: Send + Sync {
    /// Adds a bank account, unverified.
    fn add_bank_account(
        &self,
        account: NewBankAccount,
        now: Timestamp,
    ) -> impl Future<Output = Result<BankAccount, PayoutStoreError>> + Send;

    /// A seller's bank accounts, oldest first.
    fn bank_accounts(
        &self,
        seller: SellerId,
    ) -> impl Future<Output = Result<Vec<BankAccount>, PayoutStoreError>> + Send;

    /// Checks the seller's answer (two amounts in minor units of the account's currency) to
    /// an unverified account's micro-deposits.
    fn verify_bank_account(
        &self,
        seller: SellerId,
        account: BankAccountId,
        given: [i64; 2],
        now: Timestamp,
    ) -> impl Future<Output = Result<Verification, PayoutStoreError>> + Send;

    /// Removes a bank account; its sealed details are deleted with it.
    fn remove_bank_account(
        &self,
        seller: SellerId,
        account: BankAccountId,
    ) -> impl Future<Output = Result<(), PayoutStoreError>> + Send;
}
