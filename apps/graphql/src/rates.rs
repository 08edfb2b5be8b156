//! Exchange rates: the book the server starts with, the worker that refreshes it from the
//! ECB's daily file, and what `/readyz` says about it.
//!
//! Where the ECB rates come from:
//! - `BAZAAR_ECB_URL`: fetched over HTTP at start and every `BAZAAR_FX_REFRESH_SECS`;
//! - `BAZAAR_ECB_FILE`: read at start and again on the same schedule (a deployment that
//!   mirrors the ECB file refreshes it);
//! - neither: the bundled file of 18 July 2022, never refreshed. So that the demo runs
//!   offline, a server without a refresh source does not enforce a maximum age: it quotes
//!   at the bundled rates and says their date (log, `/readyz`, each quote's `effectiveAt`).
//!
//! With a refresh source, the book refuses to quote (`fx_rate_stale`) once the newest ECB
//! set is `BAZAAR_FX_MAX_AGE_SECS` past the time the ECB should have replaced it (the rule
//! and its TARGET calendar are in `bazaar_domain::fx`). Until the first fetch succeeds
//! the server holds the bundled set, which is then long stale. Each refresh combines the
//! ECB set with the configured table (`BAZAAR_CONFIGURED_RATES`) for the currencies the
//! ECB lacks; a set older than the one in use is ignored.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bazaar_domain::fx::{FxError, FxRateSource, MaxAge, RateBook, RateSet};
use bazaar_fx::{ECB_SOURCE_NAME, EcbSource, MAX_DOCUMENT_BYTES, parse_daily};
use bazaar_ledger::Timestamp;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::api::instant;
use crate::config::Config;
use crate::state::{App, StartError};

/// The ECB's euro reference rates of 18 July 2022, used when no refresh source is set.
const BUNDLED_ECB: &[u8] =
    include_bytes!("../../../adapters/fx/tests/data/eurofxref-daily-2022-07-18.xml");

/// The longest an HTTP fetch of the ECB file may take, connection included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(15);

/// At most this many characters of a fetch failure reach the log and `/readyz`.
const REASON_CHARS: usize = 160;

/// Where the ECB rates come from.
#[derive(Clone, Debug)]
enum Origin {
    Bundled,
    File(String),
    Url(String),
}

impl Origin {
    fn of(config: &Config) -> Self {
        match (&config.ecb_url, &config.ecb_file) {
            (Some(url), _) => Self::Url(url.clone()),
            (None, Some(path)) => Self::File(path.clone()),
            (None, None) => Self::Bundled,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Bundled => "bundled",
            Self::File(_) => "file",
            Self::Url(_) => "url",
        }
    }
}

/// How the last refresh went.
#[derive(Clone, Debug, Default)]
struct Refresh {
    attempted_at: Option<Timestamp>,
    succeeded_at: Option<Timestamp>,
    /// The error code and a short reason of the last attempt, if it failed.
    error: Option<(&'static str, String)>,
}

/// The rates' configuration and refresh history; the book itself lives in the marketplace.
#[derive(Debug)]
pub struct Rates {
    origin: Origin,
    /// The configured table for currencies the ECB does not publish.
    table: String,
    max_age: Option<MaxAge>,
    refresh: Mutex<Refresh>,
}

impl Rates {
    /// The configuration, and the book to start with: the ECB file (`BAZAAR_ECB_FILE`, or
    /// the bundled one) and the configured table.
    pub fn start(config: &Config) -> Result<(Self, RateBook), StartError> {
        let origin = Origin::of(config);
        let max_age = match &origin {
            Origin::Bundled => None,
            Origin::File(_) | Origin::Url(_) => {
                Some(config.fx_max_age_secs).filter(|secs| *secs > 0)
            }
        }
        .map(|secs| MaxAge { secs });
        let ecb_bytes = match &origin {
            Origin::File(path) => std::fs::read(path).map_err(|e| {
                StartError::Rates(FxError::Unavailable {
                    source_name: ECB_SOURCE_NAME.to_owned(),
                    reason: e.to_string(),
                })
            })?,
            Origin::Bundled | Origin::Url(_) => BUNDLED_ECB.to_vec(),
        };
        let rates = Self {
            origin,
            table: config.configured_rates.replace(';', "\n"),
            max_age,
            refresh: Mutex::new(Refresh::default()),
        };
        let ecb = parse_daily(&ecb_bytes).map_err(StartError::Rates)?;
        let book = rates.book(ecb).map_err(StartError::Rates)?;
        if let Some(freshness) = book.freshness() {
            tracing::info!(
                rates_date = %freshness.rate_date,
                origin = rates.origin.name(),
                max_age_secs = rates.max_age.map(|age| age.secs),
                "exchange rates of {}", freshness.rate_date
            );
        }
        Ok((rates, book))
    }

    /// The ECB set with the configured table, as a book with this server's maximum age.
    ///
    /// The table's rates have no publication date of their own; they are taken to be as
    /// current as the ECB set they are combined with.
    fn book(&self, ecb: RateSet) -> Result<RateBook, FxError> {
        let table = bazaar_fx::ConfiguredRates::parse("configured", &self.table, ecb.effective_at)?
            .into_rate_set();
        Ok(RateBook::new(vec![ecb, table])?.with_max_age(self.max_age))
    }

