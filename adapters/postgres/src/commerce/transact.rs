//! How the stores' work runs: in a transaction of the right isolation on tokio's blocking
//! pool, retried on conflicts and lost connections.

use std::sync::Arc;
use std::time::Instant;

use diesel::pg::PgConnection;
use diesel::r2d2::Pool;

use super::{Fail, StoreFailure};
use crate::pool::Manager;
use crate::retry::{self, Disposition, RetryPolicy};

/// How a transaction runs. Writes are SERIALIZABLE. Reads are READ ONLY at REPEATABLE READ:
/// one consistent snapshot, and none of the predicate locks that SERIALIZABLE takes for
/// every row a read scans (under load those exhaust PostgreSQL's lock table), which a
/// transaction that writes nothing cannot need. CockroachDB runs both as serializable.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    Read,
    Write,
    /// READ COMMITTED, for work-queue claims (`FOR UPDATE SKIP LOCKED` plus a lease column)
    /// and the audit log's appends (`FOR UPDATE` on its one head row): their correctness
    /// rests on row locks, and SERIALIZABLE would only add conflicts (workers scanning the
    /// same index range; appenders queued on the head row, failing once it moved).
    Queue,
    /// No transaction: for a read made of exactly one statement, which is atomic and reads
    /// one snapshot by itself (an implicit transaction in CockroachDB), so BEGIN and COMMIT
    /// would only add two round trips.
    Statement,
}

/// Runs `work` in a transaction on tokio's blocking pool.
pub(crate) async fn run<T: Send + 'static, E: StoreFailure + Send + 'static>(
    pool: &Pool<Manager>,
    policy: &Arc<RetryPolicy>,
    operation: &'static str,
    mode: Mode,
    work: impl Fn(&mut PgConnection) -> Result<T, Fail<E>> + Send + 'static,
) -> Result<T, E> {
    let pool = pool.clone();
    let policy = policy.clone();
    tokio::task::spawn_blocking(move || run_blocking(&pool, &policy, operation, mode, work))
        .await
        .map_err(|error| {
            tracing::error!(%error, operation, "database task failed");
            E::internal()
        })?
}

/// A connection pool and the retry policy its transactions run under: what the identity,
/// events and payouts stores hold and run their work on.
#[derive(Clone)]
pub(crate) struct Db {
    pool: Pool<Manager>,
    retry: Arc<RetryPolicy>,
}

impl Db {
    /// At most `pool_size` connections, opened lazily.
    pub(crate) fn new(database_url: &str, pool_size: u32, retry: RetryPolicy) -> Self {
        Self {
            pool: pool(database_url, pool_size, &retry),
            retry: Arc::new(retry),
        }
    }

    /// The pool's size, for `Debug`.
    pub(crate) fn pool_size(&self) -> u32 {
        self.pool.max_size()
    }

    /// Runs `work` in a transaction of `mode` (see [`run`]).
    pub(crate) async fn run<T: Send + 'static, E: StoreFailure + Send + 'static>(
        &self,
        operation: &'static str,
        mode: Mode,
        work: impl Fn(&mut PgConnection) -> Result<T, Fail<E>> + Send + 'static,
    ) -> Result<T, E> {
        run(&self.pool, &self.retry, operation, mode, work).await
    }
}

/// A pool whose connections open lazily, with the client timeouts set.
pub(crate) fn pool(database_url: &str, size: u32, retry: &RetryPolicy) -> Pool<Manager> {
    crate::pool::pool(
        retry::with_client_settings(database_url),
        size,
        retry.unavailable_for_max,
    )
}

/// Opens a SERIALIZABLE transaction that plans each statement for its own parameters, both
/// in one round trip. Builder statements are prepared and cached per connection, and the
/// pool's sessions use one generic plan per statement (see [`crate::pool`]); one chosen
/// while a table was nearly empty (a fresh database) scans the whole table, and under
/// SERIALIZABLE a whole-table read conflicts with every concurrent insert, so checkouts
/// failed after their retries until the next ANALYZE. Custom plans keep index scans and their
/// narrow predicate locks; statements are still parsed once.
const BEGIN_WRITE: &str = "BEGIN TRANSACTION ISOLATION LEVEL SERIALIZABLE; \
     SET LOCAL plan_cache_mode = force_custom_plan";
