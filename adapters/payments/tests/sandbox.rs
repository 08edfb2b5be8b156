//! The sandbox provider through the `PaymentProvider` port, on a manual clock: method
//! offers by market, every flow, idempotency, outages and signed notifications.
#![expect(
    clippy::inconsistent_digit_grouping,
    reason = "amounts are written major_minor: 100_00 is 100.00 EUR"
)]
#![expect(
    clippy::unwrap_used,
    reason = "fixtures fail loudly when a fixture is broken"
)]

use std::sync::Arc;

use bazaar_domain::Country;
use bazaar_domain::chart::ProviderName;
use bazaar_domain::payments::{
    Action, AuthorizeRequest, CardNumber, MethodDetails, MethodType, Notification,
    NotificationError, NotificationEvent, PaymentId, PaymentProvider, PaymentStatus, ProviderError,
    PspReference,
};
use bazaar_ledger::{Clock, ManualClock, Timestamp};
use bazaar_money::{Currency, Money};
use bazaar_payments::{
    AUTHORISATION_VALIDITY_SECS, Outage, QR_CONFIRMATION_DELAY_SECS, REDELIVERY_DELAYS_SECS,
    SandboxProvider, SignedNotification, sign,
};
use uuid::Uuid;

const HMAC_KEY: &[u8] = b"sandbox test hmac key";
/// 2030-03-15T10:00:00Z
const START_MICROS: i64 = 1_899_799_200_000_000;
const HOUR: u32 = 3_600;
const DAY: u32 = 86_400;

const CARD_OK: &str = "4111 1111 1111 1111";
const CARD_INSUFFICIENT_FUNDS: &str = "4000 0000 0000 0051";
const CARD_DO_NOT_HONOUR: &str = "4000 0000 0000 0010";
const CARD_CHALLENGE: &str = "4000 0000 0000 0036";

struct Fixture {
    clock: Arc<ManualClock>,
    sandbox: SandboxProvider,
}

fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(Timestamp::from_micros(START_MICROS)));
    let sandbox = SandboxProvider::new(
        ProviderName::new("sandbox").unwrap(),
        HMAC_KEY.to_vec(),
        clock.clone(),
    );
    Fixture { clock, sandbox }
}

impl Fixture {
    /// Every notification now due, authenticated, read and acknowledged.
    fn notifications(&self) -> Vec<Notification> {
        self.sandbox
            .take_due_notifications()
            .iter()
            .flat_map(|signed| {
                assert!(self.sandbox.acknowledge(&signed.event_id));
                self.sandbox
                    .parse_notifications(&signed.signature, &signed.body)
                    .unwrap()
            })
            .collect()
    }

    async fn status(&self, reference: &PspReference) -> PaymentStatus {
        self.sandbox.status(reference).await.unwrap().status
    }
}

fn country(code: &str) -> Country {
    Country::new(code).unwrap()
}

fn money(minor: i64, currency: Currency) -> Money {
    Money::from_minor(minor, currency)
}

fn eur(minor: i64) -> Money {
    money(minor, Currency::EUR)
}

fn card(number: &str, expiry_month: u8, expiry_year: u16) -> MethodDetails {
    MethodDetails::Card {
        number: CardNumber::new(number).unwrap(),
        expiry_month,
        expiry_year,
    }
}

fn request(country_code: &str, amount: Money, details: MethodDetails) -> AuthorizeRequest {
    AuthorizeRequest {
        payment_id: PaymentId::from_uuid(Uuid::new_v4()),
        amount,
        country: country(country_code),
        details,
        return_url: "https://shop.bazaar.test/return".to_owned(),
        idempotency_key: Uuid::new_v4().to_string(),
    }
}

fn card_request(amount: Money, number: &str) -> AuthorizeRequest {
    request("NL", amount, card(number, 12, 2031))
}

fn other_request(method: MethodType, country_code: &str, amount: Money) -> AuthorizeRequest {
    request(
        country_code,
        amount,
        MethodDetails::Other {
            method,
            extra: String::new(),
        },
    )
}

fn key() -> String {
    Uuid::new_v4().to_string()
}

fn methods(sandbox: &SandboxProvider, country_code: &str, amount: Money) -> Vec<MethodType> {
    sandbox
        .payment_methods(&country(country_code), amount)
        .into_iter()
        .map(|offer| offer.method)
        .collect()
}

fn events(notifications: &[Notification]) -> Vec<NotificationEvent> {
    notifications.iter().map(|n| n.event.clone()).collect()
}

fn refused(reason: &str) -> PaymentStatus {
    PaymentStatus::Refused {
        reason: reason.to_owned(),
    }
}

