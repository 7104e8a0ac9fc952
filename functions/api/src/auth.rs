//! Who is calling, and may they do this here.
//!
//! [`Caller`] authenticates a request: an access token from `Authorization: Bearer`
//! or the `tern_access` cookie, a live session behind it, and for cookie-carried
//! credentials on a mutating request the CSRF double-submit token. [`InWorkspace`]
//! adds the workspace from the path, the caller's membership and the permission the
//! route declares through its type parameter. A workspace the caller does not belong
//! to answers 404, exactly like one that does not exist.

use crate::ApiState;
use crate::records::{Member, Session};
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use std::marker::PhantomData;
use std::sync::Arc;
use tern_aws::table::ScopedTable;
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
}

fn unauthenticated() -> ApiError {
    ApiError::unauthorized("Sign in first: the access token is missing, expired or revoked.")
}

impl FromRequestParts<Arc<ApiState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<ApiState>) -> Result<Self, ApiError> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let (token, via_cookie) = match bearer {
            Some(token) => (token.to_string(), false),
            None => (cookie(&parts.headers, ACCESS_COOKIE).ok_or_else(unauthenticated)?.to_string(), true),
        };
        let claims = tern_security::access_token::verify(&state.keyring, &token, state.now_unix())
            .map_err(|_| unauthenticated())?;
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
        let session = state.global.get::<Session>(&claims.sid).await.map_err(ApiError::unavailable)?;
        match session {
            Some(s) if s.family.revoked_at.is_none() && s.user_id == claims.sub => {
                Ok(Caller { user_id: claims.sub, session_id: claims.sid, via_cookie })
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

permissions!(ReadWorkspace, ManageWorkspace, ManageMembers, ReadAudit, ManageApiKeys);

/// A caller acting in the workspace named by the path, with permission `P`.
pub struct InWorkspace<P: Needs> {
    pub caller: Caller,
    pub workspace: WorkspaceId,
    pub role: Role,
    pub scoped: ScopedTable,
    _needs: PhantomData<P>,
}

/// The `{ws}` of `/v1/workspaces/{ws}/...`.
fn workspace_in_path(path: &str) -> Option<WorkspaceId> {
    let mut segments = path.trim_start_matches('/').split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some("v1"), Some("workspaces"), Some(id)) => WorkspaceId::parse(id).ok(),
        _ => None,
    }
}

impl<P: Needs> FromRequestParts<Arc<ApiState>> for InWorkspace<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<ApiState>) -> Result<Self, ApiError> {
        let caller = <Caller as FromRequestParts<Arc<ApiState>>>::from_request_parts(parts, state).await?;
        let workspace = workspace_in_path(parts.uri.path()).ok_or_else(ApiError::not_found)?;
        let scoped = state.table.scope(workspace);
        let member = scoped.get::<Member>(&caller.user_id).await.map_err(ApiError::unavailable)?;
        let Some(member) = member else {
            return Err(ApiError::not_found());
        };
        if !member.role.has(P::PERMISSION) {
            return Err(ApiError::forbidden(format!(
                "Your role ({}) does not allow this; it needs the {:?} permission.",
                member.role,
                P::PERMISSION
            )));
        }
        Ok(Self { caller, workspace, role: member.role, scoped, _needs: PhantomData })
    }
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
        // On Lambda the address comes from API Gateway's request context; locally
        // from the connection. Client-sent X-Forwarded-For is never trusted.
        let gateway_ip = parts.extensions.get::<lambda_http::request::RequestContext>().and_then(|ctx| match ctx {
            lambda_http::request::RequestContext::ApiGatewayV2(c) => c.http.source_ip.clone(),
            _ => None,
        });
        let ip = gateway_ip.or_else(|| {
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string())
        });
        Ok(Client {
            ip,
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(256).collect()),
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