    /// The source the worker refreshes from; `None` for the bundled file.
    fn source(&self) -> Option<Source> {
        match &self.origin {
            Origin::Bundled => None,
            Origin::File(path) => Some(Source::File(EcbSource::from_file(path))),
            Origin::Url(url) => HttpEcbSource::new(url).map(Source::Http),
        }
    }

    fn record(&self, at: Timestamp, error: Option<&FxError>) {
        let mut refresh = match self.refresh.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        refresh.attempted_at = Some(at);
        match error {
            None => {
                refresh.succeeded_at = Some(at);
                refresh.error = None;
            }
            Some(error) => {
                let reason = error.to_string().chars().take(REASON_CHARS).collect();
                refresh.error = Some((error.code(), reason));
            }
        }
    }

    fn last_refresh(&self) -> Refresh {
        match self.refresh.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// The rates worker: fetches the ECB file now and then every `BAZAAR_FX_REFRESH_SECS`,
/// until `stop` turns true. Returns at once when there is nothing to refresh from.
pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let Some(source) = app.rates.source() else {
        return;
    };
    let period = Duration::from_secs(u64::from(app.config.fx_refresh_secs));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => refresh(&app, &source).await,
            _ = stop.changed() => return,
        }
    }
}

/// Fetches one set and, if it is not older than the one in use, puts it in the book.
async fn refresh(app: &App, source: &impl FxRateSource) {
    let outcome = match source.fetch().await {
        Ok(ecb) => use_set(app, ecb),
        Err(error) => Err(error),
    };
    app.rates.record(app.now(), outcome.as_ref().err());
    if let Err(error) = outcome {
        tracing::warn!(code = error.code(), %error, "refreshing the exchange rates failed");
    }
}

fn use_set(app: &App, ecb: RateSet) -> Result<(), FxError> {
    let current = app.market.rates().freshness();
    if let Some(current) = current
        && ecb.effective_at < current.effective_at
    {
        tracing::warn!(
            rates_date = %current.rate_date,
            "the ECB file is older than the rates in use; keeping them"
        );
        return Ok(());
    }
    let book = app.rates.book(ecb)?;
    let fresh = book.freshness();
    app.market.set_rates(book);
    if let Some(fresh) = fresh
        && current.is_none_or(|current| current.rate_date != fresh.rate_date)
    {
        tracing::info!(rates_date = %fresh.rate_date, "exchange rates of {}", fresh.rate_date);
    }
    Ok(())
}

/// What `/readyz` says about the rates: their date, where they come from, whether they are
/// stale, and how the last refresh went.
pub fn report(app: &App) -> Value {
    let now = app.now();
    let refresh = app.rates.last_refresh();
    let freshness = app.market.rates().freshness();
    json!({
        "date": freshness.map(|f| f.rate_date.to_string()),
        "effective_at": freshness.map(|f| instant(f.effective_at)),
        "origin": app.rates.origin.name(),
        "stale": freshness.is_some_and(|f| f.is_stale(now)),
        "max_age_secs": app.rates.max_age.map(|age| age.secs),
        "stale_from": freshness.and_then(|f| f.stale_from).map(instant),
        "refreshed_at": refresh.succeeded_at.map(instant),
        "refresh_attempted_at": refresh.attempted_at.map(instant),
        "refresh_error": refresh.error.map(|(code, reason)| json!({"code": code, "reason": reason})),
    })
}

/// The ECB source the worker reads: a file, or a URL.
#[derive(Debug)]
enum Source {
    File(EcbSource),
    Http(HttpEcbSource),
}

impl FxRateSource for Source {
    async fn fetch(&self) -> Result<RateSet, FxError> {
        match self {
            Self::File(source) => source.fetch().await,
            Self::Http(source) => source.fetch().await,
        }
    }
}

/// The ECB's daily file over HTTP, as an [`FxRateSource`]: a connection failure, a status
/// other than 200, a timeout or a body over [`MAX_DOCUMENT_BYTES`] is
/// [`FxError::Unavailable`]; a body that is not the daily file is [`FxError::InvalidData`].
#[derive(Debug)]
struct HttpEcbSource {
    client: reqwest::Client,
    url: String,
}

impl HttpEcbSource {
    fn new(url: &str) -> Option<Self> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|error| tracing::error!(%error, "cannot build the rates HTTP client"))
            .ok()?;
        Some(Self {
            client,
            url: url.to_owned(),
        })
    }

    async fn download(&self) -> Result<Vec<u8>, String> {
        let mut response = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|error| format!("cannot fetch the rates file: {error}"))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(format!("the rates URL answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| format!("cannot read the rates file: {error}"))?
        {
            if body.len().saturating_add(chunk.len()) > MAX_DOCUMENT_BYTES {
                return Err(format!(
                    "the rates file is larger than {MAX_DOCUMENT_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

impl FxRateSource for HttpEcbSource {
    async fn fetch(&self) -> Result<RateSet, FxError> {
        let body = self
            .download()
            .await
            .map_err(|reason| FxError::Unavailable {
                source_name: ECB_SOURCE_NAME.to_owned(),
                reason: reason.chars().take(REASON_CHARS).collect(),
            })?;
        parse_daily(&body)
    }
}
