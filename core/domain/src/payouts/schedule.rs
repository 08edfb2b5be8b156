//! Payout schedules: when a seller's available balance is paid out, after how long new funds
//! may go, and how small a payout may be.
//!
//! # The rule for anchors that are not business days
//!
//! Every schedule but [`Interval::Manual`] names anchor dates: every day ([`Interval::Daily`]),
//! one weekday each week ([`Interval::Weekly`]), one day each month ([`Interval::Monthly`];
//! days 29 to 31 fall on the last day of a shorter month). A payout runs on the anchor date
//! when that is a business day in the seller's country, and otherwise on the first business
//! day after it. A payout is therefore due on a business day `d` exactly when an anchor date
//! lies between the business day before `d` (excluded) and `d` (included). Two anchors that
//! shift onto the same business day make one payout.
//!
//! Dates are local dates in the seller's country; everything here is pure.

use std::fmt;

use bazaar_money::{Currency, Money};

use super::PayoutError;
use super::calendar::{BusinessCalendar, CLOSED_RUN_MAX, Weekday};
use crate::fx::calendar::{Date, days_in_month};

/// The longest delay a schedule may have, in business days.
pub const DELAY_DAYS_MAX: u32 = 30;
/// How many days [`PayoutSchedule::next_payout_on_or_after`] looks ahead: a month, a run of
/// closed days after its anchor, and a week's slack.
const SEARCH_DAYS_MAX: u32 = 70;

/// How often payouts run.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Interval {
    /// Never on a schedule: the seller asks for each payout.
    Manual,
    /// Every business day.
    Daily,
    /// Once a week, on `anchor` (or the first business day after it).
    Weekly {
        /// The day of the week.
        anchor: Weekday,
    },
    /// Once a month, on `anchor_day` (or the first business day after it). Days 29 to 31
    /// fall on the last day of months that are shorter.
    Monthly {
        /// 1 to 31.
        anchor_day: u32,
    },
}

impl Interval {
    /// Reads the stored form: `manual`, `daily`, `weekly:<weekday>` (`weekly:friday`) or
    /// `monthly:<day>` (`monthly:31`), with the same checks as [`PayoutSchedule::new`].
    pub fn parse(text: &str) -> Result<Self, PayoutError> {
        let interval = match text.split_once(':') {
            None if text == "manual" => Self::Manual,
            None if text == "daily" => Self::Daily,
            Some(("weekly", day)) => Self::Weekly {
                anchor: Weekday::parse(day)
                    .ok_or(PayoutError::InvalidSchedule("unknown weekday"))?,
            },
            Some(("monthly", day)) => Self::Monthly {
                anchor_day: parse_day(day)?,
            },
            _ => return Err(PayoutError::InvalidSchedule("unknown interval")),
        };
        interval.validate()?;
        Ok(interval)
    }

    fn validate(self) -> Result<(), PayoutError> {
        match self {
            Self::Monthly { anchor_day } if !(1..=31).contains(&anchor_day) => {
                Err(PayoutError::InvalidAnchorDay(anchor_day))
            }
            _ => Ok(()),
        }
    }

    /// Whether `date` is an anchor date (before any shift to a business day).
    fn anchors_on(self, date: Date) -> Result<bool, PayoutError> {
        Ok(match self {
            Self::Manual => false,
            Self::Daily => true,
            Self::Weekly { anchor } => Weekday::of(date)? == anchor,
            Self::Monthly { anchor_day } => {
                let month_days =
                    days_in_month(date.year(), date.month()).ok_or(PayoutError::DateOutOfRange)?;
                date.day() == anchor_day.min(month_days)
            }
        })
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Manual => f.write_str("manual"),
            Self::Daily => f.write_str("daily"),
            Self::Weekly { anchor } => write!(f, "weekly:{anchor}"),
            Self::Monthly { anchor_day } => write!(f, "monthly:{anchor_day}"),
        }
    }
}

/// One or two decimal digits, without sign or spaces.
fn parse_day(text: &str) -> Result<u32, PayoutError> {
    let digits_only =
        !text.is_empty() && text.len() <= 2 && text.bytes().all(|b| b.is_ascii_digit());
    if !digits_only {
        return Err(PayoutError::InvalidSchedule(
            "the monthly anchor is a day number",
        ));
    }
    text.parse()
        .map_err(|_| PayoutError::InvalidSchedule("the monthly anchor is a day number"))
}

/// A seller's payout schedule for one currency.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PayoutSchedule {
    interval: Interval,
    delay_days: u32,
    minimum: Money,
}

