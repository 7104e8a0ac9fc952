//! What the API stores: the identity records (global, see `tern_aws::global`) and
//! the workspace items (behind a workspace scope).

use serde::{Deserialize, Serialize};
use tern_aws::global::{GlobalKind, GlobalRecord};
use tern_aws::table::Entity;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Trial,
    Starter,
    Growth,
    Pro,
    Agency,
    Enterprise,
}

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
}

impl Entity for Workspace {
    const KIND: &'static str = "WORKSPACE";
    fn id(&self) -> &str {
        &self.id
    }
}

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
