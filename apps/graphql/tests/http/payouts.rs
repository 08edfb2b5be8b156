// Payouts through the API: balances by type, the schedule read and set, payouts on request
// with their ledger entries and idempotency keys; sellers only, each its own.

use std::sync::Arc;

use bazaar_domain::chart::{ChartAccount, ProviderName, SellerId};
use bazaar_domain::payouts::{BankDetails, PayoutRails, Rail};
use bazaar_ledger::{LedgerStore, Metadata, RequestKind, TransferId, TransferRequest};
use bazaar_money::{Currency, Money};
use bazaar_payouts::SandboxRails;
use bazaar_postgres::{LedgerConfig, PostgresLedger, SystemClock};
use serde_json::json;
use uuid::Uuid;

use super::support::Server;

const IBAN: &str = "DE89370400440532013000";
const BALANCES: &str = "{ payoutBalances { currency available { amount } pending { amount }
    reserved { amount } inTransit { amount } payable { amount } } }";
const SCHEDULE: &str = "{ payoutSchedule { currency interval delayDays minimum { amount } paused
    nextPayoutOn } }";
const SET_SCHEDULE: &str = "mutation($interval: String!, $delay: Int, $minimum: String) {
    setPayoutSchedule(interval: $interval, delayDays: $delay, minimum: $minimum) {
        interval delayDays minimum { amount currency } } }";
const CREATE: &str = "mutation($amount: String!, $key: String!) {
    createPayout(amount: $amount, idempotencyKey: $key) {
        id state amount { amount currency } rail entries { step amount { amount } } } }";
const LIST: &str = "{ payouts(first: 10) { edges { node { id state amount { amount } } } } }";

