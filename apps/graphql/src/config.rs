//! Configuration from environment variables, with local defaults.

use std::net::SocketAddr;
use std::str::FromStr;

use bazaar_postgres::SecretKey;
use rust_decimal::Decimal;

/// Everything the server reads from its environment. See the README's configuration table.
#[derive(Clone, Debug)]
pub struct Config {
    /// `BAZAAR_DATABASE_URL`: created if missing, then migrated.
    pub database_url: String,
    /// `BAZAAR_HTTP_ADDR`: where the server listens; loopback by default.
    pub http_addr: SocketAddr,
    /// `BAZAAR_DEMO=1` or `--demo`: load demo data into an empty database.
    pub demo: bool,
    /// `BAZAAR_GRAPHIQL` (default `1`): serve GraphiQL at `GET /graphql`.
    pub graphiql: bool,
    /// `BAZAAR_SANDBOX_HMAC_KEY`: the key the sandbox provider signs notifications with.
    pub sandbox_hmac_key: String,
    /// `BAZAAR_ECB_FILE`: a copy of the ECB's `eurofxref-daily.xml`, read at start and again
    /// every `fx_refresh_secs`; the bundled file of 18 July 2022 (never refreshed) if neither
    /// this nor `BAZAAR_ECB_URL` is set.
    pub ecb_file: Option<String>,
    /// `BAZAAR_CONFIGURED_RATES`: the second rate table, `base=USD;KWD 0.3075;...`.
    pub configured_rates: String,
    /// `BAZAAR_FX_SPREAD` (default `0.02`).
    pub fx_spread: Decimal,
    /// `BAZAAR_HTTP_WORKERS` (default: the number of cores).
    pub http_workers: usize,
    /// `BAZAAR_DB_POOL` (default 16): connections for the commerce, identity and events stores
    /// each.
    pub db_pool: u32,
    /// `BAZAAR_QUERY_DEPTH_MAX` (default 10) and `BAZAAR_QUERY_COST_MAX` (default 2000).
    pub query_depth_max: usize,
    pub query_cost_max: usize,
    /// `BAZAAR_READ_CACHE_MS` (default 500, 0 for none): how long the answer to an anonymous
    /// query is kept and shared, which bounds how late a change shows in it.
    pub read_cache_ms: u32,
    /// `BAZAAR_PRODUCT_CACHE_SECS` (default 60, 0 for none): how long an anonymous answer
    /// that reads only products named by id may be kept while the catalogue's change feed
    /// vouches that none of them changed.
    pub product_cache_secs: u32,
    /// `BAZAAR_BODY_LIMIT_BYTES` (default 65536).
    pub body_limit_bytes: usize,
    /// `BAZAAR_SESSION_SECS` (default 7 days).
    pub session_secs: u32,
    /// `BAZAAR_LOG_FORMAT` `json` or `text` (default `text`).
    pub log_json: bool,
    /// `BAZAAR_WORKERS` (default `1`): run the background workers in this process.
    pub workers: bool,
    /// `BAZAAR_DEMO_PRODUCTS` (default 3,000, at most 1,000,000): the demo catalogue's size.
    pub demo_products: u32,
    /// `BAZAAR_SECRETS_KEY`: 64 hex characters, the flat key of webhook secrets and bank
    /// details. With a vault it only opens what it sealed before (re-sealing moves that onto
    /// the vault's keyrings). Without a vault and unset, the server makes a key of its own
    /// at start (and warns), which secrets sealed before a restart do not open with.
    pub secrets_key: Option<SecretKey>,
    /// `BAZAAR_AUDIT_SIGNING_KEY`: 64 hex characters, the Ed25519 seed that signs the audit
    /// log's checkpoints and exports. `None` when unset: a public development key is used,
    /// which production mode refuses.
    pub audit_signing_key: Option<[u8; 32]>,
    /// The card vault, when `BAZAAR_VAULT_URL` is set (see `bazaar_vault_client::link`).
    pub vault: Option<bazaar_vault_client::link::VaultLink>,
    /// `BAZAAR_AUDIT_CHECKPOINT_SECS` (default 300): how often the workers sign a checkpoint
    /// of the audit log.
    pub audit_checkpoint_secs: u32,
    /// `BAZAAR_AUDIT_RETENTION_DAYS` (default 366): audit records older than this are purged.
    pub audit_retention_days: u32,
    /// `BAZAAR_WEBHOOK_ALLOW_LOOPBACK_HTTP` (default `0`): accept `http://` webhook URLs to
    /// `127.0.0.1`, `localhost` or `[::1]`, and https URLs to local or private hosts. Off, only
    /// https URLs to public hosts are accepted.
    pub webhook_allow_loopback_http: bool,
    /// `BAZAAR_ECB_URL`: where the rates worker fetches the ECB's `eurofxref-daily.xml`
    /// (`http://` or `https://`); not together with `BAZAAR_ECB_FILE`.
    pub ecb_url: Option<String>,
    /// `BAZAAR_FX_REFRESH_SECS` (default 3600): how often the rates worker fetches the
    /// ECB file from `BAZAAR_ECB_URL` or `BAZAAR_ECB_FILE`.
    pub fx_refresh_secs: u32,
    /// `BAZAAR_FX_MAX_AGE_SECS` (default 108000, 30 hours): how long after the ECB should
    /// have replaced them the newest rates may still be quoted; `0` never refuses. Enforced
    /// only when a refresh source (`BAZAAR_ECB_URL` or `BAZAAR_ECB_FILE`) is set.
    pub fx_max_age_secs: u32,
    /// Sign-in and sign-up limits (`BAZAAR_AUTH_*`); see `docs/security.md`.
    pub auth: AuthLimitsConfig,
    /// `BAZAAR_ENV` `development` (default) or `production`: production refuses to start with
    /// anything meant only for local use ([`Config::check_production`]).
    pub environment: Environment,
    /// `BAZAAR_PAYMENT_PROVIDER` `sandbox` (default) or `none`. Only the sandbox mounts its
    /// controls (`/sandbox/payments/...`) and its notification endpoint.
    pub payment_provider: PaymentProviderKind,
    /// `BAZAAR_PAYOUT_RAILS` `sandbox` (default) or `none`.
    pub payout_rails: PayoutRailsKind,
    /// `BAZAAR_METRICS_TOKEN`: when set, `GET /metrics` needs `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// `BAZAAR_METRICS_OPERATIONS_MAX` (default 100): how many distinct GraphQL operation names
    /// get a metrics label of their own; later ones are counted as `other`.
    pub metrics_operations_max: usize,
    /// `BAZAAR_TAX_ENGINE` (default `1`): checkouts ask the tax engine; `0` taxes nothing.
    pub tax_engine: bool,
    /// `BAZAAR_JP_DESIGNATED_PLATFORM` (default `0`): Japan's National Tax Agency designated
    /// Bazaar a platform operator liable for foreign sellers' e-services to consumers.
    pub jp_designated_platform: bool,
    /// `BAZAAR_LOAN_MIN_HISTORY_DAYS` (default 180): how long a seller must have sold before
    /// it gets a loan offer (`docs/lending.md`).
    pub loan_min_history_days: u16,
    /// `BAZAAR_VAT_NUMBER` (default `IE6388047V`, a sandbox number): Bazaar's own VAT
    /// number, on whose behalf buyers' numbers are checked with the registry.
    pub vat_number: String,
    /// `BAZAAR_SANDBOX_VIES_REGISTERED` (empty by default): VAT numbers the sandbox
    /// registry knows as registered, comma-separated.
    pub sandbox_vies_registered: Vec<String>,
}

