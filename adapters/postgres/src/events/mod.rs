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
use std::time::Duration;

use bazaar_domain::chart::SellerId;
use bazaar_domain::events::{
    ActivityStore, Applied, EventEnvelope, EventId, EventStoreError, Outbox,
};
use bazaar_ledger::Timestamp;
use bazaar_schema::schema::{event_counts, outbox_events, sellers};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use uuid::Uuid;

use crate::RetryPolicy;
use crate::commerce::{Db, Fail, Mode, StoreFailure};
use crate::sealed::SecretKeys;

mod rows;
mod webhooks;

use rows::{EVENT_COLUMNS, EventRow, first_time};

pub(crate) type Result<T> = std::result::Result<T, Fail<EventStoreError>>;

impl StoreFailure for EventStoreError {
    fn unavailable() -> Self {
        Self::Unavailable
    }

    fn internal() -> Self {
        Self::Internal
    }
}

/// Events, consumers and webhooks.
#[derive(Clone)]
pub struct PostgresEvents {
    pub(crate) db: Db,
    pub(crate) key: SecretKeys,
}

impl std::fmt::Debug for PostgresEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresEvents")
            .field("pool_size", &self.db.pool_size())
            .finish_non_exhaustive()
    }
}

pub(crate) fn refuse<T>(error: impl Into<EventStoreError>) -> Result<T> {
    Err(Fail::Domain(error.into()))
}

pub(crate) fn corrupt(what: &'static str, value: &str) -> Fail<EventStoreError> {
    tracing::error!(what, value, "stored value does not parse");
    Fail::Domain(EventStoreError::Internal)
}

pub(crate) fn count(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

impl PostgresEvents {
    /// A store with at most `pool_size` connections; `key` seals endpoint secrets (the
    /// vault's webhook-secrets keyring, or a flat key).
    pub fn new(
        database_url: &str,
        pool_size: u32,
        retry: RetryPolicy,
        key: impl Into<SecretKeys>,
    ) -> Self {
        Self {
            db: Db::new(database_url, pool_size, retry),
            key: key.into(),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        operation: &'static str,
        mode: Mode,
        work: impl Fn(&mut PgConnection) -> Result<T> + Send + 'static,
    ) -> std::result::Result<T, EventStoreError> {
        self.db.run(operation, mode, work).await
    }
}

impl ActivityStore for PostgresEvents {
    // --- consumers ---------------------------------------------------------------------------

    /// The activity consumer: counts each event against its seller's `event_counts`, once,
    /// all in one transaction. An event about a seller this database does not know (yet) is
    /// answered `NotFound` and changes nothing; the caller retries it later.
    async fn count_events(
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
            let known: BTreeSet<Uuid> = sellers::table
                .filter(sellers::id.eq_any(&sellers))
                .select(sellers::id)
                .load::<Uuid>(conn)?
                .into_iter()
                .collect();
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
                if !new.contains(&event.id.as_uuid()) || !counted.insert(event.id) {
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
                // raw SQL: the upsert adds to the stored count and keeps the later instant (GREATEST).
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
    async fn event_counts(
        &self,
        seller: SellerId,
    ) -> std::result::Result<Vec<(String, u64)>, EventStoreError> {
        self.run("event_counts", Mode::Read, move |conn| {
            let rows: Vec<(String, i64)> = event_counts::table
                .filter(event_counts::seller_id.eq(seller.as_uuid()))
                .order(event_counts::event_type)
                .select((event_counts::event_type, event_counts::events))
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(|(event_type, events)| (event_type, u64::try_from(events).unwrap_or(0)))
                .collect())
        })
        .await
    }
}

impl Outbox for PostgresEvents {
    async fn claim(
        &self,
        limit: u32,
        lease: Duration,
        now: Timestamp,
    ) -> std::result::Result<Vec<EventEnvelope>, EventStoreError> {
        self.run("claim_events", Mode::Queue, move |conn| {
            // raw SQL: FOR UPDATE SKIP LOCKED in a CTE feeding an UPDATE ... FROM ... RETURNING.
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
        let ids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        self.run("mark_sent", Mode::Queue, move |conn| {
            diesel::update(
                outbox_events::table
                    .filter(outbox_events::id.eq_any(&ids))
                    .filter(outbox_events::sent_at.is_null()),
            )
            .set(outbox_events::sent_at.eq(now.as_micros()))
            .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn release(&self, ids: &[EventId]) -> std::result::Result<(), EventStoreError> {
        let ids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        self.run("release_events", Mode::Queue, move |conn| {
            diesel::update(
                outbox_events::table
                    .filter(outbox_events::id.eq_any(&ids))
                    .filter(outbox_events::sent_at.is_null()),
            )
            .set(outbox_events::lease_until.eq(None::<i64>))
            .execute(conn)?;
            Ok(())
        })
        .await
    }
}
