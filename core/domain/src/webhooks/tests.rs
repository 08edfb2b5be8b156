//! Tests of the shared webhook rules: signatures and their check, event patterns, endpoint
//! URLs and blocked addresses, error codes, the retry schedule and what a response means.

use std::net::IpAddr;
use std::time::Duration;

use bazaar_ledger::Timestamp;
use hmac::Mac;

use super::signing::HmacSha256;
use super::*;
use proptest::prelude::*;

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
fn secret_format() {
    let s = secret(0x11);
    assert_eq!(s.as_str(), format!("whsec_{}", "11".repeat(32)));
    assert_eq!(
        EndpointSecret::parse(s.as_str()).unwrap().as_str(),
        s.as_str()
    );
    for bad in [
        "",
        "whsec_",
        &"11".repeat(32),
        &format!("whsec_{}", "1".repeat(63)),
        &format!("whsec_{}", "1".repeat(65)),
        &format!("whsec_{}", "A".repeat(64)),
        &format!("whsec_{}", "g".repeat(64)),
        &format!("WHSEC_{}", "1".repeat(64)),
        &format!(" whsec_{}", "1".repeat(64)),
    ] {
        assert_eq!(
            EndpointSecret::parse(bad).unwrap_err(),
            WebhookError::InvalidSecret,
            "{bad:?}"
        );
    }
}

#[test]
fn secret_debug_is_redacted() {
    let s = secret(0xab);
    let printed = format!("{s:?}");
    assert_eq!(printed, "EndpointSecret(redacted)");
    assert!(!printed.contains("abab"));
}

