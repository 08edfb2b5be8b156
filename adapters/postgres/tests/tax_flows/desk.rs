//! The tax desk end to end: a seller's GSTIN placing it in its state, India's TCS withheld
//! and split by state, the month's payables read from the ledger, remitted once from the
//! bank; the OSS payable remitted after a refund, to the cent of the return.

use bazaar_domain::fx::calendar::Date;
use bazaar_domain::tax::{Area, Cadence, ReturnPeriod, TcsSplit};
use bazaar_domain::tax_desk::{Payable, TaxDesk};
use bazaar_postgres::PostgresTax;

use super::*;

type Desk = TaxDesk<PostgresTax, PostgresLedger>;

fn desk(world: &World) -> Desk {
    TaxDesk::new(
        PostgresTax::new(world.db.url(), 4, RetryPolicy::default()),
        world.market.ledger().clone(),
    )
}

/// The ledger stamps transfers with the real time: returns of this month and quarter hold
/// them.
fn this_period(quarterly: bool) -> ReturnPeriod {
    let today = Date::of_instant(SystemClock.now()).unwrap();
    let cadence = if quarterly {
        Cadence::Quarterly
    } else {
        Cadence::Monthly
    };
    ReturnPeriod::containing(cadence, today).unwrap()
}

fn due(payables: &[Payable], jurisdiction: &str) -> i64 {
    let found = payables
        .iter()
        .find(|p| p.jurisdiction.as_str() == jurisdiction);
    assert!(found.is_some(), "no payable {jurisdiction}");
    found.unwrap().due.minor()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_indian_order_withholds_tcs_by_the_sellers_state_and_the_month_is_remitted_once() {
    let world = engine_world().await;
    let market = &world.market;
    let desk = desk(&world);
    let shop = seller(1, "IN", Currency::INR, 1_000);
    market.register_seller(&shop).await.unwrap();
    // The seller's GSTIN names Maharashtra; a wrong check character is refused.
    assert_eq!(
        desk.register(shop.id, "IN", "27AAPFU0939F1ZW", Timestamp::from_micros(1))
            .await
            .unwrap_err()
            .code(),
        "registration_number_invalid"
    );
    let gstin = desk
        .register(shop.id, "IN", "27aapfu0939f1zv", Timestamp::from_micros(1))
        .await
        .unwrap();
    assert_eq!(gstin.area().to_string(), "IN-MH");
    assert_eq!(desk.registrations(shop.id).await.unwrap(), vec![gstin]);
    let mut karnataka = buyer(3, "IN");
    karnataka.tax_area = Some(Area::parse("IN-KA").unwrap());
    market.register_buyer(&karnataka).await.unwrap();
    let mut mumbai = buyer(4, "IN");
    mumbai.tax_area = Some(Area::parse("IN-MH").unwrap());
    market.register_buyer(&mumbai).await.unwrap();
    // INR 11,800.00 including 18% GST: 10,000.00 net, the seller's GST 1,800.00.
    list(market, 100, &shop, Some(10), 1_180_000).await;

    let across = buy(&world.market, 3, 101, Currency::INR, "across").await;
    let tax = first_tax(&across);
    assert_eq!(tax.decision.scheme, Scheme::InTcs);
    assert_eq!(tax.decision.reason, Reason::InTcs);
    assert_eq!(tax.amount, Money::from_minor(180_000, Currency::INR));
    let withholding = tax.decision.withholding.as_ref().unwrap();
    assert_eq!(withholding.split, TcsSplit::Integrated);
    assert_eq!(withholding.seller_state.to_string(), "IN-MH");
    // TCS 0.5% of the net value, as IGST between two states; the seller keeps its GST,
    // less 10% commission and the TCS.
    assert_eq!(
        balance(market, payable("IN-TCS-IGST"), Currency::INR).await,
        5_000
    );
    assert_eq!(
        market.seller_balances(shop.id).await.unwrap().pending,
        Money::from_minor(1_180_000 - 100_000 - 5_000, Currency::INR)
    );
    // Within Maharashtra: half CGST, half SGST owed to the seller's state.
    let within = buy(&world.market, 4, 101, Currency::INR, "within").await;
    assert_eq!(
        first_tax(&within)
            .decision
            .withholding
            .as_ref()
            .unwrap()
            .split,
        TcsSplit::CentralAndState
    );
    assert_eq!(
        balance(market, payable("IN-TCS-CGST"), Currency::INR).await,
        2_500
    );
    assert_eq!(
        balance(market, payable("IN-MH-TCS-SGST"), Currency::INR).await,
        2_500
    );

    // The month's TCS return (GSTR-8) from the ledger: three payables.
    let month = this_period(false);
    let payables = desk.payables(Scheme::InTcs, month).await.unwrap();
    assert_eq!(payables.len(), 3);
    assert_eq!(due(&payables, "IN-TCS-IGST"), 5_000);
    assert_eq!(due(&payables, "IN-TCS-CGST"), 2_500);
    assert_eq!(due(&payables, "IN-MH-TCS-SGST"), 2_500);
    assert!(
        payables
            .iter()
            .all(|p| p.accrued == p.due && p.remitted.is_none())
    );
    assert_eq!(
        bazaar_domain::tax_desk::payables_csv(&payables),
        "jurisdiction,currency,accrued,due,remitted_at_micros\n\
         IN-MH-TCS-SGST,INR,25.00,25.00,\n\
         IN-TCS-CGST,INR,25.00,25.00,\n\
         IN-TCS-IGST,INR,50.00,50.00,\n"
    );
    // Nothing is remitted before the month ends.
    let end = month.to().unwrap();
    let early = desk
        .remit(
            Scheme::InTcs,
            month,
            Timestamp::from_micros(end.as_micros() - 1),
        )
        .await
        .unwrap_err();
    assert_eq!(early.code(), "period_not_ended");
    assert_eq!(
        balance(market, payable("IN-TCS-IGST"), Currency::INR).await,
        5_000
    );
    let bank_before = balance(market, ChartAccount::Bank, Currency::INR).await;
    let remitted = desk.remit(Scheme::InTcs, month, end).await.unwrap();
    assert!(remitted.iter().all(|p| p.remitted.is_some()));
    for jurisdiction in ["IN-TCS-IGST", "IN-TCS-CGST", "IN-MH-TCS-SGST"] {
        assert_eq!(
            balance(market, payable(jurisdiction), Currency::INR).await,
            0,
            "{jurisdiction}"
        );
    }
    assert_eq!(
        balance(market, ChartAccount::Bank, Currency::INR).await,
        bank_before - 10_000
    );
    // A retry posts nothing again and reports the same remittances.
    let again = desk.remit(Scheme::InTcs, month, end).await.unwrap();
    assert_eq!(again, remitted);
    assert_eq!(
        balance(market, ChartAccount::Bank, Currency::INR).await,
        bank_before - 10_000
    );
    // An earlier month cannot be remitted after a later one.
    let earlier = ReturnPeriod::parse("2020-01").unwrap();
    assert_eq!(
        desk.remit(Scheme::InTcs, earlier, end)
            .await
            .unwrap_err()
            .code(),
        "period_out_of_order"
    );
    assert_every_currency_balances(&world.db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oss_payable_is_remitted_as_the_return_says_after_a_refund() {
    let world = engine_world().await;
    let market = &world.market;
    let desk = desk(&world);
    let shop = seller(1, "US", Currency::EUR, 1_000);
    market.register_seller(&shop).await.unwrap();
    market.register_buyer(&buyer(3, "IT")).await.unwrap();
    market.register_buyer(&buyer(4, "DE")).await.unwrap();
    list(market, 100, &shop, None, 12_200).await;
    let italian = buy(&world.market, 3, 101, Currency::EUR, "it").await;
    buy(&world.market, 4, 101, Currency::EUR, "de").await;
    let order = italian.plan.orders.first().unwrap();
    let line = order.lines.first().unwrap();
    market
        .refund(
            Requester::Seller(shop.id),
            order.id,
            line.id,
            Money::from_minor(3_050, Currency::EUR),
            "quarter",
        )
        .await
        .unwrap();
    world.clock.advance_secs(10);
    deliver(&world).await;
    let quarter = this_period(true);
    let rows = market
        .tax_return(Scheme::Oss, Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    let payables = desk.payables(Scheme::Oss, quarter).await.unwrap();
    assert_eq!(payables.len(), 2);
    // Each member state's payable is what the return declares, to the cent.
    for row in &rows {
        let jurisdiction = format!("{}-OSS", row.place);
        assert_eq!(
            due(&payables, &jurisdiction),
            row.tax.minor(),
            "{jurisdiction}"
        );
        assert_eq!(
            balance(market, payable(&jurisdiction), Currency::EUR).await,
            row.tax.minor()
        );
    }
    // Italy: 22.00 less a quarter refunded (5.50); Germany 19% of 122.00: 19.48.
    assert_eq!(due(&payables, "IT-OSS"), 2_200 - 550);
    assert_eq!(due(&payables, "DE-OSS"), 1_948);
    desk.remit(Scheme::Oss, quarter, quarter.to().unwrap())
        .await
        .unwrap();
    assert_eq!(balance(market, payable("IT-OSS"), Currency::EUR).await, 0);
    assert_eq!(balance(market, payable("DE-OSS"), Currency::EUR).await, 0);
    let after = desk.payables(Scheme::Oss, quarter).await.unwrap();
    assert_eq!(due(&after, "IT-OSS"), 1_650);
    assert!(after.iter().all(|p| p.remitted.is_some()));
    assert_every_currency_balances(&world.db);
}
