//! Signatures in the style of Stripe's, and the receiver's check.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{MAX_SIGNATURE_HEADER_LEN, MAX_SIGNATURES, WebhookError};

pub(super) type HmacSha256 = Hmac<Sha256>;

const SECRET_PREFIX: &str = "whsec_";
/// Hex digits after [`SECRET_PREFIX`]: 32 bytes.
const SECRET_HEX_LEN: usize = 64;

/// Why [`verify`] refused a signature header.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum VerifyError {
    /// The header is empty, too long, has no or a non-numeric `t=`, an item without `=`,
    /// a `v1=` value that is not 64 hex digits, or more than [`MAX_SIGNATURES`] `v1=`.
    #[error("malformed signature header")]
    Malformed,
    /// The header has a timestamp but no `v1=` signature.
    #[error("the signature header has no v1 signature")]
    NoSignature,
    /// No `v1=` signature matches the body and timestamp under the secret.
    #[error("no signature matches the body")]
    Mismatch,
    /// The signatures match, but the signed timestamp is further from now than the tolerance.
    #[error("the signed timestamp is outside the tolerance")]
    OutsideTolerance,
}

impl VerifyError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed_signature_header",
            Self::NoSignature => "no_signature",
            Self::Mismatch => "signature_mismatch",
            Self::OutsideTolerance => "timestamp_outside_tolerance",
        }
    }
}

/// An endpoint's signing secret: `whsec_` followed by 64 lower-case hex digits (32 bytes).
///
/// The HMAC key is the whole string's bytes, prefix included. `Debug` does not print it.
#[derive(Clone)]
pub struct EndpointSecret(String);

impl EndpointSecret {
    /// The secret made from 32 bytes, which the caller draws from a secure random source.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(format!("{SECRET_PREFIX}{}", hex::encode(bytes)))
    }

    /// Reads a stored secret; anything but the exact `whsec_` + 64 lower-case hex form is
    /// refused.
    pub fn parse(secret: &str) -> Result<Self, WebhookError> {
        let digits = secret
            .strip_prefix(SECRET_PREFIX)
            .ok_or(WebhookError::InvalidSecret)?;
        let well_formed = digits.len() == SECRET_HEX_LEN
            && digits
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if well_formed {
            Ok(Self(secret.to_owned()))
        } else {
            Err(WebhookError::InvalidSecret)
        }
    }

    /// The secret string, to store or to show the endpoint's owner once.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EndpointSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EndpointSecret(redacted)")
    }
}

/// The HMAC of `"<timestamp>.<body>"` under `key`, not yet finalised.
fn signed_payload_mac(key: &[u8], timestamp_secs: i64, body: &[u8]) -> Option<HmacSha256> {
    // HMAC takes keys of any length, so `new_from_slice` does not fail.
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// The [`SIGNATURE_HEADER`](super::SIGNATURE_HEADER) value for `body` signed at `timestamp_secs` (Unix seconds):
/// `t=<timestamp_secs>,v1=<hex HMAC-SHA256 of "<timestamp_secs>.<body>">`, with one `v1=`
/// per secret in the order given.
///
/// While an endpoint's secret is being rotated the sender passes the new and the old
/// secret, so receivers holding either one accept the delivery. With no secrets the header
/// is `t=<timestamp_secs>` alone, which [`verify`] refuses.
pub fn signature_header(timestamp_secs: i64, body: &[u8], secrets: &[&EndpointSecret]) -> String {
    let mut header = format!("t={timestamp_secs}");
    for secret in secrets {
        if let Some(mac) = signed_payload_mac(secret.as_str().as_bytes(), timestamp_secs, body) {
            header.push_str(",v1=");
            header.push_str(&hex::encode(mac.finalize().into_bytes()));
        }
    }
    header
}

/// A signature header, split.
struct SignatureHeader {
    timestamp_secs: i64,
    signatures: Vec<[u8; 32]>,
}

fn parse_timestamp(value: &str) -> Result<i64, VerifyError> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::Malformed);
    }
    value.parse().map_err(|_| VerifyError::Malformed)
}

fn parse_signature_header(header: &str) -> Result<SignatureHeader, VerifyError> {
    if header.is_empty() || header.len() > MAX_SIGNATURE_HEADER_LEN {
        return Err(VerifyError::Malformed);
    }
    let mut timestamp_secs = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let (scheme, value) = item
            .trim_matches([' ', '\t'])
            .split_once('=')
            .ok_or(VerifyError::Malformed)?;
        match scheme {
            "t" => {
                if timestamp_secs.is_some() {
                    return Err(VerifyError::Malformed);
                }
                timestamp_secs = Some(parse_timestamp(value)?);
            }
            "v1" => {
                if signatures.len() >= MAX_SIGNATURES {
                    return Err(VerifyError::Malformed);
                }
                let mut signature = [0_u8; 32];
                hex::decode_to_slice(value, &mut signature).map_err(|_| VerifyError::Malformed)?;
                signatures.push(signature);
            }
            // Other schemes (`v0=`, later versions) are skipped.
            _ => {}
        }
    }
    Ok(SignatureHeader {
        timestamp_secs: timestamp_secs.ok_or(VerifyError::Malformed)?,
        signatures,
    })
}