/// The limits on signing in and signing up. See the README's configuration table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthLimitsConfig {
    /// `BAZAAR_AUTH_HASH_CONCURRENCY` (default: the number of cores): password hashes
    /// computed at once.
    pub hash_concurrency: usize,
    /// `BAZAAR_AUTH_HASH_QUEUE` (default: 4 per core): password hashes waiting for a slot;
    /// beyond, a sign-in or sign-up is refused with 503.
    pub hash_queue: usize,
    /// `BAZAAR_AUTH_IP_BURST` (default 20) and `BAZAAR_AUTH_IP_REFILL_MS` (default 3000):
    /// attempts per client address, and the time one more attempt takes to come back.
    pub ip_burst: u32,
    pub ip_refill_ms: u64,
    /// `BAZAAR_AUTH_ACCOUNT_BURST` (default 10) and `BAZAAR_AUTH_ACCOUNT_REFILL_MS` (default
    /// 60000): attempts per e-mail address, from anywhere.
    pub account_burst: u32,
    pub account_refill_ms: u64,
    /// `BAZAAR_AUTH_BACKOFF_AFTER` (default 3), `BAZAAR_AUTH_BACKOFF_BASE_MS` (default 1000)
    /// and `BAZAAR_AUTH_BACKOFF_MAX_MS` (default 60000): failed sign-ins in a row from one
    /// address to one account before each further attempt waits, the first wait (doubling
    /// per failure), and the longest.
    pub backoff_after: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// `BAZAAR_AUTH_KEYS_MAX` (default 100000): addresses, accounts and address-account pairs
    /// tracked each; the idle, then the least recently seen, are forgotten first.
    pub keys_max: usize,
    /// `BAZAAR_CLIENT_IP_HEADER` (unset by default): a header that a trusted reverse proxy
    /// sets to the client's address (e.g. `x-forwarded-for`; its last entry is used). Unset,
    /// the peer address of the connection is the client's.
    pub client_ip_header: Option<String>,
}

