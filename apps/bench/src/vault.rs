//! `bench vault`: tokenizations per second through the card vault as deployed: callers sign
//! and encrypt each request (JWS inside JWE) and send it over loopback HTTP to the vault's
//! server, which checks it, seals the card under the tenant's data key, stores it in its own
//! database and records the tokenization in the audit log before answering. Then the audit
//! benchmark (appends per second, verifying an export) with the same options.
//!
//! Recreates `BAZAAR_BENCH_VAULT_URL` (default `.../bazaar_bench_vault`) and
//! `BAZAAR_BENCH_VAULT_AUDIT_URL` (default `.../bazaar_bench_vault_audit`). Each of
//! `--callers` tasks tokenizes new random card numbers (Luhn-valid, Visa range) for one of
//! 1,000 tenants.

use std::sync::Arc;
use std::time::Duration;

use bazaar_domain::payments::CardNumber;
use bazaar_domain::vault::{CardData, CardVault, KeyUse, Share, Tenant, development};
use bazaar_vault::VaultConfig;
use bazaar_vault_client::{OsEntropy, VaultClient};
use rand::Rng;

use crate::stats::{ms, summarize};

pub struct Options {
    seconds: u32,
    callers: u32,
    audit: crate::audit::Options,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Self {
            seconds: 10,
            callers: 16,
            audit: crate::audit::Options::parse(&[])?,
        };
        let mut audit_args = Vec::new();
        for (flag, number) in crate::numeric_flags(args)? {
            match flag {
                "--callers" => options.callers = number.clamp(1, 256),
                "--seconds" => {
                    options.seconds = number.max(1);
                    audit_args.extend([flag.to_owned(), number.to_string()]);
                }
                _ => audit_args.extend([flag.to_owned(), number.to_string()]),
            }
        }
        options.audit = crate::audit::Options::parse(&audit_args)?;
        Ok(options)
    }
}

fn fail<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |error| format!("{what}: {error}")
}

/// A random 16-digit Visa-range number with a valid check digit.
fn random_card(rng: &mut impl Rng) -> Result<CardData, String> {
    let mut digits: Vec<u32> = vec![4];
    digits.extend((0..14).map(|_| rng.random_range(0..10)));
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 0 {
                (d * 2) % 9 + u32::from(*d == 9) * 9
            } else {
                *d
            }
        })
        .sum();
    digits.push((10 - sum % 10) % 10);
    let text: String = digits
        .iter()
        .map(|d| char::from(b'0' + u8::try_from(*d).unwrap_or(0)))
        .collect();
    let number = CardNumber::new(&text).map_err(fail("card number"))?;
    CardData::new(number, 12, 2031).map_err(fail("card"))
}

fn start_vault(database_url: String, audit_url: String) -> Result<String, String> {
    let config = VaultConfig::from_env(|name| match name {
        "BAZAAR_VAULT_LISTEN" => Some("127.0.0.1:0".to_owned()),
        "BAZAAR_VAULT_DATABASE_URL" => Some(database_url.clone()),
        "BAZAAR_VAULT_AUDIT_DATABASE_URL" => Some(audit_url.clone()),
        "BAZAAR_VAULT_POOL_SIZE" => Some("16".to_owned()),
        _ => None,
    })
    .map_err(fail("vault config"))?;
    Ok(format!("http://{}", bazaar_vault::spawn(config)?.addr))
}

async fn tokenize(url: String, options: &Options) -> Result<(Vec<u64>, u64, Duration), String> {
    let client = |name: &str| {
        VaultClient::new(
            &url,
            development::party(name),
            development::party("vault").peer(),
            development::channel_key(),
        )
    };
    let (a, b) = Share::generate_pair(KeyUse::Test, &OsEntropy);
    client("admin")
        .unlock(&a.encode())
        .await
        .map_err(fail("unlock"))?;
    client("admin")
        .unlock(&b.encode())
        .await
        .map_err(fail("unlock"))?;
    let api = Arc::new(client("api"));
    crate::stats::drive(options.callers, options.seconds, move |n| {
        let api = api.clone();
        async move {
            let tenant = Tenant::new(&format!("buyer:{}", n % 1_000));
            let card = random_card(&mut rand::rng());
            match (tenant, card) {
                (Ok(tenant), Ok(card)) => api.tokenize(&tenant, &card).await.is_ok(),
                _ => false,
            }
        }
    })
    .await
}

pub fn run(options: Options) -> Result<(), String> {
    let url = std::env::var("BAZAAR_BENCH_VAULT_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/bazaar_bench_vault".to_owned());
    let audit_url = std::env::var("BAZAAR_BENCH_VAULT_AUDIT_URL").unwrap_or_else(|_| {
        "postgres://postgres@127.0.0.1:5432/bazaar_bench_vault_audit".to_owned()
    });
    crate::ledger::recreate_database(&audit_url)?;
    let parsed = bazaar_schema::database::DatabaseUrl::parse(&url).map_err(fail("vault url"))?;
    let mut admin = <diesel::PgConnection as diesel::Connection>::establish(&parsed.admin)
        .map_err(fail("connect"))?;
    bazaar_schema::database::drop_database(&mut admin, &parsed.name).map_err(fail("drop"))?;
    let vault = start_vault(url, audit_url)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(fail("runtime"))?;
    let (latencies, errors, elapsed) = runtime.block_on(tokenize(vault, &options))?;
    let done = summarize(latencies, elapsed, errors);
    println!(
        "tokenizations: {} in {:.1} s from {} callers: {}/s, p50 {} ms, p99 {} ms, {} errors",
        done.operations,
        elapsed.as_secs_f64(),
        options.callers,
        done.per_second,
        ms(done.p50_us),
        ms(done.p99_us),
        done.errors
    );
    println!(
        "vault: tokenize_per_s={} tokenize_p99_ms={} callers={}",
        done.per_second,
        ms(done.p99_us),
        options.callers
    );
    crate::audit::run(options.audit)
}
