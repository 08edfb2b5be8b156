//! Checkouts: orders, lines, stock reservations and payments started.

use super::*;

pub(crate) fn create_checkout(
    conn: &mut PgConnection,
    plan: &CheckoutPlan,
    key: &str,
    fingerprint: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<CheckoutRecord> {
    // raw SQL: shares CHECKOUT_SELECT (country::TEXT, currency::TEXT casts) with the checkout reads
    let existing: Vec<CheckoutRow> = sql_query(format!(
        "{CHECKOUT_SELECT} WHERE buyer_id = $1 AND idempotency_key = $2"
    ))
    .bind::<SqlUuid, _>(plan.buyer_id.as_uuid())
    .bind::<Text, _>(key)
    .load(conn)?;
    if let Some(row) = existing.into_iter().next() {
        if row.fingerprint != fingerprint {
            return refuse(CommerceError::IdempotencyKeyReused);
        }
        return load_checkout(conn, row.id)?.ok_or(Fail::Domain(CommerceError::Internal));
    }
    let region = buyer_region(conn, plan.buyer_id)?;
    // Reserve in SKU order, so concurrent checkouts lock rows in the same order.
    let mut physical: Vec<&PricedLine> = plan
        .orders
        .iter()
        .flat_map(|o| o.lines.iter())
        .filter(|l| l.kind == ProductKind::Physical)
        .collect();
    physical.sort_by_key(|l| l.sku_id);
    for line in &physical {
        let quantity = int(line.quantity)?;
        // raw SQL: guarded UPDATE ... RETURNING; the builder could express it
        let reserved: Vec<IdRow> = sql_query(
            "UPDATE skus SET reserved = reserved + $2 \
             WHERE id = $1 AND tracks_stock AND on_hand - reserved >= $2 RETURNING id",
        )
        .bind::<SqlUuid, _>(line.sku_id.as_uuid())
        .bind::<Integer, _>(quantity)
        .load(conn)?;
        if reserved.is_empty() {
            // raw SQL: plain SELECT of a column difference; the builder could express it
            let left: Vec<IntRow> =
                sql_query("SELECT (on_hand - reserved) AS value FROM skus WHERE id = $1")
                    .bind::<SqlUuid, _>(line.sku_id.as_uuid())
                    .load(conn)?;
            let available = left.first().map_or(0, |r| r.value.max(0));
            return refuse(CommerceError::OutOfStock {
                sku: line.sku_id,
                requested: line.quantity,
                available: unsigned(available)?,
            });
        }
        // raw SQL: plain INSERT; the builder could express it
        sql_query(
            "INSERT INTO stock_reservations (checkout_id, sku_id, quantity, state) VALUES ($1, $2, $3, 'held')",
        )
        .bind::<SqlUuid, _>(plan.id.as_uuid())
        .bind::<SqlUuid, _>(line.sku_id.as_uuid())
        .bind::<Integer, _>(quantity)
        .execute(conn)?;
    }
    // raw SQL: plain INSERT; the builder could express it
    sql_query(
        "INSERT INTO checkouts (id, buyer_id, idempotency_key, fingerprint, country, currency, total_minor, \
                                state, expires_at, created_at, home_region) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10)",
    )
    .bind::<SqlUuid, _>(plan.id.as_uuid())
    .bind::<SqlUuid, _>(plan.buyer_id.as_uuid())
    .bind::<Text, _>(key)
    .bind::<Text, _>(fingerprint)
    .bind::<Text, _>(plan.country.as_str())
    .bind::<Text, _>(plan.currency.code())
    .bind::<BigInt, _>(plan.total.minor())
    .bind::<BigInt, _>(expires_at.as_micros())
    .bind::<BigInt, _>(now.as_micros())
    .bind::<Text, _>(&region)
    .execute(conn)?;
    for order in &plan.orders {
        insert_order(conn, plan, order, &region, now)?;
    }
    emit::checkout_orders(
        conn,
        EventType::OrderCreated,
        plan.id.as_uuid(),
        &["awaiting_payment"],
        now,
    )?;
    load_checkout(conn, plan.id.as_uuid())?.ok_or(Fail::Domain(CommerceError::Internal))
}

pub(crate) fn buyer_region(conn: &mut PgConnection, buyer_id: BuyerId) -> Result<String> {
    buyer(conn, buyer_id)?
        .map(|b| b.region.as_str().to_owned())
        .ok_or(Fail::Domain(CommerceError::NotFound("buyer")))
}

pub(crate) fn insert_order(
    conn: &mut PgConnection,
    plan: &CheckoutPlan,
    order: &PlannedOrder,
    region: &str,
    now: Timestamp,
) -> Result<()> {
    let quote = order.quote.as_ref();
    // raw SQL: plain INSERT; the builder could express it
    sql_query(
        "INSERT INTO orders (id, checkout_id, seller_id, buyer_id, state, currency, total_minor, \
                             settlement_currency, fx_mid, fx_source, fx_effective_at, fx_spread, \
                             created_at, updated_at, home_region) \
         VALUES ($1, $2, $3, $4, 'awaiting_payment', $5, $6, $7, $8, $9, $10, $11, $12, $12, $13)",
    )
    .bind::<SqlUuid, _>(order.id.as_uuid())
    .bind::<SqlUuid, _>(plan.id.as_uuid())
    .bind::<SqlUuid, _>(order.seller_id.as_uuid())
    .bind::<SqlUuid, _>(plan.buyer_id.as_uuid())
    .bind::<Text, _>(plan.currency.code())
    .bind::<BigInt, _>(order.total.minor())
    .bind::<Text, _>(order.settlement_currency.code())
    .bind::<Nullable<Text>, _>(quote.map(|q| q.rate.mid.to_string()))
    .bind::<Nullable<Text>, _>(quote.map(|q| q.rate.source.clone()))
    .bind::<Nullable<BigInt>, _>(quote.map(|q| q.rate.effective_at.as_micros()))
    .bind::<Nullable<Text>, _>(quote.map(|q| q.spread.fraction().to_string()))
    .bind::<BigInt, _>(now.as_micros())
    .bind::<Text, _>(region)
    .execute(conn)?;
    for (position, line) in order.lines.iter().enumerate() {
        // raw SQL: plain INSERT; the builder could express it
        sql_query(
            "INSERT INTO order_lines (id, order_id, position, sku_id, product_id, title, category, kind, \
                                      quantity, unit_price_minor, total_minor, commission_bps, tax_bps) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind::<SqlUuid, _>(line.id.as_uuid())
        .bind::<SqlUuid, _>(order.id.as_uuid())
        .bind::<Integer, _>(i32::try_from(position).unwrap_or(i32::MAX))
        .bind::<SqlUuid, _>(line.sku_id.as_uuid())
        .bind::<SqlUuid, _>(line.product_id.as_uuid())
        .bind::<Text, _>(&line.title)
        .bind::<Text, _>(line.category.as_str())
        .bind::<Text, _>(line.kind.as_str())
        .bind::<Integer, _>(int(line.quantity)?)
        .bind::<BigInt, _>(line.unit_price.minor())
        .bind::<BigInt, _>(line.total.minor())
        .bind::<Integer, _>(i32::from(line.commission.get()))
        .bind::<Integer, _>(i32::from(line.tax.get()))
        .execute(conn)?;
    }
    Ok(())
}

pub(crate) const CHECKOUT_SELECT: &str = "SELECT id, buyer_id, fingerprint, country::TEXT AS country, currency::TEXT AS currency, \
     total_minor, state, expires_at FROM checkouts";
pub(crate) const ORDER_SELECT: &str = "SELECT id, seller_id, state, total_minor, \
     settlement_currency::TEXT AS settlement_currency, fx_mid, fx_source, fx_effective_at, fx_spread FROM orders";
pub(crate) const LINE_SELECT: &str = "SELECT id, order_id, sku_id, product_id, title, category, kind, quantity, unit_price_minor, \
     total_minor, commission_bps, tax_bps, refund_requested_minor, refund_posted_minor FROM order_lines";
pub(crate) const PAYMENT_SELECT: &str = "SELECT id, checkout_id, provider, method, amount_minor, currency::TEXT AS currency, state, \
     psp_reference, action, captured_late FROM payments";
pub(crate) const REFUND_SELECT: &str = "SELECT id, payment_id, line_id, amount_minor, currency::TEXT AS currency, state, chargeback, \
     psp_reference, posted_before_minor, posted_after_minor FROM refunds";

pub(crate) fn quote_of(row: &OrderRow, from: bazaar_money::Currency) -> Result<Option<FxQuote>> {
    let (Some(mid), Some(source), Some(effective_at), Some(spread)) = (
        &row.fx_mid,
        &row.fx_source,
        row.fx_effective_at,
        &row.fx_spread,
    ) else {
        return Ok(None);
    };
    let mid = Decimal::from_str(mid).map_err(|_| rows::corrupt("fx_mid", mid))?;
    let spread = Decimal::from_str(spread)
        .ok()
        .and_then(|s| Spread::new(s).ok())
        .ok_or_else(|| rows::corrupt("fx_spread", spread))?;
    Ok(Some(FxQuote {
        rate: FxRate {
            from,
            to: rows::currency(&row.settlement_currency)?,
            mid,
            source: source.clone(),
            effective_at: Timestamp::from_micros(effective_at),
        },
        spread,
    }))
}

pub(crate) fn priced_line(row: &LineRow, currency: bazaar_money::Currency) -> Result<PricedLine> {
    Ok(PricedLine {
        id: LineId::from_uuid(row.id),
        sku_id: SkuId::from_uuid(row.sku_id),
        product_id: ProductId::from_uuid(row.product_id),
        title: row.title.clone(),
        category: rows::category(&row.category)?,
        kind: rows::kind(&row.kind)?,
        quantity: unsigned(row.quantity)?,
        unit_price: Money::from_minor(row.unit_price_minor, currency),
        total: Money::from_minor(row.total_minor, currency),
        commission: rows::bps(row.commission_bps)?,
        tax: rows::bps(row.tax_bps)?,
    })
}

pub(crate) fn load_checkout(conn: &mut PgConnection, id: Uuid) -> Result<Option<CheckoutRecord>> {
    // raw SQL: shares CHECKOUT_SELECT (country::TEXT, currency::TEXT casts) with the checkout reads
    let checkouts: Vec<CheckoutRow> = sql_query(format!("{CHECKOUT_SELECT} WHERE id = $1"))
        .bind::<SqlUuid, _>(id)
        .load(conn)?;
    let Some(checkout) = checkouts.into_iter().next() else {
        return Ok(None);
    };
    let currency = rows::currency(&checkout.currency)?;
    // raw SQL: shares ORDER_SELECT (settlement_currency::TEXT cast) with the other order reads
    let order_rows: Vec<OrderRow> = sql_query(format!(
        "{ORDER_SELECT} WHERE checkout_id = $1 ORDER BY seller_id"
    ))
    .bind::<SqlUuid, _>(id)
    .load(conn)?;
    let order_ids: Vec<Uuid> = order_rows.iter().map(|o| o.id).collect();
    // raw SQL: shares LINE_SELECT with the other line reads; the builder could express it
    let line_rows: Vec<LineRow> = sql_query(format!(
        "{LINE_SELECT} WHERE order_id = ANY($1) ORDER BY order_id, position"
    ))
    .bind::<Array<SqlUuid>, _>(&order_ids)
    .load(conn)?;
    let mut orders = Vec::with_capacity(order_rows.len());
    let mut order_states = Vec::with_capacity(order_rows.len());
    for row in &order_rows {
        let lines = line_rows
            .iter()
            .filter(|l| l.order_id == row.id)
            .map(|l| priced_line(l, currency))
            .collect::<Result<Vec<_>>>()?;
        order_states.push((OrderId::from_uuid(row.id), rows::order_state(&row.state)?));
        orders.push(PlannedOrder {
            id: OrderId::from_uuid(row.id),
            seller_id: SellerId::from_uuid(row.seller_id),
            settlement_currency: rows::currency(&row.settlement_currency)?,
            total: Money::from_minor(row.total_minor, currency),
            quote: quote_of(row, currency)?,
            lines,
        });
    }
    // raw SQL: shares PAYMENT_SELECT (currency::TEXT cast) with the other payment reads
    let payments: Vec<PaymentRow> = sql_query(format!("{PAYMENT_SELECT} WHERE checkout_id = $1"))
        .bind::<SqlUuid, _>(id)
        .load(conn)?;
    let payment = payments
        .into_iter()
        .next()
        .map(payment_record)
        .transpose()?;
    Ok(Some(CheckoutRecord {
        plan: CheckoutPlan {
            id: CheckoutId::from_uuid(checkout.id),
            buyer_id: BuyerId::from_uuid(checkout.buyer_id),
            country: rows::country(&checkout.country)?,
            currency,
            total: Money::from_minor(checkout.total_minor, currency),
            orders,
        },
        state: rows::checkout_state(&checkout.state)?,
        expires_at: Timestamp::from_micros(checkout.expires_at),
        order_states,
        payment,
    }))
}

pub(crate) fn payment_record(row: PaymentRow) -> Result<PaymentRecord> {
    Ok(PaymentRecord {
        id: PaymentId::from_uuid(row.id),
        checkout_id: CheckoutId::from_uuid(row.checkout_id),
        provider: rows::provider(&row.provider)?,
        method: rows::method(&row.method)?,
        amount: Money::from_minor(row.amount_minor, rows::currency(&row.currency)?),
        state: rows::payment_state(&row.state)?,
        psp_reference: row
            .psp_reference
            .as_deref()
            .map(rows::reference)
            .transpose()?,
        action: row
            .action
            .as_ref()
            .map(rows::action_from_json)
            .transpose()?,
        captured_late: row.captured_late,
    })
}

pub(crate) fn payment(
    conn: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> Result<Option<PaymentRecord>> {
    let suffix = if lock { " FOR UPDATE" } else { "" };
    // raw SQL: PAYMENT_SELECT's currency::TEXT cast, with FOR UPDATE appended at run time
    let rows: Vec<PaymentRow> = sql_query(format!("{PAYMENT_SELECT} WHERE id = $1{suffix}"))
        .bind::<SqlUuid, _>(id)
        .load(conn)?;
    rows.into_iter().next().map(payment_record).transpose()
}

pub(crate) fn lock_checkout(conn: &mut PgConnection, id: Uuid) -> Result<CheckoutRow> {
    // raw SQL: shares CHECKOUT_SELECT (country::TEXT, currency::TEXT casts) with the checkout reads
    let rows: Vec<CheckoutRow> = sql_query(format!("{CHECKOUT_SELECT} WHERE id = $1 FOR UPDATE"))
        .bind::<SqlUuid, _>(id)
        .load(conn)?;
    rows.into_iter()
        .next()
        .ok_or(Fail::Domain(CommerceError::NotFound("checkout")))
}

pub(crate) fn start_payment(
    conn: &mut PgConnection,
    new: &NewPayment,
    now: Timestamp,
) -> Result<PaymentRecord> {
    let checkout = lock_checkout(conn, new.checkout_id.as_uuid())?;
    if checkout.buyer_id != new.buyer_id.as_uuid() {
        return refuse(CommerceError::NotFound("checkout"));
    }
    if let Some(existing) = payment(conn, new.id.as_uuid(), false)? {
        return Ok(existing);
    }
    let state = rows::checkout_state(&checkout.state)?;
    if state != CheckoutState::Open || checkout.expires_at <= now.as_micros() {
        return refuse(CommerceError::ReservationExpired);
    }
    // raw SQL: plain INSERT; the builder could express it
    sql_query(
        "INSERT INTO payments (id, checkout_id, provider, method, amount_minor, currency, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7)",
    )
    .bind::<SqlUuid, _>(new.id.as_uuid())
    .bind::<SqlUuid, _>(new.checkout_id.as_uuid())
    .bind::<Text, _>(new.provider.as_str())
    .bind::<Text, _>(new.method.wire_name())
    .bind::<BigInt, _>(checkout.total_minor)
    .bind::<Text, _>(checkout.currency.trim())
    .bind::<BigInt, _>(now.as_micros())
    .execute(conn)?;
    // raw SQL: plain single-row UPDATE; the builder could express it
    sql_query("UPDATE checkouts SET state = 'payment_pending' WHERE id = $1")
        .bind::<SqlUuid, _>(new.checkout_id.as_uuid())
        .execute(conn)?;
    payment(conn, new.id.as_uuid(), false)?.ok_or(Fail::Domain(CommerceError::Internal))
}

pub(crate) fn record_provider_reference(
    conn: &mut PgConnection,
    payment_id: PaymentId,
    reference: &PspReference,
    action: Option<&Action>,
    hold_until: Timestamp,
) -> Result<()> {
    // raw SQL: UPDATE ... RETURNING checkout_id AS id into IdRow; the builder could express it
    let updated: Vec<IdRow> = sql_query(
        "UPDATE payments SET psp_reference = $2, action = $3 WHERE id = $1 RETURNING checkout_id AS id",
    )
    .bind::<SqlUuid, _>(payment_id.as_uuid())
    .bind::<Text, _>(reference.as_str())
    .bind::<Nullable<Jsonb>, _>(action.map(rows::action_to_json))
    .load(conn)?;
    let checkout = updated
        .first()
        .ok_or(Fail::Domain(CommerceError::NotFound("payment")))?;
    // raw SQL: GREATEST(expires_at, $2) in SET; diesel has no GREATEST
    sql_query(
        "UPDATE checkouts SET expires_at = GREATEST(expires_at, $2) \
         WHERE id = $1 AND state IN ('open', 'payment_pending')",
    )
    .bind::<SqlUuid, _>(checkout.id)
    .bind::<BigInt, _>(hold_until.as_micros())
    .execute(conn)?;
    Ok(())
}

pub(crate) fn order_payment(conn: &mut PgConnection, order: OrderId) -> Result<Option<PaymentId>> {
    // raw SQL: joins orders to payments on checkout_id; the schema declares no join between them
    let rows: Vec<IdRow> = sql_query(
        "SELECT p.id FROM orders o JOIN payments p ON p.checkout_id = o.checkout_id WHERE o.id = $1",
    )
    .bind::<SqlUuid, _>(order.as_uuid())
    .load(conn)?;
    Ok(rows.first().map(|r| PaymentId::from_uuid(r.id)))
}
