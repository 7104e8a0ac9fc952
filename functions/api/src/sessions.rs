//! Starting sessions and handing out their tokens.
//!
//! A session is a refresh-token family (`tern_security::token`). The client gets a
//! short-lived access token (body and `tern_access` cookie), a rotating refresh
//! token (only in an HttpOnly cookie scoped to `/v1/sessions`) and a CSRF token (a
//! cookie the page can read, to echo in the `x-csrf-token` header).

use crate::ApiState;
use crate::auth::{ACCESS_COOKIE, CSRF_COOKIE, Client, REFRESH_COOKIE};
use crate::records::{Session, User};
use aws_sdk_dynamodb::types::AttributeValue;
use axum::http::{HeaderMap, HeaderValue, header};
use serde::Serialize;
use tern_aws::table::StoreError;
use tern_http::ApiError;
use tern_security::access_token::Subject;
use tern_security::roles::Role;
use tern_security::token::{OpaqueToken, RefreshFamily, RefreshLifetime, RefreshToken};

pub const ACCESS_TTL_MINUTES: u64 = 10;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    pub user_id: String,
    pub workspace_id: String,
    pub session_id: String,
    pub access_token: String,
    pub access_expires_in: u64,
    pub csrf_token: String,
}

pub fn lifetime(remember_me: bool) -> RefreshLifetime {
    if remember_me { RefreshLifetime::REMEMBER_ME } else { RefreshLifetime::DEFAULT }
}

/// Starts a session for `user_id` acting in `workspace_id` and returns its tokens.
pub async fn start(
    state: &ApiState,
    user_id: &str,
    workspace_id: &str,
    role: Role,
    remember_me: bool,
    two_factor: bool,
    client: &Client,
) -> Result<(HeaderMap, SignedIn), ApiError> {
    let now = state.now_unix();
    let (family, refresh) = RefreshFamily::start(lifetime(remember_me), now).map_err(ApiError::internal)?;
    let email_verified = state.platform.global().get::<User>(user_id).await?.is_some_and(|u| u.email_verified_at.is_some());
    let session = Session {
        id: family.family_id.as_str().to_string(),
        user_id: user_id.to_string(),
        workspace_id: workspace_id.to_string(),
        current_hash: family.current_hash.to_hex(),
        family,
        device: client.user_agent.clone(),
        ip: client.ip.clone(),
        created_at: now as i64,
        last_seen_at: now as i64,
        two_factor,
        email_verified,
    };
    state.platform.global().create(&session, expiry(&session)).await?;
    tokens(state, &session, role, &refresh)
}

/// Every session of the user, revoked ones included, across all pages of the index:
/// a user with more than one page of sessions is still signed out of all of them.
pub async fn all_of(state: &ApiState, user_id: &str) -> Result<Vec<Session>, ApiError> {
    state.platform.global().all_by_gsi1::<Session>(&format!("USER#{user_id}")).await.map_err(ApiError::from)
}

/// Revokes one session. Conditional on the refresh token it read, as a rotation is:
/// a refresh racing this write would otherwise put the session back unrevoked.
pub async fn revoke(state: &ApiState, session_id: &str) -> Result<(), ApiError> {
    for _ in 0..16 {
        let Some(mut session) = state.platform.global().get::<Session>(session_id).await? else {
            return Ok(());
        };
        if session.family.revoked_at.is_some() {
            return Ok(());
        }
        let read = session.current_hash.clone();
        session.family.revoke(state.now_unix());
        match state.platform.global().replace_if(&session, expiry(&session), "current_hash", AttributeValue::S(read)).await {
            Ok(()) => return Ok(()),
            // Rotated meanwhile: revoke the rotated session. Each lost round is a
            // refresh that won.
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(ApiError::unavailable(e)),
        }
    }
    Err(ApiError::unavailable("the session kept being refreshed while it was being revoked"))
}

/// Signs the user out everywhere but `keep` (the caller's own session, when it
/// stays); returns how many sessions were revoked.
pub async fn revoke_all(state: &ApiState, user_id: &str, keep: Option<&str>) -> Result<usize, ApiError> {
    let mut revoked = 0;
    for session in all_of(state, user_id).await? {
        if Some(session.id.as_str()) != keep && session.family.revoked_at.is_none() {
            revoke(state, &session.id).await?;
            revoked += 1;
        }
    }
    Ok(revoked)
}

/// The DynamoDB TTL of a session: when its refresh token can no longer be used.
pub fn expiry(session: &Session) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(session.family.expires_at as i64 + 86_400).ok()
}

/// Access token, cookies and body for a session whose current refresh token is `refresh`.
pub fn tokens(state: &ApiState, session: &Session, role: Role, refresh: &RefreshToken) -> Result<(HeaderMap, SignedIn), ApiError> {
    let now = state.now_unix();
    let subject =
        Subject { user_id: session.user_id.clone(), workspace_id: session.workspace_id.clone(), role, session_id: session.id.clone() };
    let access = tern_security::access_token::issue(&state.keyring, subject, now, ACCESS_TTL_MINUTES).map_err(ApiError::internal)?;
    let csrf = OpaqueToken::generate().map_err(ApiError::internal)?;
    let refresh_max_age = session.family.expires_at.saturating_sub(now);
    let mut headers = HeaderMap::new();
    for cookie in [
        format!("{ACCESS_COOKIE}={}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Strict", access.expose(), ACCESS_TTL_MINUTES * 60),
        format!(
            "{REFRESH_COOKIE}={}; Path=/v1/sessions; Max-Age={refresh_max_age}; HttpOnly; Secure; SameSite=Strict",
            refresh.to_cookie_value().expose()
        ),
        format!("{CSRF_COOKIE}={}; Path=/; Max-Age={refresh_max_age}; Secure; SameSite=Strict", csrf.expose()),
    ] {
        headers.append(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(ApiError::internal)?);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((
        headers,
        SignedIn {
            user_id: session.user_id.clone(),
            workspace_id: session.workspace_id.clone(),
            session_id: session.id.clone(),
            access_token: access.expose().clone(),
            access_expires_in: ACCESS_TTL_MINUTES * 60,
            csrf_token: csrf.expose().to_string(),
        },
    ))
}

/// Cookies that end a browser session.
pub fn cleared_cookies() -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, path) in [(ACCESS_COOKIE, "/"), (REFRESH_COOKIE, "/v1/sessions"), (CSRF_COOKIE, "/")] {
        if let Ok(v) = HeaderValue::from_str(&format!("{name}=; Path={path}; Max-Age=0; HttpOnly; Secure; SameSite=Strict")) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    headers
}
