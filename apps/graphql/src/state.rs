//! The composed application: stores, ledger, provider, rates, configuration.

use std::sync::Arc;

use bazaar_domain::audit::{AuditSigner, AuditTrail};
use bazaar_domain::chart::ProviderName;
use bazaar_domain::fx::Spread;
use bazaar_domain::identity::{Identity, IdentityPolicy};
use bazaar_domain::lending::{Lending, Policy};
use bazaar_domain::orders::{TaxRates, TaxSetup};
use bazaar_domain::payouts::Payouts;
use bazaar_domain::reconciliation::Reconciliations;
use bazaar_domain::service::{Marketplace, MarketplaceConfig, RESERVATION_SECS_DEFAULT};
use bazaar_domain::tax::{Platform, TaxData};
use bazaar_domain::tax_desk::TaxDesk;
use bazaar_domain::webhooks::{WebhookPolicy, Webhooks};
use bazaar_ledger::{Clock, Timestamp};
use bazaar_payments::{ConfiguredProvider, SandboxProvider};
use bazaar_payouts::{ConfiguredRails, SandboxBank, SandboxRails};
use bazaar_postgres::{
    LedgerConfig, PostgresAudit, PostgresCommerce, PostgresEvents, PostgresIdentity,
    PostgresLedger, PostgresLending, PostgresPayouts, PostgresReconciliation, PostgresTax,
    RetryPolicy, SecretKey, SecretKeys, SystemClock,
};

use crate::config::{Config, PaymentProviderKind};
use crate::metrics::Metrics;

pub type Market = Marketplace<PostgresCommerce, PostgresLedger, ConfiguredProvider>;
pub type Users = Identity<PostgresIdentity, PostgresLedger>;

