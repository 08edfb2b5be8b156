//! The reconciliation store on PostgreSQL: imported files and their bank entries, each file
//! and each entry stored once.

use bazaar_domain::fx::calendar::Date;
use bazaar_domain::reconciliation::{
    BankEntryId, BankEntryRecord, Bucket, ImportId, ImportStart, ImportedFile, ProviderRowId,
    ProviderRowKind, ProviderRowRecord, ReconciliationStore, ReconciliationStoreError, RecordSide,
    RunId, RunItem, RunSummary,
};
use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};
use bazaar_schema::schema::{
    recon_bank_entries, recon_imports, recon_provider_rows, recon_run_items, recon_runs,
};
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
        let currency = currency(&self.currency)?;
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

#[derive(Insertable, Queryable, Selectable)]
#[diesel(table_name = recon_provider_rows, check_for_backend(diesel::pg::Pg))]
struct ProviderRow {
    id: Uuid,
    import_id: Uuid,
    provider: String,
    batch: String,
    kind: String,
    reference: Option<String>,
    gross_currency: String,
    gross_minor: i64,
    fees_minor: i64,
    currency: String,
    net_minor: i64,
    booked_on: String,
}

fn currency(code: &str) -> Result<Currency> {
    Currency::from_code(code.trim()).map_err(|_| corrupt("currency"))
}

impl ProviderRow {
    fn of(import: Uuid, row: ProviderRowRecord) -> Self {
        Self {
            id: row.id.as_uuid(),
            import_id: import,
            provider: row.provider,
            batch: row.batch,
            kind: row.kind.as_str().to_owned(),
            reference: row.reference,
            gross_currency: row.gross.currency().code().to_owned(),
            gross_minor: row.gross.minor(),
            fees_minor: row.fees.minor(),
            currency: row.net.currency().code().to_owned(),
            net_minor: row.net.minor(),
            booked_on: row.date.to_string(),
        }
    }

    fn record(self) -> Result<ProviderRowRecord> {
        let net = currency(&self.currency)?;
        Ok(ProviderRowRecord {
            id: ProviderRowId::from_uuid(self.id),
            provider: self.provider,
            batch: self.batch,
            kind: ProviderRowKind::parse(&self.kind).ok_or_else(|| corrupt("row kind"))?,
            reference: self.reference,
            gross: Money::from_minor(self.gross_minor, currency(&self.gross_currency)?),
            fees: Money::from_minor(self.fees_minor, net),
            net: Money::from_minor(self.net_minor, net),
            date: Date::parse_iso(&self.booked_on).ok_or_else(|| corrupt("row date"))?,
        })
    }
}

#[derive(Insertable, Queryable, Selectable)]
#[diesel(table_name = recon_runs, check_for_backend(diesel::pg::Pg))]
struct RunRow {
    id: Uuid,
    created_at: i64,
    account_key: String,
    account_hint: String,
    currency: String,
    from_day: String,
    to_day: String,
    matched: i64,
    amount_differences: i64,
    unmatched_external: i64,
    unmatched_internal: i64,
    sha256: String,
}

impl RunRow {
    fn of(run: &RunSummary) -> std::result::Result<Self, ReconciliationStoreError> {
        let count = |n: u64| i64::try_from(n).map_err(|_| ReconciliationStoreError::Internal);
        let [matched, differences, external, internal] = run.counts;
        Ok(Self {
            id: run.id.as_uuid(),
            created_at: run.created_at.as_micros(),
            account_key: run.account_key.clone(),
            account_hint: run.account_hint.clone(),
            currency: run.currency.code().to_owned(),
            from_day: run.from.to_string(),
            to_day: run.to.to_string(),
            matched: count(matched)?,
            amount_differences: count(differences)?,
            unmatched_external: count(external)?,
            unmatched_internal: count(internal)?,
            sha256: run.sha256.clone(),
        })
    }

    fn summary(self) -> Result<RunSummary> {
        let count = |n: i64| u64::try_from(n).map_err(|_| corrupt("run count"));
        let day = |text: &str| Date::parse_iso(text).ok_or_else(|| corrupt("run day"));
        Ok(RunSummary {
            id: RunId::from_uuid(self.id),
            created_at: Timestamp::from_micros(self.created_at),
            account_key: self.account_key.trim().to_owned(),
            account_hint: self.account_hint,
            currency: currency(&self.currency)?,
            from: day(&self.from_day)?,
            to: day(&self.to_day)?,
            counts: [
                count(self.matched)?,
                count(self.amount_differences)?,
                count(self.unmatched_external)?,
                count(self.unmatched_internal)?,
            ],
            sha256: self.sha256.trim().to_owned(),
        })
    }
}

