//! The card vault: the only place card numbers are kept, and the PCI DSS scope boundary.
//! It runs as its own process with its own database; the API reaches it through a signed
//! and encrypted channel and only ever holds tokens.
//!
//! - `card.rs`: tokens, brands from the BIN, what may be shown (BIN and last four).
//! - `keys.rs`: the key hierarchy: a master key from two custodians' shares, per-tenant
//!   data keys wrapped under it, numbered so that every sealed value names its key.
//! - `keyring.rs`: the keys of secrets that are not cards (webhook secrets, bank details),
//!   on the same hierarchy, handed to the API and the workers as a [`Keyring`].
//! - `channel.rs`: JWS inside JWE between the vault and its callers, and replay refusal.
//! - `port.rs`: what callers need of the vault ([`CardVault`], [`Detokenizer`]) and the
//!   channel's development keys.
//! - `scan.rs`: finding card numbers in logs and dumps, outside the published test numbers.
//! - `store.rs`: the [`VaultStore`] port; `service.rs`: [`Vault`], which stays locked
//!   until both shares are given and records every tokenization, detokenization and key
//!   operation in the audit log.

mod card;
pub mod channel;
mod keyring;
mod keys;
mod port;
mod scan;
mod service;
mod store;
#[cfg(test)]
mod tests;

pub use card::*;
pub use keyring::{KEYRING_PREFIX, Keyring, KeyringPurpose, KeyringSource};
pub use keys::{Custodian, DataKey, Entropy, KeyUse, MasterKey, Share, sealed_key_version};
pub use port::*;
pub use scan::{Finding, TEST_CARD_NUMBERS, find_card_numbers, find_card_numbers_in_dump};
pub use service::*;
pub use store::*;

use channel::ChannelError;

/// What went wrong in the vault, with a stable code for callers.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum VaultError {
    #[error("invalid input: {0}")]
    /// The request is malformed; says what.
    InvalidInput(&'static str),
    #[error("the vault is locked until both custodians' shares are given")]
    /// Not both shares given yet.
    Locked,
    #[error("this caller may not do that")]
    /// The caller may not do this.
    Forbidden,
    #[error("no such card token")]
    /// The token names no card.
    NotFound,
    #[error("a sealed value did not open: wrong key, or altered")]
    /// A sealed value did not open.
    DoesNotOpen,
    #[error("test key material is refused in production")]
    /// Test key material given in production.
    TestKeyRefused,
    #[error("the two shares do not make this vault's master key")]
    /// The shares make another master key.
    SharesDoNotMatch,
    #[error("custodian {0}'s share was already given")]
    /// The same custodian's share given twice.
    ShareAlreadyGiven(&'static str),
    #[error("channel: {0}")]
    /// A channel message was refused.
    Channel(#[from] ChannelError),
    #[error("the vault's store failed: {0}")]
    /// The store failed.
    Store(#[from] VaultStoreError),
    #[error("the audit log could not record the action")]
    /// The audit log did not record the action, so it was not done.
    Audit,
}

impl VaultError {
    /// The stable code callers see.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidInput(_) => "invalid_input",
            Self::Locked => "vault_locked",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::DoesNotOpen => "does_not_open",
            Self::TestKeyRefused => "test_key_refused",
            Self::SharesDoNotMatch => "shares_do_not_match",
            Self::ShareAlreadyGiven(_) => "share_already_given",
            Self::Channel(_) => "channel_refused",
            Self::Store(_) | Self::Audit => "unavailable",
        }
    }
}
