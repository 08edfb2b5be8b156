//! Checkouts committed in groups.
//!
//! A checkout waits in this process's queue for a committer: a task that takes every
//! checkout waiting (up to [`GROUP_MAX`]) and stores them in one transaction, with one
//! statement per table for the whole group (see `tx::create_checkouts`). At most
//! [`COMMITTERS`] run at once; a checkout that arrives while none runs starts one, so a lone
//! checkout waits for nobody, and under load the groups grow by themselves, which spreads a
//! transaction's fixed cost (its round trips, its planning, its WAL flush) over many
//! checkouts.
//!
//! A group that fails for any reason (a SKU out of stock, a serialization conflict beyond the
//! retry policy, the database unavailable) writes nothing, and each of its checkouts is then
//! stored alone, so one buyer's refusal never becomes another's.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bazaar_domain::error::CommerceError;
use bazaar_domain::store::CheckoutRecord;
use tokio::sync::oneshot;

use super::tx::{self, NewCheckout};
use super::{Mode, PostgresCommerce, run};

/// The most checkouts one transaction stores.
pub const GROUP_MAX: usize = 32;
/// The most groups committing at once in one process, each on its own connection.
pub const COMMITTERS: usize = 4;
/// The most checkouts waiting in one process; past it a checkout is refused as unavailable
/// (the database is far behind), rather than queued without bound.
pub const WAITING_MAX: usize = 8_192;

type Answer = Result<CheckoutRecord, CommerceError>;

struct Waiting {
    checkout: NewCheckout,
    reply: oneshot::Sender<Answer>,
}

/// The checkouts waiting for a committer, and how many committers run.
#[derive(Default)]
pub(crate) struct Queue {
    waiting: VecDeque<Waiting>,
    committers: usize,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("waiting", &self.waiting.len())
            .field("committers", &self.committers)
            .finish()
    }
}

fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

impl PostgresCommerce {
    /// Stores `checkout` in the next group and answers it once that group committed.
    pub(crate) async fn create_grouped(&self, checkout: NewCheckout) -> Answer {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = lock(&self.queue);
            if queue.waiting.len() >= WAITING_MAX {
                tracing::warn!(
                    waiting = queue.waiting.len(),
                    "checkout refused: too many waiting to be stored"
                );
                return Err(CommerceError::Unavailable);
            }
            queue.waiting.push_back(Waiting { checkout, reply });
            let start = queue.committers < COMMITTERS;
            if start {
                queue.committers = queue.committers.saturating_add(1);
            }
            start
        };
        if start {
            // A task of its own, so that a caller that goes away never strands the others.
            let store = self.clone();
            tokio::spawn(async move { store.commit_groups().await });
        }
        answer.await.unwrap_or_else(|_| {
            tracing::error!("a checkout's committer ended without answering it");
            Err(CommerceError::Internal)
        })
    }

    /// Commits groups until none is waiting.
    async fn commit_groups(self) {
        loop {
            let group: Vec<Waiting> = {
                let mut queue = lock(&self.queue);
                if queue.waiting.is_empty() {
                    queue.committers = queue.committers.saturating_sub(1);
                    return;
                }
                let size = queue.waiting.len().min(GROUP_MAX);
                queue.waiting.drain(..size).collect()
            };
            self.commit_group(group).await;
        }
    }

    /// Stores one group and answers its checkouts; a failed group's checkouts are stored one
    /// by one.
    async fn commit_group(&self, group: Vec<Waiting>) {
        let (checkouts, replies): (Vec<NewCheckout>, Vec<oneshot::Sender<Answer>>) = group
            .into_iter()
            .map(|waiting| (waiting.checkout, waiting.reply))
            .unzip();
        let size = checkouts.len();
        let kept = (size > 1).then(|| checkouts.clone());
        let failure = match self.store(checkouts).await {
            Ok(answers) => return send(replies, answers),
            Err(failure) => failure,
        };
        let Some(checkouts) = kept else {
            return send(replies, vec![Err(failure)]);
        };
        tracing::info!(size, %failure, "a checkout group failed; storing its checkouts one by one");
        let alone: Vec<_> = checkouts
            .into_iter()
            .map(|checkout| {
                let store = self.clone();
                tokio::spawn(async move { store.store(vec![checkout]).await })
            })
            .collect();
        let mut answers = Vec::with_capacity(size);
        for handle in alone {
            answers.push(match handle.await {
                Ok(Ok(answer)) => answer
                    .into_iter()
                    .next()
                    .unwrap_or(Err(CommerceError::Internal)),
                Ok(Err(failure)) => Err(failure),
                Err(error) => {
                    tracing::error!(%error, "a checkout stored alone failed to run");
                    Err(CommerceError::Internal)
                }
            });
        }
        send(replies, answers);
    }

    /// Stores `checkouts` in one transaction: an answer for each, in order, or the group's
    /// failure.
    async fn store(&self, checkouts: Vec<NewCheckout>) -> Result<Vec<Answer>, CommerceError> {
        run(
            &self.pool,
            &self.retry,
            "create_checkout",
            Mode::Write,
            move |conn| tx::create_checkouts(conn, &checkouts),
        )
        .await
    }
}

fn send(replies: Vec<oneshot::Sender<Answer>>, answers: Vec<Answer>) {
    for (reply, answer) in replies.into_iter().zip(answers) {
        // A caller that went away no longer needs its answer; its checkout is stored anyway.
        let _ = reply.send(answer);
    }
}
