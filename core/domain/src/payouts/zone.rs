//! Local time for payouts: a seller's day (when an instant-payout limit resets) and a rail's
//! cut-off are read on the local clock, summer time included.
//!
//! A [`Zone`] is a standard offset from UTC and, where the zone keeps summer time, the rule
//! that moves its clocks an hour ahead. Two rules cover the countries payouts reach:
//!
//! - **EU** (Directive 2000/84/EC, followed by the United Kingdom too): summer time from
//!   01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of October.
//! - **US** (Energy Policy Act of 2005): from 02:00 local standard time on the second Sunday
//!   of March to 02:00 local summer time (01:00 standard) on the first Sunday of November.
//!
//! Brazil (since 2019), Mexico (since 2022 outside the border strip), India, Japan, Kuwait
//! and Bahrain keep no summer time.

use bazaar_ledger::Timestamp;

use super::{PayoutError, Weekday};
use crate::Country;
use crate::fx::calendar::Date;

const MICROS_PER_MINUTE: i64 = 60_000_000;
const MINUTES_PER_DAY: i64 = 1_440;

/// A summer-time rule: when clocks go an hour ahead and back.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SummerTime {
    /// The European Union's and the United Kingdom's dates, changing at 01:00 UTC.
    Eu,
    /// The United States' dates, changing at 02:00 local time.
    Us,
}

/// A time zone as payouts need it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Zone {
    /// The offset of local standard time from UTC, in minutes (east positive).
    pub standard_offset_minutes: i32,
    /// The summer-time rule, if the zone keeps one.
    pub summer: Option<SummerTime>,
}

impl Zone {
    /// UTC itself.
    pub const UTC: Self = Self::fixed(0);

    /// A zone `offset_minutes` from UTC in standard time, with the `summer` rule if any.
    pub const fn new(offset_minutes: i32, summer: Option<SummerTime>) -> Self {
        Self {
            standard_offset_minutes: offset_minutes,
            summer,
        }
    }

    /// A zone with no summer time.
    pub const fn fixed(offset_minutes: i32) -> Self {
        Self {
            standard_offset_minutes: offset_minutes,
            summer: None,
        }
    }

    /// The zone of a country's capital (for the United States, Eastern Time; for Brazil,
    /// Brasília time; for Mexico, Central time). A seller elsewhere in a country with several
    /// zones chooses theirs.
    pub fn of_country(country: Country) -> Result<Self, PayoutError> {
        let zone = match country.as_str() {
            "GB" | "IE" | "PT" => Self {
                standard_offset_minutes: 0,
                summer: Some(SummerTime::Eu),
            },
            "DE" | "FR" | "NL" | "BE" | "ES" | "IT" | "AT" | "LU" => Self {
                standard_offset_minutes: 60,
                summer: Some(SummerTime::Eu),
            },
            "US" => Self {
                standard_offset_minutes: -300,
                summer: Some(SummerTime::Us),
            },
            "BR" => Self::fixed(-180),
            "MX" => Self::fixed(-360),
            "IN" => Self::fixed(330),
            "JP" => Self::fixed(540),
            "KW" | "BH" => Self::fixed(180),
            _ => return Err(PayoutError::CountryNotCovered(country)),
        };
        Ok(zone)
    }

    /// The offset from UTC in force at `at`, in minutes.
    pub fn offset_at(self, at: Timestamp) -> Result<i32, PayoutError> {
        let summer = match self.summer {
            None => false,
            Some(rule) => self.is_summer(rule, at)?,
        };
        Ok(if summer {
            self.standard_offset_minutes.saturating_add(60)
        } else {
            self.standard_offset_minutes
        })
    }

    fn is_summer(self, rule: SummerTime, at: Timestamp) -> Result<bool, PayoutError> {
        // The year on the standard-time clock is the year of both changes around `at`.
        let (date, _) = day_and_minute(at, self.standard_offset_minutes)?;
        let (starts, ends) = match rule {
            SummerTime::Eu => (
                utc_at(last_sunday(date.year(), 3)?, 60)?,
                utc_at(last_sunday(date.year(), 10)?, 60)?,
            ),
            SummerTime::Us => {
                let offset = i64::from(self.standard_offset_minutes);
                // 02:00 standard time, and 02:00 summer time (01:00 standard time).
                (
                    utc_at(
                        nth_sunday(date.year(), 3, 2)?,
                        120_i64.saturating_sub(offset),
                    )?,
                    utc_at(
                        nth_sunday(date.year(), 11, 1)?,
                        60_i64.saturating_sub(offset),
                    )?,
                )
            }
        };
        Ok(starts <= at.as_micros() && at.as_micros() < ends)
    }

