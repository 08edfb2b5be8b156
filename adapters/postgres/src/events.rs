//! The outbox, the consumers' processed-message records and projections, and webhook
//! endpoints and deliveries, on PostgreSQL/CockroachDB.
//!
//! - The relay claims unsent events with `FOR UPDATE SKIP LOCKED` and a lease
//!   (`lease_until`), so several relays share the outbox and a relay that dies gives its events
//!   back when the lease runs out; `sent_at` is set only after the broker confirmed.
//! - A consumer applies an event and records `(consumer, event id)` in `processed_messages` in
//!   one transaction: a redelivered event finds its record and changes nothing.
//! - Deliveries are claimed the same way (`next_attempt_at` is the lease); an attempt is
//!   recorded, and the delivery and its endpoint updated, in one transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bazaar_domain::chart::SellerId;
use bazaar_domain::events::{
    AttemptRecord, AttemptResult, DeliveryJob, DeliveryRecord, DeliveryState, EventEnvelope,
    EventId, EventStoreError, EventType, Outbox, SecretUnavailable, WebhookEndpoint,
};
use bazaar_domain::orders::derive_id;
use bazaar_domain::webhooks::{
    AttemptOutcome, EndpointSecret, EndpointUrl, EventPattern, WebhookError,
};
use bazaar_ledger::Timestamp;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool};
use diesel::sql_types::{Array, BigInt, Bool, Bytea, Integer, Nullable, Text, Uuid as SqlUuid};
use diesel::{QueryableByName, RunQueryDsl, sql_query};
use uuid::Uuid;

use crate::RetryPolicy;
use crate::commerce::rows::IdRow;
use crate::commerce::{Fail, Mode, StoreFailure, emit, pool, run};
use crate::sealed::SecretKey;

type Result<T> = std::result::Result<T, Fail<EventStoreError>>;

/// Most endpoints one seller may register.
pub const MAX_ENDPOINTS_PER_SELLER: i64 = 16;

impl StoreFailure for EventStoreError {
    fn unavailable() -> Self {
        Self::Unavailable
    }

    fn internal() -> Self {
        Self::Internal
    }
}

/// Whether a consumer applied an event now, or had already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Now,
    Before,
}

/// Events, consumers and webhooks.
#[derive(Clone)]
pub struct PostgresEvents {
    pool: Pool<ConnectionManager<PgConnection>>,
    retry: Arc<RetryPolicy>,
    key: SecretKey,
}

impl std::fmt::Debug for PostgresEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresEvents")
            .field("pool_size", &self.pool.max_size())
            .finish_non_exhaustive()
    }
}

fn refuse<T>(error: impl Into<EventStoreError>) -> Result<T> {
    Err(Fail::Domain(error.into()))
}

fn corrupt(what: &'static str, value: &str) -> Fail<EventStoreError> {
    tracing::error!(what, value, "stored value does not parse");
    Fail::Domain(EventStoreError::Internal)
}

fn count(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

// --- rows -------------------------------------------------------------------------------------

#[derive(QueryableByName)]
struct EventRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = Integer)]
    version: i32,
    #[diesel(sql_type = Text)]
    resource_type: String,
    #[diesel(sql_type = SqlUuid)]
    resource_id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    seller_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    payload: String,
    #[diesel(sql_type = BigInt)]
    occurred_at: i64,
}

const EVENT_COLUMNS: &str = "id, event_type, version, resource_type, resource_id, seller_id, payload::TEXT AS payload, occurred_at";

impl From<EventRow> for EventEnvelope {
    fn from(row: EventRow) -> Self {
        Self {
            id: EventId(row.id),
            event_type: row.event_type,
            version: count(row.version),
            resource_type: row.resource_type,
            resource_id: row.resource_id,
            seller_id: row.seller_id.map(SellerId::from_uuid),
            payload: row.payload,
            occurred_at: Timestamp::from_micros(row.occurred_at),
        }
    }
}

#[derive(QueryableByName)]
struct EndpointRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    seller_id: Uuid,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Array<Text>)]
    event_types: Vec<String>,
    #[diesel(sql_type = Bytea)]
    secret_sealed: Vec<u8>,
    #[diesel(sql_type = Nullable<Bytea>)]
    previous_secret_sealed: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<BigInt>)]
    previous_secret_expires_at: Option<i64>,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Nullable<Text>)]
    disabled_reason: Option<String>,
    #[diesel(sql_type = Integer)]
    consecutive_failures: i32,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
}

const ENDPOINT_COLUMNS: &str = "id, seller_id, url, event_types, secret_sealed, previous_secret_sealed, \
     previous_secret_expires_at, state, disabled_reason, consecutive_failures, created_at";

