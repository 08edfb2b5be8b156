//! Payment provider connectors. For now one: [`SandboxProvider`], an in-process provider
//! that behaves like a real payment service provider's test environment (it is modelled on
//! Adyen's), for tests, simulations and local development.
//!
//! The sandbox implements [`PaymentProvider`](bazaar_domain::payments::PaymentProvider)
//! fully: it offers methods by country, currency and amount, runs each method's flow by
//! the clock it is given, deduplicates on idempotency keys, raises signed notifications,
//! and can simulate an outage. What a buyer, their bank or a card scheme would do is done
//! through *control methods* on the sandbox itself.
//!
//! # Payment methods
//!
//! [`catalogue`] lists the configured offers. The countries, currencies and limits are
//! the sandbox's configuration, meant to look plausible; they are not a statement about
//! what any real scheme accepts. Amounts are inclusive, in major units:
//!
//! | Method | Countries | Currencies and limits |
//! |---|---|---|
//! | iDEAL | NL | EUR 0.01–50,000.00 |
//! | Bancontact | BE | EUR 0.01–50,000.00 |
//! | BLIK | PL | PLN 0.01–50,000.00 |
//! | EPS | AT | EUR 1.00–50,000.00 |
//! | TWINT | CH | CHF 0.01–5,000.00 |
//! | Swish | SE | SEK 1.00–150,000.00 |
//! | Pix | BR | BRL 0.01–100,000.00 |
//! | Boleto Bancário | BR | BRL 5.00–100,000.00 |
//! | OXXO | MX | MXN 10.00–10,000.00 |
//! | Konbini | JP | JPY 100–300,000 |
//! | UPI | IN | INR 1.00–100,000.00 |
//! | PromptPay | TH | THB 1.00–50,000.00 |
//! | Alipay | CN, HK, MY, SG, TH | CNY 0.01–50,000.00; EUR, USD, GBP 0.01–10,000.00 |
//! | WeChat Pay | CN | CNY 0.01–50,000.00 |
//! | KNET | KW | KWD 0.100–5,000.000 |
//! | BENEFIT | BH | BHD 0.100–3,000.000 |
//! | Card | every country | EUR, USD, GBP, CHF, AUD, CAD, SEK, PLN, BRL, MXN, INR, CNY, JPY, KWD, BHD, THB |
//! | PayPal | 18 countries (AT, AU, BE, BR, CA, CH, DE, ES, FR, GB, IT, JP, MX, NL, PL, PT, SE, US) | EUR, USD, GBP, AUD, CAD, CHF, SEK, PLN, BRL, MXN, JPY |
//!
//! Cards take from 0.01 up to 100,000.00 in EUR, USD, GBP and CHF (and configured
//! maxima of a similar size in the other currencies); PayPal up to 10,000.00 EUR, USD,
//! GBP or CHF. [`catalogue`] has every limit.
//!
//! Like Adyen's `/paymentMethods`, `payment_methods(country, amount)` answers only the
//! methods whose countries include `country` and whose limits for the amount's currency
//! contain it, in a fixed display order: the local methods in the order above, then
//! cards, then PayPal. A buyer in NL paying EUR 25.00 sees iDEAL, Card, PayPal.
//! `authorize` refuses any other method with `MethodNotAvailable`, and a non-positive
//! amount with `InvalidRequest`.
//!
//! # Flows
//!
//! All times come from the [`Clock`](bazaar_ledger::Clock) the sandbox is built with.
//! Whatever is due by the clock (an expiry, a confirmation) happens at the start of the
//! next call to the sandbox, at the instant it was due.
//!
//! | Flow | `authorize` answers | Then |
//! |---|---|---|
//! | Card | `Authorised`, or `Refused`, or `ActionRequired(ThreeDsChallenge)` (see the test cards) | [`complete_challenge`](SandboxProvider::complete_challenge) authorises or refuses a challenged payment; `capture` captures; an authorisation not captured within 7 days expires |
//! | Bank redirect (iDEAL, Bancontact, BLIK, EPS, TWINT, Swish) | `ActionRequired(Redirect)` | [`complete_redirect`](SandboxProvider::complete_redirect) captures or refuses; abandoned after 1 hour: expired |
//! | Wallet (Alipay, WeChat Pay, PayPal, KNET, BENEFIT) | `ActionRequired(Redirect)` | as bank redirects |
//! | Voucher (Boleto, OXXO: 3 days; Konbini: 4 days) | `ActionRequired(Voucher { reference, expires_at })` | [`pay_voucher`](SandboxProvider::pay_voucher) captures; unpaid at `expires_at`: expired |
//! | Real time (Pix, UPI, PromptPay) | `ActionRequired(QrCode { data, expires_at })`, `expires_at` 1 hour later | [`pay_qr`](SandboxProvider::pay_qr) makes it `Pending`; 5 seconds later by the clock it is captured; unpaid at `expires_at`: expired |
//!
//! Every change of state raises a notification (below), except paying a QR code, whose
//! notification is the capture 5 seconds later. Methods other than cards capture on
//! authorisation: `capture` on them is `InvalidState`.
//!
//! - `capture(amount)`: only an `Authorised` card payment, `amount` positive, in the
//!   payment's currency and at most the authorised amount; the payment is then
//!   `Captured { amount }` (one capture; the rest of the authorisation is released).
//!   Otherwise `InvalidState` (after a cancel, a refusal, an expiry, a capture).
//! - `cancel`: any payment not captured and not final (waiting for a challenge,
//!   redirect, voucher or QR code, or authorised) becomes `Cancelled`. A QR code paid and
//!   being confirmed cannot be cancelled.
//! - `refund(amount)`: only a captured payment; the refunds accepted so far plus `amount`
//!   may not exceed the captured amount, else `InvalidState`. Each refund gets its own
//!   reference and raises a `REFUND` notification; a refund of exactly
//!   [`FAILING_REFUND_MINOR`] (1313) minor units is accepted but fails with a
//!   `REFUND_FAILED` notification and does not count as refunded. At most
//!   [`MAX_REFUNDS_PER_PAYMENT`] refunds per payment, and none after a chargeback.
//!
//! # Test cards
//!
//! Any card number passing the Luhn check is accepted; these have a special outcome. A
//! card whose expiry month (`expiry_month`/`expiry_year`, valid through the month's last
//! day, UTC) has passed by the clock is refused with `expired card`, whatever its number.
//! The expiry month must be 1 to 12 and the year 2000 to 2099, else `InvalidRequest`.
//!
//! | Number | Outcome |
//! |---|---|
//! | 4111 1111 1111 1111 | `Authorised` |
//! | 5555 5555 5555 4444 | `Authorised` |
//! | 4000 0000 0000 0051 | `Refused { reason: "insufficient funds" }` |
//! | 4000 0000 0000 0010 | `Refused { reason: "do not honour" }` |
//! | 4000 0000 0000 0036 | `ActionRequired(ThreeDsChallenge { url })`; after `complete_challenge(true)` `Authorised`, after `complete_challenge(false)` `Refused { reason: "3-D Secure authentication failed" }`; unanswered after 1 hour: `Expired` |
//!
//! A card number is never stored, logged or put in a notification: the sandbox keeps its
//! last four digits, which notifications carry as `additionalData.cardSummary`. Requests
//! are remembered for idempotency as a keyed digest only.
//!
//! # Idempotency
//!
//! `authorize`, `capture`, `cancel` and `refund` take an idempotency key (1 to 64
//! printable ASCII characters). The first successful answer under a key is remembered:
//! the same key with the same request returns it again and changes nothing, even if the
//! payment has moved on since. The same key with a different request (another amount,
//! payment, operation...) is `InvalidRequest`. Errors are not remembered: nothing
//! happened, so a retry is evaluated afresh. The sandbox remembers the latest
//! [`MAX_IDEMPOTENCY_KEYS`] keys.
//!
//! # Outages
//!
//! [`set_outage`](SandboxProvider::set_outage) simulates the API failing:
//!
//! - [`Outage::Unreachable`]: `authorize`, `capture`, `cancel`, `refund` and `status`
//!   return `ProviderError::Unavailable` and do nothing.
//! - [`Outage::AnswerLost`]: the calls take effect and their answers are remembered under
//!   their keys, but the caller gets `ProviderError::Unavailable`. Once the outage is
//!   over ([`Outage::None`]), a retry with the same key returns the first answer, and no
//!   second payment, capture or refund is made.
//!
//! `payment_methods`, `parse_notifications`, the control methods and notification
//! delivery are not affected.
//!
//! # Notifications
//!
//! [`take_due_notifications`](SandboxProvider::take_due_notifications) returns every
//! notification whose time has come by the clock, oldest first, as a
//! [`SignedNotification`]: the event id, the value of the [`SIGNATURE_HEADER`] header and
//! the raw body, one event per body. As a real provider does, the sandbox delivers each
//! notification again until the receiver [acknowledges](SandboxProvider::acknowledge) it
//! (which a receiver does only once the notification's effect is committed): 10 seconds
//! after the first delivery, then after 1, 2, 5, 10, 15, 30 and 60 minutes, then hourly
//! ([`REDELIVERY_DELAYS_SECS`]). Delivering one to `parse_notifications` is up to the
//! caller. The body is JSON in the style of Adyen's standard
//! webhooks; amounts are integers in minor units, dates UTC with microseconds:
//!
//! ```json
//! {"live":"false","notificationItems":[{"NotificationRequestItem":{
//!   "eventId":"0b8f1c9e-5b7a-4c1e-9d4f-2a6f1e3c7b5d",
//!   "eventCode":"CAPTURE","success":"true",
//!   "pspReference":"8C1E5A7B3F92D046",
//!   "merchantAccountCode":"sandbox",
//!   "merchantReference":"9d6c0a3e-2f41-4f8a-8a57-1c2b3d4e5f60",
//!   "amount":{"currency":"BRL","value":12345},
//!   "eventDate":"2030-03-17T17:46:45.000000Z",
//!   "paymentMethod":"pix"}}]}
//! ```
//!
//! | Event | `eventCode` | `success` | Notes |
//! |---|---|---|---|
//! | `Authorised` | `AUTHORISATION` | `true` | cards only |
//! | `Refused` | `AUTHORISATION` | `false` | `reason` holds the refusal reason |
//! | `Captured` | `CAPTURE` | `true` | `amount` is the captured amount |
//! | `Cancelled` | `CANCELLATION` | `true` | |
//! | `Expired` | `EXPIRE` (card authorisation) or `OFFER_CLOSED` (anything else) | `true` | |
//! | `Refunded` | `REFUND` | `true` | `pspReference` is the refund's, `originalReference` the payment's |
//! | `RefundFailed` | `REFUND_FAILED` | `true` | as `REFUND` |
//! | `Chargeback` | `CHARGEBACK` | `true` | `amount` is the captured amount not refunded |
//!
//! `merchantReference` is the [`PaymentId`](bazaar_domain::payments::PaymentId),
//! `merchantAccountCode` the provider's name, `eventId` a UUID unique to the event (the
//! same body delivered twice carries the same id). Dates are written for the years 0000
//! to 9999; a clock outside them is written as the nearest instant inside.
//!
//! **Signature.** The signature is the lower-case hex HMAC-SHA256 of the raw body bytes
//! under the sandbox's HMAC key ([`sign`]). `parse_notifications` checks it in constant
//! time (upper-case hex is accepted too) and refuses:
//!
//! - a body over [`MAX_BODY_BYTES`] (256 KiB): `Malformed`, unread;
//! - a missing, non-hex or wrong signature: `BadSignature`;
//! - anything else not as above: `Malformed` with a short fixed message (not JSON, a
//!   `live` other than `"false"`, no items or more than 100, an unknown event code or
//!   currency, an amount that is negative or not an integer fitting `i64`, a
//!   `merchantReference` that is not a UUID, a malformed reference, date or event id, or
//!   another merchant account). One bad item refuses the whole body.
//!
//! # Control methods
//!
//! | Method | What it simulates |
//! |---|---|
//! | [`complete_challenge(reference, passed)`](SandboxProvider::complete_challenge) | the buyer passing or failing 3-D Secure |
//! | [`complete_redirect(reference, approved)`](SandboxProvider::complete_redirect) | the buyer approving or declining at their bank or wallet |
//! | [`pay_voucher(reference)`](SandboxProvider::pay_voucher) | the buyer paying a voucher in cash |
//! | [`pay_qr(reference)`](SandboxProvider::pay_qr) | the buyer paying a QR code |
//! | [`chargeback(reference)`](SandboxProvider::chargeback) | the buyer disputing a captured payment |
//! | [`take_due_notifications()`](SandboxProvider::take_due_notifications) | the provider sending its webhooks (and sending again those not acknowledged) |
//! | [`acknowledge(event_id)`](SandboxProvider::acknowledge) | the receiver answering 2xx |
//! | [`set_outage(outage)`](SandboxProvider::set_outage) | the API failing |
//!
//! Each returns `NotFound` for an unknown reference and `InvalidState` when the payment is
//! not in the state the action applies to (paying a voucher after it expired, say).
//!
//! # Bounds
//!
//! The sandbox keeps the latest [`MAX_PAYMENTS`] payments (creating one more forgets the
//! oldest), [`MAX_IDEMPOTENCY_KEYS`] idempotency keys, and [`MAX_PENDING_NOTIFICATIONS`]
//! unacknowledged notifications (one more drops the oldest, with a warning in the log).
//!
//! # Logging
//!
//! State changes are logged with `tracing` at `info` (notifications raised at `debug`),
//! with the fields `psp_reference`, `payment_id` and `method`. Card numbers are never
//! logged.

mod configured;
mod methods;
mod notification;
mod sandbox;
mod time;

pub use configured::ConfiguredProvider;
pub use methods::catalogue;
pub use notification::{MAX_BODY_BYTES, SIGNATURE_HEADER, SignedNotification, sign};
pub use sandbox::{
    AUTHORISATION_VALIDITY_SECS, CHALLENGE_VALIDITY_SECS, FAILING_REFUND_MINOR,
    MAX_IDEMPOTENCY_KEY_LEN, MAX_IDEMPOTENCY_KEYS, MAX_PAYMENTS, MAX_PENDING_NOTIFICATIONS,
    MAX_REFUNDS_PER_PAYMENT, Outage, QR_CONFIRMATION_DELAY_SECS, QR_VALIDITY_SECS,
    REDELIVERY_DELAYS_SECS, REDIRECT_VALIDITY_SECS, SandboxProvider, voucher_validity_secs,
};
