//! `bazaar-audit verify` as compliance runs it: an intact export verifies and names its
//! signing key; an edited record, a deleted one and a truncated file are each named, with
//! exit status 1; a key other than the pinned one is refused.
#![expect(clippy::unwrap_used, reason = "test drivers fail loudly")]
#![expect(
    clippy::arithmetic_side_effects,
    reason = "small counters in test data"
)]

use std::path::PathBuf;
use std::process::Command;

use bazaar_domain::audit::{
    AuditEntry, AuditRecord, AuditSigner, ChainHash, Checkpoint, Manifest, Outcome, manifest_line,
    record_line,
};
use bazaar_ledger::Timestamp;

fn at(n: u64) -> Timestamp {
    Timestamp::from_micros(1_780_000_000_000_000 + i64::try_from(n).unwrap() * 1_000_000)
}

/// An export of `n` sign-ins with a checkpoint after every tenth.
fn export(n: u64) -> Vec<String> {
    let signer = AuditSigner::from_seed([5; 32]);
    let mut head = (0, ChainHash::GENESIS);
    let mut records = Vec::new();
    let mut checkpoints = Vec::new();
    for i in 1..=n {
        let entry = AuditEntry {
            actor: format!("user:{i}"),
            action: "session.sign_in".into(),
            outcome: Outcome::Success,
            origin: "192.0.2.1".into(),
            resource_type: "user".into(),
            resource_id: i.to_string(),
            detail: String::new(),
        };
        let record = AuditRecord::next(head, at(i), entry);
        head = (record.seq, record.hash);
        records.push(record);
        if i % 10 == 0 {
            checkpoints.push(Checkpoint::sign(&signer, head.0, head.1, at(i)));
        }
    }
    let manifest = Manifest {
        from: at(0),
        to: at(n + 1),
        exported_at: at(n + 2),
        count: n,
        first_seq: 1,
        last_seq: n,
        prev_hash: ChainHash::GENESIS,
        head_hash: head.1,
        latest_checkpoint: checkpoints.last().cloned(),
        checkpoints,
        key: signer.public(),
        signature: [0; 64],
    }
    .sign(&signer);
    let mut lines = vec![manifest_line(&manifest)];
    lines.extend(records.iter().map(record_line));
    lines
}

fn write(name: &str, lines: &[String]) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("bazaar-audit-{}-{name}.jsonl", std::process::id()));
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn run(path: &PathBuf, key: Option<&str>) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bazaar-audit"));
    command.arg("verify").arg(path);
    if let Some(key) = key {
        command.args(["--key", key]);
    }
    let output = command.output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap(), text)
}

#[test]
fn the_verifier_accepts_an_intact_export_and_names_each_tampering() {
    let key = AuditSigner::from_seed([5; 32]).public().to_hex();
    let lines = export(25);
    let intact = write("intact", &lines);
    let (status, text) = run(&intact, Some(&key));
    assert_eq!(status, 0, "{text}");
    assert!(
        text.starts_with("OK: 25 records (sequence numbers 1 to 25), 2 checkpoints"),
        "{text}"
    );
    assert!(text.contains("(trusted)"));

    let mut edited = lines.clone();
    edited[7] = edited[7].replace("192.0.2.1", "192.0.2.9");
    let (status, text) = run(&write("edited", &edited), Some(&key));
    assert_eq!(status, 1);
    assert!(
        text.contains("TAMPERED: record 7 (sequence number 7) was altered"),
        "{text}"
    );

    let mut deleted = lines.clone();
    deleted.remove(12);
    let (status, text) = run(&write("deleted", &deleted), None);
    assert_eq!(status, 1);
    assert!(
        text.contains("record 12 has sequence number 13, not 12"),
        "{text}"
    );

    let mut swapped = lines.clone();
    swapped.swap(3, 4);
    let (status, text) = run(&write("swapped", &swapped), None);
    assert_eq!(status, 1);
    assert!(
        text.contains("record 3 has sequence number 4, not 3"),
        "{text}"
    );

    let truncated = lines[..21].to_vec();
    let (status, text) = run(&write("truncated", &truncated), None);
    assert_eq!(status, 1);
    assert!(
        text.contains("ends after 20 records; record 21 and after are missing"),
        "{text}"
    );

    let other = AuditSigner::from_seed([6; 32]).public().to_hex();
    let (status, text) = run(&intact, Some(&other));
    assert_eq!(status, 1);
    assert!(text.contains("not the trusted key"), "{text}");

    let (status, _) = run(&PathBuf::from("/nonexistent/export.jsonl"), None);
    assert_eq!(status, 2);
    for name in ["intact", "edited", "deleted", "swapped", "truncated"] {
        let _ = std::fs::remove_file(
            std::env::temp_dir().join(format!("bazaar-audit-{}-{name}.jsonl", std::process::id())),
        );
    }
}
