//! The link to the card vault, as the API and the workers read it from their environment:
//! where the vault runs and the keys of the channel. The API and the workers sign as `api`
//! (tokenize, read keyrings); the sandbox provider's connector signs as `provider` (the
//! only caller the vault detokenizes for).
//!
//! | Variable | What | Default |
//! |---|---|---|
//! | `BAZAAR_VAULT_URL` | the vault, e.g. `http://127.0.0.1:8090`; unset: no vault, cards are passed to the provider as given | unset |
//! | `BAZAAR_VAULT_CHANNEL_KEY` | the channel's JWE key, 64 hex | the development key |
//! | `BAZAAR_VAULT_API_SEED` | the API's Ed25519 seed, 64 hex | the development seed |
//! | `BAZAAR_VAULT_PROVIDER_SEED` | the provider connector's seed, 64 hex | the development seed |
//! | `BAZAAR_VAULT_PUBLIC_KEY` | the vault's Ed25519 public key, 64 hex | the development key |
//!
//! Production refuses every development key.

use std::sync::Arc;

use crate::VaultClient;
use bazaar_domain::vault::channel::{ChannelKey, Party, Peer};
use bazaar_domain::vault::development;

/// A vault setting that cannot be read: the variable and why.
#[derive(Debug)]
pub struct LinkError {
    pub name: &'static str,
    pub reason: &'static str,
}

/// Which of the link's keys are the public development keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DevelopmentKeys {
    /// `BAZAAR_VAULT_CHANNEL_KEY`.
    pub channel: bool,
    /// `BAZAAR_VAULT_API_SEED`.
    pub api: bool,
    /// `BAZAAR_VAULT_PROVIDER_SEED`.
    pub provider: bool,
    /// `BAZAAR_VAULT_PUBLIC_KEY`.
    pub vault: bool,
}

/// How to reach the vault.
#[derive(Clone)]
pub struct VaultLink {
    /// The vault's base URL.
    pub url: String,
    channel_key: [u8; 32],
    api_seed: [u8; 32],
    provider_seed: [u8; 32],
    vault_key: Peer,
}

impl std::fmt::Debug for VaultLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultLink")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn seed(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    what: &str,
) -> Result<[u8; 32], LinkError> {
    match var(name) {
        None => Ok(development::seed_of(what)),
        Some(text) => hex::decode(text.trim())
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or(LinkError {
                name,
                reason: "expected 64 hex characters",
            }),
    }
}

impl VaultLink {
    /// The link `var` describes; `None` without `BAZAAR_VAULT_URL`.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, LinkError> {
        let Some(url) = var("BAZAAR_VAULT_URL") else {
            return Ok(None);
        };
        let vault_key = match var("BAZAAR_VAULT_PUBLIC_KEY") {
            None => development::party("vault").peer(),
            Some(text) => Peer::from_hex("vault", &text).ok_or(LinkError {
                name: "BAZAAR_VAULT_PUBLIC_KEY",
                reason: "expected 64 hex characters of an Ed25519 public key",
            })?,
        };
        Ok(Some(Self {
            url: url.trim().to_owned(),
            channel_key: seed(&var, "BAZAAR_VAULT_CHANNEL_KEY", "channel")?,
            api_seed: seed(&var, "BAZAAR_VAULT_API_SEED", "api")?,
            provider_seed: seed(&var, "BAZAAR_VAULT_PROVIDER_SEED", "provider")?,
            vault_key,
        }))
    }

    /// Which keys are the public development keys (production refuses each).
    pub fn development_keys(&self) -> DevelopmentKeys {
        DevelopmentKeys {
            channel: development::is_development(&self.channel_key),
            api: development::is_development(&self.api_seed),
            provider: development::is_development(&self.provider_seed),
            vault: self.vault_key == development::party("vault").peer(),
        }
    }

    fn client(&self, name: &str, seed: [u8; 32]) -> Arc<VaultClient> {
        Arc::new(VaultClient::new(
            &self.url,
            Party::new(name, seed),
            self.vault_key.clone(),
            ChannelKey::new(self.channel_key),
        ))
    }

    /// The API's client (the workers' too): tokenizes and reads keyrings.
    pub fn api(&self) -> Arc<VaultClient> {
        self.client("api", self.api_seed)
    }

    /// The provider connector's client: detokenizes.
    pub fn provider(&self) -> Arc<VaultClient> {
        self.client("provider", self.provider_seed)
    }
}
