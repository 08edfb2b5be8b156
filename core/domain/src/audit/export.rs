//! An export for compliance: one JSON line with the signed manifest, then one JSON line per
//! record, oldest first. [`ExportVerifier`] checks it offline, one line at a time, and names
//! the first bad record.
//!
//! The manifest says which records the export holds (the time range, the first and last
//! sequence numbers, the count), the hash before the first and the hash of the last, every
//! checkpoint signed within those records and the newest checkpoint when the export was made;
//! its signature covers all of it. So a record edited, deleted, moved or added, records cut
//! from the end, or a manifest rewritten to match, are each found.

use std::borrow::Cow;

use bazaar_ledger::Timestamp;
use serde::{Deserialize, Serialize};

use super::{AuditEntry, AuditKey, AuditRecord, AuditSigner, ChainHash, Checkpoint, Outcome};
use crate::time::Rfc3339;

/// What an export holds, signed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Manifest {
    /// The first instant of the range asked for.
    pub from: Timestamp,
    /// The instant after the range.
    pub to: Timestamp,
    /// When the export was made.
    pub exported_at: Timestamp,
    /// How many records it holds.
    pub count: u64,
    /// The first record's sequence number (0 when there is none).
    pub first_seq: u64,
    /// The last record's sequence number (0 when there is none).
    pub last_seq: u64,
    /// The hash before the first record.
    pub prev_hash: ChainHash,
    /// The last record's hash (`prev_hash` when there is none).
    pub head_hash: ChainHash,
    /// The checkpoints of records in the export.
    pub checkpoints: Vec<Checkpoint>,
    /// The newest checkpoint of the whole log when the export was made.
    pub latest_checkpoint: Option<Checkpoint>,
    /// The key that signed the manifest and the checkpoints.
    pub key: AuditKey,
    /// The signature of [`Manifest::message`].
    pub signature: [u8; 64],
}

fn checkpoint_line(checkpoint: &Checkpoint) -> String {
    format!(
        "checkpoint {} {} {} {} {}\n",
        checkpoint.seq,
        checkpoint.hash.to_hex(),
        checkpoint.at.as_micros(),
        checkpoint.key_id,
        hex::encode(checkpoint.signature)
    )
}

impl Manifest {
    /// What is signed: every field but the signature, one per line, in a fixed order.
    pub fn message(&self) -> Vec<u8> {
        let mut text = format!(
            "bazaar-audit-manifest-v1\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n",
            self.from.as_micros(),
            self.to.as_micros(),
            self.exported_at.as_micros(),
            self.count,
            self.first_seq,
            self.last_seq,
            self.prev_hash.to_hex(),
            self.head_hash.to_hex(),
            self.key.to_hex(),
        );
        for checkpoint in &self.checkpoints {
            text.push_str(&checkpoint_line(checkpoint));
        }
        if let Some(latest) = &self.latest_checkpoint {
            text.push_str("latest ");
            text.push_str(&checkpoint_line(latest));
        }
        text.into_bytes()
    }

    /// Signs it with `signer` (whose key it then names).
    pub fn sign(mut self, signer: &AuditSigner) -> Self {
        self.key = signer.public();
        self.signature = signer.sign(&self.message());
        self
    }

    /// Whether its own key signed it.
    pub fn is_signed(&self) -> bool {
        self.key.verifies(&self.message(), &self.signature)
    }
}

#[derive(Serialize, Deserialize)]
struct CheckpointLine<'a> {
    seq: u64,
    hash: Cow<'a, str>,
    at: Cow<'a, str>,
    key_id: Cow<'a, str>,
    signature: Cow<'a, str>,
}

#[derive(Serialize, Deserialize)]
struct ManifestLine<'a> {
    manifest: u32,
    #[serde(borrow)]
    from: Cow<'a, str>,
    #[serde(borrow)]
    to: Cow<'a, str>,
    #[serde(borrow)]
    exported_at: Cow<'a, str>,
    count: u64,
    first_seq: u64,
    last_seq: u64,
    #[serde(borrow)]
    prev_hash: Cow<'a, str>,
    #[serde(borrow)]
    head_hash: Cow<'a, str>,
    #[serde(borrow)]
    checkpoints: Vec<CheckpointLine<'a>>,
    #[serde(borrow)]
    latest_checkpoint: Option<CheckpointLine<'a>>,
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(borrow)]
    signature: Cow<'a, str>,
}

