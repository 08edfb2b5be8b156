//! `bazaar-audit verify EXPORT [--key HEX]`: checks an audit export offline and names the
//! first bad record. Exit status 0 when it verifies, 1 when it does not, 2 on bad usage.

use std::path::Path;
use std::process::ExitCode;

use bazaar_audit::{VerifyError, verify_file};
use bazaar_domain::audit::AuditKey;

const USAGE: &str = "usage: bazaar-audit verify EXPORT [--key PUBLIC_KEY_HEX]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
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
