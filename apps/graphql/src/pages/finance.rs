//! Finance's pages: `/finance` (cash against what is owed per currency, with a chart; the
//! latest reconciliation runs; a form to reconcile), `/finance/runs/{id}` (what a run left
//! open, by age), `/finance/trial-balance` (at any day's end), and their CSV downloads.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bazaar_domain::fx::calendar::Date;
use bazaar_domain::reconciliation::{
    AGE_GROUPS, AgedItem, ReconciliationError, RunId, RunMode, RunSummary, ThreeWayRules,
    TrialBalance, age_counts, aged_items_csv, positions_csv, trial_balance_csv,
};
use bazaar_money::Currency;
use maud::{Markup, html};
use uuid::Uuid;

use super::WebError;
use super::chart::{self, Pair};
use super::layout::{self, money};
use super::session::{SignedIn, csrf_input};
use crate::finance::{end_of_day, parse_day, run_period_ok};
use crate::state::App;

impl WebError {
    /// A reconciliation error as a page error.
    fn reconciliation(error: ReconciliationError) -> Self {
        match error.code() {
            "internal" | "unavailable" => {
                tracing::warn!(code = error.code(), %error, "a finance page's call failed");
                Self::Unavailable
            }
            _ => Self::Invalid(error.to_string()),
        }
    }
}

async fn signed_in(app: &App, request: &HttpRequest) -> Result<SignedIn, WebError> {
    let signed = SignedIn::of(app, request).await?;
    signed.finance()?;
    Ok(signed)
}

fn today(app: &App) -> Result<Date, WebError> {
    Date::of_instant(app.now()).ok_or(WebError::Unavailable)
}

fn csv_response(name: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8; header=present")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

fn counts_cells(run: &RunSummary) -> Markup {
    let [matched, differences, outside, inside] = run.counts;
    html! {
        td.num data-count="matched" { (matched) }
        td.num data-count="amount_difference" { (differences) }
        td.num data-count="unmatched_external" { (outside) }
        td.num data-count="unmatched_internal" { (inside) }
    }
}

fn runs_table(runs: &[RunSummary], link: bool) -> Markup {
    html! {
        @if runs.is_empty() {
            p.empty { "No run yet: reconcile a day below, or wait for tonight's." }
        } @else {
            table #runs {
                thead { tr {
                    th { "Run" } th { "Account" } th { "Days" }
                    th.num { "Matched" } th.num { "Differences" }
                    th.num { "Only at the bank or provider" } th.num { "Only in the ledger" }
                } }
                tbody {
                    @for run in runs {
                        tr data-run=(run.id.to_string()) {
                            td {
                                @if link { a href=(format!("/finance/runs/{}", run.id)) { (crate::api::instant(run.created_at)) } }
                                @else { (crate::api::instant(run.created_at)) }
                            }
                            td { (run.currency.code()) " ··" (run.account_hint) }
                            td { (run.from.to_string()) " to " (run.to.to_string()) }
                            (counts_cells(run))
                        }
                    }
                }
            }
        }
    }
}

fn reconcile_form(app: &App, csrf: &str, currencies: &[Currency], today: Date) -> Markup {
    let first = currencies.first().copied().unwrap_or(Currency::EUR);
    let account = app
        .bank
        .as_ref()
        .map(|_| bazaar_payouts::SandboxBank::account(first))
        .unwrap_or_default();
    let yesterday = today.add_days(-1).unwrap_or(today).to_string();
    html! {
        form.stack #reconcile method="post" action="/finance/reconcile" {
            (csrf_input(csrf))
            label { "Bank account (IBAN or id)" input name="account" required value=(account); }
            label { "Currency"
                select name="currency" {
                    @for currency in currencies {
                        option value=(currency.code()) { (currency.code()) }
                    }
                }
            }
            label { "From" input type="date" name="from" required value=(yesterday); }
            label { "To" input type="date" name="to" required value=(yesterday); }
            label.check { input type="checkbox" name="dry_run" value="on" checked; " Dry run: store and book nothing" }
            label.check { input type="checkbox" name="book" value="on"; " Book bank charges, provider fees and differences" }
            button type="submit" { "Reconcile" }
        }
    }
}

