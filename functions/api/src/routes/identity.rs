//! Sign-up, sign-in, token refresh, sessions and password changes.

use super::{audit, email, text};
use crate::auth::{Caller, Client, REFRESH_COOKIE, cookie};
use crate::records::{EmailLookup, Member, Plan, Session, User};
use crate::{ApiState, attempts, users};
use crate::sessions::{self, SignedIn};
use aws_sdk_dynamodb::types::AttributeValue;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::table::StoreError;
use tern_domain::ids::WorkspaceId;
use tern_http::{ApiError, Json, Path};
use tern_security::roles::Role;
use tern_security::secret::SecretString;
use tern_security::token::{RefreshToken, RotateOutcome};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
    name: String,
    workspace_name: String,
    #[serde(default)]
    plan: Option<Plan>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    remember_me: bool,
}

pub(crate) fn timezone(value: Option<&str>) -> Result<String, ApiError> {
    let tz = value.unwrap_or("UTC").trim();
    let ok = !tz.is_empty()
        && tz.len() <= 64
        && tz.split('/').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || "_+-".contains(c)));
    if ok { Ok(tz.to_string()) } else { Err(ApiError::unprocessable("invalid_timezone", "Use an IANA time zone such as Europe/Berlin.")) }
}

pub(crate) fn locale(value: Option<&str>) -> Result<String, ApiError> {
    let locale = value.unwrap_or("en").trim();
    let mut parts = locale.split('-');
    let language = parts.next().unwrap_or_default();
    let region = parts.next();
    let ok = (2..=3).contains(&language.len())
        && language.chars().all(|c| c.is_ascii_lowercase())
        && region.is_none_or(|r| r.len() == 2 && r.chars().all(|c| c.is_ascii_uppercase()))
        && parts.next().is_none();
    if ok { Ok(locale.to_string()) } else { Err(ApiError::unprocessable("invalid_locale", "Use a locale such as en or de-DE.")) }
}

fn weak_password(violation: tern_security::password::PolicyViolation) -> ApiError {
    ApiError::unprocessable("weak_password", violation.to_string())
}

/// Creates a user, their workspace (with its own KMS key) and a session.
#[utoipa::path(post, path = "/v1/signup", request_body = SignUp, responses(
    (status = 201, body = SignedIn), (status = 409, description = "e-mail already registered"), (status = 422, description = "invalid fields")))]
pub async fn sign_up(State(state): State<Arc<ApiState>>, client: Client, Json(input): Json<SignUp>) -> Result<Response, ApiError> {
    let email = email(&input.email)?;
    let name = text("name", &input.name, 100)?;
    let workspace_name = text("workspace_name", &input.workspace_name, 100)?;
    let timezone = timezone(input.timezone.as_deref())?;
    let locale = locale(input.locale.as_deref())?;
    state.policy.check(&input.password, &email, Some(&name)).map_err(weak_password)?;
    let password_hash = state.hasher.hash(&input.password).map_err(ApiError::internal)?;

    let user_id = tern_domain::ids::RequestId::generate().to_string();
    let workspace = WorkspaceId::generate();
    match state.global.create(&EmailLookup { email: email.clone(), user_id: user_id.clone() }, None).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => {
            return Err(ApiError::new(StatusCode::CONFLICT, "email_taken", "An account with this e-mail exists; sign in instead."));
        }
        Err(e) => return Err(ApiError::unavailable(e)),
    }
    // The e-mail is claimed first (that is what makes sign-up race-free); if anything
    // after it fails, the claim is released so the person can simply try again.
    let created = async {
        let now = state.clock.now().unix_timestamp();
        let user = User::new(user_id.clone(), email.clone(), name.clone(), password_hash.as_str().to_string(), now, workspace.to_string());
        state.global.create(&user, None).await.map_err(ApiError::unavailable)?;
        let settings = super::workspaces::NewWorkspace { name: workspace_name, plan: input.plan.unwrap_or(Plan::Trial), timezone, locale, parent_id: None };
        super::workspaces::create_workspace(&state, workspace, settings, &user, &client).await?;
        Ok::<_, ApiError>(())
    }
    .await;
    if let Err(error) = created {
        if let Err(e) = state.global.delete::<EmailLookup>(&email).await {
            tracing::error!(error = %e, "could not release the e-mail claim of a failed sign-up");
        }
        return Err(error);
    }
    let (headers, body) = sessions::start(&state, &user_id, &workspace.to_string(), Role::Owner, input.remember_me, false, &client).await?;
    audit(&state, workspace, &user_id, "session.signed_in", Some(&body.session_id), serde_json::json!({ "via": "signup" }), &client).await?;
    Ok((StatusCode::CREATED, headers, Json(body)).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
    #[serde(default)]
    remember_me: bool,
    /// Required when the account has two-factor authentication on.
    #[serde(default)]
    totp_code: Option<String>,
    /// Instead of `totp_code`: one of the recovery codes (each works once).
    #[serde(default)]
    recovery_code: Option<String>,
}

