//! Reads by id that arrive together are answered by one statement (see [`crate::batch`]):
//! a checkout's buyer, SKUs and sellers, which every checkout reads before it is priced.

use std::sync::Arc;

use bazaar_domain::error::CommerceError;
use diesel::pg::PgConnection;
use uuid::Uuid;

use super::PostgresCommerce;
use super::tx;
use crate::batch::{Batcher, Limits, Unanswered};

/// One request's rows.
pub(crate) type Read<V> = Result<Vec<V>, CommerceError>;
/// The requests waiting for one kind of read.
pub(crate) type Reads<V> = Arc<Batcher<Vec<Uuid>, Read<V>>>;

/// A queue of reads of one kind, sized by [`Limits::READS`].
pub(crate) fn reads<V: Send + 'static>(name: &'static str) -> Reads<V> {
    Arc::new(Batcher::new(name, Limits::READS))
}

/// The most statements of one kind running at once in one process.
pub const READERS: usize = Limits::READS.runners_max;

impl PostgresCommerce {
    /// The rows of `ids` that exist, read by `load` in one statement together with the
    /// other requests of the same kind waiting meanwhile; `id_of` tells whose a row is.
    pub(crate) async fn read_by_ids<V: Clone + Send + 'static>(
        &self,
        reads: &Reads<V>,
        operation: &'static str,
        ids: Vec<Uuid>,
        load: fn(&mut PgConnection, &[Uuid]) -> tx::Result<Vec<V>>,
        id_of: fn(&V) -> Uuid,
    ) -> Read<V> {
        let store = self.clone();
        let work = move |asked: Vec<Vec<Uuid>>| {
            let store = store.clone();
            async move {
                let mut all: Vec<Uuid> = asked.iter().flatten().copied().collect();
                all.sort_unstable();
                all.dedup();
                match store.run(operation, move |conn| load(conn, &all)).await {
                    Ok(rows) => asked
                        .iter()
                        .map(|ids| {
                            Ok(rows
                                .iter()
                                .filter(|row| ids.contains(&id_of(row)))
                                .cloned()
                                .collect())
                        })
                        .collect(),
                    Err(error) => vec![Err(error); asked.len()],
                }
            }
        };
        reads
            .submit(ids, work)
            .await
            .map_err(Unanswered::failure::<CommerceError>)?
    }
}
