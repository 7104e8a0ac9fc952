//! E-mail address verification without touching mailboxes.
//!
//! What we check: syntax (a practical RFC 5321/5322 subset), the domain's
//! mail servers in DNS (MX, RFC 7505 null MX, RFC 5321 §5.1 implicit MX via
//! A/AAAA), disposable and free-provider domains, role accounts.
//!
//! What we never do: SMTP `RCPT TO` probing. It annoys receivers, gets our
//! IPs listed, and is unreliable anyway. As a consequence catch-all domains
//! cannot be detected: nothing learnable from DNS alone says a domain accepts
//! every local part, so no catch-all hint is produced.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Well-formed, the domain receives mail, nothing suspicious.
    Valid,
    /// Deliverable as far as we can tell, but a role account, or a domain
    /// that only receives mail through an implicit MX.
    Risky,
    /// Malformed, the domain does not exist or does not receive mail (null
    /// MX, no MX and no address), or a disposable domain.
    Invalid,
    /// DNS did not answer in time or failed: try again later.
    Unknown,
}

/// Why the verdict is what it is. A result can carry several.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The address is not in the accepted syntax; the text says which rule.
    Syntax(String),
    /// NXDOMAIN for the domain.
    DomainNotFound,
    /// The domain publishes a null MX (RFC 7505): it accepts no mail.
    NullMx,
    /// No MX and no A/AAAA record.
    NoMailServer,
    /// No MX, but an A/AAAA record: mail goes to the domain's address
    /// (RFC 5321 §5.1). Legal, but rare for a business domain that reads mail.
    ImplicitMx,
    /// A throwaway-inbox domain.
    Disposable,
    /// A free mailbox provider (gmail.com, ...): a person, not a company.
    FreeProvider,
    /// A role mailbox (info@, sales@, ...), usually read by many or none.
    RoleAccount,
    /// DNS did not answer within the time limit.
    DnsTimeout,
    /// DNS failed otherwise (SERVFAIL, refused, network).
    DnsError(String),
}

/// The outcome of verifying one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
    /// Lower-cased local part, "@", ASCII (punycode) lower-cased domain; the
    /// input trimmed when the syntax was invalid.
    pub normalised: String,
    /// MX hosts by preference (lowest first), without the trailing dot.
    pub mx_hosts: Vec<String>,
    pub free_provider: bool,
    pub disposable: bool,
    pub role_account: bool,
}

/// A syntactically valid address, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Local part, lower-cased.
    pub local: String,
    /// Domain in ASCII (punycode), lower-cased, no trailing dot.
    pub domain: String,
}

impl Address {
    pub fn normalised(&self) -> String {
        format!("{}@{}", self.local, self.domain)
    }
}

const MAX_ADDRESS: usize = 254;
const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 253;
const MAX_LABEL: usize = 63;

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c)
}

/// Parses an address in the subset we accept: a dot-atom local part (no
/// quoted strings, no comments, ASCII only), an `@`, and a domain name (no
/// address literals) that may be an IDN and is converted to punycode. Length
/// limits: 64 for the local part, 254 for the whole address (RFC 5321
/// §4.5.3.1 with the path's angle brackets removed), 63 per label.
///
/// Local parts are lower-cased: RFC 5321 lets them be case-sensitive, but no
/// mainstream receiver treats them so, and case-folding keeps one contact per
/// mailbox.
pub fn parse_address(input: &str) -> Result<Address, String> {
    let input = input.trim();
    if input.is_empty() {
        return Err("empty address".into());
    }
    let (local, domain) = input.rsplit_once('@').ok_or_else(|| "no @ in the address".to_string())?;
    if local.is_empty() {
        return Err("empty local part".into());
    }
    if local.len() > MAX_LOCAL {
        return Err(format!("local part longer than {MAX_LOCAL} characters"));
    }
    if local.starts_with('"') {
        return Err("quoted local parts are not accepted".into());
    }
    if let Some(c) = local.chars().find(|c| *c != '.' && !is_atext(*c)) {
        return Err(format!("character {c:?} is not allowed in the local part"));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("dots must separate words in the local part".into());
    }
    if domain.is_empty() {
        return Err("empty domain".into());
    }
    if domain.starts_with('[') {
        return Err("address literals are not accepted".into());
    }
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    // WHATWG host parsing does the IDN (UTS #46) mapping to punycode; it also
    // accepts IP addresses in odd forms, which we reject below.
    let ascii = match url::Host::parse(domain) {
        Ok(url::Host::Domain(d)) => d,
        Ok(_) => return Err("the domain is an IP address".into()),
        Err(e) => return Err(format!("invalid domain: {e}")),
    };
    if ascii.len() > MAX_DOMAIN {
        return Err(format!("domain longer than {MAX_DOMAIN} characters"));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err("the domain needs at least two labels".into());
    }
    for label in &labels {
        if label.is_empty() || label.len() > MAX_LABEL {
            return Err(format!("domain label {label:?} is empty or too long"));
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') || label.starts_with('-') || label.ends_with('-') {
            return Err(format!("domain label {label:?} is not a valid host name label"));
        }
    }
    if labels.last().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit())) {
        return Err("the top-level domain is numeric".into());
    }
    let local = local.to_ascii_lowercase();
    if local.len() + 1 + ascii.len() > MAX_ADDRESS {
        return Err(format!("address longer than {MAX_ADDRESS} characters"));
    }
    Ok(Address { local, domain: ascii })
}