/// [`Mode::Read`]'s transaction, its statements planned as a write's are.
const BEGIN_READ: &str = "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
     SET LOCAL plan_cache_mode = force_custom_plan";
/// [`Mode::Queue`]'s transaction, its statements planned as a write's are: a work queue's
/// claim scans for what is due, and a plan that scans the whole queue would lock rows of it.
const BEGIN_QUEUE: &str = "BEGIN TRANSACTION ISOLATION LEVEL READ COMMITTED; \
     SET LOCAL plan_cache_mode = force_custom_plan";

/// Runs `work` in the transaction `begin` opens, as diesel's transaction builder does with
/// its own BEGIN: committed if `work` succeeds, rolled back otherwise.
fn transaction<T, E>(
    conn: &mut PgConnection,
    begin: &str,
    work: impl Fn(&mut PgConnection) -> Result<T, Fail<E>>,
) -> Result<T, Fail<E>> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    AnsiTransactionManager::begin_transaction_sql(conn, begin)?;
    match work(conn) {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(failure) => match AnsiTransactionManager::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(failure),
            Err(error) => Err(error.into()),
        },
    }
}

fn run_blocking<T, E: StoreFailure>(
    pool: &Pool<Manager>,
    policy: &RetryPolicy,
    operation: &'static str,
    mode: Mode,
    work: impl Fn(&mut PgConnection) -> Result<T, Fail<E>>,
) -> Result<T, E> {
    let started = Instant::now();
    let mut attempt: u32 = 0;
    loop {
        attempt = attempt.saturating_add(1);
        let error = match pool.get() {
            Err(error) => {
                tracing::warn!(%error, operation, attempt, "no database connection");
                None
            }
            Ok(mut conn) => {
                let outcome = match mode {
                    Mode::Write => transaction(&mut conn, BEGIN_WRITE, &work),
                    Mode::Queue => transaction(&mut conn, BEGIN_QUEUE, &work),
                    Mode::Statement => work(&mut conn),
                    Mode::Read => transaction(&mut conn, BEGIN_READ, &work),
                };
                let error = match outcome {
                    Ok(value) => {
                        conn.answered();
                        return Ok(value);
                    }
                    Err(Fail::Domain(error)) => {
                        conn.answered();
                        return Err(error);
                    }
                    Err(Fail::Db(error)) => error,
                };
                let disposition = disposition(&error);
                if disposition == Disposition::Disconnected {
                    conn.lose();
                } else {
                    conn.answered();
                }
                Some((error, disposition))
            }
        };
        let (error, disposition) = match error {
            Some((error, disposition)) => (Some(error), disposition),
            None => (None, Disposition::Disconnected),
        };
        let out_of_time = started.elapsed() >= policy.unavailable_for_max;
        match disposition {
            Disposition::Conflict if attempt < policy.conflict_attempts_max => {
                std::thread::sleep(policy.backoff(attempt));
            }
            Disposition::Disconnected if !out_of_time => {
                if let Some(error) = &error {
                    tracing::warn!(%error, operation, attempt, "database connection lost; retrying");
                }
                std::thread::sleep(policy.backoff(attempt));
            }
            Disposition::Conflict | Disposition::Disconnected => {
                tracing::error!(error = ?error, operation, attempt, "transaction gave up");
                return Err(E::unavailable());
            }
            Disposition::Fatal => {
                tracing::error!(error = ?error, operation, "transaction failed");
                return Err(E::internal());
            }
        }
    }
}

/// What to do after `error`: a unique violation means two requests raced to insert the same
/// key, and the retry finds the winner.
fn disposition(error: &diesel::result::Error) -> Disposition {
    if is_unique_violation(error) {
        Disposition::Conflict
    } else {
        retry::classify(error)
    }
}

fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
