//! The connection pool of the stores that run their work through `commerce::transact::run`.
//!
//! r2d2 can test a connection each time it is checked out, which costs a round trip to the
//! database on every transaction. A connection that answered a moment ago is almost surely
//! still there, so only one that has sat idle for longer than [`TRUSTED_FOR`] is tested. If
//! a trusted connection turns out to be gone, the work on it fails with a lost-connection
//! error, [`Conn::lose`] marks it, the pool drops it instead of taking it back, and the retry
//! takes another connection.

use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, ManageConnection, Pool};

/// Set on each connection as it opens: statements are planned once per connection and
/// their plan kept (PostgreSQL plans a prepared statement again whenever the statistics of a
/// table it reads change). Left to choose, PostgreSQL plans every run of a statement over
/// `= ANY($1)` afresh, because it estimates a generic plan for ten array elements, and the
/// planner was about a quarter of the machine's CPU in the product-page benchmark. The
/// stores' transactions plan for their parameters instead (`commerce::transact`), so this
/// holds for their statements run alone: reads of rows by key.
pub(crate) const SESSION: &str = "SET plan_cache_mode = force_generic_plan";

/// How long after its last answer a connection is checked out without a test.
pub(crate) const TRUSTED_FOR: Duration = Duration::from_secs(1);

/// A pooled connection with what the pool needs to know about its last use.
pub(crate) struct Conn {
    conn: PgConnection,
    /// When the database last answered on this connection (or it was opened).
    answered_at: Instant,
    /// Set when the connection was found lost: the pool drops it.
    lost: bool,
}

impl Conn {
    /// The database answered: the connection is trusted for [`TRUSTED_FOR`] from now.
    pub(crate) fn answered(&mut self) {
        self.answered_at = Instant::now();
    }

    /// The connection was lost: it is not returned to the pool.
    pub(crate) fn lose(&mut self) {
        self.lost = true;
    }
}

impl Deref for Conn {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

/// Opens connections as diesel's manager does and tests only those not trusted.
pub(crate) struct Manager {
    inner: ConnectionManager<PgConnection>,
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Conn, Self::Error> {
        let mut conn = self.inner.connect()?;
        conn.batch_execute(SESSION)
            .map_err(diesel::r2d2::Error::QueryError)?;
        Ok(Conn {
            conn,
            answered_at: Instant::now(),
            lost: false,
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), Self::Error> {
        if conn.answered_at.elapsed() < TRUSTED_FOR {
            return Ok(());
        }
        self.inner.is_valid(&mut conn.conn)?;
        conn.answered();
        Ok(())
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.lost || self.inner.has_broken(&mut conn.conn)
    }
}

/// A pool of at most `size` connections to `url`, opened lazily; a check-out waits at most
/// `wait` for one.
pub(crate) fn pool(url: String, size: u32, wait: Duration) -> Pool<Manager> {
    Pool::builder()
        .max_size(size.max(1))
        .min_idle(Some(0))
        .test_on_check_out(true)
        .connection_timeout(wait)
        .build_unchecked(Manager {
            inner: ConnectionManager::new(url),
        })
}
