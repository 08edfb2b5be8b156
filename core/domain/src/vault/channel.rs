//! The channel between the vault and its callers: each message is a JWS (RFC 7515, compact,
//! `EdDSA` over Ed25519, RFC 8037) inside a JWE (RFC 7516, compact, `dir` with `A256GCM`).
//! The JWE keeps the card number secret on the wire; the JWS says who sent it, which
//! decides what the vault lets them do. Claims bind each message to its audience and a
//! moment (`iat`, at most [`MAX_SKEW_SECS`] away), and a [`ReplayGuard`] refuses a message
//! seen before (`jti`).
//!
//! Only these algorithms are accepted; a header naming any other (`none`, `HS256`,
//! `RSA-OAEP`, ...) is refused before anything is decrypted or verified.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::keys::{Entropy, aead_open as open_with, aead_seal as seal_with};

/// How far a message's `iat` may be from the receiver's clock, in seconds.
pub const MAX_SKEW_SECS: i64 = 60;
const JWE_HEADER: &str = r#"{"alg":"dir","enc":"A256GCM","cty":"JWT"}"#;
const TAG_LEN: usize = 16;

/// Why a message was refused. None of them says more than which check failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("the message is not a compact JWE holding a compact JWS")]
    /// Not the shape of a compact JWE or JWS.
    Malformed,
    #[error("the message names an algorithm this channel does not accept")]
    /// A header names another algorithm.
    Algorithm,
    #[error("the message does not decrypt: wrong key, or altered")]
    /// The JWE does not decrypt.
    DoesNotDecrypt,
    #[error("the signature does not verify")]
    /// The JWS signature does not verify.
    Signature,
    #[error("the sender is not known")]
    /// Signed by a key the receiver does not know.
    UnknownSender,
    #[error("the message is for someone else")]
    /// Addressed to another receiver.
    Audience,
    #[error("the message's time is too far from now")]
    /// Sent too long ago, or in the future.
    Stale,
    #[error("the message was seen before")]
    /// Seen before.
    Replayed,
}

/// The shared key of the JWE layer (32 bytes).
#[derive(Clone)]
pub struct ChannelKey([u8; 32]);

impl fmt::Debug for ChannelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChannelKey(redacted)")
    }
}

impl ChannelKey {
    /// The key from its 32 bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// From 64 hex characters.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes: [u8; 32] = hex::decode(text.trim()).ok()?.try_into().ok()?;
        Some(Self(bytes))
    }
}

/// One end of the channel: its name (`api`, `provider`, `admin`, `vault`) and signing key.
#[derive(Clone)]
pub struct Party {
    /// Its channel name.
    pub name: String,
    key: SigningKey,
}

impl fmt::Debug for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Party({}, redacted)", self.name)
    }
}

impl Party {
    /// A party from its name and Ed25519 seed.
    pub fn new(name: &str, seed: [u8; 32]) -> Self {
        Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The public key others verify this party's messages with.
    pub fn peer(&self) -> Peer {
        Peer {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }
}

/// A party whose messages are accepted: its name and public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The peer's channel name.
    pub name: String,
    key: VerifyingKey,
}

impl Peer {
    /// From a name and 64 hex characters of an Ed25519 public key.
    pub fn from_hex(name: &str, hex_key: &str) -> Option<Self> {
        let bytes: [u8; 32] = hex::decode(hex_key.trim()).ok()?.try_into().ok()?;
        Some(Self {
            name: name.to_owned(),
            key: VerifyingKey::from_bytes(&bytes).ok()?,
        })
    }

