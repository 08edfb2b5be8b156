//! Payments: the provider port every connector implements, and the payment methods buyers
//! choose from.
//!
//! A provider connector (a real one for a payment service provider, or the sandbox) turns
//! Bazaar's requests into the provider's API calls and the provider's notifications back
//! into [`Notification`]s. Money only moves in the ledger once a notification (or a
//! synchronous answer) says the provider captured it.

use std::fmt;

use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};

use crate::Country;

bazaar_ledger::uuid_id!(
    /// Bazaar's id of a payment (the provider calls it the merchant reference).
    PaymentId
);

/// The provider's id of a payment; `[A-Za-z0-9_-]{1,64}`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PspReference(String);

impl PspReference {
    pub fn new(value: &str) -> Result<Self, ProviderError> {
        let valid = (1..=64).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        valid
            .then(|| Self(value.to_owned()))
            .ok_or(ProviderError::InvalidRequest(
                "malformed provider reference",
            ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PspReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The payment methods Bazaar knows, by their wire name (Adyen's `type` names where they
/// exist).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum MethodType {
    Card,
    Ideal,
    Bancontact,
    Blik,
    Eps,
    Twint,
    Swish,
    Boleto,
    Oxxo,
    Konbini,
    Pix,
    Upi,
    Alipay,
    WechatPay,
    Paypal,
    Knet,
    Benefit,
    Promptpay,
}

impl MethodType {
    pub const ALL: [Self; 18] = [
        Self::Card,
        Self::Ideal,
        Self::Bancontact,
        Self::Blik,
        Self::Eps,
        Self::Twint,
        Self::Swish,
        Self::Boleto,
        Self::Oxxo,
        Self::Konbini,
        Self::Pix,
        Self::Upi,
        Self::Alipay,
        Self::WechatPay,
        Self::Paypal,
        Self::Knet,
        Self::Benefit,
        Self::Promptpay,
    ];

    pub fn wire_name(self) -> &'static str {
        match self {
            Self::Card => "scheme",
            Self::Ideal => "ideal",
            Self::Bancontact => "bcmc",
            Self::Blik => "blik",
            Self::Eps => "eps",
            Self::Twint => "twint",
            Self::Swish => "swish",
            Self::Boleto => "boletobancario",
            Self::Oxxo => "oxxo",
            Self::Konbini => "econtext_stores",
            Self::Pix => "pix",
            Self::Upi => "upi_collect",
            Self::Alipay => "alipay",
            Self::WechatPay => "wechatpayQR",
            Self::Paypal => "paypal",
            Self::Knet => "knet",
            Self::Benefit => "benefit",
            Self::Promptpay => "promptpay",
        }
    }

    pub fn from_wire_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.wire_name() == name)
    }

    /// How the method reaches a result.
    pub fn flow(self) -> Flow {
        match self {
            Self::Card => Flow::Card,
            Self::Ideal | Self::Bancontact | Self::Blik | Self::Eps | Self::Twint | Self::Swish => {
                Flow::BankRedirect
            }
            Self::Boleto | Self::Oxxo | Self::Konbini => Flow::Voucher,
            Self::Pix | Self::Upi | Self::Promptpay => Flow::RealTime,
            Self::Alipay | Self::WechatPay | Self::Paypal | Self::Knet | Self::Benefit => {
                Flow::Wallet
            }
        }
    }
}

/// The shape of a method's payment.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Flow {
    /// Authorised at once (or after a 3-D Secure challenge), captured later.
    Card,
    /// The buyer approves at their bank; the result arrives later by notification.
    BankRedirect,
    /// The buyer pays a voucher in cash within days, or it expires.
    Voucher,
    /// The buyer pays from a QR code or collect request; confirmation is asynchronous.
    RealTime,
    /// The buyer approves in the wallet's app or site after a redirect.
    Wallet,
}

impl Flow {
    /// Whether a successful authorisation is the capture itself (no separate capture call).
    pub fn captures_on_authorisation(self) -> bool {
        !matches!(self, Self::Card)
    }
}

