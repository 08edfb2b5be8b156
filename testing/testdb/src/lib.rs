//! A freshly migrated PostgreSQL database for every test, so that tests run in parallel against
//! the real server (modelled on the crates.io `crates_io_test_db` crate).
//!
//! - The admin connection comes from `BAZAAR_TEST_DATABASE_URL` (default
//!   `postgres://postgres@127.0.0.1:5432/postgres`); its role needs `CREATEDB` and must own (or be
//!   superuser over) the databases it drops.
//! - Once per migration set, a template database `bazaar_tpl_<hash of migrations/>` is built: a
//!   temporary `bazaar_tplbuild_…` database is created from `template0`, migrated, closed to
//!   connections and renamed to the template name. Whoever renames first wins; a loser drops its
//!   build and uses the winner's. No advisory lock is involved, so separate processes (nextest
//!   runs every test in its own) coordinate through the catalog alone.
//! - [`TestDatabase::new`] clones the template (`CREATE DATABASE … TEMPLATE …`, about 0.1 s on PostgreSQL 15);
//!   dropping the value drops the database (`WITH (FORCE)`).
//! - Test databases are named `bazaar_test_<host>_<pid>_<unix secs>_<random>`. The first
//!   database a process asks for sweeps leftovers of crashed runs: databases of this host whose
//!   process is gone (no `/proc/<pid>`) and that are older than a minute, any such database of
//!   another host older than a day, and templates of other migration sets older than a day.
//!
//! ```no_run
//! use diesel::prelude::*;
//!
//! let db = bazaar_testdb::TestDatabase::new()?;
//! let mut conn = db.connect()?;
//! diesel::sql_query("SELECT 1 FROM ledger_accounts").execute(&mut conn)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod migration_lint;
#[cfg(test)]
mod migrations_hash;
pub mod private_server;
pub mod proxy;
pub mod schema_dump;

use bazaar_schema::database::{self, quote_ident};
use std::fmt;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use rand::Rng;

/// The environment variable that holds the admin connection URL.
pub const ADMIN_URL_ENV: &str = "BAZAAR_TEST_DATABASE_URL";
/// The admin connection URL when [`ADMIN_URL_ENV`] is not set.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// A hash of every file under `migrations/`, computed when this crate was built.
pub const MIGRATIONS_HASH: &str = env!("BAZAAR_MIGRATIONS_HASH");

const TEST_PREFIX: &str = "bazaar_test_";
const BUILD_PREFIX: &str = "bazaar_tplbuild_";
const TEMPLATE_PREFIX: &str = "bazaar_tpl_";
const TEMPLATE_COMMENT_PREFIX: &str = "bazaar-testdb template, created_unix=";
/// How long a database of a process that is gone is left alone (it may be mid-creation).
const DEAD_OWNER_GRACE_SECS: u64 = 60;
/// After this long, a database whose owner cannot be checked (another host) is swept.
const UNCHECKABLE_OWNER_GRACE_SECS: u64 = 24 * 60 * 60;
/// Attempts for statements that can fail transiently (a template in use, a rename race).
const ATTEMPTS: u32 = 8;

/// Why a test database could not be provided.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestDbError {
    /// The admin URL is not a `postgres://` URL this crate can derive database URLs from.
    #[error("{ADMIN_URL_ENV} must be a postgres:// URL, got {url}: {reason}")]
    InvalidUrl {
        /// The URL, password redacted.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The server refused or could not be reached.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// diesel's error.
        #[source]
        source: diesel::ConnectionError,
    },
    /// A statement failed.
    #[error("{action}: {source}")]
    Query {
        /// What was being done.
        action: String,
        /// diesel's error.
        #[source]
        source: diesel::result::Error,
    },
    /// Running the migrations failed.
    #[error("migrating database {database}: {source}")]
    Migrate {
        /// The database being migrated.
        database: String,
        /// The migration harness's error.
        #[source]
        source: bazaar_schema::MigrationError,
    },
    /// `CREATE DATABASE` kept failing (for example the template stayed in use).
    #[error("creating database {database} from {template} failed {attempts} times: {source}")]
    Create {
        /// The database that could not be created.
        database: String,
        /// Its template.
        template: String,
        /// How many times it was tried.
        attempts: u32,
        /// The last error.
        #[source]
        source: diesel::result::Error,
    },
    /// The migrated build could not be renamed to the template name, and no other process
    /// published the template either.
    #[error("publishing template {template} failed {attempts} times: {source}")]
    PublishTemplate {
        /// The template name.
        template: String,
        /// How many times it was tried.
        attempts: u32,
        /// The last error.
        #[source]
        source: diesel::result::Error,
    },
}

