//! The audit store port: what an implementation MUST do.

use std::future::Future;

use bazaar_ledger::Timestamp;

use super::{AuditEntry, AuditRecord, Checkpoint};

/// Why the audit store refused or failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum AuditStoreError {
    /// The database could not be reached; the call may be retried.
    #[error("the audit store is unavailable")]
    Unavailable,
    /// A stored row does not read back.
    #[error("the audit store holds a row it cannot read")]
    Corrupt,
}

/// The records of a time range: the first, the last and how many.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuditSpan {
    /// The oldest record in the range.
    pub first: AuditRecord,
    /// The newest.
    pub last: AuditRecord,
    /// How many records the range holds.
    pub count: u64,
}

/// The audit store. An implementation MUST:
/// - append as one chain: read the head, build the record with [`AuditRecord::next`] and
///   write it and the new head in one transaction, so that appends from any number of
///   processes at once get consecutive sequence numbers, each naming the hash before it;
/// - never change or delete a record (except records older than the retention, oldest
///   first, by [`AuditStore::purge`]);
/// - keep every checkpoint it is given.
pub trait AuditStore: Send + Sync {
    /// Appends `entry`, recorded at `at`.
    fn append(
        &self,
        entry: &AuditEntry,
        at: Timestamp,
    ) -> impl Future<Output = Result<AuditRecord, AuditStoreError>> + Send;

    /// The newest record, if any.
    fn head(&self) -> impl Future<Output = Result<Option<AuditRecord>, AuditStoreError>> + Send;

    /// Keeps a checkpoint.
    fn save_checkpoint(
        &self,
        checkpoint: &Checkpoint,
    ) -> impl Future<Output = Result<(), AuditStoreError>> + Send;

    /// The newest checkpoint, if any.
    fn latest_checkpoint(
        &self,
    ) -> impl Future<Output = Result<Option<Checkpoint>, AuditStoreError>> + Send;

    /// The checkpoints of records `first..=last`, oldest first.
    fn checkpoints(
        &self,
        first: u64,
        last: u64,
    ) -> impl Future<Output = Result<Vec<Checkpoint>, AuditStoreError>> + Send;

    /// The chain's segment of `from..to`: from the first record recorded at or after `from`
    /// to the last recorded before `to` (by sequence number, every record between them
    /// included), with how many records the store holds in it; `None` when it is empty.
    fn span(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Option<AuditSpan>, AuditStoreError>> + Send;

    /// Up to `limit` records after sequence number `after` up to `last`, oldest first.
    fn records(
        &self,
        after: u64,
        last: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AuditRecord>, AuditStoreError>> + Send;

    /// Deletes the records recorded before `before`, oldest first; answers how many.
    fn purge(&self, before: Timestamp)
    -> impl Future<Output = Result<u64, AuditStoreError>> + Send;
}
