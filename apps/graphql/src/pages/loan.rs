//! The seller's loan page: `/dashboard/loan` (its loans with a repayment progress chart, and
//! the offer its sales earn), `POST /dashboard/loan/offer` (shows today's offer),
//! `POST /dashboard/loan/accept` (accepts it), `POST /dashboard/loan/repay` (repays a loan
//! in full).

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use bazaar_domain::fx::calendar::Date;
use bazaar_domain::lending::{LendingError, Loan, LoanId, LoanState, OfferId, StoredOffer};
use bazaar_money::Money;
use maud::{Markup, html};
use uuid::Uuid;

use super::WebError;
use super::layout::{self, money};
use super::session::{SignedIn, csrf_input};
use crate::state::App;

impl WebError {
    fn lending(error: LendingError) -> Self {
        match error.code() {
            "internal" | "unavailable" => {
                tracing::warn!(code = error.code(), %error, "a loan page's call failed");
                Self::Unavailable
            }
            _ => Self::Invalid(error.to_string()),
        }
    }
}

fn today(app: &App) -> Result<Date, WebError> {
    Date::of_instant(app.now()).ok_or(WebError::Unavailable)
}

/// A horizontal bar: the advance and the fee repaid, then what remains, to scale.
fn progress(loan: &Loan) -> Markup {
    const WIDTH: i64 = 600;
    let total = loan.total().map(Money::minor).unwrap_or(0).max(1);
    let scale = |minor: i64| {
        minor
            .clamp(0, total)
            .saturating_mul(WIDTH)
            .checked_div(total)
            .unwrap_or(0)
    };
    let advance = scale(loan.paid_advance.minor());
    let fee = scale(loan.paid_fee.minor());
    let paid = advance.saturating_add(fee);
    let label = format!(
        "Repaid {} of {}",
        money(loan.paid().unwrap_or(loan.paid_advance)),
        money(loan.total().unwrap_or(loan.advance))
    );
    html! {
        svg.chart id=(format!("progress-{}", loan.id)) role="img" aria-label=(label) viewBox="0 0 600 40" width="600" height="40" {
            title { (label) }
            rect x="0" y="8" width=(WIDTH) height="24" fill="#e3e7ee" {}
            rect x="0" y="8" width=(advance) height="24" fill="#0b5cad" {}
            rect x=(advance) y="8" width=(fee) height="24" fill="#5b9bd5" {}
            line x1=(paid) y1="4" x2=(paid) y2="36" stroke="#1a1a1a" stroke-width="2" {}
        }
    }
}

fn loan_card(loan: &Loan, csrf: &str) -> Markup {
    html! {
        section.loan data-loan=(loan.id.to_string()) data-state=(loan.state.as_str()) {
            h2 { "Loan of " (money(loan.advance)) " · " (loan.state.as_str().replace('_', " ")) }
            (progress(loan))
            table {
                tbody {
                    tr { th { "Advance and fee" } td.num { (money(loan.total().unwrap_or(loan.advance))) } }
                    tr { th { "Repaid" } td.num.paid { (money(loan.paid().unwrap_or(loan.paid_advance))) } }
                    tr { th { "Remaining" } td.num.remaining { (money(loan.remaining().unwrap_or(loan.advance))) } }
                    tr { th { "Withheld from each sale" } td.num { (bazaar_domain::tax::TaxRate::from_basis_points(loan.withhold_rate).percent_text()) } }
                    tr { th { "This interval: minimum, repaid" } td.num { (money(loan.minimum)) ", " (money(loan.interval_paid)) } }
                    tr { th { "Due on" } td.num { (loan.due_on().map(|d| d.to_string()).unwrap_or_default()) } }
                    @if loan.arrears.is_positive() {
                        tr.problem { th { "Overdue" } td.num { (money(loan.arrears)) } }
                    }
                }
            }
            @if matches!(loan.state, LoanState::Active | LoanState::PastDue { .. }) {
                form.repay method="post" action="/dashboard/loan/repay" {
                    (csrf_input(csrf))
                    input type="hidden" name="loan" value=(loan.id.to_string());
                    button type="submit" { "Repay " (money(loan.remaining().unwrap_or(loan.advance))) " now from your balance" }
                }
            }
        }
    }
}

