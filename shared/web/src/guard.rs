//! The SSRF guard: the single place that decides whether Tern may open a
//! connection to a URL, a host or an IP address.
//!
//! Every outbound fetch (websites, robots.txt) and every mailbox host a
//! workspace configures goes through here. The rules are deliberately an
//! allow-list at the address level: an IPv4 address must be outside every
//! special-purpose range of RFC 6890 and the IANA registries; an IPv6 address
//! must be inside global unicast `2000::/3` and outside its special ranges.
//! Addresses that embed an IPv4 address (mapped, compatible, NAT64, 6to4) are
//! judged by what they embed, or refused outright where no legitimate public
//! website would use them.
//!
//! Names are never trusted: a name only becomes an address through the
//! guarded resolver in [`crate::fetch`], which applies [`is_forbidden`] to
//! every answer and hands the connector only the checked addresses.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// What an IP address is, as far as outbound connections are concerned.
/// Everything but [`AddressClass::Public`] is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// Globally routable unicast: the only class we connect to.
    Public,
    /// 0.0.0.0 or `::` (many stacks treat it as "this host").
    Unspecified,
    /// 127.0.0.0/8, `::1`.
    Loopback,
    /// RFC 1918 (10/8, 172.16/12, 192.168/16), IPv6 unique local fc00::/7,
    /// deprecated site-local fec0::/10.
    Private,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// 100.64.0.0/10 (RFC 6598 carrier-grade NAT).
    SharedAddressSpace,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20.
    Documentation,
    /// 198.18.0.0/15, 2001:2::/48.
    Benchmarking,
    /// 0.0.0.0/8 ("this network").
    ThisNetwork,
    /// 240.0.0.0/4 and other reserved or non-global ranges (IPv6 outside
    /// 2000::/3, discard-only 100::/64, ORCHID, 6to4 relay anycast).
    Reserved,
    /// 192.0.0.0/24, 2001::/23 (IETF protocol assignments).
    ProtocolAssignment,
    /// Cloud instance metadata endpoints: 169.254.169.254, fd00:ec2::254,
    /// 100.100.100.200 (Alibaba), 168.63.129.16 (Azure wire server).
    CloudMetadata,
    /// `::ffff:a.b.c.d`: refused whatever it embeds, because the OS may
    /// connect to the embedded IPv4 address.
    Ipv4Mapped,
    /// `::a.b.c.d` (deprecated IPv4-compatible): refused whatever it embeds.
    Ipv4Compatible,
    /// 64:ff9b::/96 embedding a forbidden IPv4 address, or the local-use
    /// NAT64 prefix 64:ff9b:1::/48.
    Nat64Forbidden,
    /// 2002::/16 (6to4) embedding a forbidden IPv4 address.
    SixToFourForbidden,
    /// 2001::/32 (Teredo): the tunnel endpoint is attacker-chosen.
    Teredo,
}

impl AddressClass {
    /// A short human description, used in refusal reasons.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Unspecified => "unspecified address",
            Self::Loopback => "loopback address",
            Self::Private => "private address",
            Self::LinkLocal => "link-local address",
            Self::SharedAddressSpace => "carrier-grade NAT address",
            Self::Multicast => "multicast address",
            Self::Broadcast => "broadcast address",
            Self::Documentation => "documentation address",
            Self::Benchmarking => "benchmarking address",
            Self::ThisNetwork => "\"this network\" address",
            Self::Reserved => "reserved address",
            Self::ProtocolAssignment => "IETF protocol assignment address",
            Self::CloudMetadata => "cloud metadata endpoint",
            Self::Ipv4Mapped => "IPv4-mapped IPv6 address",
            Self::Ipv4Compatible => "IPv4-compatible IPv6 address",
            Self::Nat64Forbidden => "NAT64 address embedding a forbidden IPv4 address",
            Self::SixToFourForbidden => "6to4 address embedding a forbidden IPv4 address",
            Self::Teredo => "Teredo address",
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Classifies an address. Pure and total: every input has a class.
pub fn classify_ip(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// True for every address Tern must never connect to.
pub fn is_forbidden(ip: IpAddr) -> bool {
    classify_ip(ip) != AddressClass::Public
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) };
    (u128::from(ip) & mask) == (u128::from(net) & mask)
}

