//! Calendar dates, the instant the ECB's reference rates of a date take effect, and the
//! TARGET calendar of the days the ECB publishes them.
//!
//! Written out here rather than taken from a date crate: the rules need a few conversions,
//! and what they implement (16:00 Central European Time, with the EU's summer-time dates;
//! the TARGET closing days) is easier to audit in a page than behind a time-zone database.
//!
//! The ECB publishes reference rates on TARGET working days only. TARGET (the euro area's
//! payment system) is closed on Saturdays and Sundays, New Year's Day, Good Friday, Easter
//! Monday, 1 May, 25 December and 26 December.

use std::fmt;

use bazaar_ledger::Timestamp;

const SECONDS_PER_DAY: i64 = 86_400;
const MICROS_PER_SECOND: i64 = 1_000_000;
/// 16:00 CET is 15:00 UTC.
const PUBLICATION_HOUR_UTC_WINTER: i64 = 15;
/// 16:00 CEST is 14:00 UTC.
const PUBLICATION_HOUR_UTC_SUMMER: i64 = 14;

/// The longest run of days on which TARGET is closed: Good Friday to Easter Monday.
const TARGET_CLOSED_DAYS_MAX: u32 = 4;

/// A day of the proleptic Gregorian calendar, with a four-digit year.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Date {
    year: i64,
    month: u32,
    day: u32,
}

impl Date {
    /// Reads exactly `YYYY-MM-DD`, the form the ECB writes in `time` attributes; refuses
    /// anything else, including days that do not exist (`2023-02-29`).
    pub fn parse_iso(text: &str) -> Option<Self> {
        let (year, rest) = text.split_once('-')?;
        let (month, day) = rest.split_once('-')?;
        if year.len() != 4 || month.len() != 2 || day.len() != 2 {
            return None;
        }
        Self::new(i64::from(digits(year)?), digits(month)?, digits(day)?)
    }

    /// The date with these parts; `None` for a day that does not exist (`2023-02-29`).
    pub fn new(year: i64, month: u32, day: u32) -> Option<Self> {
        let valid_day = (1..=days_in_month(year, month)?).contains(&day);
        valid_day.then_some(Self { year, month, day })
    }

    /// The year, e.g. `2024`.
    pub fn year(self) -> i64 {
        self.year
    }

    /// 1 to 12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// 1 to 31.
    pub fn day(self) -> u32 {
        self.day
    }

    /// Days since 1970-01-01 (negative before it).
    ///
    /// Howard Hinnant's `days_from_civil`: count from a year that starts on 1 March, so the
    /// leap day is the last day of its year and the month lengths follow a fixed pattern.
    pub fn days_since_epoch(self) -> Option<i64> {
        let month = i64::from(self.month);
        let year = if month <= 2 {
            self.year.checked_sub(1)?
        } else {
            self.year
        };
        let era = year.checked_div_euclid(400)?;
        let year_of_era = year.checked_rem_euclid(400)?;
        let month_from_march = if month > 2 {
            month.checked_sub(3)?
        } else {
            month.checked_add(9)?
        };
        let day_of_year = month_from_march
            .checked_mul(153)?
            .checked_add(2)?
            .checked_div(5)?
            .checked_add(i64::from(self.day))?
            .checked_sub(1)?;
        let day_of_era = year_of_era
            .checked_mul(365)?
            .checked_add(year_of_era.checked_div(4)?)?
            .checked_sub(year_of_era.checked_div(100)?)?
            .checked_add(day_of_year)?;
        era.checked_mul(146_097)?
            .checked_add(day_of_era)?
            .checked_sub(719_468)
    }

