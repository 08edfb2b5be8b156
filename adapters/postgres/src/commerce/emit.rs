//! Writing events to the outbox inside the transaction of the change they describe.
//!
//! Each emitter reads the resource as the transaction now sees it (so the payload carries the
//! new state) and inserts one event per seller concerned. Event ids are derived from the
//! subject and the type, and inserts skip ids already present, so a transaction retried after
//! a lost commit answer writes nothing twice.

use bazaar_domain::events::EventType;
use bazaar_domain::orders::PaymentState;
use bazaar_ledger::Timestamp;
use bazaar_schema::schema::payments;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{Jsonb, Nullable, Uuid as SqlUuid};
use uuid::Uuid;

use super::Fail;

type Result<T, E> = std::result::Result<T, Fail<E>>;

/// A resource as one seller's event describes it.
#[derive(QueryableByName)]
struct Source {
    /// What the event id derives from: the resource, or the seller's part of it.
    #[diesel(sql_type = SqlUuid)]
    subject: Uuid,
    #[diesel(sql_type = SqlUuid)]
    resource_id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    seller_id: Option<Uuid>,
    #[diesel(sql_type = Jsonb)]
    payload: serde_json::Value,
}

const ORDER_SOURCE: &str = "SELECT o.id AS subject, o.id AS resource_id, o.seller_id, \
     jsonb_build_object('order_id', o.id, 'checkout_id', o.checkout_id, 'seller_id', o.seller_id, \
       'state', o.state, 'currency', o.currency::TEXT, 'total_minor', o.total_minor, \
       'settlement_currency', o.settlement_currency::TEXT) AS payload \
     FROM orders o";

const PAYMENT_SOURCE: &str = "SELECT o.id AS subject, p.id AS resource_id, o.seller_id, \
     jsonb_build_object('payment_id', p.id, 'order_id', o.id, 'state', p.state, \
       'provider', p.provider, 'method', p.method, 'currency', p.currency::TEXT, \
       'order_total_minor', o.total_minor) AS payload \
     FROM payments p JOIN orders o ON o.checkout_id = p.checkout_id";

const REFUND_SOURCE: &str = "SELECT r.id AS subject, r.id AS resource_id, o.seller_id, \
     jsonb_build_object('refund_id', r.id, 'payment_id', r.payment_id, 'order_id', o.id, \
       'line_id', r.line_id, 'state', r.state, 'amount_minor', r.amount_minor, \
       'currency', r.currency::TEXT, 'chargeback', r.chargeback) AS payload \
     FROM refunds r JOIN order_lines l ON l.id = r.line_id JOIN orders o ON o.id = l.order_id";

const REVIEW_SOURCE: &str = "SELECT v.id AS subject, v.id AS resource_id, p.seller_id, \
     jsonb_build_object('review_id', v.id, 'product_id', v.product_id, 'order_id', v.order_id, \
       'rating', v.rating, 'body', v.body) AS payload \
     FROM reviews v JOIN products p ON p.id = v.product_id";

const ENDPOINT_SOURCE: &str = "SELECT e.id AS subject, e.id AS resource_id, e.seller_id, \
     jsonb_build_object('endpoint_id', e.id, 'url', e.url, 'state', e.state, \
       'disabled_reason', e.disabled_reason, 'consecutive_failures', e.consecutive_failures) AS payload \
     FROM webhook_endpoints e";

/// Writes an event of `event_type` for every row `source` + `filter` yields, `filter` having
/// one uuid parameter (`$1`).
fn emit<E>(
    conn: &mut PgConnection,
    event_type: EventType,
    source: &str,
    filter: &str,
    id: Uuid,
    now: Timestamp,
) -> Result<(), E> {
    emit_as(conn, event_type, source, filter, id, None, now)
}

/// [`emit`], with the event id derived from `subject` when given (for events that can happen
/// to the same resource more than once).
fn emit_as<E>(
    conn: &mut PgConnection,
    event_type: EventType,
    source: &str,
    filter: &str,
    id: Uuid,
    subject: Option<Uuid>,
    now: Timestamp,
) -> Result<(), E> {
    // raw SQL: source and filter SQL composed at run time; jsonb_build_object payloads
    let sources: Vec<Source> = sql_query(format!("{source} WHERE {filter}"))
        .bind::<SqlUuid, _>(id)
        .load(conn)?;
    for source in sources {
        let event = crate::outbox::OutboxEvent {
            event_type,
            subject: subject.unwrap_or(source.subject),
            resource_id: source.resource_id,
            seller_id: source.seller_id,
            payload: &source.payload,
        };
        crate::outbox::write(conn, &event, now)?;
    }
    Ok(())
}

