//! A loan's whole life on the real PostgreSQL, the durable ledger, the payouts run and the
//! sandbox rails, day by day: a seller with six months of sales is offered a loan, accepts,
//! is paid the advance out, repays by withholding from 100 settled sales (some refunded
//! before they settle), misses one minimum, catches up and pays off; a second seller sells
//! nothing more, misses its minimum and is charged off. Every day the books balance, each
//! loan's receivable is what the loan says remains, and at the end the portfolio report is
//! the ledger's figures.
#![expect(clippy::unwrap_used, reason = "test drivers fail loudly")]
#![expect(
    clippy::arithmetic_side_effects,
    reason = "expected amounts from small test values"
)]

use std::sync::Arc;

use bazaar_domain::Country;
use bazaar_domain::catalog::{BasisPoints, CommissionRule, Region, Seller};
use bazaar_domain::chart::{ChartAccount, Expense, ProviderName, Revenue, SellerId};
use bazaar_domain::events::EventType;
use bazaar_domain::fx::calendar::Date;
use bazaar_domain::lending::{Lending, Loan, LoanState, Policy};
use bazaar_domain::payouts::{AddBankAccount, BankAccountId, BankDetails, Payouts, Rail};
use bazaar_domain::service::open_seller_accounts;
use bazaar_domain::store::CommerceStore;
use bazaar_ledger::{
    LedgerStore, ManualClock, Metadata, RequestKind, Timestamp, TransferId, TransferRequest,
    accounts_after,
};
use bazaar_money::{Currency, Money};
use bazaar_payouts::SandboxRails;
use bazaar_postgres::{
    LedgerConfig, PostgresCommerce, PostgresLedger, PostgresLending, PostgresPayouts, RetryPolicy,
    SecretKey,
};
use bazaar_testdb::TestDatabase;
use diesel::prelude::*;
use uuid::Uuid;

type LendingService = Lending<PostgresLending, PostgresLedger>;

const DAY_MICROS: i64 = 86_400_000_000;

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::USD)
}

fn day(text: &str) -> Date {
    Date::parse_iso(text).unwrap()
}

/// 15:00 UTC on `date` (10:00 in New York).
fn afternoon(date: Date) -> Timestamp {
    Timestamp::from_micros(date.days_since_epoch().unwrap() * DAY_MICROS + 15 * 3_600_000_000)
}

struct Story {
    db: TestDatabase,
    clock: Arc<ManualClock>,
    ledger: PostgresLedger,
    rails: Arc<SandboxRails>,
    captures: u128,
}

impl Story {
    fn lending(&self) -> LendingService {
        Lending::new(
            PostgresLending::new(self.db.url(), 2, RetryPolicy::default()),
            self.ledger.clone(),
            Policy {
                charge_off_after_days: 90,
                ..Policy::default()
            },
        )
    }

    fn at(&self, date: Date, hour_offset: i64) -> Timestamp {
        let now = Timestamp::from_micros(afternoon(date).as_micros() + hour_offset * 3_600_000);
        self.clock.set(now);
        now
    }

    /// A sale's seller share captured to its pending balance, as checkout names it.
    async fn capture(&mut self, seller: SellerId, minor: i64) -> (Uuid, TransferId) {
        self.captures += 1;
        let order = Uuid::from_u128(self.captures);
        let clearing = ChartAccount::PspClearing(ProviderName::new("sandbox").unwrap());
        let id = TransferId::from_uuid(Uuid::new_v5(&order, b"capture"));
        let mut metadata = Metadata::new();
        metadata.insert("kind".into(), "capture".into());
        metadata.insert("order_id".into(), order.to_string());
        self.ledger
            .submit(vec![TransferRequest {
                id,
                kind: RequestKind::Direct {
                    debit_account_id: clearing.id(Currency::USD),
                    credit_account_id: ChartAccount::SellerPending(seller).id(Currency::USD),
                    amount: usd(minor),
                },
                metadata,
            }])
            .await
            .unwrap()
            .unwrap();
        (order, id)
    }

