//! The key hierarchy (PCI DSS v4.0.1 3.6 and 3.7). A master key exists only while the vault
//! runs: it is the XOR of two custodians' shares, neither of which alone says anything about
//! it (dual control, split knowledge). Each tenant has data keys, numbered from 1, kept
//! wrapped under the master. Only a tenant's newest key seals; older ones are retired and
//! only open. Every sealed value starts with the number of the key that sealed it.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{Tenant, VaultError};

/// A source of random bytes; the vault's process gives it the operating system's.
pub trait Entropy: Send + Sync {
    /// Fills `out` with random bytes.
    fn fill(&self, out: &mut [u8]);
}

const NONCE_LEN: usize = 12;
const SEALED_FORMAT: u8 = 1;
const SHARE_PREFIX: &str = "bzvs1";

/// Whether key material is for tests (production refuses it) or live.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum KeyUse {
    /// For tests and development; refused in production.
    Test,
    /// For production.
    Live,
}

impl KeyUse {
    fn as_str(self) -> &'static str {
        match self {
            Self::Test => "test",
            Self::Live => "live",
        }
    }
}

/// Which of the two custodians holds a share.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Custodian {
    /// The first custodian.
    A,
    /// The second custodian.
    B,
}

impl Custodian {
    fn as_str(self) -> &'static str {
        match self {
            Self::A => "a",
            Self::B => "b",
        }
    }
}

/// One custodian's share of the master key:
/// `bzvs1-{test|live}-{a|b}-{64 hex}-{8 hex check}`. The check catches a mistyped share.
#[derive(Clone, PartialEq, Eq)]
pub struct Share {
    /// Test or live.
    pub key_use: KeyUse,
    /// Whose share it is.
    pub custodian: Custodian,
    bytes: [u8; 32],
}

impl fmt::Debug for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Share({}, custodian {}, redacted)",
            self.key_use.as_str(),
            self.custodian.as_str()
        )
    }
}

fn share_check(key_use: KeyUse, custodian: Custodian, bytes: &[u8; 32]) -> String {
    let digest = Sha256::new()
        .chain_update(SHARE_PREFIX)
        .chain_update(key_use.as_str())
        .chain_update(custodian.as_str())
        .chain_update(bytes)
        .finalize();
    hex::encode(digest.get(..4).unwrap_or_default())
}

impl Share {
    /// Parses a share's text.
    pub fn parse(text: &str) -> Result<Self, VaultError> {
        let bad = VaultError::InvalidInput("not a vault key share");
        let parts: Vec<&str> = text.trim().split('-').collect();
        let [prefix, key_use, custodian, key, check] = parts.as_slice() else {
            return Err(bad);
        };
        let key_use = match *key_use {
            "test" => KeyUse::Test,
            "live" => KeyUse::Live,
            _ => return Err(bad),
        };
        let custodian = match *custodian {
            "a" => Custodian::A,
            "b" => Custodian::B,
            _ => return Err(bad),
        };
        let bytes: [u8; 32] = hex::decode(key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(bad.clone())?;
        if *prefix != SHARE_PREFIX || *check != share_check(key_use, custodian, &bytes) {
            return Err(bad);
        }
        Ok(Self {
            key_use,
            custodian,
            bytes,
        })
    }

    /// The share's text.
    pub fn encode(&self) -> String {
        format!(
            "{SHARE_PREFIX}-{}-{}-{}-{}",
            self.key_use.as_str(),
            self.custodian.as_str(),
            hex::encode(self.bytes),
            share_check(self.key_use, self.custodian, &self.bytes)
        )
    }

    /// Two fresh shares of a new master key.
    pub fn generate_pair(key_use: KeyUse, entropy: &dyn Entropy) -> (Self, Self) {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        entropy.fill(&mut a);
        entropy.fill(&mut b);
        (
            Self {
                key_use,
                custodian: Custodian::A,
                bytes: a,
            },
            Self {
                key_use,
                custodian: Custodian::B,
                bytes: b,
            },
        )
    }
}

/// The master key: the XOR of the two shares. It wraps data keys and derives each tenant's
/// fingerprint key; it never seals data itself.
#[derive(Clone)]
pub struct MasterKey {
    key: [u8; 32],
    /// Test or live, as its shares were.
    pub key_use: KeyUse,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({}, redacted)", self.key_use.as_str())
    }
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> Result<[u8; 32], VaultError> {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).map_err(|_| VaultError::DoesNotOpen)?;
    for part in parts {
        mac.update(part);
        mac.update(b"\x1f");
    }
    Ok(mac.finalize().into_bytes().into())
}

