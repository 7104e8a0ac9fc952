//! Non-delivery reports: recognising them (DSN part, provider JSON, or the
//! wording of MTAs that send plain text) and finding the failure reason.

use std::borrow::Cow;

use crate::dsn::{self, RecipientStatus};
use crate::parse::ParsedMail;
use crate::reason;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::text::{PhraseSet, contains_any, fold};

static DAEMON_SET: LazyLock<PhraseSet> = LazyLock::new(|| PhraseSet::new(DAEMON_SENDERS, false));
static SUBJECT_SET: LazyLock<PhraseSet> = LazyLock::new(|| PhraseSet::new(BOUNCE_SUBJECTS, false));
static BODY_SET: LazyLock<PhraseSet> = LazyLock::new(|| PhraseSet::new(BOUNCE_BODY, false));

/// What a delivery report says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Report {
    Delivered { status: Option<String>, evidence: Vec<String> },
    Failed { hard: bool, status: Option<String>, reason: &'static str, evidence: Vec<String> },
    Complaint { evidence: Vec<String> },
}

/// Local parts and display names of the mailboxes MTAs send reports from.
const DAEMON_SENDERS: &[&str] = &[
    "mailer-daemon",
    "mailer daemon",
    "mailer_daemon",
    "mailerdaemon",
    "mail-daemon",
    "postmaster",
    "post_master",
    "mail delivery",
    "mail deliver",
    "mail.delivery",
    "ndr administrator",
    "mdaemon",
    "mail administrator",
    "internet mail delivery",
];

/// Subject wording of delivery-failure notices (checked on the lowercased
/// subject when it is not itself a reply or forward).
const BOUNCE_SUBJECTS: &[&str] = &[
    "undeliver",
    "undelivered mail",
    "delivery fail",
    "delivery status notification",
    "failure notice",
    "failed delivery",
    "failure delivery",
    "delivery failure",
    "returned mail",
    "returning message to sender",
    "mail delivery failed",
    "could not be delivered",
    "delivery has failed",
    "mail system error",
    "could not send message",
    "could not send mail",
    "non-delivery",
    "nondeliver",
    "non remis",
    "unzustellbar",
    "no entregado",
    "non recapitabile",
    "onbestelbaar",
    "error sending your mail",
    "message delivery has failed",
    "mail failed",
    "mail failure",
    "delivery notification",
    "delayed mail",
    "mail delivery status",
    "loop alert",
    "are not member",
    "メールエラー",
];

/// Wording MTAs put in the text of a notice. A bounce from a daemon sender
/// or with a bounce subject needs one of these to count.
const BOUNCE_BODY: &[&str] = &[
    "could not be delivered",
    "couldn't be delivered",
    "could not deliver",
    "was not delivered",
    "wasn't delivered",
    "not be delivered",
    "undeliverable",
    "undelivered",
    "delivery has failed",
    "delivery failed",
    "delivery to the following",
    "permanent error",
    "permanent fatal error",
    "fatal error",
    "i wasn't able to deliver",
    "not able to deliver",
    "unable to deliver",
    "this is the mail system at host",
    "this is the qmail-send program",
    "message could not",
    "returned mail",
    "failed recipient",
    "following address(es) failed",
    "following addresses had",
    "following recipient",
    "delivery status notification",
    "message delivery failed",
    "did not reach",
    "delivery failure",
    "non-delivery",
    "not delivered",
    "mail delivery failed",
    "smtp error",
    "user unknown",
    "no such user",
    "error occurred",
    "delivery problem",
    "has been delayed",
    "not yet been delivered",
    "still undelivered",
    "warning message only",
    "transcript of session",
    "remote host said",
    "remote server replied",
    "the error that the other server returned",
    "you are not member",
    "are not a member",
    "invalid user address",
    "error: invalid",
    "are not member",
    "duplicated message-id",
    "loop alert",
    "your message to",
    "message was not sent",
    "failed to deliver",
    "error message",
    "recipient address rejected",
    "retry timeout exceeded",
    "returned to sender",
];

const MAX_NOTICE_BYTES: usize = 32 * 1024;

