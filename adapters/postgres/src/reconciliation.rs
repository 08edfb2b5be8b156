//! The reconciliation store on PostgreSQL: imported files and their bank entries, each file
//! and each entry stored once.

use bazaar_domain::fx::calendar::Date;
use bazaar_domain::reconciliation::{
    BankEntryId, BankEntryRecord, ImportOutcome, ImportedFile, ReconciliationStore,
    ReconciliationStoreError,
};
use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};
use bazaar_schema::schema::{recon_bank_entries, recon_imports};
use diesel::prelude::*;
use uuid::Uuid;

use crate::RetryPolicy;
use crate::commerce::{Db, Fail, Mode, StoreFailure};

type Result<T> = std::result::Result<T, Fail<ReconciliationStoreError>>;

impl StoreFailure for ReconciliationStoreError {
    fn unavailable() -> Self {
        Self::Unavailable
    }

    fn internal() -> Self {
        Self::Internal
    }
}

fn corrupt(what: &'static str) -> Fail<ReconciliationStoreError> {
    tracing::error!(what, "stored reconciliation data does not read back");
    Fail::Domain(ReconciliationStoreError::Internal)
}

/// The reconciliation store. Cloning shares the pool.
#[derive(Clone)]
pub struct PostgresReconciliation {
    db: Db,
}

impl std::fmt::Debug for PostgresReconciliation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresReconciliation")
            .field("pool_size", &self.db.pool_size())
            .finish_non_exhaustive()
    }
}

impl PostgresReconciliation {
    /// A store on `database_url` with at most `pool_size` connections.
    pub fn new(database_url: &str, pool_size: u32, retry: RetryPolicy) -> Self {
        Self {
            db: Db::new(database_url, pool_size, retry),
        }
    }
}

#[derive(Insertable, Queryable, Selectable)]
#[diesel(table_name = recon_bank_entries, check_for_backend(diesel::pg::Pg))]
struct EntryRow {
    id: Uuid,
    import_id: Uuid,
    account_key: String,
    account_hint: String,
    statement_id: String,
    currency: String,
    amount_minor: i64,
    status: String,
    booking_date: Option<String>,
    value_date: Option<String>,
    servicer_reference: Option<String>,
    end_to_end_ids: Option<String>,
    remittance: Option<String>,
    transaction_code: Option<String>,
    parts: i32,
}

impl EntryRow {
    fn of(import: Uuid, entry: BankEntryRecord) -> Self {
        Self {
            id: entry.id.as_uuid(),
            import_id: import,
            account_key: entry.account_key,
            account_hint: entry.account_hint,
            statement_id: entry.statement_id,
            currency: entry.amount.currency().code().to_owned(),
            amount_minor: entry.amount.minor(),
            status: entry.status,
            booking_date: entry.booking_date.map(|d| d.to_string()),
            value_date: entry.value_date.map(|d| d.to_string()),
            servicer_reference: entry.servicer_reference,
            end_to_end_ids: entry.end_to_end_ids,
            remittance: entry.remittance,
            transaction_code: entry.transaction_code,
            parts: i32::try_from(entry.parts).unwrap_or(i32::MAX),
        }
    }

    fn record(self) -> Result<BankEntryRecord> {
        let date = |text: Option<String>| -> Result<Option<Date>> {
            text.map(|t| Date::parse_iso(&t).ok_or_else(|| corrupt("entry date")))
                .transpose()
        };
        let currency =
            Currency::from_code(self.currency.trim()).map_err(|_| corrupt("currency"))?;
        Ok(BankEntryRecord {
            id: BankEntryId::from_uuid(self.id),
            account_key: self.account_key.trim().to_owned(),
            account_hint: self.account_hint,
            statement_id: self.statement_id,
            amount: Money::from_minor(self.amount_minor, currency),
            status: self.status,
            booking_date: date(self.booking_date)?,
            value_date: date(self.value_date)?,
            servicer_reference: self.servicer_reference,
            end_to_end_ids: self.end_to_end_ids,
            remittance: self.remittance,
            transaction_code: self.transaction_code,
            parts: u32::try_from(self.parts).map_err(|_| corrupt("parts"))?,
        })
    }
}

/// Entries per insert statement.
const CHUNK: usize = 1_000;

impl ReconciliationStore for PostgresReconciliation {
    async fn import_bank_entries(
        &self,
        file: ImportedFile,
        entries: Vec<BankEntryRecord>,
        now: Timestamp,
    ) -> std::result::Result<ImportOutcome, ReconciliationStoreError> {
        let import = file.id.as_uuid();
        let rows: Vec<EntryRow> = entries
            .into_iter()
            .map(|entry| EntryRow::of(import, entry))
            .collect();
        self.db
            .run("import_bank_entries", Mode::Write, move |conn| {
                let new = diesel::insert_into(recon_imports::table)
                    .values((
                        recon_imports::id.eq(file.id.as_uuid()),
                        recon_imports::kind.eq(file.kind.as_str()),
                        recon_imports::sha256.eq(&file.sha256),
                        recon_imports::name.eq(&file.name),
                        recon_imports::entries.eq(0),
                        recon_imports::imported_at.eq(now.as_micros()),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)?;
                if new == 0 {
                    return Ok(ImportOutcome::AlreadyImported);
                }
                let mut stored = 0_usize;
                for chunk in rows.chunks(CHUNK) {
                    stored = stored.saturating_add(
                        diesel::insert_into(recon_bank_entries::table)
                            .values(chunk)
                            .on_conflict(recon_bank_entries::id)
                            .do_nothing()
                            .execute(conn)?,
                    );
                }
                let stored = i32::try_from(stored).unwrap_or(i32::MAX);
                diesel::update(recon_imports::table.find(import))
                    .set(recon_imports::entries.eq(stored))
                    .execute(conn)?;
                Ok(ImportOutcome::Imported {
                    entries: u32::try_from(stored).unwrap_or(0),
                })
            })
            .await
    }

    async fn bank_entries(
        &self,
        account_key: String,
        currency: Currency,
        from: Date,
        to: Date,
    ) -> std::result::Result<Vec<BankEntryRecord>, ReconciliationStoreError> {
        self.db
            .run("bank_entries", Mode::Read, move |conn| {
                let rows: Vec<EntryRow> = recon_bank_entries::table
                    .filter(recon_bank_entries::account_key.eq(&account_key))
                    .filter(recon_bank_entries::currency.eq(currency.code()))
                    .filter(recon_bank_entries::booking_date.ge(from.to_string()))
                    .filter(recon_bank_entries::booking_date.le(to.to_string()))
                    .order((recon_bank_entries::booking_date, recon_bank_entries::id))
                    .select(EntryRow::as_select())
                    .load(conn)?;
                rows.into_iter().map(EntryRow::record).collect()
            })
            .await
    }
}
