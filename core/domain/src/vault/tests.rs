use std::sync::atomic::{AtomicU64, Ordering};

use super::channel::{self, ChannelError, ChannelKey, Party, ReplayGuard};
use super::*;
use crate::payments::CardNumber;

/// Deterministic bytes for tests: a counter run through SHA-256.
struct Counter(AtomicU64);

impl Entropy for Counter {
    fn fill(&self, out: &mut [u8]) {
        use sha2::{Digest, Sha256};
        for chunk in out.chunks_mut(32) {
            let n = self.0.fetch_add(1, Ordering::Relaxed);
            let digest = Sha256::digest(n.to_be_bytes());
            for (o, d) in chunk.iter_mut().zip(digest) {
                *o = d;
            }
        }
    }
}

fn entropy() -> Counter {
    Counter(AtomicU64::new(7))
}

fn tenant(name: &str) -> Tenant {
    Tenant::new(name).unwrap()
}

#[test]
fn tokens_are_never_card_numbers() {
    let token = CardToken::from_random([0xab; 16]);
    assert!(token.as_str().starts_with("tok_"));
    assert_eq!(token.as_str().len(), 30);
    assert_eq!(CardToken::parse(token.as_str()).unwrap(), token);
    assert!(CardNumber::new(token.as_str()).is_err());
    for bad in [
        "4111111111111111",
        "tok_",
        "tok_0123456789abcdefghjkmnpqrsTV",
        "tok_0123456789abcdefghjkmnpqri",
    ] {
        assert!(CardToken::parse(bad).is_err(), "{bad}");
    }
    assert_ne!(
        CardToken::from_random([0; 16]),
        CardToken::from_random([1; 16])
    );
}

#[test]
fn brand_and_display_come_from_the_bin() {
    let cases = [
        ("4111 1111 1111 1111", Brand::Visa, "41111111"),
        ("5555 5555 5555 4444", Brand::Mastercard, "55555555"),
        ("2223 0000 4841 0010", Brand::Mastercard, "22230000"),
        ("3782 822463 10005", Brand::Amex, "378282"),
        ("6011 1111 1111 1117", Brand::Discover, "60111111"),
        ("3530 1113 3330 0000", Brand::Jcb, "35301113"),
        ("3056 9309 0259 04", Brand::DinersClub, "305693"),
        ("6200 0000 0000 0005", Brand::UnionPay, "62000000"),
        ("6759 6498 2643 8453", Brand::Maestro, "67596498"),
        ("9999 9999 9999 9995", Brand::Unknown, "99999999"),
    ];
    for (number, brand, bin) in cases {
        let display = CardDisplay::of(&CardNumber::new(number).unwrap(), 12, 2030);
        assert_eq!(display.brand, brand, "{number}");
        assert_eq!(display.bin, bin, "{number}");
        assert_eq!(
            display.last4,
            number.replace(' ', "")[number.replace(' ', "").len() - 4..]
        );
        assert_eq!(Brand::from_name(brand.as_str()), brand);
    }
}

#[test]
fn shares_round_trip_and_catch_typos() {
    let (a, b) = Share::generate_pair(KeyUse::Test, &entropy());
    assert_eq!(Share::parse(&a.encode()).unwrap(), a);
    let mut typo = a.encode().into_bytes();
    let at = typo.len() - 20;
    typo[at] = if typo[at] == b'0' { b'1' } else { b'0' };
    assert!(Share::parse(std::str::from_utf8(&typo).unwrap()).is_err());
    assert!(format!("{a:?}").contains("redacted"));
    assert!(!format!("{a:?}").contains(&a.encode()[16..40]));
    // One custodian's share twice, or a test share with a live one, is no master key.
    assert!(MasterKey::combine(&a, &a).is_err());
    let (live_a, _) = Share::generate_pair(KeyUse::Live, &entropy());
    assert!(MasterKey::combine(&live_a, &b).is_err());
    let master = MasterKey::combine(&a, &b).unwrap();
    let again = MasterKey::combine(&b, &a).unwrap();
    assert_eq!(master.check_value().unwrap(), again.check_value().unwrap());
}

