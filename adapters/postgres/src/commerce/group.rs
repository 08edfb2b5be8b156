//! Checkouts committed in groups.
//!
//! A checkout waits in this process's queue for a committer: a task that takes every
//! checkout waiting (up to [`GROUP_MAX`]) and stores them in one transaction, with one
//! statement per table for the whole group (see `tx::create_checkouts`). At most
//! [`COMMITTERS`] run at once; a checkout that arrives while fewer run starts one (see
//! [`crate::batch`]), so a lone checkout waits for nobody, and under load the groups grow by themselves, which spreads a
//! transaction's fixed cost (its round trips, its planning, its WAL flush) over many
//! checkouts.
//!
//! A group that fails for any reason (a SKU out of stock, a serialization conflict beyond the
//! retry policy, the database unavailable) writes nothing, and each of its checkouts is then
//! stored alone, so one buyer's refusal never becomes another's.

use std::sync::Arc;

use bazaar_domain::error::CommerceError;
use bazaar_domain::store::CheckoutRecord;

use super::tx::{self, NewCheckout};
use super::{Mode, PostgresCommerce, run};
use crate::batch::{Batcher, Limits, Unanswered};

/// The most checkouts one transaction stores.
pub const GROUP_MAX: usize = 32;
/// The most groups committing at once in one process, each on its own connection.
pub const COMMITTERS: usize = 4;
/// The most checkouts waiting in one process; past it a checkout is refused as unavailable
/// (the database is far behind), rather than queued without bound.
pub const WAITING_MAX: usize = 8_192;

pub(crate) type Answer = Result<CheckoutRecord, CommerceError>;

/// The queue of checkouts waiting to be stored.
pub(crate) fn queue() -> Arc<Batcher<NewCheckout, Answer>> {
    Arc::new(Batcher::new(
        "checkouts",
        Limits {
            batch_max: GROUP_MAX,
            runners_max: COMMITTERS,
            waiting_max: WAITING_MAX,
        },
    ))
}

impl PostgresCommerce {
    /// Stores `checkout` in the next group and answers it once that group committed.
    pub(crate) async fn create_grouped(&self, checkout: NewCheckout) -> Answer {
        let store = self.clone();
        let work = move |group: Vec<NewCheckout>| {
            let store = store.clone();
            async move { store.commit_group(group).await }
        };
        self.checkouts
            .submit(checkout, work)
            .await
            .map_err(Unanswered::failure::<CommerceError>)?
    }

    /// Stores one group and answers its checkouts; a failed group's checkouts are stored one
    /// by one.
    async fn commit_group(&self, checkouts: Vec<NewCheckout>) -> Vec<Answer> {
        let size = checkouts.len();
        let kept = (size > 1).then(|| checkouts.clone());
        let failure = match self.store(checkouts).await {
            Ok(answers) => return answers,
            Err(failure) => failure,
        };
        let Some(checkouts) = kept else {
            return vec![Err(failure)];
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
        answers
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
