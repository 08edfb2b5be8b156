//! Signatures, the receiver's check, and secrets.

use super::*;

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
}
