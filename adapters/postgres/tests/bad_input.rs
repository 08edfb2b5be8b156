//! Bad requests against the durable store: each gets its typed error, and no transfer, balance
//! or pending state is written. Remembered failures are the only trace, as in the reference.
#![expect(clippy::unwrap_used, reason = "test drivers fail loudly")]

use std::sync::Arc;

use bazaar_ledger::{
    AccountCode, AccountId, BalanceConstraint, BatchError, Currency, LedgerStore, Metadata, Money,
    NewAccount, Owner, RequestKind, Side, TransferError, TransferId, TransferRequest,
};
use bazaar_postgres::{LedgerConfig, PostgresLedger, SystemClock};
use bazaar_testdb::TestDatabase;
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::BigInt;

#[derive(QueryableByName, PartialEq, Eq, Debug)]
struct Counts {
    #[diesel(sql_type = BigInt)]
    transfers: i64,
    #[diesel(sql_type = BigInt)]
    pending: i64,
    #[diesel(sql_type = BigInt)]
    balance_sum: i64,
    #[diesel(sql_type = BigInt)]
    failures: i64,
}

fn counts(conn: &mut PgConnection) -> Counts {
    sql_query(
        "SELECT (SELECT count(*) FROM ledger_transfers) AS transfers, \
         (SELECT count(*) FROM ledger_pending) AS pending, \
         (SELECT COALESCE(SUM(debits_posted + credits_posted + debits_pending + credits_pending), 0)::int8 \
          FROM ledger_accounts) AS balance_sum, \
         (SELECT count(*) FROM ledger_failures) AS failures",
    )
    .get_result(conn)
    .unwrap()
}

fn request(id: u128, kind: RequestKind) -> TransferRequest {
    TransferRequest {
        id: TransferId::from_u128(id),
        kind,
        metadata: Metadata::new(),
    }
}

fn direct(id: u128, debit: AccountId, credit: AccountId, amount: Money) -> TransferRequest {
    request(
        id,
        RequestKind::Direct {
            debit_account_id: debit,
            credit_account_id: credit,
            amount,
        },
    )
}

#[test]
fn bad_requests_get_typed_errors_and_write_nothing() {
    let db = TestDatabase::new().unwrap();
    let mut conn = db.connect().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let ledger = PostgresLedger::connect(LedgerConfig::new(db.url()), Arc::new(SystemClock))
            .await
            .unwrap();
        let open = |id: u128, currency| NewAccount {
            id: AccountId::from_u128(id),
            currency,
            code: AccountCode::new("test").unwrap(),
            owner: Owner::platform(),
            normal_side: Side::Credit,
            constraint: BalanceConstraint::DebitsMustNotExceedCredits { overdraft: 0 },
        };
        let source = NewAccount {
            constraint: BalanceConstraint::Unconstrained,
            ..open(1, Currency::EUR)
        };
        for account in [source, open(2, Currency::EUR), open(3, Currency::JPY)] {
            ledger.create_account(account).await.unwrap().unwrap();
        }
        let (a, b, yen) = (
            AccountId::from_u128(1),
            AccountId::from_u128(2),
            AccountId::from_u128(3),
        );
        let eur = |minor| Money::from_minor(minor, Currency::EUR);
        let good = direct(100, a, b, eur(5_00));
        ledger.submit(vec![good.clone()]).await.unwrap().unwrap();
        let before = counts(&mut conn);

        let cases = [
            (
                vec![direct(101, AccountId::from_u128(99), b, eur(1))],
                0,
                TransferError::DebitAccountNotFound,
            ),
            (
                vec![direct(102, a, AccountId::from_u128(99), eur(1))],
                0,
                TransferError::CreditAccountNotFound,
            ),
            (
                vec![direct(103, a, yen, eur(1))],
                0,
                TransferError::CreditAccountCurrencyMismatch,
            ),
            (
                vec![direct(104, a, b, Money::from_minor(1, Currency::JPY))],
                0,
                TransferError::DebitAccountCurrencyMismatch,
            ),
            (
                vec![direct(105, a, b, eur(0))],
                0,
                TransferError::AmountMustBePositive,
            ),
            (
                vec![direct(106, a, b, eur(-3))],
                0,
                TransferError::AmountMustBePositive,
            ),
            (
                vec![direct(107, b, a, eur(6_00))],
                0,
                TransferError::ExceedsCredits,
            ),
            // The good leg of a batch whose second leg fails is not written either.
            (
                vec![direct(108, a, b, eur(1)), direct(109, a, b, eur(0))],
                1,
                TransferError::AmountMustBePositive,
            ),
            (
                vec![direct(100, a, b, eur(5_01))],
                0,
                TransferError::ExistsWithDifferentAmount,
            ),
            (
                vec![direct(100, b, a, eur(5_00))],
                0,
                TransferError::ExistsWithDifferentDebitAccount,
            ),
            (
                vec![direct(110, a, b, eur(1)), direct(110, a, b, eur(1))],
                1,
                TransferError::DuplicateIdInBatch,
            ),
            (
                vec![request(
                    111,
                    RequestKind::PostPending {
                        pending_id: TransferId::from_u128(100),
                        amount: eur(1),
                    },
                )],
                0,
                TransferError::PendingTransferNotPending,
            ),
        ];
        let mut remembered = 0;
        for (batch, index, error) in cases {
            let id = batch[index].id;
            let answer = ledger.submit(batch).await.unwrap();
            assert_eq!(answer, Err(BatchError::Rejected { index, id, error }));
            if error.is_recorded() {
                remembered += 1;
            }
            let after = counts(&mut conn);
            assert_eq!(
                (after.transfers, after.pending, after.balance_sum),
                (before.transfers, before.pending, before.balance_sum),
                "{error:?} wrote something"
            );
            assert_eq!(after.failures, before.failures + remembered);
        }
        // A failed id stays failed; the original transfer is untouched.
        let retry = direct(107, b, a, eur(1));
        assert_eq!(
            ledger.submit(vec![retry]).await.unwrap(),
            Err(BatchError::Rejected {
                index: 0,
                id: TransferId::from_u128(107),
                error: TransferError::IdAlreadyFailed
            })
        );
        assert_eq!(
            ledger.transfer(good.id).await.unwrap().unwrap().amount,
            eur(5_00)
        );
        assert_eq!(ledger.submit(vec![]).await.unwrap(), Err(BatchError::Empty));
    });
}
