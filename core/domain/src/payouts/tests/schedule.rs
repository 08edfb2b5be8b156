//! Payout schedules: the golden table, validation, due dates and the minimum.

use bazaar_money::{Currency, Money};
use proptest::prelude::*;

use super::*;

const SCHEDULES: &str = include_str!("../testdata/schedules.csv");

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

/// What the table's `expected` column says for one row.
fn outcome(row: &[&str]) -> String {
    let [code, interval, delay, from, ..] = row else {
        panic!("short row {row:?}");
    };
    let delay: u32 = delay.parse().unwrap();
    let schedule = Interval::parse(interval)
        .and_then(|interval| PayoutSchedule::new(interval, delay, eur(0), Currency::EUR));
    let answer = schedule.and_then(|schedule| {
        let calendar = BusinessCalendar::for_country(country(code))?;
        schedule.next_payout_for_funds(&calendar, date(from))
    });
    match answer {
        Ok(Some(day)) => day.to_string(),
        Ok(None) => "none".to_owned(),
        Err(error) => format!("error:{}", error.code()),
    }
}

#[test]
fn the_golden_table_holds() {
    let rows = rows(SCHEDULES);
    assert!(rows.len() >= 60, "only {} cases", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let [.., expected, note] = row.as_slice() else {
            panic!("short row {row:?}");
        };
        let actual = outcome(row);
        if actual != *expected {
            failures.push(format!("{row:?}: got {actual} ({note})"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_golden_table_covers_every_country_and_interval() {
    let rows = rows(SCHEDULES);
    for code in covered_countries() {
        assert!(
            rows.iter().any(|row| row.first() == Some(&code.as_str())),
            "{code}"
        );
    }
    for prefix in ["manual", "daily", "weekly:", "monthly:"] {
        assert!(
            rows.iter()
                .any(|row| row.get(1).is_some_and(|s| s.starts_with(prefix))),
            "{prefix}"
        );
    }
}

#[test]
fn schedules_are_validated() {
    let new =
        |interval, delay, minimum| PayoutSchedule::new(interval, delay, minimum, Currency::EUR);
    assert_eq!(
        new(Interval::Monthly { anchor_day: 0 }, 0, eur(0)),
        Err(PayoutError::InvalidAnchorDay(0))
    );
    assert_eq!(
        new(Interval::Monthly { anchor_day: 32 }, 0, eur(0)),
        Err(PayoutError::InvalidAnchorDay(32))
    );
    assert_eq!(
        new(Interval::Daily, DELAY_DAYS_MAX + 1, eur(0)),
        Err(PayoutError::DelayTooLong(DELAY_DAYS_MAX + 1))
    );
    assert_eq!(
        new(Interval::Daily, 0, eur(-1)),
        Err(PayoutError::NegativeMinimum)
    );
    assert_eq!(
        new(Interval::Daily, 0, Money::from_minor(100, Currency::USD)),
        Err(PayoutError::CurrencyMismatch {
            expected: Currency::EUR,
            found: Currency::USD
        })
    );
    let ok = new(
        Interval::Monthly { anchor_day: 31 },
        DELAY_DAYS_MAX,
        eur(2_500),
    )
    .unwrap();
    assert_eq!(ok.delay_days(), DELAY_DAYS_MAX);
    assert_eq!(ok.minimum(), eur(2_500));
    assert_eq!(ok.currency(), Currency::EUR);
    assert_eq!(ok.interval(), Interval::Monthly { anchor_day: 31 });
}

#[test]
fn intervals_read_and_print() {
    for text in [
        "manual",
        "daily",
        "weekly:friday",
        "monthly:1",
        "monthly:31",
    ] {
        assert_eq!(Interval::parse(text).unwrap().to_string(), text);
    }
    for (text, code) in [
        ("weekly:fri", "invalid_schedule"),
        ("monthly:", "invalid_schedule"),
        ("monthly:+1", "invalid_schedule"),
        ("monthly:100", "invalid_schedule"),
        ("monthly:32", "invalid_anchor_day"),
        ("Daily", "invalid_schedule"),
        ("daily:1", "invalid_schedule"),
        ("", "invalid_schedule"),
    ] {
        assert_eq!(Interval::parse(text).unwrap_err().code(), code, "{text:?}");
    }
}

#[test]
fn the_minimum_is_checked_in_its_currency() {
    let schedule = PayoutSchedule::new(Interval::Daily, 2, eur(1_000), Currency::EUR).unwrap();
    assert_eq!(schedule.meets_minimum(eur(999)), Ok(false));
    assert_eq!(schedule.meets_minimum(eur(1_000)), Ok(true));
    assert_eq!(schedule.meets_minimum(eur(250_000)), Ok(true));
    assert_eq!(
        schedule
            .meets_minimum(Money::from_minor(5_000, Currency::GBP))
            .unwrap_err()
            .code(),
        "currency_mismatch"
    );
    let no_minimum = PayoutSchedule::new(Interval::Daily, 0, eur(0), Currency::EUR).unwrap();
    assert_eq!(no_minimum.meets_minimum(eur(0)), Ok(false));
    assert_eq!(no_minimum.meets_minimum(eur(-5)), Ok(false));
    assert_eq!(no_minimum.meets_minimum(eur(1)), Ok(true));
}

#[test]
fn manual_schedules_are_never_due() {
    let manual = PayoutSchedule::new(Interval::Manual, 0, eur(0), Currency::EUR).unwrap();
    let de = calendar("DE");
    assert_eq!(manual.is_due(&de, date("2026-06-01")), Ok(false));
    assert_eq!(
        manual.next_payout_on_or_after(&de, date("2026-06-01")),
        Ok(None)
    );
}

#[test]
fn a_weekly_payout_runs_once_per_anchor_week() {
    // Friday anchors in Kuwait always move to Sunday; in Germany they stay on Friday, except
    // Good Friday 2026, which moves to the Tuesday after Easter Monday.
    let friday = Interval::Weekly {
        anchor: Weekday::Friday,
    };
    let schedule = PayoutSchedule::new(friday, 0, eur(0), Currency::EUR).unwrap();
    let due_days = |code: &str, from: &str, days: i64| -> Vec<String> {
        let calendar = calendar(code);
        (0..days)
            .map(|d| date(from).add_days(d).unwrap())
            .filter(|day| schedule.is_due(&calendar, *day).unwrap())
            .map(|day| day.to_string())
            .collect()
    };
    assert_eq!(
        due_days("KW", "2026-04-05", 14),
        ["2026-04-05", "2026-04-12"]
    );
    assert_eq!(
        due_days("DE", "2026-03-23", 21),
        ["2026-03-27", "2026-04-07", "2026-04-10"]
    );
}

fn any_interval() -> impl Strategy<Value = Interval> {
    prop_oneof![
        Just(Interval::Daily),
        (0..7_usize).prop_map(|i| Interval::Weekly {
            anchor: Weekday::ALL[i]
        }),
        (1..=31_u32).prop_map(|anchor_day| Interval::Monthly { anchor_day }),
    ]
}

proptest! {
    /// The next payout is a business day on which the schedule is due, and no day between
    /// the start and it is due.
    #[test]
    fn the_next_payout_is_the_first_due_business_day(
        interval in any_interval(),
        code in prop::sample::select(vec!["DE", "GB", "US", "BR", "IN", "JP", "KW", "BH"]),
        offset in 10..1_000_i64,
    ) {
        let calendar = calendar(code);
        let from = date("2026-01-01").add_days(offset).unwrap();
        let schedule = PayoutSchedule::new(interval, 0, eur(0), Currency::EUR).unwrap();
        let next = schedule.next_payout_on_or_after(&calendar, from).unwrap().unwrap();
        prop_assert!(calendar.is_business_day(next).unwrap());
        prop_assert!(schedule.is_due(&calendar, next).unwrap());
        let mut day = from;
        while day < next {
            prop_assert!(!schedule.is_due(&calendar, day).unwrap(), "{} due before {}", day, next);
            day = day.add_days(1).unwrap();
        }
    }
}
