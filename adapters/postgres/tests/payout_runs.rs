//! Releases and payouts on the real PostgreSQL, the real ledger and the sandbox rails: funds
//! become available after the country's delay, the daily run pays them out once however many
//! workers run it, the rail's answers move each payout and its money, a failure for a reason
//! in the bank details pauses the schedule until the seller verifies another account, and a
//! refund after release is held back from the next payout.
#![expect(clippy::unwrap_used, reason = "test drivers fail loudly")]
#![allow(
    clippy::arithmetic_side_effects,
    reason = "small constants in test data"
)]

use std::sync::Arc;

use bazaar_domain::Country;
use bazaar_domain::catalog::{BasisPoints, CommissionRule, Region, Seller};
use bazaar_domain::chart::{ChartAccount, ProviderName, SellerId};
use bazaar_domain::events::EventType;
use bazaar_domain::payouts::{
    AddBankAccount, BankAccountId, BankAccountState, BankDetails, CreatePayout, FailureCode,
    PayoutRails, PayoutState, Payouts, Rail, RollingReserve,
};
use bazaar_domain::service::open_seller_accounts;
use bazaar_domain::store::CommerceStore;
use bazaar_ledger::{
    LedgerStore, ManualClock, Metadata, RequestKind, Timestamp, TransferId, TransferRequest,
};
use bazaar_money::{Currency, Money};
use bazaar_payouts::SandboxRails;
use bazaar_postgres::{
    LedgerConfig, PostgresCommerce, PostgresLedger, PostgresPayouts, RetryPolicy, SecretKey,
};
use bazaar_testdb::TestDatabase;
use diesel::prelude::*;
use uuid::Uuid;

type Service = Payouts<PostgresPayouts, Arc<SandboxRails>, PostgresLedger>;

/// 15:00 UTC (10:00 in New York) on a day of March 2026.
fn march(day: u32) -> Timestamp {
    let monday_2nd = 1_772_463_600_i64;
    let days = i64::from(day) - 2;
    Timestamp::from_micros((monday_2nd + days * 86_400) * 1_000_000)
}

struct World {
    db: TestDatabase,
    clock: Arc<ManualClock>,
    ledger: PostgresLedger,
    rails: Arc<SandboxRails>,
    seller: SellerId,
}

impl World {
    async fn new() -> Self {
        let db = TestDatabase::new().unwrap();
        let clock = Arc::new(ManualClock::new(march(2)));
        let ledger = PostgresLedger::connect(LedgerConfig::new(db.url()), clock.clone())
            .await
            .unwrap();
        let commerce = PostgresCommerce::new(db.url(), 2, RetryPolicy::default());
        let seller = Seller {
            id: SellerId::from_uuid(Uuid::from_u128(7)),
            name: "Ada's Shop".to_owned(),
            country: Country::new("US").unwrap(),
            region: Region::new("us").unwrap(),
            settlement_currency: Currency::USD,
            commission: CommissionRule::flat(BasisPoints::new(1_000).unwrap()),
        };
        commerce.create_seller(&seller, march(2)).await.unwrap();
        open_seller_accounts(&ledger, &seller).await.unwrap();
        let rails = Arc::new(SandboxRails::new(db.url(), 2));
        Self {
            db,
            clock,
            ledger,
            rails,
            seller: seller.id,
        }
    }

    /// A payouts service, as one worker has it; every one shares the rails and the key.
    fn service(&self, key: &SecretKey) -> Service {
        Payouts::new(
            PostgresPayouts::new(self.db.url(), 4, RetryPolicy::default(), key.clone()),
            self.rails.clone(),
            self.ledger.clone(),
        )
    }

    fn at(&self, now: Timestamp) -> Timestamp {
        self.clock.set(now);
        now
    }