/// Where a method is offered: countries, currencies and amount limits.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MethodOffer {
    pub method: MethodType,
    /// Display name, e.g. `iDEAL`.
    pub name: &'static str,
    /// ISO 3166-1 alpha-2 codes; empty means every country.
    pub countries: Vec<Country>,
    /// Per currency, the smallest and largest amount in minor units (inclusive).
    pub limits: Vec<AmountLimit>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AmountLimit {
    pub currency: Currency,
    pub min_minor: i64,
    pub max_minor: i64,
}

impl MethodOffer {
    /// Whether a buyer in `country` may pay `amount` with this method.
    pub fn accepts(&self, country: &Country, amount: Money) -> bool {
        (self.countries.is_empty() || self.countries.contains(country))
            && self.limits.iter().any(|limit| {
                limit.currency == amount.currency()
                    && (limit.min_minor..=limit.max_minor).contains(&amount.minor())
            })
    }
}

/// A card number. Its `Debug` and `Display` show only the last four digits, so it cannot
/// reach a log by accident; it is never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber(String);

impl CardNumber {
    /// 12 to 19 digits (spaces allowed) passing the Luhn check.
    pub fn new(input: &str) -> Result<Self, ProviderError> {
        let digits: String = input.chars().filter(|c| *c != ' ').collect();
        if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProviderError::InvalidRequest(
                "card number must have 12 to 19 digits",
            ));
        }
        if !luhn_valid(&digits) {
            return Err(ProviderError::InvalidRequest(
                "card number fails the check digit",
            ));
        }
        Ok(Self(digits))
    }

    /// The full number, for the connector that sends it to the provider.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn last4(&self) -> &str {
        self.0.get(self.0.len().saturating_sub(4)..).unwrap_or("")
    }
}

fn luhn_valid(digits: &str) -> bool {
    let mut sum: u32 = 0;
    for (position, byte) in digits.bytes().rev().enumerate() {
        let digit = u32::from(byte.saturating_sub(b'0'));
        let value = if position % 2 == 1 {
            let doubled = digit.saturating_mul(2);
            if doubled > 9 {
                doubled.saturating_sub(9)
            } else {
                doubled
            }
        } else {
            digit
        };
        sum = sum.saturating_add(value);
    }
    sum.is_multiple_of(10)
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber(**** {})", self.last4())
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "**** {}", self.last4())
    }
}

/// What the buyer gave for the chosen method.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum MethodDetails {
    Card {
        number: CardNumber,
        expiry_month: u8,
        expiry_year: u16,
    },
    /// Any other method; `extra` is what that method needs (an iDEAL issuer, a BLIK code,
    /// a UPI id), empty if nothing.
    Other { method: MethodType, extra: String },
}

impl MethodDetails {
    pub fn method(&self) -> MethodType {
        match self {
            Self::Card { .. } => MethodType::Card,
            Self::Other { method, .. } => *method,
        }
    }
}

/// A request to authorise a payment.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuthorizeRequest {
    pub payment_id: PaymentId,
    pub amount: Money,
    pub country: Country,
    pub details: MethodDetails,
    /// Where a redirect returns the buyer.
    pub return_url: String,
    /// The provider deduplicates on this: the same key returns the first answer.
    pub idempotency_key: String,
}

/// Where a payment stands at the provider.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum PaymentStatus {
    /// The buyer must act: follow a redirect, answer a challenge, pay a voucher or QR code.
    ActionRequired(Action),
    /// Waiting for the provider or the buyer's bank; a notification will tell.
    Pending,
    /// Authorised and not yet captured (cards).
    Authorised,
    /// Money captured, `amount` in total.
    Captured {
        amount: Money,
    },
    /// Refused by the provider or the issuer; `reason` is safe to show.
    Refused {
        reason: String,
    },
    Cancelled,
    /// The buyer never paid (vouchers, QR codes, abandoned redirects).
    Expired,
}

/// What the buyer must do next.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Action {
    Redirect {
        url: String,
    },
    ThreeDsChallenge {
        url: String,
    },
    Voucher {
        reference: String,
        expires_at: Timestamp,
    },
    QrCode {
        data: String,
        expires_at: Timestamp,
    },
}

/// The provider's answer to a call.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProviderPayment {
    pub psp_reference: PspReference,
    pub status: PaymentStatus,
}

/// The provider's answer to a refund request: accepted, the outcome comes by notification.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProviderRefund {
    pub refund_reference: PspReference,
}

