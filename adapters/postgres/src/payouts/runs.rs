//! Payout settings, payouts and rail events on PostgreSQL. Every function runs inside the
//! transaction its caller opened.

use bazaar_domain::Country;
use bazaar_domain::catalog::BasisPoints;
use bazaar_domain::chart::SellerId;
use bazaar_domain::events::EventType;
use bazaar_domain::fx::calendar::Date;
use bazaar_domain::payouts::{
    BankAccount, BankAccountState, FailureAction, FailureCode, Interval, LedgerChange, NewPayout,
    Payout, PayoutId, PayoutKind, PayoutMove, PayoutSchedule, PayoutSeller, PayoutSettings,
    PayoutState, PayoutStoreError, Rail, RollingReserve,
};
use bazaar_domain::store::{Page, PageCursor};
use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};
use bazaar_schema::schema::{
    bank_accounts, payout_rail_cursor, payout_rail_events, payout_settings, payouts, sellers,
};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use uuid::Uuid;

use super::AccountRow;
pub(super) use super::funds::instant_taken;
use crate::commerce::Fail;

type Result<T> = std::result::Result<T, Fail<PayoutStoreError>>;

/// The one event feed read so far: the rails' connector.
const CURSOR: &str = "rails";

pub(super) fn corrupt(what: &'static str) -> Fail<PayoutStoreError> {
    tracing::error!(what, "stored payout data does not read back");
    Fail::Domain(PayoutStoreError::Internal)
}

fn currency(code: &str) -> Result<Currency> {
    Currency::from_code(code.trim()).map_err(|_| corrupt("currency"))
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = payout_settings, check_for_backend(diesel::pg::Pg))]
pub(super) struct SettingsRow {
    seller_id: Uuid,
    currency: String,
    schedule: String,
    delay_days: i32,
    minimum_minor: i64,
    paused: bool,
    reserve_bps: Option<i32>,
    reserve_days: Option<i32>,
    first_capture_on: Option<String>,
}

impl SettingsRow {
    fn view(&self) -> Result<PayoutSettings> {
        let currency = currency(&self.currency)?;
        let schedule = PayoutSchedule::new(
            Interval::parse(&self.schedule).map_err(|_| corrupt("schedule"))?,
            u32::try_from(self.delay_days).map_err(|_| corrupt("delay"))?,
            Money::from_minor(self.minimum_minor, currency),
            currency,
        )
        .map_err(|_| corrupt("schedule"))?;
        let reserve = match (self.reserve_bps, self.reserve_days) {
            (Some(bps), Some(days)) => Some(RollingReserve {
                share: u16::try_from(bps)
                    .ok()
                    .and_then(|bps| BasisPoints::new(bps).ok())
                    .ok_or_else(|| corrupt("reserve"))?,
                hold_days: u32::try_from(days).map_err(|_| corrupt("reserve"))?,
            }),
            _ => None,
        };
        let first_capture_on = match &self.first_capture_on {
            Some(text) => Some(Date::parse_iso(text).ok_or_else(|| corrupt("first capture"))?),
            None => None,
        };
        Ok(PayoutSettings {
            seller: SellerId::from_uuid(self.seller_id),
            schedule,
            paused: self.paused,
            reserve,
            first_capture_on,
        })
    }
}

pub(super) fn home_region(conn: &mut PgConnection, seller: SellerId) -> Result<String> {
    sellers::table
        .find(seller.as_uuid())
        .select(sellers::home_region)
        .first(conn)
        .optional()?
        .ok_or(Fail::Domain(PayoutStoreError::NotFound("seller")))
}

pub(super) fn settings(
    conn: &mut PgConnection,
    seller: SellerId,
    currency: Currency,
) -> Result<PayoutSettings> {
    let row: Option<SettingsRow> = payout_settings::table
        .find((seller.as_uuid(), currency.code()))
        .select(SettingsRow::as_select())
        .first(conn)
        .optional()?;
    match row {
        Some(row) => row.view(),
        None => Ok(PayoutSettings::default_for(seller, currency)),
    }
}

