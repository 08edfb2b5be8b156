//! Checkouts: orders, lines, stock reservations and payments started.

use bazaar_schema::schema::{
    buyers, checkouts, order_lines, orders, payments, skus, stock_reservations,
};
use diesel::prelude::*;

use bazaar_domain::orders::LineTax;
use bazaar_domain::tax::{Area, Customer, Decision, TaxRate};

use super::*;

/// A checkout to store, as the service planned it.
#[derive(Clone, Debug)]
pub(crate) struct NewCheckout {
    pub(crate) plan: CheckoutPlan,
    pub(crate) key: String,
    pub(crate) fingerprint: String,
    pub(crate) expires_at: Timestamp,
    pub(crate) now: Timestamp,
}

/// Stores a group of checkouts in one transaction, with one statement per table for the
/// whole group, and answers each in the group's order. A checkout whose idempotency key was
/// used before (by an earlier transaction or earlier in the group) is answered with what was
/// stored under it, or refused if the request differs; those answers are the group's only
/// refusals that leave the others standing. A refusal after the group began writing (a SKU
/// out of stock) fails the whole group, which then writes nothing.
pub(crate) fn create_checkouts(
    conn: &mut PgConnection,
    group: &[NewCheckout],
) -> Result<Vec<std::result::Result<CheckoutRecord, CommerceError>>> {
    let written = insert_checkouts(conn, group)?;
    let stored: Vec<(&NewCheckout, &str)> = group
        .iter()
        .zip(&written)
        .filter_map(|(checkout, region)| Some((checkout, region.as_deref()?)))
        .collect();
    let Some(now) = stored.iter().map(|(checkout, _)| checkout.now).max() else {
        return group.iter().map(|c| answer_existing(conn, c)).collect();
    };
    let plans: Vec<&CheckoutPlan> = stored.iter().map(|(checkout, _)| &checkout.plan).collect();
    // Reserve in SKU order, so concurrent groups lock rows in the same order.
    let mut physical: Vec<(&CheckoutPlan, &PricedLine)> = plans
        .iter()
        .flat_map(|plan| {
            plan.orders
                .iter()
                .flat_map(move |o| o.lines.iter().map(move |l| (*plan, l)))
        })
        .filter(|(_, line)| line.kind == ProductKind::Physical)
        .collect();
    physical.sort_by_key(|(_, line)| line.sku_id);
    for (_, line) in &physical {
        take_stock(conn, line)?;
    }
    hold_stock(conn, &physical)?;
    let mut changed: Vec<Uuid> = physical
        .iter()
        .map(|(_, l)| l.product_id.as_uuid())
        .collect();
    changed.sort_unstable();
    changed.dedup();
    products_changed(conn, &changed, now)?;
    insert_orders(conn, &stored)?;
    let placed: Vec<(&PlannedOrder, Timestamp)> = stored
        .iter()
        .flat_map(|(checkout, _)| checkout.plan.orders.iter().map(|o| (o, checkout.now)))
        .collect();
    // One row per total for the group, under its first checkout's id: a checkout is created
    // by exactly one transaction, so no other change uses that entry.
    if let Some(first) = plans.first() {
        count_placed(conn, first.id.as_uuid(), &placed)?;
    }
    emit::created_orders(conn, &plans, now)?;
    group
        .iter()
        .zip(&written)
        .map(|(checkout, region)| match region {
            // Everything above stored the plan as it is, so the checkout reads back as it.
            Some(_) => Ok(Ok(opened(checkout))),
            None => answer_existing(conn, checkout),
        })
        .collect()
}

/// A checkout just stored, as it reads back.
fn opened(checkout: &NewCheckout) -> CheckoutRecord {
    let plan = &checkout.plan;
    CheckoutRecord {
        plan: plan.clone(),
        state: CheckoutState::Open,
        expires_at: checkout.expires_at,
        order_states: plan
            .orders
            .iter()
            .map(|order| (order.id, OrderState::AwaitingPayment))
            .collect(),
        payment: None,
    }
}

