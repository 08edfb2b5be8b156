//! Lending on the real PostgreSQL and the durable ledger: six months of a seller's sales in
//! the ledger earn an offer (the same one however often asked that day), accepting it
//! disburses the advance once, an expired offer and a second loan are refused, a seller
//! without history gets no offer, and the portfolio reads the loan back.
#![expect(clippy::unwrap_used, reason = "test drivers fail loudly")]
#![expect(
    clippy::arithmetic_side_effects,
    reason = "expected amounts from small test values"
)]

use std::sync::Arc;

use bazaar_domain::Country;
use bazaar_domain::catalog::{BasisPoints, CommissionRule, Region, Seller};
use bazaar_domain::chart::{ChartAccount, SellerId};
use bazaar_domain::fx::calendar::Date;
use bazaar_domain::lending::{Lending, LoanState, Policy, Tier, offer_id};
use bazaar_domain::postings::{Leg, Posting, submit};
use bazaar_domain::store::CommerceStore;
use bazaar_ledger::{LedgerStore, ManualClock, Metadata, Timestamp, TransferId, TransferRequest};
use bazaar_money::{Currency, Money};
use bazaar_postgres::{
    LedgerConfig, PostgresCommerce, PostgresLedger, PostgresLending, RetryPolicy,
};
use bazaar_testdb::TestDatabase;
use uuid::Uuid;

const DAY_MICROS: i64 = 86_400_000_000;

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

fn day(text: &str) -> Date {
    Date::parse_iso(text).unwrap()
}

fn midday(date: Date) -> Timestamp {
    Timestamp::from_micros(date.days_since_epoch().unwrap() * DAY_MICROS + DAY_MICROS / 2)
}

fn seller(n: u128) -> Seller {
    Seller {
        id: SellerId::from_uuid(Uuid::from_u128(n)),
        name: format!("Seller {n}"),
        country: Country::new("DE").unwrap(),
        region: Region::new("eu").unwrap(),
        settlement_currency: Currency::EUR,
        commission: CommissionRule::flat(BasisPoints::new(1_000).unwrap()),
    }
}

/// Posts one capture (or refund) of an order to the seller's pending account, as checkout's
/// postings name them.
async fn post(ledger: &PostgresLedger, seller: SellerId, kind: &str, order: u128, minor: i64) {
    let pending = ChartAccount::SellerPending(seller);
    let (debit, credit) = if kind == "capture" {
        (ChartAccount::Bank, pending)
    } else {
        (pending, ChartAccount::Bank)
    };
    let leg = Leg {
        name: "seller",
        debit,
        credit,
        amount: eur(minor),
    };
    let mut metadata = Metadata::new();
    metadata.insert("kind".into(), kind.into());
    metadata.insert("order_id".into(), Uuid::from_u128(order).to_string());
    let mut posting = Posting::default();
    posting.add(
        &leg,
        TransferRequest {
            id: TransferId::from_uuid(Uuid::new_v5(&Uuid::from_u128(order), kind.as_bytes())),
            kind: leg.direct(),
            metadata,
        },
    );
    submit(ledger, posting).await.unwrap();
}

/// 182 days of one EUR 100.00 sale a day from 1 January 2026, every twentieth refunded by
/// half, each posted on its day.
async fn six_months(ledger: &PostgresLedger, clock: &ManualClock, seller: SellerId) {
    let start = day("2026-01-01");
    for n in 0..182_i64 {
        clock.set(midday(start.add_days(n).unwrap()));
        let order = 10_000 + u128::try_from(n).unwrap();
        post(ledger, seller, "capture", order, 10_000).await;
        if n % 20 == 0 {
            post(ledger, seller, "refund", order, 5_000).await;
        }
    }
}

