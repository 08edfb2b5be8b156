//! Two and a half weeks of a marketplace, end to end on the real database and ledger: three
//! sellers settling in EUR, BRL and JPY sell every business day; buyers pay by card; a line
//! is refunded, a payment charged back; the provider settles each day's report; funds are
//! released and paid out daily; one payout fails (`invalid_account_number`) and goes through
//! once the seller fixes the account; one is paid and then returned. At the end, for every
//! seller, what was paid out plus its balances equals its captures less commission, refunds
//! and chargebacks, to the minor unit; every currency balances; the provider's clearing is
//! empty. Finance imports every settlement report and the bank's daily statements, and the
//! three-way reconciliation of the whole period, once its fees are booked, leaves nothing
//! unmatched.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "test drivers fail loudly; amounts are small"
)]

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use bazaar_domain::Country;
use bazaar_domain::catalog::{
    BasisPoints, Buyer, BuyerId, Category, CommissionRule, NewProduct, NewSku, ProductId,
    ProductKind, Region, Seller, SkuId,
};
use bazaar_domain::chart::{ChartAccount, ProviderName, SellerId};
use bazaar_domain::fx::calendar::Date;
use bazaar_domain::fx::{RateBook, Spread};
use bazaar_domain::orders::{CartLine, CheckoutId, TaxRates, TaxSetup};
use bazaar_domain::payments::{CardNumber, MethodDetails};
use bazaar_domain::payments::{JournalType, parse_settlement_report};
use bazaar_domain::payouts::{
    AddBankAccount, BankAccountId, BankDetails, FailureCode, PayoutRails, PayoutState, Payouts,
    PixKey, Rail, ZenginAccountType,
};
use bazaar_domain::reconciliation::{
    Bucket, DifferenceReason, Reconciliations, RunMode, ThreeWayRules,
};
use bazaar_domain::service::{CheckoutCommand, Marketplace, MarketplaceConfig, PayCommand};
use bazaar_domain::store::Requester;
use bazaar_fx::ConfiguredRates;
use bazaar_ledger::{Clock, LedgerStore, ManualClock, Timestamp};
use bazaar_money::{Currency, Money};
use bazaar_payments::SandboxProvider;
use bazaar_payouts::{SandboxBank, SandboxRails};
use bazaar_postgres::{
    LedgerConfig, PostgresCommerce, PostgresLedger, PostgresPayouts, PostgresReconciliation,
    RetryPolicy, SecretKey,
};
use bazaar_testdb::TestDatabase;
use rust_decimal::Decimal;
use uuid::Uuid;

type Market = Marketplace<PostgresCommerce, PostgresLedger, SandboxProvider>;
type Service = Payouts<PostgresPayouts, SandboxRails, PostgresLedger>;

const DAY: i64 = 86_400_000_000;
/// Monday 2 March 2026, 00:00 UTC.
const MONDAY: i64 = 1_772_409_600_000_000;
/// Days of trading, then days the payouts run on without sales.
const TRADING_DAYS: i64 = 14;
const DRAIN_DAYS: i64 = 5;

fn at(day: i64, hour: i64) -> Timestamp {
    Timestamp::from_micros(MONDAY + day * DAY + hour * 3_600_000_000)
}

/// A valid German IBAN for a ten-digit account number at bank 37040044.
fn german_iban(account: &str) -> String {
    let bban = format!("37040044{account}");
    // D = 13, E = 14, then 00 for the check digits.
    let digits = format!("{bban}131400");
    let remainder = digits
        .bytes()
        .fold(0_u32, |acc, b| (acc * 10 + u32::from(b - b'0')) % 97);
    format!("DE{:02}{bban}", 98 - remainder)
}

struct Shop {
    seller: Seller,
    buyer: BuyerId,
    price: Money,
    sku: SkuId,
}

