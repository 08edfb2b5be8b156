//! The vault's HTTP server: status, unlock, and the channel's one route.

use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bazaar_domain::payments::CardNumber;
use bazaar_domain::vault::channel::{self, ChannelKey, Opened, Party, Peer, ReplayGuard};
use bazaar_domain::vault::{
    Caller, CardData, CardToken, KeyringPurpose, LockState, Share, Tenant, Vault, VaultError,
};
use bazaar_ledger::Timestamp;
use bazaar_postgres::{PostgresAudit, PostgresVault, RetryPolicy};
use bazaar_vault_client::{OsEntropy, unix_now};
use serde_json::{Value, json};

use crate::VaultConfig;

/// The largest request body accepted, in bytes.
const BODY_LIMIT: usize = 16 * 1024;
/// How many message ids the replay guard holds.
const REPLAY_CAPACITY: usize = 1_000_000;

type Store = Vault<PostgresVault, PostgresAudit>;

struct State {
    vault: Store,
    me: Party,
    peers: Vec<Peer>,
    key: ChannelKey,
    replay: Mutex<ReplayGuard>,
}

/// A running vault: where it listens, and how to stop it.
#[derive(Debug)]
pub struct VaultServer {
    /// The bound address.
    pub addr: SocketAddr,
    /// Stops the server.
    pub handle: ServerHandle,
}

fn now() -> Timestamp {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX)
        });
    Timestamp::from_micros(micros)
}

fn state_name(state: LockState) -> &'static str {
    match state {
        LockState::Locked => "locked",
        LockState::HalfUnlocked(_) => "half_unlocked",
        LockState::Unlocked => "unlocked",
    }
}

/// Creates and migrates the vault's database if needed, and starts serving (locked) on `config.listen`.
pub async fn start(config: VaultConfig) -> std::io::Result<(VaultServer, actix_web::dev::Server)> {
    PostgresVault::prepare(&config.database_url)
        .await
        .map_err(|error| std::io::Error::other(format!("vault database: {error}")))?;
    let store = PostgresVault::new(
        &config.database_url,
        config.pool_size,
        RetryPolicy::default(),
    );
    let audit = PostgresAudit::new(
        &config.audit_database_url,
        config.pool_size,
        RetryPolicy::default(),
    );
    let state = web::Data::new(State {
        vault: Vault::new(store, audit, Box::new(OsEntropy), config.production),
        me: config.me,
        peers: config.peers,
        key: config.channel_key,
        replay: Mutex::new(ReplayGuard::new(REPLAY_CAPACITY)),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(BODY_LIMIT))
            .route("/v1/status", web::get().to(status))
            .route("/v1/unlock", web::post().to(unlock))
            .route("/v1/jose", web::post().to(jose))
    })
    .workers(2)
    .bind(config.listen)?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| std::io::Error::other("the vault bound no address"))?;
    let server = server.run();
    tracing::info!(%addr, "vault listening, locked until both custodians' shares are given");
    Ok((
        VaultServer {
            addr,
            handle: server.handle(),
        },
        server,
    ))
}

async fn status(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"state": state_name(state.vault.state())}))
}

fn refusal(status: actix_web::http::StatusCode, error: &VaultError) -> HttpResponse {
    HttpResponse::build(status).json(json!({"code": error.code(), "message": error.to_string()}))
}

