//! Importing bank statements: each file once, each entry once, nothing from a file that does
//! not check out.

use std::future::Future;

use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use bazaar_ledger::{HistoryCursor, LedgerHistory, LedgerStore, walk_history};

use super::{
    BankStatement, Bucket, CamtError, DifferenceReason, Match, MatchError, ProviderRowRecord,
    Reconciliation, Rule, RunId, RunItem, RunSummary, bank_records, difference_posting, join_pages,
    ledger_records, parse_camt053, reconcile,
};
use crate::chart::ChartAccount;
use crate::fx::calendar::Date;

bazaar_ledger::uuid_id!(
    /// An imported file's id, derived from its content.
    ImportId
);

bazaar_ledger::uuid_id!(
    /// A bank entry's id, derived from the account, the statement and the entry.
    BankEntryId
);

/// The most ledger transfers one bank reconciliation reads.
pub const LEDGER_RECORDS_MAX: usize = 2_000_000;

/// The namespace of import and entry ids.
const NAMESPACE: Uuid = Uuid::from_u128(0x2b8e_51a0_7c44_4f19_a3d6_0e5b_9c17_d842);

/// What kind of file was imported.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ImportKind {
    /// An ISO 20022 camt.053 bank statement.
    Camt053,
    /// A provider's settlement details report.
    SettlementReport,
    /// A provider's itemized payout reconciliation report.
    ItemizedReport,
}

impl ImportKind {
    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Camt053 => "camt053",
            Self::SettlementReport => "settlement_report",
            Self::ItemizedReport => "itemized_report",
        }
    }
}

/// A file to record as imported.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ImportedFile {
    /// Derived from the content: the same bytes are the same import.
    pub id: ImportId,
    /// What it is.
    pub kind: ImportKind,
    /// The SHA-256 of its content, in hex.
    pub sha256: String,
    /// The name it was given, for people (at most 200 characters kept).
    pub name: String,
}

/// A booked or pending bank entry as stored.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BankEntryRecord {
    /// Derived from the account, the statement and the entry's place or the bank's reference.
    pub id: BankEntryId,
    /// The account as a labelled SHA-256 hash: the number is not stored in clear (the hash
    /// is not secret-keyed; it suits the platform's own accounts, not sellers').
    pub account_key: String,
    /// The account's last four characters, for people.
    pub account_hint: String,
    /// The statement it came from.
    pub statement_id: String,
    /// Signed: credits positive.
    pub amount: Money,
    /// `BOOK`, `PDNG`, `INFO`, or the bank's own code.
    pub status: String,
    /// When the bank booked it.
    pub booking_date: Option<Date>,
    /// When the money counts.
    pub value_date: Option<Date>,
    /// The bank's reference of the entry.
    pub servicer_reference: Option<String>,
    /// The end-to-end ids of its parts, space-separated.
    pub end_to_end_ids: Option<String>,
    /// The remittance texts of its parts, space-separated.
    pub remittance: Option<String>,
    /// The bank transaction code.
    pub transaction_code: Option<String>,
    /// How many parts it carries (a batch's transactions).
    pub parts: u32,
}

/// What an import did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ImportOutcome {
    /// The file was new: this many entries were stored (entries already stored from another
    /// file of the same statement are not counted).
    Imported {
        /// Entries stored.
        entries: u32,
    },
    /// The same file was imported before: nothing was stored.
    AlreadyImported,
}

/// Why the reconciliation store refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ReconciliationStoreError {
    /// The database did not answer; worth a retry.
    #[error("the reconciliation store is unavailable")]
    Unavailable,
    /// The database refused unexpectedly.
    #[error("internal error in the reconciliation store")]
    Internal,
}

/// Where an import stands when it begins.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ImportStart {
    /// The file is new: its records are to be added.
    New,
    /// An import of the same file began and did not finish: its records are added again
    /// (those stored before are skipped).
    Resume,
    /// The same file was imported in full before: nothing is to be added.
    AlreadyImported,
}

/// Where imports, bank entries, provider rows and runs are kept.
///
/// An import is recorded by [`ReconciliationStore::begin_import`], its records added in
/// chunks, each chunk in one transaction, and marked complete by
/// [`ReconciliationStore::finish_import`]. An implementation MUST skip a record whose id it
/// has (counting only those it stored), and MUST leave out of [`bank_entries`] and
/// [`provider_rows`] the records of imports not complete.
///
/// [`bank_entries`]: ReconciliationStore::bank_entries
/// [`provider_rows`]: ReconciliationStore::provider_rows
pub trait ReconciliationStore: Send + Sync {
    /// Records a file being imported.
    fn begin_import(
        &self,
        file: ImportedFile,
        now: Timestamp,
    ) -> impl Future<Output = Result<ImportStart, ReconciliationStoreError>> + Send;

