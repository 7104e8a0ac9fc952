//! Who is calling, and may they do this here.
//!
//! [`Caller`] authenticates a request: an access token from `Authorization: Bearer`
//! or the `tern_access` cookie, a live session behind it, and for cookie-carried
//! credentials on a mutating request the CSRF double-submit token. [`InWorkspace`]
//! adds the workspace from the path, the caller's membership and the permission the
//! route declares through its type parameter. A workspace the caller does not belong
//! to answers 404, exactly like one that does not exist.

use crate::ApiState;
use crate::records::{ApiKey, ApiKeyLookup, Member, Plan, Session, User, Workspace};
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use std::marker::PhantomData;
use std::sync::Arc;
use tern_aws::table::ScopedTable;
use tern_aws::{Lookup, Tenant};
use tern_domain::ids::{RequestId, WorkspaceId};
use tern_http::ApiError;
use tern_security::roles::{Permission, Role};

pub const ACCESS_COOKIE: &str = "tern_access";
pub const REFRESH_COOKIE: &str = "tern_refresh";
pub const CSRF_COOKIE: &str = "tern_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Reads one cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// An authenticated person (through a session).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    pub session_id: String,
    /// Whether the credential came from a cookie (and so needed the CSRF token).
    pub via_cookie: bool,
    /// The session passed a second factor.
    pub two_factor: bool,
    /// The account's address is verified (until then it acts in no workspace).
    pub email_verified: bool,
}

fn unauthenticated() -> ApiError {
    ApiError::unauthorized("Sign in first: the access token is missing, expired or revoked.")
}

impl FromRequestParts<Arc<ApiState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<ApiState>) -> Result<Self, ApiError> {
        let (token, via_cookie) = match bearer(&parts.headers) {
            Some(token) => (token.to_string(), false),
            None => (cookie(&parts.headers, ACCESS_COOKIE).ok_or_else(unauthenticated)?.to_string(), true),
        };
        let claims = tern_security::access_token::verify(&state.keyring, &token, state.now_unix()).map_err(|_| unauthenticated())?;
        // Cookies ride along on cross-site requests; a header the attacker's page
        // cannot read or set proves the request came from our own client.
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if via_cookie && !safe {
            tern_security::csrf::verify_double_submit(
                cookie(&parts.headers, CSRF_COOKIE),
                parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()),
            )
            .map_err(|_| ApiError::forbidden("The CSRF token is missing or does not match (send the x-csrf-token header)."))?;
        }
        let session = state.platform.global().get::<Session>(&claims.sid).await?;
        match session {
            Some(s) if s.family.revoked_at.is_none() && s.user_id == claims.sub => {
                // Only sessions started before the address was verified pay this read.
                let email_verified = s.email_verified
                    || state.platform.global().get::<User>(&claims.sub).await?.is_some_and(|u| u.email_verified_at.is_some());
                Ok(Caller { user_id: claims.sub, session_id: claims.sid, via_cookie, two_factor: s.two_factor, email_verified })
            }
            _ => Err(unauthenticated()),
        }
    }
}

impl OptionalFromRequestParts<Arc<ApiState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<ApiState>) -> Result<Option<Self>, ApiError> {
        let has_credentials = parts.headers.contains_key(header::AUTHORIZATION) || cookie(&parts.headers, ACCESS_COOKIE).is_some();
        if !has_credentials {
            return Ok(None);
        }
        <Caller as FromRequestParts<Arc<ApiState>>>::from_request_parts(parts, state).await.map(Some)
    }
}

/// The permission a route needs, as a type, so the route's signature declares it.
pub trait Needs: Send + Sync + 'static {
    const PERMISSION: Permission;
}

macro_rules! permissions {
    ($($name:ident),* $(,)?) => {
        /// Marker types for [`InWorkspace`], one per permission.
        pub mod need {
            $(
                pub struct $name;
                impl super::Needs for $name {
                    const PERMISSION: tern_security::roles::Permission = tern_security::roles::Permission::$name;
                }
            )*
        }
    };
}

permissions!(
    ReadWorkspace,
    ManageWorkspace,
    ManageMembers,
    ReadAudit,
    ManageApiKeys,
    ReadContacts,
    ReadContactNotes,
    WriteContacts,
    Import,
    Export,
    Send,
    ManageMailboxes,
    ManageTemplates,
    ManageSequences,
    DeleteWorkspace,
    ReadMessageBodies
);

/// Who acts in a workspace.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A member (or platform support, or an agency owner reading a granted trail).
    User { user_id: String, session_id: String },
    /// An API key, acting with its creator's role cut down to its scopes.
    ApiKey { key_id: String, created_by: String },
}

impl Actor {
    /// How the audit log names the actor.
    pub fn audit_name(&self) -> String {
        match self {
            Actor::User { user_id, .. } => user_id.clone(),
            Actor::ApiKey { key_id, .. } => format!("apikey:{key_id}"),
        }
    }

