//! Exchange rates and currency conversion.
//!
//! A rate source (the [`FxRateSource`] port) publishes a [`RateSet`]: the value of one unit
//! of a base currency in other currencies, with the time the rates took effect. A
//! [`RateBook`] combines sets from several sources (the European Central Bank's reference
//! rates, then a configured table for currencies the ECB does not publish) and answers
//! mid-market cross rates. [`convert`] turns an amount into another currency at the mid
//! rate less a spread, and says exactly where every minor unit went.

use std::collections::BTreeMap;
use std::future::Future;

use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money, MoneyError, Rounding};
use rust_decimal::Decimal;

/// Decimal places kept in a cross rate. The ECB publishes at most 6 significant digits, so
/// 10 places lose nothing that matters and keep stored rates short.
pub const RATE_SCALE: u32 = 10;

/// The largest spread a conversion may carry: 10%.
pub const SPREAD_MAX: Decimal = Decimal::from_parts(10, 0, 0, false, 2);

/// Rates published by one source at one time.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RateSet {
    /// Short name of the source, e.g. `ecb`; stored with every conversion that uses it.
    pub source: String,
    /// The currency the rates are quoted against.
    pub base: Currency,
    /// When the rates took effect.
    pub effective_at: Timestamp,
    /// Units of each currency per one unit of `base`; every rate is positive.
    pub rates: BTreeMap<Currency, Decimal>,
}

/// Why a rate could not be had or used.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum FxError {
    /// No source publishes a rate that connects the two currencies.
    #[error("no exchange rate from {from} to {to}")]
    NoRate { from: Currency, to: Currency },
    /// A source published a rate of zero or below, or a document that is not a rate table.
    #[error("rate source {source_name} published invalid data: {reason}")]
    InvalidData { source_name: String, reason: String },
    /// The source cannot be reached now; the caller may retry.
    #[error("rate source {source_name} is unavailable: {reason}")]
    Unavailable { source_name: String, reason: String },
    /// The spread is negative or larger than [`SPREAD_MAX`].
    #[error("spread must be between 0 and 10%")]
    InvalidSpread,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl FxError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoRate { .. } => "fx_rate_unavailable",
            Self::InvalidData { .. } => "fx_source_invalid",
            Self::Unavailable { .. } => "fx_source_unavailable",
            Self::InvalidSpread => "fx_spread_invalid",
            Self::Money(error) => error.code(),
        }
    }
}

/// A source of exchange rates.
///
/// Every implementation MUST return a set whose rates are all positive, whose `base` is not
/// among its own `rates`, and whose `effective_at` is the publication's own effective time
/// (not the time of the fetch). A document it cannot read is `FxError::InvalidData`; a source
/// it cannot reach is `FxError::Unavailable`.
pub trait FxRateSource: Send + Sync {
    fn fetch(&self) -> impl Future<Output = Result<RateSet, FxError>> + Send;
}

/// A mid-market rate between two currencies, with where it came from.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FxRate {
    pub from: Currency,
    pub to: Currency,
    /// Units of `to` per one unit of `from`, rounded to [`RATE_SCALE`] places.
    pub mid: Decimal,
    /// The source names of the sets used, joined by `+`.
    pub source: String,
    /// The oldest effective time among the sets used.
    pub effective_at: Timestamp,
}

/// Rates from several sources, in order of preference.
#[derive(Clone, Debug, Default)]
pub struct RateBook {
    sets: Vec<RateSet>,
}

/// The value of one unit of the pivot in some currency, and which sets said so.
struct PivotValue {
    units: Decimal,
    sets: Vec<usize>,
}

impl RateBook {
    /// Sets earlier in the list win when two publish the same currency.
    pub fn new(sets: Vec<RateSet>) -> Result<Self, FxError> {
        for set in &sets {
            if let Some((currency, _)) = set.rates.iter().find(|(_, rate)| **rate <= Decimal::ZERO)
            {
                return Err(FxError::InvalidData {
                    source_name: set.source.clone(),
                    reason: format!("rate for {currency} is not positive"),
                });
            }
        }
        Ok(Self { sets })
    }

    pub fn sets(&self) -> &[RateSet] {
        &self.sets
    }

