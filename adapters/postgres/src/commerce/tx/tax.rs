//! What earlier checkouts add to the tax thresholds.

use bazaar_domain::chart::SellerId;
use bazaar_domain::fx::calendar::Date;
use bazaar_domain::orders::TaxHistory;
use bazaar_domain::tax::{Area, Decision, ReturnLine, Scheme, StateSales, TaxRegistration};
use bazaar_money::{Currency, Money};
use bazaar_schema::schema::{checkouts, order_lines, orders, seller_tax_registrations, sellers};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};

use super::*;

const MICROS_PER_DAY: i64 = 86_400_000_000;

#[derive(QueryableByName)]
struct SellerSum {
    #[diesel(sql_type = SqlUuid)]
    seller_id: Uuid,
    #[diesel(sql_type = BigInt)]
    previous: i64,
    #[diesel(sql_type = BigInt)]
    current: i64,
}

#[derive(QueryableByName)]
struct StateSum {
    #[diesel(sql_type = BigInt)]
    previous: i64,
    #[diesel(sql_type = BigInt)]
    previous_orders: i64,
    #[diesel(sql_type = BigInt)]
    current: i64,
    #[diesel(sql_type = BigInt)]
    current_orders: i64,
}

/// The first instants of last year and of this year, in microseconds.
fn year_starts(now: Timestamp) -> Result<(i64, i64)> {
    let start = |year: i64| {
        Date::new(year, 1, 1)
            .and_then(Date::days_since_epoch)
            .and_then(|days| days.checked_mul(MICROS_PER_DAY))
    };
    let year = Date::of_instant(now)
        .ok_or(Fail::Domain(CommerceError::Internal))?
        .year();
    let previous = year
        .checked_sub(1)
        .and_then(start)
        .ok_or(Fail::Domain(CommerceError::Internal))?;
    let current = start(year).ok_or(Fail::Domain(CommerceError::Internal))?;
    Ok((previous, current))
}

