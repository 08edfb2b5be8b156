//! Where deliveries may go: the endpoint URL rules and the addresses a sender may connect to.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{MAX_URL_LEN, WebhookError};

/// The longest host name (RFC 1035), and the longest label in it.
const MAX_HOST_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

/// A URL deliveries may be sent to.
///
/// Accepted: `https://host[:port][/path][?query]`, the scheme in any case, at most
/// [`MAX_URL_LEN`] bytes of printable ASCII (non-ASCII must be percent-encoded, and host
/// names in their `xn--` form), no user info, no fragment, no `\`. The host is a DNS name
/// of letters, digits, `-` and `.`, a dotted-decimal IPv4 address or a bracketed IPv6
/// address; a host whose last label is a number in another form (`127.1`, `0x7f000001`)
/// is refused, because URL parsers that follow the WHATWG URL standard read those as IPv4
/// addresses. Hosts that are `localhost`, `*.localhost` or addresses [`may_deliver_to`]
/// refuses are refused: loopback, private, link-local, unique-local, unspecified, shared
/// (100.64/10), benchmarking, documentation, reserved, multicast and broadcast ranges,
/// IETF protocol assignments (with Teredo), 6to4, and IPv6 addresses that embed a refused
/// IPv4 address (`::ffff:0:0/96`, `64:ff9b::/96`).
///
/// With `allow_loopback_http` (development setups) those host checks are skipped, and
/// `http://` is accepted when the host is exactly `127.0.0.1`, `localhost` or `[::1]`.
///
/// Only the host as written is checked: a DNS name that resolves to a private address
/// passes here, so the sender checks every resolved address with [`may_deliver_to`] when
/// it connects.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct EndpointUrl {
    url: String,
    host: String,
}

/// What a URL's host is.
enum Host {
    Name,
    Ip(IpAddr),
}

fn parse_port(port: &str) -> Result<u16, WebhookError> {
    const INVALID: WebhookError = WebhookError::InvalidUrl("the port must be 1 to 65535");
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(INVALID);
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(INVALID),
        Ok(port) => Ok(port),
    }
}

