//! Return periods: the month or quarter a scheme's return covers, in UTC days.

use std::fmt;

use bazaar_ledger::Timestamp;

use super::Scheme;
use crate::fx::calendar::Date;

/// How often a scheme's return is filed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Cadence {
    /// Every calendar month: IOSS (Regulation 282/2011 art. 369v), India's TCS (GSTR-8, by
    /// the 10th of the next month), US states' facilitator returns (most states assign
    /// monthly filing at a marketplace's volume).
    Monthly,
    /// Every calendar quarter: OSS, UK VAT, Australia's GST, Canada's GST/HST and Japan's
    /// consumption tax as Bazaar files them.
    Quarterly,
}

impl Scheme {
    /// How often the marketplace files this scheme's return; `None` for schemes it files
    /// none for (the seller's own domestic tax, reverse charge, import, nothing collected).
    pub fn cadence(self) -> Option<Cadence> {
        match self {
            Self::Ioss | Self::InTcs | Self::UsMarketplaceFacilitator => Some(Cadence::Monthly),
            Self::Oss
            | Self::UkMarketplace
            | Self::AuLowValueImports
            | Self::CaDistributionPlatform
            | Self::JpPlatform
            | Self::Domestic => Some(Cadence::Quarterly),
            Self::ReverseCharge | Self::Import | Self::NotCollected | Self::OutOfScope => None,
        }
    }
}

/// One return period: from its first day to the day after its last.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ReturnPeriod {
    start: Date,
    end: Date,
    cadence: Cadence,
}

/// Why a period was refused.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PeriodError {
    /// Not `YYYY-MM` nor `YYYY-Qn`.
    #[error("a period is YYYY-MM (a month) or YYYY-Qn (a quarter)")]
    Format,
    /// A month given for a quarterly scheme, or the other way round.
    #[error("{scheme} returns are {expected}")]
    Cadence {
        /// The scheme.
        scheme: &'static str,
        /// `monthly` or `quarterly`.
        expected: &'static str,
    },
    /// The marketplace files no return for the scheme.
    #[error("the marketplace files no {0} return")]
    NoReturn(&'static str),
}

impl PeriodError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Format => "period_invalid",
            Self::Cadence { .. } => "period_cadence",
            Self::NoReturn(_) => "no_return_for_scheme",
        }
    }
}

impl ReturnPeriod {
    /// Reads `YYYY-MM` or `YYYY-Qn`.
    pub fn parse(text: &str) -> Result<Self, PeriodError> {
        let (year, rest) = text.split_once('-').ok_or(PeriodError::Format)?;
        if year.len() != 4 {
            return Err(PeriodError::Format);
        }
        let year: i64 = year.parse().map_err(|_| PeriodError::Format)?;
        let (first_month, months, cadence) = match rest.strip_prefix('Q') {
            Some(quarter) => {
                let quarter: u32 = quarter.parse().map_err(|_| PeriodError::Format)?;
                if !(1..=4).contains(&quarter) || rest.len() != 2 {
                    return Err(PeriodError::Format);
                }
                (
                    quarter
                        .saturating_sub(1)
                        .saturating_mul(3)
                        .saturating_add(1),
                    3,
                    Cadence::Quarterly,
                )
            }
            None => {
                let month: u32 = rest.parse().map_err(|_| PeriodError::Format)?;
                if !(1..=12).contains(&month) || rest.len() != 2 {
                    return Err(PeriodError::Format);
                }
                (month, 1, Cadence::Monthly)
            }
        };
        let start = Date::new(year, first_month, 1).ok_or(PeriodError::Format)?;
        let next = first_month.saturating_add(months);
        let end = if next > 12 {
            Date::new(
                year.checked_add(1).ok_or(PeriodError::Format)?,
                next.saturating_sub(12),
                1,
            )
        } else {
            Date::new(year, next, 1)
        }
        .ok_or(PeriodError::Format)?;
        Ok(Self {
            start,
            end,
            cadence,
        })
    }