/// Makes sure the seller has a settings row in `currency` (the defaults when new).
fn ensure_settings(
    conn: &mut PgConnection,
    seller: SellerId,
    currency: Currency,
    now: Timestamp,
) -> Result<()> {
    let region = home_region(conn, seller)?;
    let defaults = PayoutSettings::default_for(seller, currency);
    diesel::insert_into(payout_settings::table)
        .values((
            payout_settings::seller_id.eq(seller.as_uuid()),
            payout_settings::currency.eq(currency.code()),
            payout_settings::schedule.eq(defaults.schedule.interval().to_string()),
            payout_settings::delay_days.eq(0),
            payout_settings::minimum_minor.eq(0_i64),
            payout_settings::paused.eq(false),
            payout_settings::updated_at.eq(now.as_micros()),
            payout_settings::home_region.eq(region),
        ))
        .on_conflict((payout_settings::seller_id, payout_settings::currency))
        .do_nothing()
        .execute(conn)?;
    Ok(())
}

pub(super) fn set_schedule(
    conn: &mut PgConnection,
    seller: SellerId,
    schedule: PayoutSchedule,
    now: Timestamp,
) -> Result<PayoutSettings> {
    let currency = schedule.currency();
    ensure_settings(conn, seller, currency, now)?;
    diesel::update(payout_settings::table.find((seller.as_uuid(), currency.code())))
        .set((
            payout_settings::schedule.eq(schedule.interval().to_string()),
            payout_settings::delay_days
                .eq(i32::try_from(schedule.delay_days()).unwrap_or(i32::MAX)),
            payout_settings::minimum_minor.eq(schedule.minimum().minor()),
            payout_settings::updated_at.eq(now.as_micros()),
        ))
        .execute(conn)?;
    settings(conn, seller, currency)
}

pub(super) fn set_reserve(
    conn: &mut PgConnection,
    seller: SellerId,
    currency: Currency,
    reserve: Option<RollingReserve>,
    now: Timestamp,
) -> Result<PayoutSettings> {
    ensure_settings(conn, seller, currency, now)?;
    let to_i32 = |value: u32| i32::try_from(value).unwrap_or(i32::MAX);
    diesel::update(payout_settings::table.find((seller.as_uuid(), currency.code())))
        .set((
            payout_settings::reserve_bps.eq(reserve.map(|r| to_i32(u32::from(r.share.get())))),
            payout_settings::reserve_days.eq(reserve.map(|r| to_i32(r.hold_days))),
            payout_settings::updated_at.eq(now.as_micros()),
        ))
        .execute(conn)?;
    settings(conn, seller, currency)
}

pub(super) fn set_first_capture(
    conn: &mut PgConnection,
    seller: SellerId,
    currency: Currency,
    on: Date,
    now: Timestamp,
) -> Result<()> {
    ensure_settings(conn, seller, currency, now)?;
    diesel::update(
        payout_settings::table
            .find((seller.as_uuid(), currency.code()))
            .filter(payout_settings::first_capture_on.is_null()),
    )
    .set(payout_settings::first_capture_on.eq(on.to_string()))
    .execute(conn)?;
    Ok(())
}

type SellerRow = (Uuid, String, String, Option<SettingsRow>);

pub(super) fn sellers_page(
    conn: &mut PgConnection,
    after: Option<SellerId>,
    limit: u32,
) -> Result<Vec<PayoutSeller>> {
    let mut query = sellers::table
        .left_join(
            payout_settings::table.on(payout_settings::seller_id
                .eq(sellers::id)
                .and(payout_settings::currency.eq(sellers::settlement_currency))),
        )
        .select((
            sellers::id,
            sellers::country,
            sellers::settlement_currency,
            Option::<SettingsRow>::as_select(),
        ))
        .order(sellers::id)
        .limit(i64::from(limit))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(sellers::id.gt(after.as_uuid()));
    }
    let rows: Vec<SellerRow> = query.load(conn)?;
    rows.into_iter()
        .map(|(id, country, code, settings)| {
            let seller = SellerId::from_uuid(id);
            let currency = currency(&code)?;
            Ok(PayoutSeller {
                id: seller,
                country: Country::new(country.trim()).map_err(|_| corrupt("country"))?,
                currency,
                settings: match settings {
                    Some(row) => row.view()?,
                    None => PayoutSettings::default_for(seller, currency),
                },
            })
        })
        .collect()
}

