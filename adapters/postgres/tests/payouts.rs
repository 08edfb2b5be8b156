//! Sellers' bank accounts through the payouts service, on the real PostgreSQL and the
//! sandbox rails: details sealed at rest and shown masked, verification by micro-deposits
//! with a bounded number of answers, idempotent additions, tenancy, and the per-seller limit.
#![expect(clippy::unwrap_used, reason = "test drivers fail loudly")]

use bazaar_domain::Country;
use bazaar_domain::catalog::{BasisPoints, CommissionRule, Region, Seller};
use bazaar_domain::chart::SellerId;
use bazaar_domain::payouts::{
    AddBankAccount, BANK_ACCOUNTS_MAX, BankAccountId, BankAccountState, BankDetails, PayoutRails,
    PayoutStoreError, Payouts, PayoutsError, Rail, Verification,
};
use bazaar_domain::store::CommerceStore;
use bazaar_ledger::Timestamp;
use bazaar_money::Currency;
use bazaar_payouts::SandboxRails;
use std::sync::Arc;

use bazaar_postgres::{
    LedgerConfig, PostgresCommerce, PostgresLedger, PostgresPayouts, RetryPolicy, SecretKey,
    SystemClock,
};
use bazaar_testdb::TestDatabase;
use diesel::prelude::*;
use uuid::Uuid;

const NOW: Timestamp = Timestamp::from_micros(1_780_000_000_000_000);
const ACCOUNT_NUMBER: &str = "000123453000";

fn seller(n: u128) -> Seller {
    Seller {
        id: SellerId::from_uuid(Uuid::from_u128(n)),
        name: format!("Seller {n}"),
        country: Country::new("US").unwrap(),
        region: Region::new("us").unwrap(),
        settlement_currency: Currency::USD,
        commission: CommissionRule::flat(BasisPoints::new(1_000).unwrap()),
    }
}

fn us_account(number: &str) -> BankDetails {
    BankDetails::UsAccount {
        routing_number: "021000021".to_owned(),
        account_number: number.to_owned(),
    }
}

fn add(seller: u128, account: u128, number: &str) -> AddBankAccount {
    AddBankAccount {
        id: BankAccountId::from_u128(account),
        seller: SellerId::from_uuid(Uuid::from_u128(seller)),
        rail: Rail::Ach,
        details: us_account(number),
        holder_name: "  Ada Seller ".to_owned(),
    }
}

async fn setup(db: &TestDatabase) -> Payouts<PostgresPayouts, SandboxRails, PostgresLedger> {
    let commerce = PostgresCommerce::new(db.url(), 2, RetryPolicy::default());
    for n in [1, 2] {
        commerce.create_seller(&seller(n), NOW).await.unwrap();
    }
    let store = PostgresPayouts::new(db.url(), 2, RetryPolicy::default(), SecretKey::generate());
    let ledger = PostgresLedger::connect(LedgerConfig::new(db.url()), Arc::new(SystemClock))
        .await
        .unwrap();
    Payouts::new(store, SandboxRails::new(db.url(), 2), ledger)
}

#[tokio::test]
async fn an_account_is_sealed_at_rest_shown_masked_and_verified_by_its_deposits() {
    let db = TestDatabase::new().unwrap();
    let payouts = setup(&db).await;
    let account = payouts
        .add_bank_account(add(1, 10, ACCOUNT_NUMBER), NOW)
        .await
        .unwrap();
    assert_eq!(account.masked, "****3000");
    assert_eq!(account.holder_name, "Ada Seller");
    assert_eq!(account.state, BankAccountState::Unverified);
    assert_eq!(account.currency, Currency::USD);

    // Nothing in the row reads as the account number.
    let mut conn = PgConnection::establish(db.url()).unwrap();
    let dump: Vec<String> =
        diesel::sql_query("SELECT row_to_json(b)::TEXT AS value FROM bank_accounts b")
            .load::<Text>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|row| row.value)
            .collect();
    assert_eq!(dump.len(), 1);
    assert!(!dump[0].contains(ACCOUNT_NUMBER), "{}", dump[0]);
    assert!(!dump[0].contains("123453000"));

    // The deposits the sandbox sent are the ones that verify.
    let sent = SandboxRails::new(db.url(), 1)
        .micro_deposits(Rail::Ach, us_account(ACCOUNT_NUMBER), NOW)
        .await
        .unwrap();
    let sent = sent.map(|amount| amount.minor());
    let wrong = [sent[0] % 99 + 1, sent[1]];
    let seller_id = SellerId::from_uuid(Uuid::from_u128(1));
    let answer = payouts
        .verify_bank_account(seller_id, account.id, wrong, NOW)
        .await
        .unwrap();
    assert!(matches!(
        answer,
        Verification::Wrong {
            attempts_left: 2,
            ..
        }
    ));
    let answer = payouts
        .verify_bank_account(seller_id, account.id, [sent[1], sent[0]], NOW)
        .await
        .unwrap();
    let Verification::Verified(verified) = answer else {
        panic!("not verified: {answer:?}");
    };
    assert_eq!(verified.state, BankAccountState::Verified);
    let again = payouts
        .verify_bank_account(seller_id, account.id, sent, NOW)
        .await;
    assert_eq!(
        again.unwrap_err(),
        PayoutsError::Store(PayoutStoreError::NotVerifiable)
    );
}