const fn v6(segments: [u16; 8]) -> Ipv6Addr {
    Ipv6Addr::new(segments[0], segments[1], segments[2], segments[3], segments[4], segments[5], segments[6], segments[7])
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    use AddressClass::*;
    let o = ip.octets();
    // Exact metadata endpoints first: they sit inside broader ranges but
    // deserve the more specific (and more alarming) name in logs.
    if o == [169, 254, 169, 254] || o == [100, 100, 100, 200] || o == [168, 63, 129, 16] {
        return CloudMetadata;
    }
    if o == [0, 0, 0, 0] {
        return Unspecified;
    }
    if o == [255, 255, 255, 255] {
        return Broadcast;
    }
    let table: &[([u8; 4], u32, AddressClass)] = &[
        ([0, 0, 0, 0], 8, ThisNetwork),
        ([10, 0, 0, 0], 8, Private),
        ([100, 64, 0, 0], 10, SharedAddressSpace),
        ([127, 0, 0, 0], 8, Loopback),
        ([169, 254, 0, 0], 16, LinkLocal),
        ([172, 16, 0, 0], 12, Private),
        ([192, 0, 0, 0], 24, ProtocolAssignment),
        ([192, 0, 2, 0], 24, Documentation),
        ([192, 88, 99, 0], 24, Reserved),
        ([192, 168, 0, 0], 16, Private),
        ([198, 18, 0, 0], 15, Benchmarking),
        ([198, 51, 100, 0], 24, Documentation),
        ([203, 0, 113, 0], 24, Documentation),
        ([224, 0, 0, 0], 4, Multicast),
        ([240, 0, 0, 0], 4, Reserved),
    ];
    table.iter().find(|(net, prefix, _)| in_v4(ip, *net, *prefix)).map_or(Public, |(_, _, class)| *class)
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    use AddressClass::*;
    if ip == v6([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254]) {
        return CloudMetadata;
    }
    if ip.is_unspecified() {
        return Unspecified;
    }
    if ip.is_loopback() {
        return Loopback;
    }
    let s = ip.segments();
    // ::ffff:0:0/96 — the OS would connect to the embedded IPv4 address.
    if s[..5] == [0, 0, 0, 0, 0] && s[5] == 0xffff {
        return Ipv4Mapped;
    }
    // ::/96 (IPv4-compatible, deprecated). `::` and `::1` were handled above.
    if s[..6] == [0, 0, 0, 0, 0, 0] {
        return Ipv4Compatible;
    }
    // NAT64 well-known prefix: judged by the IPv4 address it carries.
    if in_v6(ip, v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0]), 96) {
        let embedded = Ipv4Addr::from(((s[6] as u32) << 16) | s[7] as u32);
        return if classify_v4(embedded) == Public { Public } else { Nat64Forbidden };
    }
    // Local-use NAT64 (RFC 8215) only exists inside a private network.
    if in_v6(ip, v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0]), 48) {
        return Nat64Forbidden;
    }
    // 6to4: the IPv4 address is in bits 16..48.
    if in_v6(ip, v6([0x2002, 0, 0, 0, 0, 0, 0, 0]), 16) {
        let embedded = Ipv4Addr::from(((s[1] as u32) << 16) | s[2] as u32);
        return if classify_v4(embedded) == Public { Public } else { SixToFourForbidden };
    }
    let table: &[(Ipv6Addr, u32, AddressClass)] = &[
        (v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), 32, Teredo),
        (v6([0x2001, 0x2, 0, 0, 0, 0, 0, 0]), 48, Benchmarking),
        (v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]), 32, Documentation),
        (v6([0x3fff, 0, 0, 0, 0, 0, 0, 0]), 20, Documentation),
        // Covers ORCHID (2001:10::/28, 2001:20::/28) and the rest of the
        // IETF block: no company website lives there.
        (v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), 23, ProtocolAssignment),
        (v6([0x100, 0, 0, 0, 0, 0, 0, 0]), 64, Reserved),
        (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0]), 7, Private),
        (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0]), 10, Private),
        (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0]), 10, LinkLocal),
        (v6([0xff00, 0, 0, 0, 0, 0, 0, 0]), 8, Multicast),
    ];
    if let Some((_, _, class)) = table.iter().find(|(net, prefix, _)| in_v6(ip, *net, *prefix)) {
        return *class;
    }
    // Everything outside global unicast 2000::/3 is unallocated or special.
    if in_v6(ip, v6([0x2000, 0, 0, 0, 0, 0, 0, 0]), 3) { Public } else { Reserved }
}

