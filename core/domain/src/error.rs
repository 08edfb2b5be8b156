//! The commerce layer's error type: one enum, a stable code per variant, safe messages.

use bazaar_money::{Currency, MoneyError};

use crate::catalog::SkuId;
use crate::fx::FxError;
use crate::payments::{NotificationError, ProviderError};

/// Why a commerce operation did not happen. Messages are safe to show a client; causes of
/// `Unavailable` and `Internal` go to the logs where they are raised, not into the message.
/// A failed operation changes nothing (the store's transactions are all-or-nothing).
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum CommerceError {
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("unknown SKU {0}")]
    UnknownSku(SkuId),
    #[error("SKU {sku} has no price in {currency} and none that can be converted")]
    NoPrice { sku: SkuId, currency: Currency },
    #[error("only {available} of SKU {sku} left, {requested} requested")]
    OutOfStock {
        sku: SkuId,
        requested: u32,
        available: u32,
    },
    #[error("this idempotency key was used for a different request")]
    IdempotencyKeyReused,
    #[error("the stock reservation for this checkout has expired; check out again")]
    ReservationExpired,
    #[error("the payment method is not offered for this country, currency and amount")]
    PaymentMethodNotAvailable,
    #[error("not allowed in the current state: {0}")]
    InvalidState(&'static str),
    #[error("the refund exceeds what is left to refund ({remaining_minor} minor units)")]
    RefundExceedsRemaining { remaining_minor: i64 },
    #[error("this product was already reviewed for this order")]
    AlreadyReviewed,
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error(transparent)]
    Fx(#[from] FxError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Notification(#[from] NotificationError),
    /// A posting has more legs than one linked ledger batch may hold. A posting is never
    /// split: its parts would not apply all-or-nothing.
    #[error("a posting of {legs} legs is larger than one ledger batch ({max} legs)")]
    PostingTooLarge { legs: usize, max: usize },
    /// The ledger refused a posting; `code` is the ledger's result code.
    #[error("the ledger refused the posting: {code}")]
    LedgerRejected { code: &'static str },
    /// A backing service did not answer; the operation may be retried with the same
    /// idempotency key.
    #[error("a backing service is unavailable; retry later")]
    Unavailable,
    /// A bug or corrupted data; logged where it happened.
    #[error("internal error")]
    Internal,
}

impl CommerceError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidInput(_) => "invalid_input",
            Self::NotFound(_) => "not_found",
            Self::UnknownSku(_) => "sku_unknown",
            Self::NoPrice { .. } => "price_unavailable",
            Self::OutOfStock { .. } => "out_of_stock",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::ReservationExpired => "reservation_expired",
            Self::PaymentMethodNotAvailable => "payment_method_not_available",
            Self::InvalidState(_) => "invalid_state",
            Self::RefundExceedsRemaining { .. } => "refund_exceeds_remaining",
            Self::AlreadyReviewed => "already_reviewed",
            Self::Money(error) => error.code(),
            Self::Fx(error) => error.code(),
            Self::Provider(ProviderError::MethodNotAvailable) => "payment_method_not_available",
            Self::Provider(error) => error.code(),
            Self::Notification(error) => error.code(),
            Self::PostingTooLarge { .. } => "posting_too_large",
            Self::LedgerRejected { .. } => "ledger_rejected",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal_error",
        }
    }
}
