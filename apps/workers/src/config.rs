//! The workers' settings, from environment variables with local defaults (README).

use std::str::FromStr;
use std::time::Duration;

/// Which loops a worker process runs. Any number of processes may run any mix; they share the
/// work through the database (the relay, delivery) and RabbitMQ (the consumers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Publishes the outbox to RabbitMQ.
    Relay,
    /// Consumes every event into the sellers' event counts.
    Activity,
    /// Consumes events into webhook deliveries, and sends deliveries.
    Webhooks,
    /// Releases funds, runs scheduled payouts, drives payouts and applies rail events.
    Payouts,
}

impl FromStr for Role {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name.trim() {
            "relay" => Ok(Self::Relay),
            "activity" => Ok(Self::Activity),
            "webhooks" => Ok(Self::Webhooks),
            "payouts" => Ok(Self::Payouts),
            other => Err(format!(
                "unknown role {other:?} (relay, activity, webhooks, payouts)"
            )),
        }
    }
}

/// Everything a worker process reads from its environment.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// `BAZAAR_DATABASE_URL`.
    pub database_url: String,
    /// `BAZAAR_AMQP_URL` (default the local broker, guest/guest).
    pub amqp_url: String,
    /// `BAZAAR_AMQP_PREFIX` (default `bazaar`): the prefix of every exchange and queue name.
    pub amqp_prefix: String,
    /// `BAZAAR_SECRETS_KEY`: 64 hex characters, the flat key of webhook secrets and bank
    /// details; required without a vault, with one it only opens what it sealed before.
    pub secrets_key: String,
    /// The card vault (`BAZAAR_VAULT_URL` and the channel's keys, as the API reads them),
    /// whose keyrings seal webhook secrets and bank details.
    pub vault: Option<bazaar_vault_client::link::VaultLink>,
    /// `BAZAAR_WORKER_ROLES` (default `relay,activity,webhooks`).
    pub roles: Vec<Role>,
    /// `BAZAAR_RELAY_BATCH` (default 1000): events per publish.
    pub relay_batch: u32,
    /// `BAZAAR_RELAY_IDLE_MS` (default 20): how often an idle relay looks at the outbox.
    pub relay_idle: Duration,
    /// `BAZAAR_CONSUMER_PREFETCH` (default 512): unacknowledged messages per consumer; they are
    /// applied in chunks of a quarter of this, four chunks at a time.
    pub prefetch: u16,
    /// `BAZAAR_RETRY_DELAYS_MS` (default `1000,10000,60000,600000`): the consumers' retry steps.
    pub retry_delays: Vec<Duration>,
    /// `BAZAAR_DELIVERY_POLL_MS` (default 500): how often due webhook retries are looked for.
    pub delivery_poll: Duration,
    /// `BAZAAR_DELIVERY_CONCURRENCY` (default 256): webhook requests in flight per process.
    pub delivery_concurrency: usize,
    /// `BAZAAR_WEBHOOK_DISABLE_AFTER` (default 100): failed attempts in a row that disable an
    /// endpoint.
    pub disable_after: u32,
    /// `BAZAAR_WEBHOOK_RETRY_FIRST_MS` (default 30000): the first retry delay; later ones double.
    pub retry_first: Duration,
    /// `BAZAAR_RELAY_LEASE_MS` (default 30000): how long a relay holds events it claimed; a
    /// relay that dies gives them back after this.
    pub relay_lease: Duration,
    /// `BAZAAR_DELIVERY_LEASE_MS` (default 60000): how long a worker holds a delivery it is
    /// sending (more than the 10 s request timeout); a worker that dies gives it back after this.
    pub delivery_lease: Duration,
    /// `BAZAAR_WEBHOOK_ALLOW_LOOPBACK_HTTP` (default `0`): `1` lets deliveries go to loopback
    /// addresses, for local testing; every other blocked address stays blocked.
    pub allow_loopback: bool,
    /// `BAZAAR_DB_POOL` (default 8).
    pub db_pool: u32,
    /// `BAZAAR_LOG_FORMAT` `json` or `text`.
    pub log_json: bool,
    /// A name for this process in logs and the broker's connection list.
    pub name: String,
    /// `BAZAAR_ENV`: `production` refuses the payouts role while its only rail connector is
    /// the sandbox.
    pub production: bool,
    /// How often the payouts role applies rail events and resumes payouts.
    pub payout_poll: Duration,
    /// How often the payouts role runs releases and scheduled payouts over every seller.
    pub payout_run_every: Duration,
    /// `BAZAAR_LOAN_CHARGE_OFF_DAYS` (default 90): how long a loan may be past due before
    /// the payouts role's servicing run charges it off.
    pub loan_charge_off_days: u16,
}

