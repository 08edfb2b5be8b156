// Lending over GraphQL against the real server: a seller with 200 sales in the ledger asks
// for its offer, accepts it once and finds the advance in its available balance; finance
// reads the portfolio; a seller without sales and a buyer are refused; a loan is repaid
// early in full, and one the balance cannot cover is refused; finance's loans page.

use std::sync::Arc;

use bazaar_domain::chart::{ChartAccount, SellerId};
use bazaar_domain::fx::calendar::Date;
use bazaar_domain::postings::{Leg, Posting, submit};
use bazaar_ledger::{Clock, Metadata, TransferId, TransferRequest};
use bazaar_money::{Currency, Money};
use bazaar_postgres::{LedgerConfig, PostgresLedger, SystemClock};
use serde_json::json;
use uuid::Uuid;

use super::browser::{sale, seller_id};
use super::browser_support::Browser;
use super::finance::{admin, stdout};
use super::support::{PASSWORD, Server};

/// Releases `minor` of the seller's pending funds to its available balance, as the payouts
/// run does.
async fn release(ledger: &PostgresLedger, seller: SellerId, minor: i64) {
    let leg = Leg {
        name: "available",
        debit: ChartAccount::SellerPending(seller),
        credit: ChartAccount::SellerAvailable(seller),
        amount: Money::from_minor(minor, Currency::EUR),
    };
    let mut metadata = Metadata::new();
    metadata.insert("kind".into(), "release".into());
    let mut posting = Posting::default();
    posting.add(
        &leg,
        TransferRequest {
            id: TransferId::from_uuid(Uuid::new_v5(&seller.as_uuid(), b"test release")),
            kind: leg.direct(),
            metadata,
        },
    );
    submit(ledger, posting).await.unwrap();
}

