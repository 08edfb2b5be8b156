//! Bazaar's database schema: the migrations in `migrations/`, embedded in the binary, and
//! diesel's table definitions for them.

use diesel::pg::PgConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub mod database;
pub mod schema;

/// Every migration under `migrations/`, in order.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// The error a migration run reports.
pub type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Applies every migration the database has not run yet; returns how many ran.
pub fn run_pending_migrations(conn: &mut PgConnection) -> Result<usize, MigrationError> {
    Ok(conn.run_pending_migrations(MIGRATIONS)?.len())
}

/// Whether the database has run every migration this binary knows.
pub fn migrations_are_current(conn: &mut PgConnection) -> Result<bool, MigrationError> {
    Ok(!conn.has_pending_migration(MIGRATIONS)?)
}
