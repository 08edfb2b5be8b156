//! The group-commit posting engine: one committer task takes every submission waiting in its
//! queue (up to `batch_max`, waiting at most `batch_wait` for more), applies them in arrival
//! order in one transaction, and answers each caller after the commit.

use std::sync::Arc;
use std::time::Instant;

use bazaar_ledger::{
    Account, AccountError, BatchError, Clock, NewAccount, Receipt, StoreError, TransferId,
    TransferRequest,
};
use diesel::pg::PgConnection;
use tokio::sync::{mpsc, oneshot};

use crate::LedgerConfig;
use crate::retry;
use crate::sql::{self, Answer, Work};

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
    tokio::spawn(run(jobs, conn, config, clock));
    EngineHandle { queue, patience }
}

fn mismatched() -> StoreError {
    StoreError::Internal("the posting engine answered another kind of work".to_owned())
}

impl EngineHandle {
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

async fn run(
    mut jobs: mpsc::Receiver<Job>,
    conn: PgConnection,
    config: Arc<LedgerConfig>,
    clock: Arc<dyn Clock>,
) {
    let mut conn = Some(conn);
    while let Some(first) = jobs.recv().await {
        let mut group = vec![first];
        gather(&mut jobs, &mut group, &config).await;
        let (work, replies): (Vec<Work>, Vec<_>) =
            group.into_iter().map(|job| (job.work, job.reply)).unzip();
        let size = work.len();
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
