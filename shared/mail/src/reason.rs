//! Bounce reasons (sisimai's names) from status codes and diagnostic text.
//!
//! Hard versus soft follows sisimai's rule: only a recipient address that
//! does not or cannot exist (`userunknown`, `hostunknown`, `hasmoved`, and
//! `notaccept` with a permanent code) is hard; every other failure is soft,
//! permanent policy or spam rejections included.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

/// A phrase: plain substring, or fragments separated by `*` that must
/// appear in that order.
type Phrases = &'static [&'static str];

/// Checked in this order; the first reason with a matching phrase wins. The
/// order puts specific mailbox conditions (full, disabled, moved) before the
/// generic "recipient rejected" wording they are often wrapped in, and
/// address-existence before generic policy words.
const REASONS: &[(&str, Phrases)] = &[
    (
        "mailboxfull",
        &[
            "mailbox full",
            "mailbox is full",
            "mailbox is over quota",
            "mailbox over quota",
            "mailbox has exceeded",
            "mailbox size limit",
            "mailbox quota",
            "over quota",
            "overquota",
            "quota exceeded",
            "quota exceed",
            "exceeded storage allocation",
            "exceeds storage",
            "user is over the quota",
            "user is over quota",
            "is over the allowed quota",
            "account is full",
            "account is over quota",
            "disk quota",
            "mail quota",
            "quota full",
            "not enough storage space",
            "has exceeded his/her disk space",
            "maildir over quota",
            "mailbox exceeds allowed size",
            "the user's mailbox is full",
            "inbox is full",
            "recipient's mailbox is full",
            "too much mail data",
            "insufficient disk space",
            "mailfolder is full",
            "boite du destinataire pleine",
            "postfach voll",
            "out of mailbox space",
            "mailbox size exceeded",
            "quota reached",
            "storage quota",
            "user over quota",
            "exceeded the quota",
        ],
    ),
    (
        "mesgtoobig",
        &[
            "message too big",
            "message is too big",
            "message too large",
            "message is too large",
            "message size exceeds",
            "exceeds size limit",
            "size limit exceeded",
            "message exceeded",
            "message length exceeds",
            "exceeds the maximum size",
            "message file too big",
            "mail too large",
            "exceeds maximum message size",
            "exceeded maximum inbound message size",
            "message size * exceeds",
            "size of the message exceeds",
            "email is too large",
            "message exceeds the local size limit",
            "the message is larger than",
        ],
    ),
    (
        "exceedlimit",
        &[
            "message header size exceeds limit",
            "too many recipients",
            "recipient limit",
            "exceeded the rate limit",
            "header too long",
            "message length exceeds administrative limit",
        ],
    ),
    (
        "suspend",
        &[
            "account disabled",
            "account has been disabled",
            "account is disabled",
            "mailbox disabled",
            "mailbox is disabled",
            "mailbox has been disabled",
            "account suspended",
            "account has been suspended",
            "account is suspended",
            "mailbox suspended",
            "suspended account",
            "is suspended",
            "user suspended",
            "account is inactive",
            "mailbox is inactive",
            "inactive account",
            "inactive user",
            "account deactivated",
            "deactivated mailbox",
            "account has been deactivated",
            "is not active",
            "account expired",
            "account is locked",
            "temporarily disabled",
            "this account has been disabled or discontinued",
            "mailbox currently suspended",
            "recipient suspended",
            "has been frozen",
            "mailbox unavailable (disabled)",
            "addressee is not allowed",
            "account has been temporarily suspended",
        ],
    ),
    (
        "hasmoved",
        &[
            "address has changed",
            "address changed",
            "has moved",
            "user has moved",
            "mailbox has moved",
            "no longer accepts mail",
            "is no longer valid",
            "no longer in use",
            "user not local; please try",
            "not local; please try",
            "551 user not local",
            "moved to another",
            "new address",
            "has been changed to",
        ],
    ),
    (
        "norelaying",
        &[
            "relay access denied",
            "relaying denied",
            "relaying not permitted",
            "relay not permitted",
            "we do not relay",
            "relaying is not allowed",
            "unable to relay",
            "relay denied",
            "not permitted to relay",
            "relay not allowed",
            "relaying mail to * is not allowed",
            "is not allowed to relay",
            "that domain isn't in my list of allowed rcpthosts",
            "no relaying",
            "relay prohibited",
            "you are not allowed to relay",
        ],
    ),
    (
        "authfailure",
        &[
            "spf check failed",
            "spf fail",
            "failed spf",
            "spf validation",
            "dmarc policy",
            "dmarc verification",
            "dkim signature",
            "dkim verification",
            "dkim check failed",
            "sender policy framework",
            "unauthenticated email",
            "does not designate",
            "not designated as permitted sender",
            "authentication failure",
            "dmarc reject",
        ],
    ),
    (
        "userunknown",
        &[
            "user unknown",
            "unknown user",
            "no such user",
            "no such mailbox",
            "no such recipient",
            "no such account",
            "no such address",
            "no such person",
            "no such local user",
            "recipient unknown",
            "unknown recipient",
            "recipient not found",
            "recipient not exist",
            "recipient does not exist",
            "recipient address rejected: user",
            "recipient address rejected: invalid",
            "recipient address rejected: unknown",
            "recipient address rejected: access denied",
            "user does not exist",
            "user doesn't exist",
            "user not exist",
            "user not found",
            "user not known",
            "user not active",
            "unknown mailbox",
            "mailbox not found",
            "mailbox not present",
            "mailbox does not exist",
            "mailbox invalid",
            "mailbox unavailable",
            "mailbox is unavailable",
            "invalid mailbox",
            "mailbox not available",
            "invalid recipient",
            "invalid address",
            "address invalid",
            "address unknown",
            "address does not exist",
            "address not found",
            "address not present in directory",
            "does not exist",
            "doesn't exist",
            "is not a valid mailbox",
            "not a valid recipient",
            "not a valid user",
            "not a known user",
            "is not a known user",
            "no mailbox here by that name",
            "no mailbox by that name",
            "no mailbox found",
            "unknown local part",
            "unknown local-part",
            "unknown address",
            "unknown e-mail address",
            "unknown email address",
            "email account that you tried to reach does not exist",
            "the email account * does not exist",
            "bad destination mailbox",
            "badrcptto",
            "not in my validrcptto",
            "no valid recipients",
            "invalid or unknown virtual user",
            "not our customer",
            "no account by that name",
            "addressee unknown",
            "recipient no longer on server",
            "user account is unavailable",
            "no such person",
            "unknown or illegal alias",
            "not listed in",
            "recipient is not local",
            "is not a local address",
            "not a local address",
            "no one at this address",
            "this user doesn't have a",
            "destination addresses were unknown",
            "user * not found",
            "user * unknown",
            "user * does not exist",
            "mailbox * does not exist",
            "recipient * was not found",
            "rcpt * does not exist",
            "resolver.adr.recipientnotfound",
            "resolver.adr.recipient notfound",
            "recipient name is not recognized",
            "address rejected. (in reply to rcpt to command)",
            "nessun utente simile",
            "utilisateur inconnu",
            "no existe",
            "unbekannt",
            "cannot find the recipient",
            "could not be found",
            "no longer with",
            "is no longer employed",
            "email address could not be found",
            "unknown account",
            "illegal recipient",
            "invalid user",
            "addressee not known",
        ],
    ),
    (
        "filtered",
        &[
            "due to extended inactivity",
            "refused by recipient",
            "not authorized to send to",
            "the recipient has elected not to receive",
            "refuses to accept your mail",
            "blocked by recipient",
            "rejected by recipient",
            "recipient's filter",
            "mail is not accepted by user",
            "the group * only accepts messages from",
            "because of the recipient's settings",
            "only members can post",
            "not allowed to post",
        ],
    ),
    (
        "requireptr",
        &[
            "reverse dns",
            "no ptr record",
            "ptr record",
            "cannot find your hostname",
            "cannot resolve your address",
            "client host rejected: cannot find your",
            "unresolvable address",
            "reverse hostname",
            "no reverse",
        ],
    ),
    (
        "notcompliantrfc",
        &[
            "rfc 5322",
            "rfc5322",
            "rfc 2822",
            "rfc2822",
            "rfc 822",
            "rfc822 specifications",
            "multiple addresses in from",
            "duplicate header",
            "not rfc compliant",
            "message not rfc compliant",
            "malformed header",
        ],
    ),
    ("badreputation", &["poor reputation", "bad reputation", "low reputation", "ip reputation", "sender reputation", "domain reputation"]),
    (
        "contenterror",
        &[
            "message content rejected",
            "content rejected",
            "illegal attachment",
            "improper use of 8-bit data",
            "header error",
            "message header is invalid",
            "attachment rejected",
            "attachment type",
            "content type",
            "bare lf",
        ],
    ),
    (
        "rejected",
        &[
            "sender rejected",
            "sender address rejected",
            "sender verify failed",
            "sender verification failed",
            "domain of sender address",
            "sender domain",
            "sender denied",
            "mail from rejected",
            "envelope sender",
            "invalid sender",
            "sender not allowed",
            "bad sender",
            "sender unknown",
            "unknown sender",
            "return path",
            "you are not a member",
            "are not member",
            "not member",
            "your address is not in",
            "address is blacklisted",
            "sender is blacklisted",
            "sender blocked",
            "from address rejected",
        ],
    ),
    (
        "hostunknown",
        &[
            "host unknown",
            "unknown host",
            "host or domain name not found",
            "no such domain",
            "domain does not exist",
            "domain doesn't exist",
            "domain is not reachable",
            "domain must exist",
            "name or service not known",
            "unknown domain name",
            "mail domain mentioned in email address is unknown",
            "the account or domain may not exist",
            "host unreachable",
            "unrouteable address",
            "unroutable address",
            "553 * does not exist",
            "unrouteable mail domain",
            "nxdomain",
            "domain not found",
            "no such host",
            "domain * couldn't be found",
            "the domain * does not exist",
            "domain name not exist",
            "non-existent domain",
            "nonexistent domain",
            "illegal host/domain",
            // OpenSMTPD, Yahoo: the recipient domain publishes no mail server
            "no mx found for domain",
            "no mx record found for domain",
            // DragonFly Mail Agent: "DNS lookup failure: host x not found"
            "dns lookup failure: host * not found",
        ],
    ),
    (
        "spamdetected",
        &[
            "spam",
            "junk mail",
            "bulk mail",
            "unsolicited",
            "message content was rejected",
            "content filter",
            "considered unsolicited",
            "suspected of being",
            "listed as a suspected",
            "message looks suspicious",
            "detected as junk",
            "rejected by policy",
            "blocked using",
            "uce",
            "identified as junk",
        ],
    ),
    (
        "speeding",
        &[
            "rate limit",
            "too many messages",
            "too many emails",
            "sending too fast",
            "sent too many",
            "rate of mail",
            "throttl",
            "temporarily deferred due to",
            "sending rate",
            "too fast",
        ],
    ),
    ("toomanyconn", &["too many connections", "too many concurrent", "connection limit", "too many simultaneous"]),
    (
        "blocked",
        &[
            "blocked",
            "blacklist",
            "blocklist",
            "block list",
            "black list",
            "denylist",
            "rbl",
            "dnsbl",
            "access denied",
            "client host rejected",
            "connection refused",
            "ip address is",
            "your ip",
            "ip * is listed",
            "listed in",
            "refused to talk",
            "not allowed to send",
            "banned",
            "has been temporarily rate limited",
            "poor reputation",
        ],
    ),
    ("virusdetected", &["virus", "malware", "infected"]),
    ("policyviolation", &["policy", "prohibited", "not accepted due to", "violat"]),
    (
        "systemfull",
        &["system full", "mail system full", "insufficient system storage", "out of disk", "disk full", "queue full", "no space left"],
    ),
    (
        "networkerror",
        &[
            "routing loop",
            "mail loop",
            "loop detected",
            "too many hops",
            "hop count exceeded",
            "loop alert",
            "network error",
            "network is unreachable",
            "dns lookup",
            "lookup failure",
            "temporary lookup failure",
            // Postfix on a broken DNS answer (not a missing domain)
            "malformed or unexpected name server reply",
        ],
    ),
    (
        "expired",
        &[
            "retry timeout exceeded",
            "retry time not reached",
            "delivery time expired",
            "delivery expired",
            "message expired",
            "has expired",
            "could not be delivered for",
            "could not deliver for",
            "cannot send message for",
            "could not send message for",
            "could not send mail for",
            "was not delivered within",
            "queue too long",
            "giving up",
            "gave up",
            "too long in queue",
            "message timed out",
            "timed out",
            "connection timed out",
            "no answer from host",
            "delayed",
            "not yet been delivered",
            "has not yet been delivered",
            "still undelivered",
            "unable to deliver for",
            "retry period",
            "will be retried",
            "will retry",
            "delivery attempts will continue",
            "undeliverable for",
            "deferred",
        ],
    ),
    (
        "notaccept",
        &[
            "does not accept mail",
            "doesn't accept mail",
            "null mx",
            "not accepting mail",
            "accepts no mail",
            "does not accept any mail",
            "not accepting network messages",
            // Exim on a null MX (RFC 7505)
            "mx or srv record indicated no smtp service",
        ],
    ),
    (
        "systemerror",
        &[
            "system error",
            "internal error",
            "server error",
            "temporary failure",
            "local error",
            "configuration error",
            "system config error",
            "mail server temporarily rejected",
            "service unavailable",
            "unavailable",
            "too many errors",
            "local delivery failed",
            "internal server error",
            "out of memory",
            "try again later",
        ],
    ),
    (
        "securityerror",
        &[
            "authentication required",
            "authentication credentials",
            "tls required",
            "encryption required",
            "must issue a starttls",
            "starttls",
        ],
    ),
    ("mailererror", &["mailer error", "unknown mailer error", "command failed", "program exited", "x-unix", "procmail", "pipe to"]),
    ("syntaxerror", &["syntax error", "command unrecognized", "bad sequence of commands", "command not implemented", "line too long"]),
];

