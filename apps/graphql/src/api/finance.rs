//! Finance through the API: the trial balance at any day's end, positions, reconciliation
//! runs and the items they left open; imports, and runs on request. Finance users only.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use bazaar_domain::reconciliation::{
    AgedItem, ImportOutcome, Position, ReconciliationError, RunId, RunMode, RunSummary,
    ThreeWayRules, TrialBalance,
};
use bazaar_money::Currency;

use super::types::{MoneyNode, instant};
use super::{app, error, finance, list_cost, page_size, uuid};
use crate::finance::{end_of_day, parse_day, run_period_ok};

/// Maps a reconciliation error to its client form; causes are logged here.
pub fn reconciliation(e: ReconciliationError) -> async_graphql::Error {
    if matches!(e.code(), "unavailable" | "internal") {
        tracing::warn!(code = e.code(), %e, "reconciliation failed in a backing service");
    }
    error(e.code(), e.to_string())
}

fn day(text: &str) -> Result<bazaar_domain::fx::calendar::Date> {
    parse_day(text).ok_or_else(|| error("invalid_input", "dates are YYYY-MM-DD"))
}

fn currency(code: &str) -> Result<Currency> {
    Currency::from_code(code.trim())
        .map_err(|_| error("invalid_input", "not an ISO 4217 currency code"))
}

/// One chart code's accounts in a trial balance.
#[derive(SimpleObject)]
pub struct TrialLineNode {
    /// The chart code, e.g. `seller_available`.
    code: String,
    /// How many accounts it sums.
    accounts: i64,
    debit: MoneyNode,
    credit: MoneyNode,
}

/// A currency's trial balance.
#[derive(SimpleObject)]
pub struct TrialBalanceNode {
    currency: String,
    /// Whether the debit and credit columns agree (always, in a sound ledger).
    balanced: bool,
    debit: MoneyNode,
    credit: MoneyNode,
    lines: Vec<TrialLineNode>,
}

impl From<TrialBalance> for TrialBalanceNode {
    fn from(trial: TrialBalance) -> Self {
        Self {
            currency: trial.currency.code().to_owned(),
            balanced: trial.balanced(),
            debit: trial.debit.into(),
            credit: trial.credit.into(),
            lines: trial
                .lines
                .into_iter()
                .map(|line| TrialLineNode {
                    code: line.code,
                    accounts: i64::try_from(line.accounts).unwrap_or(i64::MAX),
                    debit: line.debit.into(),
                    credit: line.credit.into(),
                })
                .collect(),
        }
    }
}

/// A currency's cash against what the platform owes, and its FX position.
#[derive(SimpleObject)]
pub struct PositionNode {
    currency: String,
    /// At the platform's banks.
    bank: MoneyNode,
    /// Owed to the platform by payment providers.
    providers: MoneyNode,
    /// Owed to sellers (pending, available, reserved, in transit) and buyers.
    liabilities: MoneyNode,
    /// Cash less liabilities.
    coverage: MoneyNode,
    /// Positive when conversions left the platform holding more of the currency.
    fx_position: MoneyNode,
}

impl From<Position> for PositionNode {
    fn from(p: Position) -> Self {
        Self {
            currency: p.currency.code().to_owned(),
            bank: p.bank.into(),
            providers: p.providers.into(),
            liabilities: p.liabilities.into(),
            coverage: p.coverage.into(),
            fx_position: p.fx_position.into(),
        }
    }
}

/// A stored reconciliation run.
#[derive(SimpleObject)]
pub struct ReconciliationRunNode {
    id: ID,
    created_at: String,
    /// The bank account's last four characters.
    account_hint: String,
    currency: String,
    /// The first and last day covered (`YYYY-MM-DD`).
    from: String,
    to: String,
    matched: i64,
    amount_differences: i64,
    unmatched_external: i64,
    unmatched_internal: i64,
    /// The SHA-256 of its items: two runs over the same inputs have the same.
    sha256: String,
}