#[derive(QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

#[tokio::test]
async fn three_wrong_answers_leave_the_account_errored() {
    let db = TestDatabase::new().unwrap();
    let payouts = setup(&db).await;
    let account = payouts
        .add_bank_account(add(1, 10, ACCOUNT_NUMBER), NOW)
        .await
        .unwrap();
    let seller_id = SellerId::from_uuid(Uuid::from_u128(1));
    // 100 minor units is never a sandbox deposit (they are 1 to 99).
    let wrong = [100, 100];
    for left in [2, 1, 0] {
        let answer = payouts
            .verify_bank_account(seller_id, account.id, wrong, NOW)
            .await
            .unwrap();
        let Verification::Wrong {
            attempts_left,
            account,
        } = answer
        else {
            panic!("verified with wrong amounts");
        };
        assert_eq!(attempts_left, left);
        let expected = if left == 0 {
            BankAccountState::Errored
        } else {
            BankAccountState::Unverified
        };
        assert_eq!(account.state, expected);
    }
    let refused = payouts
        .verify_bank_account(seller_id, account.id, wrong, NOW)
        .await;
    assert_eq!(refused.unwrap_err().code(), "bank_account_not_verifiable");
}

#[tokio::test]
async fn additions_are_idempotent_scoped_to_the_seller_and_limited() {
    let db = TestDatabase::new().unwrap();
    let payouts = setup(&db).await;
    let first = payouts
        .add_bank_account(add(1, 10, ACCOUNT_NUMBER), NOW)
        .await
        .unwrap();
    let retry = payouts
        .add_bank_account(add(1, 10, ACCOUNT_NUMBER), NOW)
        .await
        .unwrap();
    assert_eq!(first, retry);
    let reused = payouts
        .add_bank_account(add(1, 10, "000123454000"), NOW)
        .await;
    assert_eq!(reused.unwrap_err().code(), "idempotency_key_reused");

    // Another seller sees nothing of it and cannot touch it.
    let stranger = SellerId::from_uuid(Uuid::from_u128(2));
    assert!(payouts.bank_accounts(stranger).await.unwrap().is_empty());
    let refused = payouts
        .verify_bank_account(stranger, first.id, [1, 2], NOW)
        .await;
    assert_eq!(refused.unwrap_err().code(), "not_found");
    let refused = payouts.remove_bank_account(stranger, first.id).await;
    assert_eq!(refused.unwrap_err().code(), "not_found");

    // Bad details and names are refused before anything is sent or stored.
    let mut bad = add(1, 11, ACCOUNT_NUMBER);
    bad.details = BankDetails::UsAccount {
        routing_number: "021000022".to_owned(),
        account_number: ACCOUNT_NUMBER.to_owned(),
    };
    assert_eq!(
        payouts.add_bank_account(bad, NOW).await.unwrap_err().code(),
        "routing_number_invalid_checksum"
    );
    let mut unnamed = add(1, 11, ACCOUNT_NUMBER);
    unnamed.holder_name = "   ".to_owned();
    assert_eq!(
        payouts
            .add_bank_account(unnamed, NOW)
            .await
            .unwrap_err()
            .code(),
        "invalid_holder_name"
    );

    // Up to the limit, then refused; removing one makes room.
    for n in 1..BANK_ACCOUNTS_MAX {
        let id = 100 + u128::try_from(n).unwrap();
        payouts
            .add_bank_account(add(1, id, &format!("00012345{n:04}")), NOW)
            .await
            .unwrap();
    }
    let full = payouts
        .add_bank_account(add(1, 99, ACCOUNT_NUMBER), NOW)
        .await;
    assert_eq!(full.unwrap_err().code(), "too_many_bank_accounts");
    let seller_id = SellerId::from_uuid(Uuid::from_u128(1));
    payouts
        .remove_bank_account(seller_id, first.id)
        .await
        .unwrap();
    assert_eq!(
        payouts.bank_accounts(seller_id).await.unwrap().len(),
        BANK_ACCOUNTS_MAX - 1
    );
    payouts
        .add_bank_account(add(1, 99, ACCOUNT_NUMBER), NOW)
        .await
        .unwrap();
}