    /// Part of a capture refunded, before its funds settle.
    async fn refund(&self, (order, capture): (Uuid, TransferId), minor: i64) {
        let mut metadata = Metadata::new();
        metadata.insert("kind".into(), "refund".into());
        metadata.insert("order_id".into(), order.to_string());
        self.ledger
            .submit(vec![TransferRequest {
                id: TransferId::from_uuid(Uuid::new_v5(&capture.as_uuid(), b"refund")),
                kind: RequestKind::Reverse {
                    original_id: capture,
                    amount: usd(minor),
                },
                metadata,
            }])
            .await
            .unwrap()
            .unwrap();
    }

    /// The posted balance of `account` from its normal side.
    async fn balance(&self, account: ChartAccount) -> i64 {
        self.ledger
            .account(account.id(Currency::USD))
            .await
            .unwrap()
            .map_or(0, |(_, balance)| {
                i64::try_from(balance.posted_net(account.normal_side())).unwrap()
            })
    }

    /// Every account's debits and credits add up to the same, and no account has an open
    /// pending transfer the other side lacks.
    async fn books_balance(&self) {
        let (mut debits, mut credits) = (0_i128, 0_i128);
        let mut after = None;
        while let Some((last, page)) = accounts_after(&self.ledger, after, 500).await.unwrap() {
            after = Some(last);
            for (_, balance) in &page {
                debits += i128::from(balance.debits_posted);
                credits += i128::from(balance.credits_posted);
            }
        }
        assert_eq!(debits, credits, "the books balance");
    }

