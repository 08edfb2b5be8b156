//! The durable ledger store on PostgreSQL (and CockroachDB), behind the `LedgerStore` port.
//!
//! Writes go through a group-commit posting engine: concurrent submissions queue up, and one
//! committer applies as many as are waiting (up to `batch_max`, after waiting at most
//! `batch_wait` for more) in a single SERIALIZABLE transaction. It runs the ledger's own rules
//! (`bazaar_ledger::LedgerState`) on just the rows the group touches, so its answers are
//! exactly the reference engine's; each account's balance is written once per group; each
//! caller is answered only after the group's commit. See `docs/ledger.md`.
//!
//! Database access is blocking diesel: the committer owns one connection and runs on tokio's
//! blocking pool, and reads use a small r2d2 pool the same way. One committer has at most one
//! statement in flight at a time, so an async driver would buy nothing but another dependency
//! tree; blocking diesel is the mature path and keeps the SQL identical for CockroachDB.

mod audit;
mod batch;
mod codec;
pub(crate) mod commerce;
mod engine;
mod events;
mod identity;
mod instrument;
mod lending;
mod outbox;
mod payouts;
mod pool;
mod reconciliation;
mod reseal;
mod retry;
mod sealed;
mod sql;
mod tax;
mod vault;

use std::sync::Arc;
use std::time::Duration;

use bazaar_ledger::{
    Account, AccountError, AccountId, Balance, BatchError, Clock, LedgerHistory, LedgerStore,
    NewAccount, PendingState, Receipt, StoreError, Timestamp, Transfer, TransferId,
    TransferRequest,
};
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool};
use uuid::Uuid;

pub use audit::PostgresAudit;
pub use batch::{BatchStats, batch_stats};
pub use commerce::PostgresCommerce;
pub use commerce::coalesce::READERS;
pub use events::PostgresEvents;
pub use identity::PostgresIdentity;
pub use instrument::{count_queries, queries_executed};
pub use lending::PostgresLending;
pub use payouts::PostgresPayouts;
pub use reconciliation::PostgresReconciliation;
pub use reseal::{RESEAL_BATCH_MAX, ResealStep};
pub use retry::RetryPolicy;
pub use sealed::{SealError, SecretKey, SecretKeys};
pub use tax::PostgresTax;
pub use vault::PostgresVault;

/// Reads the wall clock. The posting engine keeps timestamps strictly increasing on top of it.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| {
                i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX)
            });
        Timestamp::from_micros(micros)
    }
}

/// How to reach the database and how the posting engine batches.
#[derive(Clone, Debug)]
pub struct LedgerConfig {
    pub database_url: String,
    /// Connections for reads and account creation.
    pub read_pool_size: u32,
    /// The most submissions one group commit applies.
    pub batch_max: usize,
    /// How long the committer waits for more submissions once one has arrived; zero commits
    /// whatever is waiting at once (submissions that arrive during a commit form the next
    /// group).
    pub batch_wait: Duration,
    /// The most submissions queued for the committer; further callers wait for room.
    pub queue_max: usize,
    /// The most expired reservations one `expire_due` releases.
    pub expire_max: i64,
    pub retry: RetryPolicy,
    /// Commit groups of submissions as one journal row each while this engine owns the
    /// ledger, the tables written behind them (see `docs/ledger.md`). For one posting process
    /// per database: two engines that both post take the ledger from each other on every
    /// group, each through the tables.
    pub journal: bool,
    /// With `journal` on: the most transfers the engine keeps in memory while the tables lag
    /// behind its journal; past it, the engine applies the journal itself before writing more.
    pub journal_memory_max: usize,
}

impl LedgerConfig {
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            read_pool_size: 4,
            batch_max: 1024,
            batch_wait: Duration::ZERO,
            queue_max: 16_384,
            expire_max: 10_000,
            retry: RetryPolicy::default(),
            journal: false,
            journal_memory_max: 4_000_000,
        }
    }
}

/// The most entries one [`PostgresLedger::history`] call returns; larger limits are cut to it.
pub const HISTORY_LIMIT_MAX: u32 = 500;

