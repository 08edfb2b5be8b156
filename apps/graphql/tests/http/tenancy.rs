// Every entry point refuses another tenant's data: buyers see only their own checkouts and
// orders, sellers only their own orders, balances and ledger, and each role only its own
// operations.

use super::support::Server;
use serde_json::json;

const CARD: &str = r#"mutation($id: ID!) { pay(input: {checkoutId: $id, method: "scheme", returnUrl: "http://127.0.0.1/r",
    card: {number: "4111 1111 1111 1111", expiryMonth: 12, expiryYear: 2099}}) { state } }"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tenant_reaches_another_tenants_data() {
    let server = Server::start(&[]).await;
    let seller_a = server
        .sign_up("a@shop.test", "SELLER", "DE", Some("EUR"))
        .await;
    let seller_b = server
        .sign_up("b@shop.test", "SELLER", "US", Some("USD"))
        .await;
    let buyer_x = server.sign_up("x@buyer.test", "BUYER", "NL", None).await;
    let buyer_y = server.sign_up("y@buyer.test", "BUYER", "NL", None).await;

    let (product_id, sku) = server
        .create_product(
            &seller_a,
            r#"mutation { createProduct(idempotencyKey: "lamp", input: {title: "Desk lamp", description: "Warm light",
                 category: "home", kind: PHYSICAL, skus: [{code: "L1", title: "Lamp", stock: 5, prices: [{amount: "40.00", currency: "EUR"}]}]}) { id } }"#,
        )
        .await;
    let checkout = server
        .ok(
            Some(&buyer_x),
            r#"mutation($sku: ID!) { checkout(idempotencyKey: "x-1", input: {currency: "EUR", lines: [{skuId: $sku, quantity: 1}]}) {
                 id orders { id lines { id tax { amount { amount } rate place liable scheme reason explanation } } } } }"#,
            json!({"sku": sku}),
        )
        .await;
    let checkout_id = checkout["checkout"]["id"].as_str().unwrap().to_owned();
    // A German seller below the EU threshold sells to a Dutch consumer: German VAT, which
    // the seller owes, and the rule that says so.
    let tax = &checkout["checkout"]["orders"][0]["lines"][0]["tax"];
    assert_eq!(tax["amount"]["amount"], "6.39");
    assert_eq!(tax["rate"], "19%");
    assert_eq!(tax["place"], "DE");
    assert_eq!(tax["liable"], "seller");
    assert_eq!(tax["scheme"], "domestic");
    assert_eq!(tax["reason"], "eu_below_threshold");
    assert!(tax["explanation"].as_str().unwrap().contains("Article 59c"));
    let order_id = checkout["checkout"]["orders"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let line_id = checkout["checkout"]["orders"][0]["lines"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let paid = server
        .ok(Some(&buyer_x), CARD, json!({"id": checkout_id}))
        .await;
    assert_eq!(paid["pay"]["state"], "CAPTURED");

    // The owners see their data.
    let seen = server
        .ok(
            Some(&buyer_x),
            "query($id: ID!) { order(id: $id) { id } checkout(id: $id) { id } }",
            json!({"id": order_id}),
        )
        .await;
    assert_eq!(seen["order"]["id"], order_id.as_str());
    let seen = server
        .ok(
            Some(&seller_a),
            "query($id: ID!) { order(id: $id) { id } }",
            json!({"id": order_id}),
        )
        .await;
    assert_eq!(seen["order"]["id"], order_id.as_str());
    let balances = server
        .ok(
            Some(&seller_a),
            "{ sellerBalances { pending { amount } } }",
            json!({}),
        )
        .await;
    // 40.00 includes Germany's 19% VAT (6.39): the German seller is below the EU threshold,
    // owes it and keeps it with its share; 10% commission on the 33.61 without VAT is 3.36.
    assert_eq!(balances["sellerBalances"]["pending"]["amount"], "36.64");

    // Another buyer: reads give nothing, writes are refused as if nothing were there.
    let other = server
        .ok(Some(&buyer_y), "query($o: ID!, $c: ID!) { order(id: $o) { id } checkout(id: $c) { id } myOrders { edges { node { id } } } }",
            json!({"o": order_id, "c": checkout_id}))
        .await;
    assert!(other["order"].is_null());
    assert!(other["checkout"].is_null());
    assert_eq!(other["myOrders"]["edges"].as_array().unwrap().len(), 0);
    assert_eq!(
        server
            .code(Some(&buyer_y), CARD, json!({"id": checkout_id}))
            .await,
        "not_found"
    );
    assert_eq!(
        server.code(Some(&buyer_y), "mutation($o: ID!, $p: ID!) { review(orderId: $o, productId: $p, rating: 5, body: \"!\") }",
            json!({"o": order_id, "p": product_id})).await,
        "not_found"
    );

    // Another seller: no order, no refund, no fulfilment, nothing in its books.
    let other = server
        .ok(Some(&seller_b), "query($o: ID!) { order(id: $o) { id } sellerOrders { edges { node { id } } } sellerBalances { pending { amount currency } }
              sellerLedger(account: PENDING) { edges { node { transferId } } } sellerProducts { edges { node { id } } } }",
            json!({"o": order_id}))
        .await;
    assert!(other["order"].is_null());
    assert_eq!(other["sellerOrders"]["edges"].as_array().unwrap().len(), 0);
    assert_eq!(other["sellerBalances"]["pending"]["amount"], "0.00");
    assert_eq!(other["sellerLedger"]["edges"].as_array().unwrap().len(), 0);
    assert_eq!(
        other["sellerProducts"]["edges"].as_array().unwrap().len(),
        0
    );
    assert_eq!(
        server.code(Some(&seller_b), "mutation($o: ID!, $l: ID!) { refundLine(orderId: $o, lineId: $l, amount: \"1.00\", idempotencyKey: \"r\") { id } }",
            json!({"o": order_id, "l": line_id})).await,
        "not_found"
    );
    for mutation in ["shipOrder", "confirmDelivery"] {
        assert_eq!(
            server
                .code(
                    Some(&seller_b),
                    &format!("mutation($o: ID!) {{ {mutation}(orderId: $o) {{ id }} }}"),
                    json!({"o": order_id})
                )
                .await,
            "not_found"
        );
    }

    // Roles: a buyer cannot use the back office, a seller cannot shop.
    for query in [
        "{ sellerBalances { pending { amount } } }",
        "{ sellerOrders { edges { node { id } } } }",
        "{ sellerLedger(account: AVAILABLE) { edges { node { transferId } } } }",
        "{ sellerProducts { edges { node { id } } } }",
    ] {
        assert_eq!(
            server.code(Some(&buyer_x), query, json!({})).await,
            "forbidden",
            "{query}"
        );
    }
    assert_eq!(
        server.code(Some(&buyer_x), "mutation($o: ID!, $l: ID!) { refundLine(orderId: $o, lineId: $l, amount: \"1.00\", idempotencyKey: \"r\") { id } }",
            json!({"o": order_id, "l": line_id})).await,
        "forbidden"
    );
    assert_eq!(
        server
            .code(
                Some(&buyer_x),
                "mutation($o: ID!) { shipOrder(orderId: $o) { id } }",
                json!({"o": order_id})
            )
            .await,
        "forbidden"
    );
    assert_eq!(
        server.code(Some(&buyer_x), r#"mutation { createProduct(idempotencyKey: "k", input: {title: "t", description: "d", category: "c", kind: DIGITAL,
             skus: [{code: "a", title: "a", prices: [{amount: "1.00", currency: "EUR"}]}]}) { id } }"#, json!({})).await,
        "forbidden"
    );
    assert_eq!(
        server
            .code(
                Some(&seller_a),
                "{ myOrders { edges { node { id } } } }",
                json!({})
            )
            .await,
        "forbidden"
    );
    assert_eq!(
        server
            .code(
                Some(&seller_a),
                "query($c: ID!) { checkout(id: $c) { id } }",
                json!({"c": checkout_id})
            )
            .await,
        "forbidden"
    );
    assert_eq!(
        server
            .code(Some(&seller_a), CARD, json!({"id": checkout_id}))
            .await,
        "forbidden"
    );

    // Signed out: every private entry point asks to sign in.
    for query in [
        "{ myOrders { edges { node { id } } } }",
        "{ sellerBalances { pending { amount } } }",
    ] {
        assert_eq!(server.code(None, query, json!({})).await, "unauthenticated");
    }
    assert_eq!(
        server.code(None, CARD, json!({"id": checkout_id})).await,
        "unauthenticated"
    );

    // The seller's own refund goes through; another attempt for more than is left does not.
    let refund = server
        .ok(Some(&seller_a), "mutation($o: ID!, $l: ID!) { refundLine(orderId: $o, lineId: $l, amount: \"10.00\", idempotencyKey: \"r1\") { state amount { amount } } }",
            json!({"o": order_id, "l": line_id}))
        .await;
    assert_eq!(refund["refundLine"]["state"], "requested");
    assert_eq!(
        server.code(Some(&seller_a), "mutation($o: ID!, $l: ID!) { refundLine(orderId: $o, lineId: $l, amount: \"30.01\", idempotencyKey: \"r2\") { id } }",
            json!({"o": order_id, "l": line_id})).await,
        "refund_exceeds_remaining"
    );
}
