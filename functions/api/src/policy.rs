//! Who may call each route: the one table of the API's access rules.
//!
//! Every documented route has a line here: public, a signed-in person, or a
//! workspace route with the role permission it needs and the one API-key scope
//! that reaches it (`None`: signed-in people only). [`crate::auth::InWorkspace`]
//! enforces the line of the route it serves (found by axum's `MatchedPath`), and
//! the OpenAPI document states it for every operation (`security`,
//! `x-tern-permission`, `x-tern-scope`), which is what the end-to-end role ×
//! route matrix and cross-tenant tests are driven from.
//!
//! The handler's `InWorkspace<need::X>` names the permission too, so it reads in
//! the signature and typed helpers can ask for it; the two must agree (checked on
//! every request, and by a test over this table). A route missing here is served
//! to signed-in people with the handler's permission and to no key, and fails the
//! end-to-end test that every documented operation states its access.
//!
//! Which routes are for people only, and why: managing people and keys (members,
//! invites, API keys), the workspace's settings and security switches (PATCH of
//! the workspace: 2FA requirement, allow-list, retention, sending domain; the
//! language model; the ideal customer; sub-workspaces), erasure and privacy
//! tasks, and deletion. A leaked key must never grant itself or anyone else more,
//! invite an owner, or switch a protection off. Contact import and notes' text
//! stay people-only as they were before scopes were per route.

use crate::auth::Needs;
use axum::extract::MatchedPath;
use axum::http::request::Parts;
use tern_http::ApiError;
use tern_security::api_key::{Resource as R, Scope};
use tern_security::roles::Permission as P;
use tern_security::roles::Permission;

/// How a route is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credential (sign-up, sign-in, invitation links, unsubscribe pages).
    Public,
    /// A signed-in person, outside any workspace (`/v1/me`, sessions). API keys are refused.
    Session,
    /// Inside the workspace of the path.
    Workspace(WorkspaceAccess),
}

/// A workspace route's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkspaceAccess {
    /// What the caller's role (an API key's creator's current role) must allow.
    pub permission: Permission,
    /// The scope an API key needs; `None`: no key, signed-in people only.
    pub scope: Option<Scope>,
}

const fn key(permission: Permission, scope: Scope) -> Access {
    Access::Workspace(WorkspaceAccess { permission, scope: Some(scope) })
}

const fn people(permission: Permission) -> Access {
    Access::Workspace(WorkspaceAccess { permission, scope: None })
}

const fn read(r: R) -> Scope {
    Scope::Read(r)
}

const fn write(r: R) -> Scope {
    Scope::Write(r)
}

