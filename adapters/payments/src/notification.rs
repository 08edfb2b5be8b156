//! The sandbox's notification wire format: JSON in the style of Adyen's standard webhooks,
//! signed with HMAC-SHA256 over the raw body.

use bazaar_domain::payments::{
    MethodType, Notification, NotificationError, NotificationEvent, PaymentId, PspReference,
};
use bazaar_money::{Currency, Money};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use bazaar_domain::time::Rfc3339;
use bazaar_ledger::Timestamp;

type HmacSha256 = Hmac<Sha256>;

/// The HTTP header the sandbox puts the signature in.
pub const SIGNATURE_HEADER: &str = "HmacSignature";

/// The largest notification body `parse_notifications` reads; anything larger is refused
/// as malformed, unread.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The most items one body may carry.
const MAX_ITEMS: usize = 100;
/// The longest signature header value looked at (a hex SHA-256 MAC has 64 characters).
const MAX_SIGNATURE_LEN: usize = 128;
/// The longest event id accepted.
const MAX_EVENT_ID_LEN: usize = 64;
/// Refusal reasons are cut to this many characters.
const MAX_REASON_CHARS: usize = 200;

/// One notification request as the sandbox would POST it: the value of the
/// [`SIGNATURE_HEADER`] header and the raw body.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SignedNotification {
    /// The event's id (also in the body): what the receiver acknowledges.
    pub event_id: String,
    /// Lower-case hex HMAC-SHA256 of `body` under the provider's HMAC key.
    pub signature: String,
    /// The JSON body, exactly as signed.
    pub body: Vec<u8>,
}

/// The signature of `body` under `key`: the lower-case hex HMAC-SHA256 of the raw bytes.
///
/// This is what [`SandboxProvider`](crate::SandboxProvider) puts in
/// [`SignedNotification::signature`]; a test that builds its own body signs it with this.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail.
    HmacSha256::new_from_slice(key)
        .map(|mac| hex::encode(mac.chain_update(body).finalize().into_bytes()))
        .unwrap_or_default()
}

/// Whether `signature` is the hex HMAC-SHA256 of `body` under `key`, compared in constant
/// time.
fn verify(key: &[u8], signature: &str, body: &[u8]) -> bool {
    if signature.is_empty() || signature.len() > MAX_SIGNATURE_LEN {
        return false;
    }
    let Ok(claimed) = hex::decode(signature) else {
        return false;
    };
    HmacSha256::new_from_slice(key)
        .is_ok_and(|mac| mac.chain_update(body).verify_slice(&claimed).is_ok())
}

#[derive(Serialize, Deserialize)]
struct WireBody {
    live: String,
    #[serde(rename = "notificationItems")]
    notification_items: Vec<WireWrapper>,
}

#[derive(Serialize, Deserialize)]
struct WireWrapper {
    #[serde(rename = "NotificationRequestItem")]
    item: WireItem,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireItem {
    event_id: String,
    event_code: String,
    success: String,
    psp_reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    original_reference: Option<String>,
    merchant_account_code: String,
    merchant_reference: String,
    amount: WireAmount,
    event_date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payment_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    additional_data: Option<WireAdditionalData>,
}

#[derive(Serialize, Deserialize)]
struct WireAmount {
    currency: String,
    value: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAdditionalData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    card_summary: Option<String>,
}

/// What the sandbox knows about a notification besides the [`Notification`] itself.
pub(crate) struct Context<'a> {
    pub merchant_account: &'a str,
    pub method: MethodType,
    pub card_last4: Option<&'a str>,
}

