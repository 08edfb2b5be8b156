//! The lending store on PostgreSQL: offers and the loans that accepted them.

use bazaar_domain::catalog::BasisPoints;
use bazaar_domain::chart::SellerId;
use bazaar_domain::fx::calendar::Date;
use bazaar_domain::lending::{
    LendingStore, LendingStoreError, Loan, LoanId, LoanState, Offer, OfferId, StoredOffer, Tier,
};
use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};
use bazaar_schema::schema::{loan_offers, loans};
use diesel::prelude::*;
use uuid::Uuid;

use crate::RetryPolicy;
use crate::commerce::{Db, Fail, Mode, StoreFailure};

type Result<T> = std::result::Result<T, Fail<LendingStoreError>>;

impl StoreFailure for LendingStoreError {
    fn unavailable() -> Self {
        Self::Unavailable
    }

    fn internal() -> Self {
        Self::Corrupt
    }
}

fn corrupt(what: &'static str) -> Fail<LendingStoreError> {
    tracing::error!(what, "stored lending data does not read back");
    Fail::Domain(LendingStoreError::Corrupt)
}

/// The lending store. Cloning shares the pool.
#[derive(Clone)]
pub struct PostgresLending {
    db: Db,
}

impl std::fmt::Debug for PostgresLending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresLending")
            .field("pool_size", &self.db.pool_size())
            .finish_non_exhaustive()
    }
}

impl PostgresLending {
    /// A store on `database_url` with at most `pool_size` connections.
    pub fn new(database_url: &str, pool_size: u32, retry: RetryPolicy) -> Self {
        Self {
            db: Db::new(database_url, pool_size, retry),
        }
    }
}

fn day(days: i64) -> Result<Date> {
    Date::from_days_since_epoch(days).ok_or_else(|| corrupt("day"))
}

fn days(date: Date) -> Result<i64> {
    date.days_since_epoch().ok_or_else(|| corrupt("day"))
}

fn bps(value: i32) -> Result<BasisPoints> {
    u16::try_from(value)
        .ok()
        .and_then(|v| BasisPoints::new(v).ok())
        .ok_or_else(|| corrupt("withhold_bps"))
}

fn currency(code: &str) -> Result<Currency> {
    Currency::from_code(code).map_err(|_| corrupt("currency"))
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = loan_offers, check_for_backend(diesel::pg::Pg))]
struct OfferRow {
    id: Uuid,
    seller_id: Uuid,
    currency: String,
    advance_minor: i64,
    fee_minor: i64,
    withhold_bps: i32,
    minimum_minor: i64,
    tier: String,
    offered_on: i64,
    expires_on: i64,
    loan_id: Option<Uuid>,
    created_at: i64,
}

impl OfferRow {
    fn of(id: OfferId, offer: &Offer, now: Timestamp) -> Result<Self> {
        Ok(Self {
            id: id.as_uuid(),
            seller_id: offer.seller.as_uuid(),
            currency: offer.advance.currency().code().to_owned(),
            advance_minor: offer.advance.minor(),
            fee_minor: offer.fee.minor(),
            withhold_bps: i32::from(offer.withhold_rate.get()),
            minimum_minor: offer.minimum.minor(),
            tier: offer.tier.as_str().to_owned(),
            offered_on: days(offer.offered_on)?,
            expires_on: days(offer.expires_on)?,
            loan_id: None,
            created_at: now.as_micros(),
        })
    }

