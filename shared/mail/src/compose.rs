//! Outgoing messages: RFC 5322 / MIME built by hand, refused rather than
//! repaired when an input could change the message's structure.
//!
//! ```
//! use tern_mail::compose::{Address, Outgoing, compose};
//! use tern_domain::message_id::StepMessageId;
//!
//! let message = Outgoing {
//!     from: Address::new(Some("Ann Example"), "ann@sender.example"),
//!     to: Address::new(Some("Jörg Müller"), "jorg@lead.example"),
//!     subject: "Quick question".into(),
//!     text: "Hi Jörg,\nare you the right person?\n".into(),
//!     message_id: StepMessageId::new("0190f1c2-aaaa-7bbb-8ccc-000000000001.0190f1c2-aaaa-7bbb-8ccc-000000000002", 0, "sender.example").to_string(),
//!     date_unix: 1_750_000_000,
//!     ..Outgoing::default()
//! };
//! let raw = compose(&message).expect("valid message");
//! assert!(raw.starts_with(b"Date: "));
//! ```
//!
//! Why by hand: the other end of every line here is a spam filter or a
//! thread view, so each header is written exactly once, in a fixed order, and
//! the output is deterministic (same input, same bytes — a retried send
//! produces the same message). Outside input (a lead's name from a CSV, a
//! subject from a template) can never add a header: control characters in
//! any header value are an error, never stripped.
//!
//! Encodings: header text that is not plain printable ASCII becomes RFC 2047
//! encoded-words (UTF-8, base64), folded so header lines stay within 78
//! characters where a single token allows and always within 998; bodies are
//! UTF-8 quoted-printable with CRLF line endings (so no line exceeds 76);
//! attachments are base64 with RFC 2231 file names.

use data_encoding::BASE64;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

/// Soft line limit of RFC 5322 §2.1.1 (excluding CRLF): header folding aims here.
const SOFT_LINE: usize = 78;
/// Hard line limit of RFC 5322 §2.1.1 (excluding CRLF): never exceeded.
const HARD_LINE: usize = 998;
/// Quoted-printable and base64 lines (RFC 2045 §6.7 and §6.8).
const ENCODED_LINE: usize = 76;
/// Longest attachment file name accepted, in UTF-8 bytes (common file-system limit).
const MAX_FILENAME_BYTES: usize = 255;
/// Longest header field name accepted for `extra_headers`.
const MAX_HEADER_NAME: usize = 64;
/// Longest URL accepted in `List-Unsubscribe` (it must fit on one header line).
const MAX_URL_BYTES: usize = 900;

/// The exact value RFC 8058 requires in `List-Unsubscribe-Post`.
pub const ONE_CLICK_POST: &str = "List-Unsubscribe=One-Click";

/// A mailbox: an optional display name and an ASCII addr-spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    /// Display name, any Unicode without control characters; trimmed, and
    /// dropped when empty.
    pub name: Option<String>,
    /// `local@domain`, ASCII (an internationalised domain goes in as punycode).
    pub email: String,
}

impl Address {
    /// Convenience constructor.
    pub fn new(name: Option<&str>, email: &str) -> Self {
        Self { name: name.map(str::to_owned), email: email.to_owned() }
    }
}

/// One message to send. See the module docs for how each field is encoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outgoing {
    pub from: Address,
    pub to: Address,
    pub reply_to: Option<Address>,
    pub subject: String,
    /// The plain-text body; line endings are sent as CRLF whatever they are here.
    pub text: String,
    /// An HTML alternative; with it the message is `multipart/alternative`.
    pub html: Option<String>,
    /// Without angle brackets, e.g. `0190…-3@mail.tern.dev`.
    pub message_id: String,
    /// Without angle brackets.
    pub in_reply_to: Option<String>,
    /// Without angle brackets, oldest first.
    pub references: Vec<String>,
    /// The `Date` header, written in UTC.
    pub date_unix: i64,
    pub list_unsubscribe: Option<ListUnsubscribe>,
    /// Appended to the text body and (HTML-escaped) to the HTML body.
    pub footer: Option<Footer>,
    pub attachments: Vec<Attachment>,
    /// Further header fields (e.g. `X-Tern-Workspace`, `Feedback-ID`):
    /// printable ASCII values; names that this module writes itself, or that
    /// only a relay may write, are refused.
    pub extra_headers: Vec<(String, String)>,
}