/// MTA wording that names a missing recipient whatever SMTP command it
/// answered: each vendor uses it only for an address that does not exist
/// (unlike a bare "unknown user", which some servers also answer to DATA
/// when a recipient's filter refuses the sender).
const NAMES_MISSING_RECIPIENT: Phrases = &[
    // Exchange 2000/2003 (MSEXCH:IMS 000C05A6)
    "recipient name is not recognized",
    // Ipswitch IMail
    "invalid final delivery userid",
    "unknown user:",
    // Lotus Domino / Notes
    "not listed in domino directory",
    "not listed in public name & address book",
    // Exchange Online directory-based edge blocking, also seen via relays
    "recipient address rejected: access denied",
    // Office 365 relaying a remote server's answer
    "unknown recipient or mailbox unavailable",
    // Verizon MMS gateway
    "no valid recipients for this mm",
    "invalid recipient",
];

/// Whether folded text names a missing recipient in words no MTA uses for
/// anything else.
pub(crate) fn names_missing_recipient(folded: &str) -> Option<&'static str> {
    NAMES_MISSING_RECIPIENT.iter().copied().find(|p| phrase_matches(folded, p))
}

/// The reason for a hard/soft decision when nothing better is known.
pub(crate) const UNKNOWN_REASON: &str = "onhold";

