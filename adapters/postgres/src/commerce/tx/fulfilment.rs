//! Expiry of unpaid checkouts, order fulfilment and reviews.

use bazaar_schema::schema::{checkouts, order_lines, orders, payments, reviews};
use diesel::prelude::*;

use super::*;

pub(crate) fn expire_checkouts(
    conn: &mut PgConnection,
    now: Timestamp,
    limit: u32,
) -> Result<Vec<CheckoutRecord>> {
    let due: Vec<Uuid> = checkouts::table
        .filter(checkouts::state.eq_any(["open", "payment_pending"]))
        .filter(checkouts::expires_at.le(now.as_micros()))
        .order(checkouts::expires_at)
        .limit(i64::from(limit))
        .select(checkouts::id)
        .for_update()
        .skip_locked()
        .load(conn)?;
    let mut expired = Vec::with_capacity(due.len());
    // What `bazaar_domain::payments::expiry_states` decides for an open or payment-pending
    // checkout: cancelled, with a payment still waiting withdrawn.
    for id in due {
        cancel_checkout(conn, id, now)?;
        diesel::update(
            payments::table
                .filter(payments::checkout_id.eq(id))
                .filter(payments::state.eq_any(["pending", "authorised"])),
        )
        .set((
            payments::state.eq("cancelled"),
            payments::updated_at.eq(now.as_micros()),
        ))
        .execute(conn)?;
        emit::checkout_payments(conn, id, PaymentState::Cancelled, now)?;
        if let Some(record) = load_checkout(conn, id)? {
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
    let row: OrderRow = orders::table
        .filter(orders::id.eq(order.as_uuid()))
        .filter(orders::seller_id.eq(seller.as_uuid()))
        .select(OrderRow::as_select())
        .for_update()
        .first(conn)
        .optional()?
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
    diesel::update(orders::table.find(order.as_uuid()))
        .set((
            orders::state.eq(to.as_str()),
            orders::updated_at.eq(now.as_micros()),
        ))
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
    let order: OrderRow = orders::table
        .filter(orders::id.eq(review.order_id.as_uuid()))
        .filter(orders::buyer_id.eq(review.buyer_id.as_uuid()))
        .filter(diesel::dsl::exists(
            order_lines::table
                .filter(order_lines::order_id.eq(review.order_id.as_uuid()))
                .filter(order_lines::product_id.eq(review.product_id.as_uuid())),
        ))
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(Fail::Domain(CommerceError::NotFound("order")))?;
    if rows::order_state(&order.state)? != OrderState::Delivered {
        return refuse(CommerceError::InvalidState(
            "only delivered orders can be reviewed",
        ));
    }
    let region = buyer_region(conn, review.buyer_id)?;
    let inserted = diesel::insert_into(reviews::table)
        .values((
            reviews::id.eq(review.id.as_uuid()),
            reviews::product_id.eq(review.product_id.as_uuid()),
            reviews::buyer_id.eq(review.buyer_id.as_uuid()),
            reviews::order_id.eq(review.order_id.as_uuid()),
            reviews::rating.eq(i32::from(review.rating)),
            reviews::body.eq(&review.body),
            reviews::created_at.eq(now.as_micros()),
            reviews::home_region.eq(&region),
        ))
        .on_conflict((reviews::order_id, reviews::product_id))
        .do_nothing()
        .execute(conn)?;
    if inserted == 0 {
        return refuse(CommerceError::AlreadyReviewed);
    }
    products_changed(conn, &[review.product_id.as_uuid()], now)?;
    emit::review(conn, review.id.as_uuid(), now)
}