#[test]
fn known_vector() {
    let s = secret(0x11);
    let header = signature_header(T, BODY, &[&s]);
    // Computed with Python's hmac module.
    let expected =
        "t=1700000000,v1=3b2c9c6dec2395be8f40760c2526e4e93b42e611b60b0dd04eb7a92f428406c3";
    assert_eq!(header, expected);
    // And with hmac directly, over "<t>.<body>" keyed by the whole secret string.
    let independent = format!(
        "t={T},v1={}",
        hmac_hex(s.as_str(), br#"1700000000.{"id":"evt_1"}"#)
    );
    assert_eq!(header, independent);
    assert_eq!(check(&header, &s), Ok(T));
}

#[test]
fn two_secrets_give_two_signatures_and_either_verifies() {
    let new = secret(0x22);
    let old = secret(0x11);
    let header = signature_header(T, BODY, &[&new, &old]);
    assert_eq!(
        header,
        "t=1700000000\
         ,v1=f0b15b885a40f2d27d97f51e8fa97ffa06a1faf0dada29d941e695dae9335f43\
         ,v1=3b2c9c6dec2395be8f40760c2526e4e93b42e611b60b0dd04eb7a92f428406c3"
    );
    assert_eq!(header.matches("v1=").count(), 2);
    assert_eq!(check(&header, &new), Ok(T));
    assert_eq!(check(&header, &old), Ok(T));
    assert_eq!(check(&header, &secret(0x33)), Err(VerifyError::Mismatch));
}

#[test]
fn no_secrets_give_no_signature() {
    let header = signature_header(T, BODY, &[]);
    assert_eq!(header, "t=1700000000");
    assert_eq!(check(&header, &secret(1)), Err(VerifyError::NoSignature));
}

#[test]
fn tampering_fails() {
    let s = secret(0x11);
    let header = signature_header(T, BODY, &[&s]);
    assert_eq!(
        verify(
            &header,
            br#"{"id":"evt_2"}"#,
            s.as_str(),
            T,
            DEFAULT_TOLERANCE
        ),
        Err(VerifyError::Mismatch)
    );
    let other_time = header.replace("t=1700000000", "t=1700000001");
    assert_eq!(check(&other_time, &s), Err(VerifyError::Mismatch));
    let flipped = header.replace("v1=3b", "v1=4b");
    assert_eq!(check(&flipped, &s), Err(VerifyError::Mismatch));
    let wrong_secret = signature_header(T, BODY, &[&secret(0x12)]);
    assert_eq!(check(&wrong_secret, &s), Err(VerifyError::Mismatch));
}

#[test]
fn tolerance_both_directions() {
    let s = secret(5);
    let at = |now: i64| {
        verify(
            &signature_header(T, BODY, &[&s]),
            BODY,
            s.as_str(),
            now,
            DEFAULT_TOLERANCE,
        )
    };
    assert_eq!(at(1_700_000_300), Ok(T));
    assert_eq!(at(1_700_000_301), Err(VerifyError::OutsideTolerance));
    assert_eq!(at(1_699_999_700), Ok(T));
    assert_eq!(at(1_699_999_699), Err(VerifyError::OutsideTolerance));
    assert_eq!(at(i64::MAX), Err(VerifyError::OutsideTolerance));
    assert_eq!(at(i64::MIN), Err(VerifyError::OutsideTolerance));
    let zero = verify(
        &signature_header(T, BODY, &[&s]),
        BODY,
        s.as_str(),
        1_700_000_001,
        Duration::ZERO,
    );
    assert_eq!(zero, Err(VerifyError::OutsideTolerance));
}

#[test]
fn mismatch_is_reported_before_tolerance() {
    let s = secret(5);
    let header = signature_header(T, BODY, &[&secret(6)]);
    assert_eq!(
        verify(&header, BODY, s.as_str(), 0, DEFAULT_TOLERANCE),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn header_parsing() {
    let s = secret(0x11);
    let good = "3b2c9c6dec2395be8f40760c2526e4e93b42e611b60b0dd04eb7a92f428406c3";
    let sig = format!("v1={good}");
    let huge = format!("t={T},{sig},v0={}", "a".repeat(MAX_SIGNATURE_HEADER_LEN));
    let seventeen = format!("t={T}{}", format!(",{sig}").repeat(17));
    let sixteen = format!("t={T}{}", format!(",{sig}").repeat(16));
    let cases: Vec<(String, Result<i64, VerifyError>)> = vec![
        (String::new(), Err(VerifyError::Malformed)),
        (sig.clone(), Err(VerifyError::Malformed)),
        (format!("t=abc,{sig}"), Err(VerifyError::Malformed)),
        (format!("t=,{sig}"), Err(VerifyError::Malformed)),
        (format!("t=+1700000000,{sig}"), Err(VerifyError::Malformed)),
        (format!("t=1.5,{sig}"), Err(VerifyError::Malformed)),
        (
            format!("t=99999999999999999999,{sig}"),
            Err(VerifyError::Malformed),
        ),
        (format!("t={T},t={T},{sig}"), Err(VerifyError::Malformed)),
        (format!("t={T},{sig},"), Err(VerifyError::Malformed)),
        (format!("t={T},garbage,{sig}"), Err(VerifyError::Malformed)),
        (format!("t={T},v1=zz"), Err(VerifyError::Malformed)),
        (
            format!("t={T},v1={}", &good[..62]),
            Err(VerifyError::Malformed),
        ),
        (huge, Err(VerifyError::Malformed)),
        (seventeen, Err(VerifyError::Malformed)),
        (format!("t={T}"), Err(VerifyError::NoSignature)),
        (format!("t={T},v0={good}"), Err(VerifyError::NoSignature)),
        (format!("t={T},{sig}"), Ok(T)),
        (format!("{sig},t={T}"), Ok(T)),
        (format!("t={T},v0=whatever,{sig},v2=x"), Ok(T)),
        (format!("t={T}, {sig}"), Ok(T)),
        (format!("t={T},v1={}", good.to_uppercase()), Ok(T)),
        (sixteen, Ok(T)),
    ];
    for (header, expected) in cases {
        assert_eq!(check(&header, &s), expected, "{header:?}");
    }
}

#[test]
fn negative_timestamps_round_trip() {
    let s = secret(9);
    let header = signature_header(-5, BODY, &[&s]);
    assert_eq!(
        verify(&header, BODY, s.as_str(), 0, DEFAULT_TOLERANCE),
        Ok(-5)
    );
}

#[test]
fn verify_error_codes() {
    assert_eq!(VerifyError::Malformed.code(), "malformed_signature_header");
    assert_eq!(VerifyError::NoSignature.code(), "no_signature");
    assert_eq!(VerifyError::Mismatch.code(), "signature_mismatch");
    assert_eq!(
        VerifyError::OutsideTolerance.code(),
        "timestamp_outside_tolerance"
    );
}

#[test]
fn pattern_parsing() {
    for good in [
        "*",
        "order.*",
        "order.paid",
        "payment.captured",
        "refund.*",
        "review.created",
        "payout.*",
        "loan.repaid",
        "webhook_endpoint.disabled",
        "order.a",
        &format!("order.{}", "a".repeat(40)),
    ] {
        let pattern = EventPattern::parse(good).unwrap();
        assert_eq!(pattern.as_str(), good);
        assert_eq!(pattern.to_string(), good);
    }
    for bad in [
        "",
        "order",
        "order.",
        ".paid",
        "*.paid",
        "*.*",
        "**",
        "orders.paid",
        "Order.paid",
        "order.Paid",
        "order.paid2",
        "order.pa-id",
        "order.paid.*",
        "order.paid.now",
        "order.p*",
        " order.paid",
        "order.paid ",
        "webhook-endpoint.disabled",
        &format!("order.{}", "a".repeat(41)),
    ] {
        let error = EventPattern::parse(bad).unwrap_err();
        assert_eq!(error.code(), "invalid_event_pattern", "{bad:?}");
    }
}

#[test]
fn pattern_matching() {
    let table = [
        ("*", "order.paid", true),
        ("*", "webhook_endpoint.disabled", true),
        ("*", "nonsense", false),
        ("*", "unknown.paid", false),
        ("*", "", false),
        ("order.*", "order.paid", true),
        ("order.*", "order.created", true),
        ("order.*", "payment.captured", false),
        ("order.*", "order.", false),
        ("order.*", "order", false),
        ("order.*", "orders.paid", false),
        ("order.*", "order.paid.partial", false),
        ("order.paid", "order.paid", true),
        ("order.paid", "order.paid_late", false),
        ("order.paid", "order.pai", false),
        ("order.paid", "order.*", false),
        ("payment.*", "payment.failed", true),
        ("webhook_endpoint.*", "webhook_endpoint.disabled", true),
    ];
    for (pattern, event_type, expected) in table {
        assert_eq!(
            EventPattern::parse(pattern).unwrap().matches(event_type),
            expected,
            "{pattern} ~ {event_type}"
        );
    }
}

#[test]
fn patterns_list() {
    let strings = |items: &[&str]| items.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        parse_patterns(&[]).unwrap_err(),
        WebhookError::NoEventPatterns
    );
    let parsed = parse_patterns(&strings(&["order.*", "refund.failed", "order.*"])).unwrap();
    let names: Vec<&str> = parsed.iter().map(EventPattern::as_str).collect();
    assert_eq!(names, ["order.*", "refund.failed"]);
    assert_eq!(
        parse_patterns(&strings(&["order.*", "nope"]))
            .unwrap_err()
            .code(),
        "invalid_event_pattern"
    );

    let distinct: Vec<String> = (0..=MAX_PATTERNS)
        .map(|i| format!("order.{}", "a".repeat(i.checked_add(1).unwrap())))
        .collect();
    assert_eq!(parse_patterns(&distinct[..MAX_PATTERNS]).unwrap().len(), 32);
    let error = parse_patterns(&distinct).unwrap_err();
    assert_eq!(error, WebhookError::TooManyPatterns);
    assert_eq!(error.code(), "too_many_patterns");
    // Duplicates do not count towards the limit.
    let mut with_duplicates = distinct[..MAX_PATTERNS].to_vec();
    with_duplicates.extend_from_slice(&distinct[..MAX_PATTERNS]);
    assert_eq!(parse_patterns(&with_duplicates).unwrap().len(), 32);
}

/// A URL, then its host or error code without `allow_loopback_http`, then with it.
type UrlCase<'a> = (&'a str, Result<&'a str, &'a str>, Result<&'a str, &'a str>);

#[test]
fn url_table() {
    let long = format!("https://example.com/{}", "a".repeat(2048));
    let exactly_max = format!("https://example.com/{}", "a".repeat(2028));
    assert_eq!(exactly_max.len(), MAX_URL_LEN);
    let table: Vec<UrlCase<'_>> = vec![
        (
            "https://example.com/hooks",
            Ok("example.com"),
            Ok("example.com"),
        ),
        (
            "HTTPS://Example.COM/x",
            Ok("example.com"),
            Ok("example.com"),
        ),
        ("https://example.com", Ok("example.com"), Ok("example.com")),
        (
            "https://example.com:8443/a?b=c",
            Ok("example.com"),
            Ok("example.com"),
        ),
        (
            "https://example.com?x=1",
            Ok("example.com"),
            Ok("example.com"),
        ),
        (
            "https://xn--bcher-kva.example/",
            Ok("xn--bcher-kva.example"),
            Ok("xn--bcher-kva.example"),
        ),
        ("https://8.8.8.8/", Ok("8.8.8.8"), Ok("8.8.8.8")),
        (
            "https://[2606:4700::1111]:443/",
            Ok("[2606:4700::1111]"),
            Ok("[2606:4700::1111]"),
        ),
        // Documentation addresses are not delivered to.
        (
            "https://[2001:db8::1]:443/",
            Err("disallowed_host"),
            Ok("[2001:db8::1]"),
        ),
        (
            "https://example.com./",
            Ok("example.com."),
            Ok("example.com."),
        ),
        (&exactly_max, Ok("example.com"), Ok("example.com")),
        // http
        (
            "http://example.com/",
            Err("insecure_url"),
            Err("insecure_url"),
        ),
        (
            "http://127.0.0.1:8080/hook",
            Err("insecure_url"),
            Ok("127.0.0.1"),
        ),
        (
            "HTTP://LOCALHOST:3000/",
            Err("insecure_url"),
            Ok("localhost"),
        ),
        ("http://[::1]:3000/", Err("insecure_url"), Ok("[::1]")),
        ("http://10.0.0.1/", Err("insecure_url"), Err("insecure_url")),
        (
            "http://127.0.0.2/",
            Err("insecure_url"),
            Err("insecure_url"),
        ),
        // local and private hosts
        (
            "https://localhost/",
            Err("disallowed_host"),
            Ok("localhost"),
        ),
        (
            "https://LocalHost./",
            Err("disallowed_host"),
            Ok("localhost."),
        ),
        (
            "https://api.localhost/",
            Err("disallowed_host"),
            Ok("api.localhost"),
        ),
        (
            "https://127.0.0.1/",
            Err("disallowed_host"),
            Ok("127.0.0.1"),
        ),
        (
            "https://127.255.0.9/",
            Err("disallowed_host"),
            Ok("127.255.0.9"),
        ),
        ("https://10.1.2.3/", Err("disallowed_host"), Ok("10.1.2.3")),
        (
            "https://172.16.0.1/",
            Err("disallowed_host"),
            Ok("172.16.0.1"),
        ),
        (
            "https://172.31.255.255/",
            Err("disallowed_host"),
            Ok("172.31.255.255"),
        ),
        ("https://172.32.0.1/", Ok("172.32.0.1"), Ok("172.32.0.1")),
        (
            "https://192.168.1.1/",
            Err("disallowed_host"),
            Ok("192.168.1.1"),
        ),
        (
            "https://169.254.169.254/latest",
            Err("disallowed_host"),
            Ok("169.254.169.254"),
        ),
        ("https://0.0.0.0/", Err("disallowed_host"), Ok("0.0.0.0")),
        (
            "https://100.64.0.1/",
            Err("disallowed_host"),
            Ok("100.64.0.1"),
        ),
        (
            "https://224.0.0.1/",
            Err("disallowed_host"),
            Ok("224.0.0.1"),
        ),
        (
            "https://255.255.255.255/",
            Err("disallowed_host"),
            Ok("255.255.255.255"),
        ),
        ("https://[::1]/", Err("disallowed_host"), Ok("[::1]")),
        ("https://[::]/", Err("disallowed_host"), Ok("[::]")),
        (
            "https://[fe80::1]/",
            Err("disallowed_host"),
            Ok("[fe80::1]"),
        ),
        (
            "https://[fd00::1]/",
            Err("disallowed_host"),
            Ok("[fd00::1]"),
        ),
        (
            "https://[fc00::1]/",
            Err("disallowed_host"),
            Ok("[fc00::1]"),
        ),
        (
            "https://[::ffff:127.0.0.1]/",
            Err("disallowed_host"),
            Ok("[::ffff:127.0.0.1]"),
        ),
        (
            "https://[::ffff:8.8.8.8]/",
            Ok("[::ffff:8.8.8.8]"),
            Ok("[::ffff:8.8.8.8]"),
        ),
        (
            "https://[::10.0.0.1]/",
            Err("disallowed_host"),
            Ok("[::10.0.0.1]"),
        ),
        (
            "https://[64:ff9b::a00:1]/",
            Err("disallowed_host"),
            Ok("[64:ff9b::a00:1]"),
        ),
        // IPv4 in forms WHATWG parsers accept
        ("https://127.1/", Err("invalid_url"), Err("invalid_url")),
        (
            "https://2130706433/",
            Err("invalid_url"),
            Err("invalid_url"),
        ),
        (
            "https://0x7f000001/",
            Err("invalid_url"),
            Err("invalid_url"),
        ),
        (
            "https://0177.0.0.1/",
            Err("invalid_url"),
            Err("invalid_url"),
        ),
        ("https://1.2.3.4.5/", Err("invalid_url"), Err("invalid_url")),
        ("https://foo.0x10/", Err("invalid_url"), Err("invalid_url")),
        // form
        (
            "https://user:pw@example.com/",
            Err("invalid_url"),
            Err("invalid_url"),
        ),
        (
            "https://example.com@10.0.0.1/",
            Err("invalid_url"),
            Err("invalid_url"),
        ),
        (
            "https://example.com/#frag",
            Err("invalid_url"),
            Err("invalid_url"),
        ),
        (
            "https://example.com\\@127.0.0.1/",
            Err("invalid_url"),
            Err("invalid_url"),
        ),
        (
            "https://example.com:0/",
            Err("invalid_url"),
            Err("invalid_url"),
        ),
        (
            "https://example.com:65536/",
            Err("invalid_url"),
            Err("invalid_url"),
        ),
        (
            "https://example.com:/",
            Err("invalid_url"),
            Err("invalid_url"),
        ),
        (
            "https://example.com:08x/",
            Err("invalid_url"),
            Err("invalid_url"),
        ),
        (
            "https://example.com:443:1/",
            Err("invalid_url"),
            Err("invalid_url"),
        ),
        ("https://[::1/", Err("invalid_url"), Err("invalid_url")),
        ("https://[::1]x/", Err("invalid_url"), Err("invalid_url")),
        (
            "https://[fe80::1%25eth0]/",
            Err("invalid_url"),
            Err("invalid_url"),
        ),
        ("https:///path", Err("invalid_url"), Err("invalid_url")),
        ("https://", Err("invalid_url"), Err("invalid_url")),
        ("https://:443/", Err("invalid_url"), Err("invalid_url")),
        (
            "https://exa mple.com/",
            Err("invalid_url"),
            Err("invalid_url"),
        ),
        (
            "https://example.com/\n",
            Err("invalid_url"),
            Err("invalid_url"),
        ),
        (
            "https://bücher.example/",
            Err("invalid_url"),
            Err("invalid_url"),
        ),
        (
            "https://%6c%6fcalhost/",
            Err("invalid_url"),
            Err("invalid_url"),
        ),
        ("https://a..b/", Err("invalid_url"), Err("invalid_url")),
        (
            "https://under_score.example/",
            Err("invalid_url"),
            Err("invalid_url"),
        ),
        ("ftp://example.com/", Err("invalid_url"), Err("invalid_url")),
        ("example.com/hooks", Err("invalid_url"), Err("invalid_url")),
        ("//example.com/", Err("invalid_url"), Err("invalid_url")),
        ("", Err("invalid_url"), Err("invalid_url")),
        (&long, Err("invalid_url"), Err("invalid_url")),
    ];
    for (url, strict, loose) in table {
        for (flag, expected) in [(false, strict), (true, loose)] {
            let got = EndpointUrl::parse(url, flag);
            match (got, expected) {
                (Ok(parsed), Ok(host)) => {
                    assert_eq!(parsed.host(), host, "{url} {flag}");
                    assert_eq!(parsed.as_str(), url);
                    assert_eq!(parsed.to_string(), url);
                }
                (Err(error), Err(code)) => assert_eq!(error.code(), code, "{url} {flag}"),
                (got, expected) => panic!("{url} {flag}: got {got:?}, expected {expected:?}"),
            }
        }
    }
}

