//! Money as Bazaar counts it: an integer number of minor units paired with its ISO 4217
//! currency.
//!
//! The currency's exponent (from `iso_currency`) fixes the scale: 1 JPY is 1 minor unit,
//! 1 EUR is 100, 1 KWD is 1000. Decimal strings are parsed and formatted with
//! `rust_decimal`; an input with more decimals than the currency has is refused, never
//! rounded. Arithmetic refuses to mix currencies and checks overflow. Whenever a result
//! needs rounding (a commission share, a conversion), the caller names the [`Rounding`]
//! rule and receives the residue, so that it can be posted instead of lost.
//!
//! There is no floating point in this crate.
#![warn(missing_docs)]
#![deny(clippy::float_arithmetic, clippy::float_cmp)]

mod currency;
mod error;
mod money;

pub use currency::Currency;
pub use error::MoneyError;
pub use money::{Money, Rounded, Rounding};
pub use rust_decimal::Decimal;
