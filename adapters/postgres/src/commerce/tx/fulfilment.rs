//! Expiry of unpaid checkouts, order fulfilment and reviews.

use super::*;

pub(crate) fn expire_checkouts(
    conn: &mut PgConnection,
    now: Timestamp,
    limit: u32,
) -> Result<Vec<CheckoutRecord>> {
    // raw SQL: FOR UPDATE SKIP LOCKED with LIMIT; the builder could express it (skip_locked)
    let due: Vec<IdRow> = sql_query(
        "SELECT id FROM checkouts WHERE state IN ('open', 'payment_pending') AND expires_at <= $1 \
         ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind::<BigInt, _>(now.as_micros())
    .bind::<BigInt, _>(i64::from(limit))
    .load(conn)?;
    let mut expired = Vec::with_capacity(due.len());
    // What `bazaar_domain::payments::expiry_states` decides for an open or payment-pending
    // checkout: cancelled, with a payment still waiting withdrawn.
    for row in due {
        cancel_checkout(conn, row.id, now)?;
        // raw SQL: plain UPDATE with an IN list; the builder could express it
        sql_query(
            "UPDATE payments SET state = 'cancelled', updated_at = $2 \
             WHERE checkout_id = $1 AND state IN ('pending', 'authorised')",
        )
        .bind::<SqlUuid, _>(row.id)
        .bind::<BigInt, _>(now.as_micros())
        .execute(conn)?;
        emit::checkout_payments(conn, row.id, PaymentState::Cancelled, now)?;
        if let Some(record) = load_checkout(conn, row.id)? {
            expired.push(record);
        }
    }
    Ok(expired)
}

pub(crate) fn move_order(
    conn: &mut PgConnection,
    seller: SellerId,
    order: OrderId,
    to: OrderState,
    now: Timestamp,
) -> Result<()> {
    // raw SQL: shares ORDER_SELECT (settlement_currency::TEXT cast) with the other order reads
    let rows: Vec<OrderRow> = sql_query(format!(
        "{ORDER_SELECT} WHERE id = $1 AND seller_id = $2 FOR UPDATE"
    ))
    .bind::<SqlUuid, _>(order.as_uuid())
    .bind::<SqlUuid, _>(seller.as_uuid())
    .load(conn)?;
    let row = rows
        .first()
        .ok_or(Fail::Domain(CommerceError::NotFound("order")))?;
    let from = rows::order_state(&row.state)?;
    if from == to {
        return Ok(());
    }
    if !from.seller_may_move_to(to) {
        return refuse(CommerceError::InvalidState(
            "that order state change is not allowed",
        ));
    }
    // raw SQL: plain single-row UPDATE; the builder could express it
    sql_query("UPDATE orders SET state = $2, updated_at = $3 WHERE id = $1")
        .bind::<SqlUuid, _>(order.as_uuid())
        .bind::<Text, _>(to.as_str())
        .bind::<BigInt, _>(now.as_micros())
        .execute(conn)?;
    let event_type = match to {
        OrderState::Shipped => EventType::OrderShipped,
        OrderState::Delivered => EventType::OrderDelivered,
        OrderState::Cancelled => EventType::OrderCancelled,
        OrderState::AwaitingPayment | OrderState::Paid => return Ok(()),
    };
    emit::order(conn, event_type, order.as_uuid(), now)
}

pub(crate) fn add_review(conn: &mut PgConnection, review: &Review, now: Timestamp) -> Result<()> {
    // raw SQL: ORDER_SELECT (settlement_currency::TEXT) with a correlated EXISTS on order_lines
    let orders: Vec<OrderRow> = sql_query(format!(
        "{ORDER_SELECT} WHERE id = $1 AND buyer_id = $2 \
           AND EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = orders.id AND l.product_id = $3)"
    ))
    .bind::<SqlUuid, _>(review.order_id.as_uuid())
    .bind::<SqlUuid, _>(review.buyer_id.as_uuid())
    .bind::<SqlUuid, _>(review.product_id.as_uuid())
    .load(conn)?;
    let order = orders
        .first()
        .ok_or(Fail::Domain(CommerceError::NotFound("order")))?;
    if rows::order_state(&order.state)? != OrderState::Delivered {
        return refuse(CommerceError::InvalidState(
            "only delivered orders can be reviewed",
        ));
    }
    let region = buyer_region(conn, review.buyer_id)?;
    // raw SQL: plain INSERT ... ON CONFLICT DO NOTHING; the builder could express it
    let inserted = sql_query(
        "INSERT INTO reviews (id, product_id, buyer_id, order_id, rating, body, created_at, home_region) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (order_id, product_id) DO NOTHING",
    )
    .bind::<SqlUuid, _>(review.id)
    .bind::<SqlUuid, _>(review.product_id.as_uuid())
    .bind::<SqlUuid, _>(review.buyer_id.as_uuid())
    .bind::<SqlUuid, _>(review.order_id.as_uuid())
    .bind::<Integer, _>(i32::from(review.rating))
    .bind::<Text, _>(&review.body)
    .bind::<BigInt, _>(now.as_micros())
    .bind::<Text, _>(&region)
    .execute(conn)?;
    if inserted == 0 {
        return refuse(CommerceError::AlreadyReviewed);
    }
    emit::review(conn, review.id, now)
}
