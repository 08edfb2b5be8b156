//! Provider payment events: the change the domain decided, persisted with its effects.

use bazaar_schema::schema::{
    checkouts, ledger_intents, order_lines, orders, payment_events, payments, refunds,
    stock_reservations,
};
use diesel::prelude::*;

use super::*;

pub(crate) fn apply_payment_event(
    conn: &mut PgConnection,
    payment_id: PaymentId,
    event_id: Option<&str>,
    event: &PaymentEvent,
    now: Timestamp,
) -> Result<EventOutcome> {
    let payment = payment(conn, payment_id.as_uuid(), true)?
        .ok_or(Fail::Domain(CommerceError::NotFound("payment")))?;
    if let Some(event_id) = event_id {
        let inserted = diesel::insert_into(payment_events::table)
            .values((
                payment_events::provider.eq(payment.provider.as_str()),
                payment_events::event_id.eq(event_id),
                payment_events::payment_id.eq(payment_id.as_uuid()),
                payment_events::received_at.eq(now.as_micros()),
            ))
            .on_conflict((payment_events::provider, payment_events::event_id))
            .do_nothing()
            .execute(conn)?;
        if inserted == 0 {
            return Ok(EventOutcome {
                duplicate: true,
                intents: Vec::new(),
                refunds: Vec::new(),
            });
        }
    }
    let checkout = lock_checkout(conn, payment.checkout_id.as_uuid())?;
    let checkout_state = rows::checkout_state(&checkout.state)?;
    let mut outcome = EventOutcome {
        duplicate: false,
        intents: Vec::new(),
        refunds: Vec::new(),
    };
    // The rule decides; this persists the change it named and the payment state it leaves
    // (the checkout follows in `mark_paid` and `cancel_checkout`).
    let change = payment_change(payment.state, checkout_state, event);
    let (payment_after, _) = change.states_after(payment.state, checkout_state);
    match change {
        PaymentChange::Nothing => {}
        PaymentChange::Authorise => {
            set_payment_state(conn, payment_id, payment_after, now)?;
        }
        PaymentChange::Capture => {
            set_payment_state(conn, payment_id, payment_after, now)?;
            mark_paid(conn, checkout.id, now)?;
            outcome
                .intents
                .push(add_intent(conn, "capture", payment_id.as_uuid(), now)?);
        }
        PaymentChange::CaptureLate => capture_late(conn, &payment, now, &mut outcome)?,
        PaymentChange::Fail(_) => {
            set_payment_state(conn, payment_id, payment_after, now)?;
            cancel_checkout(conn, checkout.id, now)?;
        }
        PaymentChange::ConfirmRefund(refund_id) => {
            if let Some(intent) = confirm_refund(conn, refund_id, now)? {
                outcome.intents.push(intent);
            }
        }
        PaymentChange::FailRefund(refund_id) => fail_refund(conn, refund_id, now)?,
        PaymentChange::Chargeback => {
            let intents = chargeback(conn, &payment, event_id.unwrap_or("sync"), now)?;
            outcome.intents.extend(intents);
        }
    }
    Ok(outcome)
}

/// Persists a [`PaymentChange::CaptureLate`]: the payment is captured (late), its capture is
/// queued for the ledger (posted to the captured-but-unfulfilled account), and every line's
/// unrefunded remainder becomes a platform refund to send. The orders stay cancelled.
pub(crate) fn capture_late(
    conn: &mut PgConnection,
    payment: &PaymentRecord,
    now: Timestamp,
    outcome: &mut EventOutcome,
) -> Result<()> {
    tracing::warn!(payment_id = %payment.id, checkout_id = %payment.checkout_id.as_uuid(),
        "payment captured after its checkout was cancelled; refunding it in full");
    diesel::update(payments::table.find(payment.id.as_uuid()))
        .set((
            payments::state.eq(PaymentState::Captured.as_str()),
            payments::captured_late.eq(true),
            payments::updated_at.eq(now.as_micros()),
        ))
        .execute(conn)?;
    emit::payment(conn, payment.id.as_uuid(), PaymentState::Captured, now)?;
    outcome
        .intents
        .push(add_intent(conn, "capture", payment.id.as_uuid(), now)?);
    for (id, _, _) in refund_remainders(conn, payment, "capture_late", false, now)? {
        emit::refund(conn, EventType::RefundRequested, id, now)?;
        let record = refund(conn, id, false)?.ok_or(Fail::Domain(CommerceError::Internal))?;
        outcome.refunds.push(refund_record(record)?);
    }
    Ok(())
}