#[derive(Insertable, Queryable, Selectable)]
#[diesel(table_name = recon_run_items, check_for_backend(diesel::pg::Pg))]
struct ItemRow {
    run_id: Uuid,
    seq: i32,
    bucket: String,
    side: String,
    item_id: String,
    currency: String,
    amount_minor: i64,
    day: i64,
    reference: Option<String>,
    rule: Option<String>,
    match_no: Option<i32>,
}

impl ItemRow {
    fn of(run: Uuid, seq: usize, item: RunItem) -> Result<Self> {
        Ok(Self {
            run_id: run,
            seq: i32::try_from(seq).map_err(|_| corrupt("item number"))?,
            bucket: item.bucket.as_str().to_owned(),
            side: item.side.as_str().to_owned(),
            item_id: item.id,
            currency: item.amount.currency().code().to_owned(),
            amount_minor: item.amount.minor(),
            day: item.day,
            reference: item.reference,
            rule: item.rule,
            match_no: item
                .group
                .map(i32::try_from)
                .transpose()
                .map_err(|_| corrupt("match number"))?,
        })
    }

    fn item(self) -> Result<RunItem> {
        Ok(RunItem {
            bucket: Bucket::parse(&self.bucket).ok_or_else(|| corrupt("bucket"))?,
            side: RecordSide::parse(&self.side).ok_or_else(|| corrupt("side"))?,
            id: self.item_id,
            amount: Money::from_minor(self.amount_minor, currency(&self.currency)?),
            day: self.day,
            reference: self.reference,
            rule: self.rule,
            group: self
                .match_no
                .map(u32::try_from)
                .transpose()
                .map_err(|_| corrupt("match number"))?,
        })
    }
}

/// Entries per insert statement.
const CHUNK: usize = 1_000;

/// Ids of the imports that are complete: only their records are read.
fn complete_imports() -> recon_imports::BoxedQuery<'static, diesel::pg::Pg, diesel::sql_types::Uuid>
{
    recon_imports::table
        .filter(recon_imports::complete.eq(true))
        .select(recon_imports::id)
        .into_boxed()
}

