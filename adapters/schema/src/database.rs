//! Creating, dropping and preparing databases: the one place Bazaar issues `CREATE DATABASE`.
//! The server, the benchmarks and the test databases all come through here.

use diesel::pg::PgConnection;
use diesel::sql_types::Text;
use diesel::{Connection, QueryableByName, RunQueryDsl, sql_query};

use crate::run_pending_migrations;

/// Why a database could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
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

/// A database URL split into the URL of the server's `postgres` database (where databases are
/// created and dropped) and the database's name.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DatabaseUrl {
    /// The same server and options, database `postgres`.
    pub admin: String,
    /// Letters, digits and underscores only.
    pub name: String,
}

impl DatabaseUrl {
    /// Splits `url`; a name that is not a plain identifier is refused, so it is safe to
    /// quote into `CREATE DATABASE`.
    pub fn parse(url: &str) -> Result<Self, DatabaseError> {
        let (path, query) = url
            .split_once('?')
            .map_or((url, None), |(p, q)| (p, Some(q)));
        let (server, name) = path.rsplit_once('/').ok_or(DatabaseError::NoDatabaseName)?;
        if name.is_empty() || server.ends_with('/') {
            return Err(DatabaseError::NoDatabaseName);
        }
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(DatabaseError::BadDatabaseName);
        }
        let admin = match query {
            Some(query) => format!("{server}/postgres?{query}"),
            None => format!("{server}/postgres"),
        };
        Ok(Self {
            admin,
            name: name.to_owned(),
        })
    }
}

/// `name` as a quoted SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates database `name`, as a copy of `template` when one is given.
pub fn create_database(
    admin: &mut PgConnection,
    name: &str,
    template: Option<&str>,
) -> Result<(), diesel::result::Error> {
    let template = template
        .map(|t| format!(" TEMPLATE {}", quote_ident(t)))
        .unwrap_or_default();
    // raw SQL: DDL (CREATE DATABASE), which takes no bind parameters
    sql_query(format!("CREATE DATABASE {}{template}", quote_ident(name)))
        .execute(admin)
        .map(drop)
}

/// Drops database `name` if it exists, ending its sessions.
pub fn drop_database(admin: &mut PgConnection, name: &str) -> Result<(), diesel::result::Error> {
    // raw SQL: DDL (DROP DATABASE ... WITH (FORCE)), which takes no bind parameters
    sql_query(format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(name)
    ))
    .execute(admin)
    .map(drop)
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    #[expect(dead_code, reason = "only the row's existence matters")]
    datname: String,
}

/// Whether database `name` exists.
pub fn database_exists(
    admin: &mut PgConnection,
    name: &str,
) -> Result<bool, diesel::result::Error> {
    // raw SQL: a query against the system catalog pg_database, which the schema does not declare
    let found: Vec<Name> =
        sql_query("SELECT datname::TEXT AS datname FROM pg_database WHERE datname = $1")
            .bind::<Text, _>(name)
            .load(admin)?;
    Ok(!found.is_empty())
}

/// Creates the database `url` names if it does not exist, then runs pending migrations.
/// Answers whether it was created, and how many migrations ran.
pub fn prepare_database(url: &str) -> Result<(bool, usize), DatabaseError> {
    prepare_database_with(url, run_pending_migrations)
}

/// [`prepare_database`] with another set of migrations (the card vault's database has its
/// own).
pub fn prepare_database_with(
    url: &str,
    run_pending_migrations: fn(&mut PgConnection) -> Result<usize, crate::MigrationError>,
) -> Result<(bool, usize), DatabaseError> {
    let parsed = DatabaseUrl::parse(url)?;
    let mut admin = PgConnection::establish(&parsed.admin)?;
    let created = !database_exists(&mut admin, &parsed.name)?;
    if created {
        create_database(&mut admin, &parsed.name, None)?;
    }
    let mut conn = PgConnection::establish(url)?;
    let ran =
        run_pending_migrations(&mut conn).map_err(|e| DatabaseError::Migrate(e.to_string()))?;
    Ok((created, ran))
}

/// Drops and recreates the database `url` names, migrates it, and answers a connection to it.
pub fn recreate_database(url: &str) -> Result<PgConnection, DatabaseError> {
    let parsed = DatabaseUrl::parse(url)?;
    let mut admin = PgConnection::establish(&parsed.admin)?;
    drop_database(&mut admin, &parsed.name)?;
    create_database(&mut admin, &parsed.name, None)?;
    let mut conn = PgConnection::establish(url)?;
    run_pending_migrations(&mut conn).map_err(|e| DatabaseError::Migrate(e.to_string()))?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_admin_and_name() {
        let parsed = DatabaseUrl::parse("postgres://postgres@127.0.0.1:5432/bazaar").unwrap();
        assert_eq!(parsed.admin, "postgres://postgres@127.0.0.1:5432/postgres");
        assert_eq!(parsed.name, "bazaar");
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db_1?sslmode=disable")
                .unwrap()
                .admin,
            "postgres://u@h/postgres?sslmode=disable"
        );
        assert!(DatabaseUrl::parse("postgres://u@h/").is_err());
        assert!(DatabaseUrl::parse("postgres://u@h/a-b").is_err());
        assert!(DatabaseUrl::parse("postgres://u@h/a\"b").is_err());
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("bazaar"), "\"bazaar\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