// The list and role-account facts are pure, and the send path and lead score
// need them too, so they live in the domain crate; verification reuses them.
pub use tern_domain::address::{is_disposable_domain, is_free_mail_domain, is_role_account};

/// Verifies addresses. Holds one DNS resolver (with its cache); share it.
#[derive(Clone)]
pub struct Verifier {
    resolver: TokioResolver,
    /// Upper bound for all DNS work of one verification.
    timeout: Duration,
}

/// Building a verifier failed (the system resolver configuration could not be
/// read).
#[derive(Debug, thiserror::Error)]
#[error("DNS resolver setup failed: {0}")]
pub struct SetupError(String);

impl Verifier {
    /// A verifier on the system's name servers (`/etc/resolv.conf`).
    /// `timeout` bounds all DNS work of one verification.
    pub fn from_system(timeout: Duration) -> Result<Self, SetupError> {
        Self::system(timeout, true)
    }

    /// A verifier on the given name servers (UDP, with TCP fallback on the
    /// same port). Tests point this at a DNS server they start on loopback.
    pub fn with_name_servers(servers: &[SocketAddr], timeout: Duration) -> Result<Self, SetupError> {
        Self::servers(servers, timeout, true)
    }

    /// Like [`Verifier::from_system`], without a cache: for proofs of control
    /// (a TXT record just published), where a remembered "not there" or an old
    /// value would make "try again" wait for the record's TTL in this process.
    pub fn from_system_uncached(timeout: Duration) -> Result<Self, SetupError> {
        Self::system(timeout, false)
    }

    /// Like [`Verifier::with_name_servers`], without a cache.
    pub fn with_name_servers_uncached(servers: &[SocketAddr], timeout: Duration) -> Result<Self, SetupError> {
        Self::servers(servers, timeout, false)
    }

    fn system(timeout: Duration, cache: bool) -> Result<Self, SetupError> {
        let mut builder = TokioResolver::builder_tokio().map_err(|e| SetupError(e.to_string()))?;
        tune(builder.options_mut(), timeout, cache);
        let resolver = builder.build().map_err(|e| SetupError(e.to_string()))?;
        Ok(Self { resolver, timeout })
    }

    fn servers(servers: &[SocketAddr], timeout: Duration, cache: bool) -> Result<Self, SetupError> {
        let name_servers = servers
            .iter()
            .map(|addr| {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
            })
            .collect();
        let config = ResolverConfig::from_name_servers(name_servers);
        let mut builder = Resolver::builder_with_config(config, TokioRuntimeProvider::default());
        tune(builder.options_mut(), timeout, cache);
        let resolver = builder.build().map_err(|e| SetupError(e.to_string()))?;
        Ok(Self { resolver, timeout })
    }