#[test]
fn blocked_address_ranges() {
    // (address, may a delivery connect to it)
    let table = [
        // IPv4: the ranges of the IANA special-purpose registry, at both ends.
        ("0.0.0.0", false),
        ("0.255.255.255", false),
        ("10.0.0.0", false),
        ("10.255.255.255", false),
        ("100.63.255.255", true),
        ("100.64.0.0", false),
        ("100.127.255.255", false),
        ("100.128.0.0", true),
        ("127.0.0.1", false),
        ("127.255.255.255", false),
        ("169.254.169.254", false),
        ("172.15.255.255", true),
        ("172.16.0.0", false),
        ("172.31.255.255", false),
        ("172.32.0.0", true),
        ("191.255.255.255", true),
        ("192.0.0.0", false),
        ("192.0.0.8", false),
        ("192.0.0.170", false),
        ("192.0.0.255", false),
        ("192.0.1.0", true),
        ("192.0.2.1", false),
        ("192.0.3.0", true),
        ("192.88.99.1", false),
        ("192.88.100.0", true),
        ("192.168.0.0", false),
        ("192.168.255.255", false),
        ("198.17.255.255", true),
        ("198.18.0.0", false),
        ("198.19.255.255", false),
        ("198.20.0.0", true),
        ("198.51.100.7", false),
        ("203.0.113.9", false),
        ("203.0.114.0", true),
        ("223.255.255.255", true),
        ("224.0.0.1", false),
        ("239.255.255.255", false),
        ("240.0.0.0", false),
        ("254.1.2.3", false),
        ("255.255.255.255", false),
        ("8.8.8.8", true),
        ("93.184.216.34", true),
        // IPv6
        ("::", false),
        ("::1", false),
        ("::10.0.0.1", false),
        ("::8.8.8.8", false),
        ("::ffff:0:8.8.8.8", false),
        ("::ffff:127.0.0.1", false),
        ("::ffff:10.1.2.3", false),
        ("::ffff:198.18.0.1", false),
        ("::ffff:240.0.0.1", false),
        ("::ffff:8.8.8.8", true),
        ("64:ff9b::8.8.8.8", true),
        ("64:ff9b::10.0.0.1", false),
        ("64:ff9b::192.0.0.1", false),
        ("64:ff9b:1::8.8.8.8", false),
        ("64:ff9b:1:ffff::1", false),
        ("100::1", false),
        ("100:0:0:1::1", false),
        ("1fff:ffff::1", false),
        ("2000::1", true),
        ("2001::1", false),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", false),
        ("2001:1::1", false),
        ("2001:2::1", false),
        ("2001:10::1", false),
        ("2001:20::1", false),
        ("2001:1ff:ffff::1", false),
        ("2001:200::1", true),
        ("2001:db8::1", false),
        ("2001:db9::1", true),
        ("2001:4860:4860::8888", true),
        ("2002::1", false),
        ("2002:7f00:1::1", false),
        ("2002:ffff:ffff::1", false),
        ("2003::1", true),
        ("2606:4700::1111", true),
        ("3ffe::1", true),
        ("3fff::1", false),
        ("3fff:fff::1", false),
        ("3fff:1000::1", true),
        ("4000::1", false),
        ("5f00::1", false),
        ("fc00::1", false),
        ("fdff::1", false),
        ("fe80::1", false),
        ("febf::1", false),
        ("fec0::1", false),
        ("ff02::1", false),
    ];
    for (text, allowed) in table {
        let address: IpAddr = text.parse().unwrap();
        assert_eq!(may_deliver_to(address, false), allowed, "{text}");
        // The URL rule and the sender's rule agree.
        let host = match address {
            IpAddr::V4(_) => text.to_owned(),
            IpAddr::V6(_) => format!("[{text}]"),
        };
        let url = EndpointUrl::parse(&format!("https://{host}/"), false);
        assert_eq!(url.is_ok(), allowed, "{text}");
        if let Ok(url) = EndpointUrl::parse(&format!("https://{host}/"), true) {
            assert_eq!(url.address(), Some(address));
        }
    }
    assert_eq!(
        EndpointUrl::parse("https://hooks.example.com/", false)
            .unwrap()
            .address(),
        None
    );
}