pub(crate) fn account_key(email: &str) -> String {
    use sha2::Digest;
    format!("account:{}", data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(email.as_bytes())))
}

pub(crate) fn too_many(until: u64, now: u64) -> Response {
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        "Too many sign-in attempts. Wait a moment and try again.",
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&until.saturating_sub(now).max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// Signs in with e-mail and password. Unknown accounts and wrong passwords get the
/// same answer, the same work (a dummy hash) and the same throttling.
#[utoipa::path(post, path = "/v1/sessions", request_body = SignIn, responses(
    (status = 200, body = SignedIn), (status = 401, description = "wrong e-mail or password"), (status = 429, description = "throttled")))]
pub async fn sign_in(State(state): State<Arc<ApiState>>, client: Client, Json(input): Json<SignIn>) -> Result<Response, ApiError> {
    let email = email(&input.email)?;
    // Counted before anything is checked (`crate::attempts`): parallel guesses each count.
    let keys = vec![attempts::Key::account(&email), attempts::Key::source_ip(&client)];
    let attempt = match attempts::admit(&state, keys).await? {
        attempts::Admission::Admitted(attempt) => attempt,
        attempts::Admission::Refused(response) => return Ok(response),
    };

    let lookup = state.global.get::<EmailLookup>(&email).await.map_err(ApiError::unavailable)?;
    let user = match lookup {
        Some(l) => state.global.get::<User>(&l.user_id).await.map_err(ApiError::unavailable)?,
        None => None,
    };
    let verified = match &user {
        Some(u) => state
            .hasher
            .verify(&input.password, &tern_security::password::PasswordHash::from_stored(u.password_hash.clone()))
            .unwrap_or(false),
        None => {
            state.hasher.verify_dummy(&input.password);
            false
        }
    };
    let Some(mut user) = user.filter(|_| verified) else {
        attempt.failed();
        return Err(ApiError::unauthorized("The e-mail or password is wrong."));
    };
    let two_factor = user.has_two_factor();
    if two_factor {
        if input.totp_code.is_none() && input.recovery_code.is_none() {
            // The password was right: not a failure, but not a sign-in yet either.
            attempt.not_a_failure(&state).await?;
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "two_factor_required", "Send the code from your authenticator app as totp_code."));
        }
        match super::two_factor::check_second_factor(&state, &user.id, input.totp_code.as_deref(), input.recovery_code.as_deref()).await {
            Ok(stored) => user = stored,
            Err(super::two_factor::SecondFactorError::Wrong) => {
                attempt.failed();
                return Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_two_factor", "That code is not right, or was already used."));
            }
            Err(super::two_factor::SecondFactorError::Failed(e)) => return Err(e),
        }
    }
    attempt.succeeded(&state).await?;

    let workspace = user.workspaces.first().cloned().unwrap_or_default();
    let role = match WorkspaceId::parse(&workspace) {
        Ok(ws) => state.table.scope(ws).get::<Member>(&user.id).await.map_err(ApiError::unavailable)?.map(|m| m.role),
        Err(_) => None,
    };
    let (headers, body) = sessions::start(&state, &user.id, &workspace, role.unwrap_or(Role::Readonly), input.remember_me, two_factor, &client).await?;
    if let Ok(ws) = WorkspaceId::parse(&workspace) {
        audit(&state, ws, &user.id, "session.signed_in", Some(&body.session_id), serde_json::json!({}), &client).await?;
    }
    Ok((headers, Json(body)).into_response())
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    /// For clients without cookies; browsers send the `tern_refresh` cookie.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    refresh_token: Option<SecretString>,
}

