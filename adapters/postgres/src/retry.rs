//! SERIALIZABLE transactions with bounded, jittered retries, and reconnection with backoff.

use std::time::{Duration, Instant};

use bazaar_ledger::StoreError;
use diesel::connection::Connection;
use diesel::pg::PgConnection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use rand::Rng;

use crate::sql::TxError;

/// The two answers a port's error type needs for database trouble: a failure that may pass
/// (the caller may retry) and one that will not.
pub(crate) trait StoreFailure {
    fn unavailable() -> Self;
    fn internal() -> Self;
}

/// How hard to try before giving up.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// The most attempts at one transaction that keeps hitting serialization failures.
    pub conflict_attempts_max: u32,
    /// The first backoff; each retry doubles it, up to `backoff_max`, with full jitter.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// How long to keep reconnecting while the database is unreachable.
    pub unavailable_for_max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            conflict_attempts_max: 10,
            backoff_initial: Duration::from_millis(2),
            backoff_max: Duration::from_millis(500),
            unavailable_for_max: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A random wait between zero and the capped exponential backoff for `attempt`.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1_u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX);
        let ceiling = self
            .backoff_initial
            .saturating_mul(factor)
            .min(self.backoff_max);
        let micros = u64::try_from(ceiling.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        Duration::from_micros(rand::rng().random_range(0..=micros))
    }
}

/// How a database error should be handled.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// A serialization failure or deadlock (SQLSTATE 40001, 40P01): run the transaction again.
    Conflict,
    /// The connection is gone: reconnect, then run the transaction again. Requests are
    /// idempotent, so running again after a commit whose answer was lost is safe.
    Disconnected,
    /// Anything else: a bug or corrupted data; retrying will not help.
    Fatal,
}

pub(crate) fn classify(error: &DieselError) -> Disposition {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
            Disposition::Conflict
        }
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
            Disposition::Disconnected
        }
        DieselError::DatabaseError(_, info) => {
            let message = info.message();
            if message.contains("deadlock detected")
                || message.contains("restart transaction")
                || message.contains("out of shared memory")
            {
                // 40P01 has no diesel error kind of its own; CockroachDB's retry errors say
                // "restart transaction". A full lock table (53200) passes when concurrent
                // transactions end, so it is retried with backoff like a conflict.
                Disposition::Conflict
            } else if message.contains("terminating connection")
                || message.contains("server closed the connection")
                || message.contains("connection to server")
                || message.contains("no connection to the server")
                || message.contains("the database system is shutting down")
                || message.contains("the database system is starting up")
                || message.contains("could not receive data")
                || message.contains("could not send data")
            {
                Disposition::Disconnected
            } else {
                Disposition::Fatal
            }
        }
        DieselError::BrokenTransactionManager => Disposition::Disconnected,
        _ => Disposition::Fatal,
    }
}

/// libpq settings that keep a dead or frozen server from hanging a connection forever: a
/// connect timeout, TCP keepalives, and a bound on unacknowledged writes. Settings already in
/// the URL win.
const CLIENT_TIMEOUTS: [(&str, &str); 5] = [
    ("connect_timeout", "5"),
    ("keepalives_idle", "10"),
    ("keepalives_interval", "5"),
    ("keepalives_count", "3"),
    ("tcp_user_timeout", "30000"),
];

/// `url` with [`CLIENT_TIMEOUTS`] added where it does not set them itself, and with an
/// `sslmode` if it names none: `disable` for a server on this host (loopback or a Unix
/// socket), where nothing leaves the machine and TLS would only cost CPU, and `require` for
/// any other, so that a connection is never silently sent in clear text (libpq's own default,
/// `prefer`, falls back to it). Production sets `sslmode=verify-full` with its CA itself.
pub(crate) fn with_client_settings(url: &str) -> String {
    let mut url = url.to_owned();
    let transport = if on_this_host(&url) {
        "disable"
    } else {
        "require"
    };
    for (key, value) in CLIENT_TIMEOUTS
        .into_iter()
        .chain(std::iter::once(("sslmode", transport)))
    {
        if url.contains(&format!("{key}=")) {
            continue;
        }
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(key);
        url.push('=');
        url.push_str(value);
    }
    url
}

