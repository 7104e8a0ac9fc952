//! IP allowlists (CIDR ranges) for workspaces that restrict sign-in and API use.
//!
//! IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, as dual-stack sockets and some
//! proxies report IPv4 clients) are treated as the IPv4 address, both in the
//! list and in the address checked, so `10.0.0.0/8` matches `::ffff:10.1.2.3`.
//!
//! An empty list contains nothing; whether "no list" means "allow all" is the
//! caller's policy (`IpAllowlist::is_empty`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// One CIDR range. Always stored with the host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix_len: u8,
}

/// Why a CIDR entry was rejected. Messages are shown to the admin editing the list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// Not an IP address.
    #[error("{0:?} is not an IPv4 or IPv6 address")]
    BadAddress(String),
    /// Prefix length not a number or too large for the address family.
    #[error("prefix length in {input:?} must be a number from 0 to {max}")]
    BadPrefix {
        /// What was entered.
        input: String,
        /// 32 or 128.
        max: u8,
    },
    /// Bits set after the prefix: probably a typo.
    #[error("{input:?} has host bits set; did you mean {suggestion}?")]
    HostBitsSet {
        /// What was entered.
        input: String,
        /// The network address with host bits cleared.
        suggestion: String,
    },
    /// Entry number `line` (1-based) of a list is invalid.
    #[error("entry {line}: {source}")]
    InList {
        /// 1-based entry number.
        line: usize,
        /// What was wrong.
        #[source]
        source: Box<CidrError>,
    },
}

/// Normalise an IPv4-mapped IPv6 address to IPv4.
pub fn normalise_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl Cidr {
    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// Whether `ip` is inside this range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, normalise_ip(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let m = mask_v4(self.prefix_len);
                u32::from(ip) & m == u32::from(net) & m
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let m = mask_v6(self.prefix_len);
                u128::from(ip) & m == u128::from(net) & m
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// `a.b.c.d/n`, `x:y::z/n`, or a bare address (a single host).
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let shown = || input.chars().take(64).collect::<String>();
        let ip: IpAddr = addr.parse().map_err(|_| CidrError::BadAddress(shown()))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix_len = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max && !p.starts_with('+') => n,
                _ => {
                    return Err(CidrError::BadPrefix { input: shown(), max });
                }
            },
        };
        // `::ffff:10.0.0.0/104` is the IPv4 range 10.0.0.0/8.
        let (ip, prefix_len) = match ip {
            IpAddr::V6(v6) if prefix_len >= 96 && v6.to_ipv4_mapped().is_some() => (normalise_ip(IpAddr::V6(v6)), prefix_len - 96),
            other => (other, prefix_len),
        };
        let network = match ip {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask_v4(prefix_len))),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask_v6(prefix_len))),
        };
        if network != ip {
            return Err(CidrError::HostBitsSet { input: shown(), suggestion: format!("{network}/{prefix_len}") });
        }
        Ok(Cidr { network, prefix_len })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

impl serde::Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A workspace's allowlist.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct IpAllowlist(Vec<Cidr>);