/// The JSON body of a notification request carrying `notification`.
pub(crate) fn encode(
    notification: &Notification,
    context: &Context<'_>,
) -> Result<Vec<u8>, serde_json::Error> {
    let payment_reference = notification.psp_reference.as_str().to_owned();
    let mut psp_reference = payment_reference.clone();
    let mut original_reference = None;
    let mut reason = None;
    let mut success = true;
    let event_code = match &notification.event {
        NotificationEvent::Authorised => "AUTHORISATION",
        NotificationEvent::Refused { reason: why } => {
            success = false;
            reason = Some(why.clone());
            "AUTHORISATION"
        }
        NotificationEvent::Captured => "CAPTURE",
        NotificationEvent::Cancelled => "CANCELLATION",
        NotificationEvent::Expired if context.method == MethodType::Card => "EXPIRE",
        NotificationEvent::Expired => "OFFER_CLOSED",
        NotificationEvent::Refunded { refund_reference } => {
            psp_reference = refund_reference.as_str().to_owned();
            original_reference = Some(payment_reference);
            "REFUND"
        }
        NotificationEvent::RefundFailed { refund_reference } => {
            psp_reference = refund_reference.as_str().to_owned();
            original_reference = Some(payment_reference);
            "REFUND_FAILED"
        }
        NotificationEvent::Chargeback => "CHARGEBACK",
    };
    let item = WireItem {
        event_id: notification.event_id.clone(),
        event_code: event_code.to_owned(),
        success: if success { "true" } else { "false" }.to_owned(),
        psp_reference,
        original_reference,
        merchant_account_code: context.merchant_account.to_owned(),
        merchant_reference: notification.payment_id.to_string(),
        amount: WireAmount {
            currency: notification.amount.currency().code().to_owned(),
            value: notification.amount.minor(),
        },
        event_date: notification.occurred_at.to_rfc3339(),
        payment_method: Some(context.method.wire_name().to_owned()),
        reason,
        additional_data: context.card_last4.map(|last4| WireAdditionalData {
            card_summary: Some(last4.to_owned()),
        }),
    };
    serde_json::to_vec(&WireBody {
        live: "false".to_owned(),
        notification_items: vec![WireWrapper { item }],
    })
}

fn malformed(message: &str) -> NotificationError {
    NotificationError::Malformed(message.to_owned())
}

/// Authenticates `body` with `key` and reads every item; refuses the whole body if any
/// item fails.
pub(crate) fn parse(
    key: &[u8],
    merchant_account: &str,
    signature: &str,
    body: &[u8],
) -> Result<Vec<Notification>, NotificationError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(malformed("body is larger than 256 KiB"));
    }
    if !verify(key, signature, body) {
        return Err(NotificationError::BadSignature);
    }
    // serde_json's messages may quote the input; only a fixed text goes back.
    let wire: WireBody = serde_json::from_slice(body)
        .map_err(|_| malformed("body is not a notification request"))?;
    if wire.live != "false" {
        return Err(malformed("live notification sent to the sandbox"));
    }
    if wire.notification_items.is_empty() {
        return Err(malformed("no notification items"));
    }
    if wire.notification_items.len() > MAX_ITEMS {
        return Err(malformed("too many notification items"));
    }
    wire.notification_items
        .into_iter()
        .map(|wrapper| read_item(wrapper.item, merchant_account))
        .collect()
}

fn read_item(item: WireItem, merchant_account: &str) -> Result<Notification, NotificationError> {
    if item.merchant_account_code != merchant_account {
        return Err(malformed("notification is for another merchant account"));
    }
    let event_id_valid = (1..=MAX_EVENT_ID_LEN).contains(&item.event_id.len())
        && item
            .event_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !event_id_valid {
        return Err(malformed("malformed eventId"));
    }
    let success = match item.success.as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(malformed("success must be \"true\" or \"false\"")),
    };
    let reference =
        PspReference::new(&item.psp_reference).map_err(|_| malformed("malformed pspReference"))?;
    let original = item
        .original_reference
        .as_deref()
        .map(PspReference::new)
        .transpose()
        .map_err(|_| malformed("malformed originalReference"))?;
    let payment_id = Uuid::try_parse(&item.merchant_reference)
        .map(PaymentId::from_uuid)
        .map_err(|_| malformed("merchantReference is not a payment id"))?;
    let currency =
        Currency::from_code(&item.amount.currency).map_err(|_| malformed("unknown currency"))?;
    if item.amount.value < 0 {
        return Err(malformed("negative amount"));
    }
    let amount = Money::from_minor(item.amount.value, currency);
    let occurred_at = Timestamp::parse_rfc3339(&item.event_date)
        .ok_or_else(|| malformed("malformed eventDate"))?;
    let original_or_missing = |original: Option<PspReference>| {
        original.ok_or_else(|| malformed("refund without originalReference"))
    };
    let (event, psp_reference) = match (item.event_code.as_str(), success) {
        ("AUTHORISATION", true) => (NotificationEvent::Authorised, reference),
        ("AUTHORISATION", false) => (
            NotificationEvent::Refused {
                reason: safe_reason(item.reason.as_deref()),
            },
            reference,
        ),
        ("CAPTURE", true) => (NotificationEvent::Captured, reference),
        ("CANCELLATION", true) => (NotificationEvent::Cancelled, reference),
        ("OFFER_CLOSED" | "EXPIRE", true) => (NotificationEvent::Expired, reference),
        ("REFUND", true) => (
            NotificationEvent::Refunded {
                refund_reference: reference,
            },
            original_or_missing(original)?,
        ),
        ("REFUND_FAILED", true) => (
            NotificationEvent::RefundFailed {
                refund_reference: reference,
            },
            original_or_missing(original)?,
        ),
        ("CHARGEBACK", true) => (NotificationEvent::Chargeback, reference),
        (
            "CAPTURE" | "CANCELLATION" | "OFFER_CLOSED" | "EXPIRE" | "REFUND" | "REFUND_FAILED"
            | "CHARGEBACK",
            false,
        ) => return Err(malformed("unsupported unsuccessful event")),
        _ => return Err(malformed("unknown event code")),
    };
    Ok(Notification {
        event_id: item.event_id,
        payment_id,
        psp_reference,
        event,
        amount,
        occurred_at,
    })
}

