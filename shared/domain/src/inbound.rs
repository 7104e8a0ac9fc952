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
    /// The domain the provider's SPF check was for (the envelope sender's), when
    /// the provider names it.
    #[serde(default)]
    pub spf_domain: Option<String>,
    #[serde(default)]
    pub dkim: Option<String>,
    #[serde(default)]
    pub dmarc: Option<String>,
    #[serde(default)]
    pub spam: Option<String>,
    #[serde(default)]
    pub virus: Option<String>,
}

/// What shows, on the receiving side, that a message's From address is its
/// sender's. Only the provider's own verdicts count (SES's receipt verdicts,
/// CloudMailin's envelope SPF); never a header the message carries itself, which
/// whoever sent it wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderProof {
    /// The provider's DMARC verdict is `pass`: SPF or DKIM passed for a domain
    /// aligned with the From header's.
    DmarcPass,
    /// The provider's SPF verdict is `pass` for the From domain or a subdomain of it
    /// (relaxed alignment, as DMARC's: `bounces.example.com` for `example.com`).
    AlignedSpfPass,
}

impl Transport {
    /// Does the receiving side vouch that `from` (the From header's address) sent
    /// this message? `None` when it does not: the address is then only a claim.
    pub fn sender_proof(&self, from: &str) -> Option<SenderProof> {
        let from_domain = address_domain(from)?;
        if self.dmarc.as_deref() == Some("pass") {
            return Some(SenderProof::DmarcPass);
        }
        let spf_domain =
            self.spf_domain.as_deref().map(normal_domain).or_else(|| self.envelope_from.as_deref().and_then(address_domain))?;
        let aligned = spf_domain == from_domain || spf_domain.ends_with(&format!(".{from_domain}"));
        (self.spf.as_deref() == Some("pass") && !spf_domain.is_empty() && aligned).then_some(SenderProof::AlignedSpfPass)
    }
}

/// What linked an inbound message to the enrollment it answers, recorded with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkEvidence {
    /// One of our Message-IDs, in In-Reply-To/References or a bounce's returned original.
    MessageId,
    /// The reply token in the address it was sent to (`reply+<ws>.<token>@…`).
    ReplyToken,
    /// The token of a List-Unsubscribe `mailto:` address it was sent to.
    UnsubscribeToken,
    /// The sender's address, with the provider's DMARC pass.
    SenderDmarcPass,
    /// The sender's address, with the provider's SPF pass for an aligned domain.
    SenderAlignedSpfPass,
}

impl From<SenderProof> for LinkEvidence {
    fn from(proof: SenderProof) -> Self {
        match proof {
            SenderProof::DmarcPass => LinkEvidence::SenderDmarcPass,
            SenderProof::AlignedSpfPass => LinkEvidence::SenderAlignedSpfPass,
        }
    }
}

/// The domain of an address (`Name <a@b.example>` or `a@b.example`), lowercased.
pub fn address_domain(address: &str) -> Option<String> {
    let address = address.trim();
    let address = match (address.rfind('<'), address.rfind('>')) {
        (Some(open), Some(close)) if open < close => &address[open + 1..close],
        _ => address,
    };
    let domain = normal_domain(address.rsplit_once('@')?.1);
    (!domain.is_empty()).then_some(domain)
}

fn normal_domain(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_ascii_lowercase()
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
        Some((workspace, token)) => (plain(workspace) && plain(token))
            .then(|| Route::Workspace { workspace: workspace.to_string(), reply_token: Some(token.to_string()) }),
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
    /// What linked it to `enrollment_id`; `None` when nothing did.
    #[serde(default)]
    pub linked_by: Option<LinkEvidence>,
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
            linked_by: None,
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

    fn transport(spf: Option<&str>, spf_domain: Option<&str>, envelope_from: Option<&str>, dmarc: Option<&str>) -> Transport {
        Transport {
            spf: spf.map(String::from),
            spf_domain: spf_domain.map(String::from),
            envelope_from: envelope_from.map(String::from),
            dmarc: dmarc.map(String::from),
            ..Transport::default()
        }
    }

    #[test]
    fn only_the_receiving_sides_aligned_pass_vouches_for_a_sender() {
        let from = "Carla <carla@lead.example>";
        assert_eq!(transport(None, None, None, Some("pass")).sender_proof(from), Some(SenderProof::DmarcPass));
        assert_eq!(transport(Some("pass"), Some("lead.example"), None, None).sender_proof(from), Some(SenderProof::AlignedSpfPass));
        assert_eq!(
            transport(Some("pass"), Some("Bounces.Lead.Example."), None, None).sender_proof(from),
            Some(SenderProof::AlignedSpfPass)
        );
        assert_eq!(transport(Some("pass"), None, Some("b@mail.lead.example"), None).sender_proof(from), Some(SenderProof::AlignedSpfPass));
        for (case, t) in [
            ("SPF passed for the attacker's own domain", transport(Some("pass"), Some("evil.example"), None, None)),
            ("a look-alike suffix", transport(Some("pass"), Some("notlead.example"), None, None)),
            ("a parent of the From domain", transport(Some("pass"), Some("example"), None, None)),
            ("SPF did not pass", transport(Some("softfail"), Some("lead.example"), None, Some("fail"))),
            ("no verdict at all", transport(None, None, Some("carla@lead.example"), None)),
            ("SPF pass without a domain", transport(Some("pass"), None, None, None)),
        ] {
            assert_eq!(t.sender_proof(from), None, "{case}");
        }
        assert_eq!(transport(None, None, None, Some("pass")).sender_proof("no address"), None);
    }

    #[test]
    fn address_domains() {
        assert_eq!(address_domain("Carla <carla@Lead.Example>").as_deref(), Some("lead.example"));
        assert_eq!(address_domain("reply+ws.tok@in.tern.test").as_deref(), Some("in.tern.test"));
        assert_eq!(address_domain("\"a@b\" <c@d.example>").as_deref(), Some("d.example"));
        assert_eq!(address_domain("nobody"), None);
        assert_eq!(address_domain("x@"), None);
    }

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
