//! The ledger store port: what every ledger store, in memory or durable, MUST do.

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::{
    Account, AccountError, AccountId, Balance, BatchError, NewAccount, PendingState, Receipt,
    Timestamp, Transfer, TransferId, TransferRequest,
};

/// Where a store reads the time from.
pub trait Clock: Send + Sync {
    /// The current time. It may stand still or go back; the ledger still hands out strictly
    /// increasing timestamps.
    fn now(&self) -> Timestamp;
}

/// A clock that moves only when told to; for tests and simulations.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock that reads `start` until it is set or advanced.
    pub fn new(start: Timestamp) -> Self {
        Self(AtomicI64::new(start.as_micros()))
    }

    /// Sets the time to `now`, which may be earlier than the current time.
    pub fn set(&self, now: Timestamp) {
        self.0.store(now.as_micros(), Ordering::SeqCst);
    }

    /// Moves the time forward by `seconds`, saturating at [`Timestamp::MAX`].
    pub fn advance_secs(&self, seconds: u32) {
        let now = self.now().saturating_add_secs(seconds);
        self.set(now);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.0.load(Ordering::SeqCst))
    }
}

/// The store could not give an answer. The ledger's decision on the request is unknown:
/// retrying the same request is always safe, since requests are idempotent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The backing service cannot be reached now; retry later.
    #[error("ledger store unavailable: {0}")]
    Unavailable(String),
    /// The store failed in a way a retry will not fix (a bug, corrupted data).
    #[error("ledger store failed: {0}")]
    Internal(String),
}

impl StoreError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable(_) => "ledger_unavailable",
            Self::Internal(_) => "ledger_internal_error",
        }
    }
}

/// A ledger store. The outer `Result` says whether the store answered; the inner one is
/// the ledger's decision.
///
/// Every implementation MUST behave exactly like the reference engine
/// ([`crate::ReferenceLedger`], exposed as [`crate::InMemoryLedger`]):
/// - `create_account` opens the account or, for an identical request, returns the account
///   as first opened; a different request for a known id returns the matching
///   `AccountError::ExistsWith...`.
/// - `submit` applies a linked batch all-or-nothing, with the checks, the order of checks and
///   the result codes of [`crate::LedgerState::submit`]: receipts in leg order on success, the
///   first failing leg's index and code on rejection. A rejected batch changes no balance and
///   no transfer. Failures whose code [`crate::TransferError::is_recorded`] are remembered: the
///   same request returns the same code again, any other request with that id returns
///   `IdAlreadyFailed`. A successful leg's identical request returns the same receipt, and
///   a different request with its id the matching `ExistsWith...` code.
/// - timestamps are strictly increasing across batches; all legs of a batch share one.
/// - `expire_due` releases open pending transfers whose timeout has passed by the store's
///   clock, oldest deadline first, and returns their ids; a store may release at most a
///   bounded number per call, so callers repeat it until it returns none. A post or void after
///   the timeout is refused with `PendingTransferExpired` whether or not the release has run.
/// - transfers are never changed or deleted; `transfer` returns what `submit` stored.
/// - `balance_at` returns the balance after every event with a timestamp up to and including
///   `at`, or `None` if the account did not exist then.
/// - a `StoreError` means the request may or may not have been applied, never that it was
///   half-applied.
pub trait LedgerStore: Send + Sync {
    /// Opens an account, or returns it as first opened if an identical request opened it
    /// before.
    fn create_account(
        &self,
        account: NewAccount,
    ) -> impl Future<Output = Result<Result<Account, AccountError>, StoreError>> + Send;

    /// Applies a linked batch all-or-nothing: one receipt per leg, in leg order, or the first
    /// failing leg's rejection.
    fn submit(
        &self,
        batch: Vec<TransferRequest>,
    ) -> impl Future<Output = Result<Result<Vec<Receipt>, BatchError>, StoreError>> + Send;

    /// Releases open pending transfers whose timeout has passed by the store's clock, oldest
    /// deadline first, and returns their ids. It may release only some of them per call; an
    /// empty list means none is left.
    fn expire_due(&self) -> impl Future<Output = Result<Vec<TransferId>, StoreError>> + Send;

    /// The account and its current balance.
    fn account(
        &self,
        id: AccountId,
    ) -> impl Future<Output = Result<Option<(Account, Balance)>, StoreError>> + Send;

