//! Sellers and buyers.

use super::*;

pub(crate) fn create_seller(
    conn: &mut PgConnection,
    seller: &Seller,
    now: Timestamp,
) -> Result<()> {
    sql_query(
        "INSERT INTO sellers (id, name, country, home_region, settlement_currency, commission_bps, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
    )
    .bind::<SqlUuid, _>(seller.id.as_uuid())
    .bind::<Text, _>(&seller.name)
    .bind::<Text, _>(seller.country.as_str())
    .bind::<Text, _>(seller.region.as_str())
    .bind::<Text, _>(seller.settlement_currency.code())
    .bind::<Integer, _>(i32::from(seller.commission.default.get()))
    .bind::<BigInt, _>(now.as_micros())
    .execute(conn)?;
    for (category, rate) in &seller.commission.by_category {
        sql_query(
            "INSERT INTO commission_rates (seller_id, category, commission_bps) VALUES ($1, $2, $3) \
             ON CONFLICT (seller_id, category) DO NOTHING",
        )
        .bind::<SqlUuid, _>(seller.id.as_uuid())
        .bind::<Text, _>(category.as_str())
        .bind::<Integer, _>(i32::from(rate.get()))
        .execute(conn)?;
    }
    Ok(())
}

pub(crate) fn sellers(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<Seller>> {
    let rows: Vec<SellerRow> = sql_query(
        "SELECT id, name, country::TEXT AS country, home_region, settlement_currency::TEXT AS settlement_currency, commission_bps \
         FROM sellers WHERE id = ANY($1)",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .load(conn)?;
    let rates: Vec<RateRow> = sql_query(
        "SELECT seller_id, category, commission_bps FROM commission_rates WHERE seller_id = ANY($1)",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .load(conn)?;
    rows.into_iter()
        .map(|row| {
            let mut commission = CommissionRule::flat(rows::bps(row.commission_bps)?);
            for rate in rates.iter().filter(|r| r.seller_id == row.id) {
                commission.by_category.insert(
                    rows::category(&rate.category)?,
                    rows::bps(rate.commission_bps)?,
                );
            }
            Ok(Seller {
                id: SellerId::from_uuid(row.id),
                name: row.name,
                country: rows::country(&row.country)?,
                region: rows::region(&row.home_region)?,
                settlement_currency: rows::currency(&row.settlement_currency)?,
                commission,
            })
        })
        .collect()
}

pub(crate) fn create_buyer(conn: &mut PgConnection, buyer: &Buyer, now: Timestamp) -> Result<()> {
    sql_query(
        "INSERT INTO buyers (id, name, country, home_region, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind::<SqlUuid, _>(buyer.id.as_uuid())
    .bind::<Text, _>(&buyer.name)
    .bind::<Text, _>(buyer.country.as_str())
    .bind::<Text, _>(buyer.region.as_str())
    .bind::<BigInt, _>(now.as_micros())
    .execute(conn)?;
    Ok(())
}

pub(crate) fn buyer(conn: &mut PgConnection, id: BuyerId) -> Result<Option<Buyer>> {
    let rows: Vec<BuyerRow> = sql_query(
        "SELECT id, name, country::TEXT AS country, home_region FROM buyers WHERE id = $1",
    )
    .bind::<SqlUuid, _>(id.as_uuid())
    .load(conn)?;
    rows.into_iter()
        .next()
        .map(|row| {
            Ok(Buyer {
                id: BuyerId::from_uuid(row.id),
                name: row.name,
                country: rows::country(&row.country)?,
                region: rows::region(&row.home_region)?,
            })
        })
        .transpose()
}
