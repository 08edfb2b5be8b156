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
//! - [`rules`]: which endpoints hear an event, what an attempt leaves behind, when an
//!   endpoint is disabled, how many a seller may have.
//! - [`WebhookStore`]: the port; [`Webhooks`]: the service the API and workers call.
//!
//! Nothing here reads a clock or a random source: times, jitter and secrets are arguments.

use std::time::Duration;

mod address;
mod model;
mod patterns;
mod retry;
pub mod rules;
mod service;
mod signing;
mod store;
#[cfg(test)]
mod tests;

pub use address::*;
pub use model::*;
pub use patterns::*;
pub use retry::*;
pub use service::*;
pub use signing::*;
pub use store::*;

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
    /// A rotated-out secret may keep signing for at most [`SECRET_OVERLAP_MAX`]; the code is
    /// the API's `invalid_input`, as for any other out-of-range argument.
    #[error("a rotated-out secret may keep signing for 0 to 168 hours")]
    OverlapTooLong,
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
            Self::OverlapTooLong => "invalid_input",
        }
    }
}
