//! Where tax is owed: a country, or a subdivision of one (a US state, a Canadian province, an
//! Indian state), written the ISO 3166-2 way: `DE`, `US-CA`, `CA-ON`, `IN-KA`.

use std::fmt;

use crate::Country;

/// A country, or one of its subdivisions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Area {
    country: Country,
    /// One to three upper-case letters or digits, left-aligned, padded with spaces.
    subdivision: Option<[u8; 3]>,
}

/// An area code that does not read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct InvalidArea;

impl Area {
    /// The whole country.
    pub fn country_wide(country: Country) -> Self {
        Self {
            country,
            subdivision: None,
        }
    }

    /// `DE` or `US-CA`: a country code, then optionally `-` and one to three upper-case
    /// letters or digits.
    pub fn parse(code: &str) -> Result<Self, InvalidArea> {
        let (country, rest) = match code.split_once('-') {
            Some((country, rest)) => (country, Some(rest)),
            None => (code, None),
        };
        let country = Country::new(country).map_err(|_| InvalidArea)?;
        let Some(rest) = rest else {
            return Ok(Self::country_wide(country));
        };
        let fits = (1..=3).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !fits {
            return Err(InvalidArea);
        }
        let mut subdivision = [b' '; 3];
        for (slot, byte) in subdivision.iter_mut().zip(rest.bytes()) {
            *slot = byte;
        }
        Ok(Self {
            country,
            subdivision: Some(subdivision),
        })
    }

    /// The country.
    pub fn country(&self) -> Country {
        self.country
    }

    /// The subdivision's own code (`CA` of `US-CA`), if any.
    pub fn subdivision(&self) -> Option<&str> {
        self.subdivision
            .as_ref()
            .and_then(|s| std::str::from_utf8(s).ok())
            .map(str::trim_end)
    }

    /// The country alone, without the subdivision.
    pub fn nation(&self) -> Self {
        Self::country_wide(self.country)
    }
}

impl From<Country> for Area {
    fn from(country: Country) -> Self {
        Self::country_wide(country)
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.subdivision() {
            Some(sub) => write!(f, "{}-{sub}", self.country),
            None => write!(f, "{}", self.country),
        }
    }
}

impl fmt::Debug for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Area({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_read_and_print_the_iso_3166_2_way() {
        for code in ["DE", "US-CA", "CA-ON", "IN-KA", "US-DC", "FR-75"] {
            assert_eq!(Area::parse(code).unwrap().to_string(), code);
        }
        let state = Area::parse("US-NY").unwrap();
        assert_eq!(state.subdivision(), Some("NY"));
        assert_eq!(state.nation().to_string(), "US");
        for bad in ["", "D", "de", "US-", "US-ny", "US-ABCD", "USA-CA", "US-C A"] {
            assert_eq!(Area::parse(bad), Err(InvalidArea), "{bad:?}");
        }
    }
}