/// `event_type` for each order of a checkout that is now in `state`.
pub(crate) fn checkout_orders<E>(
    conn: &mut PgConnection,
    event_type: EventType,
    checkout: Uuid,
    states: &[&str],
    now: Timestamp,
) -> Result<(), E> {
    let states = states
        .iter()
        .map(|s| format!("'{}'", s.replace('\'', "")))
        .collect::<Vec<_>>()
        .join(", ");
    emit(
        conn,
        event_type,
        ORDER_SOURCE,
        &format!("o.checkout_id = $1 AND o.state IN ({states})"),
        checkout,
        now,
    )
}

/// `order.created` for each order of these new checkouts, built from their plans (the rows
/// were just written from them) and written in one statement. The payload is
/// [`ORDER_SOURCE`]'s.
pub(crate) fn created_orders<E>(
    conn: &mut PgConnection,
    plans: &[&bazaar_domain::orders::CheckoutPlan],
    now: Timestamp,
) -> Result<(), E> {
    let payloads: Vec<(Uuid, Uuid, serde_json::Value)> = plans
        .iter()
        .flat_map(|plan| plan.orders.iter().map(move |order| (plan, order)))
        .map(|(plan, order)| {
            let (id, seller) = (order.id.as_uuid(), order.seller_id.as_uuid());
            let payload = serde_json::json!({
                "order_id": id,
                "checkout_id": plan.id.as_uuid(),
                "seller_id": seller,
                "state": "awaiting_payment",
                "currency": plan.currency.code(),
                "total_minor": order.total.minor(),
                "settlement_currency": order.settlement_currency.code(),
            });
            (id, seller, payload)
        })
        .collect();
    let events: Vec<crate::outbox::OutboxEvent<'_>> = payloads
        .iter()
        .map(|(id, seller, payload)| crate::outbox::OutboxEvent {
            event_type: EventType::OrderCreated,
            subject: *id,
            resource_id: *id,
            seller_id: Some(*seller),
            payload,
        })
        .collect();
    crate::outbox::write_all(conn, &events, now)?;
    Ok(())
}

/// `event_type` for one order.
pub(crate) fn order<E>(
    conn: &mut PgConnection,
    event_type: EventType,
    order: Uuid,
    now: Timestamp,
) -> Result<(), E> {
    emit(conn, event_type, ORDER_SOURCE, "o.id = $1", order, now)
}

/// The event of a payment now in `state`, one per order it pays; states no one is told about
/// (pending) emit nothing.
pub(crate) fn payment<E>(
    conn: &mut PgConnection,
    payment: Uuid,
    state: PaymentState,
    now: Timestamp,
) -> Result<(), E> {
    let event_type = match state {
        PaymentState::Pending => return Ok(()),
        PaymentState::Authorised => EventType::PaymentAuthorised,
        PaymentState::Captured => EventType::PaymentCaptured,
        PaymentState::Cancelled => EventType::PaymentCancelled,
        PaymentState::Refused | PaymentState::Expired => EventType::PaymentFailed,
    };
    emit(conn, event_type, PAYMENT_SOURCE, "p.id = $1", payment, now)
}

/// Payment events for every payment of a checkout now in `state`.
pub(crate) fn checkout_payments<E>(
    conn: &mut PgConnection,
    checkout: Uuid,
    state: PaymentState,
    now: Timestamp,
) -> Result<(), E> {
    let ids: Vec<Uuid> = payments::table
        .filter(payments::checkout_id.eq(checkout))
        .filter(payments::state.eq(state.as_str()))
        .select(payments::id)
        .load(conn)?;
    for id in ids {
        payment(conn, id, state, now)?;
    }
    Ok(())
}

/// `event_type` for one refund.
pub(crate) fn refund<E>(
    conn: &mut PgConnection,
    event_type: EventType,
    refund: Uuid,
    now: Timestamp,
) -> Result<(), E> {
    emit(conn, event_type, REFUND_SOURCE, "r.id = $1", refund, now)
}

/// `review.created` for one review.
pub(crate) fn review<E>(conn: &mut PgConnection, review: Uuid, now: Timestamp) -> Result<(), E> {
    emit(
        conn,
        EventType::ReviewCreated,
        REVIEW_SOURCE,
        "v.id = $1",
        review,
        now,
    )
}

/// `event_type` for one webhook endpoint; `occurrence` tells this occurrence from earlier ones
/// (an endpoint can be disabled, enabled and disabled again).
pub(crate) fn endpoint<E>(
    conn: &mut PgConnection,
    event_type: EventType,
    endpoint: Uuid,
    occurrence: Uuid,
    now: Timestamp,
) -> Result<(), E> {
    emit_as(
        conn,
        event_type,
        ENDPOINT_SOURCE,
        "e.id = $1",
        endpoint,
        Some(occurrence),
        now,
    )
}
