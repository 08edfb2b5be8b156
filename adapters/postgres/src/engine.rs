//! The group-commit posting engine: one committer task takes every submission waiting in its
//! queue (up to `batch_max`, waiting at most `batch_wait` for more), applies them in arrival
//! order in one transaction, and answers each caller after the commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bazaar_ledger::{
    Account, AccountError, BatchError, Clock, NewAccount, Receipt, StoreError, TransferId,
    TransferRequest,
};
use diesel::pg::PgConnection;
use tokio::sync::{mpsc, oneshot};

use crate::retry;
use crate::sql::{self, Answer, Work};
use crate::{EngineStats, LedgerConfig};

struct Job {
    work: Work,
    reply: oneshot::Sender<Result<Answer, StoreError>>,
}

/// Where callers queue their work for the committer.
#[derive(Clone)]
pub(crate) struct EngineHandle {
    queue: mpsc::Sender<Job>,
    /// How long a caller waits for its answer.
    patience: std::time::Duration,
    counters: Arc<Counters>,
}

/// What the committer has committed so far, for metrics. Only the committer writes them, after
/// each commit and before it answers the group's callers, so a caller that has its answer
/// sees its own group counted. Readers need no ordering with anything else: relaxed atomics.
#[derive(Debug, Default)]
struct Counters {
    groups: AtomicU64,
    submissions: AtomicU64,
    legs: AtomicU64,
    group_size_max: AtomicU64,
}

impl Counters {
    fn record(&self, group_size: u64, submissions: u64, legs: u64) {
        // Each wraps only after 2^64 commits or legs, which no process lives to see.
        self.groups.fetch_add(1, Ordering::Relaxed);
        self.submissions.fetch_add(submissions, Ordering::Relaxed);
        self.legs.fetch_add(legs, Ordering::Relaxed);
        self.group_size_max.fetch_max(group_size, Ordering::Relaxed);
    }

    fn snapshot(&self) -> EngineStats {
        EngineStats {
            groups: self.groups.load(Ordering::Relaxed),
            submissions: self.submissions.load(Ordering::Relaxed),
            legs: self.legs.load(Ordering::Relaxed),
            group_size_max: self.group_size_max.load(Ordering::Relaxed),
        }
    }
}

pub(crate) fn start(
    conn: PgConnection,
    config: Arc<LedgerConfig>,
    clock: Arc<dyn Clock>,
) -> EngineHandle {
    let (queue, jobs) = mpsc::channel(config.queue_max.max(1));
    // Twice the retry budget (a group may wait behind another that is retrying) and a margin.
    let patience = config
        .retry
        .unavailable_for_max
        .saturating_mul(2)
        .saturating_add(std::time::Duration::from_secs(30));
    let counters = Arc::new(Counters::default());
    tokio::spawn(run(jobs, conn, config, clock, counters.clone()));
    EngineHandle {
        queue,
        patience,
        counters,
    }
}

fn mismatched() -> StoreError {
    StoreError::Internal("the posting engine answered another kind of work".to_owned())
}

impl EngineHandle {
    pub(crate) fn stats(&self) -> EngineStats {
        self.counters.snapshot()
    }

    pub(crate) async fn submit(
        &self,
        batch: Vec<TransferRequest>,
    ) -> Result<Result<Vec<Receipt>, BatchError>, StoreError> {
        match self.call(Work::Submit(batch)).await? {
            Answer::Submitted(result) => Ok(result),
            _ => Err(mismatched()),
        }
    }

    pub(crate) async fn expire_due(&self) -> Result<Vec<TransferId>, StoreError> {
        match self.call(Work::Expire).await? {
            Answer::Expired(ids) => Ok(ids),
            _ => Err(mismatched()),
        }
    }

    pub(crate) async fn create_accounts(
        &self,
        accounts: Vec<NewAccount>,
    ) -> Result<Vec<Result<Account, AccountError>>, StoreError> {
        match self.call(Work::CreateAccounts(accounts)).await? {
            Answer::Accounts(results) => Ok(results),
            _ => Err(mismatched()),
        }
    }