pub(super) fn payable_account(
    conn: &mut PgConnection,
    seller: SellerId,
    currency: Currency,
) -> Result<Option<BankAccount>> {
    let row: Option<AccountRow> = bank_accounts::table
        .filter(bank_accounts::seller_id.eq(seller.as_uuid()))
        .filter(bank_accounts::currency.eq(currency.code()))
        .filter(bank_accounts::state.eq(BankAccountState::Verified.as_str()))
        .order((bank_accounts::created_at, bank_accounts::id))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|row| row.view()).transpose()
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = payouts, check_for_backend(diesel::pg::Pg))]
pub(super) struct PayoutRow {
    id: Uuid,
    seller_id: Uuid,
    kind: String,
    currency: String,
    amount_minor: i64,
    fee_minor: Option<i64>,
    bank_account_id: Uuid,
    rail: String,
    state: String,
    failure_code: Option<String>,
    paid_at: Option<i64>,
    ledger_due: Option<String>,
    canceled_reason: Option<String>,
    rail_reference: Option<String>,
    expected_at: Option<i64>,
    scheduled_for: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl PayoutRow {
    pub(super) fn view(self) -> Result<Payout> {
        let currency = currency(&self.currency)?;
        let code = || {
            self.failure_code
                .as_deref()
                .and_then(FailureCode::parse)
                .ok_or_else(|| corrupt("failure code"))
        };
        let state = match self.state.as_str() {
            "pending" => PayoutState::Pending,
            "in_transit" => PayoutState::InTransit,
            "paid" => PayoutState::Paid {
                paid_at: Timestamp::from_micros(self.paid_at.ok_or_else(|| corrupt("paid_at"))?),
            },
            "failed" => PayoutState::Failed(code()?),
            "canceled" => PayoutState::Canceled,
            "returned" => PayoutState::Returned(code()?),
            _ => return Err(corrupt("state")),
        };
        let ledger_due = match &self.ledger_due {
            Some(name) => Some(LedgerChange::parse(name).ok_or_else(|| corrupt("ledger_due"))?),
            None => None,
        };
        Ok(Payout {
            id: PayoutId::from_uuid(self.id),
            seller: SellerId::from_uuid(self.seller_id),
            kind: PayoutKind::parse(&self.kind).ok_or_else(|| corrupt("kind"))?,
            amount: Money::from_minor(self.amount_minor, currency),
            fee: self.fee_minor.map(|fee| Money::from_minor(fee, currency)),
            bank_account: bazaar_domain::payouts::BankAccountId::from_uuid(self.bank_account_id),
            rail: Rail::parse(&self.rail).ok_or_else(|| corrupt("rail"))?,
            state,
            ledger_due,
            canceled_reason: self.canceled_reason,
            rail_reference: self.rail_reference,
            expected_at: self.expected_at.map(Timestamp::from_micros),
            scheduled_for: match &self.scheduled_for {
                Some(text) => Some(Date::parse_iso(text).ok_or_else(|| corrupt("scheduled_for"))?),
                None => None,
            },
            created_at: Timestamp::from_micros(self.created_at),
            updated_at: Timestamp::from_micros(self.updated_at),
        })
    }
}

fn load_payout(conn: &mut PgConnection, id: Uuid) -> Result<Option<Payout>> {
    let row: Option<PayoutRow> = payouts::table
        .find(id)
        .select(PayoutRow::as_select())
        .first(conn)
        .optional()?;
    row.map(PayoutRow::view).transpose()
}

pub(super) fn payout(
    conn: &mut PgConnection,
    seller: Option<SellerId>,
    id: PayoutId,
) -> Result<Option<Payout>> {
    let found = load_payout(conn, id.as_uuid())?;
    Ok(found.filter(|payout| seller.is_none_or(|seller| payout.seller == seller)))
}

pub(super) fn insert_payout(
    conn: &mut PgConnection,
    new: &NewPayout,
    now: Timestamp,
) -> Result<Payout> {
    if let Some(existing) = load_payout(conn, new.id.as_uuid())? {
        let same = existing.seller == new.seller
            && existing.amount == new.amount
            && existing.fee == new.fee
            && existing.kind == new.kind
            && existing.bank_account == new.bank_account;
        return if same {
            Ok(existing)
        } else {
            Err(Fail::Domain(PayoutStoreError::IdReused))
        };
    }
    let account: Option<AccountRow> = bank_accounts::table
        .find(new.bank_account.as_uuid())
        .filter(bank_accounts::seller_id.eq(new.seller.as_uuid()))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?;
    let payable = match &account {
        Some(row) => {
            let account = row.view()?;
            account.state == BankAccountState::Verified
                && account.currency == new.amount.currency()
                && (account.rail == new.rail
                    || (new.kind == PayoutKind::Instant
                        && account.rail.instant_counterpart() == Some(new.rail)))
        }
        None => false,
    };
    if !payable {
        return Err(Fail::Domain(PayoutStoreError::AccountNotPayable));
    }
    if let Some(limit) = new.instant_limit {
        // The seller's settings row is locked so that two instant payouts at once count
        // each other.
        ensure_settings(conn, new.seller, new.amount.currency(), now)?;
        payout_settings::table
            .find((new.seller.as_uuid(), new.amount.currency().code()))
            .select(payout_settings::seller_id)
            .for_update()
            .first::<Uuid>(conn)?;
        let taken = instant_taken(
            conn,
            new.seller,
            new.amount.currency(),
            limit.from,
            limit.to,
        )?;
        let after = taken
            .minor()
            .checked_add(new.amount.minor())
            .ok_or_else(|| corrupt("instant total"))?;
        if after > limit.limit.minor() {
            return Err(Fail::Domain(PayoutStoreError::InstantLimitReached));
        }
    }
    let region = home_region(conn, new.seller)?;
    let row: PayoutRow = diesel::insert_into(payouts::table)
        .values((
            payouts::id.eq(new.id.as_uuid()),
            payouts::seller_id.eq(new.seller.as_uuid()),
            payouts::kind.eq(new.kind.as_str()),
            payouts::currency.eq(new.amount.currency().code()),
            payouts::amount_minor.eq(new.amount.minor()),
            payouts::fee_minor.eq(new.fee.map(|fee| fee.minor())),
            payouts::bank_account_id.eq(new.bank_account.as_uuid()),
            payouts::rail.eq(new.rail.as_str()),
            payouts::state.eq(PayoutState::Pending.as_str()),
            payouts::ledger_due.eq(LedgerChange::PostPending.as_str()),
            payouts::scheduled_for.eq(new.scheduled_for.map(|date| date.to_string())),
            payouts::created_at.eq(now.as_micros()),
            payouts::updated_at.eq(now.as_micros()),
            payouts::home_region.eq(region),
        ))
        .returning(PayoutRow::as_returning())
        .get_result(conn)?;
    let payout = row.view()?;
    emit(conn, EventType::PayoutCreated, &payout, now)?;
    tracing::info!(
        payout = %payout.id,
        seller = %payout.seller,
        amount = %payout.amount,
        rail = payout.rail.as_str(),
        "payout created"
    );
    Ok(payout)
}

pub(super) fn payouts_page(
    conn: &mut PgConnection,
    seller: SellerId,
    after: Option<PageCursor>,
    limit: u32,
) -> Result<Page<Payout>> {
    let mut query = payouts::table
        .filter(payouts::seller_id.eq(seller.as_uuid()))
        .order((payouts::created_at.desc(), payouts::id.desc()))
        .limit(i64::from(limit).saturating_add(1))
        .select(PayoutRow::as_select())
        .into_boxed();
    if let Some(cursor) = after {
        let at = cursor.created_at.as_micros();
        query = query.filter(
            payouts::created_at
                .lt(at)
                .or(payouts::created_at.eq(at).and(payouts::id.lt(cursor.id))),
        );
    }
    let rows: Vec<PayoutRow> = query.load(conn)?;
    let items = rows
        .into_iter()
        .map(PayoutRow::view)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_fetched(items, limit))
}

