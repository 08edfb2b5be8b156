//! A sandbox payment's state, the test cards that pick it, and the bounded payment store.

use super::*;

/// The test card numbers with a special outcome; any other valid card number is
/// authorised.
pub(super) mod test_cards {
    pub const INSUFFICIENT_FUNDS: &str = "4000000000000051";
    pub const DO_NOT_HONOUR: &str = "4000000000000010";
    pub const CHALLENGE: &str = "4000000000000036";
}

/// A simulated outage of the provider's API. Control methods (the buyer's and the
/// scheme's actions) and notification delivery are not affected.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Outage {
    /// The API answers normally.
    #[default]
    None,
    /// Every API call fails with [`ProviderError::Unavailable`] before doing anything.
    Unreachable,
    /// Every API call takes effect (and its answer is remembered under its idempotency
    /// key), but the answer is lost: the caller sees [`ProviderError::Unavailable`]. A
    /// retry with the same key once the outage ends gets the first answer.
    AnswerLost,
}

pub(super) fn unavailable() -> ProviderError {
    ProviderError::Unavailable("sandbox outage: no answer from the provider".to_owned())
}

/// Where a payment stands, with what each state needs.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(super) enum State {
    Challenge {
        url: String,
        expires_at: Timestamp,
    },
    Redirect {
        url: String,
        expires_at: Timestamp,
    },
    Voucher {
        reference: String,
        expires_at: Timestamp,
    },
    Qr {
        data: String,
        expires_at: Timestamp,
    },
    /// The buyer paid the QR code; the confirmation arrives at `confirm_at`.
    Confirming {
        confirm_at: Timestamp,
    },
    Authorised {
        expires_at: Timestamp,
    },
    Captured {
        amount: Money,
    },
    Refused {
        reason: String,
    },
    Cancelled,
    Expired,
}

impl State {
    /// When the state changes by itself, if it does.
    pub(super) fn deadline(&self) -> Option<Timestamp> {
        match self {
            Self::Challenge { expires_at, .. }
            | Self::Redirect { expires_at, .. }
            | Self::Voucher { expires_at, .. }
            | Self::Qr { expires_at, .. }
            | Self::Authorised { expires_at } => Some(*expires_at),
            Self::Confirming { confirm_at } => Some(*confirm_at),
            Self::Captured { .. } | Self::Refused { .. } | Self::Cancelled | Self::Expired => None,
        }
    }

    pub(super) fn status(&self) -> PaymentStatus {
        match self {
            Self::Challenge { url, .. } => {
                PaymentStatus::ActionRequired(Action::ThreeDsChallenge { url: url.clone() })
            }
            Self::Redirect { url, .. } => {
                PaymentStatus::ActionRequired(Action::Redirect { url: url.clone() })
            }
            Self::Voucher {
                reference,
                expires_at,
            } => PaymentStatus::ActionRequired(Action::Voucher {
                reference: reference.clone(),
                expires_at: *expires_at,
            }),
            Self::Qr { data, expires_at } => PaymentStatus::ActionRequired(Action::QrCode {
                data: data.clone(),
                expires_at: *expires_at,
            }),
            Self::Confirming { .. } => PaymentStatus::Pending,
            Self::Authorised { .. } => PaymentStatus::Authorised,
            Self::Captured { amount } => PaymentStatus::Captured { amount: *amount },
            Self::Refused { reason } => PaymentStatus::Refused {
                reason: reason.clone(),
            },
            Self::Cancelled => PaymentStatus::Cancelled,
            Self::Expired => PaymentStatus::Expired,
        }
    }

    /// Why an operation that needs another state is refused in this one.
    pub(super) fn refusal(&self) -> &'static str {
        match self {
            Self::Challenge { .. } => "the payment waits for 3-D Secure authentication",
            Self::Redirect { .. } => "the payment waits for the shopper's approval",
            Self::Voucher { .. } => "the voucher is not paid",
            Self::Qr { .. } => "the QR code is not paid",
            Self::Confirming { .. } => "the payment is being confirmed",
            Self::Authorised { .. } => "the payment is authorised and not captured",
            Self::Captured { .. } => "the payment is captured",
            Self::Refused { .. } => "the payment was refused",
            Self::Cancelled => "the payment is cancelled",
            Self::Expired => "the payment has expired",
        }
    }
}

/// One payment at the sandbox. No card number: only its last four digits.
pub(super) struct Payment {
    pub(super) payment_id: PaymentId,
    pub(super) method: MethodType,
    pub(super) amount: Money,
    pub(super) card_last4: Option<String>,
    pub(super) state: State,
    /// The total of accepted refunds that did not fail.
    pub(super) refunded: Money,
    pub(super) refund_count: u32,
    pub(super) charged_back: bool,
}

/// The payments, their creation order (for eviction) and the index of their deadlines.
#[derive(Default)]
pub(super) struct Payments {
    pub(super) by_reference: HashMap<PspReference, Payment>,
    pub(super) order: VecDeque<PspReference>,
    pub(super) deadlines: BTreeSet<(Timestamp, PspReference)>,
}

impl Payments {
    pub(super) fn insert(&mut self, reference: PspReference, payment: Payment) {
        // Each round removes one entry of `order`, so the loop ends.
        while self.by_reference.len() >= MAX_PAYMENTS {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(evicted) = self.by_reference.remove(&oldest) {
                if let Some(deadline) = evicted.state.deadline() {
                    self.deadlines.remove(&(deadline, oldest.clone()));
                }
                tracing::debug!(psp_reference = %oldest, "sandbox forgot its oldest payment");
            }
        }
        if let Some(deadline) = payment.state.deadline() {
            self.deadlines.insert((deadline, reference.clone()));
        }
        self.order.push_back(reference.clone());
        self.by_reference.insert(reference, payment);
    }

    pub(super) fn get(&self, reference: &PspReference) -> Result<&Payment, ProviderError> {
        self.by_reference
            .get(reference)
            .ok_or(ProviderError::NotFound)
    }

    pub(super) fn get_mut(
        &mut self,
        reference: &PspReference,
    ) -> Result<&mut Payment, ProviderError> {
        self.by_reference
            .get_mut(reference)
            .ok_or(ProviderError::NotFound)
    }

    /// Moves a payment to `state`, keeping the deadline index in step.
    pub(super) fn transition(
        &mut self,
        reference: &PspReference,
        state: State,
    ) -> Result<(), ProviderError> {
        let payment = self
            .by_reference
            .get_mut(reference)
            .ok_or(ProviderError::NotFound)?;
        if let Some(old) = payment.state.deadline() {
            self.deadlines.remove(&(old, reference.clone()));
        }
        if let Some(new) = state.deadline() {
            self.deadlines.insert((new, reference.clone()));
        }
        payment.state = state;
        Ok(())
    }
}
