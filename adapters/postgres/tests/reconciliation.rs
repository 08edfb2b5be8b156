//! Bank statement imports on the real PostgreSQL: a camt.053 file imports once, each entry
//! once whichever file carries it, a batch entry with its parts; a statement that does not
//! balance imports nothing.
#![expect(clippy::unwrap_used, reason = "test drivers fail loudly")]

use bazaar_domain::fx::calendar::Date;
use bazaar_domain::reconciliation::{ImportOutcome, Reconciliations};
use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};
use bazaar_postgres::{PostgresReconciliation, RetryPolicy};
use bazaar_schema::schema::{recon_bank_entries, recon_imports};
use bazaar_testdb::TestDatabase;
use diesel::prelude::*;

const V02: &str = include_str!("../../../core/domain/src/reconciliation/testdata/camt053_v02.xml");
const V08: &str = include_str!("../../../core/domain/src/reconciliation/testdata/camt053_v08.xml");
const IBAN: &str = "DE89370400440532013000";

fn counts(db: &TestDatabase) -> (i64, i64) {
    let mut conn = PgConnection::establish(db.url()).unwrap();
    let imports = recon_imports::table.count().get_result(&mut conn).unwrap();
    let entries = recon_bank_entries::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    (imports, entries)
}

#[tokio::test]
async fn a_statement_imports_once_with_its_batch_entry_in_parts() {
    let db = TestDatabase::new().unwrap();
    let service = Reconciliations::new(PostgresReconciliation::new(
        db.url(),
        2,
        RetryPolicy::default(),
    ));
    let now = Timestamp::from_micros(1);

    let first = service
        .import_camt053("statement.xml", V02, now)
        .await
        .unwrap();
    assert_eq!(first, ImportOutcome::Imported { entries: 5 });
    let entries = service
        .bank_entries(
            IBAN,
            Currency::EUR,
            Date::new(2026, 11, 1).unwrap(),
            Date::new(2026, 12, 31).unwrap(),
        )
        .await
        .unwrap();
    assert!(!entries.is_empty() && entries.len() <= 5);
    let batch = entries
        .iter()
        .find(|e| e.amount == Money::from_minor(42_956, Currency::EUR))
        .unwrap();
    assert_eq!(batch.parts, 2);
    assert!(
        batch
            .end_to_end_ids
            .as_deref()
            .unwrap()
            .contains("BZR-PAY-7f3a91c2")
    );
    assert_eq!(batch.account_hint, "3000");
    assert_ne!(
        batch.account_key, IBAN,
        "the account number is not stored in clear"
    );

    // The same file again stores nothing; the same statement in other bytes stores no entry
    // twice.
    assert_eq!(
        service.import_camt053("again.xml", V02, now).await.unwrap(),
        ImportOutcome::AlreadyImported
    );
    let reformatted = V02.replace("<Stmt>", "<Stmt>\n");
    assert_eq!(
        service
            .import_camt053("resent.xml", &reformatted, now)
            .await
            .unwrap(),
        ImportOutcome::Imported { entries: 0 }
    );
    assert_eq!(counts(&db), (2, 5));

    // A statement that does not add up is refused and stores nothing.
    let wrong = V08.replacen("<Amt Ccy=\"EUR\">", "<Amt Ccy=\"EUR\">1", 1);
    let refused = service
        .import_camt053("wrong.xml", &wrong, now)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "camt_does_not_balance");
    assert_eq!(counts(&db), (2, 5));
    assert_eq!(
        service.import_camt053("v08.xml", V08, now).await.unwrap(),
        ImportOutcome::Imported { entries: 6 }
    );
}
