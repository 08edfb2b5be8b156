//! Paying by card through the card vault: the vault runs as its own server on loopback with
//! its own database; the API holds tokens; the sandbox provider's connector detokenizes.

use bazaar_domain::audit::AuditStore;
use bazaar_domain::vault::{KeyUse, Share, development};
use bazaar_postgres::{PostgresAudit, RetryPolicy};
use bazaar_testdb::TestDatabase;
use bazaar_vault::VaultConfig;
use bazaar_vault_client::{OsEntropy, VaultClient};
use serde_json::json;

use super::support::Server;

/// A vault on a thread of its own (its own actix system), as its process would run it.
pub(super) struct VaultProcess {
    pub url: String,
    handle: actix_web::dev::ServerHandle,
    pub audit: TestDatabase,
    _db: TestDatabase,
}

impl VaultProcess {
    pub(super) fn start() -> Self {
        let (db, audit) = (TestDatabase::empty().unwrap(), TestDatabase::new().unwrap());
        let (database_url, audit_url) = (db.url().to_owned(), audit.url().to_owned());
        let config = VaultConfig::from_env(|name| match name {
            "BAZAAR_VAULT_LISTEN" => Some("127.0.0.1:0".to_owned()),
            "BAZAAR_VAULT_DATABASE_URL" => Some(database_url.clone()),
            "BAZAAR_VAULT_AUDIT_DATABASE_URL" => Some(audit_url.clone()),
            _ => None,
        })
        .unwrap();
        let server = bazaar_vault::spawn(config).unwrap();
        let (addr, handle) = (server.addr, server.handle);
        Self {
            url: format!("http://{addr}"),
            handle,
            audit,
            _db: db,
        }
    }

    pub(super) async fn unlock(&self) {
        let admin = VaultClient::new(
            &self.url,
            development::party("admin"),
            development::party("vault").peer(),
            development::channel_key(),
        );
        let (a, b) = Share::generate_pair(KeyUse::Test, &OsEntropy);
        admin.unlock(&a.encode()).await.unwrap();
        assert_eq!(admin.unlock(&b.encode()).await.unwrap(), "unlocked");
    }
}

impl Drop for VaultProcess {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

const TOKENIZE: &str = r#"mutation($number: String!) { tokenizeCard(card: {number: $number, expiryMonth: 12, expiryYear: 2099}) {
    token brand bin last4 expiryMonth expiryYear } }"#;
const PAY_TOKEN: &str = r#"mutation($id: ID!, $token: String!) { pay(input: {checkoutId: $id, method: "scheme", returnUrl: "http://127.0.0.1/r",
    cardToken: $token}) { state } }"#;
const CHECKOUT: &str = r#"mutation($sku: ID!, $key: String!) { checkout(idempotencyKey: $key, input: {currency: "EUR", lines: [{skuId: $sku, quantity: 1}]}) { id } }"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_pays_with_a_card_token_only_the_provider_can_read() {
    let vault = VaultProcess::start();
    let server = Server::start(&[("BAZAAR_VAULT_URL", &vault.url)]).await;
    let seller = server
        .sign_up("vault@seller.test", "SELLER", "FR", Some("EUR"))
        .await;
    let ada = server.sign_up("ada@buyer.test", "BUYER", "FR", None).await;
    let bob = server.sign_up("bob@buyer.test", "BUYER", "FR", None).await;
    let (_, sku) = server
        .create_product(
            &seller,
            r#"mutation { createProduct(idempotencyKey: "lamp", input: {title: "Lamp", description: "A lamp",
                 category: "home", kind: PHYSICAL, skus: [{code: "L1", title: "Lamp", stock: 10, prices: [{amount: "40.00", currency: "EUR"}]}]}) { id } }"#,
        )
        .await;
    let number = json!({"number": "4111 1111 1111 1111"});

    // Locked: no token, and a clear answer.
    assert_eq!(
        server.code(Some(&ada), TOKENIZE, number.clone()).await,
        "vault_unavailable"
    );
    vault.unlock().await;
    let card = server.ok(Some(&ada), TOKENIZE, number.clone()).await["tokenizeCard"].clone();
    let token = card["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("tok_"));
    assert_eq!(
        (
            card["brand"].as_str(),
            card["bin"].as_str(),
            card["last4"].as_str()
        ),
        (Some("visa"), Some("41111111"), Some("1111"))
    );
    // The same card, the same token.
    assert_eq!(
        server.ok(Some(&ada), TOKENIZE, number).await["tokenizeCard"]["token"],
        token.as_str()
    );

    // Ada pays with her token: the provider detokenizes inside the vault's scope.
    let checkout = server
        .ok(Some(&ada), CHECKOUT, json!({"sku": sku, "key": "ada-1"}))
        .await;
    let id = checkout["checkout"]["id"].as_str().unwrap().to_owned();
    let paid = server
        .ok(Some(&ada), PAY_TOKEN, json!({"id": id, "token": token}))
        .await;
    assert_eq!(paid["pay"]["state"], "CAPTURED");

    // Bob cannot pay with Ada's token; a made-up token is unknown too.
    let checkout = server
        .ok(Some(&bob), CHECKOUT, json!({"sku": sku, "key": "bob-1"}))
        .await;
    let bobs = checkout["checkout"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        server
            .code(Some(&bob), PAY_TOKEN, json!({"id": bobs, "token": token}))
            .await,
        "payment_request_invalid"
    );
    assert_eq!(
        server
            .code(
                Some(&bob),
                PAY_TOKEN,
                json!({"id": bobs, "token": "4111111111111111"})
            )
            .await,
        "payment_request_invalid"
    );
    // A declined test card, given whole: the API tokenizes it and the provider refuses it.
    let declined = server
        .ok(
            Some(&bob),
            super::tax::CARD
                .replace("4111 1111 1111 1111", "4000 0000 0000 0051")
                .as_str(),
            json!({"id": bobs}),
        )
        .await;
    assert_eq!(declined["pay"]["state"], "REFUSED");

    // The vault recorded each tokenization and the provider's detokenizations.
    let audit = PostgresAudit::new(vault.audit.url(), 2, RetryPolicy::default());
    let head = audit.head().await.unwrap().unwrap();
    let records = audit.records(0, head.seq, 100).await.unwrap();
    let of = |action: &str, actor: &str| {
        records
            .iter()
            .filter(|r| r.entry.action == action && r.entry.actor == actor)
            .count()
    };
    assert_eq!(of("card.tokenize", "api"), 3);
    assert_eq!(of("card.detokenize", "provider"), 2);
}
