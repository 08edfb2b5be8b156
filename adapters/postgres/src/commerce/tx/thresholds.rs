//! Running totals of the sales that count toward tax thresholds (`tax_threshold_totals`).
//!
//! A checkout reads the totals instead of summing every order since the start of last year.
//! Checkouts only insert rows: the transaction that creates orders with threshold lines adds
//! one row per total with their part, the one that cancels them one row taking it away, so
//! concurrent checkouts never read or update each other's rows (under SERIALIZABLE, shared
//! counter rows made them abort each other). A total's base row (the nil entry) is written
//! the first time a checkout needs it: the orders' sum minus the key's other rows, read in
//! one statement, so each order is counted once whatever committed around it. When a key has
//! gathered [`ENTRIES_FOLDED`] rows, they are folded into its base.

use std::collections::{BTreeMap, BTreeSet};

use bazaar_schema::schema::tax_threshold_totals;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Untyped;

use bazaar_domain::fx::calendar::Date;
use bazaar_domain::orders::LineTax;

use super::*;

/// A key with this many rows besides its base has them folded into the base.
pub(crate) const ENTRIES_FOLDED: i64 = 256;

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
    #[diesel(sql_type = BigInt)]
    entries: i64,
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

/// Adds (`sign` 1) or takes away (`sign` -1) what these orders count toward the thresholds,
/// from their stored lines: one row per total, under `entry`, which no other change of
/// these orders uses.
pub(crate) fn count_orders(
    conn: &mut PgConnection,
    entry: Uuid,
    orders: &[Uuid],
    sign: i64,
) -> Result<()> {
    if orders.is_empty() {
        return Ok(());
    }
    // raw SQL: INSERT ... SELECT of sums grouped by a computed key
    sql_query(
        "INSERT INTO tax_threshold_totals (threshold, subject, year, entry, sales_minor, orders) \
         SELECT l.tax_threshold_kind, \
                CASE l.tax_threshold_kind WHEN 'eu_distance' THEN o.seller_id::TEXT \
                  ELSE l.tax_place END, \
                EXTRACT(YEAR FROM to_timestamp(o.created_at / 1000000) AT TIME ZONE 'UTC')::INT, \
                $2, \
                COALESCE(SUM(l.tax_threshold_minor), 0)::BIGINT * $3, \
                COUNT(DISTINCT o.id)::BIGINT * $3 \
         FROM orders o JOIN order_lines l ON l.order_id = o.id \
         WHERE o.id = ANY($1) AND l.tax_threshold_kind IS NOT NULL \
         GROUP BY 1, 2, 3",
    )
    .bind::<Array<SqlUuid>, _>(orders)
    .bind::<SqlUuid, _>(entry)
    .bind::<BigInt, _>(sign)
    .execute(conn)?;
    Ok(())
}

/// The calendar year (UTC) of `instant`.
pub(crate) fn year_of(instant: Timestamp) -> Result<i32> {
    Date::of_instant(instant)
        .and_then(|date| i32::try_from(date.year()).ok())
        .ok_or(Fail::Domain(CommerceError::Internal))
}

/// The threshold a line counts toward, if any: a US state's in USD, the EU distance
/// threshold otherwise.
pub(crate) fn threshold_kind(tax: &LineTax) -> Option<&'static str> {
    tax.threshold.map(|amount| {
        if amount.currency() == bazaar_money::Currency::USD {
            "us_state"
        } else {
            "eu_distance"
        }
    })
}

