//! Where a payout goes: the bank details each rail needs, with their checks (formats and
//! check digits) and a masked form for display and logs.
//!
//! The full account number never leaves through `Debug` or [`BankDetails::masked`]: both show
//! the last four characters only. The checks are offline (format and check digits); whether
//! the account exists is for the rail to say.

use std::fmt;

use iban::{Iban, ParseBaseIbanError, ParseIbanError};

/// The kinds of bank details, one per [`BankDetails`] variant.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum BankDetailsKind {
    /// An IBAN.
    Iban,
    /// A UK sort code and account number.
    UkAccount,
    /// A US ABA routing number and account number.
    UsAccount,
    /// A Mexican CLABE.
    Clabe,
    /// A Brazilian Pix key.
    PixKey,
    /// An Indian UPI virtual payment address.
    UpiVpa,
    /// An Indian IFSC and account number.
    IndianAccount,
    /// A Japanese bank, branch and account (the Zengin system's identifiers).
    Zengin,
}

impl BankDetailsKind {
    /// The stored name, e.g. `uk_account`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Iban => "iban",
            Self::UkAccount => "uk_account",
            Self::UsAccount => "us_account",
            Self::Clabe => "clabe",
            Self::PixKey => "pix_key",
            Self::UpiVpa => "upi_vpa",
            Self::IndianAccount => "indian_account",
            Self::Zengin => "zengin",
        }
    }

    /// The kind [`as_str`](Self::as_str) names.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Iban,
            Self::UkAccount,
            Self::UsAccount,
            Self::Clabe,
            Self::PixKey,
            Self::UpiVpa,
            Self::IndianAccount,
            Self::Zengin,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for BankDetailsKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Japanese account's type, as the Zengin system codes it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ZenginAccountType {
    /// An ordinary deposit account (futsu), code 1.
    Ordinary,
    /// A current (checking) account (toza), code 2.
    Current,
    /// A savings deposit account (chochiku), code 4.
    Savings,
}

impl ZenginAccountType {
    /// The Zengin code: 1, 2 or 4.
    pub fn code(self) -> u8 {
        match self {
            Self::Ordinary => 1,
            Self::Current => 2,
            Self::Savings => 4,
        }
    }
}

/// A Brazilian Pix key: what a Pix payment is addressed to.
#[derive(Clone, PartialEq, Eq)]
pub enum PixKey {
    /// A person's CPF: 11 digits, the last two check digits, no punctuation.
    Cpf(String),
    /// A company's CNPJ: 14 characters, the last two check digits, no punctuation. The first
    /// twelve may hold upper-case letters (CNPJs issued from July 2026 on).
    Cnpj(String),
    /// An e-mail address, lower case, at most 77 characters.
    Email(String),
    /// A Brazilian mobile number: `+55`, a two-digit area code and nine digits starting with
    /// 9.
    Phone(String),
    /// A random key (EVP): a UUID in lower-case hyphenated form.
    Random(String),
}

impl PixKey {
    fn text(&self) -> &str {
        match self {
            Self::Cpf(text)
            | Self::Cnpj(text)
            | Self::Email(text)
            | Self::Phone(text)
            | Self::Random(text) => text,
        }
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Self::Cpf(_) => "Cpf",
            Self::Cnpj(_) => "Cnpj",
            Self::Email(_) => "Email",
            Self::Phone(_) => "Phone",
            Self::Random(_) => "Random",
        }
    }

    fn validate(&self) -> Result<(), BankDetailsError> {
        let valid = match self {
            Self::Cpf(text) => cpf_is_valid(text),
            Self::Cnpj(text) => cnpj_is_valid(text),
            Self::Email(text) => email_is_valid(text),
            Self::Phone(text) => br_mobile_is_valid(text),
            Self::Random(text) => uuid_text_is_valid(text),
        };
        valid.then_some(()).ok_or(match self {
            Self::Cpf(_) => BankDetailsError::Cpf,
            Self::Cnpj(_) => BankDetailsError::Cnpj,
            Self::Email(_) => BankDetailsError::PixEmail,
            Self::Phone(_) => BankDetailsError::PixPhone,
            Self::Random(_) => BankDetailsError::PixRandomKey,
        })
    }
}

impl fmt::Debug for PixKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PixKey::{}({})", self.kind_name(), mask(self.text()))
    }
}

