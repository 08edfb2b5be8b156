#![expect(
    clippy::arithmetic_side_effects,
    reason = "small counters in test data"
)]

use bazaar_ledger::Timestamp;

use super::*;

fn signer() -> AuditSigner {
    AuditSigner::from_seed([7; 32])
}

fn entry(n: u64) -> AuditEntry {
    AuditEntry {
        actor: format!("user:{n}"),
        action: "session.sign_in".into(),
        outcome: if n.is_multiple_of(5) {
            Outcome::Failure
        } else {
            Outcome::Success
        },
        origin: "127.0.0.1".into(),
        resource_type: "user".into(),
        resource_id: n.to_string(),
        detail: "via the web page \"sign in\"".into(),
    }
}

fn at(n: u64) -> Timestamp {
    Timestamp::from_micros(1_780_000_000_000_000 + i64::try_from(n).unwrap() * 1_000_000)
}

/// A log of `n` records with a checkpoint after every tenth, and its export of everything.
fn export(n: u64) -> Vec<String> {
    let signer = signer();
    let mut records = Vec::new();
    let mut checkpoints = Vec::new();
    let mut head = (0, ChainHash::GENESIS);
    for i in 1..=n {
        let record = AuditRecord::next(head, at(i), entry(i));
        head = (record.seq, record.hash);
        records.push(record);
        if i % 10 == 0 {
            checkpoints.push(Checkpoint::sign(&signer, head.0, head.1, at(i)));
        }
    }
    let latest = checkpoints.last().cloned();
    let manifest = Manifest {
        from: at(0),
        to: at(n + 1),
        exported_at: at(n + 2),
        count: n,
        first_seq: 1,
        last_seq: n,
        prev_hash: ChainHash::GENESIS,
        head_hash: head.1,
        checkpoints,
        latest_checkpoint: latest,
        key: signer.public(),
        signature: [0; 64],
    }
    .sign(&signer);
    let mut lines = vec![manifest_line(&manifest)];
    lines.extend(records.iter().map(record_line));
    lines
}

fn verify(lines: &[String], trusted: Option<&AuditKey>) -> Result<Verified, Tamper> {
    let (first, rest) = lines.split_first().ok_or(Tamper::NoManifest)?;
    let mut verifier = ExportVerifier::start(first, trusted)?;
    for line in rest {
        verifier.record(line)?;
    }
    verifier.finish()
}

#[test]
fn an_intact_export_verifies_with_its_checkpoints() {
    let lines = export(35);
    let verified = verify(&lines, Some(&signer().public())).unwrap();
    assert_eq!(verified.count, 35);
    assert_eq!(verified.seqs, (1, 35));
    assert_eq!(verified.checkpoints, 3);
    assert_eq!(verified.key_id, signer().public().id());
    // Lines round-trip exactly.
    let record = parse_record(&lines[4]).unwrap();
    assert_eq!(record_line(&record), lines[4]);
    assert_eq!(record.entry, entry(4));
}

#[test]
fn an_edited_record_is_named() {
    let mut lines = export(35);
    lines[13] = lines[13].replace("\"user:13\"", "\"user:99\"");
    assert_eq!(
        verify(&lines, None),
        Err(Tamper::Altered { index: 13, seq: 13 })
    );
    // Edited and re-hashed: the next record no longer follows it.
    let mut lines = export(35);
    let mut forged = parse_record(&lines[13]).unwrap();
    forged.entry.outcome = Outcome::Success;
    forged.entry.detail = "nothing happened".into();
    forged.hash = chain_hash(forged.prev_hash, forged.seq, forged.at, &forged.entry);
    lines[13] = record_line(&forged);
    assert_eq!(
        verify(&lines, None),
        Err(Tamper::Unlinked { index: 14, seq: 14 })
    );
}

#[test]
fn a_deleted_record_is_named() {
    let mut lines = export(35);
    lines.remove(20);
    assert_eq!(
        verify(&lines, None),
        Err(Tamper::OutOfSequence {
            index: 20,
            expected: 20,
            found: 21
        })
    );
}

#[test]
fn reordered_records_are_named() {
    let mut lines = export(35);
    lines.swap(7, 8);
    assert_eq!(
        verify(&lines, None),
        Err(Tamper::OutOfSequence {
            index: 7,
            expected: 7,
            found: 8
        })
    );
}

#[test]
fn a_truncated_export_is_named() {
    let mut lines = export(35);
    lines.truncate(31);
    assert_eq!(
        verify(&lines, None),
        Err(Tamper::Truncated {
            count: 30,
            missing: 31
        })
    );
    // A manifest rewritten to count fewer no longer verifies.
    let mut manifest = parse_manifest(&lines[0]).unwrap();
    manifest.count = 30;
    lines[0] = manifest_line(&manifest);
    assert_eq!(verify(&lines, None), Err(Tamper::ManifestSignature));
}

#[test]
fn records_cut_from_the_log_before_export_are_found_by_the_latest_checkpoint() {
    // The log had 35 records (checkpoint at 30); records 26 to 35 were deleted from it and
    // an honest-looking manifest signed over the 25 left.
    let lines = export(35);
    let manifest = parse_manifest(&lines[0]).unwrap();
    let last = parse_record(&lines[25]).unwrap();
    let cut = Manifest {
        count: 25,
        last_seq: 25,
        head_hash: last.hash,
        checkpoints: manifest
            .checkpoints
            .iter()
            .filter(|c| c.seq <= 25)
            .cloned()
            .collect(),
        ..manifest
    }
    .sign(&signer());
    let mut cut_lines = vec![manifest_line(&cut)];
    cut_lines.extend(lines[1..=25].iter().cloned());
    assert_eq!(
        verify(&cut_lines, None),
        Err(Tamper::Truncated {
            count: 25,
            missing: 26
        })
    );
}

#[test]
fn another_key_and_an_added_record_are_refused() {
    let lines = export(12);
    let other = AuditSigner::from_seed([8; 32]).public();
    assert!(matches!(
        verify(&lines, Some(&other)),
        Err(Tamper::UntrustedKey { .. })
    ));
    let mut more = lines.clone();
    more.push(lines[12].clone());
    assert_eq!(
        verify(&more, None),
        Err(Tamper::Extra {
            index: 13,
            count: 12
        })
    );
    let mut garbled = lines;
    garbled[3] = "{\"seq\": 3}".into();
    assert_eq!(verify(&garbled, None), Err(Tamper::Unreadable { index: 3 }));
}

#[test]
fn entries_with_control_characters_or_empty_fields_are_refused() {
    let mut bad = entry(1);
    bad.detail = "line\nbreak".into();
    assert_eq!(bad.checked(), Err(EntryError::Field("detail")));
    let mut empty = entry(1);
    empty.actor = String::new();
    assert_eq!(empty.checked(), Err(EntryError::Field("actor")));
    assert!(entry(1).checked().is_ok());
}
