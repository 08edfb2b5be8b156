//! The webhooks service: what the API and the workers ask of the webhook context.

use std::time::Duration;

use bazaar_ledger::Timestamp;

use super::rules::endpoint_id;
use super::{
    AttemptResult, DeliveryId, DeliveryJob, DeliveryRecord, EndpointId, EndpointSecret,
    EndpointUrl, NewEndpoint, WebhookEndpoint, WebhookError, WebhookStore, parse_patterns,
};
use crate::chart::SellerId;
use crate::events::{ActivityStore, Applied, EventEnvelope, EventStoreError};
use crate::store::{PAGE_LIMIT_MAX, Page};

/// The longest a rotated-out secret may keep signing: 7 days.
pub const SECRET_OVERLAP_MAX: Duration = Duration::from_secs(7 * 24 * 3600);

/// How the webhooks service behaves.
#[derive(Clone, Copy, Debug)]
pub struct WebhookPolicy {
    /// Accept `http://` loopback URLs (development setups only).
    pub allow_loopback_http: bool,
    /// Failed deliveries in a row that disable an endpoint.
    pub disable_after: u32,
    /// How long a sender holds a delivery before another may take it.
    pub lease: Duration,
}

impl Default for WebhookPolicy {
    /// Public https endpoints only; disabled after 100 failures in a row; a one-minute hold.
    fn default() -> Self {
        Self {
            allow_loopback_http: false,
            disable_after: 100,
            lease: Duration::from_secs(60),
        }
    }
}

/// The webhooks service. Secrets are drawn by the caller (the core has no random source) and
/// shown to the seller once, by the caller, from what it passed in.
#[derive(Debug)]
pub struct Webhooks<S> {
    store: S,
    policy: WebhookPolicy,
}

impl<S> Webhooks<S> {
    /// The service over `store`, behaving as `policy` says.
    pub fn new(store: S, policy: WebhookPolicy) -> Self {
        Self { store, policy }
    }

    /// The policy the service was built with.
    pub fn policy(&self) -> WebhookPolicy {
        self.policy
    }
}

impl<S: WebhookStore> Webhooks<S> {
    /// Registers an endpoint for `seller`: `url` must pass [`EndpointUrl::parse`] and
    /// `event_types` [`parse_patterns`]. The same seller and secret give the same endpoint id,
    /// so a retried registration is refused by the store rather than doubled.
    pub async fn create_endpoint(
        &self,
        seller: SellerId,
        url: &str,
        event_types: &[String],
        secret: EndpointSecret,
        now: Timestamp,
    ) -> Result<WebhookEndpoint, EventStoreError> {
        let url = EndpointUrl::parse(url.trim(), self.policy.allow_loopback_http)?;
        let patterns = parse_patterns(event_types)?;
        let endpoint = NewEndpoint {
            id: endpoint_id(seller, &secret),
            seller,
            url,
            patterns,
            secret,
        };
        self.store.create_endpoint(endpoint, now).await
    }

    /// Gives an endpoint a new secret; the old one keeps signing for `overlap`, at most
    /// [`SECRET_OVERLAP_MAX`].
    pub async fn rotate_secret(
        &self,
        seller: SellerId,
        endpoint: EndpointId,
        secret: EndpointSecret,
        overlap: Duration,
        now: Timestamp,
    ) -> Result<WebhookEndpoint, EventStoreError> {
        if overlap > SECRET_OVERLAP_MAX {
            return Err(WebhookError::OverlapTooLong.into());
        }
        self.store
            .rotate_secret(seller, endpoint, secret, overlap, now)
            .await
    }

    /// Enables or disables one of the seller's endpoints.
    pub async fn set_endpoint_enabled(
        &self,
        seller: SellerId,
        endpoint: EndpointId,
        enabled: bool,
        now: Timestamp,
    ) -> Result<WebhookEndpoint, EventStoreError> {
        self.store
            .set_endpoint_enabled(seller, endpoint, enabled, now)
            .await
    }

    /// The seller's endpoints, oldest first.
    pub async fn endpoints(
        &self,
        seller: SellerId,
        now: Timestamp,
    ) -> Result<Vec<WebhookEndpoint>, EventStoreError> {
        self.store.endpoints(seller, now).await
    }

    /// A page of the deliveries to one of the seller's endpoints, newest first. Another
    /// seller's endpoint is `NotFound`, not an empty page.
    pub async fn deliveries(
        &self,
        seller: SellerId,
        endpoint: EndpointId,
        before: Option<DeliveryId>,
        limit: u32,
        now: Timestamp,
    ) -> Result<Page<DeliveryRecord>, EventStoreError> {
        let owned = self
            .store
            .endpoints(seller, now)
            .await?
            .iter()
            .any(|e| e.id == endpoint);
        if !owned {
            return Err(EventStoreError::NotFound("webhook endpoint"));
        }
        Page::fetch(limit.min(PAGE_LIMIT_MAX), |fetch| {
            self.store.deliveries(seller, endpoint, before, fetch)
        })
        .await
    }

    /// Sends one of the seller's deliveries again, now.
    pub async fn replay(
        &self,
        seller: SellerId,
        delivery: DeliveryId,
        now: Timestamp,
    ) -> Result<DeliveryRecord, EventStoreError> {
        self.store.replay(seller, delivery, now).await
    }

    /// The webhook consumer's step: the deliveries each event gets, to send at once (`None`
    /// for an event handled before).
    pub async fn fan_out(
        &self,
        consumer: &'static str,
        events: &[EventEnvelope],
        now: Timestamp,
    ) -> Result<Vec<Option<Vec<DeliveryJob>>>, EventStoreError> {
        self.store
            .fan_out(consumer, events, self.policy.lease, now)
            .await
    }

    /// Up to `limit` deliveries due now (retries, replays, and those whose sender died).
    pub async fn claim_deliveries(
        &self,
        limit: u32,
        now: Timestamp,
    ) -> Result<Vec<DeliveryJob>, EventStoreError> {
        self.store
            .claim_deliveries(limit, self.policy.lease, now)
            .await
    }

    /// Records what attempts came to; endpoints that keep failing are disabled.
    pub async fn record_attempts(
        &self,
        attempts: &[(DeliveryJob, AttemptResult)],
        now: Timestamp,
    ) -> Result<(), EventStoreError> {
        self.store
            .record_attempts(attempts, self.policy.disable_after, now)
            .await
    }
}

impl<S: ActivityStore> Webhooks<S> {
    /// The activity consumer's step: counts each event against its seller, once.
    pub async fn count_events(
        &self,
        consumer: &'static str,
        events: &[EventEnvelope],
        now: Timestamp,
    ) -> Result<Vec<Result<Applied, EventStoreError>>, EventStoreError> {
        self.store.count_events(consumer, events, now).await
    }

    /// A seller's event counts by type.
    pub async fn event_counts(
        &self,
        seller: SellerId,
    ) -> Result<Vec<(String, u64)>, EventStoreError> {
        self.store.event_counts(seller).await
    }
}