/// Where a payout is sent. Built from what the seller entered; [`validate`](Self::validate)
/// checks it before it is stored or used.
#[derive(Clone, PartialEq, Eq)]
pub enum BankDetails {
    /// An IBAN, in electronic form (`DE89370400440532013000`) or in groups of four; used by
    /// the SEPA rails and by the Kuwaiti and Bahraini rails, whose domestic accounts are
    /// IBANs.
    Iban {
        /// The IBAN.
        iban: String,
    },
    /// A UK account for Faster Payments.
    UkAccount {
        /// Six digits, no dashes.
        sort_code: String,
        /// Eight digits.
        account_number: String,
    },
    /// A US account for ACH and RTP.
    UsAccount {
        /// The nine-digit ABA routing number.
        routing_number: String,
        /// 4 to 17 digits.
        account_number: String,
    },
    /// A Mexican CLABE for SPEI: 18 digits.
    Clabe {
        /// The CLABE.
        clabe: String,
    },
    /// A Brazilian Pix key.
    Pix {
        /// The key.
        key: PixKey,
    },
    /// An Indian UPI virtual payment address, `name@handle`.
    Upi {
        /// The address.
        vpa: String,
    },
    /// An Indian account for IMPS.
    IndianAccount {
        /// The branch's IFSC: four letters, `0`, six letters or digits.
        ifsc: String,
        /// 9 to 18 digits.
        account_number: String,
    },
    /// A Japanese account for Zengin transfers.
    Zengin {
        /// The four-digit bank code.
        bank_code: String,
        /// The three-digit branch code.
        branch_code: String,
        /// The seven-digit account number.
        account_number: String,
        /// The account's type.
        account_type: ZenginAccountType,
    },
}

impl BankDetails {
    /// The details as lines of text, to be sealed at rest (never stored or logged as they
    /// are); [`from_sealable`](Self::from_sealable) reads them back.
    pub fn to_sealable(&self) -> String {
        let zengin_type;
        let parts: Vec<&str> = match self {
            Self::Iban { iban } => vec!["iban", iban],
            Self::UkAccount {
                sort_code,
                account_number,
            } => vec!["uk_account", sort_code, account_number],
            Self::UsAccount {
                routing_number,
                account_number,
            } => vec!["us_account", routing_number, account_number],
            Self::Clabe { clabe } => vec!["clabe", clabe],
            Self::Pix { key } => vec!["pix", key.kind_name(), key.text()],
            Self::Upi { vpa } => vec!["upi", vpa],
            Self::IndianAccount {
                ifsc,
                account_number,
            } => vec!["indian_account", ifsc, account_number],
            Self::Zengin {
                bank_code,
                branch_code,
                account_number,
                account_type,
            } => {
                zengin_type = account_type.code().to_string();
                vec![
                    "zengin",
                    bank_code,
                    branch_code,
                    account_number,
                    &zengin_type,
                ]
            }
        };
        parts.join("\n")
    }

    /// The details [`to_sealable`](Self::to_sealable) wrote; `None` for any other text.
    pub fn from_sealable(text: &str) -> Option<Self> {
        let parts: Vec<String> = text.split('\n').map(str::to_owned).collect();
        let details = match parts.as_slice() {
            [kind, iban] if kind == "iban" => Self::Iban { iban: iban.clone() },
            [kind, sort_code, account_number] if kind == "uk_account" => Self::UkAccount {
                sort_code: sort_code.clone(),
                account_number: account_number.clone(),
            },
            [kind, routing_number, account_number] if kind == "us_account" => Self::UsAccount {
                routing_number: routing_number.clone(),
                account_number: account_number.clone(),
            },
            [kind, clabe] if kind == "clabe" => Self::Clabe {
                clabe: clabe.clone(),
            },
            [kind, pix_kind, text] if kind == "pix" => Self::Pix {
                key: match pix_kind.as_str() {
                    "Cpf" => PixKey::Cpf(text.clone()),
                    "Cnpj" => PixKey::Cnpj(text.clone()),
                    "Email" => PixKey::Email(text.clone()),
                    "Phone" => PixKey::Phone(text.clone()),
                    "Random" => PixKey::Random(text.clone()),
                    _ => return None,
                },
            },
            [kind, vpa] if kind == "upi" => Self::Upi { vpa: vpa.clone() },
            [kind, ifsc, account_number] if kind == "indian_account" => Self::IndianAccount {
                ifsc: ifsc.clone(),
                account_number: account_number.clone(),
            },
            [kind, bank_code, branch_code, account_number, account_type] if kind == "zengin" => {
                Self::Zengin {
                    bank_code: bank_code.clone(),
                    branch_code: branch_code.clone(),
                    account_number: account_number.clone(),
                    account_type: match account_type.as_str() {
                        "1" => ZenginAccountType::Ordinary,
                        "2" => ZenginAccountType::Current,
                        "4" => ZenginAccountType::Savings,
                        _ => return None,
                    },
                }
            }
            _ => return None,
        };
        Some(details)
    }

