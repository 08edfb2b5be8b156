//! The payment state machine: what a provider's notification, or a lapsed reservation, does
//! to a payment and its checkout. Pure: the store persists the change these name.

use crate::orders::{CheckoutState, PaymentState, RefundId};
use crate::store::PaymentEvent;

/// What a payment outcome changes, decided by [`payment_change`] from the payment's and its
/// checkout's state; the store persists exactly this change.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PaymentChange {
    /// The payment is already past this outcome (a late expiry notice after a capture, a
    /// capture seen before, a chargeback of a payment never captured): nothing changes.
    Nothing,
    /// A card authorisation: the payment waits for its capture.
    Authorise,
    /// Money captured for a live checkout: the checkout is paid, its stock consumed, digital
    /// goods delivered, and the capture queued for the ledger.
    Capture,
    /// Money captured after the checkout was cancelled (its reservation lapsed, or the
    /// payment was withdrawn): the payment is recorded as captured and posted to the
    /// captured-but-unfulfilled account, every line is refunded in full automatically, and
    /// the orders stay cancelled. Captured money is never dropped.
    CaptureLate,
    /// Refused, cancelled or expired before any capture: the checkout is cancelled and its
    /// stock released.
    Fail(PaymentState),
    /// The provider confirmed a refund: it is queued for the ledger.
    ConfirmRefund(RefundId),
    /// The provider could not refund: the amount is refundable again.
    FailRefund(RefundId),
    /// The buyer's bank took a captured payment back.
    Chargeback,
}

/// The payment transition rule: what `event` does to a payment in state `payment` whose
/// checkout is in state `checkout`.
pub fn payment_change(
    payment: PaymentState,
    checkout: CheckoutState,
    event: &PaymentEvent,
) -> PaymentChange {
    match event {
        PaymentEvent::Authorised if payment == PaymentState::Pending => PaymentChange::Authorise,
        PaymentEvent::Authorised => PaymentChange::Nothing,
        PaymentEvent::Captured => match payment {
            PaymentState::Captured => PaymentChange::Nothing,
            PaymentState::Pending | PaymentState::Authorised
                if checkout != CheckoutState::Cancelled =>
            {
                PaymentChange::Capture
            }
            // The provider has the buyer's money for a checkout Bazaar gave up on.
            _ => PaymentChange::CaptureLate,
        },
        PaymentEvent::Failed(state) if !payment.is_final() => PaymentChange::Fail(*state),
        PaymentEvent::Failed(_) => PaymentChange::Nothing,
        PaymentEvent::RefundSucceeded(refund) => PaymentChange::ConfirmRefund(*refund),
        PaymentEvent::RefundFailed(refund) => PaymentChange::FailRefund(*refund),
        PaymentEvent::Chargeback if payment == PaymentState::Captured => PaymentChange::Chargeback,
        PaymentEvent::Chargeback => PaymentChange::Nothing,
    }
}

impl PaymentChange {
    /// The payment's and its checkout's states after this change: what the store writes.
    pub fn states_after(
        self,
        payment: PaymentState,
        checkout: CheckoutState,
    ) -> (PaymentState, CheckoutState) {
        match self {
            Self::Nothing | Self::ConfirmRefund(_) | Self::FailRefund(_) | Self::Chargeback => {
                (payment, checkout)
            }
            Self::Authorise => (PaymentState::Authorised, checkout),
            Self::Capture => (PaymentState::Captured, CheckoutState::Paid),
            // The orders stay cancelled; the money is held and refunded, never delivered.
            Self::CaptureLate => (PaymentState::Captured, checkout),
            Self::Fail(state) => (state, CheckoutState::Cancelled),
        }
    }
}

/// A checkout's reservation lapsed before it was paid: the checkout is cancelled and a
/// payment still waiting is withdrawn (cancelled at the provider, whatever it answers, since
/// a capture that arrives later is a [`PaymentChange::CaptureLate`]). `None` when the
/// checkout is already paid or cancelled.
pub fn expiry_states(
    payment: Option<PaymentState>,
    checkout: CheckoutState,
) -> Option<(Option<PaymentState>, CheckoutState)> {
    match checkout {
        CheckoutState::Open | CheckoutState::PaymentPending => Some((
            payment.map(|state| {
                if state.is_final() {
                    state
                } else {
                    PaymentState::Cancelled
                }
            }),
            CheckoutState::Cancelled,
        )),
        CheckoutState::Paid | CheckoutState::Cancelled => None,
    }
}
