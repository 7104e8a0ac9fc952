//! The outreach engine's items: contacts, templates, mailboxes, sequences,
//! enrollments, sends, suppressions and the counters that enforce sending limits.
//!
//! Everything here is a workspace item (reached through a [`ScopedTable`](crate::table::ScopedTable)), except
//! the unsubscribe token, which a recipient presents without any workspace and is
//! therefore a global record. Contacts, enrollments and sends are collections in the
//! workspace's partition: one Query lists them, and erasing or exporting a workspace
//! never needs a scan.

pub mod effects;
pub mod schedule;
pub mod store;

use crate::global::{GlobalKind, GlobalRecord};
use crate::sealing::SealedValue;
use crate::table::Entity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tern_domain::cadence::SendWindow;
use tern_domain::enrollment::Enrollment;

/// A person a workspace may write to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: String,
    /// Normalised (trimmed, lower-case).
    pub email: String,
    /// Blind index of `email`: duplicates merge on it and suppression survives erasure by it.
    pub email_index: String,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    /// The company's registrable domain (from the website column or the address).
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// IANA zone; send windows follow it when the sequence says so.
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub custom: BTreeMap<String, String>,
    /// Gmail, Outlook.com…: a work address is preferred when both are known.
    #[serde(default)]
    pub free_mail: bool,
    /// info@, sales@…: reaches a team, not a person.
    #[serde(default)]
    pub role_account: bool,
    /// A drafted personal first line (`{{first_line}}`), never sent unless a template uses it.
    #[serde(default)]
    pub first_line: Option<String>,
    /// Who wrote `first_line`: the workspace's model (from which facts, when) or a person.
    #[serde(default)]
    pub first_line_origin: Option<FirstLineOrigin>,
    /// The address's last verification (syntax, DNS, lists; never an SMTP probe),
    /// by the enrich worker.
    #[serde(default)]
    pub verification: Option<ContactVerification>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum FirstLineOrigin {
    /// Drafted by the workspace's model from the company's public facts.
    Model { model: String, prompt_version: String, enrichment_domain: String, at: i64 },
    /// Written or edited by a member.
    Person { user_id: String, at: i64 },
}

impl Entity for Contact {
    const KIND: &'static str = "CONTACT";
    const COLLECTION: bool = true;
    fn id(&self) -> &str {
        &self.id
    }
}

/// How deliverable an address looks, as far as it can be told without writing to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationResult {
    Valid,
    Risky,
    Invalid,
    /// DNS did not answer: try again later.
    Unknown,
}

/// A contact's e-mail verification: the result, why (stable codes such as
/// `role_account`, `implicit_mx`, `domain_not_found`, `dns_timeout`), and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactVerification {
    pub result: VerificationResult,
    #[serde(default)]
    pub reasons: Vec<String>,
    pub checked_at: i64,
}

/// Which contact holds an address, by blind index: the uniqueness guard of contacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactByEmail {
    pub email_index: String,
    pub contact_id: String,
}

impl Entity for ContactByEmail {
    const KIND: &'static str = "CONTACTEMAIL";
    fn id(&self) -> &str {
        &self.email_index
    }
}

pub use tern_domain::reply::SuppressionReason;

/// An address that must never be written to again, by blind index only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    pub email_index: String,
    pub reason: SuppressionReason,
    pub suppressed_at: i64,
}

impl Entity for Suppression {
    const KIND: &'static str = "SUPPRESSION";
    const COLLECTION: bool = true;
    fn id(&self) -> &str {
        &self.email_index
    }
}

/// A message template as written by a person; parsed and checked when saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRecord {
    pub id: String,
    pub name: String,
    pub subject: String,
    pub text: String,
    #[serde(default)]
    pub html: Option<String>,
    #[serde(default)]
    pub attachment_ids: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Entity for TemplateRecord {
    const KIND: &'static str = "TEMPLATE";
    const COLLECTION: bool = true;
    fn id(&self) -> &str {
        &self.id
    }
}

/// A file attached to templates; the bytes are in S3 under the workspace's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRecord {
    pub id: String,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub object_key: String,
    pub created_at: i64,
}