struct World {
    db: TestDatabase,
    clock: Arc<ManualClock>,
    market: Market,
    payouts: Service,
    rails: SandboxRails,
    bank: SandboxBank,
    recon: Reconciliations<PostgresReconciliation, PostgresLedger>,
}

async fn world() -> World {
    let db = TestDatabase::new().unwrap();
    let clock = Arc::new(ManualClock::new(at(0, 0)));
    let ledger = PostgresLedger::connect(LedgerConfig::new(db.url()), clock.clone())
        .await
        .unwrap();
    let store = PostgresCommerce::new(db.url(), 8, RetryPolicy::default());
    let provider = SandboxProvider::new(
        ProviderName::new("sandbox").unwrap(),
        b"fortnight-notification-key".to_vec(),
        clock.clone(),
    );
    let rates = ConfiguredRates::parse("configured", "base=EUR\nBRL 6.0\nJPY 160\n", at(0, 0))
        .unwrap()
        .into_rate_set();
    let market = Marketplace::new(
        store,
        ledger.clone(),
        provider,
        RateBook::new(vec![rates]).unwrap(),
        MarketplaceConfig {
            spread: Spread::new(Decimal::from_str("0.01").unwrap()).unwrap(),
            tax: TaxSetup::flat(TaxRates::default()),
            reservation_secs: 30 * 60,
        },
        clock.clone(),
    );
    let rails = SandboxRails::new(db.url(), 2).with_bank_charge(25);
    let payouts = Payouts::new(
        PostgresPayouts::new(db.url(), 4, RetryPolicy::default(), SecretKey::generate()),
        rails.clone(),
        ledger.clone(),
    );
    World {
        bank: SandboxBank::new(db.url(), 2),
        recon: Reconciliations::new(
            PostgresReconciliation::new(db.url(), 2, RetryPolicy::default()),
            ledger,
        ),
        db,
        clock,
        market,
        payouts,
        rails,
    }
}

async fn open_shop(world: &World, n: u128, country: &str, currency: Currency, price: i64) -> Shop {
    let seller = Seller {
        id: SellerId::from_uuid(Uuid::from_u128(n)),
        name: format!("Shop {country}"),
        country: Country::new(country).unwrap(),
        region: Region::new("eu").unwrap(),
        settlement_currency: currency,
        commission: CommissionRule::flat(BasisPoints::new(1_000).unwrap()),
    };
    world.market.register_seller(&seller).await.unwrap();
    let buyer = BuyerId::from_uuid(Uuid::from_u128(n + 100));
    world
        .market
        .register_buyer(&Buyer {
            id: buyer,
            name: format!("Buyer {country}"),
            country: Country::new(country).unwrap(),
            region: Region::new("eu").unwrap(),
            tax_area: None,
        })
        .await
        .unwrap();
    let sku = SkuId::from_uuid(Uuid::from_u128(n + 200));
    let price = Money::from_minor(price, currency);
    world
        .market
        .add_product(&NewProduct {
            id: ProductId::from_uuid(Uuid::from_u128(n + 300)),
            seller_id: seller.id,
            title: format!("Course from {country}"),
            description: "Recorded lessons".into(),
            category: Category::new("courses").unwrap(),
            kind: ProductKind::Digital,
            tax_code: ProductKind::Digital.default_tax_code(),
            skus: vec![NewSku {
                id: sku,
                code: "default".into(),
                title: "Course".into(),
                stock: None,
                prices: vec![price],
            }],
        })
        .await
        .unwrap();
    Shop {
        seller,
        buyer,
        price,
        sku,
    }
}

async fn add_account(
    world: &World,
    shop: &Shop,
    n: u128,
    rail: Rail,
    details: BankDetails,
) -> BankAccountId {
    let now = world.clock.now();
    let account = world
        .payouts
        .add_bank_account(
            AddBankAccount {
                id: BankAccountId::from_u128(n),
                seller: shop.seller.id,
                rail,
                details: details.clone(),
                holder_name: shop.seller.name.clone(),
            },
            now,
        )
        .await
        .unwrap();
    let sent = world
        .rails
        .micro_deposits(rail, details, now)
        .await
        .unwrap();
    world
        .payouts
        .verify_bank_account(shop.seller.id, account.id, sent.map(|m| m.minor()), now)
        .await
        .unwrap();
    account.id
}

