//! Webhook secrets and bank details on the vault's key hierarchy: sealed with the newest key
//! of their keyring (fetched from the vault over its channel), unavailable while the vault is
//! locked, still open after a rotation, and moved forward by `bazaar-admin reseal`, which
//! also moves values sealed by the flat key before the vault.

use std::process::Command;
use std::sync::Arc;

use bazaar_domain::vault::{KeyringPurpose, KeyringSource, development, sealed_key_version};
use bazaar_postgres::{SecretKey, SecretKeys};
use bazaar_vault_client::VaultClient;
use diesel::sql_types::{Bytea, Uuid as SqlUuid};
use diesel::{QueryableByName, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use super::support::Server;
use super::vault::VaultProcess;

const KEY: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";
const CREATE: &str = "mutation($url: String!) {
    createWebhookEndpoint(url: $url, eventTypes: [\"order.*\"]) { secret endpoint { id } } }";
const ADD_BANK: &str = "mutation { addBankAccount(rail: \"sepa_credit\",
    details: {kind: \"iban\", iban: \"DE89370400440532013000\"}, holderName: \"Ada Seller\",
    idempotencyKey: \"bank-1\") { id } }";

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Bytea)]
    sealed: Vec<u8>,
}

fn rows(server: &Server, sql: &str) -> Vec<Row> {
    let mut conn = server.db().connect().unwrap();
    diesel::sql_query(sql).load(&mut conn).unwrap()
}

fn endpoints(server: &Server) -> Vec<Row> {
    rows(
        server,
        "SELECT id, secret_sealed AS sealed FROM webhook_endpoints ORDER BY id",
    )
}

fn client(url: &str, name: &str) -> Arc<VaultClient> {
    Arc::new(VaultClient::new(
        url,
        development::party(name),
        development::party("vault").peer(),
        development::channel_key(),
    ))
}

async fn create(server: &Server, seller: &str) -> (Uuid, String) {
    let created = server
        .ok(
            Some(seller),
            CREATE,
            json!({"url": "https://hooks.example.com/b"}),
        )
        .await["createWebhookEndpoint"]
        .clone();
    (
        Uuid::parse_str(created["endpoint"]["id"].as_str().unwrap()).unwrap(),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_sealed_on_the_vaults_keys_rotate_and_move_forward() {
    let vault = VaultProcess::start();
    let server = Server::start(&[
        ("BAZAAR_VAULT_URL", &vault.url),
        ("BAZAAR_SECRETS_KEY", KEY),
    ])
    .await;
    let seller = server
        .sign_up("keys@shop.test", "SELLER", "DE", Some("EUR"))
        .await;

    // Locked: nothing can be sealed, and nothing is half-written.
    let code = server
        .code(
            Some(&seller),
            CREATE,
            json!({"url": "https://hooks.example.com/b"}),
        )
        .await;
    assert_eq!(code, "unavailable");
    assert!(endpoints(&server).is_empty());
    vault.unlock().await;

    // Sealed with the keyrings' first keys, opening to what the seller was shown.
    let (first, first_secret) = create(&server, &seller).await;
    server.ok(Some(&seller), ADD_BANK, json!({})).await;
    let reader = SecretKeys::from_vault(
        client(&vault.url, "api"),
        KeyringPurpose::WebhookSecrets,
        None,
    );
    reader.for_opening().await.unwrap();
    let sealed = &endpoints(&server)[0].sealed;
    assert_eq!(sealed_key_version(sealed).unwrap(), 1);
    assert_eq!(
        reader.open(sealed, first.as_bytes()).unwrap(),
        first_secret.as_bytes()
    );
    let bank = rows(
        &server,
        "SELECT id, details_sealed AS sealed FROM bank_accounts",
    );
    assert_eq!(sealed_key_version(&bank[0].sealed).unwrap(), 1);
    // The webhook keyring does not open bank details, nor the reverse.
    assert!(reader.open(&bank[0].sealed, bank[0].id.as_bytes()).is_err());

    // A value sealed by the flat key before the vault.
    let (legacy, legacy_secret) = create(&server, &seller).await;
    let flat = SecretKey::from_hex(KEY).unwrap();
    let mut conn = server.db().connect().unwrap();
    diesel::sql_query("UPDATE webhook_endpoints SET secret_sealed = $1 WHERE id = $2")
        .bind::<Bytea, _>(
            flat.seal(legacy_secret.as_bytes(), legacy.as_bytes())
                .unwrap(),
        )
        .bind::<SqlUuid, _>(legacy)
        .execute(&mut conn)
        .unwrap();

    // Rotation: the next secret is sealed with key 2; a process holding only key 1 notices
    // the new number, reads the keyring again and opens it.
    let admin = client(&vault.url, "admin");
    let tenant = KeyringPurpose::WebhookSecrets.tenant().unwrap();
    assert_eq!(admin.rotate(&tenant).await.unwrap(), 2);
    let (third, third_secret) = create(&server, &seller).await;
    let third_sealed = endpoints(&server)
        .into_iter()
        .find(|row| row.id == third)
        .unwrap()
        .sealed;
    assert_eq!(sealed_key_version(&third_sealed).unwrap(), 2);
    assert!(reader.open(&third_sealed, third.as_bytes()).is_err());
    assert!(reader.is_stale());
    reader.for_opening().await.unwrap();
    assert_eq!(
        reader.open(&third_sealed, third.as_bytes()).unwrap(),
        third_secret.as_bytes()
    );

    // Re-sealing moves the key-1 and the flat values onto key 2; bank details, whose keyring
    // did not rotate, stay where they are.
    let output = Command::new(env!("CARGO_BIN_EXE_bazaar-admin"))
        .args(["reseal", "--batch", "2"])
        .env("BAZAAR_DATABASE_URL", server.db().url())
        .env("BAZAAR_VAULT_URL", &vault.url)
        .env("BAZAAR_SECRETS_KEY", KEY)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("moved 2 webhook endpoints' secrets and 0 bank accounts' details"),
        "{stdout}"
    );
    let secrets = [
        (first, first_secret),
        (legacy, legacy_secret),
        (third, third_secret),
    ];
    let without_flat = SecretKeys::from_vault(
        client(&vault.url, "api"),
        KeyringPurpose::WebhookSecrets,
        None,
    );
    without_flat.for_opening().await.unwrap();
    for row in endpoints(&server) {
        assert_eq!(sealed_key_version(&row.sealed).unwrap(), 2);
        let (_, secret) = secrets.iter().find(|(id, _)| *id == row.id).unwrap();
        assert_eq!(
            without_flat.open(&row.sealed, row.id.as_bytes()).unwrap(),
            secret.as_bytes()
        );
    }
    let after = rows(
        &server,
        "SELECT id, details_sealed AS sealed FROM bank_accounts",
    );
    assert_eq!(after[0].sealed, bank[0].sealed);

    // Only the API's party is handed keyrings; every handover is in the vault's audit log.
    let refused = client(&vault.url, "provider")
        .keyring(KeyringPurpose::BankDetails)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "forbidden");
    let mut audit = vault.audit.connect().unwrap();
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        refused: i64,
    }
    let counted: Vec<Count> = diesel::sql_query(
        "SELECT count(*) AS n, count(*) FILTER (WHERE outcome = 'failure') AS refused \
         FROM audit_log WHERE action = 'vault.keyring_read'",
    )
    .load(&mut audit)
    .unwrap();
    assert!(counted[0].n >= 6, "{}", counted[0].n);
    assert_eq!(counted[0].refused, 1);
}