/// A refusal reason fit to show: control characters dropped, at most 200 characters.
fn safe_reason(reason: Option<&str>) -> String {
    let cleaned: String = reason
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_REASON_CHARS)
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        "refused".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use bazaar_ledger::Timestamp;

    use super::*;

    const KEY: &[u8] = b"notification test key";

    fn sample(event: NotificationEvent) -> Notification {
        Notification {
            event_id: Uuid::from_u128(7).to_string(),
            payment_id: PaymentId::from_uuid(Uuid::from_u128(42)),
            psp_reference: PspReference::new("ABCDEF0123456789").unwrap(),
            event,
            amount: Money::from_minor(12_345, Currency::BRL),
            occurred_at: Timestamp::from_micros(1_900_000_000_123_456),
        }
    }

    fn context(method: MethodType) -> Context<'static> {
        Context {
            merchant_account: "sandbox",
            method,
            card_last4: None,
        }
    }

    fn round_trip(notification: &Notification, method: MethodType) -> Notification {
        let body = encode(notification, &context(method)).unwrap();
        let parsed = parse(KEY, "sandbox", &sign(KEY, &body), &body).unwrap();
        assert_eq!(parsed.len(), 1);
        parsed.into_iter().next().unwrap()
    }

    #[test]
    fn every_event_survives_the_wire() {
        let refund = PspReference::new("REFUND0000000001").unwrap();
        let events = [
            NotificationEvent::Authorised,
            NotificationEvent::Refused {
                reason: "insufficient funds".to_owned(),
            },
            NotificationEvent::Captured,
            NotificationEvent::Cancelled,
            NotificationEvent::Expired,
            NotificationEvent::Refunded {
                refund_reference: refund.clone(),
            },
            NotificationEvent::RefundFailed {
                refund_reference: refund,
            },
            NotificationEvent::Chargeback,
        ];
        for event in events {
            for method in [MethodType::Card, MethodType::Pix] {
                let notification = sample(event.clone());
                assert_eq!(round_trip(&notification, method), notification);
            }
        }
    }

    #[test]
    fn the_body_looks_like_a_standard_webhook() {
        let body = encode(
            &sample(NotificationEvent::Captured),
            &Context {
                merchant_account: "sandbox",
                method: MethodType::Card,
                card_last4: Some("1111"),
            },
        )
        .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let item = &json["notificationItems"][0]["NotificationRequestItem"];
        assert_eq!(json["live"], "false");
        assert_eq!(item["eventCode"], "CAPTURE");
        assert_eq!(item["success"], "true");
        assert_eq!(item["pspReference"], "ABCDEF0123456789");
        assert_eq!(item["amount"]["currency"], "BRL");
        assert_eq!(item["amount"]["value"], 12_345);
        assert_eq!(item["paymentMethod"], "scheme");
        assert_eq!(item["additionalData"]["cardSummary"], "1111");
        assert_eq!(item["eventDate"], "2030-03-17T17:46:40.123456Z");
        assert_eq!(
            item["merchantReference"],
            "00000000-0000-0000-0000-00000000002a"
        );
    }

    #[test]
    fn signatures_are_checked() {
        let body = encode(
            &sample(NotificationEvent::Captured),
            &context(MethodType::Pix),
        )
        .unwrap();
        let signature = sign(KEY, &body);
        assert_eq!(signature.len(), 64);
        assert!(parse(KEY, "sandbox", &signature, &body).is_ok());
        assert!(parse(KEY, "sandbox", &signature.to_uppercase(), &body).is_ok());
        for bad in ["", "zz", &signature[..62], &sign(b"other key", &body)] {
            assert_eq!(
                parse(KEY, "sandbox", bad, &body),
                Err(NotificationError::BadSignature)
            );
        }
        let mut tampered = body.clone();
        tampered[10] ^= 1;
        assert_eq!(
            parse(KEY, "sandbox", &signature, &tampered),
            Err(NotificationError::BadSignature)
        );
    }

    fn item_with(
        field: &str,
        value: serde_json::Value,
    ) -> Result<Vec<Notification>, NotificationError> {
        let body = encode(
            &sample(NotificationEvent::Captured),
            &context(MethodType::Pix),
        )
        .unwrap();
        let mut json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        json["notificationItems"][0]["NotificationRequestItem"][field] = value;
        let body = serde_json::to_vec(&json).unwrap();
        parse(KEY, "sandbox", &sign(KEY, &body), &body)
    }

    fn is_malformed(result: Result<Vec<Notification>, NotificationError>) -> bool {
        matches!(result, Err(NotificationError::Malformed(_)))
    }

    #[test]
    fn malformed_items_are_refused() {
        use serde_json::json;
        assert!(item_with("eventCode", json!("CAPTURE")).is_ok());
        assert!(is_malformed(item_with(
            "eventCode",
            json!("PAYOUT_THIRDPARTY")
        )));
        assert!(is_malformed(item_with("success", json!(true))));
        assert!(is_malformed(item_with("success", json!("yes"))));
        assert!(is_malformed(item_with(
            "amount",
            json!({"currency": "XXX", "value": 1})
        )));
        assert!(is_malformed(item_with(
            "amount",
            json!({"currency": "ABC", "value": 1})
        )));
        assert!(is_malformed(item_with(
            "amount",
            json!({"currency": "EUR", "value": 1.5})
        )));
        assert!(is_malformed(item_with(
            "amount",
            json!({"currency": "EUR", "value": 9_223_372_036_854_775_808_u64})
        )));
        assert!(is_malformed(item_with(
            "amount",
            json!({"currency": "EUR", "value": -1})
        )));
        assert!(is_malformed(item_with(
            "merchantReference",
            json!("order-1")
        )));
        assert!(is_malformed(item_with("pspReference", json!("has space"))));
        assert!(is_malformed(item_with("eventDate", json!("yesterday"))));
        assert!(is_malformed(item_with("eventId", json!(""))));
        assert!(is_malformed(item_with(
            "merchantAccountCode",
            json!("other")
        )));
        assert!(is_malformed(item_with("eventCode", json!("REFUND"))));
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for body in [
            &b"not json"[..],
            b"{}",
            b"{\"live\":\"false\",\"notificationItems\":[]}",
            b"{\"live\":\"true\",\"notificationItems\":[]}",
        ] {
            assert!(is_malformed(parse(KEY, "sandbox", &sign(KEY, body), body)));
        }
        let huge = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(
            parse(KEY, "sandbox", &sign(KEY, &huge), &huge),
            Err(malformed("body is larger than 256 KiB"))
        );
    }

    #[test]
    fn refusal_reasons_are_cleaned() {
        assert_eq!(safe_reason(None), "refused");
        assert_eq!(safe_reason(Some(" \u{7}bad\ncard ")), "badcard");
        assert_eq!(
            safe_reason(Some(&"x".repeat(1_000))).len(),
            MAX_REASON_CHARS
        );
    }
}