    /// Verifies one address. Never fails and never hangs: DNS trouble is an
    /// [`Verdict::Unknown`] with a reason, bounded by the verifier's timeout.
    pub async fn verify(&self, input: &str) -> Verification {
        let address = match parse_address(input) {
            Ok(a) => a,
            Err(why) => {
                return Verification {
                    verdict: Verdict::Invalid,
                    reasons: vec![Reason::Syntax(why)],
                    normalised: input.trim().to_string(),
                    mx_hosts: Vec::new(),
                    free_provider: false,
                    disposable: false,
                    role_account: false,
                };
            }
        };
        let mut v = Verification {
            verdict: Verdict::Valid,
            reasons: Vec::new(),
            normalised: address.normalised(),
            mx_hosts: Vec::new(),
            free_provider: is_free_mail_domain(&address.domain),
            disposable: is_disposable_domain(&address.domain),
            role_account: is_role_account(&address.local),
        };
        if v.disposable {
            // No DNS needed: a throwaway inbox is useless whether it works or not.
            v.verdict = Verdict::Invalid;
            v.reasons.push(Reason::Disposable);
            return v;
        }
        if v.free_provider {
            v.reasons.push(Reason::FreeProvider);
        }
        if v.role_account {
            v.reasons.push(Reason::RoleAccount);
        }

        let dns = tokio::time::timeout(self.timeout, self.mail_servers(&address.domain)).await;
        match dns {
            Err(_) => {
                v.verdict = Verdict::Unknown;
                v.reasons.push(Reason::DnsTimeout);
            }
            Ok(MailServers::Mx(hosts)) => {
                v.mx_hosts = hosts;
                if v.role_account {
                    v.verdict = Verdict::Risky;
                }
            }
            Ok(MailServers::Implicit) => {
                v.verdict = Verdict::Risky;
                v.reasons.push(Reason::ImplicitMx);
            }
            Ok(MailServers::NullMx) => {
                v.verdict = Verdict::Invalid;
                v.reasons.push(Reason::NullMx);
            }
            Ok(MailServers::None) => {
                v.verdict = Verdict::Invalid;
                v.reasons.push(Reason::NoMailServer);
            }
            Ok(MailServers::NxDomain) => {
                v.verdict = Verdict::Invalid;
                v.reasons.push(Reason::DomainNotFound);
            }
            Ok(MailServers::Failed(Failure::Timeout)) => {
                v.verdict = Verdict::Unknown;
                v.reasons.push(Reason::DnsTimeout);
            }
            Ok(MailServers::Failed(Failure::Other(why))) => {
                v.verdict = Verdict::Unknown;
                v.reasons.push(Reason::DnsError(why));
            }
        }
        v
    }

    /// The TXT records at `name` (each record's strings joined, as RFC 7208 reads
    /// them), bounded by the verifier's timeout. A name that does not exist or has
    /// no TXT records is an empty list, not an error: for a proof of control the
    /// two mean the same, "not published (yet)".
    pub async fn txt_records(&self, name: &str) -> Result<Vec<String>, DnsLookupError> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match tokio::time::timeout(self.timeout, self.resolver.txt_lookup(fqdn.as_str())).await {
            Err(_) => Err(DnsLookupError::Timeout),
            Ok(Ok(lookup)) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => Some(txt.txt_data.iter().map(|part| String::from_utf8_lossy(part)).collect::<String>()),
                    _ => None,
                })
                .collect()),
            Ok(Err(e)) if e.is_nx_domain() || e.is_no_records_found() => Ok(Vec::new()),
            Ok(Err(e)) => match failure(&e) {
                Failure::Timeout => Err(DnsLookupError::Timeout),
                Failure::Other(why) => Err(DnsLookupError::Failed(why)),
            },
        }
    }

    async fn mail_servers(&self, domain: &str) -> MailServers {
        // Trailing dot: the name is absolute, so no search domains are tried.
        let fqdn = format!("{domain}.");
        match self.resolver.mx_lookup(fqdn.as_str()).await {
            Ok(lookup) => {
                let mut mx: Vec<(u16, String)> = lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::MX(mx) => Some((mx.preference, mx.exchange.to_ascii())),
                        _ => None,
                    })
                    .collect();
                // RFC 7505: a single MX whose exchange is the root.
                if mx.iter().any(|(_, host)| host == ".") {
                    return MailServers::NullMx;
                }
                if mx.is_empty() {
                    return self.implicit_mx(&fqdn).await;
                }
                mx.sort();
                mx.dedup();
                MailServers::Mx(mx.into_iter().map(|(_, h)| h.trim_end_matches('.').to_ascii_lowercase()).collect())
            }
            Err(e) if e.is_nx_domain() => MailServers::NxDomain,
            Err(e) if e.is_no_records_found() => self.implicit_mx(&fqdn).await,
            Err(e) => MailServers::Failed(failure(&e)),
        }
    }

    /// RFC 5321 §5.1: without MX records, the domain's own A/AAAA is the
    /// mail server.
    async fn implicit_mx(&self, fqdn: &str) -> MailServers {
        match self.resolver.lookup_ip(fqdn).await {
            Ok(ips) if ips.iter().next().is_some() => MailServers::Implicit,
            Ok(_) => MailServers::None,
            Err(e) if e.is_nx_domain() => MailServers::NxDomain,
            Err(e) if e.is_no_records_found() => MailServers::None,
            Err(e) => MailServers::Failed(failure(&e)),
        }
    }
}

