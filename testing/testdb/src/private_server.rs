//! A PostgreSQL server of a test's own, for tests that start it late, or stop and restart it
//! under load. The machine's shared server (`BAZAAR_TEST_DATABASE_URL`) is never touched.
//!
//! The private server runs the binaries in `BAZAAR_PG_BIN` (default
//! `/usr/lib/postgresql/15/bin`, else `pg_config --bindir`), as the `postgres` OS user when the
//! test runs as root (PostgreSQL refuses to run as root), with its data and socket in a fresh
//! temporary directory, on a free loopback port, with trust authentication. A guard stops it
//! and removes the directory when the test ends, however it ends; a watchdog process does the
//! same if the test process is killed before the guard can run.
//!
//! This is test support: every failure panics, with the server log's last lines where they help.
//!
//! ```no_run
//! use bazaar_testdb::private_server::PrivateServer;
//!
//! let server = PrivateServer::init();
//! server.start();
//! server.create_migrated_database("ledger");
//! let url = server.url("ledger");
//! server.stop("immediate");
//! server.start();
//! # drop(url);
//! ```
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support fails loudly"
)]

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::BigInt;
use rand::Rng;

/// How many lines of the server log [`PrivateServer::log_tail`] returns.
const LOG_TAIL_LINES: usize = 40;

/// A PostgreSQL cluster of the test's own. Dropping it stops the server (if running) and
/// removes its directory.
#[derive(Debug)]
pub struct PrivateServer {
    root: PathBuf,
    data: PathBuf,
    log: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    watchdog: Option<Child>,
}

impl PrivateServer {
    /// Creates the cluster on a free loopback port; does not start it.
    pub fn init() -> Self {
        let root = std::env::temp_dir().join(format!(
            "bazaar-private-pg-{}-{:016x}",
            std::process::id(),
            rand::rng().random::<u64>()
        ));
        std::fs::create_dir(&root).unwrap();
        let mut server = Self {
            data: root.join("data"),
            log: root.join("server.log"),
            root,
            bin: pg_bin(),
            port: free_port(),
            as_postgres: running_as_root(),
            watchdog: None,
        };
        // From here on, dropping `server` cleans up.
        if server.as_postgres {
            let status = Command::new("chown")
                .arg("postgres:")
                .arg(&server.root)
                .status()
                .unwrap();
            assert!(status.success(), "chown of {:?} failed", server.root);
        }
        server.watchdog = Some(server.spawn_watchdog());
        let data = path_text(&server.data);
        server.run(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        );
        let settings = format!(
            "\n# bazaar private test server\nlisten_addresses = '127.0.0.1'\nport = {}\n\
             unix_socket_directories = '{}'\nshared_buffers = 16MB\nmax_connections = 40\n",
            server.port,
            path_text(&server.root),
        );
        let conf = server.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str(&settings);
        std::fs::write(&conf, text).unwrap();
        server
    }

    /// The loopback port the server listens on (once started).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for `database` on this server, as the `postgres` superuser.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }

    /// Starts the server and waits (up to 30 s) until it accepts connections.
    pub fn start(&self) {
        let (data, log) = (path_text(&self.data), path_text(&self.log));
        self.run(
            "pg_ctl",
            &["start", "-w", "-t", "30", "-D", &data, "-l", &log],
        );
    }

    /// Stops the server and waits (up to 30 s) until it is down. `mode` is pg_ctl's: `fast`
    /// disconnects clients and checkpoints, `immediate` kills everything at once and leaves
    /// crash recovery to the next start.
    pub fn stop(&self, mode: &str) {
        let data = path_text(&self.data);
        self.run(
            "pg_ctl",
            &["stop", "-w", "-t", "30", "-D", &data, "-m", mode],
        );
    }

    /// Creates and migrates database `name` (the server must be running). It is built under a
    /// temporary name and renamed when it is ready, so that a client retrying its connection
    /// never sees it half migrated.
    pub fn create_migrated_database(&self, name: &str) {
        let build = format!("{name}_build");
        let admin_url = self.url("postgres");
        let mut admin = crate::connect(&admin_url).unwrap();
        crate::create_database(&mut admin, &build, "template1").unwrap();
        crate::migrate(&admin_url, &build).unwrap();
        // PostgreSQL waits up to 5 s for the migration session's backend to exit.
        // raw SQL: DDL (ALTER DATABASE ... RENAME), which takes no bind parameters
        sql_query(format!(
            "ALTER DATABASE {} RENAME TO {}",
            crate::quote_ident(&build),
            crate::quote_ident(name)
        ))
        .execute(&mut admin)
        .unwrap();
    }

