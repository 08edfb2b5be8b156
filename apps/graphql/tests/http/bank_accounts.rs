// Sellers' bank accounts through the API: added after the rail's checks, shown masked,
// verified by micro-deposits, removed; buyers and other sellers cannot reach them.

use bazaar_domain::payouts::{BankDetails, PayoutRails, Rail};
use bazaar_ledger::Timestamp;
use bazaar_payouts::SandboxRails;
use serde_json::json;

use super::support::Server;

const ADD: &str =
    "mutation($rail: String!, $details: BankDetailsInput!, $holder: String!, $key: String!) {
    addBankAccount(rail: $rail, details: $details, holderName: $holder, idempotencyKey: $key) {
        id currency rail kind masked holderName state failedAttempts createdAt } }";
const VERIFY: &str = "mutation($id: ID!, $amounts: [Int!]!) {
    verifyBankAccount(id: $id, amountsMinor: $amounts) { verified attemptsLeft account { state } } }";
const REMOVE: &str = "mutation($id: ID!) { removeBankAccount(id: $id) }";
const LIST: &str = "{ bankAccounts { id masked state } }";
const IBAN: &str = "DE89370400440532013000";

fn sepa(key: &str) -> serde_json::Value {
    json!({"rail": "sepa_credit", "details": {"kind": "iban", "iban": IBAN},
        "holder": "Ada Seller", "key": key})
}

#[tokio::test]
async fn sellers_add_verify_and_remove_their_bank_accounts() {
    let server = Server::start(&[]).await;
    let seller = server
        .sign_up("a@shop.test", "SELLER", "DE", Some("EUR"))
        .await;
    let other = server
        .sign_up("b@shop.test", "SELLER", "FR", Some("EUR"))
        .await;
    let buyer = server.sign_up("x@buyer.test", "BUYER", "NL", None).await;

    let added = server.ok(Some(&seller), ADD, sepa("k1")).await["addBankAccount"].clone();
    assert_eq!(added["masked"], "****3000");
    assert_eq!(added["currency"], "EUR");
    assert_eq!(added["kind"], "iban");
    assert_eq!(added["state"], "unverified");
    let id = added["id"].as_str().unwrap().to_owned();
    // The same key adds nothing twice.
    let again = server.ok(Some(&seller), ADD, sepa("k1")).await;
    assert_eq!(again["addBankAccount"]["id"], id);
    // The response never carries the IBAN.
    assert!(!again.to_string().contains(IBAN));

    // Bad details, unknown rails and kinds the rail does not take are refused.
    let mut bad = sepa("k2");
    bad["details"]["iban"] = json!("DE89370400440532013001");
    assert_eq!(
        server.code(Some(&seller), ADD, bad).await,
        "iban_invalid_checksum"
    );
    let mut unknown = sepa("k3");
    unknown["rail"] = json!("telegraph");
    assert_eq!(
        server.code(Some(&seller), ADD, unknown).await,
        "invalid_input"
    );
    let mut wrong_kind = sepa("k4");
    wrong_kind["details"] = json!({"kind": "us_account", "routingNumber": "021000021",
        "accountNumber": "000123453000"});
    assert_eq!(
        server.code(Some(&seller), ADD, wrong_kind).await,
        "bank_details_not_accepted"
    );

    // Others cannot see, verify or remove it; buyers have no bank accounts here.
    let theirs = server.ok(Some(&other), LIST, json!({})).await;
    assert_eq!(theirs["bankAccounts"], json!([]));
    let vars = json!({"id": id, "amounts": [1, 2]});
    assert_eq!(
        server.code(Some(&other), VERIFY, vars.clone()).await,
        "not_found"
    );
    assert_eq!(
        server.code(Some(&buyer), LIST, json!({})).await,
        "forbidden"
    );

    // A wrong answer counts; the deposits the rail sent verify it.
    let wrong = server.ok(Some(&seller), VERIFY, vars).await;
    assert_eq!(wrong["verifyBankAccount"]["verified"], false);
    assert_eq!(wrong["verifyBankAccount"]["attemptsLeft"], 2);
    let details = BankDetails::Iban {
        iban: IBAN.to_owned(),
    };
    let sent = SandboxRails::new(server.db().url(), 1)
        .micro_deposits(Rail::SepaCredit, details, Timestamp::from_micros(0))
        .await
        .unwrap();
    let answer = json!({"id": id, "amounts": [sent[1].minor(), sent[0].minor()]});
    let verified = server.ok(Some(&seller), VERIFY, answer).await;
    assert_eq!(verified["verifyBankAccount"]["verified"], true);
    assert_eq!(
        verified["verifyBankAccount"]["account"]["state"],
        "verified"
    );

    // Removed, it is gone.
    assert_eq!(
        server.code(Some(&other), REMOVE, json!({"id": id})).await,
        "not_found"
    );
    server.ok(Some(&seller), REMOVE, json!({"id": id})).await;
    let left = server.ok(Some(&seller), LIST, json!({})).await;
    assert_eq!(left["bankAccounts"], json!([]));
}
