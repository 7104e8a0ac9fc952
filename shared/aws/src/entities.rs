//! Which domain types are table items, and under what kind. One line per entity.

use crate::table::Entity;
use serde::{Deserialize, Serialize};
use tern_domain::inbound::InboundMessage;
use tern_domain::plan::Plan;
use tern_domain::retention::{RetentionCategory, RetentionSettings};
use tern_extract::{CompanyProfile, IdealCustomer};

/// A tenant: its settings and its own KMS key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub plan: Plan,
    pub timezone: String,
    pub locale: String,
    /// The agency workspace this one belongs to, if any.
    pub parent_id: Option<String>,
    pub kms_key_id: String,
    pub require_2fa: bool,
    pub created_at: i64,
    /// Enterprise: requests from other addresses are refused (CIDR entries).
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    /// A sub-workspace's explicit grant: its agency's owners may read its audit trail.
    #[serde(default)]
    pub parent_may_read_audit: bool,
    /// Days no sequence step falls on (besides weekends).
    #[serde(default)]
    pub holidays: std::collections::BTreeSet<jiff::civil::Date>,
    /// The sender's postal address, printed in every message's footer (CAN-SPAM).
    #[serde(default)]
    pub postal_address: Option<String>,
    /// `{{my_company_description}}` in templates.
    #[serde(default)]
    pub company_description: Option<String>,
    /// Custom contact fields templates may use (`{{industry}}`); imports add to it.
    #[serde(default)]
    pub custom_fields: std::collections::BTreeSet<String>,
    /// Growth and above: the workspace's own domain, verified in SES.
    #[serde(default)]
    pub sending_domain: Option<String>,
    /// Before `retention` existed: days inbound-mail metadata is kept. Still read
    /// (an older item's value counts while `retention.inbound_metadata_days` is
    /// unset); the API moves it into `retention` on the workspace's next change.
    #[serde(default)]
    pub inbound_retention_days: Option<u16>,
    /// The retention windows the workspace's admins set (`tern_domain::retention`).
    #[serde(default)]
    pub retention: RetentionSettings,
    /// When the owner scheduled the workspace's deletion, the unix time it is due;
    /// until then it stays readable but sends nothing (see `crate::deletion`).
    #[serde(default)]
    pub deletion_scheduled_for: Option<i64>,
}

impl Workspace {
    /// The windows in force, with a value stored in the older
    /// `inbound_retention_days` field counting as the metadata window.
    pub fn retention(&self) -> RetentionSettings {
        let mut settings = self.retention;
        if settings.inbound_metadata_days.is_none() {
            settings.inbound_metadata_days = self.inbound_retention_days;
        }
        settings
    }

    /// How long inbound-mail metadata is kept: the workspace's window, else the default.
    pub fn inbound_retention(&self) -> time::Duration {
        self.retention().window(RetentionCategory::InboundMetadata).unwrap_or(tern_domain::inbound::DEFAULT_INBOUND_RETENTION)
    }
}

impl Entity for Workspace {
    const KIND: &'static str = "WORKSPACE";
    fn id(&self) -> &str {
        &self.id
    }
}

/// In the workspace's collection, so the workspace's inbound mail can be listed
/// (and erased) with the rest of its data.
impl Entity for InboundMessage {
    const KIND: &'static str = "INBOUND";
    const COLLECTION: bool = true;
    fn id(&self) -> &str {
        &self.id
    }
}

/// The text of a received e-mail Tern keeps, apart from its metadata
/// ([`InboundMessage`], same id) so it can follow the workspace's e-mail-body
/// window: the snippet of the new text and the language model's reading of it.
/// Written by classify with `expires_at` = receipt + the body window (never later
/// than the metadata's); read by the API for roles that may read bodies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundText {
    /// The inbound message's id.
    pub id: String,
    /// Unix time the message was received (what the window counts from).
    pub received_at: i64,
    pub snippet: Option<String>,
    #[serde(default)]
    pub intent_reason: Option<String>,
    /// The model's answer word for word (kept for a person checking a reading).
    #[serde(default)]
    pub intent_raw_output: Option<String>,
}

