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
    /// A reference of 1 to 64 characters from `[A-Za-z0-9_-]`; `InvalidRequest` otherwise.
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

    /// The reference as the provider wrote it.
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
    /// A debit or credit card (`scheme`): authorised, possibly after a 3-D Secure
    /// challenge, then captured.
    Card,
    /// iDEAL (`ideal`), the Dutch bank redirect.
    Ideal,
    /// Bancontact (`bcmc`), the Belgian bank redirect.
    Bancontact,
    /// BLIK (`blik`), the Polish mobile bank payment; a bank redirect here.
    Blik,
    /// EPS (`eps`), the Austrian bank redirect.
    Eps,
    /// TWINT (`twint`), the Swiss mobile payment; a bank redirect here.
    Twint,
    /// Swish (`swish`), the Swedish mobile payment; a bank redirect here.
    Swish,
    /// Boleto Bancário (`boletobancario`), the Brazilian voucher paid in cash or at a bank.
    Boleto,
    /// OXXO (`oxxo`), the Mexican voucher paid in cash at a store.
    Oxxo,
    /// Konbini (`econtext_stores`), the Japanese voucher paid at a convenience store.
    Konbini,
    /// Pix (`pix`), Brazil's real-time payment by QR code.
    Pix,
    /// UPI (`upi_collect`), India's real-time payment by collect request.
    Upi,
    /// Alipay (`alipay`), a wallet.
    Alipay,
    /// WeChat Pay (`wechatpayQR`), a wallet.
    WechatPay,
    /// PayPal (`paypal`), a wallet.
    Paypal,
    /// KNET (`knet`), Kuwait's debit network; a wallet redirect here.
    Knet,
    /// BENEFIT (`benefit`), Bahrain's debit network; a wallet redirect here.
    Benefit,
    /// PromptPay (`promptpay`), Thailand's real-time payment by QR code.
    Promptpay,
}

impl MethodType {
    /// Every method, in declaration order.
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

    /// The method's name on the wire and in storage: `scheme` for cards, Adyen's `type`
    /// name for the others.
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

    /// The method with this [`wire_name`](Self::wire_name); `None` for an unknown name.
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
    /// The method offered.
    pub method: MethodType,
    /// Display name, e.g. `iDEAL`.
    pub name: &'static str,
    /// ISO 3166-1 alpha-2 codes; empty means every country.
    pub countries: Vec<Country>,
    /// Per currency, the smallest and largest amount in minor units (inclusive).
    pub limits: Vec<AmountLimit>,
}

/// The amounts a method accepts in one currency.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AmountLimit {
    /// The currency the bounds are in.
    pub currency: Currency,
    /// The smallest amount accepted, in minor units, inclusive.
    pub min_minor: i64,
    /// The largest amount accepted, in minor units, inclusive.
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

    /// The last four digits: the only part ever shown.
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
    /// A card: number and expiry, passed to the provider and never stored.
    Card {
        /// The card number, checked for length and the Luhn digit.
        number: CardNumber,
        /// The expiry month, 1 (January) to 12; the card is valid through its last day.
        expiry_month: u8,
        /// The expiry year, four digits, e.g. `2030`.
        expiry_year: u16,
    },
    /// A card the vault holds: only its token; the provider's connector detokenizes it
    /// inside the vault's scope.
    CardToken {
        /// The vault's token of the card.
        token: crate::vault::CardToken,
    },
    /// Any other method; `extra` is what that method needs (an iDEAL issuer, a BLIK code,
    /// a UPI id), empty if nothing.
    Other {
        /// The chosen method; not [`MethodType::Card`], which has its own variant.
        method: MethodType,
        /// What the method needs, passed to the provider as given; empty if nothing.
        extra: String,
    },
}

impl MethodDetails {
    /// The method these details are for.
    pub fn method(&self) -> MethodType {
        match self {
            Self::Card { .. } | Self::CardToken { .. } => MethodType::Card,
            Self::Other { method, .. } => *method,
        }
    }
}

/// A request to authorise a payment.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuthorizeRequest {
    /// Bazaar's id of the payment, sent as the merchant reference; notifications carry it
    /// back.
    pub payment_id: PaymentId,
    /// The checkout's total, tax included, in the currency the buyer pays in.
    pub amount: Money,
    /// The buyer's country; the method must be offered there.
    pub country: Country,
    /// The chosen method and what the buyer gave for it.
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
        /// The total captured, at most the authorised amount.
        amount: Money,
    },
    /// Refused by the provider or the issuer; `reason` is safe to show.
    Refused {
        /// The refusal reason, e.g. `insufficient funds`.
        reason: String,
    },
    /// Cancelled before capture: an authorisation voided, or a payment the buyer had not
    /// completed withdrawn.
    Cancelled,
    /// The buyer never paid (vouchers, QR codes, abandoned redirects).
    Expired,
}