    /// A capture's seller share: clearing to the seller's pending balance.
    async fn capture(&self, n: u128, minor: i64) -> TransferId {
        let clearing = ChartAccount::PspClearing(ProviderName::new("sandbox").unwrap());
        self.ledger
            .create_account(clearing.new_account(Currency::USD).unwrap())
            .await
            .unwrap()
            .unwrap();
        let id = TransferId::from_u128(1_000 + n);
        self.ledger
            .submit(vec![TransferRequest {
                id,
                kind: RequestKind::Direct {
                    debit_account_id: clearing.id(Currency::USD),
                    credit_account_id: ChartAccount::SellerPending(self.seller).id(Currency::USD),
                    amount: Money::from_minor(minor, Currency::USD),
                },
                metadata: Metadata::new(),
            }])
            .await
            .unwrap()
            .unwrap();
        id
    }

    /// A refund of part of a capture's seller share.
    async fn refund(&self, capture: TransferId, n: u128, minor: i64) {
        self.ledger
            .submit(vec![TransferRequest {
                id: TransferId::from_u128(2_000 + n),
                kind: RequestKind::Reverse {
                    original_id: capture,
                    amount: Money::from_minor(minor, Currency::USD),
                },
                metadata: Metadata::new(),
            }])
            .await
            .unwrap()
            .unwrap();
    }

    /// Adds an ACH account ending in `number` and verifies it with the deposits sent.
    async fn verified_account(&self, payouts: &Service, n: u128, number: &str) -> BankAccountId {
        let details = BankDetails::UsAccount {
            routing_number: "021000021".to_owned(),
            account_number: number.to_owned(),
        };
        let now = self.clock_now();
        let account = payouts
            .add_bank_account(
                AddBankAccount {
                    id: BankAccountId::from_u128(n),
                    seller: self.seller,
                    rail: Rail::Ach,
                    details: details.clone(),
                    holder_name: "Ada Seller".to_owned(),
                },
                now,
            )
            .await
            .unwrap();
        let sent = self
            .rails
            .micro_deposits(Rail::Ach, details, now)
            .await
            .unwrap();
        payouts
            .verify_bank_account(self.seller, account.id, sent.map(|m| m.minor()), now)
            .await
            .unwrap();
        account.id
    }

    fn clock_now(&self) -> Timestamp {
        bazaar_ledger::Clock::now(self.clock.as_ref())
    }

    fn events(&self, event_type: EventType) -> i64 {
        use bazaar_schema::schema::outbox_events;
        let mut conn = PgConnection::establish(self.db.url()).unwrap();
        outbox_events::table
            .filter(outbox_events::event_type.eq(event_type.as_str()))
            .count()
            .get_result(&mut conn)
            .unwrap()
    }
}

/// The seller is paid out only when it asks.
async fn manual_payouts(payouts: &Service, seller: SellerId) {
    let schedule = bazaar_domain::payouts::PayoutSchedule::new(
        bazaar_domain::payouts::Interval::Manual,
        0,
        usd(0),
        Currency::USD,
    )
    .unwrap();
    payouts
        .set_schedule(seller, schedule, march(2))
        .await
        .unwrap();
}

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::USD)
}