impl Entity for AttachmentRecord {
    const KIND: &'static str = "ATTACHMENT";
    const COLLECTION: bool = true;
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Port 587 (or 25): STARTTLS is required, never plaintext.
    StartTls,
    /// Port 465: TLS from the first byte.
    ImplicitTls,
}

/// How a mailbox's mail leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MailboxProvider {
    /// Amazon SES: the platform's domain on trial and starter plans, the workspace's
    /// own verified domain above.
    Ses,
    /// The customer's own mail server; the password is sealed with the workspace key
    /// and opened only in memory at send time.
    Smtp { host: String, port: u16, security: SmtpSecurity, username: String, password: SealedValue },
}

/// A sending identity and its limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    pub id: String,
    pub name: String,
    pub from_name: Option<String>,
    pub from_email: String,
    #[serde(default)]
    pub reply_to: Option<String>,
    pub provider: MailboxProvider,
    /// IANA zone the daily cap and the monthly quota are counted in.
    pub timezone: String,
    pub daily_cap: u32,
    pub warmup_start: u32,
    pub warmup_daily_increase: u32,
    pub per_domain_hourly: u32,
    pub min_spacing_seconds: u32,
    /// Unix seconds of the first send: the warm-up ramp counts days from it.
    #[serde(default)]
    pub first_send_at: Option<i64>,
    #[serde(default)]
    pub sent: u32,
    #[serde(default)]
    pub hard_bounces: u32,
    #[serde(default)]
    pub soft_bounces: u32,
    #[serde(default)]
    pub complaints: u32,
    pub created_at: i64,
}

impl Entity for Mailbox {
    const KIND: &'static str = "MAILBOX";
    const COLLECTION: bool = true;
    fn id(&self) -> &str {
        &self.id
    }
}

/// One step of a sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceStep {
    pub template_id: String,
    /// Business days after the first e-mail (0 for the first step itself).
    pub business_days: u32,
    /// Start a new thread instead of replying under the first e-mail.
    #[serde(default)]
    pub new_thread: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequence {
    pub id: String,
    pub name: String,
    pub mailbox_id: String,
    pub steps: Vec<SequenceStep>,
    pub window: SendWindow,
    /// IANA zone of the window; the workspace's when absent.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Use the contact's own zone when it has one.
    #[serde(default)]
    pub use_contact_timezone: bool,
    /// A human reply from one person stops everyone at the same company.
    #[serde(default)]
    pub stop_company_on_reply: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Entity for Sequence {
    const KIND: &'static str = "SEQUENCE";
    const COLLECTION: bool = true;
    fn id(&self) -> &str {
        &self.id
    }
}

/// The due-index shard count. Dispatch reads every shard each minute; more shards
/// spread a large backlog over more partitions of the index.
pub const DUE_SHARDS: u32 = 16;

/// One contact in one sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollmentRecord {
    /// `<sequence_id>.<contact_id>`: enrolling twice is the same item.
    pub id: String,
    pub sequence_id: String,
    pub contact_id: String,
    pub mailbox_id: String,
    pub machine: Enrollment,
    /// The contact's blind index, so a reply can be linked by its sender.
    pub email_index: String,
    /// Company domain, for stopping a company on a reply.
    #[serde(default)]
    pub company_domain: Option<String>,
    pub enrolled_at: i64,
    #[serde(default)]
    pub first_sent_at: Option<i64>,
    /// Message-ID and subject of the first e-mail: follow-ups thread under it.
    #[serde(default)]
    pub first_message_id: Option<String>,
    #[serde(default)]
    pub first_subject: Option<String>,
    #[serde(default)]
    pub last_message_id: Option<String>,
    /// When the next step is due (unix seconds); `None` when nothing is scheduled.
    #[serde(default)]
    pub next_due_at: Option<i64>,
    /// The due index's keys; present only while a step is scheduled (sparse index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_shard: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
    /// Opaque token of the unsubscribe link (its hash is the global lookup key).
    pub unsubscribe_token: String,
    /// A step whose send could not be confirmed and waits for a person.
    #[serde(default)]
    pub parked_step: Option<u32>,
    /// Transient provider failures of the current step, for backoff.
    #[serde(default)]
    pub attempts: u32,
    /// Why the enrollment ended or paused, in words.
    #[serde(default)]
    pub note: Option<String>,
    /// Bumped on every write: the optimistic-concurrency guard.
    pub version: u64,
    pub updated_at: i64,
}

