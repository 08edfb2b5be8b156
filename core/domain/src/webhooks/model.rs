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
    /// Its id, derived at registration from the seller and the first secret
    /// ([`rules::endpoint_id`](super::rules::endpoint_id)); rotating the secret keeps it.
    pub id: EndpointId,
    /// The seller that owns it; only that seller's events are delivered to it.
    pub seller_id: SellerId,
    /// Where deliveries are posted, as registered (it passed
    /// [`EndpointUrl::parse`](super::EndpointUrl::parse)).
    pub url: String,
    /// The event patterns it subscribes to (`*`, `order.*`, `order.paid`), distinct, in the
    /// order registered.
    pub event_types: Vec<String>,
    /// Whether fan-out creates deliveries for it and senders send them. The seller disables
    /// and enables it; a run of failures as long as the policy's `disable_after` disables it.
    pub enabled: bool,
    /// Why it is disabled: `disabled by the seller` or `failed <n> deliveries in a row`;
    /// `None` while enabled.
    pub disabled_reason: Option<String>,
    /// Failed attempts in a row since its last delivered one; back to zero on a delivery or
    /// when the seller enables it. It goes on counting while the endpoint is disabled.
    pub consecutive_failures: u32,
    /// While a rotated-out secret still signs deliveries: until when.
    pub previous_secret_expires_at: Option<Timestamp>,
    /// When it was registered.
    pub created_at: Timestamp,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its next attempt, or held by a sender making one.
    Pending,
    /// An attempt got a 2xx answer; no more attempts unless it is replayed.
    Succeeded,
    /// The endpoint refused it, its retry window ran out, or its endpoint was disabled or
    /// removed; no more attempts unless it is replayed.
    Failed,
}

impl DeliveryState {
    /// The stored name: `pending`, `succeeded` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// The state [`as_str`](Self::as_str) names `name`; `None` for any other text.
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
    /// Its number within the delivery: 1 for the first; numbering goes on after a replay.
    pub attempt: u32,
    /// When the sender started it.
    pub started_at: Timestamp,
    /// The HTTP status of the answer; `None` when no answer came or nothing was sent.
    pub status_code: Option<u16>,
    /// Milliseconds from the start to the answer or the failure; 0 for an attempt refused
    /// with [`ADDRESS_BLOCKED`](super::ADDRESS_BLOCKED).
    pub latency_ms: u32,
    /// What the answer meant ([`classify`](super::classify)).
    pub outcome: AttemptOutcome,
    /// What went wrong, in a few words (`HTTP 503`, `timed out`,
    /// [`ADDRESS_BLOCKED`](super::ADDRESS_BLOCKED)); `None` when it was delivered.
    pub error: Option<String>,
    /// When the retry it scheduled is due; `None` when it ended the delivery.
    pub next_attempt_at: Option<Timestamp>,
}

/// An event's delivery to one endpoint, with its attempts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// Its id, derived from the endpoint and the event
    /// ([`rules::delivery_id`](super::rules::delivery_id)).
    pub id: DeliveryId,
    /// The endpoint it goes to.
    pub endpoint_id: EndpointId,
    /// The event it delivers; sent as the [`EVENT_ID_HEADER`](super::EVENT_ID_HEADER) of
    /// every attempt.
    pub event_id: EventId,
    /// The event's type, e.g. `order.paid`.
    pub event_type: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// While pending: when it is next due (while a sender holds it, when that hold runs
    /// out). `None` once it succeeded or failed.
    pub next_attempt_at: Option<Timestamp>,
    /// When fan-out created it.
    pub created_at: Timestamp,
    /// Its attempts, oldest first.
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
    /// The delivery to attempt.
    pub delivery_id: DeliveryId,
    /// The endpoint it goes to.
    pub endpoint_id: EndpointId,
    /// The endpoint's URL, to post to; the sender checks the addresses it resolves to with
    /// [`may_deliver_to`](super::may_deliver_to) before it connects.
    pub url: String,
    /// The secrets to sign with: the current one first, then one being rotated out; or
    /// [`SecretUnavailable`] when the endpoint's secrets cannot be opened, in which case the
    /// attempt sends nothing and records [`SECRET_UNAVAILABLE`](super::SECRET_UNAVAILABLE).
    pub secrets: Result<Vec<EndpointSecret>, SecretUnavailable>,
    /// The event to send; its encoding is the request body that is signed.
    pub event: EventEnvelope,
    /// Attempts made before this one.
    pub attempts: u32,
    /// When the first attempt was made (the retry window counts from there).
    pub first_attempt_at: Option<Timestamp>,
}

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptResult {
    /// When the sender started the attempt; its Unix seconds are the signed `t=`.
    pub started_at: Timestamp,
    /// The HTTP status of the answer; `None` when no answer came (network error, timeout, a
    /// refused address) or nothing was sent (the secrets did not open).
    pub status_code: Option<u16>,
    /// Milliseconds from the start to the answer or the failure; 0 for an attempt refused
    /// with [`ADDRESS_BLOCKED`](super::ADDRESS_BLOCKED), which tells nothing about the
    /// network.
    pub latency_ms: u32,
    /// What `status_code` means, by [`classify`](super::classify).
    pub outcome: AttemptOutcome,
    /// What went wrong, in a few words and never the answer's body: `HTTP <status>` for an
    /// answer that is not 2xx, `timed out`, `could not connect`,
    /// [`ADDRESS_BLOCKED`](super::ADDRESS_BLOCKED),
    /// [`SECRET_UNAVAILABLE`](super::SECRET_UNAVAILABLE). `None` when it was delivered.
    pub error: Option<String>,
    /// When to try again; `None` when the delivery is finished (delivered, rejected, or out of
    /// retry window).
    pub next_attempt_at: Option<Timestamp>,
}