    /// Every currency some set can price.
    pub fn currencies(&self) -> Vec<Currency> {
        let mut all: Vec<Currency> = self
            .sets
            .iter()
            .flat_map(|set| set.rates.keys().copied().chain([set.base]))
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The mid rate from `from` to `to`.
    pub fn mid(&self, from: Currency, to: Currency) -> Result<FxRate, FxError> {
        let no_rate = || FxError::NoRate { from, to };
        let pivot = self.sets.first().ok_or_else(no_rate)?.base;
        let from_value = self.pivot_value(pivot, from, 0).ok_or_else(no_rate)?;
        let to_value = self.pivot_value(pivot, to, 0).ok_or_else(no_rate)?;
        let mid = to_value
            .units
            .checked_div(from_value.units)
            .ok_or(FxError::Money(MoneyError::Overflow))?
            .round_dp(RATE_SCALE);
        if mid <= Decimal::ZERO {
            return Err(no_rate());
        }
        let mut used: Vec<usize> = from_value.sets.into_iter().chain(to_value.sets).collect();
        used.sort_unstable();
        used.dedup();
        let used: Vec<&RateSet> = used.iter().filter_map(|&i| self.sets.get(i)).collect();
        let source = if used.is_empty() {
            "identity".to_owned()
        } else {
            used.iter()
                .map(|set| set.source.as_str())
                .collect::<Vec<_>>()
                .join("+")
        };
        let effective_at = used
            .iter()
            .map(|set| set.effective_at)
            .min()
            .unwrap_or_default();
        Ok(FxRate {
            from,
            to,
            mid,
            source,
            effective_at,
        })
    }

    /// Units of `currency` per unit of `pivot`, following at most two sets.
    fn pivot_value(&self, pivot: Currency, currency: Currency, depth: u8) -> Option<PivotValue> {
        if currency == pivot {
            return Some(PivotValue {
                units: Decimal::ONE,
                sets: Vec::new(),
            });
        }
        if depth > 1 {
            return None;
        }
        for (index, set) in self.sets.iter().enumerate() {
            let Some(rate) = set.rates.get(&currency) else {
                continue;
            };
            if set.base == pivot {
                return Some(PivotValue {
                    units: *rate,
                    sets: vec![index],
                });
            }
            let next = depth.checked_add(1)?;
            if let Some(base_value) = self.pivot_value(pivot, set.base, next) {
                let mut sets = base_value.sets;
                sets.push(index);
                return Some(PivotValue {
                    units: rate.checked_mul(base_value.units)?,
                    sets,
                });
            }
        }
        None
    }
}

/// The fraction of the mid value the platform keeps on a conversion, e.g. `0.02`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Spread(Decimal);

impl Spread {
    pub fn new(fraction: Decimal) -> Result<Self, FxError> {
        if fraction < Decimal::ZERO || fraction > SPREAD_MAX {
            return Err(FxError::InvalidSpread);
        }
        Ok(Self(fraction))
    }

    pub const ZERO: Self = Self(Decimal::ZERO);

    pub fn fraction(self) -> Decimal {
        self.0
    }
}

/// A conversion, with every minor unit accounted for:
/// `mid_value = client_value + spread_value + residue`, all in the target currency.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Conversion {
    pub source: Money,
    /// The exact mid-market value, rounded half-even.
    pub mid_value: Money,
    /// What the converted party gets: the value at the client rate, rounded down.
    pub client_value: Money,
    /// The platform's spread, rounded half-even.
    pub spread_value: Money,
    /// What the three independent roundings leave over; goes to the rounding account.
    /// Can be negative.
    pub residue: Money,
    pub rate: FxRate,
    /// `mid * (1 - spread)`, as applied to `client_value`.
    pub client_rate: Decimal,
}