    fn read(self) -> Result<StoredOffer> {
        let currency = currency(&self.currency)?;
        let tier = match self.tier.as_str() {
            "a" => Tier::A,
            "b" => Tier::B,
            "c" => Tier::C,
            _ => return Err(corrupt("tier")),
        };
        Ok(StoredOffer {
            id: OfferId::from_uuid(self.id),
            offer: Offer {
                seller: SellerId::from_uuid(self.seller_id),
                advance: Money::from_minor(self.advance_minor, currency),
                fee: Money::from_minor(self.fee_minor, currency),
                withhold_rate: bps(self.withhold_bps)?,
                minimum: Money::from_minor(self.minimum_minor, currency),
                tier,
                offered_on: day(self.offered_on)?,
                expires_on: day(self.expires_on)?,
            },
            loan: self.loan_id.map(LoanId::from_uuid),
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = loans, check_for_backend(diesel::pg::Pg))]
struct LoanRow {
    id: Uuid,
    offer_id: Uuid,
    seller_id: Uuid,
    currency: String,
    advance_minor: i64,
    fee_minor: i64,
    withhold_bps: i32,
    minimum_minor: i64,
    paid_advance_minor: i64,
    paid_fee_minor: i64,
    state: String,
    state_day: Option<i64>,
    interval_start: i64,
    interval_paid_minor: i64,
    arrears_minor: i64,
    ever_past_due: bool,
    written_off_minor: i64,
    created_at: i64,
    updated_at: i64,
}

impl LoanRow {
    fn of(offer: OfferId, loan: &Loan, now: Timestamp) -> Result<Self> {
        let (state, state_day) = match loan.state {
            LoanState::Active => ("active", None),
            LoanState::PastDue { since } => ("past_due", Some(days(since)?)),
            LoanState::ChargedOff { on } => ("charged_off", Some(days(on)?)),
            LoanState::PaidOff { on } => ("paid_off", Some(days(on)?)),
        };
        Ok(Self {
            id: loan.id.as_uuid(),
            offer_id: offer.as_uuid(),
            seller_id: loan.seller.as_uuid(),
            currency: loan.advance.currency().code().to_owned(),
            advance_minor: loan.advance.minor(),
            fee_minor: loan.fee.minor(),
            withhold_bps: i32::from(loan.withhold_rate.get()),
            minimum_minor: loan.minimum.minor(),
            paid_advance_minor: loan.paid_advance.minor(),
            paid_fee_minor: loan.paid_fee.minor(),
            state: state.to_owned(),
            state_day,
            interval_start: days(loan.interval_start)?,
            interval_paid_minor: loan.interval_paid.minor(),
            arrears_minor: loan.arrears.minor(),
            ever_past_due: loan.ever_past_due,
            written_off_minor: loan.written_off.minor(),
            created_at: now.as_micros(),
            updated_at: now.as_micros(),
        })
    }

    fn read(self) -> Result<Loan> {
        let currency = currency(&self.currency)?;
        let money = |minor| Money::from_minor(minor, currency);
        let on = || {
            self.state_day
                .ok_or_else(|| corrupt("state_day"))
                .and_then(day)
        };
        let state = match self.state.as_str() {
            "active" => LoanState::Active,
            "past_due" => LoanState::PastDue { since: on()? },
            "charged_off" => LoanState::ChargedOff { on: on()? },
            "paid_off" => LoanState::PaidOff { on: on()? },
            _ => return Err(corrupt("state")),
        };
        Ok(Loan {
            id: LoanId::from_uuid(self.id),
            seller: SellerId::from_uuid(self.seller_id),
            advance: money(self.advance_minor),
            fee: money(self.fee_minor),
            withhold_rate: bps(self.withhold_bps)?,
            minimum: money(self.minimum_minor),
            paid_advance: money(self.paid_advance_minor),
            paid_fee: money(self.paid_fee_minor),
            state,
            interval_start: day(self.interval_start)?,
            interval_paid: money(self.interval_paid_minor),
            arrears: money(self.arrears_minor),
            ever_past_due: self.ever_past_due,
            written_off: money(self.written_off_minor),
        })
    }
}

impl LendingStore for PostgresLending {
    async fn save_offer(
        &self,
        id: OfferId,
        offer: &Offer,
        now: Timestamp,
    ) -> std::result::Result<StoredOffer, LendingStoreError> {
        let offer = *offer;
        self.db
            .run("save_loan_offer", Mode::Write, move |conn| {
                diesel::insert_into(loan_offers::table)
                    .values(OfferRow::of(id, &offer, now)?)
                    .on_conflict_do_nothing()
                    .execute(conn)?;
                loan_offers::table
                    .find(id.as_uuid())
                    .select(OfferRow::as_select())
                    .first(conn)?
                    .read()
            })
            .await
    }

    async fn offer(
        &self,
        seller: SellerId,
        id: OfferId,
    ) -> std::result::Result<Option<StoredOffer>, LendingStoreError> {
        self.db
            .run("loan_offer", Mode::Read, move |conn| {
                loan_offers::table
                    .find(id.as_uuid())
                    .filter(loan_offers::seller_id.eq(seller.as_uuid()))
                    .select(OfferRow::as_select())
                    .first(conn)
                    .optional()?
                    .map(OfferRow::read)
                    .transpose()
            })
            .await
    }

    async fn open_loan(
        &self,
        offer: OfferId,
        loan: &Loan,
        now: Timestamp,
    ) -> std::result::Result<Loan, LendingStoreError> {
        let loan = *loan;
        self.db
            .run("open_loan", Mode::Write, move |conn| {
                diesel::insert_into(loans::table)
                    .values(LoanRow::of(offer, &loan, now)?)
                    .on_conflict_do_nothing()
                    .execute(conn)?;
                diesel::update(
                    loan_offers::table
                        .find(offer.as_uuid())
                        .filter(loan_offers::loan_id.is_null()),
                )
                .set(loan_offers::loan_id.eq(loan.id.as_uuid()))
                .execute(conn)?;
                loans::table
                    .filter(loans::offer_id.eq(offer.as_uuid()))
                    .select(LoanRow::as_select())
                    .first(conn)?
                    .read()
            })
            .await
    }

    async fn loans_of(
        &self,
        seller: SellerId,
    ) -> std::result::Result<Vec<Loan>, LendingStoreError> {
        self.db
            .run("loans_of", Mode::Read, move |conn| {
                loans::table
                    .filter(loans::seller_id.eq(seller.as_uuid()))
                    .order((loans::created_at.desc(), loans::id.desc()))
                    .select(LoanRow::as_select())
                    .load(conn)?
                    .into_iter()
                    .map(LoanRow::read)
                    .collect()
            })
            .await
    }

    async fn loans(
        &self,
        after: Option<LoanId>,
        limit: u32,
    ) -> std::result::Result<Vec<Loan>, LendingStoreError> {
        let limit = i64::from(limit.min(1_000));
        self.db
            .run("loans", Mode::Read, move |conn| {
                let mut query = loans::table
                    .order(loans::id.asc())
                    .limit(limit)
                    .select(LoanRow::as_select())
                    .into_boxed();
                if let Some(after) = after {
                    query = query.filter(loans::id.gt(after.as_uuid()));
                }
                query.load(conn)?.into_iter().map(LoanRow::read).collect()
            })
            .await
    }
}
