//! The events others hear about: their types, the envelope every copy carries, and the ids that
//! make a redelivery recognisable.
//!
//! An event is written to the outbox in the transaction of the change it describes, so it exists
//! exactly when the change does. Its id is derived from the resource and the event type
//! ([`event_id`]), so the retry of a transaction that already committed writes no second event.

use std::fmt;

use uuid::Uuid;

use crate::chart::SellerId;
use crate::orders::derive_id;

/// The version of every payload this release writes. A consumer refuses versions it does not
/// know rather than guess.
pub const EVENT_VERSION: u32 = 1;

/// An event's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub Uuid);

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The id of the event of type `event_type` about `subject` (a resource, or for per-seller
/// copies the seller's part of it): the same inputs always give the same id.
pub fn event_id(subject: Uuid, event_type: EventType) -> EventId {
    EventId(derive_id(
        subject,
        &format!("event:{}", event_type.as_str()),
    ))
}

macro_rules! event_types {
    ($($variant:ident => $name:literal, $resource:literal;)*) => {
        /// Every event type Bazaar emits. The name is `<family>.<what happened>`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventType {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl EventType {
            /// Every type, in declaration order.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),*];

            /// The wire name, e.g. `order.paid`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)*
                }
            }

            /// The kind of resource the payload describes.
            pub fn resource_type(self) -> &'static str {
                match self {
                    $(EventType::$variant => $resource,)*
                }
            }

            /// The type named `name`, if Bazaar emits it.
            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(EventType::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

event_types! {
    OrderCreated => "order.created", "order";
    OrderPaid => "order.paid", "order";
    OrderShipped => "order.shipped", "order";
    OrderDelivered => "order.delivered", "order";
    OrderCancelled => "order.cancelled", "order";
    PaymentAuthorised => "payment.authorised", "payment";
    PaymentCaptured => "payment.captured", "payment";
    PaymentFailed => "payment.failed", "payment";
    PaymentCancelled => "payment.cancelled", "payment";
    RefundRequested => "refund.requested", "refund";
    RefundSucceeded => "refund.succeeded", "refund";
    RefundFailed => "refund.failed", "refund";
    ReviewCreated => "review.created", "review";
    WebhookEndpointDisabled => "webhook_endpoint.disabled", "webhook_endpoint";
}

impl EventType {
    /// The family: the part before the dot (`order`, `payment`, ...).
    pub fn family(self) -> &'static str {
        self.as_str().split('.').next().unwrap_or("")
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event as stored in the outbox and carried on the bus. `payload` is the resource's JSON
/// as of the change; `seller_id` is the tenant who may see it (`None` for platform events).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventEnvelope {
    pub id: EventId,
    pub event_type: String,
    pub version: u32,
    pub resource_type: String,
    pub resource_id: Uuid,
    pub seller_id: Option<SellerId>,
    pub payload: String,
    pub occurred_at: bazaar_ledger::Timestamp,
}

/// What an event store answers when it cannot do what was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventStoreError {
    #[error("the event store is unavailable")]
    Unavailable,
    #[error("the event store failed")]
    Internal,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Webhook(#[from] crate::webhooks::WebhookError),
}

impl EventStoreError {
    /// A stable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
            Self::NotFound(_) => "not_found",
            Self::Webhook(error) => error.code(),
        }
    }
}

/// The outbox, as the relay sees it: claim unsent events for a while, then mark them sent
/// (after the broker confirmed them) or give them back.
pub trait Outbox: Send + Sync {
    /// Up to `limit` unsent events no other relay holds, oldest first, held for `lease`.
    fn claim(
        &self,
        limit: u32,
        lease: std::time::Duration,
        now: bazaar_ledger::Timestamp,
    ) -> impl Future<Output = Result<Vec<EventEnvelope>, EventStoreError>> + Send;

