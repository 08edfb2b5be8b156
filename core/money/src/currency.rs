use std::fmt;

use crate::MoneyError;

/// An ISO 4217 currency that has a minor unit, and so can hold amounts.
///
/// Codes without a minor unit (XAU, XDR, XXX, ...) and fund codes are refused when parsed,
/// so every `Currency` has a well-defined [`exponent`](Currency::exponent).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(iso_currency::Currency);

macro_rules! currency_constants {
    ($($code:ident),* $(,)?) => {
        impl Currency {
            $(
                #[doc = concat!("The ", stringify!($code), " currency.")]
                pub const $code: Currency = Currency(iso_currency::Currency::$code);
            )*
        }
    };
}

// The currencies Bazaar's markets use most. Any other supported code is available
// through `Currency::from_code`.
currency_constants!(
    AUD, BHD, BRL, CAD, CHF, CNY, EUR, GBP, IDR, INR, JPY, KRW, KWD, MXN, NGN, PLN, SEK, USD, ZAR,
);

impl Currency {
    /// Reads an upper-case three-letter ISO 4217 code such as `EUR`.
    pub fn from_code(code: &str) -> Result<Self, MoneyError> {
        let currency =
            iso_currency::Currency::from_code(code).ok_or_else(|| MoneyError::UnknownCurrency {
                code: code
                    .chars()
                    .take(8)
                    .filter(char::is_ascii_graphic)
                    .collect(),
            })?;
        if currency.exponent().is_none() || currency.is_fund() || currency.is_special() {
            return Err(MoneyError::UnsupportedCurrency {
                code: currency.code(),
            });
        }
        Ok(Self(currency))
    }

    /// The three-letter code, e.g. `EUR`.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// The number of decimal places of the minor unit: 0 for JPY, 2 for EUR, 3 for KWD.
    pub fn exponent(self) -> u32 {
        // `from_code` and the constants only admit currencies that have an exponent.
        self.0.exponent().map_or(0, u32::from)
    }

    /// The ISO 4217 numeric code, e.g. 978 for EUR.
    pub fn numeric(self) -> u16 {
        self.0.numeric()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for Currency {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_code(s)
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Currency {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(*u.choose(&[Self::EUR, Self::JPY, Self::KWD, Self::USD, Self::BRL])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents_follow_iso_4217() {
        assert_eq!(Currency::JPY.exponent(), 0);
        assert_eq!(Currency::KRW.exponent(), 0);
        assert_eq!(Currency::EUR.exponent(), 2);
        assert_eq!(Currency::BRL.exponent(), 2);
        assert_eq!(Currency::KWD.exponent(), 3);
        assert_eq!(Currency::BHD.exponent(), 3);
    }

    #[test]
    fn parses_known_codes_and_refuses_others() {
        assert_eq!(Currency::from_code("EUR"), Ok(Currency::EUR));
        assert_eq!(Currency::from_code("KWD").map(Currency::numeric), Ok(414));
        assert!(matches!(
            Currency::from_code("eur"),
            Err(MoneyError::UnknownCurrency { .. })
        ));
        assert!(matches!(
            Currency::from_code("ABC"),
            Err(MoneyError::UnknownCurrency { .. })
        ));
        assert!(matches!(
            Currency::from_code(""),
            Err(MoneyError::UnknownCurrency { .. })
        ));
        assert_eq!(
            Currency::from_code("XAU"),
            Err(MoneyError::UnsupportedCurrency { code: "XAU" })
        );
        assert_eq!(
            Currency::from_code("XXX"),
            Err(MoneyError::UnsupportedCurrency { code: "XXX" })
        );
    }

    #[test]
    fn unknown_code_error_does_not_echo_long_input() {
        let long = "X".repeat(10_000);
        let Err(MoneyError::UnknownCurrency { code }) = Currency::from_code(&long) else {
            panic!("expected UnknownCurrency");
        };
        assert!(code.len() <= 8);
    }
}