/// Converts `amount` (in `rate.from`) into `rate.to` at `rate.mid` less `spread`.
pub fn convert(amount: Money, rate: &FxRate, spread: Spread) -> Result<Conversion, FxError> {
    if amount.currency() != rate.from {
        return Err(FxError::Money(MoneyError::CurrencyMismatch {
            left: amount.currency(),
            right: rate.from,
        }));
    }
    let client_rate = rate
        .mid
        .checked_mul(
            Decimal::ONE
                .checked_sub(spread.0)
                .ok_or(MoneyError::Overflow)?,
        )
        .ok_or(MoneyError::Overflow)?;
    let mid_value = amount.convert(rate.mid, rate.to, Rounding::HalfEven)?.value;
    let client_value = amount.convert(client_rate, rate.to, Rounding::Down)?.value;
    let spread_rate = rate.mid.checked_mul(spread.0).ok_or(MoneyError::Overflow)?;
    let spread_value = if spread_rate.is_zero() {
        Money::zero(rate.to)
    } else {
        amount
            .convert(spread_rate, rate.to, Rounding::HalfEven)?
            .value
    };
    let residue = mid_value
        .checked_sub(client_value)?
        .checked_sub(spread_value)?;
    Ok(Conversion {
        source: amount,
        mid_value,
        client_value,
        spread_value,
        residue,
        rate: rate.clone(),
        client_rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::prelude::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn ecb() -> RateSet {
        RateSet {
            source: "ecb".into(),
            base: Currency::EUR,
            effective_at: Timestamp::from_micros(1_000),
            rates: [
                (Currency::USD, dec("1.0823")),
                (Currency::BRL, dec("5.9862")),
                (Currency::JPY, dec("161.27")),
            ]
            .into_iter()
            .collect(),
        }
    }

    fn configured() -> RateSet {
        RateSet {
            source: "configured".into(),
            base: Currency::USD,
            effective_at: Timestamp::from_micros(500),
            rates: [(Currency::KWD, dec("0.3075"))].into_iter().collect(),
        }
    }

    #[test]
    fn cross_rates_go_through_the_pivot() {
        let book = RateBook::new(vec![ecb(), configured()]).unwrap();
        let rate = book.mid(Currency::BRL, Currency::EUR).unwrap();
        assert_eq!(
            rate.mid,
            (Decimal::ONE / dec("5.9862")).round_dp(RATE_SCALE)
        );
        assert_eq!(rate.source, "ecb");
        let rate = book.mid(Currency::USD, Currency::JPY).unwrap();
        assert_eq!(
            rate.mid,
            (dec("161.27") / dec("1.0823")).round_dp(RATE_SCALE)
        );
        assert_eq!(
            book.mid(Currency::EUR, Currency::EUR).unwrap().mid,
            Decimal::ONE
        );
    }

    #[test]
    fn a_second_source_prices_what_the_first_does_not() {
        let book = RateBook::new(vec![ecb(), configured()]).unwrap();
        let rate = book.mid(Currency::EUR, Currency::KWD).unwrap();
        assert_eq!(
            rate.mid,
            (dec("0.3075") * dec("1.0823")).round_dp(RATE_SCALE)
        );
        assert_eq!(rate.source, "ecb+configured");
        assert_eq!(rate.effective_at, Timestamp::from_micros(500));
        assert_eq!(
            book.mid(Currency::EUR, Currency::BHD),
            Err(FxError::NoRate {
                from: Currency::EUR,
                to: Currency::BHD
            })
        );
    }

    #[test]
    fn non_positive_rates_are_refused() {
        let mut set = ecb();
        set.rates.insert(Currency::GBP, Decimal::ZERO);
        assert!(matches!(
            RateBook::new(vec![set]),
            Err(FxError::InvalidData { .. })
        ));
    }

    #[test]
    fn every_minor_unit_of_a_conversion_is_accounted_for() {
        let book = RateBook::new(vec![ecb()]).unwrap();
        let rate = book.mid(Currency::BRL, Currency::EUR).unwrap();
        let spread = Spread::new(dec("0.02")).unwrap();
        for minor in [1_i64, 99, 10_000, 12_345, 999_999_999] {
            let c = convert(Money::from_minor(minor, Currency::BRL), &rate, spread).unwrap();
            assert_eq!(
                c.mid_value.minor(),
                c.client_value.minor() + c.spread_value.minor() + c.residue.minor()
            );
            assert!(c.residue.minor().abs() <= 2, "{c:?}");
        }
        let c = convert(Money::from_minor(10_000, Currency::BRL), &rate, spread).unwrap();
        // 100 BRL / 5.9862 = 16.7051...; at 2% spread the client gets 16.37 EUR.
        assert_eq!(c.mid_value, Money::from_minor(1_671, Currency::EUR));
        assert_eq!(c.client_value, Money::from_minor(1_637, Currency::EUR));
        assert_eq!(c.spread_value, Money::from_minor(33, Currency::EUR));
        assert_eq!(c.residue, Money::from_minor(1, Currency::EUR));
    }

    #[test]
    fn spreads_are_bounded_and_currencies_checked() {
        assert_eq!(Spread::new(dec("-0.01")), Err(FxError::InvalidSpread));
        assert_eq!(Spread::new(dec("0.11")), Err(FxError::InvalidSpread));
        let book = RateBook::new(vec![ecb()]).unwrap();
        let rate = book.mid(Currency::BRL, Currency::EUR).unwrap();
        assert!(convert(Money::from_minor(1, Currency::USD), &rate, Spread::ZERO).is_err());
    }
}
