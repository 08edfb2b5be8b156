//! `bazaar-audit verify EXPORT [--key HEX]`: checks an audit export offline and names the
//! first bad record. Exit status 0 when it verifies, 1 when it does not, 2 on bad usage.
//!
//! `bazaar-audit scan-pans PATH...`: searches every file under the paths (logs, traces,
//! database dumps) for card numbers other than the published test numbers; prints each
//! (file, line, BIN and last four) and exits 1 if there is any.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use bazaar_audit::{VerifyError, verify_file};
use bazaar_domain::audit::AuditKey;

const USAGE: &str = "usage: bazaar-audit verify EXPORT [--key PUBLIC_KEY_HEX] | scan-pans PATH...";

fn scan(paths: &[String]) -> ExitCode {
    let paths: Vec<std::path::PathBuf> = paths.iter().map(std::path::PathBuf::from).collect();
    match bazaar_audit::scan_paths(&paths) {
        Ok((findings, files)) => {
            for (path, finding) in &findings {
                eprintln!(
                    "card number {} in {}:{}",
                    finding.masked,
                    path.display(),
                    finding.line
                );
            }
            if findings.is_empty() {
                let _ = writeln!(std::io::stdout(), "no card numbers in {files} files");
                ExitCode::SUCCESS
            } else {
                eprintln!("{} card numbers in {files} files", findings.len());
                ExitCode::from(1)
            }
        }
        Err(error) => {
            eprintln!("scan-pans: {error}");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [verb, paths @ ..] = args.as_slice()
        && verb == "scan-pans"
        && !paths.is_empty()
    {
        return scan(paths);
    }
    let (path, key) = match args.as_slice() {
        [verb, path] if verb == "verify" => (path, None),
        [verb, path, flag, key] if verb == "verify" && flag == "--key" => (path, Some(key)),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let trusted = match key.map(|key| AuditKey::from_hex(key)) {
        Some(None) => {
            eprintln!("--key is not an Ed25519 public key in hexadecimal");
            return ExitCode::from(2);
        }
        Some(Some(key)) => Some(key),
        None => None,
    };
    match verify_file(Path::new(path), trusted.as_ref()) {
        Ok(verified) => {
            let mut out = std::io::stdout().lock();
            let _ = std::io::Write::write_fmt(
                &mut out,
                format_args!(
                    "OK: {} records (sequence numbers {} to {}), {} checkpoints, head {}, signed by key {}{}\n",
                    verified.count,
                    verified.seqs.0,
                    verified.seqs.1,
                    verified.checkpoints,
                    verified.head.to_hex(),
                    verified.key_id,
                    if trusted.is_some() {
                        " (trusted)"
                    } else {
                        " (pass --key to pin it)"
                    },
                ),
            );
            ExitCode::SUCCESS
        }
        Err(VerifyError::Tampered(tamper)) => {
            eprintln!("TAMPERED: {tamper}");
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::from(2)
        }
    }
}
