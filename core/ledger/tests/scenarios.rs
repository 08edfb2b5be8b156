//! Worked examples through the `LedgerStore` port, on the in-memory reference engine: the
//! marketplace flows of the chart of accounts, and the rules each result code stands for.
#![expect(
    clippy::inconsistent_digit_grouping,
    reason = "amounts are written major_minor: 119_00 is 119.00 EUR"
)]
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    reason = "test fixtures fail loudly when a fixture is broken"
)]

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bazaar_ledger::{
    AccountCode, AccountError, AccountId, Balance, BalanceConstraint, BatchError, Currency,
    InMemoryLedger, LedgerStore, ManualClock, Metadata, Money, NewAccount, Owner, PendingState,
    RequestKind, Side, Timestamp, TransferError, TransferId, TransferKind, TransferRequest,
};

/// The reference engine answers at once, so its futures are ready on the first poll.
fn ready<T>(future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the in-memory ledger never waits"),
    }
}

const T0: Timestamp = Timestamp::from_micros(1_750_000_000_000_000);

struct Fixture {
    clock: Arc<ManualClock>,
    ledger: InMemoryLedger,
    next: u128,
}

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

impl Fixture {
    fn new() -> Self {
        let clock = Arc::new(ManualClock::new(T0));
        let ledger = InMemoryLedger::new(clock.clone());
        Self {
            clock,
            ledger,
            next: 1,
        }
    }

    fn id(&mut self) -> TransferId {
        self.next += 1;
        TransferId::from_u128(self.next)
    }

    fn open(&self, n: u128, code: &str, side: Side, constraint: BalanceConstraint) -> AccountId {
        let id = AccountId::from_u128(0xA000 + n);
        let account = NewAccount {
            id,
            currency: Currency::EUR,
            code: AccountCode::new(code).unwrap(),
            owner: Owner::new("seller:1").unwrap(),
            normal_side: side,
            constraint,
        };
        ready(self.ledger.create_account(account)).unwrap().unwrap();
        id
    }

    fn submit(
        &self,
        batch: Vec<TransferRequest>,
    ) -> Result<Vec<bazaar_ledger::Receipt>, BatchError> {
        ready(self.ledger.submit(batch)).unwrap()
    }

    fn balance(&self, id: AccountId) -> Balance {
        ready(self.ledger.account(id)).unwrap().unwrap().1
    }

    fn direct(&mut self, debit: AccountId, credit: AccountId, minor: i64) -> TransferRequest {
        TransferRequest {
            id: self.id(),
            kind: RequestKind::Direct {
                debit_account_id: debit,
                credit_account_id: credit,
                amount: eur(minor),
            },
            metadata: Metadata::new(),
        }
    }

    fn pending(
        &mut self,
        debit: AccountId,
        credit: AccountId,
        minor: i64,
        timeout_secs: u32,
    ) -> TransferRequest {
        TransferRequest {
            id: self.id(),
            kind: RequestKind::Pending {
                debit_account_id: debit,
                credit_account_id: credit,
                amount: eur(minor),
                timeout_secs,
            },
            metadata: Metadata::new(),
        }
    }

    fn post(&mut self, pending_id: TransferId, minor: i64) -> TransferRequest {
        TransferRequest {
            id: self.id(),
            kind: RequestKind::PostPending {
                pending_id,
                amount: eur(minor),
            },
            metadata: Metadata::new(),
        }
    }

    fn void(&mut self, pending_id: TransferId) -> TransferRequest {
        TransferRequest {
            id: self.id(),
            kind: RequestKind::VoidPending { pending_id },
            metadata: Metadata::new(),
        }
    }