impl From<RunSummary> for ReconciliationRunNode {
    fn from(run: RunSummary) -> Self {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let [matched, differences, outside, inside] = run.counts;
        Self {
            id: ID(run.id.to_string()),
            created_at: instant(run.created_at),
            account_hint: run.account_hint,
            currency: run.currency.code().to_owned(),
            from: run.from.to_string(),
            to: run.to.to_string(),
            matched: count(matched),
            amount_differences: count(differences),
            unmatched_external: count(outside),
            unmatched_internal: count(inside),
            sha256: run.sha256,
        }
    }
}

/// A record a run left open.
#[derive(SimpleObject)]
pub struct OpenItemNode {
    /// `amount_difference`, `unmatched_external` or `unmatched_internal`.
    bucket: String,
    /// `bank`, `provider` or `ledger`.
    side: String,
    /// Its id on its side.
    id: String,
    amount: MoneyNode,
    /// `YYYY-MM-DD`.
    date: String,
    /// Days from its date to today.
    age_days: i64,
    reference: Option<String>,
}

impl From<AgedItem> for OpenItemNode {
    fn from(aged: AgedItem) -> Self {
        let item = aged.item;
        Self {
            bucket: item.bucket.as_str().to_owned(),
            side: item.side.as_str().to_owned(),
            id: item.id,
            amount: item.amount.into(),
            date: bazaar_domain::fx::calendar::Date::from_days_since_epoch(item.day)
                .map(|d| d.to_string())
                .unwrap_or_default(),
            age_days: aged.age_days,
            reference: item.reference,
        }
    }
}

#[derive(Default)]
pub struct FinanceQuery;

#[Object]
impl FinanceQuery {
    /// The trial balance per currency at the end of `at` (`YYYY-MM-DD`, UTC), or now.
    async fn trial_balance(
        &self,
        ctx: &Context<'_>,
        at: Option<String>,
    ) -> Result<Vec<TrialBalanceNode>> {
        finance(ctx)?;
        let at = at.map(|text| day(&text).map(end_of_day)).transpose()?;
        let trials = app(ctx)?
            .reconciliation
            .trial_balance(at)
            .await
            .map_err(reconciliation)?;
        Ok(trials.into_iter().map(Into::into).collect())
    }

    /// Each currency's cash against seller liabilities, and its FX position, now.
    async fn positions(&self, ctx: &Context<'_>) -> Result<Vec<PositionNode>> {
        finance(ctx)?;
        let overview = app(ctx)?
            .reconciliation
            .overview(None, 1)
            .await
            .map_err(reconciliation)?;
        Ok(overview.positions.into_iter().map(Into::into).collect())
    }

    /// The latest stored runs, newest first.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn reconciliation_runs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> Result<Vec<ReconciliationRunNode>> {
        finance(ctx)?;
        let runs = app(ctx)?
            .reconciliation
            .runs(page_size(first)?)
            .await
            .map_err(reconciliation)?;
        Ok(runs.into_iter().map(Into::into).collect())
    }

    /// What a run left open, oldest first, from `offset` on.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn open_items(
        &self,
        ctx: &Context<'_>,
        run_id: ID,
        first: Option<i32>,
        offset: Option<i32>,
    ) -> Result<Vec<OpenItemNode>> {
        finance(ctx)?;
        let app = app(ctx)?;
        let run = RunId::from_uuid(uuid(&run_id, "runId")?);
        let today = bazaar_domain::fx::calendar::Date::of_instant(app.now())
            .ok_or_else(|| error("internal", "the clock is out of range"))?;
        let items = app
            .reconciliation
            .open_items(run, today)
            .await
            .map_err(reconciliation)?;
        let skip = usize::try_from(offset.unwrap_or(0))
            .map_err(|_| error("invalid_input", "offset cannot be negative"))?;
        let take = usize::try_from(page_size(first)?).unwrap_or(20);
        Ok(items
            .into_iter()
            .skip(skip)
            .take(take)
            .map(Into::into)
            .collect())
    }
}

