//! The data inventory: what Tern stores, per item kind, S3 prefix and queue; which
//! fields are personal, which are sealed with the workspace's KMS key (see
//! [`crate::sealing`]) or kept only as a blind index; how long each is kept, and
//! which functions read it.
//!
//! This is the one place the inventory is written. `docs/data-inventory.md` is
//! generated from it ([`render_markdown`]), and the tests below fail when an item
//! type is added anywhere in the workspace (`impl Entity for` / `impl GlobalRecord
//! for`), a [`crate::global::GlobalKind`] variant, a job type, or an S3 lifecycle
//! prefix appears without an entry here, or when the committed document differs
//! from what this module generates (`UPDATE_INVENTORY=1 cargo test -p tern-aws
//! inventory` rewrites it).
//!
//! The `erasure` column says what erasing a person (functions/housekeeping
//! `erasure`) and deleting a workspace (`deletion`) do with each kind; exports
//! (`export`) write every kind of the workspace's collection partition as stored.

/// Where an item lives in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// Behind a workspace scope: `pk = WS#<ws>#<KIND>#<id>` (or the workspace's
    /// collection partition `pk = WS#<ws>`).
    Workspace,
    /// A global record, `pk = <KIND>#<key>`, found before any workspace is known.
    Global,
    /// The audit log's own append-only partition, `pk = WS#<ws>#AUDIT`.
    Audit,
}

impl Partition {
    fn label(self) -> &'static str {
        match self {
            Partition::Workspace => "workspace",
            Partition::Global => "global",
            Partition::Audit => "workspace (audit)",
        }
    }
}

/// One kind of DynamoDB item.
#[derive(Debug, Clone, Copy)]
pub struct Item {
    /// The kind in its key (`Entity::KIND`, `GlobalKind::prefix`, `AUDIT`).
    pub kind: &'static str,
    /// The Rust type stored.
    pub type_name: &'static str,
    /// Where the type is defined, from the repository root.
    pub defined_in: &'static str,
    pub partition: Partition,
    /// What it holds, in one line.
    pub holds: &'static str,
    /// Fields with personal data (about a contact, a user or a correspondent), in clear.
    pub personal: &'static [&'static str],
    /// Fields sealed (envelope-encrypted) with a KMS key before they are stored.
    pub sealed: &'static [&'static str],
    /// Fields that hold only an HMAC blind index of an e-mail address.
    pub blind_indexed: &'static [&'static str],
    /// How long it is kept: its DynamoDB TTL, or until deleted.
    pub retention: &'static str,
    /// Functions that read or write it.
    pub used_by: &'static [&'static str],
    /// What erasure of a person / deletion of a workspace must do with it (#7).
    pub erasure: &'static str,
}

/// One S3 prefix of the data bucket.
#[derive(Debug, Clone, Copy)]
pub struct Object {
    pub prefix: &'static str,
    pub holds: &'static str,
    pub personal: &'static str,
    pub encryption: &'static str,
    pub retention: &'static str,
    pub used_by: &'static [&'static str],
}

/// One kind of queue message.
#[derive(Debug, Clone, Copy)]
pub struct Message {
    pub type_name: &'static str,
    pub queue: &'static str,
    pub holds: &'static str,
    pub personal: &'static str,
    pub retention: &'static str,
    pub used_by: &'static [&'static str],
}

const UNTIL_DELETED: &str = "until deleted";
const WORKSPACE_ERASURE: &str = "deleted with the workspace";