impl PayoutSchedule {
    /// A schedule paying out in `currency`: refused when a monthly anchor is outside 1 to 31
    /// ([`PayoutError::InvalidAnchorDay`]), the delay is over [`DELAY_DAYS_MAX`]
    /// ([`PayoutError::DelayTooLong`]), the minimum is negative
    /// ([`PayoutError::NegativeMinimum`]) or in another currency
    /// ([`PayoutError::CurrencyMismatch`]).
    pub fn new(
        interval: Interval,
        delay_days: u32,
        minimum: Money,
        currency: Currency,
    ) -> Result<Self, PayoutError> {
        interval.validate()?;
        if delay_days > DELAY_DAYS_MAX {
            return Err(PayoutError::DelayTooLong(delay_days));
        }
        if minimum.currency() != currency {
            return Err(PayoutError::CurrencyMismatch {
                expected: currency,
                found: minimum.currency(),
            });
        }
        if minimum.is_negative() {
            return Err(PayoutError::NegativeMinimum);
        }
        Ok(Self {
            interval,
            delay_days,
            minimum,
        })
    }

    /// Every business day, no delay, no minimum: what a seller has before choosing.
    pub fn daily(currency: Currency) -> Self {
        Self {
            interval: Interval::Daily,
            delay_days: 0,
            minimum: Money::zero(currency),
        }
    }

    /// How often payouts run.
    pub fn interval(&self) -> Interval {
        self.interval
    }

    /// Business days funds wait after they become available before a payout may take them.
    pub fn delay_days(&self) -> u32 {
        self.delay_days
    }

    /// The smallest payout, in the schedule's currency.
    pub fn minimum(&self) -> Money {
        self.minimum
    }

    /// The currency payouts are made in.
    pub fn currency(&self) -> Currency {
        self.minimum.currency()
    }

    /// Whether a scheduled payout runs on `date` (see the module's rule). Never for
    /// [`Interval::Manual`]; never on a day that is not a business day. Looking back over the
    /// closed days before `date` may reach a year the calendar does not cover, which is
    /// refused like any other uncovered date.
    pub fn is_due(&self, calendar: &BusinessCalendar, date: Date) -> Result<bool, PayoutError> {
        if self.interval == Interval::Manual || !calendar.is_business_day(date)? {
            return Ok(false);
        }
        let mut day = date;
        for _ in 0..=CLOSED_RUN_MAX {
            if self.interval.anchors_on(day)? {
                return Ok(true);
            }
            day = day.add_days(-1).ok_or(PayoutError::DateOutOfRange)?;
            if calendar.is_business_day(day)? {
                return Ok(false);
            }
        }
        Err(PayoutError::NoBusinessDay {
            country: calendar.country(),
            from: date,
        })
    }

    /// The first day on or after `date` on which a scheduled payout runs; `None` for
    /// [`Interval::Manual`].
    pub fn next_payout_on_or_after(
        &self,
        calendar: &BusinessCalendar,
        date: Date,
    ) -> Result<Option<Date>, PayoutError> {
        if self.interval == Interval::Manual {
            return Ok(None);
        }
        let mut day = date;
        for _ in 0..SEARCH_DAYS_MAX {
            if self.is_due(calendar, day)? {
                return Ok(Some(day));
            }
            day = day.add_days(1).ok_or(PayoutError::DateOutOfRange)?;
        }
        Err(PayoutError::NoBusinessDay {
            country: calendar.country(),
            from: date,
        })
    }

    /// The first day funds that became available on `available_on` may be paid out: that day
    /// (or the next business day) plus the delay, in business days.
    pub fn eligible_on(
        &self,
        calendar: &BusinessCalendar,
        available_on: Date,
    ) -> Result<Date, PayoutError> {
        calendar.add_business_days(available_on, self.delay_days)
    }

    /// The scheduled payout that takes funds that became available on `available_on`: the
    /// first one on or after [`eligible_on`](Self::eligible_on); `None` for
    /// [`Interval::Manual`].
    pub fn next_payout_for_funds(
        &self,
        calendar: &BusinessCalendar,
        available_on: Date,
    ) -> Result<Option<Date>, PayoutError> {
        if self.interval == Interval::Manual {
            return Ok(None);
        }
        let eligible = self.eligible_on(calendar, available_on)?;
        self.next_payout_on_or_after(calendar, eligible)
    }

    /// Whether `balance` is enough for a payout: more than zero and at least the minimum.
    /// A balance in another currency is refused ([`PayoutError::CurrencyMismatch`]).
    pub fn meets_minimum(&self, balance: Money) -> Result<bool, PayoutError> {
        if balance.currency() != self.currency() {
            return Err(PayoutError::CurrencyMismatch {
                expected: self.currency(),
                found: balance.currency(),
            });
        }
        Ok(balance.is_positive() && balance.minor() >= self.minimum.minor())
    }
}