#[test]
fn data_keys_wrap_under_the_master_and_seal_with_their_version() {
    let source = entropy();
    let (a, b) = Share::generate_pair(KeyUse::Test, &source);
    let master = MasterKey::combine(&a, &b).unwrap();
    let ada = tenant("buyer:ada");
    let (key, wrapped) = master.new_data_key(&ada, 3, &source).unwrap();
    let opened = master.unwrap_data_key(&ada, 3, &wrapped).unwrap();
    // A wrapped key opens only as the tenant's and the version's it was made for.
    assert!(
        master
            .unwrap_data_key(&tenant("buyer:bob"), 3, &wrapped)
            .is_err()
    );
    assert!(master.unwrap_data_key(&ada, 4, &wrapped).is_err());
    let (c, d) = Share::generate_pair(KeyUse::Test, &source);
    assert!(
        MasterKey::combine(&c, &d)
            .unwrap()
            .unwrap_data_key(&ada, 3, &wrapped)
            .is_err()
    );

    let sealed = key
        .seal(b"4111111111111111|12|2030", b"card|x", &source)
        .unwrap();
    assert_eq!(sealed_key_version(&sealed).unwrap(), 3);
    assert_eq!(
        opened.open(&sealed, b"card|x").unwrap(),
        b"4111111111111111|12|2030"
    );
    assert!(opened.open(&sealed, b"card|y").is_err());
    let mut altered = sealed.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    assert!(opened.open(&altered, b"card|x").is_err());
    let (other, _) = master.new_data_key(&ada, 4, &source).unwrap();
    assert_eq!(other.open(&sealed, b"card|x"), Err(VaultError::DoesNotOpen));
}

#[test]
fn fingerprints_are_per_tenant_and_keyed() {
    let source = entropy();
    let (a, b) = Share::generate_pair(KeyUse::Test, &source);
    let master = MasterKey::combine(&a, &b).unwrap();
    let ada = tenant("buyer:ada");
    let one = master.fingerprint(&ada, "4111111111111111").unwrap();
    assert_eq!(one, master.fingerprint(&ada, "4111111111111111").unwrap());
    assert_ne!(
        one,
        master
            .fingerprint(&tenant("buyer:bob"), "4111111111111111")
            .unwrap()
    );
    assert_ne!(one, master.fingerprint(&ada, "5555555555554444").unwrap());
    let (c, d) = Share::generate_pair(KeyUse::Test, &source);
    assert_ne!(
        one,
        MasterKey::combine(&c, &d)
            .unwrap()
            .fingerprint(&ada, "4111111111111111")
            .unwrap()
    );
}

fn parties() -> (Party, Party, ChannelKey) {
    (
        Party::new("api", [1; 32]),
        Party::new("vault", [2; 32]),
        ChannelKey::new([3; 32]),
    )
}

#[test]
fn channel_messages_open_only_for_their_audience_from_a_known_signer() {
    let (api, vault, key) = parties();
    let source = entropy();
    let body = serde_json::json!({"op": "tokenize", "number": "4111111111111111"});
    let message = channel::seal(&api, "vault", &key, body.clone(), 1_000, &source).unwrap();
    assert!(
        !message.contains("4111"),
        "the number is encrypted on the wire"
    );
    let opened = channel::open(&message, "vault", &key, &[api.peer()], 1_030).unwrap();
    assert_eq!(opened.from, "api");
    assert_eq!(opened.body, body);

    assert_eq!(
        channel::open(&message, "api", &key, &[api.peer()], 1_000),
        Err(ChannelError::Audience)
    );
    assert_eq!(
        channel::open(&message, "vault", &key, &[vault.peer()], 1_000),
        Err(ChannelError::UnknownSender)
    );
    assert_eq!(
        channel::open(
            &message,
            "vault",
            &ChannelKey::new([4; 32]),
            &[api.peer()],
            1_000
        ),
        Err(ChannelError::DoesNotDecrypt)
    );
    assert_eq!(
        channel::open(&message, "vault", &key, &[api.peer()], 1_061),
        Err(ChannelError::Stale)
    );
    assert_eq!(
        channel::open(&message, "vault", &key, &[api.peer()], 939),
        Err(ChannelError::Stale)
    );
    // A key named "api" but not api's: the signature fails.
    let impostor = Party::new("api", [9; 32]);
    let forged = channel::seal(&impostor, "vault", &key, body, 1_000, &source).unwrap();
    assert_eq!(
        channel::open(&forged, "vault", &key, &[api.peer()], 1_000),
        Err(ChannelError::Signature)
    );
}

