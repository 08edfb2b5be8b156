//! Ledger intents and the inputs of their postings; notification retries.

use bazaar_schema::schema::{ledger_intents, notification_failures, payments, refunds};
use diesel::prelude::*;

use super::*;

pub(crate) fn line_capture(
    payment: &PaymentRecord,
    order: &PlannedOrder,
    line: &PricedLine,
) -> Result<LineCapture> {
    let decision = &line.tax.decision;
    Ok(LineCapture {
        payment_id: payment.id,
        provider: payment.provider.clone(),
        order_id: order.id,
        seller_id: order.seller_id,
        line_id: line.id,
        total: line.total,
        tax: LineTaxTerms {
            amount: line.tax.amount,
            collector: collector_of(decision.liable),
            jurisdiction: payable_jurisdiction(decision.place, decision.scheme)?,
            withheld: decision.withholding.as_ref().map(|w| Withheld {
                rate: w.rate,
                split: w.split,
                seller_state: w.seller_state,
            }),
        },
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
            captures.push(line_capture(&payment, order, line)?);
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
    let rows: Vec<(Uuid, String, Uuid, i32)> = ledger_intents::table
        .filter(ledger_intents::applied_at.is_null())
        .filter(ledger_intents::parked_at.is_null())
        .filter(
            ledger_intents::next_attempt_at
                .is_null()
                .or(ledger_intents::next_attempt_at.le(now.as_micros())),
        )
        .order(ledger_intents::created_at)
        .limit(i64::from(limit))
        .select((
            ledger_intents::id,
            ledger_intents::kind,
            ledger_intents::subject_id,
            ledger_intents::attempts,
        ))
        .load(conn)?;
    rows.iter()
        .map(|(id, kind, subject, attempts)| intent(*id, kind, *subject, *attempts))
        .collect()
}

#[expect(
    clippy::arithmetic_side_effects,
    reason = "`attempts + 1` builds SQL; PostgreSQL does the (checked) arithmetic"
)]
pub(crate) fn intent_failed(
    conn: &mut PgConnection,
    id: Uuid,
    error_code: &str,
    retry_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<()> {
    let parked_at = retry_at.is_none().then_some(now.as_micros());
    diesel::update(
        ledger_intents::table
            .filter(ledger_intents::id.eq(id))
            .filter(ledger_intents::applied_at.is_null()),
    )
    .set((
        ledger_intents::attempts.eq(ledger_intents::attempts + 1),
        ledger_intents::last_error.eq(error_code),
        ledger_intents::next_attempt_at.eq(retry_at.map(Timestamp::as_micros)),
        ledger_intents::parked_at.eq(parked_at),
    ))
    .execute(conn)?;
    Ok(())
}

pub(crate) fn unsent_platform_refunds(
    conn: &mut PgConnection,
    limit: u32,
) -> Result<Vec<RefundRecord>> {
    let rows: Vec<RefundRow> = refunds::table
        .filter(refunds::state.eq("requested"))
        .filter(refunds::psp_reference.is_null())
        .filter(refunds::chargeback.eq(false))
        .filter(
            refunds::payment_id.eq_any(
                payments::table
                    .filter(payments::captured_late)
                    .select(payments::id),
            ),
        )
        .order(refunds::created_at)
        .limit(i64::from(limit))
        .select(RefundRow::as_select())
        .load(conn)?;
    rows.into_iter().map(refund_record).collect()
}

#[expect(
    clippy::arithmetic_side_effects,
    reason = "the column arithmetic builds SQL; PostgreSQL does the (checked) arithmetic"
)]
pub(crate) fn notification_failed(
    conn: &mut PgConnection,
    failure: &NotificationFailure,
    now: Timestamp,
) -> Result<u32> {
    use diesel::upsert::excluded;
    // One statement: the upsert counts the failure and RETURNING reads the count.
    let attempts: i32 = diesel::insert_into(notification_failures::table)
        .values((
            notification_failures::provider.eq(failure.provider.as_str()),
            notification_failures::event_id.eq(&failure.event_id),
            notification_failures::attempts.eq(1),
            notification_failures::last_error.eq(failure.error_code),
            notification_failures::signature.eq(&failure.signature),
            notification_failures::body.eq(&failure.body),
            notification_failures::first_failed_at.eq(now.as_micros()),
            notification_failures::last_failed_at.eq(now.as_micros()),
        ))
        .on_conflict((
            notification_failures::provider,
            notification_failures::event_id,
        ))
        .do_update()
        .set((
            notification_failures::attempts.eq(notification_failures::attempts + 1),
            notification_failures::last_error.eq(excluded(notification_failures::last_error)),
            notification_failures::last_failed_at
                .eq(excluded(notification_failures::last_failed_at)),
        ))
        .returning(notification_failures::attempts)
        .get_result(conn)?;
    unsigned(attempts)
}

pub(crate) fn park_notification(
    conn: &mut PgConnection,
    provider: &str,
    event_id: &str,
    now: Timestamp,
) -> Result<()> {
    diesel::update(
        notification_failures::table
            .filter(notification_failures::provider.eq(provider))
            .filter(notification_failures::event_id.eq(event_id))
            .filter(notification_failures::parked_at.is_null()),
    )
    .set(notification_failures::parked_at.eq(now.as_micros()))
    .execute(conn)?;
    Ok(())
}

pub(crate) fn intent_applied(conn: &mut PgConnection, id: Uuid, now: Timestamp) -> Result<()> {
    diesel::update(
        ledger_intents::table
            .filter(ledger_intents::id.eq(id))
            .filter(ledger_intents::applied_at.is_null()),
    )
    .set(ledger_intents::applied_at.eq(now.as_micros()))
    .execute(conn)?;
    Ok(())
}
