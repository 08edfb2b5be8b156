//! The sandbox provider: payments, their life cycle by the clock, idempotency, outages and
//! the notification outbox.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bazaar_domain::Country;
use bazaar_domain::chart::ProviderName;
use bazaar_domain::payments::{
    Action, AuthorizeRequest, Flow, MethodDetails, MethodOffer, MethodType, Notification,
    NotificationError, NotificationEvent, PaymentId, PaymentProvider, PaymentStatus, ProviderError,
    ProviderPayment, ProviderRefund, PspReference,
};
use bazaar_domain::vault::{Detokenizer, VaultError};
use bazaar_ledger::{Clock, Timestamp};
use bazaar_money::Money;
use hmac::{Hmac, Mac};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::Sha256;
use uuid::Uuid;

use crate::notification::{self, Context, SignedNotification};
use crate::{methods, time};

/// How long a 3-D Secure challenge waits for the buyer: one hour.
pub const CHALLENGE_VALIDITY_SECS: u32 = 3_600;
/// How long a bank or wallet redirect waits for the buyer: one hour.
pub const REDIRECT_VALIDITY_SECS: u32 = 3_600;
/// How long a Pix, UPI or PromptPay QR code can be paid: one hour.
pub const QR_VALIDITY_SECS: u32 = 3_600;
/// How long after the buyer pays a QR code the sandbox confirms it: five seconds.
pub const QR_CONFIRMATION_DELAY_SECS: u32 = 5;
/// How long a card authorisation waits for its capture: seven days.
pub const AUTHORISATION_VALIDITY_SECS: u32 = 7 * 86_400;
/// The refund amount, in minor units of any currency, that the sandbox accepts and then
/// fails with a `REFUND_FAILED` notification.
pub const FAILING_REFUND_MINOR: i64 = 1_313;

/// The most payments the sandbox keeps; creating one more forgets the oldest.
pub const MAX_PAYMENTS: usize = 100_000;
/// The most idempotency keys the sandbox remembers; one more forgets the oldest.
pub const MAX_IDEMPOTENCY_KEYS: usize = 200_000;
/// The most notifications waiting for delivery; one more drops the oldest.
pub const MAX_PENDING_NOTIFICATIONS: usize = 100_000;
/// When an unacknowledged notification is delivered again, in seconds after each delivery
/// (the first redelivery 10 seconds after the first delivery); after the last entry, every
/// hour, until it is acknowledged.
pub const REDELIVERY_DELAYS_SECS: [u32; 8] = [10, 60, 120, 300, 600, 900, 1_800, 3_600];
/// The most refunds one payment takes.
pub const MAX_REFUNDS_PER_PAYMENT: u32 = 100;
/// The longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 64;
/// The longest return URL accepted.
const MAX_RETURN_URL_LEN: usize = 2_048;

/// Where the sandbox's redirect and challenge pages would live.
const SANDBOX_ORIGIN: &str = "https://checkout.sandbox.bazaar.invalid";

/// How long a voucher of `method` can be paid: Boleto and OXXO three days, Konbini four;
/// `None` for methods without vouchers.
pub fn voucher_validity_secs(method: MethodType) -> Option<u32> {
    match method {
        MethodType::Boleto | MethodType::Oxxo => Some(3 * 86_400),
        MethodType::Konbini => Some(4 * 86_400),
        _ => None,
    }
}

mod idempotency;
mod inner;
mod operations;
mod outbox;
mod settlement;
mod state;

use idempotency::*;
use inner::*;
use outbox::*;
use settlement::*;
pub use state::Outage;
use state::*;

/// An in-process payment provider that behaves like a real one: see the crate
/// documentation for its methods, flows, test cards and notifications.
pub struct SandboxProvider {
    name: ProviderName,
    hmac_key: Vec<u8>,
    clock: Arc<dyn Clock>,
    catalogue: Vec<MethodOffer>,
    detokenizer: Option<Arc<dyn Detokenizer>>,
    inner: Mutex<Inner>,
}

impl fmt::Debug for SandboxProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxProvider")
            .field("name", &self.name)
            .field("methods", &self.catalogue.len())
            .finish_non_exhaustive()
    }
}

/// How many references `new_reference` draws before giving up; with 128 random bits a second
/// draw is already never needed in practice.
const REFERENCE_ATTEMPTS_MAX: usize = 4;

/// Voucher codes have 20 decimal digits.
const VOUCHER_MODULUS: u128 = 100_000_000_000_000_000_000;

/// 128 bits from the operating system's random number generator.
fn os_random_u128() -> Result<u128, ProviderError> {
    let mut bytes = [0_u8; 16];
    OsRng.try_fill_bytes(&mut bytes).map_err(|error| {
        ProviderError::Unavailable(format!(
            "the system random number generator failed: {error}"
        ))
    })?;
    Ok(u128::from_be_bytes(bytes))
}

