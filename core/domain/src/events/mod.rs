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

bazaar_ledger::uuid_id!(
    /// An event's id.
    EventId
);
bazaar_ledger::uuid_id!(
    /// The id of the resource an event describes (an order, a payment, a refund, ...); its
    /// kind is the event's resource type.
    ResourceId
);

/// The id of the event of type `event_type` about `subject` (a resource, or for per-seller
/// copies the seller's part of it): the same inputs always give the same id.
pub fn event_id(subject: Uuid, event_type: EventType) -> EventId {
    EventId::from_uuid(derive_id(
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
    PayoutCreated => "payout.created", "payout";
    PayoutPaid => "payout.paid", "payout";
    PayoutFailed => "payout.failed", "payout";
    PayoutReturned => "payout.returned", "payout";
    PayoutCanceled => "payout.canceled", "payout";
    LoanOffered => "loan.offered", "loan_offer";
    LoanAccepted => "loan.accepted", "loan";
    LoanDisbursed => "loan.disbursed", "loan";
    LoanRepayment => "loan.repayment", "loan";
    LoanPastDue => "loan.past_due", "loan";
    LoanChargedOff => "loan.charged_off", "loan";
    LoanPaidOff => "loan.paid_off", "loan";
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
    /// Derived by [`event_id`], so a retried transaction writes the same id; consumers
    /// recognise a redelivery by it.
    pub id: EventId,
    /// The [`EventType`]'s wire name, e.g. `order.paid`.
    pub event_type: String,
    /// The payload's version: [`EVENT_VERSION`] for every event this release writes.
    pub version: u32,
    /// The kind of resource the payload describes ([`EventType::resource_type`]), e.g.
    /// `order`.
    pub resource_type: String,
    /// The id of the resource the payload describes.
    pub resource_id: ResourceId,
    /// The seller who may see the event, and whose webhook endpoints hear it; `None` for a
    /// platform event, which no endpoint hears.
    pub seller_id: Option<SellerId>,
    /// The resource as JSON text, as the transaction that wrote the event left it.
    pub payload: String,
    /// When the change happened: the time of the transaction that wrote the event.
    pub occurred_at: bazaar_ledger::Timestamp,
}

/// What an event store answers when it cannot do what was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventStoreError {
    /// The store cannot be reached now; callers retry later.
    #[error("the event store is unavailable")]
    Unavailable,
    /// A bug or corrupted data (a stored value that does not parse); logged where it
    /// happened.
    #[error("the event store failed")]
    Internal,
    /// The named thing (`seller`, `webhook endpoint`, `delivery`) does not exist, or belongs
    /// to another seller.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A webhook setting was refused; the code is the webhook error's own.
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

/// Whether a consumer applied an event now or had applied it before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Applied by this call.
    Now,
    /// Applied by an earlier call, or earlier in the same slice; not applied again.
    Before,
}

/// Per-seller activity: how many events of each type each seller has had.
pub trait ActivityStore: Send + Sync {
    /// Counts each event against its seller, once per `consumer`, all in one transaction.
    /// An implementation MUST answer `Ok(Applied::Before)` for an event `consumer` counted
    /// before (in an earlier call or earlier in this slice) and count it no more, and
    /// `Err(EventStoreError::NotFound("seller"))` for an event about a seller it does not
    /// know (yet), changing nothing for it: the caller retries that one later.
    fn count_events(
        &self,
        consumer: &'static str,
        events: &[EventEnvelope],
        now: bazaar_ledger::Timestamp,
    ) -> impl Future<Output = Result<Vec<Result<Applied, EventStoreError>>, EventStoreError>> + Send;

    /// A seller's event counts, by type in name order.
    fn event_counts(
        &self,
        seller: SellerId,
    ) -> impl Future<Output = Result<Vec<(String, u64)>, EventStoreError>> + Send;
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
