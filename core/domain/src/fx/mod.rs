//! Exchange rates and currency conversion.
//!
//! A rate source (the [`FxRateSource`] port) publishes a [`RateSet`]: the value of one unit
//! of a base currency in other currencies, with the time the rates took effect. A
//! [`RateBook`] combines sets from several sources (the European Central Bank's reference
//! rates, then a configured table for currencies the ECB does not publish) and answers
//! mid-market cross rates. [`convert`] turns an amount into another currency at the mid
//! rate less a spread, and says exactly where every minor unit went.
//!
//! # Stale rates
//!
//! A book built [`with_max_age`](RateBook::with_max_age) refuses to quote
//! ([`FxError::Stale`], code `fx_rate_stale`) once its primary set (the first, the one a
//! rate worker refreshes) is too old. A set's age counts from when the ECB should have
//! replaced it: the rates of a date are due to be replaced at 16:00 Central European Time
//! on the next TARGET working day ([`calendar`]), so Friday's rates do not age over the
//! weekend, nor Thursday's over Easter. [`Freshness`] says when a set was due to be
//! replaced and from when it is refused.

pub mod calendar;

use std::collections::BTreeMap;
use std::future::Future;

use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money, MoneyError, Rounding};
use rust_decimal::Decimal;

use self::calendar::Date;

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
    NoRate {
        /// The currency converted from.
        from: Currency,
        /// The currency converted to.
        to: Currency,
    },
    /// A source published a rate of zero or below, or a document that is not a rate table.
    #[error("rate source {source_name} published invalid data: {reason}")]
    InvalidData {
        /// The source's short name, e.g. `ecb`.
        source_name: String,
        /// What is wrong with the data.
        reason: String,
    },
    /// The source cannot be reached now; the caller may retry.
    #[error("rate source {source_name} is unavailable: {reason}")]
    Unavailable {
        /// The source's short name, e.g. `ecb`.
        source_name: String,
        /// Why it cannot be reached, as the transport or the file system said.
        reason: String,
    },
    /// The spread is negative or larger than [`SPREAD_MAX`].
    #[error("spread must be between 0 and 10%")]
    InvalidSpread,
    /// The newest rates are older than the allowed age; no quote until they are refreshed.
    #[error(
        "the exchange rates of {rate_date} are out of date; no quotes until they are refreshed"
    )]
    Stale {
        /// The date of the primary set's rates.
        rate_date: Date,
    },
    /// Money arithmetic failed, e.g. an overflow or an amount not in the rate's `from`
    /// currency; the code is the money error's own.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl FxError {
    /// A stable, machine-readable code, e.g. `fx_rate_stale`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoRate { .. } => "fx_rate_unavailable",
            Self::InvalidData { .. } => "fx_source_invalid",
            Self::Unavailable { .. } => "fx_source_unavailable",
            Self::InvalidSpread => "fx_spread_invalid",
            Self::Stale { .. } => "fx_rate_stale",
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
    /// The source's latest publication.
    fn fetch(&self) -> impl Future<Output = Result<RateSet, FxError>> + Send;
}

/// A mid-market rate between two currencies, with where it came from.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FxRate {
    /// The currency converted from.
    pub from: Currency,
    /// The currency converted to.
    pub to: Currency,
    /// Units of `to` per one unit of `from`, rounded to [`RATE_SCALE`] places.
    pub mid: Decimal,
    /// The source names of the sets used, joined by `+`.
    pub source: String,
    /// The oldest effective time among the sets used.
    pub effective_at: Timestamp,
}

/// How long after the ECB should have replaced them rates may still be quoted.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MaxAge {
    /// Seconds after [`Freshness::replaced_at`] during which the rates are still quoted.
    pub secs: u32,
}

/// How fresh a rate set is: its date, when it was due to be replaced, and from when a book
/// with a [`MaxAge`] refuses to quote it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Freshness {
    /// The UTC date of the set's `effective_at`; for the ECB, the date it publishes.
    pub rate_date: Date,
    /// The set's `effective_at`.
    pub effective_at: Timestamp,
    /// 16:00 Central European Time on the TARGET working day after `rate_date`, when the
    /// ECB publishes the rates that replace these.
    pub replaced_at: Timestamp,
    /// `replaced_at` plus the maximum age; `None` when no maximum age is enforced.
    pub stale_from: Option<Timestamp>,
}

impl Freshness {
    /// Decides how fresh `set` is; `None` only for dates out of the calendar's range.
    pub fn of(set: &RateSet, max_age: Option<MaxAge>) -> Option<Self> {
        let rate_date = Date::of_instant(set.effective_at)?;
        let replaced_at = rate_date
            .next_target_working_day()?
            .ecb_publication_time()?;
        Some(Self {
            rate_date,
            effective_at: set.effective_at,
            replaced_at,
            stale_from: max_age.map(|age| replaced_at.saturating_add_secs(age.secs)),
        })
    }

    /// Whether quotes are refused at `now`.
    pub fn is_stale(&self, now: Timestamp) -> bool {
        self.stale_from.is_some_and(|from| now >= from)
    }
}