#[test]
fn methods_are_offered_by_country_currency_and_amount() {
    use MethodType::*;
    let Fixture { sandbox, .. } = fixture();

    assert_eq!(methods(&sandbox, "NL", eur(25_00)), [Ideal, Card, Paypal]);
    assert_eq!(
        methods(&sandbox, "NL", money(25_00, Currency::USD)),
        [Card, Paypal]
    );
    assert_eq!(methods(&sandbox, "DE", eur(25_00)), [Card, Paypal]);
    assert_eq!(
        methods(&sandbox, "BE", eur(25_00)),
        [Bancontact, Card, Paypal]
    );
    // iDEAL's configured maximum is EUR 50,000.00; PayPal's is 10,000.00.
    assert_eq!(
        methods(&sandbox, "NL", eur(10_000_00)),
        [Ideal, Card, Paypal]
    );
    assert_eq!(methods(&sandbox, "NL", eur(10_000_01)), [Ideal, Card]);
    assert_eq!(methods(&sandbox, "NL", eur(5_000_000)), [Ideal, Card]);
    assert_eq!(methods(&sandbox, "NL", eur(5_000_001)), [Card]);

    let brl = |minor| money(minor, Currency::BRL);
    assert_eq!(
        methods(&sandbox, "BR", brl(123_45)),
        [Pix, Boleto, Card, Paypal]
    );
    // Boleto starts at BRL 5.00.
    assert_eq!(methods(&sandbox, "BR", brl(4_99)), [Pix, Card, Paypal]);

    // JPY has no minor unit: Konbini takes 100 to 300,000 yen.
    let jpy = |minor| money(minor, Currency::JPY);
    assert_eq!(Currency::JPY.exponent(), 0);
    assert_eq!(methods(&sandbox, "JP", jpy(5_000)), [Konbini, Card, Paypal]);
    assert_eq!(
        methods(&sandbox, "JP", jpy(300_000)),
        [Konbini, Card, Paypal]
    );
    assert_eq!(methods(&sandbox, "JP", jpy(300_001)), [Card, Paypal]);
    assert_eq!(methods(&sandbox, "JP", jpy(99)), [Card, Paypal]);
    let konbini = sandbox
        .payment_methods(&country("JP"), jpy(5_000))
        .into_iter()
        .find(|offer| offer.method == Konbini)
        .unwrap();
    assert_eq!(konbini.name, "Konbini");
    assert_eq!(konbini.countries, [country("JP")]);
    assert_eq!(
        (
            konbini.limits[0].currency,
            konbini.limits[0].min_minor,
            konbini.limits[0].max_minor
        ),
        (Currency::JPY, 100, 300_000)
    );

    // KWD has three decimals: 12.345 KWD is 12345 minor units; KNET starts at 0.100.
    let kwd = |minor| money(minor, Currency::KWD);
    assert_eq!(Currency::KWD.exponent(), 3);
    assert_eq!(methods(&sandbox, "KW", kwd(12_345)), [Knet, Card]);
    assert_eq!(methods(&sandbox, "KW", kwd(99)), [Card]);
    assert_eq!(
        methods(&sandbox, "BH", money(1_500, Currency::BHD)),
        [Benefit, Card]
    );

    assert_eq!(
        methods(&sandbox, "IN", money(500_00, Currency::INR)),
        [Upi, Card]
    );
    assert_eq!(
        methods(&sandbox, "MX", money(500_00, Currency::MXN)),
        [Oxxo, Card, Paypal]
    );
    assert_eq!(
        methods(&sandbox, "MX", money(9_99, Currency::MXN)),
        [Card, Paypal]
    );
    assert_eq!(
        methods(&sandbox, "PL", money(100_00, Currency::PLN)),
        [Blik, Card, Paypal]
    );
    assert_eq!(
        methods(&sandbox, "CN", money(100_00, Currency::CNY)),
        [Alipay, WechatPay, Card]
    );
    let thb = Currency::from_code("THB").unwrap();
    assert_eq!(
        methods(&sandbox, "TH", money(100_00, thb)),
        [Promptpay, Card]
    );

    // Nothing is offered for nothing.
    assert!(methods(&sandbox, "NL", eur(0)).is_empty());
    assert!(methods(&sandbox, "NL", eur(-1)).is_empty());
}

#[tokio::test]
async fn authorize_refuses_methods_not_offered_and_bad_amounts() {
    let f = fixture();
    let too_much = other_request(MethodType::Konbini, "JP", money(300_001, Currency::JPY));
    assert_eq!(
        f.sandbox.authorize(too_much).await,
        Err(ProviderError::MethodNotAvailable)
    );
    let wrong_country = other_request(MethodType::Ideal, "DE", eur(10_00));
    assert_eq!(
        f.sandbox.authorize(wrong_country).await,
        Err(ProviderError::MethodNotAvailable)
    );
    let wrong_currency = other_request(MethodType::Pix, "BR", money(10_00, Currency::USD));
    assert_eq!(
        f.sandbox.authorize(wrong_currency).await,
        Err(ProviderError::MethodNotAvailable)
    );
    for minor in [0, -100] {
        let result = f.sandbox.authorize(card_request(eur(minor), CARD_OK)).await;
        assert!(
            matches!(result, Err(ProviderError::InvalidRequest(_))),
            "{minor}"
        );
    }
    let mut bad_key = card_request(eur(10_00), CARD_OK);
    bad_key.idempotency_key = String::new();
    assert!(matches!(
        f.sandbox.authorize(bad_key).await,
        Err(ProviderError::InvalidRequest(_))
    ));
    let bad_month = request("NL", eur(10_00), card(CARD_OK, 13, 2031));
    assert!(matches!(
        f.sandbox.authorize(bad_month).await,
        Err(ProviderError::InvalidRequest(_))
    ));
    assert_eq!(f.sandbox.payment_count(), 0);
    assert!(f.notifications().is_empty());
}

