//! A payout's page and CSV: the entries it pays out, adding up to it; and the instant
//! payout, reviewed with its fee before it is confirmed.

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use bazaar_domain::payouts::{
    CreatePayout, InstantTerms, Payout, PayoutId, PayoutStatement, StatementKind,
};
use bazaar_money::Money;
use maud::html;
use uuid::Uuid;

use super::WebError;
use super::dashboard::{SellerPage, advice, status};
use super::layout::{self, money};
use super::session::{SignedIn, csrf_input};
use crate::state::App;

/// The signed-in seller's payout and its statement; another seller's is not found.
async fn load(
    app: &App,
    page: &SellerPage,
    id: &str,
) -> Result<(Payout, Option<PayoutStatement>), WebError> {
    let id = Uuid::parse_str(id).map_err(|_| WebError::NotFound)?;
    let payout = app
        .payouts
        .payout(page.id, PayoutId::from_uuid(id))
        .await
        .map_err(WebError::payouts)?
        .ok_or(WebError::NotFound)?;
    let statement = app
        .payouts
        .statement(&payout, page.zone)
        .await
        .map_err(WebError::payouts)?;
    Ok((payout, statement))
}

/// The page.
pub async fn page(
    request: HttpRequest,
    path: web::Path<String>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let page = SellerPage::of(&app, &request).await?;
    let (payout, statement) = load(&app, &page, &path).await?;
    let entries = app
        .payouts
        .payout_entries(&payout)
        .await
        .map_err(WebError::payouts)?;
    let body = html! {
        h1 { "Payout of " (money(payout.amount)) }
        section.card {
            dl {
                dt { "Status" } dd #payout-state class=(format!("state-{}", payout.state.as_str())) { (status(&payout)) }
                @if let Some(advice) = advice(&payout) { dt { "What to do" } dd { (advice) } }
                dt { "Kind" } dd { (payout.kind.as_str()) " on " (payout.rail.as_str()) }
                @if let Some(fee) = payout.fee { dt { "Instant payout fee" } dd { (money(fee)) } }
                dt { "Created" } dd { (layout::local_time(page.zone, payout.created_at)) }
                @if let Some(at) = payout.expected_at { dt { "Expected arrival" } dd { (layout::local_time(page.zone, at)) } }
                @if let Some(date) = payout.scheduled_for { dt { "Scheduled for" } dd { (date.to_string()) } }
            }
        }
        h2 { "What this payout pays out" }
        @match &statement {
            None => { p.notice { "This payout has not held its amount in the ledger, so nothing is paid out by it." } }
            Some(statement) => {
                p.hint { "Every ledger entry your available balance received since your previous payout, with the balance brought forward and what stayed behind. The lines add up to the payout." }
                p { a #csv download href=(format!("/dashboard/payouts/{}/csv", payout.id)) { "Download as CSV" } }
                section.card {
                    table #statement {
                        thead { tr { th { "When" } th { "What" } th.optional { "Order" } th.optional { "Rate" } th.num { "Amount" } } }
                        tbody {
                            @for line in &statement.lines {
                                tr data-kind=(line.kind.as_str()) {
                                    td { @if let Some(at) = line.at { (layout::local_time(page.zone, at)) } }
                                    td { (line.kind.label()) }
                                    td.optional.mono { (line.order.as_deref().unwrap_or("")) }
                                    td.optional { (line.fx_rate.as_deref().unwrap_or("")) }
                                    td.num data-minor=(line.amount.minor()) { (money(line.amount)) }
                                }
                            }
                        }
                        tfoot { tr { td colspan="4" { "Total: the payout" } td.num #statement-total data-minor=(statement.total.minor()) { (money(statement.total)) } } }
                    }
                }
                (summary(statement))
            }
        }
        h2 { "The payout's own ledger transfers" }
        section.card {
            table {
                thead { tr { th { "Step" } th { "When" } th.num { "Amount" } th.optional { "Transfer" } } }
                tbody {
                    @for (step, transfer) in &entries {
                        tr { td { (step) } td { (layout::local_time(page.zone, transfer.timestamp)) } td.num { (money(transfer.amount)) } td.optional.mono { (transfer.id.to_string()) } }
                    }
                }
            }
        }
        p { a href="/dashboard" { "Back to the dashboard" } }
    };
    Ok(layout::html_response(
        StatusCode::OK,
        layout::page("Payout", &page.signed, body),
    ))
}

/// Totals by kind, for reading a long statement at a glance.
fn summary(statement: &PayoutStatement) -> maud::Markup {
    let mut totals: Vec<(StatementKind, Money)> = Vec::new();
    for line in &statement.lines {
        match totals.iter_mut().find(|(kind, _)| *kind == line.kind) {
            Some((_, total)) => *total = total.checked_add(line.amount).unwrap_or(*total),
            None => totals.push((line.kind, line.amount)),
        }
    }
    html! {
        section.card {
            table {
                caption { "Totals by kind" }
                tbody { @for (kind, total) in &totals { tr { td { (kind.label()) } td.num { (money(*total)) } } } }
            }
        }
    }
}

/// The statement as CSV (RFC 4180), named after the payout.
pub async fn csv(
    request: HttpRequest,
    path: web::Path<String>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let page = SellerPage::of(&app, &request).await?;
    let (payout, statement) = load(&app, &page, &path).await?;
    let statement = statement.ok_or(WebError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8; header=present")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"payout-{}.csv\"", payout.id),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(statement.to_csv()))
}

/// What the instant payout forms post.
#[derive(serde::Deserialize)]
pub struct InstantForm {
    #[serde(default)]
    csrf: String,
    amount: String,
    /// Set by the review page: the key that makes the confirmation pay once.
    key: Option<String>,
}

/// The signed-in seller of an instant payout form and the amount it asks for.
async fn instant_form(
    app: &App,
    request: &HttpRequest,
    form: &InstantForm,
) -> Result<(SellerPage, Money), WebError> {
    let (signed, _) = SignedIn::posted(app, request, &form.csrf).await?;
    let page = SellerPage::for_seller(app, signed).await?;
    let amount = Money::parse(form.amount.trim(), page.seller.settlement_currency)
        .map_err(|e| WebError::Invalid(format!("amount: {e}")))?;
    Ok((page, amount))
}

/// The amount and its fee for review; nothing is paid yet.
pub async fn instant_confirm(
    request: HttpRequest,
    form: web::Form<InstantForm>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let (page, amount) = instant_form(&app, &request, &form).await?;
    let terms = InstantTerms::for_country(page.seller.country).ok_or_else(|| {
        WebError::Invalid("instant payouts are not available in your country".to_owned())
    })?;
    let fee = terms
        .fee_on(amount)
        .map_err(|e| WebError::Invalid(e.to_string()))?;
    let total = amount
        .checked_add(fee)
        .map_err(|e| WebError::Invalid(e.to_string()))?;
    let key = format!("web-instant-{}", Uuid::new_v4());
    let body = html! {
        h1 { "Review your instant payout" }
        section.card {
            dl {
                dt { "To your bank" } dd #instant-amount { (money(amount)) }
                dt { "Fee" } dd #instant-fee { (money(fee)) }
                dt { "Taken from your balance" } dd #instant-total { (money(total)) }
            }
            form method="post" action="/dashboard/instant/pay" {
                (csrf_input(&page.signed.csrf))
                input type="hidden" name="amount" value=(layout::decimal(amount));
                input type="hidden" name="key" value=(key);
                button type="submit" { "Confirm instant payout" }
            }
            p { a href="/dashboard" { "Cancel" } }
        }
    };
    Ok(layout::html_response(
        StatusCode::OK,
        layout::page("Instant payout", &page.signed, body),
    ))
}

/// Pays the reviewed instant payout (once per review, whatever the retries) and shows it.
pub async fn instant_pay(
    request: HttpRequest,
    form: web::Form<InstantForm>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let (page, amount) = instant_form(&app, &request, &form).await?;
    let key = form
        .key
        .clone()
        .ok_or_else(|| WebError::Invalid("review the payout first".to_owned()))?;
    let created = app
        .payouts
        .create_payout(
            CreatePayout {
                seller: page.id,
                country: page.seller.country,
                amount,
                bank_account: None,
                instant: true,
                idempotency_key: key,
            },
            app.now(),
        )
        .await;
    let resource = (
        "payout",
        created
            .as_ref()
            .map(|p| p.id.to_string())
            .unwrap_or_default(),
    );
    let who = crate::audit_trail::of_page(&app, &page.signed.user, &request);
    crate::audit_trail::after(&app, who, "payout.create", resource, &created).await;
    let payout = created.map_err(WebError::payouts)?;
    tracing::info!(payout = %payout.id, "instant payout requested from the dashboard");
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/dashboard/payouts/{}", payout.id),
        ))
        .finish())
}
