// What a stranger could reach: the sandbox's controls exist only with the sandbox provider,
// its references give nothing away, production mode refuses local-only settings, and
// /metrics is guarded, typed for standard tooling and bounded in its labels.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};

use super::support::Server;
use serde_json::json;

const METRICS_TOKEN: &str = "metrics-token-for-the-production-test-0001";

/// A production configuration that keeps nothing meant only for local use.
fn production_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("BAZAAR_ENV", "production"),
        ("BAZAAR_PAYMENT_PROVIDER", "none"),
        (
            "BAZAAR_SANDBOX_HMAC_KEY",
            "a-notification-key-nobody-else-knows-0123456789",
        ),
        (
            "BAZAAR_SECRETS_KEY",
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        ),
        ("BAZAAR_GRAPHIQL", "0"),
        ("BAZAAR_METRICS_TOKEN", METRICS_TOKEN),
        ("BAZAAR_PAYOUT_RAILS", "none"),
        (
            "BAZAAR_AUDIT_SIGNING_KEY",
            "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100",
        ),
        ("BAZAAR_VAULT_URL", "http://127.0.0.1:9"),
        (
            "BAZAAR_VAULT_CHANNEL_KEY",
            "0101010101010101010101010101010101010101010101010101010101010101",
        ),
        (
            "BAZAAR_VAULT_API_SEED",
            "0202020202020202020202020202020202020202020202020202020202020202",
        ),
        (
            "BAZAAR_VAULT_PROVIDER_SEED",
            "0303030303030303030303030303030303030303030303030303030303030303",
        ),
        (
            "BAZAAR_VAULT_PUBLIC_KEY",
            // The Ed25519 public key of the seed 05 05 ... 05.
            "6e7a1cdd29b0b78fd13af4c5598feff4ef2a97166e3ca6f2e4fbfccd80505bf1",
        ),
    ]
}

/// Each variable production mode checks, and what each case sets it to (`None`: unset).
const REFUSED: &[(&str, Option<&str>)] = &[
    ("BAZAAR_PAYMENT_PROVIDER", None),
    ("BAZAAR_PAYMENT_PROVIDER", Some("sandbox")),
    ("BAZAAR_SANDBOX_HMAC_KEY", None),
    (
        "BAZAAR_SANDBOX_HMAC_KEY",
        Some("sandbox-local-notification-key"),
    ),
    ("BAZAAR_SANDBOX_HMAC_KEY", Some("short-key")),
    ("BAZAAR_VAULT_URL", None),
    ("BAZAAR_GRAPHIQL", None),
    ("BAZAAR_GRAPHIQL", Some("1")),
    ("BAZAAR_METRICS_TOKEN", None),
    ("BAZAAR_METRICS_TOKEN", Some("short")),
    ("BAZAAR_PAYOUT_RAILS", None),
    ("BAZAAR_PAYOUT_RAILS", Some("sandbox")),
    ("BAZAAR_AUDIT_SIGNING_KEY", None),
    ("BAZAAR_VAULT_CHANNEL_KEY", None),
    ("BAZAAR_VAULT_API_SEED", None),
    ("BAZAAR_VAULT_PROVIDER_SEED", None),
    ("BAZAAR_VAULT_PUBLIC_KEY", None),
];