#[tokio::test]
async fn card_payment_is_captured_and_refunded_in_parts() {
    let f = fixture();
    let request = card_request(eur(100_00), CARD_OK);
    let payment_id = request.payment_id;
    let payment = f.sandbox.authorize(request).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Authorised);
    let reference = payment.psp_reference;

    let captured = f
        .sandbox
        .capture(&reference, eur(100_00), &key())
        .await
        .unwrap();
    assert_eq!(
        captured.status,
        PaymentStatus::Captured {
            amount: eur(100_00)
        }
    );

    let first = f
        .sandbox
        .refund(&reference, eur(30_00), &key())
        .await
        .unwrap();
    let second = f
        .sandbox
        .refund(&reference, eur(50_00), &key())
        .await
        .unwrap();
    assert_ne!(first.refund_reference, second.refund_reference);
    assert_ne!(first.refund_reference, reference);
    // 80.00 refunded: 30.00 more would exceed the captured amount.
    assert!(matches!(
        f.sandbox.refund(&reference, eur(30_00), &key()).await,
        Err(ProviderError::InvalidState(_))
    ));
    let third = f
        .sandbox
        .refund(&reference, eur(20_00), &key())
        .await
        .unwrap();
    assert!(matches!(
        f.sandbox.refund(&reference, eur(1), &key()).await,
        Err(ProviderError::InvalidState(_))
    ));
    // Another currency is a malformed request, not a state problem.
    assert!(matches!(
        f.sandbox
            .refund(&reference, money(1, Currency::USD), &key())
            .await,
        Err(ProviderError::InvalidRequest(_))
    ));
    assert_eq!(
        f.status(&reference).await,
        PaymentStatus::Captured {
            amount: eur(100_00)
        }
    );

    let notifications = f.notifications();
    assert_eq!(
        events(&notifications),
        [
            NotificationEvent::Authorised,
            NotificationEvent::Captured,
            NotificationEvent::Refunded {
                refund_reference: first.refund_reference
            },
            NotificationEvent::Refunded {
                refund_reference: second.refund_reference
            },
            NotificationEvent::Refunded {
                refund_reference: third.refund_reference
            },
        ]
    );
    let amounts: Vec<Money> = notifications.iter().map(|n| n.amount).collect();
    assert_eq!(
        amounts,
        [eur(100_00), eur(100_00), eur(30_00), eur(50_00), eur(20_00)]
    );
    for notification in &notifications {
        assert_eq!(notification.payment_id, payment_id);
        assert_eq!(notification.psp_reference, reference);
        assert_eq!(notification.occurred_at, f.clock.now());
    }
}

#[tokio::test]
async fn partial_capture_bounds_refunds_and_over_capture_is_refused() {
    let f = fixture();
    let reference = f
        .sandbox
        .authorize(card_request(eur(100_00), CARD_OK))
        .await
        .unwrap()
        .psp_reference;
    assert!(matches!(
        f.sandbox.capture(&reference, eur(100_01), &key()).await,
        Err(ProviderError::InvalidState(_))
    ));
    assert!(matches!(
        f.sandbox.capture(&reference, eur(0), &key()).await,
        Err(ProviderError::InvalidRequest(_))
    ));
    f.sandbox
        .capture(&reference, eur(60_00), &key())
        .await
        .unwrap();
    assert!(matches!(
        f.sandbox.capture(&reference, eur(10_00), &key()).await,
        Err(ProviderError::InvalidState(_))
    ));
    assert!(matches!(
        f.sandbox.refund(&reference, eur(60_01), &key()).await,
        Err(ProviderError::InvalidState(_))
    ));
    f.sandbox
        .refund(&reference, eur(60_00), &key())
        .await
        .unwrap();
    let captured: Vec<Money> = f
        .notifications()
        .into_iter()
        .filter(|n| n.event == NotificationEvent::Captured)
        .map(|n| n.amount)
        .collect();
    assert_eq!(captured, [eur(60_00)]);
}

#[tokio::test]
async fn declined_and_expired_cards_are_refused() {
    let f = fixture();
    let cases = [
        (
            card(CARD_INSUFFICIENT_FUNDS, 12, 2031),
            "insufficient funds",
        ),
        (card(CARD_DO_NOT_HONOUR, 12, 2031), "do not honour"),
        // The clock says March 2030: a card that expired in February is refused.
        (card(CARD_OK, 2, 2030), "expired card"),
        (card(CARD_CHALLENGE, 1, 2029), "expired card"),
    ];
    let mut references = Vec::new();
    for (details, reason) in cases {
        let payment = f
            .sandbox
            .authorize(request("NL", eur(42_00), details))
            .await
            .unwrap();
        assert_eq!(payment.status, refused(reason));
        references.push(payment.psp_reference);
    }
    // A card expiring this month still works.
    let this_month = f
        .sandbox
        .authorize(request("NL", eur(42_00), card(CARD_OK, 3, 2030)))
        .await
        .unwrap();
    assert_eq!(this_month.status, PaymentStatus::Authorised);

    let declined = references.first().unwrap();
    assert!(matches!(
        f.sandbox.capture(declined, eur(42_00), &key()).await,
        Err(ProviderError::InvalidState(_))
    ));
    assert!(matches!(
        f.sandbox.cancel(declined, &key()).await,
        Err(ProviderError::InvalidState(_))
    ));
    let notifications = f.notifications();
    assert_eq!(
        events(&notifications),
        [
            NotificationEvent::Refused {
                reason: "insufficient funds".to_owned()
            },
            NotificationEvent::Refused {
                reason: "do not honour".to_owned()
            },
            NotificationEvent::Refused {
                reason: "expired card".to_owned()
            },
            NotificationEvent::Refused {
                reason: "expired card".to_owned()
            },
            NotificationEvent::Authorised,
        ]
    );
}

