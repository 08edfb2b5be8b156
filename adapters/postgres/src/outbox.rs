//! Writing one event to the outbox, in the caller's transaction.

use bazaar_domain::events::{EVENT_VERSION, EventType, event_id};
use bazaar_ledger::Timestamp;
use bazaar_schema::schema::outbox_events;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use uuid::Uuid;

/// One event: its id derives from `subject` and the type, so writing it again is a no-op.
pub(crate) struct OutboxEvent<'a> {
    pub event_type: EventType,
    pub subject: Uuid,
    pub resource_id: Uuid,
    pub seller_id: Option<Uuid>,
    pub payload: &'a serde_json::Value,
}

/// Writes `event` to the outbox at `now`, once.
pub(crate) fn write(
    conn: &mut PgConnection,
    event: &OutboxEvent<'_>,
    now: Timestamp,
) -> QueryResult<()> {
    write_all(conn, std::slice::from_ref(event), now)
}

/// Writes `events` to the outbox at `now`, each once, in one statement.
pub(crate) fn write_all(
    conn: &mut PgConnection,
    events: &[OutboxEvent<'_>],
    now: Timestamp,
) -> QueryResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = events
        .iter()
        .map(|event| {
            (
                outbox_events::id.eq(event_id(event.subject, event.event_type).as_uuid()),
                outbox_events::event_type.eq(event.event_type.as_str()),
                outbox_events::version.eq(i32::try_from(EVENT_VERSION).unwrap_or(i32::MAX)),
                outbox_events::resource_type.eq(event.event_type.resource_type()),
                outbox_events::resource_id.eq(event.resource_id),
                outbox_events::seller_id.eq(event.seller_id),
                outbox_events::payload.eq(event.payload),
                outbox_events::occurred_at.eq(now.as_micros()),
            )
        })
        .collect();
    diesel::insert_into(outbox_events::table)
        .values(rows)
        .on_conflict(outbox_events::id)
        .do_nothing()
        .execute(conn)?;
    Ok(())
}