/// Markers after which MTAs append the original message; text below them is
/// our own outreach and must not be read as the failure description.
const ORIGINAL_MARKERS: &[&str] = &[
    "------ this is a copy of the message",
    "------ this is a copy of your message",
    "--- below this line is a copy of the message",
    "--- below this line is the original message",
    "------ original message ------",
    "original message follows",
    "---original message---",
    "----- original message follows -----",
    "message headers follow",
    "the header of the original message is following",
    "------- returned message --------",
    "----- unsent message follows -----",
    "----- the following is a copy of the message",
];

pub(crate) fn detect(m: &ParsedMail) -> Option<Report> {
    if let Some(r) = from_ses_notification(m) {
        return Some(r);
    }
    if let Some(ds) = &m.delivery_status
        && !ds.recipients.is_empty()
    {
        return Some(from_delivery_status(m, &ds.recipients));
    }
    from_text(m)
}

/// Amazon SES notifications forwarded by SNS e-mail: JSON in the body.
fn from_ses_notification(m: &ParsedMail) -> Option<Report> {
    let body = m.body_text.trim_start();
    if !body.starts_with('{') || !body.contains("notificationType") {
        return None;
    }
    let end = body.rfind('}')?;
    // SNS e-mail wraps long lines, which can split a JSON string; joining
    // the continuation lines restores it.
    let value: serde_json::Value = serde_json::from_str(&body[..=end])
        .or_else(|_| serde_json::from_str(&body[..=end].replace("\r\n ", "").replace("\n ", "")))
        .ok()?;
    // Raw SNS delivery wraps the SES notification in an envelope whose
    // "Message" is the notification as a JSON string.
    let value = match value.get("Message").and_then(|v| v.as_str()) {
        Some(inner) => serde_json::from_str(inner).ok()?,
        None => value,
    };
    let kind = value.get("notificationType")?.as_str()?;
    match kind {
        "Delivery" => {
            let smtp = value.pointer("/delivery/smtpResponse").and_then(|v| v.as_str()).unwrap_or("");
            Some(Report::Delivered { status: dsn::first_status_code(smtp), evidence: vec!["ses: notificationType Delivery".into()] })
        }
        "Complaint" => Some(Report::Complaint { evidence: vec!["ses: notificationType Complaint".into()] }),
        "Bounce" => {
            let bounce = value.get("bounce")?;
            let btype = bounce.get("bounceType").and_then(|v| v.as_str()).unwrap_or("");
            let sub = bounce.get("bounceSubType").and_then(|v| v.as_str()).unwrap_or("");
            let rcpt = bounce.pointer("/bouncedRecipients/0");
            let diag = rcpt.and_then(|r| r.get("diagnosticCode")).and_then(|v| v.as_str()).unwrap_or("");
            let status =
                rcpt.and_then(|r| r.get("status")).and_then(|v| v.as_str()).map(str::to_owned).or_else(|| dsn::first_status_code(diag));
            let mut evidence = vec![format!("ses: bounceType {btype}, bounceSubType {sub}")];
            let by_subtype = match sub {
                "NoEmail" => Some("userunknown"),
                "Suppressed" | "OnAccountSuppressionList" => Some("suppressed"),
                "MailboxFull" => Some("mailboxfull"),
                "MessageTooLarge" => Some("mesgtoobig"),
                "ContentRejected" => Some("contenterror"),
                "AttachmentRejected" => Some("securityerror"),
                _ => None,
            };
            let folded = fold(diag);
            let facts = Facts { status: status.as_deref(), diag: &folded, notice: "", diag_type: None, delayed: false };
            let (reason, hard) = decide(&facts, &mut evidence);
            let reason = by_subtype.filter(|_| reason == reason::UNKNOWN_REASON).unwrap_or(reason);
            let hard = hard || reason == "userunknown";
            Some(Report::Failed { hard, status, reason, evidence })
        }
        _ => None,
    }
}

