//! Sellers and buyers, through diesel's builder.

use bazaar_schema::schema::{buyers, commission_rates, sellers};
use diesel::prelude::*;

use super::*;

pub(crate) fn create_seller(
    conn: &mut PgConnection,
    seller: &Seller,
    now: Timestamp,
) -> Result<()> {
    diesel::insert_into(sellers::table)
        .values((
            sellers::id.eq(seller.id.as_uuid()),
            sellers::name.eq(&seller.name),
            sellers::country.eq(seller.country.as_str()),
            sellers::home_region.eq(seller.region.as_str()),
            sellers::settlement_currency.eq(seller.settlement_currency.code()),
            sellers::commission_bps.eq(i32::from(seller.commission.default.get())),
            sellers::created_at.eq(now.as_micros()),
        ))
        .on_conflict(sellers::id)
        .do_nothing()
        .execute(conn)?;
    for (category, rate) in &seller.commission.by_category {
        diesel::insert_into(commission_rates::table)
            .values((
                commission_rates::seller_id.eq(seller.id.as_uuid()),
                commission_rates::category.eq(category.as_str()),
                commission_rates::commission_bps.eq(i32::from(rate.get())),
            ))
            .on_conflict((commission_rates::seller_id, commission_rates::category))
            .do_nothing()
            .execute(conn)?;
    }
    Ok(())
}

/// The sellers of `ids` with their commission rates, in one statement: a seller row per rate
/// it has (one without a rate if it has none).
pub(crate) fn sellers(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<Seller>> {
    let rows: Vec<(SellerRow, Option<RateRow>)> = sellers::table
        .left_join(commission_rates::table)
        .filter(sellers::id.eq_any(ids))
        .select((SellerRow::as_select(), Option::<RateRow>::as_select()))
        .order_by(sellers::id)
        .load(conn)?;
    let mut found: Vec<Seller> = Vec::new();
    for (row, rate) in rows {
        let seller = match found.last_mut() {
            Some(seller) if seller.id.as_uuid() == row.id => seller,
            _ => {
                found.push(Seller {
                    id: SellerId::from_uuid(row.id),
                    name: row.name,
                    country: rows::country(&row.country)?,
                    region: rows::region(&row.home_region)?,
                    settlement_currency: rows::currency(&row.settlement_currency)?,
                    commission: CommissionRule::flat(rows::bps(row.commission_bps)?),
                });
                found
                    .last_mut()
                    .ok_or(Fail::Domain(CommerceError::Internal))?
            }
        };
        if let Some(rate) = rate {
            seller.commission.by_category.insert(
                rows::category(&rate.category)?,
                rows::bps(rate.commission_bps)?,
            );
        }
    }
    Ok(found)
}

pub(crate) fn create_buyer(conn: &mut PgConnection, buyer: &Buyer, now: Timestamp) -> Result<()> {
    diesel::insert_into(buyers::table)
        .values((
            buyers::id.eq(buyer.id.as_uuid()),
            buyers::name.eq(&buyer.name),
            buyers::country.eq(buyer.country.as_str()),
            buyers::home_region.eq(buyer.region.as_str()),
            buyers::created_at.eq(now.as_micros()),
            buyers::tax_area.eq(buyer.tax_area.map(|area| area.to_string())),
        ))
        .on_conflict(buyers::id)
        .do_nothing()
        .execute(conn)?;
    Ok(())
}

pub(crate) fn buyer(conn: &mut PgConnection, id: BuyerId) -> Result<Option<Buyer>> {
    Ok(buyers(conn, &[id.as_uuid()])?.into_iter().next())
}

/// The buyers of `ids` that exist, in no particular order.
pub(crate) fn buyers(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<Buyer>> {
    let rows: Vec<BuyerRow> = buyers::table
        .filter(buyers::id.eq_any(ids))
        .select(BuyerRow::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|row| {
            Ok(Buyer {
                id: BuyerId::from_uuid(row.id),
                name: row.name,
                country: rows::country(&row.country)?,
                region: rows::region(&row.home_region)?,
                tax_area: row
                    .tax_area
                    .as_deref()
                    .map(|code| {
                        bazaar_domain::tax::Area::parse(code)
                            .map_err(|_| rows::corrupt("tax_area", code))
                    })
                    .transpose()?,
            })
        })
        .collect()
}