/// `/finance`.
pub async fn page(
    request: HttpRequest,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let signed = signed_in(&app, &request).await?;
    let overview = app
        .reconciliation
        .overview(None, 20)
        .await
        .map_err(WebError::reconciliation)?;
    let pairs: Vec<Pair> = overview
        .positions
        .iter()
        .map(|p| Pair {
            label: p.currency.code().to_owned(),
            held: p.bank.checked_add(p.providers).unwrap_or(p.bank),
            owed: p.liabilities,
        })
        .collect();
    let currencies: Vec<Currency> = overview.positions.iter().map(|p| p.currency).collect();
    let unbalanced = overview.trials.iter().filter(|t| !t.balanced()).count();
    let body = html! {
        h1 { "Finance" }
        @if unbalanced > 0 {
            p.problem role="alert" { (unbalanced) " currencies do not balance: stop and investigate." }
        }
        h2 { "Cash against what is owed" }
        (chart::pairs("Cash held (banks and providers) against what is owed to sellers and buyers", &pairs, "coverage"))
        table #positions {
            thead { tr {
                th { "Currency" } th.num { "At banks" } th.num { "At providers" }
                th.num { "Owed" } th.num { "Coverage" } th.num { "FX position" }
            } }
            tbody {
                @for p in &overview.positions {
                    tr data-currency=(p.currency.code()) data-coverage-minor=(p.coverage.minor()) {
                        td { (p.currency.code()) }
                        td.num { (money(p.bank)) }
                        td.num { (money(p.providers)) }
                        td.num { (money(p.liabilities)) }
                        td.num { (money(p.coverage)) }
                        td.num { (money(p.fx_position)) }
                    }
                }
            }
        }
        p { a #positions-csv href="/finance/positions.csv" download { "Download positions (CSV)" } }
        h2 { "Reconciliation runs" }
        (runs_table(&overview.runs, true))
        h2 { "Reconcile" }
        (reconcile_form(&app, &signed.csrf, &currencies, today(&app)?))
    };
    Ok(layout::html_response(
        actix_web::http::StatusCode::OK,
        layout::page("Finance", &signed, body),
    ))
}

/// What the reconcile form posts.
#[derive(serde::Deserialize)]
pub struct ReconcileForm {
    #[serde(default)]
    csrf: String,
    account: String,
    currency: String,
    from: String,
    to: String,
    #[serde(default)]
    dry_run: Option<String>,
    #[serde(default)]
    book: Option<String>,
}

/// Runs a reconciliation: a stored run goes to its page; a dry run is shown, not stored.
pub async fn reconcile(
    request: HttpRequest,
    form: web::Form<ReconcileForm>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let signed = SignedIn::form(&app, &request, &form.csrf).await?;
    signed.finance()?;
    let invalid = |text: &str| WebError::Invalid(text.to_owned());
    let from = parse_day(&form.from).ok_or_else(|| invalid("dates are YYYY-MM-DD"))?;
    let to = parse_day(&form.to).ok_or_else(|| invalid("dates are YYYY-MM-DD"))?;
    if !run_period_ok(from, to) {
        return Err(invalid(
            "the last day must be from the first to 30 days after it",
        ));
    }
    let currency =
        Currency::from_code(form.currency.trim()).map_err(|_| invalid("choose a currency"))?;
    let dry_run = form.dry_run.is_some();
    let mode = if dry_run {
        RunMode::DryRun
    } else {
        RunMode::Store
    };
    let account = form.account.trim();
    if account.is_empty() || account.len() > 64 {
        return Err(invalid("enter the bank account as its statements name it"));
    }
    let run = app
        .reconciliation
        .run(
            account,
            currency,
            (from, to),
            &ThreeWayRules::default(),
            mode,
            app.now(),
        )
        .await
        .map_err(WebError::reconciliation)?;
    tracing::info!(user = %signed.user.id, run = %run.summary.id, dry_run, "reconciled from the finance page");
    if !dry_run {
        let mut location = format!("/finance/runs/{}", run.summary.id);
        if form.book.is_some() {
            let booked = app
                .reconciliation
                .book(&run.three_way)
                .await
                .map_err(WebError::reconciliation)?;
            location = format!("{location}?booked={booked}");
        }
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .finish());
    }
    let open = bazaar_domain::reconciliation::aged_items(&run.items, today(&app)?);
    let body = html! {
        h1 { "Dry run" }
        p #dry-run { "Nothing was stored or booked. " (run.three_way.to_book.len()) " postings would be booked." }
        (runs_table(std::slice::from_ref(&run.summary), false))
        (open_table(&open))
        p { a href="/finance" { "Back to finance" } }
    };
    Ok(layout::html_response(
        actix_web::http::StatusCode::OK,
        layout::page("Dry run", &signed, body),
    ))
}