fn tune(opts: &mut ResolverOpts, timeout: Duration, cache: bool) {
    // Per-query timeout below the overall bound so a retry fits inside it.
    opts.timeout = (timeout / 2).max(Duration::from_millis(50));
    opts.attempts = 1;
    // /etc/hosts has nothing to say about other companies' mail.
    opts.use_hosts_file = ResolveHosts::Never;
    if !cache {
        opts.cache_size = 0;
        opts.positive_max_ttl = Some(Duration::ZERO);
        opts.negative_max_ttl = Some(Duration::ZERO);
    }
}

/// A DNS lookup that did not get an answer (as opposed to an answer saying "none").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsLookupError {
    #[error("DNS did not answer in time")]
    Timeout,
    #[error("DNS lookup failed: {0}")]
    Failed(String),
}

enum Failure {
    Timeout,
    Other(String),
}

fn failure(e: &NetError) -> Failure {
    match e {
        NetError::Timeout => Failure::Timeout,
        other => Failure::Other(other.to_string()),
    }
}

enum MailServers {
    Mx(Vec<String>),
    Implicit,
    NullMx,
    None,
    NxDomain,
    Failed(Failure),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_accepts_practical_addresses() {
        let a = parse_address("  Jane.Doe+tag@Example.COM ").expect("valid");
        assert_eq!(a.normalised(), "jane.doe+tag@example.com");
        let a = parse_address("o'brien@bücher.example").expect("valid IDN");
        assert_eq!(a.domain, "xn--bcher-kva.example");
        assert!(parse_address("a@example.com.").is_ok());
        assert!(parse_address(&format!("{}@example.com", "a".repeat(64))).is_ok());
    }

    #[test]
    fn syntax_rejects_the_rest() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@@example.com",
            "\"quoted\"@example.com",
            ".a@example.com",
            "a.@example.com",
            "a..b@example.com",
            "a b@example.com",
            "a@[127.0.0.1]",
            "a@127.0.0.1",
            "a@localhost",
            "a@-example.com",
            "a@example-.com",
            "a@exa_mple.com",
            "a@example.123",
            "jöhn@example.com",
        ] {
            assert!(parse_address(bad).is_err(), "{bad:?} should be rejected");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(parse_address(&long_local).is_err());
        // Domain of 251 characters (fine on its own), address of 262.
        let long_addr = format!("{}@{}.com", "a".repeat(10), vec!["b".repeat(61); 4].join("."));
        assert!(parse_address(&long_addr).is_err());
    }

    #[test]
    fn lists_and_roles() {
        assert!(is_disposable_domain("mailinator.com"));
        assert!(is_disposable_domain("sub.mailinator.com"));
        assert!(!is_disposable_domain("example.com"));
        assert!(is_free_mail_domain("gmail.com"));
        assert!(!is_free_mail_domain("com"));
        assert!(is_role_account("info"));
        assert!(is_role_account("sales+eu"));
        assert!(!is_role_account("jane"));
    }
}