    fn rejected(&self, batch: Vec<TransferRequest>) -> (usize, TransferError) {
        match self.submit(batch) {
            Err(BatchError::Rejected { index, error, .. }) => (index, error),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }
}

const OPEN: BalanceConstraint = BalanceConstraint::Unconstrained;
const NO_OVERDRAFT: BalanceConstraint =
    BalanceConstraint::DebitsMustNotExceedCredits { overdraft: 0 };

fn posted(debits: i64, credits: i64) -> Balance {
    Balance {
        debits_posted: debits,
        credits_posted: credits,
        ..Balance::default()
    }
}

#[test]
fn capture_splits_a_payment_into_tax_seller_and_commission_atomically() {
    let mut f = Fixture::new();
    let clearing = f.open(1, "psp_clearing", Side::Debit, OPEN);
    let tax = f.open(2, "tax_payable", Side::Credit, NO_OVERDRAFT);
    let seller = f.open(3, "seller_pending", Side::Credit, NO_OVERDRAFT);
    let commission = f.open(4, "revenue_commission", Side::Credit, NO_OVERDRAFT);
    // Buyer pays 119.00 EUR including 19.00 VAT; commission 10%.
    let mut capture = vec![
        f.direct(clearing, tax, 19_00),
        f.direct(clearing, seller, 90_00),
        f.direct(clearing, commission, 10_00),
    ];
    for leg in &mut capture {
        leg.metadata.insert("order".into(), "ord_1".into());
    }
    let receipts = f.submit(capture.clone()).unwrap();
    assert_eq!(receipts.len(), 3);
    assert!(
        receipts
            .iter()
            .all(|r| r.timestamp == receipts[0].timestamp)
    );
    assert_eq!(f.balance(clearing), posted(119_00, 0));
    assert_eq!(f.balance(tax), posted(0, 19_00));
    assert_eq!(f.balance(seller), posted(0, 90_00));
    assert_eq!(f.balance(commission), posted(0, 10_00));
    // The same batch again returns the same receipts and moves nothing.
    assert_eq!(f.submit(capture), Ok(receipts));
    assert_eq!(f.balance(clearing), posted(119_00, 0));
}

#[test]
fn a_failing_leg_rejects_the_whole_batch_and_is_remembered() {
    let mut f = Fixture::new();
    let clearing = f.open(1, "psp_clearing", Side::Debit, OPEN);
    let seller = f.open(2, "seller_available", Side::Credit, NO_OVERDRAFT);
    let bank = f.open(3, "bank", Side::Debit, OPEN);
    let sale = f.direct(clearing, seller, 50_00);
    // The payout of 60.00 exceeds the 50.00 credited by the leg before it.
    let payout = f.direct(seller, bank, 60_00);
    let batch = vec![sale.clone(), payout.clone()];
    assert_eq!(
        f.rejected(batch.clone()),
        (1, TransferError::ExceedsCredits)
    );
    assert_eq!(f.balance(seller), Balance::default());
    assert_eq!(ready(f.ledger.transfer(sale.id)).unwrap(), None);
    // The failed id stays failed, with its code for the same request...
    assert_eq!(f.rejected(batch), (1, TransferError::ExceedsCredits));
    // ...even once the funds are there.
    f.submit(vec![sale]).unwrap();
    assert_eq!(
        f.rejected(vec![payout.clone()]),
        (0, TransferError::ExceedsCredits)
    );
    // Another request under that id is refused as such.
    let mut changed = payout;
    changed.kind = RequestKind::Direct {
        debit_account_id: seller,
        credit_account_id: bank,
        amount: eur(10_00),
    };
    assert_eq!(
        f.rejected(vec![changed]),
        (0, TransferError::IdAlreadyFailed)
    );
    // A fresh id for the payout goes through.
    let payout = f.direct(seller, bank, 50_00);
    f.submit(vec![payout]).unwrap();
    assert_eq!(f.balance(seller), posted(50_00, 50_00));
}

#[test]
fn same_id_with_other_content_names_what_differs() {
    let mut f = Fixture::new();
    let a = f.open(1, "a", Side::Debit, OPEN);
    let b = f.open(2, "b", Side::Credit, OPEN);
    let c = f.open(3, "c", Side::Credit, OPEN);
    let original = f.direct(a, b, 5_00);
    f.submit(vec![original.clone()]).unwrap();
    let with = |kind| TransferRequest {
        kind,
        ..original.clone()
    };
    let cases = [
        (
            with(RequestKind::Direct {
                debit_account_id: a,
                credit_account_id: b,
                amount: eur(5_01),
            }),
            TransferError::ExistsWithDifferentAmount,
        ),
        (
            with(RequestKind::Direct {
                debit_account_id: a,
                credit_account_id: b,
                amount: Money::from_minor(5_00, Currency::USD),
            }),
            TransferError::ExistsWithDifferentCurrency,
        ),
        (
            with(RequestKind::Direct {
                debit_account_id: c,
                credit_account_id: b,
                amount: eur(5_00),
            }),
            TransferError::ExistsWithDifferentDebitAccount,
        ),
        (
            with(RequestKind::Direct {
                debit_account_id: a,
                credit_account_id: c,
                amount: eur(5_00),
            }),
            TransferError::ExistsWithDifferentCreditAccount,
        ),
        (
            with(RequestKind::Pending {
                debit_account_id: a,
                credit_account_id: b,
                amount: eur(5_00),
                timeout_secs: 60,
            }),
            TransferError::ExistsWithDifferentKind,
        ),
    ];
    for (request, error) in cases {
        assert_eq!(f.rejected(vec![request]), (0, error));
    }
    let mut tagged = original.clone();
    tagged.metadata.insert("order".into(), "ord_2".into());
    assert_eq!(
        f.rejected(vec![tagged]),
        (0, TransferError::ExistsWithDifferentMetadata)
    );
    // None of these is remembered as a failure of the id: the original still replays.
    assert!(f.submit(vec![original]).is_ok());
    assert_eq!(f.balance(b), posted(0, 5_00));
}

#[test]
fn pending_transfers_reserve_then_post_partially_void_or_expire() {
    let mut f = Fixture::new();
    let buyer = f.open(1, "buyer_funds", Side::Credit, NO_OVERDRAFT);
    let source = f.open(2, "bank", Side::Debit, OPEN);
    let seller = f.open(3, "seller_pending", Side::Credit, NO_OVERDRAFT);
    let topup = f.direct(source, buyer, 100_00);
    f.submit(vec![topup]).unwrap();

    // Reserve 80.00, post 60.00: the other 20.00 is released.
    let hold = f.pending(buyer, seller, 80_00, 3600);
    f.submit(vec![hold.clone()]).unwrap();
    assert_eq!(f.balance(buyer).debits_pending, 80_00);
    // The reservation counts against the buyer: 30.00 more is too much.
    let extra = f.pending(buyer, seller, 30_00, 3600);
    assert_eq!(f.rejected(vec![extra]), (0, TransferError::ExceedsCredits));
    let too_much = f.post(hold.id, 80_01);
    assert_eq!(
        f.rejected(vec![too_much]),
        (0, TransferError::ExceedsPendingTransferAmount)
    );
    let capture = f.post(hold.id, 60_00);
    f.submit(vec![capture.clone()]).unwrap();
    assert_eq!(
        f.balance(buyer),
        Balance {
            debits_posted: 60_00,
            credits_posted: 100_00,
            ..Balance::default()
        }
    );
    assert_eq!(f.balance(seller), posted(0, 60_00));
    assert_eq!(
        ready(f.ledger.pending_state(hold.id)).unwrap(),
        Some(PendingState::Posted {
            by: capture.id,
            amount: 60_00
        })
    );
    let again = f.post(hold.id, 10_00);
    assert_eq!(
        f.rejected(vec![again]),
        (0, TransferError::PendingTransferAlreadyPosted)
    );
    let void = f.void(hold.id);
    assert_eq!(
        f.rejected(vec![void]),
        (0, TransferError::PendingTransferAlreadyPosted)
    );

    // Reserve and void.
    let hold = f.pending(buyer, seller, 40_00, 3600);
    f.submit(vec![hold.clone()]).unwrap();
    let void = f.void(hold.id);
    let stored = f.submit(vec![void.clone()]).unwrap();
    assert_eq!(f.balance(buyer).debits_pending, 0);
    let void_transfer = ready(f.ledger.transfer(void.id)).unwrap().unwrap();
    assert_eq!(
        void_transfer.kind,
        TransferKind::VoidPending {
            pending_id: hold.id
        }
    );
    assert_eq!(void_transfer.amount, eur(40_00));
    assert_eq!(void_transfer.timestamp, stored[0].timestamp);
    let post = f.post(hold.id, 1);
    assert_eq!(
        f.rejected(vec![post]),
        (0, TransferError::PendingTransferAlreadyVoided)
    );

    // Reserve and let it time out: it cannot be posted once the timeout has passed, and
    // the expiry run releases it.
    let hold = f.pending(buyer, seller, 40_00, 60);
    let created = f.submit(vec![hold.clone()]).unwrap()[0].timestamp;
    // The ledger's clock ran a few microseconds ahead of the manual one to keep timestamps
    // strictly increasing: go to exactly the expiry instant.
    f.clock.set(created.saturating_add_secs(60));
    let late = f.post(hold.id, 40_00);
    assert_eq!(
        f.rejected(vec![late]),
        (0, TransferError::PendingTransferExpired)
    );
    assert_eq!(f.balance(buyer).debits_pending, 40_00);
    assert_eq!(ready(f.ledger.expire_due()).unwrap(), vec![hold.id]);
    assert_eq!(f.balance(buyer).debits_pending, 0);
    assert!(matches!(
        ready(f.ledger.pending_state(hold.id)).unwrap(),
        Some(PendingState::Expired { .. })
    ));
    assert_eq!(ready(f.ledger.expire_due()).unwrap(), vec![]);
}

#[test]
fn a_pending_transfer_can_be_created_and_posted_in_one_batch() {
    let mut f = Fixture::new();
    let a = f.open(1, "a", Side::Debit, OPEN);
    let b = f.open(2, "b", Side::Credit, OPEN);
    let hold = f.pending(a, b, 7_00, 60);
    let post = f.post(hold.id, 7_00);
    f.submit(vec![hold.clone(), post]).unwrap();
    assert_eq!(f.balance(b), posted(0, 7_00));
    // Posted pendings never expire.
    f.clock.advance_secs(3600);
    assert_eq!(ready(f.ledger.expire_due()).unwrap(), vec![]);
}

#[test]
fn reversals_move_money_back_up_to_the_original_amount() {
    let mut f = Fixture::new();
    let clearing = f.open(1, "psp_clearing", Side::Debit, OPEN);
    let seller = f.open(2, "seller_pending", Side::Credit, NO_OVERDRAFT);
    let sale = f.direct(clearing, seller, 100_00);
    f.submit(vec![sale.clone()]).unwrap();
    let refund = |f: &mut Fixture, minor| TransferRequest {
        id: f.id(),
        kind: RequestKind::Reverse {
            original_id: sale.id,
            amount: eur(minor),
        },
        metadata: Metadata::new(),
    };
    let first = refund(&mut f, 30_00);
    f.submit(vec![first.clone()]).unwrap();
    let stored = ready(f.ledger.transfer(first.id)).unwrap().unwrap();
    assert_eq!(
        stored.kind,
        TransferKind::Reversal {
            original_id: sale.id
        }
    );
    assert_eq!(
        (stored.debit_account_id, stored.credit_account_id),
        (seller, clearing)
    );
    let too_much = refund(&mut f, 70_01);
    assert_eq!(
        f.rejected(vec![too_much]),
        (0, TransferError::ExceedsReversibleAmount)
    );
    let rest = refund(&mut f, 70_00);
    f.submit(vec![rest]).unwrap();
    assert_eq!(f.balance(seller), posted(100_00, 100_00));
    // The original is untouched.
    assert_eq!(
        ready(f.ledger.transfer(sale.id)).unwrap().unwrap().amount,
        eur(100_00)
    );
}

#[test]
fn balances_can_be_read_at_any_past_instant() {
    let mut f = Fixture::new();
    let a = f.open(1, "a", Side::Debit, OPEN);
    let b = f.open(2, "b", Side::Credit, OPEN);
    let first = f.direct(a, b, 1_00);
    let t1 = f.submit(vec![first]).unwrap()[0].timestamp;
    f.clock.advance_secs(10);
    let second = f.direct(a, b, 2_00);
    let t2 = f.submit(vec![second]).unwrap()[0].timestamp;
    let at = |t| ready(f.ledger.balance_at(b, t)).unwrap();
    assert_eq!(
        at(Timestamp::from_micros(t1.as_micros() - 1)),
        Some(Balance::default())
    );
    assert_eq!(at(t1), Some(posted(0, 1_00)));
    assert_eq!(
        at(Timestamp::from_micros(t2.as_micros() - 1)),
        Some(posted(0, 1_00))
    );
    assert_eq!(at(t2), Some(posted(0, 3_00)));
    assert_eq!(at(Timestamp::MIN), None, "the account did not exist yet");
    assert_eq!(
        ready(f.ledger.balance_at(AccountId::from_u128(9), t2)).unwrap(),
        None
    );
}

#[test]
fn malformed_requests_get_typed_errors_and_change_nothing() {
    let mut f = Fixture::new();
    let a = f.open(1, "a", Side::Debit, OPEN);
    let b = f.open(2, "b", Side::Credit, OPEN);
    let jpy_account = {
        let id = AccountId::from_u128(0xB000);
        let account = NewAccount {
            id,
            currency: Currency::JPY,
            code: AccountCode::new("yen").unwrap(),
            owner: Owner::platform(),
            normal_side: Side::Credit,
            constraint: OPEN,
        };
        ready(f.ledger.create_account(account)).unwrap().unwrap();
        id
    };
    let unknown = AccountId::from_u128(0xDEAD);
    let cases = [
        (f.direct(a, b, 0), TransferError::AmountMustBePositive),
        (f.direct(a, b, -5), TransferError::AmountMustBePositive),
        (f.direct(a, a, 5), TransferError::AccountsMustBeDifferent),
        (f.direct(unknown, b, 5), TransferError::DebitAccountNotFound),
        (
            f.direct(a, unknown, 5),
            TransferError::CreditAccountNotFound,
        ),
        (
            f.direct(a, jpy_account, 5),
            TransferError::CreditAccountCurrencyMismatch,
        ),
        (f.pending(a, b, 5, 0), TransferError::TimeoutMustBePositive),
        (
            f.pending(a, b, 5, u32::MAX),
            TransferError::TimeoutExceedsMaximum,
        ),
        (
            f.post(TransferId::from_u128(0xFEED), 5),
            TransferError::PendingTransferNotFound,
        ),
    ];
    for (request, error) in cases {
        assert_eq!(f.rejected(vec![request]), (0, error));
    }
    let mut bad_metadata = f.direct(a, b, 5);
    bad_metadata.metadata.insert("x".repeat(41), String::new());
    assert_eq!(
        f.rejected(vec![bad_metadata]),
        (0, TransferError::MetadataInvalid)
    );
    let mut nil = f.direct(a, b, 5);
    nil.id = TransferId::from_u128(0);
    assert_eq!(f.rejected(vec![nil]), (0, TransferError::IdMustNotBeNil));
    let twice = f.direct(a, b, 5);
    assert_eq!(
        f.rejected(vec![twice.clone(), twice]),
        (1, TransferError::DuplicateIdInBatch)
    );
    assert_eq!(f.submit(vec![]), Err(BatchError::Empty));
    let huge: Vec<_> = (0..=bazaar_ledger::BATCH_LEGS_MAX)
        .map(|_| f.direct(a, b, 1))
        .collect();
    assert!(matches!(f.submit(huge), Err(BatchError::TooLarge { .. })));
    assert_eq!(f.balance(a), Balance::default());
    assert_eq!(f.balance(b), Balance::default());
}

#[test]
fn sums_refuse_to_overflow() {
    let mut f = Fixture::new();
    let a = f.open(1, "a", Side::Debit, OPEN);
    let b = f.open(2, "b", Side::Credit, OPEN);
    let first = f.direct(a, b, i64::MAX);
    f.submit(vec![first]).unwrap();
    let second = f.direct(a, b, 1);
    assert_eq!(
        f.rejected(vec![second]),
        (0, TransferError::OverflowsDebitsPosted)
    );
    let back = f.direct(b, a, 1);
    f.submit(vec![back]).unwrap();
    let hold = f.pending(a, b, i64::MAX, 60);
    f.submit(vec![hold]).unwrap();
    let more = f.pending(a, b, 1, 60);
    assert_eq!(
        f.rejected(vec![more]),
        (0, TransferError::OverflowsDebitsPending)
    );
}

#[test]
fn accounts_open_idempotently_and_refuse_conflicts() {
    let f = Fixture::new();
    let new = NewAccount {
        id: AccountId::from_u128(7),
        currency: Currency::KWD,
        code: AccountCode::new("fx_position").unwrap(),
        owner: Owner::platform(),
        normal_side: Side::Debit,
        constraint: OPEN,
    };
    let first = ready(f.ledger.create_account(new.clone()))
        .unwrap()
        .unwrap();
    f.clock.advance_secs(5);
    let again = ready(f.ledger.create_account(new.clone()))
        .unwrap()
        .unwrap();
    assert_eq!(
        first, again,
        "the same request returns the account as first opened"
    );
    let other_currency = NewAccount {
        currency: Currency::BHD,
        ..new.clone()
    };
    assert_eq!(
        ready(f.ledger.create_account(other_currency)).unwrap(),
        Err(AccountError::ExistsWithDifferentCurrency)
    );
    let nil = NewAccount {
        id: AccountId::from_u128(0),
        ..new.clone()
    };
    assert_eq!(
        ready(f.ledger.create_account(nil)).unwrap(),
        Err(AccountError::IdMustNotBeNil)
    );
    let negative = NewAccount {
        id: AccountId::from_u128(8),
        constraint: BalanceConstraint::CreditsMustNotExceedDebits { overdraft: -1 },
        ..new
    };
    assert_eq!(
        ready(f.ledger.create_account(negative)).unwrap(),
        Err(AccountError::OverdraftMustNotBeNegative)
    );
}