#[tokio::test]
async fn three_ds_challenge_passed_or_failed() {
    let f = fixture();
    let passed = f
        .sandbox
        .authorize(card_request(eur(75_00), CARD_CHALLENGE))
        .await
        .unwrap();
    let PaymentStatus::ActionRequired(Action::ThreeDsChallenge { url }) = &passed.status else {
        panic!("expected a challenge, got {:?}", passed.status);
    };
    assert!(url.starts_with("https://"));
    assert!(url.contains(passed.psp_reference.as_str()));
    let failed = f
        .sandbox
        .authorize(card_request(eur(75_00), CARD_CHALLENGE))
        .await
        .unwrap();
    // Nothing is captured or notified while the buyer answers the challenge.
    assert!(matches!(
        f.sandbox
            .capture(&passed.psp_reference, eur(75_00), &key())
            .await,
        Err(ProviderError::InvalidState(_))
    ));
    assert!(f.notifications().is_empty());

    let after = f
        .sandbox
        .complete_challenge(&passed.psp_reference, true)
        .unwrap();
    assert_eq!(after.status, PaymentStatus::Authorised);
    let after = f
        .sandbox
        .complete_challenge(&failed.psp_reference, false)
        .unwrap();
    assert_eq!(after.status, refused("3-D Secure authentication failed"));
    // A challenge is answered once.
    assert!(matches!(
        f.sandbox.complete_challenge(&passed.psp_reference, true),
        Err(ProviderError::InvalidState(_))
    ));
    let notifications = f.notifications();
    assert_eq!(
        events(&notifications),
        [
            NotificationEvent::Authorised,
            NotificationEvent::Refused {
                reason: "3-D Secure authentication failed".to_owned()
            },
        ]
    );
    assert_eq!(notifications[0].psp_reference, passed.psp_reference);
    f.sandbox
        .capture(&passed.psp_reference, eur(75_00), &key())
        .await
        .unwrap();

    // An unanswered challenge expires after an hour.
    let abandoned = f
        .sandbox
        .authorize(card_request(eur(75_00), CARD_CHALLENGE))
        .await
        .unwrap();
    f.notifications();
    f.clock.advance_secs(HOUR);
    assert_eq!(events(&f.notifications()), [NotificationEvent::Expired]);
    assert_eq!(
        f.status(&abandoned.psp_reference).await,
        PaymentStatus::Expired
    );
}

#[tokio::test]
async fn ideal_redirect_approved_or_declined() {
    let f = fixture();
    let approved = f
        .sandbox
        .authorize(other_request(MethodType::Ideal, "NL", eur(19_99)))
        .await
        .unwrap();
    let declined = f
        .sandbox
        .authorize(other_request(MethodType::Ideal, "NL", eur(5_00)))
        .await
        .unwrap();
    assert!(matches!(
        &approved.status,
        PaymentStatus::ActionRequired(Action::Redirect { url }) if url.contains("ideal")
    ));
    // iDEAL captures on authorisation: there is nothing to capture separately.
    assert!(matches!(
        f.sandbox
            .capture(&approved.psp_reference, eur(19_99), &key())
            .await,
        Err(ProviderError::InvalidState(_))
    ));
    assert!(f.notifications().is_empty());

    let done = f
        .sandbox
        .complete_redirect(&approved.psp_reference, true)
        .unwrap();
    assert_eq!(done.status, PaymentStatus::Captured { amount: eur(19_99) });
    let done = f
        .sandbox
        .complete_redirect(&declined.psp_reference, false)
        .unwrap();
    assert_eq!(done.status, refused("declined at the bank"));
    assert!(matches!(
        f.sandbox.complete_redirect(&approved.psp_reference, false),
        Err(ProviderError::InvalidState(_))
    ));

    let notifications = f.notifications();
    assert_eq!(
        events(&notifications),
        [
            NotificationEvent::Captured,
            NotificationEvent::Refused {
                reason: "declined at the bank".to_owned()
            },
        ]
    );
    assert_eq!(notifications[0].amount, eur(19_99));
    assert_eq!(
        f.status(&approved.psp_reference).await,
        PaymentStatus::Captured { amount: eur(19_99) }
    );
    f.sandbox
        .refund(&approved.psp_reference, eur(9_99), &key())
        .await
        .unwrap();
}

#[tokio::test]
async fn abandoned_redirect_expires_after_an_hour() {
    let f = fixture();
    let payment = f
        .sandbox
        .authorize(other_request(MethodType::Paypal, "DE", eur(30_00)))
        .await
        .unwrap();
    f.clock.advance_secs(HOUR - 1);
    assert!(f.notifications().is_empty());
    f.clock.advance_secs(1);
    let notifications = f.notifications();
    assert_eq!(events(&notifications), [NotificationEvent::Expired]);
    assert_eq!(notifications[0].occurred_at, f.clock.now());
    assert!(matches!(
        f.sandbox.complete_redirect(&payment.psp_reference, true),
        Err(ProviderError::InvalidState(_))
    ));
}

#[tokio::test]
async fn knet_pays_in_three_decimal_dinars() {
    let f = fixture();
    let amount = money(12_345, Currency::KWD);
    let payment = f
        .sandbox
        .authorize(other_request(MethodType::Knet, "KW", amount))
        .await
        .unwrap();
    f.sandbox
        .complete_redirect(&payment.psp_reference, true)
        .unwrap();
    let signed = f.sandbox.take_due_notifications();
    let body: serde_json::Value = serde_json::from_slice(&signed[0].body).unwrap();
    let item = &body["notificationItems"][0]["NotificationRequestItem"];
    assert_eq!(item["amount"]["currency"], "KWD");
    assert_eq!(item["amount"]["value"], 12_345);
    assert_eq!(item["paymentMethod"], "knet");
    let notifications = f
        .sandbox
        .parse_notifications(&signed[0].signature, &signed[0].body)
        .unwrap();
    assert_eq!(notifications[0].amount, amount);
}

