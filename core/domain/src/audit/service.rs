//! The audit trail: recording entries, signing checkpoints, and the manifest of an export.

use bazaar_ledger::Timestamp;

use super::{
    AuditEntry, AuditRecord, AuditSigner, AuditStore, AuditStoreError, ChainHash, Checkpoint,
    EntryError, Manifest, manifest_line, record_line,
};

/// The default retention: twelve months (PCI DSS 10.5.1), in days.
pub const RETENTION_DAYS_DEFAULT: u32 = 366;

/// Why an audit call failed.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum AuditError {
    /// The entry does not fit.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] AuditStoreError),
    /// The range ends before it starts.
    #[error("the export's range ends before it starts")]
    Range,
}

impl AuditError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Entry(_) | Self::Range => "invalid_input",
            Self::Store(AuditStoreError::Unavailable) => "unavailable",
            Self::Store(AuditStoreError::Corrupt) => "internal",
        }
    }
}

/// The audit trail over a store, signing with `signer`.
#[derive(Debug)]
pub struct AuditTrail<S> {
    store: S,
    signer: AuditSigner,
}

impl<S: AuditStore> AuditTrail<S> {
    /// The trail.
    pub fn new(store: S, signer: AuditSigner) -> Self {
        Self { store, signer }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The public key that checks its checkpoints and exports.
    pub fn public_key(&self) -> super::AuditKey {
        self.signer.public()
    }

    /// Records `entry` at `now`.
    pub async fn record(
        &self,
        entry: AuditEntry,
        now: Timestamp,
    ) -> Result<AuditRecord, AuditError> {
        Ok(self.store.append(&entry.checked()?, now).await?)
    }

    /// Signs a checkpoint of the head at `now` when records were added since the last one;
    /// answers it.
    pub async fn checkpoint(&self, now: Timestamp) -> Result<Option<Checkpoint>, AuditError> {
        let Some(head) = self.store.head().await? else {
            return Ok(None);
        };
        let latest = self.store.latest_checkpoint().await?;
        if latest.is_some_and(|latest| latest.seq >= head.seq) {
            return Ok(None);
        }
        let checkpoint = Checkpoint::sign(&self.signer, head.seq, head.hash, now);
        self.store.save_checkpoint(&checkpoint).await?;
        Ok(Some(checkpoint))
    }

    /// The signed manifest of the records recorded in `from..to`, made at `now`.
    pub async fn manifest(
        &self,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Result<Manifest, AuditError> {
        if to < from {
            return Err(AuditError::Range);
        }
        let span = self.store.span(from, to).await?;
        let latest_checkpoint = self.store.latest_checkpoint().await?;
        let (count, first_seq, last_seq, prev_hash, head_hash, checkpoints) = match span {
            Some(span) => (
                span.count,
                span.first.seq,
                span.last.seq,
                span.first.prev_hash,
                span.last.hash,
                self.store
                    .checkpoints(span.first.seq, span.last.seq)
                    .await?,
            ),
            None => (0, 0, 0, ChainHash::GENESIS, ChainHash::GENESIS, Vec::new()),
        };
        Ok(Manifest {
            from,
            to,
            exported_at: now,
            count,
            first_seq,
            last_seq,
            prev_hash,
            head_hash,
            checkpoints,
            latest_checkpoint,
            key: self.signer.public(),
            signature: [0; 64],
        }
        .sign(&self.signer))
    }

    /// The export of the records recorded in `from..to`, made at `now`: the manifest line,
    /// then each record's line, oldest first, each handed to `sink` (without its newline),
    /// `page` records read at a time. Answers the manifest.
    pub async fn export<F: FnMut(&str)>(
        &self,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
        page: u32,
        mut sink: F,
    ) -> Result<Manifest, AuditError> {
        let manifest = self.manifest(from, to, now).await?;
        sink(&manifest_line(&manifest));
        let mut after = manifest.first_seq.saturating_sub(1);
        while manifest.count > 0 && after < manifest.last_seq {
            let records = self.store.records(after, manifest.last_seq, page).await?;
            let Some(last) = records.last() else {
                break;
            };
            after = last.seq;
            for record in &records {
                sink(&record_line(record));
            }
        }
        Ok(manifest)
    }

    /// Deletes records older than `retention_days` before `now`; answers how many.
    pub async fn purge(&self, retention_days: u32, now: Timestamp) -> Result<u64, AuditError> {
        let micros = i64::from(retention_days).saturating_mul(crate::time::MICROS_PER_DAY);
        let before = Timestamp::from_micros(now.as_micros().saturating_sub(micros));
        Ok(self.store.purge(before).await?)
    }
}
