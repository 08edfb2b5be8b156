//! A seller's tax registrations: the numbers under which it charges and declares tax, one per
//! country (or, in the US and Canada, per state or province where it registered separately).
//!
//! Each number is checked offline for its country's form: EU, UK and Australian numbers
//! with [`VatId`]'s check digits, an Indian GSTIN with its check character (its first two
//! digits name the seller's state, which decides between CGST plus SGST and IGST), a
//! Japanese invoice registration number by its form (`T` and 13 digits). Numbers of other
//! countries are taken as the seller types them, 1 to 30 letters, digits and hyphens.

use std::fmt;

use super::{Area, VatId};

/// One registration: where, and the number.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaxRegistration {
    area: Area,
    number: String,
}

impl fmt::Debug for TaxRegistration {
    // A sole trader's number is personal data: the area is enough in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaxRegistration")
            .field("area", &self.area)
            .finish_non_exhaustive()
    }
}

/// Why a registration is refused.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum RegistrationError {
    /// The area is not a country or subdivision code.
    #[error("the registration's area is not a country or subdivision code")]
    Area,
    /// The number is wrong for the area's country.
    #[error("not a tax registration number of {country}: {expected}")]
    Number {
        /// The country.
        country: String,
        /// What was expected.
        expected: &'static str,
    },
    /// An Indian GSTIN names another state than the one given.
    #[error("the GSTIN belongs to {gstin_state}, not {given}")]
    StateMismatch {
        /// The state the GSTIN's first two digits name.
        gstin_state: String,
        /// The area given.
        given: String,
    },
}

impl RegistrationError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Area => "registration_area_invalid",
            Self::Number { .. } => "registration_number_invalid",
            Self::StateMismatch { .. } => "registration_state_mismatch",
        }
    }
}

/// GST state codes (the first two digits of a GSTIN) and the ISO 3166-2:IN code of each state
/// or union territory. Sources: CBIC, GST state code list; ISO 3166-2:IN as amended up to
/// 2023 (`CG`, `DH`, `LA`, `OD`, `TS`, `UK`).
const GST_STATES: [(&str, &str); 36] = [
    ("01", "JK"),
    ("02", "HP"),
    ("03", "PB"),
    ("04", "CH"),
    ("05", "UK"),
    ("06", "HR"),
    ("07", "DL"),
    ("08", "RJ"),
    ("09", "UP"),
    ("10", "BR"),
    ("11", "SK"),
    ("12", "AR"),
    ("13", "NL"),
    ("14", "MN"),
    ("15", "MZ"),
    ("16", "TR"),
    ("17", "ML"),
    ("18", "AS"),
    ("19", "WB"),
    ("20", "JH"),
    ("21", "OD"),
    ("22", "CG"),
    ("23", "MP"),
    ("24", "GJ"),
    ("26", "DH"),
    ("27", "MH"),
    ("29", "KA"),
    ("30", "GA"),
    ("31", "LD"),
    ("32", "KL"),
    ("33", "TN"),
    ("34", "PY"),
    ("35", "AN"),
    ("36", "TS"),
    ("37", "AP"),
    ("38", "LA"),
];

const BASE36: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn base36(byte: u8) -> Option<u32> {
    BASE36
        .iter()
        .position(|c| *c == byte)
        .and_then(|i| u32::try_from(i).ok())
}

/// The check character of a GSTIN's first 14 characters: a Luhn mod 36 over base-36 values,
/// weights 1 and 2 alternating from the first character.
fn gstin_check(body: &[u8]) -> Option<u8> {
    let mut sum: u32 = 0;
    for (i, byte) in body.iter().enumerate() {
        let weight = if i % 2 == 0 { 1 } else { 2 };
        let product = base36(*byte)?.checked_mul(weight)?;
        sum = sum.checked_add(product / 36)?.checked_add(product % 36)?;
    }
    let check = 36_u32.checked_sub(sum % 36)? % 36;
    BASE36.get(usize::try_from(check).ok()?).copied()
}

/// The ISO state of a well-formed GSTIN with a right check character.
fn gstin_state(number: &str) -> Option<&'static str> {
    let bytes = number.as_bytes();
    if bytes.len() != 15 {
        return None;
    }
    let form = bytes.iter().enumerate().all(|(i, b)| match i {
        0 | 1 | 7..=10 => b.is_ascii_digit(),
        2..=6 | 11 => b.is_ascii_uppercase(),
        13 => *b == b'Z',
        _ => b.is_ascii_digit() || b.is_ascii_uppercase(),
    });
    let (body, check) = (bytes.get(..14)?, bytes.get(14)?);
    if !form || gstin_check(body)? != *check {
        return None;
    }
    let code = number.get(..2)?;
    GST_STATES
        .iter()
        .find(|(gst, _)| *gst == code)
        .map(|(_, iso)| *iso)
}

fn invalid(area: Area, expected: &'static str) -> RegistrationError {
    RegistrationError::Number {
        country: area.country().as_str().to_owned(),
        expected,
    }
}

