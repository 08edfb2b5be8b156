//! The webhook store port: what the webhooks service needs kept, and what an implementation
//! MUST do with it.

use std::time::Duration;

use bazaar_ledger::Timestamp;

use super::{
    AttemptResult, DeliveryId, DeliveryJob, DeliveryRecord, EndpointId, EndpointSecret,
    EndpointUrl, EventPattern, WebhookEndpoint,
};
use crate::chart::SellerId;
use crate::events::{EventEnvelope, EventStoreError};

/// An endpoint to register, as the service decided it.
#[derive(Clone, Debug)]
pub struct NewEndpoint {
    /// From [`rules::endpoint_id`](super::rules::endpoint_id).
    pub id: EndpointId,
    /// The seller registering it; the store refuses one it does not know.
    pub seller: SellerId,
    /// Where deliveries go, already checked.
    pub url: EndpointUrl,
    /// The event types it subscribes to, as [`parse_patterns`](super::parse_patterns) gave
    /// them: 1 to [`MAX_PATTERNS`](super::MAX_PATTERNS), distinct.
    pub patterns: Vec<EventPattern>,
    /// The signing secret the caller drew; the store keeps it sealed.
    pub secret: EndpointSecret,
}

/// Where webhook endpoints, deliveries and attempts are kept.
///
/// Every method is one transaction: it happens entirely or not at all. Secrets are kept
/// sealed (never readable in the store) and are opened only into a [`DeliveryJob`]. A
/// method about one seller's endpoint or delivery MUST answer
/// [`EventStoreError::NotFound`] for another seller's, exactly as for one that does not
/// exist. A store that cannot be reached MUST answer [`EventStoreError::Unavailable`],
/// which callers retry.
pub trait WebhookStore: Send + Sync {
    /// Fan-out, for the webhook consumer named `consumer`. For each event, in order, an
    /// implementation MUST answer `None` and create nothing when `consumer` handled the event
    /// before (in an earlier call, or earlier in this slice); otherwise it MUST record the
    /// event as handled, create a pending delivery for each id that
    /// [`rules::deliveries_for`](super::rules::deliveries_for) gives over the enabled
    /// endpoints of the event's seller, held until `now + lease`, and answer those
    /// deliveries' jobs, to be sent at once. A delivery that already exists is left as it is.
    fn fan_out(
        &self,
        consumer: &'static str,
        events: &[EventEnvelope],
        lease: Duration,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Option<Vec<DeliveryJob>>>, EventStoreError>> + Send;

    /// Up to `limit` pending deliveries due at `now` that no other caller holds, each held
    /// until `now + lease`, oldest due first. A claimed delivery whose endpoint is disabled or
    /// gone MUST be closed as failed (`endpoint disabled`) instead of answered.
    fn claim_deliveries(
        &self,
        limit: u32,
        lease: Duration,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<DeliveryJob>, EventStoreError>> + Send;

    /// Records attempts. For each one whose delivery is still pending (another caller may
    /// have finished it after this caller's hold ran out: then nothing is recorded), an
    /// implementation MUST log the attempt under the delivery's next attempt number, move the
    /// delivery to [`rules::delivery_state_after`](super::rules::delivery_state_after), and
    /// apply [`rules::health_after`](super::rules::health_after) to its endpoint with
    /// `disable_after`; an endpoint that becomes disabled gets a `webhook_endpoint.disabled`
    /// event in the same transaction. Rows are locked endpoints first, then deliveries, each
    /// in id order, so concurrent calls cannot deadlock.
    fn record_attempts(
        &self,
        attempts: &[(DeliveryJob, AttemptResult)],
        disable_after: u32,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), EventStoreError>> + Send;

    /// Registers an endpoint, enabled, with its secret sealed. The seller MUST exist
    /// ([`EventStoreError::NotFound`]`("seller")`), and
    /// [`rules::may_add_endpoint`](super::rules::may_add_endpoint) MUST allow it given the
    /// seller's endpoints in the same transaction.
    fn create_endpoint(
        &self,
        endpoint: NewEndpoint,
        now: Timestamp,
    ) -> impl Future<Output = Result<WebhookEndpoint, EventStoreError>> + Send;

    /// Replaces an endpoint's secret; the old one keeps signing beside the new for `overlap`
    /// (not at all when it is zero).
    fn rotate_secret(
        &self,
        seller: SellerId,
        endpoint: EndpointId,
        secret: EndpointSecret,
        overlap: Duration,
        now: Timestamp,
    ) -> impl Future<Output = Result<WebhookEndpoint, EventStoreError>> + Send;

    /// Enables an endpoint (its run of failures starts again from zero) or disables it
    /// (reason: `disabled by the seller`).
    fn set_endpoint_enabled(
        &self,
        seller: SellerId,
        endpoint: EndpointId,
        enabled: bool,
        now: Timestamp,
    ) -> impl Future<Output = Result<WebhookEndpoint, EventStoreError>> + Send;

    /// A seller's endpoints, oldest first.
    fn endpoints(
        &self,
        seller: SellerId,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<WebhookEndpoint>, EventStoreError>> + Send;

    /// An endpoint's deliveries, newest first, each with its attempts: those created before
    /// delivery `before` (from an earlier page), at most `limit`.
    fn deliveries(
        &self,
        seller: SellerId,
        endpoint: EndpointId,
        before: Option<DeliveryId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<DeliveryRecord>, EventStoreError>> + Send;

    /// Makes a delivery pending again, due now, with a fresh retry window, whatever became
    /// of it; [`rules::may_replay`](super::rules::may_replay) MUST allow it given its
    /// endpoint.
    fn replay(
        &self,
        seller: SellerId,
        delivery: DeliveryId,
        now: Timestamp,
    ) -> impl Future<Output = Result<DeliveryRecord, EventStoreError>> + Send;
}