    /// The loan's receivable is what it says remains, its unearned fee the fee unpaid.
    async fn loan_matches_ledger(&self, loan: &Loan) {
        assert_eq!(
            loan.paid().unwrap().checked_add(loan.remaining().unwrap()),
            loan.total()
        );
        let receivable = self.balance(ChartAccount::LoansReceivable(loan.id)).await;
        let unearned = self.balance(ChartAccount::LoanFeesUnearned(loan.id)).await;
        if let LoanState::ChargedOff { .. } = loan.state {
            assert_eq!((receivable, unearned), (0, 0));
        } else {
            assert_eq!(receivable, loan.remaining().unwrap().minor());
            assert_eq!(unearned, (loan.fee.minor() - loan.paid_fee.minor()));
        }
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

fn seller(n: u128) -> Seller {
    Seller {
        id: SellerId::from_uuid(Uuid::from_u128(n)),
        name: format!("Shop {n}"),
        country: Country::new("US").unwrap(),
        region: Region::new("us").unwrap(),
        settlement_currency: Currency::USD,
        commission: CommissionRule::flat(BasisPoints::new(1_000).unwrap()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loan_is_offered_paid_out_withheld_caught_up_and_paid_off_and_another_charged_off() {
    let db = TestDatabase::new().unwrap();
    let start = day("2026-01-01");
    let clock = Arc::new(ManualClock::new(afternoon(start)));
    let ledger = PostgresLedger::connect(LedgerConfig::new(db.url()), clock.clone())
        .await
        .unwrap();
    let rails = Arc::new(SandboxRails::new(db.url(), 2));
    let mut story = Story {
        db,
        clock,
        ledger,
        rails,
        captures: 0,
    };
    let commerce = PostgresCommerce::new(story.db.url(), 2, RetryPolicy::default());
    let (ada, bob) = (seller(1), seller(2));
    let clearing = ChartAccount::PspClearing(ProviderName::new("sandbox").unwrap());
    story
        .ledger
        .create_account(clearing.new_account(Currency::USD).unwrap())
        .await
        .unwrap()
        .unwrap();
    for s in [&ada, &bob] {
        commerce.create_seller(s, afternoon(start)).await.unwrap();
        open_seller_accounts(&story.ledger, s).await.unwrap();
    }
    let key = SecretKey::generate();
    let payouts = Payouts::new(
        PostgresPayouts::new(story.db.url(), 4, RetryPolicy::default(), key.clone()),
        story.rails.clone(),
        story.ledger.clone(),
    )
    .withholding(story.lending());
    let lending = story.lending();

    // Six months of one USD 100.00 sale a day each, every twentieth refunded by half.
    for n in 0..182_i64 {
        story.at(start.add_days(n).unwrap(), 0);
        for s in [&ada, &bob] {
            let capture = story.capture(s.id, 10_000).await;
            if n % 20 == 0 {
                story.refund(capture, 5_000).await;
            }
        }
    }

    // Both add a bank account and are paid out daily; today's run releases the history.
    let today = day("2026-07-02");
    let now = story.at(today, 0);
    for (n, s) in [(1_u128, &ada), (2, &bob)] {
        let details = BankDetails::UsAccount {
            routing_number: "021000021".to_owned(),
            account_number: format!("00012345300{n}"),
        };
        let account = payouts
            .add_bank_account(
                AddBankAccount {
                    id: BankAccountId::from_u128(n),
                    seller: s.id,
                    rail: Rail::Ach,
                    details: details.clone(),
                    holder_name: s.name.clone(),
                },
                now,
            )
            .await
            .unwrap();
        let sent = bazaar_domain::payouts::PayoutRails::micro_deposits(
            story.rails.as_ref(),
            Rail::Ach,
            details,
            now,
        )
        .await
        .unwrap();
        payouts
            .verify_bank_account(s.id, account.id, sent.map(|m| m.minor()), now)
            .await
            .unwrap();
    }

    // The history settles before any loan is open: nothing of it is withheld.
    let pass = payouts.run(100, now).await.unwrap();
    assert_eq!(pass.failed, 0);

    // Offers: 18,200.00 sold, 15% advanced (2,730.00), a 12% fee, 20% withheld, 509.60
    // every 60 days.
    let mut loans = Vec::new();
    for s in [&ada, &bob] {
        let offered = lending
            .offer(s.id, Currency::USD, today, now)
            .await
            .unwrap();
        assert_eq!(offered.offer.advance, usd(273_000));
        assert_eq!(offered.offer.fee, usd(32_760));
        assert_eq!(offered.offer.minimum, usd(50_960));
        assert_eq!(offered.offer.withhold_rate.get(), 2_000);
        loans.push(lending.accept(s.id, offered.id, today, now).await.unwrap());
    }
    let (ada_loan, bob_loan) = (loans[0], loans[1]);
    story.books_balance().await;

    // Day by day until Bob's loan is charged off: Ada sells 10 small sales before the first
    // due date and 90 larger ones after it, every tenth refunded by a quarter before it
    // settles; Bob sells nothing more. Every day the payouts run releases (withholding),
    // pays out, the rails answer, and the loans are serviced.
    let mut sold = 0_u32;
    let mut date = today;
    let mut ada_past_due_seen = false;
    let mut ada_paid_off_on = None;
    let mut withheld_days = 0_u32;
    while date <= day("2026-12-05") {
        let now = story.at(date, 0);
        let first_due = day("2026-08-31");
        let selling = if date < first_due {
            sold < 10
        } else {
            sold < 100
        };
        if selling && date != first_due {
            let minor = if date < first_due { 10_000 } else { 40_000 };
            let capture = story.capture(ada.id, minor).await;
            sold += 1;
            if sold.is_multiple_of(10) {
                story.refund(capture, minor / 4).await;
            }
        }
        let receivable_before = story
            .balance(ChartAccount::LoansReceivable(ada_loan.id))
            .await;
        let pass = payouts.run(100, story.at(date, 1)).await.unwrap();
        assert_eq!(pass.failed, 0, "{date}");
        if story
            .balance(ChartAccount::LoansReceivable(ada_loan.id))
            .await
            < receivable_before
        {
            withheld_days += 1;
        }
        payouts.rail_events(100, story.at(date, 2)).await.unwrap();
        let run = lending.run(100, date, story.at(date, 3)).await.unwrap();
        assert!(run.failed.is_empty(), "{date}: {:?}", run.failed);
        story.books_balance().await;
        for loan in lending.loans(ada.id, date).await.unwrap() {
            story.loan_matches_ledger(&loan).await;
            if matches!(loan.state, LoanState::PastDue { .. }) {
                ada_past_due_seen = true;
            }
            if let LoanState::PaidOff { on } = loan.state {
                ada_paid_off_on.get_or_insert(on);
            }
        }
        for loan in lending.loans(bob.id, date).await.unwrap() {
            story.loan_matches_ledger(&loan).await;
        }
        let _ = now;
        date = date.add_days(1).unwrap();
    }
    assert_eq!(sold, 100);

    // Ada missed the first minimum (her withholding was 10 x 20.00, her balance paid out),
    // caught up from later sales and paid off by withholding alone.
    assert!(ada_past_due_seen);
    let ada_now = lending.loans(ada.id, date).await.unwrap()[0];
    assert!(
        matches!(ada_now.state, LoanState::PaidOff { .. }),
        "{ada_now:?}"
    );
    assert!(ada_now.ever_past_due);
    assert_eq!(ada_now.paid_advance, ada_now.advance);
    assert_eq!(ada_now.paid_fee, ada_now.fee);
    assert!(withheld_days >= 20, "withheld on {withheld_days} days");
    assert!(ada_paid_off_on.is_some());

    // Bob missed his minimum on 31 August and was charged off 90 days later.
    let bob_now = lending.loans(bob.id, date).await.unwrap()[0];
    assert_eq!(
        bob_now.state,
        LoanState::ChargedOff {
            on: day("2026-11-29")
        }
    );
    // The one sale captured the day before acceptance settled after it: 20% of its 100.00
    // was withheld, and the rest of the advance was written off.
    assert_eq!(bob_now.paid().unwrap(), usd(2_000));
    assert_eq!(
        bob_now.written_off,
        bob_now.advance.checked_sub(bob_now.paid_advance).unwrap()
    );
    assert_eq!(bob_now.id, bob_loan.id);

    // Ada was paid the history on the first day and the advance on the next.
    let paid_out = payouts.payouts(ada.id, None, 200).await.unwrap().items;
    assert!(
        paid_out
            .iter()
            .filter(|payout| payout.amount.minor() >= 273_000)
            .count()
            >= 2,
        "{paid_out:?}"
    );

    // The portfolio is the ledger's figures.
    let portfolio = lending.portfolio(date).await.unwrap();
    assert_eq!(portfolio.len(), 1);
    let line = &portfolio[0];
    assert_eq!(line.open_loans, 0);
    assert!(line.outstanding.is_zero());
    assert_eq!(
        line.charged_off.minor(),
        story
            .balance(ChartAccount::Expense(Expense::LoanLosses))
            .await
    );
    assert_eq!(
        line.fee_income.minor(),
        story
            .balance(ChartAccount::Revenue(Revenue::LoanFees))
            .await
    );
    assert_eq!(
        line.fee_income,
        ada_now.fee.checked_add(bob_now.paid_fee).unwrap()
    );
    assert_eq!(line.charged_off, bob_now.written_off);

    // Each event once.
    assert_eq!(story.events(EventType::LoanOffered), 2);
    assert_eq!(story.events(EventType::LoanAccepted), 2);
    assert_eq!(story.events(EventType::LoanDisbursed), 2);
    assert_eq!(story.events(EventType::LoanPastDue), 2);
    assert_eq!(story.events(EventType::LoanChargedOff), 1);
    assert_eq!(story.events(EventType::LoanPaidOff), 1);
    assert!(story.events(EventType::LoanRepayment) >= 20);
}
