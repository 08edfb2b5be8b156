//! The rows the events store reads, and the queries that read them.

use std::collections::BTreeSet;

use bazaar_domain::chart::SellerId;
use bazaar_domain::events::{EventEnvelope, EventId, EventStoreError, ResourceId};
use bazaar_domain::webhooks::{
    AttemptOutcome, AttemptRecord, DeliveryId, DeliveryRecord, DeliveryState, EndpointId,
    EndpointSecret, EventPattern, SecretUnavailable, WebhookEndpoint,
};
use bazaar_ledger::Timestamp;
use bazaar_schema::schema::{
    outbox_events, webhook_attempts, webhook_deliveries, webhook_endpoints,
};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{Array, BigInt, Bytea, Integer, Nullable, Text, Uuid as SqlUuid};
use uuid::Uuid;

use super::{Result, corrupt, count};
use crate::commerce::Fail;
use crate::commerce::rows::IdRow;
use crate::sealed::SecretKeys;

#[derive(QueryableByName)]
pub(super) struct EventRow {
    #[diesel(sql_type = SqlUuid)]
    pub(super) id: Uuid,
    #[diesel(sql_type = Text)]
    pub(super) event_type: String,
    #[diesel(sql_type = Integer)]
    pub(super) version: i32,
    #[diesel(sql_type = Text)]
    pub(super) resource_type: String,
    #[diesel(sql_type = SqlUuid)]
    pub(super) resource_id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub(super) seller_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    pub(super) payload: String,
    #[diesel(sql_type = BigInt)]
    pub(super) occurred_at: i64,
}

pub(super) const EVENT_COLUMNS: &str = "id, event_type, version, resource_type, resource_id, seller_id, payload::TEXT AS payload, occurred_at";

impl From<EventRow> for EventEnvelope {
    fn from(row: EventRow) -> Self {
        Self {
            id: EventId::from_uuid(row.id),
            event_type: row.event_type,
            version: count(row.version),
            resource_type: row.resource_type,
            resource_id: ResourceId::from_uuid(row.resource_id),
            seller_id: row.seller_id.map(SellerId::from_uuid),
            payload: row.payload,
            occurred_at: Timestamp::from_micros(row.occurred_at),
        }
    }
}

#[derive(QueryableByName, diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = bazaar_schema::schema::webhook_endpoints, check_for_backend(diesel::pg::Pg))]
pub(super) struct EndpointRow {
    #[diesel(sql_type = SqlUuid)]
    pub(super) id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub(super) seller_id: Uuid,
    #[diesel(sql_type = Text)]
    pub(super) url: String,
    #[diesel(sql_type = Array<Text>)]
    pub(super) event_types: Vec<String>,
    #[diesel(sql_type = Bytea)]
    pub(super) secret_sealed: Vec<u8>,
    #[diesel(sql_type = Nullable<Bytea>)]
    pub(super) previous_secret_sealed: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(super) previous_secret_expires_at: Option<i64>,
    #[diesel(sql_type = Text)]
    pub(super) state: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub(super) disabled_reason: Option<String>,
    #[diesel(sql_type = Integer)]
    pub(super) consecutive_failures: i32,
    #[diesel(sql_type = BigInt)]
    pub(super) created_at: i64,
}

impl EndpointRow {
    pub(super) fn view(&self, now: Timestamp) -> WebhookEndpoint {
        WebhookEndpoint {
            id: EndpointId::from_uuid(self.id),
            seller_id: SellerId::from_uuid(self.seller_id),
            url: self.url.clone(),
            event_types: self.event_types.clone(),
            enabled: self.state == "enabled",
            disabled_reason: self.disabled_reason.clone(),
            consecutive_failures: count(self.consecutive_failures),
            previous_secret_expires_at: self
                .previous_secret_expires_at
                .filter(|at| *at > now.as_micros())
                .map(Timestamp::from_micros),
            created_at: Timestamp::from_micros(self.created_at),
        }
    }

    pub(super) fn patterns(&self) -> Result<Vec<EventPattern>> {
        self.event_types
            .iter()
            .map(|p| EventPattern::parse(p).map_err(|_| corrupt("event pattern", p)))
            .collect()
    }

