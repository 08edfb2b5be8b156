//! The SQL of each commerce operation; every function runs inside one transaction.

use std::str::FromStr;

use bazaar_domain::Country;
use bazaar_domain::catalog::{
    Buyer, BuyerId, CommissionRule, NewProduct, ProductId, ProductKind, ProductQuery,
    ProductSummary, Review, Seller, SkuId, SkuView,
};
use bazaar_domain::chart::{Jurisdiction, SellerId};
use bazaar_domain::error::CommerceError;
use bazaar_domain::events::EventType;
use bazaar_domain::fx::{FxRate, Spread};
use bazaar_domain::orders::{
    CheckoutId, CheckoutPlan, CheckoutState, FxQuote, LineId, OrderId, OrderState, PaymentState,
    PlannedOrder, PricedLine, RefundId, derive_id,
};
use bazaar_domain::payments::{Action, PaymentChange, PaymentId, PspReference, payment_change};
use bazaar_domain::postings::LineCapture;
use bazaar_domain::store::{
    CheckoutRecord, EventOutcome, IntentKind, LedgerIntent, NewPayment, NewRefund,
    NotificationFailure, OrderView, PageCursor, Party, PaymentEvent, PaymentRecord,
    RefundPostingInput, RefundRecord, RefundState, Requester, ReviewView,
};
use bazaar_ledger::Timestamp;
use bazaar_money::Money;
use diesel::pg::PgConnection;
use diesel::sql_types::{
    Array, BigInt, Binary, Bool, Integer, Jsonb, Nullable, Text, Uuid as SqlUuid,
};
use diesel::{RunQueryDsl, sql_query};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::Fail;
use super::emit;
use super::rows::{self, *};

type Result<T> = std::result::Result<T, Fail>;

fn refuse<T>(error: CommerceError) -> Result<T> {
    Err(Fail::Domain(error))
}

fn int(value: u32) -> Result<i32> {
    i32::try_from(value).map_err(|_| Fail::Domain(CommerceError::InvalidInput("number too large")))
}

fn unsigned(value: i32) -> Result<u32> {
    u32::try_from(value).map_err(|_| rows::corrupt("count", &value.to_string()))
}

// --- sellers and buyers -------------------------------------------------------------------

pub(crate) fn create_seller(
    conn: &mut PgConnection,
    seller: &Seller,
    now: Timestamp,
) -> Result<()> {
    sql_query(
        "INSERT INTO sellers (id, name, country, home_region, settlement_currency, commission_bps, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
    )
    .bind::<SqlUuid, _>(seller.id.as_uuid())
    .bind::<Text, _>(&seller.name)
    .bind::<Text, _>(seller.country.as_str())
    .bind::<Text, _>(seller.region.as_str())
    .bind::<Text, _>(seller.settlement_currency.code())
    .bind::<Integer, _>(i32::from(seller.commission.default.get()))
    .bind::<BigInt, _>(now.as_micros())
    .execute(conn)?;
    for (category, rate) in &seller.commission.by_category {
        sql_query(
            "INSERT INTO commission_rates (seller_id, category, commission_bps) VALUES ($1, $2, $3) \
             ON CONFLICT (seller_id, category) DO NOTHING",
        )
        .bind::<SqlUuid, _>(seller.id.as_uuid())
        .bind::<Text, _>(category.as_str())
        .bind::<Integer, _>(i32::from(rate.get()))
        .execute(conn)?;
    }
    Ok(())
}