const OFFER: &str = "mutation { requestLoanOffer { id advance { amount } fee { amount } withholdRate minimum { amount } tier expiresOn accepted } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seller_with_sales_accepts_its_offer_once_and_finance_sees_the_loan() {
    // The ledger stamps sales with the real time, so the history the policy asks for is
    // set to none here; the offer's other rules apply as they are.
    let server = Server::start(&[("BAZAAR_LOAN_MIN_HISTORY_DAYS", "0")]).await;
    let seller = server
        .sign_up("lena@shop.test", "SELLER", "DE", Some("EUR"))
        .await;
    let newcomer = server
        .sign_up("new@shop.test", "SELLER", "DE", Some("EUR"))
        .await;
    let buyer = server.sign_up("bob@buyer.test", "BUYER", "DE", None).await;
    let id = seller_id(&server, &seller).await;
    // 200 sales of EUR 100.00 to the seller (and 10.00 of commission each).
    let ledger =
        PostgresLedger::connect(LedgerConfig::new(server.db().url()), Arc::new(SystemClock))
            .await
            .unwrap();
    for n in 0..200_u128 {
        sale(&ledger, id, 70_000 + n, 10_000, 1_000).await;
    }
    let today = Date::of_instant(SystemClock.now()).unwrap();

    let offer = server.ok(Some(&seller), OFFER, json!({})).await;
    let offer = &offer["requestLoanOffer"];
    // 200 x 100.00 = 20,000.00 in the last year: 15% is 3,000.00; no refunds: tier A, 10%.
    assert_eq!(offer["advance"]["amount"], "3000.00");
    assert_eq!(offer["fee"]["amount"], "300.00");
    assert_eq!(offer["tier"], "a");
    assert_eq!(offer["accepted"], false);
    let again = server.ok(Some(&seller), OFFER, json!({})).await;
    assert_eq!(again["requestLoanOffer"]["id"], offer["id"]);

    let accept = "mutation($id: ID!) { acceptLoanOffer(offerId: $id) { id state advance { amount } remaining { amount } dueOn } }";
    let loan = server
        .ok(Some(&seller), accept, json!({"id": offer["id"]}))
        .await;
    assert_eq!(loan["acceptLoanOffer"]["state"], "active");
    assert_eq!(loan["acceptLoanOffer"]["remaining"]["amount"], "3300.00");
    assert_eq!(
        loan["acceptLoanOffer"]["dueOn"],
        today.add_days(60).unwrap().to_string()
    );
    let twice = server
        .ok(Some(&seller), accept, json!({"id": offer["id"]}))
        .await;
    assert_eq!(
        twice["acceptLoanOffer"]["id"],
        loan["acceptLoanOffer"]["id"]
    );
    let balances = server
        .ok(
            Some(&seller),
            "{ sellerBalances { available { amount } } loans { state advance { amount } } }",
            json!({}),
        )
        .await;
    assert_eq!(balances["sellerBalances"]["available"]["amount"], "3000.00");
    assert_eq!(balances["loans"][0]["state"], "active");

    // No history, no offer; buyers have no loans; another seller cannot accept this offer.
    assert_eq!(
        server.code(Some(&newcomer), OFFER, json!({})).await,
        "loan_history_too_short"
    );
    assert_eq!(
        server.code(Some(&buyer), OFFER, json!({})).await,
        "forbidden"
    );
    assert_eq!(
        server
            .code(Some(&newcomer), accept, json!({"id": offer["id"]}))
            .await,
        "not_found"
    );

    // Finance: one open EUR loan, all of it current.
    stdout(&admin(
        &server,
        &["finance-user", "loans@bazaar.test"],
        Some(PASSWORD),
    ));
    let finance = server.sign_in("loans@bazaar.test", PASSWORD).await;
    let portfolio = server
        .ok(
            Some(&finance),
            "{ loanPortfolio { currency openLoans outstanding { amount } current { amount } feeIncome { amount } } }",
            json!({}),
        )
        .await;
    let line = &portfolio["loanPortfolio"][0];
    assert_eq!(line["currency"], "EUR");
    assert_eq!(line["openLoans"], 1);
    assert_eq!(line["outstanding"]["amount"], "3300.00");
    assert_eq!(line["current"]["amount"], "3300.00");
    assert_eq!(
        server
            .code(Some(&seller), "{ loanPortfolio { currency } }", json!({}))
            .await,
        "forbidden"
    );

    // In the browser: the loan with its repayment progress; no second offer while it runs.
    let browser = Browser::start().await;
    let base = &server.base;
    browser.sign_in(base, "lena@shop.test", PASSWORD).await;
    browser.goto(&format!("{base}/dashboard/loan")).await;
    let card = "section.loan[data-state='active']";
    assert_eq!(
        browser.text(&format!("{card} td.remaining")).await,
        "3,300.00 EUR"
    );
    assert_eq!(browser.text(&format!("{card} td.paid")).await, "0.00 EUR");
    assert_eq!(
        browser.attr(&format!("{card} svg"), "aria-label").await,
        "Repaid 0.00 EUR of 3,300.00 EUR"
    );
    browser.screenshot("loan").await;
    browser.click("#see-offer button").await;
    assert!(
        browser
            .text("[role=alert]")
            .await
            .contains("still being repaid")
    );

    // A seller's first offer, accepted in the browser.
    let other = server
        .sign_up("mia@shop.test", "SELLER", "DE", Some("EUR"))
        .await;
    let other_id = seller_id(&server, &other).await;
    for n in 0..200_u128 {
        sale(&ledger, other_id, 90_000 + n, 10_000, 1_000).await;
    }
    browser.goto(&format!("{base}/dashboard/loan")).await;
    browser.click(".sign-out button").await;
    browser.sign_in(base, "mia@shop.test", PASSWORD).await;
    browser.goto(&format!("{base}/dashboard/loan")).await;
    browser.click("#see-offer button").await;
    assert_eq!(browser.text("#offer-advance").await, "3,000.00 EUR");
    browser.click("#accept button").await;
    assert_eq!(browser.path().await, "/dashboard/loan");
    assert!(
        browser
            .text("section.loan[data-state='active'] td.remaining")
            .await
            .contains("3,300.00 EUR")
    );
    // Her balance (the advance, 3,000.00) does not cover the 3,300.00 owed.
    browser
        .click("section.loan[data-state='active'] form.repay button")
        .await;
    assert!(
        browser
            .text("[role=alert]")
            .await
            .contains("does not cover")
    );

    // Lena's earlier sales release 1,000.00: she repays everything early, with no penalty.
    release(&ledger, id, 100_000).await;
    let loan_id = loan["acceptLoanOffer"]["id"].clone();
    let repay = "mutation($id: ID!) { repayLoan(loanId: $id) { state paid { amount } remaining { amount } } }";
    let repaid = server
        .ok(Some(&seller), repay, json!({"id": loan_id}))
        .await;
    assert_eq!(repaid["repayLoan"]["state"], "paid_off");
    assert_eq!(repaid["repayLoan"]["paid"]["amount"], "3300.00");
    assert_eq!(repaid["repayLoan"]["remaining"]["amount"], "0.00");
    assert_eq!(
        server
            .code(Some(&seller), repay, json!({"id": loan_id}))
            .await,
        "loan_closed"
    );
    let after = server
        .ok(
            Some(&seller),
            "{ sellerBalances { available { amount } } }",
            json!({}),
        )
        .await;
    assert_eq!(after["sellerBalances"]["available"]["amount"], "700.00");

    // Finance's loans page: Mia's loan open and current, Lena's fee earned.
    browser.goto(&format!("{base}/dashboard/loan")).await;
    browser.click(".sign-out button").await;
    browser.sign_in(base, "loans@bazaar.test", PASSWORD).await;
    browser.goto(&format!("{base}/finance/loans")).await;
    let eur = "section.portfolio[data-currency='EUR']";
    assert_eq!(browser.text(&format!("{eur} td.open")).await, "1");
    assert_eq!(
        browser.text(&format!("{eur} td.outstanding")).await,
        "3,300.00 EUR"
    );
    assert_eq!(
        browser.text(&format!("{eur} td.current")).await,
        "3,300.00 EUR"
    );
    assert_eq!(
        browser.text(&format!("{eur} td.fee-income")).await,
        "300.00 EUR"
    );
    browser.screenshot("finance-loans").await;
}