impl TaxRegistration {
    /// Reads a registration: `area` a country (`FR`) or subdivision (`US-CA`, `IN-KA`) code,
    /// `number` in any case, with or without spaces. An Indian GSTIN sets the state itself;
    /// an area with another state is refused.
    pub fn parse(area: &str, number: &str) -> Result<Self, RegistrationError> {
        let area = Area::parse(area).map_err(|_| RegistrationError::Area)?;
        let compact: String = number
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let country = area.country();
        let (area, number) = match country.as_str() {
            "IN" => {
                let state = gstin_state(&compact).ok_or_else(|| {
                    invalid(area, "a GSTIN: 15 characters with a right check character")
                })?;
                let gstin_area =
                    Area::parse(&format!("IN-{state}")).map_err(|_| RegistrationError::Area)?;
                if area != area.nation() && area != gstin_area {
                    return Err(RegistrationError::StateMismatch {
                        gstin_state: gstin_area.to_string(),
                        given: area.to_string(),
                    });
                }
                (gstin_area, compact)
            }
            "JP" => {
                let form = compact.len() == 14
                    && compact.starts_with('T')
                    && compact.bytes().skip(1).all(|b| b.is_ascii_digit());
                if !form {
                    return Err(invalid(area, "T and 13 digits"));
                }
                (area, compact)
            }
            _ => {
                let of_country =
                    |text: &str| VatId::parse(text).ok().filter(|id| id.country() == country);
                let id = of_country(&compact)
                    .or_else(|| of_country(&format!("{}{compact}", country.as_str())));
                match id {
                    Some(id) => (area, id.as_str().to_owned()),
                    None if Self::checked_offline(area) => {
                        return Err(invalid(area, "a VAT number with right check digits"));
                    }
                    None => {
                        let form = (1..=30).contains(&compact.len())
                            && compact
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
                        if !form {
                            return Err(invalid(area, "1 to 30 letters, digits and hyphens"));
                        }
                        (area, compact)
                    }
                }
            }
        };
        Ok(Self { area, number })
    }

    /// Whether numbers of `area`'s country have check digits Bazaar verifies (EU, UK,
    /// Australia).
    fn checked_offline(area: Area) -> bool {
        super::in_eu(area.nation()) || matches!(area.country().as_str(), "GB" | "AU")
    }

    /// Where the registration holds.
    pub fn area(&self) -> Area {
        self.area
    }

    /// The number, compact, with its country prefix where VAT numbers have one.
    pub fn number(&self) -> &str {
        &self.number
    }

    /// Where a seller established in `home` is for tax, given its registrations: the state
    /// of a registration in its own country that names one (an Indian seller's GSTIN), or
    /// the country.
    pub fn seller_area(home: Area, registrations: &[Self]) -> Area {
        registrations
            .iter()
            .map(|r| r.area)
            .find(|area| area.country() == home.country() && area.subdivision().is_some())
            .unwrap_or(home)
    }

    /// The registration that applies to a supply taxed in `place`: the one of that exact
    /// area, else of its country.
    pub fn for_place(registrations: &[Self], place: Area) -> Option<&Self> {
        registrations
            .iter()
            .find(|r| r.area == place)
            .or_else(|| registrations.iter().find(|r| r.area == place.nation()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gstin_is_checked_and_names_its_state() {
        let registration = TaxRegistration::parse("IN", "27aapfu0939f1zv").unwrap();
        assert_eq!(registration.area().to_string(), "IN-MH");
        assert_eq!(registration.number(), "27AAPFU0939F1ZV");
        assert_eq!(
            TaxRegistration::parse("IN-MH", "27AAPFU0939F1ZV").unwrap(),
            registration
        );
        assert_eq!(
            TaxRegistration::parse("IN-KA", "27AAPFU0939F1ZV")
                .unwrap_err()
                .code(),
            "registration_state_mismatch"
        );
        for wrong in ["27AAPFU0939F1ZW", "27AAPFU0939F1Z", "99AAPFU0939F1ZV", ""] {
            assert_eq!(
                TaxRegistration::parse("IN", wrong).unwrap_err().code(),
                "registration_number_invalid",
                "{wrong}"
            );
        }
    }

    #[test]
    fn vat_numbers_are_checked_with_or_without_their_prefix() {
        let fr = TaxRegistration::parse("FR", "40 303 265 045").unwrap();
        assert_eq!(fr.number(), "FR40303265045");
        assert_eq!(TaxRegistration::parse("FR", "FR40303265045").unwrap(), fr);
        assert_eq!(
            TaxRegistration::parse("FR", "FR40303265046")
                .unwrap_err()
                .code(),
            "registration_number_invalid"
        );
        assert_eq!(
            TaxRegistration::parse("FR", "DE136695976")
                .unwrap_err()
                .code(),
            "registration_number_invalid"
        );
        assert!(TaxRegistration::parse("JP", "T1234567890123").is_ok());
        assert!(TaxRegistration::parse("JP", "1234567890123").is_err());
        let texas = TaxRegistration::parse("US-TX", "32-0123456789").unwrap();
        assert_eq!(texas.area().to_string(), "US-TX");
        assert!(TaxRegistration::parse("US-TX", "no spaces; please").is_err());
        assert_eq!(
            TaxRegistration::parse("Texas", "1").unwrap_err().code(),
            "registration_area_invalid"
        );
    }

    #[test]
    fn a_sellers_area_and_the_registration_for_a_place() {
        let home = Area::parse("IN").unwrap();
        let gstin = TaxRegistration::parse("IN", "27AAPFU0939F1ZV").unwrap();
        assert_eq!(
            TaxRegistration::seller_area(home, std::slice::from_ref(&gstin)).to_string(),
            "IN-MH"
        );
        assert_eq!(TaxRegistration::seller_area(home, &[]), home);
        let fr = TaxRegistration::parse("FR", "FR40303265045").unwrap();
        let both = [fr.clone(), gstin.clone()];
        assert_eq!(
            TaxRegistration::for_place(&both, Area::parse("FR").unwrap()),
            Some(&fr)
        );
        assert_eq!(
            TaxRegistration::for_place(&both, Area::parse("IN-MH").unwrap()),
            Some(&gstin)
        );
        assert_eq!(
            TaxRegistration::for_place(&both, Area::parse("DE").unwrap()),
            None
        );
    }
}
