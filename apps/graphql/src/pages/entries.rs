//! `/dashboard/balances/{currency}/{balance}`: the ledger entries that make up one of the
//! signed-in seller's balances, newest first, each with the balance after it.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use bazaar_domain::payouts::{PayoutState, SellerBalance, kind_of};
use bazaar_ledger::{HistoryCursor, Timestamp, Transfer};
use bazaar_money::{Currency, Money};
use maud::{Markup, html};

use super::WebError;
use super::dashboard::SellerPage;
use super::layout::{self, money};
use crate::state::App;

/// Entries per page.
const PAGE: u32 = 50;

/// How a person reads a ledger entry of theirs.
pub fn describe(transfer: &Transfer) -> String {
    let meta = |key: &str| transfer.metadata.get(key).map(String::as_str);
    let what = match kind_of(transfer) {
        "capture" => "Sale",
        "refund" => "Refund",
        "chargeback" => "Chargeback",
        "release" => "Released after the hold period",
        "reserve_release" => "Rolling reserve released",
        "balance_conversion" => "Currency conversion",
        "payout_pending" => "Payout (held until paid)",
        "payout_fee" => "Instant payout fee",
        "payout_post" => "Payout paid",
        "payout_void" => "Payout failed or canceled: returned to balance",
        "payout_fee_back" => "Instant payout fee returned",
        "payout_post_back" | "payout_bank_back" => "Payout returned by the bank",
        other => other,
    };
    let mut text = what.to_owned();
    if let Some(order) = meta("order_id") {
        text.push_str(&format!(" · order {order}"));
    }
    if let Some(rate) = meta("fx_rate") {
        text.push_str(&format!(" · rate {rate}"));
    }
    text
}

/// `?before=<micros>.<leg>`: where the previous page ended.
#[derive(serde::Deserialize)]
pub struct Older {
    before: Option<String>,
}

fn cursor(text: &str) -> Option<HistoryCursor> {
    let (micros, leg) = text.split_once('.')?;
    Some(HistoryCursor {
        timestamp: Timestamp::from_micros(micros.parse().ok()?),
        leg: leg.parse().ok()?,
    })
}