    /// Which kind of details these are.
    pub fn kind(&self) -> BankDetailsKind {
        match self {
            Self::Iban { .. } => BankDetailsKind::Iban,
            Self::UkAccount { .. } => BankDetailsKind::UkAccount,
            Self::UsAccount { .. } => BankDetailsKind::UsAccount,
            Self::Clabe { .. } => BankDetailsKind::Clabe,
            Self::Pix { .. } => BankDetailsKind::PixKey,
            Self::Upi { .. } => BankDetailsKind::UpiVpa,
            Self::IndianAccount { .. } => BankDetailsKind::IndianAccount,
            Self::Zengin { .. } => BankDetailsKind::Zengin,
        }
    }

    /// The country code an IBAN starts with (upper-cased); `None` for other details.
    pub fn iban_country(&self) -> Option<String> {
        match self {
            Self::Iban { iban } => compact(iban).get(..2).map(str::to_owned),
            _ => None,
        }
    }

    /// Checks the format and check digits of every part; the error names the first part
    /// that is wrong.
    pub fn validate(&self) -> Result<(), BankDetailsError> {
        match self {
            Self::Iban { iban } => validate_iban(iban),
            Self::UkAccount {
                sort_code,
                account_number,
            } => {
                require(is_digits(sort_code, 6, 6), BankDetailsError::SortCode)?;
                require(
                    is_digits(account_number, 8, 8),
                    BankDetailsError::UkAccountNumber,
                )
            }
            Self::UsAccount {
                routing_number,
                account_number,
            } => {
                validate_routing_number(routing_number)?;
                require(
                    is_digits(account_number, 4, 17),
                    BankDetailsError::UsAccountNumber,
                )
            }
            Self::Clabe { clabe } => validate_clabe(clabe),
            Self::Pix { key } => key.validate(),
            Self::Upi { vpa } => require(vpa_is_valid(vpa), BankDetailsError::UpiVpa),
            Self::IndianAccount {
                ifsc,
                account_number,
            } => {
                require(ifsc_is_valid(ifsc), BankDetailsError::Ifsc)?;
                require(
                    is_digits(account_number, 9, 18),
                    BankDetailsError::IndianAccountNumber,
                )
            }
            Self::Zengin {
                bank_code,
                branch_code,
                account_number,
                ..
            } => {
                require(is_digits(bank_code, 4, 4), BankDetailsError::ZenginBankCode)?;
                require(
                    is_digits(branch_code, 3, 3),
                    BankDetailsError::ZenginBranchCode,
                )?;
                require(
                    is_digits(account_number, 7, 7),
                    BankDetailsError::ZenginAccountNumber,
                )
            }
        }
    }

    /// The account's identifier with all but its last four characters hidden, e.g.
    /// `****3000`; `****` alone when it is four characters or shorter. The identifier is the
    /// IBAN, the CLABE, the Pix key, the UPI address, or the account number.
    pub fn masked(&self) -> String {
        mask(match self {
            Self::Iban { iban } => iban,
            Self::Clabe { clabe } => clabe,
            Self::Pix { key } => key.text(),
            Self::Upi { vpa } => vpa,
            Self::UkAccount { account_number, .. }
            | Self::UsAccount { account_number, .. }
            | Self::IndianAccount { account_number, .. }
            | Self::Zengin { account_number, .. } => account_number,
        })
    }
}

impl fmt::Debug for BankDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pix { key } => write!(f, "BankDetails::{}({key:?})", self.kind()),
            _ => write!(f, "BankDetails::{}({})", self.kind(), self.masked()),
        }
    }
}

