//! Tax rates as effective-dated data: `data/vat_rates.csv`, compiled in, each line a rate of
//! one kind in one country from its first to its last day, with its source. A date falls in
//! at most one period of a country and kind; a gap or a day before the table's start has no
//! rate, and asking for it is an error, never a zero.

use super::TaxError;
use crate::Country;
use crate::catalog::BasisPoints;
use crate::fx::calendar::Date;

/// The rates shipped with Bazaar.
const BUILTIN: &str = include_str!("data/vat_rates.csv");

/// Which of a country's rates.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum RateKind {
    /// The standard rate: goods and services without a reduced rate.
    Standard,
    /// The country's main reduced rate (Japan's 8% on food and newspapers).
    Reduced,
}

impl RateKind {
    /// Its name in the data, `standard` or `reduced`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Reduced => "reduced",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Standard, Self::Reduced]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// One rate for one period.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RatePeriod {
    /// The country.
    pub country: Country,
    /// Which rate.
    pub kind: RateKind,
    /// The rate.
    pub rate: BasisPoints,
    /// The first day it applies.
    pub from: Date,
    /// The last day it applies; `None` while in force.
    pub to: Option<Date>,
    /// Where it comes from (a key of the data file's source list).
    pub source: String,
}

impl RatePeriod {
    fn covers(&self, day: Date) -> bool {
        let Some(day) = day.days_since_epoch() else {
            return false;
        };
        let starts = self.from.days_since_epoch().is_some_and(|from| from <= day);
        let ends = self
            .to
            .and_then(Date::days_since_epoch)
            .is_none_or(|to| day <= to);
        starts && ends
    }
}

/// Every rate period, checked: no two periods of a country and kind overlap.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RateTable {
    periods: Vec<RatePeriod>,
}

fn line_error(line: usize, reason: &str) -> TaxError {
    TaxError::RateData {
        line,
        reason: reason.to_owned(),
    }
}

fn period(line: usize, text: &str) -> Result<RatePeriod, TaxError> {
    let cells: Vec<&str> = text.split(',').map(str::trim).collect();
    let [country, kind, rate, from, to, source] = cells.as_slice() else {
        return Err(line_error(line, "expected 6 columns"));
    };
    let rate: u16 = rate
        .parse()
        .map_err(|_| line_error(line, "the rate is not a whole number of basis points"))?;
    let from = Date::parse_iso(from).ok_or_else(|| line_error(line, "`from` is not a date"))?;
    let to = match *to {
        "" => None,
        day => Some(Date::parse_iso(day).ok_or_else(|| line_error(line, "`to` is not a date"))?),
    };
    if let Some(end) = to
        && end.days_since_epoch() < from.days_since_epoch()
    {
        return Err(line_error(line, "the period ends before it starts"));
    }
    if source.is_empty() {
        return Err(line_error(line, "every rate needs its source"));
    }
    Ok(RatePeriod {
        country: Country::new(country).map_err(|_| line_error(line, "not a country code"))?,
        kind: RateKind::parse(kind)
            .ok_or_else(|| line_error(line, "kind is standard or reduced"))?,
        rate: BasisPoints::new(rate).map_err(|_| line_error(line, "a rate is at most 10000"))?,
        from,
        to,
        source: (*source).to_owned(),
    })
}

impl RateTable {
    /// The rates shipped with Bazaar.
    pub fn builtin() -> Result<Self, TaxError> {
        Self::parse(BUILTIN)
    }

    /// Reads rate data: a header line, then one period per line; `#` lines and blank lines
    /// are ignored. Refused whole when a line does not read or two periods overlap.
    pub fn parse(text: &str) -> Result<Self, TaxError> {
        let mut periods: Vec<RatePeriod> = Vec::new();
        let mut header = false;
        for (index, raw) in text.lines().enumerate() {
            let line = index.saturating_add(1);
            let raw = raw.trim();
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            if !header {
                header = true;
                continue;
            }
            let new = period(line, raw)?;
            let clash = periods.iter().any(|old| {
                old.country == new.country
                    && old.kind == new.kind
                    && (old.covers(new.from) || new.covers(old.from))
            });
            if clash {
                return Err(line_error(line, "overlaps another period of this rate"));
            }
            periods.push(new);
        }
        Ok(Self { periods })
    }