impl AuthLimitsConfig {
    fn from_env(cores: usize) -> Result<Self, ConfigError> {
        Ok(Self {
            hash_concurrency: parse("BAZAAR_AUTH_HASH_CONCURRENCY", cores)?.max(1),
            hash_queue: parse("BAZAAR_AUTH_HASH_QUEUE", cores.saturating_mul(4))?,
            ip_burst: parse("BAZAAR_AUTH_IP_BURST", 20_u32)?.max(1),
            ip_refill_ms: parse("BAZAAR_AUTH_IP_REFILL_MS", 3_000_u64)?.max(1),
            account_burst: parse("BAZAAR_AUTH_ACCOUNT_BURST", 10_u32)?.max(1),
            account_refill_ms: parse("BAZAAR_AUTH_ACCOUNT_REFILL_MS", 60_000_u64)?.max(1),
            backoff_after: parse("BAZAAR_AUTH_BACKOFF_AFTER", 3_u32)?.max(1),
            backoff_base_ms: parse("BAZAAR_AUTH_BACKOFF_BASE_MS", 1_000_u64)?.max(1),
            backoff_max_ms: parse("BAZAAR_AUTH_BACKOFF_MAX_MS", 60_000_u64)?.max(1),
            keys_max: parse("BAZAAR_AUTH_KEYS_MAX", 100_000_usize)?.max(1),
            client_ip_header: var("BAZAAR_CLIENT_IP_HEADER").map(|h| h.trim().to_ascii_lowercase()),
        })
    }
}

/// The key the sandbox signs notifications with when `BAZAAR_SANDBOX_HMAC_KEY` is unset.
/// It is public, so production mode refuses it.
pub const DEFAULT_SANDBOX_HMAC_KEY: &str = "sandbox-local-notification-key";

/// Production mode refuses notification keys shorter than this many bytes.
pub const PRODUCTION_HMAC_KEY_BYTES_MIN: usize = 32;

/// Production mode refuses metrics tokens shorter than this many characters.
pub const PRODUCTION_METRICS_TOKEN_CHARS_MIN: usize = 32;

/// `BAZAAR_ENV`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Environment {
    Development,
    Production,
}

impl FromStr for Environment {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "development" => Ok(Self::Development),
            "production" => Ok(Self::Production),
            _ => Err("expected development or production".to_owned()),
        }
    }
}

/// A connector to a service that cannot be reached from a test machine
/// (`BAZAAR_PAYMENT_PROVIDER`, `BAZAAR_PAYOUT_RAILS`): the in-process sandbox, or none.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Connector {
    /// The sandbox, with its controls: for local use and tests.
    Sandbox,
    /// None: the service's features are switched off (no payment method is offered; no bank
    /// account can be added).
    None,
}

impl FromStr for Connector {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "sandbox" => Ok(Self::Sandbox),
            "none" => Ok(Self::None),
            _ => Err("expected sandbox or none".to_owned()),
        }
    }
}

