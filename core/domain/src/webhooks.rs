//! Webhook rules shared by the sender, the API and receivers.
//!
//! - Signatures in the style of Stripe's: [`signature_header`] signs `"<t>.<body>"` with
//!   HMAC-SHA256 under each [`EndpointSecret`]; [`verify`] is the receiver's check.
//! - [`EventPattern`]: which event types an endpoint subscribes to (`order.*`, `order.paid`,
//!   `*`).
//! - [`EndpointUrl`]: where deliveries may go (https only, no local or private hosts).
//! - [`RetrySchedule`] and [`classify`]: when a failed delivery is tried again, and which
//!   responses count as delivered, retryable or refused.
//!
//! Nothing here reads a clock or a random source: times and jitter are arguments.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use bazaar_ledger::Timestamp;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The HTTP header carrying the signature: `t=<unix seconds>,v1=<hex>[,v1=<hex>...]`.
pub const SIGNATURE_HEADER: &str = "Bazaar-Signature";
/// The HTTP header carrying the event's id; the same on every delivery attempt of an event.
pub const EVENT_ID_HEADER: &str = "Bazaar-Event-Id";
/// The HTTP header carrying the event's type, e.g. `order.paid`.
pub const EVENT_TYPE_HEADER: &str = "Bazaar-Event-Type";
/// How far the signed timestamp may be from the receiver's clock, either way: 5 minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);
/// The longest signature header [`verify`] reads, in bytes.
pub const MAX_SIGNATURE_HEADER_LEN: usize = 4096;
/// The most `v1=` signatures [`verify`] accepts in one header.
pub const MAX_SIGNATURES: usize = 16;
/// The longest endpoint URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// The most event patterns one endpoint may have.
pub const MAX_PATTERNS: usize = 32;
/// The event families a pattern may name.
pub const EVENT_FAMILIES: [&str; 7] = [
    "order",
    "payment",
    "refund",
    "review",
    "payout",
    "loan",
    "webhook_endpoint",
];

/// The error a delivery attempt records when the endpoint's host is, or resolves to, an
/// address [`may_deliver_to`] refuses. Nothing else is recorded about such an attempt (no
/// address, port or error text), so the delivery log cannot be used to probe a network.
pub const ADDRESS_BLOCKED: &str = "address_blocked";
/// The error a delivery attempt records when the endpoint's signing secret cannot be opened;
/// the delivery is retried on the usual schedule.
pub const SECRET_UNAVAILABLE: &str = "secret_unavailable";

/// The longest event name after the family's dot.
const MAX_EVENT_NAME_LEN: usize = 40;
const SECRET_PREFIX: &str = "whsec_";
/// Hex digits after [`SECRET_PREFIX`]: 32 bytes.
const SECRET_HEX_LEN: usize = 64;
/// The longest host name (RFC 1035), and the longest label in it.
const MAX_HOST_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

/// Why a webhook setting was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL is not an absolute URL of the accepted form; the text says what is wrong.
    #[error("invalid webhook URL: {0}")]
    InvalidUrl(&'static str),
    /// The URL is `http://` where only `https://` is accepted.
    #[error("webhook URLs must use https")]
    InsecureUrl,
    /// The host is `localhost` or an address in a loopback, private, link-local,
    /// unique-local, unspecified or otherwise non-public range.
    #[error("the webhook URL's host is a local or private address")]
    DisallowedHost,
    /// An event pattern is not `*`, `<family>.*` or `<family>.<name>`; the text says why.
    #[error("invalid event pattern: {0}")]
    InvalidEventPattern(&'static str),
    /// An endpoint was given no event patterns.
    #[error("at least one event pattern is required")]
    NoEventPatterns,
    /// An endpoint was given more than [`MAX_PATTERNS`] distinct patterns.
    #[error("at most {MAX_PATTERNS} event patterns are allowed")]
    TooManyPatterns,
    /// A secret is not `whsec_` followed by 64 lower-case hex digits.
    #[error("a webhook secret is `whsec_` followed by 64 lower-case hex digits")]
    InvalidSecret,
    /// The seller already has the most endpoints allowed.
    #[error("too many webhook endpoints")]
    TooManyEndpoints,
    /// The endpoint is disabled; enable it first.
    #[error("the webhook endpoint is disabled")]
    EndpointDisabled,
}

impl WebhookError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidUrl(_) => "invalid_url",
            Self::InsecureUrl => "insecure_url",
            Self::DisallowedHost => "disallowed_host",
            Self::InvalidEventPattern(_) => "invalid_event_pattern",
            Self::NoEventPatterns => "no_event_patterns",
            Self::TooManyPatterns => "too_many_patterns",
            Self::InvalidSecret => "invalid_secret",
            Self::TooManyEndpoints => "too_many_endpoints",
            Self::EndpointDisabled => "endpoint_disabled",
        }
    }
}

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

/// The [`SIGNATURE_HEADER`] value for `body` signed at `timestamp_secs` (Unix seconds):
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

/// Checks a [`SIGNATURE_HEADER`] value against the raw request body and returns the signed
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
/// which makes `t` look like it is in the future. [`DEFAULT_TOLERANCE`] is 5 minutes.
///
/// The timestamp check limits a captured request to being replayed within the tolerance
/// window. Inside the window, the receiver rejects a request whose [`EVENT_ID_HEADER`] it
/// has already accepted, so it keeps each accepted id for at least the tolerance window;
/// the sender retries an event with the same id for up to [`RetrySchedule::window`], so
/// keeping ids that long also makes retries of an already processed event harmless. A
/// duplicate is answered with a 2xx status so that the sender stops retrying it.
///
/// The signature covers `t` and the body, not the headers: a replayed request can carry a
/// different [`EVENT_ID_HEADER`]. A receiver that needs replay protection against that
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

/// Which event types an endpoint receives: `*` (all), `<family>.*` (all of a family) or
/// `<family>.<name>` (one type).
///
/// The family is one of [`EVENT_FAMILIES`]; the name is 1 to 40 characters of `a`-`z` and
/// `_`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct EventPattern(String);

fn is_event_name(name: &str) -> bool {
    (1..=MAX_EVENT_NAME_LEN).contains(&name.len())
        && name.bytes().all(|b| b == b'_' || b.is_ascii_lowercase())
}

impl EventPattern {
    /// Reads a pattern; only the three forms above are accepted.
    pub fn parse(pattern: &str) -> Result<Self, WebhookError> {
        if pattern == "*" {
            return Ok(Self(pattern.to_owned()));
        }
        let (family, name) = pattern
            .split_once('.')
            .ok_or(WebhookError::InvalidEventPattern(
                "expected `*`, `<family>.*` or `<family>.<name>`",
            ))?;
        if !EVENT_FAMILIES.contains(&family) {
            return Err(WebhookError::InvalidEventPattern("unknown event family"));
        }
        if name != "*" && !is_event_name(name) {
            return Err(WebhookError::InvalidEventPattern(
                "an event name is `*` or 1 to 40 characters of a-z and _",
            ));
        }
        Ok(Self(pattern.to_owned()))
    }

