// Webhook endpoints through the API: secrets shown once and stored only sealed, URL and
// pattern rules, rotation, enabling, deliveries and replay, event counts, and tenancy.

use std::time::Duration;

use bazaar_domain::chart::SellerId;
use bazaar_domain::events::{ActivityStore, Applied, EventEnvelope, EventId};
use bazaar_domain::webhooks::WebhookStore;
use bazaar_ledger::Clock;
use bazaar_postgres::{PostgresEvents, RetryPolicy, SecretKey, SystemClock};
use diesel::sql_types::{BigInt, Bytea, Uuid as SqlUuid};
use diesel::{QueryableByName, RunQueryDsl};
use serde_json::{Value, json};
use uuid::Uuid;

use super::support::Server;

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const URL: &str = "https://hooks.example.com/bazaar";

const ENDPOINT_FIELDS: &str = "id url eventTypes enabled disabledReason consecutiveFailures \
     previousSecretExpiresAt createdAt";

const CREATE: &str = "mutation($url: String!, $types: [String!]!) {
    createWebhookEndpoint(url: $url, eventTypes: $types) { secret endpoint {
        id url eventTypes enabled disabledReason consecutiveFailures previousSecretExpiresAt createdAt } } }";
const ROTATE: &str =
    "mutation($id: ID!, $hours: Int) { rotateWebhookSecret(id: $id, overlapHours: $hours) {
    secret endpoint { id previousSecretExpiresAt } } }";
const ENABLE: &str =
    "mutation($id: ID!, $on: Boolean!) { setWebhookEndpointEnabled(id: $id, enabled: $on) {
    id enabled disabledReason } }";
const REPLAY: &str = "mutation($id: ID!) { replayWebhookDelivery(id: $id) { id eventType state attempts { attempt } } }";
const DELIVERIES: &str = "query($id: ID!) { webhookDeliveries(endpointId: $id) {
    edges { cursor node { id eventId eventType state nextAttemptAt createdAt
        attempts { attempt startedAt statusCode latencyMs outcome error nextAttemptAt } } }
    pageInfo { hasNextPage } } }";