/// `BAZAAR_PAYMENT_PROVIDER`.
pub type PaymentProviderKind = Connector;

/// `BAZAAR_PAYOUT_RAILS`.
pub type PayoutRailsKind = Connector;

/// One thing production mode refuses.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ProductionRefusal {
    /// `BAZAAR_PAYMENT_PROVIDER=sandbox`: anyone could pay or decline payments through its
    /// controls.
    SandboxProvider,
    /// `BAZAAR_SANDBOX_HMAC_KEY` unset, the public default, or short: notifications could be
    /// forged.
    WeakHmacKey,
    /// `BAZAAR_VAULT_URL` unset: webhook secrets and bank details would be sealed by one
    /// flat key that never rotates.
    NoVault,
    /// `BAZAAR_GRAPHIQL` on.
    Graphiql,
    /// `BAZAAR_METRICS_TOKEN` unset or short: anyone could read the metrics.
    OpenMetrics,
    /// `BAZAAR_PAYOUT_RAILS=sandbox`: payouts would go nowhere and micro-deposits would be
    /// made up.
    SandboxRails,
    /// `BAZAAR_AUDIT_SIGNING_KEY` unset: the audit log would be signed with the public
    /// development key, so anyone could forge a checkpoint or an export.
    DevelopmentAuditKey,
    /// A card vault configured with a public development key (one variant per key): anyone
    /// could read or forge its channel.
    DevelopmentVaultChannelKey,
    /// See [`ProductionRefusal::DevelopmentVaultChannelKey`].
    DevelopmentVaultApiSeed,
    /// See [`ProductionRefusal::DevelopmentVaultChannelKey`].
    DevelopmentVaultProviderSeed,
    /// See [`ProductionRefusal::DevelopmentVaultChannelKey`].
    DevelopmentVaultPublicKey,
}

impl ProductionRefusal {
    /// What is wrong and how to fix it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::SandboxProvider => {
                "BAZAAR_PAYMENT_PROVIDER is sandbox, whose controls let anyone pay or decline payments; configure another provider (or none)"
            }
            Self::WeakHmacKey => {
                "BAZAAR_SANDBOX_HMAC_KEY is unset, the public default or shorter than 32 bytes; set a secret notification key"
            }
            Self::NoVault => {
                "BAZAAR_VAULT_URL is unset, so webhook secrets and bank details would be sealed by one flat key that never rotates; run the card vault"
            }
            Self::Graphiql => "BAZAAR_GRAPHIQL is on; set BAZAAR_GRAPHIQL=0",
            Self::OpenMetrics => {
                "BAZAAR_METRICS_TOKEN is unset or shorter than 32 characters, so anyone could read /metrics; set a bearer token"
            }
            Self::SandboxRails => {
                "BAZAAR_PAYOUT_RAILS is sandbox, whose payouts reach no bank; configure another connector (or none)"
            }
            Self::DevelopmentAuditKey => {
                "BAZAAR_AUDIT_SIGNING_KEY is unset, so the audit log would be signed with the public development key; set 64 hex characters"
            }
            Self::DevelopmentVaultChannelKey => {
                "BAZAAR_VAULT_CHANNEL_KEY is unset, so the card vault's channel would use the public development key; set 64 hex characters"
            }
            Self::DevelopmentVaultApiSeed => {
                "BAZAAR_VAULT_API_SEED is unset, so anyone could sign as the API to the card vault; set 64 hex characters"
            }
            Self::DevelopmentVaultProviderSeed => {
                "BAZAAR_VAULT_PROVIDER_SEED is unset, so anyone could detokenize cards as the provider; set 64 hex characters"
            }
            Self::DevelopmentVaultPublicKey => {
                "BAZAAR_VAULT_PUBLIC_KEY is unset, so anyone could answer as the card vault; set its Ed25519 public key"
            }
        }
    }
}

/// Production mode found settings meant only for local use; the server does not start.
#[derive(Debug, thiserror::Error)]
#[error(
    "production mode (BAZAAR_ENV=production) refuses to start: {}",
    .refused.iter().map(|r| r.describe()).collect::<Vec<_>>().join("; ")
)]
pub struct ProductionError {
    pub refused: Vec<ProductionRefusal>,
}