/// A paid sale: returns the order, its line and the payment's provider reference.
async fn sell(
    world: &World,
    shop: &Shop,
    n: u128,
) -> (
    bazaar_domain::orders::OrderId,
    bazaar_domain::orders::LineId,
    String,
) {
    let placed = world
        .market
        .checkout(&CheckoutCommand {
            id: CheckoutId::from_uuid(Uuid::from_u128(10_000 + n)),
            buyer_id: shop.buyer,
            currency: shop.price.currency(),
            lines: vec![CartLine {
                sku_id: shop.sku,
                quantity: 1,
            }],
            idempotency_key: format!("sale-{n}"),
            customer: bazaar_domain::tax::Customer::Consumer,
        })
        .await
        .unwrap();
    let paid = world
        .market
        .pay(&PayCommand {
            checkout_id: placed.plan.id,
            buyer_id: shop.buyer,
            details: MethodDetails::Card {
                number: CardNumber::new("4111 1111 1111 1111").unwrap(),
                expiry_month: 12,
                expiry_year: 2099,
            },
            return_url: "https://shop.example/return".into(),
        })
        .await
        .unwrap();
    let order = &placed.plan.orders[0];
    (
        order.id,
        order.lines[0].id,
        paid.psp_reference.unwrap().to_string(),
    )
}

/// Delivers the provider's due notifications.
async fn deliver(world: &World) {
    for notification in world.market.provider().take_due_notifications() {
        world
            .market
            .handle_notifications(&notification.signature, &notification.body)
            .await
            .unwrap();
        world.market.provider().acknowledge(&notification.event_id);
    }
}

/// Settles every report the provider has for what it booked before `until`.
async fn settle(world: &World, until: Timestamp) {
    let provider = world.market.provider();
    for (batch, report) in provider.settlement_reports(until) {
        let settled = world.market.settle_report(&report).await.unwrap();
        assert!(settled.unknown.is_empty(), "{settled:?}");
        world
            .payouts
            .record_settled_card_funds(settled.card_funds, until)
            .await
            .unwrap();
        provider.acknowledge_settlement(batch);
        // Finance imports the report; the provider pays each currency's total to the bank.
        let now = world.clock.now();
        let name = format!("batch-{batch}.csv");
        world
            .recon
            .import_settlement_report("sandbox", &name, &report, now)
            .await
            .unwrap();
        for row in parse_settlement_report(&report).unwrap() {
            if row.journal == JournalType::MerchantPayout {
                let paid = row.net.checked_neg().unwrap();
                let batch = row.batch;
                world
                    .bank
                    .receive_provider_payout(paid.currency(), paid, now, "sandbox", batch)
                    .await
                    .unwrap();
            }
        }
    }
}

/// Imports the bank's statements of every account for `day` (days since the first Monday).
async fn import_statements(world: &World, day: i64) {
    let date = Date::of_instant(at(day, 0)).unwrap();
    for currency in world.bank.currencies_with_entries().await.unwrap() {
        let xml = world
            .bank
            .statement(currency, date, &format!("{date}T23:00:00"))
            .await
            .unwrap();
        let name = format!("{}-{date}.xml", currency.code());
        world
            .recon
            .import_camt053(&name, &xml, world.clock.now())
            .await
            .unwrap();
    }
}

