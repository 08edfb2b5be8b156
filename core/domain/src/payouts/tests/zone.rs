//! Local time: summer-time changes, local midnights and daily windows.

use bazaar_ledger::Timestamp;

use super::*;

/// The instant of `text` (`YYYY-MM-DD`) at `hour`:`minute` UTC.
#[expect(clippy::arithmetic_side_effects, reason = "small test instants")]
fn utc(text: &str, hour: i64, minute: i64) -> Timestamp {
    let days = date(text).days_since_epoch().unwrap();
    Timestamp::from_micros((days * 1_440 + hour * 60 + minute) * 60_000_000)
}

fn zone(code: &str) -> Zone {
    Zone::of_country(country(code)).unwrap()
}

#[test]
fn eu_clocks_change_at_one_utc_on_the_last_sundays_of_march_and_october() {
    let berlin = zone("DE");
    // 2026: 29 March and 25 October.
    assert_eq!(berlin.offset_at(utc("2026-03-29", 0, 59)).unwrap(), 60);
    assert_eq!(berlin.offset_at(utc("2026-03-29", 1, 0)).unwrap(), 120);
    assert_eq!(berlin.offset_at(utc("2026-10-25", 0, 59)).unwrap(), 120);
    assert_eq!(berlin.offset_at(utc("2026-10-25", 1, 0)).unwrap(), 60);
    let london = zone("GB");
    assert_eq!(london.offset_at(utc("2027-03-28", 1, 0)).unwrap(), 60);
    assert_eq!(london.offset_at(utc("2027-01-15", 12, 0)).unwrap(), 0);
}

#[test]
fn us_clocks_change_at_two_local_on_the_second_sunday_of_march_and_first_of_november() {
    let new_york = zone("US");
    // 2026: 8 March at 07:00 UTC (02:00 EST), 1 November at 06:00 UTC (02:00 EDT).
    assert_eq!(new_york.offset_at(utc("2026-03-08", 6, 59)).unwrap(), -300);
    assert_eq!(new_york.offset_at(utc("2026-03-08", 7, 0)).unwrap(), -240);
    assert_eq!(new_york.offset_at(utc("2026-11-01", 5, 59)).unwrap(), -240);
    assert_eq!(new_york.offset_at(utc("2026-11-01", 6, 0)).unwrap(), -300);
    // 2028: 12 March and 5 November.
    assert_eq!(new_york.offset_at(utc("2028-03-12", 7, 0)).unwrap(), -240);
    assert_eq!(new_york.offset_at(utc("2028-11-05", 6, 0)).unwrap(), -300);
}

#[test]
fn zones_without_summer_time_keep_their_offset() {
    for (code, offset) in [("JP", 540), ("IN", 330), ("BR", -180), ("KW", 180)] {
        for at in [utc("2026-01-10", 3, 0), utc("2026-07-10", 3, 0)] {
            assert_eq!(zone(code).offset_at(at).unwrap(), offset, "{code}");
        }
    }
    assert!(Zone::of_country(country("ZZ")).is_err());
}

#[test]
fn a_local_day_runs_from_local_midnight_to_local_midnight() {
    // Tokyo: 2026-06-01 starts at 2026-05-31 15:00 UTC.
    let (start, end) = zone("JP").day_of(utc("2026-06-01", 3, 0)).unwrap();
    assert_eq!(start, utc("2026-05-31", 15, 0));
    assert_eq!(end, utc("2026-06-01", 15, 0));
    // New York in summer: midnight is 04:00 UTC; 03:59 UTC is still the day before.
    let (start, _) = zone("US").day_of(utc("2026-07-02", 3, 59)).unwrap();
    assert_eq!(start, utc("2026-07-01", 4, 0));
    // The day the clocks go forward in Berlin has 23 hours, the day they go back 25.
    let (start, end) = zone("DE").day_of(utc("2026-03-29", 12, 0)).unwrap();
    assert_eq!(
        (start, end),
        (utc("2026-03-28", 23, 0), utc("2026-03-29", 22, 0))
    );
    let (start, end) = zone("DE").day_of(utc("2026-10-25", 12, 0)).unwrap();
    assert_eq!(
        (start, end),
        (utc("2026-10-24", 22, 0), utc("2026-10-25", 23, 0))
    );
}

#[test]
fn local_dates_and_minutes_follow_the_clock() {
    let (day, minute) = zone("US").local(utc("2026-01-05", 21, 30)).unwrap();
    assert_eq!((day, minute), (date("2026-01-05"), 16 * 60 + 30));
    let (day, minute) = zone("IN").local(utc("2026-01-05", 18, 45)).unwrap();
    assert_eq!((day, minute), (date("2026-01-06"), 15));
}