/// Why bank details were refused. Each variant names the part that is wrong; none carries
/// the value, so the error can be logged.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum BankDetailsError {
    /// The IBAN is not two letters, two digits and up to 30 letters or digits.
    #[error("the IBAN is not in IBAN form")]
    IbanFormat,
    /// The IBAN's check digits do not match (mod 97).
    #[error("the IBAN's check digits are wrong")]
    IbanChecksum,
    /// The IBAN's country does not use IBANs.
    #[error("the IBAN's country does not use IBANs")]
    IbanCountry,
    /// The IBAN's length or account part does not fit its country's format.
    #[error("the IBAN does not fit its country's format")]
    IbanCountryFormat,
    /// The sort code is not six digits.
    #[error("a sort code is six digits")]
    SortCode,
    /// The UK account number is not eight digits.
    #[error("a UK account number is eight digits")]
    UkAccountNumber,
    /// The routing number is not nine digits, or starts with a prefix no bank uses.
    #[error("a routing number is nine digits")]
    RoutingNumberFormat,
    /// The routing number's check digit is wrong.
    #[error("the routing number's check digit is wrong")]
    RoutingNumberChecksum,
    /// The US account number is not 4 to 17 digits.
    #[error("a US account number is 4 to 17 digits")]
    UsAccountNumber,
    /// The CLABE is not 18 digits.
    #[error("a CLABE is 18 digits")]
    ClabeFormat,
    /// The CLABE's check digit is wrong.
    #[error("the CLABE's check digit is wrong")]
    ClabeChecksum,
    /// The CPF is not 11 digits with matching check digits.
    #[error("the CPF is not valid")]
    Cpf,
    /// The CNPJ is not 14 characters with matching check digits.
    #[error("the CNPJ is not valid")]
    Cnpj,
    /// The Pix e-mail key is not a lower-case e-mail address of at most 77 characters.
    #[error("the Pix e-mail key is not valid")]
    PixEmail,
    /// The Pix phone key is not a Brazilian mobile number in `+55` form.
    #[error("the Pix phone key is not valid")]
    PixPhone,
    /// The Pix random key is not a lower-case UUID.
    #[error("the Pix random key is not valid")]
    PixRandomKey,
    /// The UPI address is not `name@handle`.
    #[error("the UPI address is not valid")]
    UpiVpa,
    /// The IFSC is not four letters, `0` and six letters or digits.
    #[error("the IFSC is not valid")]
    Ifsc,
    /// The Indian account number is not 9 to 18 digits.
    #[error("an Indian account number is 9 to 18 digits")]
    IndianAccountNumber,
    /// The Zengin bank code is not four digits.
    #[error("a Zengin bank code is four digits")]
    ZenginBankCode,
    /// The Zengin branch code is not three digits.
    #[error("a Zengin branch code is three digits")]
    ZenginBranchCode,
    /// The Zengin account number is not seven digits.
    #[error("a Zengin account number is seven digits")]
    ZenginAccountNumber,
}

impl BankDetailsError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::IbanFormat => "iban_invalid_format",
            Self::IbanChecksum => "iban_invalid_checksum",
            Self::IbanCountry => "iban_unknown_country",
            Self::IbanCountryFormat => "iban_invalid_for_country",
            Self::SortCode => "sort_code_invalid",
            Self::UkAccountNumber => "uk_account_number_invalid",
            Self::RoutingNumberFormat => "routing_number_invalid_format",
            Self::RoutingNumberChecksum => "routing_number_invalid_checksum",
            Self::UsAccountNumber => "us_account_number_invalid",
            Self::ClabeFormat => "clabe_invalid_format",
            Self::ClabeChecksum => "clabe_invalid_checksum",
            Self::Cpf => "cpf_invalid",
            Self::Cnpj => "cnpj_invalid",
            Self::PixEmail => "pix_email_invalid",
            Self::PixPhone => "pix_phone_invalid",
            Self::PixRandomKey => "pix_random_key_invalid",
            Self::UpiVpa => "upi_vpa_invalid",
            Self::Ifsc => "ifsc_invalid",
            Self::IndianAccountNumber => "indian_account_number_invalid",
            Self::ZenginBankCode => "zengin_bank_code_invalid",
            Self::ZenginBranchCode => "zengin_branch_code_invalid",
            Self::ZenginAccountNumber => "zengin_account_number_invalid",
        }
    }
}

fn require(ok: bool, error: BankDetailsError) -> Result<(), BankDetailsError> {
    if ok { Ok(()) } else { Err(error) }
}