    /// Adds bank entries to an import begun; answers how many were new.
    fn add_bank_entries(
        &self,
        import: ImportId,
        entries: Vec<BankEntryRecord>,
    ) -> impl Future<Output = Result<u32, ReconciliationStoreError>> + Send;

    /// Adds provider rows to an import begun; answers how many were new.
    fn add_provider_rows(
        &self,
        import: ImportId,
        rows: Vec<ProviderRowRecord>,
    ) -> impl Future<Output = Result<u32, ReconciliationStoreError>> + Send;

    /// Marks an import complete; answers how many records it stored in all.
    fn finish_import(
        &self,
        import: ImportId,
    ) -> impl Future<Output = Result<u32, ReconciliationStoreError>> + Send;

    /// The entries of an account in a currency booked from `from` to `to` (inclusive),
    /// in order of booking date, then id.
    fn bank_entries(
        &self,
        account_key: String,
        currency: Currency,
        from: Date,
        to: Date,
    ) -> impl Future<Output = Result<Vec<BankEntryRecord>, ReconciliationStoreError>> + Send;

    /// The provider rows in `currency` (their net's) dated from `from` to `to` (inclusive),
    /// in order of date, then id.
    fn provider_rows(
        &self,
        currency: Currency,
        from: Date,
        to: Date,
    ) -> impl Future<Output = Result<Vec<ProviderRowRecord>, ReconciliationStoreError>> + Send;

    /// Stores a run and its items in one transaction.
    fn store_run(
        &self,
        run: RunSummary,
        items: Vec<RunItem>,
    ) -> impl Future<Output = Result<(), ReconciliationStoreError>> + Send;

    /// The latest `limit` runs, newest first.
    fn runs(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<RunSummary>, ReconciliationStoreError>> + Send;

    /// A stored run; `None` when there is no run with this id.
    fn run(
        &self,
        run: RunId,
    ) -> impl Future<Output = Result<Option<RunSummary>, ReconciliationStoreError>> + Send;

    /// A run's items in stored order; `bucket` keeps only those of one bucket.
    fn run_items(
        &self,
        run: RunId,
        bucket: Option<Bucket>,
    ) -> impl Future<Output = Result<Vec<RunItem>, ReconciliationStoreError>> + Send;
}

/// Why a reconciliation call was refused.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ReconciliationError {
    /// A bank statement that does not read or check out.
    #[error(transparent)]
    Camt(#[from] CamtError),
    /// Matching could not run.
    #[error(transparent)]
    Match(#[from] MatchError),
    /// The store refused.
    #[error(transparent)]
    Store(#[from] ReconciliationStoreError),
    /// More ledger transfers in the period than one run reads.
    #[error(
        "more than {LEDGER_RECORDS_MAX} ledger transfers in the period; reconcile a shorter one"
    )]
    TooManyRecords,
    /// A provider's report that does not read or add up, with its code.
    #[error("{message}")]
    Report {
        /// The report error's code.
        code: &'static str,
        /// What is wrong, safe to show.
        message: String,
    },
    /// The ledger refused a posting, with its code.
    #[error("the ledger refused the posting: {0}")]
    Ledger(&'static str),
}

impl ReconciliationError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Camt(inner) => inner.code(),
            Self::Match(inner) => inner.code(),
            Self::Store(ReconciliationStoreError::Unavailable) => "unavailable",
            Self::Store(ReconciliationStoreError::Internal) => "internal",
            Self::TooManyRecords => "too_many_records",
            Self::Report { code, .. } => code,
            Self::Ledger(_) => "internal",
        }
    }
}

/// Records stored per transaction of an import.
pub const IMPORT_CHUNK: usize = 5_000;

/// What a file holds, ready to store.
enum ImportRecords {
    Bank(Vec<BankEntryRecord>),
    Provider(Vec<ProviderRowRecord>),
}

impl ImportRecords {
    fn len(&self) -> usize {
        match self {
            Self::Bank(entries) => entries.len(),
            Self::Provider(rows) => rows.len(),
        }
    }
}