fn from_delivery_status(m: &ParsedMail, recipients: &[RecipientStatus]) -> Report {
    let action = |r: &RecipientStatus| r.action.clone().unwrap_or_default();
    let failed = recipients
        .iter()
        .find(|r| matches!(action(r).as_str(), "failed" | "failure"))
        .or_else(|| recipients.iter().find(|r| action(r) == "delayed"));
    let all_ok = recipients.iter().all(|r| matches!(action(r).as_str(), "delivered" | "relayed" | "expanded" | "deliverable"));
    if all_ok && failed.is_none() {
        let status = recipients.first().and_then(|r| r.status.clone());
        return Report::Delivered { status, evidence: vec![format!("dsn: Action {}", recipients.first().map(action).unwrap_or_default())] };
    }
    let rcpt = failed.unwrap_or(&recipients[0]);
    let mut evidence = vec![format!("dsn: Action {}, Status {}", action(rcpt), rcpt.status.as_deref().unwrap_or("-"))];
    let diag = rcpt.diagnostic_code.as_deref().unwrap_or("");
    let full_notice = notice_text(m);
    let notice = recipient_block(&full_notice, rcpt.final_recipient.as_deref());
    let mut status = rcpt.status.clone().filter(|s| dsn::first_status_code(s).is_some());
    // Many MTAs write an undetailed X.0.0 in the Status field and the real
    // code in the diagnostic.
    if status.as_deref().is_none_or(is_undetailed)
        && let Some(better) = dsn::first_status_code(diag).filter(|s| !is_undetailed(s))
    {
        status = Some(better);
    }
    let diag_type = diag.split_once(';').map(|(t, _)| t.trim().to_ascii_lowercase());
    let diag_text = diag.split_once(';').map_or(diag, |(_, d)| d);
    let folded_diag = fold(diag_text);
    let folded_notice = fold(&notice);
    let facts = Facts {
        status: status.as_deref(),
        diag: &folded_diag,
        notice: &folded_notice,
        diag_type: diag_type.as_deref(),
        delayed: action(rcpt) == "delayed",
    };
    let (reason, hard) = decide(&facts, &mut evidence);
    Report::Failed { hard, status, reason, evidence }
}

fn is_undetailed(status: &str) -> bool {
    status.ends_with(".0.0")
}

fn from_text(m: &ParsedMail) -> Option<Report> {
    let from = fold(&format!(
        "{} {}",
        m.from.as_ref().and_then(|f| f.name.as_deref()).unwrap_or(""),
        m.from.as_ref().and_then(|f| f.address.as_deref()).unwrap_or("")
    ));
    let subject = fold(m.subject.as_deref().unwrap_or(""));
    let notice = notice_text(m);
    let folded = fold(&notice);

    let daemon = DAEMON_SET.first(&from);
    let is_reply = is_reply_subject(&subject);
    let subj = SUBJECT_SET.first(&subject);
    let body = BODY_SET.first(&folded);
    let null_path = m.return_path.as_deref() == Some("");
    let failed_rcpt = m.header("x-failed-recipients").is_some();

    // A forwarded notice still carries the MTA's structure; a reply that
    // merely talks about a bounce does not.
    let forwarded_notice = (subject.starts_with("fwd:") || subject.starts_with("fw:"))
        && contains_any(&folded, &["final-recipient:", "transcript of session follows", "this is the mail system at host"]);
    let recognised = match (daemon, subj, body) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => true,
        (None, Some(_), Some(_)) => !is_reply || null_path || failed_rcpt || forwarded_notice,
        (None, Some(_), None) => null_path && !is_reply,
        (None, None, Some(_)) => null_path || failed_rcpt,
        _ => false,
    };
    if !recognised {
        return None;
    }
    let mut evidence = Vec::new();
    if let Some(d) = daemon {
        evidence.push(format!("sender: {d}"));
    }
    if let Some(s) = subj {
        evidence.push(format!("subject: {s}"));
    }
    if let Some(b) = body {
        evidence.push(format!("text: {b}"));
    }
    // A notice about several recipients is judged by its first one (or the
    // one X-Failed-Recipients names first): another recipient's "mailbox
    // full" must not decide the first one's "user unknown".
    let first_failed = m.header("x-failed-recipients").and_then(|v| v.split(',').next()).map(str::trim);
    let block = recipient_block(&notice, first_failed);
    let diag_lines = diagnostic_lines(&block);
    let diag = fold(&diag_lines);
    let status = dsn::first_status_code(&diag_lines)
        .filter(|s| !is_undetailed(s))
        .or_else(|| dsn::first_status_code(&block).filter(|s| !is_undetailed(s)));
    let folded_block = fold(&block);
    let facts = Facts {
        status: status.as_deref(),
        diag: &diag,
        notice: &folded_block,
        diag_type: None,
        delayed: subject.contains("delay") || folded.contains("warning message only"),
    };
    let (reason, hard) = decide(&facts, &mut evidence);
    Some(Report::Failed { hard, status, reason, evidence })
}