impl Entity for EnrollmentRecord {
    const KIND: &'static str = "ENROLLMENT";
    const COLLECTION: bool = true;
    fn id(&self) -> &str {
        &self.id
    }
}

impl EnrollmentRecord {
    pub fn id_for(sequence_id: &str, contact_id: &str) -> String {
        format!("{sequence_id}.{contact_id}")
    }

    /// Schedules `step` at `at` (unix seconds) in the due index, or clears it.
    pub fn schedule(&mut self, due: Option<(u32, i64)>) {
        match due {
            Some((step, at)) => {
                self.next_due_at = Some(at);
                self.due_shard = Some(due_shard_of(&self.id));
                self.due_at = Some(due_sort_key(at, step));
            }
            None => {
                self.next_due_at = None;
                self.due_shard = None;
                self.due_at = None;
            }
        }
    }
}

/// The shard of an enrollment in the due index: stable, spread by a hash of the id.
pub fn due_shard_of(enrollment_id: &str) -> String {
    // FNV-1a: stable across builds and platforms (std's hasher is not).
    let hash = enrollment_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("DUE#{}", hash % u64::from(DUE_SHARDS))
}

/// `<unix seconds, 12 digits>#<step>`: sorts by time, and tells dispatch the step.
pub fn due_sort_key(at: i64, step: u32) -> String {
    format!("{:012}#{step}", at.max(0))
}

/// Reads a due sort key back.
pub fn parse_due_sort_key(key: &str) -> Option<(i64, u32)> {
    let (at, step) = key.split_once('#')?;
    Some((at.parse().ok()?, step.parse().ok()?))
}

/// Where a send of one `(enrollment, step)` is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SendState {
    /// Claimed by a worker that has not called the provider yet. If it stays so past
    /// `lease_until`, the worker died before the call: nothing was sent, retry.
    Claimed {
        lease_until: i64,
    },
    /// The provider is being called. If it stays so past `lease_until`, nobody knows
    /// whether the message left: it is parked for a person, never re-sent blindly.
    Sending {
        lease_until: i64,
    },
    Sent {
        sent_at: i64,
        provider_message_id: Option<String>,
    },
    /// The provider refused it for good; the enrollment stopped.
    Failed {
        reason: String,
    },
    /// Waiting for a person to say whether it was sent.
    Parked {
        reason: String,
        parked_at: i64,
    },
}

/// The exactly-once record of one step of one enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRecord {
    /// `<enrollment_id>~<step>`.
    pub id: String,
    pub enrollment_id: String,
    pub step: u32,
    pub contact_id: String,
    pub mailbox_id: String,
    /// Our deterministic Message-ID: how a lost outcome is reconciled.
    pub message_id: String,
    /// Which worker attempt holds the claim.
    pub claim_token: String,
    #[serde(flatten)]
    pub state: SendState,
    pub claimed_at: i64,
    pub updated_at: i64,
    /// The record's TTL (`expires_at`): the workspace's log window from the claim;
    /// absent while the workspace keeps its log. A field rather than a write
    /// option, so every rewrite of the record (sent, failed, parked, resolved) keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl Entity for SendRecord {
    const KIND: &'static str = "SEND";
    const COLLECTION: bool = true;
    fn id(&self) -> &str {
        &self.id
    }
}

impl SendRecord {
    pub fn id_for(enrollment_id: &str, step: u32) -> String {
        format!("{enrollment_id}~{step}")
    }
}

/// An atomic counter for a sending limit in one window (a mailbox's local day, a
/// recipient domain's hour, the workspace's month). Expires after its window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendCounter {
    pub id: String,
    pub count: u32,
}

