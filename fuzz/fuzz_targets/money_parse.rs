//! Any string, in any supported currency: parsing never panics, and whatever parses formats
//! back to a string that parses to the same amount. Arithmetic on parsed amounts never
//! panics either.
#![no_main]

use arbitrary::Arbitrary;
use bazaar_money::{Currency, Decimal, Money, Rounding};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    currency: Currency,
    text: &'a str,
    other: &'a str,
    code: &'a str,
    rate_mantissa: i64,
    rate_scale: u8,
    rounding: Rounding,
    weights: Vec<u64>,
}

fuzz_target!(|input: Input<'_>| {
    let _ = Currency::from_code(input.code);
    let Ok(money) = Money::parse(input.text, input.currency) else {
        return;
    };
    let formatted = money.amount_string();
    assert_eq!(Money::parse(&formatted, input.currency), Ok(money), "{formatted}");
    if let Ok(other) = Money::parse(input.other, input.currency) {
        let _ = money.checked_add(other);
        let _ = money.checked_sub(other);
    }
    let rate = Decimal::new(input.rate_mantissa, u32::from(input.rate_scale % 29));
    if let Ok(rounded) = money.mul_decimal(rate, input.rounding) {
        assert!(rounded.residue.abs() < Decimal::ONE);
    }
    let _ = money.convert(rate, Currency::JPY, input.rounding);
    if let Ok(parts) = money.allocate(&input.weights[..input.weights.len().min(64)]) {
        let total: i128 = parts.iter().map(|part| i128::from(part.minor())).sum();
        assert_eq!(total, i128::from(money.minor()));
    }
});
