//! Read models for the API: order and review pages.

use diesel::prelude::*;
use diesel::sql_types::Array;

use super::*;

#[derive(diesel::QueryableByName)]
struct PricedSkuRow {
    #[diesel(embed)]
    sku: SkuRow,
    #[diesel(sql_type = Array<Text>)]
    currencies: Vec<String>,
    #[diesel(sql_type = Array<BigInt>)]
    amounts: Vec<i64>,
}

/// SKUs with their products and prices, each SKU's prices gathered by a LATERAL array_agg;
/// the filter follows.
const PRICED_SKUS: &str = "SELECT s.id, s.product_id, p.seller_id, s.title, p.category, p.kind, p.tax_code, \
            s.tracks_stock, s.on_hand - s.reserved AS available, pr.currencies, pr.amounts \
     FROM products p JOIN skus s ON s.product_id = p.id \
     CROSS JOIN LATERAL ( \
       SELECT COALESCE(array_agg(sp.currency::TEXT ORDER BY sp.currency), '{}') AS currencies, \
              COALESCE(array_agg(sp.amount_minor ORDER BY sp.currency), '{}') AS amounts \
       FROM sku_prices sp WHERE sp.sku_id = s.id) pr \
     WHERE ";

/// The SKUs of the given products with their prices, in one statement: it reads one snapshot
/// by itself, so it needs no transaction around it.
pub(crate) fn product_skus(conn: &mut PgConnection, products: &[Uuid]) -> Result<Vec<SkuView>> {
    // Products and SKUs filtered by the same ids, which plans as index scans on both.
    priced_skus(conn, "p.id = ANY($1) AND s.product_id = ANY($1)", products)
}

/// The given SKUs with their products and prices, in one statement (see [`product_skus`]).
pub(crate) fn sku_views(conn: &mut PgConnection, skus: &[Uuid]) -> Result<Vec<SkuView>> {
    priced_skus(conn, "s.id = ANY($1)", skus)
}

/// [`PRICED_SKUS`] with `filter`, which names the ids as `$1`.
fn priced_skus(conn: &mut PgConnection, filter: &str, ids: &[Uuid]) -> Result<Vec<SkuView>> {
    // raw SQL: each SKU's prices gathered by a LATERAL array_agg, so one statement reads SKUs, products and prices together
    let rows: Vec<PricedSkuRow> = sql_query(format!("{PRICED_SKUS}{filter}"))
        .bind::<Array<SqlUuid>, _>(ids)
        .load(conn)?;
    rows.into_iter()
        .map(|row| {
            if row.currencies.len() != row.amounts.len() {
                return Err(Fail::Db(diesel::result::Error::DeserializationError(
                    "a SKU's currencies and amounts differ in number".into(),
                )));
            }
            let prices = row
                .currencies
                .iter()
                .zip(&row.amounts)
                .map(|(currency, amount)| Ok(Money::from_minor(*amount, rows::currency(currency)?)))
                .collect::<Result<Vec<_>>>()?;
            sku_view(row.sku, prices)
        })
        .collect()
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
