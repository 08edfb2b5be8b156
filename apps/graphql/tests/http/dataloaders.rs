// A page of products with sellers, prices, SKUs and ratings costs the same number of SQL
// statements whether it holds 5 products or 50: sellers, SKUs and prices come through
// dataloaders, ratings with the listing. SKUs are costed as a list.

use super::support::Server;
use serde_json::json;

const PAGE: &str = "query($first: Int!) { products(first: $first, currency: \"EUR\") { edges { node { id title price { amount currency } seller { name country } rating reviewCount skus(first: 2) { id available price { amount } } } } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_products_costs_a_constant_number_of_queries() {
    // Workers off, so that only the requests below run SQL; the read cache off, so that every
    // request reads the database.
    let server = Server::start(&[("BAZAAR_WORKERS", "0"), ("BAZAAR_READ_CACHE_MS", "0")]).await;
    let mut sellers = Vec::new();
    for n in 0..5 {
        let currency = ["EUR", "USD", "GBP", "JPY", "BRL"][n];
        sellers.push(
            server
                .sign_up(&format!("s{n}@shop.test"), "SELLER", "DE", Some(currency))
                .await,
        );
    }
    for n in 0..60 {
        let seller = &sellers[n % 5];
        let price = if n % 5 == 3 { "1500" } else { "12.50" };
        let currency = ["EUR", "USD", "GBP", "JPY", "BRL"][n % 5];
        server
            .ok(
                Some(seller),
                "mutation($key: String!, $price: String!, $currency: String!) { createProduct(idempotencyKey: $key, input: {title: \"Thing\",
                   description: \"d\", category: \"things\", kind: PHYSICAL, skus: [{code: \"a\", title: \"a\", stock: 3,
                   prices: [{amount: $price, currency: $currency}]}, {code: \"b\", title: \"b\", stock: 3, prices: [{amount: $price, currency: $currency}]}]}) { id } }",
                json!({"key": format!("p{n}"), "price": price, "currency": currency}),
            )
            .await;
    }
    // The pool opens connections lazily, and opening one costs statements of its own (the
    // session's settings): two pages of 50 first, so that every connection a page reads on
    // concurrently is open before anything is counted.
    for _ in 0..2 {
        server.ok(None, PAGE, json!({"first": 50})).await;
    }
    // A page's cost is the fewest statements it took in three reads: the pool's probe of a
    // connection idle for over a second, or a connection opened under load, adds to a read
    // now and then, while a statement per product would add to every one.
    let metric = "bazaar_sql_statements_total";
    let mut costs = Vec::new();
    for first in [5, 50] {
        let mut fewest = u64::MAX;
        for _ in 0..3 {
            let before = server.metric(metric).await;
            let data = server.ok(None, PAGE, json!({"first": first})).await;
            let after = server.metric(metric).await;
            let edges = data["products"]["edges"].as_array().unwrap();
            assert_eq!(edges.len(), usize::try_from(first).unwrap());
            assert!(edges.iter().all(|e| e["node"]["seller"]["name"].is_string()
                && e["node"]["price"]["currency"] == "EUR"
                && e["node"]["skus"].as_array().unwrap().len() == 2
                && e["node"]["skus"][1]["available"] == 3));
            fewest = fewest.min(after - before);
        }
        costs.push(fewest);
    }
    assert_eq!(
        costs[0], costs[1],
        "5 and 50 products cost the same: {costs:?}"
    );
    assert!(
        costs[1] <= 5,
        "the listing is one read-only transaction (BEGIN with its plan setting, the search,
         COMMIT), the SKUs with their prices one statement, the sellers one; none per
         product: {costs:?}"
    );

    // A product may have 100 SKUs: a page of 100 products with all of them is a list of
    // lists, and costs like one.
    let value = server
        .gql(
            None,
            "{ products(first: 100) { edges { node { skus(first: 100) { id } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        value["errors"][0]["extensions"]["code"], "query_cost_exceeded",
        "{value}"
    );
}
