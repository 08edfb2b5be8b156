//! The commerce flows end to end against real PostgreSQL, the durable ledger and the
//! sandbox payment provider: cross-currency checkout paid by Pix, refunds, settlement,
//! an expiring voucher, concurrent buyers racing for the last units, and bad input.
#![expect(clippy::unwrap_used, reason = "test drivers fail loudly")]
#![expect(
    clippy::arithmetic_side_effects,
    reason = "expected amounts are computed from small test values"
)]

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use bazaar_domain::Country;
use bazaar_domain::catalog::{
    BasisPoints, Buyer, BuyerId, Category, CommissionRule, NewProduct, NewSku, ProductId,
    ProductKind, ProductQuery, ProductSummary, Region, Review, Seller, SkuId,
};
use bazaar_domain::chart::{ChartAccount, Jurisdiction, ProviderName, Revenue, SellerId};
use bazaar_domain::error::CommerceError;
use bazaar_domain::fx::{RateBook, Spread};
use bazaar_domain::orders::{CartLine, CheckoutId, CheckoutState, OrderState, TaxRates, TaxSetup};
use bazaar_domain::payments::{Action, MethodDetails, MethodType, PaymentStatus, Settlement};
use bazaar_domain::service::{
    CheckoutCommand, Marketplace, MarketplaceConfig, PayCommand, SellerAccount,
};
use bazaar_domain::store::{CommerceStore, PaymentEvent, Requester};
use bazaar_fx::ConfiguredRates;
use bazaar_ledger::{Clock, LedgerStore, ManualClock, Timestamp};
use bazaar_money::{Currency, Money};
use bazaar_payments::SandboxProvider;
use bazaar_postgres::{LedgerConfig, PostgresCommerce, PostgresLedger, RetryPolicy, SystemClock};
use bazaar_testdb::TestDatabase;
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{BigInt, Text};
use rust_decimal::Decimal;
use uuid::Uuid;

/// The ECB's euro reference rates of 18 July 2022 (see the fx adapter's test data).
const ECB_DAILY: &[u8] = include_bytes!("../../fx/tests/data/eurofxref-daily-2022-07-18.xml");
const HMAC_KEY: &[u8] = b"sandbox-notification-key";

type Market = Marketplace<PostgresCommerce, PostgresLedger, SandboxProvider>;

mod checkout_groups;
mod tax_flows;

struct World {
    db: TestDatabase,
    market: Arc<Market>,
    clock: Arc<ManualClock>,
}

fn dec(value: &str) -> Decimal {
    Decimal::from_str(value).unwrap()
}

async fn world() -> World {
    let mut taxes = TaxRates::default();
    taxes.0.insert(
        Country::new("BR").unwrap(),
        BasisPoints::new(1_700).unwrap(),
    );
    world_with(TaxSetup::flat(taxes)).await
}