/// First reason whose phrase occurs in already-folded `text`.
#[cfg(test)]
fn from_text(folded: &str) -> Option<(&'static str, &'static str)> {
    if folded.is_empty() {
        return None;
    }
    for (reason, phrases) in REASONS {
        for phrase in phrases.iter() {
            if phrase_matches(folded, phrase) {
                return Some((reason, phrase));
            }
        }
    }
    None
}

/// Every reason's phrases in one automaton, so a diagnostic is scanned once
/// however many reasons are probed.
struct AllReasons {
    ac: AhoCorasick,
    /// Automaton pattern → (reason index, phrase index within the reason).
    owner: Vec<(usize, usize)>,
    /// Wildcard phrases, checked one by one: (reason index, phrase index).
    wildcards: Vec<(usize, usize)>,
}

#[allow(clippy::expect_used, reason = "built from constant phrases: any test that classifies fails at once if they are invalid")]
static ALL: LazyLock<AllReasons> = LazyLock::new(|| {
    let mut plain = Vec::new();
    let mut owner = Vec::new();
    let mut wildcards = Vec::new();
    for (ri, (_, phrases)) in REASONS.iter().enumerate() {
        for (pi, p) in phrases.iter().enumerate() {
            if p.contains('*') {
                wildcards.push((ri, pi));
            } else {
                plain.push(*p);
                owner.push((ri, pi));
            }
        }
    }
    AllReasons { ac: AhoCorasick::new(&plain).expect("reason phrases are valid"), owner, wildcards }
});

