//! A process-wide count of the SQL statements sent by diesel connections, for tests that
//! prove a request costs a fixed number of queries and for the statement-rate metric.

use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::{Instrumentation, InstrumentationEvent};

/// Statements started by every instrumented connection of this process.
static QUERIES: AtomicU64 = AtomicU64::new(0);

static INSTALL: Once = Once::new();

/// Counts statements into [`QUERIES`]; each connection gets one, all sharing the counter.
#[derive(Debug, Clone, Copy, Default)]
struct QueryCounter;

impl Instrumentation for QueryCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            // A counter needs no ordering with other memory. It wraps only after 2^64
            // statements, which no process lives to send.
            QUERIES.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn new_counter() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(QueryCounter))
}

/// Starts counting the SQL statements of every diesel connection this process opens from now
/// on; see [`queries_executed`] for what is counted.
///
/// Diesel gives each connection its default instrumentation when the connection is
/// established, so connections opened before this call are never counted: call it at
/// start-up, before any ledger, store or pool connects. It installs diesel's process-wide
/// default instrumentation, replacing any other default set before it. Calling it again does
/// nothing.
pub fn count_queries() {
    INSTALL.call_once(|| {
        if let Err(error) = diesel::connection::set_default_instrumentation(new_counter) {
            // Only a poisoned lock inside diesel refuses this; the process works on, uncounted.
            tracing::error!(%error, "cannot install the SQL statement counter");
        }
    });
}

/// How many SQL statements the connections opened after [`count_queries`] have started, in
/// total since the process began; zero if counting was never started.
///
/// Diesel reports each statement it sends as an `InstrumentationEvent::StartQuery`, and only
/// those events are counted, when the statement starts, whether or not it succeeds: each
/// costs a round trip either way. Transaction control takes the same path: diesel sends
/// `BEGIN`, `COMMIT`, `ROLLBACK` and savepoint statements as ordinary statements, so each of
/// them counts once, while the separate `BeginTransaction`, `CommitTransaction` and
/// `RollbackTransaction` events diesel emits next to them are not counted again. The
/// connection pool's check-out probe is a statement too, and counts.
pub fn queries_executed() -> u64 {
    QUERIES.load(Ordering::Relaxed)
}
