//! `bazaar-audit`: checks an audit export offline. The export is a file of JSON lines: the
//! signed manifest, then each record oldest first (see `bazaar_domain::audit`). Nothing here
//! opens a network connection or a database.

mod scan;
pub use scan::scan_paths;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use bazaar_domain::audit::{AuditKey, ExportVerifier, Tamper, Verified};

/// Why an export could not be checked or did not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The export was tampered with, or is not an export.
    #[error("{0}")]
    Tampered(#[from] Tamper),
}

/// Checks the export at `path`; `trusted`, when given, is the only signing key accepted.
pub fn verify_file(path: &Path, trusted: Option<&AuditKey>) -> Result<Verified, VerifyError> {
    let read_error = |source| VerifyError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut lines = BufReader::with_capacity(1 << 20, File::open(path).map_err(read_error)?);
    let mut line = String::new();
    lines.read_line(&mut line).map_err(read_error)?;
    let mut verifier = ExportVerifier::start(line.trim_end_matches(['\r', '\n']), trusted)?;
    loop {
        line.clear();
        if lines.read_line(&mut line).map_err(read_error)? == 0 {
            break;
        }
        let text = line.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            continue;
        }
        verifier.record(text)?;
    }
    Ok(verifier.finish()?)
}
