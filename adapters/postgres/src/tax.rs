//! The tax desk's store on PostgreSQL: sellers' tax registrations and tax remittances.

use bazaar_domain::chart::{Jurisdiction, SellerId};
use bazaar_domain::tax::{Area, TaxRegistration};
use bazaar_domain::tax_desk::{REGISTRATIONS_MAX, Remittance, TaxStore, TaxStoreError};
use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};
use bazaar_schema::schema::{seller_tax_registrations, sellers, tax_remittances};
use diesel::prelude::*;
use uuid::Uuid;

use crate::RetryPolicy;
use crate::commerce::{Db, Fail, Mode, StoreFailure};

type Result<T> = std::result::Result<T, Fail<TaxStoreError>>;

impl StoreFailure for TaxStoreError {
    fn unavailable() -> Self {
        Self::Unavailable
    }

    fn internal() -> Self {
        Self::Corrupt
    }
}

fn corrupt(what: &'static str) -> Fail<TaxStoreError> {
    tracing::error!(what, "stored tax data does not read back");
    Fail::Domain(TaxStoreError::Corrupt)
}

/// The tax store. Cloning shares the pool.
#[derive(Clone)]
pub struct PostgresTax {
    db: Db,
}

impl std::fmt::Debug for PostgresTax {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresTax")
            .field("pool_size", &self.db.pool_size())
            .finish_non_exhaustive()
    }
}

impl PostgresTax {
    /// A store on `database_url` with at most `pool_size` connections.
    pub fn new(database_url: &str, pool_size: u32, retry: RetryPolicy) -> Self {
        Self {
            db: Db::new(database_url, pool_size, retry),
        }
    }
}

/// Reads stored registrations back; a row that no longer parses is corrupt.
pub(crate) fn registrations_of(rows: Vec<(String, String)>) -> Result<Vec<TaxRegistration>> {
    rows.into_iter()
        .map(|(area, number)| {
            TaxRegistration::parse(&area, &number).map_err(|_| corrupt("registration"))
        })
        .collect()
}

fn put(
    conn: &mut PgConnection,
    seller: Uuid,
    registration: &TaxRegistration,
    now: Timestamp,
) -> Result<()> {
    let home_region: String = sellers::table
        .filter(sellers::id.eq(seller))
        .select(sellers::home_region)
        .first(conn)
        .optional()?
        .ok_or(Fail::Domain(TaxStoreError::UnknownSeller))?;
    let area = registration.area().to_string();
    let held: Vec<String> = seller_tax_registrations::table
        .filter(seller_tax_registrations::seller_id.eq(seller))
        .select(seller_tax_registrations::area)
        .for_update()
        .load(conn)?;
    if !held.contains(&area) && held.len() >= REGISTRATIONS_MAX {
        return Err(Fail::Domain(TaxStoreError::TooManyRegistrations));
    }
    diesel::insert_into(seller_tax_registrations::table)
        .values((
            seller_tax_registrations::seller_id.eq(seller),
            seller_tax_registrations::area.eq(&area),
            seller_tax_registrations::number.eq(registration.number()),
            seller_tax_registrations::home_region.eq(&home_region),
            seller_tax_registrations::created_at.eq(now.as_micros()),
            seller_tax_registrations::updated_at.eq(now.as_micros()),
        ))
        .on_conflict((
            seller_tax_registrations::seller_id,
            seller_tax_registrations::area,
        ))
        .do_update()
        .set((
            seller_tax_registrations::number.eq(registration.number()),
            seller_tax_registrations::updated_at.eq(now.as_micros()),
        ))
        .execute(conn)?;
    Ok(())
}

fn remittance_of(row: (String, String, String, i64, i64)) -> Result<Remittance> {
    let (jurisdiction, currency, period, amount, posted_at) = row;
    let currency = Currency::from_code(&currency).map_err(|_| corrupt("currency"))?;
    Ok(Remittance {
        jurisdiction: Jurisdiction::new(&jurisdiction).map_err(|_| corrupt("jurisdiction"))?,
        period,
        amount: Money::from_minor(amount, currency),
        posted_at: Timestamp::from_micros(posted_at),
    })
}

impl TaxStore for PostgresTax {
    async fn put_registration(
        &self,
        seller: SellerId,
        registration: &TaxRegistration,
        now: Timestamp,
    ) -> std::result::Result<(), TaxStoreError> {
        let registration = registration.clone();
        let seller = seller.as_uuid();
        self.db
            .run("put_tax_registration", Mode::Write, move |conn| {
                put(conn, seller, &registration, now)
            })
            .await
    }

    async fn remove_registration(
        &self,
        seller: SellerId,
        area: Area,
    ) -> std::result::Result<bool, TaxStoreError> {
        let seller = seller.as_uuid();
        let area = area.to_string();
        self.db
            .run("remove_tax_registration", Mode::Write, move |conn| {
                let removed = diesel::delete(
                    seller_tax_registrations::table
                        .filter(seller_tax_registrations::seller_id.eq(seller))
                        .filter(seller_tax_registrations::area.eq(&area)),
                )
                .execute(conn)?;
                Ok(removed > 0)
            })
            .await
    }

    async fn registrations(
        &self,
        seller: SellerId,
    ) -> std::result::Result<Vec<TaxRegistration>, TaxStoreError> {
        let seller = seller.as_uuid();
        self.db
            .run("tax_registrations", Mode::Read, move |conn| {
                let rows = seller_tax_registrations::table
                    .filter(seller_tax_registrations::seller_id.eq(seller))
                    .order(seller_tax_registrations::area.asc())
                    .select((
                        seller_tax_registrations::area,
                        seller_tax_registrations::number,
                    ))
                    .load(conn)?;
                registrations_of(rows)
            })
            .await
    }

    async fn record_remittance(
        &self,
        remittance: &Remittance,
    ) -> std::result::Result<(), TaxStoreError> {
        let remittance = remittance.clone();
        self.db
            .run("record_tax_remittance", Mode::Write, move |conn| {
                diesel::insert_into(tax_remittances::table)
                    .values((
                        tax_remittances::jurisdiction.eq(remittance.jurisdiction.as_str()),
                        tax_remittances::currency.eq(remittance.amount.currency().code()),
                        tax_remittances::period.eq(&remittance.period),
                        tax_remittances::amount_minor.eq(remittance.amount.minor()),
                        tax_remittances::posted_at.eq(remittance.posted_at.as_micros()),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)?;
                Ok(())
            })
            .await
    }

    async fn remittances(
        &self,
        jurisdiction: &Jurisdiction,
        currency: Currency,
    ) -> std::result::Result<Vec<Remittance>, TaxStoreError> {
        let jurisdiction = jurisdiction.as_str().to_owned();
        self.db
            .run("tax_remittances", Mode::Read, move |conn| {
                let rows: Vec<(String, String, String, i64, i64)> = tax_remittances::table
                    .filter(tax_remittances::jurisdiction.eq(&jurisdiction))
                    .filter(tax_remittances::currency.eq(currency.code()))
                    .order(tax_remittances::posted_at.asc())
                    .select((
                        tax_remittances::jurisdiction,
                        tax_remittances::currency,
                        tax_remittances::period,
                        tax_remittances::amount_minor,
                        tax_remittances::posted_at,
                    ))
                    .load(conn)?;
                rows.into_iter().map(remittance_of).collect()
            })
            .await
    }
}