/// What a provider notification says happened.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum NotificationEvent {
    Authorised,
    /// Money captured (for methods that capture on authorisation, this is their success).
    Captured,
    Refused {
        reason: String,
    },
    Cancelled,
    Expired,
    Refunded {
        refund_reference: PspReference,
    },
    RefundFailed {
        refund_reference: PspReference,
    },
    Chargeback,
}

/// One event from the provider, authenticated.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Notification {
    /// Unique per event at the provider; a notification delivered twice has the same id.
    pub event_id: String,
    pub payment_id: PaymentId,
    pub psp_reference: PspReference,
    pub event: NotificationEvent,
    pub amount: Money,
    pub occurred_at: Timestamp,
}

/// Why a provider call failed.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ProviderError {
    /// The request was malformed; nothing happened at the provider.
    #[error("invalid payment request: {0}")]
    InvalidRequest(&'static str),
    /// The method is not offered for this country, currency or amount.
    #[error("payment method not available for this country, currency and amount")]
    MethodNotAvailable,
    /// The provider knows no such payment or refund.
    #[error("payment not found at the provider")]
    NotFound,
    /// The operation does not fit the payment's state (capturing a refused payment,
    /// refunding more than was captured).
    #[error("the payment cannot do that in its current state: {0}")]
    InvalidState(&'static str),
    /// The provider could not be reached or did not answer; the outcome is unknown, and a
    /// retry with the same idempotency key is safe.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
}

impl ProviderError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "payment_request_invalid",
            Self::MethodNotAvailable => "payment_method_not_available",
            Self::NotFound => "payment_not_found",
            Self::InvalidState(_) => "payment_state_invalid",
            Self::Unavailable(_) => "payment_provider_unavailable",
        }
    }
}

/// Why a notification was refused. Nothing in it was acted on.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("notification signature missing or invalid")]
    BadSignature,
    #[error("notification body is malformed: {0}")]
    Malformed(String),
}

impl NotificationError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadSignature => "notification_signature_invalid",
            Self::Malformed(_) => "notification_malformed",
        }
    }
}

/// Settlement reporting: what the provider paid out for a captured payment, and its fee.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Settlement {
    pub psp_reference: PspReference,
    pub gross: Money,
    pub fee: Money,
}

mod port;
mod rules;

