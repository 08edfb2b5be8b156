use std::collections::BTreeMap;

use bazaar_money::Money;

use crate::{AccountId, Timestamp, TransferId};

/// The most legs one linked batch may have.
pub const BATCH_LEGS_MAX: usize = 256;
/// The longest a pending transfer may stay open: 400 days, longer than any card
/// authorisation or voucher validity.
pub const PENDING_TIMEOUT_SECS_MAX: u32 = 400 * 24 * 3600;
/// The most metadata entries a transfer may carry.
pub const METADATA_ENTRIES_MAX: usize = 16;
/// The longest metadata key, in bytes; keys are `[a-z][a-z0-9_.]*`.
pub const METADATA_KEY_LEN_MAX: usize = 40;
/// The longest metadata value, in bytes.
pub const METADATA_VALUE_LEN_MAX: usize = 256;

/// What a transfer is about: order, seller, payout, loan, tax jurisdiction, the FX rate
/// used, ... Keys and values are strings; the domain layer decides which keys it writes.
pub type Metadata = BTreeMap<String, String>;

/// A request to move money, one leg of a linked batch.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TransferRequest {
    /// Chosen by the client; the idempotency key.
    pub id: TransferId,
    /// What the transfer does, between which accounts, and for how much.
    pub kind: RequestKind,
    /// Stored with the transfer as sent, within the `METADATA_*` limits; a repeat of the
    /// request must carry the same metadata.
    pub metadata: Metadata,
}

/// The five things a transfer can do.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum RequestKind {
    /// Moves `amount` from the debit to the credit account at once.
    Direct {
        /// The account debited; it must hold the amount's currency.
        debit_account_id: AccountId,
        /// The account credited; it must differ from the debit account and hold the
        /// amount's currency.
        credit_account_id: AccountId,
        /// Positive, in the currency of both accounts.
        amount: Money,
    },
    /// Reserves `amount` on both accounts until it is posted, voided, or expires
    /// `timeout_secs` after it was created.
    Pending {
        /// The account whose pending debits hold the reservation; it must hold the amount's
        /// currency.
        debit_account_id: AccountId,
        /// The account whose pending credits hold the reservation; it must differ from the
        /// debit account and hold the amount's currency.
        credit_account_id: AccountId,
        /// The amount reserved: positive, in the currency of both accounts.
        amount: Money,
        /// Seconds from the transfer's timestamp until the reservation expires, from 1 to
        /// [`PENDING_TIMEOUT_SECS_MAX`].
        timeout_secs: u32,
    },
    /// Posts `amount` (at most the reserved amount) of an open pending transfer; any
    /// remainder is released. A pending transfer is resolved once.
    PostPending {
        /// The pending transfer to post; it may be a leg earlier in the same batch.
        pending_id: TransferId,
        /// Positive, in the pending transfer's currency, and at most its amount.
        amount: Money,
    },
    /// Releases the whole reservation of an open pending transfer.
    VoidPending {
        /// The pending transfer to void; it may be a leg earlier in the same batch.
        pending_id: TransferId,
    },
    /// Moves `amount` back from the original's credit account to its debit account. The
    /// reversals of one transfer add up to at most its amount.
    Reverse {
        /// The transfer to reverse: a direct transfer, a post or a reversal.
        original_id: TransferId,
        /// Positive, in the original's currency, and at most what is left to reverse of it.
        amount: Money,
    },
}

/// A transfer as the ledger stores it, forever unchanged.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Transfer {
    /// The id of the request that made it.
    pub id: TransferId,
    /// What it did, with the transfer it refers to, if any.
    pub kind: TransferKind,
    /// The account debited. For a post or void, the pending transfer's debit account; for a
    /// reversal, the original's credit account.
    pub debit_account_id: AccountId,
    /// The account credited. For a post or void, the pending transfer's credit account; for
    /// a reversal, the original's debit account.
    pub credit_account_id: AccountId,
    /// For a post, the amount posted; for a void, the amount released.
    pub amount: Money,
    /// When the ledger applied it; every leg of its batch has the same timestamp.
    pub timestamp: Timestamp,
    /// The request's metadata, as sent.
    pub metadata: Metadata,
}