#[test]
fn loopback_is_allowed_only_with_the_flag() {
    for text in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
        let address: IpAddr = text.parse().unwrap();
        assert!(!may_deliver_to(address, false), "{text}");
        assert!(may_deliver_to(address, true), "{text}");
    }
    // Only loopback: the other refused ranges stay refused under the flag.
    for text in [
        "0.0.0.0",
        "10.0.0.1",
        "169.254.169.254",
        "198.18.0.1",
        "::",
        "fd00::1",
        "fe80::1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::",
    ] {
        let address: IpAddr = text.parse().unwrap();
        assert!(!may_deliver_to(address, true), "{text}");
    }
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

#[test]
fn retry_delays_without_jitter() {
    let schedule = RetrySchedule::default();
    assert_eq!(schedule.first, Duration::from_secs(30));
    assert_eq!(schedule.cap, Duration::from_secs(21_600));
    assert_eq!(schedule.window, Duration::from_secs(259_200));
    // Full jitter gives the nominal delay.
    let nominal: Vec<u64> = (0..=12)
        .map(|a| schedule.delay(a, 1000).as_secs())
        .collect();
    assert_eq!(
        nominal,
        [
            30, 30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15_360, 21_600, 21_600
        ]
    );
    // No jitter gives half of it.
    assert_eq!(schedule.delay(1, 0), Duration::from_secs(15));
    assert_eq!(schedule.delay(20, 0), Duration::from_secs(10_800));
    assert_eq!(schedule.delay(u32::MAX, 1000), schedule.cap);
    assert_eq!(schedule.delay(u32::MAX, 0), Duration::from_secs(10_800));
}