/// `List-Unsubscribe` targets (RFC 2369, one-click per RFC 8058).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListUnsubscribe {
    /// The one-click endpoint: `https://…`, no fragment.
    pub https_url: String,
    /// Optional `mailto:` fallback for clients without one-click support.
    pub mailto: Option<String>,
}

/// Text appended to every body (postal address, unsubscribe line, …).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Footer {
    pub text: String,
}

/// A file attached to the message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attachment {
    /// Shown to the recipient; any Unicode without control characters or
    /// path separators, at most 255 UTF-8 bytes.
    pub filename: String,
    /// `type/subtype`, without parameters (e.g. `application/pdf`).
    pub content_type: String,
    pub content: Vec<u8>,
}

/// Why a message was refused. Values from outside are quoted with `{:?}`, so
/// a refused CR/LF shows as `\r\n`, never as a line break in a log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    #[error("{field} contains a control character (CR, LF, NUL, …); refused to prevent header injection")]
    ControlCharacter { field: String },
    #[error("{field}: invalid e-mail address {value:?}: {reason}")]
    InvalidAddress { field: String, value: String, reason: &'static str },
    #[error("{field}: invalid message id {value:?}: {reason}")]
    InvalidMessageId { field: String, value: String, reason: &'static str },
    #[error("header {name:?}: {reason}")]
    InvalidHeader { name: String, reason: &'static str },
    #[error("List-Unsubscribe: {reason}")]
    InvalidUnsubscribe { reason: &'static str },
    #[error("attachment {index}: {reason}")]
    InvalidAttachment { index: usize, reason: &'static str },
    #[error("date {0} cannot be written as an RFC 5322 date (years 1900 to 9999)")]
    InvalidDate(i64),
    #[error("{field} has a token too long to fit a {HARD_LINE}-octet line")]
    TooLong { field: String },
}

/// Header names this module writes itself or that must come from a relay:
/// an extra header with one of these names would duplicate or contradict ours.
const RESERVED_HEADERS: &[&str] = &[
    "bcc",
    "cc",
    "content-description",
    "content-disposition",
    "content-id",
    "content-transfer-encoding",
    "content-type",
    "date",
    "dkim-signature",
    "from",
    "in-reply-to",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "message-id",
    "mime-version",
    "received",
    "references",
    "reply-to",
    "return-path",
    "sender",
    "subject",
    "to",
];

/// Builds the raw message (CRLF line endings, ready for SMTP `DATA` or SES
/// `SendRawEmail`). Deterministic: the same input gives the same bytes.
pub fn compose(message: &Outgoing) -> Result<Vec<u8>, ComposeError> {
    let mut head = Head::default();

    let date = OffsetDateTime::from_unix_timestamp(message.date_unix)
        .ok()
        .and_then(|d| d.format(&Rfc2822).ok())
        .ok_or(ComposeError::InvalidDate(message.date_unix))?;
    head.tokens("Date", date.split(' ').map(str::to_owned).collect())?;
    head.tokens("From", mailbox_tokens("From", &message.from)?)?;
    head.tokens("To", mailbox_tokens("To", &message.to)?)?;
    if let Some(reply_to) = &message.reply_to {
        head.tokens("Reply-To", mailbox_tokens("Reply-To", reply_to)?)?;
    }
    head.tokens("Subject", unstructured_tokens("Subject", &message.subject)?)?;
    head.tokens("Message-ID", vec![bracketed_id("Message-ID", &message.message_id)?])?;
    if let Some(parent) = &message.in_reply_to {
        head.tokens("In-Reply-To", vec![bracketed_id("In-Reply-To", parent)?])?;
    }
    if !message.references.is_empty() {
        let ids = message.references.iter().map(|id| bracketed_id("References", id)).collect::<Result<Vec<_>, _>>()?;
        head.tokens("References", ids)?;
    }
    if let Some(unsubscribe) = &message.list_unsubscribe {
        head.tokens("List-Unsubscribe", unsubscribe_tokens(unsubscribe)?)?;
        head.tokens("List-Unsubscribe-Post", vec![ONE_CLICK_POST.to_owned()])?;
    }
    for (name, value) in &message.extra_headers {
        check_extra_header_name(name)?;
        head.tokens(name, extra_value_tokens(name, value)?)?;
    }
    head.tokens("MIME-Version", vec!["1.0".to_owned()])?;

    let body = body_entity(message)?;
    let mut out = head.bytes;
    out.extend_from_slice(&body);
    Ok(out)
}

/// `Re: <subject>` for a follow-up in the same thread, without stacking
/// reply prefixes (`Re:`, `RE:`, `AW:`, `Sv:`, `Re[2]:`, …) that the first
/// subject or earlier replies already carry.
pub fn reply_subject(first_subject: &str) -> String {
    let mut rest = first_subject.trim();
    while let Some(stripped) = strip_reply_prefix(rest) {
        rest = stripped.trim_start();
    }
    if rest.is_empty() { "Re:".to_owned() } else { format!("Re: {rest}") }
}

/// Reply prefixes in the languages our customers' leads answer in: English
/// `Re`, German `AW`, Scandinavian `Sv`/`Vs`, Dutch `Antw`, Italian `R`/`Rif`,
/// Portuguese `Res`, Polish `Odp`, Finnish `Vs`, Chinese `回复`/`答复`.
fn strip_reply_prefix(s: &str) -> Option<&str> {
    const PREFIXES: &[&str] = &["re", "aw", "sv", "vs", "antw", "rif", "res", "odp", "r", "回复", "答复"];
    for prefix in PREFIXES {
        let Some(head) = s.get(..prefix.len()) else {
            continue;
        };
        if !head.eq_ignore_ascii_case(prefix) {
            continue;
        }
        let mut after = &s[prefix.len()..];
        // "Re[2]:" / "Re(2):" counters some clients add.
        if let Some(inner) = after.strip_prefix('[').or_else(|| after.strip_prefix('(')) {
            let digits = inner.chars().take_while(char::is_ascii_digit).count();
            let close = inner[digits..].chars().next();
            if digits > 0 && matches!(close, Some(']' | ')')) {
                after = &inner[digits + 1..];
            }
        }
        let after = after.trim_start_matches(' ');
        if let Some(rest) = after.strip_prefix(':').or_else(|| after.strip_prefix('：')) {
            return Some(rest);
        }
    }
    None
}

/// RFC 8058 checks on a raw message (as it will leave us, before DKIM):
/// exactly one `List-Unsubscribe` with exactly one `https:` URI (a `mailto:`
/// is allowed besides, plain `http:` is not), that URI without a fragment and
/// with a host, every URI in angle brackets, and exactly one
/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click`. Returns every problem
/// found, so a failing check explains itself in one go.
///
/// RFC 8058 also wants both fields covered by a DKIM signature; that is the
/// signer's job (SES signs them) and cannot be judged before signing.
pub fn check_one_click(raw: &[u8]) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let fields = header_fields(raw);
    let lists: Vec<&str> = fields.iter().filter(|(n, _)| n.eq_ignore_ascii_case("List-Unsubscribe")).map(|(_, v)| v.as_str()).collect();
    let posts: Vec<&str> =
        fields.iter().filter(|(n, _)| n.eq_ignore_ascii_case("List-Unsubscribe-Post")).map(|(_, v)| v.as_str()).collect();

    match lists.len() {
        0 => problems.push("List-Unsubscribe is missing".to_owned()),
        1 => check_unsubscribe_value(lists[0], &mut problems),
        n => problems.push(format!("List-Unsubscribe appears {n} times; it must appear once")),
    }
    match posts.as_slice() {
        [] => problems.push("List-Unsubscribe-Post is missing".to_owned()),
        [value] => {
            if value.trim() != ONE_CLICK_POST {
                problems.push(format!("List-Unsubscribe-Post is {:?}; it must be exactly {ONE_CLICK_POST:?}", value.trim()));
            }
        }
        more => problems.push(format!("List-Unsubscribe-Post appears {} times; it must appear once", more.len())),
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

fn check_unsubscribe_value(value: &str, problems: &mut Vec<String>) {
    let mut https = 0;
    for item in value.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some(uri) = item.strip_prefix('<').and_then(|i| i.strip_suffix('>')) else {
            problems.push(format!("List-Unsubscribe entry {item:?} is not enclosed in angle brackets"));
            continue;
        };
        let scheme = uri.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("https") => {
                https += 1;
                if uri.contains('#') {
                    problems.push(format!("the https URI {uri:?} has a fragment"));
                }
                if uri.chars().any(char::is_whitespace) {
                    problems.push(format!("the https URI {uri:?} contains whitespace"));
                }
                let host = uri["https:".len()..].strip_prefix("//").map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
                if host.is_none_or(str::is_empty) {
                    problems.push(format!("the https URI {uri:?} has no host"));
                }
            }
            Some("http") => problems.push(format!("the URI {uri:?} is plain http; one-click needs https")),
            Some(_) => {}
            None => problems.push(format!("List-Unsubscribe entry {uri:?} is not a URI")),
        }
    }
    match https {
        0 => problems.push("List-Unsubscribe has no https URI".to_owned()),
        1 => {}
        n => problems.push(format!("List-Unsubscribe has {n} https URIs; it must have exactly one")),
    }
}

/// The header section of `raw`, unfolded, as `(name, value)` in order. Lines
/// that are not fields (no colon) are skipped; the section ends at the first
/// empty line.
fn header_fields(raw: &[u8]) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(line);
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some((_, value)) = fields.last_mut() {
                value.push_str(&text);
            }
            continue;
        }
        if let Some((name, value)) = text.split_once(':') {
            fields.push((name.trim().to_owned(), value.trim_start().to_owned()));
        }
    }
    fields
}

// ---------------------------------------------------------------------------
// Header writing
// ---------------------------------------------------------------------------

/// The header section being built.
#[derive(Default)]
struct Head {
    bytes: Vec<u8>,
}

impl Head {
    /// Writes `name: tokens…`, one space between tokens, folding before a token
    /// that would push the line past 78 characters. A token is never split,
    /// so a line is longer than 78 only when one token is; past 998 is an error.
    fn tokens(&mut self, name: &str, tokens: Vec<String>) -> Result<(), ComposeError> {
        let mut line = format!("{name}:");
        let mut first = true;
        for token in tokens {
            if token.len() + 1 > HARD_LINE {
                return Err(ComposeError::TooLong { field: name.to_owned() });
            }
            if !first && line.len() + 1 + token.len() > SOFT_LINE {
                self.bytes.extend_from_slice(line.as_bytes());
                self.bytes.extend_from_slice(b"\r\n");
                line.clear();
            } else if line.len() + 1 + token.len() > HARD_LINE {
                // Only the first token can get here: the field name is long.
                self.bytes.extend_from_slice(line.as_bytes());
                self.bytes.extend_from_slice(b"\r\n");
                line.clear();
            }
            line.push(' ');
            line.push_str(&token);
            first = false;
        }
        self.bytes.extend_from_slice(line.as_bytes());
        self.bytes.extend_from_slice(b"\r\n");
        Ok(())
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

fn refuse_controls(field: &str, value: &str) -> Result<(), ComposeError> {
    if has_control(value) { Err(ComposeError::ControlCharacter { field: field.to_owned() }) } else { Ok(()) }
}

/// RFC 5322 `atext`.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// RFC 5322 `dot-atom-text`: atoms joined by single dots.
fn is_dot_atom(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(|a| !a.is_empty() && a.chars().all(is_atext))
}

/// RFC 2047 encoded-words (UTF-8, base64) for `text`, split at character
/// boundaries so every word is at most 75 characters. An empty text gives no
/// words.
fn encoded_words(text: &str) -> Vec<String> {
    // "=?UTF-8?B?" + base64 + "?=" ≤ 75 leaves 63 base64 characters: 45 bytes.
    // 39 bytes (52 characters, 64 per word) keeps "Subject: " + word within 78.
    const CHUNK: usize = 39;
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        let next = i + c.len_utf8();
        if next - start > CHUNK {
            words.push(format!("=?UTF-8?B?{}?=", BASE64.encode(&text.as_bytes()[start..end])));
            start = end;
        }
        end = next;
    }
    if end > start {
        words.push(format!("=?UTF-8?B?{}?=", BASE64.encode(&text.as_bytes()[start..end])));
    }
    words
}

/// Unstructured text (`Subject`): plain words when that round-trips exactly,
/// encoded-words otherwise (non-ASCII, `=?` that a reader would decode, runs
/// of spaces or edge spaces that unfolding may collapse, or a word too long
/// to fold).
fn unstructured_tokens(field: &str, value: &str) -> Result<Vec<String>, ComposeError> {
    refuse_controls(field, value)?;
    let plain = value.is_ascii()
        && !value.contains("=?")
        && !value.contains("  ")
        && value.trim() == value
        && value.split(' ').all(|w| w.len() + field.len() + 2 <= SOFT_LINE);
    if plain { Ok(value.split(' ').map(str::to_owned).collect()) } else { Ok(encoded_words(value)) }
}

/// `name <local@domain>` or a bare `local@domain` as header tokens.
fn mailbox_tokens(field: &str, address: &Address) -> Result<Vec<String>, ComposeError> {
    let email = checked_email(field, &address.email)?;
    let name = address.name.as_deref().unwrap_or("");
    refuse_controls(&format!("{field} display name"), name)?;
    let name = name.trim();
    if name.is_empty() {
        return Ok(vec![email.to_owned()]);
    }
    let bracketed = format!("<{email}>");
    let mut tokens = display_name_tokens(name);
    tokens.push(bracketed);
    Ok(tokens)
}

/// A display name as a phrase: atoms when it is plain, a quoted-string when
/// it has specials but fits on a line, encoded-words otherwise.
fn display_name_tokens(name: &str) -> Vec<String> {
    let ascii_printable = name.chars().all(|c| c == ' ' || c.is_ascii_graphic());
    let collapsible = name.contains("  ") || name.contains("=?");
    if ascii_printable && !collapsible {
        if name.split(' ').all(|w| w.chars().all(is_atext)) && name.len() < SOFT_LINE - 10 {
            return name.split(' ').map(str::to_owned).collect();
        }
        if name.len() < SOFT_LINE - 12 {
            let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
            return vec![format!("\"{escaped}\"")];
        }
    }
    encoded_words(name)
}

/// Validates an ASCII addr-spec: dot-atom local part (≤ 64) and a host name
/// of LDH labels (≤ 253). Quoted local parts, domain literals and raw
/// non-ASCII are refused: our senders and leads never need them, and each is a
/// classic way to smuggle syntax past a later parser.
fn checked_email<'a>(field: &str, email: &'a str) -> Result<&'a str, ComposeError> {
    let invalid = |reason| ComposeError::InvalidAddress { field: field.to_owned(), value: email.to_owned(), reason };
    if has_control(email) {
        return Err(ComposeError::ControlCharacter { field: field.to_owned() });
    }
    if !email.is_ascii() {
        return Err(invalid("non-ASCII addresses are not supported (use punycode)"));
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(invalid("no @"));
    };
    if local.is_empty() || local.len() > 64 || !is_dot_atom(local) {
        return Err(invalid("the local part is not a dot-atom of at most 64 characters"));
    }
    if !is_host_name(domain) {
        return Err(invalid("the domain is not a host name"));
    }
    Ok(email)
}

/// LDH host name with at least two labels (no single-label or bare-TLD mail).
fn is_host_name(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// `<id-left@id-right>`, both sides dot-atom-text (RFC 5322 §3.6.4).
fn bracketed_id(field: &str, id: &str) -> Result<String, ComposeError> {
    let invalid = |reason| ComposeError::InvalidMessageId { field: field.to_owned(), value: id.to_owned(), reason };
    refuse_controls(field, id)?;
    if id.starts_with('<') || id.ends_with('>') {
        return Err(invalid("give the id without angle brackets"));
    }
    let Some((left, right)) = id.split_once('@') else {
        return Err(invalid("no @"));
    };
    if !is_dot_atom(left) || !is_dot_atom(right) {
        return Err(invalid("both sides of @ must be dot-atoms"));
    }
    if id.len() > 900 {
        return Err(invalid("longer than 900 characters"));
    }
    Ok(format!("<{id}>"))
}

fn unsubscribe_tokens(unsubscribe: &ListUnsubscribe) -> Result<Vec<String>, ComposeError> {
    let invalid = |reason| ComposeError::InvalidUnsubscribe { reason };
    let url = &unsubscribe.https_url;
    refuse_controls("List-Unsubscribe", url)?;
    let Some(rest) = url.get(..8).filter(|s| s.eq_ignore_ascii_case("https://")).map(|_| &url[8..]) else {
        return Err(invalid("the one-click URL must start with https://"));
    };
    if rest.split(['/', '?', '#']).next().is_none_or(str::is_empty) {
        return Err(invalid("the one-click URL has no host"));
    }
    if url.contains('#') {
        return Err(invalid("the one-click URL must not have a fragment"));
    }
    check_uri_chars(url)?;
    let mut tokens = vec![format!("<{url}>")];
    if let Some(mailto) = &unsubscribe.mailto {
        refuse_controls("List-Unsubscribe", mailto)?;
        if !mailto.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("mailto:")) || mailto.len() == 7 {
            return Err(invalid("the fallback must be a mailto: URI"));
        }
        check_uri_chars(mailto)?;
        tokens[0].push(',');
        tokens.push(format!("<{mailto}>"));
    }
    Ok(tokens)
}

/// A URI inside `<…>`: printable ASCII without spaces, brackets or commas
/// (a comma would split the RFC 2369 list), short enough for one line.
fn check_uri_chars(uri: &str) -> Result<(), ComposeError> {
    let invalid = |reason| ComposeError::InvalidUnsubscribe { reason };
    if uri.len() > MAX_URL_BYTES {
        return Err(invalid("URI longer than 900 characters"));
    }
    if !uri.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | ',' | '"')) {
        return Err(invalid("URIs must be printable ASCII without spaces, <, >, \" or , (percent-encode them)"));
    }
    Ok(())
}

fn check_extra_header_name(name: &str) -> Result<(), ComposeError> {
    let invalid = |reason| ComposeError::InvalidHeader { name: name.to_owned(), reason };
    if name.is_empty() || name.len() > MAX_HEADER_NAME {
        return Err(invalid("a header name has 1 to 64 characters"));
    }
    // RFC 5322 ftext: printable ASCII except ':'.
    if !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
        return Err(invalid("a header name is printable ASCII without ':' or spaces"));
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("content-") {
        return Err(invalid("this header is written by compose itself or by a relay"));
    }
    Ok(())
}

/// Extra header values are structured values of ours (ids, `a:b:c`
/// feedback ids), not prose: printable ASCII, folded at spaces.
fn extra_value_tokens(name: &str, value: &str) -> Result<Vec<String>, ComposeError> {
    refuse_controls(name, value)?;
    if !value.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
        return Err(ComposeError::InvalidHeader { name: name.to_owned(), reason: "extra header values must be printable ASCII" });
    }
    let value = value.trim();
    if value.contains("  ") {
        return Err(ComposeError::InvalidHeader { name: name.to_owned(), reason: "runs of spaces would not survive folding" });
    }
    Ok(value.split(' ').map(str::to_owned).collect())
}

// ---------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------

/// Boundaries start with "=_": that sequence cannot occur in quoted-printable
/// ('=' is always followed by hex or a line break) nor in base64, so no body
/// line can be mistaken for a boundary, whatever the content.
const ALT_BOUNDARY: &str = "=_tern_alt_0";
const MIXED_BOUNDARY: &str = "=_tern_mixed_0";

/// The MIME entity after the top-level headers: its Content-* headers, the
/// blank line and the body.
fn body_entity(message: &Outgoing) -> Result<Vec<u8>, ComposeError> {
    let mut text = message.text.clone();
    let mut html = message.html.clone();
    if let Some(footer) = &message.footer {
        text = append_text_footer(&text, &footer.text);
        html = html.map(|h| append_html_footer(&h, &footer.text));
    }

    let text_part = qp_entity("text/plain; charset=utf-8", &text);
    let content = match &html {
        Some(html) => {
            let html_part = qp_entity("text/html; charset=utf-8", html);
            multipart("alternative", ALT_BOUNDARY, &[text_part, html_part])
        }
        None => text_part,
    };
    if message.attachments.is_empty() {
        return Ok(content);
    }
    let mut parts = vec![content];
    for (index, attachment) in message.attachments.iter().enumerate() {
        parts.push(attachment_entity(index, attachment)?);
    }
    Ok(multipart("mixed", MIXED_BOUNDARY, &parts))
}

fn append_text_footer(text: &str, footer: &str) -> String {
    let mut out = text.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push('\n');
    out.push_str(footer);
    out
}

/// Inserts the footer before `</body>` when there is one, else at the end;
/// the footer is text, so it is escaped and its line breaks become `<br>`.
fn append_html_footer(html: &str, footer: &str) -> String {
    let mut block = String::from("<p class=\"tern-footer\">");
    for (i, line) in footer.lines().enumerate() {
        if i > 0 {
            block.push_str("<br>\n");
        }
        block.push_str(&escape_html(line));
    }
    block.push_str("</p>\n");
    let lower = html.to_ascii_lowercase();
    match lower.rfind("</body>") {
        Some(at) => format!("{}{block}{}", &html[..at], &html[at..]),
        None => format!("{html}\n{block}"),
    }
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn qp_entity(content_type: &str, text: &str) -> Vec<u8> {
    let mut out = format!("Content-Type: {content_type}\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n").into_bytes();
    out.extend_from_slice(&quoted_printable(text));
    out
}

/// `parts` (each an entity: headers, blank line, body ending in CRLF) in a
/// multipart of `subtype`.
fn multipart(subtype: &str, boundary: &str, parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("Content-Type: multipart/{subtype};\r\n boundary=\"{boundary}\"\r\n\r\n").into_bytes();
    for part in parts {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        out.extend_from_slice(part);
        // Every part ends with CRLF; the delimiter's own CRLF comes first.
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

/// Quoted-printable (RFC 2045 §6.7) of UTF-8 text with CRLF line endings.
/// Lines stay within 76 characters; a line-initial `.` and `From ` are
/// encoded so no relay's dot-stuffing or mbox quoting can alter the text.
/// The output always ends in CRLF: a text that does not end with a line
/// break ends with a soft break, so it decodes to exactly the input.
fn quoted_printable(text: &str) -> Vec<u8> {
    let normalised = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = Vec::with_capacity(normalised.len() + normalised.len() / 8);
    let lines: Vec<&str> = normalised.split('\n').collect();
    let last = lines.len() - 1;
    for (n, line) in lines.iter().enumerate() {
        let bytes = line.as_bytes();
        let mut width = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let at_start = width == 0;
            let literal = match b {
                b'=' => false,
                b' ' | b'\t' => i + 1 < bytes.len(),
                b'.' => !at_start,
                b'F' => !(at_start && bytes[i..].starts_with(b"From ")),
                33..=126 => true,
                _ => false,
            };
            let piece_len = if literal { 1 } else { 3 };
            // Room for the piece and a soft break '=' within 76.
            if width + piece_len > ENCODED_LINE - 1 {
                out.extend_from_slice(b"=\r\n");
                width = 0;
                // The byte now starts a line: re-judge '.' and "From ".
                if matches!(b, b'.') || (b == b'F' && bytes[i..].starts_with(b"From ")) {
                    write_hex(&mut out, b);
                    width += 3;
                    continue;
                }
            }
            if literal {
                out.push(b);
            } else {
                write_hex(&mut out, b);
            }
            width += piece_len;
        }
        if n < last {
            out.extend_from_slice(b"\r\n");
        } else if !line.is_empty() {
            out.extend_from_slice(b"=\r\n");
        }
    }
    if out.is_empty() {
        // An empty body still ends its entity with a line.
        out.extend_from_slice(b"=\r\n");
    }
    out
}

fn write_hex(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]]);
}

fn attachment_entity(index: usize, attachment: &Attachment) -> Result<Vec<u8>, ComposeError> {
    let invalid = |reason| ComposeError::InvalidAttachment { index, reason };
    let media = attachment.content_type.trim().to_ascii_lowercase();
    let (kind, sub) = media.split_once('/').ok_or_else(|| invalid("content type must be type/subtype"))?;
    let is_token = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c));
    if !is_token(kind) || !is_token(sub) {
        return Err(invalid("content type must be type/subtype of token characters, without parameters"));
    }
    // RFC 2046 §5.2.1 and §5.1: these may not be base64-encoded.
    if kind == "multipart" || kind == "message" {
        return Err(invalid("multipart/* and message/* cannot be attached as base64"));
    }
    let filename = &attachment.filename;
    if has_control(filename) {
        return Err(ComposeError::ControlCharacter { field: format!("attachment {index} filename") });
    }
    if filename.trim().is_empty() || filename.len() > MAX_FILENAME_BYTES {
        return Err(invalid("file name must have 1 to 255 bytes"));
    }
    if filename.contains(['/', '\\']) {
        return Err(invalid("file name must not contain path separators"));
    }

    let mut head = Head::default();
    let plain = filename.chars().all(|c| c == ' ' || (c.is_ascii_graphic() && c != '"' && c != '\\'))
        && !filename.contains("=?")
        && filename.len() + 20 < SOFT_LINE;
    if plain {
        head.tokens("Content-Type", vec![format!("{media};"), format!("name=\"{filename}\"")])?;
        head.tokens("Content-Disposition", vec!["attachment;".into(), format!("filename=\"{filename}\"")])?;
    } else {
        // RFC 2047 in `name` for older clients, RFC 2231 in `filename*` (with
        // continuations) for everyone else.
        let words = encoded_words(filename);
        let mut tokens = vec![format!("{media};")];
        let count = words.len();
        for (i, word) in words.into_iter().enumerate() {
            let open = if i == 0 { "name=\"" } else { "" };
            let close = if i + 1 == count { "\"" } else { "" };
            tokens.push(format!("{open}{word}{close}"));
        }
        head.tokens("Content-Type", tokens)?;
        head.tokens("Content-Disposition", rfc2231_filename(filename))?;
    }
    head.tokens("Content-Transfer-Encoding", vec!["base64".into()])?;
    let mut out = head.bytes;
    out.extend_from_slice(b"\r\n");
    let encoded = BASE64.encode(&attachment.content);
    for chunk in encoded.as_bytes().chunks(ENCODED_LINE) {
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    Ok(out)
}

/// `attachment; filename*0*=utf-8''…; filename*1*=…` (RFC 2231 §3 and §4):
/// percent-encoded UTF-8 in segments that keep each line short. Segments end
/// at character boundaries: RFC 2231 decodes the joined segments, but some
/// readers (mail-parser among them) decode each segment on its own.
fn rfc2231_filename(filename: &str) -> Vec<String> {
    const SEGMENT: usize = 60;
    let mut segments = vec![String::new()];
    for c in filename.chars() {
        let mut piece = String::new();
        let mut utf8 = [0u8; 4];
        for &b in c.encode_utf8(&mut utf8).as_bytes() {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                piece.push(char::from(b));
            } else {
                piece.push_str(&format!("%{b:02X}"));
            }
        }
        let Some(current) = segments.last_mut() else {
            continue;
        };
        if current.len() + piece.len() > SEGMENT {
            segments.push(piece);
        } else {
            current.push_str(&piece);
        }
    }
    let count = segments.len();
    let mut tokens = vec!["attachment;".to_owned()];
    if count == 1 {
        tokens.push(format!("filename*=utf-8''{}", segments[0]));
        return tokens;
    }
    for (i, segment) in segments.into_iter().enumerate() {
        let charset = if i == 0 { "utf-8''" } else { "" };
        let separator = if i + 1 < count { ";" } else { "" };
        tokens.push(format!("filename*{i}*={charset}{segment}{separator}"));
    }
    tokens
}
