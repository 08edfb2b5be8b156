//! Read models for the API: order and review pages.

use bazaar_schema::schema::{products, sku_prices, skus};
use diesel::prelude::*;

use super::*;

/// A SKU with one of its prices (`None` for a SKU without any), as the join reads them.
type PricedRow = (SkuRow, Option<String>, Option<i64>);

/// The SKUs of the given products with their prices, in one statement: it reads one snapshot
/// by itself, so it needs no transaction around it. Products and SKUs are filtered by the
/// same ids, which plans as index scans on both.
pub(crate) fn product_skus(conn: &mut PgConnection, products: &[Uuid]) -> Result<Vec<SkuView>> {
    priced_skus(conn, Of::Products(products))
}

/// The given SKUs with their products and prices, in one statement.
pub(crate) fn sku_views(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<SkuView>> {
    priced_skus(conn, Of::Skus(ids))
}

/// Which SKUs [`priced_skus`] reads.
enum Of<'a> {
    Products(&'a [Uuid]),
    Skus(&'a [Uuid]),
}

/// SKUs with their products and prices, one row per price, as a builder statement: diesel
/// prepares it once per connection (keyed by its text), so PostgreSQL does not parse and
/// plan it on every read as it did the raw statement before (about 1 ms each).
#[expect(
    clippy::arithmetic_side_effects,
    reason = "the column arithmetic builds SQL; PostgreSQL does the (checked) arithmetic"
)]
fn priced_skus(conn: &mut PgConnection, of: Of<'_>) -> Result<Vec<SkuView>> {
    let query = skus::table
        .inner_join(products::table)
        .left_join(sku_prices::table.on(sku_prices::sku_id.eq(skus::id)))
        .order((skus::id, sku_prices::currency))
        .select((
            (
                skus::id,
                skus::product_id,
                products::seller_id,
                skus::title,
                products::category,
                products::kind,
                products::tax_code,
                skus::tracks_stock,
                skus::on_hand - skus::reserved,
            ),
            sku_prices::currency.nullable(),
            sku_prices::amount_minor.nullable(),
        ))
        .into_boxed();
    let query = match of {
        Of::Products(ids) => query
            .filter(products::id.eq_any(ids))
            .filter(skus::product_id.eq_any(ids)),
        Of::Skus(ids) => query.filter(skus::id.eq_any(ids)),
    };
    let rows: Vec<PricedRow> = query.load(conn)?;
    with_prices(rows)
}

/// One view per SKU from rows in SKU order, each SKU's prices in currency order.
fn with_prices(rows: Vec<PricedRow>) -> Result<Vec<SkuView>> {
    let mut views = Vec::new();
    let mut current: Option<(SkuRow, Vec<Money>)> = None;
    for (sku, currency, amount) in rows {
        let same = current.as_ref().is_some_and(|(open, _)| open.id == sku.id);
        if !same && let Some((done, prices)) = current.replace((sku, Vec::new())) {
            views.push(sku_view(done, prices)?);
        }
        if let (Some(currency), Some(amount), Some((_, prices))) =
            (currency, amount, current.as_mut())
        {
            prices.push(Money::from_minor(amount, rows::currency(currency.trim())?));
        }
    }
    if let Some((done, prices)) = current {
        views.push(sku_view(done, prices)?);
    }
    Ok(views)
}

#[derive(diesel::QueryableByName)]
pub(crate) struct OrderListRow {
    #[diesel(sql_type = SqlUuid)]
    pub(crate) id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub(crate) checkout_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub(crate) buyer_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub(crate) seller_id: Uuid,
    #[diesel(sql_type = Text)]
    pub(crate) state: String,
    #[diesel(sql_type = Text)]
    pub(crate) currency: String,
    #[diesel(sql_type = BigInt)]
    pub(crate) total_minor: i64,
    #[diesel(sql_type = Text)]
    pub(crate) settlement_currency: String,
    #[diesel(sql_type = BigInt)]
    pub(crate) created_at: i64,
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
    // raw SQL: row-value (created_at, id) < ($3, $4) keyset; owner column picked at run time
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
    let lines = lines_of_orders(conn, &ids, false)?;
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
pub(crate) struct ReviewRow {
    #[diesel(sql_type = SqlUuid)]
    pub(crate) id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub(crate) product_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub(crate) buyer_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub(crate) order_id: Uuid,
    #[diesel(sql_type = Integer)]
    pub(crate) rating: i32,
    #[diesel(sql_type = Text)]
    pub(crate) body: String,
    #[diesel(sql_type = BigInt)]
    pub(crate) created_at: i64,
}

pub(crate) fn reviews(
    conn: &mut PgConnection,
    product: ProductId,
    after: Option<PageCursor>,
    limit: u32,
) -> Result<Vec<ReviewView>> {
    // raw SQL: row-value comparison (created_at, id) < ($2, $3) for keyset pagination
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
                    id: ReviewId::from_uuid(row.id),
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
