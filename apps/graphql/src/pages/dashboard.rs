//! `/dashboard`: the seller's balances by type and currency, upcoming payouts, payout
//! history, an instant payout, and the last 90 days as charts. Every figure is read from
//! the ledger and links to the entries behind it.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use bazaar_domain::catalog::Seller;
use bazaar_domain::chart::SellerId;
use bazaar_domain::fx::calendar::Date;
use bazaar_domain::payouts::{
    Balances, BankAccount, BankAccountState, FailureAction, FailureCode, Payout, PayoutState,
    SellerBalance, Zone,
};
use bazaar_ledger::{HistoryEntry, Timestamp};
use bazaar_money::{Currency, Money};
use maud::{Markup, html};

use super::WebError;
use super::chart::{self, Series};
use super::layout::{self, money};
use super::session::{SignedIn, csrf_input};
use crate::state::App;

/// Days the charts cover.
const CHART_DAYS: i64 = 90;

/// A signed-in seller and what every seller page needs about it.
pub struct SellerPage {
    pub signed: SignedIn,
    pub id: SellerId,
    pub seller: Seller,
    /// The seller's time zone, in which dates are shown and releases counted.
    pub zone: Zone,
}

impl SellerPage {
    /// The signed-in seller of `request`; [`WebError::Forbidden`] for another role.
    pub async fn of(app: &App, request: &HttpRequest) -> Result<Self, WebError> {
        let signed = SignedIn::of(app, request).await?;
        Self::for_seller(app, signed).await
    }

    /// The seller `signed` acts for.
    pub async fn for_seller(app: &App, signed: SignedIn) -> Result<Self, WebError> {
        let id = signed.seller()?;
        let seller = app
            .market
            .seller(id)
            .await
            .map_err(|error| {
                tracing::warn!(code = error.code(), "seller lookup failed");
                WebError::Unavailable
            })?
            .ok_or(WebError::NotFound)?;
        // A country without time-zone rules here is shown in UTC.
        let zone = Zone::of_country(seller.country).unwrap_or(Zone::UTC);
        Ok(Self {
            signed,
            id,
            seller,
            zone,
        })
    }

    /// The seller's local date now.
    pub fn today(&self, app: &App) -> Result<Date, WebError> {
        self.zone
            .local(app.now())
            .map(|(date, _)| date)
            .map_err(|_| WebError::Unavailable)
    }
}

/// What a person should do about a failed or returned payout.
pub fn advice(payout: &Payout) -> Option<&'static str> {
    match payout.state {
        PayoutState::Failed(code) | PayoutState::Returned(code) => Some(match code.action() {
            FailureAction::Retry => {
                "A temporary problem at the bank or the payment system. The amount is back in \
                 your available balance and goes out with your next payout."
            }
            FailureAction::MarkBankAccountErrored if code == FailureCode::AccountClosed => {
                "The bank account is closed. Add another bank account; payouts are paused \
                 until one is verified."
            }
            FailureAction::MarkBankAccountErrored => {
                "The bank refused the account's details. Check them or add another bank \
                 account; payouts are paused until one is verified."
            }
        }),
        PayoutState::Canceled => Some(match payout.canceled_reason.as_deref() {
            Some("insufficient_balance") => {
                "Your balance did not cover it when it was due; nothing left your balance."
            }
            _ => "Canceled before it was sent; nothing left your balance.",
        }),
        _ => None,
    }
}

/// A payout's status as a person reads it: the state, with the bank's reason for a failure
/// or a return (`failed: account_closed`) and the platform's for a cancellation.
pub fn status(payout: &Payout) -> String {
    match (payout.state, payout.canceled_reason.as_deref()) {
        (PayoutState::Failed(code) | PayoutState::Returned(code), _) => {
            format!("{}: {}", payout.state.as_str(), code.as_str())
        }
        (PayoutState::Canceled, Some(reason)) => format!("canceled: {reason}"),
        (state, _) => state.as_str().to_owned(),
    }
}

