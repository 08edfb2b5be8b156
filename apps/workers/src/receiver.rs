//! What a webhook receiver does with a delivery, as a function receivers written in Rust can
//! copy (the README shows it): check the signature over the raw body, with a tolerance for
//! clock skew, then drop event ids already processed.

use std::collections::HashSet;
use std::time::Duration;

use bazaar_domain::webhooks::{VerifyError, verify};

/// Whether to process a delivery: `Ok(true)` new, `Ok(false)` a duplicate (answer 2xx, do
/// nothing), `Err(_)` not from Bazaar or too old (answer 400).
///
/// `seen` holds the ids already processed; keep each for at least the tolerance (and, to
/// absorb retries, the three days a delivery is retried for).
pub fn accept(
    signature_header: &str,
    raw_body: &[u8],
    secret: &str,
    now_secs: i64,
    seen: &mut HashSet<String>,
) -> Result<bool, VerifyError> {
    verify(
        signature_header,
        raw_body,
        secret,
        now_secs,
        Duration::from_secs(300),
    )?;
    // The id inside the signed body, not the header, which the signature does not cover.
    let id = serde_json::from_slice::<serde_json::Value>(raw_body)
        .ok()
        .and_then(|event| event.get("id")?.as_str().map(str::to_owned))
        .ok_or(VerifyError::Malformed)?;
    Ok(seen.insert(id))
}

#[cfg(test)]
mod tests {
    use bazaar_domain::webhooks::{EndpointSecret, signature_header};

    use super::*;

    #[test]
    fn accepts_once_refuses_forgeries_and_stale_requests() {
        let secret = EndpointSecret::from_bytes([3; 32]);
        let old = EndpointSecret::from_bytes([4; 32]);
        let body = br#"{"id":"e1","type":"order.paid"}"#;
        let t = 1_764_213_600;
        let mut seen = HashSet::new();
        // During a rotation both secrets sign; a receiver with either accepts.
        let header = signature_header(t, body, &[&secret, &old]);
        assert_eq!(
            accept(&header, body, secret.as_str(), t + 2, &mut seen),
            Ok(true)
        );
        assert_eq!(
            accept(&header, body, old.as_str(), t + 3, &mut seen),
            Ok(false)
        );
        // Clock skew within five minutes either way is fine; beyond, refused.
        let mut fresh = HashSet::new();
        assert_eq!(
            accept(&header, body, secret.as_str(), t - 299, &mut fresh),
            Ok(true)
        );
        assert_eq!(
            accept(&header, body, secret.as_str(), t + 301, &mut HashSet::new()),
            Err(VerifyError::OutsideTolerance)
        );
        let forged = br#"{"id":"e2","type":"order.paid"}"#;
        assert_eq!(
            accept(&header, forged, secret.as_str(), t, &mut HashSet::new()),
            Err(VerifyError::Mismatch)
        );
        let unsigned_id = signature_header(t, b"{}", &[&secret]);
        assert_eq!(
            accept(&unsigned_id, b"{}", secret.as_str(), t, &mut HashSet::new()),
            Err(VerifyError::Malformed)
        );
    }
}