impl InboundText {
    /// Moves the body text out of a message, leaving only its metadata; `None`
    /// when there is no text to keep.
    pub fn take_from(message: &mut InboundMessage) -> Option<InboundText> {
        let text = InboundText {
            id: message.id.clone(),
            received_at: message.received_at.unix_timestamp(),
            snippet: message.snippet.take(),
            intent_reason: message.intent_reason.take(),
            intent_raw_output: message.intent_raw_output.take(),
        };
        (text.snippet.is_some() || text.intent_reason.is_some() || text.intent_raw_output.is_some()).then_some(text)
    }
}

/// Keyed like its message, in the same collection partition, so a page of
/// messages finds its texts with one range query.
impl Entity for InboundText {
    const KIND: &'static str = "INBOUNDTEXT";
    const COLLECTION: bool = true;
    fn id(&self) -> &str {
        &self.id
    }
}

/// The purpose contact notes are sealed under with the workspace's key.
pub const CONTACT_NOTE_PURPOSE: &str = "contact-note";

/// A free-text note a member wrote on a contact. The text is sealed with the
/// workspace's key; the item carries its own TTL (`expires_at`, from the
/// workspace's contact-note window when it was written; absent: kept until deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactNote {
    /// `<contact_id>~<note_id>`: a contact's notes share a key prefix, so they are
    /// listed (and deleted with the contact) with one query.
    pub id: String,
    pub contact_id: String,
    pub note_id: String,
    pub text: crate::sealing::SealedValue,
    /// The user who wrote it.
    pub author: String,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl ContactNote {
    pub fn key(contact_id: &str, note_id: &str) -> String {
        format!("{contact_id}~{note_id}")
    }

    /// What the note's text is sealed as: bound to this workspace, note and field.
    pub fn identity<'a>(workspace: &'a str, id: &'a str) -> crate::sealing::FieldIdentity<'a> {
        crate::sealing::FieldIdentity { workspace, entity: "contact_note", id, field: "text" }
    }
}

impl Entity for ContactNote {
    const KIND: &'static str = "CONTACTNOTE";
    const COLLECTION: bool = true;
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrichmentStatus {
    Pending,
    Done,
    /// Ended without a profile; `failure` says why in words a person understands.
    Failed,
}

/// One workspace's enrichment of one company, keyed by registrable domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    pub domain: String,
    /// Where fetching starts (the website the user gave).
    pub website: String,
    pub status: EnrichmentStatus,
    pub requested_at: i64,
    pub finished_at: Option<i64>,
    pub failure: Option<String>,
    pub profile: Option<CompanyProfile>,
    pub pages_fetched: u32,
    /// Served from the cross-tenant cache of public company facts.
    pub from_cache: bool,
}

impl Entity for Enrichment {
    const KIND: &'static str = "ENRICHMENT";
    const COLLECTION: bool = true;
    fn id(&self) -> &str {
        &self.domain
    }
}

/// Successful enrichments in one month (`YYYY-MM`), counted against the plan's quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrichmentUsage {
    pub month: String,
    pub used: u32,
}

impl Entity for EnrichmentUsage {
    const KIND: &'static str = "ENRICHUSAGE";
    fn id(&self) -> &str {
        &self.month
    }
}

/// What the workspace sells to: the lead score's reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdealCustomerSettings {
    pub id: String,
    pub ideal_customer: IdealCustomer,
}

impl IdealCustomerSettings {
    pub const ID: &'static str = "settings";
}

impl Entity for IdealCustomerSettings {
    const KIND: &'static str = "ICP";
    fn id(&self) -> &str {
        &self.id
    }
}

/// A sending domain this workspace asked to use, with the token it must publish
/// (`_tern-challenge.<domain> TXT "tern-verify=<token>"`). Proving it creates the
/// global [`crate::global::DomainClaim`]; until then the domain cannot be used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendingDomain {
    /// The domain (the id): lower-case ASCII, no trailing dot.
    pub domain: String,
    /// Random, per workspace and domain; not a secret (it is published in DNS).
    pub token: String,
    pub created_at: i64,
    pub verified_at: Option<i64>,
}

impl Entity for SendingDomain {
    const KIND: &'static str = "SENDINGDOMAIN";
    const COLLECTION: bool = true;
    fn id(&self) -> &str {
        &self.domain
    }
}
