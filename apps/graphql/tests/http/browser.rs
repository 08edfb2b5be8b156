// The seller dashboard in a real headless Chromium against the real server and database:
// sign in, change the schedule, add and verify a bank account, read the balances and check
// them against the ledger, open a payout, download its CSV and add it up; another seller's
// payout is not found, a form without its CSRF token is refused; GraphiQL loads from
// Bazaar's own files.

use std::sync::Arc;

use bazaar_domain::chart::{ChartAccount, ProviderName, Revenue, SellerId};
use bazaar_domain::payments::PaymentId;
use bazaar_domain::payouts::{BankDetails, PayoutRails, Payouts, Rail, SettledCardFunds};
use bazaar_domain::postings::capture_leg_id;
use bazaar_ledger::{LedgerStore, Metadata, RequestKind, Timestamp, TransferId, TransferRequest};
use bazaar_money::{Currency, Money};
use bazaar_payouts::SandboxRails;
use bazaar_postgres::{
    LedgerConfig, PostgresLedger, PostgresPayouts, RetryPolicy, SecretKey, SystemClock,
};
use serde_json::json;
use uuid::Uuid;

use super::browser_support::Browser;
use super::support::{PASSWORD, Server};

const IBAN: &str = "DE89370400440532013000";

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

/// Posts a sale as a capture does: the platform's commission and the seller's share, one
/// batch with the capture's metadata and ids; answers the seller leg's id.
pub(super) async fn sale(
    ledger: &PostgresLedger,
    seller: SellerId,
    order: u128,
    seller_minor: i64,
    fee_minor: i64,
) -> TransferId {
    let clearing = ChartAccount::PspClearing(ProviderName::new("sandbox").unwrap());
    let commission = ChartAccount::Revenue(Revenue::Commission);
    for account in [&clearing, &commission] {
        ledger
            .create_account(account.new_account(Currency::EUR).unwrap())
            .await
            .unwrap()
            .unwrap();
    }
    let line = Uuid::from_u128(order + 500);
    let mut metadata = Metadata::new();
    metadata.insert("kind".into(), "capture".into());
    metadata.insert("order_id".into(), Uuid::from_u128(order).to_string());
    metadata.insert("line_id".into(), line.to_string());
    let leg = |name: &str, to: &ChartAccount, minor| TransferRequest {
        id: capture_leg_id(line, name),
        kind: RequestKind::Direct {
            debit_account_id: clearing.id(Currency::EUR),
            credit_account_id: to.id(Currency::EUR),
            amount: eur(minor),
        },
        metadata: metadata.clone(),
    };
    ledger
        .submit(vec![
            leg("commission", &commission, fee_minor),
            leg("seller", &ChartAccount::SellerPending(seller), seller_minor),
        ])
        .await
        .unwrap()
        .unwrap();
    capture_leg_id(line, "seller")
}

/// Refunds part of a sale's seller share.
async fn refund(ledger: &PostgresLedger, seller_leg: TransferId, minor: i64) {
    let mut metadata = Metadata::new();
    metadata.insert("kind".into(), "refund".into());
    ledger
        .submit(vec![TransferRequest {
            id: TransferId::from_uuid(Uuid::new_v4()),
            kind: RequestKind::Reverse {
                original_id: seller_leg,
                amount: eur(minor),
            },
            metadata,
        }])
        .await
        .unwrap()
        .unwrap();
}

pub(super) async fn seller_id(server: &Server, token: &str) -> SellerId {
    let me = server
        .ok(Some(token), "{ me { partyId } }", json!({}))
        .await;
    SellerId::from_uuid(me["me"]["partyId"].as_str().unwrap().parse().unwrap())
}

fn minor(text: &str) -> i64 {
    text.parse().unwrap()
}

/// The amounts of the payout page's statement, in minor units.
async fn statement_amounts(browser: &Browser) -> Vec<i64> {
    browser
        .attrs("#statement tbody td.num", "data-minor")
        .await
        .iter()
        .map(|m| minor(m))
        .collect()
}

