//! API keys for the public API, and their scopes.
//!
//! A key looks like `tern_<prefix>_<secret>`: an 8-character visible prefix
//! (`[a-z0-9]`, shown in the UI and logs to tell keys apart, not secret) and
//! 32 random bytes as base64url. Stored: the prefix and the SHA-256 of the whole
//! key (the secret has 256 bits of entropy, so a fast hash is enough). The
//! global lookup is by hash.
//!
//! Each API route needs one exact scope (the API's route table says which); a
//! key reaches a route only when it holds that scope AND its creator's current
//! role has the route's permission, so a key never does more than the person
//! who made it could — even after that person is demoted.
//!
//! Some scopes are for no key at all ([`Scope::required_permission`] is `None`):
//! managing people and keys (`members:write`, `api_keys:*`), workspace settings
//! (`workspace:write`) and writing the audit log. Those routes take a signed-in
//! session, so a leaked key can never mint keys, invite an owner or switch off
//! a security setting. The names still parse, so keys made before this rule
//! keep loading (and reach nothing with them).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::digest::{digest32, sha256};
use crate::rng::{self, RngError};
use crate::roles::{Permission, Role};
use crate::secret::SecretString;
use crate::token::{OpaqueToken, TOKEN_LEN};

/// Fixed start of every key (also lets secret scanners recognise leaked keys).
pub const KEY_PREFIX: &str = "tern_";
/// Length of the visible prefix.
pub const PREFIX_LEN: usize = 8;
const PREFIX_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

digest32!(
    /// SHA-256 of the full key text (what is stored and looked up).
    ApiKeyHash
);

/// A newly created key: show `key` once; store `prefix` and `hash`.
#[derive(Debug)]
pub struct NewApiKey {
    /// The full key. Redacted in logs.
    pub key: SecretString,
    /// Visible prefix.
    pub prefix: String,
    /// Hash to store.
    pub hash: ApiKeyHash,
}

/// Generate a key.
pub fn generate() -> Result<NewApiKey, RngError> {
    let prefix = rng::string_from_alphabet(PREFIX_ALPHABET, PREFIX_LEN)?;
    let secret = OpaqueToken::generate()?;
    let key = SecretString::new(format!("{KEY_PREFIX}{prefix}_{}", secret.expose()));
    let hash = ApiKeyHash::from_bytes(sha256(key.expose().as_bytes()));
    Ok(NewApiKey { key, prefix, hash })
}

/// A presented key, checked for shape.
#[derive(Debug)]
pub struct PresentedApiKey {
    /// Its visible prefix (safe to log).
    pub prefix: String,
    /// Hash to look up.
    pub hash: ApiKeyHash,
}

/// Why a presented key string was rejected. Messages are safe to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyParseError {
    /// Does not start with `tern_`.
    #[error("API keys start with \"tern_\"")]
    MissingPrefix,
    /// The 8-character prefix is missing or has other characters.
    #[error("API key prefix must be 8 lowercase letters or digits")]
    BadPrefix,
    /// The secret part is missing or not 43 base64url characters.
    #[error("API key is truncated or has invalid characters")]
    BadSecret,
}

/// Parse a presented key (e.g. from `Authorization: Bearer …`).
pub fn parse(presented: &str) -> Result<PresentedApiKey, ApiKeyParseError> {
    let presented = presented.trim();
    let rest = presented.strip_prefix(KEY_PREFIX).ok_or(ApiKeyParseError::MissingPrefix)?;
    // The prefix alphabet has no '_', so the first '_' ends it; the secret itself
    // may contain '_' (base64url).
    let (prefix, secret) = rest.split_once('_').ok_or(ApiKeyParseError::BadPrefix)?;
    if prefix.len() != PREFIX_LEN || !prefix.bytes().all(|b| PREFIX_ALPHABET.contains(&b)) {
        return Err(ApiKeyParseError::BadPrefix);
    }
    if secret.len() != TOKEN_LEN || OpaqueToken::parse(secret).is_err() {
        return Err(ApiKeyParseError::BadSecret);
    }
    Ok(PresentedApiKey { prefix: prefix.to_owned(), hash: ApiKeyHash::from_bytes(sha256(presented.as_bytes())) })
}

