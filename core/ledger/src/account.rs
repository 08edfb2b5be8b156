use std::fmt;

use bazaar_money::Currency;

use crate::{AccountId, Timestamp};

const CODE_LEN_MAX: usize = 32;
const OWNER_LEN_MAX: usize = 64;

/// The purpose of an account in the chart of accounts, e.g. `seller_pending`,
/// `psp_clearing`, `revenue_commission`: a lower-case ASCII word of at most 32 characters
/// (`[a-z][a-z0-9_]*`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct AccountCode(String);

impl AccountCode {
    /// Checks `code` against the rules above; fails with [`AccountError::InvalidCode`] if it
    /// breaks them.
    pub fn new(code: &str) -> Result<Self, AccountError> {
        let mut bytes = code.bytes();
        let well_formed = code.len() <= CODE_LEN_MAX
            && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
            && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if well_formed {
            Ok(Self(code.to_owned()))
        } else {
            Err(AccountError::InvalidCode)
        }
    }

    /// The code as written, e.g. `seller_pending`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who an account belongs to, e.g. a seller id, a payment provider's name, or a tax
/// jurisdiction; empty for the platform's own accounts. At most 64 characters of
/// `[A-Za-z0-9_.:-]`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Owner(String);

impl Owner {
    /// Checks `owner` against the rules above; fails with [`AccountError::InvalidOwner`] if it
    /// breaks them. The empty string is the platform.
    pub fn new(owner: &str) -> Result<Self, AccountError> {
        let well_formed = owner.len() <= OWNER_LEN_MAX
            && owner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
        if well_formed {
            Ok(Self(owner.to_owned()))
        } else {
            Err(AccountError::InvalidOwner)
        }
    }

    /// The platform itself.
    pub fn platform() -> Self {
        Self(String::new())
    }

    /// The owner as written; empty for the platform.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The side on which an account's balance normally grows.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Side {
    /// Debits increase the balance: money the platform holds or is owed, such as a payment
    /// provider's clearing account or a bank account.
    Debit,
    /// Credits increase the balance: money the platform owes or has earned, such as a
    /// seller's balance, tax payable or commission revenue.
    Credit,
}

/// What an account's balance may never do. Pending amounts count against the limit as
/// soon as they are reserved; pending amounts on the other side do not count in the
/// account's favour until they are posted.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum BalanceConstraint {
    /// Any balance is allowed (clearing, revenue, FX position and rounding accounts).
    Unconstrained,
    /// `debits_posted + debits_pending <= credits_posted + overdraft`. For accounts that
    /// hold money owed to someone (a seller's available balance): they cannot go below
    /// `-overdraft`.
    DebitsMustNotExceedCredits {
        /// How far, in minor units, debits may run ahead of posted credits; never negative.
        overdraft: i64,
    },
    /// `credits_posted + credits_pending <= debits_posted + overdraft`. For accounts that
    /// hold money someone owes (a buyer's prepaid funds seen from the other side, a loan
    /// facility with a cap of `overdraft`).
    CreditsMustNotExceedDebits {
        /// How far, in minor units, credits may run ahead of posted debits; never negative.
        overdraft: i64,
    },
}

/// A request to open an account.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NewAccount {
    /// Chosen by the client; must not be nil. It is the idempotency key: the same request
    /// again returns the account as first opened.
    pub id: AccountId,
    /// The one currency the account holds; every transfer that touches it must be in it.
    pub currency: Currency,
    /// The account's purpose in the chart of accounts.
    pub code: AccountCode,
    /// Who the account belongs to; [`Owner::platform`] for the platform's own accounts.
    pub owner: Owner,
    /// The side on which the balance normally grows, for reports such as
    /// [`Balance::posted_net`]; it does not limit the balance, the constraint does.
    pub normal_side: Side,
    /// What the balance may never do; an overdraft must not be negative.
    pub constraint: BalanceConstraint,
}