#[tokio::test]
async fn a_seller_reads_its_balances_opens_a_payout_and_downloads_what_it_paid_out() {
    let server = Server::start(&[]).await;
    let token = server
        .sign_up("ada@shop.test", "SELLER", "DE", Some("EUR"))
        .await;
    let seller = seller_id(&server, &token).await;
    let browser = Browser::start().await;
    let base = &server.base;

    // Signed out, the dashboard sends to the sign-in page; a wrong password is refused.
    browser.goto(&format!("{base}/dashboard")).await;
    assert_eq!(browser.path().await, "/sign-in");
    browser
        .sign_in(base, "ada@shop.test", "not the password")
        .await;
    assert!(browser.text("[role=alert]").await.contains("wrong"));
    browser.sign_in(base, "ada@shop.test", PASSWORD).await;
    assert_eq!(browser.text("h1").await, "Payouts for ada@shop.test");

    // Change the schedule to manual payouts.
    browser.goto(&format!("{base}/dashboard/settings")).await;
    assert!(browser.text("#schedule-now").await.contains("daily"));
    browser.select("#interval", "manual").await;
    browser
        .click("form[action='/dashboard/schedule'] button")
        .await;
    assert!(browser.text("#schedule-now").await.contains("manual"));

    // Add a bank account and verify it with the deposits the rail sent.
    browser.select("#rail", "sepa_credit").await;
    browser.select("#kind", "iban").await;
    browser.fill("#field-iban", IBAN).await;
    browser.fill("#holder", "Ada Seller").await;
    browser
        .click("form[action='/dashboard/bank-accounts'] button")
        .await;
    let row = browser.text("#bank-accounts tbody tr").await;
    assert!(row.contains("unverified") && !row.contains(IBAN), "{row}");
    let sent = SandboxRails::new(server.db().url(), 1)
        .micro_deposits(
            Rail::SepaCredit,
            BankDetails::Iban {
                iban: IBAN.to_owned(),
            },
            Timestamp::from_micros(0),
        )
        .await
        .unwrap();
    browser
        .fill("input[name=first]", &sent[0].minor().to_string())
        .await;
    browser
        .fill("input[name=second]", &sent[1].minor().to_string())
        .await;
    browser.click("form[action$='/verify'] button").await;
    assert!(
        browser
            .text("#bank-accounts tbody tr")
            .await
            .contains("verified")
    );
    browser.screenshot("settings").await;

    // Two sales and a refund, released after the hold.
    let ledger =
        PostgresLedger::connect(LedgerConfig::new(server.db().url()), Arc::new(SystemClock))
            .await
            .unwrap();
    let first = sale(&ledger, seller, 1, 9_000, 1_000).await;
    sale(&ledger, seller, 2, 4_500, 500).await;
    refund(&ledger, first, 2_000).await;
    let releases = Payouts::new(
        PostgresPayouts::new(
            server.db().url(),
            2,
            RetryPolicy::default(),
            SecretKey::generate(),
        ),
        SandboxRails::new(server.db().url(), 1),
        ledger.clone(),
    );
    let in_three_weeks = Timestamp::from_micros(
        bazaar_ledger::Clock::now(&SystemClock).as_micros() + 21 * 86_400_000_000,
    );
    releases.run(100, in_three_weeks).await.unwrap();

    // The dashboard's balances are the ledger's.
    browser.goto(&format!("{base}/dashboard")).await;
    let card = |slug: &str| format!("a[data-balance={slug}][data-currency=EUR] .amount");
    let available = ledger
        .account(ChartAccount::SellerAvailable(seller).id(Currency::EUR))
        .await
        .unwrap()
        .unwrap()
        .1;
    assert_eq!(
        minor(&browser.attr(&card("available"), "data-minor").await),
        11_500
    );
    assert_eq!(i128::from(11_500), available.available_credit());
    assert_eq!(browser.text(&card("available")).await, "115.00 EUR");
    assert_eq!(
        minor(&browser.attr(&card("pending"), "data-minor").await),
        0
    );
    browser
        .click("a[data-balance=available][data-currency=EUR]")
        .await;
    assert!(
        browser
            .page_text()
            .await
            .contains("Released after the hold period")
    );

    // Settled card funds may go instantly: the fee is shown before confirming.
    releases
        .record_settled_card_funds(
            vec![SettledCardFunds {
                payment: PaymentId::from_uuid(Uuid::from_u128(9)),
                seller,
                amount: eur(5_000),
            }],
            in_three_weeks,
        )
        .await
        .unwrap();
    browser.goto(&format!("{base}/dashboard")).await;
    browser.fill("#instant-amount", "20.00").await;
    browser
        .click("form[action='/dashboard/instant'] button")
        .await;
    assert_eq!(browser.text("#instant-fee").await, "0.20 EUR");
    assert_eq!(browser.text("#instant-total").await, "20.20 EUR");
    browser
        .click("form[action='/dashboard/instant/pay'] button")
        .await;
    assert_eq!(browser.text("h1").await, "Payout of 20.00 EUR");
    let instant = browser.path().await.rsplit('/').next().unwrap().to_owned();

    // Its page lists what it paid out: the sales, their fees, the refund, its own fee and
    // what stayed in the balance, adding up to it.
    let kinds = browser.attrs("#statement tbody tr", "data-kind").await;
    assert_eq!(
        kinds,
        [
            "brought_forward",
            "sale",
            "fee",
            "sale",
            "fee",
            "refund",
            "instant_fee",
            "carried_forward"
        ]
    );
    let amounts = statement_amounts(&browser).await;
    assert_eq!(
        amounts,
        [0, 10_000, -1_000, 5_000, -500, -2_000, -20, -9_480]
    );
    assert_eq!(amounts.iter().sum::<i64>(), 2_000);
    assert_eq!(
        minor(&browser.attr("#statement-total", "data-minor").await),
        2_000
    );
    browser.screenshot("payout").await;

    // A standard payout next pays out of the balance the instant one left.
    let created = server
        .ok(
            Some(&token),
            "mutation { createPayout(amount: \"90.00\", idempotencyKey: \"web-1\") { id } }",
            json!({}),
        )
        .await;
    let payout = created["createPayout"]["id"].as_str().unwrap().to_owned();
    browser.goto(&format!("{base}/dashboard")).await;
    browser.screenshot("dashboard").await;
    browser
        .click(&format!("tr[data-payout='{payout}'] a"))
        .await;
    assert_eq!(browser.text("h1").await, "Payout of 90.00 EUR");
    assert_eq!(statement_amounts(&browser).await, [9_480, -480]);
    browser
        .goto(&format!("{base}/dashboard/payouts/{instant}"))
        .await;

    // The CSV download adds up to the payout, in decimals with a currency column.
    browser.click_download("#csv").await;
    let (name, csv) = browser.downloaded().await;
    assert_eq!(name, format!("payout-{instant}.csv"));
    let mut rows = csv.split("\r\n").filter(|line| !line.is_empty());
    assert_eq!(
        rows.next().unwrap(),
        "posted_at,type,description,order_id,reference,transfer_id,fx_rate,amount,currency"
    );
    let mut total = eur(0);
    let mut count = 0;
    for row in rows {
        let fields: Vec<&str> = row.split(',').collect();
        assert_eq!(fields[8], "EUR");
        total = total
            .checked_add(Money::parse(fields[7], Currency::EUR).unwrap())
            .unwrap();
        count += 1;
    }
    assert_eq!((count, total), (8, eur(2_000)));
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn another_sellers_payout_is_not_found_and_a_form_without_its_token_is_refused() {
    let server = Server::start(&[]).await;
    let owner = server
        .sign_up("owner@shop.test", "SELLER", "DE", Some("EUR"))
        .await;
    server
        .sign_up("other@shop.test", "SELLER", "DE", Some("EUR"))
        .await;
    server
        .sign_up("buyer@buyer.test", "BUYER", "NL", None)
        .await;
    server
        .ok(
            Some(&owner),
            "mutation { setPayoutSchedule(interval: \"manual\") { interval } }",
            json!({}),
        )
        .await;
    let owner_id = seller_id(&server, &owner).await;
    let payout = bazaar_domain::payouts::PayoutId::for_key(owner_id, "anything");
    let browser = Browser::start().await;
    let base = &server.base;

    // A buyer has no payout pages.
    browser.sign_in(base, "buyer@buyer.test", PASSWORD).await;
    assert_eq!(browser.text("h1").await, "Not allowed");
    browser.client.delete_all_cookies().await.unwrap();

    // Another seller's payout, and nonsense, are not found.
    browser.sign_in(base, "other@shop.test", PASSWORD).await;
    browser
        .goto(&format!("{base}/dashboard/payouts/{payout}"))
        .await;
    assert_eq!(browser.text("h1").await, "Not found");
    browser
        .goto(&format!("{base}/dashboard/payouts/not-an-id"))
        .await;
    assert_eq!(browser.text("h1").await, "Not found");

    // The schedule form without its CSRF token is refused and changes nothing.
    browser.goto(&format!("{base}/dashboard/settings")).await;
    browser.select("#interval", "weekly:friday").await;
    browser
        .client
        .execute(
            "document.querySelector(\"form[action='/dashboard/schedule'] input[name=csrf]\").remove()",
            vec![],
        )
        .await
        .unwrap();
    browser
        .click("form[action='/dashboard/schedule'] button")
        .await;
    assert_eq!(browser.text("h1").await, "Not allowed");
    browser.goto(&format!("{base}/dashboard/settings")).await;
    assert!(browser.text("#schedule-now").await.contains("daily"));

    // With the token it goes through; signed out, the session no longer opens pages.
    browser.select("#interval", "weekly:friday").await;
    browser
        .click("form[action='/dashboard/schedule'] button")
        .await;
    assert!(
        browser
            .text("#schedule-now")
            .await
            .contains("weekly:friday")
    );
    browser.click("form.sign-out button").await;
    browser.goto(&format!("{base}/dashboard")).await;
    assert_eq!(browser.path().await, "/sign-in");
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn graphiql_loads_from_bazaars_own_files() {
    let server = Server::start(&[("BAZAAR_GRAPHIQL", "1")]).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/graphql", server.base)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let found = browser
            .client
            .find_all(fantoccini::Locator::Css(".graphiql-container"))
            .await
            .unwrap();
        if !found.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "GraphiQL did not load"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Every script and stylesheet came from this server.
    let sources = browser
        .client
        .execute(
            "return [...document.querySelectorAll('script[src], link[href]')].map(e => e.src || e.href)",
            vec![],
        )
        .await
        .unwrap();
    let sources = sources.as_array().unwrap();
    assert!(sources.len() >= 5, "{sources:?}");
    for source in sources {
        assert!(
            source.as_str().unwrap().starts_with(&server.base),
            "{source}"
        );
    }
    browser.client.clone().close().await.unwrap();
}
