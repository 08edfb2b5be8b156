//! Secrets at rest: AES-256-GCM with a key the database never sees. A sealed value is the
//! 12-byte random nonce followed by the ciphertext and its tag; the row's id is the associated
//! data, so a sealed secret copied onto another row does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore;

const NONCE_LEN: usize = 12;

/// The key that seals secrets, from 64 hex characters (32 bytes).
#[derive(Clone)]
pub struct SecretKey(Key<Aes256Gcm>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(redacted)")
    }
}

/// A key that is not 64 hex characters, or a sealed value that does not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("a secrets key is 64 hex characters (32 bytes)")]
    BadKey,
    #[error("a sealed secret did not open: wrong key, or the value was altered")]
    DoesNotOpen,
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