    /// The local date and minute of the day (0 to 1439) at `at`.
    pub fn local(self, at: Timestamp) -> Result<(Date, i64), PayoutError> {
        day_and_minute(at, self.offset_at(at)?)
    }

    /// The instant local midnight begins `date`. Midnight never falls in a clock change
    /// under either rule, so it exists exactly once.
    pub fn midnight(self, date: Date) -> Result<Timestamp, PayoutError> {
        // The offset at midnight is the offset at the standard-time midnight, since no
        // rule changes clocks within an hour of midnight.
        let standard = Timestamp::from_micros(utc_at(
            date,
            i64::from(self.standard_offset_minutes).saturating_neg(),
        )?);
        let offset = self.offset_at(standard)?;
        Ok(Timestamp::from_micros(utc_at(
            date,
            i64::from(offset).saturating_neg(),
        )?))
    }

    /// The local day containing `at`, as the instants it starts and ends (the end is the
    /// next day's start): what a daily limit counts within.
    pub fn day_of(self, at: Timestamp) -> Result<(Timestamp, Timestamp), PayoutError> {
        let (date, _) = self.local(at)?;
        let next = date.add_days(1).ok_or(PayoutError::DateOutOfRange)?;
        Ok((self.midnight(date)?, self.midnight(next)?))
    }
}

/// The date and minute of the day of `at` on a clock `offset_minutes` from UTC.
fn day_and_minute(at: Timestamp, offset_minutes: i32) -> Result<(Date, i64), PayoutError> {
    let minutes = at
        .as_micros()
        .checked_div_euclid(MICROS_PER_MINUTE)
        .and_then(|minutes| minutes.checked_add(i64::from(offset_minutes)))
        .ok_or(PayoutError::DateOutOfRange)?;
    let day = minutes
        .checked_div_euclid(MINUTES_PER_DAY)
        .and_then(Date::from_days_since_epoch)
        .ok_or(PayoutError::DateOutOfRange)?;
    let minute = minutes
        .checked_rem_euclid(MINUTES_PER_DAY)
        .ok_or(PayoutError::DateOutOfRange)?;
    Ok((day, minute))
}

/// Microseconds since the epoch of `minutes` past UTC midnight on `date`.
fn utc_at(date: Date, minutes: i64) -> Result<i64, PayoutError> {
    date.days_since_epoch()
        .and_then(|days| days.checked_mul(MINUTES_PER_DAY))
        .and_then(|day| day.checked_add(minutes))
        .and_then(|total| total.checked_mul(MICROS_PER_MINUTE))
        .ok_or(PayoutError::DateOutOfRange)
}

/// The `n`th Sunday (1-based) of a month.
fn nth_sunday(year: i64, month: u32, n: u32) -> Result<Date, PayoutError> {
    let first = Date::new(year, month, 1).ok_or(PayoutError::DateOutOfRange)?;
    let to_first_sunday = 7_i64
        .saturating_sub(Weekday::of(first)?.sunday_index())
        .rem_euclid(7);
    let weeks = i64::from(n.saturating_sub(1)).saturating_mul(7);
    first
        .add_days(to_first_sunday.saturating_add(weeks))
        .ok_or(PayoutError::DateOutOfRange)
}

/// The last Sunday of a month.
fn last_sunday(year: i64, month: u32) -> Result<Date, PayoutError> {
    let days =
        crate::fx::calendar::days_in_month(year, month).ok_or(PayoutError::DateOutOfRange)?;
    let last = Date::new(year, month, days).ok_or(PayoutError::DateOutOfRange)?;
    last.add_days(Weekday::of(last)?.sunday_index().saturating_neg())
        .ok_or(PayoutError::DateOutOfRange)
}
