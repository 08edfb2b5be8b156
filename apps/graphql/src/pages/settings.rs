//! `/dashboard/settings`: bank accounts (add, verify by micro-deposits, remove; details
//! shown masked) and the payout schedule (view and change).

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use bazaar_domain::payouts::{
    AddBankAccount, BankAccountId, BankAccountState, Interval, PayoutSchedule, Rail, Verification,
};
use bazaar_money::Money;
use maud::html;
use uuid::Uuid;

use super::WebError;
use super::dashboard::SellerPage;
use super::layout::{self, money};
use super::session::{SignedIn, TokenForm, csrf_input};
use crate::api::BankDetailsInput;
use crate::audit_trail;
use crate::state::App;

const WEEKDAYS: [&str; 5] = ["monday", "tuesday", "wednesday", "thursday", "friday"];

fn back_to_settings() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/dashboard/settings"))
        .finish()
}

/// The page.
pub async fn page(
    request: HttpRequest,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let page = SellerPage::of(&app, &request).await?;
    let currency = page.seller.settlement_currency;
    let accounts = app
        .payouts
        .bank_accounts(page.id)
        .await
        .map_err(WebError::payouts)?;
    let settings = app
        .payouts
        .settings(page.id, currency)
        .await
        .map_err(WebError::payouts)?;
    let schedule = settings.schedule;
    let next = crate::api::next_payout_on(&app, &settings, page.seller.country);
    let csrf = &page.signed.csrf;
    let body = html! {
        h1 { "Bank accounts and schedule" }
        h2 { "Payout schedule" }
        section.card {
            p #schedule-now {
                "Now: " strong { (schedule.interval().to_string()) }
                ", funds wait " (schedule.delay_days()) " business days after capture, smallest payout " (money(schedule.minimum())) "."
                @if let Some(next) = next { " Next payout: " (next.to_string()) "." }
                @if settings.paused { " " strong { "Paused until a bank account is verified." } }
            }
            form.stack method="post" action="/dashboard/schedule" {
                (csrf_input(csrf))
                label for="interval" { "How often" }
                select #interval name="interval" {
                    option value="manual" { "Manual: I ask for each payout" }
                    option value="daily" { "Daily" }
                    @for day in WEEKDAYS { option value=(format!("weekly:{day}")) { "Weekly on " (day) } }
                    @for day in [1, 15, 28] { option value=(format!("monthly:{day}")) { "Monthly on day " (day) } }
                }
                label for="delay" { "Business days funds wait after capture (0 to 30; at least your country's own)" }
                input #delay name="delay_days" type="number" min="0" max="30" value=(schedule.delay_days());
                label for="minimum" { "Smallest payout (" (currency.code()) ")" }
                input #minimum name="minimum" inputmode="decimal" value=(layout::decimal(schedule.minimum()));
                button type="submit" { "Save schedule" }
            }
        }
        h2 { "Bank accounts" }
        section.card {
            @if accounts.is_empty() { p { "No bank account yet: add one below." } }
            @else {
                table #bank-accounts {
                    thead { tr { th { "Account" } th { "Rail" } th { "Holder" } th { "Status" } th { "" } } }
                    tbody {
                        @for account in &accounts {
                            tr data-account=(account.id.to_string()) {
                                td.mono { (account.masked) }
                                td { (account.rail.as_str()) " (" (account.currency.code()) ")" }
                                td { (account.holder_name) }
                                td { (account.state.as_str()) }
                                td {
                                    @if account.state == BankAccountState::Unverified {
                                        form.stack method="post" action=(format!("/dashboard/bank-accounts/{}/verify", account.id)) {
                                            (csrf_input(csrf))
                                            label for=(format!("first-{}", account.id)) { "First deposit (minor units)" }
                                            input id=(format!("first-{}", account.id)) name="first" type="number" min="1" max="99" required;
                                            label for=(format!("second-{}", account.id)) { "Second deposit (minor units)" }
                                            input id=(format!("second-{}", account.id)) name="second" type="number" min="1" max="99" required;
                                            button type="submit" { "Verify" }
                                        }
                                    }
                                    form.inline method="post" action=(format!("/dashboard/bank-accounts/{}/remove", account.id)) {
                                        (csrf_input(csrf))
                                        button.secondary type="submit" { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        (add_form(csrf, currency))
    };
    Ok(layout::html_response(
        StatusCode::OK,
        layout::page("Bank accounts and schedule", &page.signed, body),
    ))
}

/// The form that adds a bank account; a key drawn per form makes a double post add once.
fn add_form(csrf: &str, currency: bazaar_money::Currency) -> maud::Markup {
    html! {
    h2 { "Add a bank account" }
    section.card {
        p.hint { "Two small deposits are sent to the account; enter them above to verify it. Details are stored encrypted and shown only masked." }
        form.stack method="post" action="/dashboard/bank-accounts" {
            (csrf_input(csrf))
            input type="hidden" name="key" value=(Uuid::new_v4().to_string());
            label for="rail" { "Payment system" }
            select #rail name="rail" {
                @for rail in Rail::ALL { option value=(rail.as_str()) selected[rail.spec().currency == currency] { (rail.as_str()) " (" (rail.spec().currency.code()) ")" } }
            }
            label for="kind" { "Details" }
            select #kind name="kind" {
                @for (value, label) in [("iban", "IBAN"), ("uk_account", "UK sort code and account number"), ("us_account", "US routing and account number"), ("clabe", "CLABE"), ("pix_key", "Pix key"), ("upi_vpa", "UPI address"), ("indian_account", "IFSC and account number"), ("zengin", "Zengin bank, branch and account")] {
                    option value=(value) { (label) }
                }
            }
            @for (name, label) in [("iban", "IBAN"), ("sortCode", "Sort code"), ("routingNumber", "Routing number"), ("accountNumber", "Account number"), ("clabe", "CLABE"), ("pixKeyType", "Pix key type (cpf, cnpj, email, phone, random)"), ("pixKey", "Pix key"), ("vpa", "UPI address"), ("ifsc", "IFSC"), ("bankCode", "Bank code"), ("branchCode", "Branch code"), ("accountType", "Account type (ordinary, current, savings)")] {
                label for=(format!("field-{name}")) { (label) }
                input id=(format!("field-{name}")) name=(name) autocomplete="off";
            }
            label for="holder" { "Account holder's name" }
            input #holder name="holder_name" required;
            button type="submit" { "Add bank account" }
        }
    }
    }
}

/// What the schedule form posts.
#[derive(serde::Deserialize)]
pub struct ScheduleForm {
    #[serde(default)]
    csrf: String,
    interval: String,
    delay_days: u32,
    minimum: String,
}

/// Changes the schedule.
pub async fn schedule(
    request: HttpRequest,
    form: web::Form<ScheduleForm>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let (signed, seller) = SignedIn::posted(&app, &request, &form.csrf).await?;
    let who = audit_trail::of_page(&app, &signed.user, &request);
    let page = SellerPage::for_seller(&app, signed).await?;
    let currency = page.seller.settlement_currency;
    let invalid = |e: bazaar_domain::payouts::PayoutError| WebError::Invalid(e.to_string());
    let interval = Interval::parse(form.interval.trim()).map_err(invalid)?;
    let minimum = match form.minimum.trim() {
        "" => Money::zero(currency),
        text => {
            Money::parse(text, currency).map_err(|e| WebError::Invalid(format!("minimum: {e}")))?
        }
    };
    let schedule =
        PayoutSchedule::new(interval, form.delay_days, minimum, currency).map_err(invalid)?;
    let set = app.payouts.set_schedule(seller, schedule, app.now()).await;
    let resource = ("payout_schedule", seller.to_string());
    audit_trail::after(&app, who, "payout_schedule.set", resource, &set).await;
    set.map_err(WebError::payouts)?;
    tracing::info!(%seller, interval = %schedule.interval(), "payout schedule changed from the dashboard");
    Ok(back_to_settings())
}

/// What the add form posts: the API's bank details fields, the rail and the holder.
#[derive(serde::Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    key: String,
    rail: String,
    holder_name: String,
    #[serde(flatten)]
    details: BankDetailsInput,
}

/// Adds a bank account; the same form posted twice adds it once.
pub async fn add(
    request: HttpRequest,
    form: web::Form<AddForm>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let (signed, seller) = SignedIn::posted(&app, &request, &form.csrf).await?;
    let form = form.into_inner();
    let details = form
        .details
        .parse()
        .map_err(|e| WebError::Invalid(e.message))?;
    let new_account = AddBankAccount {
        id: BankAccountId::for_key(seller, &form.key),
        seller,
        rail: Rail::parse(&form.rail)
            .ok_or_else(|| WebError::Invalid("unknown payment system".to_owned()))?,
        details,
        holder_name: form.holder_name,
    };
    let resource = ("bank_account", new_account.id.to_string());
    let added = app.payouts.add_bank_account(new_account, app.now()).await;
    let who = audit_trail::of_page(&app, &signed.user, &request);
    audit_trail::after(&app, who, "bank_account.add", resource, &added).await;
    added.map_err(WebError::payouts)?;
    Ok(back_to_settings())
}

/// What the verify form posts: the two deposits in minor units.
#[derive(serde::Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    csrf: String,
    first: i64,
    second: i64,
}

fn account_id(path: &str) -> Result<BankAccountId, WebError> {
    Uuid::parse_str(path)
        .map(BankAccountId::from_uuid)
        .map_err(|_| WebError::NotFound)
}

/// Answers an account's micro-deposits.
pub async fn verify(
    request: HttpRequest,
    path: web::Path<String>,
    form: web::Form<VerifyForm>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let (signed, seller) = SignedIn::posted(&app, &request, &form.csrf).await?;
    let id = account_id(&path)?;
    let answer = app
        .payouts
        .verify_bank_account(seller, id, [form.first, form.second], app.now())
        .await;
    let who = audit_trail::of_page(&app, &signed.user, &request);
    let resource = ("bank_account", id.to_string());
    audit_trail::after(&app, who, "bank_account.verify", resource, &answer).await;
    let answer = answer.map_err(WebError::payouts)?;
    match answer {
        Verification::Verified(_) => Ok(back_to_settings()),
        Verification::Wrong { attempts_left, .. } => Err(WebError::Invalid(format!(
            "those are not the deposits sent; {attempts_left} more tries before the account is blocked"
        ))),
    }
}

/// Removes an account and its sealed details.
pub async fn remove(
    request: HttpRequest,
    path: web::Path<String>,
    form: web::Form<TokenForm>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let (signed, seller) = SignedIn::posted(&app, &request, &form.csrf).await?;
    let id = account_id(&path)?;
    let removed = app.payouts.remove_bank_account(seller, id).await;
    let who = audit_trail::of_page(&app, &signed.user, &request);
    let resource = ("bank_account", id.to_string());
    audit_trail::after(&app, who, "bank_account.remove", resource, &removed).await;
    removed.map_err(WebError::payouts)?;
    Ok(back_to_settings())
}
