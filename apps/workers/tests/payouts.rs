//! The payouts role, as worker processes run it: two at once pay a seller once, and
//! production mode refuses the role while its only rail connector is the sandbox.

use std::sync::Arc;
use std::time::Duration;

use bazaar_domain::Country;
use bazaar_domain::catalog::{BasisPoints, CommissionRule, Region, Seller};
use bazaar_domain::chart::{ChartAccount, ProviderName, SellerId};
use bazaar_domain::payouts::{
    AddBankAccount, BankAccountId, BankDetails, PayoutRails, PayoutState, Payouts, Rail,
};
use bazaar_domain::service::open_seller_accounts;
use bazaar_domain::store::CommerceStore;
use bazaar_ledger::{
    Clock, LedgerStore, ManualClock, Metadata, RequestKind, Timestamp, TransferId, TransferRequest,
};
use bazaar_money::{Currency, Money};
use bazaar_payouts::SandboxRails;
use bazaar_postgres::{
    LedgerConfig, PostgresCommerce, PostgresLedger, PostgresPayouts, RetryPolicy, SecretKey,
};
use bazaar_testdb::TestDatabase;
use bazaar_vault_client::link::VaultLink;
use bazaar_workers::{Role, StartError, WorkerConfig};
use tokio::sync::watch;
use uuid::Uuid;

/// Monday 2 March 2026, 15:00 UTC.
const MARCH_2: Timestamp = Timestamp::from_micros(1_772_463_600_000_000);
/// Wednesday 11 March 2026, 15:00 UTC: a new US seller's 2 March funds are released.
const MARCH_11: Timestamp = Timestamp::from_micros(1_773_241_200_000_000);

fn config(db: &TestDatabase, key: &SecretKey, name: &str) -> WorkerConfig {
    WorkerConfig {
        database_url: db.url().to_owned(),
        amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned(),
        amqp_prefix: format!("test-{name}"),
        secrets_key: key.to_hex(),
        vault: None,
        roles: vec![Role::Payouts],
        relay_batch: 10,
        relay_idle: Duration::from_millis(10),
        prefetch: 8,
        retry_delays: vec![Duration::from_secs(1)],
        delivery_poll: Duration::from_millis(100),
        delivery_concurrency: 1,
        disable_after: 100,
        retry_first: Duration::from_secs(1),
        relay_lease: Duration::from_secs(3),
        delivery_lease: Duration::from_secs(3),
        allow_loopback: false,
        db_pool: 2,
        log_json: false,
        name: name.to_owned(),
        production: false,
        payout_poll: Duration::from_millis(100),
        payout_run_every: Duration::from_millis(200),
        loan_charge_off_days: 90,
    }
}