/// Resource types a key can be scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// Contacts.
    Contacts,
    /// Companies.
    Companies,
    /// Templates.
    Templates,
    /// Sequences and enrollments.
    Sequences,
    /// Sending mailboxes.
    Mailboxes,
    /// Workspace members.
    Members,
    /// API keys.
    ApiKeys,
    /// Audit log.
    Audit,
    /// Data exports.
    Exports,
    /// The workspace's own settings (name, plan, time zone, ideal customer, usage).
    Workspace,
    /// Received mail (replies, bounces) and what was made of it.
    Inbound,
}

impl Resource {
    /// Every resource.
    pub const ALL: [Resource; 11] = [
        Resource::Contacts,
        Resource::Companies,
        Resource::Templates,
        Resource::Sequences,
        Resource::Mailboxes,
        Resource::Members,
        Resource::ApiKeys,
        Resource::Audit,
        Resource::Exports,
        Resource::Workspace,
        Resource::Inbound,
    ];

    const fn name(self) -> &'static str {
        match self {
            Resource::Contacts => "contacts",
            Resource::Companies => "companies",
            Resource::Templates => "templates",
            Resource::Sequences => "sequences",
            Resource::Mailboxes => "mailboxes",
            Resource::Members => "members",
            Resource::ApiKeys => "api_keys",
            Resource::Audit => "audit",
            Resource::Exports => "exports",
            Resource::Workspace => "workspace",
            Resource::Inbound => "inbound",
        }
    }
}

/// One scope. Text form: `contacts:read`, `contacts:write`, …, and `send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Read a resource type.
    Read(Resource),
    /// Create, change, delete a resource type. Does not imply `Read`: keys get
    /// exactly what is listed.
    Write(Resource),
    /// Send e-mail. Separate from `sequences:write` because sending is the
    /// action with external consequences.
    Send,
}

impl Scope {
    /// Every scope, including those no key may hold.
    pub fn all() -> impl Iterator<Item = Scope> {
        Resource::ALL.into_iter().flat_map(|r| [Scope::Read(r), Scope::Write(r)]).chain([Scope::Send])
    }

    /// The scopes a key may be given.
    pub fn for_keys() -> impl Iterator<Item = Scope> {
        Scope::all().filter(|s| s.required_permission().is_some())
    }

    /// The role permission needed to hold this scope: at least what every route
    /// taking the scope needs (the API's route table is checked against this).
    /// `None`: no key may hold it; those routes are for signed-in people only
    /// (people and keys, settings, the audit log is never written through the API).
    pub const fn required_permission(self) -> Option<Permission> {
        use Permission as P;
        use Resource as R;
        Some(match self {
            Scope::Send => P::Send,
            // Enrichments are companies; both are contact data.
            Scope::Read(R::Contacts | R::Companies | R::Inbound) => P::ReadContacts,
            Scope::Write(R::Contacts | R::Companies) => P::WriteContacts,
            // Sequences include their enrollments and delivery log: contact data.
            Scope::Read(R::Sequences) => P::ReadContacts,
            // Templates are outbound message bodies.
            Scope::Read(R::Templates) => P::ReadMessageBodies,
            Scope::Read(R::Mailboxes | R::Members | R::Workspace) => P::ReadWorkspace,
            Scope::Write(R::Templates) => P::ManageTemplates,
            Scope::Write(R::Sequences) => P::ManageSequences,
            Scope::Write(R::Mailboxes) => P::ManageMailboxes,
            Scope::Read(R::Audit) => P::ReadAudit,
            Scope::Read(R::Exports) | Scope::Write(R::Exports) => P::Export,
            Scope::Write(R::Members | R::Workspace | R::Audit | R::Inbound) | Scope::Read(R::ApiKeys) | Scope::Write(R::ApiKeys) => {
                return None;
            }
        })
    }

