//! The card vault's database: its own migrations (`vault_migrations/`), applied by the
//! vault's process to its own database, and diesel's tables for them. Nothing else reads it.

use diesel::pg::PgConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::MigrationError;

/// Every migration of the vault's database, in order.
pub const VAULT_MIGRATIONS: EmbeddedMigrations = embed_migrations!("vault_migrations");

/// Applies the vault's pending migrations; answers how many ran.
pub fn run_pending_vault_migrations(conn: &mut PgConnection) -> Result<usize, MigrationError> {
    Ok(conn.run_pending_migrations(VAULT_MIGRATIONS)?.len())
}

diesel::table! {
    /// The master key's check value.
    vault_master (id) {
        id -> Int4,
        check_value -> Text,
        key_use -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    /// Tenants' wrapped data keys.
    vault_keys (tenant, version) {
        tenant -> Text,
        version -> Int4,
        wrapped -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    /// Tokenized cards.
    vault_cards (token) {
        token -> Text,
        tenant -> Text,
        fingerprint -> Text,
        key_version -> Int4,
        sealed -> Bytea,
        bin -> Text,
        last4 -> Text,
        brand -> Text,
        expiry_month -> Int2,
        expiry_year -> Int2,
        created_at -> Timestamptz,
    }
}