pub use bazaar_ledger::{HistoryCursor, HistoryEntry};

/// What the posting engine has committed since it started. Every count is cumulative, so a
/// metrics exporter reports them as counters (and `group_size_max` as a gauge); the mean
/// group size is `submissions` over `groups` when groups hold only submissions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Group commits: transactions that applied a group of queued work, whatever the ledger
    /// answered each piece. Account creation and expiry runs are groups too.
    pub groups: u64,
    /// Submitted batches in those groups, accepted or refused by the ledger's rules.
    pub submissions: u64,
    /// Transfer requests (legs) in those batches.
    pub legs: u64,
    /// The most pieces of work (batches, account creations, expiry runs) one group held.
    pub group_size_max: u64,
}

/// The durable ledger store.
#[derive(Clone)]
pub struct PostgresLedger {
    engine: engine::EngineHandle,
    reads: Pool<ConnectionManager<PgConnection>>,
    config: Arc<LedgerConfig>,
}

impl std::fmt::Debug for PostgresLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresLedger")
            .field("batch_max", &self.config.batch_max)
            .field("batch_wait", &self.config.batch_wait)
            .finish_non_exhaustive()
    }
}

impl PostgresLedger {
    /// Connects (retrying while the database is unreachable, within the retry policy),
    /// creates the clock row if needed, and starts the posting engine on the current tokio
    /// runtime. The schema must be migrated already (`bazaar_schema::run_pending_migrations`).
    pub async fn connect(config: LedgerConfig, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let config = Arc::new(config);
        let setup = config.clone();
        let committer_conn = blocking(move || {
            let mut conn = retry::connect(&setup.database_url, &setup.retry)?;
            sql::ensure_clock(&mut conn).map_err(|error| {
                tracing::error!(%error, "cannot prepare the ledger clock");
                match retry::classify(&error) {
                    retry::Disposition::Fatal => {
                        StoreError::Internal("cannot prepare the ledger clock".to_owned())
                    }
                    _ => StoreError::Unavailable("the ledger database is unreachable".to_owned()),
                }
            })?;
            Ok(conn)
        })
        .await?;
        let manager = ConnectionManager::<PgConnection>::new(retry::with_client_settings(
            &config.database_url,
        ));
        let reads = Pool::builder()
            .max_size(config.read_pool_size.max(1))
            .min_idle(Some(0))
            .test_on_check_out(true)
            .connection_timeout(config.retry.unavailable_for_max)
            .build_unchecked(manager);
        let engine = engine::start(committer_conn, config.clone(), clock);
        Ok(Self {
            engine,
            reads,
            config,
        })
    }

    /// Opens many accounts in one transaction; the results are per account, in order, with
    /// the same rules as [`LedgerStore::create_account`].
    pub async fn create_accounts(
        &self,
        accounts: Vec<NewAccount>,
    ) -> Result<Vec<Result<Account, AccountError>>, StoreError> {
        self.engine.create_accounts(accounts).await
    }

    /// An account's transfers, newest first, with the account's balance right after each.
    ///
    /// `before` continues from the cursor of the last entry of the previous page: only entries
    /// strictly older than it are returned. At most `limit` entries are returned, and at most
    /// [`HISTORY_LIMIT_MAX`]; a limit of zero returns none. Releases of expired reservations
    /// are not transfers and are not listed, though they change the balance: an entry's
    /// balance is the one right after its own transfer. An unknown account has no history.
    pub async fn history(
        &self,
        account: AccountId,
        before: Option<HistoryCursor>,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let limit = limit.min(HISTORY_LIMIT_MAX);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let id: Uuid = account.as_uuid();
        self.read(move |conn| sql::history(conn, id, before, limit))
            .await
    }

    /// What the posting engine has committed since this store connected, for metrics.
    pub fn engine_stats(&self) -> EngineStats {
        self.engine.stats()
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.query(|conn| sql::ping(conn).map_err(sql::TxError::Db))
            .await
            .map(|_| ())
    }

    /// Waits until the ledger's tables hold every group the journal had when it was called
    /// (applying what is left itself): what a read does before it reads.
    pub async fn caught_up(&self) -> Result<(), StoreError> {
        self.read(|_| Ok(())).await
    }

