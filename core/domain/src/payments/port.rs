//! The payment-provider port: what every connector MUST do.

use std::future::Future;

use bazaar_money::Money;

use super::{
    AuthorizeRequest, MethodOffer, Notification, NotificationError, ProviderError, ProviderPayment,
    ProviderRefund, PspReference,
};
use crate::Country;
use crate::chart::ProviderName;

/// A payment provider connector. Adding a provider is implementing this trait.
///
/// Every implementation MUST:
/// - answer `payment_methods` with the methods a buyer in `country` may use for `amount`,
///   in the provider's display order, and refuse `authorize` for any other with
///   `MethodNotAvailable`;
/// - treat `idempotency_key` as the provider does: the same key with the same request
///   returns the first answer and does nothing twice;
/// - return `Unavailable` only when the outcome is unknown, never for a refusal (a declined
///   card is `Ok` with [`PaymentStatus::Refused`](super::PaymentStatus::Refused));
/// - authenticate every notification in `parse_notifications` (the sandbox and most
///   providers use an HMAC over the body) and refuse the whole body if any part fails;
///   deliver each event with a stable `event_id`, so a repeated delivery can be recognised.
pub trait PaymentProvider: Send + Sync {
    /// The provider's short name, stored with every payment it takes (`sandbox`, ...).
    fn name(&self) -> &ProviderName;

    /// The methods a buyer in `country` may pay `amount` with, in display order.
    fn payment_methods(&self, country: &Country, amount: Money) -> Vec<MethodOffer>;

    /// Starts a payment: answers the provider's reference and what the buyer must do next
    /// (nothing, a 3-D Secure challenge, a redirect, a voucher or a QR code). A refusal is
    /// `Ok` with a refused status; the same idempotency key with the same request answers the
    /// first answer again.
    fn authorize(
        &self,
        request: AuthorizeRequest,
    ) -> impl Future<Output = Result<ProviderPayment, ProviderError>> + Send;

    /// Captures `amount` (at most the authorised amount) of an authorised card payment.
    fn capture(
        &self,
        psp_reference: &PspReference,
        amount: Money,
        idempotency_key: &str,
    ) -> impl Future<Output = Result<ProviderPayment, ProviderError>> + Send;

    /// Cancels a payment that is not captured: voids an authorisation, or withdraws a
    /// voucher, QR code or redirect the buyer has not paid.
    fn cancel(
        &self,
        psp_reference: &PspReference,
        idempotency_key: &str,
    ) -> impl Future<Output = Result<ProviderPayment, ProviderError>> + Send;

    /// Asks for `amount` of a captured payment back to the buyer.
    fn refund(
        &self,
        psp_reference: &PspReference,
        amount: Money,
        idempotency_key: &str,
    ) -> impl Future<Output = Result<ProviderRefund, ProviderError>> + Send;

    /// Where a payment stands at the provider now, for reconciling one whose notification
    /// never came.
    fn status(
        &self,
        psp_reference: &PspReference,
    ) -> impl Future<Output = Result<ProviderPayment, ProviderError>> + Send;

    /// Authenticates and reads a notification request: `signature` is the value of the
    /// provider's signature header, `body` the raw request body.
    fn parse_notifications(
        &self,
        signature: &str,
        body: &[u8],
    ) -> Result<Vec<Notification>, NotificationError>;
}
