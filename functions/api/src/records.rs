//! What the API stores: the identity records (global, see `tern_aws::global`) and
//! the workspace items (behind a workspace scope).

use serde::{Deserialize, Serialize};
use tern_aws::global::{GlobalKind, GlobalRecord};
use tern_aws::sealing::SealedValue;
use tern_aws::table::Entity;
use tern_security::api_key::Scope;
use tern_security::roles::Role;
use tern_security::throttle::FailureRecord;
use tern_security::token::RefreshFamily;

/// A person who can sign in. Belongs to workspaces through [`Member`] items.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub created_at: i64,
    /// Workspaces the user belongs to, for choosing one at sign-in.
    #[serde(default)]
    pub workspaces: Vec<String>,
    /// The TOTP secret, sealed under the platform key; `Some` once 2FA is on.
    #[serde(default)]
    pub totp: Option<SealedValue>,
    /// A secret handed out by 2FA setup and not yet confirmed with a code.
    #[serde(default)]
    pub totp_pending: Option<SealedValue>,
    /// The last TOTP time step accepted (0: none yet), so a code cannot be replayed.
    /// A number, not an option, so a conditional write can compare it.
    #[serde(default)]
    pub totp_last_step: u64,
    /// SHA-256 (hex) of the unused recovery codes.
    #[serde(default)]
    pub recovery_hashes: Vec<String>,
    /// Tern staff who may look at workspaces for support (read-only metadata).
    #[serde(default)]
    pub platform_support: bool,
    /// When the address was proven by a mailed link; until then the account can do
    /// nothing in a workspace (accounts from before verification existed start unverified).
    #[serde(default)]
    pub email_verified_at: Option<i64>,
    /// Bumped by every write: whole-item writes are conditional on the version they
    /// read (`crate::users::update`), so concurrent changes are never lost.
    #[serde(default)]
    pub version: u64,
}

impl User {
    pub fn new(id: String, email: String, name: String, password_hash: String, created_at: i64, workspace: String) -> Self {
        Self {
            id,
            email,
            name,
            password_hash,
            created_at,
            workspaces: vec![workspace],
            totp: None,
            totp_pending: None,
            totp_last_step: 0,
            recovery_hashes: Vec::new(),
            platform_support: false,
            email_verified_at: None,
            version: 0,
        }
    }

    pub fn has_two_factor(&self) -> bool {
        self.totp.is_some()
    }
}

impl GlobalRecord for User {
    const KIND: GlobalKind = GlobalKind::User;
    fn key(&self) -> String {
        self.id.clone()
    }
}

/// Sign-in finds a user by e-mail before any workspace is known.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailLookup {
    pub email: String,
    pub user_id: String,
}

impl GlobalRecord for EmailLookup {
    const KIND: GlobalKind = GlobalKind::Email;
    fn key(&self) -> String {
        self.email.clone()
    }
}

/// One signed-in device: a refresh-token family and what the user sees of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The refresh family's id.
    pub id: String,
    pub user_id: String,
    /// The workspace the session acts in by default.
    pub workspace_id: String,
    /// Mirror of `family.current_hash`, top-level so a rotation can be a
    /// conditional write on it (two concurrent refreshes: one wins).
    pub current_hash: String,
    pub family: RefreshFamily,
    pub device: Option<String>,
    pub ip: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// Signed in with a second factor (or turned 2FA on during the session).
    #[serde(default)]
    pub two_factor: bool,
    /// The account's address was verified when the session started (otherwise each
    /// request looks at the account, to see a verification made since).
    #[serde(default)]
    pub email_verified: bool,
}

impl GlobalRecord for Session {
    const KIND: GlobalKind = GlobalKind::Session;
    fn key(&self) -> String {
        self.id.clone()
    }
    fn gsi1(&self) -> Option<(String, String)> {
        Some((format!("USER#{}", self.user_id), format!("SESSION#{}", self.id)))
    }
}

