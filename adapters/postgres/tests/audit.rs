//! The audit log on the real PostgreSQL: appends from two stores at once form one chain;
//! an export verifies offline with its checkpoints; a record edited in the database, one
//! deleted, and records cut from the end before an export are each named by the verifier.
#![expect(clippy::unwrap_used, reason = "test drivers fail loudly")]
#![expect(
    clippy::arithmetic_side_effects,
    reason = "small counters in test data"
)]

use bazaar_domain::audit::{
    AuditEntry, AuditSigner, AuditStore, AuditTrail, ExportVerifier, Outcome, Tamper,
};
use bazaar_ledger::Timestamp;
use bazaar_postgres::{PostgresAudit, RetryPolicy};
use bazaar_testdb::TestDatabase;
use diesel::prelude::*;

fn entry(n: u64) -> AuditEntry {
    AuditEntry {
        actor: format!("user:{n}"),
        action: "payout.create".into(),
        outcome: Outcome::Success,
        origin: "10.0.0.7".into(),
        resource_type: "payout".into(),
        resource_id: format!("p-{n}"),
        detail: String::new(),
    }
}

fn at(n: i64) -> Timestamp {
    Timestamp::from_micros(1_780_000_000_000_000 + n * 1_000_000)
}

async fn export(trail: &AuditTrail<PostgresAudit>, to: i64) -> Vec<String> {
    let mut lines = Vec::new();
    trail
        .export(at(0), at(to), at(to + 1), 7, |line| {
            lines.push(line.to_owned())
        })
        .await
        .unwrap();
    lines
}

fn verify(lines: &[String]) -> Result<u64, Tamper> {
    let key = AuditSigner::from_seed([3; 32]).public();
    let (first, rest) = lines.split_first().ok_or(Tamper::NoManifest)?;
    let mut verifier = ExportVerifier::start(first, Some(&key))?;
    for line in rest {
        verifier.record(line)?;
    }
    Ok(verifier.finish()?.count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_form_one_chain_and_every_tampering_is_named() {
    let db = TestDatabase::new().unwrap();
    let trail = |db: &TestDatabase| {
        AuditTrail::new(
            PostgresAudit::new(db.url(), 4, RetryPolicy::default()),
            AuditSigner::from_seed([3; 32]),
        )
    };
    let (one, other) = (trail(&db), trail(&db));
    // 40 appends from each store, concurrently, at increasing times; a checkpoint midway.
    let mut tasks = Vec::new();
    for (n, trail) in [(0_i64, one), (1, other)] {
        tasks.push(tokio::spawn(async move {
            for i in 0..40_i64 {
                let k = u64::try_from(i * 2 + n).unwrap();
                trail.record(entry(k), at(i * 2 + n + 1)).await.unwrap();
                if i == 20 {
                    trail.checkpoint(at(i * 2 + n + 1)).await.unwrap();
                }
            }
            trail
        }));
    }
    let mut trails = Vec::new();
    for task in tasks {
        trails.push(task.await.unwrap());
    }
    let trail = trails.pop().unwrap();
    let head = trail.store().head().await.unwrap().unwrap();
    assert_eq!(head.seq, 80);
    trail.checkpoint(at(90)).await.unwrap();
    assert!(trail.checkpoint(at(91)).await.unwrap().is_none());

    let lines = export(&trail, 100).await;
    assert_eq!(lines.len(), 81);
    assert_eq!(verify(&lines), Ok(80));

    let mut conn = PgConnection::establish(db.url()).unwrap();
    // Edited in the database: the export names it.
    diesel::sql_query("UPDATE audit_log SET outcome = 'failure' WHERE seq = 33")
        .execute(&mut conn)
        .unwrap();
    assert_eq!(
        verify(&export(&trail, 100).await),
        Err(Tamper::Altered { index: 33, seq: 33 })
    );
    diesel::sql_query("UPDATE audit_log SET outcome = 'success' WHERE seq = 33")
        .execute(&mut conn)
        .unwrap();
    // Deleted in the database.
    diesel::sql_query("DELETE FROM audit_log WHERE seq = 50")
        .execute(&mut conn)
        .unwrap();
    assert_eq!(
        verify(&export(&trail, 100).await),
        Err(Tamper::OutOfSequence {
            index: 50,
            expected: 50,
            found: 51
        })
    );
    // The last records cut: the latest checkpoint (at 80) shows they existed.
    diesel::sql_query("DELETE FROM audit_log WHERE seq >= 50")
        .execute(&mut conn)
        .unwrap();
    assert_eq!(
        verify(&export(&trail, 100).await),
        Err(Tamper::Truncated {
            count: 49,
            missing: 50
        })
    );
    // A range before the cut verifies on its own.
    let mut early = Vec::new();
    trail
        .export(at(0), at(20), at(101), 7, |line| {
            early.push(line.to_owned())
        })
        .await
        .unwrap();
    let count = verify(&early).unwrap();
    assert!((19..=49).contains(&count), "{count}");
}