/// Whether the subject marks a reply or forward written by a person.
pub(crate) fn is_reply_subject(folded_subject: &str) -> bool {
    ["re:", "re :", "aw:", "fw:", "fwd:", "wg:", "tr:", "rv:", "sv:", "r:"].iter().any(|p| folded_subject.starts_with(p))
}

/// Lines of a plain-text notice that carry the remote server's words: SMTP
/// replies and `Diagnostic-Code`/`Status`-style fields, each with the lines
/// an MTA wrapped it onto (Exim ends the first line with `:` and puts the
/// text below; Postfix indents the continuation further).
fn diagnostic_lines(notice: &str) -> String {
    const MAX_CONTINUATION: usize = 3;
    let mut out = String::new();
    // Indent of the diagnostic line being continued, whether it ended with
    // a colon, and how many continuation lines it has taken.
    let mut open: Option<(usize, bool, usize)> = None;
    for line in notice.lines() {
        let l = line.trim();
        let indent = line.len() - line.trim_start().len();
        let lower = l.to_ascii_lowercase();
        let smtpish = dsn::first_reply_code(l).is_some() || dsn::first_status_code(l).is_some();
        if smtpish
            || lower.starts_with("diagnostic-code")
            || lower.starts_with("remote host said")
            || lower.contains("said:")
            || lower.starts_with("reason:")
        {
            // A separator, so a phrase cannot run from one diagnostic into
            // the next ("user unknown" + "host mx..." is no "unknown host").
            if !out.is_empty() {
                out.push_str("--\n");
            }
            out.push_str(l);
            out.push('\n');
            open = Some((indent, l.ends_with(':'), 0));
            continue;
        }
        open = match open {
            Some((base, colon, taken))
                if !l.is_empty() && taken < MAX_CONTINUATION && (indent > base || colon && leading_address(l).is_none()) =>
            {
                out.push_str(l);
                out.push('\n');
                Some((base, l.ends_with(':'), taken + 1))
            }
            _ => None,
        };
    }
    out
}

/// The address a line starts with (`<a@b>:`, `"a@b":`, `a@b on <date>`,
/// `a@b: 550 ...`), lowercased: MTAs start each failed recipient's section
/// of a prose notice this way.
fn leading_address(line: &str) -> Option<String> {
    let l = line.trim_start();
    let l = l.strip_prefix('<').or_else(|| l.strip_prefix('"')).unwrap_or(l);
    let end = l.find(|c: char| c.is_whitespace() || matches!(c, '>' | '"' | ':' | '(' | ',' | ';')).unwrap_or(l.len());
    let token = &l[..end];
    // What follows the address: a section start has a colon, a space or
    // nothing there, not the ")" of Postfix's "(expanded from <a@b>)".
    let rest = &l[end..];
    let rest = rest.strip_prefix('>').or_else(|| rest.strip_prefix('"')).unwrap_or(rest);
    if !(rest.is_empty() || rest.starts_with(':') || rest.starts_with(char::is_whitespace)) {
        return None;
    }
    let (local, domain) = token.split_once('@')?;
    let ok = !local.is_empty() && domain.contains('.') && !domain.contains('@') && !token.contains(['<', '[']);
    ok.then(|| token.to_ascii_lowercase())
}