#[test]
fn tampered_jwe_and_jws_are_refused() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    let (api, _, key) = parties();
    let source = entropy();
    let message = channel::seal(
        &api,
        "vault",
        &key,
        serde_json::json!({"op": "x"}),
        1_000,
        &source,
    )
    .unwrap();
    let parts: Vec<String> = message.split('.').map(str::to_owned).collect();
    assert_eq!(parts.len(), 5);
    // Every bit of the ciphertext, tag, iv and protected header is covered by the tag.
    for index in [0, 2, 3, 4] {
        let mut bytes = B64.decode(&parts[index]).unwrap();
        bytes[0] ^= 1;
        let mut altered = parts.clone();
        altered[index] = B64.encode(&bytes);
        let result = channel::open(&altered.join("."), "vault", &key, &[api.peer()], 1_000);
        assert!(result.is_err(), "part {index} altered");
    }
    // Another algorithm in the header is refused before decrypting.
    let mut none = parts.clone();
    none[0] = B64.encode(r#"{"alg":"none","enc":"A256GCM"}"#);
    assert_eq!(
        channel::open(&none.join("."), "vault", &key, &[api.peer()], 1_000),
        Err(ChannelError::Algorithm)
    );
    let mut wrapped = parts.clone();
    wrapped[1] = "AAAA".to_owned();
    assert_eq!(
        channel::open(&wrapped.join("."), "vault", &key, &[api.peer()], 1_000),
        Err(ChannelError::Algorithm)
    );
    assert_eq!(
        channel::open("a.b.c", "vault", &key, &[api.peer()], 1_000),
        Err(ChannelError::Malformed)
    );

    // A JWS whose payload was changed after signing, then encrypted properly: the JWE
    // opens, the signature does not verify.
    let inner = crate::vault::keys::aead_open(
        &[3; 32],
        &[
            B64.decode(&parts[2]).unwrap(),
            B64.decode(&parts[3]).unwrap(),
            B64.decode(&parts[4]).unwrap(),
        ]
        .concat(),
        parts[0].as_bytes(),
    )
    .unwrap();
    let jws = String::from_utf8(inner).unwrap();
    let jws_parts: Vec<&str> = jws.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&B64.decode(jws_parts[1]).unwrap()).unwrap();
    claims["body"]["op"] = serde_json::json!("detokenize");
    let edited = format!(
        "{}.{}.{}",
        jws_parts[0],
        B64.encode(claims.to_string()),
        jws_parts[2]
    );
    let sealed =
        crate::vault::keys::aead_seal(&[3; 32], edited.as_bytes(), parts[0].as_bytes(), &source)
            .unwrap();
    let (iv, rest) = sealed.split_at(12);
    let (ct, tag) = rest.split_at(rest.len() - 16);
    let rewrapped = format!(
        "{}..{}.{}.{}",
        parts[0],
        B64.encode(iv),
        B64.encode(ct),
        B64.encode(tag)
    );
    assert_eq!(
        channel::open(&rewrapped, "vault", &key, &[api.peer()], 1_000),
        Err(ChannelError::Signature)
    );
}

#[test]
fn replayed_messages_are_refused_within_the_window() {
    let (api, _, key) = parties();
    let source = entropy();
    let message =
        channel::seal(&api, "vault", &key, serde_json::json!({}), 1_000, &source).unwrap();
    let opened = channel::open(&message, "vault", &key, &[api.peer()], 1_000).unwrap();
    let mut guard = ReplayGuard::new(10);
    guard.check(&opened, 1_000).unwrap();
    assert_eq!(guard.check(&opened, 1_010), Err(ChannelError::Replayed));
    let other = channel::open(
        &channel::seal(&api, "vault", &key, serde_json::json!({}), 1_000, &source).unwrap(),
        "vault",
        &key,
        &[api.peer()],
        1_000,
    )
    .unwrap();
    guard.check(&other, 1_000).unwrap();
}

#[test]
fn the_scan_finds_real_card_numbers_and_nothing_else() {
    // A Luhn-valid Visa number that is not a test number, in several shapes.
    let real = "4242424242424242";
    assert!(CardNumber::new(real).is_ok());
    for text in [
        format!("card={real}"),
        format!("\t{real}\n"),
        "number: 4242 4242 4242 4242".to_owned(),
        "4242-4242-4242-4242".to_owned(),
        format!("{{\"n\":\"{real}\"}}"),
    ] {
        let found = find_card_numbers(&text);
        assert_eq!(found.len(), 1, "{text}");
        assert_eq!(found[0].masked, "424242...4242");
    }
    assert_eq!(find_card_numbers(&format!("a\nb\n{real}"))[0].line, 3);
    for quiet in [
        // Test numbers, timestamps in microseconds, numbers inside hex or words, a Luhn
        // failure, too short, too long.
        "4111111111111111 and 4111 1111 1111 1111 and 5555555555554444".to_owned(),
        "at=1764672000000000 at=1764672000000007".to_owned(),
        format!("\\x00{real}ab tok_{real} {real}x"),
        "4242424242424241".to_owned(),
        "424242424242".to_owned(),
        "42424242424242424242".to_owned(),
    ] {
        assert_eq!(find_card_numbers(&quiet), [], "{quiet}");
    }
}

