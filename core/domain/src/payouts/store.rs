//! The payouts store port: what an implementation MUST do.

use std::future::Future;

use bazaar_ledger::Timestamp;

use bazaar_money::{Currency, Money};

use super::{
    BankAccount, BankAccountId, BankDetails, Change, LedgerChange, NewBankAccount, NewPayout,
    Payout, PayoutId, PayoutSchedule, PayoutSeller, PayoutSettings, PayoutState, RollingReserve,
    SettledCardFunds,
};
use crate::chart::SellerId;
use crate::fx::calendar::Date;
use crate::store::{Page, PageCursor};

/// Why the payouts store refused or failed.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PayoutStoreError {
    /// Nothing with that id belongs to the seller (whether or not it exists for another).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The id was used before for a different request.
    #[error("the id was used before for a different request")]
    IdReused,
    /// The seller has [`BANK_ACCOUNTS_MAX`](super::BANK_ACCOUNTS_MAX) accounts already.
    #[error("a seller may have at most {} bank accounts", super::BANK_ACCOUNTS_MAX)]
    TooManyAccounts,
    /// A payout cannot go to this account: it is not the seller's, not verified, or in
    /// another currency.
    #[error("payouts go only to a verified bank account in the payout's currency")]
    AccountNotPayable,
    /// An instant payout over the seller's daily limit (checked with the insert).
    #[error("the instant payout is over the daily limit")]
    InstantLimitReached,
    /// The account is not waiting for verification (verified already, or errored).
    #[error("the bank account is not waiting for verification")]
    NotVerifiable,
    /// The database could not be reached; the call may be retried.
    #[error("the payouts store is unavailable")]
    Unavailable,
    /// Stored data does not read back, or a bug.
    #[error("internal error")]
    Internal,
}

impl PayoutStoreError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::IdReused => "idempotency_key_reused",
            Self::TooManyAccounts => "too_many_bank_accounts",
            Self::NotVerifiable => "bank_account_not_verifiable",
            Self::AccountNotPayable => "bank_account_not_payable",
            Self::InstantLimitReached => "instant_limit_reached",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

/// How a verification answer went.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Verification {
    /// The amounts matched: the account is verified.
    Verified(BankAccount),
    /// They did not; `attempts_left` more answers are allowed (none: the account is errored).
    Wrong {
        /// The account after the wrong answer.
        account: BankAccount,
        /// Answers still allowed.
        attempts_left: u32,
    },
}

/// Where payouts, and the bank accounts they go to, are kept.
///
/// Every implementation MUST:
/// - keep bank details and micro-deposit amounts sealed (encrypted, bound to the account id)
///   and never return, log or index them in the clear; answers carry the masked form only;
/// - scope every call to the seller given: another seller's account answers `NotFound`;
/// - make `add_bank_account` idempotent by id (the same request answers the account as first
///   added; a different one under the same id is `IdReused`) and refuse a seller's account
///   beyond [`BANK_ACCOUNTS_MAX`](super::BANK_ACCOUNTS_MAX) atomically with the insert;
/// - decide `verify_bank_account` under a lock on the account, counting a wrong answer and
///   marking the account errored at [`VERIFY_ATTEMPTS_MAX`](super::VERIFY_ATTEMPTS_MAX);
///   verifying an account resumes the seller's paused schedule in its currency;
/// - make `insert_payout` idempotent by id, refuse an account that is not the seller's,
///   verified and in the payout's currency (`AccountNotPayable`), and write `payout.created`
///   to the outbox in the same transaction;
/// - make `move_payout` a compare-and-set on the state and on no ledger change being due,
///   writing in the same transaction the payout's new state, the ledger change the move asks
///   for, the rail event id (a second move for the same event id changes nothing), the
///   outbox event of the new state, and, when the move's follow-up asks for it, the bank
///   account errored and the seller's schedule in its currency paused.
pub trait PayoutStore: Send + Sync {
    /// Adds a bank account, unverified.
    fn add_bank_account(
        &self,
        account: NewBankAccount,
        now: Timestamp,
    ) -> impl Future<Output = Result<BankAccount, PayoutStoreError>> + Send;