/// Every item kind in the table.
pub const ITEMS: &[Item] = &[
    // ------------------------------------------------------------ workspace items
    Item {
        kind: "WORKSPACE",
        type_name: "Workspace",
        defined_in: "shared/aws/src/entities.rs",
        partition: Partition::Workspace,
        holds: "a tenant's settings: plan, zone, locale, its KMS key id, sending domain, retention, footer address, deletion schedule",
        personal: &["postal_address (may be a sole trader's home address)"],
        sealed: &[],
        blind_indexed: &[],
        retention: "until deleted; holds the retention windows every other kind's TTL comes from (email_bodies, contact_notes, inbound_metadata, logs, audit)",
        used_by: &["api", "inbound", "feedback", "classify", "send", "housekeeping"],
        erasure: "deleted last, after every other item of the workspace; its KMS key is scheduled for deletion",
    },
    Item {
        kind: "MEMBER",
        type_name: "Member",
        defined_in: "functions/api/src/records.rs",
        partition: Partition::Workspace,
        holds: "a user's membership and role in a workspace",
        personal: &["email", "name"],
        sealed: &[],
        blind_indexed: &[],
        retention: UNTIL_DELETED,
        used_by: &["api"],
        erasure: "deleted when the user leaves or the workspace is deleted",
    },
    Item {
        kind: "APIKEY",
        type_name: "ApiKey",
        defined_in: "functions/api/src/records.rs",
        partition: Partition::Workspace,
        holds: "an API key's name, scopes and dates (the key itself is never stored)",
        personal: &["created_by (user id)"],
        sealed: &[],
        blind_indexed: &[],
        retention: "until deleted (revoked keys are kept, marked revoked_at)",
        used_by: &["api"],
        erasure: WORKSPACE_ERASURE,
    },
    Item {
        kind: "SECRETS",
        type_name: "WorkspaceSecrets",
        defined_in: "shared/aws/src/outreach/mod.rs",
        partition: Partition::Workspace,
        holds: "the workspace's HMAC key of the e-mail blind index",
        personal: &[],
        sealed: &["blind_index_key (workspace key, purpose blind-index-key)"],
        blind_indexed: &[],
        retention: UNTIL_DELETED,
        used_by: &["api", "classify"],
        erasure: "deleted with the workspace; without it, remaining blind indexes cannot be linked to an address",
    },
    Item {
        kind: "INBOUND_WEBHOOK",
        type_name: "InboundWebhookCredential",
        defined_in: "shared/aws/src/inbound.rs",
        partition: Partition::Workspace,
        holds: "the workspace's inbound webhook credential: user name, secret hash, sealed secret",
        personal: &["created_by (user id)"],
        sealed: &["sealed_secret (workspace key, purpose inbound-webhook)"],
        blind_indexed: &[],
        retention: "until rotated or revoked",
        used_by: &["api", "inbound"],
        erasure: WORKSPACE_ERASURE,
    },
    Item {
        kind: "LLM",
        type_name: "LlmSettings",
        defined_in: "shared/aws/src/llm.rs",
        partition: Partition::Workspace,
        holds: "the workspace's optional language-model provider: base URL, model, API key",
        personal: &[],
        sealed: &["api_key (workspace key, purpose llm-credentials)"],
        blind_indexed: &[],
        retention: UNTIL_DELETED,
        used_by: &["api", "classify"],
        erasure: WORKSPACE_ERASURE,
    },
    Item {
        kind: "ICP",
        type_name: "IdealCustomerSettings",
        defined_in: "shared/aws/src/entities.rs",
        partition: Partition::Workspace,
        holds: "what the workspace sells to: the lead score's reference",
        personal: &[],
        sealed: &[],
        blind_indexed: &[],
        retention: UNTIL_DELETED,
        used_by: &["api"],
        erasure: WORKSPACE_ERASURE,
    },
    Item {
        kind: "CONTACT",
        type_name: "Contact",
        defined_in: "shared/aws/src/outreach/mod.rs",
        partition: Partition::Workspace,
        holds: "a person the workspace may write to",
        personal: &[
            "email",
            "first_name",
            "last_name",
            "company",
            "title",
            "timezone",
            "custom (imported columns)",
            "first_line",
            "verification (result of checking the address)",
        ],
        sealed: &[],
        blind_indexed: &["email_index"],
        retention: UNTIL_DELETED,
        used_by: &[
            "api",
            "send",
            "classify",
            "feedback",
            "the workspace's own LLM provider, when a member drafts a first line (first name and title only)",
        ],
        erasure: "deleted on the person's erasure, with its notes; an ERASED suppression by blind index remains",
    },
    Item {
        kind: "CONTACTEMAIL",
        type_name: "ContactByEmail",
        defined_in: "shared/aws/src/outreach/mod.rs",
        partition: Partition::Workspace,
        holds: "which contact holds an address, by blind index (the contacts' uniqueness guard)",
        personal: &["contact_id"],
        sealed: &[],
        blind_indexed: &["email_index"],
        retention: "until its contact is deleted",
        used_by: &["api"],
        erasure: "deleted with its contact",
    },
    Item {
        kind: "PRIVACYTASK",
        type_name: "PrivacyTask",
        defined_in: "shared/aws/src/privacy.rs",
        partition: Partition::Workspace,
        holds: "a privacy operation a workspace asked for (an erasure), its state and what it removed, by kind",
        personal: &[],
        sealed: &[],
        blind_indexed: &["email_index of the person erased"],
        retention: "until finished; then TTL: the workspace's logs window after it finished (kept while the workspace exists when none is set)",
        used_by: &["api", "housekeeping"],
        erasure: "kept (it names the person only by blind index); deleted with the workspace",
    },
    Item {
        kind: "SUPPRESSION",
        type_name: "Suppression",
        defined_in: "shared/aws/src/outreach/mod.rs",
        partition: Partition::Workspace,
        holds: "an address that must never be written to again, and why",
        personal: &[],
        sealed: &[],
        blind_indexed: &["email_index"],
        retention: "until the workspace is deleted (kept on purpose after erasure: it is what stops the address being mailed again)",
        used_by: &["api", "send", "classify", "feedback"],
        erasure: "kept on a person's erasure (reason becomes erased); deleted with the workspace",
    },
    Item {
        kind: "TEMPLATE",
        type_name: "TemplateRecord",
        defined_in: "shared/aws/src/outreach/mod.rs",
        partition: Partition::Workspace,
        holds: "a message template as written: name, subject, text, HTML, attachment ids",
        personal: &[],
        sealed: &[],
        blind_indexed: &[],
        retention: UNTIL_DELETED,
        used_by: &["api", "send"],
        erasure: WORKSPACE_ERASURE,
    },
    Item {
        kind: "ATTACHMENT",
        type_name: "AttachmentRecord",
        defined_in: "shared/aws/src/outreach/mod.rs",
        partition: Partition::Workspace,
        holds: "a template attachment's file name, type, size and S3 key (bytes under attachments/)",
        personal: &[],
        sealed: &[],
        blind_indexed: &[],
        retention: UNTIL_DELETED,
        used_by: &["api", "send"],
        erasure: "deleted with the workspace, with its object",
    },
    Item {
        kind: "MAILBOX",
        type_name: "Mailbox",
        defined_in: "shared/aws/src/outreach/mod.rs",
        partition: Partition::Workspace,
        holds: "a sending identity: from name and address, provider (SES or SMTP), limits, health counts",
        personal: &["from_name", "from_email", "reply_to", "provider.username (SMTP)"],
        sealed: &["provider.password (SMTP; workspace key, purpose mailbox-credentials)"],
        blind_indexed: &[],
        retention: UNTIL_DELETED,
        used_by: &["api", "send", "classify", "feedback"],
        erasure: WORKSPACE_ERASURE,
    },
    Item {
        kind: "SEQUENCE",
        type_name: "Sequence",
        defined_in: "shared/aws/src/outreach/mod.rs",
        partition: Partition::Workspace,
        holds: "a sequence: mailbox, steps (templates and delays), send window",
        personal: &[],
        sealed: &[],
        blind_indexed: &[],
        retention: UNTIL_DELETED,
        used_by: &["api", "send", "classify", "feedback"],
        erasure: WORKSPACE_ERASURE,
    },
    Item {
        kind: "ENROLLMENT",
        type_name: "EnrollmentRecord",
        defined_in: "shared/aws/src/outreach/mod.rs",
        partition: Partition::Workspace,
        holds: "one contact in one sequence: state machine, schedule, threading ids, unsubscribe token",
        personal: &["contact_id", "company_domain", "first_subject", "first_message_id / last_message_id", "note"],
        sealed: &[],
        blind_indexed: &["email_index"],
        retention: UNTIL_DELETED,
        used_by: &["api", "dispatch", "send", "classify", "feedback"],
        erasure: "deleted with its contact, with its UNSUB link",
    },
    Item {
        kind: "SEND",
        type_name: "SendRecord",
        defined_in: "shared/aws/src/outreach/mod.rs",
        partition: Partition::Workspace,
        holds: "the exactly-once record of one step of one enrollment: claim, outcome, provider message id",
        personal: &["contact_id"],
        sealed: &[],
        blind_indexed: &[],
        retention: "TTL: the workspace's logs window after the claim (at least 30 days; kept while the workspace exists when none is set); a step parked for a person has none until resolved; a missing old record is harmless (the enrollment, not the record, says which step is next)",
        used_by: &["api", "send"],
        erasure: "deleted with its contact",
    },
    Item {
        kind: "COUNTER",
        type_name: "SendCounter",
        defined_in: "shared/aws/src/outreach/mod.rs",
        partition: Partition::Workspace,
        holds: "an atomic count for a sending limit (mailbox day, recipient domain hour, workspace month), a mailbox's last send time, or an address's soft bounces",
        personal: &["id of a domain-hour counter names the recipient's domain"],
        sealed: &[],
        blind_indexed: &["id of a soft-bounce counter (softbounce.<email_index>)"],
        retention: "TTL: day counters 1 day after the local day, domain-hour counters 1 hour after the hour, month counters 40 days after the month; spacing and soft-bounce counters until deleted",
        used_by: &["send", "classify", "feedback"],
        erasure: "a person's soft-bounce counter is deleted on their erasure; the rest expire by TTL or go with the workspace",
    },
    Item {
        kind: "INBOUND",
        type_name: "InboundMessage",
        defined_in: "shared/domain/src/inbound.rs (kind in shared/aws/src/entities.rs)",
        partition: Partition::Workspace,
        holds: "metadata of a received e-mail: transport facts, sender, subject, classification, intent (its text is INBOUNDTEXT)",
        personal: &["from", "subject", "message_id / in_reply_to / references", "transport (envelope addresses, remote IP)", "reason"],
        sealed: &[],
        blind_indexed: &[],
        retention: "TTL: the workspace's inbound_metadata window after receipt (60 days by default)",
        used_by: &["api", "inbound", "feedback", "classify"],
        erasure: "deleted when its sender is erased, with its INBOUNDTEXT; expires by TTL",
    },
    Item {
        kind: "INBOUNDTEXT",
        type_name: "InboundText",
        defined_in: "shared/aws/src/entities.rs",
        partition: Partition::Workspace,
        holds: "the text Tern keeps of a received e-mail (same id as its INBOUND): the first 500 characters of the new text, and the language model's reading of it",
        personal: &["snippet", "intent_reason", "intent_raw_output"],
        sealed: &[],
        blind_indexed: &[],
        retention: "TTL: the workspace's email_bodies window after receipt, never later than the metadata's (60 days by default); the raw message itself is in the bucket only until classified (inbound/)",
        used_by: &["classify", "api (roles that may read message bodies)", "housekeeping"],
        erasure: "deleted with its INBOUND when the sender is erased",
    },
    Item {
        kind: "CONTACTNOTE",
        type_name: "ContactNote",
        defined_in: "shared/aws/src/entities.rs",
        partition: Partition::Workspace,
        holds: "a free-text note a member wrote on a contact: author, date, text",
        personal: &["contact_id", "author (user id)"],
        sealed: &["text (workspace key, purpose contact-note)"],
        blind_indexed: &[],
        retention: "TTL: the workspace's contact_notes window after it was written; until deleted (or its contact is) when none is set",
        used_by: &["api (roles that may read contact notes; never platform support)", "housekeeping"],
        erasure: "deleted with its contact (through the API or the person's erasure)",
    },
    Item {
        kind: "ENRICHMENT",
        type_name: "Enrichment",
        defined_in: "shared/aws/src/entities.rs",
        partition: Partition::Workspace,
        holds: "one workspace's enrichment of one company: status and the company profile found",
        personal: &["profile (team members and addresses a company publishes)"],
        sealed: &[],
        blind_indexed: &[],
        retention: UNTIL_DELETED,
        used_by: &["api", "enrich"],
        erasure: "people named in the profile are removed on their erasure; deleted with the workspace",
    },
    Item {
        kind: "ENRICHUSAGE",
        type_name: "EnrichmentUsage",
        defined_in: "shared/aws/src/entities.rs",
        partition: Partition::Workspace,
        holds: "successful enrichments in one month, against the plan's quota",
        personal: &[],
        sealed: &[],
        blind_indexed: &[],
        retention: UNTIL_DELETED,
        used_by: &["api", "enrich"],
        erasure: WORKSPACE_ERASURE,
    },
    Item {
        kind: "AUDIT",
        type_name: "tern_security::audit::AuditEntry (via AuditLog)",
        defined_in: "shared/aws/src/audit.rs",
        partition: Partition::Audit,
        holds: "the workspace's append-only, hash-chained audit trail: who did what, when",
        personal: &["actor (user id or API key id)", "details of the action"],
        sealed: &[],
        blind_indexed: &[],
        retention: "TTL: the workspace's audit window after the entry (at least 400 days, MINIMUM_AUDIT_RETENTION; admins cannot go below); a shortened window brings TTLs forward, never deletes at once",
        used_by: &["api", "housekeeping (appends task completions; brings TTLs forward when the window is shortened)"],
        erasure: "kept for its retention (legal obligation); deleted with the workspace after it",
    },
    // ------------------------------------------------------------ global records
    Item {
        kind: "USER",
        type_name: "User",
        defined_in: "functions/api/src/records.rs",
        partition: Partition::Global,
        holds: "a person who can sign in: password hash, 2FA, workspaces",
        personal: &["email", "name", "password_hash (argon2id)", "recovery_hashes"],
        sealed: &["totp, totp_pending (platform key, not a workspace key)"],
        blind_indexed: &[],
        retention: UNTIL_DELETED,
        used_by: &["api"],
        erasure: "deleted on the user's erasure, with EMAIL and SESSION records",
    },
    Item {
        kind: "EMAIL",
        type_name: "EmailLookup",
        defined_in: "functions/api/src/records.rs",
        partition: Partition::Global,
        holds: "a user found by normalised e-mail at sign-in",
        personal: &["email (the key)", "user_id"],
        sealed: &[],
        blind_indexed: &[],
        retention: UNTIL_DELETED,
        used_by: &["api"],
        erasure: "deleted with its user",
    },
    Item {
        kind: "SESSION",
        type_name: "Session",
        defined_in: "functions/api/src/records.rs",
        partition: Partition::Global,
        holds: "one signed-in device: refresh-token family (hashes only), device, address",
        personal: &["user_id", "device", "ip"],
        sealed: &[],
        blind_indexed: &[],
        retention: "TTL: 1 day after the refresh family expires (7 days absolute, 30 with remember-me)",
        used_by: &["api"],
        erasure: "deleted with its user; expires by TTL",
    },
    Item {
        kind: "APIKEY",
        type_name: "ApiKeyLookup",
        defined_in: "functions/api/src/records.rs",
        partition: Partition::Global,
        holds: "a presented API key's workspace, found by the key's SHA-256",
        personal: &[],
        sealed: &[],
        blind_indexed: &[],
        retention: UNTIL_DELETED,
        used_by: &["api"],
        erasure: WORKSPACE_ERASURE,
    },
    Item {
        kind: "INVITE",
        type_name: "Invite",
        defined_in: "functions/api/src/records.rs",
        partition: Partition::Global,
        holds: "a pending invitation, found by the hash of its token",
        personal: &["email", "invited_by (user id)"],
        sealed: &[],
        blind_indexed: &[],
        retention: "TTL: 7 days (INVITE_LIFETIME)",
        used_by: &["api"],
        erasure: "expires by TTL; deleted with the workspace",
    },
    Item {
        kind: "THROTTLE",
        type_name: "Throttle",
        defined_in: "functions/api/src/records.rs",
        partition: Partition::Global,
        holds: "recent sign-in failures of an account (by SHA-256 of the e-mail) or a source address",
        personal: &["key (ip:<address>)"],
        sealed: &[],
        blind_indexed: &[],
        retention: "TTL: end of the failure window or lock-out",
        used_by: &["api"],
        erasure: "expires by TTL",
    },
    Item {
        kind: "COUNTER",
        type_name: "Counter",
        defined_in: "functions/api/src/records.rs",
        partition: Partition::Global,
        holds: "a rate limit's count in its window (sign-ups and resets per source address, their mails per address by SHA-256, verification resends per user) or a cap's (client workspaces per agency and per account)",
        personal: &["key (ip:<address>, user id)"],
        sealed: &[],
        blind_indexed: &[],
        retention: "TTL: end of the rate limit's window; caps until deleted",
        used_by: &["api"],
        erasure: "rate limits expire by TTL; an agency's cap is deleted with the workspace (workspace_id), an account's stays (a user id)",
    },
    Item {
        kind: "SIGNUP",
        type_name: "PendingSignup",
        defined_in: "functions/api/src/records.rs",
        partition: Partition::Global,
        holds: "a sign-up waiting for its address to be verified, found by the SHA-256 of the mailed token; no account or workspace exists until then",
        personal: &["email", "name", "workspace_name"],
        sealed: &[],
        blind_indexed: &[],
        retention: "TTL: 24 hours (VERIFICATION_LIFETIME); deleted when used",
        used_by: &["api"],
        erasure: "expires by TTL",
    },
    Item {
        kind: "EMAILTOKEN",
        type_name: "EmailToken",
        defined_in: "functions/api/src/records.rs",
        partition: Partition::Global,
        holds: "a single-use link mailed to a user (verify the address, reset the password), found by the SHA-256 of its token",
        personal: &["email", "user_id"],
        sealed: &[],
        blind_indexed: &[],
        retention: "TTL: 24 hours to verify, 1 hour to reset; deleted when used",
        used_by: &["api"],
        erasure: "expires by TTL",
    },
    Item {
        kind: "DELETION",
        type_name: "PendingDeletion",
        defined_in: "shared/aws/src/deletion/mod.rs",
        partition: Partition::Global,
        holds: "a scheduled workspace deletion: workspace, its KMS key id, due date, who asked (listed by due date in gsi1)",
        personal: &["requested_by"],
        sealed: &[],
        blind_indexed: &[],
        retention: "until the deletion is done or cancelled",
        used_by: &["api", "housekeeping"],
        erasure: "deleted by housekeeping as the last step of the workspace's deletion",
    },
    Item {
        kind: "COMPANY",
        type_name: "CachedCompany",
        defined_in: "shared/aws/src/global.rs",
        partition: Partition::Global,
        holds: "cross-tenant cache of public company facts, depersonalised (no team, only role addresses)",
        personal: &[],
        sealed: &[],
        blind_indexed: &[],
        retention: "TTL: 30 days (COMPANY_CACHE_TTL)",
        used_by: &["enrich"],
        erasure: "nothing personal; expires by TTL",
    },
    Item {
        kind: "UNSUB",
        type_name: "UnsubscribeLink",
        defined_in: "shared/aws/src/outreach/mod.rs",
        partition: Partition::Global,
        holds: "an unsubscribe or reply token's workspace, enrollment and contact, found by the token's hash",
        personal: &["contact_id", "enrollment_id"],
        sealed: &[],
        blind_indexed: &["email_index"],
        retention: UNTIL_DELETED,
        used_by: &["api", "inbound", "feedback"],
        erasure: "deleted with its enrollment",
    },
    Item {
        kind: "DOMAINCLAIM",
        type_name: "DomainClaim",
        defined_in: "shared/aws/src/global.rs",
        partition: Partition::Global,
        holds: "a sending domain and the one workspace that proved it controls it (DNS TXT)",
        personal: &[],
        sealed: &[],
        blind_indexed: &[],
        retention: UNTIL_DELETED,
        used_by: &["api"],
        erasure: "deleted when the workspace gives the domain up; deleted with the workspace",
    },
    Item {
        kind: "AUDITKEY",
        type_name: "AuditAnchorKey",
        defined_in: "shared/aws/src/audit.rs",
        partition: Partition::Global,
        holds: "the platform's audit anchor key, which MACs every audit entry and checkpoint",
        personal: &[],
        sealed: &["sealed (platform key, purpose audit-anchor)"],
        blind_indexed: &[],
        retention: UNTIL_DELETED,
        used_by: &["api", "housekeeping"],
        erasure: "nothing personal; kept while any trail it anchors is",
    },
    Item {
        kind: "POISON",
        type_name: "PoisonJob",
        defined_in: "shared/aws/src/worker.rs",
        partition: Partition::Global,
        holds: "a queue message a worker acknowledged because it can never succeed: function, message id, reason, the body's SHA-256 and size (not the body)",
        personal: &["reason (may quote a value of the job)"],
        sealed: &[],
        blind_indexed: &[],
        retention: "TTL: 14 days (POISON_RETENTION, as long as a dead-letter queue keeps a message)",
        used_by: &["classify", "enrich", "send", "feedback", "housekeeping"],
        erasure: "expires by TTL; holds no contact id to erase by",
    },
    Item {
        kind: "AUDITCHECKPOINT",
        type_name: "tern_security::audit::AuditCheckpoint (via AuditLog)",
        defined_in: "shared/aws/src/audit.rs",
        partition: Partition::Audit,
        holds: "where the workspace's audit trail must be intact from (first entry outliving the next days, the head), MACed",
        personal: &[],
        sealed: &[],
        blind_indexed: &[],
        retention: UNTIL_DELETED,
        used_by: &["housekeeping (writes it daily before entries expire)", "api (verification starts from it)"],
        erasure: WORKSPACE_ERASURE,
    },
    Item {
        kind: "SENDINGDOMAIN",
        type_name: "SendingDomain",
        defined_in: "shared/aws/src/entities.rs",
        partition: Partition::Workspace,
        holds: "a sending domain the workspace asked to use: its DNS challenge token, when it was proven",
        personal: &[],
        sealed: &[],
        blind_indexed: &[],
        retention: UNTIL_DELETED,
        used_by: &["api"],
        erasure: WORKSPACE_ERASURE,
    },
];