/// Whether a `postgres://` URL names a server on this host: a loopback address, `localhost`,
/// no host at all or a socket directory (both Unix sockets). A list of hosts is taken as not
/// on this host.
fn on_this_host(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.contains(',') {
        return false;
    }
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = match host_port.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    let socket = url
        .split(['?', '&'])
        .any(|param| param.starts_with("host=/") || param.starts_with("host=%2F"));
    socket
        || host.is_empty()
        || host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Opens a connection, retrying with backoff for up to `policy.unavailable_for_max`.
pub(crate) fn connect(url: &str, policy: &RetryPolicy) -> Result<PgConnection, StoreError> {
    let started = Instant::now();
    let deadline = started
        .checked_add(policy.unavailable_for_max)
        .unwrap_or(started);
    connect_until(url, policy, started, deadline)
}

/// Opens a connection, retrying with backoff until `deadline`.
fn connect_until(
    url: &str,
    policy: &RetryPolicy,
    started: Instant,
    deadline: Instant,
) -> Result<PgConnection, StoreError> {
    let url = with_client_settings(url);
    let mut attempt: u32 = 0;
    loop {
        match PgConnection::establish(&url) {
            Ok(conn) => {
                if attempt > 0 {
                    tracing::info!(
                        attempts = attempt.saturating_add(1),
                        "ledger database reachable again"
                    );
                }
                return Ok(conn);
            }
            Err(error) => {
                let now = Instant::now();
                if now >= deadline {
                    tracing::error!(%error, waited_ms = started.elapsed().as_millis(), "ledger database unreachable; giving up");
                    return Err(StoreError::Unavailable(
                        "the ledger database is unreachable".to_owned(),
                    ));
                }
                let wait = policy
                    .backoff(attempt)
                    .min(deadline.saturating_duration_since(now));
                tracing::warn!(%error, attempt, retry_in_ms = wait.as_millis(), "cannot connect to the ledger database; retrying");
                std::thread::sleep(wait);
                attempt = attempt.saturating_add(1);
            }
        }
    }
}

/// Runs `work` in a SERIALIZABLE transaction on `conn`, retrying conflicts and reconnecting
/// after lost connections, within the policy's bounds. `conn` is replaced when it breaks.
pub(crate) fn serializable<T>(
    conn: &mut Option<PgConnection>,
    url: &str,
    policy: &RetryPolicy,
    mut work: impl FnMut(&mut PgConnection) -> Result<T, TxError>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let deadline = started
        .checked_add(policy.unavailable_for_max)
        .unwrap_or(started);
    let mut conflicts: u32 = 0;
    let mut reconnects: u32 = 0;
    loop {
        let connection = match conn {
            Some(connection) => connection,
            None => conn.insert(connect_until(url, policy, started, deadline)?),
        };
        let outcome = connection
            .build_transaction()
            .serializable()
            .run(|tx| work(tx).map_err(TxErrorWrapper));
        let error = match outcome {
            Ok(value) => return Ok(value),
            Err(TxErrorWrapper(TxError::Corrupt(error))) => return Err(error),
            Err(TxErrorWrapper(TxError::Db(error))) => error,
        };
        match classify(&error) {
            Disposition::Conflict if conflicts < policy.conflict_attempts_max => {
                conflicts = conflicts.saturating_add(1);
                let wait = policy.backoff(conflicts);
                tracing::debug!(%error, conflicts, retry_in_us = wait.as_micros(), "ledger transaction conflicted; retrying");
                std::thread::sleep(wait);
            }
            Disposition::Conflict => {
                tracing::error!(%error, conflicts, "ledger transaction kept conflicting; giving up");
                return Err(StoreError::Unavailable(
                    "the ledger is too contended right now; retry the request".to_owned(),
                ));
            }
            Disposition::Disconnected if Instant::now() < deadline => {
                *conn = None;
                reconnects = reconnects.saturating_add(1);
                let wait = policy
                    .backoff(reconnects)
                    .min(deadline.saturating_duration_since(Instant::now()));
                tracing::warn!(%error, reconnects, retry_in_ms = wait.as_millis(), "lost the ledger database connection; reconnecting");
                std::thread::sleep(wait);
            }
            Disposition::Disconnected => {
                *conn = None;
                tracing::error!(%error, waited_ms = started.elapsed().as_millis(), "ledger database unreachable; giving up");
                return Err(StoreError::Unavailable(
                    "the ledger database is unreachable".to_owned(),
                ));
            }
            Disposition::Fatal => {
                tracing::error!(%error, "ledger transaction failed");
                // The connection may be in an unknown state; start the next call afresh.
                *conn = None;
                return Err(StoreError::Internal(
                    "the ledger transaction failed".to_owned(),
                ));
            }
        }
    }
}

/// Carries our error through diesel's transaction, which needs `From<diesel::result::Error>`.
#[derive(Debug)]
struct TxErrorWrapper(TxError);

impl From<DieselError> for TxErrorWrapper {
    fn from(error: DieselError) -> Self {
        Self(TxError::Db(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_timeouts_are_added_unless_the_url_sets_them() {
        let url = with_client_settings("postgres://u@h/db");
        assert!(
            url.starts_with("postgres://u@h/db?connect_timeout=5&"),
            "{url}"
        );
        assert!(url.contains("tcp_user_timeout=30000"));
        let url = with_client_settings("postgres://u@h/db?sslmode=disable&connect_timeout=1");
        assert!(
            url.contains("connect_timeout=1") && !url.contains("connect_timeout=5"),
            "{url}"
        );
        assert!(
            url.contains("sslmode=disable&connect_timeout=1&keepalives_idle=10"),
            "{url}"
        );
    }

    #[test]
    fn tls_is_required_off_this_host_and_left_out_on_it_unless_the_url_says() {
        let mode = |url: &str| {
            let url = with_client_settings(url);
            let modes: Vec<&str> = url
                .split(['?', '&'])
                .filter_map(|param| param.strip_prefix("sslmode="))
                .collect();
            assert_eq!(modes.len(), 1, "{url}");
            modes.first().map(|m| (*m).to_owned()).unwrap_or_default()
        };
        for local in [
            "postgres://postgres@127.0.0.1:5432/bazaar",
            "postgres://u:p@localhost/db",
            "postgresql://u@[::1]:26257/db",
            "postgres://127.0.0.2/db",
            "postgres:///db",
            "postgres://u@/db?host=/var/run/postgresql",
        ] {
            assert_eq!(mode(local), "disable", "{local}");
        }
        for remote in [
            "postgres://u@db.internal:5432/bazaar",
            "postgres://u:p@10.0.0.7/db",
            "postgresql://u@[2001:db8::1]:26257/db",
            "postgres://u@127.0.0.1.evil.example/db",
            "postgres://u@host1:26257,host2:26257/db",
            "postgres://u@localhost:26257,10.0.0.8:26257/db",
        ] {
            assert_eq!(mode(remote), "require", "{remote}");
        }
        assert_eq!(
            mode("postgres://u@db.internal/db?sslmode=verify-full"),
            "verify-full"
        );
        assert_eq!(mode("postgres://u@127.0.0.1/db?sslmode=require"), "require");
    }

    #[test]
    fn backoff_is_bounded_and_jittered() {
        let policy = RetryPolicy::default();
        for attempt in 0..40 {
            assert!(policy.backoff(attempt) <= policy.backoff_max);
        }
        let waits: std::collections::HashSet<_> = (0..50).map(|_| policy.backoff(8)).collect();
        assert!(waits.len() > 1, "waits are randomised");
    }
}
