//! The ledger's state machine: the rules every store applies, in one place.
//!
//! [`LedgerState`] holds accounts, transfers, pending states and remembered failures, and
//! applies requests to them. The in-memory reference engine keeps the whole ledger in one
//! `LedgerState`; a durable store loads the part a batch touches, applies the batch with the
//! same code, and persists the returned [`Effects`].

use std::collections::{BTreeSet, HashMap, HashSet};

use bazaar_money::Money;

use crate::transfer::{BATCH_LEGS_MAX, PENDING_TIMEOUT_SECS_MAX, metadata_is_valid};
use crate::{
    Account, AccountError, AccountId, Balance, BalanceConstraint, BatchError, NewAccount,
    PendingState, Receipt, RequestKind, Timestamp, Transfer, TransferError, TransferId,
    TransferKind, TransferRequest,
};

mod stage;

use stage::{Stage, Staged};

/// An account with its current balance.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AccountEntry {
    /// The account as opened; it never changes.
    pub account: Account,
    /// The balance after every change applied so far.
    pub balance: Balance,
}

/// A remembered failure: the request that failed and why.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Failure {
    /// The request as submitted; the same request again fails with the same error.
    pub request: TransferRequest,
    /// Why it failed; always an error that [`TransferError::is_recorded`].
    pub error: TransferError,
}

/// A transfer as applied, with the balances of both accounts right after it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Posting {
    /// The transfer as stored.
    pub transfer: Transfer,
    /// The debit account's balance after this transfer and the legs of its batch before it.
    pub debit_after: Balance,
    /// The credit account's balance after this transfer and the legs of its batch before
    /// it.
    pub credit_after: Balance,
}

/// An expired reservation's release, with the balances of both accounts right after it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Expiration {
    /// The pending transfer whose reservation was released.
    pub pending_id: TransferId,
    /// The pending transfer's debit account, whose pending debits shrank.
    pub debit_account_id: AccountId,
    /// The pending transfer's credit account, whose pending credits shrank.
    pub credit_account_id: AccountId,
    /// The amount released, in minor units: the whole reservation.
    pub amount: i64,
    /// The debit account's balance after this release and those before it in the same call.
    pub debit_after: Balance,
    /// The credit account's balance after this release and those before it in the same
    /// call.
    pub credit_after: Balance,
}

/// Everything one call changed, for a store to persist and a history to record.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Effects {
    /// The timestamp of the change; `None` when nothing but failures was recorded.
    pub timestamp: Option<Timestamp>,
    /// New transfers, in the order they were applied.
    pub transfers: Vec<Posting>,
    /// Pending transfers released by expiry, in the order they were released.
    pub expired: Vec<Expiration>,
    /// New states of pending transfers (open, posted, voided or expired).
    pub pending_states: Vec<(TransferId, PendingState)>,
    /// New running totals of the amounts reversed from transfers.
    pub reversed_totals: Vec<(TransferId, i64)>,
    /// Failures now remembered under their transfer id.
    pub failures: Vec<(TransferId, Failure)>,
    /// The final balance of every account whose balance changed.
    pub balances: Vec<(AccountId, Balance)>,
}

/// The ledger's state and the rules that change it. No I/O, no clock: the caller passes
/// the time, and the state hands out strictly increasing timestamps from it.
#[derive(Clone, Debug)]
pub struct LedgerState {
    accounts: HashMap<AccountId, AccountEntry>,
    transfers: HashMap<TransferId, Transfer>,
    failures: HashMap<TransferId, Failure>,
    pending: HashMap<TransferId, PendingState>,
    reversed: HashMap<TransferId, i64>,
    open_by_expiry: BTreeSet<(Timestamp, TransferId)>,
    last_timestamp: Timestamp,
}

impl Default for LedgerState {
    fn default() -> Self {
        Self {
            accounts: HashMap::new(),
            transfers: HashMap::new(),
            failures: HashMap::new(),
            pending: HashMap::new(),
            reversed: HashMap::new(),
            open_by_expiry: BTreeSet::new(),
            last_timestamp: Timestamp::MIN,
        }
    }
}

impl LedgerState {
    /// The account with this id and its current balance, if the state holds it.
    pub fn account(&self, id: AccountId) -> Option<&AccountEntry> {
        self.accounts.get(&id)
    }