/// What these orders add to the thresholds, as [`count_orders`] would read it back from
/// their lines once stored, computed from the orders themselves (each with the instant it is
/// created at): one row per total under `entry`, which no other change of these orders uses.
pub(crate) fn count_placed(
    conn: &mut PgConnection,
    entry: Uuid,
    orders: &[(&PlannedOrder, Timestamp)],
) -> Result<()> {
    // Per total: the sales and the number of orders with a line counted in it.
    let mut sums: BTreeMap<Key, (i64, i64)> = BTreeMap::new();
    let overflow = || Fail::Domain(CommerceError::Internal);
    for (order, created_at) in orders {
        let year = year_of(*created_at)?;
        let mut counted: BTreeSet<Key> = BTreeSet::new();
        for line in &order.lines {
            let (Some(threshold), Some(amount)) = (threshold_kind(&line.tax), line.tax.threshold)
            else {
                continue;
            };
            let subject = if threshold == "eu_distance" {
                order.seller_id.as_uuid().to_string()
            } else {
                line.tax.decision.place.to_string()
            };
            let key = (threshold, subject, year);
            let sum = sums.entry(key.clone()).or_insert((0, 0));
            sum.0 = sum.0.checked_add(amount.minor()).ok_or_else(overflow)?;
            if counted.insert(key) {
                sum.1 = sum.1.checked_add(1).ok_or_else(overflow)?;
            }
        }
    }
    if sums.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = sums
        .into_iter()
        .map(|((threshold, subject, year), (sales, count))| {
            (
                tax_threshold_totals::threshold.eq(threshold),
                tax_threshold_totals::subject.eq(subject),
                tax_threshold_totals::year.eq(year),
                tax_threshold_totals::entry.eq(entry),
                tax_threshold_totals::sales_minor.eq(sales),
                tax_threshold_totals::orders.eq(count),
            )
        })
        .collect();
    diesel::insert_into(tax_threshold_totals::table)
        .values(rows)
        .execute(conn)?;
    Ok(())
}

/// What [`totals`] found.
pub(crate) struct Totals {
    /// The totals of the keys that have a base.
    pub(crate) found: Vec<Total>,
    /// The keys without a base yet.
    pub(crate) missing: Vec<Key>,
    /// The keys with at least [`ENTRIES_FOLDED`] rows besides their base.
    pub(crate) crowded: Vec<Key>,
}

/// The read of [`totals`]: sums over each key's rows, grouped by key, which the query
/// builder cannot say (its sum of a `BIGINT` is a `NUMERIC`, and it has no `bool_or`). Its
/// text never changes, so unlike a `sql_query` it is prepared once per connection and kept
/// there, as the builder's statements are: a checkout runs it before being planned.
struct TotalsRead {
    eu_distance: Vec<String>,
    us_state: Vec<String>,
    years: Vec<i32>,
}

impl QueryFragment<Pg> for TotalsRead {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        // raw SQL: sums over a key's rows grouped by key; the builder's sum of BIGINT is
        // NUMERIC and it has no bool_or
        out.push_sql(
            "SELECT threshold, subject, year, SUM(sales_minor)::BIGINT AS sales, \
                    SUM(orders)::BIGINT AS orders, \
                    bool_or(entry = '00000000-0000-0000-0000-000000000000') AS based, \
                    COUNT(*) - 1 AS entries \
             FROM tax_threshold_totals \
             WHERE ((threshold = 'eu_distance' AND subject = ANY(",
        );
        out.push_bind_param::<Array<Text>, _>(&self.eu_distance)?;
        out.push_sql(")) OR (threshold = 'us_state' AND subject = ANY(");
        out.push_bind_param::<Array<Text>, _>(&self.us_state)?;
        out.push_sql("))) AND year = ANY(");
        out.push_bind_param::<Array<Integer>, _>(&self.years)?;
        out.push_sql(") GROUP BY threshold, subject, year");
        Ok(())
    }
}

impl QueryId for TotalsRead {
    type QueryId = ();
    // Cached by its text, which is always the same.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for TotalsRead {
    type SqlType = Untyped;
}

impl RunQueryDsl<PgConnection> for TotalsRead {}