#[test]
fn retry_delays_are_monotone_and_capped() {
    let schedule = RetrySchedule::default();
    for jitter in [0, 500, 1000] {
        let mut previous = Duration::ZERO;
        for attempt in (0..100).chain([u32::MAX.saturating_sub(1), u32::MAX]) {
            let delay = schedule.delay(attempt, jitter);
            assert!(delay >= previous, "attempt {attempt} jitter {jitter}");
            assert!(delay <= schedule.cap);
            previous = delay;
        }
    }
}

#[test]
fn retry_jitter_bounds() {
    let schedule = RetrySchedule::default();
    for attempt in [1, 3, 11, 50] {
        let nominal = schedule.delay(attempt, 1000);
        let low = schedule.delay(attempt, 0);
        assert_eq!(low, nominal.checked_div(2).unwrap());
        let mut previous = low;
        for jitter in (0..=1000).step_by(50) {
            let delay = schedule.delay(attempt, jitter);
            assert!(low <= delay && delay <= nominal);
            assert!(delay >= previous);
            previous = delay;
        }
        // Values above 1000 count as 1000.
        assert_eq!(schedule.delay(attempt, 1001), nominal);
        assert_eq!(schedule.delay(attempt, u16::MAX), nominal);
    }
    assert_eq!(schedule.delay(1, 500), Duration::from_millis(22_500));
}