impl Entity for SendCounter {
    const KIND: &'static str = "COUNTER";
    fn id(&self) -> &str {
        &self.id
    }
}

/// Secrets of a workspace that every function may need, sealed with its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceSecrets {
    pub id: String,
    /// HMAC key of the e-mail blind index.
    pub blind_index_key: SealedValue,
}

impl WorkspaceSecrets {
    pub const ID: &'static str = "secrets";
}

impl Entity for WorkspaceSecrets {
    const KIND: &'static str = "SECRETS";
    fn id(&self) -> &str {
        &self.id
    }
}

/// An unsubscribe link's token, found by its hash without knowing the workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsubscribeLink {
    pub token_hash: String,
    pub workspace_id: String,
    pub enrollment_id: String,
    pub contact_id: String,
    pub email_index: String,
}

impl GlobalRecord for UnsubscribeLink {
    const KIND: GlobalKind = GlobalKind::Unsubscribe;
    fn key(&self) -> String {
        self.token_hash.clone()
    }
}

/// The reason an address is suppressed, as its enrollments' stop reason.
pub fn stop_reason_for(reason: SuppressionReason) -> tern_domain::enrollment::StopReason {
    use tern_domain::enrollment::StopReason;
    match reason {
        SuppressionReason::HardBounce | SuppressionReason::RepeatedSoftBounces => StopReason::Bounced,
        SuppressionReason::Complaint => StopReason::Complained,
        SuppressionReason::Unsubscribed | SuppressionReason::Erased => StopReason::Unsubscribed,
        SuppressionReason::Manual => StopReason::Manual,
    }
}

/// SMTP passwords are sealed for this purpose under [`smtp_password_identity`]: the
/// API seals, the send worker opens, nothing else can.
pub const SMTP_PASSWORD_PURPOSE: &str = "mailbox-credentials";

pub fn smtp_password_identity<'a>(workspace: &'a str, mailbox_id: &'a str) -> crate::sealing::FieldIdentity<'a> {
    crate::sealing::FieldIdentity { workspace, entity: "mailbox", id: mailbox_id, field: "smtp_password" }
}

/// The values a template is rendered with for `contact`: its fields, its custom
/// fields, and the sender's (workspace name and description, mailbox sender name).
/// The API's preview and the send worker both use this, so a preview shows exactly
/// what will be sent.
pub fn template_values(
    workspace: &crate::entities::Workspace,
    contact: &Contact,
    sender_name: Option<&str>,
) -> tern_domain::template::Values {
    let mut values: tern_domain::template::Values = contact.custom.clone();
    let mut put = |name: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
            values.insert(name.to_string(), v);
        }
    };
    let full_name = match (&contact.first_name, &contact.last_name) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(n), None) | (None, Some(n)) => Some(n.clone()),
        (None, None) => None,
    };
    put("first_name", contact.first_name.clone());
    put("last_name", contact.last_name.clone());
    put("full_name", full_name);
    put("email", Some(contact.email.clone()));
    put("company", contact.company.clone());
    put("title", contact.title.clone());
    put("domain", contact.domain.clone());
    put("website", contact.domain.as_ref().map(|d| format!("https://{d}")));
    put("first_line", contact.first_line.clone());
    put("my_company", Some(workspace.name.clone()));
    put("my_company_description", workspace.company_description.clone());
    put("sender_name", sender_name.map(String::from));
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_keys_sort_by_time_and_carry_the_step() {
        assert!(due_sort_key(999, 3) < due_sort_key(1000, 0));
        assert_eq!(parse_due_sort_key(&due_sort_key(1_700_000_000, 2)), Some((1_700_000_000, 2)));
        assert_eq!(parse_due_sort_key("garbage"), None);
    }

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(due_shard_of("a.b"), due_shard_of("a.b"));
        let shards: std::collections::BTreeSet<String> = (0..500).map(|i| due_shard_of(&format!("seq.{i}"))).collect();
        assert_eq!(shards.len(), DUE_SHARDS as usize);
    }
}