/// The totals of these keys.
pub(crate) fn totals(conn: &mut PgConnection, keys: &[Key]) -> Result<Totals> {
    let subjects = |threshold: &str| -> Vec<String> {
        keys.iter()
            .filter(|key| key.0 == threshold)
            .map(|key| key.1.clone())
            .collect()
    };
    let mut years: Vec<i32> = keys.iter().map(|key| key.2).collect();
    years.sort_unstable();
    years.dedup();
    let rows: Vec<TotalRow> = TotalsRead {
        eu_distance: subjects("eu_distance"),
        us_state: subjects("us_state"),
        years,
    }
    .load(conn)?;
    let mut found = Vec::new();
    let mut crowded = Vec::new();
    for row in rows.into_iter().filter(|row| row.based) {
        let threshold = threshold_name(&row.threshold)?;
        if row.entries >= ENTRIES_FOLDED {
            crowded.push((threshold, row.subject.clone(), row.year));
        }
        found.push(Total {
            threshold,
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
    Ok(Totals {
        found,
        missing,
        crowded,
    })
}

/// Writes each key's base: the sum over the orders not cancelled in its year minus the key's
/// other rows, both read by one statement; a base written meanwhile is kept.
pub(crate) fn sum_bases(conn: &mut PgConnection, keys: &[Key]) -> Result<()> {
    const ENTRIES: &str = "SELECT COALESCE(SUM(sales_minor), 0)::BIGINT AS sales, \
                COALESCE(SUM(orders), 0)::BIGINT AS orders \
         FROM tax_threshold_totals WHERE threshold = $5 AND subject = $1 AND year = $2";
    for (threshold, subject, year) in keys {
        let (from, to) = year_span(*year)?;
        let orders = match *threshold {
            "eu_distance" => {
                "FROM orders o JOIN order_lines l ON l.order_id = o.id \
                 WHERE o.seller_id = $1::UUID AND o.created_at >= $3 AND o.created_at < $4 \
                   AND o.state <> 'cancelled' AND l.tax_threshold_kind = $5"
            }
            _ => {
                "FROM order_lines l JOIN orders o ON o.id = l.order_id \
                 WHERE l.tax_threshold_kind = $5 AND l.tax_place = $1 \
                   AND o.created_at >= $3 AND o.created_at < $4 AND o.state <> 'cancelled'"
            }
        };
        // raw SQL: INSERT ... SELECT of a sum over a join minus a sum over the key's rows
        sql_query(format!(
            "INSERT INTO tax_threshold_totals \
               (threshold, subject, year, entry, sales_minor, orders) \
             SELECT $5, $1, $2, '00000000-0000-0000-0000-000000000000', \
                    counted.sales - entries.sales, counted.orders - entries.orders \
             FROM (SELECT COALESCE(SUM(l.tax_threshold_minor), 0)::BIGINT AS sales, \
                          COUNT(DISTINCT o.id)::BIGINT AS orders {orders}) counted, \
                  ({ENTRIES}) entries \
             ON CONFLICT DO NOTHING"
        ))
        .bind::<Text, _>(subject)
        .bind::<Integer, _>(*year)
        .bind::<BigInt, _>(from)
        .bind::<BigInt, _>(to)
        .bind::<Text, _>(*threshold)
        .execute(conn)?;
    }
    Ok(())
}

/// Folds each key's rows into its base and deletes them; a key without a base is left as it
/// is.
pub(crate) fn fold(conn: &mut PgConnection, keys: &[Key]) -> Result<()> {
    for (threshold, subject, year) in keys {
        // raw SQL: a data-modifying WITH, deleting the rows and adding them to the base in one
        // statement
        let folded = sql_query(
            "WITH gone AS ( \
               DELETE FROM tax_threshold_totals \
               WHERE threshold = $1 AND subject = $2 AND year = $3 \
                 AND entry <> '00000000-0000-0000-0000-000000000000' \
               RETURNING sales_minor, orders) \
             UPDATE tax_threshold_totals \
             SET sales_minor = sales_minor + (SELECT COALESCE(SUM(sales_minor), 0) FROM gone), \
                 orders = orders + (SELECT COALESCE(SUM(orders), 0) FROM gone) \
             WHERE threshold = $1 AND subject = $2 AND year = $3 \
               AND entry = '00000000-0000-0000-0000-000000000000'",
        )
        .bind::<Text, _>(*threshold)
        .bind::<Text, _>(subject)
        .bind::<Integer, _>(*year)
        .execute(conn)?;
        if folded != 1 {
            // No base: the rows deleted would be lost, so the transaction is undone.
            return refuse(CommerceError::Internal);
        }
    }
    Ok(())
}
