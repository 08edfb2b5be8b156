//! The vault as its own process would run it: its own database, the audit log in the
//! API's, callers over HTTP on loopback through the JWS-in-JWE channel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;

use bazaar_domain::audit::{AuditStore, Outcome};
use bazaar_domain::payments::CardNumber;
use bazaar_domain::vault::channel::{self, Party};
use bazaar_domain::vault::{
    CardData, CardVault, Detokenizer, KeyUse, Share, Tenant, VaultError, development,
};
use bazaar_postgres::{PostgresAudit, RetryPolicy};
use bazaar_testdb::TestDatabase;
use bazaar_vault::{VaultConfig, VaultServer};
use bazaar_vault_client::{OsEntropy, VaultClient, unix_now};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bytea, Integer};

struct Running {
    server: VaultServer,
    url: String,
}

async fn start(
    vault_db: &TestDatabase,
    audit_db: &TestDatabase,
    extra: &[(&str, &str)],
) -> Result<Running, String> {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("BAZAAR_VAULT_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        (
            "BAZAAR_VAULT_DATABASE_URL".to_owned(),
            vault_db.url().to_owned(),
        ),
        (
            "BAZAAR_VAULT_AUDIT_DATABASE_URL".to_owned(),
            audit_db.url().to_owned(),
        ),
        ("BAZAAR_VAULT_POOL_SIZE".to_owned(), "4".to_owned()),
    ]);
    for (name, value) in extra {
        vars.insert((*name).to_owned(), (*value).to_owned());
    }
    let config =
        VaultConfig::from_env(|name| vars.get(name).cloned()).map_err(|e| e.to_string())?;
    let (server, running) = bazaar_vault::start(config)
        .await
        .map_err(|e| e.to_string())?;
    actix_web::rt::spawn(running);
    let url = format!("http://{}", server.addr);
    Ok(Running { server, url })
}

fn client(url: &str, name: &str) -> VaultClient {
    VaultClient::new(
        url,
        development::party(name),
        development::party("vault").peer(),
        development::channel_key(),
    )
}

fn card(number: &str) -> CardData {
    CardData::new(CardNumber::new(number).unwrap(), 12, 2031).unwrap()
}

fn tenant(name: &str) -> Tenant {
    Tenant::new(name).unwrap()
}

async fn unlocked(url: &str, a: &Share, b: &Share) {
    let admin = client(url, "admin");
    assert_eq!(admin.unlock(&a.encode()).await.unwrap(), "half_unlocked");
    assert_eq!(admin.unlock(&b.encode()).await.unwrap(), "unlocked");
}

/// A vault on fresh databases, unlocked with a new pair of test shares.
async fn unlocked_vault() -> (TestDatabase, TestDatabase, Running) {
    let (vault_db, audit_db) = (TestDatabase::empty().unwrap(), TestDatabase::new().unwrap());
    let running = start(&vault_db, &audit_db, &[]).await.unwrap();
    let (a, b) = Share::generate_pair(KeyUse::Test, &OsEntropy);
    unlocked(&running.url, &a, &b).await;
    (vault_db, audit_db, running)
}

#[derive(QueryableByName)]
struct SealedRow {
    #[diesel(sql_type = Integer)]
    key_version: i32,
    #[diesel(sql_type = Bytea)]
    sealed: Vec<u8>,
}

fn cards_in(db: &TestDatabase) -> Vec<SealedRow> {
    diesel::sql_query("SELECT key_version, sealed FROM vault_cards ORDER BY token")
        .load(&mut db.connect().unwrap())
        .unwrap()
}

