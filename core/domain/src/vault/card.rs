//! What the vault keeps of a card besides its sealed number: the token that stands for it,
//! its brand read from the BIN, and the only parts that may be shown (PCI DSS v4.0.1 3.4.1:
//! the BIN and the last four digits).

use std::fmt;

use crate::payments::CardNumber;

use super::VaultError;

/// The prefix of every card token.
pub const TOKEN_PREFIX: &str = "tok_";
/// How many characters follow [`TOKEN_PREFIX`]: 128 random bits in lower-case Crockford
/// base32.
pub const TOKEN_BODY_LEN: usize = 26;
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A card token: `tok_` and 26 base32 characters. It holds letters and an underscore, so it
/// can never be taken for a card number, and it says nothing about the card.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct CardToken(String);

impl CardToken {
    /// A token from its text; [`VaultError::InvalidInput`] unless it has the token's shape.
    pub fn parse(text: &str) -> Result<Self, VaultError> {
        let body = text
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(VaultError::InvalidInput("not a card token"))?;
        let valid = body.len() == TOKEN_BODY_LEN && body.bytes().all(|b| ALPHABET.contains(&b));
        valid
            .then(|| Self(text.to_owned()))
            .ok_or(VaultError::InvalidInput("not a card token"))
    }

    /// A token from 16 random bytes.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        let mut value = u128::from_be_bytes(bytes);
        let mut body = [b'0'; TOKEN_BODY_LEN];
        for slot in body.iter_mut().rev() {
            let index = usize::try_from(value & 31).unwrap_or(0);
            *slot = ALPHABET.get(index).copied().unwrap_or(b'0');
            value >>= 5;
        }
        let body: String = body.iter().map(|b| char::from(*b)).collect();
        Self(format!("{TOKEN_PREFIX}{body}"))
    }

    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CardToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A card scheme, read from the number's first digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Brand {
    /// Visa (4).
    Visa,
    /// Mastercard (51-55, 2221-2720).
    Mastercard,
    /// American Express (34, 37).
    Amex,
    /// Discover (6011, 644-649, 65).
    Discover,
    /// JCB (3528-3589).
    Jcb,
    /// Diners Club (300-305, 36, 38, 39).
    DinersClub,
    /// UnionPay (62).
    UnionPay,
    /// Maestro (50, 56-58, 6304, 6759, 6761-6763).
    Maestro,
    /// No scheme this vault knows starts that way.
    Unknown,
}

impl Brand {
    /// The brand whose range holds `bin` (the number's first six or eight digits).
    pub fn of_bin(bin: &str) -> Self {
        let prefix = |n: usize| -> u32 { bin.get(..n).and_then(|p| p.parse().ok()).unwrap_or(0) };
        let (p1, p2, p3, p4) = (prefix(1), prefix(2), prefix(3), prefix(4));
        match () {
            () if p1 == 4 => Self::Visa,
            () if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) => Self::Mastercard,
            () if p2 == 34 || p2 == 37 => Self::Amex,
            () if p4 == 6011 || p2 == 65 || (644..=649).contains(&p3) => Self::Discover,
            () if (3528..=3589).contains(&p4) => Self::Jcb,
            () if (300..=305).contains(&p3) || [36, 38, 39].contains(&p2) => Self::DinersClub,
            () if p2 == 62 => Self::UnionPay,
            () if [50, 56, 57, 58].contains(&p2)
                || [6304, 6759, 6761, 6762, 6763].contains(&p4) =>
            {
                Self::Maestro
            }
            () => Self::Unknown,
        }
    }

    /// The brand's stored name, e.g. `visa`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Visa => "visa",
            Self::Mastercard => "mastercard",
            Self::Amex => "amex",
            Self::Discover => "discover",
            Self::Jcb => "jcb",
            Self::DinersClub => "diners",
            Self::UnionPay => "unionpay",
            Self::Maestro => "maestro",
            Self::Unknown => "unknown",
        }
    }

    /// The brand stored as [`as_str`](Self::as_str); `Unknown` for any other text.
    pub fn from_name(name: &str) -> Self {
        [
            Self::Visa,
            Self::Mastercard,
            Self::Amex,
            Self::Discover,
            Self::Jcb,
            Self::DinersClub,
            Self::UnionPay,
            Self::Maestro,
        ]
        .into_iter()
        .find(|brand| brand.as_str() == name)
        .unwrap_or(Self::Unknown)
    }
}

/// The parts of a card that may be shown and kept in the clear: BIN, last four, brand and
/// expiry.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CardDisplay {
    /// The first eight digits of a number of 16 digits or more, else the first six.
    pub bin: String,
    /// The last four digits.
    pub last4: String,
    /// The scheme, from the BIN.
    pub brand: Brand,
    /// 1 to 12.
    pub expiry_month: u8,
    /// Four digits.
    pub expiry_year: u16,
}

impl CardDisplay {
    /// What may be shown of `number`.
    pub fn of(number: &CardNumber, expiry_month: u8, expiry_year: u16) -> Self {
        let digits = number.expose();
        let bin_len = if digits.len() >= 16 { 8 } else { 6 };
        let bin = digits.get(..bin_len).unwrap_or("").to_owned();
        Self {
            brand: Brand::of_bin(&bin),
            bin,
            last4: number.last4().to_owned(),
            expiry_month,
            expiry_year,
        }
    }

    /// `visa 41111111 •••• 1111`.
    pub fn masked(&self) -> String {
        format!("{} {} •••• {}", self.brand.as_str(), self.bin, self.last4)
    }
}

/// A card as the buyer gave it: number and expiry, checked.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CardData {
    /// The number, Luhn-checked.
    pub number: CardNumber,
    /// 1 to 12.
    pub expiry_month: u8,
    /// Four digits.
    pub expiry_year: u16,
}

impl CardData {
    /// The card if its expiry month is 1 to 12 and the year has four digits.
    pub fn new(number: CardNumber, expiry_month: u8, expiry_year: u16) -> Result<Self, VaultError> {
        if !(1..=12).contains(&expiry_month) {
            return Err(VaultError::InvalidInput("expiry month must be 1 to 12"));
        }
        if !(2000..=2099).contains(&expiry_year) {
            return Err(VaultError::InvalidInput(
                "expiry year must have four digits",
            ));
        }
        Ok(Self {
            number,
            expiry_month,
            expiry_year,
        })
    }

    /// What may be shown of it.
    pub fn display(&self) -> CardDisplay {
        CardDisplay::of(&self.number, self.expiry_month, self.expiry_year)
    }
}

/// A tokenized card as its owner's side sees it: the token and what may be shown.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VaultedCard {
    /// The token that stands for the card.
    pub token: CardToken,
    /// What may be shown of it.
    pub display: CardDisplay,
    /// The card's fingerprint for its tenant (hex of a keyed hash): equal for the same
    /// number, useless without the vault's key.
    pub fingerprint: String,
}

/// Whose cards these are: `buyer:{uuid}`, `seller:{uuid}` or `platform`; 1 to 64
/// characters of `[a-z0-9:-]`. Each tenant has its own data keys and its own
/// de-duplication.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Tenant(String);

impl Tenant {
    /// The tenant if `name` has the shape above.
    pub fn new(name: &str) -> Result<Self, VaultError> {
        let valid = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'-');
        valid
            .then(|| Self(name.to_owned()))
            .ok_or(VaultError::InvalidInput(
                "tenant must be 1 to 64 of [a-z0-9:-]",
            ))
    }

    /// The tenant's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
