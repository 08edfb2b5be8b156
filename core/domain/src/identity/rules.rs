//! Identity's decisions, as pure functions: where a party's personal data lives, and what a
//! party's name may be.

use super::IdentityError;
use crate::Country;
use crate::catalog::Region;

/// The most characters in a buyer's or seller's name.
pub const NAME_LEN_MAX: usize = 200;

/// The data region that holds a party's personal data, by its country: `us`, `sa`, `apac`,
/// `me`, or `eu` for every other country.
pub fn region_for(country: &Country) -> Region {
    let region = match country.as_str() {
        "US" | "CA" | "MX" => "us",
        "BR" | "AR" | "CL" | "CO" | "PE" => "sa",
        "JP" | "CN" | "IN" | "SG" | "TH" | "MY" | "HK" | "KR" | "AU" => "apac",
        "KW" | "BH" | "AE" | "SA" | "QA" => "me",
        _ => "eu",
    };
    // Every name above is a valid region; the fallback is never taken.
    Region::new(region).unwrap_or_else(|_| Region::default_region())
}

/// A party's name, trimmed: 1 to [`NAME_LEN_MAX`] characters.
pub fn party_name(value: &str) -> Result<String, IdentityError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > NAME_LEN_MAX {
        return Err(IdentityError::InvalidInput(
            "name must have 1 to 200 characters",
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(code: &str) -> String {
        region_for(&Country::new(code).unwrap()).as_str().to_owned()
    }

    #[test]
    fn regions_by_country() {
        assert_eq!(region("US"), "us");
        assert_eq!(region("BR"), "sa");
        assert_eq!(region("JP"), "apac");
        assert_eq!(region("KW"), "me");
        assert_eq!(region("DE"), "eu");
        assert_eq!(region("ZA"), "eu");
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(party_name("  Ana  "), Ok("Ana".to_owned()));
        assert_eq!(
            party_name(&"é".repeat(200)).map(|n| n.chars().count()),
            Ok(200)
        );
        for bad in ["", "   ", &"x".repeat(201)] {
            assert_eq!(party_name(bad).map_err(|e| e.code()), Err("invalid_input"));
        }
    }
}