/// Rates from several sources, in order of preference.
#[derive(Clone, Debug, Default)]
pub struct RateBook {
    sets: Vec<RateSet>,
    max_age: Option<MaxAge>,
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
        Ok(Self {
            sets,
            max_age: None,
        })
    }

    /// The same book, refusing to quote once its primary set is older than `max_age`
    /// (`None`: never refuses).
    pub fn with_max_age(self, max_age: Option<MaxAge>) -> Self {
        Self { max_age, ..self }
    }

    /// The sets, in order of preference; the first is the primary set.
    pub fn sets(&self) -> &[RateSet] {
        &self.sets
    }

    /// How fresh the primary set is; `None` for an empty book.
    pub fn freshness(&self) -> Option<Freshness> {
        Freshness::of(self.sets.first()?, self.max_age)
    }

    /// The mid rate from `from` to `to` for a quote at `now`: as [`Self::mid`], but
    /// [`FxError::Stale`] when the book's rates are too old. Converting a currency into
    /// itself needs no rate and is never refused.
    pub fn quote(&self, from: Currency, to: Currency, now: Timestamp) -> Result<FxRate, FxError> {
        if from != to
            && let Some(freshness) = self.freshness()
            && freshness.is_stale(now)
        {
            return Err(FxError::Stale {
                rate_date: freshness.rate_date,
            });
        }
        self.mid(from, to)
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
    /// A spread of `fraction` (`0.02` for 2%); [`FxError::InvalidSpread`] when it is below 0
    /// or above [`SPREAD_MAX`].
    pub fn new(fraction: Decimal) -> Result<Self, FxError> {
        if fraction < Decimal::ZERO || fraction > SPREAD_MAX {
            return Err(FxError::InvalidSpread);
        }
        Ok(Self(fraction))
    }

    /// No spread: the client rate is the mid rate.
    pub const ZERO: Self = Self(Decimal::ZERO);

    /// The fraction kept, e.g. `0.02`; stored with every quote that uses it.
    pub fn fraction(self) -> Decimal {
        self.0
    }
}

/// A conversion, with every minor unit accounted for:
/// `mid_value = client_value + spread_value + residue`, all in the target currency.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Conversion {
    /// The amount converted, in the rate's `from` currency.
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
    /// The mid-market rate converted at.
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

    /// The set of a date, effective at its ECB publication time.
    fn ecb_of(text: &str) -> RateSet {
        let effective_at = Date::parse_iso(text)
            .and_then(Date::ecb_publication_time)
            .unwrap();
        RateSet {
            effective_at,
            ..ecb()
        }
    }

    /// `hour_utc`:00 UTC on a date.
    #[expect(clippy::arithmetic_side_effects, reason = "small test instants")]
    fn at(text: &str, hour_utc: i64) -> Timestamp {
        const DAY: i64 = 86_400_000_000;
        // The publication time falls within its UTC day, so it finds the day's midnight.
        let publication = Date::parse_iso(text)
            .and_then(Date::ecb_publication_time)
            .unwrap()
            .as_micros();
        let midnight = publication - publication.rem_euclid(DAY);
        Timestamp::from_micros(midnight + hour_utc * 3_600_000_000)
    }

    #[test]
    fn rates_age_from_when_the_ecb_should_have_replaced_them() {
        let day = MaxAge { secs: 86_400 };
        // Friday 15 July 2022 (summer time: published 14:00 UTC); replaced on Monday.
        let friday = Freshness::of(&ecb_of("2022-07-15"), Some(day)).unwrap();
        assert_eq!(friday.rate_date.to_string(), "2022-07-15");
        assert_eq!(friday.replaced_at, at("2022-07-18", 14));
        assert_eq!(friday.stale_from, Some(at("2022-07-19", 14)));
        assert!(!friday.is_stale(at("2022-07-17", 23)));
        assert!(!friday.is_stale(at("2022-07-19", 13)));
        assert!(friday.is_stale(at("2022-07-19", 14)));
        // Thursday before Easter 2025 (winter rules end 30 March: 14:00 UTC), replaced on
        // the Tuesday after Easter Monday.
        let easter = Freshness::of(&ecb_of("2025-04-17"), Some(day)).unwrap();
        assert_eq!(easter.replaced_at, at("2025-04-22", 14));
        assert!(!easter.is_stale(at("2025-04-23", 13)));
        assert!(easter.is_stale(at("2025-04-23", 14)));
        // Winter: 16:00 in Frankfurt is 15:00 UTC.
        let winter = Freshness::of(&ecb_of("2025-12-24"), None).unwrap();
        assert_eq!(winter.replaced_at, at("2025-12-29", 15));
        assert_eq!(winter.stale_from, None);
        assert!(!winter.is_stale(Timestamp::MAX));
    }

    #[test]
    fn a_stale_book_refuses_to_quote_but_converts_a_currency_into_itself() {
        let book = RateBook::new(vec![ecb_of("2022-07-18"), configured()])
            .unwrap()
            .with_max_age(Some(MaxAge { secs: 3_600 }));
        let before = at("2022-07-19", 14);
        let after = at("2022-07-19", 15);
        assert_eq!(
            book.quote(Currency::EUR, Currency::USD, before),
            book.mid(Currency::EUR, Currency::USD)
        );
        let stale = book.quote(Currency::EUR, Currency::KWD, after);
        assert_eq!(
            stale,
            Err(FxError::Stale {
                rate_date: Date::parse_iso("2022-07-18").unwrap()
            })
        );
        assert_eq!(stale.unwrap_err().code(), "fx_rate_stale");
        assert_eq!(
            book.quote(Currency::USD, Currency::USD, after).unwrap().mid,
            Decimal::ONE
        );
        // Without a maximum age the same book quotes at any time.
        let lenient = book.with_max_age(None);
        assert!(
            lenient
                .quote(Currency::EUR, Currency::USD, Timestamp::MAX)
                .is_ok()
        );
        assert!(RateBook::default().freshness().is_none());
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
