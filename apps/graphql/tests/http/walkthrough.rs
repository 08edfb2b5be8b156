// The README's walkthrough over HTTP against the real server and database: browse in BRL,
// sign in, check out with Pix, pay at the sandbox, and see the seller's balance move.

use std::time::{Duration, Instant};

use super::support::Server;
use serde_json::json;

const SIGN_IN: &str = "mutation($email: String!, $password: String!) { signIn(email: $email, password: $password) { token user { role } } }";

async fn sign_in(server: &Server, email: &str) -> String {
    server
        .ok(
            None,
            SIGN_IN,
            json!({"email": email, "password": "bazaar-demo-password"}),
        )
        .await["signIn"]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walkthrough_works_over_http() {
    let server = Server::start(&[("BAZAAR_DEMO", "1")]).await;

    // GraphiQL is served in development.
    let page = server
        .client
        .get(format!("{}/graphql", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("graphiql")
    );

    // 1. Browse books, priced in Brazilian reais.
    let data = server
        .ok(
            None,
            r#"{ products(first: 5, currency: "BRL", filter: {category: "books"}) {
                   edges { node { id title price { amount currency } seller { name } skus { id available } } }
                   pageInfo { hasNextPage endCursor } } }"#,
            json!({}),
        )
        .await;
    let edges = data["products"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 5);
    assert_eq!(edges[0]["node"]["price"]["currency"], "BRL");
    assert_eq!(edges[0]["node"]["seller"]["name"], "Berlin Books");
    assert_eq!(data["products"]["pageInfo"]["hasNextPage"], true);
    let sku = edges[0]["node"]["skus"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let next = data["products"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let page2 = server
        .ok(None, r#"query($after: String) { products(first: 5, after: $after, filter: {category: "books"}) { edges { node { id } } } }"#, json!({"after": next}))
        .await;
    assert_ne!(
        page2["products"]["edges"][0]["node"]["id"],
        edges[0]["node"]["id"]
    );

    // 2. The seller's balance before.
    let seller = sign_in(&server, "berlin@demo.bazaar").await;
    let balance = |body: serde_json::Value| {
        body["sellerBalances"]["pending"]["amount"]
            .as_str()
            .unwrap()
            .parse::<rust_decimal::Decimal>()
            .unwrap()
    };
    let before = balance(
        server
            .ok(
                Some(&seller),
                "{ sellerBalances { pending { amount currency } } }",
                json!({}),
            )
            .await,
    );

    // 3. Sign in as a buyer in Brazil and check out.
    let buyer = sign_in(&server, "ana@demo.bazaar").await;
    let checkout = server
        .ok(
            Some(&buyer),
            r#"mutation($sku: ID!) { checkout(idempotencyKey: "walkthrough-1",
                   input: {currency: "BRL", lines: [{skuId: $sku, quantity: 1}]}) {
                 id state total { amount currency } orders { settlementCurrency fxRate fxSource } } }"#,
            json!({"sku": sku}),
        )
        .await;
    let checkout_id = checkout["checkout"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        checkout["checkout"]["orders"][0]["settlementCurrency"],
        "EUR"
    );
    assert_eq!(checkout["checkout"]["orders"][0]["fxSource"], "ecb");
    let total = checkout["checkout"]["total"]["amount"]
        .as_str()
        .unwrap()
        .to_owned();

    // 4. Pix is offered for that amount; pay with it.
    let methods = server
        .ok(None, r#"query($amount: String!) { paymentMethods(country: "BR", currency: "BRL", amount: $amount) { type } }"#, json!({"amount": total}))
        .await;
    assert!(
        methods["paymentMethods"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["type"] == "pix")
    );
    let payment = server
        .ok(
            Some(&buyer),
            r#"mutation($id: ID!) { pay(input: {checkoutId: $id, method: "pix", returnUrl: "http://127.0.0.1/return"}) {
                 state pspReference action { type qrData } } }"#,
            json!({"id": checkout_id}),
        )
        .await;
    assert_eq!(payment["pay"]["state"], "PENDING");
    assert_eq!(payment["pay"]["action"]["type"], "qr_code");
    let reference = payment["pay"]["pspReference"].as_str().unwrap();

    // 5. The buyer pays the QR code at the (sandbox) bank; the confirmation arrives later.
    let paid = server
        .client
        .post(format!(
            "{}/sandbox/payments/{reference}/pay-qr",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status().as_u16(), 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = server
            .ok(
                Some(&buyer),
                "query($id: ID!) { checkout(id: $id) { state payment { state } } }",
                json!({"id": checkout_id}),
            )
            .await;
        if state["checkout"]["state"] == "PAID" {
            assert_eq!(state["checkout"]["payment"]["state"], "CAPTURED");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the payment was never confirmed: {state}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let orders = server
        .ok(
            Some(&buyer),
            "{ myOrders(first: 10) { edges { node { state } } } }",
            json!({}),
        )
        .await;
    assert!(
        orders["myOrders"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["node"]["state"] == "PAID")
    );

    // 6. The seller's pending balance moved, and its ledger shows the sale with the rate.
    // The capture is posted to the ledger right after the payment is recorded (or by the
    // intents worker, when the ledger was busy), so the balance may follow a moment later.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let after = balance(
            server
                .ok(
                    Some(&seller),
                    "{ sellerBalances { pending { amount currency } } }",
                    json!({}),
                )
                .await,
        );
        if after > before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the capture never reached the ledger: {before} -> {after}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ledger = server
        .ok(Some(&seller), "{ sellerLedger(account: PENDING, first: 1) { edges { node { kind direction amount { amount } fxRate fxPair fxSource } } } }", json!({}))
        .await;
    let entry = &ledger["sellerLedger"]["edges"][0]["node"];
    assert_eq!(entry["kind"], "capture");
    assert_eq!(entry["direction"], "credit");
    assert_eq!(entry["fxPair"], "BRL/EUR");
    assert_eq!(entry["fxSource"], "ecb");

    // Metrics count the requests.
    assert!(
        server
            .metric("bazaar_graphql_requests_total{operation=\"anonymous\",outcome=\"ok\"}")
            .await
            > 5
    );
}
