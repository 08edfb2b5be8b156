//! Running totals of the sales that count toward tax thresholds (`tax_threshold_totals`).
//!
//! A checkout reads the totals instead of summing every order since the start of last year.
//! A key (threshold, subject, year) gets its base row (shard -1) the first time a checkout
//! needs it, summed from the orders then stored; from then on, the transaction that creates
//! an order with threshold lines, or cancels one, adds its part to one of sixteen shard rows.
//! A key without a base gets no increments: the orders it misses are counted when its base is
//! summed. Creating or cancelling orders and summing a base are SERIALIZABLE transactions,
//! one reading what the other writes (the base's key, the key's orders), so one that would
//! miss the other's write fails and is retried.

use diesel::prelude::*;

use super::*;

/// Shard rows per key, besides the base.
const SHARDS: u8 = 16;

#[derive(QueryableByName)]
struct TotalRow {
    #[diesel(sql_type = Text)]
    threshold: String,
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = Integer)]
    year: i32,
    #[diesel(sql_type = BigInt)]
    sales: i64,
    #[diesel(sql_type = BigInt)]
    orders: i64,
    #[diesel(sql_type = Bool)]
    based: bool,
}

/// A threshold's running total for one subject and year.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Total {
    /// `eu_distance` or `us_state`.
    pub(crate) threshold: &'static str,
    /// The seller's id (`eu_distance`) or the state (`us_state`).
    pub(crate) subject: String,
    /// The UTC calendar year of the orders counted.
    pub(crate) year: i32,
    /// Minor units of the threshold's currency.
    pub(crate) sales: i64,
    /// Orders counted.
    pub(crate) orders: i64,
}

/// The key of a total, without its figures.
pub(crate) type Key = (&'static str, String, i32);

fn threshold_name(stored: &str) -> Result<&'static str> {
    match stored {
        "eu_distance" => Ok("eu_distance"),
        "us_state" => Ok("us_state"),
        other => Err(rows::corrupt("threshold", other)),
    }
}

/// The shard an order's change goes to, from the id of its checkout.
fn shard_of(id: Uuid) -> i32 {
    let first = id.as_bytes().first().copied().unwrap_or(0);
    i32::from(first.checked_rem(SHARDS).unwrap_or(0))
}

/// Adds (`sign` 1) or takes away (`sign` -1) what these orders, all of checkout `checkout`,
/// count toward the thresholds whose base exists, from their stored lines.
pub(crate) fn count_orders(
    conn: &mut PgConnection,
    checkout: Uuid,
    orders: &[Uuid],
    sign: i64,
) -> Result<()> {
    if orders.is_empty() {
        return Ok(());
    }
    // raw SQL: INSERT ... SELECT of grouped sums with ON CONFLICT DO UPDATE adding to the row
    sql_query(
        "INSERT INTO tax_threshold_totals (threshold, subject, year, shard, sales_minor, orders) \
         SELECT d.threshold, d.subject, d.year, $2, d.sales * $3, d.orders * $3 \
         FROM ( \
           SELECT l.tax_threshold_kind AS threshold, \
                  CASE l.tax_threshold_kind WHEN 'eu_distance' THEN o.seller_id::TEXT \
                    ELSE l.tax_place END AS subject, \
                  EXTRACT(YEAR FROM to_timestamp(o.created_at / 1000000) AT TIME ZONE 'UTC')::INT AS year, \
                  COALESCE(SUM(l.tax_threshold_minor), 0)::BIGINT AS sales, \
                  COUNT(DISTINCT o.id)::BIGINT AS orders \
           FROM orders o JOIN order_lines l ON l.order_id = o.id \
           WHERE o.id = ANY($1) AND l.tax_threshold_kind IS NOT NULL \
           GROUP BY 1, 2, 3) d \
         WHERE EXISTS (SELECT 1 FROM tax_threshold_totals b WHERE b.threshold = d.threshold \
           AND b.subject = d.subject AND b.year = d.year AND b.shard = -1) \
         ON CONFLICT (threshold, subject, year, shard) DO UPDATE \
           SET sales_minor = tax_threshold_totals.sales_minor + excluded.sales_minor, \
               orders = tax_threshold_totals.orders + excluded.orders",
    )
    .bind::<Array<SqlUuid>, _>(orders)
    .bind::<Integer, _>(shard_of(checkout))
    .bind::<BigInt, _>(sign)
    .execute(conn)?;
    Ok(())
}

