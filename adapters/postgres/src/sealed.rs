//! Secrets at rest (webhook signing secrets, bank details), sealed with keys the database
//! never sees, the row's id as associated data so that a sealed value copied onto another
//! row does not open.
//!
//! [`SecretKeys`] seals with the vault's keyring of its purpose when a vault is configured:
//! the newest data key seals, fetched afresh before every seal, and any of the keyring's keys
//! opens (the value names its key). Without a vault, or for values sealed before the move,
//! one flat [`SecretKey`] (`BAZAAR_SECRETS_KEY`): its value is the 12-byte random nonce, the
//! ciphertext and its tag, and it never rotates, which is why production runs the vault.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use bazaar_domain::vault::{
    Entropy, Keyring, KeyringPurpose, KeyringSource, VaultError, sealed_key_version,
};
use rand::RngCore;

use crate::commerce::StoreFailure;

const NONCE_LEN: usize = 12;

/// The key that seals secrets, from 64 hex characters (32 bytes).
#[derive(Clone)]
pub struct SecretKey(Key<Aes256Gcm>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(redacted)")
    }
}

/// A key that is not 64 hex characters, a sealed value that does not open, or a keyring the
/// vault could not hand over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("a secrets key is 64 hex characters (32 bytes)")]
    BadKey,
    #[error("a sealed secret did not open: wrong key, or the value was altered")]
    DoesNotOpen,
    #[error("the vault did not hand over the keyring (locked or unreachable)")]
    KeysUnavailable,
}

impl SecretKey {
    /// Parses 64 hex characters.
    pub fn from_hex(hex_key: &str) -> Result<Self, SealError> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| SealError::BadKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKey)?;
        Ok(Self(bytes.into()))
    }

    /// A fresh random key (for tests and first runs).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes.into())
    }

    /// The key as 64 hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.as_slice())
    }

    /// Seals `secret` for the row `context`.
    pub fn seal(&self, secret: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = Aes256Gcm::new(&self.0)
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret,
                    aad: context,
                },
            )
            .map_err(|_| SealError::BadKey)?;
        let mut out = Vec::with_capacity(NONCE_LEN.saturating_add(sealed.len()));
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`SecretKey::seal`] sealed for `context`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        let (nonce, ciphertext) = sealed
            .split_at_checked(NONCE_LEN)
            .ok_or(SealError::DoesNotOpen)?;
        Aes256Gcm::new(&self.0)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| SealError::DoesNotOpen)
    }
}

/// Random bytes for the keyring's nonces.
struct RandomBytes;

impl Entropy for RandomBytes {
    fn fill(&self, out: &mut [u8]) {
        rand::rng().fill_bytes(out);
    }
}

struct FromVault {
    source: Arc<dyn KeyringSource>,
    purpose: KeyringPurpose,
    ring: RwLock<Option<Keyring>>,
    /// Set when a value named a key this process does not hold yet (another rotated).
    stale: AtomicBool,
}

/// The keys one store seals its secrets with: the vault's keyring of a purpose, or one flat
/// key. Cheap to clone (shared).
#[derive(Clone)]
pub struct SecretKeys {
    vault: Option<Arc<FromVault>>,
    /// With a vault, opens only (values sealed before the move); without one, seals too.
    flat: Option<SecretKey>,
}

impl std::fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKeys")
            .field("purpose", &self.vault.as_ref().map(|vault| vault.purpose))
            .field("flat", &self.flat.is_some())
            .finish()
    }
}

impl From<SecretKey> for SecretKeys {
    fn from(key: SecretKey) -> Self {
        Self::flat(key)
    }
}

fn keys_unavailable(purpose: KeyringPurpose, error: &VaultError) -> SealError {
    tracing::warn!(purpose = purpose.name(), %error, "the vault did not hand over a keyring");
    SealError::KeysUnavailable
}

impl SecretKeys {
    /// One flat key that seals and opens.
    pub fn flat(key: SecretKey) -> Self {
        Self {
            vault: None,
            flat: Some(key),
        }
    }

    /// The vault's keyring of `purpose`; `flat`, when given, still opens values sealed
    /// before they moved to the vault (re-sealing moves them).
    pub fn from_vault(
        source: Arc<dyn KeyringSource>,
        purpose: KeyringPurpose,
        flat: Option<SecretKey>,
    ) -> Self {
        Self {
            vault: Some(Arc::new(FromVault {
                source,
                purpose,
                ring: RwLock::new(None),
                stale: AtomicBool::new(false),
            })),
            flat,
        }
    }

