//! The reference engine behind the [`LedgerStore`] port.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::{
    Account, AccountError, AccountId, Balance, BatchError, Clock, LedgerStore, NewAccount,
    PendingState, Receipt, ReferenceLedger, StoreError, Timestamp, Transfer, TransferId,
    TransferRequest,
};

/// The reference ledger as a [`LedgerStore`]: every call is applied under one lock, in
/// the order calls take it.
#[derive(Clone)]
pub struct InMemoryLedger {
    ledger: Arc<Mutex<ReferenceLedger>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for InMemoryLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryLedger").finish_non_exhaustive()
    }
}

impl InMemoryLedger {
    /// An empty ledger that reads the time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            ledger: Arc::new(Mutex::new(ReferenceLedger::new())),
            clock,
        }
    }

    /// Runs `read` on the reference ledger, e.g. to compare it with another store.
    pub fn inspect<T>(&self, read: impl FnOnce(&ReferenceLedger) -> T) -> Result<T, StoreError> {
        let ledger = self.lock()?;
        Ok(read(&ledger))
    }

    fn lock(&self) -> Result<MutexGuard<'_, ReferenceLedger>, StoreError> {
        // A poisoned lock means a thread died inside the ledger; its state can no longer be
        // trusted, so every later call fails.
        self.ledger
            .lock()
            .map_err(|_| StoreError::Internal("in-memory ledger lock poisoned".to_owned()))
    }
}

impl LedgerStore for InMemoryLedger {
    async fn create_account(
        &self,
        account: NewAccount,
    ) -> Result<Result<Account, AccountError>, StoreError> {
        let now = self.clock.now();
        Ok(self.lock()?.create_account(account, now))
    }

    async fn submit(
        &self,
        batch: Vec<TransferRequest>,
    ) -> Result<Result<Vec<Receipt>, BatchError>, StoreError> {
        let now = self.clock.now();
        Ok(self.lock()?.submit(&batch, now))
    }

    async fn expire_due(&self) -> Result<Vec<TransferId>, StoreError> {
        let now = self.clock.now();
        Ok(self.lock()?.expire_due(now))
    }

    async fn account(&self, id: AccountId) -> Result<Option<(Account, Balance)>, StoreError> {
        Ok(self
            .lock()?
            .account(id)
            .map(|entry| (entry.account.clone(), entry.balance)))
    }

    async fn transfer(&self, id: TransferId) -> Result<Option<Transfer>, StoreError> {
        Ok(self.lock()?.transfer(id).cloned())
    }

    async fn pending_state(&self, id: TransferId) -> Result<Option<PendingState>, StoreError> {
        Ok(self.lock()?.pending_state(id))
    }

    async fn balance_at(
        &self,
        id: AccountId,
        at: Timestamp,
    ) -> Result<Option<Balance>, StoreError> {
        Ok(self.lock()?.balance_at(id, at))
    }
}