/// An open account. Accounts are never closed or changed; their balances are kept apart
/// (see [`Balance`]).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Account {
    /// Chosen by the client when the account was opened; never nil.
    pub id: AccountId,
    /// The one currency the account holds; every transfer that touches it is in it.
    pub currency: Currency,
    /// The account's purpose in the chart of accounts.
    pub code: AccountCode,
    /// Who the account belongs to; empty for the platform's own accounts.
    pub owner: Owner,
    /// The side on which the balance normally grows, for reports such as
    /// [`Balance::posted_net`]; it does not limit the balance, the constraint does.
    pub normal_side: Side,
    /// What the balance may never do; checked on every transfer that touches the account.
    pub constraint: BalanceConstraint,
    /// The ledger timestamp at which the account was opened; it has no balance before.
    pub created_at: Timestamp,
}

impl Account {
    pub(crate) fn open(new: NewAccount, created_at: Timestamp) -> Self {
        Self {
            id: new.id,
            currency: new.currency,
            code: new.code,
            owner: new.owner,
            normal_side: new.normal_side,
            constraint: new.constraint,
            created_at,
        }
    }

    /// Whether `balance` respects this account's constraint.
    #[expect(
        clippy::arithmetic_side_effects,
        reason = "sums of two or three i64 values cannot overflow i128"
    )]
    pub fn allows(&self, balance: &Balance) -> bool {
        let debits = i128::from(balance.debits_posted) + i128::from(balance.debits_pending);
        let credits = i128::from(balance.credits_posted) + i128::from(balance.credits_pending);
        match self.constraint {
            BalanceConstraint::Unconstrained => true,
            BalanceConstraint::DebitsMustNotExceedCredits { overdraft } => {
                debits <= i128::from(balance.credits_posted) + i128::from(overdraft)
            }
            BalanceConstraint::CreditsMustNotExceedDebits { overdraft } => {
                credits <= i128::from(balance.debits_posted) + i128::from(overdraft)
            }
        }
    }

    /// Compares a repeated creation request with this account.
    pub(crate) fn check_same(&self, new: &NewAccount) -> Result<(), AccountError> {
        if self.currency != new.currency {
            Err(AccountError::ExistsWithDifferentCurrency)
        } else if self.code != new.code {
            Err(AccountError::ExistsWithDifferentCode)
        } else if self.owner != new.owner {
            Err(AccountError::ExistsWithDifferentOwner)
        } else if self.normal_side != new.normal_side {
            Err(AccountError::ExistsWithDifferentNormalSide)
        } else if self.constraint != new.constraint {
            Err(AccountError::ExistsWithDifferentConstraint)
        } else {
            Ok(())
        }
    }
}

/// An account's balance, as four monotonic-per-event sums in minor units of the account's
/// currency. Posted amounts only grow; pending amounts grow when a hold is placed and shrink
/// when it is posted, voided or expires.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Balance {
    /// Debits reserved by open pending transfers; never negative.
    pub debits_pending: i64,
    /// Debits posted by direct transfers, posts and reversals; never negative.
    pub debits_posted: i64,
    /// Credits reserved by open pending transfers; never negative.
    pub credits_pending: i64,
    /// Credits posted by direct transfers, posts and reversals; never negative.
    pub credits_posted: i64,
}

impl Balance {
    #[expect(
        clippy::arithmetic_side_effects,
        reason = "differences of i64 values cannot overflow i128"
    )]
    /// The posted balance seen from the account's normal side: credits minus debits for a
    /// credit-normal account, and the reverse for a debit-normal one.
    pub fn posted_net(&self, side: Side) -> i128 {
        let credits = i128::from(self.credits_posted);
        let debits = i128::from(self.debits_posted);
        match side {
            Side::Credit => credits - debits,
            Side::Debit => debits - credits,
        }
    }

    #[expect(
        clippy::arithmetic_side_effects,
        reason = "differences of i64 values cannot overflow i128"
    )]
    /// What can still be spent from a credit-normal account: posted credits minus posted
    /// and pending debits.
    pub fn available_credit(&self) -> i128 {
        i128::from(self.credits_posted)
            - i128::from(self.debits_posted)
            - i128::from(self.debits_pending)
    }
}