pub(super) fn with_work(conn: &mut PgConnection, limit: u32) -> Result<Vec<Payout>> {
    let rows: Vec<PayoutRow> = payouts::table
        .filter(
            payouts::ledger_due
                .is_not_null()
                .or(payouts::state.eq(PayoutState::Pending.as_str())),
        )
        .order((payouts::created_at, payouts::id))
        .limit(i64::from(limit))
        .select(PayoutRow::as_select())
        .load(conn)?;
    rows.into_iter().map(PayoutRow::view).collect()
}

pub(super) fn move_payout(
    conn: &mut PgConnection,
    id: PayoutId,
    from: PayoutState,
    change: &PayoutMove,
    now: Timestamp,
) -> Result<Option<Payout>> {
    if let Some(event) = &change.event_id {
        let seen: Option<String> = payout_rail_events::table
            .find(event)
            .select(payout_rail_events::event_id)
            .first(conn)
            .optional()?;
        if seen.is_some() {
            return Ok(None);
        }
    }
    let to = change.change.state;
    let failure = match to {
        PayoutState::Failed(code) | PayoutState::Returned(code) => Some(code.as_str()),
        _ => None,
    };
    let paid_at = match to {
        PayoutState::Paid { paid_at } => Some(paid_at.as_micros()),
        _ => None,
    };
    let target = payouts::table
        .filter(payouts::id.eq(id.as_uuid()))
        .filter(payouts::state.eq(from.as_str()));
    let columns = moved_columns(to, change, failure, paid_at, now);
    let updated: Option<PayoutRow> = match (&change.accepted, change.force) {
        (Some((reference, expected_at)), _) => {
            diesel::update(target.filter(payouts::ledger_due.is_null()))
                .set((
                    columns,
                    payouts::rail_reference.eq(reference),
                    payouts::expected_at.eq(expected_at.as_micros()),
                ))
                .returning(PayoutRow::as_returning())
                .get_result(conn)
                .optional()?
        }
        (None, true) => diesel::update(target)
            .set(columns)
            .returning(PayoutRow::as_returning())
            .get_result(conn)
            .optional()?,
        (None, false) => diesel::update(target.filter(payouts::ledger_due.is_null()))
            .set(columns)
            .returning(PayoutRow::as_returning())
            .get_result(conn)
            .optional()?,
    };
    let Some(row) = updated else {
        return Ok(None);
    };
    let payout = row.view()?;
    if let Some(event) = &change.event_id {
        diesel::insert_into(payout_rail_events::table)
            .values((
                payout_rail_events::event_id.eq(event),
                payout_rail_events::payout_id.eq(id.as_uuid()),
                payout_rail_events::applied_at.eq(now.as_micros()),
            ))
            .execute(conn)?;
    }
    after_move(conn, &payout, from, change, failure, now)?;
    Ok(Some(payout))
}