/// Every route: method, path template (as routed and documented), access.
pub const ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/health", Access::Public),
    ("GET", "/openapi.json", Access::Public),
    ("POST", "/v1/signup", Access::Public),
    // The mailed link's token is the credential (verify a sign-up, reset a password).
    ("POST", "/v1/signup/verify", Access::Public),
    ("POST", "/v1/password-reset", Access::Public),
    ("POST", "/v1/password-reset/confirm", Access::Public),
    ("POST", "/v1/me/email/verify", Access::Session),
    ("POST", "/v1/me/email/verification", Access::Session),
    ("POST", "/v1/sessions", Access::Public),
    // The refresh token (an HttpOnly cookie) is the credential here, not an access token.
    ("POST", "/v1/sessions/refresh", Access::Public),
    ("GET", "/v1/sessions", Access::Session),
    ("DELETE", "/v1/sessions/{session_id}", Access::Session),
    ("POST", "/v1/me/password", Access::Session),
    ("POST", "/v1/me/2fa/setup", Access::Session),
    ("POST", "/v1/me/2fa/confirm", Access::Session),
    ("DELETE", "/v1/me/2fa", Access::Session),
    ("POST", "/v1/invites/accept", Access::Public),
    ("GET", "/v1/unsubscribe/{token}", Access::Public),
    ("POST", "/v1/unsubscribe/{token}", Access::Public),
    ("GET", "/v1/workspaces/{ws}", key(P::ReadWorkspace, read(R::Workspace))),
    ("PATCH", "/v1/workspaces/{ws}", people(P::ManageWorkspace)),
    ("GET", "/v1/workspaces/{ws}/members", key(P::ReadWorkspace, read(R::Members))),
    ("PATCH", "/v1/workspaces/{ws}/members/{user_id}", people(P::ManageMembers)),
    ("DELETE", "/v1/workspaces/{ws}/members/{user_id}", people(P::ManageMembers)),
    ("POST", "/v1/workspaces/{ws}/invites", people(P::ManageMembers)),
    ("POST", "/v1/workspaces/{ws}/sub-workspaces", people(P::ManageWorkspace)),
    ("POST", "/v1/workspaces/{ws}/deletion", people(P::DeleteWorkspace)),
    ("DELETE", "/v1/workspaces/{ws}/deletion", people(P::DeleteWorkspace)),
    ("POST", "/v1/workspaces/{ws}/api-keys", people(P::ManageApiKeys)),
    ("GET", "/v1/workspaces/{ws}/api-keys", people(P::ManageApiKeys)),
    ("DELETE", "/v1/workspaces/{ws}/api-keys/{key_id}", people(P::ManageApiKeys)),
    ("POST", "/v1/workspaces/{ws}/inbound/credential", key(P::ManageMailboxes, write(R::Mailboxes))),
    ("GET", "/v1/workspaces/{ws}/inbound/credential", key(P::ManageMailboxes, write(R::Mailboxes))),
    ("DELETE", "/v1/workspaces/{ws}/inbound/credential", key(P::ManageMailboxes, write(R::Mailboxes))),
    ("GET", "/v1/workspaces/{ws}/inbound/messages", key(P::ReadContacts, read(R::Inbound))),
    ("GET", "/v1/workspaces/{ws}/inbound/messages/{id}", key(P::ReadContacts, read(R::Inbound))),
    ("POST", "/v1/workspaces/{ws}/privacy/erasures", people(P::ManageWorkspace)),
    ("GET", "/v1/workspaces/{ws}/privacy/tasks/{task_id}", people(P::ManageWorkspace)),
    ("POST", "/v1/workspaces/{ws}/privacy/exports", key(P::Export, write(R::Exports))),
    ("GET", "/v1/workspaces/{ws}/privacy/exports/{task_id}/download", key(P::Export, read(R::Exports))),
    ("POST", "/v1/workspaces/{ws}/privacy/access-requests", key(P::Export, write(R::Exports))),
    ("POST", "/v1/workspaces/{ws}/contacts/{contact_id}/first-line", key(P::WriteContacts, write(R::Contacts))),
    ("PUT", "/v1/workspaces/{ws}/contacts/{contact_id}/first-line", key(P::WriteContacts, write(R::Contacts))),
    ("DELETE", "/v1/workspaces/{ws}/contacts/{contact_id}/first-line", key(P::WriteContacts, write(R::Contacts))),
    ("POST", "/v1/workspaces/{ws}/enrichments", key(P::WriteContacts, write(R::Companies))),
    ("GET", "/v1/workspaces/{ws}/enrichments", key(P::ReadContacts, read(R::Companies))),
    ("GET", "/v1/workspaces/{ws}/enrichments/{domain}", key(P::ReadContacts, read(R::Companies))),
    ("GET", "/v1/workspaces/{ws}/enrichment-usage", key(P::ReadWorkspace, read(R::Workspace))),
    ("GET", "/v1/workspaces/{ws}/ideal-customer", key(P::ReadWorkspace, read(R::Workspace))),
    ("PUT", "/v1/workspaces/{ws}/ideal-customer", people(P::ManageWorkspace)),
    ("GET", "/v1/workspaces/{ws}/llm", people(P::ManageWorkspace)),
    ("PUT", "/v1/workspaces/{ws}/llm", people(P::ManageWorkspace)),
    ("DELETE", "/v1/workspaces/{ws}/llm", people(P::ManageWorkspace)),
    ("POST", "/v1/workspaces/{ws}/contacts", key(P::WriteContacts, write(R::Contacts))),
    ("GET", "/v1/workspaces/{ws}/contacts", key(P::ReadContacts, read(R::Contacts))),
    ("POST", "/v1/workspaces/{ws}/contacts/import", people(P::Import)),
    ("GET", "/v1/workspaces/{ws}/contacts/export", key(P::Export, read(R::Exports))),
    ("GET", "/v1/workspaces/{ws}/contacts/{contact_id}", key(P::ReadContacts, read(R::Contacts))),
    ("PATCH", "/v1/workspaces/{ws}/contacts/{contact_id}", key(P::WriteContacts, write(R::Contacts))),
    ("DELETE", "/v1/workspaces/{ws}/contacts/{contact_id}", key(P::WriteContacts, write(R::Contacts))),
    ("POST", "/v1/workspaces/{ws}/contacts/{contact_id}/verify", key(P::WriteContacts, write(R::Contacts))),
    ("POST", "/v1/workspaces/{ws}/contacts/{contact_id}/notes", key(P::WriteContacts, write(R::Contacts))),
    ("GET", "/v1/workspaces/{ws}/contacts/{contact_id}/notes", people(P::ReadContactNotes)),
    ("DELETE", "/v1/workspaces/{ws}/contacts/{contact_id}/notes/{note_id}", key(P::WriteContacts, write(R::Contacts))),
    ("POST", "/v1/workspaces/{ws}/suppressions", key(P::WriteContacts, write(R::Contacts))),
    ("GET", "/v1/workspaces/{ws}/suppressions", key(P::ReadContacts, read(R::Contacts))),
    ("POST", "/v1/workspaces/{ws}/attachments", key(P::ManageTemplates, write(R::Templates))),
    ("POST", "/v1/workspaces/{ws}/templates", key(P::ManageTemplates, write(R::Templates))),
    ("GET", "/v1/workspaces/{ws}/templates", key(P::ReadMessageBodies, read(R::Templates))),
    ("GET", "/v1/workspaces/{ws}/templates/{template_id}", key(P::ReadMessageBodies, read(R::Templates))),
    ("PUT", "/v1/workspaces/{ws}/templates/{template_id}", key(P::ManageTemplates, write(R::Templates))),
    ("DELETE", "/v1/workspaces/{ws}/templates/{template_id}", key(P::ManageTemplates, write(R::Templates))),
    ("POST", "/v1/workspaces/{ws}/templates/{template_id}/preview", key(P::ReadContacts, read(R::Templates))),
    // Claiming a sending domain decides whose mail it carries: people only.
    ("POST", "/v1/workspaces/{ws}/sending-domains", people(P::ManageWorkspace)),
    ("GET", "/v1/workspaces/{ws}/sending-domains", key(P::ReadWorkspace, read(R::Workspace))),
    ("POST", "/v1/workspaces/{ws}/sending-domains/{domain}/verify", people(P::ManageWorkspace)),
    ("DELETE", "/v1/workspaces/{ws}/sending-domains/{domain}", people(P::ManageWorkspace)),
    ("POST", "/v1/workspaces/{ws}/mailboxes", key(P::ManageMailboxes, write(R::Mailboxes))),
    ("GET", "/v1/workspaces/{ws}/mailboxes", key(P::ReadWorkspace, read(R::Mailboxes))),
    ("GET", "/v1/workspaces/{ws}/mailboxes/{mailbox_id}", key(P::ReadWorkspace, read(R::Mailboxes))),
    ("PATCH", "/v1/workspaces/{ws}/mailboxes/{mailbox_id}", key(P::ManageMailboxes, write(R::Mailboxes))),
    ("DELETE", "/v1/workspaces/{ws}/mailboxes/{mailbox_id}", key(P::ManageMailboxes, write(R::Mailboxes))),
    ("POST", "/v1/workspaces/{ws}/sequences", key(P::ManageSequences, write(R::Sequences))),
    ("GET", "/v1/workspaces/{ws}/sequences", key(P::ReadWorkspace, read(R::Sequences))),
    ("GET", "/v1/workspaces/{ws}/sequences/{sequence_id}", key(P::ReadWorkspace, read(R::Sequences))),
    ("PUT", "/v1/workspaces/{ws}/sequences/{sequence_id}", key(P::ManageSequences, write(R::Sequences))),
    ("POST", "/v1/workspaces/{ws}/sequences/{sequence_id}/enrollments", key(P::Send, Scope::Send)),
    ("GET", "/v1/workspaces/{ws}/enrollments", key(P::ReadContacts, read(R::Sequences))),
    ("GET", "/v1/workspaces/{ws}/enrollments/{enrollment_id}", key(P::ReadContacts, read(R::Sequences))),
    ("POST", "/v1/workspaces/{ws}/enrollments/{enrollment_id}/actions", key(P::ManageSequences, write(R::Sequences))),
    ("GET", "/v1/workspaces/{ws}/sends", key(P::ReadContacts, read(R::Sequences))),
    ("POST", "/v1/workspaces/{ws}/sends/{send_id}/resolve", key(P::ManageSequences, write(R::Sequences))),
    ("GET", "/v1/workspaces/{ws}/audit", key(P::ReadAudit, read(R::Audit))),
    ("GET", "/v1/workspaces/{ws}/audit/verify", key(P::ReadAudit, read(R::Audit))),
];