    /// What the scope lets a key do, for people choosing scopes (the OpenAPI document).
    pub const fn description(self) -> &'static str {
        use Resource as R;
        match self {
            Scope::Send => "Enroll contacts in sequences, which sends e-mail.",
            Scope::Read(R::Contacts) => "Read contacts and suppressions.",
            Scope::Write(R::Contacts) => "Create, change and delete contacts, their first lines and notes, and suppressions.",
            Scope::Read(R::Companies) => "Read company enrichments.",
            Scope::Write(R::Companies) => "Request company enrichments.",
            Scope::Read(R::Templates) => "Read templates (outbound message bodies).",
            Scope::Write(R::Templates) => "Create, change and delete templates and attachments.",
            Scope::Read(R::Sequences) => "Read sequences, enrollments and the delivery log.",
            Scope::Write(R::Sequences) => "Create and change sequences, act on enrollments, resolve sends.",
            Scope::Read(R::Mailboxes) => "Read sending mailboxes (never their credentials).",
            Scope::Write(R::Mailboxes) => "Connect, change and remove mailboxes and the inbound webhook credential.",
            Scope::Read(R::Members) => "Read the member list.",
            Scope::Read(R::Audit) => "Read and verify the audit trail.",
            Scope::Read(R::Exports) => "Export contacts and download exports.",
            Scope::Write(R::Exports) => "Start workspace exports and access-request exports.",
            Scope::Read(R::Workspace) => "Read the workspace's settings, ideal customer and usage.",
            Scope::Read(R::Inbound) => "Read received mail and what was made of it.",
            Scope::Write(R::Members | R::Workspace | R::Audit | R::Inbound) | Scope::Read(R::ApiKeys) | Scope::Write(R::ApiKeys) => {
                "Not available to API keys: sign in."
            }
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Read(r) => write!(f, "{}:read", r.name()),
            Scope::Write(r) => write!(f, "{}:write", r.name()),
            Scope::Send => f.write_str("send"),
        }
    }
}

/// An unknown scope string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?} (expected e.g. \"contacts:read\", \"sequences:write\" or \"send\")")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownScope(s.chars().take(40).collect());
        if s == "send" {
            return Ok(Scope::Send);
        }
        let (res, access) = s.split_once(':').ok_or_else(unknown)?;
        let resource = Resource::ALL.into_iter().find(|r| r.name() == res).ok_or_else(unknown)?;
        match access {
            "read" => Ok(Scope::Read(resource)),
            "write" => Ok(Scope::Write(resource)),
            _ => Err(unknown()),
        }
    }
}

impl serde::Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The scopes a key may actually use now: those it was given that its creator's
/// current role also allows.
pub fn effective_scopes(key_scopes: &BTreeSet<Scope>, creator_role: Role) -> BTreeSet<Scope> {
    key_scopes.iter().copied().filter(|s| s.required_permission().is_some_and(|p| creator_role.has(p))).collect()
}