#[tokio::test]
async fn funds_release_after_the_delay_and_the_daily_run_pays_them_once() {
    let world = World::new().await;
    let key = SecretKey::generate();
    let payouts = world.service(&key);
    world.verified_account(&payouts, 1, "000123453000").await;
    world.capture(1, 10_000).await;

    // A new seller's funds wait seven business days: captured Monday 2 March, released on
    // Wednesday 11 March, not before.
    let pass = payouts.run(100, world.at(march(10))).await.unwrap();
    assert_eq!((pass.sellers, pass.releases, pass.payouts), (1, 0, 0));
    let balances = payouts.balances(world.seller, Currency::USD).await.unwrap();
    assert_eq!(
        (balances.pending, balances.available),
        (usd(10_000), usd(0))
    );

    // Two workers run the same day's pass at once: one payout, paid once.
    let other = world.service(&key);
    let now = world.at(march(11));
    let (first, second) = tokio::join!(payouts.run(100, now), other.run(100, now));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.failed + second.failed, 0);
    let page = payouts.payouts(world.seller, None, 10).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let payout = &page.items[0];
    assert_eq!(payout.amount, usd(10_000));
    assert_eq!(payout.state, PayoutState::InTransit);
    assert!(payout.rail_reference.is_some());
    let balances = payouts.balances(world.seller, Currency::USD).await.unwrap();
    assert_eq!(balances.pending, usd(0));
    assert_eq!(balances.available, usd(0));
    assert_eq!(balances.in_transit, usd(10_000));

    // The rail pays it at its expected arrival; the money leaves the platform's bank.
    let arrival = payout.expected_at.unwrap();
    let moved = payouts.rail_events(100, world.at(arrival)).await.unwrap();
    assert_eq!(moved, 1);
    assert_eq!(payouts.rail_events(100, arrival).await.unwrap(), 0);
    let paid = payouts
        .payout(world.seller, payout.id)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(paid.state, PayoutState::Paid { .. }));
    assert_eq!(paid.ledger_due, None);
    let balances = payouts.balances(world.seller, Currency::USD).await.unwrap();
    assert_eq!(balances.in_transit, usd(0));
    let (_, transit) = world
        .ledger
        .account(ChartAccount::PayoutsInTransit.id(Currency::USD))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (transit.credits_posted, transit.debits_posted),
        (10_000, 10_000)
    );
    assert_eq!(world.events(EventType::PayoutCreated), 1);
    assert_eq!(world.events(EventType::PayoutPaid), 1);

    // Running the day again changes nothing.
    payouts.run(100, world.at(arrival)).await.unwrap();
    assert_eq!(
        payouts
            .payouts(world.seller, None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

#[tokio::test]
async fn a_failure_in_the_bank_details_returns_the_money_and_pauses_the_schedule() {
    let world = World::new().await;
    let key = SecretKey::generate();
    let payouts = world.service(&key);
    // The sandbox fails payouts to accounts ending in 0006 with invalid_account_number.
    let bad = world.verified_account(&payouts, 1, "000123450006").await;
    world.capture(1, 5_000).await;
    payouts.run(100, world.at(march(11))).await.unwrap();
    let payout = payouts.payouts(world.seller, None, 10).await.unwrap().items[0].clone();
    assert_eq!(payout.bank_account, bad);

    payouts
        .rail_events(100, world.at(payout.expected_at.unwrap()))
        .await
        .unwrap();
    let failed = payouts
        .payout(world.seller, payout.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        failed.state,
        PayoutState::Failed(FailureCode::InvalidAccountNumber)
    );
    // Exactly what it was before the payout.
    let balances = payouts.balances(world.seller, Currency::USD).await.unwrap();
    assert_eq!(balances.available, usd(5_000));
    assert_eq!(balances.in_transit, usd(0));
    let accounts = payouts.bank_accounts(world.seller).await.unwrap();
    assert_eq!(accounts[0].state, BankAccountState::Errored);
    let settings = payouts.settings(world.seller, Currency::USD).await.unwrap();
    assert!(settings.paused);
    assert_eq!(world.events(EventType::PayoutFailed), 1);

    // Paused: the next business day's run pays nothing.
    let pass = payouts.run(100, world.at(march(12))).await.unwrap();
    assert_eq!(pass.payouts, 0);

    // The seller verifies a good account; the schedule resumes and the money goes.
    world.verified_account(&payouts, 2, "000123453000").await;
    assert!(
        !payouts
            .settings(world.seller, Currency::USD)
            .await
            .unwrap()
            .paused
    );
    let pass = payouts.run(100, world.at(march(13))).await.unwrap();
    assert_eq!(pass.payouts, 1);
    let page = payouts.payouts(world.seller, None, 10).await.unwrap();
    assert_eq!(page.items[0].amount, usd(5_000));
    assert_eq!(page.items[0].state, PayoutState::InTransit);
}

#[tokio::test]
async fn a_refund_after_release_is_held_back_and_a_requested_payout_is_idempotent() {
    let world = World::new().await;
    let key = SecretKey::generate();
    let payouts = world.service(&key);
    manual_payouts(&payouts, world.seller).await;
    world.verified_account(&payouts, 1, "000123453000").await;
    let capture = world.capture(1, 8_000).await;
    payouts.run(100, world.at(march(11))).await.unwrap();
    assert_eq!(
        payouts.payable(world.seller, Currency::USD).await.unwrap(),
        usd(8_000)
    );

    // A refund after release takes the pending balance below zero: the seller owes it, and
    // a payout may take only what is left.
    world.refund(capture, 1, 3_000).await;
    let balances = payouts.balances(world.seller, Currency::USD).await.unwrap();
    assert_eq!(balances.pending, usd(-3_000));
    assert_eq!(balances.available, usd(8_000));
    assert_eq!(
        payouts.payable(world.seller, Currency::USD).await.unwrap(),
        usd(5_000)
    );
    let request = |minor, key: &str| CreatePayout {
        seller: world.seller,
        country: Country::new("US").unwrap(),
        amount: usd(minor),
        bank_account: None,
        instant: false,
        idempotency_key: key.to_owned(),
    };
    let now = world.at(march(12));
    let too_much = payouts.create_payout(request(5_001, "a"), now).await;
    assert_eq!(too_much.unwrap_err().code(), "insufficient_balance");
    let payout = payouts
        .create_payout(request(5_000, "b"), now)
        .await
        .unwrap();
    assert_eq!(payout.state, PayoutState::InTransit);
    let again = payouts
        .create_payout(request(5_000, "b"), now)
        .await
        .unwrap();
    assert_eq!(again.id, payout.id);
    let reused = payouts.create_payout(request(4_000, "b"), now).await;
    assert_eq!(reused.unwrap_err().code(), "idempotency_key_reused");

    // The next capture first pays back what is owed.
    world.capture(2, 4_000).await;
    let later = world.at(march(26));
    payouts.run(100, later).await.unwrap();
    let balances = payouts.balances(world.seller, Currency::USD).await.unwrap();
    assert_eq!(balances.pending, usd(0));
    assert_eq!(balances.available, usd(4_000));
    assert_eq!(
        payouts.payable(world.seller, Currency::USD).await.unwrap(),
        usd(4_000)
    );
}

#[tokio::test]
async fn a_rolling_reserve_holds_its_share_for_its_days() {
    let world = World::new().await;
    let key = SecretKey::generate();
    let payouts = world.service(&key);
    payouts
        .set_reserve(
            world.seller,
            Currency::USD,
            Some(RollingReserve {
                share: BasisPoints::new(1_000).unwrap(),
                hold_days: 10,
            }),
            march(2),
        )
        .await
        .unwrap();
    world.capture(1, 10_001).await;
    payouts.run(100, world.at(march(11))).await.unwrap();
    let balances = payouts.balances(world.seller, Currency::USD).await.unwrap();
    // 10% of 100.01 held, rounded down: 10.00; the seller gets the fraction.
    assert_eq!(balances.reserved, usd(1_000));
    assert_eq!(balances.available, usd(9_001));
    payouts.run(100, world.at(march(20))).await.unwrap();
    let balances = payouts.balances(world.seller, Currency::USD).await.unwrap();
    assert_eq!(balances.reserved, usd(1_000));
    payouts.run(100, world.at(march(21))).await.unwrap();
    let balances = payouts.balances(world.seller, Currency::USD).await.unwrap();
    assert_eq!(balances.reserved, usd(0));
    assert_eq!(balances.available, usd(10_001));
}

#[tokio::test]
async fn instant_payouts_take_settled_card_funds_for_a_fee_within_a_daily_limit() {
    let world = World::new().await;
    let key = SecretKey::generate();
    let payouts = world.service(&key);
    let account = world.verified_account(&payouts, 1, "000123453000").await;
    world.capture(1, 2_000_000).await;
    // Released on 11 March; nothing settled by card yet.
    manual_payouts(&payouts, world.seller).await;
    payouts.run(100, world.at(march(11))).await.unwrap();
    let request = |minor, key: &str| CreatePayout {
        seller: world.seller,
        country: Country::new("US").unwrap(),
        amount: usd(minor),
        bank_account: None,
        instant: true,
        idempotency_key: key.to_owned(),
    };
    let now = world.at(march(11));
    let refused = payouts.create_payout(request(10_000, "i0"), now).await;
    assert_eq!(refused.unwrap_err().code(), "insufficient_instant_balance");

    // The provider settled card payments worth 15,000.00 of the seller's share.
    let funds = |n: u128, minor| bazaar_domain::payouts::SettledCardFunds {
        payment: bazaar_domain::payments::PaymentId::from_u128(n),
        seller: world.seller,
        amount: usd(minor),
    };
    payouts
        .record_settled_card_funds(vec![funds(1, 1_000_000), funds(2, 500_000)], now)
        .await
        .unwrap();
    // Recorded again (a report settled twice): counted once.
    payouts
        .record_settled_card_funds(vec![funds(1, 1_000_000)], now)
        .await
        .unwrap();
    let balances = payouts.balances(world.seller, Currency::USD).await.unwrap();
    assert_eq!(balances.instant_available, usd(1_500_000));

    // 1.5% in the United States, on the RTP rail that reaches the ACH account.
    let payout = payouts
        .create_payout(request(600_000, "i1"), now)
        .await
        .unwrap();
    assert_eq!(payout.fee, Some(usd(9_000)));
    assert_eq!(payout.rail, Rail::Rtp);
    assert_eq!(payout.bank_account, account);
    assert_eq!(payout.state, PayoutState::InTransit);
    let balances = payouts.balances(world.seller, Currency::USD).await.unwrap();
    assert_eq!(balances.instant_available, usd(1_500_000 - 609_000));
    assert_eq!(balances.available, usd(2_000_000 - 609_000));
    // The daily limit is 10,000.00: 6,000 taken, 4,000.01 more is refused, 4,000 is not.
    let over = payouts.create_payout(request(400_001, "i2"), now).await;
    assert_eq!(over.unwrap_err().code(), "instant_limit_reached");
    payouts
        .create_payout(request(400_000, "i3"), now)
        .await
        .unwrap();
    // Next local day (New York), the limit starts again.
    let tomorrow = world.at(march(12));
    let next = payouts
        .create_payout(request(100_000, "i4"), tomorrow)
        .await
        .unwrap();
    assert_eq!(next.fee, Some(usd(1_500)));
    // The fee is the platform's revenue.
    let (_, fees) = world
        .ledger
        .account(
            ChartAccount::Revenue(bazaar_domain::chart::Revenue::InstantPayoutFees)
                .id(Currency::USD),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fees.credits_posted, 9_000 + 6_000 + 1_500);
    // Instant payouts arrive within minutes.
    let arrival = payout.expected_at.unwrap();
    assert!(arrival.as_micros() - now.as_micros() <= 30 * 60 * 1_000_000);
}

#[tokio::test]
async fn a_balance_converted_at_a_quote_is_paid_out_in_the_other_currency() {
    use bazaar_domain::fx::{FxRate, Spread, convert};
    use bazaar_domain::payouts::ConvertBalance;
    use std::str::FromStr;

    let world = World::new().await;
    let key = SecretKey::generate();
    let payouts = world.service(&key);
    manual_payouts(&payouts, world.seller).await;
    world.capture(1, 10_000).await;
    payouts.run(100, world.at(march(11))).await.unwrap();
    let rate = FxRate {
        from: Currency::USD,
        to: Currency::EUR,
        mid: rust_decimal::Decimal::from_str("0.9").unwrap(),
        source: "test".into(),
        effective_at: march(11),
    };
    let spread = Spread::new(rust_decimal::Decimal::from_str("0.01").unwrap()).unwrap();
    let conversion = convert(usd(5_000), &rate, spread).unwrap();
    // 50.00 USD at 0.9 less 1%: 44.55 EUR to the seller, 0.45 EUR of spread.
    assert_eq!(
        conversion.client_value,
        Money::from_minor(4_455, Currency::EUR)
    );
    let request = |conversion, key: &str| ConvertBalance {
        seller: world.seller,
        conversion,
        idempotency_key: key.to_owned(),
    };
    payouts
        .convert_balance(request(conversion.clone(), "c1"))
        .await
        .unwrap();
    payouts
        .convert_balance(request(conversion.clone(), "c1"))
        .await
        .unwrap();
    let other = convert(usd(4_000), &rate, spread).unwrap();
    let reused = payouts.convert_balance(request(other, "c1")).await;
    assert_eq!(reused.unwrap_err().code(), "idempotency_key_reused");
    let too_much = convert(usd(5_001), &rate, spread).unwrap();
    let refused = payouts.convert_balance(request(too_much, "c2")).await;
    assert_eq!(refused.unwrap_err().code(), "insufficient_balance");
    let usd_balances = payouts.balances(world.seller, Currency::USD).await.unwrap();
    assert_eq!(usd_balances.available, usd(5_000));
    let eur_balances = payouts.balances(world.seller, Currency::EUR).await.unwrap();
    assert_eq!(
        eur_balances.available,
        Money::from_minor(4_455, Currency::EUR)
    );
    assert_eq!(
        payouts
            .balance_currencies(world.seller, vec![Currency::EUR, Currency::GBP])
            .await
            .unwrap(),
        vec![Currency::EUR]
    );

    // Paid out to a EUR account, by explicit choice of the currency.
    let details = BankDetails::Iban {
        iban: "DE89370400440532013000".to_owned(),
    };
    let now = world.at(march(12));
    let account = payouts
        .add_bank_account(
            AddBankAccount {
                id: BankAccountId::from_u128(9),
                seller: world.seller,
                rail: Rail::SepaCredit,
                details: details.clone(),
                holder_name: "Ada Seller".to_owned(),
            },
            now,
        )
        .await
        .unwrap();
    let sent = world
        .rails
        .micro_deposits(Rail::SepaCredit, details, now)
        .await
        .unwrap();
    payouts
        .verify_bank_account(world.seller, account.id, sent.map(|m| m.minor()), now)
        .await
        .unwrap();
    let payout = payouts
        .create_payout(
            CreatePayout {
                seller: world.seller,
                country: Country::new("US").unwrap(),
                amount: Money::from_minor(4_455, Currency::EUR),
                bank_account: None,
                instant: false,
                idempotency_key: "eur-1".to_owned(),
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(payout.rail, Rail::SepaCredit);
    assert_eq!(payout.state, PayoutState::InTransit);
}

#[tokio::test]
async fn a_payouts_statement_lists_each_release_by_the_entries_behind_it() {
    let world = World::new().await;
    let key = SecretKey::generate();
    let payouts = world.service(&key);
    manual_payouts(&payouts, world.seller).await;
    world.verified_account(&payouts, 1, "000123453000").await;
    let first = world.capture(1, 5_000).await;
    world.at(march(4));
    world.capture(2, 3_000).await;
    // A new seller waits seven business days: the 11th releases the 2nd's capture only.
    payouts.run(100, world.at(march(11))).await.unwrap();
    let balances = payouts.balances(world.seller, Currency::USD).await.unwrap();
    assert_eq!(
        (balances.available, balances.pending),
        (usd(5_000), usd(3_000))
    );
    world.at(march(12));
    world.refund(first, 1, 1_000).await;
    payouts.run(100, world.at(march(16))).await.unwrap();
    let payout = payouts
        .create_payout(
            CreatePayout {
                seller: world.seller,
                country: Country::new("US").unwrap(),
                amount: usd(6_500),
                bank_account: None,
                instant: false,
                idempotency_key: "statement".to_owned(),
            },
            march(16),
        )
        .await
        .unwrap();
    let zone = bazaar_domain::payouts::Zone::of_country(Country::new("US").unwrap()).unwrap();
    let statement = payouts.statement(&payout, zone).await.unwrap().unwrap();
    // The first release is the first capture; the second, the second capture less the
    // refund posted between the two releases; 5.00 stays behind.
    let lines: Vec<(&str, i64)> = statement
        .lines
        .iter()
        .map(|line| (line.kind.as_str(), line.amount.minor()))
        .collect();
    assert_eq!(
        lines,
        [
            ("brought_forward", 0),
            ("other", 5_000),
            ("other", 3_000),
            ("other", -1_000),
            ("carried_forward", -500),
        ]
    );
    assert_eq!(statement.lines[1].transfer, Some(first));
    assert_eq!(statement.total, usd(6_500));
}
