// The read cache and persisted queries: an anonymous query's answer is shared while it is
// kept, a change shows once the cache's lifetime has passed, signed-in requests and mutations
// never pass through it, and a persisted query runs over GET with its ETag honoured.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::support::Server;

const LISTING: &str = "{ products(first: 50, filter: {category: \"things\"}) { edges { node { title price { amount } skus { available } } } } }";

fn product(title: &str, price: &str) -> String {
    format!(
        "mutation {{ createProduct(idempotencyKey: \"{title}\", input: {{title: \"{title}\", description: \"d\",
          category: \"things\", kind: PHYSICAL, skus: [{{code: \"a\", title: \"a\", stock: 3,
          prices: [{{amount: \"{price}\", currency: \"EUR\"}}]}}]}}) {{ id }} }}"
    )
}

fn titles(data: &Value) -> Vec<String> {
    data["products"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["title"].as_str().unwrap().to_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_answer_is_shared_and_a_change_shows_within_its_lifetime() {
    let server = Server::start(&[("BAZAAR_WORKERS", "0"), ("BAZAAR_READ_CACHE_MS", "700")]).await;
    let seller = server
        .sign_up("shop@cache.test", "SELLER", "DE", Some("EUR"))
        .await;
    server
        .create_product(&seller, &product("Lamp", "40.00"))
        .await;

    let first = server.ok(None, LISTING, json!({})).await;
    assert_eq!(titles(&first), ["Lamp"]);
    let hits = server
        .metric("bazaar_read_cache_requests_total{result=\"hit\"}")
        .await;
    // A new product while the answer is kept; the same request straight away is answered
    // from memory, and a signed-in request sees the change at once.
    server
        .create_product(&seller, &product("Chair", "90.00"))
        .await;
    let changed_at = Instant::now();
    let again = server.ok(None, LISTING, json!({})).await;
    if changed_at.elapsed() < Duration::from_millis(600) {
        assert_eq!(again, first, "the kept answer is served");
        assert_eq!(
            server
                .metric("bazaar_read_cache_requests_total{result=\"hit\"}")
                .await,
            hits + 1
        );
    }
    let signed_in = server.ok(Some(&seller), LISTING, json!({})).await;
    assert_eq!(titles(&signed_in), ["Chair", "Lamp"]);
    // Once the lifetime has passed since the change committed, every answer has it.
    tokio::time::sleep(Duration::from_millis(700).saturating_sub(changed_at.elapsed())).await;
    let later = server.ok(None, LISTING, json!({})).await;
    assert_eq!(titles(&later), ["Chair", "Lamp"]);

    // Stock too: a checkout reserves a unit and the listing shows it within the lifetime.
    let buyer = server
        .sign_up("buyer@cache.test", "BUYER", "DE", None)
        .await;
    let sku = server
        .ok(None, "{ products(first: 1, filter: {category: \"things\"}) { edges { node { skus { id } } } } }", json!({}))
        .await["products"]["edges"][0]["node"]["skus"][0]["id"]
        .clone();
    reserve_two(&server, &buyer, &sku).await;
    let reserved_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(700).saturating_sub(reserved_at.elapsed())).await;
    let stock = server.ok(None, LISTING, json!({})).await;
    assert_eq!(
        stock["products"]["edges"][0]["node"]["skus"][0]["available"], 1,
        "{stock}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persisted_queries_run_over_get_with_etags_and_mutations_do_not() {
    let server = Server::start(&[("BAZAAR_WORKERS", "0")]).await;
    let query = "{ currencies { code } }";
    let hash = hex::encode(Sha256::digest(query.as_bytes()));
    let extensions = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}}).to_string();
    let path = format!("/graphql?extensions={}", url_encode(&extensions));

    // Unknown at first: the client is told to send the text.
    let unknown: Value = server.get(&path).await.json().await.unwrap();
    assert_eq!(
        unknown["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    let (_, mismatch) = persist(&server, "{ currencies { decimals } }", &hash).await;
    assert_eq!(
        mismatch["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_HASH_MISMATCH"
    );
    // The text with its hash registers it; the hash alone then runs it over GET.
    let (status, registered) = persist(&server, query, &hash).await;
    assert_eq!(status, 200);
    let response = server.get(&path).await;
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=0, must-revalidate"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"], registered["data"]);
    assert!(
        body["data"]["currencies"].as_array().unwrap().len() > 1,
        "{body}"
    );
    // A client holding the answer revalidates it: 304 while it has not changed.
    let revalidated = reqwest::Client::new()
        .get(format!("{}{path}", server.base))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
    assert_eq!(revalidated.headers()["etag"].to_str().unwrap(), etag);
    let stale = reqwest::Client::new()
        .get(format!("{}{path}", server.base))
        .header("if-none-match", "\"0123\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);

    // GET never runs a mutation, whatever the cache says.
    let mutation = server
        .get(&format!(
            "/graphql?query={}",
            url_encode("mutation { signOut }")
        ))
        .await;
    assert_eq!(mutation.status(), 405);
    // Signed-in answers are private and never kept.
    let seller = server
        .sign_up("shop@etag.test", "SELLER", "DE", Some("EUR"))
        .await;
    let private = reqwest::Client::new()
        .post(format!("{}/graphql", server.base))
        .bearer_auth(&seller)
        .json(&json!({"query": query}))
        .send()
        .await
        .unwrap();
    assert_eq!(private.headers()["cache-control"], "private, no-store");
    assert!(private.headers().get("etag").is_none());
}

/// Checks out two units of `sku` as `buyer`, which reserves them.
async fn reserve_two(server: &Server, buyer: &str, sku: &impl serde::Serialize) {
    server
        .ok(
            Some(buyer),
            "mutation($sku: ID!) { checkout(idempotencyKey: \"two\", input: {currency: \"EUR\", lines: [{skuId: $sku, quantity: 2}]}) { id } }",
            json!({"sku": sku}),
        )
        .await;
}

/// POSTs `text` with its persisted-query hash `hash`.
async fn persist(server: &Server, text: &str, hash: &str) -> (u16, Value) {
    let body = json!({"query": text,
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": hash}}});
    server.raw(None, serde_json::to_vec(&body).unwrap()).await
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_page_is_kept_until_its_product_changes() {
    let server = Server::start(&[("BAZAAR_WORKERS", "0"), ("BAZAAR_READ_CACHE_MS", "200")]).await;
    let seller = server
        .sign_up("shop@pages.test", "SELLER", "DE", Some("EUR"))
        .await;
    let (product_id, sku) = server
        .create_product(&seller, &product("Lamp", "40.00"))
        .await;
    let page =
        "query($id: ID!) { product(id: $id, currency: \"EUR\") { title skus { available } } }";
    let variables = json!({"id": product_id});
    let available = |data: &Value| data["product"]["skus"][0]["available"].as_i64();
    let hit = "bazaar_read_cache_requests_total{result=\"hit\"}";

    // An answer that began before the feed showed the product's creation is dropped once it
    // does; one that begins after is kept.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let first = server.ok(None, page, variables.clone()).await;
    assert_eq!(available(&first), Some(3));
    // Well past the short lifetime, nothing changed: answered from memory.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let hits = server.metric(hit).await;
    assert_eq!(server.ok(None, page, variables.clone()).await, first);
    assert_eq!(server.metric(hit).await, hits + 1);

    // A checkout reserves two units: the page shows it within a second of the commit.
    let buyer = server
        .sign_up("buyer@pages.test", "BUYER", "DE", None)
        .await;
    reserve_two(&server, &buyer, &sku).await;
    let reserved_at = Instant::now();
    loop {
        let asked_after = reserved_at.elapsed();
        let now = server.ok(None, page, variables.clone()).await;
        if available(&now) == Some(1) {
            break;
        }
        assert_eq!(available(&now), Some(3), "{now}");
        assert!(
            asked_after < Duration::from_secs(1),
            "the reservation still did not show {asked_after:?} after its commit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The new page is kept in turn.
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.ok(None, page, variables.clone()).await;
    let hits = server.metric(hit).await;
    let kept = server.ok(None, page, variables).await;
    assert_eq!(available(&kept), Some(1));
    assert_eq!(server.metric(hit).await, hits + 1);
}