    /// Every account the state holds, in no particular order.
    pub fn accounts(&self) -> impl Iterator<Item = &AccountEntry> {
        self.accounts.values()
    }

    /// The transfer with this id, if the state holds it.
    pub fn transfer(&self, id: TransferId) -> Option<&Transfer> {
        self.transfers.get(&id)
    }

    /// Every transfer the state holds, in no particular order.
    pub fn transfers(&self) -> impl Iterator<Item = &Transfer> {
        self.transfers.values()
    }

    /// The number of transfers the state holds.
    pub fn transfer_count(&self) -> usize {
        self.transfers.len()
    }

    /// Where the pending transfer `id` stands; `None` if the state holds no pending
    /// transfer with this id.
    pub fn pending_state(&self, id: TransferId) -> Option<PendingState> {
        self.pending.get(&id).copied()
    }

    /// The state of every pending transfer the state holds, in no particular order.
    pub fn pending_states(&self) -> impl Iterator<Item = (TransferId, PendingState)> + '_ {
        self.pending.iter().map(|(id, state)| (*id, *state))
    }

    /// The failure remembered under this transfer id, if any.
    pub fn failure(&self, id: TransferId) -> Option<&Failure> {
        self.failures.get(&id)
    }

    /// The minor units reversed from transfer `id` so far; 0 if none were.
    pub fn reversed_total(&self, id: TransferId) -> i64 {
        self.reversed.get(&id).copied().unwrap_or(0)
    }

    /// The latest timestamp handed out or observed; [`Timestamp::MIN`] for a new state.
    /// Every later change gets a strictly later one.
    pub fn last_timestamp(&self) -> Timestamp {
        self.last_timestamp
    }

    /// Adds an account as a store read it, for a store that loads only what a batch needs.
    pub fn load_account(&mut self, account: Account, balance: Balance) {
        self.accounts
            .insert(account.id, AccountEntry { account, balance });
    }

    /// Adds a stored transfer with its pending state (for pending transfers) and the total
    /// reversed from it so far.
    pub fn load_transfer(
        &mut self,
        transfer: Transfer,
        pending: Option<PendingState>,
        reversed_total: i64,
    ) {
        let id = transfer.id;
        self.transfers.insert(id, transfer);
        if let Some(state) = pending {
            self.set_pending_state(id, state);
        }
        if reversed_total > 0 {
            self.reversed.insert(id, reversed_total);
        }
    }

    /// Adds a remembered failure.
    pub fn load_failure(&mut self, id: TransferId, failure: Failure) {
        self.failures.insert(id, failure);
    }

    /// Moves the clock forward to at least `timestamp`: later changes get later timestamps.
    pub fn observe_timestamp(&mut self, timestamp: Timestamp) {
        self.last_timestamp = self.last_timestamp.max(timestamp);
    }

    /// The timestamp the next change made at `now` would get.
    fn next_timestamp(&self, now: Timestamp) -> Timestamp {
        now.max(self.last_timestamp.next())
    }

    /// Opens an account, or returns it unchanged if the same request opened it before.
    pub fn create_account(
        &mut self,
        new: NewAccount,
        now: Timestamp,
    ) -> Result<Account, AccountError> {
        if new.id.is_nil() {
            return Err(AccountError::IdMustNotBeNil);
        }
        match new.constraint {
            BalanceConstraint::DebitsMustNotExceedCredits { overdraft }
            | BalanceConstraint::CreditsMustNotExceedDebits { overdraft }
                if overdraft < 0 =>
            {
                return Err(AccountError::OverdraftMustNotBeNegative);
            }
            _ => {}
        }
        if let Some(existing) = self.accounts.get(&new.id) {
            existing.account.check_same(&new)?;
            return Ok(existing.account.clone());
        }
        let timestamp = self.next_timestamp(now);
        let account = Account::open(new, timestamp);
        self.last_timestamp = timestamp;
        self.accounts.insert(
            account.id,
            AccountEntry {
                account: account.clone(),
                balance: Balance::default(),
            },
        );
        Ok(account)
    }

    /// Applies a linked batch: every leg or none.
    ///
    /// Order of checks: the batch's size; then, for each leg in order, its id (nil,
    /// repeated within the batch, or known from an earlier request, which either returns
    /// that request's result or is refused as a different request); then each new leg in
    /// order against the state as changed by the legs before it. The first failing leg
    /// rejects the batch; its failure is remembered if [`TransferError::is_recorded`].
    pub fn submit(
        &mut self,
        batch: &[TransferRequest],
        now: Timestamp,
    ) -> (Result<Vec<Receipt>, BatchError>, Effects) {
        let mut effects = Effects::default();
        if batch.is_empty() {
            return (Err(BatchError::Empty), effects);
        }
        if batch.len() > BATCH_LEGS_MAX {
            let error = BatchError::TooLarge {
                legs: batch.len(),
                max: BATCH_LEGS_MAX,
            };
            return (Err(error), effects);
        }
        let known = match self.check_ids(batch) {
            Ok(known) => known,
            Err(error) => return (Err(error), effects),
        };
        let timestamp = self.next_timestamp(now);
        let mut stage = Stage::new(self, timestamp);
        for (index, (request, known)) in batch.iter().zip(&known).enumerate() {
            if known.is_some() {
                continue;
            }
            if let Err(error) = stage.apply(request) {
                drop(stage);
                if error.is_recorded() {
                    let failure = Failure {
                        request: request.clone(),
                        error,
                    };
                    self.failures.insert(request.id, failure.clone());
                    effects.failures.push((request.id, failure));
                }
                let rejection = BatchError::Rejected {
                    index,
                    id: request.id,
                    error,
                };
                return (Err(rejection), effects);
            }
        }
        let staged = stage.finish();
        let receipts = batch
            .iter()
            .zip(known)
            .map(|(request, known)| {
                known.unwrap_or(Receipt {
                    id: request.id,
                    timestamp,
                })
            })
            .collect();
        if !staged.transfers.is_empty() {
            self.commit(staged, timestamp, &mut effects);
        }
        (Ok(receipts), effects)
    }

    /// The identity checks of every leg, before any is evaluated. Returns the original
    /// receipt of each leg that was already applied by an identical request.
    fn check_ids(&self, batch: &[TransferRequest]) -> Result<Vec<Option<Receipt>>, BatchError> {
        let mut seen = HashSet::with_capacity(batch.len());
        let mut known = Vec::with_capacity(batch.len());
        for (index, request) in batch.iter().enumerate() {
            let reject = |error| BatchError::Rejected {
                index,
                id: request.id,
                error,
            };
            if request.id.is_nil() {
                return Err(reject(TransferError::IdMustNotBeNil));
            }
            if !seen.insert(request.id) {
                return Err(reject(TransferError::DuplicateIdInBatch));
            }
            if let Some(existing) = self.transfers.get(&request.id) {
                same_request(existing, request).map_err(reject)?;
                known.push(Some(Receipt {
                    id: existing.id,
                    timestamp: existing.timestamp,
                }));
            } else if let Some(failure) = self.failures.get(&request.id) {
                let error = if failure.request == *request {
                    failure.error
                } else {
                    TransferError::IdAlreadyFailed
                };
                return Err(reject(error));
            } else {
                known.push(None);
            }
        }
        Ok(known)
    }

    fn commit(&mut self, staged: Staged, timestamp: Timestamp, effects: &mut Effects) {
        self.last_timestamp = timestamp;
        effects.timestamp = Some(timestamp);
        for (id, balance) in staged.balances {
            if let Some(entry) = self.accounts.get_mut(&id) {
                entry.balance = balance;
                effects.balances.push((id, balance));
            }
        }
        // Transfers first: a pending state looks up its transfer's expiry.
        for (transfer, (debit_after, credit_after)) in
            staged.transfers.into_iter().zip(staged.after)
        {
            self.transfers.insert(transfer.id, transfer.clone());
            effects.transfers.push(Posting {
                transfer,
                debit_after,
                credit_after,
            });
        }
        effects.expired = staged.expirations;
        for (id, state) in staged.pending {
            self.set_pending_state(id, state);
            effects.pending_states.push((id, state));
        }
        for (id, total) in staged.reversed {
            self.reversed.insert(id, total);
            effects.reversed_totals.push((id, total));
        }
        effects.balances.sort_by_key(|(id, _)| *id);
        effects.pending_states.sort_by_key(|(id, _)| *id);
        effects.reversed_totals.sort_by_key(|(id, _)| *id);
    }

    fn set_pending_state(&mut self, id: TransferId, state: PendingState) {
        let expires_at = self.transfers.get(&id).and_then(Transfer::expires_at);
        self.pending.insert(id, state);
        if let Some(expires_at) = expires_at {
            if state == PendingState::Open {
                self.open_by_expiry.insert((expires_at, id));
            } else {
                self.open_by_expiry.remove(&(expires_at, id));
            }
        }
    }

    /// Releases every open pending transfer whose timeout has passed at `now`. Until this
    /// runs, an expired reservation still holds its funds, though it can no longer be
    /// posted or voided.
    pub fn expire_due(&mut self, now: Timestamp) -> Effects {
        let mut effects = Effects::default();
        let timestamp = self.next_timestamp(now);
        let due: Vec<TransferId> = self
            .open_by_expiry
            .iter()
            .take_while(|(expires_at, _)| *expires_at <= timestamp)
            .map(|(_, id)| *id)
            .collect();
        if due.is_empty() {
            return effects;
        }
        let mut stage = Stage::new(self, timestamp);
        for id in due {
            // An open pending transfer always has both accounts and its reservation; a
            // failure here means the state was corrupted, and the transfer stays open.
            let _ = stage.expire(id);
        }
        let staged = stage.finish();
        self.commit(staged, timestamp, &mut effects);
        effects
    }
}