/// A database of its own for one test, dropped when this value is dropped.
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDatabase {
    /// A new database with every migration applied, cloned from the template of the current
    /// migration set (built first if no process has built it yet).
    pub fn new() -> Result<Self, TestDbError> {
        let admin_url = admin_url();
        let mut admin = connect(&admin_url)?;
        sweep_once(&mut admin);
        let template = template_ready(&admin_url, &mut admin)?;
        let name = unique_name(TEST_PREFIX);
        let mut attempt: u32 = 0;
        loop {
            attempt = attempt.saturating_add(1);
            match create_database(&mut admin, &name, &template) {
                Ok(()) => break,
                Err(source) if attempt >= ATTEMPTS => {
                    return Err(TestDbError::Create {
                        database: name,
                        template,
                        attempts: attempt,
                        source,
                    });
                }
                Err(_) => {
                    // Another process may have swept the template (it does that only to other
                    // migration sets, but a checkout of other migrations may share the server).
                    if !database_exists(&mut admin, &template)? {
                        forget_template();
                        template_ready(&admin_url, &mut admin)?;
                    }
                    std::thread::sleep(backoff(attempt));
                }
            }
        }
        Self::adopt(admin_url, name)
    }

    /// A new empty database (created from `template0`, no migrations run), for tests of the
    /// migrations themselves. Named, dropped and swept like the others.
    pub fn empty() -> Result<Self, TestDbError> {
        let admin_url = admin_url();
        let mut admin = connect(&admin_url)?;
        sweep_once(&mut admin);
        let name = unique_name(TEST_PREFIX);
        create_database(&mut admin, &name, "template0").map_err(|source| TestDbError::Create {
            database: name.clone(),
            template: "template0".to_owned(),
            attempts: 1,
            source,
        })?;
        Self::adopt(admin_url, name)
    }

    fn adopt(admin_url: String, name: String) -> Result<Self, TestDbError> {
        match database_url(&admin_url, &name) {
            Ok(url) => Ok(Self {
                name,
                url,
                admin_url,
            }),
            Err(error) => {
                // Unreachable in practice: the admin URL was parsed before. Don't leak the database.
                drop_quietly(&admin_url, &name);
                Err(error)
            }
        }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection URL for the database (the admin URL with the database name replaced).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new connection to the database.
    pub fn connect(&self) -> Result<PgConnection, TestDbError> {
        connect(&self.url)
    }

    /// The currencies whose posted debits and credits, summed over every ledger account,
    /// differ (the ledger's first invariant); empty when every currency balances.
    pub fn unbalanced_currencies(&self) -> Result<Vec<String>, TestDbError> {
        #[derive(QueryableByName)]
        struct Totals {
            #[diesel(sql_type = Text)]
            currency: String,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            debits: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            credits: i64,
        }
        let mut conn = self.connect()?;
        // raw SQL: SUM over BIGINT is NUMERIC in diesel; cast back to INT8 in the statement
        let totals: Vec<Totals> = diesel::sql_query(
            "SELECT currency::TEXT AS currency, SUM(debits_posted)::INT8 AS debits, \
             SUM(credits_posted)::INT8 AS credits FROM ledger_accounts GROUP BY currency",
        )
        .load(&mut conn)
        .map_err(query_error("sum ledger balances by currency"))?;
        Ok(totals
            .into_iter()
            .filter(|total| total.debits != total.credits)
            .map(|total| total.currency)
            .collect())
    }
}

impl fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDatabase")
            .field("name", &self.name)
            .field("url", &redact(&self.url))
            .finish()
    }
}

