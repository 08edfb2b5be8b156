//! Tax pages: `/finance/tax` (a scheme's return for a period: the sales declared per place
//! and rate, each payable's accrued and due amounts, remittance), its CSV download, and the
//! seller's invoices at `/dashboard/orders/{id}/invoice`.

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use bazaar_domain::orders::OrderId;
use bazaar_domain::store::Party;
use bazaar_domain::tax::{ReturnPeriod, ReturnRow, Scheme, return_csv};
use bazaar_domain::tax_desk::{Payable, TaxDeskError};
use maud::{Markup, html};
use uuid::Uuid;

use super::WebError;
use super::layout::{self, money};
use super::session::{SignedIn, csrf_input};
use crate::state::App;

/// The schemes whose returns the marketplace files, as the page offers them.
const SCHEMES: [(Scheme, &str); 7] = [
    (Scheme::Oss, "EU One-Stop Shop (quarterly)"),
    (Scheme::Ioss, "EU Import One-Stop Shop (monthly)"),
    (
        Scheme::UkMarketplace,
        "UK VAT, online marketplace (quarterly)",
    ),
    (
        Scheme::UsMarketplaceFacilitator,
        "US states, marketplace facilitator (monthly)",
    ),
    (Scheme::InTcs, "India TCS, GSTR-8 (monthly)"),
    (
        Scheme::AuLowValueImports,
        "Australia GST, low-value imports (quarterly)",
    ),
    (Scheme::JpPlatform, "Japan platform taxation (quarterly)"),
];

impl WebError {
    fn desk(error: TaxDeskError) -> Self {
        match error.code() {
            "internal" | "unavailable" => {
                tracing::warn!(code = error.code(), %error, "a tax page's call failed");
                Self::Unavailable
            }
            _ => Self::Invalid(error.to_string()),
        }
    }

    fn commerce(error: bazaar_domain::error::CommerceError) -> Self {
        match error.code() {
            "internal" | "unavailable" => {
                tracing::warn!(code = error.code(), %error, "a tax page's call failed");
                Self::Unavailable
            }
            _ => Self::Invalid(error.to_string()),
        }
    }
}

/// The query of `/finance/tax`: a scheme and a period.
#[derive(serde::Deserialize)]
pub struct ReturnQuery {
    #[serde(default)]
    scheme: Option<String>,
    #[serde(default)]
    period: Option<String>,
    /// `payables` for the payables' CSV; the return's rows otherwise.
    #[serde(default)]
    what: Option<String>,
}

fn chosen(app: &App, query: &ReturnQuery) -> Result<(Scheme, ReturnPeriod), WebError> {
    let scheme = match query.scheme.as_deref() {
        None => Scheme::Oss,
        Some(text) => {
            Scheme::parse(text).ok_or_else(|| WebError::Invalid("choose a scheme".into()))?
        }
    };
    let period = match query.period.as_deref().filter(|p| !p.trim().is_empty()) {
        Some(text) => ReturnPeriod::of_scheme(scheme, text.trim())
            .map_err(|e| WebError::Invalid(e.to_string()))?,
        None => last_period(app, scheme)?,
    };
    Ok((scheme, period))
}

/// The last period of `scheme` that has ended.
fn last_period(app: &App, scheme: Scheme) -> Result<ReturnPeriod, WebError> {
    let today =
        bazaar_domain::fx::calendar::Date::of_instant(app.now()).ok_or(WebError::Unavailable)?;
    let cadence = scheme.cadence().ok_or_else(|| {
        WebError::Invalid("the marketplace files no return for this scheme".into())
    })?;
    ReturnPeriod::containing(cadence, today)
        .and_then(ReturnPeriod::previous)
        .ok_or(WebError::Unavailable)
}

/// A return as finance reads it: who asks, the scheme and period, the sales declared and the
/// payables.
struct Figures {
    signed: SignedIn,
    scheme: Scheme,
    period: ReturnPeriod,
    rows: Vec<ReturnRow>,
    payables: Vec<Payable>,
}

async fn figures(
    app: &App,
    request: &HttpRequest,
    query: &ReturnQuery,
) -> Result<Figures, WebError> {
    let signed = SignedIn::of(app, request).await?;
    signed.finance()?;
    let (scheme, period) = chosen(app, query)?;
    let (Some(from), Some(to)) = (period.from(), period.to()) else {
        return Err(WebError::Invalid("the period is out of range".into()));
    };
    let rows = app
        .market
        .tax_return(scheme, from, to)
        .await
        .map_err(WebError::commerce)?;
    let payables = app
        .tax
        .payables(scheme, period)
        .await
        .map_err(WebError::desk)?;
    Ok(Figures {
        signed,
        scheme,
        period,
        rows,
        payables,
    })
}