async fn world_with(tax: TaxSetup) -> World {
    let db = TestDatabase::new().unwrap();
    let ledger = PostgresLedger::connect(LedgerConfig::new(db.url()), Arc::new(SystemClock))
        .await
        .unwrap();
    let store = PostgresCommerce::new(db.url(), 8, RetryPolicy::default());
    let clock = Arc::new(ManualClock::new(Timestamp::from_micros(
        1_763_000_000_000_000,
    )));
    let provider = SandboxProvider::new(
        ProviderName::new("sandbox").unwrap(),
        HMAC_KEY.to_vec(),
        clock.clone(),
    );
    let ecb = bazaar_fx::parse_daily(ECB_DAILY).unwrap();
    let configured =
        ConfiguredRates::parse("configured", "base=USD\nKWD 0.3075\n", ecb.effective_at)
            .unwrap()
            .into_rate_set();
    let rates = RateBook::new(vec![ecb, configured]).unwrap();
    let config = MarketplaceConfig {
        spread: Spread::new(dec("0.02")).unwrap(),
        tax,
        reservation_secs: 30 * 60,
    };
    let market = Marketplace::new(store, ledger, provider, rates, config, clock.clone());
    World {
        db,
        market: Arc::new(market),
        clock,
    }
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn seller(n: u128, country: &str, currency: Currency, commission: u16) -> Seller {
    Seller {
        id: SellerId::from_uuid(id(n)),
        name: format!("Seller {n}"),
        country: Country::new(country).unwrap(),
        region: Region::new("eu").unwrap(),
        settlement_currency: currency,
        commission: CommissionRule::flat(BasisPoints::new(commission).unwrap()),
    }
}

fn buyer(n: u128, country: &str) -> Buyer {
    Buyer {
        id: BuyerId::from_uuid(id(n)),
        name: format!("Buyer {n}"),
        country: Country::new(country).unwrap(),
        region: Region::new("sa").unwrap(),
        tax_area: None,
    }
}

fn product(n: u128, seller: &Seller, stock: Option<u32>, prices: Vec<Money>) -> NewProduct {
    NewProduct {
        id: ProductId::from_uuid(id(n)),
        seller_id: seller.id,
        title: format!("Product {n}"),
        description: "A fine thing".into(),
        category: Category::new("books").unwrap(),
        kind: if stock.is_some() {
            ProductKind::Physical
        } else {
            ProductKind::Digital
        },
        tax_code: if stock.is_some() {
            ProductKind::Physical.default_tax_code()
        } else {
            ProductKind::Digital.default_tax_code()
        },
        skus: vec![NewSku {
            id: SkuId::from_uuid(id(n + 1)),
            code: "default".into(),
            title: format!("Product {n}"),
            stock,
            prices,
        }],
    }
}

/// Buyers 1,000 to 1,000 + `count` - 1, all in Germany.
async fn register_german_buyers(market: &Market, count: u128) {
    for n in 0..count {
        market
            .register_buyer(&buyer(1_000 + n, "DE"))
            .await
            .unwrap();
    }
}

fn line(sku: u128, quantity: u32) -> CartLine {
    CartLine {
        sku_id: SkuId::from_uuid(id(sku)),
        quantity,
    }
}

fn pix() -> MethodDetails {
    MethodDetails::Other {
        method: MethodType::Pix,
        extra: String::new(),
    }
}

/// Delivers every notification the sandbox has due; returns how many events were new.
async fn deliver(world: &World) -> usize {
    let mut applied = 0;
    for notification in world.market.provider().take_due_notifications() {
        applied += world
            .market
            .handle_notifications(&notification.signature, &notification.body)
            .await
            .unwrap();
        world.market.provider().acknowledge(&notification.event_id);
    }
    applied
}

/// Every currency's posted debits equal its posted credits across all accounts.
fn assert_every_currency_balances(db: &TestDatabase) {
    assert_eq!(db.unbalanced_currencies().unwrap(), Vec::<String>::new());
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(db: &TestDatabase, sql: &str) -> i64 {
    let mut conn = db.connect().unwrap();
    sql_query(sql).get_result::<Count>(&mut conn).unwrap().n
}

#[derive(QueryableByName)]
struct EventTypeCount {
    #[diesel(sql_type = diesel::sql_types::Text)]
    event_type: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The outbox, as event type -> how many; every event names the seller it concerns.
fn outbox(db: &TestDatabase) -> BTreeMap<String, i64> {
    let mut conn = db.connect().unwrap();
    assert_eq!(
        count(
            db,
            "SELECT count(*) AS n FROM outbox_events WHERE seller_id IS NULL"
        ),
        0
    );
    sql_query("SELECT event_type, count(*) AS n FROM outbox_events GROUP BY event_type")
        .load::<EventTypeCount>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|row| (row.event_type, row.n))
        .collect()
}

fn events(expected: &[(&str, i64)]) -> BTreeMap<String, i64> {
    expected
        .iter()
        .map(|(t, n)| ((*t).to_owned(), *n))
        .collect()
}

/// An account's posted balance seen from its normal side (0 if never opened).
async fn balance(market: &Market, account: ChartAccount, currency: Currency) -> i64 {
    match market.ledger().account(account.id(currency)).await.unwrap() {
        Some((account, balance)) => match account.normal_side {
            bazaar_ledger::Side::Credit => balance.credits_posted - balance.debits_posted,
            bazaar_ledger::Side::Debit => balance.debits_posted - balance.credits_posted,
        },
        None => 0,
    }
}

/// What a seller earns from a BRL line, computed here from the published rates and the
/// documented rules: tax out (inclusive), convert at mid less spread (rounded down),
/// commission rounded half-up.
struct Expected {
    tax: i64,
    seller: i64,
    commission: i64,
    spread: i64,
}

fn expected(total_brl: i64, tax_bps: i64, eur_per_unit: Decimal, commission_bps: i64) -> Expected {
    let tax = (Decimal::from(total_brl) * Decimal::from(tax_bps) / Decimal::from(10_000 + tax_bps))
        .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let net = Decimal::from(total_brl) - tax;
    // BRL and EUR/USD both have 2 decimals, so minor units convert at the same rate.
    let mid = (eur_per_unit / dec("5.4505")).round_dp(10);
    let client = (net * mid * dec("0.98")).trunc();
    let spread = (net * mid * dec("0.02"))
        .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointNearestEven);
    let commission = (client * Decimal::from(commission_bps) / Decimal::from(10_000))
        .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let minor = |d: Decimal| i64::try_from(d).unwrap();
    Expected {
        tax: minor(tax),
        seller: minor(client - commission),
        commission: minor(commission),
        spread: minor(spread),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brazilian_buyer_pays_two_foreign_sellers_by_pix_and_gets_one_line_refunded() {
    let world = world().await;
    let market = &world.market;
    let eur_seller = seller(1, "DE", Currency::EUR, 1_000);
    let usd_seller = seller(2, "US", Currency::USD, 1_200);
    market.register_seller(&eur_seller).await.unwrap();
    market.register_seller(&usd_seller).await.unwrap();
    market.register_buyer(&buyer(3, "BR")).await.unwrap();
    // A book listed in EUR and BRL; a gadget listed in USD only (shown in BRL at mid rate).
    market
        .add_product(&product(
            100,
            &eur_seller,
            Some(10),
            vec![
                Money::from_minor(2_000, Currency::EUR),
                Money::from_minor(11_000, Currency::BRL),
            ],
        ))
        .await
        .unwrap();
    market
        .add_product(&product(
            200,
            &usd_seller,
            Some(10),
            vec![Money::from_minor(3_000, Currency::USD)],
        ))
        .await
        .unwrap();

    let command = CheckoutCommand {
        id: CheckoutId::from_uuid(id(500)),
        buyer_id: BuyerId::from_uuid(id(3)),
        currency: Currency::BRL,
        lines: vec![line(101, 2), line(201, 1)],
        idempotency_key: "cart-1".into(),
        customer: bazaar_domain::tax::Customer::Consumer,
    };
    let checkout = market.checkout(&command).await.unwrap();
    // 30.00 USD at 5.4505 / 1.0131 BRL per USD = 161.40 BRL (half-up).
    let gadget_brl = (dec("3000") * (dec("5.4505") / dec("1.0131")).round_dp(10))
        .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let gadget_brl = i64::try_from(gadget_brl).unwrap();
    assert_eq!(checkout.plan.total.minor(), 22_000 + gadget_brl);
    assert_eq!(checkout.plan.orders.len(), 2);
    // The same request again is the same checkout, read back from what was stored (which
    // the first answer, built from the plan, must equal); another request with the key is
    // refused.
    let again = market.checkout(&command).await.unwrap();
    assert_eq!(again, checkout);
    assert_eq!(
        market
            .checkout_for(command.buyer_id, checkout.plan.id)
            .await
            .unwrap(),
        Some(checkout.clone())
    );
    let reused = market
        .checkout(&CheckoutCommand {
            lines: vec![line(101, 1)],
            ..command.clone()
        })
        .await;
    assert_eq!(reused.unwrap_err(), CommerceError::IdempotencyKeyReused);
    assert_eq!(count(&world.db, "SELECT count(*) AS n FROM checkouts"), 1);

    // Pix is offered in Brazil for this amount; Konbini is not.
    let methods = market.payment_methods(&Country::new("BR").unwrap(), checkout.plan.total);
    assert!(methods.iter().any(|m| m.method == MethodType::Pix));
    assert!(!methods.iter().any(|m| m.method == MethodType::Konbini));

    let payment = market
        .pay(&PayCommand {
            checkout_id: checkout.plan.id,
            buyer_id: BuyerId::from_uuid(id(3)),
            details: pix(),
            return_url: "https://shop.example/return".into(),
        })
        .await
        .unwrap();
    let Some(Action::QrCode { .. }) = payment.action else {
        panic!("Pix answers with a QR code: {payment:?}");
    };
    let reference = payment.psp_reference.clone().unwrap();
    // Nothing has moved yet.
    assert_eq!(
        count(&world.db, "SELECT count(*) AS n FROM ledger_transfers"),
        0
    );

    // The buyer pays; the confirmation arrives asynchronously, a few seconds later.
    market.provider().pay_qr(&reference).unwrap();
    assert_eq!(deliver(&world).await, 0, "not due yet");
    world.clock.advance_secs(30);
    let due = market.provider().take_due_notifications();
    assert!(!due.is_empty());
    for notification in &due {
        market
            .handle_notifications(&notification.signature, &notification.body)
            .await
            .unwrap();
        market.provider().acknowledge(&notification.event_id);
        // A redelivery applies nothing.
        assert_eq!(
            market
                .handle_notifications(&notification.signature, &notification.body)
                .await
                .unwrap(),
            0
        );
    }
    // A forged notification is refused.
    let forged = market
        .handle_notifications("00", &due.first().unwrap().body)
        .await;
    assert_eq!(forged.unwrap_err().code(), "notification_signature_invalid");

    let paid = market
        .store()
        .checkout(checkout.plan.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(paid.state, CheckoutState::Paid);
    assert_eq!(
        count(
            &world.db,
            "SELECT on_hand::INT8 AS n FROM skus WHERE id = '00000000-0000-0000-0000-000000000065'"
        ),
        8
    );

    let eur = expected(22_000, 1_700, Decimal::ONE, 1_000);
    let usd = expected(gadget_brl, 1_700, dec("1.0131"), 1_200);
    assert_eq!(
        market.seller_balances(eur_seller.id).await.unwrap().pending,
        Money::from_minor(eur.seller, Currency::EUR)
    );
    assert_eq!(
        market.seller_balances(usd_seller.id).await.unwrap().pending,
        Money::from_minor(usd.seller, Currency::USD)
    );
    // The seller's own history says the same, entry by entry.
    let history = market
        .seller_ledger(eur_seller.id, SellerAccount::Pending, None, 100)
        .await
        .unwrap();
    assert!(!history.has_next);
    assert_eq!(history.items.len(), 1);
    assert!(history.items[0].credit);
    assert_eq!(
        history.items[0].balance_after,
        Money::from_minor(eur.seller, Currency::EUR)
    );
    assert_eq!(
        market
            .seller_ledger(eur_seller.id, SellerAccount::Pending, None, 101)
            .await
            .unwrap_err()
            .code(),
        "invalid_input"
    );
    let commission = ChartAccount::Revenue(Revenue::Commission);
    let fx_spread = ChartAccount::Revenue(Revenue::FxSpread);
    assert_eq!(
        balance(market, commission.clone(), Currency::EUR).await,
        eur.commission
    );
    assert_eq!(
        balance(market, commission.clone(), Currency::USD).await,
        usd.commission
    );
    assert_eq!(
        balance(market, fx_spread.clone(), Currency::EUR).await,
        eur.spread
    );
    assert_eq!(
        balance(market, fx_spread.clone(), Currency::USD).await,
        usd.spread
    );
    let tax = ChartAccount::TaxPayable(Jurisdiction::new("BR").unwrap());
    assert_eq!(
        balance(market, tax.clone(), Currency::BRL).await,
        eur.tax + usd.tax
    );
    assert_every_currency_balances(&world.db);
    // The rate used is stored with the transfers.
    assert!(
        count(
            &world.db,
            "SELECT count(*) AS n FROM ledger_transfers WHERE metadata->>'fx_rate' IS NOT NULL AND metadata->>'fx_source' = 'ecb'"
        ) > 0
    );

    // The USD seller refunds its line in full.
    let usd_order = paid
        .plan
        .orders
        .iter()
        .find(|o| o.seller_id == usd_seller.id)
        .unwrap();
    let usd_line = usd_order.lines.first().unwrap();
    // Another seller cannot refund it.
    let stranger = market
        .refund(
            Requester::Seller(eur_seller.id),
            usd_order.id,
            usd_line.id,
            usd_line.total,
            "refund-x",
        )
        .await;
    assert_eq!(stranger.unwrap_err(), CommerceError::NotFound("order"));
    let too_much = market
        .refund(
            Requester::Seller(usd_seller.id),
            usd_order.id,
            usd_line.id,
            Money::from_minor(usd_line.total.minor() + 1, Currency::BRL),
            "refund-too-much",
        )
        .await;
    assert_eq!(
        too_much.unwrap_err(),
        CommerceError::RefundExceedsRemaining {
            remaining_minor: usd_line.total.minor()
        }
    );
    market
        .refund(
            Requester::Seller(usd_seller.id),
            usd_order.id,
            usd_line.id,
            usd_line.total,
            "refund-1",
        )
        .await
        .unwrap();
    // The other seller of the checkout replaying that key is told nothing about it.
    let replayed = market
        .refund(
            Requester::Seller(eur_seller.id),
            usd_order.id,
            usd_line.id,
            usd_line.total,
            "refund-1",
        )
        .await;
    assert_eq!(replayed.unwrap_err(), CommerceError::NotFound("order"));
    // Nothing posts until the provider confirms.
    assert_eq!(
        market.seller_balances(usd_seller.id).await.unwrap().pending,
        Money::from_minor(usd.seller, Currency::USD)
    );
    world.clock.advance_secs(60);
    assert!(deliver(&world).await > 0);
    assert_eq!(
        market.seller_balances(usd_seller.id).await.unwrap().pending,
        Money::zero(Currency::USD)
    );
    assert_eq!(balance(market, commission.clone(), Currency::USD).await, 0);
    assert_eq!(balance(market, fx_spread.clone(), Currency::USD).await, 0);
    assert_eq!(balance(market, tax, Currency::BRL).await, eur.tax);
    // The EUR seller's earnings and the platform's EUR revenue are untouched.
    assert_eq!(
        market.seller_balances(eur_seller.id).await.unwrap().pending,
        Money::from_minor(eur.seller, Currency::EUR)
    );
    assert_eq!(
        balance(market, commission, Currency::EUR).await,
        eur.commission
    );
    assert_eq!(balance(market, fx_spread, Currency::EUR).await, eur.spread);
    assert_every_currency_balances(&world.db);
    // The line is fully refunded: nothing more can be.
    let more = market
        .refund(
            Requester::Platform,
            usd_order.id,
            usd_line.id,
            Money::from_minor(1, Currency::BRL),
            "refund-2",
        )
        .await;
    assert_eq!(
        more.unwrap_err(),
        CommerceError::RefundExceedsRemaining { remaining_minor: 0 }
    );

    // The provider settles what is left, less a fee: clearing goes to the bank and fees.
    let remaining = checkout.plan.total.minor() - usd_line.total.minor();
    market
        .settle(
            payment.id,
            &Settlement {
                psp_reference: reference,
                gross: Money::from_minor(remaining, Currency::BRL),
                fee: Money::from_minor(150, Currency::BRL),
            },
        )
        .await
        .unwrap();
    let psp = ChartAccount::PspClearing(ProviderName::new("sandbox").unwrap());
    assert_eq!(balance(market, psp, Currency::BRL).await, 0);
    assert_eq!(
        balance(market, ChartAccount::Bank, Currency::BRL).await,
        remaining - 150
    );
    assert_every_currency_balances(&world.db);
    // Every posting was applied; none is left owed.
    assert_eq!(
        count(
            &world.db,
            "SELECT count(*) AS n FROM ledger_intents WHERE applied_at IS NULL"
        ),
        0
    );
    // Each change wrote its events in its own transaction, one per seller concerned, once
    // (the redelivered notification wrote none).
    assert_eq!(
        outbox(&world.db),
        events(&[
            ("order.created", 2),
            ("order.paid", 2),
            ("payment.captured", 2),
            ("refund.requested", 1),
            ("refund.succeeded", 1),
        ])
    );
    // The creation events, built from the plan, say what the order rows said then.
    assert_eq!(
        count(
            &world.db,
            "SELECT count(*) AS n FROM outbox_events e JOIN orders o ON o.id = e.resource_id \
             WHERE e.event_type = 'order.created' AND e.seller_id = o.seller_id \
               AND e.payload = jsonb_build_object('order_id', o.id, \
                 'checkout_id', o.checkout_id, 'seller_id', o.seller_id, \
                 'state', 'awaiting_payment', 'currency', o.currency::TEXT, \
                 'total_minor', o.total_minor, \
                 'settlement_currency', o.settlement_currency::TEXT)"
        ),
        2
    );

    // Keys belong to the seller that chose them: the EUR seller's own "refund-1" is a
    // refund of its own, and replaying it returns that refund, not the USD seller's.
    let eur_order = paid
        .plan
        .orders
        .iter()
        .find(|o| o.seller_id == eur_seller.id)
        .unwrap();
    let eur_line = eur_order.lines.first().unwrap();
    let small = Money::from_minor(100, Currency::BRL);
    let own = market
        .refund(
            Requester::Seller(eur_seller.id),
            eur_order.id,
            eur_line.id,
            small,
            "refund-1",
        )
        .await
        .unwrap();
    assert_eq!(own.line_id, eur_line.id);
    assert_eq!(own.amount, small);
    let again = market
        .refund(
            Requester::Seller(eur_seller.id),
            eur_order.id,
            eur_line.id,
            small,
            "refund-1",
        )
        .await
        .unwrap();
    assert_eq!(again.id, own.id);
    assert_eq!(
        count(
            &world.db,
            "SELECT count(*) AS n FROM refunds WHERE NOT chargeback"
        ),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_konbini_voucher_expires_moves_no_money_and_returns_the_stock() {
    let world = world().await;
    let market = &world.market;
    let jp_seller = seller(1, "JP", Currency::JPY, 1_000);
    market.register_seller(&jp_seller).await.unwrap();
    market.register_buyer(&buyer(3, "JP")).await.unwrap();
    market
        .add_product(&product(
            100,
            &jp_seller,
            Some(3),
            vec![Money::from_minor(1_500, Currency::JPY)],
        ))
        .await
        .unwrap();
    // Every change to what the product shows is noted in the catalogue's change feed: its
    // creation, the stock a checkout holds, and the stock coming back.
    let jp_product = ProductId::from_uuid(id(100));
    let store = market.store();
    let changed = |since: Timestamp| async move {
        let changes = store.catalog_changes(since, 10).await.unwrap();
        let mut products: Vec<ProductId> = changes.iter().map(|change| change.product).collect();
        products.dedup();
        products
    };
    assert_eq!(changed(Timestamp::from_micros(0)).await, [jp_product]);
    let listed = world.clock.now();
    assert_eq!(changed(listed).await, []);
    world.clock.advance_secs(1);
    let checkout = market
        .checkout(&CheckoutCommand {
            id: CheckoutId::from_uuid(id(500)),
            buyer_id: BuyerId::from_uuid(id(3)),
            currency: Currency::JPY,
            lines: vec![line(101, 2)],
            idempotency_key: "cart-jp".into(),
            customer: bazaar_domain::tax::Customer::Consumer,
        })
        .await
        .unwrap();
    assert_eq!(checkout.plan.total, Money::from_minor(3_000, Currency::JPY));
    let available = |world: &World| {
        count(
            &world.db,
            "SELECT (on_hand - reserved)::INT8 AS n FROM skus",
        )
    };
    assert_eq!(available(&world), 1);
    assert_eq!(
        changed(listed).await,
        [jp_product],
        "the reservation is noted"
    );
    let payment = market
        .pay(&PayCommand {
            checkout_id: checkout.plan.id,
            buyer_id: BuyerId::from_uuid(id(3)),
            details: MethodDetails::Other {
                method: MethodType::Konbini,
                extra: String::new(),
            },
            return_url: "https://shop.example/return".into(),
        })
        .await
        .unwrap();
    let Some(Action::Voucher { expires_at, .. }) = payment.action else {
        panic!("Konbini answers with a voucher: {payment:?}");
    };
    // Days pass; the stock stays held while the voucher can still be paid.
    world.clock.advance_secs(2 * 24 * 3600);
    assert_eq!(market.expire_checkouts(100).await.unwrap(), 0);
    assert_eq!(deliver(&world).await, 0);
    assert_eq!(available(&world), 1);
    let quiet = world.clock.now();
    assert_eq!(changed(quiet).await, []);
    // The voucher lapses unpaid.
    world.clock.set(expires_at.saturating_add_secs(1));
    assert!(deliver(&world).await > 0);
    let cancelled = market
        .store()
        .checkout(checkout.plan.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cancelled.state, CheckoutState::Cancelled);
    assert!(
        cancelled
            .order_states
            .iter()
            .all(|(_, s)| *s == OrderState::Cancelled)
    );
    assert_eq!(available(&world), 3, "the stock came back");
    assert_eq!(changed(quiet).await, [jp_product], "the release is noted");
    // Old changes are deleted; newer ones stay.
    let forgotten = market.store().forget_changes(quiet).await.unwrap();
    assert_eq!(forgotten, 2, "the creation and the reservation");
    assert_eq!(changed(Timestamp::from_micros(0)).await, [jp_product]);
    assert_eq!(count(&world.db, "SELECT reserved::INT8 AS n FROM skus"), 0);
    assert_eq!(
        count(&world.db, "SELECT count(*) AS n FROM ledger_transfers"),
        0,
        "no money moved"
    );
    assert_eq!(
        market.seller_balances(jp_seller.id).await.unwrap().pending,
        Money::zero(Currency::JPY)
    );
    assert_eq!(
        outbox(&world.db),
        events(&[
            ("order.created", 1),
            ("payment.failed", 1),
            ("order.cancelled", 1)
        ])
    );
    // Paying the expired checkout again is refused as stale.
    let clock_now = world.clock.now();
    assert!(clock_now > expires_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sellers_read_back_with_their_category_rates_in_one_statement() {
    let world = world().await;
    let market = &world.market;
    let mut rated = seller(1, "DE", Currency::EUR, 1_000);
    for (category, bps) in [("books", 500), ("courses.programming", 2_000)] {
        rated.commission.by_category.insert(
            Category::new(category).unwrap(),
            BasisPoints::new(bps).unwrap(),
        );
    }
    let flat = seller(2, "FR", Currency::USD, 1_500);
    let mut other = seller(3, "NL", Currency::EUR, 700);
    other.commission.by_category.insert(
        Category::new("books").unwrap(),
        BasisPoints::new(300).unwrap(),
    );
    for shop in [&rated, &flat, &other] {
        market.register_seller(shop).await.unwrap();
    }
    let store = market.store();
    let mut read = store
        .sellers(&[other.id, rated.id, flat.id, SellerId::from_uuid(id(99))])
        .await
        .unwrap();
    read.sort_by_key(|s| s.id);
    assert_eq!(read, [rated.clone(), flat.clone(), other.clone()]);
    assert_eq!(store.seller(rated.id).await.unwrap(), Some(rated));
    assert_eq!(store.seller(flat.id).await.unwrap(), Some(flat));
    assert_eq!(store.sellers(&[]).await.unwrap(), []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_buyers_never_oversell_the_last_units() {
    let world = world().await;
    let market = &world.market;
    let shop = seller(1, "DE", Currency::EUR, 1_000);
    market.register_seller(&shop).await.unwrap();
    market
        .add_product(&product(
            100,
            &shop,
            Some(5),
            vec![Money::from_minor(999, Currency::EUR)],
        ))
        .await
        .unwrap();
    let buyers: u128 = 24;
    register_german_buyers(market, buyers).await;
    let mut tasks = Vec::new();
    for n in 0..buyers {
        let market = world.market.clone();
        tasks.push(tokio::spawn(async move {
            market
                .checkout(&CheckoutCommand {
                    id: CheckoutId::from_uuid(id(5_000 + n)),
                    buyer_id: BuyerId::from_uuid(id(1_000 + n)),
                    currency: Currency::EUR,
                    lines: vec![line(101, 1)],
                    idempotency_key: format!("race-{n}"),
                    customer: bazaar_domain::tax::Customer::Consumer,
                })
                .await
        }));
    }
    let mut won = 0;
    let mut sold_out = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => won += 1,
            Err(CommerceError::OutOfStock { .. }) => sold_out += 1,
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(won, 5);
    assert_eq!(sold_out, buyers - 5);
    assert_eq!(count(&world.db, "SELECT reserved::INT8 AS n FROM skus"), 5);
    assert_eq!(count(&world.db, "SELECT count(*) AS n FROM checkouts"), 5);
    // A checkout that rolled back left no event behind; each winner's left one.
    assert_eq!(outbox(&world.db), events(&[("order.created", 5)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_typed_errors_and_writes_nothing() {
    let world = world().await;
    let market = &world.market;
    let shop = seller(1, "DE", Currency::EUR, 1_000);
    market.register_seller(&shop).await.unwrap();
    market.register_buyer(&buyer(3, "DE")).await.unwrap();
    market
        .add_product(&product(
            100,
            &shop,
            Some(5),
            vec![Money::from_minor(999, Currency::EUR)],
        ))
        .await
        .unwrap();
    market
        .add_product(&product(
            200,
            &shop,
            Some(1),
            vec![Money::from_minor(500, Currency::EUR)],
        ))
        .await
        .unwrap();
    let command = |lines: Vec<CartLine>, currency: Currency, key: &str| CheckoutCommand {
        id: CheckoutId::from_uuid(Uuid::new_v4()),
        buyer_id: BuyerId::from_uuid(id(3)),
        currency,
        lines,
        idempotency_key: key.into(),
        customer: bazaar_domain::tax::Customer::Consumer,
    };
    let checkout = |c: CheckoutCommand| {
        let market = world.market.clone();
        async move { market.checkout(&c).await.unwrap_err() }
    };
    assert_eq!(
        checkout(command(vec![line(101, 0)], Currency::EUR, "k1")).await,
        CommerceError::InvalidInput("quantity must be 1 to 100")
    );
    assert_eq!(
        checkout(command(vec![], Currency::EUR, "k2")).await,
        CommerceError::InvalidInput("the cart is empty")
    );
    assert_eq!(
        checkout(command(vec![line(999, 1)], Currency::EUR, "k3")).await,
        CommerceError::UnknownSku(SkuId::from_uuid(id(999)))
    );
    // A currency nobody publishes a rate for, and the SKU has no price in it.
    assert!(matches!(
        checkout(command(vec![line(101, 1)], Currency::BHD, "k4")).await,
        CommerceError::NoPrice { .. }
    ));
    assert_eq!(
        checkout(command(vec![line(101, 1)], Currency::EUR, ""))
            .await
            .code(),
        "invalid_input"
    );
    // The second line is short: the first line's reservation is not kept either.
    assert!(matches!(
        checkout(command(
            vec![line(101, 2), line(201, 2)],
            Currency::EUR,
            "k5"
        ))
        .await,
        CommerceError::OutOfStock { available: 1, .. }
    ));
    assert_eq!(
        count(&world.db, "SELECT SUM(reserved)::INT8 AS n FROM skus"),
        0
    );
    assert_eq!(count(&world.db, "SELECT count(*) AS n FROM checkouts"), 0);
    // Unknown currency codes and amounts with too many decimals never become money.
    assert_eq!(
        Currency::from_code("XYZ").unwrap_err().code(),
        "currency_unknown"
    );
    assert_eq!(
        Money::parse("12.345", Currency::EUR).unwrap_err().code(),
        "amount_too_many_decimals"
    );
    assert_eq!(
        Money::parse("12.5", Currency::JPY).unwrap_err().code(),
        "amount_too_many_decimals"
    );

    // A method not offered for the country is refused before anything is written.
    let placed = world
        .market
        .checkout(&command(vec![line(101, 1)], Currency::EUR, "k6"))
        .await
        .unwrap();
    let konbini = market
        .pay(&PayCommand {
            checkout_id: placed.plan.id,
            buyer_id: BuyerId::from_uuid(id(3)),
            details: MethodDetails::Other {
                method: MethodType::Konbini,
                extra: String::new(),
            },
            return_url: "https://shop.example/return".into(),
        })
        .await;
    assert_eq!(
        konbini.unwrap_err(),
        CommerceError::PaymentMethodNotAvailable
    );
    assert_eq!(count(&world.db, "SELECT count(*) AS n FROM payments"), 0);
    // Another buyer cannot pay (or see) this checkout.
    let foreign = market
        .pay(&PayCommand {
            checkout_id: placed.plan.id,
            buyer_id: BuyerId::from_uuid(id(4)),
            details: MethodDetails::Other {
                method: MethodType::Ideal,
                extra: String::new(),
            },
            return_url: "https://shop.example/return".into(),
        })
        .await;
    assert_eq!(foreign.unwrap_err(), CommerceError::NotFound("checkout"));
    // Once the reservation lapses, paying is refused as stale and the stock is released.
    world.clock.advance_secs(31 * 60);
    let stale = market
        .pay(&PayCommand {
            checkout_id: placed.plan.id,
            buyer_id: BuyerId::from_uuid(id(3)),
            details: MethodDetails::Card {
                number: bazaar_domain::payments::CardNumber::new("4111 1111 1111 1111").unwrap(),
                expiry_month: 12,
                expiry_year: 2099,
            },
            return_url: "https://shop.example/return".into(),
        })
        .await;
    assert_eq!(stale.unwrap_err(), CommerceError::ReservationExpired);
    assert_eq!(market.expire_checkouts(100).await.unwrap(), 1);
    assert_eq!(
        count(&world.db, "SELECT SUM(reserved)::INT8 AS n FROM skus"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cards_capture_at_once_digital_goods_deliver_and_buyers_review_delivered_orders() {
    let world = world().await;
    let market = &world.market;
    let shop = seller(1, "NL", Currency::EUR, 1_500);
    market.register_seller(&shop).await.unwrap();
    market.register_buyer(&buyer(3, "NL")).await.unwrap();
    market.register_buyer(&buyer(4, "NL")).await.unwrap();
    // An online course: no stock, delivered when paid.
    market
        .add_product(&product(
            100,
            &shop,
            None,
            vec![Money::from_minor(4_900, Currency::EUR)],
        ))
        .await
        .unwrap();
    let placed = market
        .checkout(&CheckoutCommand {
            id: CheckoutId::from_uuid(id(500)),
            buyer_id: BuyerId::from_uuid(id(3)),
            currency: Currency::EUR,
            lines: vec![line(101, 1)],
            idempotency_key: "course".into(),
            customer: bazaar_domain::tax::Customer::Consumer,
        })
        .await
        .unwrap();
    let paid = market
        .pay(&PayCommand {
            checkout_id: placed.plan.id,
            buyer_id: BuyerId::from_uuid(id(3)),
            details: MethodDetails::Card {
                number: bazaar_domain::payments::CardNumber::new("4111 1111 1111 1111").unwrap(),
                expiry_month: 12,
                expiry_year: 2099,
            },
            return_url: "https://shop.example/return".into(),
        })
        .await
        .unwrap();
    assert_eq!(paid.state, bazaar_domain::orders::PaymentState::Captured);
    let record = market
        .store()
        .checkout(placed.plan.id)
        .await
        .unwrap()
        .unwrap();
    let (order_id, state) = *record.order_states.first().unwrap();
    assert_eq!(
        state,
        OrderState::Delivered,
        "digital goods are delivered when paid"
    );
    // 49.00 EUR, no tax configured for NL, 15% commission: 7.35 to the platform.
    assert_eq!(
        market.seller_balances(shop.id).await.unwrap().pending,
        Money::from_minor(4_165, Currency::EUR)
    );
    // The provider's capture notification arrives later and changes nothing.
    world.clock.advance_secs(10);
    deliver(&world).await;
    assert_eq!(
        market.seller_balances(shop.id).await.unwrap().pending,
        Money::from_minor(4_165, Currency::EUR)
    );
    assert_every_currency_balances(&world.db);

    let review = |buyer: u128, rating: u8| Review {
        id: bazaar_domain::catalog::ReviewId::from_uuid(Uuid::new_v4()),
        product_id: ProductId::from_uuid(id(100)),
        buyer_id: BuyerId::from_uuid(id(buyer)),
        order_id,
        rating,
        body: "Clear and thorough.".into(),
    };
    assert_eq!(
        market.review(&review(4, 5)).await.unwrap_err(),
        CommerceError::NotFound("order"),
        "only the buyer of the order may review"
    );
    assert_eq!(
        market.review(&review(3, 6)).await.unwrap_err(),
        CommerceError::InvalidInput("rating must be 1 to 5")
    );
    // A course holds no stock: selling it changes nothing a product page shows; a review does.
    let paid_at = world.clock.now();
    let changed = || market.store().catalog_changes(paid_at, 10);
    assert_eq!(changed().await.unwrap(), []);
    world.clock.advance_secs(1);
    market.review(&review(3, 4)).await.unwrap();
    let reviewed = bazaar_domain::catalog::CatalogChange {
        product: ProductId::from_uuid(id(100)),
        at: world.clock.now(),
    };
    assert_eq!(changed().await.unwrap(), [reviewed]);
    assert_eq!(
        market.review(&review(3, 5)).await.unwrap_err(),
        CommerceError::AlreadyReviewed
    );
    let found = market
        .search(&ProductQuery {
            text: Some("product".into()),
            currency: Some(Currency::EUR),
            limit: 10,
            ..ProductQuery::default()
        })
        .await
        .unwrap();
    let listed = found.first().unwrap();
    assert_eq!(listed.rating_centi, Some(400));
    assert_eq!(listed.review_count, 1);
    assert_eq!(
        listed.price_from,
        Some(Money::from_minor(4_900, Currency::EUR))
    );
    // A product page reads the same product by id, with its rating and no price.
    let page = market
        .search(&ProductQuery {
            ids: Some(vec![ProductId::from_uuid(id(100))]),
            limit: 1,
            ..ProductQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        page,
        [ProductSummary {
            price_from: None,
            ..listed.clone()
        }]
    );
    let none = market
        .search(&ProductQuery {
            text: Some("nonexistent 100%".into()),
            limit: 10,
            ..ProductQuery::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
    let _ = PaymentStatus::Pending;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_whose_answer_was_lost_is_retried_safely() {
    let world = world().await;
    let market = &world.market;
    let shop = seller(1, "DE", Currency::EUR, 1_000);
    market.register_seller(&shop).await.unwrap();
    market.register_buyer(&buyer(3, "DE")).await.unwrap();
    market
        .add_product(&product(
            100,
            &shop,
            Some(2),
            vec![Money::from_minor(1_000, Currency::EUR)],
        ))
        .await
        .unwrap();
    let placed = market
        .checkout(&CheckoutCommand {
            id: CheckoutId::from_uuid(id(500)),
            buyer_id: BuyerId::from_uuid(id(3)),
            currency: Currency::EUR,
            lines: vec![line(101, 1)],
            idempotency_key: "lost".into(),
            customer: bazaar_domain::tax::Customer::Consumer,
        })
        .await
        .unwrap();
    let pay = PayCommand {
        checkout_id: placed.plan.id,
        buyer_id: BuyerId::from_uuid(id(3)),
        details: MethodDetails::Card {
            number: bazaar_domain::payments::CardNumber::new("4111 1111 1111 1111").unwrap(),
            expiry_month: 12,
            expiry_year: 2099,
        },
        return_url: "https://shop.example/return".into(),
    };
    market
        .provider()
        .set_outage(bazaar_payments::Outage::AnswerLost);
    assert_eq!(
        market.pay(&pay).await.unwrap_err().code(),
        "payment_provider_unavailable"
    );
    market.provider().set_outage(bazaar_payments::Outage::None);
    let paid = market.pay(&pay).await.unwrap();
    assert_eq!(paid.state, bazaar_domain::orders::PaymentState::Captured);
    assert_eq!(
        market.provider().payment_count(),
        1,
        "one payment at the provider"
    );
    // Paying again changes nothing, and the money was posted once.
    market.pay(&pay).await.unwrap();
    assert_eq!(
        market.seller_balances(shop.id).await.unwrap().pending,
        Money::from_minor(900, Currency::EUR)
    );
    assert_every_currency_balances(&world.db);
}

/// Delivers every notification the sandbox has due the way the server's worker does: each
/// is acknowledged only if its effect (or its parking) was committed. Returns each
/// delivery's outcome.
async fn receive(world: &World) -> Vec<&'static str> {
    let mut deliveries = Vec::new();
    for notification in world.market.provider().take_due_notifications() {
        let delivery = world
            .market
            .receive_notification(
                &notification.event_id,
                &notification.signature,
                &notification.body,
            )
            .await;
        if delivery.acknowledge() {
            world.market.provider().acknowledge(&notification.event_id);
        }
        deliveries.push(delivery.outcome());
    }
    deliveries
}

/// A BRL shop (10% commission) with two digital products at 50.00 and 30.00, and a buyer in
/// Brazil; returns the shop.
async fn brazilian_shop(world: &World) -> Seller {
    let shop = seller(1, "BR", Currency::BRL, 1_000);
    world.market.register_seller(&shop).await.unwrap();
    world.market.register_buyer(&buyer(3, "BR")).await.unwrap();
    for (n, price) in [(100, 5_000), (200, 3_000)] {
        world
            .market
            .add_product(&product(
                n,
                &shop,
                None,
                vec![Money::from_minor(price, Currency::BRL)],
            ))
            .await
            .unwrap();
    }
    shop
}

async fn place(
    world: &World,
    n: u128,
    lines: Vec<CartLine>,
) -> bazaar_domain::store::CheckoutRecord {
    world
        .market
        .checkout(&CheckoutCommand {
            id: CheckoutId::from_uuid(id(n)),
            buyer_id: BuyerId::from_uuid(id(3)),
            currency: Currency::BRL,
            lines,
            idempotency_key: format!("cart-{n}"),
            customer: bazaar_domain::tax::Customer::Consumer,
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_after_expiry_is_posted_and_refunded_in_full_and_the_order_stays_cancelled() {
    let world = world().await;
    let market = &world.market;
    let shop = brazilian_shop(&world).await;
    let placed = place(&world, 500, vec![line(101, 1), line(201, 1)]).await;
    let paying = market
        .pay(&PayCommand {
            checkout_id: placed.plan.id,
            buyer_id: BuyerId::from_uuid(id(3)),
            details: pix(),
            return_url: "https://shop.example/return".into(),
        })
        .await
        .unwrap();
    let reference = paying.psp_reference.clone().unwrap();
    // The buyer pays the QR code; the bank confirms it only after Bazaar gave up on the
    // checkout: expiry cancels it, and the provider's cancel comes too late.
    market.provider().pay_qr(&reference).unwrap();
    world
        .clock
        .set(placed.expires_at.saturating_add_secs(2 * 3_600));
    assert_eq!(market.expire_checkouts(100).await.unwrap(), 1);
    let cancelled = market
        .store()
        .checkout(placed.plan.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cancelled.state, CheckoutState::Cancelled);

    // The capture notification arrives: it is kept, posted and refunded automatically.
    assert_eq!(deliver(&world).await, 1, "the capture is applied");
    assert_eq!(deliver(&world).await, 2, "both line refunds are confirmed");
    assert_eq!(deliver(&world).await, 0);

    let total = placed.plan.total.minor();
    assert_eq!(total, 8_000);
    let payment = market.store().payment(paying.id).await.unwrap().unwrap();
    assert_eq!(payment.state, bazaar_domain::orders::PaymentState::Captured);
    assert!(payment.captured_late);
    assert_eq!(
        count(
            &world.db,
            "SELECT COALESCE(SUM(amount_minor), 0)::INT8 AS n FROM refunds WHERE state = 'succeeded' \
             AND psp_reference IS NOT NULL AND NOT chargeback"
        ),
        total,
        "the buyer is refunded in full"
    );
    let after = market
        .store()
        .checkout(placed.plan.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after.state,
        CheckoutState::Cancelled,
        "the order stays cancelled"
    );
    assert!(
        after
            .order_states
            .iter()
            .all(|(_, s)| *s == OrderState::Cancelled)
    );

    // The ledger saw the money come in and go back; nothing reached the seller.
    let provider = ChartAccount::PspClearing(ProviderName::new("sandbox").unwrap());
    assert_eq!(
        balance(market, ChartAccount::CapturedUnfulfilled, Currency::BRL).await,
        0
    );
    assert_eq!(balance(market, provider, Currency::BRL).await, 0);
    assert_eq!(
        count(
            &world.db,
            "SELECT COALESCE(SUM(t.amount), 0)::INT8 AS n FROM ledger_transfers t \
             JOIN ledger_accounts a ON a.id = t.credit_account_id WHERE a.code = 'captured_unfulfilled'"
        ),
        total,
        "the late capture was posted"
    );
    assert_eq!(
        count(
            &world.db,
            "SELECT COALESCE(SUM(t.amount), 0)::INT8 AS n FROM ledger_transfers t \
             JOIN ledger_accounts a ON a.id = t.debit_account_id WHERE a.code = 'captured_unfulfilled'"
        ),
        total,
        "the refunds were posted"
    );
    assert_eq!(
        market.seller_balances(shop.id).await.unwrap().pending,
        Money::zero(Currency::BRL)
    );
    assert_every_currency_balances(&world.db);
    let events = outbox(&world.db);
    assert_eq!(events.get("payment.captured"), Some(&1));
    assert_eq!(events.get("refund.requested"), Some(&2));
    assert_eq!(events.get("refund.succeeded"), Some(&2));
    assert_eq!(events.get("order.paid"), None);
    assert_eq!(
        count(
            &world.db,
            "SELECT count(*) AS n FROM ledger_intents WHERE applied_at IS NULL"
        ),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_notification_is_delivered_again_until_it_applies_or_is_parked_never_lost() {
    let world = world().await;
    let market = &world.market;
    let shop = brazilian_shop(&world).await;
    let placed = place(&world, 500, vec![line(101, 1), line(201, 1)]).await;
    let paid = market
        .pay(&PayCommand {
            checkout_id: placed.plan.id,
            buyer_id: BuyerId::from_uuid(id(3)),
            details: pix(),
            return_url: "https://shop.example/return".into(),
        })
        .await
        .unwrap();
    market
        .provider()
        .pay_qr(paid.psp_reference.as_ref().unwrap())
        .unwrap();
    world.clock.advance_secs(10);
    assert_eq!(receive(&world).await, ["applied"]);
    let order = placed.plan.orders[0].id;
    let lines: Vec<_> = placed.plan.orders[0]
        .lines
        .iter()
        .map(|l| (l.id, l.total))
        .collect();

    // Both refunds are accepted by the provider, but Bazaar never hears the answers: their
    // notifications arrive for refunds whose provider reference Bazaar does not know yet.
    market
        .provider()
        .set_outage(bazaar_payments::Outage::AnswerLost);
    for (n, (line_id, amount)) in lines.iter().enumerate() {
        let refund = market
            .refund(
                Requester::Seller(shop.id),
                order,
                *line_id,
                *amount,
                &format!("r{n}"),
            )
            .await;
        assert_eq!(refund.unwrap_err().code(), "payment_provider_unavailable");
    }
    market.provider().set_outage(bazaar_payments::Outage::None);
    assert_eq!(receive(&world).await, ["failed", "failed"]);
    assert!(
        receive(&world).await.is_empty(),
        "redelivery waits for its backoff"
    );

    // The first refund is retried by its seller; the redelivery then applies.
    market
        .refund(
            Requester::Seller(shop.id),
            order,
            lines[0].0,
            lines[0].1,
            "r0",
        )
        .await
        .unwrap();
    world
        .clock
        .advance_secs(bazaar_payments::REDELIVERY_DELAYS_SECS[0]);
    assert_eq!(receive(&world).await, ["applied", "failed"]);
    assert_eq!(
        count(
            &world.db,
            "SELECT count(*) AS n FROM refunds WHERE state = 'succeeded'"
        ),
        1
    );

    // The second keeps failing: it is delivered again with growing delays, then parked with
    // its signed body and acknowledged, never deleted.
    let mut deliveries = 2;
    for delay in &bazaar_payments::REDELIVERY_DELAYS_SECS[1..] {
        world.clock.advance_secs(*delay);
        let received = receive(&world).await;
        deliveries += 1;
        if deliveries < bazaar_domain::recovery::NOTIFICATION_ATTEMPTS_MAX {
            assert_eq!(received, ["failed"]);
        } else {
            assert_eq!(received, ["parked"]);
            break;
        }
    }
    assert_eq!(
        deliveries,
        bazaar_domain::recovery::NOTIFICATION_ATTEMPTS_MAX
    );
    assert_eq!(market.provider().unacknowledged_count(), 0);
    world.clock.advance_secs(24 * 3_600);
    assert!(receive(&world).await.is_empty());
    assert_eq!(
        count(
            &world.db,
            "SELECT count(*) AS n FROM notification_failures WHERE parked_at IS NOT NULL \
             AND last_error = 'not_found' AND attempts = 8"
        ),
        1
    );

    // Once the refund is known, an operator replays the parked notification and it applies.
    market
        .refund(
            Requester::Seller(shop.id),
            order,
            lines[1].0,
            lines[1].1,
            "r1",
        )
        .await
        .unwrap();
    #[derive(QueryableByName)]
    struct Parked {
        #[diesel(sql_type = Text)]
        signature: String,
        #[diesel(sql_type = diesel::sql_types::Binary)]
        body: Vec<u8>,
    }
    let parked: Parked =
        sql_query("SELECT signature, body FROM notification_failures WHERE parked_at IS NOT NULL")
            .get_result(&mut world.db.connect().unwrap())
            .unwrap();
    assert_eq!(
        market
            .handle_notifications(&parked.signature, &parked.body)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        count(
            &world.db,
            "SELECT count(*) AS n FROM refunds WHERE state = 'succeeded'"
        ),
        2
    );
    assert_every_currency_balances(&world.db);
}

/// Captures a new checkout of one 50.00 line through the store alone: the capture intent
/// is recorded, not posted.
async fn capture_unposted(world: &World, n: u128) -> bazaar_domain::payments::PaymentId {
    let placed = place(world, n, vec![line(101, 1)]).await;
    let payment_id = bazaar_domain::payments::PaymentId::from_uuid(id(n + 1));
    let store = world.market.store();
    store
        .start_payment(
            &bazaar_domain::store::NewPayment {
                id: payment_id,
                checkout_id: placed.plan.id,
                buyer_id: BuyerId::from_uuid(id(3)),
                provider: ProviderName::new("sandbox").unwrap(),
                method: MethodType::Pix,
            },
            world.clock.now(),
        )
        .await
        .unwrap();
    let outcome = store
        .apply_payment_event(
            payment_id,
            Some(&format!("capture-{n}")),
            &PaymentEvent::Captured,
            world.clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(outcome.intents.len(), 1);
    payment_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_intent_that_can_never_post_does_not_stop_the_next_hundred() {
    let world = world().await;
    let market = &world.market;
    let shop = brazilian_shop(&world).await;
    let store = market.store();
    // A payment captured without its capture ever reaching the ledger (as a capture after
    // expiry used to be), then charged back: its chargeback can never post.
    let lost = capture_unposted(&world, 10_000).await;
    sql_query("DELETE FROM ledger_intents")
        .execute(&mut world.db.connect().unwrap())
        .unwrap();
    let outcome = store
        .apply_payment_event(
            lost,
            Some("chargeback-1"),
            &PaymentEvent::Chargeback,
            world.clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(outcome.intents.len(), 1);
    // A hundred captures queued behind it.
    world.clock.advance_secs(1);
    for n in 0..100 {
        capture_unposted(&world, 20_000 + n * 10).await;
    }

    let pass = market.post_pending_intents().await.unwrap();
    assert_eq!((pass.posted, pass.retrying, pass.parked), (100, 1, 0));
    assert_eq!(
        count(
            &world.db,
            "SELECT count(*) AS n FROM ledger_intents WHERE applied_at IS NULL"
        ),
        1
    );
    let pending = market
        .seller_balances(shop.id)
        .await
        .unwrap()
        .pending
        .minor();
    assert!(
        pending > 0 && pending % 100 == 0,
        "every capture behind the failing intent was posted: {pending}"
    );
    // Not tried again before its backoff, then retried with growing delays and parked with
    // the ledger's reason for finance.
    let pass = market.post_pending_intents().await.unwrap();
    assert_eq!((pass.posted, pass.retrying, pass.parked), (0, 0, 0));
    for attempt in 2..=bazaar_domain::recovery::INTENT_ATTEMPTS_MAX {
        world
            .clock
            .advance_secs(bazaar_domain::recovery::backoff_secs(attempt - 1));
        let pass = market.post_pending_intents().await.unwrap();
        let parked = attempt == bazaar_domain::recovery::INTENT_ATTEMPTS_MAX;
        assert_eq!(
            (pass.retrying, pass.parked),
            (usize::from(!parked), usize::from(parked))
        );
    }
    world.clock.advance_secs(24 * 3_600);
    assert_eq!(
        market.post_pending_intents().await.unwrap(),
        Default::default()
    );
    assert_eq!(
        count(
            &world.db,
            "SELECT count(*) AS n FROM ledger_intents WHERE parked_at IS NOT NULL AND applied_at IS NULL \
             AND attempts = 8 AND last_error = 'original_transfer_not_found'"
        ),
        1
    );
    assert_every_currency_balances(&world.db);
}
