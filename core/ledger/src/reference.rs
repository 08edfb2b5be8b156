//! The in-memory reference engine: the whole ledger in one [`LedgerState`], with a journal
//! of every event and the balance history of every account.
//!
//! It defines what every store must answer. Durable stores are tested against it.

use std::collections::HashMap;

use crate::state::{AccountEntry, Effects, Failure};
use crate::{
    Account, AccountError, AccountId, Balance, BatchError, LedgerState, NewAccount, PendingState,
    Receipt, Timestamp, Transfer, TransferId, TransferRequest,
};

/// One event in the ledger's history, in the order it happened.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum JournalEntry {
    /// A transfer was applied at its timestamp.
    Transfer(Transfer),
    /// An open pending transfer's reservation was released because it timed out.
    Expired {
        /// The pending transfer whose reservation was released.
        pending_id: TransferId,
        /// The timestamp of the expiry run that released it.
        at: Timestamp,
    },
}

/// The reference ledger. Synchronous and single-threaded; [`crate::InMemoryLedger`] puts it
/// behind the [`crate::LedgerStore`] port.
#[derive(Clone, Debug, Default)]
pub struct ReferenceLedger {
    state: LedgerState,
    journal: Vec<JournalEntry>,
    history: HashMap<AccountId, Vec<(Timestamp, Balance)>>,
}

impl ReferenceLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// The whole ledger's current state.
    pub fn state(&self) -> &LedgerState {
        &self.state
    }

    /// Every transfer applied and every reservation released by expiry, in order; account
    /// openings are not in it.
    pub fn journal(&self) -> &[JournalEntry] {
        &self.journal
    }

    /// Opens an account at `now`, or returns it as first opened if an identical request
    /// opened it before; see [`LedgerState::create_account`].
    pub fn create_account(
        &mut self,
        new: NewAccount,
        now: Timestamp,
    ) -> Result<Account, AccountError> {
        self.state.create_account(new, now)
    }

    /// Applies a linked batch at `now`, all-or-nothing, and records what changed in the
    /// journal and the balance history; see [`LedgerState::submit`].
    pub fn submit(
        &mut self,
        batch: &[TransferRequest],
        now: Timestamp,
    ) -> Result<Vec<Receipt>, BatchError> {
        let (result, effects) = self.state.submit(batch, now);
        self.record(effects);
        result
    }

    /// Releases every open pending transfer whose timeout has passed at `now` and returns
    /// their ids, oldest deadline first; none if nothing was due.
    pub fn expire_due(&mut self, now: Timestamp) -> Vec<TransferId> {
        let effects = self.state.expire_due(now);
        let expired = effects
            .expired
            .iter()
            .map(|expiration| expiration.pending_id)
            .collect();
        self.record(effects);
        expired
    }

    /// The account with this id and its current balance, if it was opened.
    pub fn account(&self, id: AccountId) -> Option<&AccountEntry> {
        self.state.account(id)
    }

    /// The transfer with this id, if one was applied.
    pub fn transfer(&self, id: TransferId) -> Option<&Transfer> {
        self.state.transfer(id)
    }

    /// Where a pending transfer stands; `None` if no pending transfer has this id.
    pub fn pending_state(&self, id: TransferId) -> Option<PendingState> {
        self.state.pending_state(id)
    }

    /// The failure remembered under this transfer id, if its request was rejected with an
    /// error that [`TransferError::is_recorded`](crate::TransferError::is_recorded).
    pub fn failure(&self, id: TransferId) -> Option<&Failure> {
        self.state.failure(id)
    }

    /// The account's balance as it was at `at`, counting every event with a timestamp up to
    /// and including `at`; `None` if the account did not exist then.
    pub fn balance_at(&self, id: AccountId, at: Timestamp) -> Option<Balance> {
        let entry = self.state.account(id)?;
        if entry.account.created_at > at {
            return None;
        }
        let changes = self.history.get(&id).map_or(&[][..], Vec::as_slice);
        let after = changes.partition_point(|(timestamp, _)| *timestamp <= at);
        let balance = after
            .checked_sub(1)
            .and_then(|last| changes.get(last))
            .map(|(_, balance)| *balance)
            .unwrap_or_default();
        Some(balance)
    }

    fn record(&mut self, effects: Effects) {
        let Some(timestamp) = effects.timestamp else {
            return;
        };
        for (id, balance) in effects.balances {
            self.history
                .entry(id)
                .or_default()
                .push((timestamp, balance));
        }
        self.journal.extend(
            effects
                .transfers
                .into_iter()
                .map(|posting| JournalEntry::Transfer(posting.transfer)),
        );
        self.journal.extend(
            effects
                .expired
                .into_iter()
                .map(|expiration| JournalEntry::Expired {
                    pending_id: expiration.pending_id,
                    at: timestamp,
                }),
        );
    }
}
