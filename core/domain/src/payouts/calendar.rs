//! Business-day calendars per country: the weekdays on which banks close, and the holidays on
//! which they close too, with the rules that move a holiday off a weekend.
//!
//! The holidays are data ([`holidays`](super::holidays) lists them, with their sources); this
//! file turns the data into answers. A calendar answers only for the countries it lists and
//! for the years [`FIRST_YEAR`] to [`LAST_YEAR`]: any other country or year is refused with a
//! typed error ([`PayoutError::CountryNotCovered`], [`PayoutError::YearNotCovered`]), never
//! taken for a business day.
//!
//! Days are civil dates ([`Date`]) in the country's own time zone; turning an instant into
//! such a date is the caller's business (see [`Rail::expected_arrival`](super::Rail)).

use std::fmt;

use super::PayoutError;
use super::holidays::{COUNTRIES, CountryData, Observance, Rule, When};
use crate::Country;
use crate::fx::calendar::{Date, days_in_month, easter_sunday};

/// The first year every calendar covers.
pub const FIRST_YEAR: i64 = 2026;
/// The last year every calendar covers.
pub const LAST_YEAR: i64 = 2028;
/// The most business days [`BusinessCalendar::add_business_days`] adds in one call (a year's
/// worth and then some); more is refused rather than looped over.
pub const ADD_BUSINESS_DAYS_MAX: u32 = 366;
/// The longest run of days without a business day that any search looks through. The longest
/// run in the covered data is six days (Bahrain's Day of Arafah and Eid al-Adha with the
/// weekend and a day in lieu); a run longer than this means the data is wrong, and the search
/// stops with [`PayoutError::NoBusinessDay`].
pub const CLOSED_RUN_MAX: u32 = 31;

/// A day of the week.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl Weekday {
    /// Every day of the week, Monday first.
    pub const ALL: [Self; 7] = [
        Self::Monday,
        Self::Tuesday,
        Self::Wednesday,
        Self::Thursday,
        Self::Friday,
        Self::Saturday,
        Self::Sunday,
    ];

    /// The day of the week `date` falls on.
    pub fn of(date: Date) -> Result<Self, PayoutError> {
        let index = date.weekday().ok_or(PayoutError::DateOutOfRange)?;
        Self::from_sunday_index(index).ok_or(PayoutError::DateOutOfRange)
    }

    /// The stored name: `monday` to `sunday`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monday => "monday",
            Self::Tuesday => "tuesday",
            Self::Wednesday => "wednesday",
            Self::Thursday => "thursday",
            Self::Friday => "friday",
            Self::Saturday => "saturday",
            Self::Sunday => "sunday",
        }
    }

    /// The day [`as_str`](Self::as_str) names; `None` for any other text.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|day| day.as_str() == name)
    }

    /// 0 for Sunday to 6 for Saturday, the numbering of [`Date::weekday`].
    pub(crate) fn sunday_index(self) -> i64 {
        match self {
            Self::Sunday => 0,
            Self::Monday => 1,
            Self::Tuesday => 2,
            Self::Wednesday => 3,
            Self::Thursday => 4,
            Self::Friday => 5,
            Self::Saturday => 6,
        }
    }

    fn from_sunday_index(index: i64) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|day| day.sunday_index() == index)
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The weekdays on which a country's banks close every week.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Weekend {
    /// Saturday and Sunday: most of Europe and the Americas, and Japan.
    SaturdaySunday,
    /// Friday and Saturday: Kuwait and Bahrain.
    FridaySaturday,
    /// Every Sunday and the second and fourth Saturday of each month: India, where banks open
    /// on the first, third and fifth Saturdays.
    SundayAndSecondFourthSaturday,
}

impl Weekend {
    /// Whether banks close on `date` because of its day of the week.
    pub fn is_weekend(self, date: Date) -> Result<bool, PayoutError> {
        let day = Weekday::of(date)?;
        Ok(match self {
            Self::SaturdaySunday => matches!(day, Weekday::Saturday | Weekday::Sunday),
            Self::FridaySaturday => matches!(day, Weekday::Friday | Weekday::Saturday),
            Self::SundayAndSecondFourthSaturday => {
                day == Weekday::Sunday
                    || (day == Weekday::Saturday && matches!(date.day(), 8..=14 | 22..=28))
            }
        })
    }
}