    /// A seller's bank accounts, oldest first.
    fn bank_accounts(
        &self,
        seller: SellerId,
    ) -> impl Future<Output = Result<Vec<BankAccount>, PayoutStoreError>> + Send;

    /// Checks the seller's answer (two amounts in minor units of the account's currency) to
    /// an unverified account's micro-deposits.
    fn verify_bank_account(
        &self,
        seller: SellerId,
        account: BankAccountId,
        given: [i64; 2],
        now: Timestamp,
    ) -> impl Future<Output = Result<Verification, PayoutStoreError>> + Send;

    /// Removes a bank account; its sealed details are deleted with it.
    fn remove_bank_account(
        &self,
        seller: SellerId,
        account: BankAccountId,
    ) -> impl Future<Output = Result<(), PayoutStoreError>> + Send;

    /// The seller's settings in `currency`; the defaults when none were stored.
    fn settings(
        &self,
        seller: SellerId,
        currency: Currency,
    ) -> impl Future<Output = Result<PayoutSettings, PayoutStoreError>> + Send;

    /// Stores the seller's schedule for the schedule's currency, keeping the rest.
    fn set_schedule(
        &self,
        seller: SellerId,
        schedule: PayoutSchedule,
        now: Timestamp,
    ) -> impl Future<Output = Result<PayoutSettings, PayoutStoreError>> + Send;

    /// Stores the seller's rolling reserve in `currency` (`None` removes it).
    fn set_reserve(
        &self,
        seller: SellerId,
        currency: Currency,
        reserve: Option<RollingReserve>,
        now: Timestamp,
    ) -> impl Future<Output = Result<PayoutSettings, PayoutStoreError>> + Send;

    /// Records the seller's local date of its first capture in `currency`; a date stored
    /// before is kept.
    fn set_first_capture(
        &self,
        seller: SellerId,
        currency: Currency,
        on: Date,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), PayoutStoreError>> + Send;