    /// Marks events the broker confirmed.
    fn mark_sent(
        &self,
        ids: &[EventId],
        now: bazaar_ledger::Timestamp,
    ) -> impl Future<Output = Result<(), EventStoreError>> + Send;

    /// Gives claimed events back at once (publishing failed).
    fn release(&self, ids: &[EventId]) -> impl Future<Output = Result<(), EventStoreError>> + Send;
}

/// Why a publish did not go through.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The broker cannot be reached or the channel closed: reconnect and try again.
    #[error("the message broker is unavailable: {0}")]
    Unavailable(String),
    /// The broker refused (nacked) some messages.
    #[error("the message broker refused {0} messages")]
    Refused(usize),
}

/// The message bus events are published to.
pub trait EventBus: Send + Sync {
    /// Publishes every event and returns once the broker confirmed all of them.
    fn publish(
        &self,
        events: &[EventEnvelope],
    ) -> impl Future<Output = Result<(), BusError>> + Send;
}

/// A seller's webhook endpoint, as the API shows it (never with its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: Uuid,
    pub seller_id: SellerId,
    pub url: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub consecutive_failures: u32,
    /// While a rotated-out secret still signs deliveries: until when.
    pub previous_secret_expires_at: Option<bazaar_ledger::Timestamp>,
    pub created_at: bazaar_ledger::Timestamp,
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
    pub started_at: bazaar_ledger::Timestamp,
    pub status_code: Option<u16>,
    pub latency_ms: u32,
    pub outcome: crate::webhooks::AttemptOutcome,
    pub error: Option<String>,
    pub next_attempt_at: Option<bazaar_ledger::Timestamp>,
}

/// An event's delivery to one endpoint, with its attempts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: EventId,
    pub event_type: String,
    pub state: DeliveryState,
    pub next_attempt_at: Option<bazaar_ledger::Timestamp>,
    pub created_at: bazaar_ledger::Timestamp,
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
    pub delivery_id: Uuid,
    pub endpoint_id: Uuid,
    pub url: String,
    /// The secrets to sign with: the current one first, then one being rotated out; or
    /// [`SecretUnavailable`] when the endpoint's secrets cannot be opened, in which case the
    /// attempt sends nothing and records [`crate::webhooks::SECRET_UNAVAILABLE`].
    pub secrets: Result<Vec<crate::webhooks::EndpointSecret>, SecretUnavailable>,
    pub event: EventEnvelope,
    /// Attempts made before this one.
    pub attempts: u32,
    /// When the first attempt was made (the retry window counts from there).
    pub first_attempt_at: Option<bazaar_ledger::Timestamp>,
}

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptResult {
    pub started_at: bazaar_ledger::Timestamp,
    pub status_code: Option<u16>,
    pub latency_ms: u32,
    pub outcome: crate::webhooks::AttemptOutcome,
    pub error: Option<String>,
    /// When to try again; `None` when the delivery is finished (delivered, rejected, or out of
    /// retry window).
    pub next_attempt_at: Option<bazaar_ledger::Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_have_a_family() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(*t));
            assert!(!t.family().is_empty());
            assert!(t.as_str().starts_with(t.family()));
        }
        assert_eq!(EventType::parse("order.teleported"), None);
        assert_eq!(EventType::OrderPaid.family(), "order");
        assert_eq!(
            EventType::WebhookEndpointDisabled.family(),
            "webhook_endpoint"
        );
    }

    #[test]
    fn ids_are_stable_and_distinct_per_type() {
        let subject = Uuid::from_u128(7);
        assert_eq!(
            event_id(subject, EventType::OrderPaid),
            event_id(subject, EventType::OrderPaid)
        );
        assert_ne!(
            event_id(subject, EventType::OrderPaid),
            event_id(subject, EventType::OrderCreated)
        );
        assert_ne!(
            event_id(subject, EventType::OrderPaid),
            event_id(Uuid::from_u128(8), EventType::OrderPaid)
        );
    }
}