/// When set, each test database's data is dumped (`pg_dump --data-only`) into this
/// directory before it is dropped, for the scan for card numbers that follows the suite.
pub const DUMP_DIR_ENV: &str = "BAZAAR_TEST_DUMP_DIR";

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(dir) = std::env::var_os(DUMP_DIR_ENV) {
            dump_quietly(Path::new(&dir), &self.url, &self.name);
        }
        drop_quietly(&self.admin_url, &self.name);
    }
}

/// Dumps a database's data to `dir/<name>.sql`, telling stderr if that fails.
fn dump_quietly(dir: &Path, url: &str, name: &str) {
    let result = std::fs::create_dir_all(dir).and_then(|()| {
        std::process::Command::new(private_server::pg_bin().join("pg_dump"))
            .arg("--data-only")
            .arg("--no-owner")
            .arg(format!("--dbname={url}"))
            .arg("--file")
            .arg(dir.join(format!("{name}.sql")))
            .status()
    });
    match result {
        Ok(status) if status.success() => {}
        Ok(status) => eprintln!("bazaar-testdb: pg_dump of {name} failed: {status}"),
        Err(error) => eprintln!("bazaar-testdb: pg_dump of {name} did not run: {error}"),
    }
}

/// Drops a database, telling stderr (and nobody else) if that fails.
fn drop_quietly(admin_url: &str, name: &str) {
    let result = connect(admin_url).and_then(|mut admin| drop_database(&mut admin, name));
    if let Err(error) = result {
        eprintln!("bazaar-testdb: could not drop test database {name}: {error}");
    }
}

/// The admin connection URL: `BAZAAR_TEST_DATABASE_URL`, or [`DEFAULT_ADMIN_URL`].
pub fn admin_url() -> String {
    std::env::var(ADMIN_URL_ENV)
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_owned())
}

/// Opens a diesel connection to `url`.
pub fn connect(url: &str) -> Result<PgConnection, TestDbError> {
    PgConnection::establish(url).map_err(|source| TestDbError::Connect {
        url: redact(url),
        source,
    })
}

/// The name of the template database of the migrations this crate was built with.
pub fn template_name() -> String {
    format!("{TEMPLATE_PREFIX}{MIGRATIONS_HASH}")
}

/// Drops every leftover test database, template build and outdated template (see the crate
/// docs for which); returns the names dropped. Runs by itself once per process.
pub fn sweep_leftovers() -> Result<Vec<String>, TestDbError> {
    let mut admin = connect(&admin_url())?;
    sweep(&mut admin)
}

/// `admin_url` with its database replaced by `database`; the query string is kept.
pub fn database_url(admin_url: &str, database: &str) -> Result<String, TestDbError> {
    let invalid = |reason| TestDbError::InvalidUrl {
        url: redact(admin_url),
        reason,
    };
    let (scheme, rest) = admin_url
        .split_once("://")
        .ok_or_else(|| invalid("no scheme (key=value connection strings are not supported)"))?;
    if scheme != "postgres" && scheme != "postgresql" {
        return Err(invalid("the scheme is not postgres or postgresql"));
    }
    let cut = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest
        .split_at_checked(cut)
        .ok_or_else(|| invalid("cannot split host from path"))?;
    if authority.is_empty() {
        return Err(invalid("no host"));
    }
    Ok(match tail.split_once('?') {
        Some((_, query)) => format!("{scheme}://{authority}/{database}?{query}"),
        None => format!("{scheme}://{authority}/{database}"),
    })
}

/// `url` with any password replaced by `***`, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some((authority, tail)) = rest.split_at_checked(authority_end) else {
        return url.to_owned();
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn query_error(action: impl Into<String>) -> impl FnOnce(diesel::result::Error) -> TestDbError {
    let action = action.into();
    move |source| TestDbError::Query { action, source }
}

/// Creates `name` as a copy of `template`.
fn create_database(
    admin: &mut PgConnection,
    name: &str,
    template: &str,
) -> Result<(), diesel::result::Error> {
    database::create_database(admin, name, Some(template))
}

fn drop_database(admin: &mut PgConnection, name: &str) -> Result<(), TestDbError> {
    database::drop_database(admin, name).map_err(query_error(format!("dropping database {name}")))
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    present: bool,
}

