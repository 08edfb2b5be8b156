//! The card vault's callers' side: each request is signed by the caller (JWS) and encrypted
//! (JWE) for the vault; each answer is signed by the vault and encrypted back. The API holds
//! the `api` party and can only tokenize; the payment provider's connector holds the
//! `provider` party, the only one the vault detokenizes for; key custodians and
//! administrators hold `admin`. The API and the workers (which sign as `api`) also fetch
//! the keyrings that seal webhook secrets and bank details ([`KeyringSource`]).
//!
//! [`link`] reads where the vault is and the channel's keys from the environment.

pub mod link;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bazaar_domain::payments::CardNumber;
use bazaar_domain::vault::channel::{self, ChannelKey, Party, Peer};
use bazaar_domain::vault::{
    Brand, CardData, CardDisplay, CardToken, CardVault, DataKey, Detokenizer, Entropy, Keyring,
    KeyringPurpose, KeyringSource, Progress, Tenant, VaultError, VaultFuture, VaultedCard,
};
use rand::RngCore;
use serde_json::{Value, json};

/// Random bytes from the operating system.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, out: &mut [u8]) {
        rand::rng().fill_bytes(out);
    }
}

/// Seconds since 1970 by this machine's clock.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// A caller of the vault at `url` (e.g. `http://127.0.0.1:8090`).
#[derive(Clone)]
pub struct VaultClient {
    url: String,
    me: Party,
    vault: Peer,
    key: ChannelKey,
    http: reqwest::Client,
}

impl std::fmt::Debug for VaultClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultClient")
            .field("url", &self.url)
            .field("as", &self.me.name)
            .finish_non_exhaustive()
    }
}

fn unavailable(error: impl std::fmt::Display, what: &'static str) -> VaultError {
    tracing::warn!(%error, what, "the vault could not be reached");
    VaultError::Store(bazaar_domain::vault::VaultStoreError::Unavailable)
}

/// The error a vault answer names by its code.
fn error_of(code: &str) -> VaultError {
    match code {
        "invalid_input" => VaultError::InvalidInput("refused by the vault"),
        "vault_locked" => VaultError::Locked,
        "forbidden" => VaultError::Forbidden,
        "not_found" => VaultError::NotFound,
        "does_not_open" => VaultError::DoesNotOpen,
        "test_key_refused" => VaultError::TestKeyRefused,
        "shares_do_not_match" => VaultError::SharesDoNotMatch,
        "share_already_given" => VaultError::ShareAlreadyGiven("the same"),
        "channel_refused" => VaultError::Channel(channel::ChannelError::Signature),
        _ => VaultError::Store(bazaar_domain::vault::VaultStoreError::Unavailable),
    }
}

fn field<'v>(value: &'v Value, name: &'static str) -> Result<&'v Value, VaultError> {
    value
        .get(name)
        .ok_or(VaultError::Channel(channel::ChannelError::Malformed))
}

fn text(value: &Value, name: &'static str) -> Result<String, VaultError> {
    field(value, name)?
        .as_str()
        .map(str::to_owned)
        .ok_or(VaultError::Channel(channel::ChannelError::Malformed))
}

fn number<T: TryFrom<u64>>(value: &Value, name: &'static str) -> Result<T, VaultError> {
    field(value, name)?
        .as_u64()
        .and_then(|n| T::try_from(n).ok())
        .ok_or(VaultError::Channel(channel::ChannelError::Malformed))
}

/// A card's display as the vault answers it.
pub fn display_of(value: &Value) -> Result<CardDisplay, VaultError> {
    Ok(CardDisplay {
        bin: text(value, "bin")?,
        last4: text(value, "last4")?,
        brand: Brand::from_name(&text(value, "brand")?),
        expiry_month: number(value, "expiry_month")?,
        expiry_year: number(value, "expiry_year")?,
    })
}