    /// The person behind the request (an API key's creator).
    pub fn user_id(&self) -> &str {
        match self {
            Actor::User { user_id, .. } => user_id,
            Actor::ApiKey { created_by, .. } => created_by,
        }
    }
}

/// A caller acting in the workspace named by the path, with permission `P`.
pub struct InWorkspace<P: Needs> {
    pub actor: Actor,
    /// The workspace of the path, which the caller was admitted to: the one
    /// [`Tenant`] a handler acts for.
    pub tenant: Tenant,
    /// The role the request acts with (an API key's creator's role).
    pub role: Role,
    pub scoped: ScopedTable,
    pub settings: Arc<Workspace>,
    _needs: PhantomData<P>,
}

impl<P: Needs> InWorkspace<P> {
    /// The workspace of the path (the tenant's).
    pub fn workspace(&self) -> WorkspaceId {
        self.tenant.workspace()
    }
}

/// The `{ws}` of `/v1/workspaces/{ws}/...`.
fn workspace_in_path(path: &str) -> Option<WorkspaceId> {
    let mut segments = path.trim_start_matches('/').split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some("v1"), Some("workspaces"), Some(id)) => WorkspaceId::parse(id).ok(),
        _ => None,
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::trim)
}

impl<P: Needs> FromRequestParts<Arc<ApiState>> for InWorkspace<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<ApiState>) -> Result<Self, ApiError> {
        let workspace = workspace_in_path(parts.uri.path());
        if let Some(presented) = bearer(&parts.headers).filter(|b| b.starts_with(tern_security::api_key::KEY_PREFIX)) {
            let presented = presented.to_string();
            let workspace = workspace.ok_or_else(ApiError::not_found)?;
            let rule = crate::policy::for_request::<P>(parts)?;
            return by_api_key::<P>(state, parts, workspace, &presented, rule).await;
        }
        let caller = <Caller as FromRequestParts<Arc<ApiState>>>::from_request_parts(parts, state).await?;
        // An address nobody has proven may be someone else's: such an account reads
        // its own settings (/v1/me, /v1/sessions) and verifies, nothing in a workspace.
        if !caller.email_verified {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "email_not_verified",
                "Verify your e-mail address first: follow the link we sent (POST /v1/me/email/verification sends it again).",
            ));
        }
        let workspace = workspace.ok_or_else(ApiError::not_found)?;
        let tenant = Tenant::found(workspace, Lookup::RequestPath);
        let scoped = state.platform.table().scope(tenant);
        let member = scoped.get::<Member>(&caller.user_id).await?;
        let role = match member {
            Some(member) => member.role,
            None => match outside_access::<P>(state, &caller, tenant).await? {
                Some(role) => role,
                None => return Err(ApiError::not_found()),
            },
        };
        if !role.has(P::PERMISSION) {
            return Err(ApiError::forbidden(format!(
                "Your role ({role}) does not allow this; it needs the {:?} permission.",
                P::PERMISSION
            )));
        }
        let settings = state.workspace_settings(tenant).await?.ok_or_else(ApiError::not_found)?;
        if settings.require_2fa && !caller.two_factor {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "two_factor_required",
                "This workspace requires two-factor authentication: turn it on and sign in with a code.",
            ));
        }
        check_allowlist(&settings, parts)?;
        let actor = Actor::User { user_id: caller.user_id, session_id: caller.session_id };
        Ok(Self { actor, tenant, role, scoped, settings, _needs: PhantomData })
    }
}

/// Access without membership: Tern support staff (read-only metadata), or the owner
/// of an agency reading a sub-workspace's audit trail that the sub-workspace granted.
async fn outside_access<P: Needs>(state: &ApiState, caller: &Caller, tenant: Tenant) -> Result<Option<Role>, ApiError> {
    let user = state.platform.global().get::<User>(&caller.user_id).await?;
    if user.is_some_and(|u| u.platform_support) {
        return Ok(Some(Role::Support));
    }
    if P::PERMISSION != Permission::ReadAudit {
        return Ok(None);
    }
    let Some(settings) = state.workspace_settings(tenant).await? else {
        return Ok(None);
    };
    let Some(parent) = settings.parent_id.as_deref().and_then(|p| WorkspaceId::parse(p).ok()) else {
        return Ok(None);
    };
    if !settings.parent_may_read_audit {
        return Ok(None);
    }
    let parent_member = state.platform.table().scope(Tenant::found(parent, Lookup::Parent)).get::<Member>(&caller.user_id).await?;
    // Only for ReadAudit routes (above), with a role that holds nothing that writes.
    Ok(parent_member.filter(|m| m.role == Role::Owner).map(|_| Role::Support))
}

