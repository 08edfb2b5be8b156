//! [`Vault`]: locked until both custodians' shares are given; then tokenizes for the API,
//! detokenizes for the payment provider alone, rotates data keys and moves sealed cards
//! onto the newest key. Every one of these is recorded in the audit log, and a card number
//! is released only once its detokenization is recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use bazaar_ledger::Timestamp;

use crate::audit::{AuditEntry, AuditStore, Outcome};
use crate::payments::CardNumber;

use super::keys::{DataKey, Entropy, MasterKey, Share};
use super::{
    CardData, CardDisplay, CardToken, KeyUse, Keyring, KeyringPurpose, Progress, StoredCard,
    StoredKey, Tenant, VaultError, VaultStore, VaultedCard,
};

/// Who is asking, as the channel's signature says; each may do one kind of thing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Caller {
    /// The API: tokenizes cards, never sees a number back.
    Api,
    /// The payment provider's connector: the only caller that detokenizes.
    Provider,
    /// Key administration: rotation and re-encryption.
    Admin,
}

impl Caller {
    /// The caller whose channel name is `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "api" => Some(Self::Api),
            "provider" => Some(Self::Provider),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// The channel name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Provider => "provider",
            Self::Admin => "admin",
        }
    }
}

/// Whether the vault serves, and if not, which share it holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LockState {
    /// No share given yet.
    Locked,
    /// One custodian's share given; waiting for the other.
    HalfUnlocked(super::Custodian),
    /// Both shares given; serving.
    Unlocked,
}

enum Lock {
    Locked(Option<Share>),
    Unlocked(Arc<MasterKey>),
}

/// Opened data keys kept in memory, at most this many tenants' worth.
const KEY_CACHE_TENANTS: usize = 100_000;
/// The most cards one re-encryption step moves.
pub const REENCRYPT_BATCH_MAX: u32 = 1_000;

/// The card vault over its store `S`, recording in the audit log `A`.
pub struct Vault<S, A> {
    store: S,
    audit: A,
    entropy: Box<dyn Entropy>,
    production: bool,
    lock: Mutex<Lock>,
    keys: Mutex<HashMap<Tenant, Vec<DataKey>>>,
}

impl<S, A> std::fmt::Debug for Vault<S, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault")
    }
}

/// Refuses the tenant names reserved for keyrings: no card is kept under them.
fn card_tenant(tenant: &Tenant) -> Result<(), VaultError> {
    if tenant.as_str().starts_with(super::KEYRING_PREFIX) {
        return Err(VaultError::InvalidInput(
            "tenant names beginning keyring: are reserved",
        ));
    }
    Ok(())
}

fn card_context(tenant: &Tenant, token: &CardToken) -> Vec<u8> {
    format!("card|{tenant}|{token}").into_bytes()
}

fn sealed_card(data: &CardData) -> Vec<u8> {
    format!(
        "{}|{}|{}",
        data.number.expose(),
        data.expiry_month,
        data.expiry_year
    )
    .into_bytes()
}

fn unsealed_card(plain: &[u8]) -> Result<CardData, VaultError> {
    let text = std::str::from_utf8(plain).map_err(|_| VaultError::DoesNotOpen)?;
    let mut parts = text.split('|');
    let (Some(number), Some(month), Some(year), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VaultError::DoesNotOpen);
    };
    let number = CardNumber::new(number).map_err(|_| VaultError::DoesNotOpen)?;
    let month = month.parse().map_err(|_| VaultError::DoesNotOpen)?;
    let year = year.parse().map_err(|_| VaultError::DoesNotOpen)?;
    CardData::new(number, month, year)
}