/// Why the guard refused. Every variant reads as a sentence via `Display`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The scheme is not allowed by the policy (e.g. `ftp`, `file`).
    Scheme(String),
    /// The port is not allowed by the policy.
    Port(u16),
    /// `user:pass@` in a URL: never sent anywhere.
    Credentials,
    /// The URL or host has no host at all.
    NoHost,
    /// The host could not be parsed as a domain or an IP address.
    InvalidHost(String),
    /// A name that is local by definition (`localhost`, `*.internal`, ...).
    LocalName(String),
    /// An address (literal or resolved) in a forbidden class.
    Address { ip: IpAddr, class: AddressClass },
    /// Every address the name resolved to was forbidden.
    NoAllowedAddress { host: String, dropped: Vec<(IpAddr, AddressClass)> },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scheme(s) => write!(f, "scheme {s:?} is not allowed"),
            Self::Port(p) => write!(f, "port {p} is not allowed"),
            Self::Credentials => f.write_str("credentials in the URL are not allowed"),
            Self::NoHost => f.write_str("the URL has no host"),
            Self::InvalidHost(h) => write!(f, "{h:?} is not a valid host"),
            Self::LocalName(h) => write!(f, "{h:?} is a local-only name"),
            Self::Address { ip, class } => write!(f, "{ip} is a {class}"),
            Self::NoAllowedAddress { host, dropped } => {
                write!(f, "{host} resolves only to forbidden addresses")?;
                for (i, (ip, class)) in dropped.iter().enumerate() {
                    f.write_str(if i == 0 { " (" } else { ", " })?;
                    write!(f, "{ip}: {class}")?;
                }
                if !dropped.is_empty() {
                    f.write_str(")")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Refusal {}

/// What a connection is for: decides schemes and ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    schemes: &'static [&'static str],
    ports: &'static [u16],
    /// The explicit test allowance: loopback *literals* on exactly this port.
    loopback_test_port: Option<u16>,
    /// The explicit test allowance for one host name a test's own resolver maps
    /// to its loopback server (with `loopback_test_port` set too).
    loopback_test_name: Option<String>,
}

impl Policy {
    /// Company websites: http/https on 80/443 only.
    pub fn website() -> Self {
        Self { schemes: &["http", "https"], ports: &[80, 443], loopback_test_port: None, loopback_test_name: None }
    }

    /// Mailbox hosts configured by a workspace: SMTP (25, 465, 587) and IMAP
    /// (143, 993) only. There is no URL scheme; see [`check_mail_host`].
    pub fn mail() -> Self {
        Self { schemes: &[], ports: &[25, 465, 587, 143, 993], loopback_test_port: None, loopback_test_name: None }
    }

    /// HTTPS APIs a workspace points Tern at (an OpenAI-compatible language
    /// model provider): https on 443 only. The key travels in a header, so
    /// plain http is never allowed to a real host.
    pub fn provider_api() -> Self {
        Self { schemes: &["https"], ports: &[443], loopback_test_port: None, loopback_test_name: None }
    }

    /// Test-only allowance for a server the test started on loopback:
    /// `port` becomes an allowed port, and a loopback IP *literal*
    /// (`127.0.0.0/8`, `::1`) is allowed on exactly that port, over plain
    /// http too (a test server has no certificate).
    ///
    /// It is scoped on purpose: a name that resolves to loopback is still
    /// refused (so DNS-rebinding tests stay meaningful), as is loopback on
    /// any other port and every other forbidden class. Production code never calls this; it is a named value so a
    /// reviewer can grep for it, and nothing (no env var, no default)
    /// switches it on implicitly.
    pub fn allow_loopback_for_tests(mut self, port: u16) -> Self {
        self.loopback_test_port = Some(port);
        self
    }

    /// Test-only, on top of [`Policy::allow_loopback_for_tests`]: answers for
    /// exactly this host name (lower-case, no trailing dot) may be loopback, so a
    /// test site can be reached by a domain name (a test of what is keyed by
    /// domain). Every other name resolving to loopback is still refused; without
    /// the port allowance this does nothing.
    pub fn allow_loopback_name_for_tests(mut self, name: &str) -> Self {
        self.loopback_test_name = Some(name.trim_end_matches('.').to_ascii_lowercase());
        self
    }

    /// Checks an address `name` resolved to: [`Policy::check_resolved_ip`], except
    /// for the one name of the test allowance, whose loopback answers pass.
    pub fn check_resolved_ip_of(&self, name: &str, ip: IpAddr) -> Result<(), Refusal> {
        if self.loopback_test_port.is_some()
            && self.loopback_test_name.as_deref() == Some(name)
            && classify_ip(ip) == AddressClass::Loopback
        {
            return Ok(());
        }
        self.check_resolved_ip(ip)
    }

    /// Whether the scheme is allowed (lower-case, as `url` reports it).
    pub fn allows_scheme(&self, scheme: &str) -> bool {
        self.schemes.contains(&scheme)
    }

    /// Whether the port is allowed for a public host.
    pub fn allows_port(&self, port: u16) -> bool {
        self.ports.contains(&port)
    }

    /// Plain http to the test allowance's loopback literal and port.
    fn allows_test_http(&self, url: &Url) -> bool {
        let loopback = match url.host() {
            Some(Host::Ipv4(v4)) => v4.is_loopback(),
            Some(Host::Ipv6(v6)) => v6.is_loopback(),
            _ => false,
        };
        url.scheme() == "http" && loopback && self.loopback_test_port.is_some() && url.port() == self.loopback_test_port
    }

    /// Checks an address a *name* resolved to. The loopback test allowance
    /// does not apply: names resolving to loopback are always refused.
    pub fn check_resolved_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        match classify_ip(ip) {
            AddressClass::Public => Ok(()),
            class => Err(Refusal::Address { ip, class }),
        }
    }

    /// Checks an IP literal together with its port.
    fn check_literal(&self, ip: IpAddr, port: u16) -> Result<(), Refusal> {
        let class = classify_ip(ip);
        if class == AddressClass::Loopback && self.loopback_test_port == Some(port) {
            return Ok(());
        }
        if class != AddressClass::Public {
            return Err(Refusal::Address { ip, class });
        }
        self.check_port(port)
    }

    fn check_port(&self, port: u16) -> Result<(), Refusal> {
        if self.allows_port(port) || self.loopback_test_port == Some(port) { Ok(()) } else { Err(Refusal::Port(port)) }
    }
}