/// The file record of `text`: its id derives from its kind and content.
fn imported_file(kind: ImportKind, name: &str, text: &str) -> ImportedFile {
    let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
    ImportedFile {
        id: ImportId::from_uuid(Uuid::new_v5(
            &NAMESPACE,
            format!("{}:{sha256}", kind.as_str()).as_bytes(),
        )),
        kind,
        sha256,
        name: name.chars().take(200).collect(),
    }
}

/// The hash an account is stored under: SHA-256 of a fixed label and the number.
pub fn account_key(account: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"bazaar-bank-account\0");
    hasher.update(account.trim().as_bytes());
    hex::encode(hasher.finalize())
}

fn joined(parts: impl Iterator<Item = String>) -> Option<String> {
    let text = parts.collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

/// The records of a checked statement's entries.
pub fn entry_records(statement: &BankStatement) -> Vec<BankEntryRecord> {
    let key = account_key(&statement.account);
    let hint: String = {
        let chars: Vec<char> = statement.account.trim().chars().collect();
        chars
            .get(chars.len().saturating_sub(4)..)
            .map(|tail| tail.iter().collect())
            .unwrap_or_default()
    };
    statement
        .entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let place = entry
                .servicer_reference
                .clone()
                .unwrap_or_else(|| format!("#{index}"));
            let name = format!("{key}:{}:{place}", statement.id);
            BankEntryRecord {
                id: BankEntryId::from_uuid(Uuid::new_v5(&NAMESPACE, name.as_bytes())),
                account_key: key.clone(),
                account_hint: hint.clone(),
                statement_id: statement.id.clone(),
                amount: entry.amount,
                status: entry.status.code().to_owned(),
                booking_date: entry.booking_date,
                value_date: entry.value_date,
                servicer_reference: entry.servicer_reference.clone(),
                end_to_end_ids: joined(entry.parts.iter().filter_map(|p| p.end_to_end_id.clone())),
                remittance: joined(entry.parts.iter().filter_map(|p| p.remittance.clone())),
                transaction_code: entry.transaction_code.clone(),
                parts: u32::try_from(entry.parts.len()).unwrap_or(u32::MAX),
            }
        })
        .collect()
}

/// Reconciliation: imports, and matching against the ledger.
#[derive(Debug)]
pub struct Reconciliations<S, L> {
    pub(super) store: S,
    pub(super) ledger: L,
}

impl<S: ReconciliationStore, L: LedgerStore + LedgerHistory> Reconciliations<S, L> {
    /// The service over `store`, reading and posting to `ledger`.
    pub fn new(store: S, ledger: L) -> Self {
        Self { store, ledger }
    }

    /// Imports a camt.053 file: every statement checked (and multi-page statements joined)
    /// before anything is stored; the same file again stores nothing.
    pub async fn import_camt053(
        &self,
        name: &str,
        xml: &str,
        now: Timestamp,
    ) -> Result<ImportOutcome, ReconciliationError> {
        self.import_file(ImportKind::Camt053, "", name, xml, now, &mut |_, _| {})
            .await
    }

