//! Reading the two fields every rate document has, a currency code and a rate, the same way
//! for every source, and quoting bad input safely in error messages.

use std::fmt;

use bazaar_domain::fx::FxError;
use bazaar_money::{Currency, MoneyError};
use rust_decimal::Decimal;

/// At most this many characters of bad input appear in an error message.
const FRAGMENT_CHARS: usize = 12;

/// A rate longer than this is not a published rate; the bound also keeps the text within
/// what `Decimal` holds exactly (28 digits).
const RATE_MAX_CHARS: usize = 24;

/// What a well-formed currency code turned out to be.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Code {
    /// A currency Bazaar can hold amounts in.
    Usable(Currency),
    /// Three upper-case letters that `Currency` refuses: a code ISO 4217 does not list (yet),
    /// or one without a minor unit (gold, SDRs). A source may publish such a code; it cannot
    /// price anything Bazaar sells.
    Unusable,
}

/// Why a field could not be read. Holds only sanitised fragments of the input.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum FieldError {
    MalformedCode(String),
    MalformedRate(String),
    NotPositive(String),
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MalformedCode(code) => {
                write!(f, "currency code {code} is not three upper-case letters")
            }
            Self::MalformedRate(rate) => write!(f, "rate {rate} is not a decimal number"),
            Self::NotPositive(rate) => write!(f, "rate {rate} is not positive"),
        }
    }
}

/// Reads an ISO 4217-shaped code: exactly three ASCII upper-case letters.
pub(crate) fn currency_code(text: &str) -> Result<Code, FieldError> {
    let bytes = text.as_bytes();
    if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_uppercase) {
        return Err(FieldError::MalformedCode(fragment(text)));
    }
    match Currency::from_code(text) {
        Ok(currency) => Ok(Code::Usable(currency)),
        Err(MoneyError::UnknownCurrency { .. } | MoneyError::UnsupportedCurrency { .. }) => {
            Ok(Code::Unusable)
        }
        Err(_) => Err(FieldError::MalformedCode(fragment(text))),
    }
}

/// Reads a rate written as plain decimal digits with an optional fraction (`1.0131`,
/// `140.16`, `7`), and refuses zero and negative rates.
///
/// Stricter than `Decimal::from_str` on purpose: exponents, underscores, signs other than a
/// leading `-`, and leading or trailing dots are not how any source writes a rate, so they
/// signal a document that is not what it claims to be.
pub(crate) fn positive_rate(text: &str) -> Result<Decimal, FieldError> {
    let malformed = || FieldError::MalformedRate(fragment(text));
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    if text.len() > RATE_MAX_CHARS || !is_plain_decimal(unsigned) {
        return Err(malformed());
    }
    let rate = Decimal::from_str_exact(text).map_err(|_| malformed())?;
    if rate <= Decimal::ZERO {
        return Err(FieldError::NotPositive(fragment(text)));
    }
    Ok(rate)
}

/// Digits, optionally followed by a dot and more digits.
fn is_plain_decimal(text: &str) -> bool {
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    match text.split_once('.') {
        Some((whole, fraction)) => all_digits(whole) && all_digits(fraction),
        None => all_digits(text),
    }
}

/// A short, printable, quoted excerpt of untrusted input for an error message: at most
/// [`FRAGMENT_CHARS`] characters, anything but printable ASCII replaced by `?`, so a hostile
/// document cannot fill logs or smuggle control characters into them.
pub(crate) fn fragment(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(FRAGMENT_CHARS)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if text.chars().nth(FRAGMENT_CHARS).is_some() {
        out.push_str("...");
    }
    format!("\"{out}\"")
}

/// An `InvalidData` error of the named source.
pub(crate) fn invalid(source_name: &str, reason: impl Into<String>) -> FxError {
    FxError::InvalidData {
        source_name: source_name.to_owned(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_three_capitals_and_unknown_ones_are_unusable() {
        assert_eq!(currency_code("USD"), Ok(Code::Usable(Currency::USD)));
        assert_eq!(currency_code("KWD"), Ok(Code::Usable(Currency::KWD)));
        assert_eq!(currency_code("QQQ"), Ok(Code::Unusable));
        assert_eq!(currency_code("XDR"), Ok(Code::Unusable));
        for bad in ["usd", "US", "USDX", "", "U$D", "ÜSD", "US D"] {
            assert!(
                matches!(currency_code(bad), Err(FieldError::MalformedCode(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rates_are_plain_positive_decimals() {
        assert_eq!(
            positive_rate("1.0131"),
            Ok(Decimal::from_str_exact("1.0131").unwrap())
        );
        assert_eq!(positive_rate("7"), Ok(Decimal::from(7)));
        assert_eq!(positive_rate("15157.63"), Ok(Decimal::new(1_515_763, 2)));
        for bad in [
            "", "abc", "1,5", "1e3", "1_000", ".5", "5.", "1.2.3", " 1.5", "1.5 ", "+1.5", "--1",
            "0x10", "NaN", "inf",
        ] {
            assert!(
                matches!(positive_rate(bad), Err(FieldError::MalformedRate(_))),
                "{bad:?}"
            );
        }
        for bad in ["0", "0.0000", "-1", "-0.5", "-0"] {
            assert!(
                matches!(positive_rate(bad), Err(FieldError::NotPositive(_))),
                "{bad:?}"
            );
        }
        let long = "1".repeat(RATE_MAX_CHARS.checked_add(1).unwrap());
        assert!(matches!(
            positive_rate(&long),
            Err(FieldError::MalformedRate(_))
        ));
    }

    #[test]
    fn fragments_are_short_and_printable() {
        assert_eq!(fragment("abc"), "\"abc\"");
        assert_eq!(fragment("a\u{7}b\nc"), "\"a?b?c\"");
        assert_eq!(fragment(&"x".repeat(10_000)), "\"xxxxxxxxxxxx...\"");
        assert_eq!(fragment("€uro"), "\"?uro\"");
    }
}