/// A day on which a country's banks close although it is not a weekend day.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Holiday {
    /// The day.
    pub date: Date,
    /// Its name in English, e.g. `Easter Monday`; a day given in lieu carries the name of
    /// the holiday it replaces.
    pub name: &'static str,
    /// Whether the day is given in lieu of a holiday that fell on a weekend day (or, in
    /// Japan, on a Sunday or between two holidays).
    pub in_lieu: bool,
    /// Whether the date is expected rather than announced: Islamic holidays depend on the
    /// sighting of the moon and are fixed by the government shortly before, and a few
    /// astronomical dates are published a year ahead. Such dates must be checked against the
    /// announcement and the data updated when it differs.
    pub provisional: bool,
}

/// A holiday as it is being worked out: with the rule's flags the in-lieu rules need.
#[derive(Clone, Copy, Debug)]
struct Entry {
    date: Date,
    name: &'static str,
    observance: Observance,
    public: bool,
    in_lieu: bool,
    provisional: bool,
}

impl Entry {
    fn from_rule(rule: &Rule, date: Date) -> Self {
        Self {
            date,
            name: rule.name,
            observance: rule.observance,
            public: rule.public,
            in_lieu: false,
            provisional: rule.provisional,
        }
    }

    fn in_lieu_on(self, date: Date) -> Self {
        Self {
            date,
            observance: Observance::OnTheDay,
            in_lieu: true,
            ..self
        }
    }
}

/// One country's business days: its weekend and its holidays, for the covered years.
#[derive(Clone, Copy, Debug)]
pub struct BusinessCalendar {
    country: Country,
    data: &'static CountryData,
    target: bool,
}

impl BusinessCalendar {
    /// The calendar of `country`; [`PayoutError::CountryNotCovered`] when there is none.
    pub fn for_country(country: Country) -> Result<Self, PayoutError> {
        let data = COUNTRIES
            .iter()
            .find(|data| data.code == country.as_str())
            .ok_or(PayoutError::CountryNotCovered(country))?;
        Ok(Self {
            country,
            data,
            target: false,
        })
    }

    /// The same calendar, closed also on the days TARGET (the euro area's settlement system)
    /// is closed: what a SEPA credit transfer needs, since it settles only on TARGET days.
    pub fn with_target(self) -> Self {
        Self {
            target: true,
            ..self
        }
    }

    /// The country whose calendar this is.
    pub fn country(&self) -> Country {
        self.country
    }

    /// The country's weekend.
    pub fn weekend(&self) -> Weekend {
        self.data.weekend
    }

    /// Whether `year` is covered.
    pub fn covers(&self, year: i64) -> bool {
        (FIRST_YEAR..=LAST_YEAR).contains(&year)
    }

    fn check_year(&self, year: i64) -> Result<(), PayoutError> {
        if self.covers(year) {
            Ok(())
        } else {
            Err(PayoutError::YearNotCovered {
                country: self.country,
                year,
            })
        }
    }

    /// The holidays of `year`, by date (a day named by two holidays appears twice), days in
    /// lieu included; TARGET closing days are not holidays of the country and are not listed.
    pub fn holidays(&self, year: i64) -> Result<Vec<Holiday>, PayoutError> {
        self.check_year(year)?;
        let mut entries = Vec::new();
        for rule in self.data.rules {
            if let Some(date) = rule.when.date_in(year)? {
                entries.push(Entry::from_rule(rule, date));
            }
        }
        entries.sort_by_key(|entry| entry.date);
        if self.data.citizens_holiday {
            add_bridge_days(&mut entries)?;
        }
        self.add_days_in_lieu(&mut entries)?;
        entries.sort_by_key(|entry| entry.date);
        Ok(entries
            .into_iter()
            .map(|entry| Holiday {
                date: entry.date,
                name: entry.name,
                in_lieu: entry.in_lieu,
                provisional: entry.provisional,
            })
            .collect())
    }