fn random_bytes() -> [u8; 32] {
    let first = Uuid::new_v4().into_bytes();
    let second = Uuid::new_v4().into_bytes();
    let mut bytes = [0; 32];
    for (byte, random) in bytes.iter_mut().zip(first.iter().chain(second.iter())) {
        *byte = *random;
    }
    bytes
}

fn check_idempotency_key(key: &str) -> Result<(), ProviderError> {
    let valid = (1..=MAX_IDEMPOTENCY_KEY_LEN).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(())
    } else {
        Err(ProviderError::InvalidRequest(
            "idempotency key must be 1 to 64 printable ASCII characters",
        ))
    }
}

fn check_amount(amount: Money, of: Money) -> Result<(), ProviderError> {
    if amount.currency() != of.currency() {
        return Err(ProviderError::InvalidRequest(
            "amount currency differs from the payment's",
        ));
    }
    if !amount.is_positive() {
        return Err(ProviderError::InvalidRequest("amount must be positive"));
    }
    Ok(())
}

impl SandboxProvider {
    /// A sandbox named `name` (its merchant account in notifications) that signs
    /// notifications with `hmac_key` and reads the time from `clock`.
    pub fn new(name: ProviderName, hmac_key: Vec<u8>, clock: Arc<dyn Clock>) -> Self {
        Self {
            name,
            hmac_key,
            clock,
            catalogue: methods::catalogue(),
            detokenizer: None,
            inner: Mutex::new(Inner {
                outage: Outage::None,
                payments: Payments::default(),
                outbox: Outbox::default(),
                idempotency: Idempotency::default(),
                fingerprint_key: random_bytes(),
            }),
        }
    }

    /// The sandbox, paying card tokens by detokenizing them through `detokenizer` (the
    /// vault's `provider` caller, the only one it detokenizes for).
    pub fn with_detokenizer(mut self, detokenizer: Arc<dyn Detokenizer>) -> Self {
        self.detokenizer = Some(detokenizer);
        self
    }

    /// `request` with a card token replaced by the card the vault holds for it.
    async fn detokenized(
        &self,
        request: AuthorizeRequest,
    ) -> Result<AuthorizeRequest, ProviderError> {
        let MethodDetails::CardToken { token } = &request.details else {
            return Ok(request);
        };
        let detokenizer = self
            .detokenizer
            .as_ref()
            .ok_or(ProviderError::InvalidRequest(
                "card tokens need the card vault, which this sandbox is not connected to",
            ))?;
        let card = detokenizer
            .detokenize(token)
            .await
            .map_err(|error| match error {
                VaultError::NotFound | VaultError::InvalidInput(_) => {
                    ProviderError::InvalidRequest("unknown card token")
                }
                other => ProviderError::Unavailable(format!("the card vault: {}", other.code())),
            })?;
        Ok(AuthorizeRequest {
            details: MethodDetails::Card {
                number: card.number,
                expiry_month: card.expiry_month,
                expiry_year: card.expiry_year,
            },
            ..request
        })
    }

    /// The state, even if a thread panicked while holding the lock: every change to it is
    /// made in a few steps that leave it consistent.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lock, after applying what the clock brought; for API calls, refused while the
    /// API is unreachable.
    fn lock_api(&self) -> Result<(MutexGuard<'_, Inner>, Timestamp), ProviderError> {
        let mut inner = self.lock();
        if inner.outage == Outage::Unreachable {
            return Err(unavailable());
        }
        let now = self.clock.now();
        inner.advance(now);
        Ok((inner, now))
    }

    fn lock_control(&self) -> (MutexGuard<'_, Inner>, Timestamp) {
        let mut inner = self.lock();
        let now = self.clock.now();
        inner.advance(now);
        (inner, now)
    }

    /// The answer as the caller sees it: lost during an [`Outage::AnswerLost`].
    fn deliver<T>(outage: Outage, answer: T) -> Result<T, ProviderError> {
        if outage == Outage::AnswerLost {
            Err(unavailable())
        } else {
            Ok(answer)
        }
    }

    fn offer(&self, method: MethodType) -> Option<&MethodOffer> {
        self.catalogue.iter().find(|offer| offer.method == method)
    }

    /// Every offer the sandbox is configured with, in display order, whatever the
    /// country and amount.
    pub fn catalogue(&self) -> &[MethodOffer] {
        &self.catalogue
    }

    /// Starts or ends a simulated outage of the API.
    pub fn set_outage(&self, outage: Outage) {
        tracing::info!(?outage, "sandbox outage set");
        self.lock().outage = outage;
    }

    /// How many payments the sandbox keeps (at most [`MAX_PAYMENTS`]).
    pub fn payment_count(&self) -> usize {
        self.lock().payments.by_reference.len()
    }