#[derive(QueryableByName)]
struct Sealed {
    #[diesel(sql_type = Bytea)]
    secret_sealed: Vec<u8>,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The sealed secret of `endpoint` holds neither the secret's text nor its 32 bytes.
fn assert_sealed(server: &Server, endpoint: &str, secret: &str) {
    let mut conn = server.db().connect().unwrap();
    let rows: Vec<Sealed> =
        diesel::sql_query("SELECT secret_sealed FROM webhook_endpoints WHERE id = $1")
            .bind::<SqlUuid, _>(Uuid::parse_str(endpoint).unwrap())
            .load(&mut conn)
            .unwrap();
    assert_eq!(rows.len(), 1);
    let sealed = &rows[0].secret_sealed;
    let raw = hex::decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    assert!(!contains(sealed, secret.as_bytes()));
    assert!(!contains(sealed, &raw));
}

async fn create(server: &Server, token: &str, url: &str, types: &[&str]) -> Value {
    server
        .ok(Some(token), CREATE, json!({"url": url, "types": types}))
        .await["createWebhookEndpoint"]
        .clone()
}

async fn create_code(server: &Server, token: Option<&str>, url: &str, types: &[&str]) -> String {
    server
        .code(token, CREATE, json!({"url": url, "types": types}))
        .await
}

async fn party_id(server: &Server, token: &str) -> Uuid {
    let me = server
        .ok(Some(token), "{ me { partyId } }", json!({}))
        .await;
    Uuid::parse_str(me["me"]["partyId"].as_str().unwrap()).unwrap()
}

/// Writes an `order.paid` event of `seller` to the outbox and runs it through the webhook
/// and activity consumers, as the workers would.
async fn deliver_event(server: &Server, seller: Uuid) {
    let now = SystemClock.now();
    let event = EventEnvelope {
        id: EventId::from_uuid(Uuid::new_v4()),
        event_type: "order.paid".to_owned(),
        version: 1,
        resource_type: "order".to_owned(),
        resource_id: bazaar_domain::events::ResourceId::from_uuid(Uuid::new_v4()),
        seller_id: Some(SellerId::from_uuid(seller)),
        payload: "{}".to_owned(),
        occurred_at: now,
    };
    let mut conn = server.db().connect().unwrap();
    diesel::sql_query(
        "INSERT INTO outbox_events (id, event_type, version, resource_type, resource_id, seller_id, \
                                    payload, occurred_at, sent_at) \
         VALUES ($1, 'order.paid', 1, 'order', $2, $3, '{}', $4, $4)",
    )
    .bind::<SqlUuid, _>(event.id.as_uuid())
    .bind::<SqlUuid, _>(event.resource_id.as_uuid())
    .bind::<SqlUuid, _>(seller)
    .bind::<BigInt, _>(now.as_micros())
    .execute(&mut conn)
    .unwrap();
    let events = PostgresEvents::new(
        server.db().url(),
        1,
        RetryPolicy::default(),
        SecretKey::from_hex(KEY).unwrap(),
    );
    let events_in = std::slice::from_ref(&event);
    let jobs = events
        .fan_out("webhooks", events_in, Duration::from_secs(600), now)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].as_ref().map(Vec::len), Some(1));
    let counted = events
        .count_events("activity", events_in, now)
        .await
        .unwrap();
    assert_eq!(counted, vec![Ok(Applied::Now)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sellers_manage_their_own_webhook_endpoints() {
    let server = Server::start(&[("BAZAAR_SECRETS_KEY", KEY)]).await;
    let seller_a = server
        .sign_up("a@shop.test", "SELLER", "DE", Some("EUR"))
        .await;
    let seller_b = server
        .sign_up("b@shop.test", "SELLER", "US", Some("USD"))
        .await;
    let buyer = server.sign_up("x@buyer.test", "BUYER", "NL", None).await;

    // Created: the secret is shown once, and the endpoint as configured.
    let created = create(&server, &seller_a, URL, &["order.*", "refund.succeeded"]).await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(secret.len(), 70);
    let endpoint = &created["endpoint"];
    let id = endpoint["id"].as_str().unwrap().to_owned();
    assert_eq!(endpoint["url"], URL);
    assert_eq!(
        endpoint["eventTypes"],
        json!(["order.*", "refund.succeeded"])
    );
    assert_eq!(endpoint["enabled"], true);
    assert_eq!(endpoint["disabledReason"], Value::Null);
    assert_eq!(endpoint["consecutiveFailures"], 0);
    assert_eq!(endpoint["previousSecretExpiresAt"], Value::Null);
    assert!(endpoint["createdAt"].as_str().unwrap().ends_with('Z'));

    // Listed without the secret; stored only sealed.
    let listed = server
        .ok(
            Some(&seller_a),
            &format!("{{ webhookEndpoints {{ {ENDPOINT_FIELDS} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(listed["webhookEndpoints"], json!([endpoint]));
    assert!(!listed.to_string().contains(&secret));
    assert!(!listed.to_string().contains("whsec_"));
    assert_sealed(&server, &id, &secret);

    // URL and pattern rules.
    for url in ["http://hooks.example.com/bazaar", "http://127.0.0.1:9/hook"] {
        assert_eq!(
            create_code(&server, Some(&seller_a), url, &["*"]).await,
            "insecure_url"
        );
    }
    assert_eq!(
        create_code(&server, Some(&seller_a), "https://127.0.0.1/hook", &["*"]).await,
        "disallowed_host"
    );
    for types in [&["orders.*"][..], &["order.Paid"], &["order"]] {
        assert_eq!(
            create_code(&server, Some(&seller_a), URL, types).await,
            "invalid_event_pattern"
        );
    }
    assert_eq!(
        create_code(&server, Some(&seller_a), URL, &[]).await,
        "no_event_patterns"
    );

    // Another seller neither sees nor changes the endpoint.
    let theirs = server
        .ok(Some(&seller_b), "{ webhookEndpoints { id } }", json!({}))
        .await;
    assert_eq!(theirs["webhookEndpoints"], json!([]));
    for (query, variables) in [
        (ROTATE, json!({"id": id, "hours": 24})),
        (ENABLE, json!({"id": id, "on": false})),
        (DELIVERIES, json!({"id": id})),
    ] {
        assert_eq!(
            server.code(Some(&seller_b), query, variables).await,
            "not_found"
        );
    }

    // A fresh endpoint has no deliveries.
    let page = server
        .ok(Some(&seller_a), DELIVERIES, json!({"id": id}))
        .await;
    assert_eq!(page["webhookDeliveries"]["edges"], json!([]));
    assert_eq!(page["webhookDeliveries"]["pageInfo"]["hasNextPage"], false);

    // Rotation: a new secret; the old one signs on until previousSecretExpiresAt.
    let rotated = server
        .ok(Some(&seller_a), ROTATE, json!({"id": id, "hours": 24}))
        .await["rotateWebhookSecret"]
        .clone();
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert!(new_secret.starts_with("whsec_"));
    assert_ne!(new_secret, secret);
    assert_eq!(rotated["endpoint"]["id"], id.as_str());
    let expires = rotated["endpoint"]["previousSecretExpiresAt"]
        .as_str()
        .unwrap();
    assert!(expires > endpoint["createdAt"].as_str().unwrap());
    assert_sealed(&server, &id, &new_secret);
    for hours in [169, -1] {
        assert_eq!(
            server
                .code(Some(&seller_a), ROTATE, json!({"id": id, "hours": hours}))
                .await,
            "invalid_input"
        );
    }
    // The default overlap is 24 hours.
    let defaulted = server
        .ok(
            Some(&seller_a),
            "mutation($id: ID!) { rotateWebhookSecret(id: $id) { endpoint { previousSecretExpiresAt } } }",
            json!({"id": id}),
        )
        .await;
    assert!(defaulted["rotateWebhookSecret"]["endpoint"]["previousSecretExpiresAt"].is_string());
    let immediate = server
        .ok(Some(&seller_a), ROTATE, json!({"id": id, "hours": 0}))
        .await;
    assert_eq!(
        immediate["rotateWebhookSecret"]["endpoint"]["previousSecretExpiresAt"],
        Value::Null
    );

    // Disabling, then enabling.
    for (on, reason) in [
        (false, json!("disabled by the seller")),
        (true, Value::Null),
    ] {
        let changed = server
            .ok(Some(&seller_a), ENABLE, json!({"id": id, "on": on}))
            .await;
        assert_eq!(
            changed["setWebhookEndpointEnabled"],
            json!({"id": id, "enabled": on, "disabledReason": reason})
        );
    }

    // A delivery: listed for its seller, replayed only by it.
    let counts = "{ eventCounts { eventType count } }";
    assert_eq!(
        server.ok(Some(&seller_a), counts, json!({})).await["eventCounts"],
        json!([])
    );
    deliver_event(&server, party_id(&server, &seller_a).await).await;
    let page = server
        .ok(Some(&seller_a), DELIVERIES, json!({"id": id}))
        .await;
    let edges = page["webhookDeliveries"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    let delivery = &edges[0]["node"];
    assert_eq!(delivery["eventType"], "order.paid");
    assert_eq!(delivery["state"], "PENDING");
    assert_eq!(delivery["attempts"], json!([]));
    let delivery_id = delivery["id"].as_str().unwrap().to_owned();
    assert_eq!(
        server
            .code(Some(&seller_b), REPLAY, json!({"id": delivery_id}))
            .await,
        "not_found"
    );
    let replayed = server
        .ok(Some(&seller_a), REPLAY, json!({"id": delivery_id}))
        .await;
    assert_eq!(
        replayed["replayWebhookDelivery"]["id"],
        delivery_id.as_str()
    );
    assert_eq!(replayed["replayWebhookDelivery"]["state"], "PENDING");
    server
        .ok(Some(&seller_a), ENABLE, json!({"id": id, "on": false}))
        .await;
    assert_eq!(
        server
            .code(Some(&seller_a), REPLAY, json!({"id": delivery_id}))
            .await,
        "endpoint_disabled"
    );
    assert_eq!(
        server.ok(Some(&seller_a), counts, json!({})).await["eventCounts"],
        json!([{"eventType": "order.paid", "count": 1}])
    );
    assert_eq!(
        server.ok(Some(&seller_b), counts, json!({})).await["eventCounts"],
        json!([])
    );

    // Buyers and anonymous callers are refused.
    for (token, code) in [
        (Some(buyer.as_str()), "forbidden"),
        (None, "unauthenticated"),
    ] {
        assert_eq!(create_code(&server, token, URL, &["*"]).await, code);
        assert_eq!(
            server
                .code(token, "{ webhookEndpoints { id } }", json!({}))
                .await,
            code
        );
        assert_eq!(
            server.code(token, DELIVERIES, json!({"id": id})).await,
            code
        );
        assert_eq!(server.code(token, counts, json!({})).await, code);
        assert_eq!(
            server
                .code(token, ROTATE, json!({"id": id, "hours": 1}))
                .await,
            code
        );
        assert_eq!(
            server
                .code(token, ENABLE, json!({"id": id, "on": true}))
                .await,
            code
        );
        assert_eq!(
            server.code(token, REPLAY, json!({"id": delivery_id})).await,
            code
        );
    }

    // Each change to an endpoint is in the audit log, the other seller's refusals too.
    for (action, outcome) in [
        ("webhook_endpoint.create", "success"),
        ("webhook_endpoint.create", "failure"),
        ("webhook_endpoint.rotate_secret", "success"),
        ("webhook_endpoint.rotate_secret", "failure"),
        ("webhook_endpoint.disable", "success"),
        ("webhook_endpoint.disable", "failure"),
        ("webhook_endpoint.enable", "success"),
    ] {
        assert!(audited(&server, action, outcome) > 0, "{action} {outcome}");
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many audit records of `action` with `outcome` the log holds.
fn audited(server: &Server, action: &str, outcome: &str) -> i64 {
    diesel::sql_query("SELECT count(*) AS n FROM audit_log WHERE action = $1 AND outcome = $2")
        .bind::<diesel::sql_types::Text, _>(action)
        .bind::<diesel::sql_types::Text, _>(outcome)
        .get_result::<Count>(&mut server.db().connect().unwrap())
        .unwrap()
        .n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_http_needs_the_flag() {
    let server = Server::start(&[("BAZAAR_WEBHOOK_ALLOW_LOOPBACK_HTTP", "1")]).await;
    let seller = server
        .sign_up("a@shop.test", "SELLER", "DE", Some("EUR"))
        .await;
    let created = create(&server, &seller, "http://127.0.0.1:9/hook", &["*"]).await;
    assert_eq!(created["endpoint"]["url"], "http://127.0.0.1:9/hook");
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    // Only loopback hosts may use http, even with the flag.
    assert_eq!(
        create_code(
            &server,
            Some(&seller),
            "http://hooks.example.com/bazaar",
            &["*"]
        )
        .await,
        "insecure_url"
    );
}