    /// The secrets that sign deliveries now: the current one, then the previous one while its
    /// overlap lasts. A secret that does not open makes this endpoint's deliveries
    /// [`SecretUnavailable`] and no one else's.
    pub(super) fn secrets(
        &self,
        key: &SecretKeys,
        now: Timestamp,
    ) -> std::result::Result<Vec<EndpointSecret>, SecretUnavailable> {
        let mut secrets = vec![open_secret(key, &self.secret_sealed, self.id)?];
        if let (Some(sealed), Some(until)) = (
            &self.previous_secret_sealed,
            self.previous_secret_expires_at,
        ) && until > now.as_micros()
        {
            secrets.push(open_secret(key, sealed, self.id)?);
        }
        Ok(secrets)
    }
}

pub(super) fn open_secret(
    key: &SecretKeys,
    sealed: &[u8],
    endpoint: Uuid,
) -> std::result::Result<EndpointSecret, SecretUnavailable> {
    let unavailable = |why: &str| {
        tracing::error!(%endpoint, why, "endpoint secret does not open; its deliveries wait");
        SecretUnavailable
    };
    let plain = key
        .open(sealed, endpoint.as_bytes())
        .map_err(|error| unavailable(&error.to_string()))?;
    let text = String::from_utf8(plain).map_err(|_| unavailable("not utf-8"))?;
    EndpointSecret::parse(&text).map_err(|_| unavailable("bad format"))
}

pub(super) fn seal_secret(
    key: &SecretKeys,
    secret: &EndpointSecret,
    endpoint: Uuid,
) -> Result<Vec<u8>> {
    key.seal(secret.as_str().as_bytes(), endpoint.as_bytes())
        .map_err(|error| {
            tracing::error!(%error, "sealing an endpoint secret failed");
            Fail::Domain(EventStoreError::Internal)
        })
}

/// A delivery with its event's type; fields in [`DELIVERY_SELECT`]'s order, which
/// [`delivery_by_id`] follows too.
#[derive(QueryableByName, diesel::Queryable)]
pub(super) struct DeliveryRow {
    #[diesel(sql_type = SqlUuid)]
    pub(super) id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub(super) endpoint_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub(super) event_id: Uuid,
    #[diesel(sql_type = Text)]
    pub(super) event_type: String,
    #[diesel(sql_type = Text)]
    pub(super) state: String,
    #[diesel(sql_type = Integer)]
    pub(super) attempts: i32,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(super) first_attempt_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(super) next_attempt_at: Option<i64>,
    #[diesel(sql_type = BigInt)]
    pub(super) created_at: i64,
}

pub(super) const DELIVERY_SELECT: &str = "SELECT d.id, d.endpoint_id, d.event_id, e.event_type, d.state, d.attempts, \
     d.first_attempt_at, d.next_attempt_at, d.created_at \
     FROM webhook_deliveries d JOIN outbox_events e ON e.id = d.event_id";

#[derive(QueryableByName, diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = bazaar_schema::schema::webhook_attempts, check_for_backend(diesel::pg::Pg))]
pub(super) struct AttemptRow {
    #[diesel(sql_type = SqlUuid)]
    pub(super) delivery_id: Uuid,
    #[diesel(sql_type = Integer)]
    pub(super) attempt: i32,
    #[diesel(sql_type = BigInt)]
    pub(super) started_at: i64,
    #[diesel(sql_type = Nullable<Integer>)]
    pub(super) status_code: Option<i32>,
    #[diesel(sql_type = Integer)]
    pub(super) latency_ms: i32,
    #[diesel(sql_type = Text)]
    pub(super) outcome: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub(super) error: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(super) next_attempt_at: Option<i64>,
}

pub(super) fn outcome_name(outcome: AttemptOutcome) -> &'static str {
    match outcome {
        AttemptOutcome::Delivered => "delivered",
        AttemptOutcome::Retry => "retry",
        AttemptOutcome::Reject => "rejected",
    }
}

pub(super) fn outcome_of(name: &str) -> Result<AttemptOutcome> {
    match name {
        "delivered" => Ok(AttemptOutcome::Delivered),
        "retry" => Ok(AttemptOutcome::Retry),
        "rejected" => Ok(AttemptOutcome::Reject),
        other => Err(corrupt("attempt outcome", other)),
    }
}

// --- transactions -------------------------------------------------------------------------------