/// The page.
pub async fn page(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<Older>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let page = SellerPage::of(&app, &request).await?;
    let (code, slug) = path.into_inner();
    let currency = Currency::from_code(&code).map_err(|_| WebError::NotFound)?;
    let (title, balance, note) = match slug.as_str() {
        "available" => ("Available", SellerBalance::Available, None),
        "pending" => ("Pending", SellerBalance::Pending, None),
        "reserved" => ("Reserved", SellerBalance::Reserved, None),
        "instant_available" => (
            "Instant available",
            SellerBalance::Available,
            Some(
                "Instant available is the part of your available balance that came from card \
                 payments the provider has settled, less what you paid out instantly today. \
                 These are the available balance's entries.",
            ),
        ),
        "in_transit" => return in_transit(&app, &page, currency).await,
        _ => return Err(WebError::NotFound),
    };
    let before = match query.before.as_deref() {
        Some(text) => Some(cursor(text).ok_or(WebError::NotFound)?),
        None => None,
    };
    let entries = app
        .payouts
        .account_history(page.id, balance, currency, before, PAGE)
        .await
        .map_err(WebError::payouts)?;
    let account = balance.account(page.id, currency);
    let next = (entries.len() >= usize::try_from(PAGE).unwrap_or(usize::MAX))
        .then(|| entries.last().map(|e| e.cursor()))
        .flatten();
    let body = html! {
        h1 { (title) " balance, " (currency.code()) }
        @if let Some(note) = note { p.notice { (note) } }
        p.hint { "Newest first. Each line is one ledger transfer; the last column is the balance right after it." }
        section.card {
            @if entries.is_empty() {
                p { "No entries." }
            } @else {
                table #entries {
                    thead { tr { th { "When" } th { "What" } th.num { "Amount" } th.num { "Balance after" } th.optional { "Transfer" } } }
                    tbody {
                        @for entry in &entries {
                            @let credit = entry.transfer.credit_account_id == account;
                            @let signed = if credit { entry.transfer.amount } else { entry.transfer.amount.checked_neg().unwrap_or(entry.transfer.amount) };
                            tr {
                                td { (layout::local_time(page.zone, entry.transfer.timestamp)) }
                                td {
                                    (describe(&entry.transfer))
                                    @if let Some(payout) = entry.transfer.metadata.get("payout_id") {
                                        " · " a href=(format!("/dashboard/payouts/{payout}")) { "payout" }
                                    }
                                }
                                td.num { (pending_aware(&entry.transfer, signed)) }
                                td.num data-minor=(spendable(entry)) { (money(Money::from_minor(spendable(entry), currency))) }
                                td.optional.mono { (entry.transfer.id.to_string()) }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                p { a href=(format!("?before={}.{}", next.timestamp.as_micros(), next.leg)) { "Older entries" } }
            }
        }
        p { a href="/dashboard" { "Back to the dashboard" } }
    };
    Ok(layout::html_response(
        StatusCode::OK,
        layout::page(title, &page.signed, body),
    ))
}

/// The balance after an entry: posted credits less posted and pending debits.
fn spendable(entry: &bazaar_ledger::HistoryEntry) -> i64 {
    i64::try_from(entry.balance_after.available_credit()).unwrap_or(0)
}

/// An amount, marked when it is a hold rather than a posted movement.
fn pending_aware(transfer: &Transfer, amount: Money) -> Markup {
    let held = matches!(transfer.kind, bazaar_ledger::TransferKind::Pending { .. });
    html! { (money(amount)) @if held { " (held)" } }
}

/// The payouts on their way, whose holds make up the in-transit balance.
async fn in_transit(
    app: &App,
    page: &SellerPage,
    currency: Currency,
) -> Result<HttpResponse, WebError> {
    let mut moving = Vec::new();
    let mut after = None;
    // Payouts in transit are recent: read back at most a few pages.
    for _ in 0..10 {
        let found = app
            .payouts
            .payouts(page.id, after, 100)
            .await
            .map_err(WebError::payouts)?;
        after = found
            .items
            .last()
            .map(|p| bazaar_domain::store::PageCursor {
                created_at: p.created_at,
                id: p.id.as_uuid(),
            });
        moving.extend(found.items.into_iter().filter(|p| {
            p.amount.currency() == currency
                && matches!(p.state, PayoutState::Pending | PayoutState::InTransit)
                && p.ledger_due.is_none()
        }));
        if !found.has_next {
            break;
        }
    }
    let total = moving
        .iter()
        .try_fold(Money::zero(currency), |sum, p| sum.checked_add(p.amount))
        .map_err(|_| WebError::Unavailable)?;
    let body = html! {
        h1 { "In transit, " (currency.code()) }
        p.hint { "Payouts on their way to your bank: each holds its amount in your available balance until the bank confirms it." }
        section.card {
            table #entries {
                thead { tr { th { "Payout" } th { "Status" } th { "Expected arrival" } th.num { "Amount" } } }
                tbody {
                    @for payout in &moving {
                        tr {
                            td { a href=(format!("/dashboard/payouts/{}", payout.id)) { (layout::local_time(page.zone, payout.created_at)) } }
                            td { (payout.state.as_str()) }
                            td { @if let Some(at) = payout.expected_at { (layout::local_time(page.zone, at)) } @else { "—" } }
                            td.num { (money(payout.amount)) }
                        }
                    }
                }
                tfoot { tr { td colspan="3" { "Total in transit" } td.num { (money(total)) } } }
            }
        }
        p { a href="/dashboard" { "Back to the dashboard" } }
    };
    Ok(layout::html_response(
        StatusCode::OK,
        layout::page("In transit", &page.signed, body),
    ))
}
