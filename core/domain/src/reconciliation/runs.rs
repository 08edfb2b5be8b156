//! Provider report imports and three-way runs: each report once, each run's result stored
//! beside dry runs that store nothing, and what a run found to book posted once.

use std::collections::HashSet;

use bazaar_ledger::{LedgerHistory, LedgerStore, Timestamp, Transfer};
use bazaar_money::Currency;
use uuid::Uuid;

use super::{
    BankEntryRecord, ImportKind, ImportOutcome, MatchError, ProviderRowError, ProviderRowKind,
    ReconciliationError, ReconciliationStore, Reconciliations, Record, RunItem, ThreeWay,
    ThreeWayInput, ThreeWayRules, account_key, bank_records, bucket_counts, itemized_records,
    items_sha256, ledger_records, settlement_records, three_way,
};
use crate::chart::ChartAccount;
use crate::fx::calendar::Date;
use crate::payments::{parse_itemized_report, parse_settlement_report};

bazaar_ledger::uuid_id!(
    /// A stored run's id.
    RunId
);

/// The namespace of run ids.
const NAMESPACE: Uuid = Uuid::from_u128(0x0d5f_93b2_6e1a_4c07_b8e4_52a9_1f3c_7d60);

/// A stored run: what it covered and how many records fell in each bucket.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RunSummary {
    /// Its id, derived from the account, currency, days and time of the run.
    pub id: RunId,
    /// When it ran.
    pub created_at: Timestamp,
    /// The bank account, as [`account_key`] hashes it.
    pub account_key: String,
    /// The account's last four characters.
    pub account_hint: String,
    /// The currency.
    pub currency: Currency,
    /// The first day covered.
    pub from: Date,
    /// The last day covered.
    pub to: Date,
    /// Records matched, with an amount difference, unmatched outside, unmatched inside.
    pub counts: [u64; 4],
    /// The SHA-256 of its items ([`items_sha256`]): two runs over the same inputs agree.
    pub sha256: String,
}

/// Whether a run is stored.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RunMode {
    /// Computed and answered; nothing written.
    DryRun,
    /// Computed, then stored with its items.
    Store,
}

/// A run's answer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RunOutcome {
    /// Its summary (stored unless a dry run).
    pub summary: RunSummary,
    /// Every record with its bucket.
    pub items: Vec<RunItem>,
    /// The matches and postings behind the items.
    pub three_way: ThreeWay,
}

/// The rows of a provider's report of `kind`, every row checked.
pub(super) fn provider_report_records(
    kind: ImportKind,
    provider: &str,
    text: &str,
) -> Result<Vec<super::ProviderRowRecord>, ReconciliationError> {
    let refused =
        |code: &'static str, message: String| ReconciliationError::Report { code, message };
    match kind {
        ImportKind::SettlementReport => {
            let rows =
                parse_settlement_report(text).map_err(|e| refused(e.code(), e.to_string()))?;
            Ok(settlement_records(provider, &rows)?)
        }
        ImportKind::ItemizedReport => {
            let rows = parse_itemized_report(text).map_err(|e| refused(e.code(), e.to_string()))?;
            Ok(itemized_records(provider, &rows)?)
        }
        ImportKind::Camt053 => Ok(Vec::new()),
    }
}

fn last_four(account: &str) -> String {
    let chars: Vec<char> = account.trim().chars().collect();
    chars
        .get(chars.len().saturating_sub(4)..)
        .map(|tail| tail.iter().collect())
        .unwrap_or_default()
}

/// Whether a bank entry is the bank's own charge: its transaction code's sub-family is
/// `CHRG` (charges), e.g. `ACMT/MDOP/CHRG`.
pub fn is_bank_charge(entry: &BankEntryRecord) -> bool {
    entry
        .transaction_code
        .as_deref()
        .is_some_and(|code| code.rsplit('/').next() == Some("CHRG"))
}

impl From<ProviderRowError> for ReconciliationError {
    fn from(error: ProviderRowError) -> Self {
        match error {
            ProviderRowError::Money(inner) => Self::Match(MatchError::Money(inner)),
            other => Self::Report {
                code: other.code(),
                message: other.to_string(),
            },
        }
    }
}

impl<S: ReconciliationStore, L: LedgerStore + LedgerHistory> Reconciliations<S, L> {
    /// Imports a provider's settlement details report: every row checked first (a report
    /// that does not add up stores nothing); the same file again stores nothing.
    pub async fn import_settlement_report(
        &self,
        provider: &str,
        name: &str,
        text: &str,
        now: Timestamp,
    ) -> Result<ImportOutcome, ReconciliationError> {
        let kind = ImportKind::SettlementReport;
        self.import_file(kind, provider, name, text, now, &mut |_, _| {})
            .await
    }