impl IpAllowlist {
    /// Parse entries (each a CIDR or bare address). Blank entries are skipped;
    /// the first bad one is reported with its 1-based position.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<IpAllowlist, CidrError> {
        let mut out = Vec::new();
        for (i, e) in entries.into_iter().enumerate() {
            if e.trim().is_empty() {
                continue;
            }
            let cidr = e.parse().map_err(|err| CidrError::InList { line: i + 1, source: Box::new(err) })?;
            if !out.contains(&cidr) {
                out.push(cidr);
            }
        }
        Ok(IpAllowlist(out))
    }

    /// Whether any range contains `ip`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ranges.
    pub fn ranges(&self) -> &[Cidr] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_ranges() {
        let l = IpAllowlist::parse(["10.0.0.0/8", "192.168.1.7", "0.0.0.0/32"]).unwrap();
        assert!(l.contains(ip("10.255.3.4")));
        assert!(!l.contains(ip("11.0.0.0")));
        assert!(l.contains(ip("192.168.1.7")));
        assert!(!l.contains(ip("192.168.1.8")));
        let any = IpAllowlist::parse(["0.0.0.0/0"]).unwrap();
        assert!(any.contains(ip("203.0.113.9")));
        assert!(!any.contains(ip("2001:db8::1")), "IPv4 /0 does not cover IPv6");
    }

    #[test]
    fn ipv6_ranges() {
        let l = IpAllowlist::parse(["2001:db8::/32", "::1"]).unwrap();
        assert!(l.contains(ip("2001:db8:ffff::1")));
        assert!(!l.contains(ip("2001:db9::1")));
        assert!(l.contains(ip("::1")));
        assert!(IpAllowlist::parse(["::/0"]).unwrap().contains(ip("fe80::1")));
    }

    #[test]
    fn ipv4_mapped_is_normalised_both_ways() {
        let l = IpAllowlist::parse(["10.0.0.0/8"]).unwrap();
        assert!(l.contains(ip("::ffff:10.1.2.3")));
        assert!(!l.contains(ip("::ffff:11.1.2.3")));
        let mapped = IpAllowlist::parse(["::ffff:10.0.0.0/104"]).unwrap();
        assert_eq!(mapped.ranges()[0].to_string(), "10.0.0.0/8");
        assert!(mapped.contains(ip("10.9.9.9")));
        // IPv4-compatible (deprecated ::a.b.c.d) is *not* treated as IPv4.
        assert!(!l.contains(ip("::10.1.2.3")));
    }

    #[test]
    fn clear_errors() {
        assert_eq!("10.0.0/8".parse::<Cidr>().unwrap_err(), CidrError::BadAddress("10.0.0/8".into()));
        assert_eq!("10.0.0.0/33".parse::<Cidr>().unwrap_err(), CidrError::BadPrefix { input: "10.0.0.0/33".into(), max: 32 });
        assert!(matches!("::/129".parse::<Cidr>(), Err(CidrError::BadPrefix { max: 128, .. })));
        assert!(matches!("10.0.0.0/".parse::<Cidr>(), Err(CidrError::BadPrefix { .. })));
        assert!(matches!("10.0.0.0/+8".parse::<Cidr>(), Err(CidrError::BadPrefix { .. })));
        assert!(matches!("10.0.0.0/8/8".parse::<Cidr>(), Err(CidrError::BadPrefix { .. })));
        let e = "10.0.0.1/8".parse::<Cidr>().unwrap_err();
        assert_eq!(e.to_string(), "\"10.0.0.1/8\" has host bits set; did you mean 10.0.0.0/8?");
        let e = IpAllowlist::parse(["10.0.0.0/8", "", "nope"]).unwrap_err();
        assert_eq!(e.to_string(), "entry 3: \"nope\" is not an IPv4 or IPv6 address");
    }

    #[test]
    fn serde_and_dedup() {
        let l = IpAllowlist::parse(["10.0.0.0/8", " 10.0.0.0/8 ", "2001:db8::/32"]).unwrap();
        assert_eq!(l.ranges().len(), 2);
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(json, r#"["10.0.0.0/8","2001:db8::/32"]"#);
        assert_eq!(serde_json::from_str::<IpAllowlist>(&json).unwrap(), l);
        assert!(serde_json::from_str::<IpAllowlist>(r#"["10.0.0.1/8"]"#).is_err());
        assert!(IpAllowlist::default().is_empty());
    }

    proptest! {
        #[test]
        fn v4_membership_matches_arithmetic(net in any::<u32>(), prefix in 0u8..=32, probe in any::<u32>()) {
            let m = mask_v4(prefix);
            let cidr: Cidr = format!("{}/{}", Ipv4Addr::from(net & m), prefix).parse().unwrap();
            prop_assert_eq!(cidr.contains(IpAddr::V4(Ipv4Addr::from(probe))), probe & m == net & m);
            prop_assert!(cidr.contains(IpAddr::V4(Ipv4Addr::from(net))));
        }

        #[test]
        fn parse_never_panics(s in ".{0,60}") {
            let _ = s.parse::<Cidr>();
        }
    }
}
