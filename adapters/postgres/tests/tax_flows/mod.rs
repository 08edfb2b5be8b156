//! Checkouts taxed by the tax engine, end to end: the decision stored with each line, the
//! ledger's tax payables per jurisdiction and scheme, the seller's own tax passed on with
//! its share, refunds giving tax back in proportion, and thresholds read from earlier sales.

use bazaar_domain::orders::LineTax;
use bazaar_domain::tax::{Platform, Reason, Scheme, TaxData};

use super::*;

mod desk;

async fn engine_world() -> World {
    world_with(TaxSetup {
        engine: Some((TaxData::builtin().unwrap(), Platform::default())),
        flat: TaxRates::default(),
    })
    .await
}

fn card() -> MethodDetails {
    MethodDetails::Card {
        number: bazaar_domain::payments::CardNumber::new("4111 1111 1111 1111").unwrap(),
        expiry_month: 12,
        expiry_year: 2099,
    }
}

/// Buyer `buyer`'s checkout of one unit of `sku` under `key`, paid by card, as stored.
async fn buy(
    market: &Market,
    buyer: u128,
    sku: u128,
    currency: Currency,
    key: &str,
) -> bazaar_domain::store::CheckoutRecord {
    let placed = open_checkout(market, buyer, sku, currency, key).await;
    market
        .pay(&PayCommand {
            checkout_id: placed.plan.id,
            buyer_id: BuyerId::from_uuid(id(buyer)),
            details: card(),
            return_url: "https://shop.example/return".into(),
        })
        .await
        .unwrap();
    market
        .store()
        .checkout(placed.plan.id)
        .await
        .unwrap()
        .unwrap()
}

/// Buyer `buyer`'s checkout of one unit of `sku` under `key`, not paid.
async fn open_checkout(
    market: &Market,
    buyer: u128,
    sku: u128,
    currency: Currency,
    key: &str,
) -> bazaar_domain::store::CheckoutRecord {
    market
        .checkout(&CheckoutCommand {
            id: CheckoutId::from_uuid(Uuid::new_v5(&id(buyer), key.as_bytes())),
            buyer_id: BuyerId::from_uuid(id(buyer)),
            currency,
            lines: vec![line(sku, 1)],
            idempotency_key: key.into(),
            customer: bazaar_domain::tax::Customer::Consumer,
        })
        .await
        .unwrap()
}

/// Lists a one-SKU product of `shop` priced `minor` in its settlement currency.
async fn list(market: &Market, n: u128, shop: &Seller, stock: Option<u32>, minor: i64) {
    let price = Money::from_minor(minor, shop.settlement_currency);
    market
        .add_product(&product(n, shop, stock, vec![price]))
        .await
        .unwrap();
}

/// The tax of the checkout's first line.
fn first_tax(record: &bazaar_domain::store::CheckoutRecord) -> &LineTax {
    &record
        .plan
        .orders
        .first()
        .unwrap()
        .lines
        .first()
        .unwrap()
        .tax
}

