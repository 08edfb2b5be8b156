//! Tests of the shared webhook rules, one file per rule: signatures and their check, event
//! patterns, endpoint URLs and blocked addresses, and the retry schedule with what a
//! response means.

use std::net::IpAddr;
use std::time::Duration;

use bazaar_ledger::Timestamp;
use hmac::Mac;
use proptest::prelude::*;

use super::signing::HmacSha256;
use super::*;

mod address;
mod patterns;
mod retry;
mod signing;

const T: i64 = 1_700_000_000;
const BODY: &[u8] = br#"{"id":"evt_1"}"#;

fn secret(byte: u8) -> EndpointSecret {
    EndpointSecret::from_bytes([byte; 32])
}

fn hmac_hex(key: &str, message: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).unwrap();
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

fn check(header: &str, secret: &EndpointSecret) -> Result<i64, VerifyError> {
    verify(header, BODY, secret.as_str(), T, DEFAULT_TOLERANCE)
}

#[test]
fn webhook_error_codes() {
    let table = [
        (WebhookError::InvalidUrl("x"), "invalid_url"),
        (WebhookError::InsecureUrl, "insecure_url"),
        (WebhookError::DisallowedHost, "disallowed_host"),
        (
            WebhookError::InvalidEventPattern("x"),
            "invalid_event_pattern",
        ),
        (WebhookError::NoEventPatterns, "no_event_patterns"),
        (WebhookError::TooManyPatterns, "too_many_patterns"),
        (WebhookError::InvalidSecret, "invalid_secret"),
        (WebhookError::TooManyEndpoints, "too_many_endpoints"),
        (WebhookError::EndpointDisabled, "endpoint_disabled"),
        (WebhookError::OverlapTooLong, "invalid_input"),
    ];
    for (error, code) in table {
        assert_eq!(error.code(), code);
    }
}