#[tokio::test]
async fn pix_confirmation_arrives_after_the_delay() {
    let f = fixture();
    let amount = money(250_00, Currency::BRL);
    let payment = f
        .sandbox
        .authorize(other_request(MethodType::Pix, "BR", amount))
        .await
        .unwrap();
    let PaymentStatus::ActionRequired(Action::QrCode { data, expires_at }) = &payment.status else {
        panic!("expected a QR code, got {:?}", payment.status);
    };
    assert!(!data.is_empty());
    assert_eq!(*expires_at, f.clock.now().saturating_add_secs(HOUR));

    let paid = f.sandbox.pay_qr(&payment.psp_reference).unwrap();
    assert_eq!(paid.status, PaymentStatus::Pending);
    let paid_at = f.clock.now();
    assert!(f.notifications().is_empty());
    f.clock.advance_secs(QR_CONFIRMATION_DELAY_SECS - 1);
    assert!(f.notifications().is_empty());
    assert_eq!(
        f.status(&payment.psp_reference).await,
        PaymentStatus::Pending
    );
    // Paid and being confirmed: too late to cancel.
    assert!(matches!(
        f.sandbox.cancel(&payment.psp_reference, &key()).await,
        Err(ProviderError::InvalidState(_))
    ));

    f.clock.advance_secs(1);
    let notifications = f.notifications();
    assert_eq!(events(&notifications), [NotificationEvent::Captured]);
    assert_eq!(notifications[0].amount, amount);
    assert_eq!(
        notifications[0].occurred_at,
        paid_at.saturating_add_secs(QR_CONFIRMATION_DELAY_SECS)
    );
    assert_eq!(
        f.status(&payment.psp_reference).await,
        PaymentStatus::Captured { amount }
    );
    assert!(f.notifications().is_empty());
}

#[tokio::test]
async fn unpaid_qr_codes_expire() {
    let f = fixture();
    let upi = f
        .sandbox
        .authorize(other_request(
            MethodType::Upi,
            "IN",
            money(999_00, Currency::INR),
        ))
        .await
        .unwrap();
    f.clock.advance_secs(HOUR);
    assert_eq!(events(&f.notifications()), [NotificationEvent::Expired]);
    assert!(matches!(
        f.sandbox.pay_qr(&upi.psp_reference),
        Err(ProviderError::InvalidState(_))
    ));
    assert_eq!(f.status(&upi.psp_reference).await, PaymentStatus::Expired);
}

#[tokio::test]
async fn vouchers_paid_in_time_or_expired() {
    let f = fixture();
    let boleto = f
        .sandbox
        .authorize(other_request(
            MethodType::Boleto,
            "BR",
            money(89_90, Currency::BRL),
        ))
        .await
        .unwrap();
    let oxxo = f
        .sandbox
        .authorize(other_request(
            MethodType::Oxxo,
            "MX",
            money(450_00, Currency::MXN),
        ))
        .await
        .unwrap();
    let konbini = f
        .sandbox
        .authorize(other_request(
            MethodType::Konbini,
            "JP",
            money(3_000, Currency::JPY),
        ))
        .await
        .unwrap();
    let expiry = |status: &PaymentStatus| match status {
        PaymentStatus::ActionRequired(Action::Voucher {
            reference,
            expires_at,
        }) => {
            assert!(!reference.is_empty());
            *expires_at
        }
        other => panic!("expected a voucher, got {other:?}"),
    };
    let now = f.clock.now();
    assert_eq!(expiry(&boleto.status), now.saturating_add_secs(3 * DAY));
    assert_eq!(expiry(&oxxo.status), now.saturating_add_secs(3 * DAY));
    let konbini_expiry = expiry(&konbini.status);
    assert_eq!(konbini_expiry, now.saturating_add_secs(4 * DAY));

    f.clock.advance_secs(2 * DAY);
    let paid = f.sandbox.pay_voucher(&boleto.psp_reference).unwrap();
    assert_eq!(
        paid.status,
        PaymentStatus::Captured {
            amount: money(89_90, Currency::BRL)
        }
    );
    assert_eq!(events(&f.notifications()), [NotificationEvent::Captured]);

    // OXXO's three days pass unpaid.
    f.clock.advance_secs(DAY);
    let notifications = f.notifications();
    assert_eq!(events(&notifications), [NotificationEvent::Expired]);
    assert_eq!(notifications[0].psp_reference, oxxo.psp_reference);
    assert_eq!(notifications[0].occurred_at, expiry(&oxxo.status));
    assert!(matches!(
        f.sandbox.pay_voucher(&oxxo.psp_reference),
        Err(ProviderError::InvalidState(_))
    ));
    assert_eq!(f.status(&oxxo.psp_reference).await, PaymentStatus::Expired);

    // Konbini has a fourth day; the expiry happens by the clock even without a call
    // between, and is stamped with the voucher's expiry, not the time it was noticed.
    f.sandbox.pay_voucher(&konbini.psp_reference).unwrap();
    assert_eq!(events(&f.notifications()), [NotificationEvent::Captured]);
    let late = f
        .sandbox
        .authorize(other_request(
            MethodType::Konbini,
            "JP",
            money(3_000, Currency::JPY),
        ))
        .await
        .unwrap();
    let late_expiry = expiry(&late.status);
    f.clock.advance_secs(10 * DAY);
    assert!(matches!(
        f.sandbox.pay_voucher(&late.psp_reference),
        Err(ProviderError::InvalidState(_))
    ));
    let notifications = f.notifications();
    assert_eq!(events(&notifications), [NotificationEvent::Expired]);
    assert_eq!(notifications[0].occurred_at, late_expiry);
}

