//! Payouts: paying sellers' available balances out to their banks. The rules, the
//! [`PayoutRails`] port a connector to a payment system implements, the [`PayoutStore`] port
//! and the [`Payouts`] service (bank accounts so far).
//!
//! - [`BusinessCalendar`] (`calendar.rs`, data in `holidays.rs`): each covered country's
//!   weekend and bank holidays for [`FIRST_YEAR`] to [`LAST_YEAR`], with
//!   [`is_business_day`], [`next_business_day_on_or_after`] and [`add_business_days`]; an
//!   uncovered country or year is an error, never a business day.
//! - [`PayoutSchedule`] (`schedule.rs`): manual, daily, weekly or monthly payouts, the delay
//!   before new funds may go, the minimum payout; when a payout is due.
//! - [`BankDetails`] (`bank.rs`): IBAN, UK, US, CLABE, Pix, UPI, IFSC and Zengin details,
//!   their checks ([`BankDetailsError`]) and their masked form.
//! - [`Rail`] (`rails.rs`): the payment systems payouts travel on, as data ([`RailSpec`]):
//!   what each takes, its limits, and when a payout is expected to arrive.
//! - [`transition`] (`lifecycle.rs`): the payout state machine and what each move asks of
//!   the ledger ([`LedgerChange`]); [`FailureCode`] and what to do about each.
//! - [`release_of`] (`release.rs`): when captured funds become available and what a
//!   [`RollingReserve`] holds back; [`InstantTerms`]: an instant payout's fee and daily limit.
//! - [`Zone`] (`zone.rs`): local time with summer time, for cut-offs and daily limits.
//! - [`PayoutMoney::posting`] (`postings.rs`): the ledger transfers of each step.
//! - [`Balances`] (`balances.rs`): available, pending, reserved, instant available and in
//!   transit, from the seller's ledger accounts.
//! - [`assemble`] (`statement.rs`): a payout's statement, the ledger entries it pays out,
//!   read from the ledger by [`Payouts::statement`] (`statement_read.rs`).
//! - [`BankAccount`] (`accounts.rs`): sellers' bank accounts and their verification by
//!   micro-deposits ([`verification_after`]).
//!
//! Nothing here reads a clock: dates and instants are arguments.

mod accounts;
mod balances;
mod bank;
mod batch;
mod calendar;
mod convert;
mod holidays;
mod lifecycle;
mod payout;
mod port;
mod postings;
mod rails;
mod release;
mod request;
mod run;
mod schedule;
mod service;
mod statement;
mod statement_read;
mod store;
#[cfg(test)]
mod tests;
mod zone;

pub use accounts::*;
pub use balances::*;
pub use bank::*;
pub use calendar::*;
pub use convert::*;
pub use lifecycle::*;
pub use payout::*;
pub use port::*;
pub use postings::*;
pub use rails::*;
pub use release::*;
pub use request::*;
pub use run::*;
pub use schedule::*;
pub use service::*;
pub use statement::*;
pub use statement_read::*;
pub use store::*;
pub use zone::*;

use bazaar_money::{Currency, Money};

use crate::Country;
use crate::fx::calendar::Date;

bazaar_ledger::uuid_id!(
    /// A payout's id.
    PayoutId
);