    /// The three-way run over `account` in `currency` from `from` to `to`: the bank's
    /// booked entries of those days, the provider rows and the ledger's transfers on `bank`
    /// of those days widened by the rules' largest date drift. A dry run writes nothing;
    /// otherwise the result is stored with its items. Nothing is booked here
    /// ([`Reconciliations::book`]).
    pub async fn run(
        &self,
        account: &str,
        currency: Currency,
        (from, to): (Date, Date),
        rules: &ThreeWayRules,
        mode: RunMode,
        now: Timestamp,
    ) -> Result<RunOutcome, ReconciliationError> {
        let drift = rules
            .bank_to_provider
            .iter()
            .chain(&rules.provider_to_ledger)
            .chain(&rules.bank_to_ledger)
            .map(|r| r.date_drift_days)
            .max()
            .unwrap_or(0)
            .max(0);
        let widen = |date: Date, days: i64| date.add_days(days).ok_or(MatchError::DateOutOfRange);
        let (wide_from, wide_to) = (widen(from, drift.saturating_neg())?, widen(to, drift)?);

        let entries = self.bank_entries(account, currency, from, to).await?;
        let charges: HashSet<String> = entries
            .iter()
            .filter(|e| is_bank_charge(e))
            .map(|e| e.id.to_string())
            .collect();
        let bank = bank_records(&entries)?;

        let provider = self
            .store
            .provider_rows(currency, wide_from, wide_to)
            .await?;
        let (mut payouts, mut rows, mut fees) = (Vec::new(), Vec::new(), HashSet::new());
        for row in &provider {
            match row.kind {
                ProviderRowKind::Payout => payouts.push(row.record()?),
                kind => {
                    if kind == ProviderRowKind::Fee {
                        fees.insert(row.id.to_string());
                    }
                    rows.push(row.record()?);
                }
            }
        }

        let bank_account = ChartAccount::Bank.id(currency);
        let transfers = self.ledger_days(bank_account, wide_from, wide_to).await?;
        let (booked, own): (Vec<Transfer>, Vec<Transfer>) = transfers
            .into_iter()
            .partition(|t| t.metadata.get("kind").map(String::as_str) == Some("reconciliation"));
        let ledger: Vec<Record> = ledger_records(&own, bank_account)?;
        let booked: Vec<Record> = ledger_records(&booked, bank_account)?;

        let input = ThreeWayInput {
            bank: &bank,
            charges: &charges,
            payouts: &payouts,
            rows: &rows,
            fees: &fees,
            ledger: &ledger,
            booked: &booked,
        };
        let mut result = three_way(input, rules)?;
        let day = |date: Date| date.days_since_epoch().ok_or(MatchError::DateOutOfRange);
        result.keep_period(input, day(from)?, day(to)?);
        let items = result.items(input);
        let summary = RunSummary {
            id: RunId::from_uuid(Uuid::new_v5(
                &NAMESPACE,
                format!(
                    "run:{}:{}:{from}:{to}:{}",
                    account_key(account),
                    currency.code(),
                    now.as_micros()
                )
                .as_bytes(),
            )),
            created_at: now,
            account_key: account_key(account),
            account_hint: last_four(account),
            currency,
            from,
            to,
            counts: bucket_counts(&items),
            sha256: items_sha256(&items),
        };
        if mode == RunMode::Store {
            self.store.store_run(summary.clone(), items.clone()).await?;
        }
        Ok(RunOutcome {
            summary,
            items,
            three_way: result,
        })
    }

    /// Books what a run found to book (fee rows, bank charges, amount differences), each
    /// once: a posting's id derives from its match, so booking twice posts nothing new.
    /// Answers how many postings were submitted.
    pub async fn book(&self, run: &ThreeWay) -> Result<u32, ReconciliationError> {
        self.post_differences(run.to_book.iter().map(|(found, reason)| (found, *reason)))
            .await
    }

    /// The latest `limit` stored runs, newest first.
    pub async fn runs(&self, limit: u32) -> Result<Vec<RunSummary>, ReconciliationError> {
        Ok(self.store.runs(limit).await?)
    }

    /// A stored run; `None` when there is none with this id.
    pub async fn stored_run(&self, run: RunId) -> Result<Option<RunSummary>, ReconciliationError> {
        Ok(self.store.run(run).await?)
    }

    /// A stored run's items, all or of one bucket.
    pub async fn run_items(
        &self,
        run: RunId,
        bucket: Option<super::Bucket>,
    ) -> Result<Vec<RunItem>, ReconciliationError> {
        Ok(self.store.run_items(run, bucket).await?)
    }
}