impl VaultClient {
    /// A caller named by `me` (its signing key), trusting answers signed by `vault`.
    pub fn new(url: &str, me: Party, vault: Peer, key: ChannelKey) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(2))
            .build()
            .unwrap_or_default();
        Self {
            url: url.trim_end_matches('/').to_owned(),
            me,
            vault,
            key,
            http,
        }
    }

    /// Sends `body` and answers what the vault said, once its signature checks.
    pub async fn call(&self, body: Value) -> Result<Value, VaultError> {
        let request = channel::seal(&self.me, "vault", &self.key, body, unix_now(), &OsEntropy)?;
        let response = self
            .http
            .post(format!("{}/v1/jose", self.url))
            .header("content-type", "application/jose")
            .body(request)
            .send()
            .await
            .map_err(|e| unavailable(e, "send"))?;
        let status = response.status();
        let answer = response.text().await.map_err(|e| unavailable(e, "read"))?;
        if !status.is_success() {
            // The vault answers in the clear only when it could not open the request.
            let code = serde_json::from_str::<Value>(&answer)
                .ok()
                .and_then(|v| v.get("code").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            return Err(error_of(&code));
        }
        let opened = channel::open(
            &answer,
            &self.me.name,
            &self.key,
            std::slice::from_ref(&self.vault),
            unix_now(),
        )?;
        if let Some(error) = opened.body.get("error") {
            return Err(error_of(
                error.get("code").and_then(Value::as_str).unwrap_or(""),
            ));
        }
        field(&opened.body, "ok").cloned()
    }

    /// Makes a new data key for `tenant`; answers its version.
    pub async fn rotate(&self, tenant: &Tenant) -> Result<u32, VaultError> {
        let ok = self
            .call(json!({"op": "rotate", "tenant": tenant.as_str()}))
            .await?;
        number(&ok, "version")
    }

    /// Moves up to `limit` cards onto their tenant's newest key; answers the progress.
    pub async fn reencrypt(&self, limit: u32) -> Result<Progress, VaultError> {
        let ok = self
            .call(json!({"op": "reencrypt", "limit": limit}))
            .await?;
        Ok(Progress {
            stale: number(&ok, "stale")?,
            total: number(&ok, "total")?,
        })
    }

    /// Whether the vault serves: `locked`, `half_unlocked` or `unlocked`.
    pub async fn status(&self) -> Result<String, VaultError> {
        self.plain(self.http.get(format!("{}/v1/status", self.url)), "status")
            .await
    }

    /// Gives one custodian's share; answers the vault's state after it.
    pub async fn unlock(&self, share: &str) -> Result<String, VaultError> {
        let request = self
            .http
            .post(format!("{}/v1/unlock", self.url))
            .body(share.trim().to_owned());
        self.plain(request, "unlock").await
    }

    /// Sends one of the routes answered in the clear (status, unlock): the state, or the
    /// error its code names.
    async fn plain(
        &self,
        request: reqwest::RequestBuilder,
        what: &'static str,
    ) -> Result<String, VaultError> {
        let response = request.send().await.map_err(|e| unavailable(e, what))?;
        let value: Value = response.json().await.map_err(|e| unavailable(e, what))?;
        match value.get("code").and_then(Value::as_str) {
            Some(code) => Err(error_of(code)),
            None => text(&value, "state"),
        }
    }
}

impl CardVault for VaultClient {
    fn tokenize<'a>(
        &'a self,
        tenant: &'a Tenant,
        card: &'a CardData,
    ) -> VaultFuture<'a, VaultedCard> {
        Box::pin(async move {
            let ok = self
                .call(json!({
                    "op": "tokenize",
                    "tenant": tenant.as_str(),
                    "number": card.number.expose(),
                    "expiry_month": card.expiry_month,
                    "expiry_year": card.expiry_year,
                }))
                .await?;
            Ok(VaultedCard {
                token: CardToken::parse(&text(&ok, "token")?)?,
                display: display_of(&ok)?,
                fingerprint: text(&ok, "fingerprint")?,
            })
        })
    }

    fn display<'a>(
        &'a self,
        tenant: &'a Tenant,
        token: &'a CardToken,
    ) -> VaultFuture<'a, CardDisplay> {
        Box::pin(async move {
            let ok = self
                .call(json!({"op": "display", "tenant": tenant.as_str(), "token": token.as_str()}))
                .await?;
            display_of(&ok)
        })
    }
}

impl Detokenizer for VaultClient {
    fn detokenize<'a>(&'a self, token: &'a CardToken) -> VaultFuture<'a, CardData> {
        Box::pin(async move {
            let ok = self
                .call(json!({"op": "detokenize", "token": token.as_str()}))
                .await?;
            let pan = CardNumber::new(&text(&ok, "number")?)
                .map_err(|_| VaultError::Channel(channel::ChannelError::Malformed))?;
            CardData::new(
                pan,
                number(&ok, "expiry_month")?,
                number(&ok, "expiry_year")?,
            )
        })
    }
}

fn data_key(value: &Value) -> Result<DataKey, VaultError> {
    let malformed = VaultError::Channel(channel::ChannelError::Malformed);
    let bytes = hex::decode(text(value, "key")?).map_err(|_| malformed.clone())?;
    let key: [u8; 32] = bytes.try_into().map_err(|_| malformed)?;
    Ok(DataKey::from_bytes(number(value, "version")?, key))
}

impl KeyringSource for VaultClient {
    fn keyring(&self, purpose: KeyringPurpose) -> VaultFuture<'_, Keyring> {
        Box::pin(async move {
            let ok = self
                .call(json!({"op": "keyring", "purpose": purpose.name()}))
                .await?;
            let keys = field(&ok, "keys")?
                .as_array()
                .ok_or(VaultError::Channel(channel::ChannelError::Malformed))?
                .iter()
                .map(data_key)
                .collect::<Result<Vec<_>, _>>()?;
            Keyring::new(purpose, keys)
        })
    }
}
