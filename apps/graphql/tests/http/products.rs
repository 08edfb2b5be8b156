// Products through the API: an idempotency key replayed with another product is refused,
// and every connection answers at its documented bounds (1 to 100), with `hasNextPage`
// right at a full page of 100.

use serde_json::{Value, json};

use super::support::Server;

const CREATE: &str = "mutation($key: String!, $title: String!, $price: String!) {
    createProduct(idempotencyKey: $key, input: {title: $title, description: \"d\", category: \"things\",
      kind: PHYSICAL, skus: [{code: \"a\", title: \"a\", stock: 3, prices: [{amount: $price, currency: \"EUR\"}]}]}) { id title } }";

async fn create(server: &Server, token: &str, key: &str, title: &str, price: &str) -> Value {
    server
        .gql(
            Some(token),
            CREATE,
            json!({"key": key, "title": title, "price": price}),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_key_replayed_with_another_product_is_refused() {
    let server = Server::start(&[("BAZAAR_WORKERS", "0")]).await;
    let shop = server
        .sign_up("shop@shop.test", "SELLER", "DE", Some("EUR"))
        .await;
    let other = server
        .sign_up("other@shop.test", "SELLER", "DE", Some("EUR"))
        .await;

    let first = create(&server, &shop, "lamp", "Desk lamp", "40.00").await;
    let id = first["data"]["createProduct"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The same request again is a retry: the same product.
    let retry = create(&server, &shop, "lamp", "Desk lamp", "40.00").await;
    assert_eq!(retry["data"]["createProduct"]["id"], id.as_str(), "{retry}");
    // Another title or another price under the same key is another request.
    for (title, price) in [("Floor lamp", "40.00"), ("Desk lamp", "41.00")] {
        let changed = create(&server, &shop, "lamp", title, price).await;
        assert_eq!(
            changed["errors"][0]["extensions"]["code"], "idempotency_key_reused",
            "{changed}"
        );
    }
    // The stored product is the first one.
    let stored = server
        .ok(
            None,
            "query($id: ID!) { product(id: $id) { title price { amount } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(stored["product"]["title"], "Desk lamp");
    assert_eq!(stored["product"]["price"]["amount"], "40.00");
    // Keys are each seller's own.
    let theirs = create(&server, &other, "lamp", "Floor lamp", "55.00").await;
    let their_id = theirs["data"]["createProduct"]["id"].as_str().unwrap();
    assert_ne!(their_id, id);
}

fn page_info(data: &Value, field: &str) -> (usize, bool, String) {
    let connection = &data[field];
    let edges = connection["edges"].as_array().unwrap();
    let cursor = edges
        .last()
        .map(|edge| edge["cursor"].as_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        edges.len(),
        connection["pageInfo"]["hasNextPage"].as_bool().unwrap(),
        cursor,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_answers_at_its_documented_bounds() {
    let server = Server::start(&[("BAZAAR_WORKERS", "0")]).await;
    let shop = server
        .sign_up("shop@shop.test", "SELLER", "DE", Some("EUR"))
        .await;
    let buyer = server.sign_up("buyer@shop.test", "BUYER", "DE", None).await;
    for n in 0..101 {
        let created = create(&server, &shop, &format!("p{n}"), "Thing", "9.99").await;
        assert!(created.get("errors").is_none(), "{created}");
    }

    // A full page of 100 says another follows; the next page holds the last product.
    for (field, query, token) in [
        (
            "products",
            "query($first: Int, $after: String) { products(first: $first, after: $after) {
                edges { cursor } pageInfo { hasNextPage } } }",
            None,
        ),
        (
            "sellerProducts",
            "query($first: Int, $after: String) { sellerProducts(first: $first, after: $after) {
                edges { cursor } pageInfo { hasNextPage } } }",
            Some(shop.as_str()),
        ),
    ] {
        let data = server.ok(token, query, json!({"first": 100})).await;
        let (count, has_next, cursor) = page_info(&data, field);
        assert_eq!((count, has_next), (100, true), "{field}");
        let data = server
            .ok(token, query, json!({"first": 100, "after": cursor}))
            .await;
        let (count, has_next, _) = page_info(&data, field);
        assert_eq!((count, has_next), (1, false), "{field}");
        let data = server.ok(token, query, json!({"first": 1})).await;
        assert_eq!(page_info(&data, field).0, 1, "{field} at first: 1");
    }

    // Every connection takes 1 to 100 and refuses 0 and 101 with the documented message.
    let product_id = {
        let data = server
            .ok(
                None,
                "{ products(first: 1) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        data["products"]["edges"][0]["node"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let endpoint = server
        .ok(
            Some(&shop),
            "mutation { createWebhookEndpoint(url: \"https://hooks.example.com/bazaar\", eventTypes: [\"order.*\"]) { endpoint { id } } }",
            json!({}),
        )
        .await["createWebhookEndpoint"]["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let connections: [(&str, Option<&str>); 8] = [
        (
            "query($first: Int) { products(first: $first) { edges { cursor } } }",
            None,
        ),
        (
            "query($first: Int) { sellerProducts(first: $first) { edges { cursor } } }",
            Some(&shop),
        ),
        (
            "query($first: Int) { myOrders(first: $first) { edges { cursor } } }",
            Some(&buyer),
        ),
        (
            "query($first: Int) { sellerOrders(first: $first) { edges { cursor } } }",
            Some(&shop),
        ),
        (
            "query($first: Int) { sellerLedger(account: PENDING, first: $first) { edges { cursor } } }",
            Some(&shop),
        ),
        (
            "query($first: Int, $id: ID!) { product(id: $id) { reviews(first: $first) { edges { cursor } } } }",
            None,
        ),
        (
            "query($first: Int, $id: ID!) { product(id: $id) { skus(first: $first) { id } } }",
            None,
        ),
        (
            "query($first: Int, $endpoint: ID!) { webhookDeliveries(endpointId: $endpoint, first: $first) { edges { cursor } } }",
            Some(&shop),
        ),
    ];
    for (query, token) in connections {
        for first in [1, 100] {
            let value = server
                .gql(
                    token,
                    query,
                    json!({"first": first, "id": product_id, "endpoint": endpoint}),
                )
                .await;
            assert!(
                value.get("errors").is_none(),
                "first: {first} {query}: {value}"
            );
        }
        for first in [0, 101] {
            let value = server
                .gql(
                    token,
                    query,
                    json!({"first": first, "id": product_id, "endpoint": endpoint}),
                )
                .await;
            assert_eq!(
                value["errors"][0]["extensions"]["code"], "invalid_input",
                "first: {first} {query}: {value}"
            );
            assert_eq!(
                value["errors"][0]["message"], "first must be between 1 and 100",
                "{value}"
            );
        }
    }
}