/// Exchanges a refresh token for new tokens. Each refresh token works once; using a
/// spent one again revokes the whole session (it was copied).
#[utoipa::path(post, path = "/v1/sessions/refresh", request_body = Refresh, responses(
    (status = 200, body = SignedIn), (status = 401, description = "invalid, expired, revoked or reused")))]
pub async fn refresh(State(state): State<Arc<ApiState>>, client: Client, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response, ApiError> {
    // The body is optional: browsers send only the cookie.
    let body: Refresh = if body.iter().all(u8::is_ascii_whitespace) {
        Refresh::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::unprocessable("invalid_fields", format!("The body is not a valid refresh request: {e}")))?
    };
    let presented = body
        .refresh_token
        .map(|t| t.expose().to_string())
        .or_else(|| cookie(&headers, REFRESH_COOKIE).map(String::from))
        .ok_or_else(|| ApiError::unauthorized("No refresh token was sent."))?;
    let invalid = || ApiError::unauthorized("The refresh token is invalid, expired or revoked.");
    let token = RefreshToken::parse(&presented).map_err(|_| invalid())?;
    let mut session = state.global.get::<Session>(token.family_id.as_str()).await.map_err(ApiError::unavailable)?.ok_or_else(invalid)?;
    let previous_hash = session.current_hash.clone();
    let now = state.now_unix();
    match session.family.rotate(&token.secret.hash(), now).map_err(ApiError::internal)? {
        RotateOutcome::Rotated { token } => {
            session.current_hash = session.family.current_hash.to_hex();
            session.last_seen_at = now as i64;
            session.ip = client.ip.clone();
            match state.global.replace_if(&session, sessions::expiry(&session), "current_hash", AttributeValue::S(previous_hash)).await {
                Ok(()) => {}
                // Another refresh with the same token won the race: this one is the reuse.
                Err(StoreError::ConditionFailed) => return Err(invalid()),
                Err(e) => return Err(ApiError::unavailable(e)),
            }
            let role = role_in(&state, &session).await?;
            let (headers, body) = sessions::tokens(&state, &session, role, &token)?;
            Ok((headers, Json(body)).into_response())
        }
        RotateOutcome::ReuseDetected => {
            state.global.put(&session, sessions::expiry(&session)).await.map_err(ApiError::unavailable)?;
            if let Ok(ws) = WorkspaceId::parse(&session.workspace_id) {
                audit(&state, ws, &session.user_id, "session.refresh_token_reused", Some(&session.id), serde_json::json!({ "revoked": true }), &client).await?;
            }
            tracing::warn!(session = %session.id, "refresh token reused; session revoked");
            Err(invalid())
        }
        RotateOutcome::Expired | RotateOutcome::Revoked | RotateOutcome::Unknown => Err(invalid()),
    }
}

