//! Bazaar's log output, the same for every binary: events at the level `BAZAAR_LOG` selects
//! (an `EnvFilter` directive such as `info` or `bazaar_postgres=debug,info`; `info` when
//! unset or unreadable), written to standard output as text or, for log collectors, as one
//! JSON object per line.

use tracing_subscriber::EnvFilter;

/// The environment variable that selects what is logged.
pub const LOG_FILTER_VAR: &str = "BAZAAR_LOG";

/// Installs the process's log subscriber; `json` picks one JSON object per line. Call once,
/// first thing in `main`; a second call changes nothing.
pub fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_env(LOG_FILTER_VAR).unwrap_or_else(|_| EnvFilter::new("info"));
    let installed = if json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .try_init()
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).try_init()
    };
    // A subscriber installed already (a test harness's) stays.
    drop(installed);
}