#[test]
fn production_mode_refuses_each_local_only_setting() {
    let checked: BTreeSet<&str> = REFUSED.iter().map(|(name, _)| *name).collect();
    for (name, value) in REFUSED {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bazaar"));
        command
            .env_clear()
            // Never reached: the configuration is refused before the database is touched.
            .env("BAZAAR_DATABASE_URL", "postgres://postgres@127.0.0.1:9/unreachable")
            .env("BAZAAR_HTTP_ADDR", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        for (key, good) in production_env() {
            if key != *name {
                command.env(key, good);
            }
        }
        if let Some(value) = value {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}={value:?}: {stderr}");
        assert!(
            stderr.contains("production mode (BAZAAR_ENV=production) refuses to start"),
            "{name}={value:?}: {stderr}"
        );
        for other in &checked {
            assert_eq!(
                stderr.contains(other),
                other == name,
                "{name}={value:?} should name only {name}: {stderr}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_server_mounts_no_sandbox_and_guards_its_metrics() {
    let server = Server::start(&production_env()).await;
    for path in [
        "/sandbox/payments/0000000000000001/pay-qr",
        "/sandbox/payments/0000000000000001/approve-redirect",
        "/webhooks/payments/sandbox",
    ] {
        let response = server
            .client
            .post(format!("{}{path}", server.base))
            .body("[]")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 404, "{path}");
    }
    let graphiql = server
        .client
        .get(format!("{}/graphql", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(graphiql.status().as_u16(), 404);
    let methods = server
        .ok(
            None,
            r#"{ paymentMethods(country: "NL", currency: "EUR", amount: "25.00") { type } }"#,
            json!({}),
        )
        .await;
    assert_eq!(methods["paymentMethods"], json!([]));

    let metrics = format!("{}/metrics", server.base);
    let refused = server.client.get(&metrics).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let wrong = server
        .client
        .get(&metrics)
        .bearer_auth("metrics-token-for-the-production-test-0002")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let allowed = server
        .client
        .get(&metrics)
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status().as_u16(), 200);
    assert!(
        allowed
            .text()
            .await
            .unwrap()
            .contains("bazaar_graphql_requests_total")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_references_are_unpredictable_and_its_controls_only_exist_with_it() {
    let server = Server::start(&[]).await;
    let seller = server
        .sign_up("s@shop.test", "SELLER", "DE", Some("EUR"))
        .await;
    let buyer = server.sign_up("b@buyer.test", "BUYER", "NL", None).await;
    let product = server
        .ok(
            Some(&seller),
            r#"mutation { createProduct(idempotencyKey: "lamp", input: {title: "Desk lamp", description: "Warm light",
                 category: "home", kind: PHYSICAL, skus: [{code: "L1", title: "Lamp", stock: 9, prices: [{amount: "40.00", currency: "EUR"}]}]}) { skus { id } } }"#,
            json!({}),
        )
        .await;
    let sku = product["createProduct"]["skus"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut references = Vec::new();
    for n in 0..3 {
        let checkout = server
            .ok(
                Some(&buyer),
                r#"mutation($sku: ID!, $key: String!) { checkout(idempotencyKey: $key, input: {currency: "EUR", lines: [{skuId: $sku, quantity: 1}]}) { id } }"#,
                json!({"sku": sku, "key": format!("c-{n}")}),
            )
            .await;
        let paid = server
            .ok(
                Some(&buyer),
                r#"mutation($id: ID!) { pay(input: {checkoutId: $id, method: "scheme", returnUrl: "http://127.0.0.1/r",
                    card: {number: "4111 1111 1111 1111", expiryMonth: 12, expiryYear: 2099}}) { state pspReference } }"#,
                json!({"id": checkout["checkout"]["id"]}),
            )
            .await;
        assert_eq!(paid["pay"]["state"], "CAPTURED");
        references.push(paid["pay"]["pspReference"].as_str().unwrap().to_owned());
    }
    // 128 bits each; consecutive references share no step (a counter through an affine map
    // would repeat its step every time).
    let values: Vec<u128> = references
        .iter()
        .map(|r| {
            assert_eq!(r.len(), 32, "{r}");
            u128::from_str_radix(r, 16).unwrap()
        })
        .collect();
    assert_ne!(
        values[1].wrapping_sub(values[0]),
        values[2].wrapping_sub(values[1]),
        "{references:?}"
    );

    // The controls are mounted with the sandbox: a known reference in the wrong state is a
    // 400 from the sandbox, not a 404.
    let control = server
        .client
        .post(format!(
            "{}/sandbox/payments/{}/pay-qr",
            server.base, references[0]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(control.status().as_u16(), 400);

    // Without the sandbox (and outside production), they are gone.
    let off = Server::start(&[("BAZAAR_PAYMENT_PROVIDER", "none")]).await;
    let control = off
        .client
        .post(format!(
            "{}/sandbox/payments/{}/pay-qr",
            off.base, references[0]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(control.status().as_u16(), 404);
}

/// `# TYPE` of each metric family, and every sample line.
fn parse_metrics(text: &str) -> (BTreeMap<String, String>, Vec<String>) {
    let mut types = BTreeMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(declaration) = line.strip_prefix("# TYPE ") {
            let (name, kind) = declaration.split_once(' ').unwrap();
            types.insert(name.to_owned(), kind.to_owned());
        } else if !line.starts_with('#') && !line.is_empty() {
            samples.push(line.to_owned());
        }
    }
    (types, samples)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_typed_for_standard_tools_and_their_labels_are_bounded() {
    let server = Server::start(&[("BAZAAR_METRICS_OPERATIONS_MAX", "3")]).await;
    let long = "L".repeat(65);
    let mut names: Vec<String> = (0..12).map(|n| format!("Operation{n}")).collect();
    names.push(long.clone());
    for name in &names {
        let body = serde_json::to_vec(&json!({
            "query": format!("query {name} {{ __typename }}"),
            "operationName": name,
        }))
        .unwrap();
        let (status, _) = server.raw(None, body).await;
        assert_eq!(status, 200);
    }
    // A name that matches no operation, with characters a label should not carry.
    let body = serde_json::to_vec(&json!({"query": "{ __typename }", "operationName": "x\"y{z}"}))
        .unwrap();
    server.raw(None, body).await;

    let text = server
        .client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (types, samples) = parse_metrics(&text);
    for (name, kind) in [
        ("bazaar_graphql_requests_total", "counter"),
        ("bazaar_graphql_request_duration_seconds", "histogram"),
        ("bazaar_sql_statements_total", "counter"),
        ("bazaar_ledger_group_commits_total", "counter"),
        ("bazaar_ledger_batches_total", "counter"),
        ("bazaar_ledger_transfers_total", "counter"),
    ] {
        assert_eq!(
            types.get(name).map(String::as_str),
            Some(kind),
            "{name}: {text}"
        );
    }
    for (name, kind) in &types {
        if name.ends_with("_total") {
            assert_eq!(kind, "counter", "{name}");
        }
        if name.ends_with("_seconds") {
            assert_eq!(kind, "histogram", "{name}");
        }
    }
    let operations: BTreeSet<String> = samples
        .iter()
        .filter(|line| line.starts_with("bazaar_graphql_requests_total{"))
        .map(|line| {
            let start = line.find("operation=\"").unwrap() + "operation=\"".len();
            let end = start + line[start..].find('"').unwrap();
            line[start..end].to_owned()
        })
        .collect();
    let expected: BTreeSet<String> = ["Operation0", "Operation1", "Operation2", "other"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(operations, expected, "{text}");
    let other_ok = samples
        .iter()
        .find_map(|line| {
            line.strip_prefix("bazaar_graphql_requests_total{operation=\"other\",outcome=\"ok\"} ")
        })
        .unwrap();
    // Operation3..Operation11 and the 65-character name.
    assert_eq!(other_ok, "10");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_batches_are_counted_in_the_metrics() {
    let server = Server::start(&[]).await;
    // Each signed-in request reads its session through the store's batcher.
    let token = server
        .sign_up("metered@example.com", "BUYER", "DE", None)
        .await;
    for _ in 0..3 {
        server.ok(Some(&token), "{ me { email } }", json!({})).await;
    }
    let text = server.get("/metrics").await.text().await.unwrap();
    let (types, samples) = parse_metrics(&text);
    for name in [
        "bazaar_store_batches_total",
        "bazaar_store_batched_items_total",
    ] {
        assert_eq!(
            types.get(name).map(String::as_str),
            Some("counter"),
            "{text}"
        );
    }
    let sessions = |name: &str| {
        let prefix = format!("{name}{{batcher=\"sessions\"}} ");
        samples
            .iter()
            .find_map(|line| line.strip_prefix(&prefix)?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let batches = sessions("bazaar_store_batches_total");
    let items = sessions("bazaar_store_batched_items_total");
    assert!(batches >= 1 && items >= 3 && items >= batches, "{text}");
}