/// The scopes requested at creation that exceed the creator's role (to reject
/// the request with a clear message instead of silently trimming).
pub fn scopes_beyond_role(requested: &BTreeSet<Scope>, creator_role: Role) -> BTreeSet<Scope> {
    requested.difference(&effective_scopes(requested, creator_role)).copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all_scopes() -> BTreeSet<Scope> {
        Scope::all().collect()
    }

    #[test]
    fn generated_keys_parse_to_the_same_hash() {
        let k = generate().unwrap();
        assert!(k.key.expose().starts_with(&format!("tern_{}_", k.prefix)));
        assert_eq!(k.key.expose().len(), 5 + 8 + 1 + 43);
        let p = parse(k.key.expose()).unwrap();
        assert_eq!(p.prefix, k.prefix);
        assert_eq!(p.hash, k.hash);
        assert_eq!(format!("{:?}", k.key), "[redacted]");
        assert_ne!(generate().unwrap().hash, k.hash);
    }

    #[test]
    fn parse_errors_are_specific() {
        let secret = "A".repeat(43);
        assert_eq!(parse("sk_live_abc").unwrap_err(), ApiKeyParseError::MissingPrefix);
        assert_eq!(parse("tern_").unwrap_err(), ApiKeyParseError::BadPrefix);
        assert_eq!(parse(&format!("tern_ABCDEFGH_{secret}")).unwrap_err(), ApiKeyParseError::BadPrefix);
        assert_eq!(parse(&format!("tern_abc_{secret}")).unwrap_err(), ApiKeyParseError::BadPrefix);
        assert_eq!(parse("tern_abcdefgh_short").unwrap_err(), ApiKeyParseError::BadSecret);
        assert_eq!(parse(&format!("tern_abcdefgh_{}", "!".repeat(43))).unwrap_err(), ApiKeyParseError::BadSecret);
        assert!(parse(&format!("tern_abcdefgh_{secret}")).is_ok());
        // A secret containing '_' is fine.
        assert!(parse(&format!("tern_abcdefgh_{}", "A_".repeat(21) + "A")).is_ok());
    }

    #[test]
    fn scope_strings_round_trip() {
        for s in all_scopes() {
            assert_eq!(s.to_string().parse::<Scope>().unwrap(), s);
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<Scope>(&json).unwrap(), s);
        }
        assert_eq!(Scope::Write(Resource::ApiKeys).to_string(), "api_keys:write");
        for bad in ["", "contacts", "contacts:delete", "users:read", "SEND", "send:read"] {
            assert!(bad.parse::<Scope>().is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_never_exceed_their_creator() {
        let all = all_scopes();
        for role in Role::ALL {
            let eff = effective_scopes(&all, role);
            for s in &eff {
                assert!(role.has(s.required_permission().unwrap()), "{role:?} {s}");
            }
            assert!(!eff.contains(&Scope::Write(Resource::Audit)));
        }
        // No role, not even the owner, can give a key power over people, keys or settings.
        let owner = effective_scopes(&all, Role::Owner);
        for never in [
            Scope::Write(Resource::Members),
            Scope::Read(Resource::ApiKeys),
            Scope::Write(Resource::ApiKeys),
            Scope::Write(Resource::Workspace),
        ] {
            assert!(!owner.contains(&never), "{never}");
            assert!(!Scope::for_keys().any(|s| s == never), "{never}");
        }
        // Support never holds a scope that reads content.
        let support = effective_scopes(&all, Role::Support);
        assert!(!support.contains(&Scope::Read(Resource::Templates)));
        assert!(!support.contains(&Scope::Read(Resource::Inbound)));
        let readonly = effective_scopes(&all, Role::Readonly);
        assert!(readonly.contains(&Scope::Read(Resource::Contacts)));
        assert!(!readonly.contains(&Scope::Send));
        assert!(!readonly.contains(&Scope::Write(Resource::Contacts)));
        let member = effective_scopes(&all, Role::Member);
        assert!(member.contains(&Scope::Send));
        assert!(!member.contains(&Scope::Read(Resource::Exports)));
        assert!(!member.contains(&Scope::Write(Resource::ApiKeys)));
        assert!(effective_scopes(&all, Role::Support).iter().all(|s| matches!(s, Scope::Read(_))));
        assert_eq!(scopes_beyond_role(&[Scope::Send, Scope::Read(Resource::Contacts)].into(), Role::Readonly), [Scope::Send].into());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,80}") {
            let _ = parse(&s);
            let _ = s.parse::<Scope>();
        }
    }
}