/// Reconciles the whole period three ways in each currency, books what the ledger lacks,
/// and reconciles again: nothing may be left unmatched.
async fn reconcile_everything(world: &World, last_day: i64) {
    let days = (
        Date::of_instant(at(0, 0)).unwrap(),
        Date::of_instant(at(last_day, 0)).unwrap(),
    );
    let rules = ThreeWayRules::default();
    for currency in [Currency::EUR, Currency::BRL, Currency::JPY] {
        let account = SandboxBank::account(currency);
        let now = world.clock.now();
        let first = world
            .recon
            .run(&account, currency, days, &rules, RunMode::Store, now)
            .await
            .unwrap();
        assert!(first.summary.counts[0] > 0, "{currency}: nothing matched");
        // The bank charges 25 minor units per payout it sends; the ledger learns of it here.
        assert!(
            !first.three_way.to_book.is_empty(),
            "{currency}: no bank charge"
        );
        for (found, reason) in &first.three_way.to_book {
            assert_eq!(*reason, DifferenceReason::BankCharge, "{found:?}");
            assert_eq!(found.difference.minor(), -25, "{found:?}");
        }
        world.recon.book(&first.three_way).await.unwrap();
        let second = world
            .recon
            .run(&account, currency, days, &rules, RunMode::Store, now)
            .await
            .unwrap();
        let open: Vec<_> = second
            .items
            .iter()
            .filter(|item| item.bucket != Bucket::Matched)
            .collect();
        assert!(open.is_empty(), "{currency}: {open:#?}");
    }
    let trials = world.recon.trial_balance(None).await.unwrap();
    for trial in &trials {
        assert!(
            trial.net("expense_bank_charges").unwrap().minor() > 0,
            "{trial:?}"
        );
    }
    assert!(trials.iter().all(|t| t.balanced()), "{trials:#?}");
}