    /// Sellers after `after` by id, at most `limit`, each with its settings in its
    /// settlement currency.
    fn sellers(
        &self,
        after: Option<SellerId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<PayoutSeller>, PayoutStoreError>> + Send;

    /// The seller's oldest verified bank account in `currency`, if any.
    fn payable_account(
        &self,
        seller: SellerId,
        currency: Currency,
    ) -> impl Future<Output = Result<Option<BankAccount>, PayoutStoreError>> + Send;

    /// The full details and holder name of a seller's account, opened for a rail
    /// submission only.
    fn destination(
        &self,
        seller: SellerId,
        account: BankAccountId,
    ) -> impl Future<Output = Result<Option<(BankDetails, String)>, PayoutStoreError>> + Send;

    /// Creates a payout, pending, with [`LedgerChange::PostPending`] due; the same request
    /// again answers the payout as it stands now.
    fn insert_payout(
        &self,
        payout: NewPayout,
        now: Timestamp,
    ) -> impl Future<Output = Result<Payout, PayoutStoreError>> + Send;

    /// A payout; with `seller`, only that seller's.
    fn payout(
        &self,
        seller: Option<SellerId>,
        id: PayoutId,
    ) -> impl Future<Output = Result<Option<Payout>, PayoutStoreError>> + Send;

    /// A page of the seller's payouts, newest first.
    fn payouts(
        &self,
        seller: SellerId,
        after: Option<PageCursor>,
        limit: u32,
    ) -> impl Future<Output = Result<Page<Payout>, PayoutStoreError>> + Send;

    /// Payouts with work left: a ledger change due, or pending and not yet handed to the
    /// rail; oldest first.
    fn payouts_with_work(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Payout>, PayoutStoreError>> + Send;

    /// Applies `change` to a payout that is still in `from` with no ledger change due.
    /// `None` when it is not (another worker moved it first) or when `event_id` was applied
    /// before.
    fn move_payout(
        &self,
        id: PayoutId,
        from: PayoutState,
        change: PayoutMove,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<Payout>, PayoutStoreError>> + Send;

    /// Records that `change` is posted to the ledger for the payout.
    fn ledger_posted(
        &self,
        id: PayoutId,
        change: LedgerChange,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), PayoutStoreError>> + Send;

    /// The payouts among `ids` that exist, in any order.
    fn payouts_by_ids(
        &self,
        ids: Vec<PayoutId>,
    ) -> impl Future<Output = Result<Vec<Payout>, PayoutStoreError>> + Send;

    /// Each seller's oldest verified bank account in the currency given with it, for those
    /// that have one.
    fn payable_accounts(
        &self,
        sellers: Vec<(SellerId, Currency)>,
    ) -> impl Future<Output = Result<Vec<BankAccount>, PayoutStoreError>> + Send;

    /// [`insert_payout`](Self::insert_payout) for several, in one transaction: all are
    /// recorded (each as `insert_payout` would) or none.
    fn insert_payouts(
        &self,
        payouts: Vec<NewPayout>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Payout>, PayoutStoreError>> + Send;

    /// [`ledger_posted`](Self::ledger_posted) for several payouts at once.
    fn ledger_posted_many(
        &self,
        ids: Vec<PayoutId>,
        change: LedgerChange,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), PayoutStoreError>> + Send;

    /// [`destination`](Self::destination) for several accounts at once: those found.
    fn destinations(
        &self,
        accounts: Vec<(SellerId, BankAccountId)>,
    ) -> impl Future<Output = Result<Vec<(BankAccountId, BankDetails, String)>, PayoutStoreError>> + Send;

    /// [`move_payout`](Self::move_payout) for several, in one transaction; one answer per
    /// move, in order.
    fn move_payouts(
        &self,
        moves: Vec<(PayoutId, PayoutState, PayoutMove)>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Option<Payout>>, PayoutStoreError>> + Send;

    /// The last rail event id handled.
    fn rail_cursor(&self) -> impl Future<Output = Result<Option<String>, PayoutStoreError>> + Send;

    /// Moves the rail event cursor forward to `event_id` (never back).
    fn set_rail_cursor(
        &self,
        event_id: String,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), PayoutStoreError>> + Send;

    /// Records sellers' shares of settled card payments; a share recorded before (same
    /// payment and seller) is not counted twice.
    fn record_settled_card_funds(
        &self,
        funds: Vec<SettledCardFunds>,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), PayoutStoreError>> + Send;

    /// What instant payouts may still take in `currency`: the seller's settled card funds
    /// less its instant payouts and their fees (not failed or canceled), at least zero.
    fn instant_eligible(
        &self,
        seller: SellerId,
        currency: Currency,
    ) -> impl Future<Output = Result<Money, PayoutStoreError>> + Send;

    /// What the seller paid out instantly in `currency` between `from` and `to` (payouts not
    /// failed or canceled).
    fn instant_taken(
        &self,
        seller: SellerId,
        currency: Currency,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Money, PayoutStoreError>> + Send;
}

/// A move to store: the rules' [`Change`] and what came with it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PayoutMove {
    /// The state after it, the ledger change it asks for, the follow-up.
    pub change: Change,
    /// The rail event that caused it, if any; applied once.
    pub event_id: Option<String>,
    /// The rail's reference and expected arrival, when the rail accepted the payout.
    pub accepted: Option<(String, Timestamp)>,
    /// Why the platform canceled it.
    pub canceled_reason: Option<&'static str>,
    /// Move even though a ledger change is due, dropping it: only for a payout whose hold
    /// the ledger refused, so that nothing is held and nothing needs undoing.
    pub force: bool,
}

impl PayoutMove {
    /// The move `change` with nothing else: no event, no acceptance, no reason, not forced.
    pub fn of(change: Change) -> Self {
        Self {
            change,
            event_id: None,
            accepted: None,
            canceled_reason: None,
            force: false,
        }
    }
}
