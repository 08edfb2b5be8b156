//! Prometheus metrics: requests and latency per GraphQL operation, SQL statements, and the
//! ledger's group commits. Counts are exported as counters, latencies as histograms.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use sha2::{Digest, Sha256};

/// The label of requests without an operation name.
pub const ANONYMOUS_OPERATION: &str = "anonymous";
/// The label of every operation name past the bound, or not a plain GraphQL name.
pub const OTHER_OPERATION: &str = "other";
/// Longer operation names are counted as `other`.
pub const OPERATION_NAME_CHARS_MAX: usize = 64;

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    /// Anonymous queries by how the read cache answered them (`hit`, `miss`).
    pub read_cache: IntCounterVec,
    /// The operation names that have a label of their own, at most `operations_max`.
    operations: Mutex<HashSet<String>>,
    operations_max: usize,
    /// The counters below are copied from their sources under this lock, so two scrapes at
    /// once never add the same increase twice.
    sync: Mutex<()>,
    sql_statements: IntCounter,
    ledger_groups: IntCounter,
    ledger_submissions: IntCounter,
    ledger_legs: IntCounter,
    recovery: IntCounterVec,
    ledger_group_size_max: IntGauge,
    store_batches: IntCounterVec,
    store_batched_items: IntCounterVec,
}

/// A GraphQL name (`[_A-Za-z][_0-9A-Za-z]*`) of at most `OPERATION_NAME_CHARS_MAX` characters.
fn plain_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= OPERATION_NAME_CHARS_MAX
}

/// Whether a bearer token offered for `/metrics` is the configured one; compares digests, so
/// the time taken says nothing about how much of the token was right.
pub fn same_token(offered: &str, configured: &str) -> bool {
    Sha256::digest(offered.as_bytes()) == Sha256::digest(configured.as_bytes())
}

