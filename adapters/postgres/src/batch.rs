//! Requests that arrive together, served together.
//!
//! A [`Batcher`] queues what its callers submit. A runner, a task of its own, takes every
//! item waiting (up to the batch size), hands them to one call of the batch's work, and
//! sends each caller its answer. At most a few runners run at once; an item submitted while
//! fewer run starts one, so a lone request waits for nobody, and under load the batches grow
//! by themselves: one statement or one transaction then serves many requests, which spreads
//! its fixed cost (a round trip, a plan, a WAL flush, a thread hand-off) over them.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

/// How a batcher's batches are sized and how many run at once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// The most items one batch takes.
    pub(crate) batch_max: usize,
    /// The most batches running at once.
    pub(crate) runners_max: usize,
    /// The most items waiting; past it [`Batcher::submit`] refuses.
    pub(crate) waiting_max: usize,
}

/// Why an item got no answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Unanswered {
    /// [`Limits::waiting_max`] items were waiting already.
    Full,
    /// The batch that took it ended without answering it.
    Lost,
}

struct Queue<I, A> {
    waiting: VecDeque<(I, oneshot::Sender<A>)>,
    runners: usize,
}

/// Items of type `I` answered with `A`, in batches.
pub(crate) struct Batcher<I, A> {
    name: &'static str,
    limits: Limits,
    queue: Mutex<Queue<I, A>>,
}

impl<I, A> Batcher<I, A> {
    fn lock(&self) -> MutexGuard<'_, Queue<I, A>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<I, A> std::fmt::Debug for Batcher<I, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let queue = self.lock();
        f.debug_struct("Batcher")
            .field("name", &self.name)
            .field("waiting", &queue.waiting.len())
            .field("runners", &queue.runners)
            .finish()
    }
}

impl<I: Send + 'static, A: Send + 'static> Batcher<I, A> {
    /// A batcher named `name` in its logs.
    pub(crate) fn new(name: &'static str, limits: Limits) -> Self {
        Self {
            name,
            limits,
            queue: Mutex::new(Queue {
                waiting: VecDeque::new(),
                runners: 0,
            }),
        }
    }

    /// Submits `item` and waits for its answer. `work` answers a batch: one answer per item,
    /// in the batch's order (an item left without one is answered [`Unanswered::Lost`]).
    pub(crate) async fn submit<W, F>(self: &Arc<Self>, item: I, work: W) -> Result<A, Unanswered>
    where
        W: Fn(Vec<I>) -> F + Send + Sync + 'static,
        F: Future<Output = Vec<A>> + Send,
    {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = self.lock();
            if queue.waiting.len() >= self.limits.waiting_max {
                tracing::warn!(
                    batcher = self.name,
                    waiting = queue.waiting.len(),
                    "refused: too many waiting"
                );
                return Err(Unanswered::Full);
            }
            queue.waiting.push_back((item, reply));
            let start = queue.runners < self.limits.runners_max;
            if start {
                queue.runners = queue.runners.saturating_add(1);
            }
            start
        };
        if start {
            // A task of its own, so that a caller that goes away never strands the others.
            let batcher = self.clone();
            tokio::spawn(async move { batcher.run(work).await });
        }
        answer.await.map_err(|_| {
            tracing::error!(
                batcher = self.name,
                "a batch ended without answering an item"
            );
            Unanswered::Lost
        })
    }

    /// Runs batches until none is waiting.
    async fn run<W, F>(self: Arc<Self>, work: W)
    where
        W: Fn(Vec<I>) -> F,
        F: Future<Output = Vec<A>>,
    {
        let _slot = Slot(&self);
        loop {
            let batch: Vec<(I, oneshot::Sender<A>)> = {
                let mut queue = self.lock();
                if queue.waiting.is_empty() {
                    queue.runners = queue.runners.saturating_sub(1);
                    return;
                }
                let size = queue.waiting.len().min(self.limits.batch_max);
                queue.waiting.drain(..size).collect()
            };
            let (items, replies): (Vec<I>, Vec<oneshot::Sender<A>>) = batch.into_iter().unzip();
            for (reply, answer) in replies.into_iter().zip(work(items).await) {
                // A caller that went away no longer needs its answer.
                let _ = reply.send(answer);
            }
        }
    }
}

/// A running runner's place: given back when the runner unwinds, so that a batcher whose
/// work panicked still starts runners for the items that come after.
struct Slot<'a, I, A>(&'a Batcher<I, A>);

impl<I, A> Drop for Slot<'_, I, A> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut queue = self.0.lock();
            queue.runners = queue.runners.saturating_sub(1);
        }
    }
}