/// Compares a repeated request with the transfer it created.
fn same_request(existing: &Transfer, request: &TransferRequest) -> Result<(), TransferError> {
    let same_amount = |amount: Money| {
        if amount.minor() != existing.amount.minor() {
            Err(TransferError::ExistsWithDifferentAmount)
        } else if amount.currency() != existing.amount.currency() {
            Err(TransferError::ExistsWithDifferentCurrency)
        } else {
            Ok(())
        }
    };
    let same_accounts = |debit: AccountId, credit: AccountId| {
        if debit != existing.debit_account_id {
            Err(TransferError::ExistsWithDifferentDebitAccount)
        } else if credit != existing.credit_account_id {
            Err(TransferError::ExistsWithDifferentCreditAccount)
        } else {
            Ok(())
        }
    };
    match (&request.kind, existing.kind) {
        (
            RequestKind::Direct {
                debit_account_id,
                credit_account_id,
                amount,
            },
            TransferKind::Direct,
        ) => {
            same_accounts(*debit_account_id, *credit_account_id)?;
            same_amount(*amount)?;
        }
        (
            RequestKind::Pending {
                debit_account_id,
                credit_account_id,
                amount,
                timeout_secs,
            },
            TransferKind::Pending {
                timeout_secs: existing_timeout,
            },
        ) => {
            same_accounts(*debit_account_id, *credit_account_id)?;
            same_amount(*amount)?;
            if *timeout_secs != existing_timeout {
                return Err(TransferError::ExistsWithDifferentTimeout);
            }
        }
        (
            RequestKind::PostPending { pending_id, amount },
            TransferKind::PostPending {
                pending_id: existing_pending,
            },
        ) => {
            if *pending_id != existing_pending {
                return Err(TransferError::ExistsWithDifferentPendingTransfer);
            }
            same_amount(*amount)?;
        }
        (
            RequestKind::VoidPending { pending_id },
            TransferKind::VoidPending {
                pending_id: existing_pending,
            },
        ) => {
            if *pending_id != existing_pending {
                return Err(TransferError::ExistsWithDifferentPendingTransfer);
            }
        }
        (
            RequestKind::Reverse {
                original_id,
                amount,
            },
            TransferKind::Reversal {
                original_id: existing_original,
            },
        ) => {
            if *original_id != existing_original {
                return Err(TransferError::ExistsWithDifferentOriginalTransfer);
            }
            same_amount(*amount)?;
        }
        _ => return Err(TransferError::ExistsWithDifferentKind),
    }
    if request.metadata != existing.metadata {
        return Err(TransferError::ExistsWithDifferentMetadata);
    }
    Ok(())
}