    /// Reads a period of `scheme`'s return: a month for a monthly scheme, a quarter for a
    /// quarterly one.
    pub fn of_scheme(scheme: Scheme, text: &str) -> Result<Self, PeriodError> {
        let period = Self::parse(text)?;
        let cadence = scheme
            .cadence()
            .ok_or(PeriodError::NoReturn(scheme.as_str()))?;
        if period.cadence != cadence {
            return Err(PeriodError::Cadence {
                scheme: scheme.as_str(),
                expected: match cadence {
                    Cadence::Monthly => "monthly",
                    Cadence::Quarterly => "quarterly",
                },
            });
        }
        Ok(period)
    }

    /// The month or quarter that holds `day`.
    pub fn containing(cadence: Cadence, day: Date) -> Option<Self> {
        let text = match cadence {
            Cadence::Monthly => format!("{}-{:02}", day.year(), day.month()),
            Cadence::Quarterly => format!("{}-Q{}", day.year(), day.month().div_ceil(3)),
        };
        Self::parse(&text).ok()
    }

    /// The period just before this one.
    pub fn previous(self) -> Option<Self> {
        Self::containing(self.cadence, self.start.add_days(-1)?)
    }

    /// Monthly or quarterly.
    pub fn cadence(self) -> Cadence {
        self.cadence
    }

    /// The first day.
    pub fn start(self) -> Date {
        self.start
    }

    /// The day after the last.
    pub fn end(self) -> Date {
        self.end
    }

    /// The first instant of the first day, UTC.
    pub fn from(self) -> Option<Timestamp> {
        midnight(self.start)
    }

    /// The first instant after the last day, UTC.
    pub fn to(self) -> Option<Timestamp> {
        midnight(self.end)
    }
}

fn midnight(day: Date) -> Option<Timestamp> {
    let micros = day
        .days_since_epoch()?
        .checked_mul(86_400)?
        .checked_mul(1_000_000)?;
    Some(Timestamp::from_micros(micros))
}

impl fmt::Display for ReturnPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cadence {
            Cadence::Monthly => write!(f, "{}-{:02}", self.start.year(), self.start.month()),
            Cadence::Quarterly => write!(
                f,
                "{}-Q{}",
                self.start.year(),
                self.start.month().saturating_add(2) / 3
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_quarters_read_and_print_back() {
        let q4 = ReturnPeriod::parse("2026-Q4").unwrap();
        assert_eq!(q4.start().to_string(), "2026-10-01");
        assert_eq!(q4.end().to_string(), "2027-01-01");
        assert_eq!(q4.to_string(), "2026-Q4");
        let march = ReturnPeriod::parse("2026-03").unwrap();
        assert_eq!(march.end().to_string(), "2026-04-01");
        assert_eq!(march.to_string(), "2026-03");
        let day = Date::parse_iso("2026-01-15").unwrap();
        assert_eq!(
            ReturnPeriod::containing(Cadence::Quarterly, day)
                .unwrap()
                .previous()
                .unwrap()
                .to_string(),
            "2025-Q4"
        );
        assert_eq!(
            ReturnPeriod::containing(Cadence::Monthly, day)
                .unwrap()
                .previous()
                .unwrap()
                .to_string(),
            "2025-12"
        );
        assert_eq!(q4.previous().unwrap().to_string(), "2026-Q3");
        assert_eq!(
            march.from().unwrap(),
            Timestamp::from_micros(1_772_323_200_000_000)
        );
        for bad in [
            "2026", "2026-13", "2026-Q5", "2026-Q0", "26-01", "2026-1", "2026-Q1x",
        ] {
            assert_eq!(ReturnPeriod::parse(bad), Err(PeriodError::Format), "{bad}");
        }
    }

    #[test]
    fn each_scheme_files_at_its_cadence() {
        assert!(ReturnPeriod::of_scheme(Scheme::Oss, "2026-Q1").is_ok());
        assert_eq!(
            ReturnPeriod::of_scheme(Scheme::Oss, "2026-01")
                .unwrap_err()
                .code(),
            "period_cadence"
        );
        assert!(ReturnPeriod::of_scheme(Scheme::Ioss, "2026-01").is_ok());
        assert!(ReturnPeriod::of_scheme(Scheme::InTcs, "2026-01").is_ok());
        assert_eq!(
            ReturnPeriod::of_scheme(Scheme::ReverseCharge, "2026-Q1")
                .unwrap_err()
                .code(),
            "no_return_for_scheme"
        );
    }
}