fn payables_table(payables: &[Payable]) -> Markup {
    html! {
        @if payables.is_empty() {
            p.empty { "No tax payable under this scheme yet." }
        } @else {
            table #payables {
                thead { tr {
                    th { "Payable" } th.num { "Accrued in the period" } th.num { "Due" } th { "Remitted" }
                } }
                tbody {
                    @for p in payables {
                        tr data-jurisdiction=(p.jurisdiction.as_str()) data-due-minor=(p.due.minor()) {
                            td { (p.jurisdiction.as_str()) " " (p.currency.code()) }
                            td.num { (money(p.accrued)) }
                            td.num { (money(p.due)) }
                            td { @match &p.remitted {
                                Some(r) => { (crate::api::instant(r.posted_at)) }
                                None => { "not yet" }
                            } }
                        }
                    }
                }
            }
        }
    }
}

/// `/finance/tax`.
pub async fn page(
    request: HttpRequest,
    query: web::Query<ReturnQuery>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let Figures {
        signed,
        scheme,
        period,
        rows,
        payables,
    } = figures(&app, &request, &query).await?;
    let label = period.to_string();
    let csv_link = format!("/finance/tax.csv?scheme={}&period={label}", scheme.as_str());
    let open = payables
        .iter()
        .any(|p| p.remitted.is_none() && !p.due.is_zero());
    let body = html! {
        h1 { "Tax returns" }
        form.inline #return-form method="get" action="/finance/tax" {
            label { "Scheme"
                select name="scheme" {
                    @for (s, name) in SCHEMES {
                        option value=(s.as_str()) selected[s == scheme] { (name) }
                    }
                }
            }
            label { "Period (YYYY-Qn or YYYY-MM)" input name="period" value=(label); }
            button type="submit" { "Show" }
        }
        h2 { "Sales declared, " (label) }
        @if rows.is_empty() {
            p.empty { "No sales under this scheme in the period." }
        } @else {
            table #return-rows {
                thead { tr { th { "Place" } th.num { "Rate" } th.num { "Net" } th.num { "Tax" } } }
                tbody {
                    @for row in &rows {
                        tr data-place=(row.place.to_string()) data-tax-minor=(row.tax.minor()) {
                            td { (row.place.to_string()) }
                            td.num { (row.rate.percent_text()) }
                            td.num { (money(row.net)) }
                            td.num { (money(row.tax)) }
                        }
                    }
                }
            }
        }
        p { a #return-csv href=(csv_link) download { "Download the return (CSV)" } }
        h2 { "Payables in the ledger" }
        (payables_table(&payables))
        p { a #payables-csv href=(format!("/finance/tax.csv?scheme={}&period={label}&what=payables", scheme.as_str())) download { "Download the payables (CSV)" } }
        @if open {
            form.stack #remit method="post" action="/finance/tax/remit" {
                (csrf_input(&signed.csrf))
                input type="hidden" name="scheme" value=(scheme.as_str());
                input type="hidden" name="period" value=(label);
                button type="submit" { "Remit " (label) " from the bank" }
            }
        }
    };
    Ok(layout::html_response(
        StatusCode::OK,
        layout::page("Tax returns", &signed, body),
    ))
}

/// `/finance/tax.csv`.
pub async fn csv(
    request: HttpRequest,
    query: web::Query<ReturnQuery>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let Figures {
        scheme,
        period,
        rows,
        payables,
        ..
    } = figures(&app, &request, &query).await?;
    let (name, body) = if query.what.as_deref() == Some("payables") {
        ("payables", bazaar_domain::tax_desk::payables_csv(&payables))
    } else {
        ("return", return_csv(&rows))
    };
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8; header=present")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}-{period}-{name}.csv\"",
                scheme.as_str()
            ),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// What the remit form posts.
#[derive(serde::Deserialize)]
pub struct RemitForm {
    #[serde(default)]
    csrf: String,
    scheme: String,
    period: String,
}

