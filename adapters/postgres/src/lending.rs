//! The lending store on PostgreSQL: offers and the loans that accepted them.

use bazaar_domain::catalog::BasisPoints;
use bazaar_domain::chart::SellerId;
use bazaar_domain::fx::calendar::Date;
use bazaar_domain::lending::{
    LendingStore, LendingStoreError, Loan, LoanEvent, LoanId, LoanState, Offer, OfferId,
    StoredOffer, Tier, loan_id,
};
use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};
use bazaar_schema::schema::{loan_offers, loans};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use uuid::Uuid;

use crate::RetryPolicy;
use crate::commerce::{Db, Fail, Mode, StoreFailure};
use crate::outbox::{self, OutboxEvent};

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
    #[diesel(embed)]
    change: LoanChange,
    created_at: i64,
    updated_at: i64,
}

/// What servicing changes on a loan.
#[derive(Queryable, Selectable, Insertable, AsChangeset, PartialEq, Debug)]
#[diesel(table_name = loans, treat_none_as_null = true, check_for_backend(diesel::pg::Pg))]
struct LoanChange {
    paid_advance_minor: i64,
    paid_fee_minor: i64,
    state: String,
    state_day: Option<i64>,
    interval_start: i64,
    interval_paid_minor: i64,
    arrears_minor: i64,
    ever_past_due: bool,
    written_off_minor: i64,
}

fn state_of(loan: &Loan) -> Result<(&'static str, Option<i64>)> {
    Ok(match loan.state {
        LoanState::Active => ("active", None),
        LoanState::PastDue { since } => ("past_due", Some(days(since)?)),
        LoanState::ChargedOff { on } => ("charged_off", Some(days(on)?)),
        LoanState::PaidOff { on } => ("paid_off", Some(days(on)?)),
    })
}

impl LoanChange {
    fn of(loan: &Loan) -> Result<Self> {
        let (state, state_day) = state_of(loan)?;
        Ok(Self {
            paid_advance_minor: loan.paid_advance.minor(),
            paid_fee_minor: loan.paid_fee.minor(),
            state: state.to_owned(),
            state_day,
            interval_start: days(loan.interval_start)?,
            interval_paid_minor: loan.interval_paid.minor(),
            arrears_minor: loan.arrears.minor(),
            ever_past_due: loan.ever_past_due,
            written_off_minor: loan.written_off.minor(),
        })
    }
}

/// Writes `events` about `loan` (about `offer` for `loan.offered`) to the outbox; each id
/// derives from the loan, the type and the event's key.
fn emit(
    conn: &mut PgConnection,
    loan: &Loan,
    offer: Option<OfferId>,
    events: &[LoanEvent],
    now: Timestamp,
) -> Result<()> {
    for event in events {
        let resource = match (event.event_type.resource_type(), offer) {
            ("loan_offer", Some(offer)) => offer.as_uuid(),
            _ => loan.id.as_uuid(),
        };
        let subject = if event.key.is_empty() {
            resource
        } else {
            Uuid::new_v5(&resource, event.key.as_bytes())
        };
        let remaining = loan.remaining().map_err(|_| corrupt("remaining"))?;
        let paid = loan.paid().map_err(|_| corrupt("paid"))?;
        let payload = serde_json::json!({
            "loan_id": loan.id.to_string(),
            "offer_id": offer.map(|offer| offer.to_string()),
            "seller_id": loan.seller.to_string(),
            "state": loan.state.as_str(),
            "currency": loan.advance.currency().code(),
            "advance_minor": loan.advance.minor(),
            "fee_minor": loan.fee.minor(),
            "withhold_bps": loan.withhold_rate.get(),
            "paid_minor": paid.minor(),
            "remaining_minor": remaining.minor(),
            "arrears_minor": loan.arrears.minor(),
            "amount_minor": event.amount.map(|amount| amount.minor()),
        });
        let event = OutboxEvent {
            event_type: event.event_type,
            subject,
            resource_id: resource,
            seller_id: Some(loan.seller.as_uuid()),
            payload: &payload,
        };
        outbox::write(conn, &event, now)?;
    }
    Ok(())
}