    /// Whether an event of type `event_type` (e.g. `order.paid`) is sent to an endpoint
    /// with this pattern. A string that is not a well-formed event type of a known family
    /// matches no pattern.
    pub fn matches(&self, event_type: &str) -> bool {
        let Some((family, name)) = event_type.split_once('.') else {
            return false;
        };
        if !EVENT_FAMILIES.contains(&family) || !is_event_name(name) {
            return false;
        }
        match self.0.split_once('.') {
            None => true,
            Some((pattern_family, "*")) => pattern_family == family,
            Some(_) => self.0 == event_type,
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads an endpoint's patterns: at least one, each valid, duplicates dropped (first
/// occurrence kept, order preserved), at most [`MAX_PATTERNS`] distinct ones.
pub fn parse_patterns(patterns: &[String]) -> Result<Vec<EventPattern>, WebhookError> {
    if patterns.is_empty() {
        return Err(WebhookError::NoEventPatterns);
    }
    let mut parsed: Vec<EventPattern> = Vec::new();
    for pattern in patterns {
        let pattern = EventPattern::parse(pattern)?;
        if parsed.contains(&pattern) {
            continue;
        }
        if parsed.len() >= MAX_PATTERNS {
            return Err(WebhookError::TooManyPatterns);
        }
        parsed.push(pattern);
    }
    Ok(parsed)
}

/// A URL deliveries may be sent to.
///
/// Accepted: `https://host[:port][/path][?query]`, the scheme in any case, at most
/// [`MAX_URL_LEN`] bytes of printable ASCII (non-ASCII must be percent-encoded, and host
/// names in their `xn--` form), no user info, no fragment, no `\`. The host is a DNS name
/// of letters, digits, `-` and `.`, a dotted-decimal IPv4 address or a bracketed IPv6
/// address; a host whose last label is a number in another form (`127.1`, `0x7f000001`)
/// is refused, because URL parsers that follow the WHATWG URL standard read those as IPv4
/// addresses. Hosts that are `localhost`, `*.localhost` or addresses [`may_deliver_to`]
/// refuses are refused: loopback, private, link-local, unique-local, unspecified, shared
/// (100.64/10), benchmarking, documentation, reserved, multicast and broadcast ranges,
/// IETF protocol assignments (with Teredo), 6to4, and IPv6 addresses that embed a refused
/// IPv4 address (`::ffff:0:0/96`, `64:ff9b::/96`).
///
/// With `allow_loopback_http` (development setups) those host checks are skipped, and
/// `http://` is accepted when the host is exactly `127.0.0.1`, `localhost` or `[::1]`.
///
/// Only the host as written is checked: a DNS name that resolves to a private address
/// passes here, so the sender checks every resolved address with [`may_deliver_to`] when
/// it connects.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct EndpointUrl {
    url: String,
    host: String,
}

/// What a URL's host is.
enum Host {
    Name,
    Ip(IpAddr),
}

fn parse_port(port: &str) -> Result<u16, WebhookError> {
    const INVALID: WebhookError = WebhookError::InvalidUrl("the port must be 1 to 65535");
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(INVALID);
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(INVALID),
        Ok(port) => Ok(port),
    }
}

/// Splits `host[:port]` or `[v6][:port]` and checks the port.
fn split_host_port(authority: &str) -> Result<&str, WebhookError> {
    let (host, port) = if authority.starts_with('[') {
        let (host, after) = match authority.find(']') {
            Some(end) => authority.split_at_checked(end.saturating_add(1)),
            None => None,
        }
        .ok_or(WebhookError::InvalidUrl("unclosed `[` in the host"))?;
        let port = if after.is_empty() {
            None
        } else {
            Some(
                after
                    .strip_prefix(':')
                    .ok_or(WebhookError::InvalidUrl("unexpected text after `]`"))?,
            )
        };
        (host, port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if let Some(port) = port {
        parse_port(port)?;
    }
    Ok(host)
}

/// Whether a label is a number to a WHATWG URL parser: decimal, octal with a leading `0`,
/// or hexadecimal with `0x`.
fn is_numeric_label(label: &str) -> bool {
    if !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"))
        .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Classifies a lower-cased host.
fn parse_host(host: &str) -> Result<Host, WebhookError> {
    if let Some(bracketed) = host.strip_prefix('[') {
        let address = bracketed
            .strip_suffix(']')
            .and_then(|inner| inner.parse::<Ipv6Addr>().ok())
            .ok_or(WebhookError::InvalidUrl("invalid IPv6 address"))?;
        return Ok(Host::Ip(IpAddr::V6(address)));
    }
    if host.is_empty() {
        return Err(WebhookError::InvalidUrl("missing host"));
    }
    if host.len() > MAX_HOST_LEN {
        return Err(WebhookError::InvalidUrl("host name too long"));
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(WebhookError::InvalidUrl(
            "a host name may contain only letters, digits, `-` and `.`",
        ));
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if name
        .split('.')
        .any(|label| label.is_empty() || label.len() > MAX_LABEL_LEN)
    {
        return Err(WebhookError::InvalidUrl("invalid host name"));
    }
    if name.rsplit('.').next().is_some_and(is_numeric_label) {
        let address = name.parse::<Ipv4Addr>().map_err(|_| {
            WebhookError::InvalidUrl("an IPv4 address must be in dotted-decimal form")
        })?;
        return Ok(Host::Ip(IpAddr::V4(address)));
    }
    Ok(Host::Name)
}

/// Whether `address` is in a range deliveries never go to: this network (0/8), private
/// (10/8, 172.16/12, 192.168/16), shared (100.64/10), loopback (127/8), link-local
/// (169.254/16), IETF protocol assignments (192.0.0/24), documentation (192.0.2/24,
/// 198.51.100/24, 203.0.113/24), the deprecated 6to4 relay anycast (192.88.99/24),
/// benchmarking (198.18/15), multicast (224/4) and reserved (240/4, with the broadcast
/// address): every range of the IANA IPv4 special-purpose registry that is not globally
/// reachable, plus the documentation and deprecated ones.
fn is_disallowed_v4(address: Ipv4Addr) -> bool {
    let [first, second, third, _] = address.octets();
    first == 0
        || address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || (first == 100 && (64..=127).contains(&second))
        || (first == 192 && second == 0 && (third == 0 || third == 2))
        || (first == 192 && second == 88 && third == 99)
        || (first == 198 && (second == 18 || second == 19))
        || (first == 198 && second == 51 && third == 100)
        || (first == 203 && second == 0 && third == 113)
        || address.is_multicast()
        || first >= 240
}

/// Whether `address` is in a range deliveries never go to. IPv4-mapped addresses
/// (`::ffff:0:0/96`) and the well-known NAT64 prefix (`64:ff9b::/96`) are judged by the
/// IPv4 address they carry. Everything outside the global unicast space `2000::/3` is
/// refused: among it `::/8` (unspecified, loopback, IPv4-compatible and -translated),
/// `64:ff9b:1::/48` (local-use NAT64), `100::/64` (discard), `5f00::/16` (SRv6),
/// `fc00::/7` (unique-local), `fe80::/10` (link-local), `fec0::/10` (site-local) and
/// `ff00::/8` (multicast). Inside it, `2001::/23` (IETF protocol assignments, with Teredo
/// `2001::/32`, benchmarking and ORCHID), `2001:db8::/32` and `3fff::/20` (documentation)
/// and `2002::/16` (6to4, which embeds any IPv4 address) are refused.
fn is_disallowed_v6(address: Ipv6Addr) -> bool {
    if let Some(v4) = address.to_ipv4_mapped() {
        return is_disallowed_v4(v4);
    }
    let [s0, s1, s2, s3, s4, s5, s6, s7] = address.segments();
    if [s0, s1, s2, s3, s4, s5] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = s6.to_be_bytes();
        let [c, d] = s7.to_be_bytes();
        return is_disallowed_v4(Ipv4Addr::new(a, b, c, d));
    }
    s0 & 0xe000 != 0x2000
        || (s0 == 0x2001 && s1 < 0x0200)
        || (s0 == 0x2001 && s1 == 0x0db8)
        || s0 == 0x2002
        || (s0 == 0x3fff && s1 < 0x1000)
}

/// Whether a delivery may connect to `address`: not when it is in a range [`EndpointUrl`]
/// refuses (see `is_disallowed_v4` and `is_disallowed_v6`). With `allow_loopback` (local
/// testing, as for [`EndpointUrl::parse`]) loopback addresses (`127.0.0.0/8`, `::1`, and
/// `127.0.0.0/8` mapped into IPv6) are allowed as well; every other refused range stays
/// refused.
///
/// The sender asks this of every address a host name resolves to, and of an address written
/// in the URL, before it connects, and connects only to addresses that passed.
pub fn may_deliver_to(address: IpAddr, allow_loopback: bool) -> bool {
    if allow_loopback && address.to_canonical().is_loopback() {
        return true;
    }
    match address {
        IpAddr::V4(v4) => !is_disallowed_v4(v4),
        IpAddr::V6(v6) => !is_disallowed_v6(v6),
    }
}

fn is_disallowed(host: &str, kind: &Host) -> bool {
    match kind {
        Host::Name => {
            let name = host.strip_suffix('.').unwrap_or(host);
            name == "localhost" || name.ends_with(".localhost")
        }
        Host::Ip(IpAddr::V4(address)) => is_disallowed_v4(*address),
        Host::Ip(IpAddr::V6(address)) => is_disallowed_v6(*address),
    }
}

impl EndpointUrl {
    /// Checks `url` against the rules above.
    pub fn parse(url: &str, allow_loopback_http: bool) -> Result<Self, WebhookError> {
        if url.len() > MAX_URL_LEN {
            return Err(WebhookError::InvalidUrl("longer than 2048 bytes"));
        }
        if !url.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(WebhookError::InvalidUrl(
                "contains whitespace, control or non-ASCII characters",
            ));
        }
        if url.contains('\\') {
            return Err(WebhookError::InvalidUrl("contains `\\`"));
        }
        if url.contains('#') {
            return Err(WebhookError::InvalidUrl("has a fragment"));
        }
        let (scheme, rest) = url.split_once("://").ok_or(WebhookError::InvalidUrl(
            "expected an absolute https:// URL",
        ))?;
        let is_http = scheme.eq_ignore_ascii_case("http");
        if !is_http && !scheme.eq_ignore_ascii_case("https") {
            return Err(WebhookError::InvalidUrl("the scheme must be https"));
        }
        let authority = rest
            .split(['/', '?'])
            .next()
            .ok_or(WebhookError::InvalidUrl("missing host"))?;
        if authority.contains('@') {
            return Err(WebhookError::InvalidUrl("user info is not allowed"));
        }
        let host = split_host_port(authority)?.to_ascii_lowercase();
        let kind = parse_host(&host)?;
        if is_http {
            let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
            if !(allow_loopback_http && loopback) {
                return Err(WebhookError::InsecureUrl);
            }
        } else if !allow_loopback_http && is_disallowed(&host, &kind) {
            return Err(WebhookError::DisallowedHost);
        }
        Ok(Self {
            url: url.to_owned(),
            host,
        })
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The host, lower-cased; IPv6 addresses keep their brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The address written as the host, if the host is an address rather than a name.
    pub fn address(&self) -> Option<IpAddr> {
        match parse_host(&self.host) {
            Ok(Host::Ip(address)) => Some(address),
            Ok(Host::Name) | Err(_) => None,
        }
    }
}

impl fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// When a failed delivery is tried again: exponential back-off from `first`, each delay at
/// most `cap`, no attempt later than `window` after the first one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RetrySchedule {
    /// The nominal delay after the first failed attempt.
    pub first: Duration,
    /// The largest nominal delay.
    pub cap: Duration,
    /// How long after the first attempt retries stop.
    pub window: Duration,
}

impl Default for RetrySchedule {
    /// 30 seconds, doubling up to 6 hours, for 3 days.
    fn default() -> Self {
        Self {
            first: Duration::from_secs(30),
            cap: Duration::from_secs(6 * 3600),
            window: Duration::from_secs(72 * 3600),
        }
    }
}

/// The duration of `nanos` nanoseconds, if it fits.
fn duration_from_nanos(nanos: u128) -> Option<Duration> {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(nanos.checked_div(NANOS_PER_SEC)?).ok()?;
    let subsec = u32::try_from(nanos.checked_rem(NANOS_PER_SEC)?).ok()?;
    Some(Duration::new(secs, subsec))
}

impl RetrySchedule {
    /// The wait after failed attempt number `attempt` (1 for the first; 0 counts as 1).
    ///
    /// The nominal delay is `first * 2^(attempt - 1)`, at most `cap`. Half of it is fixed
    /// and `jitter_permille / 1000` (at most 1000) of the other half is added ("equal
    /// jitter"), so the result is between half the nominal delay and all of it. The caller
    /// draws `jitter_permille` at random for each attempt.
    pub fn delay(&self, attempt: u32, jitter_permille: u16) -> Duration {
        let exponent = attempt.max(1).saturating_sub(1);
        let nominal = match 2_u32
            .checked_pow(exponent)
            .and_then(|factor| self.first.checked_mul(factor))
        {
            Some(delay) => delay.min(self.cap),
            None if self.first.is_zero() => Duration::ZERO,
            None => self.cap,
        };
        let half = nominal.checked_div(2).unwrap_or_default();
        let fixed = nominal.saturating_sub(half);
        let permille = u128::from(jitter_permille.min(1000));
        let jitter = half
            .as_nanos()
            .checked_mul(permille)
            .and_then(|scaled| scaled.checked_div(1000))
            .and_then(duration_from_nanos)
            .unwrap_or(half);
        fixed.saturating_add(jitter)
    }

    /// When to try again after `attempts_made` failed attempts, the first of which was at
    /// `first_attempt_at`: `now` plus [`delay`](Self::delay)`(attempts_made, ..)`, or `None`
    /// when that is later than `first_attempt_at + window` and the delivery is given up.
    pub fn next_attempt(
        &self,
        first_attempt_at: Timestamp,
        now: Timestamp,
        attempts_made: u32,
        jitter_permille: u16,
    ) -> Option<Timestamp> {
        let at = now.saturating_add(self.delay(attempts_made, jitter_permille));
        (at <= first_attempt_at.saturating_add(self.window)).then_some(at)
    }
}

/// What one delivery attempt's result means.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AttemptOutcome {
    /// The endpoint took the event; no more attempts.
    Delivered,
    /// Try again on the [`RetrySchedule`].
    Retry,
    /// The endpoint refused the event; no more attempts.
    Reject,
}

/// Classifies an attempt by its HTTP status, `None` meaning no response (network error or
/// timeout): 2xx is delivered; no response, 429 and 5xx are retried; anything else
/// (1xx, redirects, other 4xx) is rejected. Redirects are not followed.
pub fn classify(status: Option<u16>) -> AttemptOutcome {
    match status {
        Some(200..=299) => AttemptOutcome::Delivered,
        None | Some(429 | 500..=599) => AttemptOutcome::Retry,
        Some(_) => AttemptOutcome::Reject,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: i64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"id":"evt_1"}"#;

    fn secret(byte: u8) -> EndpointSecret {
        EndpointSecret::from_bytes([byte; 32])
    }

    fn hmac_hex(key: &str, message: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(key.as_bytes()).unwrap();
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    fn check(header: &str, secret: &EndpointSecret) -> Result<i64, VerifyError> {
        verify(header, BODY, secret.as_str(), T, DEFAULT_TOLERANCE)
    }

    #[test]
    fn secret_format() {
        let s = secret(0x11);
        assert_eq!(s.as_str(), format!("whsec_{}", "11".repeat(32)));
        assert_eq!(
            EndpointSecret::parse(s.as_str()).unwrap().as_str(),
            s.as_str()
        );
        for bad in [
            "",
            "whsec_",
            &"11".repeat(32),
            &format!("whsec_{}", "1".repeat(63)),
            &format!("whsec_{}", "1".repeat(65)),
            &format!("whsec_{}", "A".repeat(64)),
            &format!("whsec_{}", "g".repeat(64)),
            &format!("WHSEC_{}", "1".repeat(64)),
            &format!(" whsec_{}", "1".repeat(64)),
        ] {
            assert_eq!(
                EndpointSecret::parse(bad).unwrap_err(),
                WebhookError::InvalidSecret,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = secret(0xab);
        let printed = format!("{s:?}");
        assert_eq!(printed, "EndpointSecret(redacted)");
        assert!(!printed.contains("abab"));
    }

    #[test]
    fn known_vector() {
        let s = secret(0x11);
        let header = signature_header(T, BODY, &[&s]);
        // Computed with Python's hmac module.
        let expected =
            "t=1700000000,v1=3b2c9c6dec2395be8f40760c2526e4e93b42e611b60b0dd04eb7a92f428406c3";
        assert_eq!(header, expected);
        // And with hmac directly, over "<t>.<body>" keyed by the whole secret string.
        let independent = format!(
            "t={T},v1={}",
            hmac_hex(s.as_str(), br#"1700000000.{"id":"evt_1"}"#)
        );
        assert_eq!(header, independent);
        assert_eq!(check(&header, &s), Ok(T));
    }

    #[test]
    fn two_secrets_give_two_signatures_and_either_verifies() {
        let new = secret(0x22);
        let old = secret(0x11);
        let header = signature_header(T, BODY, &[&new, &old]);
        assert_eq!(
            header,
            "t=1700000000\
             ,v1=f0b15b885a40f2d27d97f51e8fa97ffa06a1faf0dada29d941e695dae9335f43\
             ,v1=3b2c9c6dec2395be8f40760c2526e4e93b42e611b60b0dd04eb7a92f428406c3"
        );
        assert_eq!(header.matches("v1=").count(), 2);
        assert_eq!(check(&header, &new), Ok(T));
        assert_eq!(check(&header, &old), Ok(T));
        assert_eq!(check(&header, &secret(0x33)), Err(VerifyError::Mismatch));
    }

    #[test]
    fn no_secrets_give_no_signature() {
        let header = signature_header(T, BODY, &[]);
        assert_eq!(header, "t=1700000000");
        assert_eq!(check(&header, &secret(1)), Err(VerifyError::NoSignature));
    }

    #[test]
    fn tampering_fails() {
        let s = secret(0x11);
        let header = signature_header(T, BODY, &[&s]);
        assert_eq!(
            verify(
                &header,
                br#"{"id":"evt_2"}"#,
                s.as_str(),
                T,
                DEFAULT_TOLERANCE
            ),
            Err(VerifyError::Mismatch)
        );
        let other_time = header.replace("t=1700000000", "t=1700000001");
        assert_eq!(check(&other_time, &s), Err(VerifyError::Mismatch));
        let flipped = header.replace("v1=3b", "v1=4b");
        assert_eq!(check(&flipped, &s), Err(VerifyError::Mismatch));
        let wrong_secret = signature_header(T, BODY, &[&secret(0x12)]);
        assert_eq!(check(&wrong_secret, &s), Err(VerifyError::Mismatch));
    }

    #[test]
    fn tolerance_both_directions() {
        let s = secret(5);
        let at = |now: i64| {
            verify(
                &signature_header(T, BODY, &[&s]),
                BODY,
                s.as_str(),
                now,
                DEFAULT_TOLERANCE,
            )
        };
        assert_eq!(at(1_700_000_300), Ok(T));
        assert_eq!(at(1_700_000_301), Err(VerifyError::OutsideTolerance));
        assert_eq!(at(1_699_999_700), Ok(T));
        assert_eq!(at(1_699_999_699), Err(VerifyError::OutsideTolerance));
        assert_eq!(at(i64::MAX), Err(VerifyError::OutsideTolerance));
        assert_eq!(at(i64::MIN), Err(VerifyError::OutsideTolerance));
        let zero = verify(
            &signature_header(T, BODY, &[&s]),
            BODY,
            s.as_str(),
            1_700_000_001,
            Duration::ZERO,
        );
        assert_eq!(zero, Err(VerifyError::OutsideTolerance));
    }

    #[test]
    fn mismatch_is_reported_before_tolerance() {
        let s = secret(5);
        let header = signature_header(T, BODY, &[&secret(6)]);
        assert_eq!(
            verify(&header, BODY, s.as_str(), 0, DEFAULT_TOLERANCE),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn header_parsing() {
        let s = secret(0x11);
        let good = "3b2c9c6dec2395be8f40760c2526e4e93b42e611b60b0dd04eb7a92f428406c3";
        let sig = format!("v1={good}");
        let huge = format!("t={T},{sig},v0={}", "a".repeat(MAX_SIGNATURE_HEADER_LEN));
        let seventeen = format!("t={T}{}", format!(",{sig}").repeat(17));
        let sixteen = format!("t={T}{}", format!(",{sig}").repeat(16));
        let cases: Vec<(String, Result<i64, VerifyError>)> = vec![
            (String::new(), Err(VerifyError::Malformed)),
            (sig.clone(), Err(VerifyError::Malformed)),
            (format!("t=abc,{sig}"), Err(VerifyError::Malformed)),
            (format!("t=,{sig}"), Err(VerifyError::Malformed)),
            (format!("t=+1700000000,{sig}"), Err(VerifyError::Malformed)),
            (format!("t=1.5,{sig}"), Err(VerifyError::Malformed)),
            (
                format!("t=99999999999999999999,{sig}"),
                Err(VerifyError::Malformed),
            ),
            (format!("t={T},t={T},{sig}"), Err(VerifyError::Malformed)),
            (format!("t={T},{sig},"), Err(VerifyError::Malformed)),
            (format!("t={T},garbage,{sig}"), Err(VerifyError::Malformed)),
            (format!("t={T},v1=zz"), Err(VerifyError::Malformed)),
            (
                format!("t={T},v1={}", &good[..62]),
                Err(VerifyError::Malformed),
            ),
            (huge, Err(VerifyError::Malformed)),
            (seventeen, Err(VerifyError::Malformed)),
            (format!("t={T}"), Err(VerifyError::NoSignature)),
            (format!("t={T},v0={good}"), Err(VerifyError::NoSignature)),
            (format!("t={T},{sig}"), Ok(T)),
            (format!("{sig},t={T}"), Ok(T)),
            (format!("t={T},v0=whatever,{sig},v2=x"), Ok(T)),
            (format!("t={T}, {sig}"), Ok(T)),
            (format!("t={T},v1={}", good.to_uppercase()), Ok(T)),
            (sixteen, Ok(T)),
        ];
        for (header, expected) in cases {
            assert_eq!(check(&header, &s), expected, "{header:?}");
        }
    }

    #[test]
    fn negative_timestamps_round_trip() {
        let s = secret(9);
        let header = signature_header(-5, BODY, &[&s]);
        assert_eq!(
            verify(&header, BODY, s.as_str(), 0, DEFAULT_TOLERANCE),
            Ok(-5)
        );
    }

    #[test]
    fn verify_error_codes() {
        assert_eq!(VerifyError::Malformed.code(), "malformed_signature_header");
        assert_eq!(VerifyError::NoSignature.code(), "no_signature");
        assert_eq!(VerifyError::Mismatch.code(), "signature_mismatch");
        assert_eq!(
            VerifyError::OutsideTolerance.code(),
            "timestamp_outside_tolerance"
        );
    }

    #[test]
    fn pattern_parsing() {
        for good in [
            "*",
            "order.*",
            "order.paid",
            "payment.captured",
            "refund.*",
            "review.created",
            "payout.*",
            "loan.repaid",
            "webhook_endpoint.disabled",
            "order.a",
            &format!("order.{}", "a".repeat(40)),
        ] {
            let pattern = EventPattern::parse(good).unwrap();
            assert_eq!(pattern.as_str(), good);
            assert_eq!(pattern.to_string(), good);
        }
        for bad in [
            "",
            "order",
            "order.",
            ".paid",
            "*.paid",
            "*.*",
            "**",
            "orders.paid",
            "Order.paid",
            "order.Paid",
            "order.paid2",
            "order.pa-id",
            "order.paid.*",
            "order.paid.now",
            "order.p*",
            " order.paid",
            "order.paid ",
            "webhook-endpoint.disabled",
            &format!("order.{}", "a".repeat(41)),
        ] {
            let error = EventPattern::parse(bad).unwrap_err();
            assert_eq!(error.code(), "invalid_event_pattern", "{bad:?}");
        }
    }

    #[test]
    fn pattern_matching() {
        let table = [
            ("*", "order.paid", true),
            ("*", "webhook_endpoint.disabled", true),
            ("*", "nonsense", false),
            ("*", "unknown.paid", false),
            ("*", "", false),
            ("order.*", "order.paid", true),
            ("order.*", "order.created", true),
            ("order.*", "payment.captured", false),
            ("order.*", "order.", false),
            ("order.*", "order", false),
            ("order.*", "orders.paid", false),
            ("order.*", "order.paid.partial", false),
            ("order.paid", "order.paid", true),
            ("order.paid", "order.paid_late", false),
            ("order.paid", "order.pai", false),
            ("order.paid", "order.*", false),
            ("payment.*", "payment.failed", true),
            ("webhook_endpoint.*", "webhook_endpoint.disabled", true),
        ];
        for (pattern, event_type, expected) in table {
            assert_eq!(
                EventPattern::parse(pattern).unwrap().matches(event_type),
                expected,
                "{pattern} ~ {event_type}"
            );
        }
    }

    #[test]
    fn patterns_list() {
        let strings = |items: &[&str]| items.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(
            parse_patterns(&[]).unwrap_err(),
            WebhookError::NoEventPatterns
        );
        let parsed = parse_patterns(&strings(&["order.*", "refund.failed", "order.*"])).unwrap();
        let names: Vec<&str> = parsed.iter().map(EventPattern::as_str).collect();
        assert_eq!(names, ["order.*", "refund.failed"]);
        assert_eq!(
            parse_patterns(&strings(&["order.*", "nope"]))
                .unwrap_err()
                .code(),
            "invalid_event_pattern"
        );

        let distinct: Vec<String> = (0..=MAX_PATTERNS)
            .map(|i| format!("order.{}", "a".repeat(i.checked_add(1).unwrap())))
            .collect();
        assert_eq!(parse_patterns(&distinct[..MAX_PATTERNS]).unwrap().len(), 32);
        let error = parse_patterns(&distinct).unwrap_err();
        assert_eq!(error, WebhookError::TooManyPatterns);
        assert_eq!(error.code(), "too_many_patterns");
        // Duplicates do not count towards the limit.
        let mut with_duplicates = distinct[..MAX_PATTERNS].to_vec();
        with_duplicates.extend_from_slice(&distinct[..MAX_PATTERNS]);
        assert_eq!(parse_patterns(&with_duplicates).unwrap().len(), 32);
    }

    /// A URL, then its host or error code without `allow_loopback_http`, then with it.
    type UrlCase<'a> = (&'a str, Result<&'a str, &'a str>, Result<&'a str, &'a str>);

    #[test]
    fn url_table() {
        let long = format!("https://example.com/{}", "a".repeat(2048));
        let exactly_max = format!("https://example.com/{}", "a".repeat(2028));
        assert_eq!(exactly_max.len(), MAX_URL_LEN);
        let table: Vec<UrlCase<'_>> = vec![
            (
                "https://example.com/hooks",
                Ok("example.com"),
                Ok("example.com"),
            ),
            (
                "HTTPS://Example.COM/x",
                Ok("example.com"),
                Ok("example.com"),
            ),
            ("https://example.com", Ok("example.com"), Ok("example.com")),
            (
                "https://example.com:8443/a?b=c",
                Ok("example.com"),
                Ok("example.com"),
            ),
            (
                "https://example.com?x=1",
                Ok("example.com"),
                Ok("example.com"),
            ),
            (
                "https://xn--bcher-kva.example/",
                Ok("xn--bcher-kva.example"),
                Ok("xn--bcher-kva.example"),
            ),
            ("https://8.8.8.8/", Ok("8.8.8.8"), Ok("8.8.8.8")),
            (
                "https://[2606:4700::1111]:443/",
                Ok("[2606:4700::1111]"),
                Ok("[2606:4700::1111]"),
            ),
            // Documentation addresses are not delivered to.
            (
                "https://[2001:db8::1]:443/",
                Err("disallowed_host"),
                Ok("[2001:db8::1]"),
            ),
            (
                "https://example.com./",
                Ok("example.com."),
                Ok("example.com."),
            ),
            (&exactly_max, Ok("example.com"), Ok("example.com")),
            // http
            (
                "http://example.com/",
                Err("insecure_url"),
                Err("insecure_url"),
            ),
            (
                "http://127.0.0.1:8080/hook",
                Err("insecure_url"),
                Ok("127.0.0.1"),
            ),
            (
                "HTTP://LOCALHOST:3000/",
                Err("insecure_url"),
                Ok("localhost"),
            ),
            ("http://[::1]:3000/", Err("insecure_url"), Ok("[::1]")),
            ("http://10.0.0.1/", Err("insecure_url"), Err("insecure_url")),
            (
                "http://127.0.0.2/",
                Err("insecure_url"),
                Err("insecure_url"),
            ),
            // local and private hosts
            (
                "https://localhost/",
                Err("disallowed_host"),
                Ok("localhost"),
            ),
            (
                "https://LocalHost./",
                Err("disallowed_host"),
                Ok("localhost."),
            ),
            (
                "https://api.localhost/",
                Err("disallowed_host"),
                Ok("api.localhost"),
            ),
            (
                "https://127.0.0.1/",
                Err("disallowed_host"),
                Ok("127.0.0.1"),
            ),
            (
                "https://127.255.0.9/",
                Err("disallowed_host"),
                Ok("127.255.0.9"),
            ),
            ("https://10.1.2.3/", Err("disallowed_host"), Ok("10.1.2.3")),
            (
                "https://172.16.0.1/",
                Err("disallowed_host"),
                Ok("172.16.0.1"),
            ),
            (
                "https://172.31.255.255/",
                Err("disallowed_host"),
                Ok("172.31.255.255"),
            ),
            ("https://172.32.0.1/", Ok("172.32.0.1"), Ok("172.32.0.1")),
            (
                "https://192.168.1.1/",
                Err("disallowed_host"),
                Ok("192.168.1.1"),
            ),
            (
                "https://169.254.169.254/latest",
                Err("disallowed_host"),
                Ok("169.254.169.254"),
            ),
            ("https://0.0.0.0/", Err("disallowed_host"), Ok("0.0.0.0")),
            (
                "https://100.64.0.1/",
                Err("disallowed_host"),
                Ok("100.64.0.1"),
            ),
            (
                "https://224.0.0.1/",
                Err("disallowed_host"),
                Ok("224.0.0.1"),
            ),
            (
                "https://255.255.255.255/",
                Err("disallowed_host"),
                Ok("255.255.255.255"),
            ),
            ("https://[::1]/", Err("disallowed_host"), Ok("[::1]")),
            ("https://[::]/", Err("disallowed_host"), Ok("[::]")),
            (
                "https://[fe80::1]/",
                Err("disallowed_host"),
                Ok("[fe80::1]"),
            ),
            (
                "https://[fd00::1]/",
                Err("disallowed_host"),
                Ok("[fd00::1]"),
            ),
            (
                "https://[fc00::1]/",
                Err("disallowed_host"),
                Ok("[fc00::1]"),
            ),
            (
                "https://[::ffff:127.0.0.1]/",
                Err("disallowed_host"),
                Ok("[::ffff:127.0.0.1]"),
            ),
            (
                "https://[::ffff:8.8.8.8]/",
                Ok("[::ffff:8.8.8.8]"),
                Ok("[::ffff:8.8.8.8]"),
            ),
            (
                "https://[::10.0.0.1]/",
                Err("disallowed_host"),
                Ok("[::10.0.0.1]"),
            ),
            (
                "https://[64:ff9b::a00:1]/",
                Err("disallowed_host"),
                Ok("[64:ff9b::a00:1]"),
            ),
            // IPv4 in forms WHATWG parsers accept
            ("https://127.1/", Err("invalid_url"), Err("invalid_url")),
            (
                "https://2130706433/",
                Err("invalid_url"),
                Err("invalid_url"),
            ),
            (
                "https://0x7f000001/",
                Err("invalid_url"),
                Err("invalid_url"),
            ),
            (
                "https://0177.0.0.1/",
                Err("invalid_url"),
                Err("invalid_url"),
            ),
            ("https://1.2.3.4.5/", Err("invalid_url"), Err("invalid_url")),
            ("https://foo.0x10/", Err("invalid_url"), Err("invalid_url")),
            // form
            (
                "https://user:pw@example.com/",
                Err("invalid_url"),
                Err("invalid_url"),
            ),
            (
                "https://example.com@10.0.0.1/",
                Err("invalid_url"),
                Err("invalid_url"),
            ),
            (
                "https://example.com/#frag",
                Err("invalid_url"),
                Err("invalid_url"),
            ),
            (
                "https://example.com\\@127.0.0.1/",
                Err("invalid_url"),
                Err("invalid_url"),
            ),
            (
                "https://example.com:0/",
                Err("invalid_url"),
                Err("invalid_url"),
            ),
            (
                "https://example.com:65536/",
                Err("invalid_url"),
                Err("invalid_url"),
            ),
            (
                "https://example.com:/",
                Err("invalid_url"),
                Err("invalid_url"),
            ),
            (
                "https://example.com:08x/",
                Err("invalid_url"),
                Err("invalid_url"),
            ),
            (
                "https://example.com:443:1/",
                Err("invalid_url"),
                Err("invalid_url"),
            ),
            ("https://[::1/", Err("invalid_url"), Err("invalid_url")),
            ("https://[::1]x/", Err("invalid_url"), Err("invalid_url")),
            (
                "https://[fe80::1%25eth0]/",
                Err("invalid_url"),
                Err("invalid_url"),
            ),
            ("https:///path", Err("invalid_url"), Err("invalid_url")),
            ("https://", Err("invalid_url"), Err("invalid_url")),
            ("https://:443/", Err("invalid_url"), Err("invalid_url")),
            (
                "https://exa mple.com/",
                Err("invalid_url"),
                Err("invalid_url"),
            ),
            (
                "https://example.com/\n",
                Err("invalid_url"),
                Err("invalid_url"),
            ),
            (
                "https://bücher.example/",
                Err("invalid_url"),
                Err("invalid_url"),
            ),
            (
                "https://%6c%6fcalhost/",
                Err("invalid_url"),
                Err("invalid_url"),
            ),
            ("https://a..b/", Err("invalid_url"), Err("invalid_url")),
            (
                "https://under_score.example/",
                Err("invalid_url"),
                Err("invalid_url"),
            ),
            ("ftp://example.com/", Err("invalid_url"), Err("invalid_url")),
            ("example.com/hooks", Err("invalid_url"), Err("invalid_url")),
            ("//example.com/", Err("invalid_url"), Err("invalid_url")),
            ("", Err("invalid_url"), Err("invalid_url")),
            (&long, Err("invalid_url"), Err("invalid_url")),
        ];
        for (url, strict, loose) in table {
            for (flag, expected) in [(false, strict), (true, loose)] {
                let got = EndpointUrl::parse(url, flag);
                match (got, expected) {
                    (Ok(parsed), Ok(host)) => {
                        assert_eq!(parsed.host(), host, "{url} {flag}");
                        assert_eq!(parsed.as_str(), url);
                        assert_eq!(parsed.to_string(), url);
                    }
                    (Err(error), Err(code)) => assert_eq!(error.code(), code, "{url} {flag}"),
                    (got, expected) => panic!("{url} {flag}: got {got:?}, expected {expected:?}"),
                }
            }
        }
    }

    #[test]
    fn blocked_address_ranges() {
        // (address, may a delivery connect to it)
        let table = [
            // IPv4: the ranges of the IANA special-purpose registry, at both ends.
            ("0.0.0.0", false),
            ("0.255.255.255", false),
            ("10.0.0.0", false),
            ("10.255.255.255", false),
            ("100.63.255.255", true),
            ("100.64.0.0", false),
            ("100.127.255.255", false),
            ("100.128.0.0", true),
            ("127.0.0.1", false),
            ("127.255.255.255", false),
            ("169.254.169.254", false),
            ("172.15.255.255", true),
            ("172.16.0.0", false),
            ("172.31.255.255", false),
            ("172.32.0.0", true),
            ("191.255.255.255", true),
            ("192.0.0.0", false),
            ("192.0.0.8", false),
            ("192.0.0.170", false),
            ("192.0.0.255", false),
            ("192.0.1.0", true),
            ("192.0.2.1", false),
            ("192.0.3.0", true),
            ("192.88.99.1", false),
            ("192.88.100.0", true),
            ("192.168.0.0", false),
            ("192.168.255.255", false),
            ("198.17.255.255", true),
            ("198.18.0.0", false),
            ("198.19.255.255", false),
            ("198.20.0.0", true),
            ("198.51.100.7", false),
            ("203.0.113.9", false),
            ("203.0.114.0", true),
            ("223.255.255.255", true),
            ("224.0.0.1", false),
            ("239.255.255.255", false),
            ("240.0.0.0", false),
            ("254.1.2.3", false),
            ("255.255.255.255", false),
            ("8.8.8.8", true),
            ("93.184.216.34", true),
            // IPv6
            ("::", false),
            ("::1", false),
            ("::10.0.0.1", false),
            ("::8.8.8.8", false),
            ("::ffff:0:8.8.8.8", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:10.1.2.3", false),
            ("::ffff:198.18.0.1", false),
            ("::ffff:240.0.0.1", false),
            ("::ffff:8.8.8.8", true),
            ("64:ff9b::8.8.8.8", true),
            ("64:ff9b::10.0.0.1", false),
            ("64:ff9b::192.0.0.1", false),
            ("64:ff9b:1::8.8.8.8", false),
            ("64:ff9b:1:ffff::1", false),
            ("100::1", false),
            ("100:0:0:1::1", false),
            ("1fff:ffff::1", false),
            ("2000::1", true),
            ("2001::1", false),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", false),
            ("2001:1::1", false),
            ("2001:2::1", false),
            ("2001:10::1", false),
            ("2001:20::1", false),
            ("2001:1ff:ffff::1", false),
            ("2001:200::1", true),
            ("2001:db8::1", false),
            ("2001:db9::1", true),
            ("2001:4860:4860::8888", true),
            ("2002::1", false),
            ("2002:7f00:1::1", false),
            ("2002:ffff:ffff::1", false),
            ("2003::1", true),
            ("2606:4700::1111", true),
            ("3ffe::1", true),
            ("3fff::1", false),
            ("3fff:fff::1", false),
            ("3fff:1000::1", true),
            ("4000::1", false),
            ("5f00::1", false),
            ("fc00::1", false),
            ("fdff::1", false),
            ("fe80::1", false),
            ("febf::1", false),
            ("fec0::1", false),
            ("ff02::1", false),
        ];
        for (text, allowed) in table {
            let address: IpAddr = text.parse().unwrap();
            assert_eq!(may_deliver_to(address, false), allowed, "{text}");
            // The URL rule and the sender's rule agree.
            let host = match address {
                IpAddr::V4(_) => text.to_owned(),
                IpAddr::V6(_) => format!("[{text}]"),
            };
            let url = EndpointUrl::parse(&format!("https://{host}/"), false);
            assert_eq!(url.is_ok(), allowed, "{text}");
            if let Ok(url) = EndpointUrl::parse(&format!("https://{host}/"), true) {
                assert_eq!(url.address(), Some(address));
            }
        }
        assert_eq!(
            EndpointUrl::parse("https://hooks.example.com/", false)
                .unwrap()
                .address(),
            None
        );
    }

    #[test]
    fn loopback_is_allowed_only_with_the_flag() {
        for text in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            let address: IpAddr = text.parse().unwrap();
            assert!(!may_deliver_to(address, false), "{text}");
            assert!(may_deliver_to(address, true), "{text}");
        }
        // Only loopback: the other refused ranges stay refused under the flag.
        for text in [
            "0.0.0.0",
            "10.0.0.1",
            "169.254.169.254",
            "198.18.0.1",
            "::",
            "fd00::1",
            "fe80::1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
        ] {
            let address: IpAddr = text.parse().unwrap();
            assert!(!may_deliver_to(address, true), "{text}");
        }
    }

    #[test]
    fn webhook_error_codes() {
        let table = [
            (WebhookError::InvalidUrl("x"), "invalid_url"),
            (WebhookError::InsecureUrl, "insecure_url"),
            (WebhookError::DisallowedHost, "disallowed_host"),
            (
                WebhookError::InvalidEventPattern("x"),
                "invalid_event_pattern",
            ),
            (WebhookError::NoEventPatterns, "no_event_patterns"),
            (WebhookError::TooManyPatterns, "too_many_patterns"),
            (WebhookError::InvalidSecret, "invalid_secret"),
        ];
        for (error, code) in table {
            assert_eq!(error.code(), code);
        }
    }

    #[test]
    fn retry_delays_without_jitter() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.first, Duration::from_secs(30));
        assert_eq!(schedule.cap, Duration::from_secs(21_600));
        assert_eq!(schedule.window, Duration::from_secs(259_200));
        // Full jitter gives the nominal delay.
        let nominal: Vec<u64> = (0..=12)
            .map(|a| schedule.delay(a, 1000).as_secs())
            .collect();
        assert_eq!(
            nominal,
            [
                30, 30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15_360, 21_600, 21_600
            ]
        );
        // No jitter gives half of it.
        assert_eq!(schedule.delay(1, 0), Duration::from_secs(15));
        assert_eq!(schedule.delay(20, 0), Duration::from_secs(10_800));
        assert_eq!(schedule.delay(u32::MAX, 1000), schedule.cap);
        assert_eq!(schedule.delay(u32::MAX, 0), Duration::from_secs(10_800));
    }

    #[test]
    fn retry_delays_are_monotone_and_capped() {
        let schedule = RetrySchedule::default();
        for jitter in [0, 500, 1000] {
            let mut previous = Duration::ZERO;
            for attempt in (0..100).chain([u32::MAX.saturating_sub(1), u32::MAX]) {
                let delay = schedule.delay(attempt, jitter);
                assert!(delay >= previous, "attempt {attempt} jitter {jitter}");
                assert!(delay <= schedule.cap);
                previous = delay;
            }
        }
    }

    #[test]
    fn retry_jitter_bounds() {
        let schedule = RetrySchedule::default();
        for attempt in [1, 3, 11, 50] {
            let nominal = schedule.delay(attempt, 1000);
            let low = schedule.delay(attempt, 0);
            assert_eq!(low, nominal.checked_div(2).unwrap());
            let mut previous = low;
            for jitter in (0..=1000).step_by(50) {
                let delay = schedule.delay(attempt, jitter);
                assert!(low <= delay && delay <= nominal);
                assert!(delay >= previous);
                previous = delay;
            }
            // Values above 1000 count as 1000.
            assert_eq!(schedule.delay(attempt, 1001), nominal);
            assert_eq!(schedule.delay(attempt, u16::MAX), nominal);
        }
        assert_eq!(schedule.delay(1, 500), Duration::from_millis(22_500));
    }

    #[test]
    fn retry_odd_and_extreme_schedules() {
        let odd = RetrySchedule {
            first: Duration::from_nanos(3),
            cap: Duration::MAX,
            window: Duration::MAX,
        };
        assert_eq!(odd.delay(1, 0), Duration::from_nanos(2));
        assert_eq!(odd.delay(1, 1000), Duration::from_nanos(3));
        assert_eq!(odd.delay(200, 1000), Duration::MAX);
        assert!(odd.delay(200, 999) <= Duration::MAX);
        let zero = RetrySchedule {
            first: Duration::ZERO,
            cap: Duration::from_secs(10),
            window: Duration::from_secs(10),
        };
        assert_eq!(zero.delay(u32::MAX, 1000), Duration::ZERO);
        let first_above_cap = RetrySchedule {
            first: Duration::from_secs(100),
            cap: Duration::from_secs(10),
            window: Duration::from_secs(10),
        };
        assert_eq!(first_above_cap.delay(1, 1000), Duration::from_secs(10));
    }

    #[test]
    fn retry_window_cutoff() {
        const SECOND: i64 = 1_000_000;
        let schedule = RetrySchedule::default();
        let start = Timestamp::from_micros(T.checked_mul(SECOND).unwrap());
        let at = |seconds: i64| {
            Timestamp::from_micros(start.as_micros().checked_add(seconds * SECOND).unwrap())
        };
        assert_eq!(schedule.next_attempt(start, start, 1, 1000), Some(at(30)));
        assert_eq!(schedule.next_attempt(start, at(30), 2, 0), Some(at(60)));
        // Last possible retry lands exactly on the window's end.
        let window = 259_200;
        assert_eq!(
            schedule.next_attempt(start, at(window - 21_600), 30, 1000),
            Some(at(window))
        );
        assert_eq!(
            schedule.next_attempt(start, at(window - 21_599), 30, 1000),
            None
        );
        assert_eq!(
            schedule.next_attempt(start, at(window - 10_799), 30, 0),
            None
        );
        // A full run of failures stops within the window.
        let mut now = start;
        let mut attempts = 1;
        while let Some(next) = schedule.next_attempt(start, now, attempts, 1000) {
            assert!(next > now);
            now = next;
            attempts += 1;
        }
        assert!(now <= at(window));
        assert_eq!(attempts, 21);
        // Extremes saturate instead of overflowing.
        let huge = RetrySchedule {
            first: Duration::MAX,
            cap: Duration::MAX,
            window: Duration::MAX,
        };
        assert_eq!(
            huge.next_attempt(Timestamp::MAX, Timestamp::MAX, 1, 1000),
            Some(Timestamp::MAX)
        );
        assert_eq!(
            schedule.next_attempt(Timestamp::MIN, Timestamp::MAX, 1, 0),
            None
        );
    }

    #[test]
    fn classify_table() {
        let table = [
            (None, AttemptOutcome::Retry),
            (Some(100), AttemptOutcome::Reject),
            (Some(199), AttemptOutcome::Reject),
            (Some(200), AttemptOutcome::Delivered),
            (Some(204), AttemptOutcome::Delivered),
            (Some(299), AttemptOutcome::Delivered),
            (Some(301), AttemptOutcome::Reject),
            (Some(302), AttemptOutcome::Reject),
            (Some(308), AttemptOutcome::Reject),
            (Some(400), AttemptOutcome::Reject),
            (Some(401), AttemptOutcome::Reject),
            (Some(404), AttemptOutcome::Reject),
            (Some(408), AttemptOutcome::Reject),
            (Some(410), AttemptOutcome::Reject),
            (Some(428), AttemptOutcome::Reject),
            (Some(429), AttemptOutcome::Retry),
            (Some(430), AttemptOutcome::Reject),
            (Some(500), AttemptOutcome::Retry),
            (Some(503), AttemptOutcome::Retry),
            (Some(599), AttemptOutcome::Retry),
            (Some(600), AttemptOutcome::Reject),
            (Some(0), AttemptOutcome::Reject),
            (Some(u16::MAX), AttemptOutcome::Reject),
        ];
        for (status, expected) in table {
            assert_eq!(classify(status), expected, "{status:?}");
        }
    }

    proptest! {
        #[test]
        fn signed_bodies_verify(
            timestamp in any::<i64>(),
            body in proptest::collection::vec(any::<u8>(), 0..512),
            key in any::<[u8; 32]>(),
        ) {
            let secret = EndpointSecret::from_bytes(key);
            let header = signature_header(timestamp, &body, &[&secret]);
            prop_assert_eq!(
                verify(&header, &body, secret.as_str(), timestamp, DEFAULT_TOLERANCE),
                Ok(timestamp)
            );
        }

        #[test]
        fn verify_never_panics_on_any_header(header in any::<String>(), now in any::<i64>()) {
            let _ = verify(&header, BODY, "whsec_x", now, DEFAULT_TOLERANCE);
        }

        #[test]
        fn verify_never_panics_on_header_like_strings(
            header in "((t|v1|v0|x)=[-0-9a-fA-F+.]{0,70}|[=, ]{0,3}){0,20}",
            now in any::<i64>(),
        ) {
            let _ = verify(&header, BODY, "whsec_x", now, DEFAULT_TOLERANCE);
        }

        #[test]
        fn url_and_pattern_parsing_never_panic(input in any::<String>(), flag in any::<bool>()) {
            let _ = EndpointUrl::parse(&input, flag);
            let _ = EventPattern::parse(&input);
            let _ = EndpointUrl::parse(&format!("https://{input}"), flag);
        }
    }
}