#[tokio::test]
async fn cancel_voids_what_is_not_captured() {
    let f = fixture();
    let authorised = f
        .sandbox
        .authorize(card_request(eur(10_00), CARD_OK))
        .await
        .unwrap()
        .psp_reference;
    let voucher = f
        .sandbox
        .authorize(other_request(
            MethodType::Boleto,
            "BR",
            money(50_00, Currency::BRL),
        ))
        .await
        .unwrap()
        .psp_reference;
    f.notifications();
    for reference in [&authorised, &voucher] {
        let cancelled = f.sandbox.cancel(reference, &key()).await.unwrap();
        assert_eq!(cancelled.status, PaymentStatus::Cancelled);
    }
    assert!(matches!(
        f.sandbox.capture(&authorised, eur(10_00), &key()).await,
        Err(ProviderError::InvalidState(_))
    ));
    assert!(matches!(
        f.sandbox.pay_voucher(&voucher),
        Err(ProviderError::InvalidState(_))
    ));
    assert!(matches!(
        f.sandbox.cancel(&authorised, &key()).await,
        Err(ProviderError::InvalidState(_))
    ));
    assert_eq!(
        events(&f.notifications()),
        [NotificationEvent::Cancelled, NotificationEvent::Cancelled]
    );

    let captured = f
        .sandbox
        .authorize(card_request(eur(10_00), CARD_OK))
        .await
        .unwrap()
        .psp_reference;
    f.sandbox
        .capture(&captured, eur(10_00), &key())
        .await
        .unwrap();
    assert!(matches!(
        f.sandbox.cancel(&captured, &key()).await,
        Err(ProviderError::InvalidState(_))
    ));
    let unknown = PspReference::new("UNKNOWN0000000000").unwrap();
    assert_eq!(
        f.sandbox.cancel(&unknown, &key()).await,
        Err(ProviderError::NotFound)
    );
    assert_eq!(
        f.sandbox.status(&unknown).await,
        Err(ProviderError::NotFound)
    );
}

#[tokio::test]
async fn card_authorisation_expires_after_seven_days() {
    let f = fixture();
    let reference = f
        .sandbox
        .authorize(card_request(eur(10_00), CARD_OK))
        .await
        .unwrap()
        .psp_reference;
    assert_eq!(events(&f.notifications()), [NotificationEvent::Authorised]);
    f.clock.advance_secs(AUTHORISATION_VALIDITY_SECS - 1);
    assert!(f.notifications().is_empty());
    f.clock.advance_secs(1);
    let signed = f.sandbox.take_due_notifications();
    assert_eq!(signed.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&signed[0].body).unwrap();
    assert_eq!(
        body["notificationItems"][0]["NotificationRequestItem"]["eventCode"],
        "EXPIRE"
    );
    assert!(matches!(
        f.sandbox.capture(&reference, eur(10_00), &key()).await,
        Err(ProviderError::InvalidState(_))
    ));
    assert_eq!(f.status(&reference).await, PaymentStatus::Expired);
}

#[tokio::test]
async fn the_same_key_returns_the_first_answer() {
    let f = fixture();
    let request = card_request(eur(120_00), CARD_OK);
    let first = f.sandbox.authorize(request.clone()).await.unwrap();
    let again = f.sandbox.authorize(request.clone()).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(f.sandbox.payment_count(), 1);

    // The same key with another request is refused, and makes nothing.
    let mut other_amount = request.clone();
    other_amount.amount = eur(121_00);
    assert!(matches!(
        f.sandbox.authorize(other_amount).await,
        Err(ProviderError::InvalidRequest(_))
    ));
    let mut other_card = request.clone();
    other_card.details = card("5555 5555 5555 4444", 12, 2031);
    assert!(matches!(
        f.sandbox.authorize(other_card).await,
        Err(ProviderError::InvalidRequest(_))
    ));
    assert_eq!(f.sandbox.payment_count(), 1);

    let reference = first.psp_reference;
    let capture_key = key();
    let captured = f
        .sandbox
        .capture(&reference, eur(120_00), &capture_key)
        .await
        .unwrap();
    assert_eq!(
        f.sandbox
            .capture(&reference, eur(120_00), &capture_key)
            .await
            .unwrap(),
        captured
    );
    // A capture key reused for a refund is another request.
    assert!(matches!(
        f.sandbox
            .refund(&reference, eur(120_00), &capture_key)
            .await,
        Err(ProviderError::InvalidRequest(_))
    ));

    let refund_key = key();
    let refund = f
        .sandbox
        .refund(&reference, eur(100_00), &refund_key)
        .await
        .unwrap();
    assert_eq!(
        f.sandbox
            .refund(&reference, eur(100_00), &refund_key)
            .await
            .unwrap(),
        refund
    );
    // The replay refunded nothing: 20.00 is still refundable.
    f.sandbox
        .refund(&reference, eur(20_00), &key())
        .await
        .unwrap();

    // Once answered, a key answers the same even after the payment moved on.
    assert_eq!(
        f.sandbox.authorize(request).await.unwrap().status,
        PaymentStatus::Authorised
    );

    let events = events(&f.notifications());
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(events[0], NotificationEvent::Authorised);
    assert_eq!(events[1], NotificationEvent::Captured);
}

