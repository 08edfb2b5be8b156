//! The card vault's process: its own database, listening on loopback. Card numbers reach
//! it only inside the channel's JWE, signed by a known caller; it stays locked until both
//! custodians' shares are given (`POST /v1/unlock`, from loopback only).
//!
//! | Route | What |
//! |---|---|
//! | `GET /v1/status` | `{"state": "locked" \| "half_unlocked" \| "unlocked"}` |
//! | `POST /v1/unlock` | one custodian's share as the body; answers the state |
//! | `POST /v1/jose` | a request (compact JWE holding a JWS); answers the same way |
//!
//! Requests, by `op`: `tokenize` (`api`: tenant, number, expiry), `detokenize` (`provider`:
//! token), `display` (`api`: tenant, token), `rotate` (`admin`: tenant), `reencrypt` (`admin`:
//! limit). An answer is `{"ok": ...}` or `{"error": {"code", "message"}}`, signed by the
//! vault. A request that does not open is answered in the clear with status 401 and
//! `{"code": "channel_refused"}`.

pub mod config;
mod server;

pub use config::{ConfigError, VaultConfig};
pub use server::{VaultServer, spawn, start};
