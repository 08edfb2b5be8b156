//! Webhook endpoints, deliveries and attempts: the [`WebhookStore`] on PostgreSQL. The
//! decisions (who hears an event, what an attempt leaves, when an endpoint is disabled) are
//! the core's [`rules`]; this file reads the rows they need and writes what they decide.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bazaar_domain::chart::SellerId;
use bazaar_domain::events::{EventEnvelope, EventId, EventStoreError, EventType};
use bazaar_domain::orders::derive_id;
use bazaar_domain::webhooks::rules::{self, EndpointHealth, Subscription};
use bazaar_domain::webhooks::{
    AttemptOutcome, AttemptResult, DeliveryId, DeliveryJob, DeliveryRecord, DeliveryState,
    EndpointId, EndpointSecret, NewEndpoint, WebhookEndpoint, WebhookStore,
};
use bazaar_ledger::Timestamp;
use bazaar_schema::schema::{sellers, webhook_deliveries, webhook_endpoints};
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Uuid as SqlUuid};
use uuid::Uuid;

use super::rows::{
    DELIVERY_SELECT, DeliveryRow, EndpointRow, delivery_by_id, delivery_records, endpoint_rows,
    events_by_id, first_time, one_endpoint, outcome_name, seal_secret,
};
use super::{PostgresEvents, Result, count, refuse};
use crate::commerce::{Fail, Mode, emit};
use crate::sealed::SecretKeys;

/// Builds the jobs for claimed deliveries; deliveries whose endpoint is disabled are closed
/// as failed instead.
fn jobs_for(
    conn: &mut PgConnection,
    key: &SecretKeys,
    claimed: Vec<DeliveryRow>,
    now: Timestamp,
) -> Result<Vec<DeliveryJob>> {
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let event_ids: Vec<Uuid> = claimed.iter().map(|d| d.event_id).collect();
    let events = events_by_id(conn, &event_ids)?;
    let endpoint_ids: Vec<Uuid> = claimed.iter().map(|d| d.endpoint_id).collect();
    let endpoints: Vec<EndpointRow> = webhook_endpoints::table
        .filter(webhook_endpoints::id.eq_any(&endpoint_ids))
        .select(EndpointRow::as_select())
        .load(conn)?;
    let events: BTreeMap<Uuid, EventEnvelope> =
        events.into_iter().map(|e| (e.id.as_uuid(), e)).collect();
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
            diesel::update(webhook_deliveries::table.find(delivery.id))
                .set((
                    webhook_deliveries::state.eq("failed"),
                    webhook_deliveries::next_attempt_at.eq(None::<i64>),
                    webhook_deliveries::last_error.eq("endpoint disabled"),
                    webhook_deliveries::updated_at.eq(now.as_micros()),
                ))
                .execute(conn)?;
            continue;
        };
        jobs.push(DeliveryJob {
            delivery_id: DeliveryId::from_uuid(delivery.id),
            endpoint_id: EndpointId::from_uuid(endpoint.id),
            url: endpoint.url.clone(),
            secrets: secrets.clone(),
            event: event.clone(),
            attempts: count(delivery.attempts),
            first_attempt_at: delivery.first_attempt_at.map(Timestamp::from_micros),
        });
    }
    Ok(jobs)
}

#[derive(QueryableByName)]
struct RecordedRow {
    #[diesel(sql_type = Integer)]
    attempt: i32,
    #[diesel(sql_type = Nullable<Text>)]
    endpoint_state: Option<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    failures: Option<i32>,
}