/// What a stored transfer did: the [`RequestKind`] that made it, without the accounts and
/// amount, which the [`Transfer`] holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TransferKind {
    /// Moved the amount into posted balances at once.
    Direct,
    /// Reserved the amount in pending balances.
    Pending {
        /// Seconds from the transfer's timestamp until the reservation expires.
        timeout_secs: u32,
    },
    /// Posted part or all of a reservation and released the rest.
    PostPending {
        /// The pending transfer it resolved.
        pending_id: TransferId,
    },
    /// Released a whole reservation.
    VoidPending {
        /// The pending transfer it resolved.
        pending_id: TransferId,
    },
    /// Moved money back from the original's credit account to its debit account.
    Reversal {
        /// The transfer it reverses, in part or in full.
        original_id: TransferId,
    },
}

impl Transfer {
    /// When an open pending transfer stops being postable; `None` for other kinds.
    pub fn expires_at(&self) -> Option<Timestamp> {
        match self.kind {
            TransferKind::Pending { timeout_secs } => {
                Some(self.timestamp.saturating_add_secs(timeout_secs))
            }
            _ => None,
        }
    }

    /// The amount this transfer moved into posted balances (zero for pending and void
    /// transfers, which only reserve or release).
    pub fn posted_amount(&self) -> i64 {
        match self.kind {
            TransferKind::Direct
            | TransferKind::PostPending { .. }
            | TransferKind::Reversal { .. } => self.amount.minor(),
            TransferKind::Pending { .. } | TransferKind::VoidPending { .. } => 0,
        }
    }
}

/// Where a pending transfer stands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PendingState {
    /// The reservation is held. Past its timeout it can no longer be posted or voided, but
    /// it stays open, holding its funds, until expiry releases it.
    Open,
    /// Posted once, in part or in full; the rest of the reservation was released.
    Posted {
        /// The post that resolved it.
        by: TransferId,
        /// The amount posted, in minor units: positive and at most the reserved amount.
        amount: i64,
    },
    /// Voided: the whole reservation was released.
    Voided {
        /// The void that resolved it.
        by: TransferId,
    },
    /// Released by expiry after its timeout passed.
    Expired {
        /// The timestamp of the expiry run that released it, not the deadline itself.
        at: Timestamp,
    },
}

/// What a successful leg returns, the same on every retry.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Receipt {
    /// The leg's transfer id.
    pub id: TransferId,
    /// The timestamp of the batch that applied the leg; a retry returns the original one.
    pub timestamp: Timestamp,
}

/// Why a batch was refused as a whole before any leg was looked at.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
pub enum BatchError {
    /// The batch has no legs.
    #[error("the batch has no transfers")]
    Empty,
    /// The batch has more than [`BATCH_LEGS_MAX`] legs.
    #[error("the batch has {legs} transfers, more than the {max} allowed")]
    TooLarge {
        /// The number of legs in the batch.
        legs: usize,
        /// The most legs a batch may have: [`BATCH_LEGS_MAX`].
        max: usize,
    },
    /// A leg was rejected, so no leg of the batch was applied.
    #[error("transfer {index} ({id}) was rejected: {error}")]
    Rejected {
        /// The position of the first failing leg in the batch, from 0.
        index: usize,
        /// That leg's transfer id.
        id: TransferId,
        /// Why that leg was rejected.
        error: TransferError,
    },
}

impl BatchError {
    /// A stable, machine-readable code; for a rejected leg, its [`TransferError::code`].
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "batch_empty",
            Self::TooLarge { .. } => "batch_too_large",
            Self::Rejected { error, .. } => error.code(),
        }
    }
}

