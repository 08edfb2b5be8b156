//! The webhook context's decisions, as pure functions: which endpoints hear an event, what an
//! attempt leaves behind, when an endpoint is switched off, and how many a seller may have.
//! A [`WebhookStore`](super::WebhookStore) applies them inside its transactions.

use super::{
    AttemptOutcome, AttemptResult, DeliveryId, DeliveryState, EndpointId, EndpointSecret,
    EventPattern, WebhookError,
};
use crate::chart::SellerId;
use crate::events::{EventEnvelope, EventId};
use crate::orders::derive_id;

/// The most webhook endpoints one seller may have.
pub const MAX_ENDPOINTS_PER_SELLER: u64 = 16;

/// The id of the endpoint registered for `seller` with `secret`: registering the same
/// secret again (a retried request) finds the same endpoint.
pub fn endpoint_id(seller: SellerId, secret: &EndpointSecret) -> EndpointId {
    EndpointId::from_uuid(derive_id(
        seller.as_uuid(),
        &format!("endpoint:{}", secret.as_str()),
    ))
}

/// The id of `event`'s delivery to `endpoint`: one delivery per pair, however often the
/// event is fanned out.
pub fn delivery_id(endpoint: EndpointId, event: EventId) -> DeliveryId {
    DeliveryId::from_uuid(derive_id(endpoint.as_uuid(), &format!("delivery:{event}")))
}

/// An enabled endpoint, as fan-out sees it.
#[derive(Clone, Debug)]
pub struct Subscription {
    /// The enabled endpoint's id.
    pub endpoint: EndpointId,
    /// The seller that owns it; it hears only this seller's events.
    pub seller: SellerId,
    /// The event types it subscribes to.
    pub patterns: Vec<EventPattern>,
}

/// A delivery fan-out decided to create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedDelivery {
    /// The delivery's id, [`delivery_id`] of the endpoint and the event.
    pub id: DeliveryId,
    /// The endpoint it goes to.
    pub endpoint: EndpointId,
}

/// The deliveries `event` gets: one for each subscription of the event's own seller with a
/// pattern matching its type, in the order given. An event without a seller (a platform
/// event) goes to no endpoint: endpoints belong to sellers, and a seller hears only about
/// itself.
pub fn deliveries_for(
    event: &EventEnvelope,
    subscriptions: &[Subscription],
) -> Vec<PlannedDelivery> {
    let Some(seller) = event.seller_id else {
        return Vec::new();
    };
    subscriptions
        .iter()
        .filter(|s| s.seller == seller && s.patterns.iter().any(|p| p.matches(&event.event_type)))
        .map(|s| PlannedDelivery {
            id: delivery_id(s.endpoint, event.id),
            endpoint: s.endpoint,
        })
        .collect()
}

/// Where a delivery stands after an attempt: delivered is finished; a retry with a next
/// attempt stays pending; a retry without one (the window ran out) and a refusal are failed.
pub fn delivery_state_after(result: &AttemptResult) -> DeliveryState {
    match (result.outcome, result.next_attempt_at) {
        (AttemptOutcome::Delivered, _) => DeliveryState::Succeeded,
        (AttemptOutcome::Retry, Some(_)) => DeliveryState::Pending,
        (AttemptOutcome::Retry, None) | (AttemptOutcome::Reject, _) => DeliveryState::Failed,
    }
}

/// What an attempt does to its endpoint's run of failures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointHealth {
    /// Delivered: the run of failures starts again from zero.
    Recovered,
    /// Not delivered: the run is now `failures` long.
    Failing {
        /// Failed attempts in a row, this one included.
        failures: u32,
    },
    /// Not delivered, and the run reached the limit on an enabled endpoint: it is disabled
    /// for `reason`, and a `webhook_endpoint.disabled` event tells its seller.
    Disabled {
        /// Failed attempts in a row, this one included; at least the limit.
        failures: u32,
        /// `failed <limit> deliveries in a row`, kept as the endpoint's `disabled_reason`.
        reason: String,
    },
}

/// The endpoint's health after an attempt with `outcome`, given its run of failures so far,
/// whether it is enabled, and how many failures in a row disable it (at least 1). An endpoint
/// already disabled (by its seller, or earlier) keeps counting but is not disabled again.
pub fn health_after(
    failures: u32,
    enabled: bool,
    outcome: AttemptOutcome,
    disable_after: u32,
) -> EndpointHealth {
    if outcome == AttemptOutcome::Delivered {
        return EndpointHealth::Recovered;
    }
    let failures = failures.saturating_add(1);
    let limit = disable_after.max(1);
    if enabled && failures >= limit {
        EndpointHealth::Disabled {
            failures,
            reason: format!("failed {limit} deliveries in a row"),
        }
    } else {
        EndpointHealth::Failing { failures }
    }
}

/// Whether a seller with `existing` endpoints may register one more.
pub fn may_add_endpoint(existing: u64) -> Result<(), WebhookError> {
    if existing >= MAX_ENDPOINTS_PER_SELLER {
        Err(WebhookError::TooManyEndpoints)
    } else {
        Ok(())
    }
}

/// Whether a delivery to an endpoint may be sent again: only while the endpoint is enabled.
pub fn may_replay(endpoint_enabled: bool) -> Result<(), WebhookError> {
    if endpoint_enabled {
        Ok(())
    } else {
        Err(WebhookError::EndpointDisabled)
    }
}

#[cfg(test)]
mod tests {
    use bazaar_ledger::Timestamp;
    use proptest::prelude::*;

    use super::*;
    use crate::webhooks::parse_patterns;