#[derive(Serialize, Deserialize)]
struct RecordLine<'a> {
    seq: u64,
    #[serde(borrow)]
    at: Cow<'a, str>,
    #[serde(borrow)]
    actor: Cow<'a, str>,
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow)]
    outcome: Cow<'a, str>,
    #[serde(borrow)]
    origin: Cow<'a, str>,
    #[serde(borrow)]
    resource_type: Cow<'a, str>,
    #[serde(borrow)]
    resource_id: Cow<'a, str>,
    #[serde(borrow)]
    detail: Cow<'a, str>,
    #[serde(borrow)]
    prev_hash: Cow<'a, str>,
    #[serde(borrow)]
    hash: Cow<'a, str>,
}

fn checkpoint_to_line(checkpoint: &Checkpoint) -> CheckpointLine<'static> {
    CheckpointLine {
        seq: checkpoint.seq,
        hash: checkpoint.hash.to_hex().into(),
        at: checkpoint.at.to_rfc3339().into(),
        key_id: checkpoint.key_id.clone().into(),
        signature: hex::encode(checkpoint.signature).into(),
    }
}

fn checkpoint_from_line(line: &CheckpointLine<'_>) -> Option<Checkpoint> {
    let mut signature = [0_u8; 64];
    hex::decode_to_slice(line.signature.as_ref(), &mut signature).ok()?;
    Some(Checkpoint {
        seq: line.seq,
        hash: ChainHash::from_hex(&line.hash)?,
        at: Timestamp::parse_rfc3339(&line.at)?,
        key_id: line.key_id.clone().into_owned(),
        signature,
    })
}

/// The manifest's JSON line (without the newline).
pub fn manifest_line(manifest: &Manifest) -> String {
    let line = ManifestLine {
        manifest: 1,
        from: manifest.from.to_rfc3339().into(),
        to: manifest.to.to_rfc3339().into(),
        exported_at: manifest.exported_at.to_rfc3339().into(),
        count: manifest.count,
        first_seq: manifest.first_seq,
        last_seq: manifest.last_seq,
        prev_hash: manifest.prev_hash.to_hex().into(),
        head_hash: manifest.head_hash.to_hex().into(),
        checkpoints: manifest
            .checkpoints
            .iter()
            .map(checkpoint_to_line)
            .collect(),
        latest_checkpoint: manifest.latest_checkpoint.as_ref().map(checkpoint_to_line),
        key: manifest.key.to_hex().into(),
        signature: hex::encode(manifest.signature).into(),
    };
    serde_json::to_string(&line).unwrap_or_default()
}

/// Reads a manifest line; `None` when it is not one.
pub fn parse_manifest(text: &str) -> Option<Manifest> {
    let line: ManifestLine<'_> = serde_json::from_str(text).ok()?;
    if line.manifest != 1 {
        return None;
    }
    let mut signature = [0_u8; 64];
    hex::decode_to_slice(line.signature.as_ref(), &mut signature).ok()?;
    Some(Manifest {
        from: Timestamp::parse_rfc3339(&line.from)?,
        to: Timestamp::parse_rfc3339(&line.to)?,
        exported_at: Timestamp::parse_rfc3339(&line.exported_at)?,
        count: line.count,
        first_seq: line.first_seq,
        last_seq: line.last_seq,
        prev_hash: ChainHash::from_hex(&line.prev_hash)?,
        head_hash: ChainHash::from_hex(&line.head_hash)?,
        checkpoints: line
            .checkpoints
            .iter()
            .map(checkpoint_from_line)
            .collect::<Option<_>>()?,
        latest_checkpoint: match &line.latest_checkpoint {
            Some(latest) => Some(checkpoint_from_line(latest)?),
            None => None,
        },
        key: AuditKey::from_hex(&line.key)?,
        signature,
    })
}