async fn net(world: &World, account: ChartAccount, currency: Currency) -> i64 {
    world
        .market
        .ledger()
        .account(account.id(currency))
        .await
        .unwrap()
        .map_or(0, |(_, b)| b.credits_posted - b.debits_posted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fortnight_of_sales_refunds_a_chargeback_and_daily_payouts_adds_up() {
    let world = world().await;
    let eur = open_shop(&world, 1, "DE", Currency::EUR, 5_000).await;
    let brl = open_shop(&world, 2, "BR", Currency::BRL, 12_000).await;
    let jpy = open_shop(&world, 3, "JP", Currency::JPY, 6_000).await;
    // The EUR seller's first account fails (the sandbox fails IBANs ending in 0006); the JPY
    // seller's first account takes the money and sends it back a day later (0005).
    let failing_iban = german_iban("0532010006");
    add_account(
        &world,
        &eur,
        11,
        Rail::SepaCredit,
        BankDetails::Iban { iban: failing_iban },
    )
    .await;
    add_account(
        &world,
        &brl,
        21,
        Rail::Pix,
        BankDetails::Pix {
            key: PixKey::Email("ana@loja.com.br".into()),
        },
    )
    .await;
    // The BRL seller is paid weekly, on Mondays, and takes an instant payout in between.
    world
        .payouts
        .set_schedule(
            brl.seller.id,
            bazaar_domain::payouts::PayoutSchedule::new(
                bazaar_domain::payouts::Interval::parse("weekly:monday").unwrap(),
                0,
                Money::from_minor(0, Currency::BRL),
                Currency::BRL,
            )
            .unwrap(),
            at(0, 0),
        )
        .await
        .unwrap();
    let zengin = |account: &str| BankDetails::Zengin {
        bank_code: "0001".into(),
        branch_code: "001".into(),
        account_number: account.into(),
        account_type: ZenginAccountType::Ordinary,
    };
    add_account(&world, &jpy, 31, Rail::Zengin, zengin("1230005")).await;

    let shops = [&eur, &brl, &jpy];
    let mut sales: BTreeMap<
        SellerId,
        Vec<(
            bazaar_domain::orders::OrderId,
            bazaar_domain::orders::LineId,
            String,
        )>,
    > = BTreeMap::new();
    let mut fixed_eur = false;
    let mut fixed_jpy = false;
    let mut sale = 0_u128;
    for day in 0..TRADING_DAYS + DRAIN_DAYS {
        // Sales at 09:00 UTC on business days (weekdays here).
        let weekday = day.rem_euclid(7);
        if day < TRADING_DAYS && weekday < 5 {
            world.clock.set(at(day, 9));
            for shop in shops {
                sale += 1;
                let sold = sell(&world, shop, sale).await;
                sales.entry(shop.seller.id).or_default().push(sold);
            }
            deliver(&world).await;
        }
        // Day 2: the EUR seller refunds the first sale in full. Day 4: the first BRL sale is
        // charged back.
        if day == 2 {
            let (order, line, _) = sales[&eur.seller.id][0];
            world.clock.set(at(day, 10));
            world
                .market
                .refund(
                    Requester::Seller(eur.seller.id),
                    order,
                    line,
                    eur.price,
                    "refund-1",
                )
                .await
                .unwrap();
            world.clock.set(at(day, 11));
            deliver(&world).await;
        }
        if day == 4 {
            let reference = sales[&brl.seller.id][0].2.clone();
            world.clock.set(at(day, 10));
            world
                .market
                .provider()
                .chargeback(&bazaar_domain::payments::PspReference::new(&reference).unwrap())
                .unwrap();
            world.clock.set(at(day, 11));
            deliver(&world).await;
        }
        // 12:00 UTC: yesterday's settlement report; 15:00: the payout run and the rails.
        world.clock.set(at(day, 12));
        settle(&world, at(day, 0)).await;
        let now = at(day, 15);
        world.clock.set(now);
        // In the order the payouts role takes them: the rails' news, unfinished payouts, then
        // the day's releases and scheduled payouts.
        world.payouts.rail_events(100, now).await.unwrap();
        world.payouts.resume(100, now).await.unwrap();
        let pass = world.payouts.run(100, now).await.unwrap();
        assert_eq!(pass.failed, 0, "day {day}: {pass:?}");
        if day > 0 {
            import_statements(&world, day - 1).await;
        }

        // Day 11 (a Friday): the BRL seller takes 100.00 at once by Pix, from its settled
        // card funds, for 1%.
        if day == 11 {
            let instant = world
                .payouts
                .create_payout(
                    bazaar_domain::payouts::CreatePayout {
                        seller: brl.seller.id,
                        country: brl.seller.country,
                        amount: Money::from_minor(10_000, Currency::BRL),
                        bank_account: None,
                        instant: true,
                        idempotency_key: "instant-1".into(),
                    },
                    now,
                )
                .await
                .unwrap();
            assert_eq!(instant.fee, Some(Money::from_minor(100, Currency::BRL)));
        }
        // The sellers fix their accounts as soon as they see the failure or the return.
        let settings = world
            .payouts
            .settings(eur.seller.id, Currency::EUR)
            .await
            .unwrap();
        if settings.paused && !fixed_eur {
            let page = world
                .payouts
                .payouts(eur.seller.id, None, 10)
                .await
                .unwrap();
            assert!(
                page.items
                    .iter()
                    .any(|p| p.state == PayoutState::Failed(FailureCode::InvalidAccountNumber))
            );
            add_account(
                &world,
                &eur,
                12,
                Rail::SepaCredit,
                BankDetails::Iban {
                    iban: "DE89370400440532013000".into(),
                },
            )
            .await;
            fixed_eur = true;
        }
        let settings = world
            .payouts
            .settings(jpy.seller.id, Currency::JPY)
            .await
            .unwrap();
        if settings.paused && !fixed_jpy {
            let page = world
                .payouts
                .payouts(jpy.seller.id, None, 10)
                .await
                .unwrap();
            assert!(
                page.items
                    .iter()
                    .any(|p| p.state == PayoutState::Returned(FailureCode::AccountClosed))
            );
            add_account(&world, &jpy, 32, Rail::Zengin, zengin("1234567")).await;
            fixed_jpy = true;
        }
    }
    assert!(fixed_eur, "the EUR payout never failed");
    assert!(fixed_jpy, "the JPY payout never came back");
    // The last sales' report.
    settle(&world, at(TRADING_DAYS + DRAIN_DAYS, 0)).await;
    let last_day = TRADING_DAYS + DRAIN_DAYS;
    import_statements(&world, last_day - 1).await;
    import_statements(&world, last_day).await;
    reconcile_everything(&world, last_day).await;

    for shop in shops {
        let seller = shop.seller.id;
        let currency = shop.price.currency();
        let count = i64::try_from(sales[&seller].len()).unwrap();
        // 10% commission on each sale; a full refund or chargeback takes the seller's share.
        let share = shop.price.minor() - shop.price.minor() / 10;
        let reversed = if seller == jpy.seller.id { 0 } else { share };
        let earned = count * share - reversed;
        let page = world.payouts.payouts(seller, None, 100).await.unwrap();
        let paid: i64 = page
            .items
            .iter()
            .filter(|p| matches!(p.state, PayoutState::Paid { .. }))
            .map(|p| p.amount.minor() + p.fee.map_or(0, |fee| fee.minor()))
            .sum();
        assert!(paid > 0, "{} was never paid", shop.seller.name);
        // Every payout that held money has a statement that adds up to it, and the sales
        // behind the releases are itemized with their orders.
        let zone = bazaar_domain::payouts::Zone::of_country(shop.seller.country).unwrap();
        let mut itemized = 0;
        for payout in &page.items {
            let Some(statement) = world.payouts.statement(payout, zone).await.unwrap() else {
                continue;
            };
            assert_eq!(statement.total, payout.amount, "{payout:?}");
            for line in &statement.lines {
                // Nothing raced here: every release is itemized.
                assert_ne!(line.kind, bazaar_domain::payouts::StatementKind::Release);
                if line.kind == bazaar_domain::payouts::StatementKind::Sale {
                    assert!(line.order.is_some(), "{line:?}");
                    itemized += 1;
                }
            }
        }
        assert!(itemized > 0, "{}: no sale itemized", shop.seller.name);
        let balances = world.payouts.balances(seller, currency).await.unwrap();
        let held = balances.available.minor()
            + balances.pending.minor()
            + balances.reserved.minor()
            + balances.in_transit.minor();
        assert_eq!(
            paid + held,
            earned,
            "{}: paid {paid} (with instant fees) + balances {balances:?} != earned {earned}",
            shop.seller.name
        );
        assert!(balances.instant_available.minor() <= balances.available.minor());
        // The provider's fees on the seller's sales were posted when it settled.
        let fees = net(
            &world,
            ChartAccount::Expense(bazaar_domain::chart::Expense::PspFees),
            currency,
        )
        .await;
        assert!(fees < 0, "{currency}: no PSP fees posted");
        assert_eq!(
            net(
                &world,
                ChartAccount::PspClearing(ProviderName::new("sandbox").unwrap()),
                currency
            )
            .await,
            0,
            "{currency} clearing is settled in full"
        );
    }
    let states: Vec<_> = world
        .payouts
        .payouts(jpy.seller.id, None, 100)
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| p.state.as_str())
        .collect();
    assert!(states.contains(&"returned"), "{states:?}");
    let brl_instant = world
        .payouts
        .payouts(brl.seller.id, None, 100)
        .await
        .unwrap()
        .items
        .iter()
        .filter(|p| p.kind == bazaar_domain::payouts::PayoutKind::Instant)
        .map(|p| p.state)
        .collect::<Vec<_>>();
    assert!(
        matches!(brl_instant[..], [PayoutState::Paid { .. }]),
        "{brl_instant:?}"
    );

    assert_eq!(
        world.db.unbalanced_currencies().unwrap(),
        Vec::<String>::new(),
        "every currency balances"
    );
}