/// The part of a notice about one recipient: the preamble, then from the
/// line that starts with `want` (or the first recipient line) to the line
/// that starts with another address. A notice that does not list several
/// recipients that way is returned whole.
fn recipient_block<'a>(notice: &'a str, want: Option<&str>) -> Cow<'a, str> {
    let want = want.map(|w| w.trim().trim_start_matches("rfc822;").trim().trim_matches(['<', '>']).to_ascii_lowercase());
    let mut starts: Vec<(usize, String)> = Vec::new();
    let mut offset = 0;
    for line in notice.split_inclusive('\n') {
        if let Some(addr) = leading_address(line) {
            starts.push((offset, addr));
        }
        offset += line.len();
    }
    let first = starts.first().map(|(_, a)| a.clone());
    if starts.iter().all(|(_, a)| Some(a) == first.as_ref()) {
        return Cow::Borrowed(notice);
    }
    let chosen = want.as_deref().and_then(|w| starts.iter().position(|(_, a)| a == w)).unwrap_or(0);
    let (begin, addr) = &starts[chosen];
    let end = starts[chosen..].iter().find(|(_, a)| a != addr).map_or(notice.len(), |(at, _)| *at);
    let preamble_end = starts[0].0;
    if chosen == 0 { Cow::Borrowed(&notice[..end]) } else { Cow::Owned(format!("{}{}", &notice[..preamble_end], &notice[*begin..end])) }
}

#[allow(clippy::expect_used, reason = "built from constant phrases: any test that classifies fails at once if they are invalid")]
static MARKERS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostFirst)
        .build(ORIGINAL_MARKERS)
        .expect("markers are valid")
});

/// The notice as the MTA wrote it, without the copy of our message.
pub(crate) fn notice_text(m: &ParsedMail) -> String {
    let text = &m.body_text;
    let cut = MARKERS.find(text).map_or(text.len(), |mk| mk.start());
    // MTAs put what went wrong first; a longer notice is mostly a copy of
    // the message, and matching it would only cost time.
    let mut cut = cut.min(MAX_NOTICE_BYTES);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut notice = text[..cut].to_owned();
    if let Some(rcpts) = m.header("x-failed-recipients") {
        notice.push_str("\nX-Failed-Recipients: ");
        notice.push_str(rcpts);
    }
    notice
}

/// The SMTP command a rejection answered, when the text says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    Helo,
    Mail,
    Rcpt,
    Data,
}

/// Phrases that name the command outright ("in reply to RCPT TO command").
const EXPLICIT_COMMANDS: &[(&str, Command)] = &[
    // Postfix's prefix for a refused envelope sender. First: Postfix reports
    // it "in reply to RCPT TO command" when it delays the rejection, yet the
    // words are about our sender, not the recipient.
    ("sender address rejected", Command::Mail),
    ("in reply to rcpt to command", Command::Rcpt),
    ("in reply to rcpt command", Command::Rcpt),
    ("after rcpt to", Command::Rcpt),
    ("in reply to end of data command", Command::Data),
    ("after end of data", Command::Data),
    ("in reply to data command", Command::Data),
    ("after data", Command::Data),
    ("in reply to mail from command", Command::Mail),
    ("after mail from", Command::Mail),
    ("in reply to ehlo command", Command::Helo),
    ("in reply to helo command", Command::Helo),
    ("after ehlo", Command::Helo),
    ("after helo", Command::Helo),
    ("after initial connection", Command::Helo),
    ("most progress was rcpt to response", Command::Rcpt),
    ("smtp:rcpt", Command::Rcpt),
    ("remote smtp server has rejected address", Command::Rcpt),
    // GMX: "SMTP error from remote server after RCPT command:"
    ("after rcpt command", Command::Rcpt),
    // DragonFly Mail Agent: "... did not like our RCPT TO:"
    ("did not like our rcpt to", Command::Rcpt),
    // qmail-remote: "192.0.2.1 does not like recipient."
    ("does not like recipient", Command::Rcpt),
    // Yahoo appends the failed command in brackets: "... User Unknown [RCPT_TO]".
    ("[rcpt_to]", Command::Rcpt),
    ("did not like our mail from", Command::Mail),
    ("does not like sender", Command::Mail),
    ("after mail command", Command::Mail),
    ("[mail_from]", Command::Mail),
    ("did not like our data", Command::Data),
    ("failed after i sent the message", Command::Data),
];

/// Transcript lines (">>> RCPT To:<x>" then "<<< 550 ..."): the last one
/// names the failing command.
const TRANSCRIPT_COMMANDS: &[(&str, Command)] = &[
    (">>> rcpt to", Command::Rcpt),
    ("rcpt to:<", Command::Rcpt),
    ("rcpt to: <", Command::Rcpt),
    (">>> data", Command::Data),
    (">>> mail from", Command::Mail),
    (">>> ehlo", Command::Helo),
    (">>> helo", Command::Helo),
];