/// The line for `method` and the routed path template.
pub fn access(method: &str, template: &str) -> Option<Access> {
    ROUTES.iter().find(|(m, t, _)| m.eq_ignore_ascii_case(method) && *t == template).map(|(_, _, a)| *a)
}

/// The rule of the workspace route serving this request, checked against the
/// permission its handler declares.
pub fn for_request<N: Needs>(parts: &Parts) -> Result<WorkspaceAccess, ApiError> {
    let template = parts.extensions.get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or_default();
    match access(parts.method.as_str(), template) {
        Some(Access::Workspace(rule)) if rule.permission == N::PERMISSION => Ok(rule),
        Some(other) => Err(ApiError::internal(format!(
            "route table disagrees with the handler of {} {template}: {other:?}, handler needs {:?}",
            parts.method,
            N::PERMISSION
        ))),
        // Not in the table yet: people with the handler's permission, no key (the
        // end-to-end test on the OpenAPI document fails until the line is added).
        None => Ok(WorkspaceAccess { permission: N::PERMISSION, scope: None }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_security::roles::Role;

    #[test]
    fn each_route_is_listed_once() {
        for (i, (m, t, _)) in ROUTES.iter().enumerate() {
            assert!(!ROUTES[i + 1..].iter().any(|(m2, t2, _)| m2 == m && t2 == t), "{m} {t} listed twice");
            assert!(t.starts_with("/v1/workspaces/{ws}") == matches!(access(m, t), Some(Access::Workspace(_))), "{m} {t}");
        }
    }

    /// A scope's required permission covers every route it reaches, for every
    /// role: a key's scopes say honestly what it can do, and a key holding a
    /// scope is never refused for its creator's role while that role holds it.
    #[test]
    fn every_scope_covers_the_permissions_of_its_routes() {
        for (m, t, a) in ROUTES {
            let Access::Workspace(WorkspaceAccess { permission, scope: Some(scope) }) = a else { continue };
            let needed = scope.required_permission().unwrap_or_else(|| panic!("{m} {t}: {scope} is for no key"));
            for role in Role::ALL {
                assert!(!role.has(needed) || role.has(*permission), "{m} {t}: a {role} may hold {scope} but lacks {permission:?}");
            }
        }
    }

    #[test]
    fn every_scope_a_key_may_hold_reaches_a_route() {
        for scope in Scope::for_keys() {
            let used = ROUTES.iter().any(|(_, _, a)| matches!(a, Access::Workspace(WorkspaceAccess { scope: Some(s), .. }) if *s == scope));
            assert!(used, "{scope} reaches no route: make it unavailable to keys or give it routes");
        }
    }

    #[test]
    fn people_keys_and_settings_are_for_sessions_only() {
        for (m, t) in [
            ("POST", "/v1/workspaces/{ws}/api-keys"),
            ("GET", "/v1/workspaces/{ws}/api-keys"),
            ("DELETE", "/v1/workspaces/{ws}/api-keys/{key_id}"),
            ("POST", "/v1/workspaces/{ws}/invites"),
            ("PATCH", "/v1/workspaces/{ws}/members/{user_id}"),
            ("DELETE", "/v1/workspaces/{ws}/members/{user_id}"),
            ("PATCH", "/v1/workspaces/{ws}"),
            ("POST", "/v1/workspaces/{ws}/deletion"),
        ] {
            assert!(matches!(access(m, t), Some(Access::Workspace(WorkspaceAccess { scope: None, .. }))), "{m} {t}");
        }
        // Templates are bodies: support's ReadWorkspace does not reach them.
        let Some(Access::Workspace(templates)) = access("GET", "/v1/workspaces/{ws}/templates/{template_id}") else { panic!() };
        assert!(!Role::Support.has(templates.permission));
    }
}