/// A variable that is set but cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} is invalid: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse<T: FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(value) => value.trim().parse().map_err(|error: T::Err| ConfigError {
            name,
            reason: error.to_string(),
        }),
    }
}

fn flag(name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match var(name).as_deref().map(str::trim) {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(ConfigError {
            name,
            reason: format!(
                "expected 1 or 0, found {:?}",
                other.chars().take(16).collect::<String>()
            ),
        }),
    }
}

impl Config {
    /// Reads the environment; `args` are the command-line arguments after the program name.
    pub fn from_env(args: &[String]) -> Result<Self, ConfigError> {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Ok(Self {
            database_url: var("BAZAAR_DATABASE_URL")
                .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/bazaar".to_owned()),
            http_addr: parse("BAZAAR_HTTP_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            demo: flag("BAZAAR_DEMO", false)? || args.iter().any(|a| a == "--demo"),
            graphiql: flag("BAZAAR_GRAPHIQL", true)?,
            sandbox_hmac_key: var("BAZAAR_SANDBOX_HMAC_KEY")
                .unwrap_or_else(|| DEFAULT_SANDBOX_HMAC_KEY.to_owned()),
            ecb_file: var("BAZAAR_ECB_FILE"),
            configured_rates: var("BAZAAR_CONFIGURED_RATES")
                .unwrap_or_else(|| "base=USD;KWD 0.3075;BHD 0.376".to_owned()),
            fx_spread: parse("BAZAAR_FX_SPREAD", Decimal::new(2, 2))?,
            http_workers: parse("BAZAAR_HTTP_WORKERS", cores)?.max(1),
            db_pool: parse("BAZAAR_DB_POOL", 16)?,
            query_depth_max: parse("BAZAAR_QUERY_DEPTH_MAX", 10)?,
            query_cost_max: parse("BAZAAR_QUERY_COST_MAX", 2_000)?,
            read_cache_ms: parse("BAZAAR_READ_CACHE_MS", 500_u32)?,
            product_cache_secs: parse("BAZAAR_PRODUCT_CACHE_SECS", 60_u32)?,
            body_limit_bytes: parse("BAZAAR_BODY_LIMIT_BYTES", 65_536)?,
            session_secs: parse("BAZAAR_SESSION_SECS", 7 * 24 * 3600)?,
            log_json: var("BAZAAR_LOG_FORMAT").is_some_and(|f| f == "json"),
            workers: flag("BAZAAR_WORKERS", true)?,
            demo_products: parse("BAZAAR_DEMO_PRODUCTS", 3_000_u32)?.min(1_000_000),
            secrets_key: var("BAZAAR_SECRETS_KEY")
                .map(|hex| {
                    SecretKey::from_hex(&hex).map_err(|error| ConfigError {
                        name: "BAZAAR_SECRETS_KEY",
                        reason: error.to_string(),
                    })
                })
                .transpose()?,
            audit_signing_key: var("BAZAAR_AUDIT_SIGNING_KEY")
                .map(|text| {
                    let mut seed = [0_u8; 32];
                    hex::decode_to_slice(text.trim(), &mut seed)
                        .map(|()| seed)
                        .map_err(|_| ConfigError {
                            name: "BAZAAR_AUDIT_SIGNING_KEY",
                            reason: "expected 64 hex characters".to_owned(),
                        })
                })
                .transpose()?,
            vault: bazaar_vault_client::link::VaultLink::from_env(var).map_err(|error| {
                ConfigError {
                    name: error.name,
                    reason: error.reason.to_owned(),
                }
            })?,
            audit_checkpoint_secs: parse("BAZAAR_AUDIT_CHECKPOINT_SECS", 300_u32)?.max(1),
            audit_retention_days: parse(
                "BAZAAR_AUDIT_RETENTION_DAYS",
                bazaar_domain::audit::RETENTION_DAYS_DEFAULT,
            )?
            .max(1),
            webhook_allow_loopback_http: flag("BAZAAR_WEBHOOK_ALLOW_LOOPBACK_HTTP", false)?,
            ecb_url: ecb_url()?,
            fx_refresh_secs: parse("BAZAAR_FX_REFRESH_SECS", 3_600_u32)?.max(1),
            fx_max_age_secs: parse("BAZAAR_FX_MAX_AGE_SECS", 108_000)?,
            auth: AuthLimitsConfig::from_env(cores)?,
            environment: parse("BAZAAR_ENV", Environment::Development)?,
            payment_provider: parse("BAZAAR_PAYMENT_PROVIDER", PaymentProviderKind::Sandbox)?,
            payout_rails: parse("BAZAAR_PAYOUT_RAILS", PayoutRailsKind::Sandbox)?,
            metrics_token: var("BAZAAR_METRICS_TOKEN").map(|t| t.trim().to_owned()),
            metrics_operations_max: parse("BAZAAR_METRICS_OPERATIONS_MAX", 100)?,
            tax_engine: flag("BAZAAR_TAX_ENGINE", true)?,
            jp_designated_platform: flag("BAZAAR_JP_DESIGNATED_PLATFORM", false)?,
            loan_min_history_days: parse("BAZAAR_LOAN_MIN_HISTORY_DAYS", 180)?,
            vat_number: var("BAZAAR_VAT_NUMBER").unwrap_or_else(|| "IE6388047V".to_owned()),
            sandbox_vies_registered: var("BAZAAR_SANDBOX_VIES_REGISTERED")
                .map(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// What production mode refuses in this configuration; nothing outside production.
    pub fn production_refusals(&self) -> Vec<ProductionRefusal> {
        if self.environment != Environment::Production {
            return Vec::new();
        }
        let checks = [
            (
                self.payment_provider == PaymentProviderKind::Sandbox,
                ProductionRefusal::SandboxProvider,
            ),
            (
                self.sandbox_hmac_key == DEFAULT_SANDBOX_HMAC_KEY
                    || self.sandbox_hmac_key.len() < PRODUCTION_HMAC_KEY_BYTES_MIN,
                ProductionRefusal::WeakHmacKey,
            ),
            (self.vault.is_none(), ProductionRefusal::NoVault),
            (self.graphiql, ProductionRefusal::Graphiql),
            (
                self.audit_signing_key.is_none(),
                ProductionRefusal::DevelopmentAuditKey,
            ),
            (
                self.payout_rails == PayoutRailsKind::Sandbox,
                ProductionRefusal::SandboxRails,
            ),
            (
                self.metrics_token
                    .as_ref()
                    .is_none_or(|t| t.chars().count() < PRODUCTION_METRICS_TOKEN_CHARS_MIN),
                ProductionRefusal::OpenMetrics,
            ),
        ];
        let vault = self
            .vault
            .as_ref()
            .map(bazaar_vault_client::link::VaultLink::development_keys)
            .unwrap_or_default();
        let vault_checks = [
            (vault.channel, ProductionRefusal::DevelopmentVaultChannelKey),
            (vault.api, ProductionRefusal::DevelopmentVaultApiSeed),
            (
                vault.provider,
                ProductionRefusal::DevelopmentVaultProviderSeed,
            ),
            (vault.vault, ProductionRefusal::DevelopmentVaultPublicKey),
        ];
        checks
            .into_iter()
            .chain(vault_checks)
            .filter_map(|(refused, refusal)| refused.then_some(refusal))
            .collect()
    }

    /// Refuses a production configuration that keeps anything meant only for local use.
    pub fn check_production(&self) -> Result<(), ProductionError> {
        let refused = self.production_refusals();
        if refused.is_empty() {
            Ok(())
        } else {
            Err(ProductionError { refused })
        }
    }
}

/// `BAZAAR_ECB_URL`: an http or https URL, and not together with `BAZAAR_ECB_FILE`.
fn ecb_url() -> Result<Option<String>, ConfigError> {
    let Some(url) = var("BAZAAR_ECB_URL").map(|url| url.trim().to_owned()) else {
        return Ok(None);
    };
    let refuse = |reason: &str| ConfigError {
        name: "BAZAAR_ECB_URL",
        reason: reason.to_owned(),
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(refuse("expected an http:// or https:// URL"));
    }
    if var("BAZAAR_ECB_FILE").is_some() {
        return Err(refuse("set BAZAAR_ECB_URL or BAZAAR_ECB_FILE, not both"));
    }
    Ok(Some(url))
}
