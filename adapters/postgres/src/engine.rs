//! The group-commit posting engine: one committer task takes every submission waiting in its
//! queue (up to `batch_max`, waiting at most `batch_wait` for more), applies them in arrival
//! order in one transaction, and answers each caller after the commit.
//!
//! With [`LedgerConfig::journal`] on, a group of submissions is committed as one journal row
//! while this engine owns the ledger (see `sql::journal`), from the rows it keeps in memory,
//! and an applier task writes the tables behind it. Anything else (account creation, expiry,
//! a group after a failure or after another engine wrote) goes through the tables, which
//! applies the journal first and makes this engine the owner again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bazaar_ledger::{
    Account, AccountError, BatchError, Clock, LedgerState, NewAccount, Receipt, StoreError,
    TransferId, TransferRequest,
};
use diesel::pg::PgConnection;
use diesel::{Connection, QueryResult};
use tokio::sync::{Notify, mpsc, oneshot};
use uuid::Uuid;

use crate::retry;
use crate::sql::journal;
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
    let applier = Arc::new(Applier::default());
    if config.journal {
        tokio::spawn(apply_behind(config.clone(), applier.clone()));
    }
    tokio::spawn(run(jobs, conn, config, clock, counters.clone(), applier));
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

/// What the committer owns while it writes the journal: the rows its journal rows not yet
/// applied have touched (and whatever else it read), and the journal row it wrote last.
struct Owned {
    state: LedgerState,
    seq: i64,
}

/// The applier task's progress, shared with the committer.
#[derive(Default)]
struct Applier {
    /// The journal rows applied to the tables, as far as the applier knows.
    applied: std::sync::atomic::AtomicI64,
    /// Journal rows the committer has written since it started.
    written: AtomicU64,
    /// Transfers the committer keeps in memory.
    kept: std::sync::atomic::AtomicUsize,
    /// Wakes the applier after a journal row is committed.
    wake: Notify,
    /// Set when the committer stops: the applier stops too.
    stopped: std::sync::atomic::AtomicBool,
}

/// How long the committer must have written no journal row before the applier applies: while
/// sales arrive, the committer has the machine to itself.
const APPLY_QUIET: std::time::Duration = std::time::Duration::from_millis(10);

/// Waits until the committer has been quiet for [`APPLY_QUIET`], or until it keeps more than
/// half of `memory_max` transfers (then the tables must catch up even under load).
async fn quiet(applier: &Applier, memory_max: usize) {
    loop {
        let before = applier.written.load(Ordering::Relaxed);
        if applier.kept.load(Ordering::Relaxed) > memory_max / 2 {
            return;
        }
        tokio::time::sleep(APPLY_QUIET).await;
        if applier.written.load(Ordering::Relaxed) == before {
            return;
        }
    }
}

/// Transfers the committer keeps in memory once the tables have caught up with it; past this,
/// it starts afresh.
const OWNED_KEPT_MAX: usize = 100_000;

/// Keeps the committer's memory bounded: once the tables have caught up with everything it
/// wrote, a large memory starts afresh; while they lag by more than
/// [`LedgerConfig::journal_memory_max`] transfers, the committer applies journal rows itself
/// before it writes more.
/// `durable` is the last journal row known committed (the row being written, if one is, is
/// not).
fn make_room(
    conn: &mut PgConnection,
    mine: &mut Owned,
    durable: i64,
    settings: &LedgerConfig,
    applier: &Applier,
) {
    let kept = mine.state.transfer_count();
    if kept <= OWNED_KEPT_MAX.min(settings.journal_memory_max) {
        return;
    }
    let mut applied = applier.applied.load(Ordering::Relaxed);
    if applied < durable && kept > settings.journal_memory_max {
        let started = Instant::now();
        match conn
            .build_transaction()
            .read_committed()
            .run(|tx| journal::materialise_to(tx, durable).map(|()| durable))
        {
            Ok(mark) => {
                applied = mark;
                applier.applied.fetch_max(mark, Ordering::Relaxed);
                tracing::info!(
                    kept,
                    waited_ms = started.elapsed().as_millis(),
                    "the ledger's tables lagged its journal too far; the committer applied it"
                );
            }
            Err(error) => tracing::warn!(?error, "applying the ledger journal failed"),
        }
    }
    if applied >= mine.seq {
        let mut state = LedgerState::default();
        state.observe_timestamp(mine.state.last_timestamp());
        mine.state = state;
    }
}