    /// The day `days` days after 1970-01-01 (before it when negative).
    ///
    /// Howard Hinnant's `civil_from_days`, the inverse of [`Self::days_since_epoch`].
    pub fn from_days_since_epoch(days: i64) -> Option<Self> {
        let shifted = days.checked_add(719_468)?;
        let era = shifted.checked_div_euclid(146_097)?;
        let day_of_era = shifted.checked_rem_euclid(146_097)?;
        let year_of_era = day_of_era
            .checked_sub(day_of_era.checked_div(1_460)?)?
            .checked_add(day_of_era.checked_div(36_524)?)?
            .checked_sub(day_of_era.checked_div(146_096)?)?
            .checked_div(365)?;
        let day_of_year = day_of_era.checked_sub(
            year_of_era
                .checked_mul(365)?
                .checked_add(year_of_era.checked_div(4)?)?
                .checked_sub(year_of_era.checked_div(100)?)?,
        )?;
        let month_from_march = day_of_year
            .checked_mul(5)?
            .checked_add(2)?
            .checked_div(153)?;
        let day = day_of_year
            .checked_sub(
                month_from_march
                    .checked_mul(153)?
                    .checked_add(2)?
                    .checked_div(5)?,
            )?
            .checked_add(1)?;
        let month = if month_from_march < 10 {
            month_from_march.checked_add(3)?
        } else {
            month_from_march.checked_sub(9)?
        };
        let year = era
            .checked_mul(400)?
            .checked_add(year_of_era)?
            .checked_add(i64::from(month <= 2))?;
        Some(Self {
            year,
            month: u32::try_from(month).ok()?,
            day: u32::try_from(day).ok()?,
        })
    }

    /// The UTC date of an instant.
    pub fn of_instant(at: Timestamp) -> Option<Self> {
        let micros_per_day = SECONDS_PER_DAY.checked_mul(MICROS_PER_SECOND)?;
        Self::from_days_since_epoch(at.as_micros().checked_div_euclid(micros_per_day)?)
    }

    /// The day `days` days later (earlier when negative).
    pub fn add_days(self, days: i64) -> Option<Self> {
        Self::from_days_since_epoch(self.days_since_epoch()?.checked_add(days)?)
    }

    /// Day of the week, 0 for Sunday to 6 for Saturday.
    pub fn weekday(self) -> Option<i64> {
        // 1970-01-01 was a Thursday.
        Some(self.days_since_epoch()?.checked_add(4)?.rem_euclid(7))
    }

    /// Whether TARGET is open, so that the ECB publishes reference rates for this date.
    pub fn is_target_working_day(self) -> Option<bool> {
        if matches!(self.weekday()?, 0 | 6) {
            return Some(false);
        }
        let fixed_holiday = matches!(
            (self.month, self.day),
            (1, 1) | (5, 1) | (12, 25) | (12, 26)
        );
        let easter = easter_sunday(self.year)?;
        let easter_holiday = self == easter.add_days(-2)? || self == easter.add_days(1)?;
        Some(!fixed_holiday && !easter_holiday)
    }

    /// The first TARGET working day after this date.
    pub fn next_target_working_day(self) -> Option<Self> {
        let mut day = self;
        // A weekend joined to a holiday closes TARGET for at most four days in a row.
        for _ in 0..=TARGET_CLOSED_DAYS_MAX {
            day = day.add_days(1)?;
            if day.is_target_working_day()? {
                return Some(day);
            }
        }
        None
    }

    /// Whether 16:00 local time on this date falls in Central European Summer Time.
    ///
    /// Since 1996 the EU changes clocks at 01:00 UTC on the last Sunday of March and of
    /// October; by 16:00 on either Sunday the change has happened, so the last Sunday of
    /// March is a summer day and the last Sunday of October a winter day.
    fn is_summer_time(self) -> Option<bool> {
        let starts = last_sunday(self.year, 3)?;
        let ends = last_sunday(self.year, 10)?;
        Some(starts <= self && self < ends)
    }