/// Every prefix of the data bucket (SSE-KMS with the platform key by default,
/// versioned; non-current versions expire after 30 days unless a rule says less).
pub const OBJECTS: &[Object] = &[
    Object {
        prefix: "inbound/",
        holds: "raw received e-mail (`inbound/<ws>/<id>.eml`), waiting for classification",
        personal: "everything in the message: addresses, names, body, attachments",
        encryption: "SSE-KMS with the workspace's own key",
        retention: "deleted by classify once classified; lifecycle deletes leftovers after 2 days, old versions after 1",
        used_by: &["inbound", "feedback", "classify"],
    },
    Object {
        prefix: "ses-inbound/",
        holds: "raw e-mail as SES receipt rules write it, before its workspace is known",
        personal: "everything in the message",
        encryption: "SSE-KMS with the platform key (bucket default)",
        retention: "deleted by feedback once re-stored under inbound/; lifecycle 2 days, old versions 1",
        used_by: &["feedback"],
    },
    Object {
        prefix: "attachments/",
        holds: "template attachments (`attachments/<ws>/<id>`)",
        personal: "whatever the workspace uploads",
        encryption: "SSE-KMS with the workspace's own key",
        retention: "until deleted; old versions 30 days",
        used_by: &["api", "send"],
    },
    Object {
        prefix: "exports/",
        holds: "workspace exports and subject-access exports (`exports/<ws>/<task>.zip`), fetched through 5-minute presigned URLs",
        personal: "an export's whole content (credentials withheld)",
        encryption: "SSE-KMS with the workspace's own key",
        retention: "lifecycle: 7 days (EXPORT_LIFETIME; the API refuses links after it), old versions 1",
        used_by: &["housekeeping", "api"],
    },
];

