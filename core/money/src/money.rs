use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::{Currency, MoneyError};

/// The longest decimal string [`Money::parse`] reads. `i64` has 19 digits; anything much
/// longer is out of range, and refusing it early bounds the work done on hostile input.
const PARSE_LEN_MAX: usize = 40;

/// An amount of money: a signed count of minor units of one currency.
///
/// `Money` can be negative (an adjustment, a net balance); the ledger insists on positive
/// transfer amounts itself.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

/// The rule used when an exact result falls between two minor units.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Rounding {
    /// To the nearest unit; a tie goes to the even neighbour (banker's rounding).
    HalfEven,
    /// To the nearest unit; a tie goes away from zero (the rule of most tax authorities).
    HalfUp,
    /// Towards zero: the fraction is dropped.
    Down,
}

impl Rounding {
    fn strategy(self) -> RoundingStrategy {
        match self {
            Self::HalfEven => RoundingStrategy::MidpointNearestEven,
            Self::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Self::Down => RoundingStrategy::ToZero,
        }
    }
}

/// A rounded result and what rounding took away.
///
/// `residue` is in minor units of `value`'s currency and exact:
/// `value.minor() + residue` equals the unrounded result.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Rounded {
    /// The result rounded to whole minor units with the requested [`Rounding`].
    pub value: Money,
    /// The exact result minus `value`, in minor units; its magnitude is below one minor
    /// unit (at most one half unless the rule is [`Rounding::Down`]).
    pub residue: Decimal,
}

