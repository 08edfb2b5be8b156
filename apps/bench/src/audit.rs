//! `bench audit`: the audit log's append rate on PostgreSQL, and the time to verify an
//! export offline.
//!
//! Recreates the database `BAZAAR_BENCH_AUDIT_URL` (default
//! `postgres://postgres@127.0.0.1:5432/bazaar_bench_audit`); `--appenders` tasks append
//! records to the one chain for `--seconds`, each append its own transaction that locks the
//! head row. Then writes an export of `--records` records (with a checkpoint every 100,000,
//! not timed) to a temporary file and times `bazaar-audit`'s `verify_file` on it.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bazaar_domain::audit::{
    AuditEntry, AuditRecord, AuditSigner, AuditStore, ChainHash, Checkpoint, Manifest, Outcome,
    manifest_line, record_line,
};
use bazaar_ledger::Timestamp;
use bazaar_postgres::{PostgresAudit, RetryPolicy};

use crate::stats::{ms, summarize};

pub struct Options {
    records: u32,
    seconds: u32,
    appenders: u32,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Self {
            records: 10_000_000,
            seconds: 10,
            appenders: 16,
        };
        for (flag, number) in crate::numeric_flags(args)? {
            match flag {
                "--records" => options.records = number.max(1),
                "--seconds" => options.seconds = number.max(1),
                "--appenders" => options.appenders = number.clamp(1, 256),
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        Ok(options)
    }
}

fn fail<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |error| format!("{what}: {error}")
}

fn entry(n: u64) -> AuditEntry {
    AuditEntry {
        actor: format!(
            "user:{:08x}-0000-4000-8000-000000000000 (seller)",
            n % 50_000
        ),
        action: if n.is_multiple_of(3) {
            "payout.create".into()
        } else {
            "session.sign_in".into()
        },
        outcome: if n.is_multiple_of(17) {
            Outcome::Failure
        } else {
            Outcome::Success
        },
        origin: format!("10.{}.{}.{}", n % 200, (n / 200) % 250, n % 250),
        resource_type: "payout".into(),
        resource_id: format!("{n:032x}"),
        detail: String::new(),
    }
}

/// Appends for `seconds` from `appenders` tasks; answers the latencies and the errors.
async fn appends(url: &str, options: &Options) -> Result<(Vec<u64>, u64, Duration), String> {
    let store = Arc::new(PostgresAudit::new(
        url,
        options.appenders,
        RetryPolicy::default(),
    ));
    let store_for_tasks = store.clone();
    let (latencies, errors, elapsed) =
        crate::stats::drive(options.appenders, options.seconds, move |n| {
            let store = store_for_tasks.clone();
            async move {
                let now =
                    Timestamp::from_micros(1_780_000_000_000_000 + i64::try_from(n).unwrap_or(0));
                store.append(&entry(n), now).await.is_ok()
            }
        })
        .await?;
    let head = store.head().await.map_err(fail("head"))?;
    let count = head.map_or(0, |head| head.seq);
    if count != u64::try_from(latencies.len()).unwrap_or(0) {
        return Err(format!(
            "the chain holds {count} records but {} appends were answered",
            latencies.len()
        ));
    }
    Ok((latencies, errors, elapsed))
}

/// Writes an export of `records` records to `path`; answers the signing key.
fn write_export(path: &std::path::Path, records: u64) -> Result<AuditSigner, String> {
    let signer = AuditSigner::from_seed([42; 32]);
    let at = |n: u64| {
        Timestamp::from_micros(1_780_000_000_000_000 + i64::try_from(n).unwrap_or(0) * 1_000)
    };
    // The chain first (for the manifest's head and checkpoints), then the file.
    let mut head = (0, ChainHash::GENESIS);
    let mut checkpoints = Vec::new();
    for n in 1..=records {
        let record = AuditRecord::next(head, at(n), entry(n));
        head = (record.seq, record.hash);
        if n.is_multiple_of(100_000) {
            checkpoints.push(Checkpoint::sign(&signer, head.0, head.1, at(n)));
        }
    }
    let manifest = Manifest {
        from: at(0),
        to: at(records + 1),
        exported_at: at(records + 2),
        count: records,
        first_seq: 1,
        last_seq: records,
        prev_hash: ChainHash::GENESIS,
        head_hash: head.1,
        latest_checkpoint: checkpoints.last().cloned(),
        checkpoints,
        key: signer.public(),
        signature: [0; 64],
    }
    .sign(&signer);
    let file = std::fs::File::create(path).map_err(fail("create the export"))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    writeln!(out, "{}", manifest_line(&manifest)).map_err(fail("write"))?;
    let mut head = (0, ChainHash::GENESIS);
    for n in 1..=records {
        let record = AuditRecord::next(head, at(n), entry(n));
        head = (record.seq, record.hash);
        writeln!(out, "{}", record_line(&record)).map_err(fail("write"))?;
    }
    out.flush().map_err(fail("flush"))?;
    Ok(signer)
}

pub fn run(options: Options) -> Result<(), String> {
    let url = std::env::var("BAZAAR_BENCH_AUDIT_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/bazaar_bench_audit".to_owned());
    crate::ledger::recreate_database(&url)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(fail("runtime"))?;
    let (latencies, errors, elapsed) = runtime.block_on(appends(&url, &options))?;
    let appended = summarize(latencies, elapsed, errors);
    println!(
        "appends: {} in {:.1} s from {} tasks: {}/s, p50 {} ms, p99 {} ms, {} errors; the chain is whole",
        appended.operations,
        elapsed.as_secs_f64(),
        options.appenders,
        appended.per_second,
        ms(appended.p50_us),
        ms(appended.p99_us),
        appended.errors
    );

    let path =
        std::env::temp_dir().join(format!("bazaar-bench-audit-{}.jsonl", std::process::id()));
    let records = u64::from(options.records);
    let written = Instant::now();
    let signer = write_export(&path, records)?;
    let bytes = std::fs::metadata(&path).map_err(fail("size"))?.len();
    println!(
        "export: {records} records, {} MiB, written in {:.1} s (not timed)",
        bytes / (1 << 20),
        written.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let verified = bazaar_audit::verify_file(&path, Some(&signer.public()));
    let took = started.elapsed();
    let _ = std::fs::remove_file(&path);
    let verified = verified.map_err(fail("verify"))?;
    println!(
        "verify: {} records and {} checkpoints in {:.1} s ({} records/s)",
        verified.count,
        verified.checkpoints,
        took.as_secs_f64(),
        u128::from(verified.count) * 1000 / took.as_millis().max(1)
    );
    println!(
        "audit: appends_per_s={} append_p99_ms={} verify_records={} verify_s={:.1}",
        appended.per_second,
        ms(appended.p99_us),
        verified.count,
        took.as_secs_f64()
    );
    Ok(())
}