pub(crate) fn set_payment_state(
    conn: &mut PgConnection,
    id: PaymentId,
    state: PaymentState,
    now: Timestamp,
) -> Result<()> {
    diesel::update(payments::table.find(id.as_uuid()))
        .set((
            payments::state.eq(state.as_str()),
            payments::updated_at.eq(now.as_micros()),
        ))
        .execute(conn)?;
    emit::payment(conn, id.as_uuid(), state, now)
}

#[derive(diesel::QueryableByName)]
pub(crate) struct PaidOrderRow {
    #[diesel(sql_type = SqlUuid)]
    pub(crate) id: Uuid,
    #[diesel(sql_type = Bool)]
    pub(crate) physical: bool,
}

/// Persists a capture's effect on the checkout: held stock is consumed, the checkout is paid,
/// and each order awaiting payment moves to [`OrderState::when_paid`].
pub(crate) fn mark_paid(conn: &mut PgConnection, checkout: Uuid, now: Timestamp) -> Result<()> {
    held_stock_changed(conn, checkout, now)?;
    // raw SQL: UPDATE skus ... FROM stock_reservations; the builder cannot update from a join
    sql_query(
        "UPDATE skus SET on_hand = skus.on_hand - r.quantity, reserved = skus.reserved - r.quantity \
         FROM stock_reservations r WHERE r.checkout_id = $1 AND r.state = 'held' AND skus.id = r.sku_id",
    )
    .bind::<SqlUuid, _>(checkout)
    .execute(conn)?;
    set_reservations(conn, checkout, "consumed")?;
    diesel::update(checkouts::table.find(checkout))
        .set(checkouts::state.eq(CheckoutState::Paid.as_str()))
        .execute(conn)?;
    // The domain decides each order's state; this writes it.
    // raw SQL: bool_or aggregate with GROUP BY over a join; diesel has no bool_or
    let awaiting: Vec<PaidOrderRow> = sql_query(
        "SELECT o.id, bool_or(l.kind = 'physical') AS physical FROM orders o \
         JOIN order_lines l ON l.order_id = o.id \
         WHERE o.checkout_id = $1 AND o.state = 'awaiting_payment' GROUP BY o.id",
    )
    .bind::<SqlUuid, _>(checkout)
    .load(conn)?;
    for state in [OrderState::Paid, OrderState::Delivered] {
        let ids: Vec<Uuid> = awaiting
            .iter()
            .filter(|o| OrderState::when_paid(o.physical) == state)
            .map(|o| o.id)
            .collect();
        if ids.is_empty() {
            continue;
        }
        diesel::update(
            orders::table
                .filter(orders::id.eq_any(&ids))
                .filter(orders::state.eq(OrderState::AwaitingPayment.as_str())),
        )
        .set((
            orders::state.eq(state.as_str()),
            orders::updated_at.eq(now.as_micros()),
        ))
        .execute(conn)?;
    }
    emit::checkout_orders(
        conn,
        EventType::OrderPaid,
        checkout,
        &["paid", "delivered"],
        now,
    )?;
    emit::checkout_orders(
        conn,
        EventType::OrderDelivered,
        checkout,
        &["delivered"],
        now,
    )
}

/// Moves a checkout's held stock reservations to `state` (`consumed` or `released`).
fn set_reservations(conn: &mut PgConnection, checkout: Uuid, state: &str) -> Result<()> {
    diesel::update(
        stock_reservations::table
            .filter(stock_reservations::checkout_id.eq(checkout))
            .filter(stock_reservations::state.eq("held")),
    )
    .set(stock_reservations::state.eq(state))
    .execute(conn)?;
    Ok(())
}