/// Which reasons' phrases occur in one folded text, and the first phrase
/// (in list order) of each.
pub(crate) struct Hits {
    first: Vec<Option<usize>>,
}

impl Hits {
    pub(crate) fn scan(folded: &str) -> Hits {
        let all = &*ALL;
        let mut first: Vec<Option<usize>> = vec![None; REASONS.len()];
        if folded.is_empty() {
            return Hits { first };
        }
        for m in all.ac.find_overlapping_iter(folded) {
            let (ri, pi) = all.owner[m.pattern().as_usize()];
            if first[ri].is_some_and(|f| f <= pi) {
                continue;
            }
            let phrase = REASONS[ri].1[pi];
            if phrase.len() > 4 || crate::text::bounded(folded, m.start(), m.end()) {
                first[ri] = Some(pi);
            }
        }
        for &(ri, pi) in &all.wildcards {
            if first[ri].is_none_or(|f| f > pi) && phrase_matches(folded, REASONS[ri].1[pi]) {
                first[ri] = Some(pi);
            }
        }
        Hits { first }
    }

    /// The first phrase of `reason`'s list found, if any.
    pub(crate) fn says(&self, reason: &str) -> Option<&'static str> {
        let ri = REASONS.iter().position(|(r, _)| *r == reason)?;
        self.first[ri].map(|pi| REASONS[ri].1[pi])
    }
}