    fn event(seller: Option<u128>, event_type: &str) -> EventEnvelope {
        EventEnvelope {
            id: EventId::from_u128(99),
            event_type: event_type.to_owned(),
            version: 1,
            resource_type: "order".to_owned(),
            resource_id: crate::events::ResourceId::from_u128(5),
            seller_id: seller.map(SellerId::from_u128),
            payload: "{}".to_owned(),
            occurred_at: Timestamp::from_micros(0),
        }
    }

    fn subscription(endpoint: u128, seller: u128, patterns: &[&str]) -> Subscription {
        let patterns: Vec<String> = patterns.iter().map(|p| (*p).to_owned()).collect();
        Subscription {
            endpoint: EndpointId::from_u128(endpoint),
            seller: SellerId::from_u128(seller),
            patterns: parse_patterns(&patterns).unwrap(),
        }
    }

    #[test]
    fn fan_out_reaches_matching_endpoints_of_the_events_seller_only() {
        let subscriptions = [
            subscription(1, 10, &["order.*"]),
            subscription(2, 10, &["payment.*"]),
            subscription(3, 20, &["*"]),
            subscription(4, 10, &["refund.succeeded", "order.paid"]),
        ];
        let paid = event(Some(10), "order.paid");
        let expected: Vec<PlannedDelivery> = [1, 4]
            .into_iter()
            .map(EndpointId::from_u128)
            .map(|endpoint| PlannedDelivery {
                id: delivery_id(endpoint, paid.id),
                endpoint,
            })
            .collect();
        assert_eq!(deliveries_for(&paid, &subscriptions), expected);
        assert!(deliveries_for(&event(None, "order.paid"), &subscriptions).is_empty());
        assert!(deliveries_for(&event(Some(30), "order.paid"), &subscriptions).is_empty());
    }

    #[test]
    fn delivery_ids_are_stable_and_distinct() {
        let (a, b) = (EndpointId::from_u128(1), EndpointId::from_u128(2));
        let e = EventId::from_u128(7);
        assert_eq!(delivery_id(a, e), delivery_id(a, e));
        assert_ne!(delivery_id(a, e), delivery_id(b, e));
        assert_ne!(delivery_id(a, e), delivery_id(a, EventId::from_u128(8)));
    }

    #[test]
    fn attempts_move_deliveries() {
        let result = |outcome, next: Option<i64>| AttemptResult {
            started_at: Timestamp::from_micros(0),
            status_code: None,
            latency_ms: 0,
            outcome,
            error: None,
            next_attempt_at: next.map(Timestamp::from_micros),
        };
        use AttemptOutcome::*;
        assert_eq!(
            delivery_state_after(&result(Delivered, None)),
            DeliveryState::Succeeded
        );
        assert_eq!(
            delivery_state_after(&result(Retry, Some(5))),
            DeliveryState::Pending
        );
        assert_eq!(
            delivery_state_after(&result(Retry, None)),
            DeliveryState::Failed
        );
        assert_eq!(
            delivery_state_after(&result(Reject, Some(5))),
            DeliveryState::Failed
        );
    }

    #[test]
    fn endpoints_are_disabled_when_the_run_reaches_the_limit() {
        use AttemptOutcome::*;
        assert_eq!(
            health_after(5, true, Delivered, 3),
            EndpointHealth::Recovered
        );
        assert_eq!(
            health_after(0, true, Retry, 3),
            EndpointHealth::Failing { failures: 1 }
        );
        assert_eq!(
            health_after(2, true, Reject, 3),
            EndpointHealth::Disabled {
                failures: 3,
                reason: "failed 3 deliveries in a row".to_owned()
            }
        );
        // Already disabled: counted, not disabled (and announced) again.
        assert_eq!(
            health_after(2, false, Retry, 3),
            EndpointHealth::Failing { failures: 3 }
        );
        // A limit of 0 means 1.
        assert!(matches!(
            health_after(0, true, Retry, 0),
            EndpointHealth::Disabled { .. }
        ));
        assert_eq!(
            health_after(u32::MAX, false, Retry, 3),
            EndpointHealth::Failing { failures: u32::MAX }
        );
    }

    #[test]
    fn endpoint_limit_and_replay() {
        assert_eq!(may_add_endpoint(MAX_ENDPOINTS_PER_SELLER - 1), Ok(()));
        assert_eq!(
            may_add_endpoint(MAX_ENDPOINTS_PER_SELLER),
            Err(WebhookError::TooManyEndpoints)
        );
        assert_eq!(may_replay(true), Ok(()));
        assert_eq!(may_replay(false), Err(WebhookError::EndpointDisabled));
    }

    proptest! {
        /// Over any run of outcomes, an enabled endpoint is disabled exactly once, on the
        /// attempt that makes the run of failures reach the limit, and never after a success
        /// resets the run short of it.
        #[test]
        fn disabled_exactly_when_the_run_reaches_the_limit(
            outcomes in proptest::collection::vec(0_u8..3, 0..60),
            limit in 1_u32..10,
        ) {
            let (mut failures, mut enabled, mut run, mut reached) = (0_u32, true, 0_u32, false);
            for o in outcomes {
                let outcome = [AttemptOutcome::Delivered, AttemptOutcome::Retry, AttemptOutcome::Reject][usize::from(o)];
                run = if outcome == AttemptOutcome::Delivered { 0 } else { run.saturating_add(1) };
                reached |= run >= limit;
                match health_after(failures, enabled, outcome, limit) {
                    EndpointHealth::Recovered => failures = 0,
                    EndpointHealth::Failing { failures: f } => failures = f,
                    EndpointHealth::Disabled { failures: f, .. } => {
                        prop_assert!(enabled);
                        prop_assert_eq!(f, limit);
                        failures = f;
                        enabled = false;
                    }
                }
                prop_assert_eq!(failures, run);
                prop_assert_eq!(enabled, !reached);
            }
        }
    }
}