/// Remits a period and shows its return again.
pub async fn remit(
    request: HttpRequest,
    form: web::Form<RemitForm>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let signed = SignedIn::form(&app, &request, &form.csrf).await?;
    signed.finance()?;
    let (scheme, period) = chosen(
        &app,
        &ReturnQuery {
            scheme: Some(form.scheme.clone()),
            period: Some(form.period.clone()),
            what: None,
        },
    )?;
    let payables = app
        .tax
        .remit(scheme, period, app.now())
        .await
        .map_err(WebError::desk)?;
    tracing::info!(user = %signed.user.id, scheme = scheme.as_str(), period = %period, payables = payables.len(), "tax remitted from the finance page");
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/finance/tax?scheme={}&period={period}", scheme.as_str()),
        ))
        .finish())
}

/// `/dashboard/orders/{id}/invoice`: the seller's invoice of one of its orders.
pub async fn invoice(
    request: HttpRequest,
    path: web::Path<String>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let signed = SignedIn::of(&app, &request).await?;
    let seller = signed.seller()?;
    let id = Uuid::parse_str(&path).map_err(|_| WebError::NotFound)?;
    let invoice = crate::invoice::draw(&app, Party::Seller(seller), OrderId::from_uuid(id))
        .await
        .map_err(|error| {
            tracing::warn!(code = error.code(), %error, "an invoice could not be drawn");
            WebError::Unavailable
        })?
        .ok_or(WebError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            crate::invoice::content_security_policy(),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(crate::invoice::render(&invoice).into_string()))
}

/// `/dashboard/tax`: the seller's tax registrations, and its latest orders with their
/// invoices.
pub async fn seller_page(
    request: HttpRequest,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let signed = SignedIn::of(&app, &request).await?;
    let seller = signed.seller()?;
    let registrations = app
        .tax
        .registrations(seller)
        .await
        .map_err(WebError::desk)?;
    let orders = app
        .market
        .orders_page(Party::Seller(seller), None, 20)
        .await
        .map_err(WebError::commerce)?
        .items;
    let body = html! {
        h1 { "Tax" }
        h2 { "Registrations" }
        @if registrations.is_empty() {
            p.empty { "No registration yet. Add the VAT, GST or sales tax numbers you charge tax under." }
        } @else {
            table #registrations {
                thead { tr { th { "Where" } th { "Number" } th {} } }
                tbody {
                    @for r in &registrations {
                        tr data-area=(r.area().to_string()) {
                            td { (r.area().to_string()) }
                            td { (r.number()) }
                            td {
                                form method="post" action=(format!("/dashboard/tax/registrations/{}/remove", r.area())) {
                                    (csrf_input(&signed.csrf))
                                    button type="submit" { "Remove" }
                                }
                            }
                        }
                    }
                }
            }
        }
        form.stack #add-registration method="post" action="/dashboard/tax/registrations" {
            (csrf_input(&signed.csrf))
            label { "Country or state (FR, US-TX; India: IN)" input name="area" required maxlength="6"; }
            label { "Number (VAT number, GSTIN, ...)" input name="number" required maxlength="40"; }
            button type="submit" { "Add registration" }
        }
        h2 { "Invoices of your latest orders" }
        @if orders.is_empty() {
            p.empty { "No order yet." }
        } @else {
            table #orders {
                thead { tr { th { "Order" } th { "Placed" } th.num { "Total" } th {} } }
                tbody {
                    @for order in &orders {
                        tr data-order=(order.id.to_string()) {
                            td { (order.id.to_string()) }
                            td { (crate::api::instant(order.created_at)) }
                            td.num { (money(order.total)) }
                            td { a.invoice href=(format!("/dashboard/orders/{}/invoice", order.id)) { "Invoice" } }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::html_response(
        StatusCode::OK,
        layout::page("Tax", &signed, body),
    ))
}

/// What the registration form posts.
#[derive(serde::Deserialize)]
pub struct RegistrationForm {
    #[serde(default)]
    csrf: String,
    area: String,
    number: String,
}

fn back_to_tax() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/dashboard/tax"))
        .finish()
}

/// Adds a registration.
pub async fn add_registration(
    request: HttpRequest,
    form: web::Form<RegistrationForm>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let signed = SignedIn::form(&app, &request, &form.csrf).await?;
    let seller = signed.seller()?;
    let registration = app
        .tax
        .register(seller, form.area.trim(), &form.number, app.now())
        .await
        .map_err(WebError::desk)?;
    tracing::info!(%seller, area = %registration.area(), "tax registration stored from the dashboard");
    Ok(back_to_tax())
}

/// The remove form's body.
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Removes a registration.
pub async fn remove_registration(
    request: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let signed = SignedIn::form(&app, &request, &form.csrf).await?;
    let seller = signed.seller()?;
    app.tax
        .unregister(seller, &path)
        .await
        .map_err(WebError::desk)?;
    Ok(back_to_tax())
}