impl ReconciliationStore for PostgresReconciliation {
    async fn begin_import(
        &self,
        file: ImportedFile,
        now: Timestamp,
    ) -> std::result::Result<ImportStart, ReconciliationStoreError> {
        self.db
            .run("begin_import", Mode::Write, move |conn| {
                let new = diesel::insert_into(recon_imports::table)
                    .values((
                        recon_imports::id.eq(file.id.as_uuid()),
                        recon_imports::kind.eq(file.kind.as_str()),
                        recon_imports::sha256.eq(&file.sha256),
                        recon_imports::name.eq(&file.name),
                        recon_imports::entries.eq(0),
                        recon_imports::imported_at.eq(now.as_micros()),
                        recon_imports::complete.eq(false),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)?;
                if new > 0 {
                    return Ok(ImportStart::New);
                }
                let complete: bool = recon_imports::table
                    .find(file.id.as_uuid())
                    .select(recon_imports::complete)
                    .first(conn)?;
                Ok(if complete {
                    ImportStart::AlreadyImported
                } else {
                    ImportStart::Resume
                })
            })
            .await
    }

    async fn add_bank_entries(
        &self,
        import: ImportId,
        entries: Vec<BankEntryRecord>,
    ) -> std::result::Result<u32, ReconciliationStoreError> {
        let rows: Vec<EntryRow> = entries
            .into_iter()
            .map(|entry| EntryRow::of(import.as_uuid(), entry))
            .collect();
        self.db
            .run("add_bank_entries", Mode::Write, move |conn| {
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
                Ok(u32::try_from(stored).unwrap_or(u32::MAX))
            })
            .await
    }

    async fn add_provider_rows(
        &self,
        import: ImportId,
        rows: Vec<ProviderRowRecord>,
    ) -> std::result::Result<u32, ReconciliationStoreError> {
        let rows: Vec<ProviderRow> = rows
            .into_iter()
            .map(|row| ProviderRow::of(import.as_uuid(), row))
            .collect();
        self.db
            .run("add_provider_rows", Mode::Write, move |conn| {
                let mut stored = 0_usize;
                for chunk in rows.chunks(CHUNK) {
                    stored = stored.saturating_add(
                        diesel::insert_into(recon_provider_rows::table)
                            .values(chunk)
                            .on_conflict(recon_provider_rows::id)
                            .do_nothing()
                            .execute(conn)?,
                    );
                }
                Ok(u32::try_from(stored).unwrap_or(u32::MAX))
            })
            .await
    }

    async fn finish_import(
        &self,
        import: ImportId,
    ) -> std::result::Result<u32, ReconciliationStoreError> {
        let id = import.as_uuid();
        self.db
            .run("finish_import", Mode::Write, move |conn| {
                let entries: i64 = recon_bank_entries::table
                    .filter(recon_bank_entries::import_id.eq(id))
                    .count()
                    .get_result(conn)?;
                let rows: i64 = recon_provider_rows::table
                    .filter(recon_provider_rows::import_id.eq(id))
                    .count()
                    .get_result(conn)?;
                let stored = i32::try_from(entries.saturating_add(rows)).unwrap_or(i32::MAX);
                diesel::update(recon_imports::table.find(id))
                    .set((
                        recon_imports::entries.eq(stored),
                        recon_imports::complete.eq(true),
                    ))
                    .execute(conn)?;
                Ok(u32::try_from(stored).unwrap_or(0))
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
                    .filter(recon_bank_entries::import_id.eq_any(complete_imports()))
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
    async fn provider_rows(
        &self,
        currency: Currency,
        from: Date,
        to: Date,
    ) -> std::result::Result<Vec<ProviderRowRecord>, ReconciliationStoreError> {
        self.db
            .run("provider_rows", Mode::Read, move |conn| {
                let rows: Vec<ProviderRow> = recon_provider_rows::table
                    .filter(recon_provider_rows::import_id.eq_any(complete_imports()))
                    .filter(recon_provider_rows::currency.eq(currency.code()))
                    .filter(recon_provider_rows::booked_on.ge(from.to_string()))
                    .filter(recon_provider_rows::booked_on.le(to.to_string()))
                    .order((recon_provider_rows::booked_on, recon_provider_rows::id))
                    .select(ProviderRow::as_select())
                    .load(conn)?;
                rows.into_iter().map(ProviderRow::record).collect()
            })
            .await
    }

    async fn store_run(
        &self,
        run: RunSummary,
        items: Vec<RunItem>,
    ) -> std::result::Result<(), ReconciliationStoreError> {
        let id = run.id.as_uuid();
        let head = RunRow::of(&run)?;
        let rows = items
            .into_iter()
            .enumerate()
            .map(|(seq, item)| ItemRow::of(id, seq, item))
            .collect::<Result<Vec<ItemRow>>>()
            .map_err(|_| ReconciliationStoreError::Internal)?;
        self.db
            .run("store_run", Mode::Write, move |conn| {
                diesel::insert_into(recon_runs::table)
                    .values(&head)
                    .on_conflict_do_nothing()
                    .execute(conn)?;
                for chunk in rows.chunks(CHUNK) {
                    diesel::insert_into(recon_run_items::table)
                        .values(chunk)
                        .on_conflict_do_nothing()
                        .execute(conn)?;
                }
                Ok(())
            })
            .await
    }

    async fn runs(
        &self,
        limit: u32,
    ) -> std::result::Result<Vec<RunSummary>, ReconciliationStoreError> {
        let limit = i64::from(limit.min(1_000));
        self.db
            .run("runs", Mode::Read, move |conn| {
                let rows: Vec<RunRow> = recon_runs::table
                    .order((recon_runs::created_at.desc(), recon_runs::id))
                    .limit(limit)
                    .select(RunRow::as_select())
                    .load(conn)?;
                rows.into_iter().map(RunRow::summary).collect()
            })
            .await
    }

    async fn run(
        &self,
        run: RunId,
    ) -> std::result::Result<Option<RunSummary>, ReconciliationStoreError> {
        self.db
            .run("run", Mode::Read, move |conn| {
                let row: Option<RunRow> = recon_runs::table
                    .find(run.as_uuid())
                    .select(RunRow::as_select())
                    .first(conn)
                    .optional()?;
                row.map(RunRow::summary).transpose()
            })
            .await
    }

    async fn run_items(
        &self,
        run: RunId,
        bucket: Option<Bucket>,
    ) -> std::result::Result<Vec<RunItem>, ReconciliationStoreError> {
        self.db
            .run("run_items", Mode::Read, move |conn| {
                let mut query = recon_run_items::table
                    .filter(recon_run_items::run_id.eq(run.as_uuid()))
                    .order(recon_run_items::seq)
                    .select(ItemRow::as_select())
                    .into_boxed();
                if let Some(bucket) = bucket {
                    query = query.filter(recon_run_items::bucket.eq(bucket.as_str()));
                }
                let rows: Vec<ItemRow> = query.load(conn)?;
                rows.into_iter().map(ItemRow::item).collect()
            })
            .await
    }
}
