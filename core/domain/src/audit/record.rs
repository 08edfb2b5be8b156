//! An audit entry, its canonical encoding, and the chain: each record's hash is
//! `SHA-256(previous hash || canonical encoding)`, the first record's previous hash 32 zero
//! bytes.

use std::fmt;

use bazaar_ledger::Timestamp;
use sha2::{Digest, Sha256};

/// The longest text any field of an entry may hold, in bytes.
pub const FIELD_MAX: usize = 512;

/// A SHA-256 hash of the chain.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The hash before the first record.
    pub const GENESIS: Self = Self([0; 32]);

    /// Lower-case hexadecimal.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// From 64 hexadecimal digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0_u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({})", self.to_hex())
    }
}

/// Whether the action succeeded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    /// It did.
    Success,
    /// It was refused or failed.
    Failure,
}

impl Outcome {
    /// `success` or `failure`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }

    /// The outcome named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "success" => Some(Self::Success),
            "failure" => Some(Self::Failure),
            _ => None,
        }
    }
}

/// Why an entry was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum EntryError {
    /// A field is empty where it may not be, longer than [`FIELD_MAX`] bytes, or holds a
    /// control character.
    #[error("the audit entry's {0} is empty, too long or holds a control character")]
    Field(&'static str),
}

/// What is recorded: who did what to which resource, from where, and how it went.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuditEntry {
    /// Who: `user:{id}`, `seller:{id}`, `admin-cli`, `worker:payouts`, or an e-mail address
    /// for a failed sign-in.
    pub actor: String,
    /// What: `session.sign_in`, `bank_account.add`, `payout.create`, ... (dotted words).
    pub action: String,
    /// How it went.
    pub outcome: Outcome,
    /// Where from: the client's address, or the process.
    pub origin: String,
    /// The kind of resource affected (`user`, `bank_account`, `payout`, ...).
    pub resource_type: String,
    /// Its id; may be empty.
    pub resource_id: String,
    /// A short note; never a card number, bank details or a secret.
    pub detail: String,
}

fn check(name: &'static str, value: &str, may_be_empty: bool) -> Result<(), EntryError> {
    let fits = value.len() <= FIELD_MAX
        && (may_be_empty || !value.is_empty())
        && !value.chars().any(char::is_control);
    fits.then_some(()).ok_or(EntryError::Field(name))
}

impl AuditEntry {
    /// The entry if every field fits: actor, action, origin and resource type non-empty, no
    /// field over [`FIELD_MAX`] bytes or holding a control character.
    pub fn checked(self) -> Result<Self, EntryError> {
        check("actor", &self.actor, false)?;
        check("action", &self.action, false)?;
        check("origin", &self.origin, false)?;
        check("resource_type", &self.resource_type, false)?;
        check("resource_id", &self.resource_id, true)?;
        check("detail", &self.detail, true)?;
        Ok(self)
    }
}

/// A record of the chain: the entry, its number and time, the hash before it and its own.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuditRecord {
    /// 1 for the first record, then one more for each.
    pub seq: u64,
    /// When it was recorded.
    pub at: Timestamp,
    /// What was recorded.
    pub entry: AuditEntry,
    /// The previous record's hash ([`ChainHash::GENESIS`] before the first).
    pub prev_hash: ChainHash,
    /// `SHA-256(prev_hash || canonical encoding)`.
    pub hash: ChainHash,
}

/// The canonical encoding of a record's content: a version tag, then each field as its
/// byte length (4 bytes, big-endian) and bytes, in a fixed order. Two records encode the
/// same only if every field is the same.
pub fn canonical(seq: u64, at: Timestamp, entry: &AuditEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"bazaar-audit-v1\n");
    let seq = seq.to_string();
    let at = at.as_micros().to_string();
    for field in [
        seq.as_str(),
        at.as_str(),
        entry.actor.as_str(),
        entry.action.as_str(),
        entry.outcome.as_str(),
        entry.origin.as_str(),
        entry.resource_type.as_str(),
        entry.resource_id.as_str(),
        entry.detail.as_str(),
    ] {
        let length = u32::try_from(field.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

/// The hash of a record with this content after `prev`.
pub fn chain_hash(prev: ChainHash, seq: u64, at: Timestamp, entry: &AuditEntry) -> ChainHash {
    let mut hasher = Sha256::new();
    hasher.update(prev.0);
    hasher.update(canonical(seq, at, entry));
    ChainHash(hasher.finalize().into())
}

impl AuditRecord {
    /// The record that follows `prev` (the head's sequence number and hash; `(0, GENESIS)`
    /// for an empty log).
    pub fn next(prev: (u64, ChainHash), at: Timestamp, entry: AuditEntry) -> Self {
        let seq = prev.0.saturating_add(1);
        let hash = chain_hash(prev.1, seq, at, &entry);
        Self {
            seq,
            at,
            entry,
            prev_hash: prev.1,
            hash,
        }
    }

    /// Whether its hash is the hash of its content after its previous hash.
    pub fn is_intact(&self) -> bool {
        chain_hash(self.prev_hash, self.seq, self.at, &self.entry) == self.hash
    }
}