/// Why a transfer was rejected. A rejection never changes a balance. Every code except
/// those marked "not recorded" is remembered with the request: the same id then keeps
/// failing, with the same code for the same request and `IdAlreadyFailed` for another.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
pub enum TransferError {
    /// Not recorded.
    #[error("transfer id must not be nil")]
    IdMustNotBeNil,
    /// Not recorded.
    #[error("two transfers in the batch have the same id")]
    DuplicateIdInBatch,
    /// Not recorded: the id failed earlier with another request.
    #[error("a transfer with this id failed earlier")]
    IdAlreadyFailed,
    /// Not recorded (nor are the other `ExistsWith...`): the id belongs to a transfer made
    /// by a different request.
    #[error("a transfer with this id exists as a different kind of transfer")]
    ExistsWithDifferentKind,
    /// Not recorded: the id belongs to a transfer of the same kind with another debit
    /// account.
    #[error("a transfer with this id exists with a different debit account")]
    ExistsWithDifferentDebitAccount,
    /// Not recorded: the id belongs to a transfer of the same kind with another credit
    /// account.
    #[error("a transfer with this id exists with a different credit account")]
    ExistsWithDifferentCreditAccount,
    /// Not recorded: the id belongs to a transfer of the same kind with another number of
    /// minor units.
    #[error("a transfer with this id exists with a different amount")]
    ExistsWithDifferentAmount,
    /// Not recorded: the id belongs to a transfer of the same kind and number of minor
    /// units in another currency.
    #[error("a transfer with this id exists with a different currency")]
    ExistsWithDifferentCurrency,
    /// Not recorded: the id belongs to a pending transfer with another timeout.
    #[error("a transfer with this id exists with a different timeout")]
    ExistsWithDifferentTimeout,
    /// Not recorded: the id belongs to a post or void of another pending transfer.
    #[error("a transfer with this id exists for a different pending transfer")]
    ExistsWithDifferentPendingTransfer,
    /// Not recorded: the id belongs to a reversal of another transfer.
    #[error("a transfer with this id exists for a different original transfer")]
    ExistsWithDifferentOriginalTransfer,
    /// Not recorded: the id belongs to a transfer that matches the request in everything
    /// but its metadata.
    #[error("a transfer with this id exists with different metadata")]
    ExistsWithDifferentMetadata,
    /// The amount is zero or negative.
    #[error("amount must be positive")]
    AmountMustBePositive,
    /// A direct or pending transfer names the same account on both sides.
    #[error("debit and credit account must differ")]
    AccountsMustBeDifferent,
    /// A pending transfer has a timeout of 0 seconds.
    #[error("pending timeout must be positive")]
    TimeoutMustBePositive,
    /// A pending transfer's timeout is longer than [`PENDING_TIMEOUT_SECS_MAX`].
    #[error("pending timeout exceeds the maximum")]
    TimeoutExceedsMaximum,
    /// The metadata has more than [`METADATA_ENTRIES_MAX`] entries, a key that is longer
    /// than [`METADATA_KEY_LEN_MAX`] bytes or not `[a-z][a-z0-9_.]*`, or a value longer
    /// than [`METADATA_VALUE_LEN_MAX`] bytes.
    #[error("metadata has too many entries, or a key or value that is too long or malformed")]
    MetadataInvalid,
    /// No account has the debit account id.
    #[error("debit account not found")]
    DebitAccountNotFound,
    /// No account has the credit account id.
    #[error("credit account not found")]
    CreditAccountNotFound,
    /// The debit account's currency is not the amount's.
    #[error("the debit account holds another currency")]
    DebitAccountCurrencyMismatch,
    /// The credit account's currency is not the amount's.
    #[error("the credit account holds another currency")]
    CreditAccountCurrencyMismatch,
    /// A post's or reversal's amount is not in the currency of the pending or original
    /// transfer.
    #[error("the amount's currency differs from the referenced transfer's")]
    ReferencedTransferCurrencyMismatch,
    /// A post or void names a transfer id that neither the ledger nor an earlier leg of the
    /// batch has applied.
    #[error("pending transfer not found")]
    PendingTransferNotFound,
    /// A post or void names a transfer that is not a pending transfer.
    #[error("the referenced transfer is not a pending transfer")]
    PendingTransferNotPending,
    /// A post or void names a pending transfer that a post has already resolved.
    #[error("the pending transfer was already posted")]
    PendingTransferAlreadyPosted,
    /// A post or void names a pending transfer that a void has already resolved.
    #[error("the pending transfer was already voided")]
    PendingTransferAlreadyVoided,
    /// A post or void names a pending transfer whose timeout has passed at the batch's
    /// timestamp, whether or not expiry has released it yet.
    #[error("the pending transfer has expired")]
    PendingTransferExpired,
    /// A post's amount is larger than the pending transfer's.
    #[error("the amount exceeds the pending transfer's amount")]
    ExceedsPendingTransferAmount,
    /// A reversal names a transfer id that neither the ledger nor an earlier leg of the
    /// batch has applied.
    #[error("original transfer not found")]
    OriginalTransferNotFound,
    /// A reversal names a pending transfer or a void, which posted nothing.
    #[error("only direct transfers, posts and reversals can be reversed")]
    OriginalTransferNotReversible,
    /// A reversal's amount is larger than the original's posted amount minus what earlier
    /// reversals of it took back.
    #[error("the amount exceeds what is left to reverse of the original transfer")]
    ExceedsReversibleAmount,
    /// The debit account's [`BalanceConstraint`](crate::BalanceConstraint) refuses the new
    /// balance: its debits, pending ones included, would exceed its posted credits plus its
    /// overdraft.
    #[error("the debit account's debits would exceed its credits")]
    ExceedsCredits,
    /// The credit account's [`BalanceConstraint`](crate::BalanceConstraint) refuses the new
    /// balance: its credits, pending ones included, would exceed its posted debits plus its
    /// overdraft.
    #[error("the credit account's credits would exceed its debits")]
    ExceedsDebits,
    /// The debit account's pending debits would overflow `i64`, or a release would take out
    /// more than they hold.
    #[error("the debit account's pending debits would overflow")]
    OverflowsDebitsPending,
    /// The debit account's posted debits would exceed `i64::MAX`.
    #[error("the debit account's posted debits would overflow")]
    OverflowsDebitsPosted,
    /// The credit account's pending credits would overflow `i64`, or a release would take
    /// out more than they hold.
    #[error("the credit account's pending credits would overflow")]
    OverflowsCreditsPending,
    /// The credit account's posted credits would exceed `i64::MAX`.
    #[error("the credit account's posted credits would overflow")]
    OverflowsCreditsPosted,
}

