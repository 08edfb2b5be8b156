//! `bazaar-vault`: the card vault's process and its custodians' and administrators' tool.
//!
//! ```text
//! bazaar-vault serve                 run the vault (locked until both shares are given)
//! bazaar-vault keygen [--test]       print two custodian shares of a new master key
//! bazaar-vault unlock SHARE_FILE     give one custodian's share to the running vault
//! bazaar-vault status                whether the running vault serves
//! bazaar-vault rotate TENANT         make a new data key for TENANT (admin key)
//! bazaar-vault reencrypt [BATCH]     move sealed cards onto their tenant's newest key
//! ```
//!
//! Settings come from the environment (see `VaultConfig`); the tool reaches the vault at
//! `BAZAAR_VAULT_URL` (`http://127.0.0.1:8090`) and signs as `admin` with
//! `BAZAAR_VAULT_ADMIN_SEED`, trusting `BAZAAR_VAULT_PUBLIC_KEY` (development keys when
//! unset).

use std::io::Write;
use std::process::ExitCode;

use bazaar_domain::vault::channel::{ChannelKey, Party, Peer};
use bazaar_domain::vault::{KeyUse, Share, Tenant, development};
use bazaar_vault::VaultConfig;
use bazaar_vault_client::{OsEntropy, VaultClient};

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

fn admin_client() -> Result<VaultClient, String> {
    let url = env("BAZAAR_VAULT_URL").unwrap_or_else(|| "http://127.0.0.1:8090".to_owned());
    let seed = match env("BAZAAR_VAULT_ADMIN_SEED") {
        Some(text) => hex::decode(text.trim())
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or("BAZAAR_VAULT_ADMIN_SEED must be 64 hex characters")?,
        None => development::seed_of("admin"),
    };
    let vault = match env("BAZAAR_VAULT_PUBLIC_KEY") {
        Some(text) => Peer::from_hex("vault", &text)
            .ok_or("BAZAAR_VAULT_PUBLIC_KEY must be 64 hex characters")?,
        None => development::party("vault").peer(),
    };
    let key = match env("BAZAAR_VAULT_CHANNEL_KEY") {
        Some(text) => ChannelKey::from_hex(&text)
            .ok_or("BAZAAR_VAULT_CHANNEL_KEY must be 64 hex characters")?,
        None => development::channel_key(),
    };
    Ok(VaultClient::new(
        &url,
        Party::new("admin", seed),
        vault,
        key,
    ))
}

async fn serve() -> Result<(), String> {
    let config = VaultConfig::from_env(env).map_err(|error| error.to_string())?;
    let (_, server) = bazaar_vault::start(config)
        .await
        .map_err(|error| error.to_string())?;
    server.await.map_err(|error| error.to_string())
}

fn bar(done: u64, total: u64) -> String {
    const WIDTH: u64 = 30;
    let filled = done
        .saturating_mul(WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH);
    let percent = done.saturating_mul(100).checked_div(total).unwrap_or(100);
    let filled = usize::try_from(filled).unwrap_or(0);
    let empty = usize::try_from(WIDTH).unwrap_or(0).saturating_sub(filled);
    format!(
        "[{}{}] {percent:>3}% {done}/{total}",
        "#".repeat(filled),
        " ".repeat(empty)
    )
}

async fn reencrypt(batch: u32) -> Result<(), String> {
    let client = admin_client()?;
    let mut stderr = std::io::stderr();
    loop {
        let progress = client
            .reencrypt(batch)
            .await
            .map_err(|error| error.to_string())?;
        let done = progress.total.saturating_sub(progress.stale);
        // Progress goes to the terminal, one line redrawn.
        let _ = write!(stderr, "\r{}", bar(done, progress.total));
        let _ = stderr.flush();
        if progress.stale == 0 {
            let _ = writeln!(stderr);
            return Ok(());
        }
    }
}

async fn run(args: &[String]) -> Result<(), String> {
    let arg = |i: usize| args.get(i).map(String::as_str);
    match (arg(1), arg(2)) {
        (None | Some("serve"), _) => serve().await,
        (Some("keygen"), flag) => {
            let key_use = if flag == Some("--test") { KeyUse::Test } else { KeyUse::Live };
            let (a, b) = Share::generate_pair(key_use, &OsEntropy);
            let mut out = std::io::stdout();
            writeln!(out, "{}\n{}", a.encode(), b.encode()).map_err(|e| e.to_string())
        }
        (Some("unlock"), Some(file)) => {
            let share = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
            let state = admin_client()?.unlock(&share).await.map_err(|e| e.to_string())?;
            writeln!(std::io::stdout(), "{state}").map_err(|e| e.to_string())
        }
        (Some("status"), _) => {
            let state = admin_client()?.status().await.map_err(|e| e.to_string())?;
            writeln!(std::io::stdout(), "{state}").map_err(|e| e.to_string())
        }
        (Some("rotate"), Some(tenant)) => {
            let tenant = Tenant::new(tenant).map_err(|e| e.to_string())?;
            let version = admin_client()?.rotate(&tenant).await.map_err(|e| e.to_string())?;
            writeln!(std::io::stdout(), "{tenant}: data key version {version}").map_err(|e| e.to_string())
        }
        (Some("reencrypt"), batch) => {
            let batch = batch.map_or(Ok(500), str::parse).map_err(|_| "BATCH must be a whole number")?;
            reencrypt(batch).await
        }
        _ => Err("usage: bazaar-vault serve | keygen [--test] | unlock SHARE_FILE | status | rotate TENANT | reencrypt [BATCH]".to_owned()),
    }
}

#[actix_web::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "bazaar-vault: {error}");
            ExitCode::FAILURE
        }
    }
}
