//! Products, SKUs and catalog search.

use bazaar_schema::schema::{products, reviews, sku_prices, skus};
use diesel::prelude::*;

use super::*;

pub(crate) fn create_product(
    conn: &mut PgConnection,
    product: &NewProduct,
    now: Timestamp,
) -> Result<()> {
    if sellers(conn, &[product.seller_id.as_uuid()])?.is_empty() {
        return refuse(CommerceError::NotFound("seller"));
    }
    let fingerprint = product.fingerprint();
    let inserted = diesel::insert_into(products::table)
        .values((
            products::id.eq(product.id.as_uuid()),
            products::seller_id.eq(product.seller_id.as_uuid()),
            products::title.eq(&product.title),
            products::description.eq(&product.description),
            products::category.eq(product.category.as_str()),
            products::kind.eq(product.kind.as_str()),
            products::tax_code.eq(product.tax_code.as_str()),
            products::created_at.eq(now.as_micros()),
            products::fingerprint.eq(&fingerprint),
        ))
        .on_conflict(products::id)
        .do_nothing()
        .execute(conn)?;
    if inserted == 0 {
        // The key was used before: a retry of the same creation finds its product; a
        // different product under the same key is refused, as checkout does. Products
        // created before fingerprints were kept have none and are taken as retries.
        let stored: Option<Option<String>> = products::table
            .find(product.id.as_uuid())
            .select(products::fingerprint)
            .first(conn)
            .optional()?;
        return match stored.flatten().as_deref() {
            Some(stored) if stored != fingerprint => refuse(CommerceError::IdempotencyKeyReused),
            _ => Ok(()),
        };
    }
    for sku in &product.skus {
        diesel::insert_into(skus::table)
            .values((
                skus::id.eq(sku.id.as_uuid()),
                skus::product_id.eq(product.id.as_uuid()),
                skus::code.eq(&sku.code),
                skus::title.eq(&sku.title),
                skus::tracks_stock.eq(sku.stock.is_some()),
                skus::on_hand.eq(int(sku.stock.unwrap_or(0))?),
                skus::reserved.eq(0),
            ))
            .execute(conn)?;
        let prices: Vec<_> = sku
            .prices
            .iter()
            .map(|price| {
                (
                    sku_prices::sku_id.eq(sku.id.as_uuid()),
                    sku_prices::currency.eq(price.currency().code()),
                    sku_prices::amount_minor.eq(price.minor()),
                )
            })
            .collect();
        if !prices.is_empty() {
            diesel::insert_into(sku_prices::table)
                .values(&prices)
                .execute(conn)?;
        }
    }
    products_changed(conn, &[product.id.as_uuid()], now)
}

/// A SKU as checkouts and listings see it, from its row and its prices (in currency order).
pub(crate) fn sku_view(row: SkuRow, prices: Vec<Money>) -> Result<SkuView> {
    Ok(SkuView {
        sku_id: SkuId::from_uuid(row.id),
        product_id: ProductId::from_uuid(row.product_id),
        seller_id: SellerId::from_uuid(row.seller_id),
        title: row.title,
        category: rows::category(&row.category)?,
        kind: rows::kind(&row.kind)?,
        tax_code: rows::tax_code(row.tax_code.as_deref(), rows::kind(&row.kind)?)?,
        prices,
        available: if row.tracks_stock {
            Some(unsigned(row.available)?)
        } else {
            None
        },
    })
}

/// `%word%` patterns for ILIKE, with the pattern characters of each word escaped.
pub(crate) fn like_patterns(text: Option<&str>) -> Vec<String> {
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
    // raw SQL: correlated subqueries in the select list, ILIKE ALL over a bound array
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
        .map(|row| summary(row, query.currency))
        .collect()
}

/// A product page's row: id, seller, title, category, kind, review count and rating sum.
type PageRow = (Uuid, Uuid, String, String, String, i64, Option<i64>);

/// The products of `ids` that exist, in id order, with their ratings and no price: a
/// product page's read. Unlike [`search`] it has no optional filters, so its statement is
/// prepared once per connection with one plan, and many pages' reads fit in one call.
pub(crate) fn products_by_ids(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<ProductSummary>> {
    let found: Vec<PageRow> = products::table
        .left_join(reviews::table.on(reviews::product_id.eq(products::id)))
        .filter(products::id.eq_any(ids))
        .group_by(products::id)
        .order(products::id)
        .select((
            products::id,
            products::seller_id,
            products::title,
            products::category,
            products::kind,
            diesel::dsl::count(reviews::id.nullable()),
            diesel::dsl::sum(reviews::rating.nullable()),
        ))
        .load(conn)?;
    found
        .into_iter()
        .map(|(id, seller_id, title, category, kind, count, sum)| {
            let row = ProductRow {
                id,
                seller_id,
                title,
                category,
                kind,
                price_from: None,
                rating_centi: sum.and_then(|sum| mean_centi(sum, count)),
                review_count: i32::try_from(count)
                    .map_err(|_| rows::corrupt("count", &count.to_string()))?,
            };
            summary(row, None)
        })
        .collect()
}

/// The mean of ratings summing to `sum` over `count` reviews, in hundredths, rounded half
/// up as the search statement's `ROUND(AVG(rating) * 100)` rounds it; `None` without
/// reviews.
fn mean_centi(sum: i64, count: i64) -> Option<i32> {
    let twice = count.checked_mul(2)?;
    let centi = sum
        .checked_mul(200)?
        .checked_add(count)?
        .checked_div(twice)?;
    i32::try_from(centi).ok()
}

/// A product as searches return it, its lowest price read in `currency`.
fn summary(row: ProductRow, currency: Option<bazaar_money::Currency>) -> Result<ProductSummary> {
    let price_from = match (row.price_from, currency) {
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
}

#[cfg(test)]
mod tests {
    use super::mean_centi;

    #[test]
    fn a_mean_rating_rounds_half_up_to_hundredths_as_the_search_statement_does() {
        assert_eq!(mean_centi(5, 1), Some(500));
        assert_eq!(mean_centi(3, 2), Some(150));
        assert_eq!(mean_centi(5, 3), Some(167), "1, 2 and 2 stars");
        assert_eq!(mean_centi(7, 3), Some(233), "2, 2 and 3 stars");
        assert_eq!(mean_centi(1, 8), Some(13), "0.125 rounds up");
        assert_eq!(mean_centi(0, 0), None);
        assert_eq!(mean_centi(i64::MAX, 1), None);
    }
}
