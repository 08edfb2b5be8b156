//! Finance's loan portfolio: `/finance/loans`, outstanding by currency, delinquency buckets
//! with a chart, charge-offs and fee income, each loan as the ledger has it.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use bazaar_domain::fx::calendar::Date;
use maud::html;

use super::WebError;
use super::chart::{self, Series};
use super::layout::{self, money};
use super::session::SignedIn;
use crate::state::App;

/// The buckets' names, in the order of the chart's bars.
const BUCKETS: [&str; 4] = ["current", "1-30 days", "31-60 days", "61+ days"];

/// `/finance/loans`.
pub async fn page(
    request: HttpRequest,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let signed = SignedIn::of(&app, &request).await?;
    signed.finance()?;
    let today = Date::of_instant(app.now()).ok_or(WebError::Unavailable)?;
    let lines = app.lending.portfolio(today).await.map_err(|error| {
        tracing::warn!(code = error.code(), %error, "the loan portfolio could not be read");
        WebError::Unavailable
    })?;
    let body = html! {
        h1 { "Loans to sellers" }
        p.hint { "Each open loan as the ledger has it on " (today.to_string()) ": what remains of advance and fee, by days past due." }
        @if lines.is_empty() {
            p #no-loans { "No loans yet." }
        }
        @for line in &lines {
            @let code = line.currency.code();
            section.portfolio data-currency=(code) {
                h2 { (code) }
                table {
                    thead { tr { th { "Open loans" } th { "Outstanding" } th { "Current" } th { "1-30 days" } th { "31-60 days" } th { "61+ days" } th { "Charged off" } th { "Fee income" } } }
                    tbody {
                        tr {
                            td.num.open { (line.open_loans) }
                            td.num.outstanding { (money(line.outstanding)) }
                            td.num.current { (money(line.current)) }
                            @for bucket in &line.past_due { td.num.past-due { (money(*bucket)) } }
                            td.num.charged-off { (money(line.charged_off)) }
                            td.num.fee-income { (money(line.fee_income)) }
                        }
                    }
                }
                @let points: Vec<(String, i64)> = BUCKETS
                    .iter()
                    .zip(std::iter::once(line.current).chain(line.past_due))
                    .map(|(name, amount)| ((*name).to_owned(), amount.minor()))
                    .collect();
                (chart::bars(&Series { title: "Outstanding by days past due", currency: line.currency, points: &points }, &format!("buckets-{code}")))
            }
        }
    };
    Ok(layout::html_response(
        StatusCode::OK,
        layout::page("Loans", &signed, body),
    ))
}