#[allow(clippy::expect_used, reason = "built from constant phrases: any test that classifies fails at once if they are invalid")]
static COMMANDS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let all: Vec<&str> = EXPLICIT_COMMANDS.iter().chain(TRANSCRIPT_COMMANDS).map(|(p, _)| *p).collect();
    AhoCorasick::new(all).expect("command phrases are valid")
});

pub(crate) fn command_of(folded: &str) -> Option<Command> {
    let mut explicit: Option<usize> = None;
    let mut last_transcript: Option<(usize, Command)> = None;
    for m in COMMANDS.find_overlapping_iter(folded) {
        let id = m.pattern().as_usize();
        if id < EXPLICIT_COMMANDS.len() {
            explicit = Some(explicit.map_or(id, |e| e.min(id)));
        } else if last_transcript.is_none_or(|(at, _)| m.start() >= at) {
            last_transcript = Some((m.start(), TRANSCRIPT_COMMANDS[id - EXPLICIT_COMMANDS.len()].1));
        }
    }
    explicit.map(|id| EXPLICIT_COMMANDS[id].1).or(last_transcript.map(|(_, c)| c))
}

/// Reasons probed first, each by status code or by the server's words.
const FIRST_PASS: &[&str] = &[
    "mailboxfull",
    "mesgtoobig",
    "exceedlimit",
    "suspend",
    "hasmoved",
    "norelaying",
    "authfailure",
    "userunknown",
    "filtered",
    "requireptr",
    "notcompliantrfc",
    "badreputation",
    "contenterror",
    "rejected",
    "hostunknown",
    "spamdetected",
    "speeding",
    "toomanyconn",
    "blocked",
];

/// Reasons probed by wording alone when the first pass found nothing.
const SECOND_PASS: &[&str] = &[
    "mailboxfull",
    "authfailure",
    "badreputation",
    "speeding",
    "spamdetected",
    "virusdetected",
    "policyviolation",
    "norelaying",
    "systemerror",
    "networkerror",
    "suspend",
    "contenterror",
    "systemfull",
    "notaccept",
    "expired",
    "securityerror",
    "mailererror",
    "hasmoved",
];

/// Reasons a status code names too vaguely to settle the matter alone.
fn needs_words(reason: &str) -> bool {
    matches!(reason, "systemerror" | "securityerror" | "expired" | "networkerror" | "hostunknown" | "userunknown")
}

/// Picks the reason from the status code and the server's words, and
/// whether it is hard. Mirrors sisimai's order: a first pass where each
/// reason may be named by the status code or the wording, then wording-only
/// probes, then the status code's own meaning.
pub(crate) struct Facts<'a> {
    pub status: Option<&'a str>,
    /// Folded diagnostic (the remote server's words).
    pub diag: &'a str,
    /// Folded notice text, for the command and as a fallback diagnostic.
    pub notice: &'a str,
    /// `x-unix`, `smtp`, ... from `Diagnostic-Code: type; text`.
    pub diag_type: Option<&'a str>,
    pub delayed: bool,
}

fn decide(f: &Facts<'_>, evidence: &mut Vec<String>) -> (&'static str, bool) {
    let reason = pick(f, evidence);
    if let Some(s) = f.status {
        evidence.push(format!("status: {s}"));
    }
    let reply = dsn::first_reply_code(f.diag).or_else(|| dsn::first_reply_code(f.notice));
    (reason, reason::is_hard(reason, f.status, reply))
}

