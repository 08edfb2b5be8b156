//! Bazaar's database schema: the migrations in `migrations/`, embedded in the binary, and
//! diesel's table definitions for them.

use diesel::pg::PgConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub mod database;
pub mod schema;
pub mod vault;

/// Every migration under `migrations/`, in order.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// The error a migration run reports.
pub type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Applies every migration the database has not run yet, then the data upgrades (each in a
/// transaction of its own, after the DDL has committed: migrations change no data); returns
/// how many migrations ran.
pub fn run_pending_migrations(conn: &mut PgConnection) -> Result<usize, MigrationError> {
    let ran = conn.run_pending_migrations(MIGRATIONS)?.len();
    upgrade_data(conn)?;
    Ok(ran)
}

/// Data changes that follow a migration. Each is idempotent and changes nothing the second
/// time.
///
/// - Sellers' pending balances may go below zero since payouts release funds (a refund after
///   release reverses the capture's credit there): accounts opened before carry the old
///   constraint and take the chart's current one, so opening them again matches.
fn upgrade_data(conn: &mut PgConnection) -> Result<(), MigrationError> {
    use diesel::prelude::*;

    use schema::ledger_accounts;
    conn.transaction(|conn| {
        diesel::update(
            ledger_accounts::table
                .filter(ledger_accounts::code.eq("seller_pending"))
                .filter(ledger_accounts::balance_constraint.ne("none")),
        )
        .set((
            ledger_accounts::balance_constraint.eq("none"),
            ledger_accounts::overdraft.eq(0_i64),
        ))
        .execute(conn)
    })?;
    Ok(())
}

/// Whether the database has run every migration this binary knows.
pub fn migrations_are_current(conn: &mut PgConnection) -> Result<bool, MigrationError> {
    Ok(!conn.has_pending_migration(MIGRATIONS)?)
}
