//! The audit store on PostgreSQL: the hash-chained log, its head row and its checkpoints.
//! Appends lock the head row, so appends from every process form one chain.

use bazaar_domain::audit::{
    AuditEntry, AuditRecord, AuditSpan, AuditStore, AuditStoreError, ChainHash, Checkpoint, Outcome,
};
use bazaar_ledger::Timestamp;
use bazaar_schema::schema::{audit_checkpoints, audit_head, audit_log};
use diesel::prelude::*;

use crate::RetryPolicy;
use crate::commerce::{Db, Fail, Mode, StoreFailure};

type Result<T> = std::result::Result<T, Fail<AuditStoreError>>;

impl StoreFailure for AuditStoreError {
    fn unavailable() -> Self {
        Self::Unavailable
    }

    fn internal() -> Self {
        Self::Corrupt
    }
}

fn corrupt(what: &'static str) -> Fail<AuditStoreError> {
    tracing::error!(what, "a stored audit row does not read back");
    Fail::Domain(AuditStoreError::Corrupt)
}

/// The audit store. Cloning shares the pool.
#[derive(Clone)]
pub struct PostgresAudit {
    db: Db,
}

impl std::fmt::Debug for PostgresAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresAudit")
            .field("pool_size", &self.db.pool_size())
            .finish_non_exhaustive()
    }
}

impl PostgresAudit {
    /// A store on `database_url` with at most `pool_size` connections.
    pub fn new(database_url: &str, pool_size: u32, retry: RetryPolicy) -> Self {
        Self {
            db: Db::new(database_url, pool_size, retry),
        }
    }
}

fn hash(bytes: &[u8]) -> Result<ChainHash> {
    <[u8; 32]>::try_from(bytes)
        .map(ChainHash)
        .map_err(|_| corrupt("hash"))
}

fn seq(value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| corrupt("seq"))
}