/// The page.
pub async fn page(
    request: HttpRequest,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let page = SellerPage::of(&app, &request).await?;
    let home = page.seller.settlement_currency;
    let payouts_error = WebError::payouts;
    let currencies = app
        .seller_currencies(page.id, home)
        .await
        .map_err(payouts_error)?;
    let mut balances = Vec::with_capacity(currencies.len());
    for currency in currencies {
        let found = app
            .payouts
            .balances(page.id, currency)
            .await
            .map_err(payouts_error)?;
        let payable = app
            .payouts
            .payable(page.id, currency)
            .await
            .map_err(payouts_error)?;
        balances.push((found, payable));
    }
    let settings = app
        .payouts
        .settings(page.id, home)
        .await
        .map_err(payouts_error)?;
    let next = crate::api::next_payout_on(&app, &settings, page.seller.country);
    let history = app
        .payouts
        .payouts(page.id, None, 25)
        .await
        .map_err(payouts_error)?
        .items;
    let accounts = app
        .payouts
        .bank_accounts(page.id)
        .await
        .map_err(payouts_error)?;
    let charts = charts(&app, &page, home).await?;
    let body = html! {
        h1 { "Payouts for " (page.seller.name) }
        p.hint { "Times are in " (page.seller.country.as_str()) " local time. Every amount links to the ledger entries behind it." }
        h2 { "Balances" }
        @for (found, payable) in &balances {
            (balance_cards(found, *payable))
        }
        h2 { "Upcoming payouts" }
        (upcoming(&page, &history, next, settings.paused, balances.first().map(|(_, p)| *p)))
        (instant_form(&page, balances.first().map(|(b, _)| b), &accounts))
        h2 { "Payout history" }
        (history_table(&page, &history, &accounts))
        h2 { "The last 90 days" }
        div.charts { (charts) }
    };
    Ok(layout::html_response(
        StatusCode::OK,
        layout::page("Payouts", &page.signed, body),
    ))
}

fn balance_cards(balances: &Balances, payable: Money) -> Markup {
    let currency = balances.available.currency().code();
    let cards = [
        ("available", "Available", balances.available),
        ("pending", "Pending", balances.pending),
        ("reserved", "Reserved", balances.reserved),
        (
            "instant_available",
            "Instant available",
            balances.instant_available,
        ),
        ("in_transit", "In transit", balances.in_transit),
    ];
    html! {
        section.card aria-label=(format!("Balances in {currency}")) {
            div.balances {
                @for (slug, label, amount) in cards {
                    a.balance href=(format!("/dashboard/balances/{currency}/{slug}")) data-balance=(slug) data-currency=(currency) {
                        span.label { (label) " (" (currency) ")" }
                        span.amount data-minor=(amount.minor()) { (money(amount)) }
                    }
                }
            }
            @if payable != balances.available {
                p.hint { "Payable now: " (money(payable)) " (available, less what refunds after release took from pending)." }
            }
        }
    }
}