    /// Runs a read on a pooled connection once the tables have caught up with the journal,
    /// so it sees every write acknowledged before it began.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut PgConnection) -> Result<T, sql::TxError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.query(move |conn| {
            sql::journal::catch_up(conn)?;
            work(conn)
        })
        .await
    }

    async fn query<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut PgConnection) -> Result<T, sql::TxError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let pool = self.reads.clone();
        blocking(move || {
            let mut conn = pool.get().map_err(|error| {
                tracing::warn!(%error, "no ledger database connection for a read");
                StoreError::Unavailable("the ledger database is unreachable".to_owned())
            })?;
            work(&mut conn).map_err(|error| match error {
                sql::TxError::Corrupt(error) => error,
                sql::TxError::Db(error) => {
                    tracing::warn!(%error, "ledger read failed");
                    match retry::classify(&error) {
                        retry::Disposition::Fatal => {
                            StoreError::Internal("the ledger read failed".to_owned())
                        }
                        _ => {
                            StoreError::Unavailable("the ledger database is unreachable".to_owned())
                        }
                    }
                }
            })
        })
        .await
    }
}

/// Runs blocking database work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work).await.map_err(|error| {
        tracing::error!(%error, "ledger database task failed");
        StoreError::Internal("the ledger database task failed".to_owned())
    })?
}

impl LedgerHistory for PostgresLedger {
    async fn history(
        &self,
        account: AccountId,
        before: Option<HistoryCursor>,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        PostgresLedger::history(self, account, before, limit).await
    }

    async fn account_ids(
        &self,
        after: Option<AccountId>,
        limit: u32,
    ) -> Result<Vec<AccountId>, StoreError> {
        let limit = i64::from(limit.min(10_000));
        let after = after.map(AccountId::as_uuid);
        self.read(move |conn| sql::account_ids(conn, after, limit))
            .await
    }
}

impl LedgerStore for PostgresLedger {
    async fn create_account(
        &self,
        account: NewAccount,
    ) -> Result<Result<Account, AccountError>, StoreError> {
        let mut results = self.create_accounts(vec![account]).await?;
        results
            .pop()
            .ok_or_else(|| StoreError::Internal("account creation returned nothing".to_owned()))
    }

    async fn submit(
        &self,
        batch: Vec<TransferRequest>,
    ) -> Result<Result<Vec<Receipt>, BatchError>, StoreError> {
        self.engine.submit(batch).await
    }

    async fn expire_due(&self) -> Result<Vec<TransferId>, StoreError> {
        self.engine.expire_due().await
    }

    async fn account(&self, id: AccountId) -> Result<Option<(Account, Balance)>, StoreError> {
        let ids = vec![id.as_uuid()];
        let mut found = self
            .read(move |conn| sql::load_accounts(conn, &ids, false))
            .await?;
        Ok(found.pop())
    }

    async fn accounts(&self, ids: Vec<AccountId>) -> Result<Vec<(Account, Balance)>, StoreError> {
        let ids: Vec<Uuid> = ids.into_iter().map(AccountId::as_uuid).collect();
        self.read(move |conn| sql::load_accounts(conn, &ids, false))
            .await
    }

    async fn transfer(&self, id: TransferId) -> Result<Option<Transfer>, StoreError> {
        let ids = vec![id.as_uuid()];
        let mut found = self
            .read(move |conn| sql::load_transfers(conn, &ids))
            .await?;
        Ok(found.pop().map(|(transfer, _, _)| transfer))
    }

    async fn pending_state(&self, id: TransferId) -> Result<Option<PendingState>, StoreError> {
        let ids = vec![id.as_uuid()];
        let mut found = self
            .read(move |conn| sql::load_transfers(conn, &ids))
            .await?;
        Ok(found.pop().and_then(|(_, pending, _)| pending))
    }

    async fn balance_at(
        &self,
        id: AccountId,
        at: Timestamp,
    ) -> Result<Option<Balance>, StoreError> {
        let id: Uuid = id.as_uuid();
        self.read(move |conn| sql::balance_at(conn, id, at)).await
    }
}
