//! Business-day calendars: the holiday table, weekends, coverage and the day arithmetic.

use super::*;

const HOLIDAYS: &str = include_str!("../testdata/holidays.csv");

#[test]
fn the_calendars_give_exactly_the_holiday_table() {
    let mut expected: Vec<String> = rows(HOLIDAYS).iter().map(|row| row.join(",")).collect();
    let mut actual = Vec::new();
    for code in covered_countries() {
        let calendar = BusinessCalendar::for_country(code).unwrap();
        for year in FIRST_YEAR..=LAST_YEAR {
            for holiday in calendar.holidays(year).unwrap() {
                let flags: Vec<&str> = [
                    ("in_lieu", holiday.in_lieu),
                    ("provisional", holiday.provisional),
                ]
                .into_iter()
                .filter(|(_, on)| *on)
                .map(|(flag, _)| flag)
                .collect();
                actual.push(format!(
                    "{code},{},{},{}",
                    holiday.date,
                    holiday.name,
                    flags.join(";")
                ));
            }
        }
    }
    expected.sort();
    actual.sort();
    assert_eq!(actual, expected);
}

#[test]
fn eleven_countries_are_covered() {
    let codes: Vec<String> = covered_countries().iter().map(|c| c.to_string()).collect();
    assert_eq!(
        codes,
        [
            "DE", "FR", "NL", "GB", "US", "BR", "IN", "JP", "MX", "KW", "BH"
        ]
    );
}

#[test]
fn every_year_has_its_listed_dates() {
    let count = |code: &str, year: i64, name: &str| {
        calendar(code)
            .holidays(year)
            .unwrap()
            .iter()
            .filter(|h| h.name == name && !h.in_lieu)
            .count()
    };
    for year in FIRST_YEAR..=LAST_YEAR {
        assert_eq!(count("JP", year, "Vernal Equinox Day"), 1, "{year}");
        assert_eq!(count("JP", year, "Autumnal Equinox Day"), 1, "{year}");
        assert_eq!(count("NL", year, "King's Day"), 1, "{year}");
        for code in ["KW", "BH"] {
            assert_eq!(count(code, year, "Eid al-Fitr"), 3, "{code} {year}");
            assert_eq!(count(code, year, "Eid al-Adha"), 3, "{code} {year}");
            assert_eq!(count(code, year, "Day of Arafah"), 1, "{code} {year}");
            assert_eq!(count(code, year, "Islamic New Year"), 1, "{code} {year}");
        }
    }
}

#[test]
fn days_in_lieu_stay_in_their_year_and_on_open_weekdays() {
    for code in covered_countries() {
        let calendar = BusinessCalendar::for_country(code).unwrap();
        for year in FIRST_YEAR..=LAST_YEAR {
            for holiday in calendar.holidays(year).unwrap() {
                assert_eq!(holiday.date.year(), year, "{code} {}", holiday.date);
                if holiday.in_lieu {
                    assert!(
                        !calendar.weekend().is_weekend(holiday.date).unwrap(),
                        "{code} {}",
                        holiday.date
                    );
                }
            }
        }
    }
}

#[test]
fn moveable_holidays_fall_where_the_official_lists_put_them() {
    let closed = [
        ("DE", "2026-04-03"), // Good Friday
        ("DE", "2027-05-06"), // Ascension Day
        ("DE", "2028-06-05"), // Whit Monday
        ("GB", "2026-08-31"), // summer bank holiday
        ("GB", "2027-05-03"), // early May bank holiday
        ("US", "2026-11-26"), // Thanksgiving
        ("US", "2027-01-18"), // Martin Luther King Jr.
        ("US", "2028-05-29"), // Memorial Day
        ("US", "2028-09-04"), // Labor Day
        ("BR", "2027-02-08"), // Carnival Monday
        ("BR", "2028-02-29"), // Carnival Tuesday, a leap day
        ("BR", "2028-06-15"), // Corpus Christi
        ("MX", "2027-03-25"), // Holy Thursday
        ("MX", "2028-02-07"), // Constitution Day
        ("JP", "2026-09-22"), // citizens' holiday between two holidays
        ("JP", "2027-03-22"), // substitute for the equinox on a Sunday
        ("JP", "2028-10-09"), // Sports Day
    ];
    for (code, text) in closed {
        assert_eq!(
            is_business_day(country(code), date(text)),
            Ok(false),
            "{code} {text}"
        );
    }
    let open = [
        ("FR", "2026-04-03"), // Good Friday is not French
        ("US", "2026-07-03"), // the Fed opens before a Saturday holiday
        ("US", "2027-12-24"), // likewise before Christmas on a Saturday
        ("GB", "2026-12-29"),
        ("BR", "2026-02-18"), // Ash Wednesday: banks open at noon
        ("MX", "2027-05-03"), // Labour Day on a Saturday moves nothing
        ("KW", "2026-03-01"), // a Sunday
        ("BH", "2026-03-25"),
    ];
    for (code, text) in open {
        assert_eq!(
            is_business_day(country(code), date(text)),
            Ok(true),
            "{code} {text}"
        );
    }
}

