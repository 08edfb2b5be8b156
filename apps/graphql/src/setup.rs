//! Creating the database if it is missing, and migrating it.

pub use bazaar_schema::database::DatabaseError as SetupError;

/// Creates the database named in `url` if it does not exist, then runs pending migrations.
/// Returns how many migrations ran.
pub fn prepare_database(url: &str) -> Result<usize, SetupError> {
    let (created, ran) = bazaar_schema::database::prepare_database(url)?;
    if created {
        tracing::info!("created the database");
    }
    Ok(ran)
}