    /// The period of `country`'s `kind` rate that covers `day`; [`TaxError::NoRate`] when
    /// none does.
    pub fn rate(
        &self,
        country: Country,
        kind: RateKind,
        day: Date,
    ) -> Result<&RatePeriod, TaxError> {
        self.periods
            .iter()
            .find(|p| p.country == country && p.kind == kind && p.covers(day))
            .ok_or(TaxError::NoRate { country, kind, day })
    }

    /// Every period, in the data's order.
    pub fn periods(&self) -> &[RatePeriod] {
        &self.periods
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(country: &str, day: &str) -> u16 {
        let table = RateTable::builtin().unwrap();
        table
            .rate(
                Country::new(country).unwrap(),
                RateKind::Standard,
                Date::parse_iso(day).unwrap(),
            )
            .unwrap()
            .rate
            .get()
    }

    #[test]
    fn rate_changes_apply_from_their_first_day() {
        // The old rate the day before, the new one on the day.
        for (country, before, on, old, new) in [
            ("FI", "2024-08-31", "2024-09-01", 2400, 2550),
            ("EE", "2025-06-30", "2025-07-01", 2200, 2400),
            ("EE", "2023-12-31", "2024-01-01", 2000, 2200),
            ("SK", "2024-12-31", "2025-01-01", 2000, 2300),
            ("RO", "2025-07-31", "2025-08-01", 1900, 2100),
            ("LU", "2023-12-31", "2024-01-01", 1600, 1700),
        ] {
            assert_eq!(rate(country, before), old, "{country} on {before}");
            assert_eq!(rate(country, on), new, "{country} on {on}");
        }
        assert_eq!(rate("DE", "2026-12-01"), 1900);
    }

    #[test]
    fn every_eu_member_state_has_a_standard_rate_today() {
        let table = RateTable::builtin().unwrap();
        let day = Date::parse_iso("2026-12-01").unwrap();
        for code in [
            "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
            "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
        ] {
            let period = table
                .rate(Country::new(code).unwrap(), RateKind::Standard, day)
                .unwrap();
            assert!(period.rate.get() >= 1_500, "{code}: the EU minimum is 15%");
        }
    }

    #[test]
    fn a_day_without_a_rate_is_an_error_not_zero() {
        let table = RateTable::builtin().unwrap();
        let early = Date::parse_iso("2022-12-31").unwrap();
        let error = table
            .rate(Country::new("DE").unwrap(), RateKind::Standard, early)
            .unwrap_err();
        assert_eq!(error.code(), "no_tax_rate");
        let unknown = Country::new("ZZ").unwrap();
        let today = Date::parse_iso("2026-12-01").unwrap();
        assert!(table.rate(unknown, RateKind::Standard, today).is_err());
    }

    #[test]
    fn bad_data_is_refused_with_its_line() {
        let header = "country,kind,basis_points,from,to,source\n";
        for (body, reason) in [
            (
                "DE,standard,1900,2023-01-01,,EC\nDE,standard,1600,2023-06-01,,EC\n",
                "overlaps",
            ),
            ("DE,standard,19.0,2023-01-01,,EC\n", "basis points"),
            ("DE,standard,1900,2023-01-01,2022-01-01,EC\n", "ends before"),
            ("DE,standard,1900,2023-01-01,,\n", "source"),
            ("DE,zero,0,2023-01-01,,EC\n", "kind"),
            ("DE,standard,1900\n", "6 columns"),
        ] {
            let error = RateTable::parse(&format!("{header}{body}")).unwrap_err();
            assert_eq!(error.code(), "tax_rate_data_invalid");
            assert!(error.to_string().contains(reason), "{error}");
        }
        let adjacent =
            "DE,standard,1600,2023-01-01,2023-06-30,EC\nDE,standard,1900,2023-07-01,,EC\n";
        assert!(RateTable::parse(&format!("{header}{adjacent}")).is_ok());
    }
}