    /// Adds the days given in lieu of holidays on weekend days, by each holiday's
    /// [`Observance`], earliest holiday first (so Christmas on a Saturday takes the Monday and
    /// Boxing Day on the Sunday the Tuesday).
    fn add_days_in_lieu(&self, entries: &mut Vec<Entry>) -> Result<(), PayoutError> {
        let base: Vec<Entry> = entries.clone();
        for entry in base {
            let weekday = Weekday::of(entry.date)?;
            let replacement = match entry.observance {
                Observance::OnTheDay => None,
                Observance::SundayToMonday if weekday == Weekday::Sunday => {
                    Some(entry.date.add_days(1).ok_or(PayoutError::DateOutOfRange)?)
                }
                Observance::SundayToMonday => None,
                Observance::NextFreeWorkday if self.data.weekend.is_weekend(entry.date)? => {
                    Some(self.next_free_day(entries, entry.date, true)?)
                }
                Observance::NextFreeWorkday => None,
                Observance::SundayToNextFreeDay if weekday == Weekday::Sunday => {
                    Some(self.next_free_day(entries, entry.date, false)?)
                }
                Observance::SundayToNextFreeDay => None,
            };
            if let Some(date) = replacement
                && !is_listed(entries, date)
            {
                entries.push(entry.in_lieu_on(date));
            }
        }
        Ok(())
    }

    /// The first day after `after` that is not already a holiday and, when `workday`, not a
    /// weekend day either.
    fn next_free_day(
        &self,
        entries: &[Entry],
        after: Date,
        workday: bool,
    ) -> Result<Date, PayoutError> {
        let mut day = after;
        for _ in 0..CLOSED_RUN_MAX {
            day = day.add_days(1).ok_or(PayoutError::DateOutOfRange)?;
            let weekend = workday && self.data.weekend.is_weekend(day)?;
            if !weekend && !is_listed(entries, day) {
                return Ok(day);
            }
        }
        Err(PayoutError::NoBusinessDay {
            country: self.country,
            from: after,
        })
    }

    /// Whether banks open on `date`: not a weekend day, not a holiday (and, for a calendar
    /// [`with_target`](Self::with_target), a TARGET day). A date in a year the calendar does
    /// not cover is refused, weekend or not.
    pub fn is_business_day(&self, date: Date) -> Result<bool, PayoutError> {
        self.check_year(date.year())?;
        if self.data.weekend.is_weekend(date)? {
            return Ok(false);
        }
        if self.holidays(date.year())?.iter().any(|h| h.date == date) {
            return Ok(false);
        }
        if self.target {
            return date
                .is_target_working_day()
                .ok_or(PayoutError::DateOutOfRange);
        }
        Ok(true)
    }

    /// `date` if it is a business day, else the first business day after it.
    pub fn next_business_day_on_or_after(&self, date: Date) -> Result<Date, PayoutError> {
        let mut day = date;
        for _ in 0..=CLOSED_RUN_MAX {
            if self.is_business_day(day)? {
                return Ok(day);
            }
            day = day.add_days(1).ok_or(PayoutError::DateOutOfRange)?;
        }
        Err(PayoutError::NoBusinessDay {
            country: self.country,
            from: date,
        })
    }

    /// The business day `days` business days after `date`. A `date` that is not a business
    /// day first rolls forward to the next one, and the count starts there: from a Saturday,
    /// 0 days is the Monday and 1 day the Tuesday (in a week without holidays); from a
    /// Friday, 1 day is the Monday. At most [`ADD_BUSINESS_DAYS_MAX`] days.
    pub fn add_business_days(&self, date: Date, days: u32) -> Result<Date, PayoutError> {
        if days > ADD_BUSINESS_DAYS_MAX {
            return Err(PayoutError::TooManyBusinessDays(days));
        }
        let mut day = self.next_business_day_on_or_after(date)?;
        for _ in 0..days {
            let after = day.add_days(1).ok_or(PayoutError::DateOutOfRange)?;
            day = self.next_business_day_on_or_after(after)?;
        }
        Ok(day)
    }
}

