//! What the vault's callers need of it, as ports: the API tokenizes, the payment provider's
//! connector detokenizes. Adapters implement them over the vault's channel.

use std::future::Future;
use std::pin::Pin;

use super::{CardData, CardToken, Tenant, VaultError, VaultedCard};

/// A boxed future, so the ports can be held as trait objects.
pub type VaultFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, VaultError>> + Send + 'a>>;

/// Tokenizes cards: the API's side. It never gets a number back.
pub trait CardVault: Send + Sync {
    /// The token of `card` for `tenant` (the same token for the same number).
    fn tokenize<'a>(
        &'a self,
        tenant: &'a Tenant,
        card: &'a CardData,
    ) -> VaultFuture<'a, VaultedCard>;

    /// What may be shown of `tenant`'s card `token`; another tenant's token is
    /// [`VaultError::NotFound`].
    fn display<'a>(
        &'a self,
        tenant: &'a Tenant,
        token: &'a CardToken,
    ) -> VaultFuture<'a, super::CardDisplay>;
}

/// Detokenizes: the payment provider's connector alone holds one.
pub trait Detokenizer: Send + Sync {
    /// The card behind `token`.
    fn detokenize<'a>(&'a self, token: &'a CardToken) -> VaultFuture<'a, CardData>;
}

/// The development keys of the vault's channel: public, for development and tests only.
/// Production refuses every one of them.
pub mod development {
    use sha2::{Digest, Sha256};

    use super::super::channel::{ChannelKey, Party};

    fn seed(what: &str) -> [u8; 32] {
        Sha256::digest(format!("bazaar development vault {what}")).into()
    }

    /// The channel's development JWE key.
    pub fn channel_key() -> ChannelKey {
        ChannelKey::new(seed("channel"))
    }

    /// The development signing seed of `name` (`vault`, `api`, `provider`, `admin`).
    pub fn seed_of(name: &str) -> [u8; 32] {
        seed(name)
    }

    /// The development party `name`.
    pub fn party(name: &str) -> Party {
        Party::new(name, seed(name))
    }

    /// Whether `seed` is one of the development seeds or the development channel key.
    pub fn is_development(bytes: &[u8; 32]) -> bool {
        ["channel", "vault", "api", "provider", "admin"]
            .iter()
            .any(|what| seed(what) == *bytes)
    }
}
