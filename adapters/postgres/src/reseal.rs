//! Re-sealing: moves webhook secrets and bank details onto the newest key of their vault
//! keyring, a batch of rows at a time in id order, so that a retired key (or the flat key
//! they were sealed with before the vault) can be given up. Each batch locks its rows for
//! the moment it takes; a row sealed afresh meanwhile is already current and left alone.

use bazaar_domain::events::EventStoreError;
use bazaar_domain::payouts::PayoutStoreError;
use bazaar_schema::schema::{bank_accounts, webhook_endpoints};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use uuid::Uuid;

use crate::commerce::{Fail, Mode, StoreFailure};
use crate::sealed::{SealError, SecretKeys};
use crate::{PostgresEvents, PostgresPayouts};

/// The most rows one re-sealing step reads.
pub const RESEAL_BATCH_MAX: u32 = 1_000;

/// How far one step went: rows read, rows moved, and where the next step starts (`None`
/// when the table is done).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResealStep {
    /// Rows read.
    pub scanned: u64,
    /// Rows whose sealed values moved to the newest key.
    pub moved: u64,
    /// The last id read, where the next step goes on; `None` at the end.
    pub next: Option<Uuid>,
    /// Rows in the table.
    pub total: u64,
}

fn moved<E: StoreFailure>(
    keys: &SecretKeys,
    sealed: &[u8],
    id: Uuid,
) -> Result<Option<Vec<u8>>, Fail<E>> {
    keys.reseal(sealed, id.as_bytes()).map_err(|error| {
        tracing::error!(%id, %error, "a sealed value could not be re-sealed");
        match error {
            SealError::KeysUnavailable => Fail::Domain(E::unavailable()),
            SealError::BadKey | SealError::DoesNotOpen => Fail::Domain(E::internal()),
        }
    })
}

/// A row's id and its two sealed values (the second optional).
type SealedRow = (Uuid, Vec<u8>, Option<Vec<u8>>);

/// Re-seals each row's values; `write` stores a row whose values moved (both given, moved or
/// as they were). Answers how many rows moved.
fn reseal_rows<E: StoreFailure>(
    conn: &mut PgConnection,
    keys: &SecretKeys,
    rows: Vec<SealedRow>,
    write: impl Fn(&mut PgConnection, Uuid, Vec<u8>, Option<Vec<u8>>) -> QueryResult<usize>,
) -> Result<u64, Fail<E>> {
    let mut count = 0_u64;
    for (id, first, second) in rows {
        let first_moved = moved(keys, &first, id)?;
        let second_moved = match &second {
            Some(sealed) => moved(keys, sealed, id)?,
            None => None,
        };
        if first_moved.is_none() && second_moved.is_none() {
            continue;
        }
        write(
            conn,
            id,
            first_moved.unwrap_or(first),
            second_moved.or(second),
        )?;
        count = count.saturating_add(1);
    }
    Ok(count)
}

fn step(scanned: usize, moved: u64, last: Option<Uuid>, limit: u32, total: i64) -> ResealStep {
    let scanned = u64::try_from(scanned).unwrap_or(u64::MAX);
    ResealStep {
        scanned,
        moved,
        next: last.filter(|_| scanned >= u64::from(limit)),
        total: u64::try_from(total).unwrap_or(0),
    }
}

impl PostgresEvents {
    /// Moves up to `limit` endpoints' secrets (current and previous) after `after` onto the
    /// webhook-secrets keyring's newest key.
    pub async fn reseal_secrets(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<ResealStep, EventStoreError> {
        let keys = self.key.ready_to_seal::<EventStoreError>().await?;
        let limit = limit.clamp(1, RESEAL_BATCH_MAX);
        self.db
            .run("reseal_secrets", Mode::Write, move |conn| {
                let rows: Vec<SealedRow> = webhook_endpoints::table
                    .filter(webhook_endpoints::id.gt(after.unwrap_or(Uuid::nil())))
                    .order(webhook_endpoints::id)
                    .limit(i64::from(limit))
                    .select((
                        webhook_endpoints::id,
                        webhook_endpoints::secret_sealed,
                        webhook_endpoints::previous_secret_sealed,
                    ))
                    .for_update()
                    .load(conn)?;
                let (scanned, last) = (rows.len(), rows.last().map(|row| row.0));
                let count = reseal_rows(conn, &keys, rows, |conn, id, secret, previous| {
                    diesel::update(webhook_endpoints::table.find(id))
                        .set((
                            webhook_endpoints::secret_sealed.eq(secret),
                            webhook_endpoints::previous_secret_sealed.eq(previous),
                        ))
                        .execute(conn)
                })?;
                let total: i64 = webhook_endpoints::table.count().get_result(conn)?;
                Ok(step(scanned, count, last, limit, total))
            })
            .await
    }
}

impl PostgresPayouts {
    /// Moves up to `limit` bank accounts' details and deposits after `after` onto the
    /// bank-details keyring's newest key.
    pub async fn reseal_bank_details(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<ResealStep, PayoutStoreError> {
        let keys = self.key.ready_to_seal().await?;
        let limit = limit.clamp(1, RESEAL_BATCH_MAX);
        self.db
            .run("reseal_bank_details", Mode::Write, move |conn| {
                let rows: Vec<SealedRow> = bank_accounts::table
                    .filter(bank_accounts::id.gt(after.unwrap_or(Uuid::nil())))
                    .order(bank_accounts::id)
                    .limit(i64::from(limit))
                    .select((
                        bank_accounts::id,
                        bank_accounts::details_sealed,
                        bank_accounts::deposits_sealed.nullable(),
                    ))
                    .for_update()
                    .load(conn)?;
                let (scanned, last) = (rows.len(), rows.last().map(|row| row.0));
                let count = reseal_rows(conn, &keys, rows, |conn, id, details, deposits| {
                    // Never `None`: the column is NOT NULL, read as nullable to share the shape.
                    let deposits = deposits.unwrap_or_default();
                    diesel::update(bank_accounts::table.find(id))
                        .set((
                            bank_accounts::details_sealed.eq(details),
                            bank_accounts::deposits_sealed.eq(deposits),
                        ))
                        .execute(conn)
                })?;
                let total: i64 = bank_accounts::table.count().get_result(conn)?;
                Ok(step(scanned, count, last, limit, total))
            })
            .await
    }
}