    /// Makes the next commit hang after it is durable and before it is acknowledged, until
    /// the server stops: every commit waits for a synchronous standby that does not exist.
    /// Returns once a commit is held (panics if none is within 10 s). The setting is reset in
    /// the configuration file right away but not reloaded, so the server drops it when it
    /// restarts. Stopping the server then ends the session with the commit applied and its
    /// answer lost: exactly the "outcome unknown" that a client must resolve by retrying the
    /// same request.
    pub fn hold_next_commit(&self) {
        let mut admin = crate::connect(&self.url("postgres")).unwrap();
        // raw SQL: ALTER SYSTEM, server configuration the builder has no statement for
        sql_query("ALTER SYSTEM SET synchronous_standby_names = '*'")
            .execute(&mut admin)
            .unwrap();
        // raw SQL: calls pg_reload_conf(), a server function diesel does not declare
        sql_query("SELECT pg_reload_conf()")
            .execute(&mut admin)
            .unwrap();
        let started = Instant::now();
        while held_commits(&mut admin) == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no commit was held"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // raw SQL: ALTER SYSTEM RESET, server configuration the builder has no statement for
        sql_query("ALTER SYSTEM RESET synchronous_standby_names")
            .execute(&mut admin)
            .unwrap();
    }

    /// The last lines of the server log (empty if there is none yet).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let skip = lines.len().saturating_sub(LOG_TAIL_LINES);
        lines.into_iter().skip(skip).collect::<Vec<_>>().join("\n")
    }

    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command.stdin(Stdio::null());
        command
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let output = self.command(tool).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{tool} {args:?} failed ({}):\n{}{}\nserver log:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.log_tail(),
        );
    }

    /// A process of its own group that outlives this one: once this process is gone (killed
    /// by a timeout, say, so that no destructor ran), it stops the server and removes the
    /// directory. The guard kills it first when it cleans up itself.
    fn spawn_watchdog(&self) -> Child {
        let pg_ctl = if self.as_postgres {
            "runuser -u postgres -- \"$1\""
        } else {
            "\"$1\""
        };
        let script = format!(
            "while [ -d \"/proc/$0\" ]; do sleep 0.5; done; \
             {pg_ctl} stop -D \"$2\" -m immediate -w -t 20 >/dev/null 2>&1; rm -rf \"$3\""
        );
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(std::process::id().to_string())
            .arg(self.bin.join("pg_ctl"))
            .arg(&self.data)
            .arg(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap()
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        let pid_file = self.data.join("postmaster.pid");
        if pid_file.exists() {
            let data = path_text(&self.data);
            let _ = self
                .command("pg_ctl")
                .args(["stop", "-D", &data, "-m", "immediate", "-w", "-t", "20"])
                .output();
        }
        // Should pg_ctl have failed, kill the postmaster named in its pid file, if it is one.
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|text| text.lines().next().map(|line| line.trim().to_owned()))
        {
            let command = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if command.trim() == "postgres" {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "private PostgreSQL server log (last lines):\n{}",
                self.log_tail()
            );
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[derive(QueryableByName)]
struct HeldCommits {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many sessions wait for a synchronous standby to acknowledge their commit.
fn held_commits(admin: &mut PgConnection) -> i64 {
    // raw SQL: a query against the system view pg_stat_activity
    sql_query("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event = 'SyncRep'")
        .get_result::<HeldCommits>(admin)
        .unwrap()
        .n
}

fn path_text(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

/// The directory of the PostgreSQL binaries: `BAZAAR_PG_BIN`, else `/usr/lib/postgresql/15/bin`
/// if it has `pg_ctl`, else what `pg_config --bindir` says.
pub fn pg_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("BAZAAR_PG_BIN") {
        return PathBuf::from(dir);
    }
    let default = PathBuf::from("/usr/lib/postgresql/15/bin");
    if default.join("pg_ctl").exists() {
        return default;
    }
    let output = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .expect("no PostgreSQL binaries: set BAZAAR_PG_BIN");
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// Whether this process runs as root (`id -u` is 0), so that the server must run as the
/// `postgres` OS user.
pub fn running_as_root() -> bool {
    let output = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