fn phrase_matches(folded: &str, phrase: &str) -> bool {
    if !phrase.contains('*') {
        return if phrase.len() <= 4 { crate::text::has_word(folded, phrase) } else { folded.contains(phrase) };
    }
    let mut rest = folded;
    for fragment in phrase.split('*') {
        let fragment = fragment.trim();
        if fragment.is_empty() {
            continue;
        }
        match rest.find(fragment) {
            Some(pos) => rest = &rest[pos + fragment.len()..],
            None => return false,
        }
    }
    true
}

/// The reason an enhanced status code names on its own (RFC 3463 subjects),
/// or `None` for the undetailed `X.0.0`-style codes.
pub(crate) fn from_status(status: &str) -> Option<&'static str> {
    let mut it = status.split('.');
    let class = it.next()?;
    let subject: u16 = it.next()?.parse().ok()?;
    let detail: u16 = it.next()?.parse().ok()?;
    let permanent = class == "5";
    Some(match (subject, detail) {
        (1, 1) | (1, 3) if permanent => "userunknown",
        (1, 0) if permanent => "userunknown",
        (1, 2) if permanent => "hostunknown",
        (1, 4) => "filtered",
        (1, 6) => "hasmoved",
        (1, 7) | (1, 8) => "rejected",
        (1, 10) => "notaccept",
        (2, 0) | (2, 4) => "filtered",
        (2, 1) => {
            if permanent {
                "filtered"
            } else {
                "blocked"
            }
        }
        (2, 2) => "mailboxfull",
        (2, 3) => "exceedlimit",
        (3, 1) => "systemfull",
        (3, 2) => "notaccept",
        (3, 4) => "mesgtoobig",
        (3, 0) | (3, 3) | (3, 5) if permanent => "systemerror",
        (3, 3) | (3, 5) => "systemerror",
        (4, 1) | (4, 7) => "expired",
        (4, 4) if permanent => "hostunknown",
        (4, 0) if permanent => "networkerror",
        (4, 2) | (4, 4) | (4, 6) | (4, 8) => "networkerror",
        (4, 3) => "systemerror",
        (5, 3) => "toomanyconn",
        (5, 2) | (5, 6) => "syntaxerror",
        (5, 4) | (5, 5) => "systemerror",
        (6, _) => "contenterror",
        (7, 1) | (7, 2) if !permanent => "blocked",
        (7, 13) => "suspend",
        (7, 16) => "mesgtoobig",
        (7, 17) | (7, 18) => "hasmoved",
        (7, 20..=24) | (7, 26) | (7, 29) => "authfailure",
        (7, 25) => "requireptr",
        (7, 27) => "notaccept",
        (7, 28) => "spamdetected",
        (7, 30) => "failedstarttls",
        (7, _) => "securityerror",
        _ => return None,
    })
}

/// sisimai's hard-bounce rule.
pub(crate) fn is_hard(reason: &str, status: Option<&str>, reply_code: Option<u16>) -> bool {
    match reason {
        "userunknown" | "hostunknown" | "hasmoved" => true,
        "notaccept" => match (status, reply_code) {
            (Some(s), _) => s.starts_with('5'),
            (None, Some(c)) => c >= 500,
            (None, None) => true,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::fold as prepare;

    #[test]
    fn specific_mailbox_conditions_beat_generic_rejection() {
        let t = prepare("550 5.2.2 <a@b>: Recipient address rejected: Mailbox is full");
        assert_eq!(from_text(&t).unwrap().0, "mailboxfull");
        let t = prepare("550 5.1.1 <a@b>: Recipient address rejected: User unknown in table");
        assert_eq!(from_text(&t).unwrap().0, "userunknown");
    }

    #[test]
    fn ordered_fragments() {
        assert!(phrase_matches("user kijitora was not found", "user * not found"));
        assert!(!phrase_matches("not found: user", "user * not found"));
    }

    #[test]
    fn short_phrases_need_whole_words() {
        assert!(phrase_matches("listed at rbl.example", "rbl"));
        assert!(!phrase_matches("the verbless sentence", "rbl"));
    }

    #[test]
    fn status_subjects() {
        assert_eq!(from_status("5.1.1"), Some("userunknown"));
        assert_eq!(from_status("4.2.2"), Some("mailboxfull"));
        assert_eq!(from_status("5.7.1"), Some("securityerror"));
        assert_eq!(from_status("5.0.0"), None);
        assert!(is_hard("notaccept", Some("5.1.10"), None));
        assert!(!is_hard("notaccept", Some("4.3.2"), None));
        assert!(!is_hard("mailboxfull", Some("5.2.2"), None));
    }
}
