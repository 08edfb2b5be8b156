//! What the webhook store keeps: endpoints, deliveries and their attempts, and the jobs a
//! sender works on.

use bazaar_ledger::Timestamp;

use super::{AttemptOutcome, EndpointSecret};
use crate::chart::SellerId;
use crate::events::{EventEnvelope, EventId};

bazaar_ledger::uuid_id!(
    /// A webhook endpoint's id.
    EndpointId
);
bazaar_ledger::uuid_id!(
    /// One event's delivery to one endpoint.
    DeliveryId
);

/// A seller's webhook endpoint, as the API shows it (never with its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: EndpointId,
    pub seller_id: SellerId,
    pub url: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub consecutive_failures: u32,
    /// While a rotated-out secret still signs deliveries: until when.
    pub previous_secret_expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(Self::Pending),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One attempt to deliver an event to an endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub started_at: Timestamp,
    pub status_code: Option<u16>,
    pub latency_ms: u32,
    pub outcome: AttemptOutcome,
    pub error: Option<String>,
    pub next_attempt_at: Option<Timestamp>,
}

/// An event's delivery to one endpoint, with its attempts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: DeliveryId,
    pub endpoint_id: EndpointId,
    pub event_id: EventId,
    pub event_type: String,
    pub state: DeliveryState,
    pub next_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub attempts: Vec<AttemptRecord>,
}

/// An endpoint's stored signing secret does not open (a sealing key it was not sealed with,
/// or damaged bytes). Only that endpoint's deliveries are held back: they are retried, and
/// every other endpoint's go on.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("the endpoint's signing secret cannot be opened")]
pub struct SecretUnavailable;

/// A delivery a worker holds and is about to send.
#[derive(Clone, Debug)]
pub struct DeliveryJob {
    pub delivery_id: DeliveryId,
    pub endpoint_id: EndpointId,
    pub url: String,
    /// The secrets to sign with: the current one first, then one being rotated out; or
    /// [`SecretUnavailable`] when the endpoint's secrets cannot be opened, in which case the
    /// attempt sends nothing and records [`SECRET_UNAVAILABLE`](super::SECRET_UNAVAILABLE).
    pub secrets: Result<Vec<EndpointSecret>, SecretUnavailable>,
    pub event: EventEnvelope,
    /// Attempts made before this one.
    pub attempts: u32,
    /// When the first attempt was made (the retry window counts from there).
    pub first_attempt_at: Option<Timestamp>,
}

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptResult {
    pub started_at: Timestamp,
    pub status_code: Option<u16>,
    pub latency_ms: u32,
    pub outcome: AttemptOutcome,
    pub error: Option<String>,
    /// When to try again; `None` when the delivery is finished (delivered, rejected, or out of
    /// retry window).
    pub next_attempt_at: Option<Timestamp>,
}