#[tokio::test]
async fn two_workers_pay_a_seller_once() {
    let db = TestDatabase::new().unwrap();
    let key = SecretKey::generate();
    let clock = Arc::new(ManualClock::new(MARCH_2));
    let ledger = PostgresLedger::connect(LedgerConfig::new(db.url()), clock.clone())
        .await
        .unwrap();
    let seller = Seller {
        id: SellerId::from_uuid(Uuid::from_u128(9)),
        name: "Ada's Shop".to_owned(),
        country: Country::new("US").unwrap(),
        region: Region::new("us").unwrap(),
        settlement_currency: Currency::USD,
        commission: CommissionRule::flat(BasisPoints::new(1_000).unwrap()),
    };
    PostgresCommerce::new(db.url(), 1, RetryPolicy::default())
        .create_seller(&seller, MARCH_2)
        .await
        .unwrap();
    open_seller_accounts(&ledger, &seller).await.unwrap();
    let clearing = ChartAccount::PspClearing(ProviderName::new("sandbox").unwrap());
    ledger
        .create_account(clearing.new_account(Currency::USD).unwrap())
        .await
        .unwrap()
        .unwrap();
    ledger
        .submit(vec![TransferRequest {
            id: TransferId::from_u128(1),
            kind: RequestKind::Direct {
                debit_account_id: clearing.id(Currency::USD),
                credit_account_id: ChartAccount::SellerPending(seller.id).id(Currency::USD),
                amount: Money::from_minor(25_000, Currency::USD),
            },
            metadata: Metadata::new(),
        }])
        .await
        .unwrap()
        .unwrap();
    let rails = SandboxRails::new(db.url(), 1);
    let payouts = Payouts::new(
        PostgresPayouts::new(db.url(), 2, RetryPolicy::default(), key.clone()),
        rails.clone(),
        ledger.clone(),
    );
    let details = BankDetails::UsAccount {
        routing_number: "021000021".to_owned(),
        account_number: "000123453000".to_owned(),
    };
    let account = payouts
        .add_bank_account(
            AddBankAccount {
                id: BankAccountId::from_u128(1),
                seller: seller.id,
                rail: Rail::Ach,
                details: details.clone(),
                holder_name: "Ada Seller".to_owned(),
            },
            MARCH_2,
        )
        .await
        .unwrap();
    let sent = rails
        .micro_deposits(Rail::Ach, details, MARCH_2)
        .await
        .unwrap();
    payouts
        .verify_bank_account(seller.id, account.id, sent.map(|m| m.minor()), MARCH_2)
        .await
        .unwrap();

    clock.set(MARCH_11);
    let (stop, shutdown) = watch::channel(false);
    let shared: Arc<dyn Clock> = clock.clone();
    let workers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|name| {
            tokio::spawn(bazaar_workers::payouts::run_on(
                config(&db, &key, name),
                key.clone().into(),
                shared.clone(),
                shutdown.clone(),
            ))
        })
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let paid = loop {
        let page = payouts.payouts(seller.id, None, 10).await.unwrap();
        if page
            .items
            .iter()
            .any(|payout| payout.state == PayoutState::InTransit)
        {
            break page;
        }
        assert!(tokio::time::Instant::now() < deadline, "no payout in 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Both workers keep running passes over the same day for a while.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    let page = payouts.payouts(seller.id, None, 10).await.unwrap();
    assert_eq!(page.items.len(), 1, "{page:?}");
    assert_eq!(page.items[0].id, paid.items[0].id);
    assert_eq!(
        page.items[0].amount,
        Money::from_minor(25_000, Currency::USD)
    );
    let (_, transit) = ledger
        .account(ChartAccount::PayoutsInTransit.id(Currency::USD))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(transit.credits_pending, 25_000);
    let balances = payouts.balances(seller.id, Currency::USD).await.unwrap();
    assert_eq!(balances.available, Money::from_minor(0, Currency::USD));
    assert_eq!(
        balances.in_transit,
        Money::from_minor(25_000, Currency::USD)
    );
}

#[tokio::test]
async fn production_refuses_the_payouts_role_on_the_sandbox_rails() {
    let db = TestDatabase::new().unwrap();
    let key = SecretKey::generate();
    let mut config = config(&db, &key, "prod");
    config.production = true;
    let (_stop, shutdown) = watch::channel(false);
    let started = bazaar_workers::run(config, shutdown).await;
    assert!(
        matches!(started, Err(StartError::SandboxRails)),
        "{started:?}"
    );
}

#[tokio::test]
async fn production_refuses_to_run_without_the_vault_or_with_its_development_keys() {
    let db = TestDatabase::new().unwrap();
    let key = SecretKey::generate();
    let mut config = config(&db, &key, "prod-vault");
    config.roles = vec![Role::Relay];
    config.production = true;
    let (_stop, shutdown) = watch::channel(false);
    let started = bazaar_workers::run(config.clone(), shutdown.clone()).await;
    assert!(matches!(started, Err(StartError::NoVault)), "{started:?}");

    let seed = "0202020202020202020202020202020202020202020202020202020202020202";
    let settings = |channel: Option<&'static str>| {
        move |name: &str| match name {
            "BAZAAR_VAULT_URL" => Some("http://127.0.0.1:9".to_owned()),
            "BAZAAR_VAULT_API_SEED" => Some(seed.to_owned()),
            // The Ed25519 public key of the seed 05 05 ... 05.
            "BAZAAR_VAULT_PUBLIC_KEY" => {
                Some("6e7a1cdd29b0b78fd13af4c5598feff4ef2a97166e3ca6f2e4fbfccd80505bf1".to_owned())
            }
            "BAZAAR_VAULT_CHANNEL_KEY" => channel.map(str::to_owned),
            _ => None,
        }
    };
    config.vault = VaultLink::from_env(settings(None)).unwrap();
    let started = bazaar_workers::run(config.clone(), shutdown.clone()).await;
    assert!(
        matches!(
            started,
            Err(StartError::DevelopmentVaultKey("BAZAAR_VAULT_CHANNEL_KEY"))
        ),
        "{started:?}"
    );
    // With every key its own, production starts (and stops at once).
    config.vault = VaultLink::from_env(settings(Some(seed))).unwrap();
    let (stop, shutdown) = watch::channel(true);
    let started = bazaar_workers::run(config, shutdown).await;
    drop(stop);
    assert!(started.is_ok(), "{started:?}");
}