#[actix_web::test]
async fn the_vault_serves_only_once_both_custodians_gave_their_shares() {
    let (vault_db, audit_db) = (TestDatabase::empty().unwrap(), TestDatabase::new().unwrap());
    let running = start(&vault_db, &audit_db, &[]).await.unwrap();
    let (api, admin) = (client(&running.url, "api"), client(&running.url, "admin"));
    let (a, b) = Share::generate_pair(KeyUse::Test, &OsEntropy);

    assert_eq!(admin.status().await.unwrap(), "locked");
    let ada = tenant("buyer:ada");
    assert_eq!(
        api.tokenize(&ada, &card("4111 1111 1111 1111")).await,
        Err(VaultError::Locked)
    );
    assert_eq!(admin.unlock(&a.encode()).await.unwrap(), "half_unlocked");
    // One share is not enough, and the same custodian's share twice is not two.
    assert_eq!(
        api.tokenize(&ada, &card("4111 1111 1111 1111")).await,
        Err(VaultError::Locked)
    );
    assert!(matches!(
        admin.unlock(&a.encode()).await,
        Err(VaultError::ShareAlreadyGiven(_))
    ));
    assert_eq!(admin.status().await.unwrap(), "half_unlocked");
    assert_eq!(admin.unlock(&b.encode()).await.unwrap(), "unlocked");
    let vaulted = api
        .tokenize(&ada, &card("4111 1111 1111 1111"))
        .await
        .unwrap();
    running.server.handle.stop(true).await;

    // The next start is locked again; another pair does not make this vault's master key.
    let again = start(&vault_db, &audit_db, &[]).await.unwrap();
    let admin = client(&again.url, "admin");
    assert_eq!(admin.status().await.unwrap(), "locked");
    let (c, d) = Share::generate_pair(KeyUse::Test, &OsEntropy);
    admin.unlock(&c.encode()).await.unwrap();
    assert_eq!(
        admin.unlock(&d.encode()).await,
        Err(VaultError::SharesDoNotMatch)
    );
    assert_eq!(admin.status().await.unwrap(), "locked");
    unlocked(&again.url, &b, &a).await;
    let provider = client(&again.url, "provider");
    assert_eq!(
        provider.detokenize(&vaulted.token).await.unwrap(),
        card("4111111111111111")
    );

    // Unlocks, refused and accepted, are in the audit log.
    let audit = PostgresAudit::new(audit_db.url(), 2, RetryPolicy::default());
    let head = audit.head().await.unwrap().unwrap();
    let records = audit.records(0, head.seq, 100).await.unwrap();
    let unlocks: Vec<_> = records
        .iter()
        .filter(|r| r.entry.action == "vault.unlock")
        .map(|r| r.entry.outcome)
        .collect();
    assert_eq!(
        unlocks,
        [Outcome::Success, Outcome::Failure, Outcome::Success]
    );
    again.server.handle.stop(true).await;
}

#[actix_web::test]
async fn tokens_are_deduplicated_per_tenant_and_only_the_provider_detokenizes() {
    let (vault_db, audit_db, running) = unlocked_vault().await;
    let (api, provider) = (
        client(&running.url, "api"),
        client(&running.url, "provider"),
    );
    let (ada, bob) = (tenant("buyer:ada"), tenant("buyer:bob"));

    let first = api
        .tokenize(&ada, &card("4111 1111 1111 1111"))
        .await
        .unwrap();
    assert!(first.token.as_str().starts_with("tok_"));
    assert_eq!(
        (first.display.bin.as_str(), first.display.last4.as_str()),
        ("41111111", "1111")
    );
    assert_eq!(first.display.brand.as_str(), "visa");
    let again = api.tokenize(&ada, &card("4111111111111111")).await.unwrap();
    assert_eq!(again.token, first.token);
    let bobs = api.tokenize(&bob, &card("4111111111111111")).await.unwrap();
    assert_ne!(bobs.token, first.token);
    assert_ne!(bobs.fingerprint, first.fingerprint);
    let amex = api
        .tokenize(&ada, &card("3782 822463 10005"))
        .await
        .unwrap();
    assert_eq!(
        (amex.display.bin.as_str(), amex.display.brand.as_str()),
        ("378282", "amex")
    );

    // The API may not detokenize; the provider may; the admin may not either.
    assert_eq!(
        api.detokenize(&first.token).await,
        Err(VaultError::Forbidden)
    );
    assert_eq!(
        client(&running.url, "admin").detokenize(&first.token).await,
        Err(VaultError::Forbidden)
    );
    assert_eq!(
        provider.detokenize(&first.token).await.unwrap(),
        card("4111111111111111")
    );
    assert_eq!(
        provider.tokenize(&ada, &card("4111111111111111")).await,
        Err(VaultError::Forbidden)
    );
    let unknown = bazaar_domain::vault::CardToken::from_random([7; 16]);
    assert_eq!(
        provider.detokenize(&unknown).await,
        Err(VaultError::NotFound)
    );

    // No number in the clear in the vault's database: only sealed values.
    let rows = cards_in(&vault_db);
    assert_eq!(rows.len(), 3);
    for row in &rows {
        let text = String::from_utf8_lossy(&row.sealed);
        assert!(!text.contains("4111111111111111") && !text.contains("378282246310005"));
    }

    // Every tokenization and detokenization, and the refusals, are recorded; none carries a number.
    let audit = PostgresAudit::new(audit_db.url(), 2, RetryPolicy::default());
    let head = audit.head().await.unwrap().unwrap();
    let records = audit.records(0, head.seq, 100).await.unwrap();
    let count = |action: &str, outcome: Outcome| {
        records
            .iter()
            .filter(|r| r.entry.action == action && r.entry.outcome == outcome)
            .count()
    };
    assert_eq!(count("card.tokenize", Outcome::Success), 4);
    assert_eq!(count("card.detokenize", Outcome::Success), 1);
    assert_eq!(count("card.detokenize", Outcome::Failure), 2);
    for record in &records {
        let line = format!("{:?}", record.entry);
        assert!(!line.contains("4111111111111111"), "{line}");
    }
    running.server.handle.stop(true).await;
}