impl Money {
    /// An amount of `minor` minor units of `currency`.
    pub const fn from_minor(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Zero in `currency`.
    pub const fn zero(currency: Currency) -> Self {
        Self::from_minor(0, currency)
    }

    /// The amount in minor units.
    pub const fn minor(self) -> i64 {
        self.minor
    }

    /// The currency.
    pub const fn currency(self) -> Currency {
        self.currency
    }

    /// Whether the amount is exactly zero minor units.
    pub const fn is_zero(self) -> bool {
        self.minor == 0
    }

    /// Whether the amount is greater than zero; zero is neither positive nor negative.
    pub const fn is_positive(self) -> bool {
        self.minor > 0
    }

    /// Whether the amount is less than zero.
    pub const fn is_negative(self) -> bool {
        self.minor < 0
    }

    /// Reads a plain decimal string (`12`, `12.5`, `-0.75`) as an amount of `currency`.
    ///
    /// The grammar is `-?[0-9]+(\.[0-9]+)?`: no sign other than a leading minus, no
    /// exponent, no grouping separators, no surrounding white space. The number of
    /// written decimals may not exceed the currency's exponent (`1.50` is not a JPY
    /// amount, and neither is `1.0`); nothing is ever rounded.
    pub fn parse(input: &str, currency: Currency) -> Result<Self, MoneyError> {
        if input.is_empty() {
            return Err(MoneyError::Empty);
        }
        if input.len() > PARSE_LEN_MAX {
            return Err(if is_plain_decimal(input) {
                MoneyError::OutOfRange
            } else {
                MoneyError::Malformed
            });
        }
        if !is_plain_decimal(input) {
            return Err(MoneyError::Malformed);
        }
        let written = input
            .split_once('.')
            .map_or(0, |(_, fraction)| fraction.len());
        let allowed = currency.exponent();
        let found = u32::try_from(written).map_err(|_| MoneyError::OutOfRange)?;
        if found > allowed {
            return Err(MoneyError::TooManyDecimals {
                currency,
                allowed,
                found,
            });
        }
        let mut value = Decimal::from_str_exact(input).map_err(|_| MoneyError::OutOfRange)?;
        value.rescale(allowed);
        if value.scale() != allowed {
            // rescale gives up silently when the mantissa cannot hold the extra digits.
            return Err(MoneyError::OutOfRange);
        }
        let minor = i64::try_from(value.mantissa()).map_err(|_| MoneyError::OutOfRange)?;
        Ok(Self::from_minor(minor, currency))
    }

    /// The amount as a decimal in major units, with exactly the currency's decimals.
    pub fn to_decimal(self) -> Decimal {
        Decimal::from_i128_with_scale(i128::from(self.minor), self.currency.exponent())
    }

    /// The amount as a plain decimal string, e.g. `12.30`, `500` (JPY), `1.250` (KWD).
    /// [`Money::parse`] reads it back to the same value.
    pub fn amount_string(self) -> String {
        self.to_decimal().to_string()
    }

    /// The sum of two amounts of the same currency.
    ///
    /// Fails with [`MoneyError::CurrencyMismatch`] if the currencies differ and with
    /// [`MoneyError::Overflow`] if the sum does not fit in 64-bit minor units.
    pub fn checked_add(self, other: Self) -> Result<Self, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Self::from_minor(minor, self.currency))
    }

    /// `self` minus `other`, both of the same currency.
    ///
    /// Fails with [`MoneyError::CurrencyMismatch`] if the currencies differ and with
    /// [`MoneyError::Overflow`] if the difference does not fit in 64-bit minor units.
    pub fn checked_sub(self, other: Self) -> Result<Self, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Self::from_minor(minor, self.currency))
    }

    /// The same amount with the opposite sign.
    ///
    /// Fails with [`MoneyError::Overflow`] only for `i64::MIN` minor units, which has no
    /// positive counterpart.
    pub fn checked_neg(self) -> Result<Self, MoneyError> {
        let minor = self.minor.checked_neg().ok_or(MoneyError::Overflow)?;
        Ok(Self::from_minor(minor, self.currency))
    }

    /// Multiplies by an exact decimal factor (a commission rate, a tax rate) and rounds to
    /// whole minor units with the named rule.
    pub fn mul_decimal(self, factor: Decimal, rounding: Rounding) -> Result<Rounded, MoneyError> {
        let exact = Decimal::from(self.minor)
            .checked_mul(factor)
            .ok_or(MoneyError::Overflow)?;
        round_minor(exact, self.currency, rounding)
    }

    /// Converts into `target` at `rate` (units of `target` per unit of `self`'s currency),
    /// rounding to whole minor units of `target` with the named rule.
    pub fn convert(
        self,
        rate: Decimal,
        target: Currency,
        rounding: Rounding,
    ) -> Result<Rounded, MoneyError> {
        if rate <= Decimal::ZERO {
            return Err(MoneyError::NonPositiveRate);
        }
        let target_scale = Decimal::from(
            10_i64
                .checked_pow(target.exponent())
                .ok_or(MoneyError::Overflow)?,
        );
        let exact = self
            .to_decimal()
            .checked_mul(rate)
            .and_then(|major| major.checked_mul(target_scale))
            .ok_or(MoneyError::Overflow)?;
        round_minor(exact, target, rounding)
    }

    /// Splits the amount into parts proportional to `weights`, in minor units, so that the
    /// parts add up to the amount exactly (largest-remainder method; ties go to the
    /// earlier part). Nothing is lost, so no residue is returned.
    pub fn allocate(self, weights: &[u64]) -> Result<Vec<Self>, MoneyError> {
        let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
        if total == 0 {
            return Err(MoneyError::NoWeights);
        }
        let amount = i128::from(self.minor);
        let magnitude = amount.unsigned_abs();
        let mut parts = Vec::with_capacity(weights.len());
        let mut remainders = Vec::with_capacity(weights.len());
        let mut allotted: u128 = 0;
        for &weight in weights {
            // magnitude < 2^64 and weight < 2^64, so the product fits in u128.
            let product = magnitude
                .checked_mul(u128::from(weight))
                .ok_or(MoneyError::Overflow)?;
            let share = product.checked_div(total).ok_or(MoneyError::NoWeights)?;
            let remainder = product.checked_rem(total).ok_or(MoneyError::NoWeights)?;
            allotted = allotted.checked_add(share).ok_or(MoneyError::Overflow)?;
            parts.push(share);
            remainders.push(remainder);
        }
        let mut leftover = magnitude
            .checked_sub(allotted)
            .ok_or(MoneyError::Overflow)?;
        let mut order: Vec<usize> = (0..weights.len()).collect();
        order.sort_by(|&a, &b| remainders.get(b).cmp(&remainders.get(a)).then(a.cmp(&b)));
        for index in order {
            if leftover == 0 {
                break;
            }
            if let Some(part) = parts.get_mut(index) {
                *part = part.checked_add(1).ok_or(MoneyError::Overflow)?;
                leftover = leftover.checked_sub(1).ok_or(MoneyError::Overflow)?;
            }
        }
        parts
            .into_iter()
            .map(|part| {
                let part = i128::try_from(part).map_err(|_| MoneyError::Overflow)?;
                let signed = if amount < 0 {
                    part.checked_neg().ok_or(MoneyError::Overflow)?
                } else {
                    part
                };
                let minor = i64::try_from(signed).map_err(|_| MoneyError::Overflow)?;
                Ok(Self::from_minor(minor, self.currency))
            })
            .collect()
    }

    fn same_currency(self, other: Self) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }
}