    async fn fetch(vault: &FromVault) -> Result<(), SealError> {
        let ring = vault
            .source
            .keyring(vault.purpose)
            .await
            .map_err(|error| keys_unavailable(vault.purpose, &error))?;
        *vault.ring.write().unwrap_or_else(PoisonError::into_inner) = Some(ring);
        vault.stale.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// The keys of webhook secrets and of bank details from the vault's two keyrings
    /// (`flat`, when given, still opening what it sealed before).
    pub fn keyrings(source: Arc<dyn KeyringSource>, flat: Option<SecretKey>) -> (Self, Self) {
        (
            Self::from_vault(source.clone(), KeyringPurpose::WebhookSecrets, flat.clone()),
            Self::from_vault(source, KeyringPurpose::BankDetails, flat),
        )
    }

    /// These keys, ready to seal ([`for_sealing`](Self::for_sealing)), or the store's
    /// `unavailable` when the vault does not hand its keyring over.
    pub(crate) async fn ready_to_seal<E: StoreFailure>(&self) -> Result<Self, E> {
        self.for_sealing().await.map_err(|_| E::unavailable())?;
        Ok(self.clone())
    }

    /// These keys, ready to open ([`for_opening`](Self::for_opening)): a keyring that cannot
    /// be read now leaves what it sealed unopened, and what the flat key sealed opening.
    pub(crate) async fn ready_to_open(&self, operation: &'static str) -> Self {
        if let Err(error) = self.for_opening().await {
            tracing::debug!(%error, operation, "keyring not read; opening what the flat key sealed");
        }
        self.clone()
    }

    /// Before sealing: reads the keyring afresh, so that the newest key seals.
    pub async fn for_sealing(&self) -> Result<(), SealError> {
        match &self.vault {
            Some(vault) => Self::fetch(vault).await,
            None => Ok(()),
        }
    }

    /// Before opening: reads the keyring when this process has none yet, or a value named
    /// a key it does not hold.
    pub async fn for_opening(&self) -> Result<(), SealError> {
        match &self.vault {
            Some(vault)
                if vault.stale.load(Ordering::Relaxed)
                    || vault
                        .ring
                        .read()
                        .unwrap_or_else(PoisonError::into_inner)
                        .is_none() =>
            {
                Self::fetch(vault).await
            }
            _ => Ok(()),
        }
    }

    /// Whether a value named a key this process does not hold yet.
    pub fn is_stale(&self) -> bool {
        self.vault
            .as_ref()
            .is_some_and(|vault| vault.stale.load(Ordering::Relaxed))
    }

    /// Seals `secret` for the row `context`: with the keyring's newest key (as last read by
    /// [`for_sealing`](Self::for_sealing)), or the flat key without a vault.
    pub fn seal(&self, secret: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        match (&self.vault, &self.flat) {
            (Some(vault), _) => vault
                .ring
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .ok_or(SealError::KeysUnavailable)?
                .seal(secret, context, &RandomBytes)
                .map_err(|_| SealError::BadKey),
            (None, Some(flat)) => flat.seal(secret, context),
            (None, None) => Err(SealError::KeysUnavailable),
        }
    }

    /// Opens what either kind of key sealed for `context`. A value naming a key this
    /// process does not hold marks the keyring for reading again.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        if let Some(vault) = &self.vault
            && let Ok(version) = sealed_key_version(sealed)
        {
            let ring = vault.ring.read().unwrap_or_else(PoisonError::into_inner);
            match ring.as_ref() {
                Some(ring) if ring.holds(version) => {
                    if let Ok(plain) = ring.open(sealed, context) {
                        return Ok(plain);
                    }
                }
                _ => vault.stale.store(true, Ordering::Relaxed),
            }
        }
        // A flat value is a random nonce first, so it may look like a keyring's by chance:
        // the flat key is tried whenever the keyring did not open it.
        match &self.flat {
            Some(flat) => flat.open(sealed, context),
            None => Err(SealError::DoesNotOpen),
        }
    }

    /// `sealed` moved onto the keyring's newest key, or `None` when it is there already
    /// (or there is no vault to move it to). Call [`for_sealing`](Self::for_sealing) first.
    pub fn reseal(&self, sealed: &[u8], context: &[u8]) -> Result<Option<Vec<u8>>, SealError> {
        let Some(vault) = &self.vault else {
            return Ok(None);
        };
        let current = {
            let ring = vault.ring.read().unwrap_or_else(PoisonError::into_inner);
            let ring = ring.as_ref().ok_or(SealError::KeysUnavailable)?;
            sealed_key_version(sealed).ok() == Some(ring.newest_version())
                && ring.open(sealed, context).is_ok()
        };
        if current {
            return Ok(None);
        }
        let plain = self.open(sealed, context)?;
        self.seal(&plain, context).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_with_its_key_and_context() {
        let key = SecretKey::generate();
        let sealed = key.seal(b"whsec_abc", b"row-1").unwrap();
        assert_ne!(&sealed[NONCE_LEN..], b"whsec_abc");
        assert_eq!(key.open(&sealed, b"row-1").unwrap(), b"whsec_abc");
        assert_eq!(key.open(&sealed, b"row-2"), Err(SealError::DoesNotOpen));
        assert_eq!(
            SecretKey::generate().open(&sealed, b"row-1"),
            Err(SealError::DoesNotOpen)
        );
        let mut altered = sealed.clone();
        altered[NONCE_LEN] ^= 1;
        assert_eq!(key.open(&altered, b"row-1"), Err(SealError::DoesNotOpen));
        assert_eq!(key.open(b"short", b"row-1"), Err(SealError::DoesNotOpen));
        // Two seals of one secret differ (fresh nonces).
        assert_ne!(key.seal(b"whsec_abc", b"row-1").unwrap(), sealed);
    }

    #[test]
    fn keys_parse_from_hex_only_at_full_length() {
        let key = SecretKey::generate();
        let again = SecretKey::from_hex(&key.to_hex()).unwrap();
        let sealed = key.seal(b"s", b"c").unwrap();
        assert_eq!(again.open(&sealed, b"c").unwrap(), b"s");
        assert_eq!(SecretKey::from_hex("abcd").unwrap_err(), SealError::BadKey);
        assert_eq!(
            SecretKey::from_hex(&"zz".repeat(32)).unwrap_err(),
            SealError::BadKey
        );
        assert_eq!(format!("{key:?}"), "SecretKey(redacted)");
    }
}