#[test]
fn retry_odd_and_extreme_schedules() {
    let odd = RetrySchedule {
        first: Duration::from_nanos(3),
        cap: Duration::MAX,
        window: Duration::MAX,
    };
    assert_eq!(odd.delay(1, 0), Duration::from_nanos(2));
    assert_eq!(odd.delay(1, 1000), Duration::from_nanos(3));
    assert_eq!(odd.delay(200, 1000), Duration::MAX);
    assert!(odd.delay(200, 999) <= Duration::MAX);
    let zero = RetrySchedule {
        first: Duration::ZERO,
        cap: Duration::from_secs(10),
        window: Duration::from_secs(10),
    };
    assert_eq!(zero.delay(u32::MAX, 1000), Duration::ZERO);
    let first_above_cap = RetrySchedule {
        first: Duration::from_secs(100),
        cap: Duration::from_secs(10),
        window: Duration::from_secs(10),
    };
    assert_eq!(first_above_cap.delay(1, 1000), Duration::from_secs(10));
}

#[test]
fn retry_window_cutoff() {
    const SECOND: i64 = 1_000_000;
    let schedule = RetrySchedule::default();
    let start = Timestamp::from_micros(T.checked_mul(SECOND).unwrap());
    let at = |seconds: i64| {
        Timestamp::from_micros(start.as_micros().checked_add(seconds * SECOND).unwrap())
    };
    assert_eq!(schedule.next_attempt(start, start, 1, 1000), Some(at(30)));
    assert_eq!(schedule.next_attempt(start, at(30), 2, 0), Some(at(60)));
    // Last possible retry lands exactly on the window's end.
    let window = 259_200;
    assert_eq!(
        schedule.next_attempt(start, at(window - 21_600), 30, 1000),
        Some(at(window))
    );
    assert_eq!(
        schedule.next_attempt(start, at(window - 21_599), 30, 1000),
        None
    );
    assert_eq!(
        schedule.next_attempt(start, at(window - 10_799), 30, 0),
        None
    );
    // A full run of failures stops within the window.
    let mut now = start;
    let mut attempts = 1;
    while let Some(next) = schedule.next_attempt(start, now, attempts, 1000) {
        assert!(next > now);
        now = next;
        attempts += 1;
    }
    assert!(now <= at(window));
    assert_eq!(attempts, 21);
    // Extremes saturate instead of overflowing.
    let huge = RetrySchedule {
        first: Duration::MAX,
        cap: Duration::MAX,
        window: Duration::MAX,
    };
    assert_eq!(
        huge.next_attempt(Timestamp::MAX, Timestamp::MAX, 1, 1000),
        Some(Timestamp::MAX)
    );
    assert_eq!(
        schedule.next_attempt(Timestamp::MIN, Timestamp::MAX, 1, 0),
        None
    );
}