/// Every kind of queue message. Queues are SSE-KMS with the platform key; a
/// message lives until consumed, at most 4 days (SQS default) on a work queue and
/// 14 days on its dead-letter queue.
pub const MESSAGES: &[Message] = &[
    Message {
        type_name: "ClassifyJob",
        queue: "classify",
        holds: "workspace, request id, inbound message id",
        personal: "none",
        retention: "until consumed (4 days; DLQ 14 days)",
        used_by: &["inbound", "feedback", "classify"],
    },
    Message {
        type_name: "PrivacyJob",
        queue: "privacy",
        holds: "workspace, request id, privacy task id",
        personal: "none",
        retention: "until consumed (4 days; DLQ 14 days)",
        used_by: &["api", "housekeeping"],
    },
    Message {
        type_name: "EnrichJob",
        queue: "enrich",
        holds: "workspace, request id, company domain and website, monthly quota",
        personal: "none (company domains)",
        retention: "until consumed (4 days; DLQ 14 days)",
        used_by: &["api", "enrich"],
    },
    Message {
        type_name: "SendJob",
        queue: "send",
        holds: "workspace, request id, enrollment id, step",
        personal: "enrollment id (names the contact id)",
        retention: "until consumed (4 days; DLQ 14 days)",
        used_by: &["dispatch", "send"],
    },
    Message {
        type_name: "SES notification (SNS envelope)",
        queue: "feedback",
        holds: "SES bounce, complaint, delivery and receipt notifications",
        personal: "recipient and sender addresses, diagnostic text, mail headers",
        retention: "until consumed (4 days; DLQ 14 days)",
        used_by: &["feedback"],
    },
];