    /// 16:00 Central European Time on this date, in UTC: 15:00 UTC in winter (CET, UTC+1)
    /// and 14:00 UTC in summer (CEST, UTC+2).
    pub fn ecb_publication_time(self) -> Option<Timestamp> {
        let hour = if self.is_summer_time()? {
            PUBLICATION_HOUR_UTC_SUMMER
        } else {
            PUBLICATION_HOUR_UTC_WINTER
        };
        let seconds = self
            .days_since_epoch()?
            .checked_mul(SECONDS_PER_DAY)?
            .checked_add(hour.checked_mul(3_600)?)?;
        Some(Timestamp::from_micros(
            seconds.checked_mul(MICROS_PER_SECOND)?,
        ))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The last Sunday of `month` in `year`.
fn last_sunday(year: i64, month: u32) -> Option<Date> {
    let last = Date {
        year,
        month,
        day: days_in_month(year, month)?,
    };
    let back = u32::try_from(last.weekday()?).ok()?;
    Some(Date {
        day: last.day.checked_sub(back)?,
        ..last
    })
}

/// Easter Sunday of `year` in the Gregorian calendar: the anonymous algorithm published in
/// Nature in 1876 (Meeus, Jones, Butcher).
pub(crate) fn easter_sunday(year: i64) -> Option<Date> {
    let a = year.checked_rem_euclid(19)?;
    let b = year.checked_div_euclid(100)?;
    let c = year.checked_rem_euclid(100)?;
    let d = b.checked_div(4)?;
    let e = b.checked_rem(4)?;
    let f = b.checked_add(8)?.checked_div(25)?;
    let g = b.checked_sub(f)?.checked_add(1)?.checked_div(3)?;
    let h = a
        .checked_mul(19)?
        .checked_add(b)?
        .checked_sub(d)?
        .checked_sub(g)?
        .checked_add(15)?
        .checked_rem_euclid(30)?;
    let i = c.checked_div(4)?;
    let k = c.checked_rem(4)?;
    let l = e
        .checked_mul(2)?
        .checked_add(i.checked_mul(2)?)?
        .checked_add(32)?
        .checked_sub(h)?
        .checked_sub(k)?
        .checked_rem_euclid(7)?;
    let m = a
        .checked_add(h.checked_mul(11)?)?
        .checked_add(l.checked_mul(22)?)?
        .checked_div(451)?;
    let n = h
        .checked_add(l)?
        .checked_sub(m.checked_mul(7)?)?
        .checked_add(114)?;
    Some(Date {
        year,
        month: u32::try_from(n.checked_div(31)?).ok()?,
        day: u32::try_from(n.checked_rem(31)?.checked_add(1)?).ok()?,
    })
}

/// The number of days in `month` of `year`; `None` for a month outside 1 to 12.
pub(crate) fn days_in_month(year: i64, month: u32) -> Option<u32> {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => Some(31),
        4 | 6 | 9 | 11 => Some(30),
        2 if is_leap_year(year) => Some(29),
        2 => Some(28),
        _ => None,
    }
}

fn is_leap_year(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

/// Decimal digits only: no sign, no spaces (which `str::parse` would partly accept).
fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> Date {
        Date::parse_iso(text).unwrap()
    }

    fn utc_micros(text: &str, hour: i64) -> i64 {
        let days = date(text).days_since_epoch().unwrap();
        days.checked_mul(SECONDS_PER_DAY)
            .and_then(|s| s.checked_add(hour.checked_mul(3_600)?))
            .and_then(|s| s.checked_mul(MICROS_PER_SECOND))
            .unwrap()
    }

    #[test]
    fn days_since_epoch_match_known_dates() {
        assert_eq!(date("1970-01-01").days_since_epoch(), Some(0));
        assert_eq!(date("1969-12-31").days_since_epoch(), Some(-1));
        assert_eq!(date("1999-01-04").days_since_epoch(), Some(10_595));
        assert_eq!(date("2000-02-29").days_since_epoch(), Some(11_016));
        assert_eq!(date("2000-03-01").days_since_epoch(), Some(11_017));
        assert_eq!(date("2022-07-18").days_since_epoch(), Some(19_191));
        assert_eq!(date("2024-12-31").days_since_epoch(), Some(20_088));
    }

    #[test]
    fn only_real_dates_in_the_exact_form_are_read() {
        for bad in [
            "",
            "2022-7-18",
            "22-07-18",
            "2022/07/18",
            "2022-07-18T00",
            "2022-13-01",
            "2022-00-10",
            "2022-04-31",
            "2023-02-29",
            "1900-02-29",
            "+022-07-18",
            "2022-07-1a",
            "2022-07-00",
            "２０22-07-18",
        ] {
            assert_eq!(Date::parse_iso(bad), None, "{bad:?}");
        }
        assert!(Date::parse_iso("2024-02-29").is_some());
        assert!(Date::parse_iso("2000-02-29").is_some());
        assert_eq!(date("2022-07-18").to_string(), "2022-07-18");
    }

    #[test]
    fn last_sundays_follow_the_calendar() {
        assert_eq!(last_sunday(2024, 3), Some(date("2024-03-31")));
        assert_eq!(last_sunday(2024, 10), Some(date("2024-10-27")));
        assert_eq!(last_sunday(2022, 3), Some(date("2022-03-27")));
        assert_eq!(last_sunday(2022, 10), Some(date("2022-10-30")));
        assert_eq!(last_sunday(2025, 3), Some(date("2025-03-30")));
        assert_eq!(last_sunday(2025, 10), Some(date("2025-10-26")));
    }

    #[test]
    fn days_and_instants_convert_both_ways() {
        for text in [
            "1969-12-31",
            "1970-01-01",
            "2000-02-29",
            "2000-03-01",
            "2022-07-18",
            "2024-12-31",
            "2100-03-01",
        ] {
            let day = date(text);
            let days = day.days_since_epoch().unwrap();
            assert_eq!(Date::from_days_since_epoch(days), Some(day), "{text}");
            let noon = Timestamp::from_micros(utc_micros(text, 12));
            assert_eq!(Date::of_instant(noon), Some(day), "{text}");
            let midnight = Timestamp::from_micros(utc_micros(text, 0));
            assert_eq!(Date::of_instant(midnight), Some(day), "{text}");
        }
        for days in -200_000..200_000_i64 {
            let day = Date::from_days_since_epoch(days).unwrap();
            assert_eq!(day.days_since_epoch(), Some(days));
        }
        assert_eq!(date("2024-02-28").add_days(1), Some(date("2024-02-29")));
        assert_eq!(date("2024-03-01").add_days(-1), Some(date("2024-02-29")));
        assert_eq!(date("2024-12-31").add_days(1), Some(date("2025-01-01")));
    }

    #[test]
    fn easter_falls_on_its_published_dates() {
        let cases = [
            (1961, "1961-04-02"),
            (2000, "2000-04-23"),
            (2008, "2008-03-23"),
            (2011, "2011-04-24"),
            (2019, "2019-04-21"),
            (2022, "2022-04-17"),
            (2024, "2024-03-31"),
            (2025, "2025-04-20"),
            (2026, "2026-04-05"),
            (2038, "2038-04-25"),
        ];
        for (year, text) in cases {
            assert_eq!(easter_sunday(year), Some(date(text)), "{year}");
        }
    }

    #[test]
    fn target_closes_on_weekends_and_its_six_holidays() {
        let closed = [
            "2022-07-16", // Saturday
            "2022-07-17", // Sunday
            "2025-01-01",
            "2025-04-18", // Good Friday
            "2025-04-21", // Easter Monday
            "2025-05-01",
            "2025-12-25",
            "2025-12-26",
            "2024-03-29", // Good Friday
            "2024-04-01", // Easter Monday
        ];
        for text in closed {
            assert_eq!(date(text).is_target_working_day(), Some(false), "{text}");
        }
        let open = [
            "2022-07-18",
            "2025-01-02",
            "2025-04-17",
            "2025-04-22",
            "2025-05-02",
            "2025-12-24",
            "2025-12-31",
            "2024-10-03", // German unity day: TARGET stays open
        ];
        for text in open {
            assert_eq!(date(text).is_target_working_day(), Some(true), "{text}");
        }
    }

    #[test]
    fn the_next_working_day_skips_weekends_and_holidays() {
        let cases = [
            ("2022-07-18", "2022-07-19"),
            ("2022-07-15", "2022-07-18"), // Friday to Monday
            ("2022-07-16", "2022-07-18"),
            ("2025-04-17", "2025-04-22"), // over Good Friday, the weekend and Easter Monday
            ("2025-12-24", "2025-12-29"), // over Christmas, 26 December and the weekend
            ("2025-12-31", "2026-01-02"),
            ("2025-04-30", "2025-05-02"),
        ];
        for (from, to) in cases {
            assert_eq!(
                date(from).next_target_working_day(),
                Some(date(to)),
                "{from}"
            );
        }
    }

    #[test]
    fn publication_is_four_pm_in_frankfurt() {
        let cases = [
            // Winter: CET, UTC+1.
            ("2024-01-15", 15),
            ("2024-03-29", 15),
            ("2024-03-30", 15),
            // The clocks go forward on Sunday 31 March 2024 at 01:00 UTC.
            ("2024-03-31", 14),
            ("2024-04-02", 14),
            ("2022-07-18", 14),
            ("2024-10-25", 14),
            ("2024-10-26", 14),
            // The clocks go back on Sunday 27 October 2024 at 01:00 UTC.
            ("2024-10-27", 15),
            ("2024-10-28", 15),
            ("2024-12-31", 15),
        ];
        for (text, hour) in cases {
            assert_eq!(
                date(text).ecb_publication_time(),
                Some(Timestamp::from_micros(utc_micros(text, hour))),
                "{text}"
            );
        }
        assert_eq!(
            date("2022-07-18").ecb_publication_time(),
            Some(Timestamp::from_micros(1_658_152_800_000_000))
        );
    }
}