fn database_exists(admin: &mut PgConnection, name: &str) -> Result<bool, TestDbError> {
    // raw SQL: EXISTS over the system catalog pg_database, which the schema does not declare
    diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS present")
        .bind::<Text, _>(name)
        .get_result::<Exists>(admin)
        .map(|row| row.present)
        .map_err(query_error(format!("looking up database {name}")))
}

// ---------------------------------------------------------------------------------------------
// Names

/// `<prefix><host>_<pid>_<unix secs>_<random>`: at most 16 + 8 + 10 + 20 + 8 + 3 = 65 bytes
/// in theory, 48 in practice (PostgreSQL's limit is 63).
fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}{}_{}_{}_{:08x}",
        host_tag(),
        std::process::id(),
        unix_now(),
        rand::rng().random::<u32>()
    )
}

/// Who created a database, read back from its name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner {
    host: String,
    pid: u32,
    created_unix: u64,
}

fn parse_owner(name: &str, prefix: &str) -> Option<Owner> {
    let rest = name.strip_prefix(prefix)?;
    let mut parts = rest.split('_');
    let host = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    let created_unix = parts.next()?.parse().ok()?;
    let random = parts.next()?;
    let well_formed = host.len() == 8
        && host.bytes().all(|b| b.is_ascii_hexdigit())
        && random.len() == 8
        && random.bytes().all(|b| b.is_ascii_hexdigit())
        && parts.next().is_none();
    well_formed.then(|| Owner {
        host: host.to_owned(),
        pid,
        created_unix,
    })
}