/// Everything a request or worker needs.
pub struct App {
    pub market: Market,
    pub identity: Users,
    /// Webhook endpoints and deliveries, and the sellers' event counts.
    pub webhooks: Webhooks<PostgresEvents>,
    /// Sellers' bank accounts, schedules, balances and payouts, through the configured rail
    /// connector (the sandbox, or none).
    pub payouts: Payouts<PostgresPayouts, ConfiguredRails, PostgresLedger>,
    /// Finance's imports, reconciliation runs and reports.
    pub reconciliation: Reconciliations<PostgresReconciliation, PostgresLedger>,
    /// The sandbox bank holding the platform's accounts, when the sandbox provider or rails
    /// run: it is credited with the provider's payouts and writes the daily statements.
    pub bank: Option<SandboxBank>,
    /// The last day whose bank statements were imported, as days since 1970-01-01.
    pub statements_through: std::sync::atomic::AtomicI64,
    pub config: Config,
    pub metrics: Metrics,
    clock: Arc<dyn Clock>,
    /// Where the exchange rates come from and how their last refresh went.
    pub rates: crate::rates::Rates,
    /// The last readiness answer, reused for a second.
    pub ready: crate::ready::ReadyCache,
    /// Answers to anonymous queries, kept `read_cache_ms` (none when it is 0), product pages
    /// up to `product_cache_secs` while the catalogue's change feed vouches for them.
    pub read_cache: Option<crate::read_cache::ReadCache>,
    /// Sellers as listings show them, kept `read_cache_ms` like anonymous answers.
    pub sellers:
        crate::read_cache::Kept<bazaar_domain::chart::SellerId, bazaar_domain::catalog::Seller>,
    /// Query texts registered by their hash, for requests that send only the hash.
    pub persisted: crate::read_cache::PersistedQueries,
    /// Parsed query documents by their text, so that a text is parsed once.
    pub documents: crate::documents::ParsedDocuments,
    /// The VAT registry buyers' numbers are checked with: the sandbox, which answers like
    /// VIES from the numbers configured as registered.
    pub vies: bazaar_tax::SandboxVies,
    /// Bazaar's own VAT number: the requester of every registry check.
    pub vat_number: bazaar_domain::tax::VatId,
    /// Sellers' tax registrations and the remittance of tax payables.
    pub tax: TaxDesk<PostgresTax, PostgresLedger>,
    /// Loan offers, loans and the portfolio.
    pub lending: Lending<PostgresLending, PostgresLedger>,
    /// The audit log: sensitive actions recorded, checkpoints, exports.
    pub audit: AuditTrail<PostgresAudit>,
    /// The card vault, signed in as the API (it tokenizes only), when one is configured.
    pub vault: Option<Arc<bazaar_vault_client::VaultClient>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Production(#[from] crate::config::ProductionError),
    #[error(transparent)]
    Setup(#[from] crate::setup::SetupError),
    #[error("cannot start the ledger: {0}")]
    Ledger(bazaar_ledger::StoreError),
    #[error("exchange rates: {0}")]
    Rates(bazaar_domain::fx::FxError),
    #[error("cannot bind the HTTP address: {0}")]
    Bind(std::io::Error),
    #[error("the server stopped with an error: {0}")]
    Server(std::io::Error),
    #[error("metrics: {0}")]
    Metrics(String),
    #[error("demo data: {0}")]
    Demo(String),
    #[error("startup task failed")]
    Task,
    #[error("tax data: {0}")]
    Tax(String),
}

/// How checkouts tax: the engine with the built-in data, unless `BAZAAR_TAX_ENGINE=0`.
fn tax_setup(config: &Config) -> Result<TaxSetup, StartError> {
    let engine = if config.tax_engine {
        let data = TaxData::builtin().map_err(|e| StartError::Tax(e.to_string()))?;
        let platform = Platform {
            jp_designated: config.jp_designated_platform,
        };
        Some((data, platform))
    } else {
        None
    };
    Ok(TaxSetup {
        engine,
        flat: TaxRates::default(),
    })
}

/// The sandbox VAT registry, knowing Bazaar's own number and the configured ones as
/// registered, and Bazaar's own number.
fn vat_registry(
    config: &Config,
) -> Result<(bazaar_tax::SandboxVies, bazaar_domain::tax::VatId), StartError> {
    let parse = |name: &str, text: &str| {
        bazaar_domain::tax::VatId::parse(text).map_err(|e| StartError::Tax(format!("{name}: {e}")))
    };
    let own = parse("BAZAAR_VAT_NUMBER", &config.vat_number)?;
    let vies = bazaar_tax::SandboxVies::new();
    vies.register(&own);
    for number in &config.sandbox_vies_registered {
        vies.register(&parse("BAZAAR_SANDBOX_VIES_REGISTERED", number)?);
    }
    Ok((vies, own))
}

impl App {
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The currencies a seller holds balances in: its settlement currency `home` first,
    /// then every other it holds a balance in (after a conversion).
    pub async fn seller_currencies(
        &self,
        seller: bazaar_domain::chart::SellerId,
        home: bazaar_money::Currency,
    ) -> Result<Vec<bazaar_money::Currency>, bazaar_domain::payouts::PayoutsError> {
        let others = self
            .market
            .rates()
            .currencies()
            .into_iter()
            .filter(|currency| *currency != home)
            .collect();
        let mut currencies = vec![home];
        currencies.extend(self.payouts.balance_currencies(seller, others).await?);
        Ok(currencies)
    }

    /// Prepares the database and composes the application.
    pub async fn build(config: Config) -> Result<Arc<Self>, StartError> {
        config.check_production()?;
        bazaar_postgres::count_queries();
        let url = config.database_url.clone();
        let ran = tokio::task::spawn_blocking(move || crate::setup::prepare_database(&url))
            .await
            .map_err(|_| StartError::Task)??;
        tracing::info!(migrations_run = ran, "database ready");
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let ledger =
            PostgresLedger::connect(LedgerConfig::new(&config.database_url), clock.clone())
                .await
                .map_err(StartError::Ledger)?;
        let store =
            PostgresCommerce::new(&config.database_url, config.db_pool, RetryPolicy::default());
        let identity = Identity::new(
            PostgresIdentity::new(&config.database_url, config.db_pool, RetryPolicy::default()),
            ledger.clone(),
            IdentityPolicy {
                session_secs: config.session_secs,
                ..IdentityPolicy::default()
            },
        );
        let (webhook_keys, bank_keys) = secret_keys(&config);
        let webhooks = Webhooks::new(
            PostgresEvents::new(
                &config.database_url,
                config.db_pool,
                RetryPolicy::default(),
                webhook_keys,
            ),
            WebhookPolicy {
                allow_loopback_http: config.webhook_allow_loopback_http,
                ..WebhookPolicy::default()
            },
        );
        let provider = provider(&config, clock.clone())?;
        let (rates_config, rates) = crate::rates::Rates::start(&config)?;
        let payout_ledger = ledger.clone();
        let (tax, lending) = tax_and_lending(&config, &ledger);
        let reconciliation = Reconciliations::new(
            PostgresReconciliation::new(
                &config.database_url,
                config.db_pool,
                RetryPolicy::default(),
            ),
            ledger.clone(),
        );
        let sandbox = matches!(config.payment_provider, PaymentProviderKind::Sandbox)
            || matches!(config.payout_rails, crate::config::PayoutRailsKind::Sandbox);
        let bank = sandbox.then(|| SandboxBank::new(&config.database_url, config.db_pool));
        let market = Marketplace::new(
            store,
            ledger,
            provider,
            rates,
            MarketplaceConfig {
                spread: Spread::new(config.fx_spread).map_err(StartError::Rates)?,
                tax: tax_setup(&config)?,
                reservation_secs: RESERVATION_SECS_DEFAULT,
            },
            clock.clone(),
        );
        let (vies, vat_number) = vat_registry(&config)?;
        let metrics = Metrics::new(config.metrics_operations_max)
            .map_err(|e| StartError::Metrics(e.to_string()))?;
        let payouts = payouts(&config, bank_keys, payout_ledger);
        let kept_for = std::time::Duration::from_millis(u64::from(config.read_cache_ms));
        let read_cache = crate::read_cache::ReadCache::new(
            kept_for,
            std::time::Duration::from_secs(u64::from(config.product_cache_secs)),
        );
        Ok(Arc::new(Self {
            audit: audit_trail(&config),
            vault: config
                .vault
                .as_ref()
                .map(bazaar_vault_client::link::VaultLink::api),
            market,
            identity,
            webhooks,
            payouts,
            reconciliation,
            bank,
            statements_through: std::sync::atomic::AtomicI64::new(i64::MIN),
            config,
            metrics,
            clock,
            rates: rates_config,
            ready: crate::ready::ReadyCache::default(),
            read_cache,
            sellers: crate::read_cache::Kept::new(kept_for, crate::read_cache::SELLERS_KEPT_MAX),
            persisted: crate::read_cache::PersistedQueries::default(),
            documents: crate::documents::ParsedDocuments::default(),
            vies,
            vat_number,
            tax,
            lending,
        }))
    }
}

/// Sellers' registrations and tax remittances, and lending, on the same database and
/// ledger.
fn tax_and_lending(
    config: &Config,
    ledger: &PostgresLedger,
) -> (
    TaxDesk<PostgresTax, PostgresLedger>,
    Lending<PostgresLending, PostgresLedger>,
) {
    let url = &config.database_url;
    (
        TaxDesk::new(
            PostgresTax::new(url, config.db_pool, RetryPolicy::default()),
            ledger.clone(),
        ),
        Lending::new(
            PostgresLending::new(url, config.db_pool, RetryPolicy::default()),
            ledger.clone(),
            Policy {
                history_days_min: i64::from(config.loan_min_history_days),
                ..Policy::default()
            },
        ),
    )
}

/// The configured payment provider.
fn provider(config: &Config, clock: Arc<dyn Clock>) -> Result<ConfiguredProvider, StartError> {
    Ok(match config.payment_provider {
        PaymentProviderKind::Sandbox => {
            let sandbox = SandboxProvider::new(
                ProviderName::new("sandbox").map_err(|_| StartError::Task)?,
                config.sandbox_hmac_key.as_bytes().to_vec(),
                clock,
            );
            // The sandbox connector is the vault's `provider` caller: it detokenizes.
            let sandbox = match &config.vault {
                Some(link) => sandbox.with_detokenizer(link.provider()),
                None => sandbox,
            };
            ConfiguredProvider::Sandbox(Box::new(sandbox))
        }
        PaymentProviderKind::None => {
            ConfiguredProvider::Disabled(ProviderName::new("none").map_err(|_| StartError::Task)?)
        }
    })
}

/// Payouts through the configured rail connector.
fn payouts(
    config: &Config,
    secrets: SecretKeys,
    ledger: PostgresLedger,
) -> Payouts<PostgresPayouts, ConfiguredRails, PostgresLedger> {
    Payouts::new(
        PostgresPayouts::new(
            &config.database_url,
            config.db_pool,
            RetryPolicy::default(),
            secrets,
        ),
        match config.payout_rails {
            crate::config::PayoutRailsKind::Sandbox => {
                ConfiguredRails::Sandbox(SandboxRails::new(&config.database_url, config.db_pool))
            }
            crate::config::PayoutRailsKind::None => ConfiguredRails::Disabled,
        },
        ledger,
    )
}

/// The audit log signed with `BAZAAR_AUDIT_SIGNING_KEY`, or with the public development key
/// when it is unset (production refuses that).
pub fn audit_trail(config: &Config) -> AuditTrail<PostgresAudit> {
    let seed = config.audit_signing_key.unwrap_or_else(|| {
        tracing::warn!(
            "BAZAAR_AUDIT_SIGNING_KEY is not set: the audit log is signed with the public \
             development key"
        );
        DEVELOPMENT_AUDIT_SEED
    });
    AuditTrail::new(
        PostgresAudit::new(&config.database_url, config.db_pool, RetryPolicy::default()),
        AuditSigner::from_seed(seed),
    )
}

/// The public development signing key of the audit log: the bytes `bazaar development
/// audit key`, zero-padded. Anyone can sign with it; production refuses it.
pub const DEVELOPMENT_AUDIT_SEED: [u8; 32] = *b"bazaar development audit key\0\0\0\0";

/// The keys of webhook secrets and bank details: the vault's keyrings of each (the API
/// signs for them), with `BAZAAR_SECRETS_KEY`, when set, still opening what it sealed before
/// the vault; without a vault that flat key, or a key made for this run when it is unset.
pub(crate) fn secret_keys(config: &Config) -> (SecretKeys, SecretKeys) {
    if let Some(link) = &config.vault {
        return SecretKeys::keyrings(link.api(), config.secrets_key.clone());
    }
    let flat = config.secrets_key.clone().unwrap_or_else(|| {
        tracing::warn!(
            "neither BAZAAR_VAULT_URL nor BAZAAR_SECRETS_KEY is set: webhook secrets and bank \
             details are sealed with a key made for this run, which will not open them after a \
             restart"
        );
        SecretKey::generate()
    });
    (flat.clone().into(), flat.into())
}
