//! What earlier checkouts add to the tax thresholds.

use bazaar_domain::chart::SellerId;
use bazaar_domain::fx::calendar::Date;
use bazaar_domain::orders::TaxHistory;
use bazaar_domain::tax::{Area, Decision, ReturnLine, Scheme, StateSales, TaxRegistration};
use bazaar_money::{Currency, Money};
use bazaar_schema::schema::{checkouts, order_lines, orders, seller_tax_registrations, sellers};
use diesel::prelude::*;

use super::thresholds::{Key, Total, year_of};
use super::*;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The first instant of `year` (UTC), in microseconds.
fn year_start(year: i64) -> Option<i64> {
    Date::new(year, 1, 1)
        .and_then(Date::days_since_epoch)
        .and_then(|days| days.checked_mul(MICROS_PER_DAY))
}

/// The first instant of `year` and of the year after, in microseconds.
pub(crate) fn year_span(year: i32) -> Result<(i64, i64)> {
    let year = i64::from(year);
    year_start(year)
        .zip(year.checked_add(1).and_then(year_start))
        .ok_or(Fail::Domain(CommerceError::Internal))
}

/// Last year and this year, as of `now` (UTC).
fn years(now: Timestamp) -> Result<[i32; 2]> {
    let year = year_of(now)?;
    let previous = year
        .checked_sub(1)
        .ok_or(Fail::Domain(CommerceError::Internal))?;
    Ok([previous, year])
}

/// The running totals a checkout's tax history reads: each seller's EU distance sales and
/// the sales into `state`, last year and this year.
pub(crate) fn threshold_keys(
    sellers: &[Uuid],
    state: Option<Area>,
    now: Timestamp,
) -> Result<Vec<Key>> {
    let years = years(now)?;
    let mut keys = Vec::new();
    for year in years {
        keys.extend(
            sellers
                .iter()
                .map(|seller| ("eu_distance", seller.to_string(), year)),
        );
        if let Some(state) = state {
            keys.push(("us_state", state.to_string(), year));
        }
    }
    Ok(keys)
}

/// The tax history the totals tell: each test takes the higher of its two years.
pub(crate) fn history_of(
    totals: &[Total],
    state: Option<Area>,
    now: Timestamp,
) -> Result<TaxHistory> {
    let years = years(now)?;
    let of = |threshold: &str, subject: &str| {
        let mut sales = 0_i64;
        let mut orders = 0_i64;
        for total in totals
            .iter()
            .filter(|t| t.threshold == threshold && t.subject == subject && years.contains(&t.year))
        {
            sales = sales.max(total.sales);
            orders = orders.max(total.orders);
        }
        (sales, orders)
    };
    let mut history = TaxHistory::default();
    let mut sellers: Vec<&str> = totals
        .iter()
        .filter(|t| t.threshold == "eu_distance")
        .map(|t| t.subject.as_str())
        .collect();
    sellers.sort_unstable();
    sellers.dedup();
    for seller in sellers {
        let (sales, _) = of("eu_distance", seller);
        if sales > 0 {
            let id = Uuid::parse_str(seller).map_err(|_| rows::corrupt("subject", seller))?;
            history.distance_sales.insert(
                SellerId::from_uuid(id),
                Money::from_minor(sales, Currency::EUR),
            );
        }
    }
    if let Some(state) = state {
        // Where a state tests both sales and orders, the two may come from different years,
        // which can only start collecting early.
        let (sales, orders) = of("us_state", &state.to_string());
        history.state_sales.insert(
            state,
            StateSales {
                sales: Money::from_minor(sales, Currency::USD),
                transactions: u32::try_from(orders).unwrap_or(u32::MAX),
            },
        );
    }
    Ok(history)
}

/// Where each of `registered` is for tax, by its registrations, for those a registration
/// places in a subdivision of their country.
pub(crate) fn seller_areas(
    conn: &mut PgConnection,
    registered: &[Uuid],
) -> Result<Vec<(SellerId, Area)>> {
    let mut areas = Vec::new();
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
            areas.push((SellerId::from_uuid(seller), area));
        }
    }
    Ok(areas)
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