/// Recent sign-in failures for an account or a source address.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Throttle {
    /// `account:<sha256 of e-mail>` or `ip:<address>`.
    pub key: String,
    pub record: FailureRecord,
    /// Bumped by every write; each write is conditional on it (`crate::attempts`).
    #[serde(default)]
    pub version: u64,
}

impl GlobalRecord for Throttle {
    const KIND: GlobalKind = GlobalKind::Throttle;
    fn key(&self) -> String {
        self.key.clone()
    }
}

/// A pending invitation; found by the hash of the token in the link.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invite {
    pub token_hash: String,
    pub workspace_id: String,
    pub email: String,
    pub role: Role,
    pub invited_by: String,
    pub expires_at: i64,
}

impl GlobalRecord for Invite {
    const KIND: GlobalKind = GlobalKind::Invite;
    fn key(&self) -> String {
        self.token_hash.clone()
    }
}

pub use tern_aws::entities::Workspace;
pub use tern_domain::plan::Plan;

/// A user's membership and role in a workspace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub joined_at: i64,
}

impl Entity for Member {
    const KIND: &'static str = "MEMBER";
    const COLLECTION: bool = true;
    fn id(&self) -> &str {
        &self.user_id
    }
}

/// An API key's settings; the key itself is shown once and never stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKey {
    /// The key's visible prefix.
    pub id: String,
    pub name: String,
    pub scopes: std::collections::BTreeSet<Scope>,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The creating session had passed a second factor: where the workspace
    /// requires 2FA, only such keys work (keys stored before this field: false).
    #[serde(default)]
    pub created_with_2fa: bool,
}

impl Entity for ApiKey {
    const KIND: &'static str = "APIKEY";
    const COLLECTION: bool = true;
    fn id(&self) -> &str {
        &self.id
    }
}

/// Finds a presented API key's workspace by the key's hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKeyLookup {
    pub hash: String,
    pub workspace_id: String,
    pub key_id: String,
}

impl GlobalRecord for ApiKeyLookup {
    const KIND: GlobalKind = GlobalKind::ApiKey;
    fn key(&self) -> String {
        self.hash.clone()
    }
}

/// The count behind a rate limit or a cap (see [`crate::limits`]), changed only by
/// conditional increments so concurrent requests cannot pass the limit together.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Counter {
    /// `<limit>:<subject>` (a cap) or `<limit>:<subject>:<window>` (a rate limit).
    pub key: String,
    pub count: u64,
    /// The workspace a cap belongs to (an agency's client workspaces), so deleting
    /// the workspace deletes its count.
    #[serde(default)]
    pub workspace_id: Option<String>,
}

impl GlobalRecord for Counter {
    const KIND: GlobalKind = GlobalKind::Counter;
    fn key(&self) -> String {
        self.key.clone()
    }
}

/// A sign-up waiting for its address to be verified. Nothing else exists until the
/// link is used: no account, no workspace, no KMS key, no claim on the address (so a
/// stranger's sign-up with someone's address never locks its owner out).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSignup {
    /// SHA-256 (hex) of the token in the mailed link.
    pub token_hash: String,
    pub email: String,
    pub name: String,
    /// argon2id PHC string of the password chosen at sign-up.
    pub password_hash: String,
    pub workspace_name: String,
    pub timezone: String,
    pub locale: String,
    #[serde(default)]
    pub remember_me: bool,
    pub expires_at: i64,
}

impl GlobalRecord for PendingSignup {
    const KIND: GlobalKind = GlobalKind::PendingSignup;
    fn key(&self) -> String {
        self.token_hash.clone()
    }
}

/// What a mailed link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailTokenPurpose {
    VerifyEmail,
    PasswordReset,
}

/// A single-use link mailed to a user; only its hash is stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailToken {
    /// SHA-256 (hex) of the token in the link.
    pub token_hash: String,
    pub purpose: EmailTokenPurpose,
    pub user_id: String,
    /// The address it was sent to: verifying proves this one, not a later one.
    pub email: String,
    pub expires_at: i64,
}

impl GlobalRecord for EmailToken {
    const KIND: GlobalKind = GlobalKind::EmailToken;
    fn key(&self) -> String {
        self.token_hash.clone()
    }
}
