//! Refunds requested by sellers and the platform.

use bazaar_schema::schema::{order_lines, orders, refunds};
use diesel::prelude::*;

use super::*;

pub(crate) fn refund_record(row: RefundRow) -> Result<RefundRecord> {
    Ok(RefundRecord {
        id: RefundId::from_uuid(row.id),
        payment_id: PaymentId::from_uuid(row.payment_id),
        line_id: LineId::from_uuid(row.line_id),
        amount: Money::from_minor(row.amount_minor, rows::currency(&row.currency)?),
        state: rows::refund_state(&row.state)?,
        psp_reference: row
            .psp_reference
            .as_deref()
            .map(rows::reference)
            .transpose()?,
        chargeback: row.chargeback,
    })
}

#[expect(
    clippy::arithmetic_side_effects,
    reason = "the column arithmetic builds SQL; PostgreSQL does the (checked) arithmetic"
)]
pub(crate) fn request_refund(
    conn: &mut PgConnection,
    new: &NewRefund,
    now: Timestamp,
) -> Result<RefundRecord> {
    let payment = payment(conn, new.payment_id.as_uuid(), true)?
        .ok_or(Fail::Domain(CommerceError::NotFound("payment")))?;
    // Ownership first: a replay, a clash or a refusal must not tell a stranger anything
    // about someone else's order.
    let line = lock_line(conn, new.line_id.as_uuid())?;
    let owner: Option<Uuid> = orders::table
        .filter(orders::id.eq(line.order_id))
        .filter(orders::checkout_id.eq(payment.checkout_id.as_uuid()))
        .select(orders::seller_id)
        .first(conn)
        .optional()?;
    let Some(owner) = owner else {
        return refuse(CommerceError::NotFound("line"));
    };
    if let Requester::Seller(seller) = new.buyer_or_seller
        && seller.as_uuid() != owner
    {
        return refuse(CommerceError::NotFound("order"));
    }
    // Keys are the requester's own. Refunds recorded before keys were scoped carry the bare
    // key; they are matched on the same line only, which the check above found is theirs.
    let scoped = new.buyer_or_seller.scoped_key(&new.idempotency_key);
    // The requester's own scoped key wins over a bare legacy key on the same line.
    let existing: Vec<RefundRow> = refunds::table
        .filter(refunds::payment_id.eq(new.payment_id.as_uuid()))
        .filter(
            refunds::idempotency_key
                .eq(&scoped)
                .or(refunds::idempotency_key
                    .eq(&new.idempotency_key)
                    .and(refunds::line_id.eq(new.line_id.as_uuid()))),
        )
        .select(RefundRow::as_select())
        .load(conn)?;
    let mine = existing
        .iter()
        .position(|row| row.idempotency_key == scoped)
        .unwrap_or(0);
    if let Some(row) = existing.into_iter().nth(mine) {
        if row.line_id != new.line_id.as_uuid() || row.amount_minor != new.amount.minor() {
            return refuse(CommerceError::IdempotencyKeyReused);
        }
        return refund_record(row);
    }
    if payment.state != PaymentState::Captured {
        return refuse(CommerceError::InvalidState(
            "only a captured payment can be refunded",
        ));
    }
    if new.amount.currency() != payment.amount.currency() {
        return refuse(CommerceError::InvalidInput(
            "refunds are in the currency the buyer paid",
        ));
    }
    let remaining = line
        .total_minor
        .checked_sub(line.refund_requested_minor)
        .ok_or(Fail::Domain(CommerceError::Internal))?;
    if new.amount.minor() > remaining {
        return refuse(CommerceError::RefundExceedsRemaining {
            remaining_minor: remaining,
        });
    }
    diesel::insert_into(refunds::table)
        .values((
            refunds::id.eq(new.id.as_uuid()),
            refunds::payment_id.eq(new.payment_id.as_uuid()),
            refunds::line_id.eq(new.line_id.as_uuid()),
            refunds::amount_minor.eq(new.amount.minor()),
            refunds::currency.eq(new.amount.currency().code()),
            refunds::idempotency_key.eq(&scoped),
            refunds::state.eq("requested"),
            refunds::chargeback.eq(false),
            refunds::created_at.eq(now.as_micros()),
        ))
        .execute(conn)?;
    diesel::update(order_lines::table.find(new.line_id.as_uuid()))
        .set(
            order_lines::refund_requested_minor
                .eq(order_lines::refund_requested_minor + new.amount.minor()),
        )
        .execute(conn)?;
    emit::refund(conn, EventType::RefundRequested, new.id.as_uuid(), now)?;
    refund(conn, new.id.as_uuid(), false)?
        .map(refund_record)
        .transpose()?
        .ok_or(Fail::Domain(CommerceError::Internal))
}

pub(crate) fn set_refund_reference(
    conn: &mut PgConnection,
    id: RefundId,
    reference: &PspReference,
) -> Result<()> {
    diesel::update(refunds::table.find(id.as_uuid()))
        .set(refunds::psp_reference.eq(reference.as_str()))
        .execute(conn)?;
    Ok(())
}

pub(crate) fn refund_by_reference(
    conn: &mut PgConnection,
    reference: &PspReference,
) -> Result<Option<RefundRecord>> {
    refunds::table
        .filter(refunds::psp_reference.eq(reference.as_str()))
        .select(RefundRow::as_select())
        .first(conn)
        .optional()?
        .map(refund_record)
        .transpose()
}
