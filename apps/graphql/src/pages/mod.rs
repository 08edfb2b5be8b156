//! Bazaar's web pages: server-rendered HTML (maud) over the same domain services as the
//! GraphQL resolvers, signed in by a session cookie, every form protected by a CSRF token,
//! charts drawn on the server as SVG, every asset served from this binary.
//!
//! - `session.rs`: sign-in, sign-out, the session cookie, CSRF tokens, who may see a page.
//! - `layout.rs`: the page frame, navigation, money and date formatting.
//! - `dashboard.rs`, `entries.rs`, `payout.rs`, `settings.rs`: the seller's pages.
//! - `finance.rs`: finance's pages (positions, reconciliation runs, the trial balance).
//! - `loan.rs`: the seller's loan, its repayment progress, its offer, repaying it early;
//!   `portfolio.rs`: finance's loan portfolio.
//! - `compliance.rs`: compliance's audit log page and its exports.
//! - `tax.rs`: finance's tax returns and remittance, the seller's registrations and invoices.
//! - `chart.rs`: SVG charts. `assets.rs`: the stylesheet and GraphiQL's pinned files.

mod assets;
mod chart;
mod compliance;
mod dashboard;
mod entries;
mod finance;
mod layout;
mod loan;
mod payout;
mod portfolio;
mod session;
mod settings;
mod tax;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::html;

pub use assets::graphiql_page;
pub(crate) use layout::money;

/// Every page route.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(session::home))
        .route("/sign-in", web::get().to(session::sign_in_page))
        .route("/sign-in", web::post().to(session::sign_in))
        .route("/sign-out", web::post().to(session::sign_out))
        .route("/dashboard", web::get().to(dashboard::page))
        .route(
            "/dashboard/balances/{currency}/{balance}",
            web::get().to(entries::page),
        )
        .route("/dashboard/payouts/{id}", web::get().to(payout::page))
        .route("/dashboard/payouts/{id}/csv", web::get().to(payout::csv))
        .route("/dashboard/instant", web::post().to(payout::instant_confirm))
        .route("/dashboard/instant/pay", web::post().to(payout::instant_pay))
        .route("/dashboard/settings", web::get().to(settings::page))
        .route("/dashboard/schedule", web::post().to(settings::schedule))
        .route("/dashboard/bank-accounts", web::post().to(settings::add))
        .route(
            "/dashboard/bank-accounts/{id}/verify",
            web::post().to(settings::verify),
        )
        .route(
            "/dashboard/bank-accounts/{id}/remove",
            web::post().to(settings::remove),
        )
        .route("/dashboard/loan", web::get().to(loan::page))
        .route("/dashboard/loan/offer", web::post().to(loan::offer))
        .route("/dashboard/loan/accept", web::post().to(loan::accept))
        .route("/dashboard/loan/repay", web::post().to(loan::repay))
        .route("/dashboard/tax", web::get().to(tax::seller_page))
        .route(
            "/dashboard/tax/registrations",
            web::post().to(tax::add_registration),
        )
        .route(
            "/dashboard/tax/registrations/{area}/remove",
            web::post().to(tax::remove_registration),
        )
        .route("/dashboard/orders/{id}/invoice", web::get().to(tax::invoice))
        .route("/finance/loans", web::get().to(portfolio::page))
        .route("/compliance", web::get().to(compliance::page))
        .route("/compliance/audit.jsonl", web::get().to(compliance::export))
        .route("/finance/tax", web::get().to(tax::page))
        .route("/finance/tax.csv", web::get().to(tax::csv))
        .route("/finance/tax/remit", web::post().to(tax::remit))
        .route("/finance", web::get().to(finance::page))
        .route("/finance/reconcile", web::post().to(finance::reconcile))
        .route("/finance/runs/{id}", web::get().to(finance::run_page))
        .route("/finance/runs/{id}/open.csv", web::get().to(finance::run_csv))
        .route("/finance/trial-balance", web::get().to(finance::trial_page))
        .route("/finance/trial-balance.csv", web::get().to(finance::trial_csv))
        .route("/finance/positions.csv", web::get().to(finance::positions_download))
        .configure(assets::routes)
        // A form that cannot be read is refused with a page, not the framework's text.
        .app_data(web::FormConfig::default().limit(16_384).error_handler(|error, _| {
            tracing::info!(%error, "refused a form that could not be read");
            actix_web::Error::from(WebError::Invalid(
                "the form is incomplete or malformed; go back and fill in every field".to_owned(),
            ))
        }));
}

/// Why a page was not shown. Each has a status and a message safe to show; causes are
/// logged where they happen.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No session, or it ended: go to the sign-in page.
    #[error("sign in to see this page")]
    SignIn,
    /// Signed in, but this page is not for the signed-in role.
    #[error("this page is not available to your account")]
    Forbidden,
    /// Nothing here, or it belongs to someone else.
    #[error("page not found")]
    NotFound,
    /// A form without a valid CSRF token, or posted from another site.
    #[error("the form expired or came from another site; go back, reload it and try again")]
    Csrf,
    /// The input was refused; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// A backing service failed; worth a retry.
    #[error("something went wrong on our side; try again in a moment")]
    Unavailable,
}

impl WebError {
    fn status(&self) -> StatusCode {
        match self {
            Self::SignIn => StatusCode::SEE_OTHER,
            Self::Forbidden | Self::Csrf => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A payouts error as a page error: its message for input refused, a retry otherwise.
    pub fn payouts(error: bazaar_domain::payouts::PayoutsError) -> Self {
        match error.code() {
            "internal" | "unavailable" => {
                tracing::warn!(code = error.code(), %error, "a page's payouts call failed");
                Self::Unavailable
            }
            _ => Self::Invalid(error.to_string()),
        }
    }
}

impl actix_web::ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        if matches!(self, Self::SignIn) {
            return HttpResponse::SeeOther()
                .insert_header((actix_web::http::header::LOCATION, "/sign-in"))
                .finish();
        }
        let title = match self {
            Self::NotFound => "Not found",
            Self::Forbidden | Self::Csrf => "Not allowed",
            Self::Invalid(_) => "Check what you entered",
            Self::SignIn | Self::Unavailable => "Try again",
        };
        let body = layout::bare(
            title,
            html! {
                h1 { (title) }
                p role="alert" { (self.to_string()) }
                p { a href="/" { "Back to your pages" } }
            },
        );
        layout::html_response(self.status(), body)
    }
}