/// Why an account could not be opened. Opening is idempotent: the same request again
/// returns the account as it was first opened.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
pub enum AccountError {
    /// The request's account id is the nil UUID.
    #[error("account id must not be nil")]
    IdMustNotBeNil,
    /// An [`AccountCode`] is not `[a-z][a-z0-9_]*` or is longer than 32 characters.
    #[error("account code must be a lower-case word of at most 32 characters")]
    InvalidCode,
    /// An [`Owner`] is longer than 64 characters or has a character outside
    /// `[A-Za-z0-9_.:-]`.
    #[error("account owner must be at most 64 characters of [A-Za-z0-9_.:-]")]
    InvalidOwner,
    /// The balance constraint has a negative overdraft.
    #[error("overdraft must not be negative")]
    OverdraftMustNotBeNegative,
    /// The id belongs to an account opened in another currency.
    #[error("an account with this id exists with a different currency")]
    ExistsWithDifferentCurrency,
    /// The id belongs to an account opened with another code (and the same currency).
    #[error("an account with this id exists with a different code")]
    ExistsWithDifferentCode,
    /// The id belongs to an account opened for another owner (and the same currency and
    /// code).
    #[error("an account with this id exists with a different owner")]
    ExistsWithDifferentOwner,
    /// The id belongs to an account opened with the other normal side (and the same
    /// currency, code and owner).
    #[error("an account with this id exists with a different normal side")]
    ExistsWithDifferentNormalSide,
    /// The id belongs to an account opened with another balance constraint or overdraft
    /// (and everything else the same).
    #[error("an account with this id exists with a different balance constraint")]
    ExistsWithDifferentConstraint,
}

impl AccountError {
    /// A stable, machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::IdMustNotBeNil => "id_must_not_be_nil",
            Self::InvalidCode => "invalid_code",
            Self::InvalidOwner => "invalid_owner",
            Self::OverdraftMustNotBeNegative => "overdraft_must_not_be_negative",
            Self::ExistsWithDifferentCurrency => "exists_with_different_currency",
            Self::ExistsWithDifferentCode => "exists_with_different_code",
            Self::ExistsWithDifferentOwner => "exists_with_different_owner",
            Self::ExistsWithDifferentNormalSide => "exists_with_different_normal_side",
            Self::ExistsWithDifferentConstraint => "exists_with_different_constraint",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_owners_are_validated() {
        assert!(AccountCode::new("seller_pending").is_ok());
        assert!(AccountCode::new("tax_payable2").is_ok());
        for bad in ["", "Seller", "9lives", "a-b", "a b", &"a".repeat(33)] {
            assert_eq!(
                AccountCode::new(bad),
                Err(AccountError::InvalidCode),
                "{bad:?}"
            );
        }
        assert!(Owner::new("").is_ok());
        assert!(Owner::new("seller:0b7e.DE-1_x").is_ok());
        for bad in ["a b", "a/b", "é", &"a".repeat(65)] {
            assert_eq!(Owner::new(bad), Err(AccountError::InvalidOwner), "{bad:?}");
        }
    }

    fn account(constraint: BalanceConstraint) -> Account {
        Account {
            id: AccountId::from_u128(1),
            currency: Currency::EUR,
            code: AccountCode::new("test").unwrap(),
            owner: Owner::platform(),
            normal_side: Side::Credit,
            constraint,
            created_at: Timestamp::from_micros(0),
        }
    }

    #[test]
    fn constraints_count_pending_against_the_account_only() {
        let balance = Balance {
            debits_pending: 30,
            debits_posted: 70,
            credits_pending: 50,
            credits_posted: 100,
        };
        assert!(account(BalanceConstraint::Unconstrained).allows(&balance));
        let strict = account(BalanceConstraint::DebitsMustNotExceedCredits { overdraft: 0 });
        assert!(strict.allows(&balance));
        let over = Balance {
            debits_pending: 31,
            ..balance
        };
        assert!(!strict.allows(&over));
        assert!(
            account(BalanceConstraint::DebitsMustNotExceedCredits { overdraft: 1 }).allows(&over)
        );
        // Credits 150 (with pending) against posted debits 70 and overdraft 80.
        assert!(
            account(BalanceConstraint::CreditsMustNotExceedDebits { overdraft: 80 })
                .allows(&balance)
        );
        assert!(
            !account(BalanceConstraint::CreditsMustNotExceedDebits { overdraft: 79 })
                .allows(&balance)
        );
    }
}