async fn role_in(state: &ApiState, session: &Session) -> Result<Role, ApiError> {
    let Ok(ws) = WorkspaceId::parse(&session.workspace_id) else {
        return Ok(Role::Readonly);
    };
    let member = state.table.scope(ws).get::<Member>(&session.user_id).await.map_err(ApiError::unavailable)?;
    Ok(member.map_or(Role::Readonly, |m| m.role))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionView {
    id: String,
    device: Option<String>,
    ip: Option<String>,
    created_at: i64,
    last_seen_at: i64,
    current: bool,
}

/// The caller's signed-in devices.
#[utoipa::path(get, path = "/v1/sessions", responses((status = 200, body = [SessionView]), (status = 401, description = "not signed in")))]
pub async fn list_sessions(State(state): State<Arc<ApiState>>, caller: Caller) -> Result<Json<Vec<SessionView>>, ApiError> {
    let sessions = sessions::all_of(&state, &caller.user_id).await?;
    Ok(Json(
        sessions
            .into_iter()
            .filter(|s| s.family.revoked_at.is_none())
            .map(|s| SessionView { current: s.id == caller.session_id, id: s.id, device: s.device, ip: s.ip, created_at: s.created_at, last_seen_at: s.last_seen_at })
            .collect(),
    ))
}

/// Signs one of the caller's sessions out, on whatever device it is.
#[utoipa::path(delete, path = "/v1/sessions/{session_id}", params(("session_id" = String, Path)), responses(
    (status = 204), (status = 404, description = "no such session of yours")))]
pub async fn revoke_session(State(state): State<Arc<ApiState>>, caller: Caller, client: Client, Path(session_id): Path<String>) -> Result<Response, ApiError> {
    let session = state.global.get::<Session>(&session_id).await.map_err(ApiError::unavailable)?;
    let Some(session) = session.filter(|s| s.user_id == caller.user_id) else {
        return Err(ApiError::not_found());
    };
    sessions::revoke(&state, &session.id).await?;
    if let Ok(ws) = WorkspaceId::parse(&session.workspace_id) {
        audit(&state, ws, &caller.user_id, "session.revoked", Some(&session.id), serde_json::json!({}), &client).await?;
    }
    let headers = if session.id == caller.session_id { sessions::cleared_cookies() } else { HeaderMap::new() };
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    #[schema(value_type = String, format = Password)]
    new_password: SecretString,
    /// A current code from the authenticator app; required when 2FA is on.
    #[serde(default)]
    totp_code: Option<String>,
    /// Instead of `totp_code`: one of the recovery codes.
    #[serde(default)]
    recovery_code: Option<String>,
}

/// Changes the caller's password after re-authentication (the current password,
/// and a code when 2FA is on, counted against the account's sign-in throttle) and
/// signs out every other session.
#[utoipa::path(post, path = "/v1/me/password", request_body = ChangePassword, responses(
    (status = 204), (status = 403, description = "`reauthentication_failed`: wrong current password or code"),
    (status = 422, description = "weak password"), (status = 429, description = "throttled")))]
pub async fn change_password(State(state): State<Arc<ApiState>>, caller: Caller, client: Client, Json(input): Json<ChangePassword>) -> Result<Response, ApiError> {
    let proof = attempts::Proof { password: &input.current_password, totp_code: input.totp_code.as_deref(), recovery_code: input.recovery_code.as_deref() };
    if let Some(throttled) = attempts::reauthenticate(&state, &caller.user_id, proof).await? {
        return Ok(throttled);
    }
    let user = state.global.get::<User>(&caller.user_id).await.map_err(ApiError::unavailable)?.ok_or_else(ApiError::not_found)?;
    state.policy.check(&input.new_password, &user.email, Some(&user.name)).map_err(weak_password)?;
    let password_hash = state.hasher.hash(&input.new_password).map_err(ApiError::internal)?.as_str().to_string();
    let (user, ()) = users::update(&state, &user.id, |user: &mut User| {
        user.password_hash = password_hash.clone();
        Ok::<_, ApiError>(())
    })
    .await?;
    let revoked = sessions::revoke_all(&state, &user.id, Some(&caller.session_id)).await?;
    for ws in user.workspaces.iter().filter_map(|w| WorkspaceId::parse(w).ok()) {
        audit(&state, ws, &user.id, "user.password_changed", Some(&user.id), serde_json::json!({ "other_sessions_revoked": true, "sessions_revoked": revoked }), &client).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