pub(crate) fn tax_history(
    conn: &mut PgConnection,
    sellers: &[Uuid],
    state: Option<Area>,
    registered: &[Uuid],
    now: Timestamp,
) -> Result<TaxHistory> {
    let (previous, current) = year_starts(now)?;
    let mut history = TaxHistory::default();
    // raw SQL: conditional sums per seller over a join; diesel's sum of BIGINT is NUMERIC
    let sums: Vec<SellerSum> = sql_query(
        "SELECT o.seller_id, \
           COALESCE(SUM(CASE WHEN o.created_at < $2 THEN l.tax_threshold_minor END), 0)::BIGINT AS previous, \
           COALESCE(SUM(CASE WHEN o.created_at >= $2 THEN l.tax_threshold_minor END), 0)::BIGINT AS current \
         FROM orders o JOIN order_lines l ON l.order_id = o.id \
         WHERE o.seller_id = ANY($1) AND o.state <> 'cancelled' AND o.created_at >= $3 \
           AND l.tax_threshold_kind = 'eu_distance' \
         GROUP BY o.seller_id",
    )
    .bind::<Array<SqlUuid>, _>(sellers)
    .bind::<BigInt, _>(current)
    .bind::<BigInt, _>(previous)
    .load(conn)?;
    for sum in sums {
        history.distance_sales.insert(
            SellerId::from_uuid(sum.seller_id),
            Money::from_minor(sum.previous.max(sum.current), Currency::EUR),
        );
    }
    if let Some(state) = state {
        // raw SQL: conditional sums and distinct counts over a join; see above
        let sum: StateSum = sql_query(
            "SELECT \
               COALESCE(SUM(CASE WHEN o.created_at < $2 THEN l.tax_threshold_minor END), 0)::BIGINT AS previous, \
               COUNT(DISTINCT CASE WHEN o.created_at < $2 THEN o.id END)::BIGINT AS previous_orders, \
               COALESCE(SUM(CASE WHEN o.created_at >= $2 THEN l.tax_threshold_minor END), 0)::BIGINT AS current, \
               COUNT(DISTINCT CASE WHEN o.created_at >= $2 THEN o.id END)::BIGINT AS current_orders \
             FROM order_lines l JOIN orders o ON o.id = l.order_id \
             WHERE l.tax_threshold_kind = 'us_state' AND l.tax_place = $1 \
               AND o.state <> 'cancelled' AND o.created_at >= $3",
        )
        .bind::<Nullable<Text>, _>(Some(state.to_string()))
        .bind::<BigInt, _>(current)
        .bind::<BigInt, _>(previous)
        .get_result(conn)?;
        // Each test takes its higher year; where a state needs both, they may come from
        // different years, which can only start collecting early.
        let sales = sum.previous.max(sum.current);
        let orders = sum.previous_orders.max(sum.current_orders);
        history.state_sales.insert(
            state,
            StateSales {
                sales: Money::from_minor(sales, Currency::USD),
                transactions: u32::try_from(orders).unwrap_or(u32::MAX),
            },
        );
    }
    if !registered.is_empty() {
        let rows: Vec<(Uuid, String, String, String)> = seller_tax_registrations::table
            .inner_join(sellers::table.on(sellers::id.eq(seller_tax_registrations::seller_id)))
            .filter(seller_tax_registrations::seller_id.eq_any(registered))
            .select((
                seller_tax_registrations::seller_id,
                sellers::country,
                seller_tax_registrations::area,
                seller_tax_registrations::number,
            ))
            .load(conn)?;
        let mut by_seller: std::collections::BTreeMap<Uuid, (String, Vec<(String, String)>)> =
            std::collections::BTreeMap::new();
        for (seller, country, area, number) in rows {
            by_seller
                .entry(seller)
                .or_insert_with(|| (country, Vec::new()))
                .1
                .push((area, number));
        }
        for (seller, (country, held)) in by_seller {
            let home = bazaar_domain::Country::new(country.trim())
                .map(Area::country_wide)
                .map_err(|_| rows::corrupt("country", &country))?;
            let held = crate::tax::registrations_of(held)
                .map_err(|_| rows::corrupt("tax_registration", "unreadable"))?;
            let area = TaxRegistration::seller_area(home, &held);
            if area != home {
                history
                    .seller_areas
                    .insert(SellerId::from_uuid(seller), area);
            }
        }
    }
    Ok(history)
}

/// The lines of paid checkouts placed in `[from, to)` declared under `scheme`.
pub(crate) fn return_lines(
    conn: &mut PgConnection,
    scheme: Scheme,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<ReturnLine>> {
    let rows: Vec<(String, i64, i64, i64, String)> = order_lines::table
        .inner_join(orders::table.on(orders::id.eq(order_lines::order_id)))
        .inner_join(checkouts::table.on(checkouts::id.eq(orders::checkout_id)))
        .filter(order_lines::tax_scheme.eq(scheme.as_str()))
        .filter(checkouts::state.eq("paid"))
        .filter(orders::created_at.ge(from.as_micros()))
        .filter(orders::created_at.lt(to.as_micros()))
        .select((
            order_lines::tax_decision.assume_not_null(),
            order_lines::total_minor,
            order_lines::tax_minor,
            order_lines::refund_posted_minor,
            checkouts::currency,
        ))
        .order((orders::created_at, order_lines::id))
        .load(conn)?;
    rows.into_iter()
        .map(|(decision, total, tax, refunded, currency)| {
            let currency = rows::currency(&currency)?;
            Ok(ReturnLine {
                decision: Decision::from_stored(&decision)
                    .ok_or_else(|| rows::corrupt("tax_decision", &decision))?,
                total: Money::from_minor(total, currency),
                tax: Money::from_minor(tax, currency),
                refunded: Money::from_minor(refunded, currency),
            })
        })
        .collect()
}
