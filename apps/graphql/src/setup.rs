//! Creating the database if it is missing, and migrating it.

use bazaar_schema::run_pending_migrations;
use diesel::pg::PgConnection;
use diesel::sql_types::Text;
use diesel::{Connection, QueryableByName, RunQueryDsl, sql_query};

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the database URL has no database name")]
    NoDatabaseName,
    #[error("the database name must be letters, digits and underscores")]
    BadDatabaseName,
    #[error("cannot reach PostgreSQL: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migration failed: {0}")]
    Migrate(String),
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    #[expect(dead_code, reason = "only the row's existence matters")]
    datname: String,
}

/// `url` split into the server part and the database name.
fn split(url: &str) -> Result<(String, String), SetupError> {
    let (path, query) = url
        .split_once('?')
        .map_or((url, None), |(p, q)| (p, Some(q)));
    let (server, name) = path.rsplit_once('/').ok_or(SetupError::NoDatabaseName)?;
    if name.is_empty() || server.ends_with('/') {
        return Err(SetupError::NoDatabaseName);
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(SetupError::BadDatabaseName);
    }
    let admin = match query {
        Some(query) => format!("{server}/postgres?{query}"),
        None => format!("{server}/postgres"),
    };
    Ok((admin, name.to_owned()))
}

/// Creates the database named in `url` if it does not exist, then runs pending migrations.
/// Returns how many migrations ran.
pub fn prepare_database(url: &str) -> Result<usize, SetupError> {
    let (admin_url, name) = split(url)?;
    let mut admin = PgConnection::establish(&admin_url)?;
    let found: Vec<Name> =
        sql_query("SELECT datname::TEXT AS datname FROM pg_database WHERE datname = $1")
            .bind::<Text, _>(&name)
            .load(&mut admin)?;
    if found.is_empty() {
        // The name was checked to be a plain identifier above.
        sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut admin)?;
        tracing::info!(database = %name, "created the database");
    }
    let mut conn = PgConnection::establish(url)?;
    let ran = run_pending_migrations(&mut conn).map_err(|e| SetupError::Migrate(e.to_string()))?;
    Ok(ran)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_admin_and_name() {
        assert_eq!(
            split("postgres://postgres@127.0.0.1:5432/bazaar").unwrap(),
            (
                "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
                "bazaar".to_owned()
            )
        );
        assert_eq!(
            split("postgres://u@h/db_1?sslmode=disable").unwrap().0,
            "postgres://u@h/postgres?sslmode=disable"
        );
        assert!(split("postgres://u@h/").is_err());
        assert!(split("postgres://u@h/a-b").is_err());
    }
}
