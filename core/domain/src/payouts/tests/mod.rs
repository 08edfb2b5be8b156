//! Tests of the payout rules, one file per rule: calendars, schedules (with the golden table
//! in `testdata/schedules.csv`), bank details, rails, the payout state machine, fund release and local time.

use super::*;
use crate::Country;
use crate::fx::calendar::Date;

mod accounts;
mod bank;
mod calendar;
mod lifecycle;
mod postings;
mod rails;
mod release;
mod schedule;
mod zone;

fn date(text: &str) -> Date {
    Date::parse_iso(text).unwrap_or_else(|| panic!("bad date {text}"))
}

fn country(code: &str) -> Country {
    Country::new(code).unwrap()
}

fn calendar(code: &str) -> BusinessCalendar {
    BusinessCalendar::for_country(country(code)).unwrap()
}

/// The data rows of a test table: without blank lines, `#` comments and the header.
fn rows(table: &str) -> Vec<Vec<&str>> {
    table
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .skip(1)
        .map(|line| line.split(',').map(str::trim).collect())
        .collect()
}
