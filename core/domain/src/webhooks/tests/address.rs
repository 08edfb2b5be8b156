//! Endpoint URLs and the addresses a sender may connect to.

use super::*;

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

proptest! {
    #[test]
    fn url_and_pattern_parsing_never_panic(input in any::<String>(), flag in any::<bool>()) {
        let _ = EndpointUrl::parse(&input, flag);
        let _ = EventPattern::parse(&input);
        let _ = EndpointUrl::parse(&format!("https://{input}"), flag);
    }
}