/// A record's JSON line (without the newline).
pub fn record_line(record: &AuditRecord) -> String {
    let entry = &record.entry;
    let line = RecordLine {
        seq: record.seq,
        at: record.at.to_rfc3339().into(),
        actor: Cow::Borrowed(&entry.actor),
        action: Cow::Borrowed(&entry.action),
        outcome: Cow::Borrowed(entry.outcome.as_str()),
        origin: Cow::Borrowed(&entry.origin),
        resource_type: Cow::Borrowed(&entry.resource_type),
        resource_id: Cow::Borrowed(&entry.resource_id),
        detail: Cow::Borrowed(&entry.detail),
        prev_hash: record.prev_hash.to_hex().into(),
        hash: record.hash.to_hex().into(),
    };
    serde_json::to_string(&line).unwrap_or_default()
}

/// Reads a record line; `None` when it is not one.
pub fn parse_record(text: &str) -> Option<AuditRecord> {
    let line: RecordLine<'_> = serde_json::from_str(text).ok()?;
    Some(AuditRecord {
        seq: line.seq,
        at: Timestamp::parse_rfc3339(&line.at)?,
        entry: AuditEntry {
            actor: line.actor.into_owned(),
            action: line.action.into_owned(),
            outcome: Outcome::parse(&line.outcome)?,
            origin: line.origin.into_owned(),
            resource_type: line.resource_type.into_owned(),
            resource_id: line.resource_id.into_owned(),
            detail: line.detail.into_owned(),
        },
        prev_hash: ChainHash::from_hex(&line.prev_hash)?,
        hash: ChainHash::from_hex(&line.hash)?,
    })
}

/// What is wrong with an export.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum Tamper {
    /// The first line is not a manifest.
    #[error("the first line is not a manifest")]
    NoManifest,
    /// The manifest's signature does not verify.
    #[error("the manifest's signature does not verify")]
    ManifestSignature,
    /// The manifest was signed by another key than the one trusted.
    #[error("the manifest was signed by key {found}, not the trusted key {trusted}")]
    UntrustedKey {
        /// The trusted key's id.
        trusted: String,
        /// The manifest's key's id.
        found: String,
    },
    /// A record line does not read.
    #[error("record {index} does not read as a record")]
    Unreadable {
        /// Its position in the export, from 1.
        index: u64,
    },
    /// A record's number is not the next one: records were deleted, moved or added.
    #[error(
        "record {index} has sequence number {found}, not {expected}: a record was deleted, moved or added here"
    )]
    OutOfSequence {
        /// Its position in the export, from 1.
        index: u64,
        /// The number the chain expects.
        expected: u64,
        /// The number it holds.
        found: u64,
    },
    /// A record's content does not hash to its hash: it was edited.
    #[error(
        "record {index} (sequence number {seq}) was altered: its content does not hash to its hash"
    )]
    Altered {
        /// Its position in the export, from 1.
        index: u64,
        /// Its sequence number.
        seq: u64,
    },
    /// A record does not name the hash of the one before it.
    #[error("record {index} (sequence number {seq}) does not follow the record before it")]
    Unlinked {
        /// Its position in the export, from 1.
        index: u64,
        /// Its sequence number.
        seq: u64,
    },
    /// A checkpoint's hash is not the chain's at its record, or its signature fails.
    #[error(
        "the checkpoint at sequence number {seq} does not match the chain or its signature fails"
    )]
    Checkpoint {
        /// Its sequence number.
        seq: u64,
    },
    /// Fewer records than the manifest counts, or records the log once had (a checkpoint
    /// shows) cut from its end.
    #[error("the export ends after {count} records; record {missing} and after are missing")]
    Truncated {
        /// Records read.
        count: u64,
        /// The position of the first record missing, from 1.
        missing: u64,
    },
    /// More records than the manifest counts.
    #[error("record {index} is beyond the {count} the manifest counts")]
    Extra {
        /// Its position, from 1.
        index: u64,
        /// The count.
        count: u64,
    },
    /// The last record's hash is not the manifest's head.
    #[error("the last record's hash is not the manifest's head hash")]
    Head,
}