/// Which days of which account to reconcile.
#[derive(InputObject)]
pub struct ReconcileInput {
    /// The bank account as its statements name it (IBAN or other id).
    account: String,
    currency: String,
    /// `YYYY-MM-DD`.
    from: String,
    /// `YYYY-MM-DD`, at most 31 days after `from`.
    to: String,
    /// Compute and answer only; store and book nothing.
    #[graphql(default)]
    dry_run: bool,
    /// Book what the run found to book (ignored on a dry run).
    #[graphql(default)]
    book: bool,
}

/// A run's answer.
#[derive(SimpleObject)]
pub struct ReconcilePayload {
    run: ReconciliationRunNode,
    /// Whether it was stored.
    stored: bool,
    /// Postings booked now.
    booked: i32,
    /// Postings the run found to book.
    to_book: i32,
}

/// An import's answer.
#[derive(SimpleObject)]
pub struct ImportPayload {
    /// False when the same file was imported before (nothing stored).
    imported: bool,
    /// Entries or rows stored now.
    stored: i32,
}

impl From<ImportOutcome> for ImportPayload {
    fn from(outcome: ImportOutcome) -> Self {
        match outcome {
            ImportOutcome::Imported { entries } => Self {
                imported: true,
                stored: i32::try_from(entries).unwrap_or(i32::MAX),
            },
            ImportOutcome::AlreadyImported => Self {
                imported: false,
                stored: 0,
            },
        }
    }
}

#[derive(Default)]
pub struct FinanceMutation;

#[Object]
impl FinanceMutation {
    /// Imports a camt.053 bank statement (001.02 or 001.08); the same file twice stores
    /// nothing the second time, one that does not balance nothing at all.
    async fn import_bank_statement(
        &self,
        ctx: &Context<'_>,
        name: String,
        xml: String,
    ) -> Result<ImportPayload> {
        finance(ctx)?;
        let app = app(ctx)?;
        let outcome = app
            .reconciliation
            .import_camt053(&name, &xml, app.now())
            .await
            .map_err(reconciliation)?;
        Ok(outcome.into())
    }

    /// Imports a provider's settlement details report (the Adyen layout), as above.
    async fn import_settlement_report(
        &self,
        ctx: &Context<'_>,
        provider: String,
        name: String,
        csv: String,
    ) -> Result<ImportPayload> {
        finance(ctx)?;
        let app = app(ctx)?;
        let provider = bazaar_domain::chart::ProviderName::new(&provider)
            .map_err(|_| error("invalid_input", "a provider name is [a-z0-9_]{1,32}"))?;
        let outcome = app
            .reconciliation
            .import_settlement_report(provider.as_str(), &name, &csv, app.now())
            .await
            .map_err(reconciliation)?;
        Ok(outcome.into())
    }

    /// Reconciles an account's days three ways with the standard rules; stores the run
    /// unless `dryRun`, and books what it found to book when `book`.
    async fn reconcile(
        &self,
        ctx: &Context<'_>,
        input: ReconcileInput,
    ) -> Result<ReconcilePayload> {
        finance(ctx)?;
        let app = app(ctx)?;
        let (from, to) = (day(&input.from)?, day(&input.to)?);
        if !run_period_ok(from, to) {
            return Err(error(
                "invalid_input",
                "`to` must be from `from` to 30 days after it",
            ));
        }
        let mode = if input.dry_run {
            RunMode::DryRun
        } else {
            RunMode::Store
        };
        let run = app
            .reconciliation
            .run(
                input.account.trim(),
                currency(&input.currency)?,
                (from, to),
                &ThreeWayRules::default(),
                mode,
                app.now(),
            )
            .await
            .map_err(reconciliation)?;
        let booked = if input.book && !input.dry_run {
            app.reconciliation
                .book(&run.three_way)
                .await
                .map_err(reconciliation)?
        } else {
            0
        };
        Ok(ReconcilePayload {
            to_book: i32::try_from(run.three_way.to_book.len()).unwrap_or(i32::MAX),
            run: run.summary.into(),
            stored: !input.dry_run,
            booked: i32::try_from(booked).unwrap_or(i32::MAX),
        })
    }
}