/// The text without spaces, upper-cased.
fn compact(text: &str) -> String {
    text.chars()
        .filter(|c| *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// All but the last four characters hidden (spaces dropped first); nothing shown when there
/// are four or fewer.
fn mask(text: &str) -> String {
    let chars: Vec<char> = text.chars().filter(|c| *c != ' ').collect();
    let shown = chars.len().saturating_sub(4);
    match chars.get(shown..) {
        Some(tail) if shown > 0 => format!("****{}", tail.iter().collect::<String>()),
        _ => "****".to_owned(),
    }
}

/// Whether `text` is `min` to `max` ASCII digits.
fn is_digits(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

/// The digit values of exactly `len` ASCII digits.
fn digit_values(text: &str, len: usize) -> Option<Vec<u32>> {
    if text.len() != len {
        return None;
    }
    text.chars().map(|c| c.to_digit(10)).collect()
}

/// Σ value × weight, with the weights repeated as needed; `None` on overflow.
fn weighted_sum(values: &[u32], weights: &[u32]) -> Option<u32> {
    values
        .iter()
        .zip(weights.iter().cycle())
        .try_fold(0_u32, |sum, (value, weight)| {
            sum.checked_add(value.checked_mul(*weight)?)
        })
}

/// The checks of the IBAN registry (ISO 13616) through the `iban_validate` crate: form, check
/// digits (mod 97), and the country's length and account format.
fn validate_iban(text: &str) -> Result<(), BankDetailsError> {
    match compact(text).parse::<Iban>() {
        Ok(_) => Ok(()),
        Err(ParseIbanError::InvalidBaseIban {
            source: ParseBaseIbanError::InvalidChecksum,
        }) => Err(BankDetailsError::IbanChecksum),
        Err(ParseIbanError::InvalidBaseIban { .. }) => Err(BankDetailsError::IbanFormat),
        Err(ParseIbanError::UnknownCountry(_)) => Err(BankDetailsError::IbanCountry),
        Err(ParseIbanError::InvalidBban(_)) => Err(BankDetailsError::IbanCountryFormat),
    }
}

/// An ABA routing number: nine digits whose first two are a Federal Reserve district
/// (01-12), a thrift (21-32), an electronic-only number (61-72) or traveller's cheques (80),
/// or 00 (the US government), and whose digits weighted 3, 7, 1 add up to a multiple of 10.
fn validate_routing_number(text: &str) -> Result<(), BankDetailsError> {
    let digits = digit_values(text, 9).ok_or(BankDetailsError::RoutingNumberFormat)?;
    let prefix = match digits.get(..2) {
        Some([tens, ones]) => tens.checked_mul(10).and_then(|t| t.checked_add(*ones)),
        _ => None,
    }
    .ok_or(BankDetailsError::RoutingNumberFormat)?;
    if !matches!(prefix, 0..=12 | 21..=32 | 61..=72 | 80) {
        return Err(BankDetailsError::RoutingNumberFormat);
    }
    let sum = weighted_sum(&digits, &[3, 7, 1]).ok_or(BankDetailsError::RoutingNumberFormat)?;
    require(
        sum.checked_rem(10) == Some(0),
        BankDetailsError::RoutingNumberChecksum,
    )
}

/// A CLABE: 18 digits (bank, city, account, check digit). Each of the first 17 digits is
/// multiplied by 3, 7, 1, 3, 7, 1, ... and only the last digit of each product kept; the check
/// digit is what takes their sum to the next multiple of 10.
fn validate_clabe(text: &str) -> Result<(), BankDetailsError> {
    let digits = digit_values(text, 18).ok_or(BankDetailsError::ClabeFormat)?;
    let (body, check) = digits.split_at(17);
    let sum = body
        .iter()
        .zip([3_u32, 7, 1].iter().cycle())
        .try_fold(0_u32, |sum, (digit, weight)| {
            sum.checked_add(digit.checked_mul(*weight)?.checked_rem(10)?)
        })
        .ok_or(BankDetailsError::ClabeFormat)?;
    let expected = 10_u32
        .checked_sub(sum.checked_rem(10).ok_or(BankDetailsError::ClabeFormat)?)
        .and_then(|d| d.checked_rem(10))
        .ok_or(BankDetailsError::ClabeFormat)?;
    require(check == [expected], BankDetailsError::ClabeChecksum)
}

/// A CPF check digit over `digits`: weights from `digits.len() + 1` down to 2, the sum times
/// 10 modulo 11, with 10 counted as 0.
fn cpf_check_digit(digits: &[u32]) -> Option<u32> {
    let top = u32::try_from(digits.len()).ok()?.checked_add(1)?;
    let weights: Vec<u32> = (2..=top).rev().collect();
    let remainder = weighted_sum(digits, &weights)?
        .checked_mul(10)?
        .checked_rem(11)?;
    Some(if remainder == 10 { 0 } else { remainder })
}

/// A CPF: 11 digits, not all the same, the last two being the check digits of those before.
fn cpf_is_valid(text: &str) -> bool {
    let Some(digits) = digit_values(text, 11) else {
        return false;
    };
    let all_same = digits.windows(2).all(|pair| pair.first() == pair.get(1));
    let first = digits.get(..9).and_then(cpf_check_digit);
    let second = digits.get(..10).and_then(cpf_check_digit);
    !all_same
        && first.is_some()
        && [first, second] == [digits.get(9), digits.get(10)].map(|d| d.copied())
}

/// A CNPJ check digit over `values`: weights 2 to 9 from the right, repeating; the sum
/// modulo 11, with a remainder below 2 giving 0 and any other `r` giving `11 - r`.
fn cnpj_check_digit(values: &[u32]) -> Option<u32> {
    let weights: Vec<u32> = (0..values.len())
        .rev()
        .map(|from_right| {
            u32::try_from(from_right.checked_rem(8)?)
                .ok()?
                .checked_add(2)
        })
        .collect::<Option<_>>()?;
    let remainder = weighted_sum(values, &weights)?.checked_rem(11)?;
    if remainder < 2 {
        Some(0)
    } else {
        11_u32.checked_sub(remainder)
    }
}

/// A CNPJ: 12 characters (digits, or from July 2026 also upper-case letters) and two check
/// digits. Each character counts as its ASCII code minus 48, so a digit counts as itself and
/// `A` as 17 (Receita Federal's rule for alphanumeric CNPJs).
fn cnpj_is_valid(text: &str) -> bool {
    if text.len() != 14 {
        return false;
    }
    let Some((body, checks)) = text.split_at_checked(12) else {
        return false;
    };
    let body_ok = body
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
    if !body_ok || !checks.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let values: Vec<u32> = text
        .bytes()
        .filter_map(|b| u32::from(b).checked_sub(48))
        .collect();
    let all_same = values.windows(2).all(|pair| pair.first() == pair.get(1));
    let first = values.get(..12).and_then(cnpj_check_digit);
    let second = values.get(..13).and_then(cnpj_check_digit);
    !all_same
        && values.len() == 14
        && first.is_some()
        && [first, second] == [values.get(12), values.get(13)].map(|d| d.copied())
}

/// An e-mail address as Pix accepts it: at most 77 characters, lower case, one `@`, a local
/// part of letters, digits and the usual symbols, a domain of at least two dot-separated
/// labels of letters, digits and inner hyphens.
fn email_is_valid(text: &str) -> bool {
    if text.len() > 77 {
        return false;
    }
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b"._%+-!#$&'*/=?^`{|}~".contains(&b)
        });
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    local_ok && domain_ok
}

/// A Brazilian mobile number as a Pix key: `+55`, an area code of two non-zero digits, and
/// nine digits starting with 9.
fn br_mobile_is_valid(text: &str) -> bool {
    let Some(number) = text.strip_prefix("+55") else {
        return false;
    };
    let bytes = number.as_bytes();
    match bytes {
        [area_1, area_2, first, ..] => {
            is_digits(number, 11, 11) && *area_1 != b'0' && *area_2 != b'0' && *first == b'9'
        }
        _ => false,
    }
}

/// A UUID in lower-case hyphenated form (8-4-4-4-12 hex digits).
fn uuid_text_is_valid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(index, b)| {
            if matches!(index, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
            }
        })
}

/// A UPI address: a name of 2 to 256 letters, digits, dots, hyphens or underscores, `@`, and
/// a handle of 2 to 64 letters (NPCI's format).
fn vpa_is_valid(text: &str) -> bool {
    let Some((name, handle)) = text.split_once('@') else {
        return false;
    };
    let name_ok = (2..=256).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    let handle_ok =
        (2..=64).contains(&handle.len()) && handle.bytes().all(|b| b.is_ascii_alphabetic());
    name_ok && handle_ok
}

/// An IFSC: four upper-case letters (the bank), `0`, and six upper-case letters or digits (the
/// branch).
fn ifsc_is_valid(text: &str) -> bool {
    text.len() == 11
        && text.bytes().enumerate().all(|(index, b)| match index {
            0..=3 => b.is_ascii_uppercase(),
            4 => b == b'0',
            _ => b.is_ascii_uppercase() || b.is_ascii_digit(),
        })
}