/// Rounds an exact amount of minor units to a whole number of them.
fn round_minor(
    exact: Decimal,
    currency: Currency,
    rounding: Rounding,
) -> Result<Rounded, MoneyError> {
    let mut rounded = exact.round_dp_with_strategy(0, rounding.strategy());
    rounded.rescale(0);
    let minor = i64::try_from(rounded.mantissa()).map_err(|_| MoneyError::Overflow)?;
    let residue = exact.checked_sub(rounded).ok_or(MoneyError::Overflow)?;
    Ok(Rounded {
        value: Money::from_minor(minor, currency),
        residue: residue.normalize(),
    })
}

fn is_plain_decimal(input: &str) -> bool {
    let unsigned = input.strip_prefix('-').unwrap_or(input);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && fraction.is_none_or(digits)
}

impl fmt::Display for Money {
    /// `12.30 EUR`, `500 JPY`, `-1.250 KWD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount_string(), self.currency)
    }
}

#[cfg(test)]
#[expect(
    clippy::arithmetic_side_effects,
    reason = "the tests compute expected values on bounded inputs"
)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    #[test]
    fn parses_to_minor_units_by_exponent() {
        assert_eq!(Money::parse("12.34", Currency::EUR), Ok(eur(1234)));
        assert_eq!(Money::parse("12.3", Currency::EUR), Ok(eur(1230)));
        assert_eq!(Money::parse("12", Currency::EUR), Ok(eur(1200)));
        assert_eq!(Money::parse("-0.05", Currency::EUR), Ok(eur(-5)));
        assert_eq!(
            Money::parse("500", Currency::JPY),
            Ok(Money::from_minor(500, Currency::JPY))
        );
        assert_eq!(
            Money::parse("1.250", Currency::KWD),
            Ok(Money::from_minor(1250, Currency::KWD))
        );
        assert_eq!(
            Money::parse("0.001", Currency::BHD),
            Ok(Money::from_minor(1, Currency::BHD))
        );
    }

    #[test]
    fn refuses_more_decimals_than_the_currency_has() {
        assert_eq!(
            Money::parse("1.5", Currency::JPY),
            Err(MoneyError::TooManyDecimals {
                currency: Currency::JPY,
                allowed: 0,
                found: 1
            })
        );
        assert!(matches!(
            Money::parse("1.0", Currency::JPY),
            Err(MoneyError::TooManyDecimals { .. })
        ));
        assert!(matches!(
            Money::parse("12.345", Currency::EUR),
            Err(MoneyError::TooManyDecimals { found: 3, .. })
        ));
        assert!(matches!(
            Money::parse("1.2345", Currency::KWD),
            Err(MoneyError::TooManyDecimals { found: 4, .. })
        ));
    }

    #[test]
    fn refuses_malformed_and_empty_input() {
        assert_eq!(Money::parse("", Currency::EUR), Err(MoneyError::Empty));
        for bad in [
            "abc", "1,00", "1.", ".5", "+1", " 1", "1 ", "1e3", "--1", "1.2.3", "-", "NaN",
            "1_000", "١٢", "0x10", "∞",
        ] {
            assert_eq!(
                Money::parse(bad, Currency::EUR),
                Err(MoneyError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn refuses_out_of_range_input() {
        assert_eq!(
            Money::parse("92233720368547758.08", Currency::EUR),
            Err(MoneyError::OutOfRange)
        );
        assert_eq!(
            Money::parse("92233720368547758.07", Currency::EUR),
            Ok(eur(i64::MAX))
        );
        assert_eq!(
            Money::parse("-92233720368547758.08", Currency::EUR),
            Ok(eur(i64::MIN))
        );
        assert_eq!(
            Money::parse(&"9".repeat(30), Currency::JPY),
            Err(MoneyError::OutOfRange)
        );
        assert_eq!(
            Money::parse(&"9".repeat(100), Currency::JPY),
            Err(MoneyError::OutOfRange)
        );
        assert_eq!(
            Money::parse(&"x".repeat(100), Currency::JPY),
            Err(MoneyError::Malformed)
        );
    }

    #[test]
    fn formats_with_the_currency_exponent() {
        assert_eq!(eur(1230).to_string(), "12.30 EUR");
        assert_eq!(eur(-5).amount_string(), "-0.05");
        assert_eq!(Money::from_minor(500, Currency::JPY).to_string(), "500 JPY");
        assert_eq!(
            Money::from_minor(1250, Currency::KWD).to_string(),
            "1.250 KWD"
        );
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies_and_overflow() {
        let jpy = Money::from_minor(1, Currency::JPY);
        assert_eq!(
            eur(1).checked_add(jpy),
            Err(MoneyError::CurrencyMismatch {
                left: Currency::EUR,
                right: Currency::JPY
            })
        );
        assert!(matches!(
            eur(1).checked_sub(jpy),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
        assert_eq!(eur(i64::MAX).checked_add(eur(1)), Err(MoneyError::Overflow));
        assert_eq!(eur(i64::MIN).checked_sub(eur(1)), Err(MoneyError::Overflow));
        assert_eq!(eur(i64::MIN).checked_neg(), Err(MoneyError::Overflow));
        assert_eq!(eur(5).checked_add(eur(7)), Ok(eur(12)));
    }

    #[test]
    fn rounding_rules_differ_only_where_they_should() {
        let rate = Decimal::new(5, 1); // 0.5
        // 25 * 0.5 = 12.5: a tie.
        let half_even = eur(25).mul_decimal(rate, Rounding::HalfEven).unwrap();
        let half_up = eur(25).mul_decimal(rate, Rounding::HalfUp).unwrap();
        let down = eur(25).mul_decimal(rate, Rounding::Down).unwrap();
        assert_eq!(half_even.value, eur(12));
        assert_eq!(half_even.residue, Decimal::new(5, 1));
        assert_eq!(half_up.value, eur(13));
        assert_eq!(half_up.residue, Decimal::new(-5, 1));
        assert_eq!(down.value, eur(12));
        // -25 * 0.5 = -12.5
        assert_eq!(
            eur(-25).mul_decimal(rate, Rounding::HalfUp).unwrap().value,
            eur(-13)
        );
        assert_eq!(
            eur(-25).mul_decimal(rate, Rounding::Down).unwrap().value,
            eur(-12)
        );
        // 10% commission of 119.99 EUR = 11.999 -> 12.00, residue -0.001 EUR = -0.1 minor.
        let commission = eur(11_999)
            .mul_decimal(Decimal::new(10, 2), Rounding::HalfEven)
            .unwrap();
        assert_eq!(commission.value, eur(1_200));
        assert_eq!(commission.residue, Decimal::new(-1, 1));
    }

    #[test]
    fn converts_between_exponents() {
        // 100.00 EUR at 161.23 JPY/EUR = 16123 JPY exactly.
        let jpy = eur(10_000)
            .convert(Decimal::new(16_123, 2), Currency::JPY, Rounding::HalfEven)
            .unwrap();
        assert_eq!(jpy.value, Money::from_minor(16_123, Currency::JPY));
        assert_eq!(jpy.residue, Decimal::ZERO);
        // 1 JPY at 0.0062 EUR/JPY = 0.62 minor units of EUR -> 1 cent, residue -0.38.
        let cents = Money::from_minor(1, Currency::JPY)
            .convert(Decimal::new(62, 4), Currency::EUR, Rounding::HalfEven)
            .unwrap();
        assert_eq!(cents.value, eur(1));
        assert_eq!(cents.residue, Decimal::new(-38, 2));
        // 10.00 EUR at 0.3315 KWD/EUR = 3.315 KWD.
        let kwd = eur(1_000)
            .convert(Decimal::new(3_315, 4), Currency::KWD, Rounding::Down)
            .unwrap();
        assert_eq!(kwd.value, Money::from_minor(3_315, Currency::KWD));
        assert_eq!(
            eur(1).convert(Decimal::ZERO, Currency::USD, Rounding::Down),
            Err(MoneyError::NonPositiveRate)
        );
        assert_eq!(
            eur(i64::MAX).convert(Decimal::new(1_000, 0), Currency::KWD, Rounding::Down),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn allocation_is_exact_and_deterministic() {
        assert_eq!(
            eur(100).allocate(&[1, 1, 1]),
            Ok(vec![eur(34), eur(33), eur(33)])
        );
        assert_eq!(
            eur(-100).allocate(&[1, 1, 1]),
            Ok(vec![eur(-34), eur(-33), eur(-33)])
        );
        assert_eq!(eur(5).allocate(&[90, 10]), Ok(vec![eur(5), eur(0)]));
        assert_eq!(eur(5).allocate(&[]), Err(MoneyError::NoWeights));
        assert_eq!(eur(5).allocate(&[0, 0]), Err(MoneyError::NoWeights));
    }

    fn currency() -> impl Strategy<Value = Currency> {
        prop::sample::select(vec![
            Currency::EUR,
            Currency::JPY,
            Currency::KWD,
            Currency::BHD,
            Currency::USD,
        ])
    }

    #[test]
    fn products_beyond_64_bits_are_refused() {
        // The smallest case a property run found: about -9.2e18 minor units.
        let result =
            eur(-950_910_936_226).mul_decimal(Decimal::new(9_699_512, 0), Rounding::HalfEven);
        assert_eq!(result, Err(MoneyError::Overflow));
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(minor in any::<i64>(), currency in currency()) {
            let money = Money::from_minor(minor, currency);
            prop_assert_eq!(Money::parse(&money.amount_string(), currency), Ok(money));
        }

        #[test]
        fn parse_never_panics(input in ".{0,64}", currency in currency()) {
            let _ = Money::parse(&input, currency);
        }

        #[test]
        fn addition_is_commutative_and_checked(a in any::<i64>(), b in any::<i64>()) {
            let sum = eur(a).checked_add(eur(b));
            prop_assert_eq!(sum.clone(), eur(b).checked_add(eur(a)));
            match a.checked_add(b) {
                Some(expected) => prop_assert_eq!(sum, Ok(eur(expected))),
                None => prop_assert_eq!(sum, Err(MoneyError::Overflow)),
            }
        }

        #[test]
        fn rounding_residue_is_exact(
            minor in -1_000_000_000_000_i64..1_000_000_000_000,
            rate_mantissa in 0_i64..10_000_000,
            rate_scale in 0_u32..8,
            rounding in prop::sample::select(vec![Rounding::HalfEven, Rounding::HalfUp, Rounding::Down]),
        ) {
            let rate = Decimal::new(rate_mantissa, rate_scale);
            let exact = Decimal::from(minor) * rate;
            let result = eur(minor).mul_decimal(rate, rounding);
            let in_range = exact.abs() <= Decimal::from(i64::MAX) - Decimal::ONE;
            if !in_range {
                // Products beyond 64-bit minor units are refused, never wrapped.
                prop_assert!(result.is_err() || i64::try_from(exact.round()).is_ok());
                return Ok(());
            }
            let rounded = result.unwrap();
            prop_assert_eq!(Decimal::from(rounded.value.minor()) + rounded.residue, exact);
            prop_assert!(rounded.residue.abs() < Decimal::ONE);
            if rounding != Rounding::Down {
                prop_assert!(rounded.residue.abs() <= Decimal::new(5, 1));
            }
        }

        #[test]
        fn allocation_adds_up(minor in any::<i64>(), weights in prop::collection::vec(0_u64..1_000_000, 1..12)) {
            prop_assume!(weights.iter().any(|&w| w > 0));
            let parts = eur(minor).allocate(&weights).unwrap();
            prop_assert_eq!(parts.len(), weights.len());
            let total: i128 = parts.iter().map(|p| i128::from(p.minor())).sum();
            prop_assert_eq!(total, i128::from(minor));
            for (part, weight) in parts.iter().zip(&weights) {
                if *weight == 0 {
                    prop_assert_eq!(part.minor(), 0);
                }
            }
        }
    }
}
