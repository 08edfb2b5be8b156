//! Calendar dates, and the instant the ECB's reference rates of a date take effect.
//!
//! Written out here rather than taken from a date crate: the crate needs one conversion, and
//! the rule it implements (16:00 Central European Time, with the EU's summer-time dates) is
//! easier to audit in forty lines than behind a time-zone database.

use std::fmt;

use bazaar_ledger::Timestamp;

const SECONDS_PER_DAY: i64 = 86_400;
const MICROS_PER_SECOND: i64 = 1_000_000;
/// 16:00 CET is 15:00 UTC.
const PUBLICATION_HOUR_UTC_WINTER: i64 = 15;
/// 16:00 CEST is 14:00 UTC.
const PUBLICATION_HOUR_UTC_SUMMER: i64 = 14;

/// A day of the proleptic Gregorian calendar, with a four-digit year.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct Date {
    year: i64,
    month: u32,
    day: u32,
}

impl Date {
    /// Reads exactly `YYYY-MM-DD`, the form the ECB writes in `time` attributes; refuses
    /// anything else, including days that do not exist (`2023-02-29`).
    pub(crate) fn parse_iso(text: &str) -> Option<Self> {
        let (year, rest) = text.split_once('-')?;
        let (month, day) = rest.split_once('-')?;
        if year.len() != 4 || month.len() != 2 || day.len() != 2 {
            return None;
        }
        let date = Self {
            year: i64::from(digits(year)?),
            month: digits(month)?,
            day: digits(day)?,
        };
        let valid_day = (1..=days_in_month(date.year, date.month)?).contains(&date.day);
        valid_day.then_some(date)
    }

    /// Days since 1970-01-01 (negative before it).
    ///
    /// Howard Hinnant's `days_from_civil`: count from a year that starts on 1 March, so the
    /// leap day is the last day of its year and the month lengths follow a fixed pattern.
    fn days_since_epoch(self) -> Option<i64> {
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
    pub(crate) fn ecb_publication_time(self) -> Option<Timestamp> {
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
    // 1970-01-01 was a Thursday: weekday 4 when Sunday is 0.
    let weekday = last.days_since_epoch()?.checked_add(4)?.rem_euclid(7);
    let back = u32::try_from(weekday).ok()?;
    Some(Date {
        day: last.day.checked_sub(back)?,
        ..last
    })
}

fn days_in_month(year: i64, month: u32) -> Option<u32> {
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
