//! Inbound e-mail as Tern keeps it: metadata only.
//!
//! The raw message lives in the bucket only until it is classified; what stays is
//! the envelope, a few headers for threading, a short snippet of the new text and
//! the verdict. Retention follows the workspace policy (60 days by default).

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

pub const DEFAULT_INBOUND_RETENTION: Duration = Duration::days(60);

/// The transport facts the receiving provider reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transport {
    pub envelope_from: Option<String>,
    pub envelope_to: String,
    pub remote_ip: Option<String>,
    pub helo_domain: Option<String>,
    pub spf: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboundStatus {
    /// Stored and queued for classification.
    Received,
    Classified,
    /// The message could not be parsed as e-mail; kept for a person to look at.
    Unparseable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMessage {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    pub transport: Transport,
    pub status: InboundStatus,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    #[serde(default)]
    pub in_reply_to: Vec<String>,
    #[serde(default)]
    pub references: Vec<String>,
    pub snippet: Option<String>,
    /// The classifier's kind (`human`, `bounce_hard`, ...).
    pub kind: Option<String>,
    /// Enhanced status code of a bounce or report.
    pub status_code: Option<String>,
    pub reason: Option<String>,
    /// ISO date an out-of-office notice gives for the person's return.
    pub return_date: Option<String>,
    /// The enrollment this message answers, when it could be linked.
    #[serde(default)]
    pub enrollment_id: Option<String>,
    /// What the message did to it (`stopped: replied`, `paused until …`), in words.
    #[serde(default)]
    pub effect: Option<String>,
    /// The optional language model's reading of a human reply; it never changes
    /// `kind` or `effect`.
    #[serde(default)]
    pub intent: Option<crate::intent::ReplyIntent>,
    #[serde(default)]
    pub intent_confidence: Option<crate::intent::Confidence>,
    #[serde(default)]
    pub intent_reason: Option<String>,
    /// Why a reply the model was asked about has no intent (provider down, unusable answer).
    #[serde(default)]
    pub intent_error: Option<String>,
    /// The prompt version the model was asked with, and its answer word for word.
    #[serde(default)]
    pub intent_prompt_version: Option<String>,
    #[serde(default)]
    pub intent_raw_output: Option<String>,
}

impl InboundMessage {
    pub fn received(id: String, received_at: OffsetDateTime, transport: Transport) -> Self {
        Self {
            id,
            received_at,
            transport,
            status: InboundStatus::Received,
            from: None,
            subject: None,
            message_id: None,
            in_reply_to: Vec::new(),
            references: Vec::new(),
            snippet: None,
            kind: None,
            status_code: None,
            reason: None,
            return_date: None,
            enrollment_id: None,
            effect: None,
            intent: None,
            intent_confidence: None,
            intent_reason: None,
            intent_error: None,
            intent_prompt_version: None,
            intent_raw_output: None,
        }
    }

    pub fn expires_at(&self, retention: Duration) -> OffsetDateTime {
        self.received_at + retention
    }
}

/// Where a reply addressed to `local+<tag>@domain` belongs: the workspace id is the
/// tag's first dot-separated part (a reply token may follow it).
pub fn workspace_tag(recipient: &str) -> Option<&str> {
    let local = recipient.trim().trim_start_matches('<').rsplit_once('@')?.0;
    let tag = local.split_once('+')?.1;
    Some(tag.split('.').next().unwrap_or(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_workspace_tag_in_a_recipient() {
        assert_eq!(workspace_tag("reply+abc@in.tern.dev"), Some("abc"));
        assert_eq!(workspace_tag("<reply+abc.tok123@in.tern.dev>"), Some("abc"));
        assert_eq!(workspace_tag("reply@in.tern.dev"), None);
        assert_eq!(workspace_tag("no-at-sign+abc"), None);
    }

    #[test]
    fn expiry_follows_retention() {
        let at = time::macros::datetime!(2026-11-23 10:00 UTC);
        let m = InboundMessage::received("m".into(), at, Transport::default());
        assert_eq!(m.expires_at(DEFAULT_INBOUND_RETENTION), time::macros::datetime!(2027-01-22 10:00 UTC));
    }
}
