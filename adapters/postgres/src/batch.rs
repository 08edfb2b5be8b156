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

/// Batches run and items answered so far, per batcher name, by every batcher of this process.
static STATS: Mutex<Vec<BatchStats>> = Mutex::new(Vec::new());

/// What the batchers of one name in this process have done since it began.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BatchStats {
    /// The batcher's name: `checkouts`, `buyers`, `sku_views`, `product_skus`, `sellers`,
    /// `products` or `sessions`.
    pub name: &'static str,
    /// Batches run.
    pub batches: u64,
    /// Items the batches took; `items / batches` is the mean batch size.
    pub items: u64,
}

/// What the batchers of this process have done since it began, one entry per name, in the
/// order the names first ran a batch.
pub fn batch_stats() -> Vec<BatchStats> {
    STATS.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

fn record(name: &'static str, items: usize) {
    let items = u64::try_from(items).unwrap_or(u64::MAX);
    let mut stats = STATS.lock().unwrap_or_else(PoisonError::into_inner);
    match stats.iter_mut().find(|entry| entry.name == name) {
        Some(entry) => {
            entry.batches = entry.batches.saturating_add(1);
            entry.items = entry.items.saturating_add(items);
        }
        None => stats.push(BatchStats {
            name,
            batches: 1,
            items,
        }),
    }
}

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

impl Limits {
    /// For point reads by key that every request of a kind makes (a checkout's SKUs, a
    /// signed-in request's session): 64 requests a statement, two statements at once.
    pub(crate) const READS: Limits = Limits {
        batch_max: 64,
        runners_max: 2,
        waiting_max: 8_192,
    };
}

/// Why an item got no answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Unanswered {
    /// [`Limits::waiting_max`] items were waiting already.
    Full,
    /// The batch that took it ended without answering it.
    Lost,
}

impl Unanswered {
    /// The store error a caller gets: `unavailable` when the queue was full (the caller may
    /// retry), `internal` when its batch ended without an answer.
    pub(crate) fn failure<E: crate::retry::StoreFailure>(self) -> E {
        match self {
            Self::Full => E::unavailable(),
            Self::Lost => E::internal(),
        }
    }
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
            record(self.name, batch.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(name: &str) -> BatchStats {
        batch_stats()
            .into_iter()
            .find(|entry| entry.name == name)
            .unwrap_or(BatchStats {
                name: "none",
                batches: 0,
                items: 0,
            })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn items_that_wait_together_share_a_batch_and_each_gets_its_own_answer() {
        let batcher = Arc::new(Batcher::new(
            "test-doubling",
            Limits {
                batch_max: 16,
                runners_max: 1,
                waiting_max: 100,
            },
        ));
        // Each batch takes a while, so the items submitted meanwhile queue behind it.
        let double = |items: Vec<u32>| async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            items.into_iter().map(|n| n * 2).collect::<Vec<u32>>()
        };
        let tasks: Vec<_> = (0..40u32)
            .map(|n| {
                let batcher = batcher.clone();
                tokio::spawn(async move { batcher.submit(n, double).await })
            })
            .collect();
        for (n, task) in (0..40u32).zip(tasks) {
            assert_eq!(task.await.unwrap(), Ok(n * 2));
        }
        let done = stats("test-doubling");
        assert_eq!(done.items, 40);
        // 40 items in batches of at most 16: at least 3 batches, and far fewer than 40.
        assert!((3..=10).contains(&done.batches), "{done:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_and_an_item_left_unanswered_is_lost() {
        let batcher = Arc::new(Batcher::new(
            "test-limits",
            Limits {
                batch_max: 1,
                runners_max: 1,
                waiting_max: 1,
            },
        ));
        let slow = |items: Vec<u32>| async move {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            items
        };
        // The first is taken at once; the second waits; the third finds the queue full.
        let first = tokio::spawn({
            let batcher = batcher.clone();
            async move { batcher.submit(1, slow).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let second = tokio::spawn({
            let batcher = batcher.clone();
            async move { batcher.submit(2, slow).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(batcher.submit(3, slow).await, Err(Unanswered::Full));
        assert_eq!(first.await.unwrap(), Ok(1));
        assert_eq!(second.await.unwrap(), Ok(2));

        // Work that answers fewer items than it was given leaves the rest lost, not waiting.
        let short = |_: Vec<u32>| async move { Vec::<u32>::new() };
        assert_eq!(batcher.submit(4, short).await, Err(Unanswered::Lost));
    }
}