/// The applier: applies journal rows to the tables once the committer has written some and
/// gone quiet (see [`quiet`]), on a connection of its own, and publishes how far it got.
async fn apply_behind(config: Arc<LedgerConfig>, applier: Arc<Applier>) {
    let mut conn: Option<PgConnection> = None;
    while !applier.stopped.load(Ordering::Relaxed) {
        applier.wake.notified().await;
        loop {
            quiet(&applier, config.journal_memory_max).await;
            if applier.stopped.load(Ordering::Relaxed) {
                return;
            }
            let url = config.database_url.clone();
            let connection = conn.take();
            let outcome = tokio::task::spawn_blocking(move || apply_some(connection, &url)).await;
            let Ok((connection, result)) = outcome else {
                tracing::error!("the ledger journal's applier task failed");
                break;
            };
            conn = connection;
            match result {
                Ok(mark) if mark > applier.applied.load(Ordering::Relaxed) => {
                    applier.applied.fetch_max(mark, Ordering::Relaxed);
                }
                Ok(_) => break,
                Err(error) => {
                    // Reads and the committer apply the journal themselves when they need it,
                    // so the applier only retries, gently.
                    tracing::warn!(%error, "applying the ledger journal failed; retrying in a second");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// One applier step: up to [`journal::APPLY_ROWS_MAX`] journal rows, in one transaction.
/// Connects once if it has no connection, and drops the connection after a failure.
fn apply_some(
    conn: Option<PgConnection>,
    url: &str,
) -> (Option<PgConnection>, Result<i64, String>) {
    let mut conn = match conn {
        Some(conn) => conn,
        None => match PgConnection::establish(&retry::with_client_settings(url)) {
            Ok(conn) => conn,
            Err(error) => return (None, Err(error.to_string())),
        },
    };
    match conn
        .build_transaction()
        .read_committed()
        .run(|tx| journal::materialise(tx, i64::MAX, journal::APPLY_ROWS_MAX))
    {
        Ok(mark) => (Some(conn), Ok(mark)),
        Err(error) => (None, Err(format!("{error:?}"))),
    }
}

type Reply = oneshot::Sender<Result<Answer, StoreError>>;

/// A group whose journal row is being written while the next group is prepared.
struct Writing {
    task: tokio::task::JoinHandle<(PgConnection, QueryResult<bool>)>,
    work: Vec<Work>,
    replies: Vec<Reply>,
    answers: Vec<Answer>,
    started: Instant,
}

/// The committer: the queue's consumer, with the rows it owns and up to two connections, one
/// writing a group's journal row while the other prepares the next group.
struct Committer {
    config: Arc<LedgerConfig>,
    clock: Arc<dyn Clock>,
    counters: Arc<Counters>,
    applier: Arc<Applier>,
    writer: Uuid,
    idle: Vec<PgConnection>,
    owned: Option<Owned>,
    writing: Option<Writing>,
}

fn answer_all(replies: Vec<Reply>, answers: Result<Vec<Answer>, StoreError>) {
    match answers {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                // A caller that went away no longer needs its answer.
                let _ = reply.send(Ok(answer));
            }
        }
        Err(error) => {
            tracing::warn!(group_size = replies.len(), %error, "ledger group not committed");
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

fn batches_of(work: &[Work]) -> Option<Vec<&[TransferRequest]>> {
    work.iter()
        .map(|piece| match piece {
            Work::Submit(batch) => Some(batch.as_slice()),
            Work::CreateAccounts(_) | Work::Expire => None,
        })
        .collect()
}

impl Committer {
    fn committed(&self, work: &[Work], started: Instant, journaled: bool) {
        let (submissions, legs) = submitted(work);
        let size = u64::try_from(work.len()).unwrap_or(u64::MAX);
        self.counters.record(size, submissions, legs);
        tracing::debug!(
            group_size = size,
            journaled,
            duration_us = started.elapsed().as_micros(),
            "ledger group committed"
        );
    }

    /// Runs a group: as a journal row when this engine owns the ledger and the group holds
    /// only submissions, else through the tables.
    async fn group(&mut self, work: Vec<Work>, replies: Vec<Reply>) {
        let started = Instant::now();
        let journal =
            self.config.journal && work.iter().all(|piece| matches!(piece, Work::Submit(_)));
        let Some(mut mine) = self.owned.take().filter(|_| journal) else {
            self.finish_writing().await;
            self.through_tables(work, replies, started).await;
            return;
        };
        let conn = self.idle.pop();
        let settings = self.config.clone();
        let clock = self.clock.clone();
        let applier = self.applier.clone();
        let durable = if self.writing.is_some() {
            mine.seq.saturating_sub(1)
        } else {
            mine.seq
        };
        let prepared = tokio::task::spawn_blocking(move || {
            let mut conn = match conn {
                Some(conn) => conn,
                None => match retry::connect(&settings.database_url, &settings.retry) {
                    Ok(conn) => conn,
                    Err(error) => return (None, mine, work, Err(error)),
                },
            };
            make_room(&mut conn, &mut mine, durable, &settings, &applier);
            let prepared = batches_of(&work)
                .ok_or_else(|| StoreError::Internal("not a group of submissions".to_owned()))
                .and_then(|batches| {
                    journal::prepare(&mut conn, &mut mine.state, mine.seq, &batches, clock.now())
                        .map_err(|error| {
                            tracing::warn!(?error, "preparing a journal row failed");
                            StoreError::Unavailable("the ledger database failed".to_owned())
                        })
                });
            (Some(conn), mine, work, prepared)
        })
        .await;
        let Ok((conn, mut mine, work, prepared)) = prepared else {
            tracing::error!("the posting engine's database task failed");
            self.owned = None;
            self.finish_writing().await;
            return;
        };
        self.idle.extend(conn);
        self.applier
            .kept
            .store(mine.state.transfer_count(), Ordering::Relaxed);
        // The group ran on the state the group being written left: it stands only if that
        // one is committed.
        let previous_committed = self.finish_writing().await;
        match prepared {
            Ok(journal::Prepared { answers, row }) if previous_committed => match row {
                None => {
                    self.owned = Some(mine);
                    self.committed(&work, started, false);
                    answer_all(replies, Ok(answers));
                }
                Some(row) => {
                    let Some(mut conn) = self.idle.pop() else {
                        self.through_tables(work, replies, started).await;
                        return;
                    };
                    mine.seq = row.seq;
                    self.owned = Some(mine);
                    let writer = self.writer;
                    let task = tokio::task::spawn_blocking(move || {
                        let written = journal::write(&mut conn, writer, &row);
                        (conn, written)
                    });
                    self.writing = Some(Writing {
                        task,
                        work,
                        replies,
                        answers,
                        started,
                    });
                }
            },
            _ => self.through_tables(work, replies, started).await,
        }
    }

    /// Waits for the journal row being written, answers its group, and returns whether it
    /// was committed (`true` when none was being written). A row not committed (another
    /// engine wrote first, a leg taken for new is in the tables, or the database failed)
    /// drops what this engine owns, and its group goes through the tables.
    async fn finish_writing(&mut self) -> bool {
        let Some(writing) = self.writing.take() else {
            return true;
        };
        let written = match writing.task.await {
            Ok((conn, written)) => {
                self.idle.push(conn);
                written
            }
            Err(error) => {
                tracing::error!(%error, "the posting engine's database task failed");
                Ok(false)
            }
        };
        match written {
            Ok(true) => {
                self.applier.written.fetch_add(1, Ordering::Relaxed);
                self.applier.wake.notify_one();
                self.committed(&writing.work, writing.started, true);
                answer_all(writing.replies, Ok(writing.answers));
                true
            }
            Ok(false) => {
                tracing::info!(
                    "journal row not written (another engine wrote, or a leg taken for new is \
                     in the tables); the group goes through the tables"
                );
                self.through_tables(writing.work, writing.replies, writing.started)
                    .await;
                false
            }
            Err(error) => {
                tracing::warn!(%error, "writing a journal row failed; the group goes through the tables");
                self.through_tables(writing.work, writing.replies, writing.started)
                    .await;
                false
            }
        }
    }

    /// Commits a group straight to the tables (with retries), after applying the journal;
    /// this engine then owns the ledger afresh.
    async fn through_tables(&mut self, work: Vec<Work>, replies: Vec<Reply>, started: Instant) {
        self.owned = None;
        self.applier.kept.store(0, Ordering::Relaxed);
        let mut conn = self.idle.pop();
        let settings = self.config.clone();
        let clock = self.clock.clone();
        let writer = self.writer;
        let outcome = tokio::task::spawn_blocking(move || {
            // The clock is read per attempt: a rerun after a conflict or an outage must not
            // stamp the group with the time before it.
            let committed =
                retry::serializable(&mut conn, &settings.database_url, &settings.retry, |tx| {
                    sql::commit_group(tx, &work, clock.now(), settings.expire_max, writer)
                });
            (conn, work, committed)
        })
        .await;
        let Ok((conn, work, committed)) = outcome else {
            tracing::error!("the posting engine's database task failed");
            answer_all(
                replies,
                Err(StoreError::Internal("the posting engine failed".to_owned())),
            );
            return;
        };
        self.idle.extend(conn);
        match committed {
            Ok(committed) => {
                self.applier
                    .applied
                    .fetch_max(committed.journal_seq, Ordering::Relaxed);
                if self.config.journal {
                    let mut state = LedgerState::default();
                    state.observe_timestamp(committed.last);
                    self.owned = Some(Owned {
                        state,
                        seq: committed.journal_seq,
                    });
                }
                self.committed(&work, started, false);
                answer_all(replies, Ok(committed.answers));
            }
            Err(error) => answer_all(replies, Err(error)),
        }
    }
}

async fn run(
    mut jobs: mpsc::Receiver<Job>,
    conn: PgConnection,
    config: Arc<LedgerConfig>,
    clock: Arc<dyn Clock>,
    counters: Arc<Counters>,
    applier: Arc<Applier>,
) {
    let mut committer = Committer {
        config: config.clone(),
        clock,
        counters,
        applier,
        writer: Uuid::from_u128(rand::random()),
        idle: vec![conn],
        owned: None,
        writing: None,
    };
    loop {
        // While a journal row is being written, the next group is prepared if one is waiting;
        // with none waiting, the row's group is answered first.
        let first = if committer.writing.is_some() {
            match jobs.try_recv() {
                Ok(job) => job,
                Err(_) => {
                    committer.finish_writing().await;
                    continue;
                }
            }
        } else {
            match jobs.recv().await {
                Some(job) => job,
                None => break,
            }
        };
        let mut group = vec![first];
        gather(&mut jobs, &mut group, &config).await;
        let (work, replies): (Vec<Work>, Vec<_>) =
            group.into_iter().map(|job| (job.work, job.reply)).unzip();
        committer.group(work, replies).await;
    }
    committer.applier.stopped.store(true, Ordering::Relaxed);
    committer.applier.wake.notify_one();
    tracing::info!("posting engine stopped: every handle is gone");
}