pub(crate) fn cancel_checkout(
    conn: &mut PgConnection,
    checkout: Uuid,
    now: Timestamp,
) -> Result<()> {
    held_stock_changed(conn, checkout, now)?;
    // raw SQL: UPDATE skus ... FROM stock_reservations; the builder cannot update from a join
    sql_query(
        "UPDATE skus SET reserved = skus.reserved - r.quantity \
         FROM stock_reservations r WHERE r.checkout_id = $1 AND r.state = 'held' AND skus.id = r.sku_id",
    )
    .bind::<SqlUuid, _>(checkout)
    .execute(conn)?;
    set_reservations(conn, checkout, "released")?;
    diesel::update(
        checkouts::table
            .find(checkout)
            .filter(checkouts::state.ne(CheckoutState::Paid.as_str())),
    )
    .set(checkouts::state.eq(CheckoutState::Cancelled.as_str()))
    .execute(conn)?;
    let cancelled: Vec<Uuid> = diesel::update(
        orders::table
            .filter(orders::checkout_id.eq(checkout))
            .filter(orders::state.eq(OrderState::AwaitingPayment.as_str())),
    )
    .set(orders::state.eq(OrderState::Cancelled.as_str()))
    .returning(orders::id)
    .get_results(conn)?;
    // A cancelled order no longer counts toward the tax thresholds.
    count_orders(
        conn,
        derive_id(checkout, "thresholds:cancelled"),
        &cancelled,
        -1,
    )?;
    emit::checkout_orders(
        conn,
        EventType::OrderCancelled,
        checkout,
        &["cancelled"],
        now,
    )
}

pub(crate) fn add_intent(
    conn: &mut PgConnection,
    kind: &str,
    subject: Uuid,
    now: Timestamp,
) -> Result<LedgerIntent> {
    let id = derive_id(subject, &format!("intent:{kind}"));
    diesel::insert_into(ledger_intents::table)
        .values((
            ledger_intents::id.eq(id),
            ledger_intents::kind.eq(kind),
            ledger_intents::subject_id.eq(subject),
            ledger_intents::created_at.eq(now.as_micros()),
        ))
        .on_conflict(ledger_intents::id)
        .do_nothing()
        .execute(conn)?;
    intent(id, kind, subject, 0)
}

pub(crate) fn intent(id: Uuid, kind: &str, subject: Uuid, attempts: i32) -> Result<LedgerIntent> {
    let kind = match kind {
        "capture" => IntentKind::Capture(PaymentId::from_uuid(subject)),
        "refund" => IntentKind::Refund(RefundId::from_uuid(subject)),
        other => return Err(rows::corrupt("intent kind", other)),
    };
    Ok(LedgerIntent {
        id: IntentId::from_uuid(id),
        kind,
        attempts: u32::try_from(attempts)
            .map_err(|_| rows::corrupt("intent attempts", &attempts.to_string()))?,
    })
}

pub(crate) fn refund(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<Option<RefundRow>> {
    let query = refunds::table.find(id).select(RefundRow::as_select());
    Ok(if lock {
        query.for_update().first(conn).optional()?
    } else {
        query.first(conn).optional()?
    })
}

pub(crate) fn lock_line(conn: &mut PgConnection, id: Uuid) -> Result<LineRow> {
    order_lines::table
        .find(id)
        .select(LineRow::as_select())
        .for_update()
        .first(conn)
        .optional()?
        .ok_or(Fail::Domain(CommerceError::NotFound("line")))
}

pub(crate) fn confirm_refund(
    conn: &mut PgConnection,
    id: RefundId,
    now: Timestamp,
) -> Result<Option<LedgerIntent>> {
    let row =
        refund(conn, id.as_uuid(), true)?.ok_or(Fail::Domain(CommerceError::NotFound("refund")))?;
    if rows::refund_state(&row.state)? != RefundState::Requested {
        return Ok(None);
    }
    let line = lock_line(conn, row.line_id)?;
    let before = line.refund_posted_minor;
    let after = before
        .checked_add(row.amount_minor)
        .ok_or(Fail::Domain(CommerceError::Internal))?;
    post_refund(conn, id.as_uuid(), line.id, before, after, now)?;
    Ok(Some(add_intent(conn, "refund", id.as_uuid(), now)?))
}

pub(crate) fn post_refund(
    conn: &mut PgConnection,
    refund: Uuid,
    line: Uuid,
    before: i64,
    after: i64,
    now: Timestamp,
) -> Result<()> {
    diesel::update(order_lines::table.find(line))
        .set(order_lines::refund_posted_minor.eq(after))
        .execute(conn)?;
    diesel::update(refunds::table.find(refund))
        .set((
            refunds::state.eq(RefundState::Succeeded.as_str()),
            refunds::posted_before_minor.eq(before),
            refunds::posted_after_minor.eq(after),
        ))
        .execute(conn)?;
    emit::refund(conn, EventType::RefundSucceeded, refund, now)
}

pub(crate) fn fail_refund(conn: &mut PgConnection, id: RefundId, now: Timestamp) -> Result<()> {
    let Some(row) = refund(conn, id.as_uuid(), true)? else {
        return refuse(CommerceError::NotFound("refund"));
    };
    if rows::refund_state(&row.state)? != RefundState::Requested {
        return Ok(());
    }
    release_requested(conn, row.line_id, row.amount_minor)?;
    diesel::update(refunds::table.find(id.as_uuid()))
        .set(refunds::state.eq(RefundState::Failed.as_str()))
        .execute(conn)?;
    emit::refund(conn, EventType::RefundFailed, id.as_uuid(), now)
}

/// Gives back `amount` of a line's requested refunds (a refund that failed).
#[expect(
    clippy::arithmetic_side_effects,
    reason = "`refund_requested_minor - amount` builds SQL; PostgreSQL does the (checked) arithmetic"
)]
fn release_requested(conn: &mut PgConnection, line: Uuid, amount: i64) -> Result<()> {
    diesel::update(order_lines::table.find(line))
        .set(order_lines::refund_requested_minor.eq(order_lines::refund_requested_minor - amount))
        .execute(conn)?;
    Ok(())
}