impl EndpointRow {
    fn view(&self, now: Timestamp) -> WebhookEndpoint {
        WebhookEndpoint {
            id: self.id,
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

    fn patterns(&self) -> Result<Vec<EventPattern>> {
        self.event_types
            .iter()
            .map(|p| EventPattern::parse(p).map_err(|_| corrupt("event pattern", p)))
            .collect()
    }

    /// The secrets that sign deliveries now: the current one, then the previous one while its
    /// overlap lasts. A secret that does not open makes this endpoint's deliveries
    /// [`SecretUnavailable`] and no one else's.
    fn secrets(
        &self,
        key: &SecretKey,
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

fn open_secret(
    key: &SecretKey,
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

fn seal_secret(key: &SecretKey, secret: &EndpointSecret, endpoint: Uuid) -> Result<Vec<u8>> {
    key.seal(secret.as_str().as_bytes(), endpoint.as_bytes())
        .map_err(|error| {
            tracing::error!(%error, "sealing an endpoint secret failed");
            Fail::Domain(EventStoreError::Internal)
        })
}

#[derive(QueryableByName)]
struct DeliveryRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    endpoint_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    event_id: Uuid,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Nullable<BigInt>)]
    first_attempt_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    next_attempt_at: Option<i64>,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
}

const DELIVERY_SELECT: &str = "SELECT d.id, d.endpoint_id, d.event_id, e.event_type, d.state, d.attempts, \
     d.first_attempt_at, d.next_attempt_at, d.created_at \
     FROM webhook_deliveries d JOIN outbox_events e ON e.id = d.event_id";

#[derive(QueryableByName)]
struct AttemptRow {
    #[diesel(sql_type = SqlUuid)]
    delivery_id: Uuid,
    #[diesel(sql_type = Integer)]
    attempt: i32,
    #[diesel(sql_type = BigInt)]
    started_at: i64,
    #[diesel(sql_type = Nullable<Integer>)]
    status_code: Option<i32>,
    #[diesel(sql_type = Integer)]
    latency_ms: i32,
    #[diesel(sql_type = Text)]
    outcome: String,
    #[diesel(sql_type = Nullable<Text>)]
    error: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    next_attempt_at: Option<i64>,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

#[derive(QueryableByName)]
struct EventCountRow {
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = BigInt)]
    events: i64,
}

fn outcome_name(outcome: AttemptOutcome) -> &'static str {
    match outcome {
        AttemptOutcome::Delivered => "delivered",
        AttemptOutcome::Retry => "retry",
        AttemptOutcome::Reject => "rejected",
    }
}

fn outcome_of(name: &str) -> Result<AttemptOutcome> {
    match name {
        "delivered" => Ok(AttemptOutcome::Delivered),
        "retry" => Ok(AttemptOutcome::Retry),
        "rejected" => Ok(AttemptOutcome::Reject),
        other => Err(corrupt("attempt outcome", other)),
    }
}

// --- transactions -------------------------------------------------------------------------------