fn payable(code: &str) -> ChartAccount {
    ChartAccount::TaxPayable(Jurisdiction::new(code).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_marketplace_owes_italian_vat_on_a_us_sellers_course_and_a_refund_returns_its_share() {
    let world = engine_world().await;
    let market = &world.market;
    let shop = seller(1, "US", Currency::EUR, 1_000);
    market.register_seller(&shop).await.unwrap();
    market.register_buyer(&buyer(3, "IT")).await.unwrap();
    list(market, 100, &shop, None, 12_200).await;
    let record = buy(&world.market, 3, 101, Currency::EUR, "course").await;
    let order = record.plan.orders.first().unwrap();
    let line = order.lines.first().unwrap();
    // A seller outside the EU sells an e-service to an Italian consumer: the marketplace is
    // the supplier for VAT and owes Italy's 22% through the One-Stop Shop.
    assert_eq!(line.tax.decision.reason, Reason::EuDeemedSupplierEService);
    assert_eq!(line.tax.decision.scheme, Scheme::Oss);
    assert_eq!(line.tax.decision.place.to_string(), "IT");
    assert_eq!(line.tax.amount, Money::from_minor(2_200, Currency::EUR));
    assert_eq!(line.total, Money::from_minor(12_200, Currency::EUR));
    assert_eq!(
        balance(market, payable("IT-OSS"), Currency::EUR).await,
        2_200
    );
    // The seller's share is the price without the VAT, less 10% commission.
    assert_eq!(
        market.seller_balances(shop.id).await.unwrap().pending,
        Money::from_minor(9_000, Currency::EUR)
    );
    // Half the line refunded: half the VAT comes back out of the payable.
    market
        .refund(
            Requester::Seller(shop.id),
            order.id,
            line.id,
            Money::from_minor(6_100, Currency::EUR),
            "half",
        )
        .await
        .unwrap();
    world.clock.advance_secs(10);
    deliver(&world).await;
    assert_eq!(
        balance(market, payable("IT-OSS"), Currency::EUR).await,
        1_100
    );
    // The OSS return for the period says the same as the ledger: Italy, 22%, 50.00 sold net
    // of the refund, 11.00 of VAT.
    let rows = market
        .tax_return(Scheme::Oss, Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let italy = rows.first().unwrap();
    assert_eq!(italy.place.to_string(), "IT");
    assert_eq!(italy.rate.percent_text(), "22%");
    assert_eq!(italy.net, Money::from_minor(5_000, Currency::EUR));
    assert_eq!(
        italy.tax.minor(),
        balance(market, payable("IT-OSS"), Currency::EUR).await
    );
    let nothing = market
        .tax_return(Scheme::Ioss, Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    assert!(nothing.is_empty());
    assert_eq!(
        market.seller_balances(shop.id).await.unwrap().pending,
        Money::from_minor(4_500, Currency::EUR)
    );
    assert_every_currency_balances(&world.db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_french_seller_charges_french_vat_until_its_eu_sales_pass_ten_thousand_euros() {
    let world = engine_world().await;
    let market = &world.market;
    let shop = seller(1, "FR", Currency::EUR, 1_000);
    market.register_seller(&shop).await.unwrap();
    market.register_buyer(&buyer(3, "DE")).await.unwrap();
    list(market, 100, &shop, Some(10), 12_000).await;
    list(market, 200, &shop, Some(10), 1_188_120).await;
    // Below the threshold: France's 20%, charged by the seller and kept with its share.
    let first = buy(&world.market, 3, 101, Currency::EUR, "first").await;
    let tax = first_tax(&first);
    assert_eq!(tax.decision.reason, Reason::EuBelowThreshold);
    assert_eq!(tax.decision.place.to_string(), "FR");
    assert_eq!(tax.amount, Money::from_minor(2_000, Currency::EUR));
    assert_eq!(
        tax.threshold,
        Some(Money::from_minor(10_000, Currency::EUR))
    );
    // 120.00 with 20.00 of the seller's VAT: commission 10% of 100.00, the seller 110.00.
    assert_eq!(
        market.seller_balances(shop.id).await.unwrap().pending,
        Money::from_minor(11_000, Currency::EUR)
    );
    assert_eq!(balance(market, payable("FR"), Currency::EUR).await, 0);
    // 11,881.20: at France's 20% it is worth 9,901.00, which with the 100.00 before passes
    // 10,000.00, so this sale is already taxed where the buyer is, at Germany's 19%, through
    // the OSS.
    let second = buy(&world.market, 3, 201, Currency::EUR, "second").await;
    let tax = first_tax(&second);
    assert_eq!(tax.decision.reason, Reason::EuDistanceSale);
    assert_eq!(tax.decision.place.to_string(), "DE");
    assert_eq!(tax.amount, Money::from_minor(189_700, Currency::EUR));
    assert_eq!(
        tax.threshold,
        Some(Money::from_minor(998_420, Currency::EUR))
    );
    // Later sales read the stored sales back from the database: still above.
    let third = buy(&world.market, 3, 101, Currency::EUR, "third").await;
    let tax = first_tax(&third);
    assert_eq!(tax.decision.reason, Reason::EuDistanceSale);
    assert_eq!(tax.amount, Money::from_minor(1_916, Currency::EUR));
    // The seller owes the VAT in both schemes: no payable of the marketplace moved.
    assert_eq!(balance(market, payable("DE-OSS"), Currency::EUR).await, 0);
    assert_every_currency_balances(&world.db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uk_consignment_up_to_135_pounds_is_the_marketplaces_vat_and_above_is_import_vat() {
    let world = engine_world().await;
    let market = &world.market;
    let shop = seller(1, "US", Currency::GBP, 1_000);
    market.register_seller(&shop).await.unwrap();
    market.register_buyer(&buyer(3, "GB")).await.unwrap();
    list(market, 100, &shop, Some(5), 13_500).await;
    list(market, 200, &shop, Some(5), 13_501).await;
    let low = buy(&world.market, 3, 101, Currency::GBP, "low").await;
    let tax = first_tax(&low);
    assert_eq!(tax.decision.reason, Reason::GbMarketplaceImport);
    // 135.00 including 20% VAT: 22.50.
    assert_eq!(tax.amount, Money::from_minor(2_250, Currency::GBP));
    assert_eq!(
        balance(market, payable("GB-UKMP"), Currency::GBP).await,
        2_250
    );
    let high = buy(&world.market, 3, 201, Currency::GBP, "high").await;
    let tax = first_tax(&high);
    assert_eq!(tax.decision.reason, Reason::GbImport);
    assert!(tax.amount.is_zero());
    assert_eq!(
        balance(market, payable("GB-UKMP"), Currency::GBP).await,
        2_250
    );
    assert_every_currency_balances(&world.db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_us_buyer_without_a_state_is_refused_rather_than_taxed_at_zero() {
    let world = engine_world().await;
    let market = &world.market;
    let shop = seller(1, "US", Currency::USD, 1_000);
    market.register_seller(&shop).await.unwrap();
    market.register_buyer(&buyer(3, "US")).await.unwrap();
    list(market, 100, &shop, Some(5), 5_000).await;
    let error = market
        .checkout(&CheckoutCommand {
            id: CheckoutId::from_uuid(id(900)),
            buyer_id: BuyerId::from_uuid(id(3)),
            currency: Currency::USD,
            lines: vec![line(101, 1)],
            idempotency_key: "no-state".into(),
            customer: bazaar_domain::tax::Customer::Consumer,
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), "tax_input_missing");
    assert_eq!(count(&world.db, "SELECT count(*) AS n FROM checkouts"), 0);
}

/// What the running totals hold per key (those of no orders left out), and what summing the
/// orders not cancelled gives.
fn totals_and_recount(db: &TestDatabase) -> (Vec<String>, Vec<String>) {
    let mut conn = diesel::PgConnection::establish(db.url()).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    let read = |conn: &mut diesel::PgConnection, sql: &str| -> Vec<String> {
        diesel::sql_query(sql)
            .load::<Line>(conn)
            .unwrap()
            .into_iter()
            .map(|l| l.line)
            .collect()
    };
    let totals = read(
        &mut conn,
        "SELECT concat_ws(' ', threshold, subject, year, SUM(sales_minor), SUM(orders)) AS line \
         FROM tax_threshold_totals GROUP BY threshold, subject, year \
         HAVING SUM(orders) <> 0 ORDER BY 1",
    );
    let recount = read(
        &mut conn,
        "SELECT concat_ws(' ', threshold, subject, year, SUM(sales), COUNT(DISTINCT id)) AS line \
         FROM (SELECT l.tax_threshold_kind AS threshold, \
                 CASE l.tax_threshold_kind WHEN 'eu_distance' THEN o.seller_id::TEXT \
                   ELSE l.tax_place END AS subject, \
                 EXTRACT(YEAR FROM to_timestamp(o.created_at / 1000000) AT TIME ZONE 'UTC')::INT AS year, \
                 l.tax_threshold_minor AS sales, o.id \
               FROM orders o JOIN order_lines l ON l.order_id = o.id \
               WHERE o.state <> 'cancelled' AND l.tax_threshold_kind IS NOT NULL) counted \
         GROUP BY threshold, subject, year ORDER BY 1",
    );
    (totals, recount)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_threshold_totals_follow_orders_placed_at_once_and_cancelled_and_a_lost_base_is_summed_again()
 {
    use diesel::{Connection, RunQueryDsl};
    let world = engine_world().await;
    let market = &world.market;
    let shop = seller(1, "FR", Currency::EUR, 1_000);
    market.register_seller(&shop).await.unwrap();
    market.register_buyer(&buyer(3, "DE")).await.unwrap();
    market.register_buyer(&buyer(4, "AT")).await.unwrap();
    list(market, 100, &shop, None, 12_000).await;
    // A US seller's sales into New York count toward that state's threshold.
    let us_shop = seller(2, "US", Currency::USD, 1_000);
    market.register_seller(&us_shop).await.unwrap();
    let mut new_yorker = buyer(5, "US");
    new_yorker.tax_area = Some(bazaar_domain::tax::Area::parse("US-NY").unwrap());
    market.register_buyer(&new_yorker).await.unwrap();
    list(market, 200, &us_shop, None, 4_000).await;
    // Twenty checkouts at once from two buyers in Europe and six from New York, all paid,
    // so that groups hold both kinds of total.
    let mut placed = tokio::task::JoinSet::new();
    for n in 0..26_u32 {
        let market = world.market.clone();
        placed.spawn(async move {
            let key = format!("at-once-{n}");
            if n < 20 {
                buy(&market, 3 + u128::from(n % 2), 101, Currency::EUR, &key).await;
            } else {
                buy(&market, 5, 201, Currency::USD, &key).await;
            }
        });
    }
    while let Some(done) = placed.join_next().await {
        done.unwrap();
    }
    let (totals, recount) = totals_and_recount(&world.db);
    assert_eq!(totals, recount);
    assert_eq!(totals.len(), 2, "{totals:?}");
    assert!(totals[0].ends_with(" 20"), "twenty orders: {totals:?}");
    assert!(
        totals[1].starts_with("us_state US-NY ") && totals[1].ends_with(" 24000 6"),
        "six orders of 40.00: {totals:?}"
    );

    // Two checkouts left unpaid until their reservation lapses: counted while open, not once
    // cancelled.
    for key in ["unpaid-1", "unpaid-2"] {
        open_checkout(market, 3, 101, Currency::EUR, key).await;
    }
    let (totals, recount) = totals_and_recount(&world.db);
    assert_eq!(totals, recount);
    assert!(totals[0].ends_with(" 22"), "{totals:?}");
    world.clock.advance_secs(31 * 60);
    assert_eq!(market.expire_checkouts(100).await.unwrap(), 2);
    let (totals, recount) = totals_and_recount(&world.db);
    assert_eq!(totals, recount);
    assert!(totals[0].ends_with(" 20"), "{totals:?}");

    // Totals lost (as on a database restored without them): the next checkout sums them from
    // the orders again, itself included.
    let mut conn = diesel::PgConnection::establish(world.db.url()).unwrap();
    diesel::sql_query("DELETE FROM tax_threshold_totals")
        .execute(&mut conn)
        .unwrap();
    buy(&world.market, 4, 101, Currency::EUR, "after-the-loss").await;
    buy(&world.market, 5, 201, Currency::USD, "after-the-loss").await;
    let (totals, recount) = totals_and_recount(&world.db);
    assert_eq!(totals, recount);
    assert!(totals[0].ends_with(" 21"), "{totals:?}");
    assert!(totals[1].ends_with(" 28000 7"), "{totals:?}");

    // A total of many rows (here 300 that add up to nothing) is folded into its base once the
    // next checkout has read it, and still adds up.
    diesel::sql_query(
        "INSERT INTO tax_threshold_totals (threshold, subject, year, entry, sales_minor, orders) \
         SELECT t.threshold, t.subject, t.year, md5(g::TEXT)::UUID, \
                CASE WHEN g % 2 = 0 THEN 500 ELSE -500 END, CASE WHEN g % 2 = 0 THEN 1 ELSE -1 END \
         FROM tax_threshold_totals t, generate_series(1, 300) g \
         WHERE t.entry = '00000000-0000-0000-0000-000000000000' AND t.threshold = 'eu_distance' \
           AND t.sales_minor <> 0",
    )
    .execute(&mut conn)
    .unwrap();
    buy(&world.market, 4, 101, Currency::EUR, "after-the-fold").await;
    let (totals, recount) = totals_and_recount(&world.db);
    assert_eq!(totals, recount);
    assert!(totals[0].ends_with(" 22"), "{totals:?}");
    // The fold runs beside the checkout: the base is left, and the last checkout's row unless
    // it committed before the fold began (then the base holds it too).
    let rows = || {
        count(
            &world.db,
            "SELECT count(*) AS n FROM tax_threshold_totals \
             WHERE sales_minor <> 0 AND threshold = 'eu_distance'",
        )
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while rows() > 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let left = rows();
    assert!((1..=2).contains(&left), "{left} rows left after the fold");
    let (totals, recount) = totals_and_recount(&world.db);
    assert_eq!(totals, recount);
}