/// Records one attempt (see [`WebhookStore::record_attempts`]).
fn record_attempt(
    conn: &mut PgConnection,
    delivery: Uuid,
    endpoint: Uuid,
    result: &AttemptResult,
    disable_after: u32,
    now: Timestamp,
) -> Result<()> {
    let state = rules::delivery_state_after(result);
    // A success only ever resets the run of failures, which needs no read-modify-write: only
    // failures lock the endpoint, so concurrent successes on one endpoint do not queue.
    let lock = if matches!(result.outcome, AttemptOutcome::Delivered) {
        ""
    } else {
        " FOR UPDATE"
    };
    // One statement locks the endpoint (after a failure), moves the delivery on (only if
    // still pending: another worker may have finished it after this one's lease ran out),
    // logs the attempt under the delivery's new attempt count, and reads the endpoint's run
    // of failures.
    // raw SQL: data-modifying CTEs (UPDATE, INSERT ... RETURNING); the builder has no WITH
    let recorded: Vec<RecordedRow> = sql_query(format!(
        "WITH ep AS ( \
           SELECT state, consecutive_failures FROM webhook_endpoints WHERE id = $11{lock}), \
         d AS ( \
           UPDATE webhook_deliveries SET state = $2, attempts = attempts + 1, \
             first_attempt_at = COALESCE(first_attempt_at, $3), next_attempt_at = $4, \
             last_status = $5, last_error = $6, updated_at = $7 \
           WHERE id = $1 AND state = 'pending' RETURNING id, attempts), \
         a AS ( \
           INSERT INTO webhook_attempts (delivery_id, attempt, started_at, status_code, latency_ms, \
                                         outcome, error, next_attempt_at) \
           SELECT id, attempts, $3, $5, $8, $9, $6, $10 FROM d RETURNING attempt) \
         SELECT a.attempt, ep.state AS endpoint_state, ep.consecutive_failures AS failures \
         FROM a LEFT JOIN ep ON TRUE"
    ))
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
    .load(conn)?;
    let Some(row) = recorded.first() else {
        // Finished by another worker, or gone: nothing to record.
        return Ok(());
    };
    let Some(endpoint_state) = &row.endpoint_state else {
        return Ok(());
    };
    let failures = count(row.failures.unwrap_or(0));
    let health = rules::health_after(
        failures,
        endpoint_state == "enabled",
        result.outcome,
        disable_after,
    );
    apply_health(conn, endpoint, failures, &health, now)?;
    if let EndpointHealth::Disabled { .. } = health {
        tracing::warn!(%endpoint, disable_after, "webhook endpoint disabled after repeated failures");
        let occurrence = derive_id(delivery, &format!("disabled:{}", row.attempt));
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

/// Writes an endpoint's new health; a success on an endpoint with no failures writes nothing.
fn apply_health(
    conn: &mut PgConnection,
    endpoint: Uuid,
    failures: u32,
    health: &EndpointHealth,
    now: Timestamp,
) -> Result<()> {
    let (failures_after, disabled_reason) = match health {
        EndpointHealth::Recovered if failures == 0 => return Ok(()),
        EndpointHealth::Recovered => (0, None),
        EndpointHealth::Failing { failures } => (*failures, None),
        EndpointHealth::Disabled { failures, reason } => (*failures, Some(reason.as_str())),
    };
    let failures_after = i32::try_from(failures_after).unwrap_or(i32::MAX);
    let target = webhook_endpoints::table.find(endpoint);
    let health = (
        webhook_endpoints::consecutive_failures.eq(failures_after),
        webhook_endpoints::updated_at.eq(now.as_micros()),
    );
    match disabled_reason {
        Some(reason) => diesel::update(target)
            .set((
                health,
                webhook_endpoints::state.eq("disabled"),
                webhook_endpoints::disabled_reason.eq(reason),
            ))
            .execute(conn)?,
        None => diesel::update(target).set(health).execute(conn)?,
    };
    Ok(())
}

impl WebhookStore for PostgresEvents {
    async fn fan_out(
        &self,
        consumer: &'static str,
        events: &[EventEnvelope],
        lease: Duration,
        now: Timestamp,
    ) -> std::result::Result<Vec<Option<Vec<DeliveryJob>>>, EventStoreError> {
        let events = events.to_vec();
        let key = self.key.ready_to_open("fan_out").await;
        self.run("fan_out", Mode::Queue, move |conn| {
            let sellers: Vec<Uuid> = events
                .iter()
                .filter_map(|e| e.seller_id.map(SellerId::as_uuid))
                .collect();
            let endpoints: Vec<EndpointRow> = webhook_endpoints::table
                .filter(webhook_endpoints::seller_id.eq_any(&sellers))
                .filter(webhook_endpoints::state.eq("enabled"))
                .select(EndpointRow::as_select())
                .load(conn)?;
            // Each endpoint's patterns are parsed and its secrets opened once per chunk.
            let subscriptions = endpoints
                .iter()
                .map(|e| {
                    Ok(Subscription {
                        endpoint: EndpointId::from_uuid(e.id),
                        seller: SellerId::from_uuid(e.seller_id),
                        patterns: e.patterns()?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let mut secrets = BTreeMap::new();
            for endpoint in &endpoints {
                secrets.insert(endpoint.id, (endpoint, endpoint.secrets(&key, now)));
            }
            let ids: Vec<EventId> = events.iter().map(|e| e.id).collect();
            let new = first_time(conn, consumer, &ids, now)?;
            let mut answers: Vec<Option<Vec<DeliveryJob>>> = Vec::with_capacity(events.len());
            let mut handled = BTreeSet::new();
            let mut claimed = Vec::new();
            for event in &events {
                if !new.contains(&event.id.as_uuid()) || !handled.insert(event.id) {
                    answers.push(None);
                    continue;
                }
                let mut jobs = Vec::new();
                for planned in rules::deliveries_for(event, &subscriptions) {
                    let Some((endpoint, secrets)) = secrets.get(&planned.endpoint.as_uuid())
                    else {
                        continue;
                    };
                    claimed.push((planned.id.as_uuid(), endpoint.id, event.id.as_uuid()));
                    jobs.push(DeliveryJob {
                        delivery_id: planned.id,
                        endpoint_id: planned.endpoint,
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
            // raw SQL: INSERT ... SELECT FROM unnest($1::UUID[], ...), one statement per batch
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
    async fn claim_deliveries(
        &self,
        limit: u32,
        lease: Duration,
        now: Timestamp,
    ) -> std::result::Result<Vec<DeliveryJob>, EventStoreError> {
        let key = self.key.ready_to_open("claim_deliveries").await;
        self.run("claim_deliveries", Mode::Queue, move |conn| {
            // raw SQL: FOR UPDATE SKIP LOCKED inside a CTE feeding UPDATE ... FROM ... RETURNING
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
    async fn record_attempts(
        &self,
        attempts: &[(DeliveryJob, AttemptResult)],
        disable_after: u32,
        now: Timestamp,
    ) -> std::result::Result<(), EventStoreError> {
        let mut attempts: Vec<(Uuid, Uuid, AttemptResult)> = attempts
            .iter()
            .map(|(job, result)| {
                (
                    job.endpoint_id.as_uuid(),
                    job.delivery_id.as_uuid(),
                    result.clone(),
                )
            })
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
    async fn create_endpoint(
        &self,
        endpoint: NewEndpoint,
        now: Timestamp,
    ) -> std::result::Result<WebhookEndpoint, EventStoreError> {
        let key = self.key.ready_to_seal::<EventStoreError>().await?;
        let NewEndpoint {
            id,
            seller,
            url,
            patterns,
            secret,
        } = endpoint;
        let id = id.as_uuid();
        self.run("create_endpoint", Mode::Write, move |conn| {
            let region: Option<String> = sellers::table
                .find(seller.as_uuid())
                .select(sellers::home_region)
                .first(conn)
                .optional()?;
            let Some(region) = region else {
                return refuse(EventStoreError::NotFound("seller"));
            };
            let existing: i64 = webhook_endpoints::table
                .filter(webhook_endpoints::seller_id.eq(seller.as_uuid()))
                .count()
                .get_result(conn)?;
            rules::may_add_endpoint(u64::try_from(existing).unwrap_or(0))
                .map_err(|e| Fail::Domain(e.into()))?;
            let types: Vec<String> = patterns.iter().map(|p| p.as_str().to_owned()).collect();
            diesel::insert_into(webhook_endpoints::table)
                .values((
                    webhook_endpoints::id.eq(id),
                    webhook_endpoints::seller_id.eq(seller.as_uuid()),
                    webhook_endpoints::url.eq(url.as_str()),
                    webhook_endpoints::event_types.eq(&types),
                    webhook_endpoints::secret_sealed.eq(seal_secret(&key, &secret, id)?),
                    webhook_endpoints::state.eq("enabled"),
                    webhook_endpoints::consecutive_failures.eq(0),
                    webhook_endpoints::created_at.eq(now.as_micros()),
                    webhook_endpoints::updated_at.eq(now.as_micros()),
                    webhook_endpoints::home_region.eq(&region),
                ))
                .execute(conn)?;
            Ok(one_endpoint(conn, seller.as_uuid(), id)?.view(now))
        })
        .await
    }

    /// Replaces an endpoint's secret; the old one keeps signing (beside the new) for `overlap`.
    async fn rotate_secret(
        &self,
        seller: SellerId,
        endpoint: EndpointId,
        secret: EndpointSecret,
        overlap: Duration,
        now: Timestamp,
    ) -> std::result::Result<WebhookEndpoint, EventStoreError> {
        let key = self.key.ready_to_seal::<EventStoreError>().await?;
        let endpoint = endpoint.as_uuid();
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
            diesel::update(webhook_endpoints::table.find(endpoint))
                .set((
                    webhook_endpoints::secret_sealed.eq(seal_secret(&key, &secret, endpoint)?),
                    webhook_endpoints::previous_secret_sealed.eq(previous),
                    webhook_endpoints::previous_secret_expires_at.eq(until),
                    webhook_endpoints::updated_at.eq(now.as_micros()),
                ))
                .execute(conn)?;
            Ok(one_endpoint(conn, seller.as_uuid(), endpoint)?.view(now))
        })
        .await
    }

    /// Enables (resetting its failure count) or disables an endpoint.
    async fn set_endpoint_enabled(
        &self,
        seller: SellerId,
        endpoint: EndpointId,
        enabled: bool,
        now: Timestamp,
    ) -> std::result::Result<WebhookEndpoint, EventStoreError> {
        let endpoint = endpoint.as_uuid();
        self.run("set_endpoint_enabled", Mode::Write, move |conn| {
            one_endpoint(conn, seller.as_uuid(), endpoint)?;
            let target = webhook_endpoints::table.find(endpoint);
            let touched = webhook_endpoints::updated_at.eq(now.as_micros());
            if enabled {
                diesel::update(target)
                    .set((
                        webhook_endpoints::state.eq("enabled"),
                        webhook_endpoints::disabled_reason.eq(None::<String>),
                        webhook_endpoints::consecutive_failures.eq(0),
                        touched,
                    ))
                    .execute(conn)?;
            } else {
                diesel::update(target)
                    .set((
                        webhook_endpoints::state.eq("disabled"),
                        webhook_endpoints::disabled_reason.eq("disabled by the seller"),
                        touched,
                    ))
                    .execute(conn)?;
            }
            Ok(one_endpoint(conn, seller.as_uuid(), endpoint)?.view(now))
        })
        .await
    }

    /// A seller's endpoints, oldest first.
    async fn endpoints(
        &self,
        seller: SellerId,
        now: Timestamp,
    ) -> std::result::Result<Vec<WebhookEndpoint>, EventStoreError> {
        self.run("endpoints", Mode::Read, move |conn| {
            Ok(endpoint_rows(conn, seller.as_uuid())?
                .iter()
                .map(|r| r.view(now))
                .collect())
        })
        .await
    }

    /// An endpoint's deliveries, newest first, created before `before` (a delivery id from an
    /// earlier page), at most `limit`.
    async fn deliveries(
        &self,
        seller: SellerId,
        endpoint: EndpointId,
        before: Option<DeliveryId>,
        limit: u32,
    ) -> std::result::Result<Vec<DeliveryRecord>, EventStoreError> {
        let (endpoint, before) = (endpoint.as_uuid(), before.map(DeliveryId::as_uuid));
        self.run("deliveries", Mode::Read, move |conn| {
            // raw SQL: row-value (created_at, id) < (SELECT ...) keyset over a join
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
    async fn replay(
        &self,
        seller: SellerId,
        delivery: DeliveryId,
        now: Timestamp,
    ) -> std::result::Result<DeliveryRecord, EventStoreError> {
        let delivery = delivery.as_uuid();
        self.run("replay", Mode::Write, move |conn| {
            let endpoint_id: Option<Uuid> = webhook_deliveries::table
                .filter(webhook_deliveries::id.eq(delivery))
                .filter(webhook_deliveries::seller_id.eq(seller.as_uuid()))
                .select(webhook_deliveries::endpoint_id)
                .for_update()
                .first(conn)
                .optional()?;
            let Some(endpoint_id) = endpoint_id else {
                return refuse(EventStoreError::NotFound("delivery"));
            };
            let endpoint = one_endpoint(conn, seller.as_uuid(), endpoint_id)?;
            rules::may_replay(endpoint.state == "enabled").map_err(|e| Fail::Domain(e.into()))?;
            diesel::update(webhook_deliveries::table.find(delivery))
                .set((
                    webhook_deliveries::state.eq("pending"),
                    webhook_deliveries::next_attempt_at.eq(now.as_micros()),
                    webhook_deliveries::first_attempt_at.eq(None::<i64>),
                    webhook_deliveries::updated_at.eq(now.as_micros()),
                ))
                .execute(conn)?;
            let rows: Vec<DeliveryRow> = delivery_by_id(conn, delivery)?.into_iter().collect();
            delivery_records(conn, rows)?
                .into_iter()
                .next()
                .ok_or(Fail::Domain(EventStoreError::Internal))
        })
        .await
    }
}
