// Tax returns, registrations and invoices against the real server, over GraphQL and in a
// real headless Chromium: an Italian consumer buys a US seller's course (Bazaar is the deemed
// supplier and owes Italian VAT through the One-Stop Shop); the seller manages its
// registrations and opens the invoice; finance reads the quarter's OSS return, whose tax is
// the ledger's payable, downloads it as CSV, and cannot remit a quarter still running.

use bazaar_domain::fx::calendar::Date;
use bazaar_domain::tax::{Cadence, ReturnPeriod};
use bazaar_ledger::Clock;
use bazaar_postgres::SystemClock;
use serde_json::json;

use super::browser_support::Browser;
use super::finance::{admin, stdout};
use super::support::{PASSWORD, Server};
use super::tax::CARD;

const FINANCE: &str = "tax-finance@bazaar.test";

const RETURN: &str = r#"query($scheme: String!, $period: String!) {
    taxReturn(scheme: $scheme, period: $period) {
      scheme period csv rows { place rate net { amount } tax { amount } }
      payables { jurisdiction accrued { amount } due { amount } remittedAt } } }"#;

const INVOICE: &str = r#"query($id: ID!) { invoice(orderId: $id) {
    number seller { name taxNumber } buyer { area taxNumber } marketplace { name taxNumber }
    lines { title taxCode net { amount } tax { amount { amount } scheme reason } }
    groups { place scheme rate tax { amount } } tax { amount } total { amount } notes html } }"#;

