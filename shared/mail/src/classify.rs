//! The classifier: headers first, then report structure, then text.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::autoreply::{self, AutoEvidence};
use crate::bounce::{self, Report};
use crate::dates;
use crate::intent;
use crate::parse::ParsedMail;
use crate::text::{contains_any, fold};

pub use tern_domain::reply::Kind;

/// The classifier's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    pub kind: Kind,
    /// Enhanced status code (`5.1.1`) of a bounce or delivery report.
    pub status: Option<String>,
    /// sisimai-style reason name: `userunknown`, `mailboxfull`, ... for
    /// bounces, `delivered`, `feedback`, `vacation` for the other reports.
    pub reason: Option<String>,
    /// When an out-of-office notice says the person is back.
    #[serde(with = "iso_date")]
    pub return_date: Option<Date>,
    /// Human-readable reasons for the verdict, for logs and review.
    pub evidence: Vec<String>,
}

impl Classification {
    fn new(kind: Kind, evidence: Vec<String>) -> Self {
        Classification { kind, status: None, reason: None, return_date: None, evidence }
    }
}

/// Classifies a parsed message. Pure and total: every input gets a kind.
pub fn classify(m: &ParsedMail) -> Classification {
    // 1. Report structure that cannot be mistaken: ARF and read receipts.
    if m.report_type.as_deref() == Some("feedback-report") || m.feedback_report.is_some() {
        let mut ev = vec!["structure: multipart/report; report-type=feedback-report".to_owned()];
        if let Some(t) = m.feedback_report.as_ref().and_then(|f| f.feedback_type.as_deref()) {
            ev.push(format!("feedback-type: {t}"));
        }
        let mut c = Classification::new(Kind::Complaint, ev);
        c.reason = Some("feedback".into());
        return c;
    }
    // Hotmail/Outlook JMRP and similar non-ARF loops: a provider's own
    // complaint notice with the reported message attached.
    let subject = fold(m.subject.as_deref().unwrap_or(""));
    if m.original.is_some()
        && !bounce::is_reply_subject(&subject)
        && contains_any(&subject, &["complaint about message", "abuse report", "spam report"])
    {
        let mut c =
            Classification::new(Kind::Complaint, vec![format!("subject: {subject}"), "structure: reported message attached".into()]);
        c.reason = Some("feedback".into());
        return c;
    }
    if m.report_type.as_deref() == Some("disposition-notification") || m.disposition.is_some() {
        let mut ev = vec!["structure: disposition-notification (read receipt)".to_owned()];
        if let Some(d) = m.disposition.as_deref().filter(|d| !d.is_empty()) {
            ev.push(format!("disposition: {d}"));
        }
        return Classification::new(Kind::AutoReplyOther, ev);
    }

    // 2. Delivery reports: DSN parts, provider notifications, MTA wording.
    if let Some(report) = bounce::detect(m) {
        return match report {
            Report::Delivered { status, evidence } => {
                Classification { kind: Kind::DeliveryReport, status, reason: Some("delivered".into()), return_date: None, evidence }
            }
            Report::Complaint { evidence } => {
                let mut c = Classification::new(Kind::Complaint, evidence);
                c.reason = Some("feedback".into());
                c
            }
            Report::Failed { hard, status, reason, evidence } => Classification {
                kind: if hard { Kind::BounceHard } else { Kind::BounceSoft },
                status,
                reason: Some(reason.into()),
                return_date: None,
                evidence,
            },
        };
    }

    // 3. Automatic replies: headers and subject, then unmistakable wording.
    let text = if m.new_text.trim().is_empty() { &m.body_text } else { &m.new_text };
    let folded = fold(text);
    let auto = AutoEvidence::gather(m);
    let ooo_text = autoreply::ooo_phrase(&folded);
    let automated_text = autoreply::automated_phrase(&folded);

    let is_auto = !auto.evidence.is_empty() || automated_text.is_some();
    if is_auto {
        let mut ev = auto.evidence;
        if let Some(p) = automated_text {
            ev.push(format!("text: \"{p}\""));
        }
        let ooo_subject = autoreply::ooo_subject(m);
        if ooo_text.is_some() || ooo_subject.is_some() {
            if let Some(p) = ooo_text {
                ev.push(format!("text: \"{p}\""));
            }
            if let Some(s) = ooo_subject {
                ev.push(format!("subject: {s}"));
            }
            let reference = m.date.map(|d| d.date());
            let month_first = is_english(&folded);
            let mut c = Classification::new(Kind::AutoReplyOoo, ev);
            c.reason = Some("vacation".into());
            c.return_date = dates::return_date(text, reference, month_first);
            return c;
        }
        return Classification::new(Kind::AutoReplyOther, ev);
    }

    // 4. A person wrote it.
    if let Some(p) = intent::unsubscribe_request(&m.new_text) {
        return Classification::new(Kind::UnsubscribeRequest, vec![p]);
    }
    if let Some(p) = subject_unsubscribe(m) {
        return Classification::new(Kind::UnsubscribeRequest, vec![p]);
    }
    Classification::new(Kind::Human, vec!["no automation evidence".into()])
}

/// A subject of its own (not "Re: <our subject>") that asks to unsubscribe.
fn subject_unsubscribe(m: &ParsedMail) -> Option<String> {
    let subject = m.subject.as_deref()?;
    let folded = fold(subject);
    if bounce::is_reply_subject(&folded) {
        return None;
    }
    intent::unsubscribe_request(subject).map(|p| format!("subject {p}"))
}

/// Whether ambiguous numeric dates should be read month first (US usage).
fn is_english(folded: &str) -> bool {
    contains_any(folded, &[" until ", " back on ", " return on ", " returning on ", " out of ", " i am ", " i'm "])
}

/// `Option<Date>` as `"YYYY-MM-DD"` or null.
mod iso_date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;
    use time::macros::format_description;

    pub fn serialize<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match date {
            Some(d) => s.serialize_str(&format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        let raw: Option<String> = Option::deserialize(d)?;
        raw.map(|r| Date::parse(&r, format_description!("[year]-[month]-[day]")).map_err(serde::de::Error::custom)).transpose()
    }
}