fn pick(f: &Facts<'_>, evidence: &mut Vec<String>) -> &'static str {
    let diag = if f.diag.is_empty() { f.notice } else { f.diag };
    if f.diag_type.is_some_and(|t| t.starts_with("x-unix")) {
        evidence.push("diagnostic type: x-unix".into());
        return "mailererror";
    }
    let by_status = f.status.and_then(reason::from_status);
    let command = command_of(f.notice).or_else(|| command_of(diag));
    let hits = reason::Hits::scan(diag);
    let says = |r: &str| hits.says(r);

    // A rejection of MAIL FROM is about our sender, whatever it says about
    // users or domains not existing.
    let sender_side = command == Some(Command::Mail);
    let mut about_sender = false;
    for r in FIRST_PASS {
        let hit = match *r {
            "userunknown" | "hostunknown" if sender_side => {
                about_sender |= by_status == Some(*r) || says(r).is_some();
                false
            }
            "userunknown" => {
                if by_status == Some("userunknown") {
                    ["blocked", "mailboxfull", "hasmoved", "rejected", "notaccept"].iter().all(|o| says(o).is_none())
                } else {
                    // The server's words name a missing user: that settles
                    // it when they answered RCPT. Without that context a
                    // bare "user unknown" is not enough (Japanese carriers
                    // answer DATA so when a recipient filter refuses the
                    // sender), but vendor wording for a missing recipient
                    // is.
                    if command == Some(Command::Rcpt) {
                        says(r).is_some()
                    } else if let Some(p) = reason::names_missing_recipient(diag) {
                        evidence.push(format!("diagnostic: \"{p}\" (userunknown)"));
                        return "userunknown";
                    } else {
                        false
                    }
                }
            }
            "hostunknown" => {
                if by_status == Some("hostunknown") {
                    says("networkerror").is_none()
                } else {
                    says(r).is_some()
                }
            }
            _ => by_status == Some(*r) || says(r).is_some(),
        };
        if hit {
            if let Some(p) = says(r) {
                evidence.push(format!("diagnostic: \"{p}\" ({r})"));
            }
            return reason_name(r);
        }
    }
    if about_sender {
        evidence.push("command: MAIL FROM (sender rejected)".into());
        return "rejected";
    }
    if let Some(s) = by_status.filter(|s| !needs_words(s)) {
        return reason_name(s);
    }
    for r in SECOND_PASS {
        if let Some(p) = says(r) {
            evidence.push(format!("diagnostic: \"{p}\" ({r})"));
            return reason_name(r);
        }
    }
    if let Some(s) = by_status {
        return reason_name(s);
    }
    if let Some(s) = f.status {
        if s.starts_with("5.6") || s.starts_with("4.6") {
            return "contenterror";
        }
        if s.starts_with("5.7") || s.starts_with("4.7") {
            return "securityerror";
        }
    }
    if f.delayed {
        return "expired";
    }
    if command == Some(Command::Helo) {
        return "blocked";
    }
    reason::UNKNOWN_REASON
}

fn reason_name(r: &str) -> &'static str {
    FIRST_PASS
        .iter()
        .chain(SECOND_PASS)
        .chain(&["onhold", "mailererror", "syntaxerror", "failedstarttls", "suppressed", "delivered"])
        .copied()
        .find(|x| *x == r)
        .unwrap_or(reason::UNKNOWN_REASON)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick_text(diag: &str, notice: &str, status: Option<&str>) -> (&'static str, bool) {
        let diag = fold(diag);
        let notice = fold(notice);
        let facts = Facts { status, diag: &diag, notice: &notice, diag_type: None, delayed: false };
        decide(&facts, &mut Vec::new())
    }

    #[test]
    fn leading_addresses() {
        assert_eq!(leading_address("<a.b@example.org>:").as_deref(), Some("a.b@example.org"));
        assert_eq!(leading_address("  \"A@Example.org\":").as_deref(), Some("a@example.org"));
        assert_eq!(leading_address("a@example.org on Thu, 29 Apr 2010").as_deref(), Some("a@example.org"));
        assert_eq!(leading_address("550 5.1.1 <a@example.org>: no"), None);
        assert_eq!(leading_address("<<< 550 <a@example.org>"), None);
        assert_eq!(leading_address(">>> RCPT To:<a@example.org>"), None);
        assert_eq!(leading_address("    <b@example.org>): delivery"), None);
    }

    #[test]
    fn first_recipient_block_only() {
        let notice = "Sorry.\n\n<a@example.org>:\n550 5.1.1 User unknown\n\n\
                      <b@example.org>:\n552 5.2.2 Mailbox full\n";
        let first = recipient_block(notice, None);
        assert!(first.contains("User unknown") && !first.contains("Mailbox full"));
        assert!(first.starts_with("Sorry."), "keeps the preamble");
        let second = recipient_block(notice, Some("rfc822; B@example.org"));
        assert!(second.contains("Mailbox full") && !second.contains("User unknown"));
        assert!(second.starts_with("Sorry."), "keeps the preamble");
        // One recipient (named twice): the whole notice.
        let one = "<a@example.org>:\n550 no\n<a@example.org>:\nagain\n";
        assert_eq!(recipient_block(one, None), one);
    }

    #[test]
    fn wrapped_diagnostics_keep_their_text() {
        // Exim: the reply starts on a line ending with ':'.
        let exim = "  a@example.org\n    host mx.example.org [192.0.2.1]: 550 <a@example.org>:\n    \
                    User unknown\n  Next paragraph here\n";
        let d = diagnostic_lines(exim);
        assert!(d.contains("User unknown"), "{d}");
        assert!(!d.contains("Next paragraph"), "{d}");
        // Postfix: the continuation is indented further.
        let postfix = "<a@example.org>: host mx.example.org[192.0.2.1] said: 550\n    \
                       <a@example.org>: Recipient address rejected: User unknown (in reply to RCPT\n    \
                       TO command)\n\nFor further assistance\n";
        let d = diagnostic_lines(postfix);
        assert!(d.contains("Recipient address rejected"), "{d}");
        assert!(!d.contains("further assistance"), "{d}");
    }

    #[test]
    fn separate_diagnostics_do_not_run_together() {
        let text = "host a: 550 :\n    User unknown\nhost b: 550 :\n";
        let folded = fold(&diagnostic_lines(text));
        assert!(!folded.contains("unknown host"), "{folded}");
    }

    #[test]
    fn commands_named_by_mta_wording() {
        let c = |t: &str| command_of(&fold(t));
        assert_eq!(c("192.0.2.1 does not like recipient."), Some(Command::Rcpt));
        assert_eq!(c("mx.example.org did not like our RCPT TO: 550 no"), Some(Command::Rcpt));
        assert_eq!(c("550 User Unknown [RCPT_TO]"), Some(Command::Rcpt));
        assert_eq!(c("SMTP error from remote server after RCPT command:"), Some(Command::Rcpt));
        assert_eq!(c("550 5.1.8 <s@x>: Sender address rejected: Domain not found (in reply to RCPT TO command)"), Some(Command::Mail));
    }

    #[test]
    fn sender_side_rejections_are_not_hard() {
        let notice = "SMTP error from remote mail server after MAIL FROM:<s@example.com>:\n\
                      553 5.1.0 <s@example.com>: user does not exist";
        assert_eq!(pick_text("", notice, Some("5.1.0")), ("rejected", false));
        let postfix = "550 5.1.8 <s@example.com>: Sender address rejected: Domain not found \
                       (in reply to RCPT TO command)";
        assert!(!pick_text(postfix, postfix, Some("5.1.8")).1);
    }

    #[test]
    fn bare_unknown_user_needs_rcpt_but_vendor_wording_does_not() {
        // Answer to DATA: a recipient filter, not a missing mailbox.
        let data = ">>> DATA\n<<< 550 Unknown user a@example.jp";
        assert!(!pick_text("550 Unknown user a@example.jp", data, None).1);
        let rcpt = ">>> RCPT To:<a@example.jp>\n<<< 550 Unknown user a@example.jp";
        assert_eq!(pick_text("550 Unknown user a@example.jp", rcpt, None), ("userunknown", true));
        // Exchange 2003 and Domino say it without naming a command.
        let exchange = "a@example.jp on Thu, 29 Apr 2010\n    The recipient name is not recognized";
        assert_eq!(pick_text("", exchange, None), ("userunknown", true));
        let domino = "User A (a@example.jp) not listed in Domino Directory";
        assert_eq!(pick_text("", domino, None), ("userunknown", true));
    }

    #[test]
    fn domains_without_mail_service_are_hard() {
        assert_eq!(pick_text("", "a@example.org: No MX found for domain", None), ("hostunknown", true));
        assert_eq!(pick_text("", "an MX or SRV record indicated no SMTP service", None), ("notaccept", true));
        // A broken DNS answer is not a missing domain.
        let dns = "Name service error for name=example.org type=MX: Malformed or unexpected name server reply";
        assert_eq!(pick_text(dns, dns, Some("5.4.4")), ("networkerror", false));
    }
}