#[actix_web::test]
async fn rotation_keeps_old_cards_open_and_reencryption_moves_them_forward() {
    let (vault_db, _audit_db, running) = unlocked_vault().await;
    let (api, provider, admin) = (
        client(&running.url, "api"),
        client(&running.url, "provider"),
        client(&running.url, "admin"),
    );
    let ada = tenant("buyer:ada");
    let numbers = [
        "4111111111111111",
        "5555555555554444",
        "6011111111111117",
        "3530111333300000",
        "4000000000000051",
    ];
    let mut tokens = Vec::new();
    for number in &numbers[..3] {
        tokens.push(api.tokenize(&ada, &card(number)).await.unwrap().token);
    }
    assert_eq!(api.rotate(&ada).await, Err(VaultError::Forbidden));
    assert_eq!(admin.rotate(&ada).await.unwrap(), 2);
    for number in &numbers[3..] {
        tokens.push(api.tokenize(&ada, &card(number)).await.unwrap().token);
    }
    let versions: Vec<i32> = cards_in(&vault_db)
        .iter()
        .map(|row| row.key_version)
        .collect();
    assert_eq!(versions.iter().filter(|v| **v == 1).count(), 3);
    assert_eq!(versions.iter().filter(|v| **v == 2).count(), 2);
    // The retired key still opens what it sealed.
    for (token, number) in tokens.iter().zip(numbers) {
        assert_eq!(provider.detokenize(token).await.unwrap(), card(number));
    }
    let progress = admin.reencrypt(2).await.unwrap();
    assert_eq!((progress.stale, progress.total), (1, 5));
    let progress = admin.reencrypt(2).await.unwrap();
    assert_eq!((progress.stale, progress.total), (0, 5));
    assert!(
        cards_in(&vault_db)
            .iter()
            .all(|row| row.key_version == 2 && row.sealed[1..5] == [0, 0, 0, 2])
    );
    for (token, number) in tokens.iter().zip(numbers) {
        assert_eq!(provider.detokenize(token).await.unwrap(), card(number));
    }
    // Tokenizing a known number again after rotation keeps its token.
    assert_eq!(
        api.tokenize(&ada, &card(numbers[0])).await.unwrap().token,
        tokens[0]
    );
    let stored: i64 = diesel::sql_query("SELECT count(*) AS n FROM vault_keys")
        .get_result::<Count>(&mut vault_db.connect().unwrap())
        .unwrap()
        .n;
    assert_eq!(stored, 2);
    running.server.handle.stop(true).await;
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn sealed_as(party: &Party, body: &serde_json::Value, at: i64) -> String {
    channel::seal(
        party,
        "vault",
        &development::channel_key(),
        body.clone(),
        at,
        &OsEntropy,
    )
    .unwrap()
}

async fn post_raw(url: &str, body: String) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/jose"))
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[actix_web::test]
async fn tampered_forged_and_replayed_messages_are_refused() {
    let (_vault_db, _audit_db, running) = unlocked_vault().await;
    let body = serde_json::json!({"op": "tokenize", "tenant": "buyer:ada", "number": "4111111111111111", "expiry_month": 12, "expiry_year": 2031});
    let good = sealed_as(&development::party("api"), &body, unix_now());
    let (status, _) = post_raw(&running.url, good.clone()).await;
    assert_eq!(status, 200);
    let (status, answer) = post_raw(&running.url, good.clone()).await;
    assert_eq!(
        (status, answer.contains("channel_refused")),
        (401, true),
        "a replay"
    );

    // One character of the ciphertext changed.
    let fresh = sealed_as(&development::party("api"), &body, unix_now());
    let mut parts: Vec<String> = fresh.split('.').map(str::to_owned).collect();
    let flipped = if parts[3].starts_with('A') { "B" } else { "A" };
    parts[3].replace_range(0..1, flipped);
    assert_eq!(
        post_raw(&running.url, parts.join(".")).await.0,
        401,
        "a tampered JWE"
    );
    // Signed by a key the vault does not know, under the right channel key.
    let forged = sealed_as(&Party::new("api", [42; 32]), &body, unix_now());
    assert_eq!(post_raw(&running.url, forged).await.0, 401, "a forged JWS");
    let stale = sealed_as(
        &development::party("api"),
        &body,
        unix_now().saturating_sub(600),
    );
    assert_eq!(
        post_raw(&running.url, stale).await.0,
        401,
        "a stale message"
    );
    assert_eq!(post_raw(&running.url, "not a jwe".to_owned()).await.0, 401);
    running.server.handle.stop(true).await;
}

#[test]
fn production_refuses_development_keys_and_test_shares() {
    let production = |extra: &[(&str, &str)]| {
        let vars: HashMap<&str, &str> = [("BAZAAR_ENV", "production")]
            .into_iter()
            .chain(extra.iter().copied())
            .collect();
        VaultConfig::from_env(|name| vars.get(name).map(|v| (*v).to_owned()))
    };
    let error = production(&[]).unwrap_err();
    assert_eq!(error.name, "BAZAAR_VAULT_CHANNEL_KEY");
    let keys = [
        ("BAZAAR_VAULT_CHANNEL_KEY", "11".repeat(32)),
        ("BAZAAR_VAULT_SIGNING_SEED", "22".repeat(32)),
        (
            "BAZAAR_VAULT_API_PUBLIC_KEY",
            Party::new("api", [3; 32]).peer().key_hex(),
        ),
        (
            "BAZAAR_VAULT_PROVIDER_PUBLIC_KEY",
            Party::new("provider", [4; 32]).peer().key_hex(),
        ),
        (
            "BAZAAR_VAULT_ADMIN_PUBLIC_KEY",
            development::party("admin").peer().key_hex(),
        ),
    ];
    let as_refs: Vec<(&str, &str)> = keys.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(
        production(&as_refs).unwrap_err().name,
        "BAZAAR_VAULT_ADMIN_PUBLIC_KEY"
    );
    let admin = Party::new("admin", [5; 32]).peer().key_hex();
    let mut fixed = as_refs.clone();
    fixed[4] = ("BAZAAR_VAULT_ADMIN_PUBLIC_KEY", &admin);
    assert!(production(&fixed).unwrap().production);
}

#[actix_web::test]
async fn a_production_vault_refuses_test_shares() {
    let (vault_db, audit_db) = (TestDatabase::empty().unwrap(), TestDatabase::new().unwrap());
    let admin = Party::new("admin", [5; 32]).peer().key_hex();
    let api = Party::new("api", [3; 32]).peer().key_hex();
    let provider = Party::new("provider", [4; 32]).peer().key_hex();
    let (channel_key, seed) = ("11".repeat(32), "22".repeat(32));
    let running = start(
        &vault_db,
        &audit_db,
        &[
            ("BAZAAR_ENV", "production"),
            ("BAZAAR_VAULT_CHANNEL_KEY", &channel_key),
            ("BAZAAR_VAULT_SIGNING_SEED", &seed),
            ("BAZAAR_VAULT_API_PUBLIC_KEY", &api),
            ("BAZAAR_VAULT_PROVIDER_PUBLIC_KEY", &provider),
            ("BAZAAR_VAULT_ADMIN_PUBLIC_KEY", &admin),
        ],
    )
    .await
    .unwrap();
    let custodian = client(&running.url, "admin");
    let (a, _) = Share::generate_pair(KeyUse::Test, &OsEntropy);
    assert_eq!(
        custodian.unlock(&a.encode()).await,
        Err(VaultError::TestKeyRefused)
    );
    let (live_a, live_b) = Share::generate_pair(KeyUse::Live, &OsEntropy);
    assert_eq!(
        custodian.unlock(&live_a.encode()).await.unwrap(),
        "half_unlocked"
    );
    assert_eq!(
        custodian.unlock(&live_b.encode()).await.unwrap(),
        "unlocked"
    );
    running.server.handle.stop(true).await;
}