/// This quarter, in the ledger's (real) time.
fn quarter() -> String {
    let today = Date::of_instant(SystemClock.now()).unwrap();
    ReturnPeriod::containing(Cadence::Quarterly, today)
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finance_reads_the_oss_return_the_ledger_agrees_with_and_a_seller_opens_its_invoice() {
    let server = Server::start(&[]).await;
    stdout(&admin(&server, &["finance-user", FINANCE], Some(PASSWORD)));
    let finance = server.sign_in(FINANCE, PASSWORD).await;
    let seller = server
        .sign_up("austin@courses.test", "SELLER", "US", Some("EUR"))
        .await;
    let buyer = server
        .sign_up("giulia@buyer.test", "BUYER", "IT", None)
        .await;
    let stranger = server
        .sign_up("other@buyer.test", "BUYER", "IT", None)
        .await;
    let (_, sku) = server
        .create_product(
            &seller,
            r#"mutation { createProduct(idempotencyKey: "course", input: {title: "Live drawing", description: "Recorded lessons",
                 category: "courses", kind: DIGITAL, taxCode: E_SERVICE,
                 skus: [{code: "C1", title: "Course", prices: [{amount: "122.00", currency: "EUR"}]}]}) { id } }"#,
        )
        .await;
    // A physical product cannot carry a service's tax code.
    let code = server
        .code(
            Some(&seller),
            r#"mutation { createProduct(idempotencyKey: "lamp", input: {title: "Lamp", description: "",
                 category: "home", kind: PHYSICAL, taxCode: LIVE_EVENT,
                 skus: [{code: "L1", title: "Lamp", stock: 3, prices: [{amount: "10.00", currency: "EUR"}]}]}) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code, "invalid_input");
    let checkout = server
        .ok(
            Some(&buyer),
            r#"mutation($sku: ID!) { checkout(idempotencyKey: "it", input: {currency: "EUR", lines: [{skuId: $sku, quantity: 1}]}) {
                 id orders { id } } }"#,
            json!({"sku": sku}),
        )
        .await;
    let checkout_id = checkout["checkout"]["id"].as_str().unwrap().to_owned();
    let order_id = checkout["checkout"]["orders"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let paid = server
        .ok(Some(&buyer), CARD, json!({"id": checkout_id}))
        .await;
    assert_eq!(paid["pay"]["state"], "CAPTURED");

    // The seller's registrations: a bad French number refused, a New York permit kept.
    let code = server
        .code(
            Some(&seller),
            r#"mutation { registerTax(area: "FR", number: "FR40303265046") { area } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code, "registration_number_invalid");
    let registered = server
        .ok(
            Some(&seller),
            r#"mutation { registerTax(area: "US-NY", number: "12-3456789") { area number } }"#,
            json!({}),
        )
        .await;
    assert_eq!(registered["registerTax"]["area"], "US-NY");
    let code = server
        .code(Some(&buyer), "{ taxRegistrations { area } }", json!({}))
        .await;
    assert_eq!(code, "forbidden");

    // The buyer's invoice: Bazaar is the deemed supplier and names its own VAT number.
    let invoice = server
        .ok(Some(&buyer), INVOICE, json!({"id": order_id}))
        .await;
    let invoice = &invoice["invoice"];
    assert_eq!(invoice["marketplace"]["name"], "Bazaar");
    assert_eq!(invoice["marketplace"]["taxNumber"], "IE6388047V");
    assert_eq!(invoice["buyer"]["area"], "IT");
    assert_eq!(invoice["tax"]["amount"], "22.00");
    assert_eq!(invoice["total"]["amount"], "122.00");
    assert_eq!(invoice["lines"][0]["taxCode"], "E_SERVICE");
    assert_eq!(invoice["lines"][0]["net"]["amount"], "100.00");
    assert_eq!(
        invoice["lines"][0]["tax"]["reason"],
        "eu_deemed_supplier_e_service"
    );
    assert_eq!(invoice["groups"][0]["place"], "IT");
    assert_eq!(invoice["groups"][0]["rate"], "22%");
    assert!(
        invoice["notes"][0]
            .as_str()
            .unwrap()
            .contains("presumed the supplier")
    );
    assert!(invoice["html"].as_str().unwrap().contains("22.00 EUR"));
    let theirs = server
        .ok(Some(&stranger), INVOICE, json!({"id": order_id}))
        .await;
    assert_eq!(theirs["invoice"], serde_json::Value::Null);

    // Finance: this quarter's OSS return, whose Italian tax is the ledger's IT-OSS payable.
    let period = quarter();
    let found = server
        .ok(
            Some(&finance),
            RETURN,
            json!({"scheme": "oss", "period": period}),
        )
        .await;
    let found = &found["taxReturn"];
    assert_eq!(found["rows"][0]["place"], "IT");
    assert_eq!(found["rows"][0]["net"]["amount"], "100.00");
    assert_eq!(found["rows"][0]["tax"]["amount"], "22.00");
    assert_eq!(found["payables"][0]["jurisdiction"], "IT-OSS");
    assert_eq!(found["payables"][0]["accrued"]["amount"], "22.00");
    assert_eq!(found["payables"][0]["due"]["amount"], "22.00");
    assert_eq!(found["payables"][0]["remittedAt"], serde_json::Value::Null);
    assert_eq!(
        found["csv"],
        "place,rate_percent,currency,net,tax\nIT,22,EUR,100.00,22.00\n"
    );
    for (query, vars, expected) in [
        (
            RETURN,
            json!({"scheme": "oss", "period": "2026-01"}),
            "period_cadence",
        ),
        (
            RETURN,
            json!({"scheme": "reverse_charge", "period": "2026-Q1"}),
            "no_return_for_scheme",
        ),
        (
            "mutation($p: String!) { remitTax(scheme: \"oss\", period: $p) { jurisdiction } }",
            json!({"p": period}),
            "period_not_ended",
        ),
    ] {
        assert_eq!(server.code(Some(&finance), query, vars).await, expected);
    }
    let code = server
        .code(
            Some(&seller),
            RETURN,
            json!({"scheme": "oss", "period": period}),
        )
        .await;
    assert_eq!(code, "forbidden");

    // In the browser: the seller adds a registration and opens the invoice.
    let browser = Browser::start().await;
    let base = &server.base;
    browser.sign_in(base, "austin@courses.test", PASSWORD).await;
    browser.goto(&format!("{base}/dashboard/tax")).await;
    assert!(
        browser
            .text("#registrations tr[data-area='US-NY']")
            .await
            .contains("12-3456789")
    );
    browser
        .fill("#add-registration input[name=area]", "FR")
        .await;
    browser
        .fill("#add-registration input[name=number]", "40 303 265 045")
        .await;
    browser.click("#add-registration button").await;
    assert!(
        browser
            .text("#registrations tr[data-area='FR']")
            .await
            .contains("FR40303265045")
    );
    browser.screenshot("seller-tax").await;
    browser
        .click(&format!("#orders tr[data-order='{order_id}'] a.invoice"))
        .await;
    assert_eq!(browser.text("#invoice-number").await, order_id);
    assert_eq!(browser.text("#tax-total").await, "22.00 EUR");
    assert!(
        browser
            .page_text()
            .await
            .contains("Tax collected by the marketplace")
    );
    browser.screenshot("invoice").await;

    // Finance reads the return and downloads it.
    browser.goto(&format!("{base}/dashboard/tax")).await;
    browser.click(".sign-out button").await;
    let finance_browser = browser;
    finance_browser.sign_in(base, FINANCE, PASSWORD).await;
    finance_browser
        .goto(&format!("{base}/finance/tax?scheme=oss&period={period}"))
        .await;
    assert_eq!(
        finance_browser
            .attr("#return-rows tr[data-place='IT']", "data-tax-minor")
            .await,
        "2200"
    );
    assert_eq!(
        finance_browser
            .attr("#payables tr[data-jurisdiction='IT-OSS']", "data-due-minor")
            .await,
        "2200"
    );
    finance_browser.screenshot("finance-tax").await;
    finance_browser.click_download("#return-csv").await;
    let (name, body) = finance_browser.downloaded().await;
    assert_eq!(name, format!("oss-{period}-return.csv"));
    assert_eq!(
        body,
        "place,rate_percent,currency,net,tax\nIT,22,EUR,100.00,22.00\n"
    );
    finance_browser.click_download("#payables-csv").await;
    let (name, body) = finance_browser.downloaded().await;
    assert_eq!(name, format!("oss-{period}-payables.csv"));
    assert_eq!(
        body,
        "jurisdiction,currency,accrued,due,remitted_at_micros\nIT-OSS,EUR,22.00,22.00,\n"
    );
    // The quarter is still running: remitting it is refused with a page that says so.
    finance_browser.click("#remit button").await;
    assert!(
        finance_browser
            .text("[role=alert]")
            .await
            .contains("has not ended")
    );
}
