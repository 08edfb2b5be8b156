//! Payout types: sellers' bank accounts, as the API shows and takes them.

use async_graphql::{ID, InputObject, Result, SimpleObject};
use bazaar_domain::payouts::{
    BankAccount, BankDetails, PayoutsError, PixKey, Verification, ZenginAccountType,
};

use super::{error, instant};

/// One of the signed-in seller's bank accounts. Only the identifier's last four characters are
/// ever shown.
#[derive(SimpleObject)]
pub struct BankAccountNode {
    id: ID,
    /// The currency paid out to it.
    currency: String,
    /// The rail that reaches it, e.g. `sepa_credit`, `ach`, `pix`.
    rail: String,
    /// The kind of details: `iban`, `uk_account`, `us_account`, `clabe`, `pix_key`,
    /// `upi_vpa`, `indian_account` or `zengin`.
    kind: String,
    /// The identifier with all but its last four characters hidden.
    masked: String,
    holder_name: String,
    /// `unverified` (answer the micro-deposits), `verified` or `errored`.
    state: String,
    /// Wrong micro-deposit answers so far; three leave the account errored.
    failed_attempts: i32,
    created_at: String,
}

impl From<BankAccount> for BankAccountNode {
    fn from(account: BankAccount) -> Self {
        Self {
            id: ID(account.id.to_string()),
            currency: account.currency.code().to_owned(),
            rail: account.rail.as_str().to_owned(),
            kind: account.kind.as_str().to_owned(),
            masked: account.masked,
            holder_name: account.holder_name,
            state: account.state.as_str().to_owned(),
            failed_attempts: i32::try_from(account.failed_attempts).unwrap_or(i32::MAX),
            created_at: instant(account.created_at),
        }
    }
}

/// How a micro-deposit answer went.
#[derive(SimpleObject)]
pub struct BankAccountVerification {
    /// Whether the amounts matched.
    verified: bool,
    /// Answers still allowed (0 once verified or errored).
    attempts_left: i32,
    account: BankAccountNode,
}

impl From<Verification> for BankAccountVerification {
    fn from(verification: Verification) -> Self {
        match verification {
            Verification::Verified(account) => Self {
                verified: true,
                attempts_left: 0,
                account: account.into(),
            },
            Verification::Wrong {
                account,
                attempts_left,
            } => Self {
                verified: false,
                attempts_left: i32::try_from(attempts_left).unwrap_or(0),
                account: account.into(),
            },
        }
    }
}

/// Bank details as entered. `kind` says which fields apply:
/// `iban` (iban); `uk_account` (sortCode, accountNumber); `us_account` (routingNumber,
/// accountNumber); `clabe` (clabe); `pix_key` (pixKeyType: cpf, cnpj, email, phone or random;
/// pixKey); `upi_vpa` (vpa); `indian_account` (ifsc, accountNumber); `zengin` (bankCode,
/// branchCode, accountNumber, accountType: ordinary, current or savings).
#[derive(InputObject, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BankDetailsInput {
    kind: String,
    iban: Option<String>,
    sort_code: Option<String>,
    account_number: Option<String>,
    routing_number: Option<String>,
    clabe: Option<String>,
    pix_key_type: Option<String>,
    pix_key: Option<String>,
    vpa: Option<String>,
    ifsc: Option<String>,
    bank_code: Option<String>,
    branch_code: Option<String>,
    account_type: Option<String>,
}

/// A required field of the details.
fn field(value: Option<String>, name: &'static str) -> Result<String> {
    value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .ok_or_else(|| {
            error(
                "invalid_input",
                format!("{name} is required (at most 64 characters)"),
            )
        })
}

impl BankDetailsInput {
    /// The details, or `invalid_input` naming the missing field; checks of the values
    /// themselves are the rail's.
    pub fn parse(self) -> Result<BankDetails> {
        let account_number = || field(self.account_number.clone(), "accountNumber");
        Ok(match self.kind.as_str() {
            "iban" => BankDetails::Iban {
                iban: field(self.iban, "iban")?,
            },
            "uk_account" => BankDetails::UkAccount {
                sort_code: field(self.sort_code, "sortCode")?,
                account_number: account_number()?,
            },
            "us_account" => BankDetails::UsAccount {
                routing_number: field(self.routing_number, "routingNumber")?,
                account_number: account_number()?,
            },
            "clabe" => BankDetails::Clabe {
                clabe: field(self.clabe, "clabe")?,
            },
            "pix_key" => {
                let key = field(self.pix_key, "pixKey")?;
                BankDetails::Pix {
                    key: match field(self.pix_key_type, "pixKeyType")?.as_str() {
                        "cpf" => PixKey::Cpf(key),
                        "cnpj" => PixKey::Cnpj(key),
                        "email" => PixKey::Email(key),
                        "phone" => PixKey::Phone(key),
                        "random" => PixKey::Random(key),
                        _ => return Err(error("invalid_input", "unknown pixKeyType")),
                    },
                }
            }
            "upi_vpa" => BankDetails::Upi {
                vpa: field(self.vpa, "vpa")?,
            },
            "indian_account" => BankDetails::IndianAccount {
                ifsc: field(self.ifsc, "ifsc")?,
                account_number: account_number()?,
            },
            "zengin" => BankDetails::Zengin {
                bank_code: field(self.bank_code, "bankCode")?,
                branch_code: field(self.branch_code, "branchCode")?,
                account_number: account_number()?,
                account_type: match field(self.account_type, "accountType")?.as_str() {
                    "ordinary" => ZenginAccountType::Ordinary,
                    "current" => ZenginAccountType::Current,
                    "savings" => ZenginAccountType::Savings,
                    _ => return Err(error("invalid_input", "unknown accountType")),
                },
            },
            _ => return Err(error("invalid_input", "unknown kind of bank details")),
        })
    }
}

/// The two micro-deposit amounts in minor units, e.g. `[32, 45]` for 0.32 and 0.45.
pub fn deposit_answer(amounts: &[i32]) -> Result<[i64; 2]> {
    let [first, second] = amounts else {
        return Err(error("invalid_input", "give the two amounts"));
    };
    Ok([i64::from(*first), i64::from(*second)])
}

/// Maps a payouts error to its client form; causes were logged where they happened.
pub fn payouts(e: PayoutsError) -> async_graphql::Error {
    if matches!(e.code(), "internal" | "unavailable") {
        tracing::warn!(code = e.code(), "request failed in a backing service");
    }
    error(e.code(), e.to_string())
}