/// What a verified export holds.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Verified {
    /// Records checked.
    pub count: u64,
    /// The first and last sequence numbers.
    pub seqs: (u64, u64),
    /// The chain's hash after the last record.
    pub head: ChainHash,
    /// Checkpoints checked against the chain.
    pub checkpoints: usize,
    /// The id of the key that signed it.
    pub key_id: String,
}

/// Checks an export a line at a time: [`ExportVerifier::start`] with the manifest line,
/// [`ExportVerifier::record`] with each record line, [`ExportVerifier::finish`].
#[derive(Debug)]
pub struct ExportVerifier {
    manifest: Manifest,
    read: u64,
    head: ChainHash,
    next_checkpoint: usize,
}

impl ExportVerifier {
    /// Reads and checks the manifest line; `trusted`, when given, is the only key accepted.
    pub fn start(line: &str, trusted: Option<&AuditKey>) -> Result<Self, Tamper> {
        let manifest = parse_manifest(line).ok_or(Tamper::NoManifest)?;
        if let Some(trusted) = trusted
            && *trusted != manifest.key
        {
            return Err(Tamper::UntrustedKey {
                trusted: trusted.id(),
                found: manifest.key.id(),
            });
        }
        if !manifest.is_signed() {
            return Err(Tamper::ManifestSignature);
        }
        let head = manifest.prev_hash;
        Ok(Self {
            manifest,
            read: 0,
            head,
            next_checkpoint: 0,
        })
    }

    /// The manifest read.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Checks the next record line.
    pub fn record(&mut self, line: &str) -> Result<(), Tamper> {
        let index = self.read.saturating_add(1);
        if self.read >= self.manifest.count {
            return Err(Tamper::Extra {
                index,
                count: self.manifest.count,
            });
        }
        let record = parse_record(line).ok_or(Tamper::Unreadable { index })?;
        let expected = self.manifest.first_seq.saturating_add(self.read);
        if record.seq != expected {
            return Err(Tamper::OutOfSequence {
                index,
                expected,
                found: record.seq,
            });
        }
        if !record.is_intact() {
            return Err(Tamper::Altered {
                index,
                seq: record.seq,
            });
        }
        if record.prev_hash != self.head {
            return Err(Tamper::Unlinked {
                index,
                seq: record.seq,
            });
        }
        self.head = record.hash;
        self.read = index;
        while let Some(checkpoint) = self.manifest.checkpoints.get(self.next_checkpoint) {
            if checkpoint.seq > record.seq {
                break;
            }
            if checkpoint.seq != record.seq
                || checkpoint.hash != record.hash
                || !checkpoint.is_signed_by(&self.manifest.key)
            {
                return Err(Tamper::Checkpoint {
                    seq: checkpoint.seq,
                });
            }
            self.next_checkpoint = self.next_checkpoint.saturating_add(1);
        }
        Ok(())
    }

    /// Checks the end: every record counted, the head hash, no checkpoint left unmatched,
    /// and nothing the newest checkpoint covers cut from the end.
    pub fn finish(self) -> Result<Verified, Tamper> {
        let truncated = Tamper::Truncated {
            count: self.read,
            missing: self.read.saturating_add(1),
        };
        if self.read < self.manifest.count {
            return Err(truncated);
        }
        if let Some(checkpoint) = self.manifest.checkpoints.get(self.next_checkpoint) {
            return Err(Tamper::Checkpoint {
                seq: checkpoint.seq,
            });
        }
        if let Some(latest) = &self.manifest.latest_checkpoint {
            if !latest.is_signed_by(&self.manifest.key) {
                return Err(Tamper::Checkpoint { seq: latest.seq });
            }
            // The log held record `latest.seq` when the checkpoint was signed, and every
            // record after this export's last up to it was written before the end of the
            // range: the export must reach it.
            if self.manifest.count > 0
                && latest.at < self.manifest.to
                && latest.seq > self.manifest.last_seq
            {
                return Err(truncated);
            }
        }
        if self.head != self.manifest.head_hash {
            return Err(Tamper::Head);
        }
        Ok(Verified {
            count: self.read,
            seqs: (self.manifest.first_seq, self.manifest.last_seq),
            head: self.head,
            checkpoints: self.next_checkpoint,
            key_id: self.manifest.key.id(),
        })
    }
}