/// Splits `host[:port]` or `[v6][:port]` and checks the port.
fn split_host_port(authority: &str) -> Result<&str, WebhookError> {
    let (host, port) = if authority.starts_with('[') {
        let (host, after) = match authority.find(']') {
            Some(end) => authority.split_at_checked(end.saturating_add(1)),
            None => None,
        }
        .ok_or(WebhookError::InvalidUrl("unclosed `[` in the host"))?;
        let port = if after.is_empty() {
            None
        } else {
            Some(
                after
                    .strip_prefix(':')
                    .ok_or(WebhookError::InvalidUrl("unexpected text after `]`"))?,
            )
        };
        (host, port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if let Some(port) = port {
        parse_port(port)?;
    }
    Ok(host)
}

/// Whether a label is a number to a WHATWG URL parser: decimal, octal with a leading `0`,
/// or hexadecimal with `0x`.
fn is_numeric_label(label: &str) -> bool {
    if !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"))
        .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Classifies a lower-cased host.
fn parse_host(host: &str) -> Result<Host, WebhookError> {
    if let Some(bracketed) = host.strip_prefix('[') {
        let address = bracketed
            .strip_suffix(']')
            .and_then(|inner| inner.parse::<Ipv6Addr>().ok())
            .ok_or(WebhookError::InvalidUrl("invalid IPv6 address"))?;
        return Ok(Host::Ip(IpAddr::V6(address)));
    }
    if host.is_empty() {
        return Err(WebhookError::InvalidUrl("missing host"));
    }
    if host.len() > MAX_HOST_LEN {
        return Err(WebhookError::InvalidUrl("host name too long"));
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(WebhookError::InvalidUrl(
            "a host name may contain only letters, digits, `-` and `.`",
        ));
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if name
        .split('.')
        .any(|label| label.is_empty() || label.len() > MAX_LABEL_LEN)
    {
        return Err(WebhookError::InvalidUrl("invalid host name"));
    }
    if name.rsplit('.').next().is_some_and(is_numeric_label) {
        let address = name.parse::<Ipv4Addr>().map_err(|_| {
            WebhookError::InvalidUrl("an IPv4 address must be in dotted-decimal form")
        })?;
        return Ok(Host::Ip(IpAddr::V4(address)));
    }
    Ok(Host::Name)
}

/// Whether `address` is in a range deliveries never go to: this network (0/8), private
/// (10/8, 172.16/12, 192.168/16), shared (100.64/10), loopback (127/8), link-local
/// (169.254/16), IETF protocol assignments (192.0.0/24), documentation (192.0.2/24,
/// 198.51.100/24, 203.0.113/24), the deprecated 6to4 relay anycast (192.88.99/24),
/// benchmarking (198.18/15), multicast (224/4) and reserved (240/4, with the broadcast
/// address): every range of the IANA IPv4 special-purpose registry that is not globally
/// reachable, plus the documentation and deprecated ones.
fn is_disallowed_v4(address: Ipv4Addr) -> bool {
    let [first, second, third, _] = address.octets();
    first == 0
        || address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || (first == 100 && (64..=127).contains(&second))
        || (first == 192 && second == 0 && (third == 0 || third == 2))
        || (first == 192 && second == 88 && third == 99)
        || (first == 198 && (second == 18 || second == 19))
        || (first == 198 && second == 51 && third == 100)
        || (first == 203 && second == 0 && third == 113)
        || address.is_multicast()
        || first >= 240
}

/// Whether `address` is in a range deliveries never go to. IPv4-mapped addresses
/// (`::ffff:0:0/96`) and the well-known NAT64 prefix (`64:ff9b::/96`) are judged by the
/// IPv4 address they carry. Everything outside the global unicast space `2000::/3` is
/// refused: among it `::/8` (unspecified, loopback, IPv4-compatible and -translated),
/// `64:ff9b:1::/48` (local-use NAT64), `100::/64` (discard), `5f00::/16` (SRv6),
/// `fc00::/7` (unique-local), `fe80::/10` (link-local), `fec0::/10` (site-local) and
/// `ff00::/8` (multicast). Inside it, `2001::/23` (IETF protocol assignments, with Teredo
/// `2001::/32`, benchmarking and ORCHID), `2001:db8::/32` and `3fff::/20` (documentation)
/// and `2002::/16` (6to4, which embeds any IPv4 address) are refused.
fn is_disallowed_v6(address: Ipv6Addr) -> bool {
    if let Some(v4) = address.to_ipv4_mapped() {
        return is_disallowed_v4(v4);
    }
    let [s0, s1, s2, s3, s4, s5, s6, s7] = address.segments();
    if [s0, s1, s2, s3, s4, s5] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = s6.to_be_bytes();
        let [c, d] = s7.to_be_bytes();
        return is_disallowed_v4(Ipv4Addr::new(a, b, c, d));
    }
    s0 & 0xe000 != 0x2000
        || (s0 == 0x2001 && s1 < 0x0200)
        || (s0 == 0x2001 && s1 == 0x0db8)
        || s0 == 0x2002
        || (s0 == 0x3fff && s1 < 0x1000)
}

/// Whether a delivery may connect to `address`: not when it is in a range [`EndpointUrl`]
/// refuses (see `is_disallowed_v4` and `is_disallowed_v6`). With `allow_loopback` (local
/// testing, as for [`EndpointUrl::parse`]) loopback addresses (`127.0.0.0/8`, `::1`, and
/// `127.0.0.0/8` mapped into IPv6) are allowed as well; every other refused range stays
/// refused.
///
/// The sender asks this of every address a host name resolves to, and of an address written
/// in the URL, before it connects, and connects only to addresses that passed.
pub fn may_deliver_to(address: IpAddr, allow_loopback: bool) -> bool {
    if allow_loopback && address.to_canonical().is_loopback() {
        return true;
    }
    match address {
        IpAddr::V4(v4) => !is_disallowed_v4(v4),
        IpAddr::V6(v6) => !is_disallowed_v6(v6),
    }
}

fn is_disallowed(host: &str, kind: &Host) -> bool {
    match kind {
        Host::Name => {
            let name = host.strip_suffix('.').unwrap_or(host);
            name == "localhost" || name.ends_with(".localhost")
        }
        Host::Ip(IpAddr::V4(address)) => is_disallowed_v4(*address),
        Host::Ip(IpAddr::V6(address)) => is_disallowed_v6(*address),
    }
}

impl EndpointUrl {
    /// Checks `url` against the rules above.
    pub fn parse(url: &str, allow_loopback_http: bool) -> Result<Self, WebhookError> {
        if url.len() > MAX_URL_LEN {
            return Err(WebhookError::InvalidUrl("longer than 2048 bytes"));
        }
        if !url.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(WebhookError::InvalidUrl(
                "contains whitespace, control or non-ASCII characters",
            ));
        }
        if url.contains('\\') {
            return Err(WebhookError::InvalidUrl("contains `\\`"));
        }
        if url.contains('#') {
            return Err(WebhookError::InvalidUrl("has a fragment"));
        }
        let (scheme, rest) = url.split_once("://").ok_or(WebhookError::InvalidUrl(
            "expected an absolute https:// URL",
        ))?;
        let is_http = scheme.eq_ignore_ascii_case("http");
        if !is_http && !scheme.eq_ignore_ascii_case("https") {
            return Err(WebhookError::InvalidUrl("the scheme must be https"));
        }
        let authority = rest
            .split(['/', '?'])
            .next()
            .ok_or(WebhookError::InvalidUrl("missing host"))?;
        if authority.contains('@') {
            return Err(WebhookError::InvalidUrl("user info is not allowed"));
        }
        let host = split_host_port(authority)?.to_ascii_lowercase();
        let kind = parse_host(&host)?;
        if is_http {
            let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
            if !(allow_loopback_http && loopback) {
                return Err(WebhookError::InsecureUrl);
            }
        } else if !allow_loopback_http && is_disallowed(&host, &kind) {
            return Err(WebhookError::DisallowedHost);
        }
        Ok(Self {
            url: url.to_owned(),
            host,
        })
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The host, lower-cased; IPv6 addresses keep their brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The address written as the host, if the host is an address rather than a name.
    pub fn address(&self) -> Option<IpAddr> {
        match parse_host(&self.host) {
            Ok(Host::Ip(address)) => Some(address),
            Ok(Host::Name) | Err(_) => None,
        }
    }
}

impl fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}
