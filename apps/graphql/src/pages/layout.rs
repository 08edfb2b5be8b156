//! The page frame, and how amounts and dates read on a page.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use bazaar_domain::payouts::Zone;
use bazaar_ledger::Timestamp;
use bazaar_money::Money;
use maud::{DOCTYPE, Markup, html};

use super::session::{SignedIn, csrf_input};

/// Pages load nothing from elsewhere, run no inline script and cannot be framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// An HTML page response with the pages' security headers; never cached (it shows money).
pub fn html_response(status: StatusCode, body: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body.into_string())
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Bazaar" }
            link rel="stylesheet" href=(super::assets::STYLESHEET);
        }
    }
}

/// A page without navigation (sign-in, errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                main.narrow { (body) }
            }
        }
    }
}

/// A signed-in page: the navigation for the person's role, sign-out, and the body.
pub fn page(title: &str, signed: &SignedIn, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.top {
                    a.brand href=(signed.home()) { "Bazaar" }
                    nav aria-label="Main" {
                        @if signed.compliance().is_ok() {
                            a href="/compliance" { "Audit log" }
                        } @else if signed.finance().is_ok() {
                            a href="/finance" { "Finance" }
                            a href="/finance/trial-balance" { "Trial balance" }
                            a href="/finance/tax" { "Tax returns" }
                            a href="/finance/loans" { "Loans" }
                        } @else {
                            a href="/dashboard" { "Payouts" }
                            a href="/dashboard/settings" { "Bank accounts and schedule" }
                            a href="/dashboard/tax" { "Tax and invoices" }
                            a href="/dashboard/loan" { "Loan" }
                        }
                    }
                    form.sign-out method="post" action="/sign-out" {
                        (csrf_input(&signed.csrf))
                        span.who { (signed.user.email.as_str()) }
                        button type="submit" { "Sign out" }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// An amount as people read it: the currency's own number of decimals (none for JPY,
/// three for KWD), thousands grouped, the ISO code after it.
pub fn money(amount: Money) -> String {
    let text = amount.amount_string();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("−", rest),
        None => ("", text.as_str()),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (digits, None),
    };
    let mut grouped = String::with_capacity(whole.len().saturating_add(8));
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && whole.len().saturating_sub(index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction} {}", amount.currency().code()),
        None => format!("{sign}{grouped} {}", amount.currency().code()),
    }
}

/// A plain decimal amount for CSV and form values (`-12.30`, `500`, `1.250`).
pub fn decimal(amount: Money) -> String {
    amount.amount_string()
}

/// An instant as a date and time in `zone` (`2026-11-30 14:05`), or UTC if the zone's
/// rules do not reach it.
pub fn local_time(zone: Zone, at: Timestamp) -> String {
    match zone.local(at) {
        Ok((date, minute)) => format!("{date} {:02}:{:02}", minute / 60, minute % 60),
        Err(_) => crate::api::instant(at),
    }
}

/// An instant's local date in `zone` (`2026-11-30`).
pub fn local_date(zone: Zone, at: Timestamp) -> String {
    match zone.local(at) {
        Ok((date, _)) => date.to_string(),
        Err(_) => crate::api::instant(at),
    }
}

#[cfg(test)]
mod tests {
    use bazaar_money::Currency;

    use super::*;

    fn of(minor: i64, code: &str) -> String {
        money(Money::from_minor(minor, Currency::from_code(code).unwrap()))
    }

    #[test]
    fn amounts_use_the_currency_decimals_and_group_thousands() {
        assert_eq!(of(123_456_789, "EUR"), "1,234,567.89 EUR");
        assert_eq!(of(1_500, "JPY"), "1,500 JPY");
        assert_eq!(of(1_250, "KWD"), "1.250 KWD");
        assert_eq!(of(-4_200, "USD"), "−42.00 USD");
        assert_eq!(of(5, "EUR"), "0.05 EUR");
        assert_eq!(of(100_000, "JPY"), "100,000 JPY");
    }
}