#[test]
fn classify_table() {
    let table = [
        (None, AttemptOutcome::Retry),
        (Some(100), AttemptOutcome::Reject),
        (Some(199), AttemptOutcome::Reject),
        (Some(200), AttemptOutcome::Delivered),
        (Some(204), AttemptOutcome::Delivered),
        (Some(299), AttemptOutcome::Delivered),
        (Some(301), AttemptOutcome::Reject),
        (Some(302), AttemptOutcome::Reject),
        (Some(308), AttemptOutcome::Reject),
        (Some(400), AttemptOutcome::Reject),
        (Some(401), AttemptOutcome::Reject),
        (Some(404), AttemptOutcome::Reject),
        (Some(408), AttemptOutcome::Reject),
        (Some(410), AttemptOutcome::Reject),
        (Some(428), AttemptOutcome::Reject),
        (Some(429), AttemptOutcome::Retry),
        (Some(430), AttemptOutcome::Reject),
        (Some(500), AttemptOutcome::Retry),
        (Some(503), AttemptOutcome::Retry),
        (Some(599), AttemptOutcome::Retry),
        (Some(600), AttemptOutcome::Reject),
        (Some(0), AttemptOutcome::Reject),
        (Some(u16::MAX), AttemptOutcome::Reject),
    ];
    for (status, expected) in table {
        assert_eq!(classify(status), expected, "{status:?}");
    }
}

