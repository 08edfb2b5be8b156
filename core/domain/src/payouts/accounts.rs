//! Sellers' bank accounts: added with their details checked, verified by micro-deposits,
//! shown masked, removed.

use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};

use super::{BankDetails, BankDetailsKind, Rail};
use crate::chart::SellerId;

bazaar_ledger::uuid_id!(
    /// A seller's bank account's id.
    BankAccountId
);

impl BankAccountId {
    /// The account a seller adds under `key`: the same key always names the same account.
    pub fn for_key(seller: SellerId, key: &str) -> Self {
        Self::from_uuid(uuid::Uuid::new_v5(
            &seller.as_uuid(),
            format!("bank_account:{key}").as_bytes(),
        ))
    }
}

/// The most bank accounts a seller may have (removed ones not counted).
pub const BANK_ACCOUNTS_MAX: usize = 10;
/// Wrong micro-deposit answers before verification is refused for good.
pub const VERIFY_ATTEMPTS_MAX: u32 = 3;
/// The longest holder name kept, in characters.
pub const HOLDER_NAME_MAX: usize = 140;

/// Where a bank account stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BankAccountState {
    /// Added; the micro-deposits were sent and await the seller's answer.
    Unverified,
    /// The seller confirmed the micro-deposits; payouts may go here.
    Verified,
    /// Too many wrong answers, or a payout came back: no payout goes here until the seller
    /// adds the account again.
    Errored,
}

impl BankAccountState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unverified => "unverified",
            Self::Verified => "verified",
            Self::Errored => "errored",
        }
    }

    /// The state [`as_str`](Self::as_str) names.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Unverified, Self::Verified, Self::Errored]
            .into_iter()
            .find(|state| state.as_str() == name)
    }
}

/// A bank account as the seller and the API see it: never the full details.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BankAccount {
    /// Its id.
    pub id: BankAccountId,
    /// Whose it is.
    pub seller: SellerId,
    /// The currency paid out to it.
    pub currency: Currency,
    /// The rail that reaches it.
    pub rail: Rail,
    /// The kind of details.
    pub kind: BankDetailsKind,
    /// The identifier with all but its last four characters hidden.
    pub masked: String,
    /// The account holder's name.
    pub holder_name: String,
    /// Where it stands.
    pub state: BankAccountState,
    /// Wrong micro-deposit answers so far.
    pub failed_attempts: u32,
    /// When it was added.
    pub created_at: Timestamp,
}

/// A bank account to add, checked by the service.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NewBankAccount {
    /// Chosen by the caller: adding the same id again answers the account as first added.
    pub id: BankAccountId,
    /// Whose it is.
    pub seller: SellerId,
    /// The rail that reaches it; its currency is the account's.
    pub rail: Rail,
    /// The full details; the store MUST keep them sealed.
    pub details: BankDetails,
    /// The account holder's name, trimmed.
    pub holder_name: String,
    /// The micro-deposits sent; the store MUST keep them sealed too.
    pub deposits: [Money; 2],
}

/// Whether `given` are the two micro-deposits, in either order.
pub fn deposits_match(sent: [Money; 2], given: [Money; 2]) -> bool {
    let [a, b] = sent;
    given == [a, b] || given == [b, a]
}

/// What a verification answer leaves: the account's state and its count of wrong answers.
pub fn verification_after(
    sent: [Money; 2],
    given: [Money; 2],
    failed_attempts: u32,
) -> (BankAccountState, u32) {
    if deposits_match(sent, given) {
        return (BankAccountState::Verified, failed_attempts);
    }
    let failed = failed_attempts.saturating_add(1);
    let state = if failed >= VERIFY_ATTEMPTS_MAX {
        BankAccountState::Errored
    } else {
        BankAccountState::Unverified
    };
    (state, failed)
}
