//! The JSON every copy of an event carries, on the bus and in webhook bodies:
//!
//! ```json
//! {"id": "…", "type": "order.paid", "version": 1, "created": 1764213600,
//!  "occurred_at_us": 1764213600123456, "resource": {"type": "order", "id": "…"},
//!  "seller_id": "…", "data": { … }}
//! ```
//!
//! `created` is in seconds since the Unix epoch (as Stripe's events), `occurred_at_us` in
//! microseconds; `data` is the resource as of the change.

use bazaar_domain::chart::SellerId;
use bazaar_domain::events::{EventEnvelope, EventId, ResourceId};
use bazaar_ledger::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

/// A body that is not an event envelope this release reads.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the message is not an event envelope: {0}")]
    Malformed(String),
    #[error("the stored payload is not JSON: {0}")]
    Payload(String),
}

#[derive(Serialize, Deserialize)]
struct Resource<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    id: Uuid,
}

#[derive(Serialize)]
struct Outgoing<'a> {
    id: Uuid,
    #[serde(rename = "type")]
    kind: &'a str,
    version: u32,
    created: i64,
    occurred_at_us: i64,
    resource: Resource<'a>,
    seller_id: Option<Uuid>,
    data: &'a RawValue,
}

#[derive(Deserialize)]
struct Incoming<'a> {
    id: Uuid,
    #[serde(rename = "type")]
    kind: String,
    version: u32,
    occurred_at_us: i64,
    #[serde(borrow)]
    resource: Resource<'a>,
    seller_id: Option<Uuid>,
    #[serde(borrow)]
    data: &'a RawValue,
}

/// The JSON body of `event`.
pub fn encode(event: &EventEnvelope) -> Result<Vec<u8>, EnvelopeError> {
    let data: &RawValue = serde_json::from_str(&event.payload)
        .map_err(|error| EnvelopeError::Payload(error.to_string()))?;
    let micros = event.occurred_at.as_micros();
    serde_json::to_vec(&Outgoing {
        id: event.id.as_uuid(),
        kind: &event.event_type,
        version: event.version,
        created: micros.div_euclid(1_000_000),
        occurred_at_us: micros,
        resource: Resource {
            kind: std::borrow::Cow::Borrowed(&event.resource_type),
            id: event.resource_id.as_uuid(),
        },
        seller_id: event.seller_id.map(SellerId::as_uuid),
        data,
    })
    .map_err(|error| EnvelopeError::Payload(error.to_string()))
}

/// The event in a body [`encode`] made.
pub fn decode(body: &[u8]) -> Result<EventEnvelope, EnvelopeError> {
    let incoming: Incoming<'_> = serde_json::from_slice(body)
        .map_err(|error| EnvelopeError::Malformed(error.to_string()))?;
    Ok(EventEnvelope {
        id: EventId::from_uuid(incoming.id),
        event_type: incoming.kind,
        version: incoming.version,
        resource_type: incoming.resource.kind.into_owned(),
        resource_id: ResourceId::from_uuid(incoming.resource.id),
        seller_id: incoming.seller_id.map(SellerId::from_uuid),
        payload: incoming.data.get().to_owned(),
        occurred_at: Timestamp::from_micros(incoming.occurred_at_us),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> EventEnvelope {
        EventEnvelope {
            id: EventId::from_uuid(Uuid::from_u128(1)),
            event_type: "order.paid".to_owned(),
            version: 1,
            resource_type: "order".to_owned(),
            resource_id: ResourceId::from_uuid(Uuid::from_u128(2)),
            seller_id: Some(SellerId::from_uuid(Uuid::from_u128(3))),
            payload: r#"{"state":"paid","total_minor":1299}"#.to_owned(),
            occurred_at: Timestamp::from_micros(1_764_213_600_123_456),
        }
    }

    #[test]
    fn round_trips() {
        let event = sample();
        let body = encode(&event).unwrap();
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(text.contains(r#""created":1764213600"#), "{text}");
        assert!(
            text.contains(r#""data":{"state":"paid","total_minor":1299}"#),
            "{text}"
        );
        assert_eq!(decode(&body).unwrap(), event);
    }

    #[test]
    fn refuses_what_is_not_an_envelope() {
        assert!(matches!(decode(b"{}"), Err(EnvelopeError::Malformed(_))));
        assert!(matches!(decode(b"\xff"), Err(EnvelopeError::Malformed(_))));
        let mut event = sample();
        event.payload = "{not json".to_owned();
        assert!(matches!(encode(&event), Err(EnvelopeError::Payload(_))));
    }
}