proptest! {
    #[test]
    fn signed_bodies_verify(
        timestamp in any::<i64>(),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        key in any::<[u8; 32]>(),
    ) {
        let secret = EndpointSecret::from_bytes(key);
        let header = signature_header(timestamp, &body, &[&secret]);
        prop_assert_eq!(
            verify(&header, &body, secret.as_str(), timestamp, DEFAULT_TOLERANCE),
            Ok(timestamp)
        );
    }

    #[test]
    fn verify_never_panics_on_any_header(header in any::<String>(), now in any::<i64>()) {
        let _ = verify(&header, BODY, "whsec_x", now, DEFAULT_TOLERANCE);
    }

    #[test]
    fn verify_never_panics_on_header_like_strings(
        header in "((t|v1|v0|x)=[-0-9a-fA-F+.]{0,70}|[=, ]{0,3}){0,20}",
        now in any::<i64>(),
    ) {
        let _ = verify(&header, BODY, "whsec_x", now, DEFAULT_TOLERANCE);
    }

    #[test]
    fn url_and_pattern_parsing_never_panic(input in any::<String>(), flag in any::<bool>()) {
        let _ = EndpointUrl::parse(&input, flag);
        let _ = EventPattern::parse(&input);
        let _ = EndpointUrl::parse(&format!("https://{input}"), flag);
    }
}
