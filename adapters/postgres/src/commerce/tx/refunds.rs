//! Refunds requested by sellers and the platform.

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
    // raw SQL: plain single-row SELECT; the builder could express it
    let owners: Vec<IdRow> =
        sql_query("SELECT seller_id AS id FROM orders WHERE id = $1 AND checkout_id = $2")
            .bind::<SqlUuid, _>(line.order_id)
            .bind::<SqlUuid, _>(payment.checkout_id.as_uuid())
            .load(conn)?;
    let Some(owner) = owners.first() else {
        return refuse(CommerceError::NotFound("line"));
    };
    if let Requester::Seller(seller) = new.buyer_or_seller
        && seller.as_uuid() != owner.id
    {
        return refuse(CommerceError::NotFound("order"));
    }
    // Keys are the requester's own. Refunds recorded before keys were scoped carry the bare
    // key; they are matched on the same line only, which the check above found is theirs.
    let scoped = new.buyer_or_seller.scoped_key(&new.idempotency_key);
    // raw SQL: shares REFUND_SELECT (currency::TEXT cast) and orders by a boolean expression
    let existing: Vec<RefundRow> = sql_query(format!(
        "{REFUND_SELECT} WHERE payment_id = $1 \
         AND (idempotency_key = $2 OR (idempotency_key = $3 AND line_id = $4)) \
         ORDER BY idempotency_key = $2 DESC"
    ))
    .bind::<SqlUuid, _>(new.payment_id.as_uuid())
    .bind::<Text, _>(&scoped)
    .bind::<Text, _>(&new.idempotency_key)
    .bind::<SqlUuid, _>(new.line_id.as_uuid())
    .load(conn)?;
    if let Some(row) = existing.into_iter().next() {
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
    // raw SQL: plain INSERT; the builder could express it
    sql_query(
        "INSERT INTO refunds (id, payment_id, line_id, amount_minor, currency, idempotency_key, state, chargeback, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'requested', FALSE, $7)",
    )
    .bind::<SqlUuid, _>(new.id.as_uuid())
    .bind::<SqlUuid, _>(new.payment_id.as_uuid())
    .bind::<SqlUuid, _>(new.line_id.as_uuid())
    .bind::<BigInt, _>(new.amount.minor())
    .bind::<Text, _>(new.amount.currency().code())
    .bind::<Text, _>(&scoped)
    .bind::<BigInt, _>(now.as_micros())
    .execute(conn)?;
    // raw SQL: plain UPDATE adding to a column; the builder could express it
    sql_query(
        "UPDATE order_lines SET refund_requested_minor = refund_requested_minor + $2 WHERE id = $1",
    )
    .bind::<SqlUuid, _>(new.line_id.as_uuid())
    .bind::<BigInt, _>(new.amount.minor())
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
    // raw SQL: plain single-row UPDATE; the builder could express it
    sql_query("UPDATE refunds SET psp_reference = $2 WHERE id = $1")
        .bind::<SqlUuid, _>(id.as_uuid())
        .bind::<Text, _>(reference.as_str())
        .execute(conn)?;
    Ok(())
}

pub(crate) fn refund_by_reference(
    conn: &mut PgConnection,
    reference: &PspReference,
) -> Result<Option<RefundRecord>> {
    // raw SQL: shares REFUND_SELECT (currency::TEXT cast) with the other refund reads
    let rows: Vec<RefundRow> = sql_query(format!("{REFUND_SELECT} WHERE psp_reference = $1"))
        .bind::<Text, _>(reference.as_str())
        .load(conn)?;
    rows.into_iter().next().map(refund_record).transpose()
}
