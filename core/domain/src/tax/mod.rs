//! Tax: who owes what, where, at which rate.
//!
//! - `rates.rs`: rates as effective-dated data with their sources ([`RateTable`]).
//!
//! Pure: data in, decisions out. Orders still price tax through `orders::TaxRates` (zero
//! unless configured); the engine that decides place of supply, liable party and scheme
//! builds on the rate table.

mod rates;

pub use rates::*;

use crate::Country;
use crate::fx::calendar::Date;

/// Why a tax question has no answer.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum TaxError {
    /// No rate of this kind covers the day in the country: the sale cannot be taxed from
    /// the data, and is refused rather than taxed at zero.
    #[error("no {} tax rate is known for {country} on {day}", kind.as_str())]
    NoRate {
        /// The country.
        country: Country,
        /// The rate asked for.
        kind: RateKind,
        /// The day.
        day: Date,
    },
    /// The rate data does not read.
    #[error("tax rate data, line {line}: {reason}")]
    RateData {
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

impl TaxError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoRate { .. } => "no_tax_rate",
            Self::RateData { .. } => "tax_rate_data_invalid",
        }
    }
}