pub(super) fn events_by_id(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<EventEnvelope>> {
    // raw SQL: shares EVENT_COLUMNS (payload::TEXT cast) with the claim CTE in events/mod.rs
    let rows: Vec<EventRow> = sql_query(format!(
        "SELECT {EVENT_COLUMNS} FROM outbox_events WHERE id = ANY($1)"
    ))
    .bind::<Array<SqlUuid>, _>(ids)
    .load(conn)?;
    Ok(rows.into_iter().map(EventEnvelope::from).collect())
}

/// Records that `consumer` handled `events` (in id order, so concurrent batches lock rows in
/// one order); answers the ones it had not handled before.
pub(super) fn first_time(
    conn: &mut PgConnection,
    consumer: &str,
    events: &[EventId],
    now: Timestamp,
) -> Result<BTreeSet<Uuid>> {
    let mut ids: Vec<Uuid> = events.iter().map(|id| id.as_uuid()).collect();
    ids.sort_unstable();
    ids.dedup();
    // raw SQL: INSERT ... SELECT FROM unnest($2::UUID[]) ... RETURNING, one statement for the batch
    let inserted: Vec<IdRow> = sql_query(
        "INSERT INTO processed_messages (consumer, event_id, processed_at) \
         SELECT $1, ids.id, $3 FROM unnest($2::UUID[]) AS ids (id) \
         ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id AS id",
    )
    .bind::<Text, _>(consumer)
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<BigInt, _>(now.as_micros())
    .load(conn)?;
    Ok(inserted.into_iter().map(|row| row.id).collect())
}

/// A seller's endpoints, oldest first.
pub(super) fn endpoint_rows(conn: &mut PgConnection, seller: Uuid) -> Result<Vec<EndpointRow>> {
    Ok(webhook_endpoints::table
        .filter(webhook_endpoints::seller_id.eq(seller))
        .order((webhook_endpoints::created_at, webhook_endpoints::id))
        .select(EndpointRow::as_select())
        .load(conn)?)
}

/// One of a seller's endpoints, locked for the rest of the transaction.
pub(super) fn one_endpoint(
    conn: &mut PgConnection,
    seller: Uuid,
    endpoint: Uuid,
) -> Result<EndpointRow> {
    webhook_endpoints::table
        .filter(webhook_endpoints::seller_id.eq(seller))
        .filter(webhook_endpoints::id.eq(endpoint))
        .select(EndpointRow::as_select())
        .for_update()
        .first(conn)
        .optional()?
        .ok_or(Fail::Domain(EventStoreError::NotFound("webhook endpoint")))
}

/// One delivery with its event's type.
pub(super) fn delivery_by_id(conn: &mut PgConnection, id: Uuid) -> Result<Option<DeliveryRow>> {
    Ok(webhook_deliveries::table
        .inner_join(outbox_events::table)
        .filter(webhook_deliveries::id.eq(id))
        .select((
            webhook_deliveries::id,
            webhook_deliveries::endpoint_id,
            webhook_deliveries::event_id,
            outbox_events::event_type,
            webhook_deliveries::state,
            webhook_deliveries::attempts,
            webhook_deliveries::first_attempt_at,
            webhook_deliveries::next_attempt_at,
            webhook_deliveries::created_at,
        ))
        .first(conn)
        .optional()?)
}

pub(super) fn attempts_of(conn: &mut PgConnection, deliveries: &[Uuid]) -> Result<Vec<AttemptRow>> {
    Ok(webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq_any(deliveries))
        .order((webhook_attempts::delivery_id, webhook_attempts::attempt))
        .select(AttemptRow::as_select())
        .load(conn)?)
}

pub(super) fn delivery_records(
    conn: &mut PgConnection,
    rows: Vec<DeliveryRow>,
) -> Result<Vec<DeliveryRecord>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let attempts = attempts_of(conn, &ids)?;
    rows.into_iter()
        .map(|row| {
            let attempts = attempts
                .iter()
                .filter(|a| a.delivery_id == row.id)
                .map(|a| {
                    Ok(AttemptRecord {
                        attempt: count(a.attempt),
                        started_at: Timestamp::from_micros(a.started_at),
                        status_code: a.status_code.and_then(|s| u16::try_from(s).ok()),
                        latency_ms: count(a.latency_ms),
                        outcome: outcome_of(&a.outcome)?,
                        error: a.error.clone(),
                        next_attempt_at: a.next_attempt_at.map(Timestamp::from_micros),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(DeliveryRecord {
                id: DeliveryId::from_uuid(row.id),
                endpoint_id: EndpointId::from_uuid(row.endpoint_id),
                event_id: EventId::from_uuid(row.event_id),
                event_type: row.event_type,
                state: DeliveryState::parse(&row.state)
                    .ok_or_else(|| corrupt("delivery state", &row.state))?,
                next_attempt_at: row.next_attempt_at.map(Timestamp::from_micros),
                created_at: Timestamp::from_micros(row.created_at),
                attempts,
            })
        })
        .collect()
}