/// The answer to a checkout that was not stored: the one stored before under its key, or
/// the request's refusal. Only database failures fail the group.
fn answer_existing(
    conn: &mut PgConnection,
    checkout: &NewCheckout,
) -> Result<std::result::Result<CheckoutRecord, CommerceError>> {
    match existing_checkout(conn, &checkout.plan, &checkout.key, &checkout.fingerprint) {
        Ok(record) => Ok(Ok(record)),
        Err(Fail::Domain(error)) => Ok(Err(error)),
        Err(failure) => Err(failure),
    }
}

/// Stores the group's checkout rows in one statement, with each buyer's region read in one
/// more, and returns the region of each checkout stored; `None` where the buyer is unknown or
/// the key (or the checkout's id) was used before, including earlier in the group.
fn insert_checkouts(conn: &mut PgConnection, group: &[NewCheckout]) -> Result<Vec<Option<String>>> {
    let mut buyer_ids: Vec<Uuid> = group.iter().map(|c| c.plan.buyer_id.as_uuid()).collect();
    buyer_ids.sort_unstable();
    buyer_ids.dedup();
    let regions: std::collections::HashMap<Uuid, String> = buyers::table
        .filter(buyers::id.eq_any(&buyer_ids))
        .select((buyers::id, buyers::home_region))
        .load::<(Uuid, String)>(conn)?
        .into_iter()
        .collect();
    let known: Vec<(&NewCheckout, &String)> = group
        .iter()
        .filter_map(|c| Some((c, regions.get(&c.plan.buyer_id.as_uuid())?)))
        .collect();
    if known.is_empty() {
        return Ok(vec![None; group.len()]);
    }
    let rows: Vec<_> = known
        .iter()
        .map(|(checkout, region)| {
            let plan = &checkout.plan;
            (
                (
                    checkouts::id.eq(plan.id.as_uuid()),
                    checkouts::buyer_id.eq(plan.buyer_id.as_uuid()),
                    checkouts::idempotency_key.eq(checkout.key.as_str()),
                    checkouts::fingerprint.eq(checkout.fingerprint.as_str()),
                    checkouts::country.eq(plan.country.as_str()),
                    checkouts::currency.eq(plan.currency.code()),
                    checkouts::total_minor.eq(plan.total.minor()),
                ),
                (
                    checkouts::state.eq("open"),
                    checkouts::expires_at.eq(checkout.expires_at.as_micros()),
                    checkouts::created_at.eq(checkout.now.as_micros()),
                    checkouts::home_region.eq(region.as_str()),
                    checkouts::buyer_tax_id.eq(plan.customer.tax_id()),
                    checkouts::tax_id_status.eq(plan.customer.tax_id_status()),
                    checkouts::tax_id_consultation.eq(plan.customer.consultation()),
                ),
            )
        })
        .collect();
    let inserted: Vec<Uuid> = diesel::insert_into(checkouts::table)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(checkouts::id)
        .get_results(conn)?;
    // A checkout id appears twice in a group when a request is retried while it still waits;
    // only the first of them was stored.
    let mut unclaimed: std::collections::HashSet<Uuid> = inserted.into_iter().collect();
    Ok(group
        .iter()
        .map(|c| {
            let id = c.plan.id.as_uuid();
            let region = regions.get(&c.plan.buyer_id.as_uuid())?;
            unclaimed.remove(&id).then(|| region.clone())
        })
        .collect())
}

/// The checkout stored before under the buyer's `key`, if the request is the same; the
/// buyer being unknown otherwise.
fn existing_checkout(
    conn: &mut PgConnection,
    plan: &CheckoutPlan,
    key: &str,
    fingerprint: &str,
) -> Result<CheckoutRecord> {
    let existing: Vec<CheckoutRow> = checkouts::table
        .filter(checkouts::buyer_id.eq(plan.buyer_id.as_uuid()))
        .filter(checkouts::idempotency_key.eq(key))
        .select(CheckoutRow::as_select())
        .load(conn)?;
    let Some(row) = existing.into_iter().next() else {
        // No checkout under the key: the buyer is unknown (or, were the id taken by another
        // key, the store is corrupt).
        buyer_region(conn, plan.buyer_id)?;
        tracing::error!(checkout = %plan.id.as_uuid(), "a checkout id is taken by another idempotency key");
        return refuse(CommerceError::Internal);
    };
    if row.fingerprint != fingerprint {
        return refuse(CommerceError::IdempotencyKeyReused);
    }
    load_checkout(conn, row.id)?.ok_or(Fail::Domain(CommerceError::Internal))
}