fn cell(values: &[&str]) -> String {
    if values.is_empty() { "—".to_string() } else { values.join("; ") }
}

/// `docs/data-inventory.md`, exactly.
pub fn render_markdown() -> String {
    let mut out = String::new();
    out.push_str("# Data inventory\n\n");
    out.push_str("<!-- Generated from shared/aws/src/inventory.rs; do not edit by hand.\n");
    out.push_str("     Regenerate: UPDATE_INVENTORY=1 cargo test -p tern-aws inventory -->\n\n");
    out.push_str("What Tern stores, where, for how long, and who reads it. Generated from the code's own\n");
    out.push_str("inventory (`shared/aws/src/inventory.rs`); `cargo test -p tern-aws inventory` fails when an\n");
    out.push_str("item type, job or bucket prefix is added without an entry, or when this file is stale.\n");
    out.push_str("Regenerate it with `UPDATE_INVENTORY=1 cargo test -p tern-aws inventory`.\n\n");
    out.push_str("- **Sealed** fields are envelope-encrypted (AES-256-GCM, data key from KMS) with the workspace's\n");
    out.push_str("  own KMS key unless the entry says otherwise; only the function that needs the clear value opens it.\n");
    out.push_str("- **Blind-indexed** fields hold an HMAC of a normalised e-mail address under the workspace's\n");
    out.push_str("  sealed blind-index key, never the address.\n");
    out.push_str("- The whole table is encrypted at rest with the platform KMS key, has point-in-time recovery\n");
    out.push_str("  (35 days) and a TTL on `expires_at`; TTL deletion takes effect within a few days of expiry.\n");
    out.push_str("- **Retention windows** are the workspace's (`PATCH /v1/workspaces/{ws}` `retention`, admins and\n");
    out.push_str("  owners): `email_bodies` (INBOUNDTEXT; default and ceiling: the metadata window), `contact_notes`\n");
    out.push_str("  (CONTACTNOTE; default: until deleted), `inbound_metadata` (INBOUND; default 60 days), `logs` (SEND,\n");
    out.push_str("  finished PRIVACYTASK; at least 30 days; default: while the workspace exists) and `audit` (AUDIT;\n");
    out.push_str("  at least 400 days, the default). Items get their TTL from the window when written; shortening a\n");
    out.push_str("  window queues a privacy task in which housekeeping brings existing items' TTL forward and deletes\n");
    out.push_str("  those already past it (audit entries only get the earlier TTL); lengthening applies to new items.\n");
    out.push_str("- Platform logs (each function's CloudWatch log group, template.yaml) are kept 30 days, whatever\n");
    out.push_str("  the workspace's windows; they carry ids and errors, never secrets or message text.\n");
    out.push_str("- **Erasure** says what erasing a person or deleting a workspace does with the kind. A workspace\n");
    out.push_str("  export writes every kind of the workspace's collection partition as stored (sealed credentials\n");
    out.push_str("  withheld); a person's access export holds what erasure would remove.\n");
    out.push_str("  A restore from point-in-time recovery brings back erased items; see the README's Operations.\n\n");

    out.push_str("## Table items\n\n");
    for partition in [Partition::Workspace, Partition::Audit, Partition::Global] {
        for item in ITEMS.iter().filter(|i| i.partition == partition) {
            out.push_str(&format!("### `{}` — {}\n\n", item.kind, item.type_name));
            out.push_str(&format!("{}.\n\n", capitalise(item.holds)));
            out.push_str("| | |\n|---|---|\n");
            out.push_str(&format!("| partition | {} |\n", item.partition.label()));
            out.push_str(&format!("| defined in | `{}` |\n", item.defined_in));
            out.push_str(&format!("| personal data | {} |\n", cell(item.personal)));
            out.push_str(&format!("| sealed | {} |\n", cell(item.sealed)));
            out.push_str(&format!("| blind-indexed | {} |\n", cell(item.blind_indexed)));
            out.push_str(&format!("| retention | {} |\n", item.retention));
            out.push_str(&format!("| used by | {} |\n", cell(item.used_by)));
            out.push_str(&format!("| erasure | {} |\n\n", item.erasure));
        }
    }

    out.push_str("## Objects (data bucket)\n\n");
    out.push_str("The bucket is versioned and SSE-KMS; non-current versions expire after 30 days unless a rule says less.\n\n");
    out.push_str("| prefix | holds | personal data | encryption | retention | used by |\n|---|---|---|---|---|---|\n");
    for o in OBJECTS {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            o.prefix,
            o.holds,
            o.personal,
            o.encryption,
            o.retention,
            cell(o.used_by)
        ));
    }
    out.push('\n');

    out.push_str("## Queue messages\n\n");
    out.push_str("Queues are SSE-KMS with the platform key.\n\n");
    out.push_str("| message | queue | holds | personal data | retention | used by |\n|---|---|---|---|---|---|\n");
    for m in MESSAGES {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            m.type_name,
            m.queue,
            m.holds,
            m.personal,
            m.retention,
            cell(m.used_by)
        ));
    }
    out
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::global::GlobalKind;
    use crate::table::Entity;
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    fn repository_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
    }

    fn entry(kind: &str, partition: Partition) -> Option<&'static Item> {
        ITEMS.iter().find(|i| i.kind == kind && i.partition == partition)
    }

    /// Every variant, by an exhaustive match: a new variant does not compile until
    /// it is listed here, and then fails below until it has an inventory entry.
    fn all_global_kinds() -> Vec<GlobalKind> {
        let every = [
            GlobalKind::User,
            GlobalKind::Email,
            GlobalKind::Session,
            GlobalKind::ApiKey,
            GlobalKind::Invite,
            GlobalKind::Throttle,
            GlobalKind::Company,
            GlobalKind::Unsubscribe,
            GlobalKind::PendingDeletion,
            GlobalKind::DomainClaim,
            GlobalKind::Counter,
            GlobalKind::PendingSignup,
            GlobalKind::EmailToken,
            GlobalKind::AuditAnchorKey,
            GlobalKind::PoisonJob,
        ];
        for kind in every {
            match kind {
                GlobalKind::User
                | GlobalKind::Email
                | GlobalKind::Session
                | GlobalKind::ApiKey
                | GlobalKind::Invite
                | GlobalKind::Throttle
                | GlobalKind::Company
                | GlobalKind::Unsubscribe
                | GlobalKind::PendingDeletion
                | GlobalKind::DomainClaim
                | GlobalKind::Counter
                | GlobalKind::PendingSignup
                | GlobalKind::EmailToken
                | GlobalKind::AuditAnchorKey
                | GlobalKind::PoisonJob => {}
            }
        }
        every.to_vec()
    }

    #[test]
    fn inventory_covers_every_global_kind() {
        for kind in all_global_kinds() {
            assert!(
                entry(kind.prefix(), Partition::Global).is_some(),
                "GlobalKind::{kind:?} ({}) has no entry in inventory::ITEMS",
                kind.prefix()
            );
        }
    }

    #[test]
    fn inventory_covers_this_crates_entities() {
        use crate::entities::*;
        use crate::inbound::InboundWebhookCredential;
        use crate::llm::LlmSettings;
        use crate::outreach::*;
        use tern_domain::inbound::InboundMessage;
        let kinds = [
            Workspace::KIND,
            InboundMessage::KIND,
            Enrichment::KIND,
            EnrichmentUsage::KIND,
            IdealCustomerSettings::KIND,
            Contact::KIND,
            ContactByEmail::KIND,
            Suppression::KIND,
            TemplateRecord::KIND,
            AttachmentRecord::KIND,
            Mailbox::KIND,
            Sequence::KIND,
            EnrollmentRecord::KIND,
            SendRecord::KIND,
            SendCounter::KIND,
            WorkspaceSecrets::KIND,
            LlmSettings::KIND,
            InboundWebhookCredential::KIND,
            SendingDomain::KIND,
        ];
        for kind in kinds {
            assert!(entry(kind, Partition::Workspace).is_some(), "Entity kind {kind} has no entry in inventory::ITEMS");
        }
    }

    #[test]
    fn inventory_entries_are_unique_and_filled_in() {
        let mut seen = BTreeSet::new();
        for item in ITEMS {
            assert!(seen.insert((item.kind, item.partition.label())), "{} is listed twice", item.kind);
            for (what, value) in
                [("holds", item.holds), ("retention", item.retention), ("erasure", item.erasure), ("defined_in", item.defined_in)]
            {
                assert!(!value.trim().is_empty(), "{}: {what} is empty", item.kind);
            }
            assert!(!item.used_by.is_empty(), "{}: used_by is empty", item.kind);
            let file = item.defined_in.split(' ').next().unwrap_or_default();
            assert!(repository_root().join(file).is_file(), "{}: defined_in {file} does not exist", item.kind);
        }
    }

    /// A type that implements `Entity` or `GlobalRecord` somewhere in the source tree.
    #[derive(Debug)]
    struct Found {
        type_name: String,
        kind: String,
        partition: Partition,
        file: PathBuf,
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if !matches!(name.as_ref(), "target" | "fuzz" | ".git" | ".venv" | "node_modules") {
                    rust_files(&path, out);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }

    /// Scans `impl Entity for T` / `impl GlobalRecord for T` and the `const KIND`
    /// that follows, in every crate of the workspace.
    fn scan_item_types() -> Vec<Found> {
        let root = repository_root();
        let mut files = Vec::new();
        for dir in ["shared", "functions", "infra", "tests"] {
            rust_files(&root.join(dir), &mut files);
        }
        let mut found = Vec::new();
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else { continue };
            let lines: Vec<&str> = text.lines().collect();
            for (n, line) in lines.iter().enumerate() {
                let trimmed = line.trim_start();
                let (partition, rest) = if let Some(rest) = trimmed.strip_prefix("impl Entity for ") {
                    (Partition::Workspace, rest)
                } else if let Some(rest) = trimmed.strip_prefix("impl crate::table::Entity for ") {
                    (Partition::Workspace, rest)
                } else if let Some(rest) = trimmed.strip_prefix("impl tern_aws::table::Entity for ") {
                    (Partition::Workspace, rest)
                } else if let Some(rest) = trimmed.strip_prefix("impl GlobalRecord for ") {
                    (Partition::Global, rest)
                } else if let Some(rest) = trimmed.strip_prefix("impl tern_aws::global::GlobalRecord for ") {
                    (Partition::Global, rest)
                } else {
                    continue;
                };
                let type_name = rest.trim_end_matches('{').trim().to_string();
                let kind_line = lines[n + 1..].iter().take(8).find(|l| l.contains("const KIND"));
                let relative = file.strip_prefix(&root).unwrap_or(&file).to_path_buf();
                let kind_line = kind_line
                    .unwrap_or_else(|| panic!("{}: impl for {type_name} without a `const KIND` in the next lines", relative.display()));
                let kind = match partition {
                    Partition::Global => {
                        let variant = kind_line.split("GlobalKind::").nth(1).unwrap_or_default().trim_end_matches(';').trim();
                        all_global_kinds()
                            .into_iter()
                            .find(|k| format!("{k:?}") == variant)
                            .map(|k| k.prefix().to_string())
                            .unwrap_or_else(|| panic!("{}: {type_name} has GlobalKind::{variant}, unknown here", relative.display()))
                    }
                    _ => kind_line
                        .split('"')
                        .nth(1)
                        .unwrap_or_else(|| panic!("{}: {type_name}'s KIND is not a literal", relative.display()))
                        .to_string(),
                };
                found.push(Found { type_name, kind, partition, file: relative });
            }
        }
        found
    }

    #[test]
    fn inventory_covers_every_item_type_in_the_source_tree() {
        let found = scan_item_types();
        assert!(found.len() >= 25, "the scan found only {} item types: is it looking in the right place?", found.len());
        let mut missing = Vec::new();
        for f in &found {
            match entry(&f.kind, f.partition) {
                None => missing.push(format!("{} (kind {}, {}) in {}", f.type_name, f.kind, f.partition.label(), f.file.display())),
                Some(item) => assert!(
                    item.type_name.starts_with(&f.type_name),
                    "inventory entry {} names type {}, but {} implements it in {}",
                    item.kind,
                    item.type_name,
                    f.type_name,
                    f.file.display()
                ),
            }
        }
        assert!(missing.is_empty(), "item types without an entry in shared/aws/src/inventory.rs ITEMS:\n  {}", missing.join("\n  "));
        // And no stale entries: every listed kind (but the audit log's) is implemented somewhere.
        for item in ITEMS.iter().filter(|i| i.partition != Partition::Audit) {
            assert!(
                found.iter().any(|f| f.kind == item.kind && f.partition == item.partition),
                "inventory lists {} ({}) but no type implements it any more",
                item.kind,
                item.partition.label()
            );
        }
    }

    #[test]
    fn inventory_covers_every_job_type() {
        let jobs = include_str!("../../domain/src/jobs.rs");
        for line in jobs.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("pub struct ") {
                let name = rest.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or_default();
                assert!(
                    MESSAGES.iter().any(|m| m.type_name == name),
                    "job type {name} (shared/domain/src/jobs.rs) has no entry in inventory::MESSAGES"
                );
            }
        }
    }

    #[test]
    fn inventory_covers_every_object_prefix() {
        let workspace = tern_domain::ids::WorkspaceId::parse("0190a3c4-0000-7000-8000-000000000000").expect("a workspace id");
        let mut keys = vec![
            crate::bucket::Object::Attachment("id").key(workspace),
            crate::inbound::SES_INBOUND_PREFIX.to_string(),
            crate::inbound::raw_object_key(workspace, "id"),
        ];
        // Every lifecycle rule's prefix in template.yaml.
        let template = include_str!("../../../template.yaml");
        keys.extend(template.lines().filter_map(|l| l.trim().strip_prefix("Prefix: ")).map(|p| p.trim().to_string()));
        for key in keys {
            assert!(OBJECTS.iter().any(|o| key.starts_with(o.prefix)), "S3 key {key} is under no prefix in inventory::OBJECTS");
        }
    }

    #[test]
    fn inventory_document_is_current() {
        let path = repository_root().join("docs/data-inventory.md");
        let generated = render_markdown();
        if std::env::var_os("UPDATE_INVENTORY").is_some() {
            std::fs::write(&path, &generated).expect("write docs/data-inventory.md");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/data-inventory.md differs from what shared/aws/src/inventory.rs generates; run `UPDATE_INVENTORY=1 cargo test -p tern-aws inventory` and commit it"
        );
    }
}
