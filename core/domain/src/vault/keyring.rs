//! Keyrings: the data keys of secrets that are not card data (webhook signing secrets, bank
//! details), kept under the same master key as cards so that their keys rotate too. Each
//! purpose is a vault tenant of its own (`keyring:{purpose}`, a name no card tenant may
//! take); the vault hands a purpose's keys, newest last, to the API and the workers over
//! its channel, and they seal and open with them in memory. Only the newest key seals;
//! the retired ones only open, until re-encryption has moved every value forward.

use super::keys::{DataKey, Entropy, sealed_key_version};
use super::{Tenant, VaultError, VaultFuture};

/// The tenant-name prefix reserved for keyrings: no card is tokenized under it.
pub const KEYRING_PREFIX: &str = "keyring:";

/// What a keyring's keys seal.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum KeyringPurpose {
    /// Webhook endpoints' signing secrets.
    WebhookSecrets,
    /// Sellers' bank details and verification deposits.
    BankDetails,
}

impl KeyringPurpose {
    /// Every purpose.
    pub const ALL: [Self; 2] = [Self::WebhookSecrets, Self::BankDetails];

    /// The purpose's name, as the channel and the audit log spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::WebhookSecrets => "webhook-secrets",
            Self::BankDetails => "bank-details",
        }
    }

    /// The purpose named `name`.
    pub fn parse(name: &str) -> Result<Self, VaultError> {
        Self::ALL
            .into_iter()
            .find(|purpose| purpose.name() == name)
            .ok_or(VaultError::InvalidInput("unknown keyring purpose"))
    }

    /// The vault tenant whose data keys are this purpose's.
    pub fn tenant(self) -> Result<Tenant, VaultError> {
        Tenant::new(&format!("{KEYRING_PREFIX}{}", self.name()))
    }
}

/// A purpose's data keys, oldest first: the newest seals, every one opens what it sealed.
#[derive(Clone, Debug)]
pub struct Keyring {
    purpose: KeyringPurpose,
    keys: Vec<DataKey>,
}

impl Keyring {
    /// The keyring of `purpose` from its keys; refused when there are none or their
    /// numbers do not rise strictly.
    pub fn new(purpose: KeyringPurpose, keys: Vec<DataKey>) -> Result<Self, VaultError> {
        let rising = keys
            .windows(2)
            .all(|pair| matches!(pair, [a, b] if a.version < b.version));
        if keys.is_empty() || !rising {
            return Err(VaultError::InvalidInput(
                "a keyring holds at least one key, numbered in rising order",
            ));
        }
        Ok(Self { purpose, keys })
    }

    /// What the keyring seals.
    pub fn purpose(&self) -> KeyringPurpose {
        self.purpose
    }

    /// The keys, oldest first.
    pub fn keys(&self) -> &[DataKey] {
        &self.keys
    }

    fn newest(&self) -> Result<&DataKey, VaultError> {
        self.keys.last().ok_or(VaultError::DoesNotOpen)
    }

    /// The number of the key that seals.
    pub fn newest_version(&self) -> u32 {
        self.keys.last().map_or(0, |key| key.version)
    }

    /// Whether this keyring holds the key numbered `version`.
    pub fn holds(&self, version: u32) -> bool {
        self.keys.iter().any(|key| key.version == version)
    }

    fn context(&self, context: &[u8]) -> Vec<u8> {
        let mut bound = format!("keyring|{}|", self.purpose.name()).into_bytes();
        bound.extend_from_slice(context);
        bound
    }

    /// Seals `plain` for `context` under the newest key. The context is bound to the
    /// purpose, so a value sealed for one purpose does not open as another's.
    pub fn seal(
        &self,
        plain: &[u8],
        context: &[u8],
        entropy: &dyn Entropy,
    ) -> Result<Vec<u8>, VaultError> {
        self.newest()?.seal(plain, &self.context(context), entropy)
    }

    /// Opens what this keyring (or an older state of it) sealed for `context`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, VaultError> {
        let version = sealed_key_version(sealed)?;
        self.keys
            .iter()
            .find(|key| key.version == version)
            .ok_or(VaultError::DoesNotOpen)?
            .open(sealed, &self.context(context))
    }
}

/// Where keyrings come from: the vault, over its channel.
pub trait KeyringSource: Send + Sync {
    /// The keyring of `purpose` as the vault has it now.
    fn keyring(&self, purpose: KeyringPurpose) -> VaultFuture<'_, Keyring>;
}