impl MasterKey {
    /// Combines the two custodians' shares; refused unless there is one of each and both
    /// are for the same use.
    pub fn combine(first: &Share, second: &Share) -> Result<Self, VaultError> {
        if first.custodian == second.custodian {
            return Err(VaultError::InvalidInput(
                "both shares are the same custodian's",
            ));
        }
        if first.key_use != second.key_use {
            return Err(VaultError::InvalidInput(
                "one share is a test share, one live",
            ));
        }
        let mut key = [0u8; 32];
        for ((out, a), b) in key.iter_mut().zip(first.bytes).zip(second.bytes) {
            *out = a ^ b;
        }
        Ok(Self {
            key,
            key_use: first.key_use,
        })
    }

    /// A value that tells whether two share pairs make the same master key, and nothing
    /// else about it (hex).
    pub fn check_value(&self) -> Result<String, VaultError> {
        Ok(hex::encode(hmac(
            &self.key,
            &[b"bazaar vault master check"],
        )?))
    }

    /// The key of `tenant`'s fingerprints: a keyed hash, so equal numbers give equal
    /// fingerprints within a tenant and a fingerprint tells nothing without the master.
    pub fn fingerprint(&self, tenant: &Tenant, number: &str) -> Result<String, VaultError> {
        let tenant_key = hmac(
            &self.key,
            &[b"bazaar vault fingerprint", tenant.as_str().as_bytes()],
        )?;
        Ok(hex::encode(hmac(&tenant_key, &[number.as_bytes()])?))
    }

    fn wrap_context(tenant: &Tenant, version: u32) -> String {
        format!("bazaar vault data key|{tenant}|{version}")
    }

    /// A new data key for `tenant`, numbered `version`, wrapped under this master.
    pub fn new_data_key(
        &self,
        tenant: &Tenant,
        version: u32,
        entropy: &dyn Entropy,
    ) -> Result<(DataKey, Vec<u8>), VaultError> {
        let mut key = [0u8; 32];
        entropy.fill(&mut key);
        let wrapped = aead_seal(
            &self.key,
            &key,
            Self::wrap_context(tenant, version).as_bytes(),
            entropy,
        )?;
        Ok((DataKey { key, version }, wrapped))
    }

    /// Opens a data key wrapped under this master.
    pub fn unwrap_data_key(
        &self,
        tenant: &Tenant,
        version: u32,
        wrapped: &[u8],
    ) -> Result<DataKey, VaultError> {
        let bytes = aead_open(
            &self.key,
            wrapped,
            Self::wrap_context(tenant, version).as_bytes(),
        )?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| VaultError::DoesNotOpen)?;
        Ok(DataKey { key, version })
    }
}

/// One of a tenant's data keys, opened.
#[derive(Clone)]
pub struct DataKey {
    key: [u8; 32],
    /// Its number within its tenant.
    pub version: u32,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey(version {}, redacted)", self.version)
    }
}

impl DataKey {
    /// The key numbered `version` whose bytes are `key`, as the vault hands a keyring over.
    pub fn from_bytes(version: u32, key: [u8; 32]) -> Self {
        Self { key, version }
    }

    /// The key's bytes, for handing a keyring over the vault's encrypted channel only.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// Seals `plain` for `context` (what it is and whose: the associated data). The result
    /// starts with a format byte and this key's number.
    pub fn seal(
        &self,
        plain: &[u8],
        context: &[u8],
        entropy: &dyn Entropy,
    ) -> Result<Vec<u8>, VaultError> {
        let body = aead_seal(&self.key, plain, context, entropy)?;
        let mut out = Vec::with_capacity(body.len().saturating_add(5));
        out.push(SEALED_FORMAT);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens what [`seal`](Self::seal) sealed for `context`; the sealed value must name
    /// this key.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, VaultError> {
        if sealed_key_version(sealed)? != self.version {
            return Err(VaultError::DoesNotOpen);
        }
        aead_open(&self.key, sealed.get(5..).unwrap_or_default(), context)
    }
}

/// The number of the data key that sealed `sealed`.
pub fn sealed_key_version(sealed: &[u8]) -> Result<u32, VaultError> {
    match sealed {
        [SEALED_FORMAT, a, b, c, d, ..] => Ok(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => Err(VaultError::DoesNotOpen),
    }
}

pub(super) fn aead_seal(
    key: &[u8; 32],
    plain: &[u8],
    aad: &[u8],
    entropy: &dyn Entropy,
) -> Result<Vec<u8>, VaultError> {
    let mut nonce = [0u8; NONCE_LEN];
    entropy.fill(&mut nonce);
    let sealed = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key))
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
        .map_err(|_| VaultError::DoesNotOpen)?;
    let mut out = Vec::with_capacity(NONCE_LEN.saturating_add(sealed.len()));
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

pub(super) fn aead_open(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, VaultError> {
    let (nonce, body) = sealed
        .split_at_checked(NONCE_LEN)
        .ok_or(VaultError::DoesNotOpen)?;
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key))
        .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad })
        .map_err(|_| VaultError::DoesNotOpen)
}