    /// The accounts among `ids` that exist, each with its current balance, in any order.
    /// Stores that can read many at once override this; by default it reads them one by one.
    fn accounts(
        &self,
        ids: Vec<AccountId>,
    ) -> impl Future<Output = Result<Vec<(Account, Balance)>, StoreError>> + Send {
        async move {
            let mut found = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(account) = self.account(id).await? {
                    found.push(account);
                }
            }
            Ok(found)
        }
    }

    /// The transfer as `submit` stored it; `None` if no transfer has this id.
    fn transfer(
        &self,
        id: TransferId,
    ) -> impl Future<Output = Result<Option<Transfer>, StoreError>> + Send;

    /// Where a pending transfer stands; `None` if no pending transfer has this id.
    fn pending_state(
        &self,
        id: TransferId,
    ) -> impl Future<Output = Result<Option<PendingState>, StoreError>> + Send;

    /// The account's balance after every event with a timestamp up to and including `at`;
    /// `None` if the account did not exist then.
    fn balance_at(
        &self,
        id: AccountId,
        at: Timestamp,
    ) -> impl Future<Output = Result<Option<Balance>, StoreError>> + Send;
}

/// Where a page of account history ends: the next page holds only entries strictly older than
/// this transfer's timestamp and leg.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HistoryCursor {
    /// The timestamp of the last transfer on the page.
    pub timestamp: Timestamp,
    /// That transfer's place in its linked batch.
    pub leg: i32,
}

/// One transfer in an account's history, with the account's balance right after it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HistoryEntry {
    /// The transfer as stored; the account is its debit or its credit account.
    pub transfer: Transfer,
    /// The transfer's place in its linked batch; the legs of a batch share one timestamp.
    pub leg: i32,
    /// The account's balance after this transfer and the legs of its batch before it.
    pub balance_after: Balance,
}

impl HistoryEntry {
    /// The cursor that continues the history after this entry.
    pub fn cursor(&self) -> HistoryCursor {
        HistoryCursor {
            timestamp: self.transfer.timestamp,
            leg: self.leg,
        }
    }
}

/// An account's history, for statements and dashboards.
///
/// An implementation MUST return the account's transfers newest first (by timestamp, then
/// by leg, descending), only those strictly older than `before` when it is given, at most
/// `limit` of them (it may cut larger limits to a maximum of its own, and returns none for
/// a limit of zero), each with the account's balance right after it. An unknown account
/// has no history.
pub trait LedgerHistory: Send + Sync {
    /// Up to `limit` of the account's transfers, newest first, each with the balance after
    /// it; with `before`, only those older than the cursor.
    fn history(
        &self,
        account: AccountId,
        before: Option<HistoryCursor>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<HistoryEntry>, StoreError>> + Send;

    /// Up to `limit` account ids in ascending order, only those above `after` when it is
    /// given: every account, a page at a time, for reports over the whole ledger (a trial
    /// balance). A store may cut larger limits to a maximum of its own; an empty page means
    /// no account is left.
    fn account_ids(
        &self,
        after: Option<AccountId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AccountId>, StoreError>> + Send;
}

/// The next page of accounts after `after` (from the first when `None`), each with its
/// current balance, and the id to continue after; `None` when no account is left. For reports
/// over every account, a page at a time.
pub async fn accounts_after<L: LedgerStore + LedgerHistory + ?Sized>(
    ledger: &L,
    after: Option<AccountId>,
    limit: u32,
) -> Result<Option<(AccountId, Vec<(Account, Balance)>)>, StoreError> {
    let ids = ledger.account_ids(after, limit).await?;
    let Some(last) = ids.last().copied() else {
        return Ok(None);
    };
    Ok(Some((last, ledger.accounts(ids).await?)))
}

/// Entries read per page by [`walk_history`].
const WALK_PAGE: u32 = 500;

/// An account's history from `from` back, newest first, a page at a time, until `stop` says
/// an entry is the last one wanted (it is included), the history ends, or `max` entries were
/// read. Pages may come back shorter than asked (a store may cut them): only an empty page
/// ends the history.
pub async fn walk_history<H: LedgerHistory + ?Sized>(
    history: &H,
    account: AccountId,
    from: Option<HistoryCursor>,
    max: usize,
    mut stop: impl FnMut(&HistoryEntry) -> bool + Send,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let mut found = Vec::new();
    let mut before = from;
    loop {
        let page = history.history(account, before, WALK_PAGE).await?;
        if page.is_empty() {
            return Ok(found);
        }
        for entry in page {
            before = Some(entry.cursor());
            let last = stop(&entry);
            found.push(entry);
            if last || found.len() >= max {
                return Ok(found);
            }
        }
    }
}