/// What comes with a move: the bank account errored and the schedule paused when the
/// follow-up asks for it, the outbox event of the new state, a log line.
fn after_move(
    conn: &mut PgConnection,
    payout: &Payout,
    from: PayoutState,
    change: &PayoutMove,
    failure: Option<&'static str>,
    now: Timestamp,
) -> Result<()> {
    let to = change.change.state;
    if change.change.follow_up == Some(FailureAction::MarkBankAccountErrored) {
        diesel::update(bank_accounts::table.find(payout.bank_account.as_uuid()))
            .set((
                bank_accounts::state.eq(BankAccountState::Errored.as_str()),
                bank_accounts::updated_at.eq(now.as_micros()),
            ))
            .execute(conn)?;
        // Paused until the seller has a verified account in the currency again; a seller who
        // already verified another one (a second payout to the old account failed after the
        // fix) is not paused.
        let payable = payable_account(conn, payout.seller, payout.currency())?;
        if payable.is_none() {
            ensure_settings(conn, payout.seller, payout.currency(), now)?;
            diesel::update(
                payout_settings::table.find((payout.seller.as_uuid(), payout.currency().code())),
            )
            .set(payout_settings::paused.eq(true))
            .execute(conn)?;
        }
        tracing::warn!(
            payout = %payout.id,
            seller = %payout.seller,
            account = %payout.bank_account,
            code = failure.unwrap_or(""),
            paused = payable.is_none(),
            "bank account marked errored"
        );
    }
    let event = match to {
        PayoutState::Paid { .. } => Some(EventType::PayoutPaid),
        PayoutState::Failed(_) => Some(EventType::PayoutFailed),
        PayoutState::Canceled => Some(EventType::PayoutCanceled),
        PayoutState::Returned(_) => Some(EventType::PayoutReturned),
        PayoutState::Pending | PayoutState::InTransit => None,
    };
    if let Some(event) = event {
        emit(conn, event, payout, now)?;
    }
    tracing::info!(
        payout = %payout.id,
        from = from.as_str(),
        to = to.as_str(),
        code = failure.unwrap_or(""),
        "payout moved"
    );
    Ok(())
}