#[tokio::test]
async fn errors_are_not_remembered() {
    let f = fixture();
    let reference = f
        .sandbox
        .authorize(card_request(eur(10_00), CARD_OK))
        .await
        .unwrap()
        .psp_reference;
    let refund_key = key();
    // Refused while not captured...
    assert!(matches!(
        f.sandbox.refund(&reference, eur(10_00), &refund_key).await,
        Err(ProviderError::InvalidState(_))
    ));
    f.sandbox
        .capture(&reference, eur(10_00), &key())
        .await
        .unwrap();
    // ...and accepted under the same key once it is.
    f.sandbox
        .refund(&reference, eur(10_00), &refund_key)
        .await
        .unwrap();
}

#[tokio::test]
async fn outage_with_the_answer_lost_and_a_retry_by_key() {
    let f = fixture();
    let request = card_request(eur(64_00), CARD_OK);

    f.sandbox.set_outage(Outage::Unreachable);
    assert!(matches!(
        f.sandbox.authorize(request.clone()).await,
        Err(ProviderError::Unavailable(_))
    ));
    assert_eq!(f.sandbox.payment_count(), 0);

    f.sandbox.set_outage(Outage::AnswerLost);
    assert!(matches!(
        f.sandbox.authorize(request.clone()).await,
        Err(ProviderError::Unavailable(_))
    ));
    // The call took effect.
    assert_eq!(f.sandbox.payment_count(), 1);
    // Still lost while the outage lasts.
    assert!(matches!(
        f.sandbox.authorize(request.clone()).await,
        Err(ProviderError::Unavailable(_))
    ));

    f.sandbox.set_outage(Outage::None);
    let answer = f.sandbox.authorize(request).await.unwrap();
    assert_eq!(answer.status, PaymentStatus::Authorised);
    assert_eq!(f.sandbox.payment_count(), 1);
    let notifications = f.notifications();
    assert_eq!(events(&notifications), [NotificationEvent::Authorised]);
    assert_eq!(notifications[0].psp_reference, answer.psp_reference);

    // A capture whose answer is lost is not repeated by the retry.
    let capture_key = key();
    f.sandbox.set_outage(Outage::AnswerLost);
    assert!(matches!(
        f.sandbox
            .capture(&answer.psp_reference, eur(64_00), &capture_key)
            .await,
        Err(ProviderError::Unavailable(_))
    ));
    f.sandbox.set_outage(Outage::None);
    let captured = f
        .sandbox
        .capture(&answer.psp_reference, eur(64_00), &capture_key)
        .await
        .unwrap();
    assert_eq!(
        captured.status,
        PaymentStatus::Captured { amount: eur(64_00) }
    );
    assert_eq!(events(&f.notifications()), [NotificationEvent::Captured]);
}

#[tokio::test]
async fn chargeback_disputes_what_was_not_refunded() {
    let f = fixture();
    let reference = f
        .sandbox
        .authorize(card_request(eur(100_00), CARD_OK))
        .await
        .unwrap()
        .psp_reference;
    assert!(matches!(
        f.sandbox.chargeback(&reference),
        Err(ProviderError::InvalidState(_))
    ));
    f.sandbox
        .capture(&reference, eur(100_00), &key())
        .await
        .unwrap();
    f.sandbox
        .refund(&reference, eur(30_00), &key())
        .await
        .unwrap();
    f.notifications();

    assert_eq!(f.sandbox.chargeback(&reference), Ok(eur(70_00)));
    let notifications = f.notifications();
    assert_eq!(events(&notifications), [NotificationEvent::Chargeback]);
    assert_eq!(notifications[0].amount, eur(70_00));
    assert!(matches!(
        f.sandbox.chargeback(&reference),
        Err(ProviderError::InvalidState(_))
    ));
    assert!(matches!(
        f.sandbox.refund(&reference, eur(10_00), &key()).await,
        Err(ProviderError::InvalidState(_))
    ));
}

#[tokio::test]
async fn a_refund_of_1313_minor_units_fails() {
    let f = fixture();
    let reference = f
        .sandbox
        .authorize(card_request(eur(20_00), CARD_OK))
        .await
        .unwrap()
        .psp_reference;
    f.sandbox
        .capture(&reference, eur(20_00), &key())
        .await
        .unwrap();
    f.notifications();
    let failing = f
        .sandbox
        .refund(&reference, eur(13_13), &key())
        .await
        .unwrap();
    assert_eq!(
        events(&f.notifications()),
        [NotificationEvent::RefundFailed {
            refund_reference: failing.refund_reference
        }]
    );
    // The failed refund did not count: the whole amount is still refundable.
    f.sandbox
        .refund(&reference, eur(20_00), &key())
        .await
        .unwrap();
}