fn upcoming(
    page: &SellerPage,
    payouts: &[Payout],
    next: Option<Date>,
    paused: bool,
    payable: Option<Money>,
) -> Markup {
    let moving: Vec<&Payout> = payouts
        .iter()
        .filter(|p| matches!(p.state, PayoutState::Pending | PayoutState::InTransit))
        .collect();
    html! {
        section.card {
            @if paused {
                p.problem role="alert" { "Scheduled payouts are paused until a bank account is verified." }
            }
            @match (next, payable) {
                (Some(date), Some(payable)) if !paused => {
                    p { "Next scheduled payout: " strong { (date.to_string()) } ", of your payable balance then (now " (money(payable)) ")." }
                }
                _ => { p { "No scheduled payout is coming: your schedule is manual or paused." } }
            }
            @if moving.is_empty() {
                p.hint { "No payout is on its way." }
            } @else {
                table {
                    thead { tr { th { "Payout" } th.num { "Amount" } th { "Status" } th { "Expected arrival" } } }
                    tbody {
                        @for payout in moving {
                            tr {
                                td { a href=(format!("/dashboard/payouts/{}", payout.id)) { (layout::local_date(page.zone, payout.created_at)) } }
                                td.num { (money(payout.amount)) }
                                td class=(format!("state-{}", payout.state.as_str())) { (payout.state.as_str()) }
                                td { @if let Some(at) = payout.expected_at { (layout::local_time(page.zone, at)) } @else { "—" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn instant_form(
    page: &SellerPage,
    balances: Option<&Balances>,
    accounts: &[BankAccount],
) -> Markup {
    let Some(balances) = balances else {
        return html! {};
    };
    let currency = balances.available.currency();
    let verified = accounts
        .iter()
        .any(|a| a.currency == currency && a.state == BankAccountState::Verified);
    html! {
        section.card {
            h2 { "Instant payout" }
            @if !verified {
                p.hint { "Verify a bank account in " (currency.code()) " to pay out instantly." }
            } @else if !balances.instant_available.is_positive() {
                p.hint { "Nothing is available for an instant payout now: only settled card payments can go instantly." }
            } @else {
                p { "Up to " (money(balances.instant_available)) " can go to your bank within minutes, for a fee you see before you confirm." }
                form.stack method="post" action="/dashboard/instant" {
                    (csrf_input(&page.signed.csrf))
                    label for="instant-amount" { "Amount (" (currency.code()) ")" }
                    input #instant-amount name="amount" inputmode="decimal" required;
                    button type="submit" { "Review instant payout" }
                }
            }
        }
    }
}

fn history_table(page: &SellerPage, payouts: &[Payout], accounts: &[BankAccount]) -> Markup {
    let masked = |payout: &Payout| {
        accounts
            .iter()
            .find(|a| a.id == payout.bank_account)
            .map_or_else(|| "removed account".to_owned(), |a| a.masked.clone())
    };
    html! {
        section.card {
            @if payouts.is_empty() {
                p.hint { "No payouts yet." }
            } @else {
                table #payout-history {
                    thead { tr {
                        th { "Created" } th { "Kind" } th.num { "Amount" } th { "Status" }
                        th.optional { "To" } th.optional { "Arrival" }
                    } }
                    tbody {
                        @for payout in payouts {
                            tr data-payout=(payout.id.to_string()) {
                                td { a href=(format!("/dashboard/payouts/{}", payout.id)) { (layout::local_time(page.zone, payout.created_at)) } }
                                td { (payout.kind.as_str()) }
                                td.num { (money(payout.amount)) }
                                td class=(format!("state-{}", payout.state.as_str())) {
                                    (status(payout))
                                    @if let Some(advice) = advice(payout) { br; span.hint { (advice) } }
                                }
                                td.optional.mono { (masked(payout)) }
                                td.optional { @if let Some(at) = payout.expected_at { (layout::local_date(page.zone, at)) } @else { "—" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The closing value of each of the last [`CHART_DAYS`] local days, from a history read
/// newest first that ends with the entry before the period (if any).
fn daily_closing(
    entries: &[HistoryEntry],
    day_ends: &[(String, Timestamp)],
    value: impl Fn(&HistoryEntry) -> i64,
) -> Vec<(String, i64)> {
    let mut oldest_first: Vec<&HistoryEntry> = entries.iter().collect();
    oldest_first.reverse();
    let mut index = 0;
    let mut current = 0_i64;
    day_ends
        .iter()
        .map(|(label, end)| {
            while let Some(entry) = oldest_first.get(index) {
                if entry.transfer.timestamp >= *end {
                    break;
                }
                current = value(entry);
                index = index.saturating_add(1);
            }
            (label.clone(), current)
        })
        .collect()
}

async fn charts(app: &App, page: &SellerPage, currency: Currency) -> Result<Markup, WebError> {
    let today = page.today(app)?;
    let mut day_ends = Vec::new();
    for back in (0..CHART_DAYS).rev() {
        let day = today
            .add_days(back.checked_neg().unwrap_or(0))
            .ok_or(WebError::Unavailable)?;
        let end = page
            .zone
            .midnight(day.add_days(1).ok_or(WebError::Unavailable)?)
            .map_err(|_| WebError::Unavailable)?;
        day_ends.push((day.to_string(), end));
    }
    let since = page
        .zone
        .midnight(
            today
                .add_days(1_i64.saturating_sub(CHART_DAYS))
                .ok_or(WebError::Unavailable)?,
        )
        .map_err(|_| WebError::Unavailable)?;
    let read = |balance| app.payouts.history_since(page.id, balance, currency, since);
    let available = read(SellerBalance::Available)
        .await
        .map_err(WebError::payouts)?;
    let pending = read(SellerBalance::Pending)
        .await
        .map_err(WebError::payouts)?;
    let spendable =
        |e: &HistoryEntry| i64::try_from(e.balance_after.available_credit()).unwrap_or(0);
    let available_daily = daily_closing(&available, &day_ends, spendable);
    let pending_daily = daily_closing(&pending, &day_ends, spendable);
    let total: Vec<(String, i64)> = available_daily
        .iter()
        .zip(&pending_daily)
        .map(|((label, a), (_, p))| (label.clone(), a.saturating_add(*p)))
        .collect();
    let pending_id = SellerBalance::Pending.account(page.id, currency);
    let mut sales = vec![0_i64; day_ends.len()];
    for entry in &pending {
        let t = entry.transfer.timestamp;
        if t < since
            || entry.transfer.credit_account_id != pending_id
            || bazaar_domain::payouts::kind_of(&entry.transfer) != "capture"
        {
            continue;
        }
        if let Some(slot) = day_ends.iter().position(|(_, end)| t < *end)
            && let Some(total) = sales.get_mut(slot)
        {
            *total = total.saturating_add(entry.transfer.amount.minor());
        }
    }
    let sales: Vec<(String, i64)> = day_ends
        .iter()
        .map(|(label, _)| label.clone())
        .zip(sales)
        .collect();
    Ok(html! {
        (chart::line(&Series { title: &format!("Balance (available and pending), {}", currency.code()), currency, points: &total }, "balance-chart"))
        (chart::bars(&Series { title: &format!("Sales by day, your share after fees, {}", currency.code()), currency, points: &sales }, "sales-chart"))
    })
}