/// The totals of these keys that have a base, and the keys that have none yet.
pub(crate) fn totals(conn: &mut PgConnection, keys: &[Key]) -> Result<(Vec<Total>, Vec<Key>)> {
    let subjects = |threshold: &str| -> Vec<String> {
        keys.iter()
            .filter(|key| key.0 == threshold)
            .map(|key| key.1.clone())
            .collect()
    };
    let mut years: Vec<i32> = keys.iter().map(|key| key.2).collect();
    years.sort_unstable();
    years.dedup();
    // raw SQL: sums over a key's rows grouped by key; diesel's sum of BIGINT is NUMERIC
    let rows: Vec<TotalRow> = sql_query(
        "SELECT threshold, subject, year, SUM(sales_minor)::BIGINT AS sales, \
                SUM(orders)::BIGINT AS orders, bool_or(shard = -1) AS based \
         FROM tax_threshold_totals \
         WHERE ((threshold = 'eu_distance' AND subject = ANY($1)) \
             OR (threshold = 'us_state' AND subject = ANY($2))) AND year = ANY($3) \
         GROUP BY threshold, subject, year",
    )
    .bind::<Array<Text>, _>(subjects("eu_distance"))
    .bind::<Array<Text>, _>(subjects("us_state"))
    .bind::<Array<Integer>, _>(years)
    .load(conn)?;
    let mut found = Vec::new();
    for row in rows.into_iter().filter(|row| row.based) {
        found.push(Total {
            threshold: threshold_name(&row.threshold)?,
            subject: row.subject,
            year: row.year,
            sales: row.sales,
            orders: row.orders,
        });
    }
    let missing = keys
        .iter()
        .filter(|key| {
            !found
                .iter()
                .any(|t| t.threshold == key.0 && t.subject == key.1 && t.year == key.2)
        })
        .cloned()
        .collect();
    Ok((found, missing))
}

/// Sums each key's base from the orders not cancelled in its year (`[from, to)` in
/// microseconds, as `span` gives them) and stores it; a base stored meanwhile is kept.
pub(crate) fn sum_bases(
    conn: &mut PgConnection,
    keys: &[Key],
    span: impl Fn(i32) -> Result<(i64, i64)>,
) -> Result<()> {
    for (threshold, subject, year) in keys {
        let (from, to) = span(*year)?;
        // raw SQL: INSERT ... SELECT of conditional sums over a join
        let query = match *threshold {
            "eu_distance" => sql_query(
                "INSERT INTO tax_threshold_totals \
                   (threshold, subject, year, shard, sales_minor, orders) \
                 SELECT 'eu_distance', $1, $2, -1, \
                        COALESCE(SUM(l.tax_threshold_minor), 0)::BIGINT, COUNT(DISTINCT o.id) \
                 FROM orders o JOIN order_lines l ON l.order_id = o.id \
                 WHERE o.seller_id = $1::UUID AND o.created_at >= $3 AND o.created_at < $4 \
                   AND o.state <> 'cancelled' AND l.tax_threshold_kind = 'eu_distance' \
                 ON CONFLICT DO NOTHING",
            ),
            _ => sql_query(
                "INSERT INTO tax_threshold_totals \
                   (threshold, subject, year, shard, sales_minor, orders) \
                 SELECT 'us_state', $1, $2, -1, \
                        COALESCE(SUM(l.tax_threshold_minor), 0)::BIGINT, COUNT(DISTINCT o.id) \
                 FROM order_lines l JOIN orders o ON o.id = l.order_id \
                 WHERE l.tax_threshold_kind = 'us_state' AND l.tax_place = $1 \
                   AND o.created_at >= $3 AND o.created_at < $4 AND o.state <> 'cancelled' \
                 ON CONFLICT DO NOTHING",
            ),
        };
        query
            .bind::<Text, _>(subject)
            .bind::<Integer, _>(*year)
            .bind::<BigInt, _>(from)
            .bind::<BigInt, _>(to)
            .execute(conn)?;
    }
    Ok(())
}