impl TransferError {
    /// Every error, for lookups by code.
    pub const ALL: [TransferError; 37] = [
        Self::IdMustNotBeNil,
        Self::DuplicateIdInBatch,
        Self::IdAlreadyFailed,
        Self::ExistsWithDifferentKind,
        Self::ExistsWithDifferentDebitAccount,
        Self::ExistsWithDifferentCreditAccount,
        Self::ExistsWithDifferentAmount,
        Self::ExistsWithDifferentCurrency,
        Self::ExistsWithDifferentTimeout,
        Self::ExistsWithDifferentPendingTransfer,
        Self::ExistsWithDifferentOriginalTransfer,
        Self::ExistsWithDifferentMetadata,
        Self::AmountMustBePositive,
        Self::AccountsMustBeDifferent,
        Self::TimeoutMustBePositive,
        Self::TimeoutExceedsMaximum,
        Self::MetadataInvalid,
        Self::DebitAccountNotFound,
        Self::CreditAccountNotFound,
        Self::DebitAccountCurrencyMismatch,
        Self::CreditAccountCurrencyMismatch,
        Self::ReferencedTransferCurrencyMismatch,
        Self::PendingTransferNotFound,
        Self::PendingTransferNotPending,
        Self::PendingTransferAlreadyPosted,
        Self::PendingTransferAlreadyVoided,
        Self::PendingTransferExpired,
        Self::ExceedsPendingTransferAmount,
        Self::OriginalTransferNotFound,
        Self::OriginalTransferNotReversible,
        Self::ExceedsReversibleAmount,
        Self::ExceedsCredits,
        Self::ExceedsDebits,
        Self::OverflowsDebitsPending,
        Self::OverflowsDebitsPosted,
        Self::OverflowsCreditsPending,
        Self::OverflowsCreditsPosted,
    ];

