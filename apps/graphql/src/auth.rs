//! Password hashing (argon2id) and session tokens.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use bazaar_domain::identity::{IdentityError, TokenHash};
use bazaar_domain::webhooks::EndpointSecret;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// argon2id with the OWASP-recommended minimum (19 MiB, 2 passes, 1 lane).
fn hasher() -> Result<Argon2<'static>, IdentityError> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|_| IdentityError::Internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password into a PHC string. CPU-heavy: call it on a blocking thread.
pub fn hash_password(password: &str) -> Result<String, IdentityError> {
    let mut salt = [0_u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|_| IdentityError::Internal)?;
    hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| IdentityError::Internal)
}

/// Whether `password` matches the stored PHC string. CPU-heavy: call it on a blocking thread.
pub fn verify_password(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    hasher().is_ok_and(|h| h.verify_password(password.as_bytes(), &parsed).is_ok())
}

/// 256 bits from the operating system's secure random source (via `rand`'s thread RNG).
fn random_256() -> [u8; 32] {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// A fresh session token (256 random bits, URL-safe base64) and the hash that is stored.
pub fn new_token() -> (String, TokenHash) {
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_256());
    let hash = token_hash(&token);
    (token, hash)
}

/// A fresh webhook signing secret: `whsec_` and 256 random bits in hex.
pub fn new_endpoint_secret() -> EndpointSecret {
    EndpointSecret::from_bytes(random_256())
}

/// A valid argon2id hash of a random password, verified against when an e-mail is unknown
/// so that a failed sign-in takes as long either way.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let (password, _) = new_token();
        hash_password(&password).unwrap_or_default()
    })
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> TokenHash {
    TokenHash(hex::encode(Sha256::digest(token.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse battery!", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let (a, hash_a) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a), hash_a);
        assert_eq!(hash_a.0.len(), 64);
        assert_ne!(hash_a.0, a);
    }

    #[test]
    fn endpoint_secrets_are_random_and_well_formed() {
        let a = new_endpoint_secret();
        let b = new_endpoint_secret();
        assert_ne!(a.as_str(), b.as_str());
        assert!(EndpointSecret::parse(a.as_str()).is_ok());
    }
}
