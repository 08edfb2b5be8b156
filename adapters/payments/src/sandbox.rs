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

/// The test card numbers with a special outcome; any other valid card number is
/// authorised.
mod test_cards {
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

fn unavailable() -> ProviderError {
    ProviderError::Unavailable("sandbox outage: no answer from the provider".to_owned())
}

/// Where a payment stands, with what each state needs.
#[derive(Clone, PartialEq, Eq, Debug)]
enum State {
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
    fn deadline(&self) -> Option<Timestamp> {
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

    fn status(&self) -> PaymentStatus {
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
    fn refusal(&self) -> &'static str {
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
struct Payment {
    payment_id: PaymentId,
    method: MethodType,
    amount: Money,
    card_last4: Option<String>,
    state: State,
    /// The total of accepted refunds that did not fail.
    refunded: Money,
    refund_count: u32,
    charged_back: bool,
}

/// The payments, their creation order (for eviction) and the index of their deadlines.
#[derive(Default)]
struct Payments {
    by_reference: HashMap<PspReference, Payment>,
    order: VecDeque<PspReference>,
    deadlines: BTreeSet<(Timestamp, PspReference)>,
}

impl Payments {
    fn insert(&mut self, reference: PspReference, payment: Payment) {
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

    fn get(&self, reference: &PspReference) -> Result<&Payment, ProviderError> {
        self.by_reference
            .get(reference)
            .ok_or(ProviderError::NotFound)
    }

    fn get_mut(&mut self, reference: &PspReference) -> Result<&mut Payment, ProviderError> {
        self.by_reference
            .get_mut(reference)
            .ok_or(ProviderError::NotFound)
    }

    /// Moves a payment to `state`, keeping the deadline index in step.
    fn transition(&mut self, reference: &PspReference, state: State) -> Result<(), ProviderError> {
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

/// A notification waiting for its time, or for its acknowledgement.
#[derive(Clone)]
struct Outgoing {
    notification: Notification,
    method: MethodType,
    card_last4: Option<String>,
    /// Deliveries so far.
    deliveries: u32,
}

/// Notifications by due time, then by the order they were raised. A delivered
/// notification stays here, due again after a delay, until it is acknowledged.
#[derive(Default)]
struct Outbox {
    pending: BTreeMap<(Timestamp, u64), Outgoing>,
    /// Where each event id waits in `pending`.
    by_event: HashMap<String, (Timestamp, u64)>,
    next_sequence: u64,
}

/// The wait before delivering again a notification delivered `deliveries` times.
fn redelivery_delay_secs(deliveries: u32) -> u32 {
    let index = usize::try_from(deliveries.saturating_sub(1)).unwrap_or(usize::MAX);
    REDELIVERY_DELAYS_SECS
        .get(index)
        .or(REDELIVERY_DELAYS_SECS.last())
        .copied()
        .unwrap_or(3_600)
}

impl Outbox {
    /// Raises `event` for `payment`, due at `at` (which is also when it happened).
    fn raise(
        &mut self,
        reference: &PspReference,
        payment: &Payment,
        event: NotificationEvent,
        amount: Money,
        at: Timestamp,
    ) {
        if self.pending.len() >= MAX_PENDING_NOTIFICATIONS
            && let Some((_, dropped)) = self.pending.pop_first()
        {
            self.by_event.remove(&dropped.notification.event_id);
            tracing::warn!(
                psp_reference = %dropped.notification.psp_reference,
                payment_id = %dropped.notification.payment_id,
                "sandbox notification outbox full: oldest notification dropped"
            );
        }
        let notification = Notification {
            event_id: Uuid::new_v4().to_string(),
            payment_id: payment.payment_id,
            psp_reference: reference.clone(),
            event,
            amount,
            occurred_at: at,
        };
        tracing::debug!(
            psp_reference = %reference,
            payment_id = %payment.payment_id,
            method = payment.method.wire_name(),
            event = ?notification.event,
            "sandbox notification raised"
        );
        self.insert(
            at,
            Outgoing {
                notification,
                method: payment.method,
                card_last4: payment.card_last4.clone(),
                deliveries: 0,
            },
        );
    }

    fn insert(&mut self, at: Timestamp, outgoing: Outgoing) {
        let key = (at, self.next_sequence);
        self.by_event
            .insert(outgoing.notification.event_id.clone(), key);
        self.pending.insert(key, outgoing);
        self.next_sequence = self.next_sequence.wrapping_add(1);
    }

    /// Returns every notification due at `now`, oldest first, and schedules each to be
    /// delivered again after its redelivery delay unless it is acknowledged before.
    fn take_due(&mut self, now: Timestamp) -> Vec<Outgoing> {
        let later = self.pending.split_off(&(now.next(), 0));
        let due = std::mem::replace(&mut self.pending, later);
        let mut delivered = Vec::with_capacity(due.len());
        for (_, mut outgoing) in due {
            outgoing.deliveries = outgoing.deliveries.saturating_add(1);
            let again = now.saturating_add_secs(redelivery_delay_secs(outgoing.deliveries));
            delivered.push(outgoing.clone());
            self.insert(again, outgoing);
        }
        delivered
    }

    /// Forgets an acknowledged notification; `false` if it is not waiting (acknowledged
    /// before, or never raised).
    fn acknowledge(&mut self, event_id: &str) -> bool {
        let Some(key) = self.by_event.remove(event_id) else {
            return false;
        };
        self.pending.remove(&key).is_some()
    }
}

/// A remembered answer to a mutating call.
#[derive(Clone)]
enum Answer {
    Payment(ProviderPayment),
    Refund(ProviderRefund),
}

struct Remembered {
    /// A keyed digest of the request, so a reused key with another request is recognised
    /// without keeping the request (which may hold a card number).
    fingerprint: [u8; 32],
    answer: Answer,
}

#[derive(Default)]
struct Idempotency {
    by_key: HashMap<String, Remembered>,
    order: VecDeque<String>,
}

impl Idempotency {
    /// The first answer given under `key`, if the key was used for this same request;
    /// `InvalidRequest` if it was used for another.
    fn recall(&self, key: &str, fingerprint: &[u8; 32]) -> Result<Option<Answer>, ProviderError> {
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

    fn remember(&mut self, key: &str, fingerprint: [u8; 32], answer: Answer) {
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

/// Everything behind the lock.
struct Inner {
    outage: Outage,
    payments: Payments,
    outbox: Outbox,
    idempotency: Idempotency,
    /// Key of the request digests; random per sandbox.
    fingerprint_key: [u8; 32],
}

impl Inner {
    /// Applies every change the clock has brought by `now`: expiries and confirmations.
    fn advance(&mut self, now: Timestamp) {
        // Firing a deadline never adds one, so this visits each entry at most once.
        while let Some((at, reference)) = self.payments.deadlines.first().cloned() {
            if at > now {
                break;
            }
            self.payments.deadlines.remove(&(at, reference.clone()));
            self.fire(at, &reference);
        }
    }

    fn fire(&mut self, at: Timestamp, reference: &PspReference) {
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
    fn new_reference(&mut self) -> Result<PspReference, ProviderError> {
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
    fn voucher_reference() -> Result<String, ProviderError> {
        let digits = os_random_u128()?
            .checked_rem(VOUCHER_MODULUS)
            .unwrap_or_default();
        Ok(format!("{digits:020}"))
    }

    fn fingerprint<S: AsRef<str>>(&self, fields: &[S]) -> [u8; 32] {
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

/// An in-process payment provider that behaves like a real one: see the crate
/// documentation for its methods, flows, test cards and notifications.
pub struct SandboxProvider {
    name: ProviderName,
    hmac_key: Vec<u8>,
    clock: Arc<dyn Clock>,
    catalogue: Vec<MethodOffer>,
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
            inner: Mutex::new(Inner {
                outage: Outage::None,
                payments: Payments::default(),
                outbox: Outbox::default(),
                idempotency: Idempotency::default(),
                fingerprint_key: random_bytes(),
            }),
        }
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

    fn authorize_now(&self, request: AuthorizeRequest) -> Result<ProviderPayment, ProviderError> {
        let (mut inner, now) = self.lock_api()?;
        check_idempotency_key(&request.idempotency_key)?;
        let fingerprint = inner.fingerprint(&authorize_fields(&request));
        if let Some(answer) = inner
            .idempotency
            .recall(&request.idempotency_key, &fingerprint)?
        {
            return match answer {
                Answer::Payment(payment) => Self::deliver(inner.outage, payment),
                Answer::Refund(_) => Err(ProviderError::InvalidRequest(
                    "idempotency key already used for a different request",
                )),
            };
        }
        if !request.amount.is_positive() {
            return Err(ProviderError::InvalidRequest("amount must be positive"));
        }
        let url_valid = (1..=MAX_RETURN_URL_LEN).contains(&request.return_url.len())
            && (request.return_url.starts_with("https://")
                || request.return_url.starts_with("http://"));
        if !url_valid {
            return Err(ProviderError::InvalidRequest(
                "return URL must be an http or https URL of at most 2048 characters",
            ));
        }
        let method = request.details.method();
        if !self
            .offer(method)
            .is_some_and(|offer| offer.accepts(&request.country, request.amount))
        {
            return Err(ProviderError::MethodNotAvailable);
        }
        if let MethodDetails::Other { method, .. } = &request.details
            && *method == MethodType::Card
        {
            return Err(ProviderError::InvalidRequest(
                "card payments need the card's details",
            ));
        }

        let reference = inner.new_reference()?;
        let mut card_last4 = None;
        let mut raised = None;
        let state = match &request.details {
            MethodDetails::Card {
                number,
                expiry_month,
                expiry_year,
            } => {
                if !(1..=12).contains(expiry_month) {
                    return Err(ProviderError::InvalidRequest(
                        "expiry month must be 1 to 12",
                    ));
                }
                if !(2000..=2099).contains(expiry_year) {
                    return Err(ProviderError::InvalidRequest(
                        "expiry year must have four digits",
                    ));
                }
                card_last4 = Some(number.last4().to_owned());
                let refused = |reason: &str| State::Refused {
                    reason: reason.to_owned(),
                };
                let state = if time::card_expired(*expiry_month, *expiry_year, now) {
                    refused("expired card")
                } else {
                    match number.expose() {
                        test_cards::INSUFFICIENT_FUNDS => refused("insufficient funds"),
                        test_cards::DO_NOT_HONOUR => refused("do not honour"),
                        test_cards::CHALLENGE => State::Challenge {
                            url: format!("{SANDBOX_ORIGIN}/threeds2/challenge/{reference}"),
                            expires_at: now.saturating_add_secs(CHALLENGE_VALIDITY_SECS),
                        },
                        _ => State::Authorised {
                            expires_at: now.saturating_add_secs(AUTHORISATION_VALIDITY_SECS),
                        },
                    }
                };
                raised = match &state {
                    State::Authorised { .. } => Some(NotificationEvent::Authorised),
                    State::Refused { reason } => Some(NotificationEvent::Refused {
                        reason: reason.clone(),
                    }),
                    _ => None,
                };
                state
            }
            MethodDetails::Other { method, .. } => match method.flow() {
                // Cards never get here (refused above); treat them as a redirect to stay total.
                Flow::BankRedirect | Flow::Wallet | Flow::Card => State::Redirect {
                    url: format!(
                        "{SANDBOX_ORIGIN}/redirect/{}/{reference}",
                        method.wire_name()
                    ),
                    expires_at: now.saturating_add_secs(REDIRECT_VALIDITY_SECS),
                },
                Flow::Voucher => State::Voucher {
                    reference: Inner::voucher_reference()?,
                    expires_at: now
                        .saturating_add_secs(voucher_validity_secs(*method).unwrap_or(86_400)),
                },
                Flow::RealTime => State::Qr {
                    data: format!(
                        "sandbox:{}:{reference}:{}:{}",
                        method.wire_name(),
                        request.amount.currency(),
                        request.amount.minor()
                    ),
                    expires_at: now.saturating_add_secs(QR_VALIDITY_SECS),
                },
            },
        };
        let answer = ProviderPayment {
            psp_reference: reference.clone(),
            status: state.status(),
        };
        let payment = Payment {
            payment_id: request.payment_id,
            method,
            amount: request.amount,
            card_last4,
            state,
            refunded: Money::zero(request.amount.currency()),
            refund_count: 0,
            charged_back: false,
        };
        tracing::info!(
            psp_reference = %reference,
            payment_id = %request.payment_id,
            method = method.wire_name(),
            status = ?answer.status,
            "sandbox payment authorisation"
        );
        if let Some(event) = raised {
            inner
                .outbox
                .raise(&reference, &payment, event, request.amount, now);
        }
        inner.payments.insert(reference, payment);
        inner.idempotency.remember(
            &request.idempotency_key,
            fingerprint,
            Answer::Payment(answer.clone()),
        );
        Self::deliver(inner.outage, answer)
    }

    /// Runs a mutating call on one payment under an idempotency key: recalls the first
    /// answer, or runs `operation` and remembers what it answers.
    fn modify(
        &self,
        operation: &str,
        reference: &PspReference,
        amount: Option<Money>,
        key: &str,
        run: impl FnOnce(&mut Inner, Timestamp) -> Result<Answer, ProviderError>,
    ) -> Result<Answer, ProviderError> {
        let (mut inner, now) = self.lock_api()?;
        check_idempotency_key(key)?;
        let currency = amount.map(|a| a.currency().code()).unwrap_or_default();
        let minor = amount.map(|a| a.minor().to_string()).unwrap_or_default();
        let fingerprint =
            inner.fingerprint(&[operation, reference.as_str(), currency, minor.as_str()]);
        if let Some(answer) = inner.idempotency.recall(key, &fingerprint)? {
            return Self::deliver(inner.outage, answer);
        }
        let answer = run(&mut inner, now)?;
        inner.idempotency.remember(key, fingerprint, answer.clone());
        Self::deliver(inner.outage, answer)
    }

    fn capture_now(
        &self,
        reference: &PspReference,
        amount: Money,
        key: &str,
    ) -> Result<ProviderPayment, ProviderError> {
        let answer = self.modify("capture", reference, Some(amount), key, |inner, now| {
            let payment = inner.payments.get(reference)?;
            if payment.method.flow().captures_on_authorisation() {
                return Err(ProviderError::InvalidState(
                    "the method captures on authorisation",
                ));
            }
            check_amount(amount, payment.amount)?;
            if !matches!(payment.state, State::Authorised { .. }) {
                return Err(ProviderError::InvalidState(payment.state.refusal()));
            }
            if amount.minor() > payment.amount.minor() {
                return Err(ProviderError::InvalidState(
                    "capture exceeds the authorised amount",
                ));
            }
            inner
                .payments
                .transition(reference, State::Captured { amount })?;
            let payment = inner.payments.get(reference)?;
            log_change(reference, payment, "sandbox payment captured");
            inner
                .outbox
                .raise(reference, payment, NotificationEvent::Captured, amount, now);
            Ok(Answer::Payment(ProviderPayment {
                psp_reference: reference.clone(),
                status: payment.state.status(),
            }))
        })?;
        expect_payment(answer)
    }

    fn cancel_now(
        &self,
        reference: &PspReference,
        key: &str,
    ) -> Result<ProviderPayment, ProviderError> {
        let answer = self.modify("cancel", reference, None, key, |inner, now| {
            let payment = inner.payments.get(reference)?;
            match payment.state {
                State::Challenge { .. }
                | State::Redirect { .. }
                | State::Voucher { .. }
                | State::Qr { .. }
                | State::Authorised { .. } => {}
                State::Confirming { .. }
                | State::Captured { .. }
                | State::Refused { .. }
                | State::Cancelled
                | State::Expired => {
                    return Err(ProviderError::InvalidState(payment.state.refusal()));
                }
            }
            inner.payments.transition(reference, State::Cancelled)?;
            let payment = inner.payments.get(reference)?;
            log_change(reference, payment, "sandbox payment cancelled");
            inner.outbox.raise(
                reference,
                payment,
                NotificationEvent::Cancelled,
                payment.amount,
                now,
            );
            Ok(Answer::Payment(ProviderPayment {
                psp_reference: reference.clone(),
                status: PaymentStatus::Cancelled,
            }))
        })?;
        expect_payment(answer)
    }

    fn refund_now(
        &self,
        reference: &PspReference,
        amount: Money,
        key: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        let answer = self.modify("refund", reference, Some(amount), key, |inner, now| {
            let payment = inner.payments.get(reference)?;
            check_amount(amount, payment.amount)?;
            let State::Captured { amount: captured } = payment.state else {
                return Err(ProviderError::InvalidState(
                    "only a captured payment can be refunded",
                ));
            };
            if payment.charged_back {
                return Err(ProviderError::InvalidState("the payment is charged back"));
            }
            if payment.refund_count >= MAX_REFUNDS_PER_PAYMENT {
                return Err(ProviderError::InvalidState(
                    "the payment has had too many refunds",
                ));
            }
            let refunded = payment
                .refunded
                .checked_add(amount)
                .map_err(|_| ProviderError::InvalidState("refunds exceed the captured amount"))?;
            if refunded.minor() > captured.minor() {
                return Err(ProviderError::InvalidState(
                    "refunds exceed the captured amount",
                ));
            }
            let refund_reference = inner.new_reference()?;
            let fails = amount.minor() == FAILING_REFUND_MINOR;
            let payment = inner.payments.get_mut(reference)?;
            payment.refund_count = payment.refund_count.saturating_add(1);
            let event = if fails {
                NotificationEvent::RefundFailed {
                    refund_reference: refund_reference.clone(),
                }
            } else {
                payment.refunded = refunded;
                NotificationEvent::Refunded {
                    refund_reference: refund_reference.clone(),
                }
            };
            tracing::info!(
                psp_reference = %reference,
                payment_id = %payment.payment_id,
                method = payment.method.wire_name(),
                refund_reference = %refund_reference,
                amount = %amount,
                fails,
                "sandbox refund accepted"
            );
            let payment = inner.payments.get(reference)?;
            inner.outbox.raise(reference, payment, event, amount, now);
            Ok(Answer::Refund(ProviderRefund { refund_reference }))
        })?;
        match answer {
            Answer::Refund(refund) => Ok(refund),
            Answer::Payment(_) => Err(ProviderError::InvalidRequest(
                "idempotency key already used for a different request",
            )),
        }
    }

    fn status_now(&self, reference: &PspReference) -> Result<ProviderPayment, ProviderError> {
        let (inner, _) = self.lock_api()?;
        let payment = inner.payments.get(reference)?;
        let answer = ProviderPayment {
            psp_reference: reference.clone(),
            status: payment.state.status(),
        };
        Self::deliver(inner.outage, answer)
    }

    /// Moves a payment from one waiting state on the buyer's action: `accept` says whether
    /// the payment's state is the one the action applies to, `next` gives the new state.
    fn buyer_action(
        &self,
        reference: &PspReference,
        accept: impl Fn(&State) -> bool,
        next: impl FnOnce(&Payment, Timestamp) -> (State, Option<NotificationEvent>),
        what: &'static str,
    ) -> Result<ProviderPayment, ProviderError> {
        let (mut guard, now) = self.lock_control();
        let inner = &mut *guard;
        let payment = inner.payments.get(reference)?;
        if !accept(&payment.state) {
            return Err(ProviderError::InvalidState(payment.state.refusal()));
        }
        let (state, event) = next(payment, now);
        inner.payments.transition(reference, state)?;
        let payment = inner.payments.get(reference)?;
        log_change(reference, payment, what);
        if let Some(event) = event {
            let amount = match payment.state {
                State::Captured { amount } => amount,
                _ => payment.amount,
            };
            inner.outbox.raise(reference, payment, event, amount, now);
        }
        Ok(ProviderPayment {
            psp_reference: reference.clone(),
            status: payment.state.status(),
        })
    }

    /// The buyer answers a 3-D Secure challenge: `passed` authorises the payment, otherwise
    /// it is refused ("3-D Secure authentication failed"). Either way a notification is
    /// raised. `InvalidState` unless the payment waits for a challenge.
    pub fn complete_challenge(
        &self,
        reference: &PspReference,
        passed: bool,
    ) -> Result<ProviderPayment, ProviderError> {
        self.buyer_action(
            reference,
            |state| matches!(state, State::Challenge { .. }),
            |_, now| {
                if passed {
                    (
                        State::Authorised {
                            expires_at: now.saturating_add_secs(AUTHORISATION_VALIDITY_SECS),
                        },
                        Some(NotificationEvent::Authorised),
                    )
                } else {
                    refusal("3-D Secure authentication failed")
                }
            },
            "sandbox 3-D Secure challenge answered",
        )
    }

    /// The buyer comes back from a bank or wallet redirect: `approved` captures the payment
    /// (`CAPTURE` notification), otherwise it is refused. `InvalidState` unless the payment
    /// waits for a redirect.
    pub fn complete_redirect(
        &self,
        reference: &PspReference,
        approved: bool,
    ) -> Result<ProviderPayment, ProviderError> {
        self.buyer_action(
            reference,
            |state| matches!(state, State::Redirect { .. }),
            |payment, _| {
                if approved {
                    (
                        State::Captured {
                            amount: payment.amount,
                        },
                        Some(NotificationEvent::Captured),
                    )
                } else if payment.method.flow() == Flow::Wallet {
                    refusal("declined in the wallet")
                } else {
                    refusal("declined at the bank")
                }
            },
            "sandbox redirect completed",
        )
    }

    /// The buyer pays a voucher before it expires: the payment is captured (`CAPTURE`
    /// notification). `InvalidState` if it expired or is not an unpaid voucher.
    pub fn pay_voucher(&self, reference: &PspReference) -> Result<ProviderPayment, ProviderError> {
        self.buyer_action(
            reference,
            |state| matches!(state, State::Voucher { .. }),
            |payment, _| {
                (
                    State::Captured {
                        amount: payment.amount,
                    },
                    Some(NotificationEvent::Captured),
                )
            },
            "sandbox voucher paid",
        )
    }

    /// The buyer pays a QR code before it expires. The payment is `Pending` until the
    /// confirmation, [`QR_CONFIRMATION_DELAY_SECS`] later by the clock, captures it and
    /// raises the `CAPTURE` notification. `InvalidState` if the code expired or is not an
    /// unpaid QR code.
    pub fn pay_qr(&self, reference: &PspReference) -> Result<ProviderPayment, ProviderError> {
        self.buyer_action(
            reference,
            |state| matches!(state, State::Qr { .. }),
            |_, now| {
                (
                    State::Confirming {
                        confirm_at: now.saturating_add_secs(QR_CONFIRMATION_DELAY_SECS),
                    },
                    None,
                )
            },
            "sandbox QR code paid",
        )
    }

    /// The buyer disputes a captured payment with their bank: raises a `CHARGEBACK`
    /// notification for the captured amount not refunded, and returns that amount.
    /// `InvalidState` if the payment is not captured, is already charged back, or is fully
    /// refunded.
    pub fn chargeback(&self, reference: &PspReference) -> Result<Money, ProviderError> {
        let (mut guard, now) = self.lock_control();
        let inner = &mut *guard;
        let payment = inner.payments.get(reference)?;
        let State::Captured { amount: captured } = payment.state else {
            return Err(ProviderError::InvalidState(
                "only a captured payment can be charged back",
            ));
        };
        if payment.charged_back {
            return Err(ProviderError::InvalidState(
                "the payment is already charged back",
            ));
        }
        let disputed = captured
            .checked_sub(payment.refunded)
            .map_err(|_| ProviderError::InvalidState("nothing left to charge back"))?;
        if !disputed.is_positive() {
            return Err(ProviderError::InvalidState("nothing left to charge back"));
        }
        let payment = inner.payments.get_mut(reference)?;
        payment.charged_back = true;
        log_change(reference, payment, "sandbox chargeback");
        let payment = inner.payments.get(reference)?;
        inner.outbox.raise(
            reference,
            payment,
            NotificationEvent::Chargeback,
            disputed,
            now,
        );
        Ok(disputed)
    }

    /// Every notification due by the clock, oldest first, each as its own signed request;
    /// also applies expiries and confirmations that are due. Like a real provider, the
    /// sandbox delivers a notification again (after [`REDELIVERY_DELAYS_SECS`]) until the
    /// receiver [acknowledges](Self::acknowledge) it.
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

fn refusal(reason: &str) -> (State, Option<NotificationEvent>) {
    (
        State::Refused {
            reason: reason.to_owned(),
        },
        Some(NotificationEvent::Refused {
            reason: reason.to_owned(),
        }),
    )
}

fn log_change(reference: &PspReference, payment: &Payment, message: &'static str) {
    tracing::info!(
        psp_reference = %reference,
        payment_id = %payment.payment_id,
        method = payment.method.wire_name(),
        status = ?payment.state.status(),
        "{message}"
    );
}

fn expect_payment(answer: Answer) -> Result<ProviderPayment, ProviderError> {
    match answer {
        Answer::Payment(payment) => Ok(payment),
        Answer::Refund(_) => Err(ProviderError::InvalidRequest(
            "idempotency key already used for a different request",
        )),
    }
}

/// The fields that make an authorisation request what it is, for its digest.
fn authorize_fields(request: &AuthorizeRequest) -> Vec<String> {
    let mut fields = vec![
        "authorize".to_owned(),
        request.payment_id.to_string(),
        request.amount.currency().code().to_owned(),
        request.amount.minor().to_string(),
        request.country.as_str().to_owned(),
        request.return_url.clone(),
    ];
    match &request.details {
        MethodDetails::Card {
            number,
            expiry_month,
            expiry_year,
        } => {
            fields.push("card".to_owned());
            fields.push(number.expose().to_owned());
            fields.push(expiry_month.to_string());
            fields.push(expiry_year.to_string());
        }
        MethodDetails::Other { method, extra } => {
            fields.push(method.wire_name().to_owned());
            fields.push(extra.clone());
        }
    }
    fields
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
