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
    /// The request is malformed or out of bounds (an empty cart, a quantity above 100, a
    /// bad idempotency key, a price filter without a currency...); the message names the
    /// rule it broke. Fix the request: sent again unchanged, it fails again.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// The named thing (`seller`, `buyer`, `checkout`, `order`, `line`, `payment`,
    /// `refund`) does not exist, or belongs to another party: both are answered the same,
    /// so ids cannot be probed. Check the id.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A cart line names a SKU that does not exist. Remove the line, or refresh the product
    /// and choose an existing SKU.
    #[error("unknown SKU {0}")]
    UnknownSku(SkuId),
    /// A SKU has no price in the currency the buyer pays in, and none of its prices can be
    /// converted into it (no rate connects the currencies, or the conversion rounds to
    /// nothing). Check out in one of the SKU's listed currencies.
    #[error("SKU {sku} has no price in {currency} and none that can be converted")]
    NoPrice {
        /// The SKU without a usable price.
        sku: SkuId,
        /// The currency the buyer asked to pay in.
        currency: Currency,
    },
    /// A cart line asks for more units of a SKU than can still be reserved; the whole
    /// checkout is refused and nothing stays reserved. Ask for at most `available` units
    /// and check out again.
    #[error("only {available} of SKU {sku} left, {requested} requested")]
    OutOfStock {
        /// The SKU that is short.
        sku: SkuId,
        /// The units the cart line asked for, 1 to 100.
        requested: u32,
        /// The units that could still be reserved when the checkout was refused (on hand
        /// less held by other checkouts); may be 0.
        available: u32,
    },
    /// The idempotency key was used before, by the same party, for a different request
    /// (another cart, product or refund amount). A retry must repeat the request exactly; a
    /// new request needs a new key.
    #[error("this idempotency key was used for a different request")]
    IdempotencyKeyReused,
    /// The checkout's stock reservation lapsed (or the checkout was cancelled) before its
    /// payment was started. Check out again to reserve the stock anew.
    #[error("the stock reservation for this checkout has expired; check out again")]
    ReservationExpired,
    /// The chosen payment method is not offered for the checkout's country, currency and
    /// amount. Pay with one of the methods listed for the checkout.
    #[error("the payment method is not offered for this country, currency and amount")]
    PaymentMethodNotAvailable,
    /// The operation does not fit the current state of what it acts on (refunding a payment
    /// that was not captured, an order move the order's state does not allow, reviewing an
    /// order not delivered, settling a payment not captured); the message says which.
    /// Retrying does not help until the state changes.
    #[error("not allowed in the current state: {0}")]
    InvalidState(&'static str),
    /// A refund asks for more than is left of its line: the line's total less the refunds
    /// requested or succeeded so far. Ask for at most `remaining_minor`.
    #[error("the refund exceeds what is left to refund ({remaining_minor} minor units)")]
    RefundExceedsRemaining {
        /// What can still be refunded of the line, in minor units of the currency the buyer
        /// paid in; 0 once the line is fully refunded.
        remaining_minor: i64,
    },
    /// The buyer has already reviewed this product for this order; there is one review per
    /// order and product.
    #[error("this product was already reviewed for this order")]
    AlreadyReviewed,
    /// An amount is malformed, in the wrong currency or out of range; the code is the money
    /// error's own (e.g. `amount_too_many_decimals`).
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// An exchange rate could not be had or used; the code is the FX error's own (e.g.
    /// `fx_rate_stale` while the rates are too old, which a later refresh of the rates
    /// clears).
    #[error(transparent)]
    Fx(#[from] FxError),
    /// The payment provider refused the call or did not answer; the code is the provider
    /// error's own (`payment_provider_unavailable` may be retried with the same idempotency
    /// key).
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// A provider notification was refused (bad signature or malformed body); nothing in it
    /// was applied, and the provider delivers it again.
    #[error(transparent)]
    Notification(#[from] NotificationError),
    /// A posting has more legs than one linked ledger batch may hold. A posting is never
    /// split: its parts would not apply all-or-nothing.
    #[error("a posting of {legs} legs is larger than one ledger batch ({max} legs)")]
    PostingTooLarge {
        /// The legs (transfers) of the refused posting.
        legs: usize,
        /// The most one linked batch holds,
        /// [`BATCH_LEGS_MAX`](bazaar_ledger::BATCH_LEGS_MAX).
        max: usize,
    },
    /// The ledger refused a posting; `code` is the ledger's result code.
    #[error("the ledger refused the posting: {code}")]
    LedgerRejected {
        /// The ledger's result code, e.g. `exceeds_credits` when a seller's balance cannot
        /// cover its share of a refund; kept with the ledger intent that failed.
        code: &'static str,
    },
    /// A provider's settlement report was refused; nothing in it was posted.
    #[error(transparent)]
    Report(#[from] crate::payments::ReportError),
    /// A line cannot be taxed from what is known (a fact the rules need is missing, no rate
    /// covers the day): the checkout is refused rather than taxed at zero. The code is the
    /// tax error's own (e.g. `tax_input_missing`).
    #[error(transparent)]
    Tax(#[from] crate::tax::TaxError),
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
            Self::Report(error) => error.code(),
            Self::Tax(error) => error.code(),
            Self::Unavailable => "unavailable",
            Self::Internal => "internal_error",
        }
    }
}