async fn unlock(request: HttpRequest, state: web::Data<State>, body: String) -> HttpResponse {
    use actix_web::http::StatusCode;
    if !request
        .peer_addr()
        .is_some_and(|peer| peer.ip().is_loopback())
    {
        return refusal(StatusCode::FORBIDDEN, &VaultError::Forbidden);
    }
    let result = match Share::parse(&body) {
        Ok(share) => state.vault.give_share(share, now()).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(lock) => {
            tracing::info!(state = state_name(lock), "custodian share given");
            HttpResponse::Ok().json(json!({"state": state_name(lock)}))
        }
        Err(error) => {
            tracing::warn!(%error, "custodian share refused");
            let status = match error {
                VaultError::Store(_) | VaultError::Audit => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            refusal(status, &error)
        }
    }
}

async fn jose(state: web::Data<State>, body: String) -> HttpResponse {
    let opened =
        channel::open(&body, "vault", &state.key, &state.peers, unix_now()).and_then(|opened| {
            state
                .replay
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .check(&opened, unix_now())
                .map(|()| opened)
        });
    let opened = match opened {
        Ok(opened) => opened,
        Err(error) => {
            tracing::warn!(%error, "vault request refused by the channel");
            return refusal(
                actix_web::http::StatusCode::UNAUTHORIZED,
                &VaultError::Channel(error),
            );
        }
    };
    let op = opened
        .body
        .get("op")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let answer = match dispatch(&state.vault, &opened).await {
        Ok(ok) => {
            tracing::info!(caller = %opened.from, op, "vault request served");
            json!({"ok": ok})
        }
        Err(error) => {
            tracing::warn!(caller = %opened.from, op, %error, "vault request refused");
            json!({"error": {"code": error.code(), "message": error.to_string()}})
        }
    };
    match channel::seal(
        &state.me,
        &opened.from,
        &state.key,
        answer,
        unix_now(),
        &OsEntropy,
    ) {
        Ok(sealed) => HttpResponse::Ok()
            .content_type("application/jose")
            .body(sealed),
        Err(error) => {
            tracing::error!(%error, "the vault could not seal its answer");
            HttpResponse::InternalServerError().finish()
        }
    }
}

fn text<'v>(body: &'v Value, name: &'static str) -> Result<&'v str, VaultError> {
    body.get(name)
        .and_then(Value::as_str)
        .ok_or(VaultError::InvalidInput("a field is missing or not text"))
}

fn small<T: TryFrom<u64>>(body: &Value, name: &'static str) -> Result<T, VaultError> {
    body.get(name)
        .and_then(Value::as_u64)
        .and_then(|n| T::try_from(n).ok())
        .ok_or(VaultError::InvalidInput(
            "a field is missing or out of range",
        ))
}

fn display_json(display: &bazaar_domain::vault::CardDisplay) -> Value {
    json!({
        "bin": display.bin,
        "last4": display.last4,
        "brand": display.brand.as_str(),
        "expiry_month": display.expiry_month,
        "expiry_year": display.expiry_year,
    })
}

async fn dispatch(vault: &Store, opened: &Opened) -> Result<Value, VaultError> {
    let caller = Caller::from_name(&opened.from).ok_or(VaultError::Forbidden)?;
    let body = &opened.body;
    match text(body, "op")? {
        "tokenize" => {
            let tenant = Tenant::new(text(body, "tenant")?)?;
            let number = CardNumber::new(text(body, "number")?)
                .map_err(|_| VaultError::InvalidInput("not a card number"))?;
            let card = CardData::new(
                number,
                small(body, "expiry_month")?,
                small(body, "expiry_year")?,
            )?;
            let vaulted = vault.tokenize(caller, &tenant, &card, now()).await?;
            let mut answer = display_json(&vaulted.display);
            if let Some(fields) = answer.as_object_mut() {
                fields.insert("token".to_owned(), json!(vaulted.token.as_str()));
                fields.insert("fingerprint".to_owned(), json!(vaulted.fingerprint));
            }
            Ok(answer)
        }
        "detokenize" => {
            let token = CardToken::parse(text(body, "token")?)?;
            let card = vault.detokenize(caller, &token, now()).await?;
            Ok(json!({
                "number": card.number.expose(),
                "expiry_month": card.expiry_month,
                "expiry_year": card.expiry_year,
            }))
        }
        "display" => {
            let tenant = Tenant::new(text(body, "tenant")?)?;
            let token = CardToken::parse(text(body, "token")?)?;
            Ok(display_json(&vault.display(caller, &tenant, &token).await?))
        }
        "keyring" => {
            let purpose = KeyringPurpose::parse(text(body, "purpose")?)?;
            let keyring = vault.keyring(caller, purpose, now()).await?;
            let keys: Vec<Value> = keyring
                .keys()
                .iter()
                .map(|key| json!({"version": key.version, "key": hex::encode(key.expose_bytes())}))
                .collect();
            Ok(json!({"purpose": purpose.name(), "keys": keys}))
        }
        "rotate" => {
            let tenant = Tenant::new(text(body, "tenant")?)?;
            Ok(json!({"version": vault.rotate(caller, &tenant, now()).await?}))
        }
        "reencrypt" => {
            let progress = vault
                .reencrypt(caller, small(body, "limit")?, now())
                .await?;
            Ok(json!({"stale": progress.stale, "total": progress.total}))
        }
        _ => Err(VaultError::InvalidInput("unknown op")),
    }
}

/// Starts the vault on a thread of its own (its own actix system), as a process would run
/// it; answers where it listens and how to stop it. For tests and benchmarks that need a
/// vault beside them.
pub fn spawn(config: VaultConfig) -> Result<VaultServer, String> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            match start(config).await {
                Ok((server, running)) => {
                    let _ = sender.send(Ok(server));
                    if let Err(error) = running.await {
                        tracing::error!(%error, "the vault stopped");
                    }
                }
                Err(error) => {
                    let _ = sender.send(Err(error.to_string()));
                }
            }
        });
    });
    receiver
        .recv()
        .map_err(|_| "the vault's thread ended before it started".to_owned())?
}
