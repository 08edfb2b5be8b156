//! The sandbox's state behind its lock: payments, notifications, idempotency, the clock.

use super::*;

/// Everything behind the lock.
pub(super) struct Inner {
    pub(super) outage: Outage,
    pub(super) payments: Payments,
    pub(super) outbox: Outbox,
    pub(super) idempotency: Idempotency,
    /// Key of the request digests; random per sandbox.
    pub(super) fingerprint_key: [u8; 32],
}

impl Inner {
    /// Applies every change the clock has brought by `now`: expiries and confirmations.
    pub(super) fn advance(&mut self, now: Timestamp) {
        // Firing a deadline never adds one, so this visits each entry at most once.
        while let Some((at, reference)) = self.payments.deadlines.first().cloned() {
            if at > now {
                break;
            }
            self.payments.deadlines.remove(&(at, reference.clone()));
            self.fire(at, &reference);
        }
    }

    pub(super) fn fire(&mut self, at: Timestamp, reference: &PspReference) {
        let Some(payment) = self.payments.by_reference.get_mut(reference) else {
            return;
        };
        let (state, event, amount) = match payment.state {
            State::Challenge { .. }
            | State::Redirect { .. }
            | State::Voucher { .. }
            | State::Qr { .. }
            | State::Authorised { .. } => {
                (State::Expired, NotificationEvent::Expired, payment.amount)
            }
            State::Confirming { .. } => (
                State::Captured {
                    amount: payment.amount,
                },
                NotificationEvent::Captured,
                payment.amount,
            ),
            State::Captured { .. } | State::Refused { .. } | State::Cancelled | State::Expired => {
                return;
            }
        };
        // The index entry was removed by the caller; set the state directly.
        payment.state = state;
        tracing::info!(
            psp_reference = %reference,
            payment_id = %payment.payment_id,
            method = payment.method.wire_name(),
            status = ?payment.state.status(),
            "sandbox payment changed by the clock"
        );
        self.outbox.raise(reference, payment, event, amount, at);
    }

    /// A new reference: 128 bits from the operating system's random number generator, so
    /// that knowing one reference tells nothing about any other (the sandbox's controls take
    /// a reference). Unique among the payments the sandbox remembers.
    pub(super) fn new_reference(&mut self) -> Result<PspReference, ProviderError> {
        for _ in 0..REFERENCE_ATTEMPTS_MAX {
            let reference = PspReference::new(&format!("{:032X}", os_random_u128()?))?;
            if !self.payments.by_reference.contains_key(&reference) {
                return Ok(reference);
            }
        }
        Err(ProviderError::Unavailable(
            "no unused payment reference could be drawn".to_owned(),
        ))
    }

    /// A voucher's payment code: 20 random digits.
    pub(super) fn voucher_reference() -> Result<String, ProviderError> {
        let digits = os_random_u128()?
            .checked_rem(VOUCHER_MODULUS)
            .unwrap_or_default();
        Ok(format!("{digits:020}"))
    }

    pub(super) fn fingerprint<S: AsRef<str>>(&self, fields: &[S]) -> [u8; 32] {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.fingerprint_key) else {
            return [0; 32];
        };
        for field in fields {
            let field = field.as_ref();
            let length = u64::try_from(field.len()).unwrap_or(u64::MAX);
            mac.update(&length.to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }
}
