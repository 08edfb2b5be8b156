// A battery of bad requests: each gets a clear GraphQL error with a stable code, never a
// 500 and never a crash.

use super::support::Server;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors() {
    let server = Server::start(&[]).await;
    let buyer = server.sign_up("x@buyer.test", "BUYER", "BR", None).await;

    // Not JSON, not GraphQL, wrong shapes.
    for body in [&b"not json"[..], b"{\"query\": 5}", b"[1,2", b""] {
        let (status, value) = server.raw(None, body.to_vec()).await;
        assert_eq!(status, 400, "{value}");
        assert_eq!(value["errors"][0]["extensions"]["code"], "bad_request");
    }
    let cases = [
        ("{ products { edges { node { id } }", "parse"),
        ("{ nope }", "unknown field"),
        (
            "{ products(first: \"ten\") { edges { node { id } } } }",
            "wrong type",
        ),
        ("{ product(id: 5) { id } }", "wrong type"),
        (
            "query { products { edges { node { seller { name } } } } } query { me { email } }",
            "two operations",
        ),
    ];
    for (query, why) in cases {
        let value = server.gql(None, query, json!({})).await;
        assert!(
            value["errors"][0]["message"].as_str().is_some(),
            "{why}: {value}"
        );
        assert!(
            value["data"].is_null() || value.get("data").is_none(),
            "{why}: {value}"
        );
    }

    // Limits: depth, cost, page size, body size.
    // Introspection is exempt from the depth limit (tests/http/introspection.rs), so the
    // deep query is a plain one; it is refused before its fields are even looked up.
    let too_deep = format!(
        "{{ products {{ edges {{ node {{ seller {{ {} name {} }} }} }} }} }}",
        "more { ".repeat(8),
        "} ".repeat(8)
    );
    // Sent three times: the third is run on the parse kept from the second, and the limits
    // still hold for it.
    for _ in 0..3 {
        let value = server.gql(None, &too_deep, json!({})).await;
        assert_eq!(
            value["errors"][0]["extensions"]["code"], "query_too_deep",
            "{value}"
        );
    }
    let value = server.gql(None, &too_deep, json!({})).await;
    assert!(
        value["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("nested"),
        "{value}"
    );
    let costly = "{ products(first: 100) { edges { node { title reviews(first: 100) { edges { node { body } } } } } } }";
    for _ in 0..3 {
        let value = server.gql(None, costly, json!({})).await;
        assert_eq!(
            value["errors"][0]["extensions"]["code"], "query_cost_exceeded",
            "{value}"
        );
        assert!(
            value["extensions"]["cost"]["requested"].as_i64().unwrap()
                > value["extensions"]["cost"]["limit"].as_i64().unwrap()
        );
    }
    assert_eq!(
        server
            .code(
                None,
                "{ products(first: 1000) { edges { node { id } } } }",
                json!({})
            )
            .await,
        "invalid_input"
    );
    assert_eq!(
        server
            .code(
                None,
                "{ products(first: 0) { edges { node { id } } } }",
                json!({})
            )
            .await,
        "invalid_input"
    );
    let huge = format!(
        "{{\"query\": \"{{ me {{ email }} }}\", \"variables\": {{\"pad\": \"{}\"}}}}",
        "x".repeat(200_000)
    );
    let (status, value) = server.raw(None, huge.into_bytes()).await;
    assert_eq!(status, 413);
    assert_eq!(value["errors"][0]["extensions"]["code"], "body_too_large");

    // Cursors, ids, tokens.
    for cursor in ["garbage", "aWQ6bm90LWEtdXVpZA", "dDp4Onk", &"A".repeat(500)] {
        assert_eq!(
            server
                .code(
                    None,
                    "query($c: String) { products(after: $c) { edges { node { id } } } }",
                    json!({"c": cursor})
                )
                .await,
            "invalid_cursor",
            "{cursor}"
        );
    }
    assert_eq!(
        server
            .code(None, "{ product(id: \"not-a-uuid\") { id } }", json!({}))
            .await,
        "invalid_input"
    );
    for token in ["expired-or-made-up-token", "x"] {
        let body = serde_json::to_vec(&json!({"query": "{ me { email } }"})).unwrap();
        let (status, value) = server.raw(Some(token), body).await;
        assert_eq!(status, 401);
        assert_eq!(value["errors"][0]["extensions"]["code"], "unauthenticated");
    }
    let body = serde_json::to_vec(&json!({"query": "{ me { email } }"})).unwrap();
    let response = server
        .client
        .post(format!("{}/graphql", server.base))
        .header("content-type", "application/json")
        .header("authorization", "Basic abc")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);

    // Domain input.
    assert_eq!(
        server
            .code(
                None,
                "{ products(currency: \"XYZ\") { edges { node { id } } } }",
                json!({})
            )
            .await,
        "currency_unknown"
    );
    assert_eq!(server.code(None, "{ paymentMethods(country: \"JP\", currency: \"JPY\", amount: \"100.5\") { type } }", json!({})).await, "amount_too_many_decimals");
    assert_eq!(server.code(None, "{ paymentMethods(country: \"Japan\", currency: \"JPY\", amount: \"100\") { type } }", json!({})).await, "invalid_input");
    assert_eq!(
        server
            .code(
                None,
                "{ exchangeRate(from: \"EUR\", to: \"XAU\") { mid } }",
                json!({})
            )
            .await,
        "currency_unsupported"
    );
    let checkout = "mutation($q: Int!, $sku: ID!) { checkout(idempotencyKey: \"k1\", input: {currency: \"BRL\", lines: [{skuId: $sku, quantity: $q}]}) { id } }";
    let unknown = "00000000-0000-0000-0000-000000000001";
    assert_eq!(
        server
            .code(Some(&buyer), checkout, json!({"q": 0, "sku": unknown}))
            .await,
        "invalid_input"
    );
    assert_eq!(
        server
            .code(Some(&buyer), checkout, json!({"q": -3, "sku": unknown}))
            .await,
        "invalid_input"
    );
    assert_eq!(
        server
            .code(Some(&buyer), checkout, json!({"q": 1, "sku": unknown}))
            .await,
        "sku_unknown"
    );
    assert_eq!(
        server.code(None, "mutation { signUp(input: {email: \"nope\", password: \"long enough secret\", name: \"n\", country: \"BR\", role: BUYER}) { email } }", json!({})).await,
        "email_invalid"
    );
    assert_eq!(
        server.code(None, "mutation { signUp(input: {email: \"a@b.test\", password: \"short\", name: \"n\", country: \"BR\", role: BUYER}) { email } }", json!({})).await,
        "password_weak"
    );
    assert_eq!(
        server.code(None, "mutation { signIn(email: \"x@buyer.test\", password: \"wrong password!\") { token } }", json!({})).await,
        "credentials_invalid"
    );

    // The server is still healthy after all of that.
    let health = server
        .client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}
