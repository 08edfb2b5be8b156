//! What the sandbox answered under each idempotency key, like a real provider.

use super::*;

/// A remembered answer to a mutating call.
#[derive(Clone)]
pub(super) enum Answer {
    Payment(ProviderPayment),
    Refund(ProviderRefund),
}

pub(super) struct Remembered {
    /// A keyed digest of the request, so a reused key with another request is recognised
    /// without keeping the request (which may hold a card number).
    pub(super) fingerprint: [u8; 32],
    pub(super) answer: Answer,
}

#[derive(Default)]
pub(super) struct Idempotency {
    pub(super) by_key: HashMap<String, Remembered>,
    pub(super) order: VecDeque<String>,
}

impl Idempotency {
    /// The first answer given under `key`, if the key was used for this same request;
    /// `InvalidRequest` if it was used for another.
    pub(super) fn recall(
        &self,
        key: &str,
        fingerprint: &[u8; 32],
    ) -> Result<Option<Answer>, ProviderError> {
        match self.by_key.get(key) {
            None => Ok(None),
            Some(remembered) if remembered.fingerprint == *fingerprint => {
                Ok(Some(remembered.answer.clone()))
            }
            Some(_) => Err(ProviderError::InvalidRequest(
                "idempotency key already used for a different request",
            )),
        }
    }

    pub(super) fn remember(&mut self, key: &str, fingerprint: [u8; 32], answer: Answer) {
        while self.by_key.len() >= MAX_IDEMPOTENCY_KEYS {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.by_key.remove(&oldest);
        }
        self.order.push_back(key.to_owned());
        self.by_key.insert(
            key.to_owned(),
            Remembered {
                fingerprint,
                answer,
            },
        );
    }
}