    /// Every notification due by the clock, oldest first, each as its own signed request;
    /// also applies expiries and confirmations that are due. Like a real provider, the
    /// sandbox delivers a notification again (after [`REDELIVERY_DELAYS_SECS`]) until the
    /// receiver [acknowledges](Self::acknowledge) it.
    /// The settlement detail reports not yet acknowledged, oldest first, as (batch, text)
    /// in the Adyen layout (`parse_settlement_report` reads them); first, everything booked
    /// before `until` and not reported yet becomes a new batch. Called with the start of each
    /// day, it makes the daily report.
    pub fn settlement_reports(&self, until: Timestamp) -> Vec<(u32, String)> {
        let name = self.name.as_str().to_owned();
        self.lock().settlement_reports(&name, until)
    }

    /// The platform settled batch `batch`: it is not offered again.
    pub fn acknowledge_settlement(&self, batch: u32) {
        self.lock().outbox.books.unsettled.remove(&batch);
    }

    pub fn take_due_notifications(&self) -> Vec<SignedNotification> {
        let (mut inner, now) = self.lock_control();
        let due = inner.outbox.take_due(now);
        drop(inner);
        due.into_iter()
            .filter_map(|outgoing| {
                let context = Context {
                    merchant_account: self.name.as_str(),
                    method: outgoing.method,
                    card_last4: outgoing.card_last4.as_deref(),
                };
                match notification::encode(&outgoing.notification, &context) {
                    Ok(body) => Some(SignedNotification {
                        event_id: outgoing.notification.event_id.clone(),
                        signature: notification::sign(&self.hmac_key, &body),
                        body,
                    }),
                    Err(error) => {
                        tracing::error!(
                            psp_reference = %outgoing.notification.psp_reference,
                            payment_id = %outgoing.notification.payment_id,
                            %error,
                            "sandbox notification could not be encoded"
                        );
                        None
                    }
                }
            })
            .collect()
    }
}

impl SandboxProvider {
    /// The receiver accepted the notification `event_id` (it answered 2xx after committing
    /// its effect): it is not delivered again. `false` if no such notification is waiting.
    pub fn acknowledge(&self, event_id: &str) -> bool {
        self.lock().outbox.acknowledge(event_id)
    }

    /// Notifications raised and not yet acknowledged.
    pub fn unacknowledged_count(&self) -> usize {
        self.lock().outbox.pending.len()
    }
}

impl PaymentProvider for SandboxProvider {
    fn name(&self) -> &ProviderName {
        &self.name
    }

    fn payment_methods(&self, country: &Country, amount: Money) -> Vec<MethodOffer> {
        self.catalogue
            .iter()
            .filter(|offer| offer.accepts(country, amount))
            .cloned()
            .collect()
    }

    async fn authorize(&self, request: AuthorizeRequest) -> Result<ProviderPayment, ProviderError> {
        let request = self.detokenized(request).await?;
        self.authorize_now(request)
    }

