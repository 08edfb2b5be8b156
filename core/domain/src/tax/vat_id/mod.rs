//! VAT identification numbers, checked offline: the form and the check digits of the
//! numbers of the 27 EU Member States, the United Kingdom (`GB`, and `XI` for Northern
//! Ireland) and Australia (the ABN, with the prefix `AU`).
//!
//! A number that passes may still not be registered, or no longer be: only the issuing
//! administration (VIES for the EU) can say. What passes here is worth asking about; what
//! fails is a typing error, or not a VAT number at all.
//!
//! Every country's check is described on its function in `checks.rs`. Two kinds of number
//! are checked for form only, because no reliable description of their check digit is
//! published: a Latvian natural person's number (their personal code) and, for the United
//! Kingdom, the three branch digits of a 12-digit number. The United Kingdom's 5-character
//! numbers for government departments and health authorities (`GD`, `HA`) are not accepted.

mod checks;

use std::fmt;
use std::str::FromStr;

use checks::Fault;

use crate::Country;

/// A VAT identification number whose form and check digits are right for its country, kept
/// in its compact form: the prefix VIES uses (`EL` for Greece, `XI` for Northern Ireland)
/// and the number, upper case, without separators, e.g. `DE136695976`.
///
/// Numbers of sole traders are personal data: `Debug` shows the prefix only.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VatId {
    /// The prefix and the number.
    compact: String,
    /// The country the number belongs to (`GR` for `EL`, `GB` for `XI`).
    country: Country,
}

impl VatId {
    /// Reads a VAT identification number with its two-letter prefix, in any case, with or
    /// without spaces, dots and hyphens (`fr 40 303 265 045`, `DE-136.695.976`). Greece's
    /// prefix is `EL`; `GR` is taken as `EL`. `XI` (Northern Ireland) numbers are United
    /// Kingdom numbers and keep their prefix. The older, shorter forms of Belgian (9
    /// digits) and Greek (8 digits) numbers are still printed on documents; they are read
    /// with the leading 0 their current form has (`BE 428.759.497` is `BE0428759497`).
    pub fn parse(text: &str) -> Result<Self, VatIdError> {
        let compact: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '.' && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if compact.is_empty() {
            return Err(VatIdError::Empty);
        }
        let (Some(prefix), Some(number)) = (compact.get(..2), compact.get(2..)) else {
            return Err(VatIdError::MissingPrefix);
        };
        if !prefix.bytes().all(|byte| byte.is_ascii_uppercase()) {
            return Err(VatIdError::MissingPrefix);
        }
        let scheme = Scheme::for_prefix(prefix)
            .ok_or_else(|| VatIdError::UnknownCountry(prefix.to_owned()))?;
        let number = match scheme.legacy_length {
            Some(length) if number.len() == length => format!("0{number}"),
            _ => number.to_owned(),
        };
        (scheme.check)(number.as_bytes()).map_err(|fault| match fault {
            Fault::Format => VatIdError::Format {
                country: scheme.country,
                expected: scheme.expected,
            },
            Fault::CheckDigit => VatIdError::CheckDigit {
                country: scheme.country,
            },
        })?;
        Ok(Self {
            compact: format!("{}{number}", scheme.prefix),
            country: scheme.country,
        })
    }

    /// The compact form with its prefix, e.g. `EL094259216`: what VIES and invoices use.
    pub fn as_str(&self) -> &str {
        &self.compact
    }

    /// The two-letter prefix, e.g. `EL` for Greece or `XI` for Northern Ireland.
    pub fn prefix(&self) -> &str {
        self.compact.get(..2).unwrap_or_default()
    }

    /// The country that issued the number, e.g. `GR` for an `EL` number, `GB` for an `XI`
    /// one.
    pub fn country(&self) -> Country {
        self.country
    }

    /// The number without its prefix, e.g. `094259216`.
    pub fn number(&self) -> &str {
        self.compact.get(2..).unwrap_or_default()
    }
}

impl fmt::Display for VatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.compact)
    }
}

impl fmt::Debug for VatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VatId")
            .field(&self.prefix())
            .finish_non_exhaustive()
    }
}

impl FromStr for VatId {
    type Err = VatIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// Why a text is not a VAT identification number. No message shows more of the text than
/// its prefix.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum VatIdError {
    /// Nothing but separators.
    #[error("the VAT identification number is empty")]
    Empty,
    /// The text does not start with two letters.
    #[error("a VAT identification number starts with its two-letter country prefix")]
    MissingPrefix,
    /// The prefix is not one of the countries covered.
    #[error("VAT identification numbers with the prefix {0} are not supported")]
    UnknownCountry(String),
    /// The length, or a character, is wrong for the country.
    #[error("not a {country} VAT identification number: expected {expected}")]
    Format {
        /// The country of the prefix.
        country: Country,
        /// The form expected, e.g. `9 digits, the first not 0`.
        expected: &'static str,
    },
    /// The form is right and the check digits are not: most often a typing error.
    #[error("the check digits of the {country} VAT identification number are wrong")]
    CheckDigit {
        /// The country of the prefix.
        country: Country,
    },
}

