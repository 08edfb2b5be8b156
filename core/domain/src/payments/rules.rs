//! The payment state machine: what a provider's notification, or a lapsed reservation, does
//! to a payment and its checkout. Pure: the store persists the change these name.

use bazaar_ledger::Timestamp;

use super::{Action, PaymentStatus};
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

/// Extra time a reservation is held past a pending payment's own expiry, so a voucher paid
/// at the last minute still finds its stock.
pub const RESERVATION_GRACE_SECS: u32 = 15 * 60;

/// What a provider's synchronous answer to an authorisation says happened, as the event the
/// state machine applies: `None` while the buyer must act or the provider has not decided.
/// An authorisation is [`PaymentEvent::Authorised`]; the caller captures it next.
pub fn event_of_answer(status: &PaymentStatus) -> Option<PaymentEvent> {
    match status {
        PaymentStatus::Authorised => Some(PaymentEvent::Authorised),
        PaymentStatus::Captured { .. } => Some(PaymentEvent::Captured),
        PaymentStatus::Refused { .. } => Some(PaymentEvent::Failed(PaymentState::Refused)),
        PaymentStatus::Cancelled => Some(PaymentEvent::Failed(PaymentState::Cancelled)),
        PaymentStatus::Expired => Some(PaymentEvent::Failed(PaymentState::Expired)),
        PaymentStatus::ActionRequired(_) | PaymentStatus::Pending => None,
    }
}

/// How long a checkout's stock stays reserved once the provider answered: a voucher or QR
/// code keeps it until the code expires plus [`RESERVATION_GRACE_SECS`] (the buyer may pay at
/// the last minute and the notification take a while); anything else keeps the checkout's
/// own expiry.
pub fn reservation_until(status: &PaymentStatus, checkout_expires_at: Timestamp) -> Timestamp {
    match status {
        PaymentStatus::ActionRequired(
            Action::Voucher { expires_at, .. } | Action::QrCode { expires_at, .. },
        ) => expires_at.saturating_add_secs(RESERVATION_GRACE_SECS),
        _ => checkout_expires_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_events_and_only_decided_ones() {
        let captured = PaymentStatus::Captured {
            amount: bazaar_money::Money::from_minor(100, bazaar_money::Currency::EUR),
        };
        assert_eq!(event_of_answer(&captured), Some(PaymentEvent::Captured));
        assert_eq!(
            event_of_answer(&PaymentStatus::Authorised),
            Some(PaymentEvent::Authorised)
        );
        assert_eq!(
            event_of_answer(&PaymentStatus::Expired),
            Some(PaymentEvent::Failed(PaymentState::Expired))
        );
        assert_eq!(event_of_answer(&PaymentStatus::Pending), None);
    }

    #[test]
    fn vouchers_and_qr_codes_hold_stock_past_their_expiry() {
        let checkout_expires = Timestamp::from_micros(1_000_000);
        let voucher_expires = Timestamp::from_micros(9_000_000);
        let voucher = PaymentStatus::ActionRequired(Action::Voucher {
            reference: "1234".to_owned(),
            expires_at: voucher_expires,
        });
        assert_eq!(
            reservation_until(&voucher, checkout_expires),
            voucher_expires.saturating_add_secs(RESERVATION_GRACE_SECS)
        );
        assert_eq!(
            reservation_until(&PaymentStatus::Pending, checkout_expires),
            checkout_expires
        );
    }
}