fn events_by_id(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<EventEnvelope>> {
    let rows: Vec<EventRow> = sql_query(format!(
        "SELECT {EVENT_COLUMNS} FROM outbox_events WHERE id = ANY($1)"
    ))
    .bind::<Array<SqlUuid>, _>(ids)
    .load(conn)?;
    Ok(rows.into_iter().map(EventEnvelope::from).collect())
}

/// Records that `consumer` handled `events` (in id order, so concurrent batches lock rows in
/// one order); answers the ones it had not handled before.
fn first_time(
    conn: &mut PgConnection,
    consumer: &str,
    events: &[EventId],
    now: Timestamp,
) -> Result<BTreeSet<Uuid>> {
    let mut ids: Vec<Uuid> = events.iter().map(|id| id.0).collect();
    ids.sort_unstable();
    ids.dedup();
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

fn endpoint_rows(
    conn: &mut PgConnection,
    seller: Uuid,
    endpoint: Option<Uuid>,
    lock: bool,
) -> Result<Vec<EndpointRow>> {
    let filter = if endpoint.is_some() {
        " AND id = $2"
    } else {
        ""
    };
    let suffix = if lock { " FOR UPDATE" } else { "" };
    let query = sql_query(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE seller_id = $1{filter} \
         ORDER BY created_at, id{suffix}"
    ))
    .bind::<SqlUuid, _>(seller);
    let rows = match endpoint {
        Some(id) => query.bind::<SqlUuid, _>(id).load(conn)?,
        None => query.load(conn)?,
    };
    Ok(rows)
}

fn one_endpoint(conn: &mut PgConnection, seller: Uuid, endpoint: Uuid) -> Result<EndpointRow> {
    endpoint_rows(conn, seller, Some(endpoint), true)?
        .into_iter()
        .next()
        .ok_or(Fail::Domain(EventStoreError::NotFound("webhook endpoint")))
}

fn attempts_of(conn: &mut PgConnection, deliveries: &[Uuid]) -> Result<Vec<AttemptRow>> {
    Ok(sql_query(
        "SELECT delivery_id, attempt, started_at, status_code, latency_ms, outcome, error, next_attempt_at \
         FROM webhook_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt",
    )
    .bind::<Array<SqlUuid>, _>(deliveries)
    .load(conn)?)
}

fn delivery_records(
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
                id: row.id,
                endpoint_id: row.endpoint_id,
                event_id: EventId(row.event_id),
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

/// Builds the jobs for claimed deliveries; deliveries whose endpoint is disabled are closed
/// as failed instead.
fn jobs_for(
    conn: &mut PgConnection,
    key: &SecretKey,
    claimed: Vec<DeliveryRow>,
    now: Timestamp,
) -> Result<Vec<DeliveryJob>> {
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let event_ids: Vec<Uuid> = claimed.iter().map(|d| d.event_id).collect();
    let events = events_by_id(conn, &event_ids)?;
    let endpoint_ids: Vec<Uuid> = claimed.iter().map(|d| d.endpoint_id).collect();
    let endpoints: Vec<EndpointRow> = sql_query(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ANY($1)"
    ))
    .bind::<Array<SqlUuid>, _>(&endpoint_ids)
    .load(conn)?;
    let events: BTreeMap<Uuid, EventEnvelope> = events.into_iter().map(|e| (e.id.0, e)).collect();
    // Secrets are opened once per endpoint, however many of its deliveries are due.
    let mut secrets = BTreeMap::new();
    for endpoint in endpoints.iter().filter(|e| e.state == "enabled") {
        secrets.insert(endpoint.id, endpoint.secrets(key, now));
    }
    let mut jobs = Vec::with_capacity(claimed.len());
    for delivery in claimed {
        let endpoint = endpoints.iter().find(|e| e.id == delivery.endpoint_id);
        let ready = (
            endpoint,
            secrets.get(&delivery.endpoint_id),
            events.get(&delivery.event_id),
        );
        let (Some(endpoint), Some(secrets), Some(event)) = ready else {
            // The endpoint is disabled or gone: close the delivery instead of sending it.
            sql_query(
                "UPDATE webhook_deliveries SET state = 'failed', next_attempt_at = NULL, \
                 last_error = 'endpoint disabled', updated_at = $2 WHERE id = $1",
            )
            .bind::<SqlUuid, _>(delivery.id)
            .bind::<BigInt, _>(now.as_micros())
            .execute(conn)?;
            continue;
        };
        jobs.push(DeliveryJob {
            delivery_id: delivery.id,
            endpoint_id: endpoint.id,
            url: endpoint.url.clone(),
            secrets: secrets.clone(),
            event: event.clone(),
            attempts: count(delivery.attempts),
            first_attempt_at: delivery.first_attempt_at.map(Timestamp::from_micros),
        });
    }
    Ok(jobs)
}

/// Records one attempt (see [`PostgresEvents::record_attempts`]).
fn record_attempt(
    conn: &mut PgConnection,
    delivery: Uuid,
    endpoint: Uuid,
    result: &AttemptResult,
    disable_after: u32,
    now: Timestamp,
) -> Result<()> {
    let state = match (result.outcome, result.next_attempt_at) {
        (AttemptOutcome::Delivered, _) => DeliveryState::Succeeded,
        (AttemptOutcome::Retry, Some(_)) => DeliveryState::Pending,
        (AttemptOutcome::Retry, None) | (AttemptOutcome::Reject, _) => DeliveryState::Failed,
    };
    let delivered = result.outcome == AttemptOutcome::Delivered;
    // One statement: the delivery moves on (only if still pending: another worker may have
    // finished it after this one's lease ran out), the attempt is logged under the delivery's
    // new attempt count, and a success clears the endpoint's run of failures.
    let applied: Vec<CountRow> = sql_query(
        "WITH d AS ( \
           UPDATE webhook_deliveries SET state = $2, attempts = attempts + 1, \
             first_attempt_at = COALESCE(first_attempt_at, $3), next_attempt_at = $4, \
             last_status = $5, last_error = $6, updated_at = $7 \
           WHERE id = $1 AND state = 'pending' RETURNING id, attempts), \
         a AS ( \
           INSERT INTO webhook_attempts (delivery_id, attempt, started_at, status_code, latency_ms, \
                                         outcome, error, next_attempt_at) \
           SELECT id, attempts, $3, $5, $8, $9, $6, $10 FROM d RETURNING attempt), \
         e AS ( \
           UPDATE webhook_endpoints SET consecutive_failures = 0 \
           WHERE id = $11 AND $12 AND consecutive_failures <> 0 AND EXISTS (SELECT 1 FROM d) \
           RETURNING id) \
         SELECT attempt::INT8 AS value FROM a",
    )
    .bind::<SqlUuid, _>(delivery)
    .bind::<Text, _>(state.as_str())
    .bind::<BigInt, _>(result.started_at.as_micros())
    .bind::<Nullable<BigInt>, _>(match state {
        DeliveryState::Pending => result.next_attempt_at.map(Timestamp::as_micros),
        DeliveryState::Succeeded | DeliveryState::Failed => None,
    })
    .bind::<Nullable<Integer>, _>(result.status_code.map(i32::from))
    .bind::<Nullable<Text>, _>(result.error.as_deref())
    .bind::<BigInt, _>(now.as_micros())
    .bind::<Integer, _>(i32::try_from(result.latency_ms).unwrap_or(i32::MAX))
    .bind::<Text, _>(outcome_name(result.outcome))
    .bind::<Nullable<BigInt>, _>(result.next_attempt_at.map(Timestamp::as_micros))
    .bind::<SqlUuid, _>(endpoint)
    .bind::<Bool, _>(delivered)
    .load(conn)?;
    let Some(attempt) = applied.first().map(|row| row.value) else {
        // Finished by another worker, or gone: nothing to record.
        return Ok(());
    };
    if delivered {
        return Ok(());
    }
    let disabled: Vec<CountRow> = sql_query(
        "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1, \
           state = CASE WHEN consecutive_failures + 1 >= $2 THEN 'disabled' ELSE state END, \
           disabled_reason = CASE WHEN consecutive_failures + 1 >= $2 AND state = 'enabled' \
             THEN 'failed ' || ($2)::TEXT || ' deliveries in a row' ELSE disabled_reason END, \
           updated_at = $3 \
         WHERE id = $1 RETURNING (CASE WHEN state = 'disabled' AND consecutive_failures = $2 \
           THEN 1 ELSE 0 END)::INT8 AS value",
    )
    .bind::<SqlUuid, _>(endpoint)
    .bind::<Integer, _>(i32::try_from(disable_after.max(1)).unwrap_or(i32::MAX))
    .bind::<BigInt, _>(now.as_micros())
    .load(conn)?;
    if disabled.first().is_some_and(|r| r.value == 1) {
        tracing::warn!(%endpoint, disable_after, "webhook endpoint disabled after repeated failures");
        let occurrence = derive_id(delivery, &format!("disabled:{attempt}"));
        emit::endpoint(
            conn,
            EventType::WebhookEndpointDisabled,
            endpoint,
            occurrence,
            now,
        )?;
    }
    Ok(())
}

impl PostgresEvents {
    /// A store with at most `pool_size` connections; `key` seals endpoint secrets.
    pub fn new(database_url: &str, pool_size: u32, retry: RetryPolicy, key: SecretKey) -> Self {
        Self {
            pool: pool(database_url, pool_size, &retry),
            retry: Arc::new(retry),
            key,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        operation: &'static str,
        mode: Mode,
        work: impl Fn(&mut PgConnection) -> Result<T> + Send + 'static,
    ) -> std::result::Result<T, EventStoreError> {
        run(&self.pool, &self.retry, operation, mode, work).await
    }

    // --- consumers ---------------------------------------------------------------------------

    /// The activity consumer: counts each event against its seller's `event_counts`, once,
    /// all in one transaction. An event about a seller this database does not know (yet) is
    /// answered `NotFound` and changes nothing; the caller retries it later.
    pub async fn count_events(
        &self,
        consumer: &'static str,
        events: &[EventEnvelope],
        now: Timestamp,
    ) -> std::result::Result<Vec<std::result::Result<Applied, EventStoreError>>, EventStoreError>
    {
        let events = events.to_vec();
        self.run("count_events", Mode::Queue, move |conn| {
            let sellers: Vec<Uuid> = events
                .iter()
                .filter_map(|e| e.seller_id.map(SellerId::as_uuid))
                .collect();
            let known: Vec<IdRow> = sql_query("SELECT id FROM sellers WHERE id = ANY($1)")
                .bind::<Array<SqlUuid>, _>(&sellers)
                .load(conn)?;
            let known: BTreeSet<Uuid> = known.into_iter().map(|r| r.id).collect();
            let unknown_seller =
                |e: &EventEnvelope| e.seller_id.is_some_and(|s| !known.contains(&s.as_uuid()));
            let countable: Vec<EventId> = events
                .iter()
                .filter(|e| !unknown_seller(e))
                .map(|e| e.id)
                .collect();
            let new = first_time(conn, consumer, &countable, now)?;
            let mut counts: BTreeMap<(Uuid, &str), (i64, i64)> = BTreeMap::new();
            let mut answers = Vec::with_capacity(events.len());
            let mut counted = BTreeSet::new();
            for event in &events {
                if unknown_seller(event) {
                    answers.push(Err(EventStoreError::NotFound("seller")));
                    continue;
                }
                // An event twice in one chunk (a redelivery beside the original) counts once.
                if !new.contains(&event.id.0) || !counted.insert(event.id) {
                    answers.push(Ok(Applied::Before));
                    continue;
                }
                answers.push(Ok(Applied::Now));
                if let Some(seller) = event.seller_id {
                    let entry = counts
                        .entry((seller.as_uuid(), event.event_type.as_str()))
                        .or_default();
                    entry.0 = entry.0.saturating_add(1);
                    entry.1 = entry.1.max(event.occurred_at.as_micros());
                }
            }
            // Count rows are upserted in key order, so concurrent batches cannot deadlock.
            for ((seller, event_type), (events, last)) in counts {
                sql_query(
                    "INSERT INTO event_counts (seller_id, event_type, events, last_event_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (seller_id, event_type) DO UPDATE \
                     SET events = event_counts.events + excluded.events, \
                         last_event_at = GREATEST(event_counts.last_event_at, excluded.last_event_at)",
                )
                .bind::<SqlUuid, _>(seller)
                .bind::<Text, _>(event_type)
                .bind::<BigInt, _>(events)
                .bind::<BigInt, _>(last)
                .execute(conn)?;
            }
            Ok(answers)
        })
        .await
    }

    /// A seller's event counts by type.
    pub async fn event_counts(
        &self,
        seller: SellerId,
    ) -> std::result::Result<Vec<(String, u64)>, EventStoreError> {
        self.run("event_counts", Mode::Read, move |conn| {
            let rows: Vec<EventCountRow> = sql_query(
                "SELECT event_type, events FROM event_counts WHERE seller_id = $1 ORDER BY event_type",
            )
            .bind::<SqlUuid, _>(seller.as_uuid())
            .load(conn)?;
            Ok(rows
                .into_iter()
                .map(|r| (r.event_type, u64::try_from(r.events).unwrap_or(0)))
                .collect())
        })
        .await
    }

    /// The webhook consumer: for each event, creates a delivery for every enabled endpoint of
    /// its seller that subscribes to its type, once, all in one transaction, and hands the
    /// deliveries back held for `lease` so the caller sends them at once. `None` for an event
    /// this consumer had handled before.
    pub async fn fan_out(
        &self,
        consumer: &'static str,
        events: &[EventEnvelope],
        lease: Duration,
        now: Timestamp,
    ) -> std::result::Result<Vec<Option<Vec<DeliveryJob>>>, EventStoreError> {
        let events = events.to_vec();
        let key = self.key.clone();
        self.run("fan_out", Mode::Queue, move |conn| {
            let sellers: Vec<Uuid> = events
                .iter()
                .filter_map(|e| e.seller_id.map(SellerId::as_uuid))
                .collect();
            let endpoints: Vec<EndpointRow> = sql_query(format!(
                "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints \
                 WHERE seller_id = ANY($1) AND state = 'enabled'"
            ))
            .bind::<Array<SqlUuid>, _>(&sellers)
            .load(conn)?;
            // Each endpoint's patterns are parsed and its secrets opened once per chunk.
            let subscriptions = endpoints
                .iter()
                .map(|e| Ok((e, e.patterns()?, e.secrets(&key, now))))
                .collect::<Result<Vec<_>>>()?;
            let ids: Vec<EventId> = events.iter().map(|e| e.id).collect();
            let new = first_time(conn, consumer, &ids, now)?;
            let mut answers: Vec<Option<Vec<DeliveryJob>>> = Vec::with_capacity(events.len());
            let mut handled = BTreeSet::new();
            let mut claimed = Vec::new();
            for event in &events {
                if !new.contains(&event.id.0) || !handled.insert(event.id) {
                    answers.push(None);
                    continue;
                }
                let mut jobs = Vec::new();
                for (endpoint, patterns, secrets) in &subscriptions {
                    if Some(SellerId::from_uuid(endpoint.seller_id)) != event.seller_id
                        || !patterns.iter().any(|p| p.matches(&event.event_type))
                    {
                        continue;
                    }
                    let id = derive_id(endpoint.id, &format!("delivery:{}", event.id));
                    claimed.push((id, endpoint.id, event.id.0));
                    jobs.push(DeliveryJob {
                        delivery_id: id,
                        endpoint_id: endpoint.id,
                        url: endpoint.url.clone(),
                        secrets: secrets.clone(),
                        event: event.clone(),
                        attempts: 0,
                        first_attempt_at: None,
                    });
                }
                answers.push(Some(jobs));
            }
            // Inserted in id order, so concurrent chunks take index locks in one order.
            claimed.sort_unstable();
            let ids: Vec<Uuid> = claimed.iter().map(|c| c.0).collect();
            let endpoint_ids: Vec<Uuid> = claimed.iter().map(|c| c.1).collect();
            let event_ids: Vec<Uuid> = claimed.iter().map(|c| c.2).collect();
            sql_query(
                "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, seller_id, state, attempts, \
                                                 next_attempt_at, created_at, updated_at) \
                 SELECT d.id, d.endpoint_id, d.event_id, e.seller_id, 'pending', 0, $4, $5, $5 \
                 FROM unnest($1::UUID[], $2::UUID[], $3::UUID[]) AS d (id, endpoint_id, event_id) \
                 JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                 ON CONFLICT (endpoint_id, event_id) DO NOTHING",
            )
            .bind::<Array<SqlUuid>, _>(&ids)
            .bind::<Array<SqlUuid>, _>(&endpoint_ids)
            .bind::<Array<SqlUuid>, _>(&event_ids)
            .bind::<BigInt, _>(now.saturating_add(lease).as_micros())
            .bind::<BigInt, _>(now.as_micros())
            .execute(conn)?;
            Ok(answers)
        })
        .await
    }

    // --- delivery -----------------------------------------------------------------------------

    /// Up to `limit` deliveries due now that no other worker holds, held for `lease`.
    pub async fn claim_deliveries(
        &self,
        limit: u32,
        lease: Duration,
        now: Timestamp,
    ) -> std::result::Result<Vec<DeliveryJob>, EventStoreError> {
        let key = self.key.clone();
        self.run("claim_deliveries", Mode::Queue, move |conn| {
            let claimed: Vec<DeliveryRow> = sql_query(
                "WITH due AS ( \
                   SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $1 \
                   ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
                 UPDATE webhook_deliveries d SET next_attempt_at = $3 FROM due, outbox_events e \
                 WHERE d.id = due.id AND e.id = d.event_id \
                 RETURNING d.id, d.endpoint_id, d.event_id, e.event_type, d.state, d.attempts, \
                           d.first_attempt_at, d.next_attempt_at, d.created_at",
            )
            .bind::<BigInt, _>(now.as_micros())
            .bind::<BigInt, _>(i64::from(limit))
            .bind::<BigInt, _>(now.saturating_add(lease).as_micros())
            .load(conn)?;
            jobs_for(conn, &key, claimed, now)
        })
        .await
    }

    /// Records attempts, in one transaction: for each, the attempt row, the delivery's new
    /// state, and the endpoint's run of failures; an endpoint that reaches `disable_after`
    /// failures in a row is disabled and a `webhook_endpoint.disabled` event is written. An
    /// attempt on a delivery that another worker already finished (its lease had run out) is
    /// not recorded.
    pub async fn record_attempts(
        &self,
        attempts: &[(DeliveryJob, AttemptResult)],
        disable_after: u32,
        now: Timestamp,
    ) -> std::result::Result<(), EventStoreError> {
        let mut attempts: Vec<(Uuid, Uuid, AttemptResult)> = attempts
            .iter()
            .map(|(job, result)| (job.endpoint_id, job.delivery_id, result.clone()))
            .collect();
        // One lock order for every batch: endpoints, then deliveries.
        attempts.sort_by_key(|(endpoint, delivery, _)| (*endpoint, *delivery));
        self.run("record_attempts", Mode::Queue, move |conn| {
            for (endpoint, delivery, result) in &attempts {
                record_attempt(conn, *delivery, *endpoint, result, disable_after, now)?;
            }
            Ok(())
        })
        .await
    }

    // --- the API ------------------------------------------------------------------------------

    /// Registers an endpoint for `seller`.
    pub async fn create_endpoint(
        &self,
        seller: SellerId,
        url: EndpointUrl,
        patterns: Vec<EventPattern>,
        secret: EndpointSecret,
        now: Timestamp,
    ) -> std::result::Result<WebhookEndpoint, EventStoreError> {
        let key = self.key.clone();
        let id = derive_id(seller.as_uuid(), &format!("endpoint:{}", secret.as_str()));
        self.run("create_endpoint", Mode::Write, move |conn| {
            let regions: Vec<RegionRow> =
                sql_query("SELECT home_region FROM sellers WHERE id = $1")
                    .bind::<SqlUuid, _>(seller.as_uuid())
                    .load(conn)?;
            let Some(region) = regions.first() else {
                return refuse(EventStoreError::NotFound("seller"));
            };
            let existing: Vec<CountRow> = sql_query(
                "SELECT COUNT(*) AS value FROM webhook_endpoints WHERE seller_id = $1",
            )
            .bind::<SqlUuid, _>(seller.as_uuid())
            .load(conn)?;
            if existing.first().is_some_and(|r| r.value >= MAX_ENDPOINTS_PER_SELLER) {
                return refuse(WebhookError::TooManyEndpoints);
            }
            let types: Vec<String> = patterns.iter().map(|p| p.as_str().to_owned()).collect();
            sql_query(
                "INSERT INTO webhook_endpoints (id, seller_id, url, event_types, secret_sealed, state, \
                                                consecutive_failures, created_at, updated_at, home_region) \
                 VALUES ($1, $2, $3, $4, $5, 'enabled', 0, $6, $6, $7)",
            )
            .bind::<SqlUuid, _>(id)
            .bind::<SqlUuid, _>(seller.as_uuid())
            .bind::<Text, _>(url.as_str())
            .bind::<Array<Text>, _>(&types)
            .bind::<Bytea, _>(seal_secret(&key, &secret, id)?)
            .bind::<BigInt, _>(now.as_micros())
            .bind::<Text, _>(&region.home_region)
            .execute(conn)?;
            Ok(one_endpoint(conn, seller.as_uuid(), id)?.view(now))
        })
        .await
    }

    /// Replaces an endpoint's secret; the old one keeps signing (beside the new) for `overlap`.
    pub async fn rotate_secret(
        &self,
        seller: SellerId,
        endpoint: Uuid,
        secret: EndpointSecret,
        overlap: Duration,
        now: Timestamp,
    ) -> std::result::Result<WebhookEndpoint, EventStoreError> {
        let key = self.key.clone();
        self.run("rotate_secret", Mode::Write, move |conn| {
            let row = one_endpoint(conn, seller.as_uuid(), endpoint)?;
            let (previous, until) = if overlap.is_zero() {
                (None, None)
            } else {
                (
                    Some(row.secret_sealed.clone()),
                    Some(now.saturating_add(overlap).as_micros()),
                )
            };
            sql_query(
                "UPDATE webhook_endpoints SET secret_sealed = $2, previous_secret_sealed = $3, \
                   previous_secret_expires_at = $4, updated_at = $5 WHERE id = $1",
            )
            .bind::<SqlUuid, _>(endpoint)
            .bind::<Bytea, _>(seal_secret(&key, &secret, endpoint)?)
            .bind::<Nullable<Bytea>, _>(previous)
            .bind::<Nullable<BigInt>, _>(until)
            .bind::<BigInt, _>(now.as_micros())
            .execute(conn)?;
            Ok(one_endpoint(conn, seller.as_uuid(), endpoint)?.view(now))
        })
        .await
    }

    /// Enables (resetting its failure count) or disables an endpoint.
    pub async fn set_endpoint_enabled(
        &self,
        seller: SellerId,
        endpoint: Uuid,
        enabled: bool,
        now: Timestamp,
    ) -> std::result::Result<WebhookEndpoint, EventStoreError> {
        self.run("set_endpoint_enabled", Mode::Write, move |conn| {
            one_endpoint(conn, seller.as_uuid(), endpoint)?;
            sql_query(
                "UPDATE webhook_endpoints SET state = CASE WHEN $2 THEN 'enabled' ELSE 'disabled' END, \
                   disabled_reason = CASE WHEN $2 THEN NULL ELSE 'disabled by the seller' END, \
                   consecutive_failures = CASE WHEN $2 THEN 0 ELSE consecutive_failures END, \
                   updated_at = $3 WHERE id = $1",
            )
            .bind::<SqlUuid, _>(endpoint)
            .bind::<Bool, _>(enabled)
            .bind::<BigInt, _>(now.as_micros())
            .execute(conn)?;
            Ok(one_endpoint(conn, seller.as_uuid(), endpoint)?.view(now))
        })
        .await
    }

    /// A seller's endpoints, oldest first.
    pub async fn endpoints(
        &self,
        seller: SellerId,
        now: Timestamp,
    ) -> std::result::Result<Vec<WebhookEndpoint>, EventStoreError> {
        self.run("endpoints", Mode::Read, move |conn| {
            Ok(endpoint_rows(conn, seller.as_uuid(), None, false)?
                .iter()
                .map(|r| r.view(now))
                .collect())
        })
        .await
    }

    /// An endpoint's deliveries, newest first, created before `before` (a delivery id from an
    /// earlier page), at most `limit`.
    pub async fn deliveries(
        &self,
        seller: SellerId,
        endpoint: Uuid,
        before: Option<Uuid>,
        limit: u32,
    ) -> std::result::Result<Vec<DeliveryRecord>, EventStoreError> {
        self.run("deliveries", Mode::Read, move |conn| {
            let rows: Vec<DeliveryRow> = sql_query(format!(
                "{DELIVERY_SELECT} WHERE d.endpoint_id = $1 AND d.seller_id = $2 \
                   AND ($3::UUID IS NULL OR (d.created_at, d.id) < \
                        (SELECT created_at, id FROM webhook_deliveries WHERE id = $3)) \
                 ORDER BY d.created_at DESC, d.id DESC LIMIT $4"
            ))
            .bind::<SqlUuid, _>(endpoint)
            .bind::<SqlUuid, _>(seller.as_uuid())
            .bind::<Nullable<SqlUuid>, _>(before)
            .bind::<BigInt, _>(i64::from(limit))
            .load(conn)?;
            delivery_records(conn, rows)
        })
        .await
    }

    /// Sends a delivery again, now, with a fresh retry window, whatever became of it; the
    /// endpoint must be enabled.
    pub async fn replay(
        &self,
        seller: SellerId,
        delivery: Uuid,
        now: Timestamp,
    ) -> std::result::Result<DeliveryRecord, EventStoreError> {
        self.run("replay", Mode::Write, move |conn| {
            let rows: Vec<DeliveryRow> = sql_query(format!(
                "{DELIVERY_SELECT} WHERE d.id = $1 AND d.seller_id = $2 FOR UPDATE OF d"
            ))
            .bind::<SqlUuid, _>(delivery)
            .bind::<SqlUuid, _>(seller.as_uuid())
            .load(conn)?;
            let Some(row) = rows.into_iter().next() else {
                return refuse(EventStoreError::NotFound("delivery"));
            };
            if one_endpoint(conn, seller.as_uuid(), row.endpoint_id)?.state != "enabled" {
                return refuse(WebhookError::EndpointDisabled);
            }
            sql_query(
                "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $2, \
                   first_attempt_at = NULL, updated_at = $2 WHERE id = $1",
            )
            .bind::<SqlUuid, _>(delivery)
            .bind::<BigInt, _>(now.as_micros())
            .execute(conn)?;
            let rows: Vec<DeliveryRow> = sql_query(format!("{DELIVERY_SELECT} WHERE d.id = $1"))
                .bind::<SqlUuid, _>(delivery)
                .load(conn)?;
            delivery_records(conn, rows)?
                .into_iter()
                .next()
                .ok_or(Fail::Domain(EventStoreError::Internal))
        })
        .await
    }
}

#[derive(QueryableByName)]
struct RegionRow {
    #[diesel(sql_type = Text)]
    home_region: String,
}

impl Outbox for PostgresEvents {
    async fn claim(
        &self,
        limit: u32,
        lease: Duration,
        now: Timestamp,
    ) -> std::result::Result<Vec<EventEnvelope>, EventStoreError> {
        self.run("claim_events", Mode::Queue, move |conn| {
            let rows: Vec<EventRow> = sql_query(format!(
                "WITH due AS ( \
                   SELECT id FROM outbox_events \
                   WHERE sent_at IS NULL AND (lease_until IS NULL OR lease_until <= $1) \
                   ORDER BY occurred_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
                 UPDATE outbox_events o SET lease_until = $3 FROM due WHERE o.id = due.id \
                 RETURNING {}",
                EVENT_COLUMNS
                    .split(", ")
                    .map(|c| format!("o.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .bind::<BigInt, _>(now.as_micros())
            .bind::<BigInt, _>(i64::from(limit))
            .bind::<BigInt, _>(now.saturating_add(lease).as_micros())
            .load(conn)?;
            let mut events: Vec<EventEnvelope> =
                rows.into_iter().map(EventEnvelope::from).collect();
            events.sort_by_key(|e| (e.occurred_at, e.id));
            Ok(events)
        })
        .await
    }

    async fn mark_sent(
        &self,
        ids: &[EventId],
        now: Timestamp,
    ) -> std::result::Result<(), EventStoreError> {
        let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
        self.run("mark_sent", Mode::Queue, move |conn| {
            sql_query(
                "UPDATE outbox_events SET sent_at = $2 WHERE id = ANY($1) AND sent_at IS NULL",
            )
            .bind::<Array<SqlUuid>, _>(&ids)
            .bind::<BigInt, _>(now.as_micros())
            .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn release(&self, ids: &[EventId]) -> std::result::Result<(), EventStoreError> {
        let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
        self.run("release_events", Mode::Queue, move |conn| {
            sql_query("UPDATE outbox_events SET lease_until = NULL WHERE id = ANY($1) AND sent_at IS NULL")
                .bind::<Array<SqlUuid>, _>(&ids)
                .execute(conn)?;
            Ok(())
        })
        .await
    }
}