#[expect(clippy::type_complexity, reason = "diesel's changeset tuple")]
fn moved_columns(
    to: PayoutState,
    change: &PayoutMove,
    failure: Option<&'static str>,
    paid_at: Option<i64>,
    now: Timestamp,
) -> (
    diesel::dsl::Eq<payouts::state, &'static str>,
    diesel::dsl::Eq<payouts::failure_code, Option<&'static str>>,
    diesel::dsl::Eq<payouts::paid_at, Option<i64>>,
    diesel::dsl::Eq<payouts::ledger_due, Option<&'static str>>,
    diesel::dsl::Eq<payouts::canceled_reason, Option<&'static str>>,
    diesel::dsl::Eq<payouts::updated_at, i64>,
) {
    (
        payouts::state.eq(to.as_str()),
        payouts::failure_code.eq(failure),
        payouts::paid_at.eq(paid_at),
        payouts::ledger_due.eq(change.change.ledger.as_str()),
        payouts::canceled_reason.eq(change.canceled_reason),
        payouts::updated_at.eq(now.as_micros()),
    )
}

pub(super) fn rail_cursor(conn: &mut PgConnection) -> Result<Option<String>> {
    Ok(payout_rail_cursor::table
        .find(CURSOR)
        .select(payout_rail_cursor::last_event_id)
        .first(conn)
        .optional()?)
}

pub(super) fn set_rail_cursor(conn: &mut PgConnection, event: &str, now: Timestamp) -> Result<()> {
    let inserted = diesel::insert_into(payout_rail_cursor::table)
        .values((
            payout_rail_cursor::name.eq(CURSOR),
            payout_rail_cursor::last_event_id.eq(event),
            payout_rail_cursor::updated_at.eq(now.as_micros()),
        ))
        .on_conflict(payout_rail_cursor::name)
        .do_nothing()
        .execute(conn)?;
    if inserted == 0 {
        diesel::update(
            payout_rail_cursor::table
                .filter(payout_rail_cursor::name.eq(CURSOR))
                .filter(payout_rail_cursor::last_event_id.lt(event)),
        )
        .set((
            payout_rail_cursor::last_event_id.eq(event),
            payout_rail_cursor::updated_at.eq(now.as_micros()),
        ))
        .execute(conn)?;
    }
    Ok(())
}

/// Resumes the seller's schedule in `currency` once it has a verified account there again.
pub(super) fn resume_schedule(
    conn: &mut PgConnection,
    seller: SellerId,
    currency: Currency,
) -> Result<()> {
    diesel::update(payout_settings::table.find((seller.as_uuid(), currency.code())))
        .set(payout_settings::paused.eq(false))
        .execute(conn)?;
    Ok(())
}

/// Writes the payout's event to the outbox; its id derives from the payout and the type.
fn emit(
    conn: &mut PgConnection,
    event_type: EventType,
    payout: &Payout,
    now: Timestamp,
) -> Result<()> {
    let failure = match payout.state {
        PayoutState::Failed(code) | PayoutState::Returned(code) => Some(code.as_str()),
        _ => None,
    };
    let payload = serde_json::json!({
        "payout_id": payout.id.to_string(),
        "seller_id": payout.seller.to_string(),
        "state": payout.state.as_str(),
        "kind": payout.kind.as_str(),
        "currency": payout.currency().code(),
        "amount_minor": payout.amount.minor(),
        "fee_minor": payout.fee.map(|fee| fee.minor()),
        "rail": payout.rail.as_str(),
        "bank_account_id": payout.bank_account.to_string(),
        "failure_code": failure,
        "canceled_reason": payout.canceled_reason,
    });
    let event = crate::outbox::OutboxEvent {
        event_type,
        subject: payout.id.as_uuid(),
        resource_id: payout.id.as_uuid(),
        seller_id: Some(payout.seller.as_uuid()),
        payload: &payload,
    };
    crate::outbox::write(conn, &event, now)?;
    Ok(())
}
