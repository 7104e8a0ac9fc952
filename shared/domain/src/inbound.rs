//! Inbound e-mail as Tern keeps it: metadata only.
//!
//! The raw message lives in the bucket only until it is classified; what stays is
//! the envelope, a few headers for threading, a short snippet of the new text and
//! the verdict. Retention follows the workspace policy (60 days by default).

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

pub const DEFAULT_INBOUND_RETENTION: Duration = Duration::days(60);

/// The transport facts the receiving provider reports. Verdicts are the
/// provider's words, lowercased (`pass`, `fail`, `softfail`, `none`, ...); `None`
/// when the provider did not say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transport {
    /// `cloudmailin` or `ses`.
    #[serde(default)]
    pub provider: String,
    pub envelope_from: Option<String>,
    pub envelope_to: String,
    /// Every envelope recipient, when the provider lists them.
    #[serde(default)]
    pub recipients: Vec<String>,
    pub remote_ip: Option<String>,
    pub helo_domain: Option<String>,
    /// Whether the sending server used TLS to the provider.
    #[serde(default)]
    pub tls: Option<bool>,
    pub spf: Option<String>,
    #[serde(default)]
    pub dkim: Option<String>,
    #[serde(default)]
    pub dmarc: Option<String>,
    #[serde(default)]
    pub spam: Option<String>,
    #[serde(default)]
    pub virus: Option<String>,
}

/// What an inbound address says about where a message belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `<anything>+<workspace>[.<reply token>]@…`: the workspace's inbound address,
    /// optionally carrying one enrollment's token.
    Workspace { workspace: String, reply_token: Option<String> },
    /// `unsubscribe+<token>@…`: the `mailto:` of a message's List-Unsubscribe.
    Unsubscribe { token: String },
}

/// Reads the route out of a recipient address. Tokens and workspace ids are
/// alphanumeric (with `-`/`_`); anything else in their place is no route.
pub fn route(recipient: &str) -> Option<Route> {
    let address = recipient.trim().trim_start_matches('<').trim_end_matches('>');
    let local = address.rsplit_once('@')?.0;
    let (base, tag) = local.split_once('+')?;
    let plain = |s: &str| !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if base.eq_ignore_ascii_case("unsubscribe") {
        return plain(tag).then(|| Route::Unsubscribe { token: tag.to_string() });
    }
    match tag.split_once('.') {
        Some((workspace, token)) => {
            (plain(workspace) && plain(token)).then(|| Route::Workspace { workspace: workspace.to_string(), reply_token: Some(token.to_string()) })
        }
        None => plain(tag).then(|| Route::Workspace { workspace: tag.to_string(), reply_token: None }),
    }
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
    /// The enrollment whose token the recipient address carried (a reply token,
    /// or the List-Unsubscribe `mailto:` address).
    #[serde(default)]
    pub addressed_enrollment: Option<String>,
    /// Sent to a List-Unsubscribe `mailto:` address: a request to unsubscribe,
    /// whatever the text says.
    #[serde(default)]
    pub to_unsubscribe_address: bool,
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
            addressed_enrollment: None,
            to_unsubscribe_address: false,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(workspace: &str, token: Option<&str>) -> Option<Route> {
        Some(Route::Workspace { workspace: workspace.into(), reply_token: token.map(String::from) })
    }

    #[test]
    fn reads_the_route_out_of_a_recipient() {
        assert_eq!(route("reply+abc@in.tern.dev"), workspace("abc", None));
        assert_eq!(route("<reply+abc.tok123@in.tern.dev>"), workspace("abc", Some("tok123")));
        assert_eq!(route("unsubscribe+tok_1-2@in.tern.dev"), Some(Route::Unsubscribe { token: "tok_1-2".into() }));
        assert_eq!(route("UNSUBSCRIBE+tok@in.tern.dev"), Some(Route::Unsubscribe { token: "tok".into() }));
        assert_eq!(route("reply@in.tern.dev"), None);
        assert_eq!(route("no-at-sign+abc"), None);
        assert_eq!(route("reply+@in.tern.dev"), None);
        assert_eq!(route("reply+abc.@in.tern.dev"), None);
        assert_eq!(route("reply+a/b@in.tern.dev"), None);
        assert_eq!(route("unsubscribe+a.b@in.tern.dev"), None);
    }

    #[test]
    fn expiry_follows_retention() {
        let at = time::macros::datetime!(2026-11-23 10:00 UTC);
        let m = InboundMessage::received("m".into(), at, Transport::default());
        assert_eq!(m.expires_at(DEFAULT_INBOUND_RETENTION), time::macros::datetime!(2027-01-22 10:00 UTC));
    }
}