impl VatIdError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "vat_id_empty",
            Self::MissingPrefix => "vat_id_missing_prefix",
            Self::UnknownCountry(_) => "vat_id_unknown_country",
            Self::Format { .. } => "vat_id_format",
            Self::CheckDigit { .. } => "vat_id_check_digit",
        }
    }
}

/// One prefix: its country, the form its numbers take, and their check.
struct Scheme {
    prefix: &'static str,
    country: Country,
    expected: &'static str,
    check: fn(&[u8]) -> Result<(), Fault>,
    /// The length of an older form that is the current one without its leading 0.
    legacy_length: Option<usize>,
}

impl Scheme {
    /// The scheme of a prefix; `GR` is read as Greece's VIES prefix `EL`.
    fn for_prefix(prefix: &str) -> Option<&'static Self> {
        let prefix = if prefix == "GR" { "EL" } else { prefix };
        SCHEMES.iter().find(|scheme| scheme.prefix == prefix)
    }
}

const fn scheme(
    prefix: &'static str,
    country: &[u8; 2],
    expected: &'static str,
    check: fn(&[u8]) -> Result<(), Fault>,
) -> Scheme {
    Scheme {
        prefix,
        country: Country(*country),
        expected,
        check,
        legacy_length: None,
    }
}

/// A scheme whose numbers were once one digit shorter, without the leading 0.
const fn with_legacy_length(scheme: Scheme, length: usize) -> Scheme {
    Scheme {
        legacy_length: Some(length),
        ..scheme
    }
}

/// Every prefix accepted.
static SCHEMES: &[Scheme] = &[
    scheme("AT", b"AT", "U followed by 8 digits", checks::at),
    with_legacy_length(
        scheme("BE", b"BE", "10 digits, the first 0 or 1", checks::be),
        9,
    ),
    scheme("BG", b"BG", "9 or 10 digits", checks::bg),
    scheme(
        "CY",
        b"CY",
        "8 digits (not starting with 12) and a letter",
        checks::cy,
    ),
    scheme("CZ", b"CZ", "8, 9 or 10 digits", checks::cz),
    scheme("DE", b"DE", "9 digits, the first not 0", checks::de),
    scheme("DK", b"DK", "8 digits, the first not 0", checks::dk),
    scheme("EE", b"EE", "9 digits", checks::ee),
    with_legacy_length(scheme("EL", b"GR", "9 digits", checks::el), 8),
    scheme(
        "ES",
        b"ES",
        "a letter or digit, 7 digits and a letter or digit",
        checks::es,
    ),
    scheme("FI", b"FI", "8 digits", checks::fi),
    scheme(
        "FR",
        b"FR",
        "2 letters or digits (not I or O) and 9 digits",
        checks::fr,
    ),
    scheme("HR", b"HR", "11 digits", checks::hr),
    scheme("HU", b"HU", "8 digits", checks::hu),
    scheme("IE", b"IE", "7 digits and 1 or 2 letters", checks::ie),
    scheme(
        "IT",
        b"IT",
        "11 digits with a valid office code",
        checks::it,
    ),
    scheme("LT", b"LT", "9 or 12 digits", checks::lt),
    scheme("LU", b"LU", "8 digits", checks::lu),
    scheme("LV", b"LV", "11 digits", checks::lv),
    scheme("MT", b"MT", "8 digits, the first not 0", checks::mt),
    scheme("NL", b"NL", "9 digits, B and 2 digits", checks::nl),
    scheme("PL", b"PL", "10 digits", checks::pl),
    scheme("PT", b"PT", "9 digits, the first not 0", checks::pt),
    scheme("RO", b"RO", "2 to 10 digits, the first not 0", checks::ro),
    scheme("SE", b"SE", "12 digits, the last two 01 to 94", checks::se),
    scheme("SI", b"SI", "8 digits, the first not 0", checks::si),
    scheme("SK", b"SK", "10 digits", checks::sk),
    scheme("GB", b"GB", "9 or 12 digits", checks::gb),
    scheme("XI", b"GB", "9 or 12 digits", checks::gb),
    scheme("AU", b"AU", "11 digits, the first not 0", checks::au),
];

#[cfg(test)]
mod tests;