/// Eight hex digits naming this host (its kernel host name), so that the process check is
/// only applied to databases created on this machine (or container).
fn host_tag() -> String {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let mut hash: u32 = 0x811c_9dc5;
    for byte in hostname.trim().bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// Whether process `pid` of this host is alive; `None` where there is no `/proc` to ask.
fn process_alive(pid: u32) -> Option<bool> {
    Path::new("/proc/self")
        .exists()
        .then(|| Path::new(&format!("/proc/{pid}")).exists())
}

fn backoff(attempt: u32) -> Duration {
    let base_ms = 1_u64
        .checked_shl(attempt)
        .map_or(u64::MAX, |factor| factor.saturating_mul(20))
        .min(1_000);
    let jitter_ms = rand::rng().random_range(0..=base_ms);
    Duration::from_millis(base_ms.saturating_add(jitter_ms))
}

// ---------------------------------------------------------------------------------------------
// The template

/// Whether this process has seen the template of its migration set in place.
static TEMPLATE_READY: Mutex<bool> = Mutex::new(false);

fn forget_template() {
    *TEMPLATE_READY
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = false;
}

/// Makes sure the template exists (building it if needed) and returns its name. The lock keeps
/// the threads of one process (`cargo test`) from building it side by side.
fn template_ready(admin_url: &str, admin: &mut PgConnection) -> Result<String, TestDbError> {
    let template = template_name();
    let mut ready = TEMPLATE_READY
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if !*ready {
        if !database_exists(admin, &template)? {
            build_template(admin_url, admin, &template)?;
        }
        *ready = true;
    }
    Ok(template)
}

fn build_template(
    admin_url: &str,
    admin: &mut PgConnection,
    template: &str,
) -> Result<(), TestDbError> {
    build_template_named(admin_url, admin, template, &unique_name(BUILD_PREFIX))
}

fn build_template_named(
    admin_url: &str,
    admin: &mut PgConnection,
    template: &str,
    build: &str,
) -> Result<(), TestDbError> {
    create_database(admin, build, "template0").map_err(|source| TestDbError::Create {
        database: build.to_owned(),
        template: "template0".to_owned(),
        attempts: 1,
        source,
    })?;
    let result = migrate_and_publish(admin_url, admin, build, template);
    if result.is_err() {
        drop_quietly(admin_url, build);
    }
    result
}

/// Runs every pending migration on `database` of the server `admin_url` connects to, over a
/// connection of its own that is closed when this returns.
fn migrate(admin_url: &str, database: &str) -> Result<(), TestDbError> {
    let mut conn = connect(&database_url(admin_url, database)?)?;
    bazaar_schema::run_pending_migrations(&mut conn)
        .map(drop)
        .map_err(|source| TestDbError::Migrate {
            database: database.to_owned(),
            source,
        })
}

fn migrate_and_publish(
    admin_url: &str,
    admin: &mut PgConnection,
    build: &str,
    template: &str,
) -> Result<(), TestDbError> {
    // The migration connection is closed when this returns: a database cannot be renamed or
    // cloned while in use.
    migrate(admin_url, build)?;
    let comment = format!("{TEMPLATE_COMMENT_PREFIX}{}", unix_now());
    // raw SQL: DDL (COMMENT ON DATABASE), which takes no bind parameters
    diesel::sql_query(format!(
        "COMMENT ON DATABASE {} IS {}",
        quote_ident(build),
        quote_literal(&comment)
    ))
    .execute(admin)
    .map_err(query_error(format!("commenting on {build}")))?;
    // Nobody may connect to the template: a connection would make every clone fail.
    // raw SQL: DDL (ALTER DATABASE ... ALLOW_CONNECTIONS), which takes no bind parameters
    diesel::sql_query(format!(
        "ALTER DATABASE {} WITH ALLOW_CONNECTIONS false",
        quote_ident(build)
    ))
    .execute(admin)
    .map_err(query_error(format!("closing {build} to connections")))?;
    let mut attempt: u32 = 0;
    loop {
        attempt = attempt.saturating_add(1);
        // raw SQL: DDL (ALTER DATABASE ... RENAME), which takes no bind parameters
        let renamed = diesel::sql_query(format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_ident(build),
            quote_ident(template)
        ))
        .execute(admin);
        match renamed {
            Ok(_) => return Ok(()),
            // Another process published first: use its template, drop this build.
            Err(_) if database_exists(admin, template)? => {
                return drop_database(admin, build);
            }
            Err(source) if attempt >= ATTEMPTS => {
                return Err(TestDbError::PublishTemplate {
                    template: template.to_owned(),
                    attempts: attempt,
                    source,
                });
            }
            // The migration connection's backend may not have exited yet.
            Err(_) => std::thread::sleep(backoff(attempt)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sweeping leftovers

static SWEPT: Mutex<bool> = Mutex::new(false);

/// Sweeps once per process; a failed sweep is reported on stderr and does not fail the test.
fn sweep_once(admin: &mut PgConnection) {
    let mut swept = SWEPT.lock().unwrap_or_else(PoisonError::into_inner);
    if !*swept {
        *swept = true;
        if let Err(error) = sweep(admin) {
            eprintln!("bazaar-testdb: sweeping leftover test databases failed: {error}");
        }
    }
}

#[derive(QueryableByName)]
struct DatabaseRow {
    #[diesel(sql_type = Text)]
    datname: String,
    #[diesel(sql_type = Text)]
    comment: String,
}

fn sweep(admin: &mut PgConnection) -> Result<Vec<String>, TestDbError> {
    // raw SQL: pg_database with shobj_description(); system catalogs the schema does not declare
    let rows: Vec<DatabaseRow> = diesel::sql_query(
        "SELECT datname::text AS datname, \
                coalesce(shobj_description(oid, 'pg_database'), '') AS comment \
         FROM pg_database WHERE datname LIKE 'bazaar\\_%'",
    )
    .load(admin)
    .map_err(query_error("listing databases"))?;
    let now = unix_now();
    let host = host_tag();
    let current_template = template_name();
    let mut dropped = Vec::new();
    for row in rows {
        let leftover = is_leftover(
            &row.datname,
            &row.comment,
            now,
            &host,
            &current_template,
            process_alive,
        );
        if leftover {
            drop_database(admin, &row.datname)?;
            dropped.push(row.datname);
        }
    }
    Ok(dropped)
}

/// Whether database `name` (with its comment) is a leftover to drop at `now`.
fn is_leftover(
    name: &str,
    comment: &str,
    now: u64,
    our_host: &str,
    current_template: &str,
    alive: impl Fn(u32) -> Option<bool>,
) -> bool {
    let owner = parse_owner(name, TEST_PREFIX).or_else(|| parse_owner(name, BUILD_PREFIX));
    if let Some(owner) = owner {
        let age = now.saturating_sub(owner.created_unix);
        let owner_alive = if owner.host == our_host {
            alive(owner.pid)
        } else {
            None
        };
        return match owner_alive {
            Some(true) => false,
            Some(false) => age >= DEAD_OWNER_GRACE_SECS,
            None => age >= UNCHECKABLE_OWNER_GRACE_SECS,
        };
    }
    if name.starts_with(TEMPLATE_PREFIX) && name != current_template {
        let created = comment
            .strip_prefix(TEMPLATE_COMMENT_PREFIX)
            .and_then(|secs| secs.parse::<u64>().ok());
        return created
            .is_some_and(|created| now.saturating_sub(created) >= UNCHECKABLE_OWNER_GRACE_SECS);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "0123abcd";
    const NOW: u64 = 1_800_000_000;

    fn name(prefix: &str, host: &str, pid: u32, created: u64) -> String {
        format!("{prefix}{host}_{pid}_{created}_deadbeef")
    }

    fn leftover(name: &str, comment: &str, alive: Option<bool>) -> bool {
        is_leftover(name, comment, NOW, HOST, "bazaar_tpl_current", |_| alive)
    }

    #[test]
    fn unique_names_parse_back_to_this_process() {
        let name = unique_name(TEST_PREFIX);
        assert!(name.len() <= 63, "{name}");
        let owner = parse_owner(&name, TEST_PREFIX).unwrap();
        assert_eq!(owner.pid, std::process::id());
        assert_eq!(owner.host, host_tag());
        assert!(unix_now().abs_diff(owner.created_unix) < 5);
        assert_ne!(unique_name(TEST_PREFIX), name);
    }

    #[test]
    fn foreign_names_are_not_owned() {
        for foreign in [
            "postgres",
            "bazaar_production",
            "bazaar_test_",
            "bazaar_test_0123abcd_12_34",
            "bazaar_test_0123abcd_x_1800000000_deadbeef",
            "bazaar_test_0123abcd_12_1800000000_deadbeef_extra",
            "bazaar_test_short_12_1800000000_deadbeef",
        ] {
            assert_eq!(parse_owner(foreign, TEST_PREFIX), None, "{foreign}");
            assert!(!leftover(foreign, "", Some(false)), "{foreign}");
        }
    }

    #[test]
    fn databases_of_dead_processes_are_swept_after_a_minute() {
        for prefix in [TEST_PREFIX, BUILD_PREFIX] {
            let old = name(prefix, HOST, 42, NOW - 61);
            let young = name(prefix, HOST, 42, NOW - 10);
            assert!(leftover(&old, "", Some(false)));
            assert!(!leftover(&young, "", Some(false)));
            assert!(!leftover(&old, "", Some(true)), "live owner");
            let ancient = name(prefix, HOST, 42, NOW - 3 * 86_400);
            assert!(
                !leftover(&ancient, "", Some(true)),
                "live owner, however old"
            );
            assert!(!leftover(&old, "", None), "no /proc: wait a day");
            assert!(leftover(&ancient, "", None));
        }
    }

    #[test]
    fn databases_of_other_hosts_are_swept_after_a_day() {
        let other = |created| name(TEST_PREFIX, "ffff0000", 42, created);
        // The process check does not apply to another host's pid.
        assert!(!leftover(&other(NOW - 3_600), "", Some(false)));
        assert!(leftover(&other(NOW - 86_400), "", Some(true)));
    }

    #[test]
    fn outdated_templates_are_swept_after_a_day() {
        let old = format!("{TEMPLATE_COMMENT_PREFIX}{}", NOW - 86_400);
        let recent = format!("{TEMPLATE_COMMENT_PREFIX}{}", NOW - 3_600);
        assert!(leftover("bazaar_tpl_other", &old, None));
        assert!(!leftover("bazaar_tpl_other", &recent, None));
        assert!(!leftover("bazaar_tpl_other", "", None), "unknown age");
        assert!(!leftover("bazaar_tpl_current", &old, None), "ours");
    }

    #[test]
    fn database_urls_replace_only_the_database() {
        let cases = [
            ("postgres://u@h:5432/postgres", "postgres://u@h:5432/x"),
            (
                "postgres://u:p@h/postgres?sslmode=disable",
                "postgres://u:p@h/x?sslmode=disable",
            ),
            ("postgresql://h", "postgresql://h/x"),
            (
                "postgres://h?application_name=t",
                "postgres://h/x?application_name=t",
            ),
        ];
        for (admin, expected) in cases {
            assert_eq!(database_url(admin, "x").unwrap(), expected);
        }
        for bad in ["host=localhost dbname=x", "mysql://h/db", "postgres:///db"] {
            assert!(matches!(
                database_url(bad, "x"),
                Err(TestDbError::InvalidUrl { .. })
            ));
        }
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h/db?x=1"),
            "postgres://u:***@h/db?x=1"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        let error = database_url("mysql://u:secret@h/db", "x").unwrap_err();
        assert!(!error.to_string().contains("secret"), "{error}");
    }

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }

    #[test]
    fn the_template_hash_is_the_hash_of_the_migrations_on_disk() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        assert_eq!(
            migrations_hash::hash_migrations_dir(&root).unwrap(),
            MIGRATIONS_HASH,
            "stale build: the migrations changed after this crate was built"
        );
        assert!(template_name().len() <= 63);
    }

    #[test]
    fn any_change_to_a_migration_changes_the_hash() {
        let root = std::env::temp_dir().join(unique_name("bazaar_testdb_hash_"));
        let migration = root.join("2026-01-01-000000_a");
        std::fs::create_dir_all(&migration).unwrap();
        std::fs::write(
            migration.join("up.sql"),
            "CREATE TABLE a (id UUID PRIMARY KEY);",
        )
        .unwrap();
        std::fs::write(migration.join("down.sql"), "DROP TABLE a;").unwrap();
        let hash = |root: &Path| migrations_hash::hash_migrations_dir(root).unwrap();
        let original = hash(&root);
        assert_eq!(hash(&root), original, "deterministic");

        std::fs::write(migration.join("down.sql"), "DROP TABLE a; ").unwrap();
        let edited = hash(&root);
        assert_ne!(edited, original);

        std::fs::rename(&migration, root.join("2026-01-01-000000_b")).unwrap();
        let renamed = hash(&root);
        assert_ne!(renamed, edited);

        std::fs::create_dir(root.join("2026-01-02-000000_c")).unwrap();
        std::fs::write(root.join("2026-01-02-000000_c/up.sql"), "").unwrap();
        assert_ne!(hash(&root), renamed);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn backoff_is_bounded() {
        for attempt in 0..100 {
            assert!(backoff(attempt) <= Duration::from_millis(2_000));
        }
    }
}

/// Tests against the server at [`admin_url`].
#[cfg(test)]
mod server_tests {
    use super::*;

    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    fn owned_name(pid: u32, created_unix: u64) -> String {
        format!(
            "{TEST_PREFIX}{}_{pid}_{created_unix}_{:08x}",
            host_tag(),
            rand::rng().random::<u32>()
        )
    }

    #[test]
    fn the_sweep_drops_databases_of_dead_processes_only() {
        let mut admin = connect(&admin_url()).unwrap();
        let pid = dead_pid();
        assert_eq!(process_alive(pid), Some(false));
        assert_eq!(process_alive(std::process::id()), Some(true));
        let two_minutes_ago = unix_now() - 120;
        let dead_old = owned_name(pid, two_minutes_ago);
        let dead_young = owned_name(pid, unix_now());
        let alive_old = owned_name(std::process::id(), two_minutes_ago);
        for name in [&dead_old, &dead_young, &alive_old] {
            create_database(&mut admin, name, "template0").unwrap();
        }

        let dropped = sweep_leftovers().unwrap();

        // Another test process may sweep it first; either way it must be gone.
        assert!(
            !database_exists(&mut admin, &dead_old).unwrap(),
            "{dropped:?}"
        );
        assert!(!dropped.contains(&dead_young) && !dropped.contains(&alive_old));
        assert!(database_exists(&mut admin, &dead_young).unwrap());
        assert!(database_exists(&mut admin, &alive_old).unwrap());
        drop_database(&mut admin, &dead_young).unwrap();
        drop_database(&mut admin, &alive_old).unwrap();
    }

    #[test]
    fn the_sweep_drops_template_builds_of_dead_processes() {
        let mut admin = connect(&admin_url()).unwrap();
        let build =
            owned_name(dead_pid(), unix_now() - 3_600).replacen(TEST_PREFIX, BUILD_PREFIX, 1);
        create_database(&mut admin, &build, "template0").unwrap();
        // raw SQL: DDL (ALTER DATABASE ... ALLOW_CONNECTIONS), which takes no bind parameters
        diesel::sql_query(format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS false",
            quote_ident(&build)
        ))
        .execute(&mut admin)
        .unwrap();
        sweep_leftovers().unwrap();
        assert!(!database_exists(&mut admin, &build).unwrap());
    }

    #[test]
    fn outdated_templates_are_dropped_and_current_ones_kept() {
        let mut admin = connect(&admin_url()).unwrap();
        // Make sure the current template exists.
        drop(TestDatabase::new().unwrap());
        let outdated = format!("{TEMPLATE_PREFIX}{:032x}", rand::rng().random::<u128>());
        create_database(&mut admin, &outdated, "template0").unwrap();
        let two_days_ago = format!("{TEMPLATE_COMMENT_PREFIX}{}", unix_now() - 2 * 86_400);
        // raw SQL: DDL (COMMENT ON DATABASE), which takes no bind parameters
        diesel::sql_query(format!(
            "COMMENT ON DATABASE {} IS {}",
            quote_ident(&outdated),
            quote_literal(&two_days_ago)
        ))
        .execute(&mut admin)
        .unwrap();
        sweep_leftovers().unwrap();
        assert!(!database_exists(&mut admin, &outdated).unwrap());
        assert!(database_exists(&mut admin, &template_name()).unwrap());
    }

    #[test]
    fn a_lost_template_race_uses_the_winner() {
        let admin_url = admin_url();
        let mut admin = connect(&admin_url).unwrap();
        // The "winner": a database already under the template name. (Named like a test
        // database so that the sweep removes it should this test crash.)
        let template = unique_name(TEST_PREFIX);
        create_database(&mut admin, &template, "template0").unwrap();
        // The loser builds and migrates its own, then finds the name taken.
        let build = unique_name(BUILD_PREFIX);
        build_template_named(&admin_url, &mut admin, &template, &build).unwrap();
        assert!(
            !database_exists(&mut admin, &build).unwrap(),
            "the losing build was not dropped"
        );
        drop_database(&mut admin, &template).unwrap();
    }

    #[test]
    fn concurrent_template_builds_publish_exactly_one() {
        let admin_url = admin_url();
        // Named like a test database so that the sweep removes it should this test crash.
        let template = unique_name(TEST_PREFIX);
        let results: Vec<Result<(), TestDbError>> = std::thread::scope(|scope| {
            let builders: Vec<_> = (0..3)
                .map(|_| {
                    scope.spawn(|| {
                        let mut admin = connect(&admin_url)?;
                        build_template(&admin_url, &mut admin, &template)
                    })
                })
                .collect();
            builders.into_iter().map(|b| b.join().unwrap()).collect()
        });
        for result in results {
            result.unwrap();
        }
        let mut admin = connect(&admin_url).unwrap();
        assert!(database_exists(&mut admin, &template).unwrap());
        // The published template is migrated: a clone of it has the ledger tables.
        let clone = unique_name(TEST_PREFIX);
        create_database(&mut admin, &clone, &template).unwrap();
        let mut conn = connect(&database_url(&admin_url, &clone).unwrap()).unwrap();
        assert!(bazaar_schema::migrations_are_current(&mut conn).unwrap());
        drop(conn);
        drop_database(&mut admin, &clone).unwrap();
        drop_database(&mut admin, &template).unwrap();
    }
}
