//! The vault's storage port: the master key's check value, wrapped data keys and sealed
//! cards. Its own database; nothing in it is readable without the master key.

use std::future::Future;

use super::{CardDisplay, CardToken, KeyUse, Tenant};

/// The store could not answer.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum VaultStoreError {
    #[error("the vault store is unavailable")]
    /// The database could not be reached; the call may be retried.
    Unavailable,
    #[error("the vault store holds a row it cannot read")]
    /// A stored row does not read back.
    Corrupt,
}

/// A data key as stored: wrapped under the master.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StoredKey {
    /// Whose key.
    pub tenant: Tenant,
    /// 1, 2, ...: the newest is the one that seals.
    pub version: u32,
    /// The key, sealed under the master.
    pub wrapped: Vec<u8>,
}

/// A card as stored: sealed number and expiry, and what may be shown.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StoredCard {
    /// Its token.
    pub token: CardToken,
    /// Whose card.
    pub tenant: Tenant,
    /// The tenant's keyed hash of the number (hex).
    pub fingerprint: String,
    /// The data key that sealed it.
    pub key_version: u32,
    /// Number and expiry, sealed under that data key.
    pub sealed: Vec<u8>,
    /// What may be shown.
    pub display: CardDisplay,
}

/// How far re-encryption has come: cards still sealed under an older key, and all cards.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Progress {
    /// Cards sealed under a retired key.
    pub stale: u64,
    /// All cards.
    pub total: u64,
}

/// Where the vault keeps what it keeps.
pub trait VaultStore: Send + Sync {
    /// Sets the check value unless one is set; answers the one stored.
    fn init_master_check(
        &self,
        check: &str,
        key_use: KeyUse,
    ) -> impl Future<Output = Result<(String, KeyUse), VaultStoreError>> + Send;

    /// `tenant`'s data keys, oldest first.
    fn keys(
        &self,
        tenant: &Tenant,
    ) -> impl Future<Output = Result<Vec<StoredKey>, VaultStoreError>> + Send;

    /// Adds a data key; `false` if that version exists already (another process rotated).
    fn add_key(
        &self,
        key: &StoredKey,
    ) -> impl Future<Output = Result<bool, VaultStoreError>> + Send;

    /// The card of `tenant` with this fingerprint, if tokenized before.
    fn card_by_fingerprint(
        &self,
        tenant: &Tenant,
        fingerprint: &str,
    ) -> impl Future<Output = Result<Option<StoredCard>, VaultStoreError>> + Send;

    /// Stores a new card; when the tenant already has one with its fingerprint (a race),
    /// stores nothing and answers that one.
    fn insert_card(
        &self,
        card: &StoredCard,
    ) -> impl Future<Output = Result<StoredCard, VaultStoreError>> + Send;

    /// The card behind a token.
    fn card(
        &self,
        token: &CardToken,
    ) -> impl Future<Output = Result<Option<StoredCard>, VaultStoreError>> + Send;

    /// Replaces a card's sealed value, key version and display if it is still sealed under
    /// `from_version`; `false` if it was not (another process got there first).
    fn update_card(
        &self,
        card: &StoredCard,
        from_version: u32,
    ) -> impl Future<Output = Result<bool, VaultStoreError>> + Send;

    /// Up to `limit` cards sealed under a key older than their tenant's newest.
    fn stale_cards(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredCard>, VaultStoreError>> + Send;

    /// How many cards are stale, of how many.
    fn progress(&self) -> impl Future<Output = Result<Progress, VaultStoreError>> + Send;
}
