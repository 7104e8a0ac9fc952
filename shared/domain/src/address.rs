//! Facts about an e-mail address that need no network: is the domain a free
//! mailbox provider or a throwaway inbox, is the local part a role account.
//!
//! These live in the domain crate (not next to the DNS checks in `tern-web`)
//! because more than the verifier needs them: the send path, the lead score
//! and the import preview all ask the same questions and must get the same
//! answers. The lists are compiled in, so asking never touches the file system.
//!
//! Every function expects what the verifier's normalisation produces: ASCII
//! (punycode) lower-case domains and lower-case local parts. Nothing here
//! lower-cases for the caller, so one normalisation rule lives in one place.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::OnceLock;

/// Throwaway-inbox domains, one per line; the file's header names its source.
const DISPOSABLE_DOMAINS_TXT: &str = include_str!("../data/disposable_domains.txt");
/// Free mailbox providers (gmail.com, ...), one per line; the header names its source.
const FREE_MAIL_DOMAINS_TXT: &str = include_str!("../data/free_providers.txt");

/// Role mailboxes: shared, departmental or automated addresses (RFC 2142 and
/// common practice). Mail to them is read by many people or by none, so a
/// personal outreach message to one is a poor bet.
const ROLE_ACCOUNTS: &[&str] = &[
    "abuse",
    "accounting",
    "accounts",
    "admin",
    "administrator",
    "billing",
    "careers",
    "contact",
    "contactus",
    "customerservice",
    "enquiries",
    "enquiry",
    "feedback",
    "finance",
    "hello",
    "help",
    "helpdesk",
    "hostmaster",
    "hr",
    "info",
    "information",
    "inquiries",
    "inquiry",
    "it",
    "jobs",
    "legal",
    "mail",
    "mailer-daemon",
    "marketing",
    "media",
    "news",
    "newsletter",
    "no-reply",
    "noc",
    "noreply",
    "do-not-reply",
    "donotreply",
    "office",
    "orders",
    "postmaster",
    "press",
    "privacy",
    "recruiting",
    "reception",
    "root",
    "sales",
    "security",
    "service",
    "support",
    "team",
    "webmaster",
    "welcome",
    "www",
];

/// What the address alone tells us, before any DNS lookup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AddressFacts {
    /// The domain is a free mailbox provider: a person, not a company.
    pub free_mail: bool,
    /// The local part is a role account (info@, sales@, ...).
    pub role_account: bool,
    /// The domain hands out throwaway inboxes.
    pub disposable: bool,
}

/// The facts for a normalised address (`local@domain`, lower-case, ASCII
/// domain). The address is split at its last `@`, as the verifier parses it.
/// Text without an `@` is not an address and has no facts: all are `false`.
pub fn facts(normalised_email: &str) -> AddressFacts {
    match normalised_email.rsplit_once('@') {
        Some((local_part, domain)) => AddressFacts {
            free_mail: is_free_mail_domain(domain),
            role_account: is_role_account(local_part),
            disposable: is_disposable_domain(domain),
        },
        None => AddressFacts::default(),
    }
}

/// Whether `domain` (ASCII, lower-case) is, or is a subdomain of, a known free
/// mailbox provider.
pub fn is_free_mail_domain(domain: &str) -> bool {
    static FREE_MAIL_DOMAINS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let listed = FREE_MAIL_DOMAINS.get_or_init(|| domain_list(FREE_MAIL_DOMAINS_TXT));
    listed_or_subdomain_of_listed(listed, domain)
}

/// Whether `domain` (ASCII, lower-case) is, or is a subdomain of, a known
/// disposable-inbox domain (`mail.mailinator.com` counts as `mailinator.com`).
pub fn is_disposable_domain(domain: &str) -> bool {
    static DISPOSABLE_DOMAINS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let listed = DISPOSABLE_DOMAINS.get_or_init(|| domain_list(DISPOSABLE_DOMAINS_TXT));
    listed_or_subdomain_of_listed(listed, domain)
}

/// Whether `local_part` (lower-case) is a role account. A `+tag` is ignored,
/// because `sales+eu@` reaches the same shared mailbox as `sales@`.
pub fn is_role_account(local_part: &str) -> bool {
    let mailbox = local_part.split('+').next().unwrap_or(local_part);
    ROLE_ACCOUNTS.contains(&mailbox)
}

/// The domains in a list file: one per line; blank lines and `#` comments are skipped.
fn domain_list(text: &'static str) -> HashSet<&'static str> {
    text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).collect()
}

/// Whether `domain` or one of its parent domains is in `listed`. Parents stop
/// at two labels: a bare top-level domain (`com`) is never looked up, so a
/// list entry can never cover a whole TLD by accident.
fn listed_or_subdomain_of_listed(listed: &HashSet<&'static str>, domain: &str) -> bool {
    let mut candidate = domain;
    loop {
        if listed.contains(candidate) {
            return true;
        }
        match candidate.split_once('.') {
            Some((_, parent)) if parent.contains('.') => candidate = parent,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_are_embedded_and_not_trivially_small() {
        assert!(domain_list(DISPOSABLE_DOMAINS_TXT).len() >= 200);
        assert!(domain_list(FREE_MAIL_DOMAINS_TXT).len() >= 200);
    }

    #[test]
    fn listed_domains_cover_their_subdomains_but_not_their_tld() {
        assert!(is_disposable_domain("mailinator.com"));
        assert!(is_disposable_domain("sub.mailinator.com"));
        assert!(is_disposable_domain("a.b.mailinator.com"));
        assert!(!is_disposable_domain("example.com"));
        assert!(!is_disposable_domain("mailinator.com.example"));
        assert!(is_free_mail_domain("gmail.com"));
        assert!(!is_free_mail_domain("com"));
        assert!(!is_free_mail_domain(""));
        assert!(!is_free_mail_domain("notgmail.com"));
    }

    #[test]
    fn role_accounts_ignore_a_plus_tag() {
        assert!(is_role_account("info"));
        assert!(is_role_account("sales+eu"));
        assert!(is_role_account("no-reply"));
        assert!(!is_role_account("jane"));
        assert!(!is_role_account("jane+info"));
        assert!(!is_role_account(""));
    }

    #[test]
    fn facts_split_the_address_at_its_last_at_sign() {
        assert_eq!(facts("info@gmail.com"), AddressFacts { free_mail: true, role_account: true, disposable: false });
        assert_eq!(facts("jane@sub.mailinator.com"), AddressFacts { free_mail: false, role_account: false, disposable: true });
        assert_eq!(facts("jane.doe@acme.example"), AddressFacts::default());
        assert_eq!(facts("not an address"), AddressFacts::default());
    }
}
