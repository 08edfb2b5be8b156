//! Prometheus metrics: requests and latency per GraphQL operation, SQL statements, and the
//! ledger's group commits.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    recovery: IntCounterVec,
    sql_statements: IntGauge,
    ledger_groups: IntGauge,
    ledger_submissions: IntGauge,
    ledger_legs: IntGauge,
    ledger_group_size_max: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
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
        let recovery = IntCounterVec::new(
            Opts::new(
                "money_recovery_total",
                "Provider notifications and ledger intents that failed (to be retried) or were parked",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(recovery.clone()))?;
        let gauge = |name: &str, help: &str| IntGauge::new(name, help);
        let sql_statements = gauge(
            "sql_statements_total",
            "SQL statements executed by this process",
        )?;
        let ledger_groups = gauge("ledger_group_commits_total", "Ledger group commits")?;
        let ledger_submissions = gauge("ledger_batches_total", "Ledger batches committed")?;
        let ledger_legs = gauge("ledger_transfers_total", "Ledger transfers committed")?;
        let ledger_group_size_max = gauge(
            "ledger_group_size_max",
            "The most batches one group commit applied",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        for g in [
            &sql_statements,
            &ledger_groups,
            &ledger_submissions,
            &ledger_legs,
            &ledger_group_size_max,
        ] {
            registry.register(Box::new(g.clone()))?;
        }
        Ok(Self {
            registry,
            requests,
            latency,
            recovery,
            sql_statements,
            ledger_groups,
            ledger_submissions,
            ledger_legs,
            ledger_group_size_max,
        })
    }

    /// Counts a failed or parked notification or ledger intent (`outcome` is one of
    /// `notification_failed`, `notification_parked`, `intent_failed`, `intent_parked`).
    pub fn recovery_inc(&self, outcome: &str) {
        self.recovery.with_label_values(&[outcome]).inc();
    }

    /// The text exposition, with the counters read from their sources now.
    pub fn render(&self, ledger: &bazaar_postgres::PostgresLedger) -> String {
        let as_gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        self.sql_statements
            .set(as_gauge(bazaar_postgres::queries_executed()));
        let stats = ledger.engine_stats();
        self.ledger_groups.set(as_gauge(stats.groups));
        self.ledger_submissions.set(as_gauge(stats.submissions));
        self.ledger_legs.set(as_gauge(stats.legs));
        self.ledger_group_size_max
            .set(as_gauge(stats.group_size_max));
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::warn!(%error, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}
