//! The key that signs the chain, and checkpoints: the chain's head at a moment, signed with
//! Ed25519, so that records removed from the end of the log are detected against the last
//! checkpoint, and a copy of the log can be checked by anyone holding the public key.

use std::fmt;

use bazaar_ledger::Timestamp;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::ChainHash;

/// The private key that signs checkpoints and export manifests. Never printed.
#[derive(Clone)]
pub struct AuditSigner {
    key: SigningKey,
}

impl fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditSigner")
            .field("key_id", &self.public().id())
            .finish_non_exhaustive()
    }
}

impl AuditSigner {
    /// The signer of a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// Its public key.
    pub fn public(&self) -> AuditKey {
        AuditKey(self.key.verifying_key())
    }

    /// The Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

/// A public key that checks checkpoints and manifests.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AuditKey(VerifyingKey);

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditKey({})", self.to_hex())
    }
}

impl AuditKey {
    /// 64 hexadecimal digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.as_bytes())
    }

    /// The key written as 64 hexadecimal digits, if it is a valid Ed25519 public key.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0_u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).ok()?;
        VerifyingKey::from_bytes(&bytes).ok().map(Self)
    }

    /// A short name: the first 16 hexadecimal digits of the key's SHA-256.
    pub fn id(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        hex::encode(digest.get(..8).unwrap_or_default())
    }

    /// Whether `signature` is this key's signature of `message` (strict verification).
    pub fn verifies(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.0
            .verify_strict(message, &Signature::from_bytes(signature))
            .is_ok()
    }
}

/// The chain's head at a moment, signed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Checkpoint {
    /// The last record it covers.
    pub seq: u64,
    /// That record's hash.
    pub hash: ChainHash,
    /// When it was signed.
    pub at: Timestamp,
    /// The signing key's [`AuditKey::id`].
    pub key_id: String,
    /// The Ed25519 signature of [`Checkpoint::message`].
    pub signature: [u8; 64],
}

impl Checkpoint {
    /// What is signed: a version tag, the sequence number, the hash and the time.
    pub fn message(seq: u64, hash: ChainHash, at: Timestamp) -> Vec<u8> {
        format!(
            "bazaar-audit-checkpoint-v1\n{seq}\n{}\n{}",
            hash.to_hex(),
            at.as_micros()
        )
        .into_bytes()
    }

    /// The checkpoint of the head `(seq, hash)` at `at`, signed by `signer`.
    pub fn sign(signer: &AuditSigner, seq: u64, hash: ChainHash, at: Timestamp) -> Self {
        Self {
            seq,
            hash,
            at,
            key_id: signer.public().id(),
            signature: signer.sign(&Self::message(seq, hash, at)),
        }
    }

    /// Whether `key` signed it.
    pub fn is_signed_by(&self, key: &AuditKey) -> bool {
        key.id() == self.key_id
            && key.verifies(
                &Self::message(self.seq, self.hash, self.at),
                &self.signature,
            )
    }
}