/// Takes a physical line's quantity from its SKU's free stock, or refuses the checkout with
/// what is left.
#[expect(
    clippy::arithmetic_side_effects,
    reason = "the column arithmetic builds SQL; PostgreSQL does the (checked) arithmetic"
)]
fn take_stock(conn: &mut PgConnection, line: &PricedLine) -> Result<()> {
    let quantity = int(line.quantity)?;
    let reserved: Vec<Uuid> = diesel::update(skus::table)
        .filter(skus::id.eq(line.sku_id.as_uuid()))
        .filter(skus::tracks_stock)
        .filter((skus::on_hand - skus::reserved).ge(quantity))
        .set(skus::reserved.eq(skus::reserved + quantity))
        .returning(skus::id)
        .get_results(conn)?;
    if reserved.is_empty() {
        let left: Vec<i32> = skus::table
            .filter(skus::id.eq(line.sku_id.as_uuid()))
            .select(skus::on_hand - skus::reserved)
            .load(conn)?;
        let available = left.first().map_or(0, |value| (*value).max(0));
        return refuse(CommerceError::OutOfStock {
            sku: line.sku_id,
            requested: line.quantity,
            available: unsigned(available)?,
        });
    }
    Ok(())
}

/// Records the stock taken for each checkout's physical lines as held, in one statement.
fn hold_stock(conn: &mut PgConnection, lines: &[(&CheckoutPlan, &PricedLine)]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let rows = lines
        .iter()
        .map(|(plan, line)| {
            Ok((
                stock_reservations::checkout_id.eq(plan.id.as_uuid()),
                stock_reservations::sku_id.eq(line.sku_id.as_uuid()),
                stock_reservations::quantity.eq(int(line.quantity)?),
                stock_reservations::state.eq("held"),
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    diesel::insert_into(stock_reservations::table)
        .values(rows)
        .execute(conn)?;
    Ok(())
}

pub(crate) fn buyer_region(conn: &mut PgConnection, buyer_id: BuyerId) -> Result<String> {
    buyer(conn, buyer_id)?
        .map(|b| b.region.as_str().to_owned())
        .ok_or(Fail::Domain(CommerceError::NotFound("buyer")))
}

/// Stores the orders of these checkouts (each with its buyer's region) and their lines: one
/// statement for the orders, one for all the lines.
fn insert_orders(conn: &mut PgConnection, checkouts: &[(&NewCheckout, &str)]) -> Result<()> {
    let mut orders_rows = Vec::new();
    let mut line_rows = Vec::new();
    for (checkout, region) in checkouts {
        let (plan, now) = (&checkout.plan, checkout.now);
        for order in &plan.orders {
            let quote = order.quote.as_ref();
            orders_rows.push((
                (
                    orders::id.eq(order.id.as_uuid()),
                    orders::checkout_id.eq(plan.id.as_uuid()),
                    orders::seller_id.eq(order.seller_id.as_uuid()),
                    orders::buyer_id.eq(plan.buyer_id.as_uuid()),
                    orders::state.eq("awaiting_payment"),
                    orders::currency.eq(plan.currency.code()),
                    orders::total_minor.eq(order.total.minor()),
                    orders::settlement_currency.eq(order.settlement_currency.code()),
                ),
                (
                    orders::fx_mid.eq(quote.map(|q| q.rate.mid.to_string())),
                    orders::fx_source.eq(quote.map(|q| q.rate.source.clone())),
                    orders::fx_effective_at.eq(quote.map(|q| q.rate.effective_at.as_micros())),
                    orders::fx_spread.eq(quote.map(|q| q.spread.fraction().to_string())),
                    orders::created_at.eq(now.as_micros()),
                    orders::updated_at.eq(now.as_micros()),
                    orders::home_region.eq(*region),
                ),
            ));
            for (position, line) in order.lines.iter().enumerate() {
                line_rows.push((
                    (
                        order_lines::id.eq(line.id.as_uuid()),
                        order_lines::order_id.eq(order.id.as_uuid()),
                        order_lines::position.eq(i32::try_from(position).unwrap_or(i32::MAX)),
                        order_lines::sku_id.eq(line.sku_id.as_uuid()),
                        order_lines::product_id.eq(line.product_id.as_uuid()),
                        order_lines::title.eq(&line.title),
                        order_lines::category.eq(line.category.as_str()),
                    ),
                    (
                        order_lines::kind.eq(line.kind.as_str()),
                        order_lines::quantity.eq(int(line.quantity)?),
                        order_lines::unit_price_minor.eq(line.unit_price.minor()),
                        order_lines::total_minor.eq(line.total.minor()),
                        order_lines::commission_bps.eq(i32::from(line.commission.get())),
                        order_lines::tax_bps.eq(legacy_bps(&line.tax)),
                    ),
                    (
                        order_lines::tax_minor.eq(line.tax.amount.minor()),
                        order_lines::tax_decision.eq(line.tax.decision.to_stored()),
                        order_lines::tax_place.eq(line.tax.decision.place.to_string()),
                        order_lines::tax_scheme.eq(line.tax.decision.scheme.as_str()),
                        order_lines::tax_threshold_kind.eq(threshold_kind(&line.tax)),
                        order_lines::tax_threshold_minor.eq(line.tax.threshold.map(Money::minor)),
                        order_lines::tax_code.eq(line.tax_code.as_str()),
                    ),
                ));
            }
        }
    }
    diesel::insert_into(orders::table)
        .values(orders_rows)
        .execute(conn)?;
    diesel::insert_into(order_lines::table)
        .values(line_rows)
        .execute(conn)?;
    Ok(())
}

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

/// The lines of these orders in order and position order; `lock` takes them FOR UPDATE.
pub(crate) fn lines_of_orders(
    conn: &mut PgConnection,
    order_ids: &[Uuid],
    lock: bool,
) -> Result<Vec<LineRow>> {
    let query = order_lines::table
        .filter(order_lines::order_id.eq_any(order_ids))
        .order((order_lines::order_id, order_lines::position))
        .select(LineRow::as_select());
    Ok(if lock {
        query.for_update().load(conn)?
    } else {
        query.load(conn)?
    })
}

pub(crate) fn priced_line(row: &LineRow, currency: bazaar_money::Currency) -> Result<PricedLine> {
    Ok(PricedLine {
        id: LineId::from_uuid(row.id),
        sku_id: SkuId::from_uuid(row.sku_id),
        product_id: ProductId::from_uuid(row.product_id),
        title: row.title.clone(),
        category: rows::category(&row.category)?,
        kind: rows::kind(&row.kind)?,
        tax_code: rows::tax_code(row.tax_code.as_deref(), rows::kind(&row.kind)?)?,
        quantity: unsigned(row.quantity)?,
        unit_price: Money::from_minor(row.unit_price_minor, currency),
        total: Money::from_minor(row.total_minor, currency),
        commission: rows::bps(row.commission_bps)?,
        tax: line_tax(row, currency)?,
    })
}

/// The line's tax as stored. A line taxed before the engine has no decision: its tax was
/// `tax_bps` included in the total and collected by the marketplace; it reads back as a
/// configured rate in an unknown place (`ZZ`), which only names accounts of tax legs such a
/// line had none of (no rates were configured then).
fn line_tax(row: &LineRow, currency: bazaar_money::Currency) -> Result<LineTax> {
    let Some(text) = &row.tax_decision else {
        let rate = rows::bps(row.tax_bps)?;
        let unknown = Area::parse("ZZ").map_err(|_| Fail::Domain(CommerceError::Internal))?;
        let terms = LineTaxTerms::included(
            Money::from_minor(row.total_minor, currency),
            rate,
            Jurisdiction::new("ZZ").map_err(|_| Fail::Domain(CommerceError::Internal))?,
        )
        .map_err(CommerceError::from)?;
        return Ok(LineTax {
            decision: LineTax::configured(unknown, TaxRate::from_basis_points(rate)),
            amount: terms.amount,
            threshold: None,
        });
    };
    let decision =
        Decision::from_stored(text).ok_or_else(|| rows::corrupt("tax_decision", text))?;
    let threshold_currency = match decision.place.country().as_str() {
        "US" => bazaar_money::Currency::USD,
        _ => bazaar_money::Currency::EUR,
    };
    Ok(LineTax {
        threshold: row
            .tax_threshold_minor
            .map(|minor| Money::from_minor(minor, threshold_currency)),
        decision,
        amount: Money::from_minor(row.tax_minor, currency),
    })
}

/// The whole basis points of the line's rate, kept in `tax_bps` for readers of the old
/// column.
fn legacy_bps(tax: &LineTax) -> i32 {
    i32::try_from(tax.decision.rate.millionths() / 100).unwrap_or(0)
}

pub(crate) fn load_checkout(conn: &mut PgConnection, id: Uuid) -> Result<Option<CheckoutRecord>> {
    let Some(checkout) = checkouts::table
        .find(id)
        .select(CheckoutRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let currency = rows::currency(&checkout.currency)?;
    let order_rows: Vec<OrderRow> = orders::table
        .filter(orders::checkout_id.eq(id))
        .order(orders::seller_id)
        .select(OrderRow::as_select())
        .load(conn)?;
    let order_ids: Vec<Uuid> = order_rows.iter().map(|o| o.id).collect();
    let line_rows = lines_of_orders(conn, &order_ids, false)?;
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
    let payment = payments::table
        .filter(payments::checkout_id.eq(id))
        .select(PaymentRow::as_select())
        .first(conn)
        .optional()?
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
            customer: Customer::from_parts(
                checkout.buyer_tax_id.clone(),
                checkout.tax_id_status.as_deref(),
                checkout.tax_id_consultation.clone(),
            )
            .ok_or_else(|| rows::corrupt("tax_id_status", "unknown"))?,
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
    let query = payments::table.find(id).select(PaymentRow::as_select());
    let row = if lock {
        query.for_update().first(conn).optional()?
    } else {
        query.first(conn).optional()?
    };
    row.map(payment_record).transpose()
}

pub(crate) fn lock_checkout(conn: &mut PgConnection, id: Uuid) -> Result<CheckoutRow> {
    checkouts::table
        .find(id)
        .select(CheckoutRow::as_select())
        .for_update()
        .first(conn)
        .optional()?
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
    diesel::insert_into(payments::table)
        .values((
            payments::id.eq(new.id.as_uuid()),
            payments::checkout_id.eq(new.checkout_id.as_uuid()),
            payments::provider.eq(new.provider.as_str()),
            payments::method.eq(new.method.wire_name()),
            payments::amount_minor.eq(checkout.total_minor),
            payments::currency.eq(checkout.currency.trim()),
            payments::state.eq("pending"),
            payments::created_at.eq(now.as_micros()),
            payments::updated_at.eq(now.as_micros()),
        ))
        .execute(conn)?;
    diesel::update(checkouts::table.find(new.checkout_id.as_uuid()))
        .set(checkouts::state.eq("payment_pending"))
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
    let checkout: Uuid = diesel::update(payments::table.find(payment_id.as_uuid()))
        .set((
            payments::psp_reference.eq(reference.as_str()),
            payments::action.eq(action.map(rows::action_to_json)),
        ))
        .returning(payments::checkout_id)
        .get_result(conn)
        .optional()?
        .ok_or(Fail::Domain(CommerceError::NotFound("payment")))?;
    // raw SQL: GREATEST(expires_at, $2) in SET; diesel has no GREATEST
    sql_query(
        "UPDATE checkouts SET expires_at = GREATEST(expires_at, $2) \
         WHERE id = $1 AND state IN ('open', 'payment_pending')",
    )
    .bind::<SqlUuid, _>(checkout)
    .bind::<BigInt, _>(hold_until.as_micros())
    .execute(conn)?;
    Ok(())
}

pub(crate) fn order_payment(conn: &mut PgConnection, order: OrderId) -> Result<Option<PaymentId>> {
    let payment: Option<Uuid> = payments::table
        .filter(
            payments::checkout_id.eq_any(
                orders::table
                    .filter(orders::id.eq(order.as_uuid()))
                    .select(orders::checkout_id),
            ),
        )
        .select(payments::id)
        .first(conn)
        .optional()?;
    Ok(payment.map(PaymentId::from_uuid))
}