/// What the buyer must do next.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Action {
    /// Send the buyer to their bank's or wallet's page; they come back to the request's
    /// `return_url`, and the result follows by notification.
    Redirect {
        /// Where to send the buyer.
        url: String,
    },
    /// The card issuer asks the buyer to authenticate (3-D Secure) before it authorises.
    ThreeDsChallenge {
        /// The challenge page to send the buyer to.
        url: String,
    },
    /// The buyer pays a voucher (Boleto, OXXO, Konbini) before it expires; the capture
    /// follows by notification.
    Voucher {
        /// The voucher's number, to show the buyer.
        reference: String,
        /// When the voucher can no longer be paid and the payment expires; the stock stays
        /// reserved until [`RESERVATION_GRACE_SECS`]
        /// after it.
        expires_at: Timestamp,
    },
    /// The buyer pays by scanning a QR code (Pix, UPI, PromptPay) before it expires; the
    /// capture follows by notification.
    QrCode {
        /// The QR code's content, to render as a code or to copy.
        data: String,
        /// When the code can no longer be paid and the payment expires; the stock stays
        /// reserved until [`RESERVATION_GRACE_SECS`]
        /// after it.
        expires_at: Timestamp,
    },
}

/// The provider's answer to a call.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProviderPayment {
    /// The provider's id of the payment; Bazaar stores it and names the payment by it in
    /// later calls.
    pub psp_reference: PspReference,
    /// Where the payment stands after the call.
    pub status: PaymentStatus,
}

/// The provider's answer to a refund request: accepted, the outcome comes by notification.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProviderRefund {
    /// The provider's id of the refund; the notification of its outcome names it.
    pub refund_reference: PspReference,
}

/// What a provider notification says happened.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum NotificationEvent {
    /// A card payment was authorised; Bazaar captures it next.
    Authorised,
    /// Money captured (for methods that capture on authorisation, this is their success).
    Captured,
    /// The payment was refused.
    Refused {
        /// The refusal reason, safe to show.
        reason: String,
    },
    /// The payment was cancelled before capture.
    Cancelled,
    /// The buyer never completed the payment (voucher or QR code not paid, redirect
    /// abandoned, authorisation not captured in time).
    Expired,
    /// A refund went through: the money is back with the buyer.
    Refunded {
        /// The reference the refund call returned.
        refund_reference: PspReference,
    },
    /// A refund the provider had accepted failed; nothing was refunded.
    RefundFailed {
        /// The reference the refund call returned.
        refund_reference: PspReference,
    },
    /// The buyer's bank took captured money back (a dispute); Bazaar records every line's
    /// unrefunded remainder as a chargeback refund.
    Chargeback,
}

/// One event from the provider, authenticated.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Notification {
    /// Unique per event at the provider; a notification delivered twice has the same id.
    pub event_id: String,
    /// Bazaar's id of the payment (the merchant reference the provider was given).
    pub payment_id: PaymentId,
    /// The provider's id of the payment; for refund events too, the payment's, not the
    /// refund's.
    pub psp_reference: PspReference,
    /// What happened.
    pub event: NotificationEvent,
    /// The amount the event concerns: the captured amount, the refund's amount, or the
    /// amount charged back; the payment's amount for the others.
    pub amount: Money,
    /// When it happened at the provider.
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
    /// A stable, machine-readable code, e.g. `payment_provider_unavailable`.
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
    /// The signature header is missing or does not authenticate the body: the request may
    /// not come from the provider. Nothing was applied.
    #[error("notification signature missing or invalid")]
    BadSignature,
    /// The body cannot be read as notifications (too large, not the provider's format, an
    /// unknown event code or currency...); the message is a short fixed text naming what.
    #[error("notification body is malformed: {0}")]
    Malformed(String),
}

impl NotificationError {
    /// A stable, machine-readable code: `notification_signature_invalid` or
    /// `notification_malformed`.
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
    /// The provider's id of the settled payment; a settlement naming another reference than
    /// the payment's is refused.
    pub psp_reference: PspReference,
    /// What the provider settled for the payment before its fee, in the currency the buyer
    /// paid in; positive.
    pub gross: Money,
    /// The provider's fee, from zero to `gross`, in the same currency; the bank receives
    /// `gross` less `fee`.
    pub fee: Money,
}

mod itemized_report;
mod port;
mod rules;
pub(crate) mod settlement_report;

pub use itemized_report::*;
pub use port::PaymentProvider;
pub use rules::{
    PaymentChange, RESERVATION_GRACE_SECS, event_of_answer, expiry_states, payment_change,
    reservation_until,
};
pub use settlement_report::*;

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
