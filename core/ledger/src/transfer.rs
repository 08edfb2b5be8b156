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
    pub kind: RequestKind,
    pub metadata: Metadata,
}

/// The five things a transfer can do.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum RequestKind {
    /// Moves `amount` from the debit to the credit account at once.
    Direct {
        debit_account_id: AccountId,
        credit_account_id: AccountId,
        amount: Money,
    },
    /// Reserves `amount` on both accounts until it is posted, voided, or expires
    /// `timeout_secs` after it was created.
    Pending {
        debit_account_id: AccountId,
        credit_account_id: AccountId,
        amount: Money,
        timeout_secs: u32,
    },
    /// Posts `amount` (at most the reserved amount) of an open pending transfer; any
    /// remainder is released. A pending transfer is resolved once.
    PostPending {
        pending_id: TransferId,
        amount: Money,
    },
    /// Releases the whole reservation of an open pending transfer.
    VoidPending { pending_id: TransferId },
    /// Moves `amount` back from the original's credit account to its debit account. The
    /// reversals of one transfer add up to at most its amount.
    Reverse {
        original_id: TransferId,
        amount: Money,
    },
}

/// A transfer as the ledger stores it, forever unchanged.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Transfer {
    pub id: TransferId,
    pub kind: TransferKind,
    pub debit_account_id: AccountId,
    pub credit_account_id: AccountId,
    /// For a post, the amount posted; for a void, the amount released.
    pub amount: Money,
    pub timestamp: Timestamp,
    pub metadata: Metadata,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TransferKind {
    Direct,
    Pending { timeout_secs: u32 },
    PostPending { pending_id: TransferId },
    VoidPending { pending_id: TransferId },
    Reversal { original_id: TransferId },
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
    Open,
    Posted { by: TransferId, amount: i64 },
    Voided { by: TransferId },
    Expired { at: Timestamp },
}

/// What a successful leg returns, the same on every retry.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Receipt {
    pub id: TransferId,
    pub timestamp: Timestamp,
}

/// Why a batch was refused as a whole before any leg was looked at.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
pub enum BatchError {
    #[error("the batch has no transfers")]
    Empty,
    #[error("the batch has {legs} transfers, more than the {max} allowed")]
    TooLarge { legs: usize, max: usize },
    #[error("transfer {index} ({id}) was rejected: {error}")]
    Rejected {
        index: usize,
        id: TransferId,
        error: TransferError,
    },
}

impl BatchError {
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
    #[error("a transfer with this id exists with a different debit account")]
    ExistsWithDifferentDebitAccount,
    #[error("a transfer with this id exists with a different credit account")]
    ExistsWithDifferentCreditAccount,
    #[error("a transfer with this id exists with a different amount")]
    ExistsWithDifferentAmount,
    #[error("a transfer with this id exists with a different currency")]
    ExistsWithDifferentCurrency,
    #[error("a transfer with this id exists with a different timeout")]
    ExistsWithDifferentTimeout,
    #[error("a transfer with this id exists for a different pending transfer")]
    ExistsWithDifferentPendingTransfer,
    #[error("a transfer with this id exists for a different original transfer")]
    ExistsWithDifferentOriginalTransfer,
    #[error("a transfer with this id exists with different metadata")]
    ExistsWithDifferentMetadata,
    #[error("amount must be positive")]
    AmountMustBePositive,
    #[error("debit and credit account must differ")]
    AccountsMustBeDifferent,
    #[error("pending timeout must be positive")]
    TimeoutMustBePositive,
    #[error("pending timeout exceeds the maximum")]
    TimeoutExceedsMaximum,
    #[error("metadata has too many entries, or a key or value that is too long or malformed")]
    MetadataInvalid,
    #[error("debit account not found")]
    DebitAccountNotFound,
    #[error("credit account not found")]
    CreditAccountNotFound,
    #[error("the debit account holds another currency")]
    DebitAccountCurrencyMismatch,
    #[error("the credit account holds another currency")]
    CreditAccountCurrencyMismatch,
    #[error("the amount's currency differs from the referenced transfer's")]
    ReferencedTransferCurrencyMismatch,
    #[error("pending transfer not found")]
    PendingTransferNotFound,
    #[error("the referenced transfer is not a pending transfer")]
    PendingTransferNotPending,
    #[error("the pending transfer was already posted")]
    PendingTransferAlreadyPosted,
    #[error("the pending transfer was already voided")]
    PendingTransferAlreadyVoided,
    #[error("the pending transfer has expired")]
    PendingTransferExpired,
    #[error("the amount exceeds the pending transfer's amount")]
    ExceedsPendingTransferAmount,
    #[error("original transfer not found")]
    OriginalTransferNotFound,
    #[error("only direct transfers, posts and reversals can be reversed")]
    OriginalTransferNotReversible,
    #[error("the amount exceeds what is left to reverse of the original transfer")]
    ExceedsReversibleAmount,
    #[error("the debit account's debits would exceed its credits")]
    ExceedsCredits,
    #[error("the credit account's credits would exceed its debits")]
    ExceedsDebits,
    #[error("the debit account's pending debits would overflow")]
    OverflowsDebitsPending,
    #[error("the debit account's posted debits would overflow")]
    OverflowsDebitsPosted,
    #[error("the credit account's pending credits would overflow")]
    OverflowsCreditsPending,
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