/// Why a payout rule refused. Messages are safe to show a seller: none carries an account
/// number.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PayoutError {
    /// There is no business-day calendar for the country; payouts there cannot be scheduled.
    #[error("no business-day calendar for {0}")]
    CountryNotCovered(Country),
    /// The country's calendar does not cover the year; its holidays are not known here.
    #[error("the business-day calendar of {country} does not cover {year}")]
    YearNotCovered {
        /// The country.
        country: Country,
        /// The year asked about.
        year: i64,
    },
    /// No business day was found within [`CLOSED_RUN_MAX`] days: the calendar data is wrong.
    #[error("no business day in {country} within {CLOSED_RUN_MAX} days of {from}")]
    NoBusinessDay {
        /// The country.
        country: Country,
        /// Where the search started.
        from: Date,
    },
    /// A date outside the range the calendar arithmetic handles.
    #[error("date out of range")]
    DateOutOfRange,
    /// More than [`ADD_BUSINESS_DAYS_MAX`] business days were asked for.
    #[error("at most {ADD_BUSINESS_DAYS_MAX} business days can be added, not {0}")]
    TooManyBusinessDays(u32),
    /// A monthly anchor outside 1 to 31.
    #[error("a monthly anchor day is 1 to 31, not {0}")]
    InvalidAnchorDay(u32),
    /// A delay over [`DELAY_DAYS_MAX`] business days.
    #[error("a payout delay is at most {DELAY_DAYS_MAX} business days, not {0}")]
    DelayTooLong(u32),
    /// A negative minimum payout.
    #[error("the minimum payout cannot be negative")]
    NegativeMinimum,
    /// An amount in another currency than the one expected.
    #[error("expected an amount in {expected}, got {found}")]
    CurrencyMismatch {
        /// The currency of the schedule or rail.
        expected: Currency,
        /// The currency given.
        found: Currency,
    },
    /// A schedule's stored form is not one [`Interval::parse`] reads; the text says why.
    #[error("invalid payout schedule: {0}")]
    InvalidSchedule(&'static str),
    /// The bank details are not valid; the inner error names the part.
    #[error(transparent)]
    BankDetails(#[from] BankDetailsError),
    /// The rail does not pay to this kind of bank details (or to an IBAN of that country).
    #[error("{rail} does not pay to these {kind} details")]
    DetailsNotAccepted {
        /// The rail.
        rail: Rail,
        /// The kind of details given.
        kind: BankDetailsKind,
    },
    /// A payout of zero or less.
    #[error("a payout amount must be more than zero")]
    AmountNotPositive,
    /// Less than the rail's smallest amount.
    #[error("{rail} pays at least {minimum}")]
    AmountBelowMinimum {
        /// The rail.
        rail: Rail,
        /// Its smallest amount.
        minimum: Money,
    },
    /// More than the rail's largest amount.
    #[error("{rail} pays at most {maximum}")]
    AmountAboveMaximum {
        /// The rail.
        rail: Rail,
        /// Its largest amount.
        maximum: Money,
    },
    /// The rail does not reach the country whose calendar was given.
    #[error("{rail} does not reach {country}")]
    CountryNotServed {
        /// The rail.
        rail: Rail,
        /// The country.
        country: Country,
    },
    /// The event cannot happen to a payout in this state.
    #[error("a {from} payout cannot be {event}")]
    TransitionNotAllowed {
        /// The state's name.
        from: &'static str,
        /// The event's name.
        event: &'static str,
    },
    /// A bank account holder's name that is empty or longer than [`HOLDER_NAME_MAX`].
    #[error("the account holder's name must be 1 to {HOLDER_NAME_MAX} characters")]
    InvalidHolderName,
    /// A rolling reserve over 100% or held longer than [`RESERVE_HOLD_MAX`] days.
    #[error("a rolling reserve holds at most 100% for at most {RESERVE_HOLD_MAX} days")]
    InvalidReserve,
    /// An instant payout over the seller's daily limit.
    #[error("instant payouts are limited to {limit} a day; {taken} was paid out instantly today")]
    InstantLimitReached {
        /// The daily limit.
        limit: Money,
        /// What was paid out instantly earlier the same local day.
        taken: Money,
    },
    /// A payout larger than what the seller may be paid now.
    #[error("the payout is more than the {payable} that can be paid out now")]
    InsufficientBalance {
        /// What a payout may take now.
        payable: Money,
    },
    /// No instant payout is possible here: no instant rail reaches the account, or the
    /// seller's country has no instant terms.
    #[error("instant payouts are not available for this account")]
    InstantUnavailable,
    /// An instant payout and its fee larger than the instant-available balance.
    #[error(
        "the instant payout and its fee are more than the {instant_available} available instantly"
    )]
    InsufficientInstantBalance {
        /// What an instant payout and its fee may take now.
        instant_available: Money,
    },
    /// An idempotency key that is empty, longer than 128 characters or not printable ASCII.
    #[error("an idempotency key is 1 to 128 printable ASCII characters")]
    InvalidIdempotencyKey,
    /// Money arithmetic failed (an overflow or mixed currencies).
    #[error(transparent)]
    Money(#[from] bazaar_money::MoneyError),
    /// A return came after the rail's return window closed.
    #[error("{rail} returns are accepted for {days} days after a payout is paid")]
    ReturnWindowClosed {
        /// The rail.
        rail: Rail,
        /// Its return window, in days.
        days: u32,
    },
    /// A payout's statement whose lines do not add up to it: the ledger was read wrongly.
    #[error("the statement adds up to {found}, not the payout's {expected}")]
    StatementMismatch {
        /// The payout's amount.
        expected: Money,
        /// What the lines add up to.
        found: Money,
    },
}

impl PayoutError {
    /// A stable, machine-readable code; for bank details, the code of the part that is wrong.
    pub fn code(&self) -> &'static str {
        match self {
            Self::CountryNotCovered(_) => "calendar_country_not_covered",
            Self::YearNotCovered { .. } => "calendar_year_not_covered",
            Self::NoBusinessDay { .. } => "no_business_day",
            Self::DateOutOfRange => "date_out_of_range",
            Self::TooManyBusinessDays(_) => "too_many_business_days",
            Self::InvalidAnchorDay(_) => "invalid_anchor_day",
            Self::DelayTooLong(_) => "delay_too_long",
            Self::NegativeMinimum => "negative_minimum",
            Self::CurrencyMismatch { .. } => "currency_mismatch",
            Self::InvalidSchedule(_) => "invalid_schedule",
            Self::BankDetails(inner) => inner.code(),
            Self::DetailsNotAccepted { .. } => "bank_details_not_accepted",
            Self::AmountNotPositive => "amount_not_positive",
            Self::AmountBelowMinimum { .. } => "amount_below_minimum",
            Self::AmountAboveMaximum { .. } => "amount_above_maximum",
            Self::CountryNotServed { .. } => "country_not_served",
            Self::TransitionNotAllowed { .. } => "transition_not_allowed",
            Self::ReturnWindowClosed { .. } => "return_window_closed",
            Self::InvalidReserve => "invalid_reserve",
            Self::InvalidHolderName => "invalid_holder_name",
            Self::InstantLimitReached { .. } => "instant_limit_reached",
            Self::InsufficientBalance { .. } => "insufficient_balance",
            Self::InvalidIdempotencyKey => "invalid_idempotency_key",
            Self::InstantUnavailable => "instant_unavailable",
            Self::InsufficientInstantBalance { .. } => "insufficient_instant_balance",
            Self::Money(inner) => inner.code(),
            Self::StatementMismatch { .. } => "internal",
        }
    }
}