pub use port::PaymentProvider;
pub use rules::{PaymentChange, expiry_states, payment_change};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::{CheckoutState, PaymentState};
    use crate::store::PaymentEvent;
    use proptest::prelude::*;

    /// What can happen to a started payment, in any order: the provider's notifications
    /// (each possibly repeated) and the checkout's reservation lapsing.
    #[derive(Clone, Debug)]
    enum Step {
        Provider(PaymentEvent),
        Expire,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            Just(Step::Provider(PaymentEvent::Authorised)),
            Just(Step::Provider(PaymentEvent::Captured)),
            Just(Step::Provider(PaymentEvent::Failed(PaymentState::Refused))),
            Just(Step::Provider(PaymentEvent::Failed(
                PaymentState::Cancelled
            ))),
            Just(Step::Provider(PaymentEvent::Failed(PaymentState::Expired))),
            Just(Step::Provider(PaymentEvent::Chargeback)),
            Just(Step::Expire),
        ]
    }

    proptest! {
        /// No sequence of notifications and expiries loses captured money or delivers a
        /// cancelled checkout: the first capture the provider reports is always posted
        /// (to the sellers while the checkout lives, to captured-but-unfulfilled after it was
        /// cancelled), the payment stays captured from then on, a checkout is paid only by a
        /// capture, and a cancelled checkout is never paid afterwards.
        #[test]
        fn captured_money_is_always_accounted_for(steps in proptest::collection::vec(step(), 1..40)) {
            let mut payment = PaymentState::Pending;
            let mut checkout = CheckoutState::PaymentPending;
            let mut provider_captured = false;
            let mut posted = 0_u32;
            for step in steps {
                match step {
                    Step::Expire => {
                        if let Some((next_payment, next_checkout)) = expiry_states(Some(payment), checkout) {
                            prop_assert!(next_payment.is_some());
                            payment = next_payment.unwrap_or(payment);
                            checkout = next_checkout;
                        }
                    }
                    Step::Provider(event) => {
                        let was_cancelled = checkout == CheckoutState::Cancelled;
                        let change = payment_change(payment, checkout, &event);
                        if matches!(event, PaymentEvent::Captured) {
                            if provider_captured {
                                prop_assert_eq!(change, PaymentChange::Nothing, "a capture is posted once");
                            } else {
                                prop_assert!(
                                    matches!(change, PaymentChange::Capture | PaymentChange::CaptureLate),
                                    "a first capture in {:?}/{:?} gave {:?}", payment, checkout, change
                                );
                            }
                            provider_captured = true;
                        }
                        if matches!(change, PaymentChange::Capture | PaymentChange::CaptureLate) {
                            posted = posted.saturating_add(1);
                        }
                        if change == PaymentChange::Capture {
                            prop_assert!(!was_cancelled, "a cancelled checkout is never delivered");
                        }
                        let (next_payment, next_checkout) = change.states_after(payment, checkout);
                        if was_cancelled {
                            prop_assert_eq!(next_checkout, CheckoutState::Cancelled);
                        }
                        payment = next_payment;
                        checkout = next_checkout;
                    }
                }
                if provider_captured {
                    prop_assert_eq!(payment, PaymentState::Captured);
                    prop_assert_eq!(posted, 1);
                }
                if checkout == CheckoutState::Paid {
                    prop_assert_eq!(payment, PaymentState::Captured);
                }
            }
        }
    }

    #[test]
    fn card_numbers_are_checked_and_never_shown_whole() {
        let card = CardNumber::new("4111 1111 1111 1111").unwrap();
        assert_eq!(format!("{card:?}"), "CardNumber(**** 1111)");
        assert_eq!(card.to_string(), "**** 1111");
        assert!(CardNumber::new("4111111111111112").is_err());
        assert!(CardNumber::new("4111").is_err());
        assert!(CardNumber::new("4111x11111111111").is_err());
    }

    #[test]
    fn wire_names_round_trip() {
        for method in MethodType::ALL {
            assert_eq!(MethodType::from_wire_name(method.wire_name()), Some(method));
        }
    }

    #[test]
    fn offers_check_country_currency_and_limits() {
        let offer = MethodOffer {
            method: MethodType::Pix,
            name: "Pix",
            countries: vec![Country::new("BR").unwrap()],
            limits: vec![AmountLimit {
                currency: Currency::BRL,
                min_minor: 100,
                max_minor: 1_000_000,
            }],
        };
        let br = Country::new("BR").unwrap();
        assert!(offer.accepts(&br, Money::from_minor(100, Currency::BRL)));
        assert!(!offer.accepts(&br, Money::from_minor(99, Currency::BRL)));
        assert!(!offer.accepts(&br, Money::from_minor(1_000_001, Currency::BRL)));
        assert!(!offer.accepts(&br, Money::from_minor(500, Currency::USD)));
        assert!(!offer.accepts(
            &Country::new("PT").unwrap(),
            Money::from_minor(500, Currency::BRL)
        ));
    }

    #[test]
    fn a_capture_after_the_checkout_was_given_up_is_kept_and_refunded() {
        use CheckoutState as C;
        use PaymentState as P;
        let captured = PaymentEvent::Captured;
        assert_eq!(
            payment_change(P::Pending, C::PaymentPending, &captured),
            PaymentChange::Capture
        );
        assert_eq!(
            payment_change(P::Authorised, C::PaymentPending, &captured),
            PaymentChange::Capture
        );
        assert_eq!(
            payment_change(P::Captured, C::Paid, &captured),
            PaymentChange::Nothing
        );
        for payment in [P::Cancelled, P::Expired, P::Refused] {
            assert_eq!(
                payment_change(payment, C::Cancelled, &captured),
                PaymentChange::CaptureLate
            );
        }
        assert_eq!(
            payment_change(P::Pending, C::Cancelled, &captured),
            PaymentChange::CaptureLate
        );
        assert_eq!(
            payment_change(P::Captured, C::Paid, &PaymentEvent::Failed(P::Expired)),
            PaymentChange::Nothing
        );
        assert_eq!(
            payment_change(P::Cancelled, C::Cancelled, &PaymentEvent::Chargeback),
            PaymentChange::Nothing
        );
    }
}
