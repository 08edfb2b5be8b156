//! `bazaar-audit scan-pans PATH...`: every file under the paths, searched for card numbers
//! outside the published test numbers; `.sql` files are read as database dumps.

use std::path::{Path, PathBuf};

use bazaar_domain::vault::{Finding, find_card_numbers, find_card_numbers_in_dump};

/// The card numbers in every file under `paths` (directories are walked), with their file;
/// and how many files were read.
pub fn scan_paths(paths: &[PathBuf]) -> std::io::Result<(Vec<(PathBuf, Finding)>, usize)> {
    let mut findings = Vec::new();
    let mut files = 0_usize;
    let mut pending: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
            continue;
        }
        files = files.saturating_add(1);
        findings.extend(scan_file(&path)?.into_iter().map(|f| (path.clone(), f)));
    }
    Ok((findings, files))
}

fn scan_file(path: &Path) -> std::io::Result<Vec<Finding>> {
    let bytes = std::fs::read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    // Database dumps are read column by column (timestamp columns skipped).
    Ok(if path.extension().is_some_and(|e| e == "sql") {
        find_card_numbers_in_dump(&text)
    } else {
        find_card_numbers(&text)
    })
}