#[test]
fn each_weekend_style_closes_its_own_days() {
    // 2026-03-09 is a Monday.
    let week: Vec<Date> = (0..7)
        .map(|d| date("2026-03-09").add_days(d).unwrap())
        .collect();
    let open = |code: &str| -> Vec<bool> {
        week.iter()
            .map(|day| calendar(code).is_business_day(*day).unwrap())
            .collect()
    };
    assert_eq!(open("DE"), [true, true, true, true, true, false, false]);
    assert_eq!(open("KW"), [true, true, true, true, false, false, true]);
    assert_eq!(open("BH"), [true, true, true, true, false, false, true]);
    // India: 14 March 2026 is the second Saturday; 7 and 21 March are open Saturdays.
    assert_eq!(open("IN"), [true, true, true, true, true, false, false]);
    for (text, expected) in [
        ("2026-03-07", true),
        ("2026-03-14", false),
        ("2026-03-21", true),
        ("2026-03-28", false),
        ("2026-05-30", true), // a fifth Saturday
    ] {
        assert_eq!(
            calendar("IN").is_business_day(date(text)),
            Ok(expected),
            "{text}"
        );
    }
}

#[test]
fn unknown_countries_and_years_are_refused_never_open() {
    let spain = country("ES");
    assert_eq!(
        is_business_day(spain, date("2026-06-01")),
        Err(PayoutError::CountryNotCovered(spain))
    );
    assert_eq!(
        BusinessCalendar::for_country(spain).unwrap_err().code(),
        "calendar_country_not_covered"
    );
    for text in ["2025-12-31", "2029-01-01", "2029-01-06"] {
        let refused = calendar("DE").is_business_day(date(text)).unwrap_err();
        assert_eq!(refused.code(), "calendar_year_not_covered", "{text}");
    }
    assert!(calendar("US").holidays(2029).is_err());
    assert_eq!(
        next_business_day_on_or_after(country("US"), date("2028-12-30"))
            .unwrap_err()
            .code(),
        "calendar_year_not_covered"
    );
}

#[test]
fn no_closure_lasts_longer_than_six_days() {
    for code in covered_countries() {
        let calendar = BusinessCalendar::for_country(code).unwrap();
        let (mut run, mut longest) = (0_u32, 0_u32);
        let mut day = date("2026-01-01");
        while day.year() <= LAST_YEAR {
            if calendar.is_business_day(day).unwrap() {
                run = 0;
            } else {
                run = run.checked_add(1).unwrap();
                longest = longest.max(run);
            }
            day = day.add_days(1).unwrap();
        }
        assert!(longest <= 6, "{code}: {longest} closed days in a row");
        assert!(longest >= 2, "{code}: no weekend");
    }
}

#[test]
fn adding_business_days_rolls_forward_first() {
    let de = calendar("DE");
    let cases = [
        ("2026-03-14", 0, "2026-03-16"), // Saturday rolls to Monday
        ("2026-03-14", 1, "2026-03-17"),
        ("2026-03-13", 0, "2026-03-13"),
        ("2026-03-13", 1, "2026-03-16"), // Friday plus one is Monday
        ("2026-04-02", 1, "2026-04-07"), // over Easter
        ("2026-12-23", 1, "2026-12-28"), // over 24 to 27 December
        ("2026-12-30", 1, "2027-01-04"), // over 31 December to 3 January
        ("2027-01-04", 20, "2027-02-01"),
    ];
    for (from, days, to) in cases {
        assert_eq!(
            add_business_days(country("DE"), date(from), days),
            Ok(date(to)),
            "{from} + {days}"
        );
        assert_eq!(de.add_business_days(date(from), days), Ok(date(to)));
    }
    assert_eq!(
        de.add_business_days(date("2026-01-05"), ADD_BUSINESS_DAYS_MAX + 1),
        Err(PayoutError::TooManyBusinessDays(ADD_BUSINESS_DAYS_MAX + 1))
    );
    // A year of German business days does not fit in the covered years from late 2028.
    assert_eq!(
        de.add_business_days(date("2028-06-01"), 250)
            .unwrap_err()
            .code(),
        "calendar_year_not_covered"
    );
}

#[test]
fn the_next_business_day_skips_long_closures() {
    let cases = [
        ("JP", "2026-12-31", "2027-01-04"),
        ("JP", "2026-05-02", "2026-05-07"),
        ("BH", "2026-03-19", "2026-03-19"),
        ("BH", "2026-03-20", "2026-03-25"),
        ("KW", "2026-05-26", "2026-05-31"),
        ("BR", "2026-02-14", "2026-02-18"),
    ];
    for (code, from, to) in cases {
        assert_eq!(
            next_business_day_on_or_after(country(code), date(from)),
            Ok(date(to)),
            "{code} {from}"
        );
    }
}

#[test]
fn target_days_close_a_sepa_calendar_further() {
    let france = calendar("FR");
    let sepa = france.with_target();
    // Good Friday and 26 December are open in France but closed for TARGET.
    for text in ["2026-04-03", "2028-12-26"] {
        assert_eq!(france.is_business_day(date(text)), Ok(true), "{text}");
        assert_eq!(sepa.is_business_day(date(text)), Ok(false), "{text}");
    }
    // French holidays stay closed.
    assert_eq!(sepa.is_business_day(date("2026-07-14")), Ok(false));
    assert_eq!(sepa.is_business_day(date("2026-07-15")), Ok(true));
}

#[test]
fn weekdays_read_and_print() {
    assert_eq!(Weekday::of(date("2026-01-01")), Ok(Weekday::Thursday));
    assert_eq!(Weekday::of(date("2028-02-29")), Ok(Weekday::Tuesday));
    for day in Weekday::ALL {
        assert_eq!(Weekday::parse(day.as_str()), Some(day));
        assert_eq!(day.to_string(), day.as_str());
    }
    assert_eq!(Weekday::parse("Monday"), None);
}
