//! The catalogue's change feed, read by every server process: the entries noted in the last
//! [`FEED_OVERLAP`] are applied to the read cache every [`FEED_PERIOD`], so that a
//! product page kept for long is dropped as soon as its product changes. A change of the
//! exchange rates (a new set, or the set in use turning stale) drops every kept product page,
//! since their prices were converted at the old rates. Every `FORGET_EVERY` reads, changes
//! older than a minute are deleted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bazaar_domain::fx::RateBook;
use bazaar_domain::store::CommerceStore;
use bazaar_ledger::Timestamp;
use tokio::sync::watch;

use crate::read_cache::{FEED_ENTRIES_MAX, FEED_OVERLAP, FEED_PERIOD};
use crate::state::App;

/// Reads between two deletions of old changes (every five seconds).
const FORGET_EVERY: u32 = 20;
/// How long a change is kept in the feed: well past [`FEED_OVERLAP`].
const KEPT_FOR: Duration = Duration::from_secs(60);

/// The rates a product page's prices were converted at: the book in use and whether it is
/// stale.
struct Rates {
    book: Arc<RateBook>,
    stale: bool,
}

impl Rates {
    fn of(app: &App) -> Self {
        let book = app.market.rates();
        let now = app.now();
        let stale = book
            .freshness()
            .and_then(|freshness| freshness.stale_from)
            .is_some_and(|stale_from| now >= stale_from);
        Self { book, stale }
    }

    fn same_as(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.book, &other.book) && self.stale == other.stale
    }
}

/// Reads the feed until `stop` turns true; returns at once when no product page is kept
/// past the short lifetime.
pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let Some(cache) = app
        .read_cache
        .as_ref()
        .filter(|cache| cache.keeps_products())
    else {
        return;
    };
    let mut ticker = tokio::time::interval(FEED_PERIOD);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rates = Rates::of(&app);
    let mut failing = false;
    let mut reads: u32 = 0;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return,
        }
        let began = Instant::now();
        let since = before(app.now(), FEED_OVERLAP);
        match app
            .market
            .store()
            .catalog_changes(since, FEED_ENTRIES_MAX)
            .await
        {
            Ok(changes) => {
                let now_rates = Rates::of(&app);
                let too_many = changes.len() >= usize::try_from(FEED_ENTRIES_MAX).unwrap_or(0);
                if too_many || !now_rates.same_as(&rates) {
                    cache.forget_products();
                    rates = now_rates;
                }
                let entries = changes
                    .iter()
                    .map(|change| (change.product.as_uuid(), change.at.as_micros()));
                cache.changes_seen(began, since.as_micros(), entries);
                if failing {
                    tracing::info!("the catalogue's change feed is read again");
                    failing = false;
                }
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(
                        code = error.code(),
                        %error,
                        "the catalogue's change feed could not be read; product pages are kept only for the short lifetime until it can"
                    );
                    failing = true;
                }
            }
        }
        reads = reads.wrapping_add(1);
        if reads.is_multiple_of(FORGET_EVERY) {
            forget_old(&app).await;
        }
    }
}

async fn forget_old(app: &App) {
    match app
        .market
        .store()
        .forget_changes(before(app.now(), KEPT_FOR))
        .await
    {
        Ok(0) => {}
        Ok(forgotten) => tracing::debug!(forgotten, "old catalogue changes deleted"),
        Err(error) => {
            tracing::warn!(code = error.code(), %error, "old catalogue changes could not be deleted");
        }
    }
}

/// `at` less `span`.
fn before(at: Timestamp, span: Duration) -> Timestamp {
    let micros = i64::try_from(span.as_micros()).unwrap_or(i64::MAX);
    Timestamp::from_micros(at.as_micros().saturating_sub(micros))
}