pub(crate) fn sellers(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<Seller>> {
    let rows: Vec<SellerRow> = sql_query(
        "SELECT id, name, country::TEXT AS country, home_region, settlement_currency::TEXT AS settlement_currency, commission_bps \
         FROM sellers WHERE id = ANY($1)",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .load(conn)?;
    let rates: Vec<RateRow> = sql_query(
        "SELECT seller_id, category, commission_bps FROM commission_rates WHERE seller_id = ANY($1)",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .load(conn)?;
    rows.into_iter()
        .map(|row| {
            let mut commission = CommissionRule::flat(rows::bps(row.commission_bps)?);
            for rate in rates.iter().filter(|r| r.seller_id == row.id) {
                commission.by_category.insert(
                    rows::category(&rate.category)?,
                    rows::bps(rate.commission_bps)?,
                );
            }
            Ok(Seller {
                id: SellerId::from_uuid(row.id),
                name: row.name,
                country: rows::country(&row.country)?,
                region: rows::region(&row.home_region)?,
                settlement_currency: rows::currency(&row.settlement_currency)?,
                commission,
            })
        })
        .collect()
}

pub(crate) fn create_buyer(conn: &mut PgConnection, buyer: &Buyer, now: Timestamp) -> Result<()> {
    sql_query(
        "INSERT INTO buyers (id, name, country, home_region, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind::<SqlUuid, _>(buyer.id.as_uuid())
    .bind::<Text, _>(&buyer.name)
    .bind::<Text, _>(buyer.country.as_str())
    .bind::<Text, _>(buyer.region.as_str())
    .bind::<BigInt, _>(now.as_micros())
    .execute(conn)?;
    Ok(())
}

pub(crate) fn buyer(conn: &mut PgConnection, id: BuyerId) -> Result<Option<Buyer>> {
    let rows: Vec<BuyerRow> = sql_query(
        "SELECT id, name, country::TEXT AS country, home_region FROM buyers WHERE id = $1",
    )
    .bind::<SqlUuid, _>(id.as_uuid())
    .load(conn)?;
    rows.into_iter()
        .next()
        .map(|row| {
            Ok(Buyer {
                id: BuyerId::from_uuid(row.id),
                name: row.name,
                country: rows::country(&row.country)?,
                region: rows::region(&row.home_region)?,
            })
        })
        .transpose()
}

// --- catalog ------------------------------------------------------------------------------

pub(crate) fn create_product(
    conn: &mut PgConnection,
    product: &NewProduct,
    now: Timestamp,
) -> Result<()> {
    if sellers(conn, &[product.seller_id.as_uuid()])?.is_empty() {
        return refuse(CommerceError::NotFound("seller"));
    }
    let fingerprint = product.fingerprint();
    let inserted = sql_query(
        "INSERT INTO products (id, seller_id, title, description, category, kind, created_at, fingerprint) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
    )
    .bind::<SqlUuid, _>(product.id.as_uuid())
    .bind::<SqlUuid, _>(product.seller_id.as_uuid())
    .bind::<Text, _>(&product.title)
    .bind::<Text, _>(&product.description)
    .bind::<Text, _>(product.category.as_str())
    .bind::<Text, _>(product.kind.as_str())
    .bind::<BigInt, _>(now.as_micros())
    .bind::<Text, _>(&fingerprint)
    .execute(conn)?;
    if inserted == 0 {
        // The key was used before: a retry of the same creation finds its product; a
        // different product under the same key is refused, as checkout does. Products
        // created before fingerprints were kept have none and are taken as retries.
        let stored: Vec<FingerprintRow> =
            sql_query("SELECT fingerprint FROM products WHERE id = $1")
                .bind::<SqlUuid, _>(product.id.as_uuid())
                .load(conn)?;
        return match stored.first().and_then(|row| row.fingerprint.as_deref()) {
            Some(stored) if stored != fingerprint => refuse(CommerceError::IdempotencyKeyReused),
            _ => Ok(()),
        };
    }
    for sku in &product.skus {
        sql_query(
            "INSERT INTO skus (id, product_id, code, title, tracks_stock, on_hand, reserved) \
             VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind::<SqlUuid, _>(sku.id.as_uuid())
        .bind::<SqlUuid, _>(product.id.as_uuid())
        .bind::<Text, _>(&sku.code)
        .bind::<Text, _>(&sku.title)
        .bind::<Bool, _>(sku.stock.is_some())
        .bind::<Integer, _>(int(sku.stock.unwrap_or(0))?)
        .execute(conn)?;
        for price in &sku.prices {
            sql_query(
                "INSERT INTO sku_prices (sku_id, currency, amount_minor) VALUES ($1, $2, $3)",
            )
            .bind::<SqlUuid, _>(sku.id.as_uuid())
            .bind::<Text, _>(price.currency().code())
            .bind::<BigInt, _>(price.minor())
            .execute(conn)?;
        }
    }
    Ok(())
}

pub(crate) fn sku_views(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<SkuView>> {
    let skus: Vec<SkuRow> = sql_query(
        "SELECT s.id, s.product_id, p.seller_id, s.title, p.category, p.kind, s.tracks_stock, \
                (s.on_hand - s.reserved) AS available \
         FROM skus s JOIN products p ON p.id = s.product_id WHERE s.id = ANY($1)",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .load(conn)?;
    let prices: Vec<PriceRow> = sql_query(
        "SELECT sku_id, currency::TEXT AS currency, amount_minor FROM sku_prices WHERE sku_id = ANY($1) \
         ORDER BY sku_id, currency",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .load(conn)?;
    skus.into_iter()
        .map(|row| {
            let prices = prices
                .iter()
                .filter(|p| p.sku_id == row.id)
                .map(|p| {
                    Ok(Money::from_minor(
                        p.amount_minor,
                        rows::currency(&p.currency)?,
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(SkuView {
                sku_id: SkuId::from_uuid(row.id),
                product_id: ProductId::from_uuid(row.product_id),
                seller_id: SellerId::from_uuid(row.seller_id),
                title: row.title,
                category: rows::category(&row.category)?,
                kind: rows::kind(&row.kind)?,
                prices,
                available: if row.tracks_stock {
                    Some(unsigned(row.available)?)
                } else {
                    None
                },
            })
        })
        .collect()
}

/// `%word%` patterns for ILIKE, with the pattern characters of each word escaped.
fn like_patterns(text: Option<&str>) -> Vec<String> {
    text.unwrap_or("")
        .split_whitespace()
        .take(8)
        .map(|word| {
            let escaped = word
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        })
        .collect()
}

pub(crate) fn search(conn: &mut PgConnection, query: &ProductQuery) -> Result<Vec<ProductSummary>> {
    let patterns = like_patterns(query.text.as_deref());
    let currency = query.currency.map(|c| c.code().to_owned());
    let rows: Vec<ProductRow> = sql_query(
        "SELECT p.id, p.seller_id, p.title, p.category, p.kind, \
           (SELECT MIN(sp.amount_minor) FROM skus s JOIN sku_prices sp ON sp.sku_id = s.id \
             WHERE s.product_id = p.id AND sp.currency = $6) AS price_from, \
           (SELECT (ROUND(AVG(r.rating) * 100))::INT4 FROM reviews r WHERE r.product_id = p.id) AS rating_centi, \
           (SELECT COUNT(*)::INT4 FROM reviews r WHERE r.product_id = p.id) AS review_count \
         FROM products p \
         WHERE (cardinality($1::TEXT[]) = 0 OR (p.title || ' ' || p.description) ILIKE ALL ($1)) \
           AND ($2::TEXT IS NULL OR p.category = $2) \
           AND ($3::UUID IS NULL OR p.seller_id = $3) \
           AND ($4::TEXT IS NULL OR p.kind = $4) \
           AND ($5::UUID IS NULL OR p.id > $5) \
           AND ($6::TEXT IS NULL OR EXISTS ( \
                SELECT 1 FROM skus s JOIN sku_prices sp ON sp.sku_id = s.id \
                 WHERE s.product_id = p.id AND sp.currency = $6 \
                   AND ($7::BIGINT IS NULL OR sp.amount_minor >= $7) \
                   AND ($8::BIGINT IS NULL OR sp.amount_minor <= $8))) \
           AND ($10::UUID[] IS NULL OR p.id = ANY($10)) \
         ORDER BY p.id LIMIT $9",
    )
    .bind::<Array<Text>, _>(&patterns)
    .bind::<Nullable<Text>, _>(query.category.as_ref().map(|c| c.as_str().to_owned()))
    .bind::<Nullable<SqlUuid>, _>(query.seller_id.map(SellerId::as_uuid))
    .bind::<Nullable<Text>, _>(query.kind.map(|k| k.as_str().to_owned()))
    .bind::<Nullable<SqlUuid>, _>(query.after.map(|p| p.as_uuid()))
    .bind::<Nullable<Text>, _>(currency)
    .bind::<Nullable<BigInt>, _>(query.price_min_minor)
    .bind::<Nullable<BigInt>, _>(query.price_max_minor)
    .bind::<BigInt, _>(i64::from(query.limit))
    .bind::<Nullable<Array<SqlUuid>>, _>(
        query
            .ids
            .as_ref()
            .map(|ids| ids.iter().map(|id| id.as_uuid()).collect::<Vec<_>>()),
    )
    .load(conn)?;
    rows.into_iter()
        .map(|row| {
            let price_from = match (row.price_from, query.currency) {
                (Some(minor), Some(currency)) => Some(Money::from_minor(minor, currency)),
                _ => None,
            };
            Ok(ProductSummary {
                id: ProductId::from_uuid(row.id),
                seller_id: SellerId::from_uuid(row.seller_id),
                title: row.title,
                category: rows::category(&row.category)?,
                kind: rows::kind(&row.kind)?,
                price_from,
                rating_centi: row.rating_centi.and_then(|r| u16::try_from(r).ok()),
                review_count: unsigned(row.review_count)?,
            })
        })
        .collect()
}

// --- checkouts ----------------------------------------------------------------------------

pub(crate) fn create_checkout(
    conn: &mut PgConnection,
    plan: &CheckoutPlan,
    key: &str,
    fingerprint: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<CheckoutRecord> {
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
        let reserved: Vec<IdRow> = sql_query(
            "UPDATE skus SET reserved = reserved + $2 \
             WHERE id = $1 AND tracks_stock AND on_hand - reserved >= $2 RETURNING id",
        )
        .bind::<SqlUuid, _>(line.sku_id.as_uuid())
        .bind::<Integer, _>(quantity)
        .load(conn)?;
        if reserved.is_empty() {
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
        sql_query(
            "INSERT INTO stock_reservations (checkout_id, sku_id, quantity, state) VALUES ($1, $2, $3, 'held')",
        )
        .bind::<SqlUuid, _>(plan.id.as_uuid())
        .bind::<SqlUuid, _>(line.sku_id.as_uuid())
        .bind::<Integer, _>(quantity)
        .execute(conn)?;
    }
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

fn buyer_region(conn: &mut PgConnection, buyer_id: BuyerId) -> Result<String> {
    buyer(conn, buyer_id)?
        .map(|b| b.region.as_str().to_owned())
        .ok_or(Fail::Domain(CommerceError::NotFound("buyer")))
}

fn insert_order(
    conn: &mut PgConnection,
    plan: &CheckoutPlan,
    order: &PlannedOrder,
    region: &str,
    now: Timestamp,
) -> Result<()> {
    let quote = order.quote.as_ref();
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

const CHECKOUT_SELECT: &str = "SELECT id, buyer_id, fingerprint, country::TEXT AS country, currency::TEXT AS currency, \
     total_minor, state, expires_at FROM checkouts";
const ORDER_SELECT: &str = "SELECT id, seller_id, state, total_minor, \
     settlement_currency::TEXT AS settlement_currency, fx_mid, fx_source, fx_effective_at, fx_spread FROM orders";
const LINE_SELECT: &str = "SELECT id, order_id, sku_id, product_id, title, category, kind, quantity, unit_price_minor, \
     total_minor, commission_bps, tax_bps, refund_requested_minor, refund_posted_minor FROM order_lines";
const PAYMENT_SELECT: &str = "SELECT id, checkout_id, provider, method, amount_minor, currency::TEXT AS currency, state, \
     psp_reference, action, captured_late FROM payments";
const REFUND_SELECT: &str = "SELECT id, payment_id, line_id, amount_minor, currency::TEXT AS currency, state, chargeback, \
     psp_reference, posted_before_minor, posted_after_minor FROM refunds";

fn quote_of(row: &OrderRow, from: bazaar_money::Currency) -> Result<Option<FxQuote>> {
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

fn priced_line(row: &LineRow, currency: bazaar_money::Currency) -> Result<PricedLine> {
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
    let checkouts: Vec<CheckoutRow> = sql_query(format!("{CHECKOUT_SELECT} WHERE id = $1"))
        .bind::<SqlUuid, _>(id)
        .load(conn)?;
    let Some(checkout) = checkouts.into_iter().next() else {
        return Ok(None);
    };
    let currency = rows::currency(&checkout.currency)?;
    let order_rows: Vec<OrderRow> = sql_query(format!(
        "{ORDER_SELECT} WHERE checkout_id = $1 ORDER BY seller_id"
    ))
    .bind::<SqlUuid, _>(id)
    .load(conn)?;
    let order_ids: Vec<Uuid> = order_rows.iter().map(|o| o.id).collect();
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

fn payment_record(row: PaymentRow) -> Result<PaymentRecord> {
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
    let rows: Vec<PaymentRow> = sql_query(format!("{PAYMENT_SELECT} WHERE id = $1{suffix}"))
        .bind::<SqlUuid, _>(id)
        .load(conn)?;
    rows.into_iter().next().map(payment_record).transpose()
}

fn lock_checkout(conn: &mut PgConnection, id: Uuid) -> Result<CheckoutRow> {
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
    let rows: Vec<IdRow> = sql_query(
        "SELECT p.id FROM orders o JOIN payments p ON p.checkout_id = o.checkout_id WHERE o.id = $1",
    )
    .bind::<SqlUuid, _>(order.as_uuid())
    .load(conn)?;
    Ok(rows.first().map(|r| PaymentId::from_uuid(r.id)))
}

// --- payment events -----------------------------------------------------------------------

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
        let inserted = sql_query(
            "INSERT INTO payment_events (provider, event_id, payment_id, received_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (provider, event_id) DO NOTHING",
        )
        .bind::<Text, _>(payment.provider.as_str())
        .bind::<Text, _>(event_id)
        .bind::<SqlUuid, _>(payment_id.as_uuid())
        .bind::<BigInt, _>(now.as_micros())
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
fn capture_late(
    conn: &mut PgConnection,
    payment: &PaymentRecord,
    now: Timestamp,
    outcome: &mut EventOutcome,
) -> Result<()> {
    tracing::warn!(payment_id = %payment.id, checkout_id = %payment.checkout_id.as_uuid(),
        "payment captured after its checkout was cancelled; refunding it in full");
    sql_query("UPDATE payments SET state = 'captured', captured_late = TRUE, updated_at = $2 WHERE id = $1")
        .bind::<SqlUuid, _>(payment.id.as_uuid())
        .bind::<BigInt, _>(now.as_micros())
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

fn set_payment_state(
    conn: &mut PgConnection,
    id: PaymentId,
    state: PaymentState,
    now: Timestamp,
) -> Result<()> {
    sql_query("UPDATE payments SET state = $2, updated_at = $3 WHERE id = $1")
        .bind::<SqlUuid, _>(id.as_uuid())
        .bind::<Text, _>(state.as_str())
        .bind::<BigInt, _>(now.as_micros())
        .execute(conn)?;
    emit::payment(conn, id.as_uuid(), state, now)
}

fn mark_paid(conn: &mut PgConnection, checkout: Uuid, now: Timestamp) -> Result<()> {
    sql_query(
        "UPDATE skus SET on_hand = skus.on_hand - r.quantity, reserved = skus.reserved - r.quantity \
         FROM stock_reservations r WHERE r.checkout_id = $1 AND r.state = 'held' AND skus.id = r.sku_id",
    )
    .bind::<SqlUuid, _>(checkout)
    .execute(conn)?;
    sql_query("UPDATE stock_reservations SET state = 'consumed' WHERE checkout_id = $1 AND state = 'held'")
        .bind::<SqlUuid, _>(checkout)
        .execute(conn)?;
    sql_query("UPDATE checkouts SET state = 'paid' WHERE id = $1")
        .bind::<SqlUuid, _>(checkout)
        .execute(conn)?;
    // Orders of digital goods only are delivered the moment they are paid.
    sql_query(
        "UPDATE orders SET updated_at = $2, state = CASE WHEN EXISTS ( \
            SELECT 1 FROM order_lines l WHERE l.order_id = orders.id AND l.kind = 'physical') \
          THEN 'paid' ELSE 'delivered' END \
         WHERE checkout_id = $1 AND state = 'awaiting_payment'",
    )
    .bind::<SqlUuid, _>(checkout)
    .bind::<BigInt, _>(now.as_micros())
    .execute(conn)?;
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

fn cancel_checkout(conn: &mut PgConnection, checkout: Uuid, now: Timestamp) -> Result<()> {
    sql_query(
        "UPDATE skus SET reserved = skus.reserved - r.quantity \
         FROM stock_reservations r WHERE r.checkout_id = $1 AND r.state = 'held' AND skus.id = r.sku_id",
    )
    .bind::<SqlUuid, _>(checkout)
    .execute(conn)?;
    sql_query("UPDATE stock_reservations SET state = 'released' WHERE checkout_id = $1 AND state = 'held'")
        .bind::<SqlUuid, _>(checkout)
        .execute(conn)?;
    sql_query("UPDATE checkouts SET state = 'cancelled' WHERE id = $1 AND state <> 'paid'")
        .bind::<SqlUuid, _>(checkout)
        .execute(conn)?;
    sql_query("UPDATE orders SET state = 'cancelled' WHERE checkout_id = $1 AND state = 'awaiting_payment'")
        .bind::<SqlUuid, _>(checkout)
        .execute(conn)?;
    emit::checkout_orders(
        conn,
        EventType::OrderCancelled,
        checkout,
        &["cancelled"],
        now,
    )
}

fn add_intent(
    conn: &mut PgConnection,
    kind: &str,
    subject: Uuid,
    now: Timestamp,
) -> Result<LedgerIntent> {
    let id = derive_id(subject, &format!("intent:{kind}"));
    sql_query(
        "INSERT INTO ledger_intents (id, kind, subject_id, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(kind)
    .bind::<SqlUuid, _>(subject)
    .bind::<BigInt, _>(now.as_micros())
    .execute(conn)?;
    intent(id, kind, subject, 0)
}

fn intent(id: Uuid, kind: &str, subject: Uuid, attempts: i32) -> Result<LedgerIntent> {
    let kind = match kind {
        "capture" => IntentKind::Capture(PaymentId::from_uuid(subject)),
        "refund" => IntentKind::Refund(RefundId::from_uuid(subject)),
        other => return Err(rows::corrupt("intent kind", other)),
    };
    Ok(LedgerIntent {
        id,
        kind,
        attempts: u32::try_from(attempts)
            .map_err(|_| rows::corrupt("intent attempts", &attempts.to_string()))?,
    })
}

fn refund(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<Option<RefundRow>> {
    let suffix = if lock { " FOR UPDATE" } else { "" };
    let rows: Vec<RefundRow> = sql_query(format!("{REFUND_SELECT} WHERE id = $1{suffix}"))
        .bind::<SqlUuid, _>(id)
        .load(conn)?;
    Ok(rows.into_iter().next())
}

fn lock_line(conn: &mut PgConnection, id: Uuid) -> Result<LineRow> {
    let rows: Vec<LineRow> = sql_query(format!("{LINE_SELECT} WHERE id = $1 FOR UPDATE"))
        .bind::<SqlUuid, _>(id)
        .load(conn)?;
    rows.into_iter()
        .next()
        .ok_or(Fail::Domain(CommerceError::NotFound("line")))
}

fn confirm_refund(
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

fn post_refund(
    conn: &mut PgConnection,
    refund: Uuid,
    line: Uuid,
    before: i64,
    after: i64,
    now: Timestamp,
) -> Result<()> {
    sql_query("UPDATE order_lines SET refund_posted_minor = $2 WHERE id = $1")
        .bind::<SqlUuid, _>(line)
        .bind::<BigInt, _>(after)
        .execute(conn)?;
    sql_query(
        "UPDATE refunds SET state = 'succeeded', posted_before_minor = $2, posted_after_minor = $3 WHERE id = $1",
    )
    .bind::<SqlUuid, _>(refund)
    .bind::<BigInt, _>(before)
    .bind::<BigInt, _>(after)
    .execute(conn)?;
    emit::refund(conn, EventType::RefundSucceeded, refund, now)
}

fn fail_refund(conn: &mut PgConnection, id: RefundId, now: Timestamp) -> Result<()> {
    let Some(row) = refund(conn, id.as_uuid(), true)? else {
        return refuse(CommerceError::NotFound("refund"));
    };
    if rows::refund_state(&row.state)? != RefundState::Requested {
        return Ok(());
    }
    sql_query(
        "UPDATE order_lines SET refund_requested_minor = refund_requested_minor - $2 WHERE id = $1",
    )
    .bind::<SqlUuid, _>(row.line_id)
    .bind::<BigInt, _>(row.amount_minor)
    .execute(conn)?;
    sql_query("UPDATE refunds SET state = 'failed' WHERE id = $1")
        .bind::<SqlUuid, _>(id.as_uuid())
        .execute(conn)?;
    emit::refund(conn, EventType::RefundFailed, id.as_uuid(), now)
}

/// Records a refund of every line's unrefunded remainder (`key` names the cause, and with
/// the line makes the refund's id and idempotency key), marks those amounts requested, and
/// returns each refund's id with its line and amount.
fn refund_remainders(
    conn: &mut PgConnection,
    payment: &PaymentRecord,
    key: &str,
    chargeback: bool,
    now: Timestamp,
) -> Result<Vec<(Uuid, LineRow, i64)>> {
    let lines: Vec<LineRow> = sql_query(format!(
        "{LINE_SELECT} WHERE order_id IN (SELECT id FROM orders WHERE checkout_id = $1) ORDER BY id FOR UPDATE"
    ))
    .bind::<SqlUuid, _>(payment.checkout_id.as_uuid())
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
        sql_query(
            "INSERT INTO refunds (id, payment_id, line_id, amount_minor, currency, idempotency_key, state, \
                                  chargeback, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'requested', $7, $8)",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<SqlUuid, _>(payment.id.as_uuid())
        .bind::<SqlUuid, _>(line.id)
        .bind::<BigInt, _>(remaining)
        .bind::<Text, _>(payment.amount.currency().code())
        .bind::<Text, _>(format!("{key}:{}", line.id))
        .bind::<Bool, _>(chargeback)
        .bind::<BigInt, _>(now.as_micros())
        .execute(conn)?;
        sql_query("UPDATE order_lines SET refund_requested_minor = total_minor WHERE id = $1")
            .bind::<SqlUuid, _>(line.id)
            .execute(conn)?;
        refunds.push((id, line, remaining));
    }
    Ok(refunds)
}

fn chargeback(
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

// --- refunds ------------------------------------------------------------------------------

fn refund_record(row: RefundRow) -> Result<RefundRecord> {
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
    let rows: Vec<RefundRow> = sql_query(format!("{REFUND_SELECT} WHERE psp_reference = $1"))
        .bind::<Text, _>(reference.as_str())
        .load(conn)?;
    rows.into_iter().next().map(refund_record).transpose()
}

// --- expiry, fulfilment, reviews ----------------------------------------------------------

pub(crate) fn expire_checkouts(
    conn: &mut PgConnection,
    now: Timestamp,
    limit: u32,
) -> Result<Vec<CheckoutRecord>> {
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

// --- ledger inputs ------------------------------------------------------------------------

fn line_capture(
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

// --- read models for the API --------------------------------------------------------------

pub(crate) fn product_skus(conn: &mut PgConnection, products: &[Uuid]) -> Result<Vec<SkuView>> {
    let ids: Vec<IdRow> = sql_query("SELECT id FROM skus WHERE product_id = ANY($1)")
        .bind::<Array<SqlUuid>, _>(products)
        .load(conn)?;
    let ids: Vec<Uuid> = ids.into_iter().map(|r| r.id).collect();
    sku_views(conn, &ids)
}

#[derive(diesel::QueryableByName)]
struct OrderListRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    checkout_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    buyer_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    seller_id: Uuid,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    total_minor: i64,
    #[diesel(sql_type = Text)]
    settlement_currency: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
}

/// A party's orders, newest first (by creation time, then id), optionally just one.
pub(crate) fn orders_for(
    conn: &mut PgConnection,
    party: Party,
    after: Option<PageCursor>,
    only: Option<OrderId>,
    limit: u32,
) -> Result<Vec<OrderView>> {
    let (column, owner) = match party {
        Party::Buyer(buyer) => ("buyer_id", buyer.as_uuid()),
        Party::Seller(seller) => ("seller_id", seller.as_uuid()),
    };
    let rows: Vec<OrderListRow> = sql_query(format!(
        "SELECT id, checkout_id, buyer_id, seller_id, state, currency::TEXT AS currency, total_minor, \
                settlement_currency::TEXT AS settlement_currency, created_at \
         FROM orders WHERE {column} = $1 \
           AND ($2::UUID IS NULL OR id = $2) \
           AND ($3::BIGINT IS NULL OR (created_at, id) < ($3, $4)) \
         ORDER BY created_at DESC, id DESC LIMIT $5"
    ))
    .bind::<SqlUuid, _>(owner)
    .bind::<Nullable<SqlUuid>, _>(only.map(|o| o.as_uuid()))
    .bind::<Nullable<BigInt>, _>(after.map(|c| c.created_at.as_micros()))
    .bind::<SqlUuid, _>(after.map_or(Uuid::nil(), |c| c.id))
    .bind::<BigInt, _>(i64::from(limit))
    .load(conn)?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let lines: Vec<LineRow> = sql_query(format!(
        "{LINE_SELECT} WHERE order_id = ANY($1) ORDER BY order_id, position"
    ))
    .bind::<Array<SqlUuid>, _>(&ids)
    .load(conn)?;
    rows.into_iter()
        .map(|row| {
            let currency = rows::currency(&row.currency)?;
            let lines = lines
                .iter()
                .filter(|l| l.order_id == row.id)
                .map(|l| {
                    Ok((
                        priced_line(l, currency)?,
                        Money::from_minor(l.refund_requested_minor, currency),
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(OrderView {
                id: OrderId::from_uuid(row.id),
                checkout_id: CheckoutId::from_uuid(row.checkout_id),
                buyer_id: BuyerId::from_uuid(row.buyer_id),
                seller_id: SellerId::from_uuid(row.seller_id),
                state: rows::order_state(&row.state)?,
                total: Money::from_minor(row.total_minor, currency),
                settlement_currency: rows::currency(&row.settlement_currency)?,
                created_at: Timestamp::from_micros(row.created_at),
                lines,
            })
        })
        .collect()
}

#[derive(diesel::QueryableByName)]
struct ReviewRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    product_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    buyer_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    order_id: Uuid,
    #[diesel(sql_type = Integer)]
    rating: i32,
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
}

pub(crate) fn reviews(
    conn: &mut PgConnection,
    product: ProductId,
    after: Option<PageCursor>,
    limit: u32,
) -> Result<Vec<ReviewView>> {
    let rows: Vec<ReviewRow> = sql_query(
        "SELECT id, product_id, buyer_id, order_id, rating, body, created_at FROM reviews \
         WHERE product_id = $1 AND ($2::BIGINT IS NULL OR (created_at, id) < ($2, $3)) \
         ORDER BY created_at DESC, id DESC LIMIT $4",
    )
    .bind::<SqlUuid, _>(product.as_uuid())
    .bind::<Nullable<BigInt>, _>(after.map(|c| c.created_at.as_micros()))
    .bind::<SqlUuid, _>(after.map_or(Uuid::nil(), |c| c.id))
    .bind::<BigInt, _>(i64::from(limit))
    .load(conn)?;
    rows.into_iter()
        .map(|row| {
            Ok(ReviewView {
                review: Review {
                    id: row.id,
                    product_id: ProductId::from_uuid(row.product_id),
                    buyer_id: BuyerId::from_uuid(row.buyer_id),
                    order_id: OrderId::from_uuid(row.order_id),
                    rating: u8::try_from(row.rating)
                        .map_err(|_| rows::corrupt("rating", &row.rating.to_string()))?,
                    body: row.body,
                },
                created_at: Timestamp::from_micros(row.created_at),
            })
        })
        .collect()
}
