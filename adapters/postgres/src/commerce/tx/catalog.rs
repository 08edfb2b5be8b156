//! Products, SKUs and catalog search.

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
    // raw SQL: plain INSERT ... ON CONFLICT DO NOTHING; the builder could express it
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
        // raw SQL: plain single-row SELECT; the builder could express it
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
        // raw SQL: plain INSERT; the builder could express it
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
            // raw SQL: plain INSERT; the builder could express it
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
    // raw SQL: joins skus to products, which the schema declares no join for
    let skus: Vec<SkuRow> = sql_query(
        "SELECT s.id, s.product_id, p.seller_id, s.title, p.category, p.kind, s.tracks_stock, \
                (s.on_hand - s.reserved) AS available \
         FROM skus s JOIN products p ON p.id = s.product_id WHERE s.id = ANY($1)",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .load(conn)?;
    // raw SQL: currency::TEXT cast as in the shared selects; the builder could express it
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