/// A setting that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} is invalid: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

fn setting<T: FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name).ok().filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(value) => value.trim().parse().map_err(|error: T::Err| ConfigError {
            name,
            reason: error.to_string(),
        }),
    }
}

fn list<T: FromStr>(name: &'static str, default: &str) -> Result<Vec<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    setting(name, default.to_owned())?
        .split(',')
        .filter(|item| !item.trim().is_empty())
        .map(|item| {
            item.trim().parse().map_err(|error: T::Err| ConfigError {
                name,
                reason: error.to_string(),
            })
        })
        .collect()
}

/// A switch, off unless set: `1`, `true`, `yes` or `on`, or `0`, `false`, `no` or `off`.
fn flag(name: &'static str) -> Result<bool, ConfigError> {
    match setting(name, String::new())?.as_str() {
        "" | "0" | "false" | "no" | "off" => Ok(false),
        "1" | "true" | "yes" | "on" => Ok(true),
        other => Err(ConfigError {
            name,
            reason: format!(
                "expected 1 or 0, found {:?}",
                other.chars().take(16).collect::<String>()
            ),
        }),
    }
}

/// `BAZAAR_ENV`: whether it is `production` (the default is `development`).
fn environment() -> Result<bool, ConfigError> {
    match setting("BAZAAR_ENV", "development".to_owned())?.as_str() {
        "development" => Ok(false),
        "production" => Ok(true),
        _ => Err(ConfigError {
            name: "BAZAAR_ENV",
            reason: "expected development or production".to_owned(),
        }),
    }
}

fn millis(name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    setting(name, default).map(Duration::from_millis)
}

impl WorkerConfig {
    /// Reads the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let secrets_key = setting("BAZAAR_SECRETS_KEY", String::new())?;
        let vault = bazaar_vault_client::link::VaultLink::from_env(|name| std::env::var(name).ok())
            .map_err(|error| ConfigError {
                name: error.name,
                reason: error.reason.to_owned(),
            })?;
        if secrets_key.is_empty() && vault.is_none() {
            return Err(ConfigError {
                name: "BAZAAR_SECRETS_KEY",
                reason: "required without BAZAAR_VAULT_URL: 64 hex characters (scripts/run \
                         makes one for local use)"
                    .to_owned(),
            });
        }
        Ok(Self {
            vault,
            database_url: setting(
                "BAZAAR_DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/bazaar".to_owned(),
            )?,
            amqp_url: setting(
                "BAZAAR_AMQP_URL",
                "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned(),
            )?,
            amqp_prefix: setting("BAZAAR_AMQP_PREFIX", "bazaar".to_owned())?,
            secrets_key,
            roles: list("BAZAAR_WORKER_ROLES", "relay,activity,webhooks,payouts")?,
            relay_batch: setting("BAZAAR_RELAY_BATCH", 1000_u32)?.clamp(1, 10_000),
            relay_idle: millis("BAZAAR_RELAY_IDLE_MS", 20)?,
            prefetch: setting("BAZAAR_CONSUMER_PREFETCH", 512_u16)?.max(1),
            retry_delays: list::<u64>("BAZAAR_RETRY_DELAYS_MS", "1000,10000,60000,600000")?
                .into_iter()
                .map(Duration::from_millis)
                .collect(),
            delivery_poll: millis("BAZAAR_DELIVERY_POLL_MS", 500)?,
            delivery_concurrency: setting("BAZAAR_DELIVERY_CONCURRENCY", 256_usize)?.max(1),
            disable_after: setting("BAZAAR_WEBHOOK_DISABLE_AFTER", 100_u32)?.max(1),
            retry_first: millis("BAZAAR_WEBHOOK_RETRY_FIRST_MS", 30_000)?,
            relay_lease: millis("BAZAAR_RELAY_LEASE_MS", 30_000)?,
            delivery_lease: millis("BAZAAR_DELIVERY_LEASE_MS", 60_000)?,
            allow_loopback: flag("BAZAAR_WEBHOOK_ALLOW_LOOPBACK_HTTP")?,
            db_pool: setting("BAZAAR_DB_POOL", 8_u32)?.max(1),
            loan_charge_off_days: setting("BAZAAR_LOAN_CHARGE_OFF_DAYS", 90_u16)?.max(1),
            log_json: setting("BAZAAR_LOG_FORMAT", String::new())? == "json",
            name: setting(
                "BAZAAR_WORKER_NAME",
                format!("bazaar-workers-{}", std::process::id()),
            )?,
            production: environment()?,
            payout_poll: millis("BAZAAR_PAYOUT_POLL_MS", 5_000)?,
            payout_run_every: millis("BAZAAR_PAYOUT_RUN_MS", 600_000)?,
        })
    }
}
