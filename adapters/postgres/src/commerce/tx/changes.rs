//! The catalogue's change feed: which products changed, and when, for the read caches of the
//! API processes (migration `catalog_changes`).

use bazaar_domain::catalog::CatalogChange;
use bazaar_schema::schema::catalog_changes;
use diesel::prelude::*;

use super::*;

/// Notes, in the caller's transaction, that each of `products` changed at `now`.
pub(crate) fn products_changed(
    conn: &mut PgConnection,
    products: &[Uuid],
    now: Timestamp,
) -> Result<()> {
    if products.is_empty() {
        return Ok(());
    }
    // raw SQL: INSERT ... SELECT FROM unnest($1) with ON CONFLICT; the builder has no unnest
    sql_query(
        "INSERT INTO catalog_changes (product_id, changed_at) \
         SELECT DISTINCT p, $2 FROM unnest($1::UUID[]) AS p ON CONFLICT DO NOTHING",
    )
    .bind::<Array<SqlUuid>, _>(products)
    .bind::<BigInt, _>(now.as_micros())
    .execute(conn)?;
    Ok(())
}

/// Notes that the products whose stock a checkout holds changed at `now`: called before the
/// held reservations are consumed or released.
pub(crate) fn held_stock_changed(
    conn: &mut PgConnection,
    checkout: Uuid,
    now: Timestamp,
) -> Result<()> {
    // raw SQL: INSERT ... SELECT over a join with ON CONFLICT; the builder cannot insert from a join
    sql_query(
        "INSERT INTO catalog_changes (product_id, changed_at) \
         SELECT DISTINCT s.product_id, $2 FROM stock_reservations r JOIN skus s ON s.id = r.sku_id \
         WHERE r.checkout_id = $1 AND r.state = 'held' ON CONFLICT DO NOTHING",
    )
    .bind::<SqlUuid, _>(checkout)
    .bind::<BigInt, _>(now.as_micros())
    .execute(conn)?;
    Ok(())
}

/// The changes noted after `since`, at most `limit` of them.
pub(crate) fn catalog_changes(
    conn: &mut PgConnection,
    since: Timestamp,
    limit: u32,
) -> Result<Vec<CatalogChange>> {
    let rows: Vec<(Uuid, i64)> = catalog_changes::table
        .filter(catalog_changes::changed_at.gt(since.as_micros()))
        .select((catalog_changes::product_id, catalog_changes::changed_at))
        .limit(i64::from(limit))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(product, at)| CatalogChange {
            product: ProductId::from_uuid(product),
            at: Timestamp::from_micros(at),
        })
        .collect())
}

/// Deletes the changes noted before `before`; returns how many.
pub(crate) fn forget_changes(conn: &mut PgConnection, before: Timestamp) -> Result<usize> {
    Ok(diesel::delete(
        catalog_changes::table.filter(catalog_changes::changed_at.lt(before.as_micros())),
    )
    .execute(conn)?)
}