    /// The public key, 64 hex characters.
    pub fn key_hex(&self) -> String {
        hex::encode(self.key.as_bytes())
    }
}

#[derive(Serialize, Deserialize)]
struct JwsHeader {
    alg: String,
    kid: String,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    iat: i64,
    jti: String,
    body: serde_json::Value,
}

/// A message that passed every check.
#[derive(Clone, Debug, PartialEq)]
pub struct Opened {
    /// The sender, as named by the key that signed.
    pub from: String,
    /// The message's unique id.
    pub jti: String,
    /// When it was sent (Unix seconds).
    pub iat: i64,
    /// What it says.
    pub body: serde_json::Value,
}

/// Signs `body` as `from` for `to`, then encrypts it: a compact JWE.
pub fn seal(
    from: &Party,
    to: &str,
    key: &ChannelKey,
    body: serde_json::Value,
    now_secs: i64,
    entropy: &dyn Entropy,
) -> Result<String, ChannelError> {
    let mut jti = [0u8; 16];
    entropy.fill(&mut jti);
    let header = serde_json::to_vec(&JwsHeader {
        alg: "EdDSA".to_owned(),
        kid: from.name.clone(),
    })
    .map_err(|_| ChannelError::Malformed)?;
    let claims = serde_json::to_vec(&Claims {
        iss: from.name.clone(),
        aud: to.to_owned(),
        iat: now_secs,
        jti: hex::encode(jti),
        body,
    })
    .map_err(|_| ChannelError::Malformed)?;
    let input = format!("{}.{}", B64.encode(header), B64.encode(claims));
    let signature = from.key.sign(input.as_bytes());
    let jws = format!("{input}.{}", B64.encode(signature.to_bytes()));

    let protected = B64.encode(JWE_HEADER);
    let sealed = seal_with(&key.0, jws.as_bytes(), protected.as_bytes(), entropy)
        .map_err(|_| ChannelError::DoesNotDecrypt)?;
    let (iv, rest) = sealed.split_at_checked(12).ok_or(ChannelError::Malformed)?;
    let split = rest
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(ChannelError::Malformed)?;
    let (ciphertext, tag) = rest
        .split_at_checked(split)
        .ok_or(ChannelError::Malformed)?;
    Ok(format!(
        "{protected}..{}.{}.{}",
        B64.encode(iv),
        B64.encode(ciphertext),
        B64.encode(tag)
    ))
}

fn decode(part: &str) -> Result<Vec<u8>, ChannelError> {
    B64.decode(part).map_err(|_| ChannelError::Malformed)
}

/// Decrypts and verifies a message for `me`, signed by one of `peers`, sent within
/// [`MAX_SKEW_SECS`] of `now_secs`. Replays are the caller's [`ReplayGuard`]'s to refuse.
pub fn open(
    message: &str,
    me: &str,
    key: &ChannelKey,
    peers: &[Peer],
    now_secs: i64,
) -> Result<Opened, ChannelError> {
    let parts: Vec<&str> = message.trim().split('.').collect();
    let [protected, encrypted_key, iv, ciphertext, tag] = parts.as_slice() else {
        return Err(ChannelError::Malformed);
    };
    let header: serde_json::Value =
        serde_json::from_slice(&decode(protected)?).map_err(|_| ChannelError::Malformed)?;
    if header.get("alg").and_then(|v| v.as_str()) != Some("dir")
        || header.get("enc").and_then(|v| v.as_str()) != Some("A256GCM")
        || !encrypted_key.is_empty()
    {
        return Err(ChannelError::Algorithm);
    }
    let mut sealed = decode(iv)?;
    if sealed.len() != 12 {
        return Err(ChannelError::Malformed);
    }
    sealed.extend(decode(ciphertext)?);
    sealed.extend(decode(tag)?);
    let jws = open_with(&key.0, &sealed, protected.as_bytes())
        .map_err(|_| ChannelError::DoesNotDecrypt)?;
    let jws = String::from_utf8(jws).map_err(|_| ChannelError::Malformed)?;
    verify_jws(&jws, me, peers, now_secs)
}

fn verify_jws(jws: &str, me: &str, peers: &[Peer], now_secs: i64) -> Result<Opened, ChannelError> {
    let parts: Vec<&str> = jws.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err(ChannelError::Malformed);
    };
    let head: JwsHeader =
        serde_json::from_slice(&decode(header)?).map_err(|_| ChannelError::Malformed)?;
    if head.alg != "EdDSA" {
        return Err(ChannelError::Algorithm);
    }
    let peer = peers
        .iter()
        .find(|peer| peer.name == head.kid)
        .ok_or(ChannelError::UnknownSender)?;
    let signature: [u8; 64] = decode(signature)?
        .try_into()
        .map_err(|_| ChannelError::Signature)?;
    peer.key
        .verify(
            format!("{header}.{payload}").as_bytes(),
            &Signature::from_bytes(&signature),
        )
        .map_err(|_| ChannelError::Signature)?;
    let claims: Claims =
        serde_json::from_slice(&decode(payload)?).map_err(|_| ChannelError::Malformed)?;
    if claims.iss != peer.name {
        return Err(ChannelError::UnknownSender);
    }
    if claims.aud != me {
        return Err(ChannelError::Audience);
    }
    if now_secs.abs_diff(claims.iat) > MAX_SKEW_SECS.unsigned_abs() {
        return Err(ChannelError::Stale);
    }
    Ok(Opened {
        from: claims.iss,
        jti: claims.jti,
        iat: claims.iat,
        body: claims.body,
    })
}

/// Remembers the ids of messages accepted within the skew window, so that a message
/// replayed within it is refused (one replayed later is refused as stale). Holds at most
/// `capacity` ids; when full, it refuses new messages rather than forget one too early.
#[derive(Debug)]
pub struct ReplayGuard {
    seen: BTreeMap<String, i64>,
    order: VecDeque<(i64, String)>,
    capacity: usize,
}

impl ReplayGuard {
    /// A guard remembering at most `capacity` ids.
    pub fn new(capacity: usize) -> Self {
        Self {
            seen: BTreeMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// Accepts `opened` unless its id was seen within the window.
    pub fn check(&mut self, opened: &Opened, now_secs: i64) -> Result<(), ChannelError> {
        let horizon = now_secs.saturating_sub(MAX_SKEW_SECS.saturating_mul(2));
        while let Some((iat, _)) = self.order.front() {
            if *iat >= horizon {
                break;
            }
            if let Some((_, jti)) = self.order.pop_front() {
                self.seen.remove(&jti);
            }
        }
        if self.seen.contains_key(&opened.jti) {
            return Err(ChannelError::Replayed);
        }
        if self.seen.len() >= self.capacity {
            return Err(ChannelError::Replayed);
        }
        self.seen.insert(opened.jti.clone(), opened.iat);
        self.order
            .push_back((opened.iat.max(now_secs), opened.jti.clone()));
        Ok(())
    }
}