fn offer_card(offer: &StoredOffer, csrf: &str) -> Markup {
    let terms = &offer.offer;
    html! {
        section #offer {
            h2 { "Your offer" }
            table {
                tbody {
                    tr { th { "Advance" } td.num #offer-advance { (money(terms.advance)) } }
                    tr { th { "Flat fee" } td.num #offer-fee { (money(terms.fee)) } }
                    tr { th { "Withheld from each sale until repaid" } td.num { (bazaar_domain::tax::TaxRate::from_basis_points(terms.withhold_rate).percent_text()) } }
                    tr { th { "Minimum every 60 days" } td.num { (money(terms.minimum)) } }
                    tr { th { "Accept by" } td.num { (terms.expires_on.to_string()) } }
                }
            }
            @if offer.loan.is_none() {
                form #accept method="post" action="/dashboard/loan/accept" {
                    (csrf_input(csrf))
                    input type="hidden" name="offer" value=(offer.id.to_string());
                    button type="submit" { "Accept " (money(terms.advance)) }
                }
            }
        }
    }
}

async fn render(
    app: &App,
    signed: &SignedIn,
    offer: Option<&StoredOffer>,
) -> Result<HttpResponse, WebError> {
    let seller = signed.seller()?;
    let loans = app
        .lending
        .loans(seller, today(app)?)
        .await
        .map_err(WebError::lending)?;
    let body = html! {
        h1 { "Loan" }
        p.hint { "An advance repaid from your sales: a share of each settled sale is withheld until the advance and its one flat fee are repaid, with a minimum every 60 days." }
        @for loan in &loans { (loan_card(loan, &signed.csrf)) }
        @match offer {
            Some(offer) => { (offer_card(offer, &signed.csrf)) }
            None => {
                form #see-offer method="post" action="/dashboard/loan/offer" {
                    (csrf_input(&signed.csrf))
                    button type="submit" { "See what your sales earn" }
                }
            }
        }
    };
    Ok(layout::html_response(
        StatusCode::OK,
        layout::page("Loan", signed, body),
    ))
}

/// `/dashboard/loan`.
pub async fn page(
    request: HttpRequest,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let signed = SignedIn::of(&app, &request).await?;
    render(&app, &signed, None).await
}

/// A form with only its CSRF token.
#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// Computes (and keeps) today's offer and shows it.
pub async fn offer(
    request: HttpRequest,
    form: web::Form<CsrfOnly>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let signed = SignedIn::form(&app, &request, &form.csrf).await?;
    let seller_id = signed.seller()?;
    let seller = app
        .market
        .seller(seller_id)
        .await
        .map_err(|_| WebError::Unavailable)?
        .ok_or(WebError::NotFound)?;
    let offered = app
        .lending
        .offer(
            seller_id,
            seller.settlement_currency,
            today(&app)?,
            app.now(),
        )
        .await
        .map_err(WebError::lending)?;
    render(&app, &signed, Some(&offered)).await
}

/// What the accept form posts.
#[derive(serde::Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    csrf: String,
    offer: String,
}

/// Accepts an offer and shows the loan.
pub async fn accept(
    request: HttpRequest,
    form: web::Form<AcceptForm>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let signed = SignedIn::form(&app, &request, &form.csrf).await?;
    let seller = signed.seller()?;
    let id = Uuid::parse_str(&form.offer).map_err(|_| WebError::NotFound)?;
    let accepted = app
        .lending
        .accept(seller, OfferId::from_uuid(id), today(&app)?, app.now())
        .await;
    let who = crate::audit_trail::of_page(&app, &signed.user, &request);
    crate::audit_trail::after(
        &app,
        who,
        "loan.accept",
        ("loan_offer", id.to_string()),
        &accepted,
    )
    .await;
    let loan = accepted.map_err(WebError::lending)?;
    tracing::info!(%seller, loan = %loan.id, advance_minor = loan.advance.minor(), "loan accepted from the dashboard");
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/dashboard/loan"))
        .finish())
}

/// What the repay form posts.
#[derive(serde::Deserialize)]
pub struct RepayForm {
    #[serde(default)]
    csrf: String,
    loan: String,
}

/// Repays a loan in full from the available balance.
pub async fn repay(
    request: HttpRequest,
    form: web::Form<RepayForm>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let signed = SignedIn::form(&app, &request, &form.csrf).await?;
    let seller = signed.seller()?;
    let id = Uuid::parse_str(&form.loan).map_err(|_| WebError::NotFound)?;
    let repaid = app
        .lending
        .repay(seller, LoanId::from_uuid(id), today(&app)?, app.now())
        .await;
    let who = crate::audit_trail::of_page(&app, &signed.user, &request);
    crate::audit_trail::after(&app, who, "loan.repay", ("loan", id.to_string()), &repaid).await;
    let loan = repaid.map_err(WebError::lending)?;
    tracing::info!(%seller, loan = %loan.id, "loan repaid in full from the dashboard");
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/dashboard/loan"))
        .finish())
}