#[tokio::test]
async fn notifications_are_signed_and_delivered_once() {
    let f = fixture();
    let request = card_request(eur(33_00), CARD_OK);
    let payment_id = request.payment_id;
    let reference = f.sandbox.authorize(request).await.unwrap().psp_reference;
    f.sandbox
        .capture(&reference, eur(33_00), &key())
        .await
        .unwrap();

    let signed = f.sandbox.take_due_notifications();
    assert_eq!(signed.len(), 2);
    assert!(f.sandbox.take_due_notifications().is_empty());

    let SignedNotification {
        signature, body, ..
    } = &signed[0];
    assert_eq!(*signature, sign(HMAC_KEY, body));
    assert_eq!(signature.len(), 64);
    let parsed = f.sandbox.parse_notifications(signature, body).unwrap();
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].payment_id, payment_id);
    assert_eq!(parsed[0].event, NotificationEvent::Authorised);
    // A redelivery reads the same, with the same event id.
    assert_eq!(
        f.sandbox.parse_notifications(signature, body).unwrap(),
        parsed
    );
    let other = f
        .sandbox
        .parse_notifications(&signed[1].signature, &signed[1].body)
        .unwrap();
    assert_ne!(other[0].event_id, parsed[0].event_id);

    // No card number anywhere in a body; the last four digits only.
    let text = String::from_utf8(body.clone()).unwrap();
    assert!(!text.contains("4111111111111111"));
    assert!(text.contains("\"cardSummary\":\"1111\""));

    // A tampered body, a wrong key, a missing signature: refused.
    let tampered = text.replace("3300", "3301");
    assert_ne!(tampered, text);
    assert_eq!(
        f.sandbox
            .parse_notifications(signature, tampered.as_bytes()),
        Err(NotificationError::BadSignature)
    );
    let other_key = SandboxProvider::new(
        ProviderName::new("sandbox").unwrap(),
        b"another key".to_vec(),
        f.clock.clone(),
    );
    assert_eq!(
        other_key.parse_notifications(signature, body),
        Err(NotificationError::BadSignature)
    );
    assert_eq!(
        f.sandbox
            .parse_notifications(&sign(b"another key", body), body),
        Err(NotificationError::BadSignature)
    );
    assert_eq!(
        f.sandbox.parse_notifications("", body),
        Err(NotificationError::BadSignature)
    );

    // Correctly signed but not a notification: malformed, with a short message.
    let junk = br#"{"live":"false","notificationItems":[{"NotificationRequestItem":{}}]}"#;
    let Err(NotificationError::Malformed(message)) =
        f.sandbox.parse_notifications(&sign(HMAC_KEY, junk), junk)
    else {
        panic!("expected Malformed");
    };
    assert!(message.len() < 80);
    let oversized = vec![b'x'; 256 * 1024 + 1];
    assert!(matches!(
        f.sandbox
            .parse_notifications(&sign(HMAC_KEY, &oversized), &oversized),
        Err(NotificationError::Malformed(_))
    ));
}

#[tokio::test]
async fn notifications_wait_for_their_time() {
    let f = fixture();
    let pix = f
        .sandbox
        .authorize(other_request(
            MethodType::Pix,
            "BR",
            money(10_00, Currency::BRL),
        ))
        .await
        .unwrap()
        .psp_reference;
    let card = f
        .sandbox
        .authorize(card_request(eur(10_00), CARD_OK))
        .await
        .unwrap()
        .psp_reference;
    f.sandbox.pay_qr(&pix).unwrap();
    f.sandbox.capture(&card, eur(10_00), &key()).await.unwrap();
    // Due now: the card's two; the Pix capture is five seconds away.
    let now: Vec<PspReference> = f
        .notifications()
        .into_iter()
        .map(|n| n.psp_reference)
        .collect();
    assert_eq!(now, [card.clone(), card]);
    f.clock.advance_secs(60);
    let later: Vec<PspReference> = f
        .notifications()
        .into_iter()
        .map(|n| n.psp_reference)
        .collect();
    assert_eq!(later, [pix]);
}

#[tokio::test]
async fn notifications_are_delivered_again_with_backoff_until_acknowledged() {
    let f = fixture();
    let reference = f
        .sandbox
        .authorize(card_request(eur(12_00), CARD_OK))
        .await
        .unwrap()
        .psp_reference;
    f.sandbox
        .capture(&reference, eur(12_00), &key())
        .await
        .unwrap();
    let first = f.sandbox.take_due_notifications();
    assert_eq!(first.len(), 2);
    // The receiver commits the authorisation and acknowledges it; the capture fails.
    assert!(f.sandbox.acknowledge(&first[0].event_id));
    assert!(
        !f.sandbox.acknowledge(&first[0].event_id),
        "acknowledged once"
    );
    assert!(f.sandbox.take_due_notifications().is_empty());
    // Each redelivery of the unacknowledged capture comes after a longer wait, unchanged.
    for delay in REDELIVERY_DELAYS_SECS {
        f.clock.advance_secs(delay - 1);
        assert!(f.sandbox.take_due_notifications().is_empty());
        f.clock.advance_secs(1);
        assert_eq!(f.sandbox.take_due_notifications(), [first[1].clone()]);
    }
    // After the last step of the schedule it comes every hour, until acknowledged.
    f.clock.advance_secs(HOUR);
    assert_eq!(f.sandbox.take_due_notifications(), [first[1].clone()]);
    assert_eq!(f.sandbox.unacknowledged_count(), 1);
    assert!(f.sandbox.acknowledge(&first[1].event_id));
    f.clock.advance_secs(DAY);
    assert!(f.sandbox.take_due_notifications().is_empty());
    assert_eq!(f.sandbox.unacknowledged_count(), 0);
}