impl LoanRow {
    fn of(offer: OfferId, loan: &Loan, now: Timestamp) -> Result<Self> {
        Ok(Self {
            id: loan.id.as_uuid(),
            offer_id: offer.as_uuid(),
            seller_id: loan.seller.as_uuid(),
            currency: loan.advance.currency().code().to_owned(),
            advance_minor: loan.advance.minor(),
            fee_minor: loan.fee.minor(),
            withhold_bps: i32::from(loan.withhold_rate.get()),
            minimum_minor: loan.minimum.minor(),
            change: LoanChange::of(loan)?,
            created_at: now.as_micros(),
            updated_at: now.as_micros(),
        })
    }

    fn read(self) -> Result<Loan> {
        let currency = currency(&self.currency)?;
        let money = |minor| Money::from_minor(minor, currency);
        let change = &self.change;
        let on = || {
            change
                .state_day
                .ok_or_else(|| corrupt("state_day"))
                .and_then(day)
        };
        let state = match change.state.as_str() {
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
            paid_advance: money(change.paid_advance_minor),
            paid_fee: money(change.paid_fee_minor),
            state,
            interval_start: day(change.interval_start)?,
            interval_paid: money(change.interval_paid_minor),
            arrears: money(change.arrears_minor),
            ever_past_due: change.ever_past_due,
            written_off: money(change.written_off_minor),
        })
    }
}

impl LendingStore for PostgresLending {
    async fn save_offer(
        &self,
        id: OfferId,
        offer: &Offer,
        events: &[LoanEvent],
        now: Timestamp,
    ) -> std::result::Result<StoredOffer, LendingStoreError> {
        let offer = *offer;
        let events = events.to_vec();
        self.db
            .run("save_loan_offer", Mode::Write, move |conn| {
                let inserted = diesel::insert_into(loan_offers::table)
                    .values(OfferRow::of(id, &offer, now)?)
                    .on_conflict_do_nothing()
                    .execute(conn)?;
                if inserted > 0 {
                    // The loan the offer would open, for the event's terms.
                    let loan = Loan::open(loan_id(id), &offer, offer.offered_on);
                    emit(conn, &loan, Some(id), &events, now)?;
                }
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
        events: &[LoanEvent],
        now: Timestamp,
    ) -> std::result::Result<Loan, LendingStoreError> {
        let loan = *loan;
        let events = events.to_vec();
        self.db
            .run("open_loan", Mode::Write, move |conn| {
                let inserted = diesel::insert_into(loans::table)
                    .values(LoanRow::of(offer, &loan, now)?)
                    .on_conflict_do_nothing()
                    .execute(conn)?;
                if inserted > 0 {
                    emit(conn, &loan, Some(offer), &events, now)?;
                }
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

    async fn save_loan(
        &self,
        before: &Loan,
        after: &Loan,
        events: &[LoanEvent],
        now: Timestamp,
    ) -> std::result::Result<bool, LendingStoreError> {
        let (before, after) = (*before, *after);
        let events = events.to_vec();
        self.db
            .run("save_loan", Mode::Write, move |conn| {
                let was = LoanChange::of(&before)?;
                let stored = loans::table
                    .find(before.id.as_uuid())
                    .select(LoanRow::as_select())
                    .for_update()
                    .first(conn)
                    .optional()?;
                let Some(stored) = stored else {
                    return Ok(false);
                };
                if stored.change != was {
                    return Ok(false);
                }
                diesel::update(loans::table.find(before.id.as_uuid()))
                    .set((
                        LoanChange::of(&after)?,
                        loans::updated_at.eq(now.as_micros()),
                    ))
                    .execute(conn)?;
                emit(conn, &after, None, &events, now)?;
                Ok(true)
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