impl Metrics {
    /// `operations_max`: how many distinct operation names get a label of their own.
    pub fn new(operations_max: usize) -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("bazaar".to_owned()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "graphql_requests_total",
                "GraphQL requests by operation and outcome",
            ),
            &["operation", "outcome"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "graphql_request_duration_seconds",
                "GraphQL request latency by operation",
            )
            .buckets(vec![
                0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
            ]),
            &["operation"],
        )?;
        let read_cache = IntCounterVec::new(
            Opts::new(
                "read_cache_requests_total",
                "Anonymous GraphQL queries by how the read cache answered them",
            ),
            &["result"],
        )?;
        registry.register(Box::new(read_cache.clone()))?;
        for result in ["hit", "miss"] {
            // Both series from the start, so a rate over them never starts from nothing.
            read_cache.with_label_values(&[result]).reset();
        }
        let recovery = IntCounterVec::new(
            Opts::new(
                "money_recovery_total",
                "Provider notifications and ledger intents that failed (to be retried) or were parked",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(recovery.clone()))?;
        let counter = |name: &str, help: &str| IntCounter::new(name, help);
        let sql_statements = counter(
            "sql_statements_total",
            "SQL statements executed by this process",
        )?;
        let ledger_groups = counter("ledger_group_commits_total", "Ledger group commits")?;
        let ledger_submissions = counter("ledger_batches_total", "Ledger batches committed")?;
        let ledger_legs = counter("ledger_transfers_total", "Ledger transfers committed")?;
        let ledger_group_size_max = IntGauge::new(
            "ledger_group_size_max",
            "The most batches one group commit applied",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        for c in [
            &sql_statements,
            &ledger_groups,
            &ledger_submissions,
            &ledger_legs,
        ] {
            registry.register(Box::new(c.clone()))?;
        }
        registry.register(Box::new(ledger_group_size_max.clone()))?;
        let by_batcher =
            |name: &str, help: &str| IntCounterVec::new(Opts::new(name, help), &["batcher"]);
        let store_batches = by_batcher(
            "store_batches_total",
            "Batches of store calls that waited together (one transaction or statement each)",
        )?;
        let store_batched_items = by_batcher(
            "store_batched_items_total",
            "Store calls answered in batches",
        )?;
        registry.register(Box::new(store_batches.clone()))?;
        registry.register(Box::new(store_batched_items.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            read_cache,
            operations: Mutex::new(HashSet::new()),
            operations_max,
            sync: Mutex::new(()),
            recovery,
            sql_statements,
            ledger_groups,
            ledger_submissions,
            ledger_legs,
            ledger_group_size_max,
            store_batches,
            store_batched_items,
        })
    }

    /// The `operation` label for a request's `operationName`, so that clients cannot grow the
    /// label set without bound: `anonymous` without a name; the name itself if it is a plain
    /// GraphQL name of at most 64 characters that already has a label, or that ran without
    /// errors while fewer than `operations_max` names have one; `other` otherwise.
    pub fn operation_label(
        &self,
        name: Option<&str>,
        succeeded: bool,
    ) -> std::borrow::Cow<'static, str> {
        let Some(name) = name else {
            return ANONYMOUS_OPERATION.into();
        };
        if !plain_name(name) {
            return OTHER_OPERATION.into();
        }
        let mut known = self
            .operations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if known.contains(name) {
            return name.to_owned().into();
        }
        if succeeded && known.len() < self.operations_max {
            known.insert(name.to_owned());
            return name.to_owned().into();
        }
        OTHER_OPERATION.into()
    }

    /// Counts a failed or parked notification or ledger intent (`outcome` is one of
    /// `notification_failed`, `notification_parked`, `intent_failed`, `intent_parked`).
    pub fn recovery_inc(&self, outcome: &str) {
        self.recovery.with_label_values(&[outcome]).inc();
    }

    /// The text exposition, with the counters read from their sources now.
    pub fn render(&self, ledger: &bazaar_postgres::PostgresLedger) -> String {
        {
            let _copying = self.sync.lock().unwrap_or_else(PoisonError::into_inner);
            let catch_up = |counter: &IntCounter, source: u64| {
                counter.inc_by(source.saturating_sub(counter.get()));
            };
            catch_up(&self.sql_statements, bazaar_postgres::queries_executed());
            let stats = ledger.engine_stats();
            catch_up(&self.ledger_groups, stats.groups);
            catch_up(&self.ledger_submissions, stats.submissions);
            catch_up(&self.ledger_legs, stats.legs);
            self.ledger_group_size_max
                .set(i64::try_from(stats.group_size_max).unwrap_or(i64::MAX));
            for batcher in bazaar_postgres::batch_stats() {
                let labels = [batcher.name];
                catch_up(
                    &self.store_batches.with_label_values(&labels),
                    batcher.batches,
                );
                catch_up(
                    &self.store_batched_items.with_label_values(&labels),
                    batcher.items,
                );
            }
        }
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::warn!(%error, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_labels_are_bounded() {
        let metrics = Metrics::new(2).unwrap();
        assert_eq!(metrics.operation_label(None, true), ANONYMOUS_OPERATION);
        assert_eq!(
            metrics.operation_label(Some("Failed"), false),
            OTHER_OPERATION
        );
        assert_eq!(metrics.operation_label(Some("First"), true), "First");
        assert_eq!(metrics.operation_label(Some("First"), false), "First");
        assert_eq!(
            metrics.operation_label(Some("bad-name"), true),
            OTHER_OPERATION
        );
        assert_eq!(
            metrics.operation_label(Some("9lives"), true),
            OTHER_OPERATION
        );
        assert_eq!(
            metrics.operation_label(Some(&"a".repeat(65)), true),
            OTHER_OPERATION
        );
        assert_eq!(
            metrics.operation_label(Some(&"a".repeat(64)), true),
            "a".repeat(64)
        );
        assert_eq!(
            metrics.operation_label(Some("Third"), true),
            OTHER_OPERATION
        );
        assert!(same_token("secret", "secret"));
        assert!(!same_token("secre", "secret"));
    }
}