/// An API key acting in `workspace` on a route whose rule is `rule`: the key must
/// hold the route's exact scope, and its creator's current role the route's
/// permission. Routes without a scope are for signed-in people only.
async fn by_api_key<P: Needs>(
    state: &ApiState,
    parts: &Parts,
    workspace: WorkspaceId,
    presented: &str,
    rule: crate::policy::WorkspaceAccess,
) -> Result<InWorkspace<P>, ApiError> {
    let refused = || ApiError::unauthorized("The API key is invalid, expired or revoked.");
    let parsed = tern_security::api_key::parse(presented).map_err(|_| refused())?;
    let lookup = state.platform.global().get::<ApiKeyLookup>(&parsed.hash.to_hex()).await?.ok_or_else(refused)?;
    if lookup.workspace_id != workspace.to_string() {
        return Err(ApiError::not_found());
    }
    let tenant = Tenant::found(workspace, Lookup::ApiKey);
    let scoped = state.platform.table().scope(tenant);
    let mut key = scoped.get::<ApiKey>(&lookup.key_id).await?.ok_or_else(refused)?;
    let now = state.platform.clock().now().unix_timestamp();
    if key.revoked_at.is_some() || key.expires_at.is_some_and(|at| at <= now) {
        return Err(refused());
    }
    // The creator's role now, not when the key was made: a demoted creator's keys
    // shrink with them, a removed creator's keys stop.
    let creator = scoped.get::<Member>(&key.created_by).await?.ok_or_else(refused)?;
    let Some(scope) = rule.scope else {
        return Err(ApiError::forbidden("API keys cannot do this (people, keys and settings are managed by signed-in members only)."));
    };
    // `required_permission` is checked too: a scope no key may hold (one stored on a
    // key made before that rule) reaches nothing.
    if !key.scopes.contains(&scope) || scope.required_permission().is_none() {
        return Err(ApiError::forbidden(format!("This API key does not have the {scope} scope this needs.")));
    }
    if !creator.role.has(rule.permission) {
        return Err(ApiError::forbidden(format!("The key's creator's role ({}) no longer allows this.", creator.role)));
    }
    let settings = state.workspace_settings(tenant).await?.ok_or_else(ApiError::not_found)?;
    // A key is as strong as the session that made it: where the workspace requires
    // 2FA, only keys created by a session that passed it work (keys made before the
    // requirement was switched on stop until they are re-created).
    if settings.require_2fa && !key.created_with_2fa {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "two_factor_required",
            "This workspace requires two-factor authentication and this key was created without it: create a new key while signed in with a code.",
        ));
    }
    check_allowlist(&settings, parts)?;
    // Last-used is for people deciding which keys to revoke; minute precision is plenty
    // and saves a write on every request.
    if key.last_used_at.is_none_or(|t| now - t >= 60) {
        key.last_used_at = Some(now);
        scoped.put(&key, None).await?;
    }
    let actor = Actor::ApiKey { key_id: key.id.clone(), created_by: key.created_by.clone() };
    Ok(InWorkspace { actor, tenant, role: creator.role, scoped, settings, _needs: PhantomData })
}

fn check_allowlist(settings: &Workspace, parts: &Parts) -> Result<(), ApiError> {
    if settings.plan != Plan::Enterprise || settings.ip_allowlist.is_empty() {
        return Ok(());
    }
    let allowlist =
        tern_security::allowlist::IpAllowlist::parse(settings.ip_allowlist.iter().map(String::as_str)).map_err(ApiError::internal)?;
    let ip = source_ip(parts).and_then(|ip| ip.parse::<std::net::IpAddr>().ok());
    match ip {
        Some(ip) if allowlist.contains(ip) => Ok(()),
        _ => Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "ip_not_allowed",
            "This workspace accepts requests only from its allowed addresses.",
        )),
    }
}

/// The caller's address: API Gateway's source IP on Lambda, the connection's locally.
/// A client-sent X-Forwarded-For is never trusted.
pub fn source_ip(parts: &Parts) -> Option<String> {
    let gateway_ip = parts.extensions.get::<lambda_http::request::RequestContext>().and_then(|ctx| match ctx {
        lambda_http::request::RequestContext::ApiGatewayV2(c) => c.http.source_ip.clone(),
        _ => None,
    });
    gateway_ip.or_else(|| parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip().to_string()))
}

/// Where a request came from, for the audit log and throttling.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Client {
            ip: source_ip(parts),
            user_agent: parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|v| v.chars().take(256).collect()),
            request_id: parts.extensions.get::<RequestId>().map(ToString::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_workspace_in_the_path_only_in_its_place() {
        let ws = WorkspaceId::generate();
        assert_eq!(workspace_in_path(&format!("/v1/workspaces/{ws}/members")), Some(ws));
        assert_eq!(workspace_in_path(&format!("/v1/workspaces/{ws}")), Some(ws));
        assert_eq!(workspace_in_path("/v1/workspaces/not-an-id"), None);
        assert_eq!(workspace_in_path(&format!("/v1/other/{ws}")), None);
    }

    #[test]
    fn reads_cookies_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, "a=1; tern_access=tok; b=2".parse().unwrap());
        assert_eq!(cookie(&headers, ACCESS_COOKIE), Some("tok"));
        assert_eq!(cookie(&headers, CSRF_COOKIE), None);
    }
}
