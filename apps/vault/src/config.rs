//! The vault's settings, from the environment.

use std::net::SocketAddr;

use bazaar_domain::vault::channel::{ChannelKey, Party, Peer};
use bazaar_domain::vault::development;

/// A setting that is missing, malformed or refused.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {reason}")]
pub struct ConfigError {
    /// The environment variable.
    pub name: &'static str,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// How the vault runs.
#[derive(Clone, Debug)]
pub struct VaultConfig {
    /// Where it listens; loopback by default (`BAZAAR_VAULT_LISTEN`, `127.0.0.1:8090`).
    pub listen: SocketAddr,
    /// Its own database (`BAZAAR_VAULT_DATABASE_URL`).
    pub database_url: String,
    /// The audit log's database, where it records what it does
    /// (`BAZAAR_VAULT_AUDIT_DATABASE_URL`).
    pub audit_database_url: String,
    /// The channel's JWE key (`BAZAAR_VAULT_CHANNEL_KEY`, 64 hex).
    pub channel_key: ChannelKey,
    /// Its signing key (`BAZAAR_VAULT_SIGNING_SEED`, 64 hex).
    pub me: Party,
    /// Its callers' public keys (`BAZAAR_VAULT_{API,PROVIDER,ADMIN}_PUBLIC_KEY`, 64 hex).
    pub peers: Vec<Peer>,
    /// `BAZAAR_ENV=production`: development keys and test shares are refused.
    pub production: bool,
    /// Connections to each database (`BAZAAR_VAULT_POOL_SIZE`, 8).
    pub pool_size: u32,
}

fn hex32(name: &'static str, text: &str) -> Result<[u8; 32], ConfigError> {
    hex::decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(ConfigError {
            name,
            reason: "must be 64 hex characters",
        })
}

const REFUSED: &str = "the public development key is refused in production";

impl VaultConfig {
    /// Reads the settings through `get` (the environment, or a map in tests).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let production = get("BAZAAR_ENV").as_deref() == Some("production");
        let refuse = |name: &'static str| -> Result<(), ConfigError> {
            if production {
                Err(ConfigError {
                    name,
                    reason: REFUSED,
                })
            } else {
                Ok(())
            }
        };
        let listen = get("BAZAAR_VAULT_LISTEN")
            .unwrap_or_else(|| "127.0.0.1:8090".to_owned())
            .parse()
            .map_err(|_| ConfigError {
                name: "BAZAAR_VAULT_LISTEN",
                reason: "must be an address and port",
            })?;
        let key_of = |name: &'static str, what: &str| -> Result<[u8; 32], ConfigError> {
            let bytes = match get(name) {
                Some(text) => hex32(name, &text)?,
                None => development::seed_of(what),
            };
            if development::is_development(&bytes) {
                refuse(name)?;
            }
            Ok(bytes)
        };
        let channel_key = ChannelKey::new(key_of("BAZAAR_VAULT_CHANNEL_KEY", "channel")?);
        let me = Party::new("vault", key_of("BAZAAR_VAULT_SIGNING_SEED", "vault")?);
        let mut peers = Vec::new();
        for (name, variable) in [
            ("api", "BAZAAR_VAULT_API_PUBLIC_KEY"),
            ("provider", "BAZAAR_VAULT_PROVIDER_PUBLIC_KEY"),
            ("admin", "BAZAAR_VAULT_ADMIN_PUBLIC_KEY"),
        ] {
            let development = development::party(name).peer();
            let peer = match get(variable) {
                Some(text) => Peer::from_hex(name, &text).ok_or(ConfigError {
                    name: variable,
                    reason: "must be 64 hex characters of an Ed25519 public key",
                })?,
                None => development.clone(),
            };
            if peer == development {
                refuse(variable)?;
            }
            peers.push(peer);
        }
        let pool_size = get("BAZAAR_VAULT_POOL_SIZE")
            .map(|text| text.trim().parse())
            .transpose()
            .map_err(|_| ConfigError {
                name: "BAZAAR_VAULT_POOL_SIZE",
                reason: "must be a whole number",
            })?
            .unwrap_or(8);
        Ok(Self {
            listen,
            database_url: get("BAZAAR_VAULT_DATABASE_URL")
                .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/bazaar_vault".to_owned()),
            audit_database_url: get("BAZAAR_VAULT_AUDIT_DATABASE_URL")
                .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/bazaar".to_owned()),
            channel_key,
            me,
            peers,
            production,
            pool_size,
        })
    }
}