impl<S: VaultStore, A: AuditStore> Vault<S, A> {
    /// A locked vault. In `production`, test shares are refused.
    pub fn new(store: S, audit: A, entropy: Box<dyn Entropy>, production: bool) -> Self {
        Self {
            store,
            audit,
            entropy,
            production,
            lock: Mutex::new(Lock::Locked(None)),
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the vault serves.
    pub fn state(&self) -> LockState {
        match &*self.lock.lock().unwrap_or_else(PoisonError::into_inner) {
            Lock::Locked(None) => LockState::Locked,
            Lock::Locked(Some(share)) => LockState::HalfUnlocked(share.custodian),
            Lock::Unlocked(_) => LockState::Unlocked,
        }
    }

    fn master(&self) -> Result<Arc<MasterKey>, VaultError> {
        match &*self.lock.lock().unwrap_or_else(PoisonError::into_inner) {
            Lock::Unlocked(master) => Ok(Arc::clone(master)),
            Lock::Locked(_) => Err(VaultError::Locked),
        }
    }

    async fn record(
        &self,
        actor: &str,
        action: &str,
        outcome: Outcome,
        resource: (&str, &str),
        detail: String,
        now: Timestamp,
    ) -> Result<(), VaultError> {
        let entry = AuditEntry {
            actor: actor.to_owned(),
            action: action.to_owned(),
            outcome,
            origin: "vault".to_owned(),
            resource_type: resource.0.to_owned(),
            resource_id: resource.1.to_owned(),
            detail,
        }
        .checked()
        .map_err(|_| VaultError::Audit)?;
        self.audit
            .append(&entry, now)
            .await
            .map_err(|_| VaultError::Audit)?;
        Ok(())
    }

    /// Gives one custodian's share. The second share of the other custodian unlocks the
    /// vault if the pair makes the master key this vault was first unlocked with (the
    /// first unlock sets it); a pair that does not is refused and both shares are
    /// forgotten.
    pub async fn give_share(&self, share: Share, now: Timestamp) -> Result<LockState, VaultError> {
        if self.production && share.key_use == KeyUse::Test {
            return Err(VaultError::TestKeyRefused);
        }
        let custodian = match share.custodian {
            super::Custodian::A => "custodian:a",
            super::Custodian::B => "custodian:b",
        };
        let master = {
            let mut lock = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            match &mut *lock {
                Lock::Unlocked(_) => return Ok(LockState::Unlocked),
                Lock::Locked(held) => match held.take() {
                    None => {
                        let custodian = share.custodian;
                        *held = Some(share);
                        return Ok(LockState::HalfUnlocked(custodian));
                    }
                    Some(first) if first.custodian == share.custodian => {
                        *held = Some(first);
                        return Err(VaultError::ShareAlreadyGiven(
                            custodian.trim_start_matches("custodian:"),
                        ));
                    }
                    Some(first) => MasterKey::combine(&first, &share)?,
                },
            }
        };
        let check = master.check_value()?;
        let stored = self.store.init_master_check(&check, master.key_use).await?;
        if stored.0 != check {
            self.record(
                custodian,
                "vault.unlock",
                Outcome::Failure,
                ("vault", ""),
                "shares do not match".to_owned(),
                now,
            )
            .await?;
            return Err(VaultError::SharesDoNotMatch);
        }
        self.record(
            custodian,
            "vault.unlock",
            Outcome::Success,
            ("vault", ""),
            String::new(),
            now,
        )
        .await?;
        *self.lock.lock().unwrap_or_else(PoisonError::into_inner) =
            Lock::Unlocked(Arc::new(master));
        Ok(LockState::Unlocked)
    }

    /// `tenant`'s data keys, opened, oldest first; the first is made if it has none.
    async fn tenant_keys(
        &self,
        master: &MasterKey,
        tenant: &Tenant,
    ) -> Result<Vec<DataKey>, VaultError> {
        if let Some(keys) = self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tenant)
        {
            return Ok(keys.clone());
        }
        let mut stored = self.store.keys(tenant).await?;
        if stored.is_empty() {
            let (_, wrapped) = master.new_data_key(tenant, 1, self.entropy.as_ref())?;
            self.store
                .add_key(&StoredKey {
                    tenant: tenant.clone(),
                    version: 1,
                    wrapped,
                })
                .await?;
            stored = self.store.keys(tenant).await?;
        }
        let keys = stored
            .iter()
            .map(|key| master.unwrap_data_key(tenant, key.version, &key.wrapped))
            .collect::<Result<Vec<_>, _>>()?;
        let mut cache = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= KEY_CACHE_TENANTS {
            cache.clear();
        }
        cache.insert(tenant.clone(), keys.clone());
        Ok(keys)
    }

    fn newest(keys: &[DataKey]) -> Result<&DataKey, VaultError> {
        keys.last().ok_or(VaultError::DoesNotOpen)
    }

    /// The keys of `tenant` holding `version`: when the cached ones do not (another
    /// process rotated), they are read again.
    async fn keys_with(
        &self,
        master: &MasterKey,
        tenant: &Tenant,
        version: u32,
    ) -> Result<Vec<DataKey>, VaultError> {
        let keys = self.tenant_keys(master, tenant).await?;
        if keys.iter().any(|key| key.version == version) {
            return Ok(keys);
        }
        self.forget_keys(tenant);
        self.tenant_keys(master, tenant).await
    }

    fn forget_keys(&self, tenant: &Tenant) {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(tenant);
    }

    fn key_of(keys: &[DataKey], version: u32) -> Result<&DataKey, VaultError> {
        keys.iter()
            .find(|key| key.version == version)
            .ok_or(VaultError::DoesNotOpen)
    }

    /// Tokenizes `card` for `tenant`: the same number gives the tenant the same token
    /// (its expiry updated), whichever key sealed it.
    pub async fn tokenize(
        &self,
        caller: Caller,
        tenant: &Tenant,
        card: &CardData,
        now: Timestamp,
    ) -> Result<VaultedCard, VaultError> {
        if caller != Caller::Api {
            return Err(VaultError::Forbidden);
        }
        card_tenant(tenant)?;
        let master = self.master()?;
        let fingerprint = master.fingerprint(tenant, card.number.expose())?;
        let keys = self.tenant_keys(&master, tenant).await?;
        let key = Self::newest(&keys)?;
        let display = card.display();
        let stored = match self.store.card_by_fingerprint(tenant, &fingerprint).await? {
            Some(existing) if existing.display == display => existing,
            Some(existing) => {
                let updated = StoredCard {
                    sealed: key.seal(
                        &sealed_card(card),
                        &card_context(tenant, &existing.token),
                        self.entropy.as_ref(),
                    )?,
                    key_version: key.version,
                    display: display.clone(),
                    ..existing.clone()
                };
                if !self
                    .store
                    .update_card(&updated, existing.key_version)
                    .await?
                {
                    return Err(VaultError::Store(super::VaultStoreError::Unavailable));
                }
                updated
            }
            None => {
                let mut random = [0u8; 16];
                self.entropy.fill(&mut random);
                let token = CardToken::from_random(random);
                let card = StoredCard {
                    sealed: key.seal(
                        &sealed_card(card),
                        &card_context(tenant, &token),
                        self.entropy.as_ref(),
                    )?,
                    token,
                    tenant: tenant.clone(),
                    fingerprint: fingerprint.clone(),
                    key_version: key.version,
                    display,
                };
                self.store.insert_card(&card).await?
            }
        };
        self.record(
            caller.name(),
            "card.tokenize",
            Outcome::Success,
            ("card", stored.token.as_str()),
            format!("{} for {tenant}", stored.display.masked()),
            now,
        )
        .await?;
        Ok(VaultedCard {
            token: stored.token,
            display: stored.display,
            fingerprint,
        })
    }

    /// The card behind `token`, for the payment provider alone. Any other caller is refused
    /// and the refusal recorded. The number is released only once the release is recorded.
    pub async fn detokenize(
        &self,
        caller: Caller,
        token: &CardToken,
        now: Timestamp,
    ) -> Result<CardData, VaultError> {
        if caller != Caller::Provider {
            self.record(
                caller.name(),
                "card.detokenize",
                Outcome::Failure,
                ("card", token.as_str()),
                "caller may not detokenize".to_owned(),
                now,
            )
            .await?;
            return Err(VaultError::Forbidden);
        }
        let master = self.master()?;
        let stored = self.store.card(token).await?.ok_or(VaultError::NotFound)?;
        let keys = self
            .keys_with(&master, &stored.tenant, stored.key_version)
            .await?;
        let key = Self::key_of(&keys, stored.key_version)?;
        let card = unsealed_card(&key.open(&stored.sealed, &card_context(&stored.tenant, token))?)?;
        self.record(
            caller.name(),
            "card.detokenize",
            Outcome::Success,
            ("card", token.as_str()),
            stored.display.masked(),
            now,
        )
        .await?;
        Ok(card)
    }

    /// What may be shown of `tenant`'s tokenized card; another tenant's token is
    /// [`VaultError::NotFound`], as if it did not exist.
    pub async fn display(
        &self,
        caller: Caller,
        tenant: &Tenant,
        token: &CardToken,
    ) -> Result<CardDisplay, VaultError> {
        if caller != Caller::Api {
            return Err(VaultError::Forbidden);
        }
        self.master()?;
        let card = self.store.card(token).await?.ok_or(VaultError::NotFound)?;
        if card.tenant != *tenant {
            return Err(VaultError::NotFound);
        }
        Ok(card.display)
    }

    /// The keyring of `purpose` for the API or the workers (which sign as the API): its
    /// data keys read afresh, the first made if there is none. Every handover is recorded.
    pub async fn keyring(
        &self,
        caller: Caller,
        purpose: KeyringPurpose,
        now: Timestamp,
    ) -> Result<Keyring, VaultError> {
        let resource = ("keyring", purpose.name());
        if caller != Caller::Api {
            self.record(
                caller.name(),
                "vault.keyring_read",
                Outcome::Failure,
                resource,
                "caller may not read keyrings".to_owned(),
                now,
            )
            .await?;
            return Err(VaultError::Forbidden);
        }
        let master = self.master()?;
        let tenant = purpose.tenant()?;
        // Another process may have rotated: a keyring is always read afresh.
        self.forget_keys(&tenant);
        let keyring = Keyring::new(purpose, self.tenant_keys(&master, &tenant).await?)?;
        self.record(
            caller.name(),
            "vault.keyring_read",
            Outcome::Success,
            resource,
            format!("newest key v{}", keyring.newest_version()),
            now,
        )
        .await?;
        Ok(keyring)
    }

    /// Makes a new data key for `tenant`; its older keys are retired (they only open).
    /// Answers the new key's version.
    pub async fn rotate(
        &self,
        caller: Caller,
        tenant: &Tenant,
        now: Timestamp,
    ) -> Result<u32, VaultError> {
        if caller != Caller::Admin {
            return Err(VaultError::Forbidden);
        }
        let master = self.master()?;
        let keys = self.tenant_keys(&master, tenant).await?;
        let version = Self::newest(&keys)?.version.saturating_add(1);
        let (_, wrapped) = master.new_data_key(tenant, version, self.entropy.as_ref())?;
        let added = self
            .store
            .add_key(&StoredKey {
                tenant: tenant.clone(),
                version,
                wrapped,
            })
            .await?;
        self.forget_keys(tenant);
        if !added {
            return Err(VaultError::Store(super::VaultStoreError::Unavailable));
        }
        self.record(
            caller.name(),
            "vault.key_rotate",
            Outcome::Success,
            ("data_key", &format!("{tenant}/v{version}")),
            String::new(),
            now,
        )
        .await?;
        Ok(version)
    }

    /// Moves up to `limit` (at most [`REENCRYPT_BATCH_MAX`]) cards sealed under a retired
    /// key onto their tenant's newest; answers how far re-encryption has come.
    pub async fn reencrypt(
        &self,
        caller: Caller,
        limit: u32,
        now: Timestamp,
    ) -> Result<Progress, VaultError> {
        if caller != Caller::Admin {
            return Err(VaultError::Forbidden);
        }
        let master = self.master()?;
        let stale = self
            .store
            .stale_cards(limit.min(REENCRYPT_BATCH_MAX))
            .await?;
        let mut moved: u64 = 0;
        // Another process may have rotated since this one cached a tenant's keys: each
        // tenant's are read afresh once per batch.
        let mut refreshed = std::collections::HashSet::new();
        for card in &stale {
            if refreshed.insert(card.tenant.clone()) {
                self.forget_keys(&card.tenant);
            }
            let keys = self
                .keys_with(&master, &card.tenant, card.key_version)
                .await?;
            let context = card_context(&card.tenant, &card.token);
            let plain = Self::key_of(&keys, card.key_version)?.open(&card.sealed, &context)?;
            let newest = Self::newest(&keys)?;
            let updated = StoredCard {
                sealed: newest.seal(&plain, &context, self.entropy.as_ref())?,
                key_version: newest.version,
                ..card.clone()
            };
            if self.store.update_card(&updated, card.key_version).await? {
                moved = moved.saturating_add(1);
            }
        }
        let progress = self.store.progress().await?;
        if moved > 0 {
            self.record(
                caller.name(),
                "vault.reencrypt",
                Outcome::Success,
                ("vault", ""),
                format!(
                    "{moved} moved, {} left of {}",
                    progress.stale, progress.total
                ),
                now,
            )
            .await?;
        }
        Ok(progress)
    }
}