/// Japan's citizens' holiday: a day that is not a holiday but lies between two public
/// holidays becomes one (Act on National Holidays, article 3(3)). Only public holidays count,
/// not the days banks alone close.
fn add_bridge_days(entries: &mut Vec<Entry>) -> Result<(), PayoutError> {
    let public: Vec<Date> = entries
        .iter()
        .filter(|e| e.public)
        .map(|e| e.date)
        .collect();
    for (before, after) in public.iter().zip(public.iter().skip(1)) {
        let gap = after
            .days_since_epoch()
            .zip(before.days_since_epoch())
            .and_then(|(a, b)| a.checked_sub(b))
            .ok_or(PayoutError::DateOutOfRange)?;
        let middle = before.add_days(1).ok_or(PayoutError::DateOutOfRange)?;
        if gap == 2 && !is_listed(entries, middle) {
            entries.push(Entry {
                date: middle,
                name: "Citizens' Holiday",
                observance: Observance::OnTheDay,
                public: false,
                in_lieu: true,
                provisional: false,
            });
        }
    }
    Ok(())
}

fn is_listed(entries: &[Entry], date: Date) -> bool {
    entries.iter().any(|entry| entry.date == date)
}

impl When {
    /// The date this rule gives in `year`; `None` when it names another year.
    fn date_in(self, year: i64) -> Result<Option<Date>, PayoutError> {
        let date = match self {
            Self::Fixed { month, day } => Date::new(year, month, day),
            Self::Easter { offset_days } => {
                easter_sunday(year).and_then(|easter| easter.add_days(offset_days))
            }
            Self::NthWeekday {
                month,
                weekday,
                nth,
            } => nth_weekday(year, month, weekday, nth)?,
            Self::LastWeekday { month, weekday } => last_weekday(year, month, weekday)?,
            Self::Listed {
                year: listed,
                month,
                day,
            } => {
                if listed != year {
                    return Ok(None);
                }
                Date::new(year, month, day)
            }
        };
        date.map(Some).ok_or(PayoutError::DateOutOfRange)
    }
}

/// The `nth` (1 to 5) `weekday` of `month`; `None` when the month has fewer.
fn nth_weekday(
    year: i64,
    month: u32,
    weekday: Weekday,
    nth: u32,
) -> Result<Option<Date>, PayoutError> {
    let first = Date::new(year, month, 1).ok_or(PayoutError::DateOutOfRange)?;
    let first_weekday = Weekday::of(first)?;
    let to_first = weekday
        .sunday_index()
        .checked_sub(first_weekday.sunday_index())
        .map(|days| days.rem_euclid(7))
        .ok_or(PayoutError::DateOutOfRange)?;
    let weeks = i64::from(nth.checked_sub(1).ok_or(PayoutError::DateOutOfRange)?);
    let offset = weeks
        .checked_mul(7)
        .and_then(|days| days.checked_add(to_first))
        .ok_or(PayoutError::DateOutOfRange)?;
    Ok(first.add_days(offset).filter(|date| date.month() == month))
}

/// The last `weekday` of `month`.
fn last_weekday(year: i64, month: u32, weekday: Weekday) -> Result<Option<Date>, PayoutError> {
    let last_day = days_in_month(year, month).ok_or(PayoutError::DateOutOfRange)?;
    let last = Date::new(year, month, last_day).ok_or(PayoutError::DateOutOfRange)?;
    let back = Weekday::of(last)?
        .sunday_index()
        .checked_sub(weekday.sunday_index())
        .map(|days| days.rem_euclid(7))
        .ok_or(PayoutError::DateOutOfRange)?;
    Ok(last.add_days(back.checked_neg().ok_or(PayoutError::DateOutOfRange)?))
}

/// The countries with a calendar, in the order the data lists them.
pub fn covered_countries() -> Vec<Country> {
    COUNTRIES
        .iter()
        .filter_map(|data| Country::new(data.code).ok())
        .collect()
}

/// Whether banks in `country` open on `date`; see [`BusinessCalendar::is_business_day`].
pub fn is_business_day(country: Country, date: Date) -> Result<bool, PayoutError> {
    BusinessCalendar::for_country(country)?.is_business_day(date)
}

/// `date` if banks in `country` open on it, else the next day they do; see
/// [`BusinessCalendar::next_business_day_on_or_after`].
pub fn next_business_day_on_or_after(country: Country, date: Date) -> Result<Date, PayoutError> {
    BusinessCalendar::for_country(country)?.next_business_day_on_or_after(date)
}

/// The business day `days` business days after `date` in `country`; see
/// [`BusinessCalendar::add_business_days`].
pub fn add_business_days(country: Country, date: Date, days: u32) -> Result<Date, PayoutError> {
    BusinessCalendar::for_country(country)?.add_business_days(date, days)
}
