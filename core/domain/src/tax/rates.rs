//! Tax rates as effective-dated data: `data/vat_rates.csv` and `data/ca_provinces.csv`,
//! compiled in, each line a rate of one kind in one area from its first to its last day, with
//! its source. A date falls in at most one period of an area and kind; a gap or a day before
//! the table's start has no rate, and asking for it is an error, never a zero.

use super::{Area, TaxError};
use crate::catalog::BasisPoints;
use crate::fx::calendar::Date;

/// The rates shipped with Bazaar: value-added, consumption and Indian TCS rates by area.
const BUILTIN: &str = include_str!("data/vat_rates.csv");

/// Canada's GST or HST by province, read into areas `CA-ON` and so on.
const BUILTIN_CANADA: &str = include_str!("data/ca_provinces.csv");

/// A tax rate in millionths: 68,750 is 6.875%. Fine enough for every rate in the data (US
/// state rates fall on half a basis point); at most 100%.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct TaxRate(u32);

impl TaxRate {
    /// No tax.
    pub const ZERO: Self = Self(0);
    /// Millionths in a whole.
    pub const WHOLE: u32 = 1_000_000;

    /// A rate of `millionths`; `None` above 100%.
    pub fn from_millionths(millionths: u32) -> Option<Self> {
        (millionths <= Self::WHOLE).then_some(Self(millionths))
    }

    /// The same rate as `bps` basis points.
    pub fn from_basis_points(bps: BasisPoints) -> Self {
        Self(u32::from(bps.get()).saturating_mul(100))
    }

    /// Reads basis points with at most two decimals: `1900`, `687.5`, `422.25`.
    pub fn parse_basis_points(text: &str) -> Option<Self> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty()
            || fraction.len() > 2
            || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        {
            return None;
        }
        let whole: u32 = whole.parse().ok()?;
        let fraction: u32 = match fraction.len() {
            0 => 0,
            1 => fraction.parse::<u32>().ok()?.checked_mul(10)?,
            _ => fraction.parse().ok()?,
        };
        Self::from_millionths(whole.checked_mul(100)?.checked_add(fraction)?)
    }

    /// The rate in millionths.
    pub fn millionths(self) -> u32 {
        self.0
    }

    /// Whether nothing is charged at this rate.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The rate in basis points, with decimals only where needed: `1900`, `687.5`.
    pub fn basis_points_text(self) -> String {
        let (whole, fraction) = (self.0 / 100, self.0 % 100);
        match fraction {
            0 => whole.to_string(),
            f if f % 10 == 0 => format!("{whole}.{}", f / 10),
            f => format!("{whole}.{f:02}"),
        }
    }

    /// The rate as a percentage: `19%`, `6.875%`.
    pub fn percent_text(self) -> String {
        let (whole, fraction) = (self.0 / 10_000, self.0 % 10_000);
        if fraction == 0 {
            return format!("{whole}%");
        }
        let digits = format!("{fraction:04}");
        format!("{whole}.{}%", digits.trim_end_matches('0'))
    }
}

/// Which of an area's rates.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum RateKind {
    /// The standard rate: goods and services without a reduced rate. Canada's GST or HST.
    Standard,
    /// The country's main reduced rate (Japan's 8% on food and newspapers).
    Reduced,
    /// The rate on printed books.
    Books,
    /// The rate on basic foodstuffs.
    Food,
    /// India's tax collected at source by an e-commerce operator (CGST Act, section 52).
    Tcs,
}

impl RateKind {
    const ALL: [Self; 5] = [
        Self::Standard,
        Self::Reduced,
        Self::Books,
        Self::Food,
        Self::Tcs,
    ];

    /// Its name in the data: `standard`, `reduced`, `books`, `food` or `tcs`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Reduced => "reduced",
            Self::Books => "books",
            Self::Food => "food",
            Self::Tcs => "tcs",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// One rate for one period.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RatePeriod {
    /// The country or subdivision.
    pub area: Area,
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

/// The data lines of a CSV data file, numbered from 1: `#` lines, blank lines and the header
/// (the first other line) left out.
pub(super) fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(index, raw)| (index.saturating_add(1), raw.trim()))
        .filter(|(_, raw)| !raw.is_empty() && !raw.starts_with('#'))
        .skip(1)
}

/// How a data file names its areas and kinds.
#[derive(Clone, Copy)]
enum Layout {
    /// `DE,standard,...`: an area code and a [`RateKind`].
    Areas,
    /// `ON,hst,...`: a Canadian province and `gst` or `hst`, both read as the standard rate.
    CanadianProvinces,
}

fn area_and_kind(layout: Layout, area: &str, kind: &str) -> Option<(Area, RateKind)> {
    match layout {
        Layout::Areas => Some((Area::parse(area).ok()?, RateKind::parse(kind)?)),
        Layout::CanadianProvinces => {
            let area = Area::parse(&format!("CA-{area}")).ok()?;
            matches!(kind, "gst" | "hst").then_some((area, RateKind::Standard))
        }
    }
}

