//! Tax: who owes what, where, at which rate, and why.
//!
//! - `area.rs`: countries and their subdivisions ([`Area`]).
//! - `rates.rs`: rates as effective-dated data with their sources ([`RateTable`]).
//! - `us.rs`: US states' sales tax rates and economic nexus thresholds ([`UsStates`]).
//! - `code.rs`: what a product is, for tax ([`TaxCode`]).
//! - `supply.rs`: what the engine is asked about one order line ([`Sale`]).
//! - `decision.rs`: what it answers ([`Decision`]): place of supply, liable party, scheme,
//!   rate, reverse charge and the rule that decided ([`Reason`]).
//! - `engine/`: the rules, one file per group of destinations ([`decide`]).
//! - `amounts.rs`: the tax of a line and of a refund from a decision, and the rounding rule.
//! - `invoice.rs`: an order's invoice with its tax breakdown and mentions ([`Invoice`]).
//! - `period.rs`: return periods and how often each scheme files ([`ReturnPeriod`]).
//! - `registration.rs`: sellers' tax registrations ([`TaxRegistration`]).
//! - `vat_id/`: VAT numbers, checked offline ([`VatId`]); `registry.rs`: the VIES port
//!   ([`VatRegistry`]) and how its answer decides between business and consumer.
//!
//! Pure: data in, decisions out. Orders still price tax through `orders::TaxRates` (zero
//! unless configured) until checkout asks the engine.

mod amounts;
mod area;
pub mod code;
mod decision;
mod engine;
mod invoice;
mod period;
mod rates;
mod registration;
mod registry;
mod returns;
mod stored;
mod supply;
mod us;
mod vat_id;

pub use amounts::*;
pub use area::*;
pub use code::TaxCode;
pub use decision::*;
pub use engine::*;
pub use invoice::*;
pub use period::*;
pub use rates::*;
pub use registration::*;
pub use registry::*;
pub use returns::*;
pub use supply::*;
pub use us::*;
pub use vat_id::*;

use bazaar_money::{Currency, MoneyError};

use crate::fx::calendar::Date;

/// Why a tax question has no answer.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum TaxError {
    /// No rate of this kind covers the day in the area: the sale cannot be taxed from the
    /// data, and is refused rather than taxed at zero.
    #[error("no {} tax rate is known for {area} on {day}", kind.as_str())]
    NoRate {
        /// The country or subdivision.
        area: Area,
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
    /// The sale lacks a fact its rules need (where goods ship from, a US state, ...).
    #[error("the tax rules need {0}")]
    Missing(&'static str),
    /// A threshold amount came in another currency than the threshold's own.
    #[error("{what} must be given in {expected}, not {given}")]
    ThresholdCurrency {
        /// Which amount.
        what: &'static str,
        /// The threshold's currency.
        expected: Currency,
        /// The currency given.
        given: Currency,
    },
    /// An amount overflowed or mixed currencies.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl TaxError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoRate { .. } => "no_tax_rate",
            Self::RateData { .. } => "tax_rate_data_invalid",
            Self::Missing(_) => "tax_input_missing",
            Self::ThresholdCurrency { .. } => "tax_threshold_currency",
            Self::Money(error) => error.code(),
        }
    }
}