    async fn call(&self, work: Work) -> Result<Answer, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { work, reply })
            .await
            .map_err(|_| StoreError::Unavailable("the posting engine has stopped".to_owned()))?;
        // The committer answers within its retry budget unless the database hangs without
        // closing the connection; past that, the outcome is unknown to the caller, who may
        // retry the same request safely.
        let patience = self.patience;
        match tokio::time::timeout(patience, answer).await {
            Ok(answer) => answer.map_err(|_| {
                StoreError::Internal("the posting engine dropped a request".to_owned())
            })?,
            Err(_) => Err(StoreError::Unavailable(
                "the ledger did not answer in time; the outcome is unknown".to_owned(),
            )),
        }
    }
}

/// Takes more jobs for the group: everything already queued, and then, if `batch_wait` is
/// set, whatever arrives before it runs out, up to `batch_max` in all.
async fn gather(jobs: &mut mpsc::Receiver<Job>, group: &mut Vec<Job>, config: &LedgerConfig) {
    let start = tokio::time::Instant::now();
    let deadline = start.checked_add(config.batch_wait).unwrap_or(start);
    while group.len() < config.batch_max {
        match jobs.try_recv() {
            Ok(job) => group.push(job),
            Err(mpsc::error::TryRecvError::Disconnected) => return,
            Err(mpsc::error::TryRecvError::Empty) => {
                if config.batch_wait.is_zero() {
                    return;
                }
                match tokio::time::timeout_at(deadline, jobs.recv()).await {
                    Ok(Some(job)) => group.push(job),
                    Ok(None) | Err(_) => return,
                }
            }
        }
    }
}

/// How many submissions a group holds, and how many transfer requests (legs) they ask for in
/// all, whatever the ledger answers each of them.
fn submitted(work: &[Work]) -> (u64, u64) {
    work.iter()
        .filter_map(|piece| match piece {
            Work::Submit(batch) => Some(u64::try_from(batch.len()).unwrap_or(u64::MAX)),
            Work::CreateAccounts(_) | Work::Expire => None,
        })
        .fold((0, 0), |(submissions, legs), batch| {
            (submissions.saturating_add(1), legs.saturating_add(batch))
        })
}

async fn run(
    mut jobs: mpsc::Receiver<Job>,
    conn: PgConnection,
    config: Arc<LedgerConfig>,
    clock: Arc<dyn Clock>,
    counters: Arc<Counters>,
) {
    let mut conn = Some(conn);
    while let Some(first) = jobs.recv().await {
        let mut group = vec![first];
        gather(&mut jobs, &mut group, &config).await;
        let (work, replies): (Vec<Work>, Vec<_>) =
            group.into_iter().map(|job| (job.work, job.reply)).unzip();
        let size = work.len();
        let (submissions, legs) = submitted(&work);
        let started = Instant::now();
        let settings = config.clone();
        let clock = clock.clone();
        let mut connection = conn.take();
        let outcome = tokio::task::spawn_blocking(move || {
            // The clock is read per attempt: a rerun after a conflict or an outage must not
            // stamp the group with the time before it.
            let result = retry::serializable(
                &mut connection,
                &settings.database_url,
                &settings.retry,
                |tx| sql::commit_group(tx, &work, clock.now(), settings.expire_max),
            );
            (connection, result)
        })
        .await;
        let answers = match outcome {
            Ok((connection, result)) => {
                conn = connection;
                result
            }
            Err(error) => {
                tracing::error!(%error, "the posting engine's database task failed");
                Err(StoreError::Internal("the posting engine failed".to_owned()))
            }
        };
        match answers {
            Ok(answers) => {
                counters.record(u64::try_from(size).unwrap_or(u64::MAX), submissions, legs);
                tracing::debug!(
                    group_size = size,
                    duration_us = started.elapsed().as_micros(),
                    "ledger group committed"
                );
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // A caller that went away no longer needs its answer.
                    let _ = reply.send(Ok(answer));
                }
            }
            Err(error) => {
                tracing::warn!(group_size = size, %error, "ledger group not committed");
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
    tracing::info!("posting engine stopped: every handle is gone");
}