fn period(layout: Layout, line: usize, text: &str) -> Result<RatePeriod, TaxError> {
    let cells: Vec<&str> = text.split(',').map(str::trim).collect();
    let [area, kind, rate, from, to, source] = cells.as_slice() else {
        return Err(line_error(line, "expected 6 columns"));
    };
    let (area, kind) = area_and_kind(layout, area, kind)
        .ok_or_else(|| line_error(line, "not a known area and kind of rate"))?;
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
        area,
        kind,
        rate: BasisPoints::new(rate).map_err(|_| line_error(line, "a rate is at most 10000"))?,
        from,
        to,
        source: (*source).to_owned(),
    })
}

impl RateTable {
    /// The rates shipped with Bazaar.
    pub fn builtin() -> Result<Self, TaxError> {
        let mut table = Self::parse(BUILTIN)?;
        table.read(Layout::CanadianProvinces, BUILTIN_CANADA)?;
        Ok(table)
    }

    /// Reads rate data: a header line, then one period per line; `#` lines and blank lines
    /// are ignored. Refused whole when a line does not read or two periods overlap.
    pub fn parse(text: &str) -> Result<Self, TaxError> {
        let mut table = Self {
            periods: Vec::new(),
        };
        table.read(Layout::Areas, text)?;
        Ok(table)
    }

    fn read(&mut self, layout: Layout, text: &str) -> Result<(), TaxError> {
        let periods = &mut self.periods;
        for (line, raw) in data_lines(text) {
            let new = period(layout, line, raw)?;
            let clash = periods.iter().any(|old| {
                old.area == new.area
                    && old.kind == new.kind
                    && (old.covers(new.from) || new.covers(old.from))
            });
            if clash {
                return Err(line_error(line, "overlaps another period of this rate"));
            }
            periods.push(new);
        }
        Ok(())
    }

    /// The period of `area`'s `kind` rate that covers `day`; [`TaxError::NoRate`] when none
    /// does.
    pub fn rate(&self, area: Area, kind: RateKind, day: Date) -> Result<&RatePeriod, TaxError> {
        self.periods
            .iter()
            .find(|p| p.area == area && p.kind == kind && p.covers(day))
            .ok_or(TaxError::NoRate { area, kind, day })
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
                Area::parse(country).unwrap(),
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
                .rate(Area::parse(code).unwrap(), RateKind::Standard, day)
                .unwrap();
            assert!(period.rate.get() >= 1_500, "{code}: the EU minimum is 15%");
        }
    }

    #[test]
    fn reduced_rates_canada_and_india_read_from_the_data() {
        let table = RateTable::builtin().unwrap();
        let day = Date::parse_iso("2026-06-15").unwrap();
        let get = |area: &str, kind: RateKind| {
            table
                .rate(Area::parse(area).unwrap(), kind, day)
                .unwrap()
                .rate
                .get()
        };
        assert_eq!(get("DE", RateKind::Books), 700);
        assert_eq!(get("FR", RateKind::Books), 550);
        assert_eq!(get("GB", RateKind::Food), 0);
        assert_eq!(get("JP", RateKind::Food), 800);
        assert_eq!(get("CA-ON", RateKind::Standard), 1300);
        assert_eq!(get("CA-AB", RateKind::Standard), 500);
        assert_eq!(get("IN", RateKind::Tcs), 50);
        // Every EU member state has a books and a food rate, none above its standard rate.
        for code in crate::tax::EU_MEMBER_STATES {
            let standard = get(code, RateKind::Standard);
            assert!(get(code, RateKind::Books) <= standard, "{code}");
            assert!(get(code, RateKind::Food) <= standard, "{code}");
        }
        let tcs = |day: &str| {
            table
                .rate(
                    Area::parse("IN").unwrap(),
                    RateKind::Tcs,
                    Date::parse_iso(day).unwrap(),
                )
                .unwrap()
                .rate
                .get()
        };
        assert_eq!((tcs("2024-07-09"), tcs("2024-07-10")), (100, 50));
    }

    #[test]
    fn tax_rates_read_and_print_in_basis_points_and_percent() {
        for (text, millionths, percent) in [
            ("1900", 190_000, "19%"),
            ("687.5", 68_750, "6.875%"),
            ("422.25", 42_225, "4.2225%"),
            ("0", 0, "0%"),
            ("2550", 255_000, "25.5%"),
        ] {
            let rate = TaxRate::parse_basis_points(text).unwrap();
            assert_eq!(rate.millionths(), millionths);
            assert_eq!(rate.basis_points_text(), text);
            assert_eq!(rate.percent_text(), percent);
        }
        for bad in ["", ".5", "19.555", "-1", "10000.01", "1e3", "1 900"] {
            assert_eq!(TaxRate::parse_basis_points(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_day_without_a_rate_is_an_error_not_zero() {
        let table = RateTable::builtin().unwrap();
        let early = Date::parse_iso("2022-12-31").unwrap();
        let error = table
            .rate(Area::parse("DE").unwrap(), RateKind::Standard, early)
            .unwrap_err();
        assert_eq!(error.code(), "no_tax_rate");
        let unknown = Area::parse("ZZ").unwrap();
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
            ("Germany,standard,1900,2023-01-01,,EC\n", "area"),
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
