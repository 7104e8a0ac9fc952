//! Non-delivery reports: recognising them (DSN part, provider JSON, or the
//! wording of MTAs that send plain text) and finding the failure reason.

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
    Delivered {
        status: Option<String>,
        evidence: Vec<String>,
    },
    Failed {
        hard: bool,
        status: Option<String>,
        reason: &'static str,
        evidence: Vec<String>,
    },
    Complaint {
        evidence: Vec<String>,
    },
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
            let smtp = value
                .pointer("/delivery/smtpResponse")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            Some(Report::Delivered {
                status: dsn::first_status_code(smtp),
                evidence: vec!["ses: notificationType Delivery".into()],
            })
        }
        "Complaint" => Some(Report::Complaint {
            evidence: vec!["ses: notificationType Complaint".into()],
        }),
        "Bounce" => {
            let bounce = value.get("bounce")?;
            let btype = bounce
                .get("bounceType")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let sub = bounce
                .get("bounceSubType")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let rcpt = bounce.pointer("/bouncedRecipients/0");
            let diag = rcpt
                .and_then(|r| r.get("diagnosticCode"))
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let status = rcpt
                .and_then(|r| r.get("status"))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .or_else(|| dsn::first_status_code(diag));
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
            let facts = Facts {
                status: status.as_deref(),
                diag: &folded,
                notice: "",
                diag_type: None,
                delayed: false,
            };
            let (reason, hard) = decide(&facts, &mut evidence);
            let reason = by_subtype
                .filter(|_| reason == reason::UNKNOWN_REASON)
                .unwrap_or(reason);
            let hard = hard || reason == "userunknown";
            Some(Report::Failed {
                hard,
                status,
                reason,
                evidence,
            })
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
    let all_ok = recipients.iter().all(|r| {
        matches!(
            action(r).as_str(),
            "delivered" | "relayed" | "expanded" | "deliverable"
        )
    });
    if all_ok && failed.is_none() {
        let status = recipients.first().and_then(|r| r.status.clone());
        return Report::Delivered {
            status,
            evidence: vec![format!(
                "dsn: Action {}",
                recipients.first().map(action).unwrap_or_default()
            )],
        };
    }
    let rcpt = failed.unwrap_or(&recipients[0]);
    let mut evidence = vec![format!(
        "dsn: Action {}, Status {}",
        action(rcpt),
        rcpt.status.as_deref().unwrap_or("-")
    )];
    let diag = rcpt.diagnostic_code.as_deref().unwrap_or("");
    let notice = notice_text(m);
    let mut status = rcpt
        .status
        .clone()
        .filter(|s| dsn::first_status_code(s).is_some());
    // Many MTAs write an undetailed X.0.0 in the Status field and the real
    // code in the diagnostic.
    if status.as_deref().is_none_or(is_undetailed)
        && let Some(better) = dsn::first_status_code(diag).filter(|s| !is_undetailed(s))
    {
        status = Some(better);
    }
    let diag_type = diag
        .split_once(';')
        .map(|(t, _)| t.trim().to_ascii_lowercase());
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
    Report::Failed {
        hard,
        status,
        reason,
        evidence,
    }
}

fn is_undetailed(status: &str) -> bool {
    status.ends_with(".0.0")
}

fn from_text(m: &ParsedMail) -> Option<Report> {
    let from = fold(&format!(
        "{} {}",
        m.from
            .as_ref()
            .and_then(|f| f.name.as_deref())
            .unwrap_or(""),
        m.from
            .as_ref()
            .and_then(|f| f.address.as_deref())
            .unwrap_or("")
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
        && contains_any(
            &folded,
            &[
                "final-recipient:",
                "transcript of session follows",
                "this is the mail system at host",
            ],
        );
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
    let diag_lines = diagnostic_lines(&notice);
    let diag = fold(&diag_lines);
    let status = dsn::first_status_code(&diag_lines)
        .filter(|s| !is_undetailed(s))
        .or_else(|| dsn::first_status_code(&notice).filter(|s| !is_undetailed(s)));
    let facts = Facts {
        status: status.as_deref(),
        diag: &diag,
        notice: &folded,
        diag_type: None,
        delayed: subject.contains("delay") || folded.contains("warning message only"),
    };
    let (reason, hard) = decide(&facts, &mut evidence);
    Some(Report::Failed {
        hard,
        status,
        reason,
        evidence,
    })
}

/// Whether the subject marks a reply or forward written by a person.
pub(crate) fn is_reply_subject(folded_subject: &str) -> bool {
    [
        "re:", "re :", "aw:", "fw:", "fwd:", "wg:", "tr:", "rv:", "sv:", "r:",
    ]
    .iter()
    .any(|p| folded_subject.starts_with(p))
}

/// Lines of a plain-text notice that carry the remote server's words: SMTP
/// replies and `Diagnostic-Code`/`Status`-style fields.
fn diagnostic_lines(notice: &str) -> String {
    let mut out = String::new();
    for line in notice.lines() {
        let l = line.trim();
        let lower = l.to_ascii_lowercase();
        let smtpish = dsn::first_reply_code(l).is_some() || dsn::first_status_code(l).is_some();
        if smtpish
            || lower.starts_with("diagnostic-code")
            || lower.starts_with("remote host said")
            || lower.contains("said:")
            || lower.starts_with("reason:")
        {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

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

static COMMANDS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let all: Vec<&str> = EXPLICIT_COMMANDS
        .iter()
        .chain(TRANSCRIPT_COMMANDS)
        .map(|(p, _)| *p)
        .collect();
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
            last_transcript = Some((
                m.start(),
                TRANSCRIPT_COMMANDS[id - EXPLICIT_COMMANDS.len()].1,
            ));
        }
    }
    explicit
        .map(|id| EXPLICIT_COMMANDS[id].1)
        .or(last_transcript.map(|(_, c)| c))
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
    matches!(
        reason,
        "systemerror"
            | "securityerror"
            | "expired"
            | "networkerror"
            | "hostunknown"
            | "userunknown"
    )
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

    for r in FIRST_PASS {
        let hit = match *r {
            "userunknown" => {
                if by_status == Some("userunknown") {
                    [
                        "blocked",
                        "mailboxfull",
                        "hasmoved",
                        "rejected",
                        "notaccept",
                    ]
                    .iter()
                    .all(|o| says(o).is_none())
                } else {
                    command == Some(Command::Rcpt) && says(r).is_some()
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
        .chain(&[
            "onhold",
            "mailererror",
            "syntaxerror",
            "failedstarttls",
            "suppressed",
            "delivered",
        ])
        .copied()
        .find(|x| *x == r)
        .unwrap_or(reason::UNKNOWN_REASON)
}