/// The posted balance of `account` in EUR from its normal side.
async fn balance(ledger: &PostgresLedger, account: ChartAccount) -> i64 {
    ledger
        .account(account.id(Currency::EUR))
        .await
        .unwrap()
        .map_or(0, |(_, balance)| {
            i64::try_from(balance.posted_net(account.normal_side())).unwrap()
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_close_a_due_date_once_and_a_loan_three_quarters_repaid_is_refilled() {
    let db = TestDatabase::new().unwrap();
    let clock = Arc::new(ManualClock::new(midday(day("2026-01-01"))));
    let ledger = PostgresLedger::connect(LedgerConfig::new(db.url()), clock.clone())
        .await
        .unwrap();
    let commerce = PostgresCommerce::new(db.url(), 2, RetryPolicy::default());
    let shop = seller(1);
    commerce
        .create_seller(&shop, midday(day("2026-01-01")))
        .await
        .unwrap();
    six_months(&ledger, &clock, shop.id).await;
    let lending = |db: &TestDatabase| {
        Lending::new(
            PostgresLending::new(db.url(), 2, RetryPolicy::default()),
            ledger.clone(),
            Policy::default(),
        )
    };
    let (one, other) = (lending(&db), lending(&db));
    let today = day("2026-07-02");
    clock.set(midday(today));
    let offered = one
        .offer(shop.id, Currency::EUR, today, midday(today))
        .await
        .unwrap();
    let first = one
        .accept(shop.id, offered.id, today, midday(today))
        .await
        .unwrap();
    let available = ChartAccount::SellerAvailable(shop.id);
    assert_eq!(balance(&ledger, available.clone()).await, 273_000);

    // Nothing was withheld by the due date; the advance is still in the balance. Two workers
    // close the due date at once: the minimum is collected once, and one of them saves.
    let due = day("2026-08-31");
    clock.set(midday(due));
    let (a, b) = tokio::join!(
        one.tend(first, due, midday(due)),
        other.tend(first, due, midday(due))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a.due_dates, b.due_dates), (1, 1));
    assert!(a.saved != b.saved, "exactly one saves: {a:?} {b:?}");
    assert_eq!(balance(&ledger, available.clone()).await, 273_000 - 50_960);
    let loan = one.loans(shop.id, due).await.unwrap()[0];
    assert_eq!(loan.paid().unwrap(), eur(50_960));
    assert_eq!(loan.interval_start, due);
    assert_eq!(loan.state, LoanState::Active);
    // Again the same day: nothing more.
    let again = one.tend(loan, due, midday(due)).await.unwrap();
    assert_eq!(again.due_dates, 0);
    assert_eq!(balance(&ledger, available.clone()).await, 273_000 - 50_960);

    // A settlement of 10,000.00 withholds 20%, 2,000.00: over three quarters are repaid, on
    // time, so the next day's offer is a refill.
    let legs = bazaar_domain::payouts::Withholding::withhold(&one, shop.id, eur(1_000_000), due)
        .await
        .unwrap();
    let mut posting = Posting::default();
    for leg in &legs {
        let mut metadata = Metadata::new();
        metadata.insert("kind".into(), "release".into());
        posting.add(
            leg,
            TransferRequest {
                id: TransferId::from_uuid(Uuid::new_v5(&shop.id.as_uuid(), leg.name.as_bytes())),
                kind: leg.direct(),
                metadata,
            },
        );
    }
    submit(&ledger, posting).await.unwrap();
    let loan = one.loans(shop.id, due).await.unwrap()[0];
    assert_eq!(loan.paid().unwrap(), eur(50_960 + 200_000));
    assert!(loan.refill_eligible().unwrap());
    let next = due.add_days(1).unwrap();
    clock.set(midday(next));
    let refill = one
        .offer(shop.id, Currency::EUR, next, midday(next))
        .await
        .unwrap();
    let before = balance(&ledger, available.clone()).await;
    let second = one
        .accept(shop.id, refill.id, next, midday(next))
        .await
        .unwrap();
    // The new advance repaid what remained of the first loan (54,800) in the same batch.
    let remained = 305_760 - 250_960;
    assert_eq!(
        balance(&ledger, available.clone()).await,
        before + second.advance.minor() - remained
    );
    let loans = one.loans(shop.id, next).await.unwrap();
    assert_eq!(loans.len(), 2);
    let old = loans.iter().find(|l| l.id == first.id).unwrap();
    assert!(matches!(old.state, LoanState::PaidOff { .. }), "{old:?}");
    assert_eq!(
        balance(&ledger, ChartAccount::LoansReceivable(first.id)).await,
        0
    );
    assert_eq!(
        balance(&ledger, ChartAccount::LoansReceivable(second.id)).await,
        second.total().unwrap().minor()
    );
    assert_eq!(
        balance(
            &ledger,
            ChartAccount::Revenue(bazaar_domain::chart::Revenue::LoanFees)
        )
        .await,
        32_760
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_months_of_sales_earn_an_offer_whose_acceptance_disburses_the_advance_once() {
    let db = TestDatabase::new().unwrap();
    let clock = Arc::new(ManualClock::new(midday(day("2026-01-01"))));
    let ledger = PostgresLedger::connect(LedgerConfig::new(db.url()), clock.clone())
        .await
        .unwrap();
    let commerce = PostgresCommerce::new(db.url(), 2, RetryPolicy::default());
    let shop = seller(1);
    let newcomer = seller(2);
    for s in [&shop, &newcomer] {
        commerce
            .create_seller(s, midday(day("2026-01-01")))
            .await
            .unwrap();
    }
    six_months(&ledger, &clock, shop.id).await;
    let today = day("2026-07-02");
    clock.set(midday(today));
    let now = midday(today);
    let lending = Lending::new(
        PostgresLending::new(db.url(), 2, RetryPolicy::default()),
        ledger.clone(),
        Policy::default(),
    );

    let offered = lending
        .offer(shop.id, Currency::EUR, today, now)
        .await
        .unwrap();
    assert_eq!(offered.id, offer_id(shop.id, Currency::EUR, today));
    // 18,200.00 sold, 15%: 2,730.00; refunds 2.7%: tier B, a 12% fee.
    assert_eq!(offered.offer.advance, eur(273_000));
    assert_eq!(offered.offer.fee, eur(32_760));
    assert_eq!(offered.offer.tier, Tier::B);
    assert_eq!(offered.loan, None);
    let again = lending
        .offer(shop.id, Currency::EUR, today, now)
        .await
        .unwrap();
    assert_eq!(again, offered);

    // Without history: no offer, and nothing stored.
    let none = lending
        .offer(newcomer.id, Currency::EUR, today, now)
        .await
        .unwrap_err();
    assert_eq!(none.code(), "loan_history_too_short");

    // After its last day the offer cannot be accepted; another seller cannot accept it.
    let late = offered.offer.expires_on.add_days(1).unwrap();
    let expired = lending
        .accept(shop.id, offered.id, late, now)
        .await
        .unwrap_err();
    assert_eq!(expired.code(), "offer_expired");
    let theirs = lending
        .accept(newcomer.id, offered.id, today, now)
        .await
        .unwrap_err();
    assert_eq!(theirs.code(), "not_found");

    let loan = lending
        .accept(shop.id, offered.id, today, now)
        .await
        .unwrap();
    assert_eq!(loan.state, LoanState::Active);
    assert_eq!(loan.advance, eur(273_000));
    let available = |ledger: PostgresLedger| async move {
        let (_, balance) = ledger
            .account(ChartAccount::SellerAvailable(shop.id).id(Currency::EUR))
            .await
            .unwrap()
            .unwrap();
        balance.credits_posted - balance.debits_posted
    };
    assert_eq!(available(ledger.clone()).await, 273_000);
    let (_, receivable) = ledger
        .account(ChartAccount::LoansReceivable(loan.id).id(Currency::EUR))
        .await
        .unwrap()
        .unwrap();
    // The loan's receivable holds the advance and the fee owed.
    assert_eq!(
        receivable.debits_posted - receivable.credits_posted,
        273_000 + 32_760
    );
    // Accepting again is the same loan; the advance is not paid twice.
    let same = lending
        .accept(shop.id, offered.id, today, now)
        .await
        .unwrap();
    assert_eq!(same, loan);
    assert_eq!(available(ledger.clone()).await, 273_000);
    assert_eq!(lending.loans(shop.id, today).await.unwrap(), vec![loan]);
    // A new offer while the loan is being repaid, and far from three quarters repaid, is
    // refused.
    let open = lending
        .offer(shop.id, Currency::EUR, today.add_days(1).unwrap(), now)
        .await
        .unwrap_err();
    assert_eq!(open.code(), "loan_open");

    let portfolio = lending.portfolio(today).await.unwrap();
    assert_eq!(portfolio.len(), 1);
    let eur_line = &portfolio[0];
    assert_eq!(eur_line.open_loans, 1);
    assert_eq!(eur_line.outstanding, eur(273_000 + 32_760));
    assert_eq!(eur_line.current, eur_line.outstanding);
    assert!(eur_line.fee_income.is_zero());
}