    async fn capture(
        &self,
        psp_reference: &PspReference,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<ProviderPayment, ProviderError> {
        self.capture_now(psp_reference, amount, idempotency_key)
    }

    async fn cancel(
        &self,
        psp_reference: &PspReference,
        idempotency_key: &str,
    ) -> Result<ProviderPayment, ProviderError> {
        self.cancel_now(psp_reference, idempotency_key)
    }

    async fn refund(
        &self,
        psp_reference: &PspReference,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        self.refund_now(psp_reference, amount, idempotency_key)
    }

    async fn status(&self, psp_reference: &PspReference) -> Result<ProviderPayment, ProviderError> {
        self.status_now(psp_reference)
    }

    fn parse_notifications(
        &self,
        signature: &str,
        body: &[u8],
    ) -> Result<Vec<Notification>, NotificationError> {
        notification::parse(&self.hmac_key, self.name.as_str(), signature, body)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use bazaar_ledger::ManualClock;
    use bazaar_money::Currency;

    use super::*;

    const START: Timestamp = Timestamp::from_micros(1_899_799_200_000_000);

    fn sandbox() -> SandboxProvider {
        SandboxProvider::new(
            ProviderName::new("sandbox").unwrap(),
            b"key".to_vec(),
            Arc::new(ManualClock::new(START)),
        )
    }

    fn payment(state: State) -> Payment {
        Payment {
            payment_id: PaymentId::from_uuid(Uuid::new_v4()),
            method: MethodType::Card,
            amount: Money::from_minor(100, Currency::EUR),
            card_last4: Some("1111".to_owned()),
            state,
            refunded: Money::zero(Currency::EUR),
            refund_count: 0,
            charged_back: false,
        }
    }

    #[test]
    fn references_are_unique_and_valid() {
        let sandbox = sandbox();
        let mut inner = sandbox.lock();
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let reference = inner.new_reference().unwrap();
            assert_eq!(reference.as_str().len(), 32);
            assert!(seen.insert(reference));
        }
    }

    /// The sandbox's controls take a reference, so one reference must tell nothing about the
    /// next: consecutive references have no common difference (as a counter through an affine
    /// map would), and every one of the 128 bits takes both values.
    #[test]
    fn references_are_unpredictable() {
        let sandbox = sandbox();
        let mut inner = sandbox.lock();
        let values: Vec<u128> = (0..256)
            .map(|_| {
                let reference = inner.new_reference().unwrap();
                u128::from_str_radix(reference.as_str(), 16).unwrap()
            })
            .collect();
        let steps: HashSet<u128> = values
            .windows(2)
            .map(|pair| pair[1].wrapping_sub(pair[0]))
            .collect();
        assert!(steps.len() > 250, "consecutive references share a step");
        let ones = values.iter().fold(0_u128, |acc, v| acc | v);
        let zeros = values.iter().fold(0_u128, |acc, v| acc | !v);
        assert_eq!(ones, u128::MAX, "some bit is always 0");
        assert_eq!(zeros, u128::MAX, "some bit is always 1");
        let codes: HashSet<String> = (0..256)
            .map(|_| Inner::voucher_reference().unwrap())
            .collect();
        assert_eq!(codes.len(), 256);
        assert!(codes.iter().all(|c| c.len() == 20));
    }

    #[test]
    fn payments_beyond_the_bound_forget_the_oldest() {
        let mut payments = Payments::default();
        let mut first = None;
        for n in 0..=MAX_PAYMENTS {
            let reference = PspReference::new(&format!("P{n:015}")).unwrap();
            first.get_or_insert_with(|| reference.clone());
            let state = State::Authorised {
                expires_at: START.saturating_add_secs(u32::try_from(n).unwrap()),
            };
            payments.insert(reference, payment(state));
        }
        assert_eq!(payments.by_reference.len(), MAX_PAYMENTS);
        assert_eq!(payments.order.len(), MAX_PAYMENTS);
        assert_eq!(payments.deadlines.len(), MAX_PAYMENTS);
        assert_eq!(
            payments.get(&first.unwrap()).err(),
            Some(ProviderError::NotFound)
        );
    }

    #[test]
    fn idempotency_keys_beyond_the_bound_forget_the_oldest() {
        let mut keys = Idempotency::default();
        let answer = Answer::Refund(ProviderRefund {
            refund_reference: PspReference::new("R").unwrap(),
        });
        for n in 0..=MAX_IDEMPOTENCY_KEYS {
            keys.remember(&n.to_string(), [0; 32], answer.clone());
        }
        assert_eq!(keys.by_key.len(), MAX_IDEMPOTENCY_KEYS);
        assert_eq!(keys.order.len(), MAX_IDEMPOTENCY_KEYS);
        assert!(keys.recall("0", &[0; 32]).unwrap().is_none());
        assert!(keys.recall("1", &[0; 32]).unwrap().is_some());
        assert!(keys.recall("1", &[1; 32]).is_err());
    }

    #[test]
    fn the_outbox_beyond_the_bound_drops_the_oldest() {
        let mut outbox = Outbox::default();
        let reference = PspReference::new("P1").unwrap();
        let payment = payment(State::Cancelled);
        for _ in 0..=MAX_PENDING_NOTIFICATIONS {
            outbox.raise(
                &reference,
                &payment,
                NotificationEvent::Cancelled,
                payment.amount,
                START,
            );
        }
        assert_eq!(outbox.pending.len(), MAX_PENDING_NOTIFICATIONS);
        assert_eq!(outbox.by_event.len(), MAX_PENDING_NOTIFICATIONS);
        assert_eq!(outbox.take_due(START).len(), MAX_PENDING_NOTIFICATIONS);
        assert!(outbox.take_due(START).is_empty());
        assert_eq!(outbox.pending.len(), MAX_PENDING_NOTIFICATIONS);
    }

    #[test]
    fn a_poisoned_lock_does_not_stop_the_sandbox() {
        let sandbox = Arc::new(sandbox());
        let holder = Arc::clone(&sandbox);
        let result = std::thread::spawn(move || {
            let _guard = holder.lock();
            panic!("poison the lock");
        })
        .join();
        assert!(result.is_err());
        assert!(sandbox.inner.is_poisoned());
        assert_eq!(sandbox.payment_count(), 0);
        assert!(sandbox.take_due_notifications().is_empty());
    }

    #[test]
    fn the_debug_output_shows_no_secret() {
        let text = format!("{:?}", sandbox());
        assert!(text.contains("sandbox"));
        assert!(!text.contains("key"));
    }
}