#[test]
fn uuids_are_not_card_numbers_and_dumps_skip_timestamp_columns() {
    // A UUID whose groups are all digits (16 of them before the last group).
    assert_eq!(
        find_card_numbers("23476001-1474-5404-afd6-2785ddc635d4"),
        []
    );
    assert_eq!(
        find_card_numbers("4242 4242-4242 4242"),
        [],
        "mixed separators"
    );
    assert_eq!(
        find_card_numbers("3782 822463 10006").len(),
        0,
        "fails the Luhn check"
    );
    assert_eq!(
        find_card_numbers("3714 496353 98431").len(),
        1,
        "Amex grouping"
    );
    let dump = "SET x = 1;\n\
        COPY public.ledger_transfers (id, amount, ts, created_at, note) FROM stdin;\n\
        1\t5\t2704210892000001\t2307063878000003\tfine\n\
        2\t5\t2704210892000001\t2307063878000003\t4242424242424242\n\
        \\.\n\
        COPY public.other (n) FROM stdin;\n\
        2704210892000001\n\
        \\.\n";
    let found = find_card_numbers_in_dump(dump);
    let lines: Vec<usize> = found.iter().map(|f| f.line).collect();
    // The card number in a text column, and the same digits once outside a timestamp column.
    assert_eq!(lines, [4, 7]);
}

#[test]
fn keyrings_seal_with_the_newest_key_and_open_with_any() {
    let source = entropy();
    let (a, b) = Share::generate_pair(KeyUse::Test, &source);
    let master = MasterKey::combine(&a, &b).unwrap();
    let purpose = KeyringPurpose::WebhookSecrets;
    let tenant = purpose.tenant().unwrap();
    assert_eq!(tenant.as_str(), "keyring:webhook-secrets");
    assert_eq!(
        KeyringPurpose::parse("bank-details").unwrap(),
        KeyringPurpose::BankDetails
    );
    assert!(KeyringPurpose::parse("cards").is_err());
    let (first, _) = master.new_data_key(&tenant, 1, &source).unwrap();
    let (second, _) = master.new_data_key(&tenant, 2, &source).unwrap();

    let old = Keyring::new(purpose, vec![first.clone()]).unwrap();
    let sealed_old = old.seal(b"whsec_one", b"endpoint-1", &source).unwrap();
    assert_eq!(sealed_key_version(&sealed_old).unwrap(), 1);

    let ring = Keyring::new(purpose, vec![first.clone(), second.clone()]).unwrap();
    assert_eq!(ring.newest_version(), 2);
    assert!(ring.holds(1) && ring.holds(2) && !ring.holds(3));
    let sealed_new = ring.seal(b"whsec_two", b"endpoint-1", &source).unwrap();
    assert_eq!(sealed_key_version(&sealed_new).unwrap(), 2);
    // The retired key still opens what it sealed; the old ring cannot open the new key's.
    assert_eq!(ring.open(&sealed_old, b"endpoint-1").unwrap(), b"whsec_one");
    assert_eq!(ring.open(&sealed_new, b"endpoint-1").unwrap(), b"whsec_two");
    assert!(old.open(&sealed_new, b"endpoint-1").is_err());
    // Bound to the row and to the purpose.
    assert!(ring.open(&sealed_new, b"endpoint-2").is_err());
    let bank = Keyring::new(KeyringPurpose::BankDetails, vec![first, second.clone()]).unwrap();
    assert!(bank.open(&sealed_new, b"endpoint-1").is_err());
    // A keyring is never empty and its numbers rise.
    assert!(Keyring::new(purpose, Vec::new()).is_err());
    assert!(Keyring::new(purpose, vec![second.clone(), second]).is_err());
    // Handed over as bytes, a key seals and opens the same.
    let copy = DataKey::from_bytes(2, *ring.keys()[1].expose_bytes());
    let again = Keyring::new(purpose, vec![copy]).unwrap();
    assert_eq!(
        again.open(&sealed_new, b"endpoint-1").unwrap(),
        b"whsec_two"
    );
}