/// A host after WHATWG parsing: the guard's view of "where would we go".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckedHost {
    /// A domain name (ASCII, lower-case, punycode, no trailing dot) that
    /// still has to go through the guarded resolver.
    Domain(String),
    /// An IP literal that passed the address check.
    Ip(IpAddr),
}

/// Names that are local by definition (RFC 6761, RFC 6762, RFC 8375, ICANN's
/// `.internal`) or common cloud metadata aliases. Refusing them early gives a
/// clearer reason than "resolves only to forbidden addresses", and holds even
/// when a resolver on the path answers them with something public-looking.
fn is_local_name(domain: &str) -> bool {
    const EXACT: &[&str] = &["localhost", "metadata", "metadata.google.internal"];
    const SUFFIXES: &[&str] = &[".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".lan", ".intranet", ".corp"];
    EXACT.contains(&domain) || SUFFIXES.iter().any(|s| domain.ends_with(s))
}

fn check_host(host: Host<&str>, port: u16, policy: &Policy) -> Result<CheckedHost, Refusal> {
    match host {
        Host::Ipv4(v4) => {
            policy.check_literal(IpAddr::V4(v4), port)?;
            Ok(CheckedHost::Ip(IpAddr::V4(v4)))
        }
        Host::Ipv6(v6) => {
            policy.check_literal(IpAddr::V6(v6), port)?;
            Ok(CheckedHost::Ip(IpAddr::V6(v6)))
        }
        Host::Domain(d) => {
            let domain = d.trim_end_matches('.').to_ascii_lowercase();
            if domain.is_empty() {
                return Err(Refusal::InvalidHost(d.to_string()));
            }
            // A trailing dot must not smuggle an IP literal past the parser
            // (url already folds "127.0.0.1." into an IPv4 host; this is a
            // second line for any other path).
            if let Ok(ip) = domain.parse::<IpAddr>() {
                policy.check_literal(ip, port)?;
                return Ok(CheckedHost::Ip(ip));
            }
            if is_local_name(&domain) {
                return Err(Refusal::LocalName(domain));
            }
            policy.check_port(port)?;
            Ok(CheckedHost::Domain(domain))
        }
    }
}

/// Checks a URL against a policy: scheme, credentials, port, and the host
/// (IP literals are classified here; names are left to the guarded resolver).
///
/// `url` has already applied WHATWG host parsing, so `http://2130706433/`,
/// `http://0x7f.1/`, `http://0177.0.0.1/` and `http://127.1/` arrive here as
/// the IPv4 address 127.0.0.1, and IDN hosts as punycode.
pub fn check_url(url: &Url, policy: &Policy) -> Result<CheckedHost, Refusal> {
    if !policy.allows_scheme(url.scheme()) && !policy.allows_test_http(url) {
        return Err(Refusal::Scheme(url.scheme().to_string()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refusal::Credentials);
    }
    let host = url.host().ok_or(Refusal::NoHost)?;
    let port = url.port_or_known_default().ok_or_else(|| Refusal::Scheme(url.scheme().to_string()))?;
    check_host(host, port, policy)
}

/// Checks a mailbox host (SMTP/IMAP server a workspace configures) and port.
/// The host may be a name, an IPv4 literal in any WHATWG form, or a bracketed
/// IPv6 literal. Names must still be resolved through the guarded resolver
/// before connecting.
pub fn check_mail_host(host: &str, port: u16) -> Result<CheckedHost, Refusal> {
    check_mail_host_with(host, port, &Policy::mail())
}

/// [`check_mail_host`] with an explicit policy (tests pass one carrying the
/// loopback allowance).
pub fn check_mail_host_with(host: &str, port: u16, policy: &Policy) -> Result<CheckedHost, Refusal> {
    let host = host.trim();
    if host.is_empty() {
        return Err(Refusal::NoHost);
    }
    // Anything that looks like it carries more than a host (credentials, a
    // path, a port) is refused rather than guessed at.
    if host.contains(['@', '/', '\\', '?', '#']) {
        return Err(Refusal::InvalidHost(host.to_string()));
    }
    let parsed = Host::parse(host).map_err(|_| Refusal::InvalidHost(host.to_string()))?;
    let borrowed = match &parsed {
        Host::Domain(d) => Host::Domain(d.as_str()),
        Host::Ipv4(v4) => Host::Ipv4(*v4),
        Host::Ipv6(v6) => Host::Ipv6(*v6),
    };
    check_host(borrowed, port, policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddressClass {
        classify_ip(s.parse().expect("test address parses"))
    }

    #[test]
    fn public_addresses_are_public() {
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80e::200e",
            // NAT64 and 6to4 embedding a public IPv4 address.
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
        ] {
            assert_eq!(class(ip), AddressClass::Public, "{ip}");
        }
    }

    #[test]
    fn special_ranges_are_classified() {
        use AddressClass::*;
        let cases = [
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("::1", Loopback),
            ("10.0.0.1", Private),
            ("172.16.5.4", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("fc00::1", Private),
            ("fd12:3456::1", Private),
            ("fec0::1", Private),
            ("169.254.1.1", LinkLocal),
            ("fe80::1", LinkLocal),
            ("100.64.0.1", SharedAddressSpace),
            ("100.127.255.255", SharedAddressSpace),
            ("224.0.0.1", Multicast),
            ("ff02::1", Multicast),
            ("255.255.255.255", Broadcast),
            ("0.0.0.0", Unspecified),
            ("::", Unspecified),
            ("0.1.2.3", ThisNetwork),
            ("240.0.0.1", Reserved),
            ("250.1.1.1", Reserved),
            ("192.0.2.1", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("2001:db8::1", Documentation),
            ("198.18.0.1", Benchmarking),
            ("198.19.255.1", Benchmarking),
            ("192.0.0.8", ProtocolAssignment),
            ("169.254.169.254", CloudMetadata),
            ("fd00:ec2::254", CloudMetadata),
            ("100.100.100.200", CloudMetadata),
            ("::ffff:127.0.0.1", Ipv4Mapped),
            ("::ffff:7f00:1", Ipv4Mapped),
            ("::ffff:8.8.8.8", Ipv4Mapped),
            ("::127.0.0.1", Ipv4Compatible),
            ("64:ff9b::7f00:1", Nat64Forbidden),
            ("64:ff9b::a00:1", Nat64Forbidden),
            ("64:ff9b:1::1", Nat64Forbidden),
            ("2002:7f00:1::1", SixToFourForbidden),
            ("2002:c0a8:101::1", SixToFourForbidden),
            ("2001:0:4136:e378::1", Teredo),
            ("100::1", Reserved),
            ("4000::1", Reserved),
        ];
        for (ip, want) in cases {
            assert_eq!(class(ip), want, "{ip}");
            assert!(is_forbidden(ip.parse().expect("parses")), "{ip}");
        }
    }

    #[test]
    fn mail_hosts_are_checked() {
        assert!(matches!(
            check_mail_host("smtp.example.com", 587),
            Ok(CheckedHost::Domain(d)) if d == "smtp.example.com"
        ));
        assert_eq!(check_mail_host("smtp.example.com", 22), Err(Refusal::Port(22)));
        assert_eq!(check_mail_host("smtp.example.com", 80), Err(Refusal::Port(80)));
        for host in ["127.0.0.1", "2130706433", "0x7f.1", "[::1]", "localhost", "LOCALHOST."] {
            assert!(check_mail_host(host, 25).is_err(), "{host}");
        }
        assert!(matches!(check_mail_host("10.1.2.3", 993), Err(Refusal::Address { class: AddressClass::Private, .. })));
        assert!(check_mail_host("user@smtp.example.com", 25).is_err());
        assert!(check_mail_host("smtp.example.com/x", 25).is_err());
        assert!(check_mail_host("", 25).is_err());
        // IDN names come out as punycode.
        assert!(matches!(
            check_mail_host("mail.bücher.example", 465),
            Ok(CheckedHost::Domain(d)) if d == "mail.xn--bcher-kva.example"
        ));
    }

    #[test]
    fn provider_apis_need_https_on_443_at_a_public_address() {
        let check = |url: &str, policy: &Policy| check_url(&Url::parse(url).expect("parses"), policy);
        let api = Policy::provider_api();
        assert!(matches!(check("https://api.openai.com/v1", &api), Ok(CheckedHost::Domain(d)) if d == "api.openai.com"));
        assert_eq!(check("http://api.openai.com/v1", &api), Err(Refusal::Scheme("http".into())));
        assert_eq!(check("https://api.openai.com:8443/v1", &api), Err(Refusal::Port(8443)));
        for url in ["https://169.254.169.254/v1", "https://127.0.0.1/v1", "https://10.0.0.8/v1", "https://[::1]/v1", "https://localhost/v1"]
        {
            assert!(check(url, &api).is_err(), "{url}");
        }
        // The test allowance opens exactly one loopback port, over http or https,
        // and nothing else.
        let test = Policy::provider_api().allow_loopback_for_tests(4555);
        let named = Policy::website().allow_loopback_for_tests(4555).allow_loopback_name_for_tests("Site.Example.");
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(named.check_resolved_ip_of("site.example", lo).is_ok());
        assert!(named.check_resolved_ip_of("other.example", lo).is_err());
        assert!(named.check_resolved_ip_of("site.example", "10.0.0.1".parse().unwrap()).is_err());
        let no_port = Policy::website().allow_loopback_name_for_tests("site.example");
        assert!(no_port.check_resolved_ip_of("site.example", lo).is_err());
        assert!(check("http://127.0.0.1:4555/v1", &test).is_ok());
        assert!(check("https://127.0.0.1:4555/v1", &test).is_ok());
        assert_eq!(check("http://127.0.0.1:4556/v1", &test), Err(Refusal::Scheme("http".into())));
        assert_eq!(check("http://api.openai.com:4555/v1", &test), Err(Refusal::Scheme("http".into())));
        assert!(check("http://169.254.169.254:4555/v1", &test).is_err());
        assert!(check("http://localhost:4555/v1", &test).is_err());
        assert!(check("http://127.0.0.1:4555/v1", &api).is_err());
    }

    #[test]
    fn refusals_read_as_sentences() {
        let r = Refusal::Address { ip: "127.0.0.1".parse().expect("parses"), class: AddressClass::Loopback };
        assert_eq!(r.to_string(), "127.0.0.1 is a loopback address");
    }
}