fn column(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| corrupt("seq"))
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
struct RecordRow {
    seq: i64,
    at: i64,
    actor: String,
    action: String,
    outcome: String,
    origin: String,
    resource_type: String,
    resource_id: String,
    detail: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl RecordRow {
    fn of(record: &AuditRecord) -> Result<Self> {
        let entry = &record.entry;
        Ok(Self {
            seq: column(record.seq)?,
            at: record.at.as_micros(),
            actor: entry.actor.clone(),
            action: entry.action.clone(),
            outcome: entry.outcome.as_str().to_owned(),
            origin: entry.origin.clone(),
            resource_type: entry.resource_type.clone(),
            resource_id: entry.resource_id.clone(),
            detail: entry.detail.clone(),
            prev_hash: record.prev_hash.0.to_vec(),
            hash: record.hash.0.to_vec(),
        })
    }

    fn read(self) -> Result<AuditRecord> {
        Ok(AuditRecord {
            seq: seq(self.seq)?,
            at: Timestamp::from_micros(self.at),
            entry: AuditEntry {
                actor: self.actor,
                action: self.action,
                outcome: Outcome::parse(&self.outcome).ok_or_else(|| corrupt("outcome"))?,
                origin: self.origin,
                resource_type: self.resource_type,
                resource_id: self.resource_id,
                detail: self.detail,
            },
            prev_hash: hash(&self.prev_hash)?,
            hash: hash(&self.hash)?,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_checkpoints, check_for_backend(diesel::pg::Pg))]
struct CheckpointRow {
    seq: i64,
    hash: Vec<u8>,
    at: i64,
    key_id: String,
    signature: Vec<u8>,
}

impl CheckpointRow {
    fn read(self) -> Result<Checkpoint> {
        Ok(Checkpoint {
            seq: seq(self.seq)?,
            hash: hash(&self.hash)?,
            at: Timestamp::from_micros(self.at),
            key_id: self.key_id,
            signature: <[u8; 64]>::try_from(self.signature.as_slice())
                .map_err(|_| corrupt("signature"))?,
        })
    }
}

impl AuditStore for PostgresAudit {
    async fn append(
        &self,
        entry: &AuditEntry,
        at: Timestamp,
    ) -> std::result::Result<AuditRecord, AuditStoreError> {
        let entry = entry.clone();
        self.db
            // READ COMMITTED: appenders queue on the head row's lock and each reads the head
            // the one before it committed.
            .run("audit_append", Mode::Queue, move |conn| {
                // The head row exists from the first append on; creating it is idempotent.
                diesel::insert_into(audit_head::table)
                    .values((
                        audit_head::id.eq(1),
                        audit_head::seq.eq(0_i64),
                        audit_head::hash.eq(ChainHash::GENESIS.0.to_vec()),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)?;
                let (head_seq, head_hash): (i64, Vec<u8>) = audit_head::table
                    .find(1)
                    .select((audit_head::seq, audit_head::hash))
                    .for_update()
                    .first(conn)?;
                let record =
                    AuditRecord::next((seq(head_seq)?, hash(&head_hash)?), at, entry.clone());
                diesel::insert_into(audit_log::table)
                    .values(RecordRow::of(&record)?)
                    .execute(conn)?;
                diesel::update(audit_head::table.find(1))
                    .set((
                        audit_head::seq.eq(column(record.seq)?),
                        audit_head::hash.eq(record.hash.0.to_vec()),
                    ))
                    .execute(conn)?;
                Ok(record)
            })
            .await
    }

    async fn head(&self) -> std::result::Result<Option<AuditRecord>, AuditStoreError> {
        self.db
            .run("audit_head", Mode::Read, move |conn| {
                audit_log::table
                    .order(audit_log::seq.desc())
                    .select(RecordRow::as_select())
                    .first(conn)
                    .optional()?
                    .map(RecordRow::read)
                    .transpose()
            })
            .await
    }

    async fn save_checkpoint(
        &self,
        checkpoint: &Checkpoint,
    ) -> std::result::Result<(), AuditStoreError> {
        let checkpoint = checkpoint.clone();
        self.db
            .run("audit_checkpoint", Mode::Write, move |conn| {
                diesel::insert_into(audit_checkpoints::table)
                    .values(CheckpointRow {
                        seq: column(checkpoint.seq)?,
                        hash: checkpoint.hash.0.to_vec(),
                        at: checkpoint.at.as_micros(),
                        key_id: checkpoint.key_id.clone(),
                        signature: checkpoint.signature.to_vec(),
                    })
                    .on_conflict_do_nothing()
                    .execute(conn)?;
                Ok(())
            })
            .await
    }

    async fn latest_checkpoint(&self) -> std::result::Result<Option<Checkpoint>, AuditStoreError> {
        self.db
            .run("audit_latest_checkpoint", Mode::Read, move |conn| {
                audit_checkpoints::table
                    .order(audit_checkpoints::seq.desc())
                    .select(CheckpointRow::as_select())
                    .first(conn)
                    .optional()?
                    .map(CheckpointRow::read)
                    .transpose()
            })
            .await
    }

    async fn checkpoints(
        &self,
        first: u64,
        last: u64,
    ) -> std::result::Result<Vec<Checkpoint>, AuditStoreError> {
        self.db
            .run("audit_checkpoints", Mode::Read, move |conn| {
                audit_checkpoints::table
                    .filter(audit_checkpoints::seq.between(column(first)?, column(last)?))
                    .order(audit_checkpoints::seq.asc())
                    .select(CheckpointRow::as_select())
                    .load(conn)?
                    .into_iter()
                    .map(CheckpointRow::read)
                    .collect()
            })
            .await
    }

    async fn span(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> std::result::Result<Option<AuditSpan>, AuditStoreError> {
        let (from, to) = (from.as_micros(), to.as_micros());
        self.db
            .run("audit_span", Mode::Read, move |conn| {
                // The chain's segment from the first record at or after `from` to the last
                // before `to`, by sequence number: every record between belongs to it.
                let first = audit_log::table
                    .filter(audit_log::at.ge(from))
                    .order(audit_log::seq.asc())
                    .select(RecordRow::as_select())
                    .first(conn)
                    .optional()?;
                let last = audit_log::table
                    .filter(audit_log::at.lt(to))
                    .order(audit_log::seq.desc())
                    .select(RecordRow::as_select())
                    .first(conn)
                    .optional()?;
                let (Some(first), Some(last)) = (first, last) else {
                    return Ok(None);
                };
                if first.seq > last.seq {
                    return Ok(None);
                }
                let count: i64 = audit_log::table
                    .filter(audit_log::seq.between(first.seq, last.seq))
                    .count()
                    .get_result(conn)?;
                Ok(Some(AuditSpan {
                    first: first.read()?,
                    last: last.read()?,
                    count: u64::try_from(count).map_err(|_| corrupt("count"))?,
                }))
            })
            .await
    }

    async fn records(
        &self,
        after: u64,
        last: u64,
        limit: u32,
    ) -> std::result::Result<Vec<AuditRecord>, AuditStoreError> {
        let limit = i64::from(limit.clamp(1, 10_000));
        self.db
            .run("audit_records", Mode::Read, move |conn| {
                audit_log::table
                    .filter(audit_log::seq.gt(column(after)?))
                    .filter(audit_log::seq.le(column(last)?))
                    .order(audit_log::seq.asc())
                    .limit(limit)
                    .select(RecordRow::as_select())
                    .load(conn)?
                    .into_iter()
                    .map(RecordRow::read)
                    .collect()
            })
            .await
    }

    async fn purge(&self, before: Timestamp) -> std::result::Result<u64, AuditStoreError> {
        let before = before.as_micros();
        self.db
            .run("audit_purge", Mode::Write, move |conn| {
                // A bounded batch per call, oldest first: a long retention backlog is worked
                // off over several runs instead of one long transaction.
                let oldest: Vec<i64> = audit_log::table
                    .filter(audit_log::at.lt(before))
                    .order(audit_log::seq.asc())
                    .limit(10_000)
                    .select(audit_log::seq)
                    .load(conn)?;
                let deleted =
                    diesel::delete(audit_log::table.filter(audit_log::seq.eq_any(oldest)))
                        .execute(conn)?;
                Ok(u64::try_from(deleted).unwrap_or(0))
            })
            .await
    }
}
