//! Ledger intents and the inputs of their postings; notification retries.

use super::*;

pub(crate) fn line_capture(
    payment: &PaymentRecord,
    country: &Country,
    order: &PlannedOrder,
    line: &PricedLine,
) -> Result<LineCapture> {
    Ok(LineCapture {
        payment_id: payment.id,
        provider: payment.provider.clone(),
        jurisdiction: Jurisdiction::new(country.as_str())
            .map_err(|_| rows::corrupt("country", country.as_str()))?,
        order_id: order.id,
        seller_id: order.seller_id,
        line_id: line.id,
        total: line.total,
        tax: line.tax,
        commission: line.commission,
        settlement_currency: order.settlement_currency,
        quote: order.quote.clone(),
    })
}

pub(crate) fn capture_inputs(
    conn: &mut PgConnection,
    payment_id: PaymentId,
) -> Result<Vec<LineCapture>> {
    let payment = payment(conn, payment_id.as_uuid(), false)?
        .ok_or(Fail::Domain(CommerceError::NotFound("payment")))?;
    let checkout = load_checkout(conn, payment.checkout_id.as_uuid())?
        .ok_or(Fail::Domain(CommerceError::NotFound("checkout")))?;
    let mut captures = Vec::new();
    for order in &checkout.plan.orders {
        for line in &order.lines {
            captures.push(line_capture(&payment, &checkout.plan.country, order, line)?);
        }
    }
    Ok(captures)
}

pub(crate) fn refund_inputs(
    conn: &mut PgConnection,
    refund_id: RefundId,
) -> Result<RefundPostingInput> {
    let row = refund(conn, refund_id.as_uuid(), false)?
        .ok_or(Fail::Domain(CommerceError::NotFound("refund")))?;
    let (Some(before), Some(after)) = (row.posted_before_minor, row.posted_after_minor) else {
        return refuse(CommerceError::InvalidState("the refund is not confirmed"));
    };
    let line = capture_inputs(conn, PaymentId::from_uuid(row.payment_id))?
        .into_iter()
        .find(|l| l.line_id.as_uuid() == row.line_id)
        .ok_or(Fail::Domain(CommerceError::NotFound("line")))?;
    let captured_late = payment(conn, row.payment_id, false)?.is_some_and(|p| p.captured_late);
    Ok(RefundPostingInput {
        line,
        before_minor: before,
        after_minor: after,
        chargeback: row.chargeback,
        captured_late,
    })
}

pub(crate) fn pending_intents(
    conn: &mut PgConnection,
    limit: u32,
    now: Timestamp,
) -> Result<Vec<LedgerIntent>> {
    let rows: Vec<IntentRow> = sql_query(
        "SELECT id, kind, subject_id, attempts FROM ledger_intents \
         WHERE applied_at IS NULL AND parked_at IS NULL \
           AND (next_attempt_at IS NULL OR next_attempt_at <= $2) \
         ORDER BY created_at LIMIT $1",
    )
    .bind::<BigInt, _>(i64::from(limit))
    .bind::<BigInt, _>(now.as_micros())
    .load(conn)?;
    rows.iter()
        .map(|r| intent(r.id, &r.kind, r.subject_id, r.attempts))
        .collect()
}

pub(crate) fn intent_failed(
    conn: &mut PgConnection,
    id: Uuid,
    error_code: &str,
    retry_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<()> {
    let parked_at = retry_at.is_none().then_some(now.as_micros());
    sql_query(
        "UPDATE ledger_intents SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3, \
                parked_at = $4 WHERE id = $1 AND applied_at IS NULL",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(error_code)
    .bind::<Nullable<BigInt>, _>(retry_at.map(Timestamp::as_micros))
    .bind::<Nullable<BigInt>, _>(parked_at)
    .execute(conn)?;
    Ok(())
}

pub(crate) fn unsent_platform_refunds(
    conn: &mut PgConnection,
    limit: u32,
) -> Result<Vec<RefundRecord>> {
    let rows: Vec<RefundRow> = sql_query(format!(
        "{REFUND_SELECT} WHERE state = 'requested' AND psp_reference IS NULL AND NOT chargeback \
           AND payment_id IN (SELECT id FROM payments WHERE captured_late) \
         ORDER BY created_at LIMIT $1"
    ))
    .bind::<BigInt, _>(i64::from(limit))
    .load(conn)?;
    rows.into_iter().map(refund_record).collect()
}

pub(crate) fn notification_failed(
    conn: &mut PgConnection,
    failure: &NotificationFailure,
    now: Timestamp,
) -> Result<u32> {
    let rows: Vec<IntRow> = sql_query(
        "INSERT INTO notification_failures (provider, event_id, attempts, last_error, signature, body, \
                                            first_failed_at, last_failed_at) \
         VALUES ($1, $2, 1, $3, $4, $5, $6, $6) \
         ON CONFLICT (provider, event_id) DO UPDATE SET attempts = notification_failures.attempts + 1, \
           last_error = excluded.last_error, last_failed_at = excluded.last_failed_at \
         RETURNING attempts AS value",
    )
    .bind::<Text, _>(failure.provider.as_str())
    .bind::<Text, _>(&failure.event_id)
    .bind::<Text, _>(failure.error_code)
    .bind::<Text, _>(&failure.signature)
    .bind::<Binary, _>(&failure.body)
    .bind::<BigInt, _>(now.as_micros())
    .load(conn)?;
    let attempts = rows.first().map_or(1, |r| r.value);
    unsigned(attempts)
}

pub(crate) fn park_notification(
    conn: &mut PgConnection,
    provider: &str,
    event_id: &str,
    now: Timestamp,
) -> Result<()> {
    sql_query(
        "UPDATE notification_failures SET parked_at = $3 \
         WHERE provider = $1 AND event_id = $2 AND parked_at IS NULL",
    )
    .bind::<Text, _>(provider)
    .bind::<Text, _>(event_id)
    .bind::<BigInt, _>(now.as_micros())
    .execute(conn)?;
    Ok(())
}

pub(crate) fn intent_applied(conn: &mut PgConnection, id: Uuid, now: Timestamp) -> Result<()> {
    sql_query("UPDATE ledger_intents SET applied_at = $2 WHERE id = $1 AND applied_at IS NULL")
        .bind::<SqlUuid, _>(id)
        .bind::<BigInt, _>(now.as_micros())
        .execute(conn)?;
    Ok(())
}