/// Records a refund of every line's unrefunded remainder (`key` names the cause, and with
/// the line makes the refund's id and idempotency key), marks those amounts requested, and
/// returns each refund's id with its line and amount.
pub(crate) fn refund_remainders(
    conn: &mut PgConnection,
    payment: &PaymentRecord,
    key: &str,
    chargeback: bool,
    now: Timestamp,
) -> Result<Vec<(Uuid, LineRow, i64)>> {
    let lines: Vec<LineRow> = order_lines::table
        .filter(
            order_lines::order_id.eq_any(
                orders::table
                    .filter(orders::checkout_id.eq(payment.checkout_id.as_uuid()))
                    .select(orders::id),
            ),
        )
        .order(order_lines::id)
        .select(LineRow::as_select())
        .for_update()
        .load(conn)?;
    let mut refunds = Vec::new();
    for line in lines {
        let remaining = line
            .total_minor
            .checked_sub(line.refund_requested_minor)
            .ok_or(Fail::Domain(CommerceError::Internal))?;
        if remaining <= 0 {
            continue;
        }
        let id = derive_id(line.id, key);
        diesel::insert_into(refunds::table)
            .values((
                refunds::id.eq(id),
                refunds::payment_id.eq(payment.id.as_uuid()),
                refunds::line_id.eq(line.id),
                refunds::amount_minor.eq(remaining),
                refunds::currency.eq(payment.amount.currency().code()),
                refunds::idempotency_key.eq(format!("{key}:{}", line.id)),
                refunds::state.eq(RefundState::Requested.as_str()),
                refunds::chargeback.eq(chargeback),
                refunds::created_at.eq(now.as_micros()),
            ))
            .execute(conn)?;
        diesel::update(order_lines::table.find(line.id))
            .set(order_lines::refund_requested_minor.eq(order_lines::total_minor))
            .execute(conn)?;
        refunds.push((id, line, remaining));
    }
    Ok(refunds)
}

pub(crate) fn chargeback(
    conn: &mut PgConnection,
    payment: &PaymentRecord,
    event_id: &str,
    now: Timestamp,
) -> Result<Vec<LedgerIntent>> {
    let key = format!("chargeback:{event_id}");
    let mut intents = Vec::new();
    for (id, line, remaining) in refund_remainders(conn, payment, &key, true, now)? {
        let before = line.refund_posted_minor;
        let after = before
            .checked_add(remaining)
            .ok_or(Fail::Domain(CommerceError::Internal))?;
        post_refund(conn, id, line.id, before, after, now)?;
        intents.push(add_intent(conn, "refund", id, now)?);
    }
    Ok(intents)
}