fn open_table(open: &[AgedItem]) -> Markup {
    let counts = age_counts(open);
    html! {
        h2 { "Open items by age" }
        ul #ages {
            @for ((label, _, _), count) in AGE_GROUPS.iter().zip(counts) {
                li data-age=(label) { (label) ": " strong { (count) } }
            }
        }
        @if open.is_empty() {
            p.empty #nothing-open { "Nothing open: every record is matched." }
        } @else {
            table #open {
                thead { tr { th { "Bucket" } th { "Side" } th { "Date" } th.num { "Age (days)" } th.num { "Amount" } th { "Reference" } } }
                tbody {
                    @for aged in open {
                        tr data-item=(aged.item.id) data-bucket=(aged.item.bucket.as_str()) data-age=(aged.age_days) {
                            td { (aged.item.bucket.as_str().replace('_', " ")) }
                            td { (aged.item.side.as_str()) }
                            td { (Date::from_days_since_epoch(aged.item.day).map(|d| d.to_string()).unwrap_or_default()) }
                            td.num { (aged.age_days) }
                            td.num { (money(aged.item.amount)) }
                            td { (aged.item.reference.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    }
}

fn run_id(path: &str) -> Result<RunId, WebError> {
    Uuid::parse_str(path)
        .map(RunId::from_uuid)
        .map_err(|_| WebError::NotFound)
}

/// The `booked` query of a run page: how many postings the run that led here booked.
#[derive(serde::Deserialize)]
pub struct BookedQuery {
    #[serde(default)]
    booked: Option<u32>,
}

/// `/finance/runs/{id}`.
pub async fn run_page(
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<BookedQuery>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let signed = signed_in(&app, &request).await?;
    let (run, open) = run_and_open(&app, &path).await?;
    let body = html! {
        h1 { "Run of " (run.from.to_string()) " to " (run.to.to_string()) }
        p { (run.currency.code()) " account ··" (run.account_hint) ", run " (crate::api::instant(run.created_at)) ". Result hash " code { (run.sha256) } }
        @if let Some(booked) = query.booked {
            p.notice #booked { "Booked " (booked) " postings (bank charges, provider fees, differences). They show as matched the next time these days are reconciled." }
        }
        (runs_table(std::slice::from_ref(&run), false))
        (open_table(&open))
        p { a #open-csv href=(format!("/finance/runs/{}/open.csv", run.id)) download { "Download open items (CSV)" } }
    };
    Ok(layout::html_response(
        actix_web::http::StatusCode::OK,
        layout::page("Reconciliation run", &signed, body),
    ))
}

/// A stored run and what it left open, aged today.
async fn run_and_open(app: &App, path: &str) -> Result<(RunSummary, Vec<AgedItem>), WebError> {
    let id = run_id(path)?;
    let run = app
        .reconciliation
        .stored_run(id)
        .await
        .map_err(WebError::reconciliation)?
        .ok_or(WebError::NotFound)?;
    let open = app
        .reconciliation
        .open_items(id, today(app)?)
        .await
        .map_err(WebError::reconciliation)?;
    Ok((run, open))
}

/// `/finance/runs/{id}/open.csv`.
pub async fn run_csv(
    request: HttpRequest,
    path: web::Path<String>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    signed_in(&app, &request).await?;
    let (run, open) = run_and_open(&app, &path).await?;
    Ok(csv_response(
        &format!("open-items-{}.csv", run.id),
        aged_items_csv(&open),
    ))
}

/// The `at` query: a day's end, or now.
#[derive(serde::Deserialize)]
pub struct AtQuery {
    #[serde(default)]
    at: Option<String>,
}

impl AtQuery {
    fn day(&self) -> Result<Option<Date>, WebError> {
        match self.at.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(text) => parse_day(text)
                .map(Some)
                .ok_or_else(|| WebError::Invalid("dates are YYYY-MM-DD".to_owned())),
        }
    }
}

/// The trial balances at the query's day's end, or now.
async fn trials(app: &App, query: &AtQuery) -> Result<(Option<Date>, Vec<TrialBalance>), WebError> {
    let day = query.day()?;
    let trials = app
        .reconciliation
        .trial_balance(day.map(end_of_day))
        .await
        .map_err(WebError::reconciliation)?;
    Ok((day, trials))
}

/// `/finance/trial-balance`.
pub async fn trial_page(
    request: HttpRequest,
    query: web::Query<AtQuery>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let signed = signed_in(&app, &request).await?;
    let (day, trials) = trials(&app, &query).await?;
    let shown = day.map_or_else(|| "now".to_owned(), |d| format!("at the end of {d} (UTC)"));
    let csv = day.map_or_else(
        || "/finance/trial-balance.csv".to_owned(),
        |d| format!("/finance/trial-balance.csv?at={d}"),
    );
    let body = html! {
        h1 { "Trial balance " (shown) }
        form.inline method="get" action="/finance/trial-balance" {
            label { "At the end of " input type="date" name="at" value=(day.map(|d| d.to_string()).unwrap_or_default()); }
            button type="submit" { "Show" }
        }
        @for trial in &trials {
            h2 { (trial.currency.code()) " "
                @if trial.balanced() { span.ok data-balanced="true" { "balanced" } }
                @else { span.problem data-balanced="false" { "does not balance" } }
            }
            table data-currency=(trial.currency.code()) {
                thead { tr { th { "Account" } th.num { "Accounts" } th.num { "Debit" } th.num { "Credit" } } }
                tbody {
                    @for line in &trial.lines {
                        tr data-code=(line.code) data-debit-minor=(line.debit.minor()) data-credit-minor=(line.credit.minor()) {
                            td { (line.code) } td.num { (line.accounts) }
                            td.num { (money(line.debit)) } td.num { (money(line.credit)) }
                        }
                    }
                }
                tfoot { tr { th { "Total" } th {} th.num { (money(trial.debit)) } th.num { (money(trial.credit)) } } }
            }
        }
        p { a #trial-csv href=(csv) download { "Download the trial balance (CSV)" } }
    };
    Ok(layout::html_response(
        actix_web::http::StatusCode::OK,
        layout::page("Trial balance", &signed, body),
    ))
}

/// `/finance/trial-balance.csv`.
pub async fn trial_csv(
    request: HttpRequest,
    query: web::Query<AtQuery>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    signed_in(&app, &request).await?;
    let (day, trials) = trials(&app, &query).await?;
    let name = day.map_or_else(
        || "trial-balance.csv".to_owned(),
        |d| format!("trial-balance-{d}.csv"),
    );
    Ok(csv_response(&name, trial_balance_csv(&trials)))
}

/// `/finance/positions.csv`.
pub async fn positions_download(
    request: HttpRequest,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    signed_in(&app, &request).await?;
    let overview = app
        .reconciliation
        .overview(None, 1)
        .await
        .map_err(WebError::reconciliation)?;
    Ok(csv_response(
        "positions.csv",
        positions_csv(&overview.positions),
    ))
}