/// Credits the seller's available balance as a release would, straight on the ledger.
async fn release(server: &Server, seller: SellerId, minor: i64) {
    let ledger =
        PostgresLedger::connect(LedgerConfig::new(server.db().url()), Arc::new(SystemClock))
            .await
            .unwrap();
    let clearing = ChartAccount::PspClearing(ProviderName::new("sandbox").unwrap());
    ledger
        .create_account(clearing.new_account(Currency::EUR).unwrap())
        .await
        .unwrap()
        .unwrap();
    ledger
        .submit(vec![TransferRequest {
            id: TransferId::from_uuid(Uuid::new_v4()),
            kind: RequestKind::Direct {
                debit_account_id: clearing.id(Currency::EUR),
                credit_account_id: ChartAccount::SellerAvailable(seller).id(Currency::EUR),
                amount: Money::from_minor(minor, Currency::EUR),
            },
            metadata: Metadata::new(),
        }])
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn sellers_read_balances_set_their_schedule_and_ask_for_payouts() {
    let server = Server::start(&[]).await;
    let seller = server
        .sign_up("p@shop.test", "SELLER", "DE", Some("EUR"))
        .await;
    let buyer = server.sign_up("b@buyer.test", "BUYER", "NL", None).await;
    let me = server
        .ok(Some(&seller), "{ me { partyId } }", json!({}))
        .await;
    let seller_id = SellerId::from_uuid(me["me"]["partyId"].as_str().unwrap().parse().unwrap());

    let balances = server.ok(Some(&seller), BALANCES, json!({})).await;
    assert_eq!(balances["payoutBalances"][0]["currency"], "EUR");
    assert_eq!(balances["payoutBalances"][0]["available"]["amount"], "0.00");

    // The default schedule, then a weekly one with a minimum.
    let schedule = server.ok(Some(&seller), SCHEDULE, json!({})).await;
    assert_eq!(schedule["payoutSchedule"]["interval"], "daily");
    assert_eq!(schedule["payoutSchedule"]["paused"], false);
    let set = server
        .ok(
            Some(&seller),
            SET_SCHEDULE,
            json!({"interval": "weekly:friday", "delay": 2, "minimum": "25.00"}),
        )
        .await;
    assert_eq!(set["setPayoutSchedule"]["interval"], "weekly:friday");
    assert_eq!(set["setPayoutSchedule"]["minimum"]["amount"], "25.00");
    let mut conn = server.db().connect().unwrap();
    let recorded: Vec<Action> = diesel::RunQueryDsl::load(
        diesel::sql_query(
            "SELECT action FROM audit_log WHERE action = 'payout_schedule.set' AND outcome = 'success'",
        ),
        &mut conn,
    )
    .unwrap();
    assert!(
        !recorded.is_empty(),
        "the schedule change is in the audit log"
    );
    let read = server.ok(Some(&seller), SCHEDULE, json!({})).await;
    assert_eq!(read["payoutSchedule"]["delayDays"], 2);
    for (interval, code) in [
        ("monthly:32", "invalid_anchor_day"),
        ("hourly", "invalid_schedule"),
    ] {
        let refused = server
            .code(Some(&seller), SET_SCHEDULE, json!({"interval": interval}))
            .await;
        assert_eq!(refused, code);
    }
    let too_long = server
        .code(
            Some(&seller),
            SET_SCHEDULE,
            json!({"interval": "daily", "delay": 31}),
        )
        .await;
    assert_eq!(too_long, "delay_too_long");

    // Without a verified account there is nowhere to pay.
    let payout = json!({"amount": "40.00", "key": "p1"});
    assert_eq!(
        server.code(Some(&seller), CREATE, payout.clone()).await,
        "bank_account_not_payable"
    );
    let added = server
        .ok(
            Some(&seller),
            "mutation($key: String!) { addBankAccount(rail: \"sepa_credit\",
                details: {kind: \"iban\", iban: \"DE89370400440532013000\"},
                holderName: \"Ada Seller\", idempotencyKey: $key) { id } }",
            json!({"key": "acct"}),
        )
        .await;
    let account = added["addBankAccount"]["id"].as_str().unwrap().to_owned();
    let sent = SandboxRails::new(server.db().url(), 1)
        .micro_deposits(
            Rail::SepaCredit,
            BankDetails::Iban {
                iban: IBAN.to_owned(),
            },
            bazaar_ledger::Timestamp::from_micros(0),
        )
        .await
        .unwrap();
    server
        .ok(
            Some(&seller),
            "mutation($id: ID!, $amounts: [Int!]!) {
                verifyBankAccount(id: $id, amountsMinor: $amounts) { verified } }",
            json!({"id": account, "amounts": [sent[0].minor(), sent[1].minor()]}),
        )
        .await;

    // Nothing available yet.
    assert_eq!(
        server.code(Some(&seller), CREATE, payout.clone()).await,
        "insufficient_balance"
    );
    release(&server, seller_id, 10_000).await;
    let created = server.ok(Some(&seller), CREATE, payout.clone()).await["createPayout"].clone();
    assert_eq!(created["state"], "in_transit");
    assert_eq!(created["amount"]["amount"], "40.00");
    assert_eq!(created["rail"], "sepa_credit");
    assert_eq!(created["entries"][0]["step"], "pending");
    assert_eq!(created["entries"][0]["amount"]["amount"], "40.00");
    // The same key pays once; with another amount it is refused.
    let again = server.ok(Some(&seller), CREATE, payout).await;
    assert_eq!(again["createPayout"]["id"], created["id"]);
    assert_eq!(
        server
            .code(
                Some(&seller),
                CREATE,
                json!({"amount": "41.00", "key": "p1"})
            )
            .await,
        "idempotency_key_reused"
    );
    let balances = server.ok(Some(&seller), BALANCES, json!({})).await;
    assert_eq!(
        balances["payoutBalances"][0]["available"]["amount"],
        "60.00"
    );
    assert_eq!(
        balances["payoutBalances"][0]["inTransit"]["amount"],
        "40.00"
    );
    let list = server.ok(Some(&seller), LIST, json!({})).await;
    assert_eq!(list["payouts"]["edges"].as_array().unwrap().len(), 1);

    // Buyers have no payouts; another seller cannot see this one.
    assert_eq!(
        server.code(Some(&buyer), LIST, json!({})).await,
        "forbidden"
    );
    let other = server
        .sign_up("o@shop.test", "SELLER", "FR", Some("EUR"))
        .await;
    let seen = server
        .ok(
            Some(&other),
            "query($id: ID!) { payout(id: $id) { id } }",
            json!({"id": created["id"]}),
        )
        .await;
    assert!(seen["payout"].is_null());
}

#[derive(diesel::QueryableByName)]
struct Action {
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[expect(dead_code, reason = "only counted")]
    action: String,
}