/// Checks a [`SIGNATURE_HEADER`](super::SIGNATURE_HEADER) value against the raw request body and returns the signed
/// timestamp (Unix seconds).
///
/// `secret` is the endpoint's `whsec_...` string as shown when the endpoint was created;
/// its bytes are the HMAC key. `now_secs` is the receiver's clock in Unix seconds. `body`
/// must be the bytes exactly as received, before any JSON parsing.
///
/// The header is parsed first: `t=` once, any number of `v1=` up to [`MAX_SIGNATURES`],
/// other schemes skipped, at most [`MAX_SIGNATURE_HEADER_LEN`] bytes. The delivery is
/// authentic if any `v1=` equals the HMAC-SHA256 of `"<t>.<body>"`; each comparison runs
/// in constant time. Only then is the timestamp checked: it is refused when it differs from
/// `now_secs` by more than `tolerance` in either direction.
///
/// # Clock skew and replays
///
/// `t` comes from the sender's clock and `now_secs` from the receiver's, so the tolerance
/// covers the difference between the two clocks plus the time the request spent in
/// transit. It applies both ways because a receiver's clock may be behind the sender's,
/// which makes `t` look like it is in the future. [`DEFAULT_TOLERANCE`](super::DEFAULT_TOLERANCE) is 5 minutes.
///
/// The timestamp check limits a captured request to being replayed within the tolerance
/// window. Inside the window, the receiver rejects a request whose [`EVENT_ID_HEADER`](super::EVENT_ID_HEADER) it
/// has already accepted, so it keeps each accepted id for at least the tolerance window;
/// the sender retries an event with the same id for up to [`RetrySchedule::window`](super::RetrySchedule::window), so
/// keeping ids that long also makes retries of an already processed event harmless. A
/// duplicate is answered with a 2xx status so that the sender stops retrying it.
///
/// The signature covers `t` and the body, not the headers: a replayed request can carry a
/// different [`EVENT_ID_HEADER`](super::EVENT_ID_HEADER). A receiver that needs replay protection against that
/// compares the header with the event id inside the signed body.
///
/// # Example
///
/// ```
/// use std::collections::HashSet;
///
/// use bazaar_domain::webhooks::{self, DEFAULT_TOLERANCE, EndpointSecret, VerifyError};
///
/// /// What a receiver keeps between requests.
/// struct Receiver {
///     /// The endpoint's `whsec_...` secret.
///     secret: String,
///     /// `Bazaar-Event-Id` values already accepted; each is kept at least as long as the
///     /// tolerance window.
///     seen: HashSet<String>,
/// }
///
/// #[derive(Debug, PartialEq)]
/// enum Decision {
///     /// Authentic and new: process it, answer 2xx.
///     Process,
///     /// Authentic, already processed: answer 2xx, do nothing.
///     Duplicate,
///     /// Not authentic or too old: answer 400, do nothing.
///     Refuse(VerifyError),
/// }
///
/// impl Receiver {
///     /// `signature` and `event_id` are the `Bazaar-Signature` and `Bazaar-Event-Id`
///     /// header values, `body` the raw body, `now_secs` the receiver's clock.
///     fn check(&mut self, signature: &str, event_id: &str, body: &[u8], now_secs: i64) -> Decision {
///         // Authenticate first, so unsigned requests never reach the set of seen ids.
///         if let Err(error) =
///             webhooks::verify(signature, body, &self.secret, now_secs, DEFAULT_TOLERANCE)
///         {
///             return Decision::Refuse(error);
///         }
///         if !self.seen.insert(event_id.to_owned()) {
///             return Decision::Duplicate;
///         }
///         Decision::Process
///     }
/// }
///
/// // What the sender does for one delivery.
/// let secret = EndpointSecret::from_bytes([7; 32]);
/// let body = br#"{"id":"evt_1","type":"order.paid"}"#;
/// let header = webhooks::signature_header(1_700_000_000, body, &[&secret]);
///
/// let mut receiver = Receiver { secret: secret.as_str().to_owned(), seen: HashSet::new() };
/// // Arrives 2 s after signing.
/// assert_eq!(receiver.check(&header, "evt_1", body, 1_700_000_002), Decision::Process);
/// // The same request again, a minute later.
/// assert_eq!(receiver.check(&header, "evt_1", body, 1_700_000_060), Decision::Duplicate);
/// // A changed body.
/// assert_eq!(
///     receiver.check(&header, "evt_2", br#"{"id":"evt_2"}"#, 1_700_000_060),
///     Decision::Refuse(VerifyError::Mismatch)
/// );
/// // The same request an hour later, under a new id.
/// assert_eq!(
///     receiver.check(&header, "evt_3", body, 1_700_003_600),
///     Decision::Refuse(VerifyError::OutsideTolerance)
/// );
/// // The receiver's clock 4 minutes behind the sender's.
/// let early = webhooks::signature_header(1_700_000_240, body, &[&secret]);
/// assert_eq!(receiver.check(&early, "evt_4", body, 1_700_000_000), Decision::Process);
/// ```
pub fn verify(
    header: &str,
    body: &[u8],
    secret: &str,
    now_secs: i64,
    tolerance: Duration,
) -> Result<i64, VerifyError> {
    let parsed = parse_signature_header(header)?;
    if parsed.signatures.is_empty() {
        return Err(VerifyError::NoSignature);
    }
    let mac = signed_payload_mac(secret.as_bytes(), parsed.timestamp_secs, body)
        .ok_or(VerifyError::Mismatch)?;
    let matched = parsed
        .signatures
        .iter()
        .any(|signature| mac.clone().verify_slice(signature).is_ok());
    if !matched {
        return Err(VerifyError::Mismatch);
    }
    let skew = Duration::from_secs(now_secs.abs_diff(parsed.timestamp_secs));
    if skew > tolerance {
        return Err(VerifyError::OutsideTolerance);
    }
    Ok(parsed.timestamp_secs)
}