    /// The error with this [`code`](Self::code), if any.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|error| error.code() == code)
    }

    /// A stable, machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::IdMustNotBeNil => "id_must_not_be_nil",
            Self::DuplicateIdInBatch => "duplicate_id_in_batch",
            Self::IdAlreadyFailed => "id_already_failed",
            Self::ExistsWithDifferentKind => "exists_with_different_kind",
            Self::ExistsWithDifferentDebitAccount => "exists_with_different_debit_account",
            Self::ExistsWithDifferentCreditAccount => "exists_with_different_credit_account",
            Self::ExistsWithDifferentAmount => "exists_with_different_amount",
            Self::ExistsWithDifferentCurrency => "exists_with_different_currency",
            Self::ExistsWithDifferentTimeout => "exists_with_different_timeout",
            Self::ExistsWithDifferentPendingTransfer => "exists_with_different_pending_transfer",
            Self::ExistsWithDifferentOriginalTransfer => "exists_with_different_original_transfer",
            Self::ExistsWithDifferentMetadata => "exists_with_different_metadata",
            Self::AmountMustBePositive => "amount_must_be_positive",
            Self::AccountsMustBeDifferent => "accounts_must_be_different",
            Self::TimeoutMustBePositive => "timeout_must_be_positive",
            Self::TimeoutExceedsMaximum => "timeout_exceeds_maximum",
            Self::MetadataInvalid => "metadata_invalid",
            Self::DebitAccountNotFound => "debit_account_not_found",
            Self::CreditAccountNotFound => "credit_account_not_found",
            Self::DebitAccountCurrencyMismatch => "debit_account_currency_mismatch",
            Self::CreditAccountCurrencyMismatch => "credit_account_currency_mismatch",
            Self::ReferencedTransferCurrencyMismatch => "referenced_transfer_currency_mismatch",
            Self::PendingTransferNotFound => "pending_transfer_not_found",
            Self::PendingTransferNotPending => "pending_transfer_not_pending",
            Self::PendingTransferAlreadyPosted => "pending_transfer_already_posted",
            Self::PendingTransferAlreadyVoided => "pending_transfer_already_voided",
            Self::PendingTransferExpired => "pending_transfer_expired",
            Self::ExceedsPendingTransferAmount => "exceeds_pending_transfer_amount",
            Self::OriginalTransferNotFound => "original_transfer_not_found",
            Self::OriginalTransferNotReversible => "original_transfer_not_reversible",
            Self::ExceedsReversibleAmount => "exceeds_reversible_amount",
            Self::ExceedsCredits => "exceeds_credits",
            Self::ExceedsDebits => "exceeds_debits",
            Self::OverflowsDebitsPending => "overflows_debits_pending",
            Self::OverflowsDebitsPosted => "overflows_debits_posted",
            Self::OverflowsCreditsPending => "overflows_credits_pending",
            Self::OverflowsCreditsPosted => "overflows_credits_posted",
        }
    }

    /// Whether the ledger remembers this failure under the transfer's id.
    pub fn is_recorded(self) -> bool {
        !matches!(
            self,
            Self::IdMustNotBeNil
                | Self::DuplicateIdInBatch
                | Self::IdAlreadyFailed
                | Self::ExistsWithDifferentKind
                | Self::ExistsWithDifferentDebitAccount
                | Self::ExistsWithDifferentCreditAccount
                | Self::ExistsWithDifferentAmount
                | Self::ExistsWithDifferentCurrency
                | Self::ExistsWithDifferentTimeout
                | Self::ExistsWithDifferentPendingTransfer
                | Self::ExistsWithDifferentOriginalTransfer
                | Self::ExistsWithDifferentMetadata
        )
    }
}

/// Checks the limits on a transfer's metadata.
pub(crate) fn metadata_is_valid(metadata: &Metadata) -> bool {
    metadata.len() <= METADATA_ENTRIES_MAX
        && metadata.iter().all(|(key, value)| {
            let mut bytes = key.bytes();
            key.len() <= METADATA_KEY_LEN_MAX
                && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
                && bytes
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
                && value.len() <= METADATA_VALUE_LEN_MAX
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_distinct_and_reads_back() {
        let mut codes = std::collections::HashSet::new();
        for error in TransferError::ALL {
            assert!(codes.insert(error.code()), "{error:?}");
            assert_eq!(TransferError::from_code(error.code()), Some(error));
        }
        assert_eq!(TransferError::from_code("no_such_code"), None);
    }
}