    /// Imports a file of `kind` (from `provider`, for a provider's report): the whole file is
    /// read and checked first, and a file that does not read or add up stores nothing; then
    /// its records are stored [`IMPORT_CHUNK`] at a time, `progress` told (stored, total)
    /// after each chunk, and the import is marked complete. The same file again stores
    /// nothing; an import that was cut short is resumed, skipping what it stored.
    pub async fn import_file(
        &self,
        kind: ImportKind,
        provider: &str,
        name: &str,
        text: &str,
        now: Timestamp,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<ImportOutcome, ReconciliationError> {
        let records = match kind {
            ImportKind::Camt053 => {
                let statements = join_pages(parse_camt053(text)?)?;
                ImportRecords::Bank(statements.iter().flat_map(entry_records).collect())
            }
            ImportKind::SettlementReport | ImportKind::ItemizedReport => {
                ImportRecords::Provider(super::provider_report_records(kind, provider, text)?)
            }
        };
        let file = imported_file(kind, name, text);
        let id = file.id;
        if self.store.begin_import(file, now).await? == ImportStart::AlreadyImported {
            return Ok(ImportOutcome::AlreadyImported);
        }
        let total = records.len();
        let mut done = 0_usize;
        progress(done, total);
        match records {
            ImportRecords::Bank(entries) => {
                for chunk in entries.chunks(IMPORT_CHUNK) {
                    self.store.add_bank_entries(id, chunk.to_vec()).await?;
                    done = done.saturating_add(chunk.len());
                    progress(done, total);
                }
            }
            ImportRecords::Provider(rows) => {
                for chunk in rows.chunks(IMPORT_CHUNK) {
                    self.store.add_provider_rows(id, chunk.to_vec()).await?;
                    done = done.saturating_add(chunk.len());
                    progress(done, total);
                }
            }
        }
        let entries = self.store.finish_import(id).await?;
        Ok(ImportOutcome::Imported { entries })
    }

    /// The stored entries of `account` in `currency` booked from `from` to `to`.
    pub async fn bank_entries(
        &self,
        account: &str,
        currency: Currency,
        from: Date,
        to: Date,
    ) -> Result<Vec<BankEntryRecord>, ReconciliationError> {
        Ok(self
            .store
            .bank_entries(account_key(account), currency, from, to)
            .await?)
    }

    /// Matches the bank's booked entries on `account` in `currency` from `from` to `to`
    /// against the ledger's transfers on `bank` in the same days widened by the rules' date
    /// drift. A dry run: it writes nothing.
    pub async fn reconcile_bank(
        &self,
        account: &str,
        currency: Currency,
        from: Date,
        to: Date,
        rules: &[Rule],
    ) -> Result<Reconciliation, ReconciliationError> {
        let drift = rules.iter().map(|r| r.date_drift_days).max().unwrap_or(0);
        let wide_from = from
            .add_days(drift.checked_neg().unwrap_or(0))
            .ok_or(MatchError::DateOutOfRange)?;
        let wide_to = to.add_days(drift).ok_or(MatchError::DateOutOfRange)?;
        let entries = self.bank_entries(account, currency, from, to).await?;
        let bank = ChartAccount::Bank.id(currency);
        let transfers = self.ledger_days(bank, wide_from, wide_to).await?;
        let external = bank_records(&entries)?;
        let internal = ledger_records(&transfers, bank)?;
        Ok(reconcile(&external, &internal, rules)?)
    }

    /// The transfers on `account` posted from `from` to `to` (UTC days, inclusive), at most
    /// [`LEDGER_RECORDS_MAX`].
    pub(super) async fn ledger_days(
        &self,
        account: bazaar_ledger::AccountId,
        from: Date,
        to: Date,
    ) -> Result<Vec<bazaar_ledger::Transfer>, ReconciliationError> {
        let day_micros = 86_400_000_000_i64;
        let start = from
            .days_since_epoch()
            .and_then(|d| d.checked_mul(day_micros))
            .ok_or(MatchError::DateOutOfRange)?;
        let end = to
            .days_since_epoch()
            .and_then(|d| d.checked_add(1))
            .and_then(|d| d.checked_mul(day_micros))
            .ok_or(MatchError::DateOutOfRange)?;
        let before = Some(HistoryCursor {
            timestamp: Timestamp::from_micros(end),
            leg: i32::MIN,
        });
        // One entry past the limit tells a period that is too long.
        let mut found = walk_history(
            &self.ledger,
            account,
            before,
            LEDGER_RECORDS_MAX.saturating_add(1),
            |entry| entry.transfer.timestamp.as_micros() < start,
        )
        .await
        .map_err(|_| ReconciliationStoreError::Unavailable)?;
        if found
            .last()
            .is_some_and(|e| e.transfer.timestamp.as_micros() < start)
        {
            found.pop();
        }
        if found.len() > LEDGER_RECORDS_MAX {
            return Err(ReconciliationError::TooManyRecords);
        }
        Ok(found.into_iter().map(|entry| entry.transfer).collect())
    }

    /// Books the differences of `result`'s matches for `reason` (once: a match's posting
    /// has an id of its own); answers how many postings it submitted.
    pub async fn book_differences(
        &self,
        result: &Reconciliation,
        reason: DifferenceReason,
    ) -> Result<u32, ReconciliationError> {
        self.post_differences(
            result
                .amount_differences
                .iter()
                .map(|found| (found, reason)),
        )
        .await
    }

    /// Posts each match's difference for its reason; answers how many were submitted.
    pub(super) async fn post_differences(
        &self,
        matches: impl Iterator<Item = (&Match, DifferenceReason)>,
    ) -> Result<u32, ReconciliationError> {
        let mut booked = 0_u32;
        for (found, reason) in matches {
            let Some(posting) = difference_posting(found, reason).map_err(MatchError::from)? else {
                continue;
            };
            crate::postings::submit(&self.ledger, posting)
                .await
                .map_err(|error| ReconciliationError::Ledger(error.code()))?;
            booked = booked.saturating_add(1);
        }
        Ok(booked)
    }
}
