//! TOTP two-factor authentication (RFC 6238) with recovery codes.
//!
//! The secret is sealed under the platform key (users belong to no single
//! workspace), with the user and field as associated data. A code is accepted once:
//! the accepted time step is stored with a conditional write, so a replay within
//! the window, even a concurrent one, is refused.

use super::audit;
use crate::ApiState;
use crate::auth::{Caller, Client};
use crate::records::{Session, User};
use crate::sessions;
use aws_sdk_dynamodb::types::AttributeValue;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::sealing::{FieldIdentity, SealedValue};
use tern_aws::table::StoreError;
use tern_domain::ids::WorkspaceId;
use tern_http::{ApiError, Json};
use tern_security::totp::TotpSecret;

/// The scope platform-level secrets are sealed in: no workspace's key can open them.
pub fn platform_scope() -> WorkspaceId {
    // The nil UUID is never generated for a workspace.
    WorkspaceId::parse("00000000-0000-0000-0000-000000000000").unwrap_or_else(|_| WorkspaceId::generate())
}

const PURPOSE: &str = "totp";

async fn seal_secret(state: &ApiState, user_id: &str, field: &str, secret: &TotpSecret) -> Result<SealedValue, ApiError> {
    let scope = platform_scope();
    let scope_text = scope.to_string();
    let identity = FieldIdentity { workspace: &scope_text, entity: "user", id: user_id, field };
    state
        .sealer
        .seal(scope, &state.config.platform_key, PURPOSE, &identity, secret.expose_bytes())
        .await
        .map_err(ApiError::unavailable)
}

async fn open_secret(state: &ApiState, user_id: &str, field: &str, sealed: &SealedValue) -> Result<TotpSecret, ApiError> {
    let scope = platform_scope();
    let scope_text = scope.to_string();
    let identity = FieldIdentity { workspace: &scope_text, entity: "user", id: user_id, field };
    let bytes = state.sealer.open(scope, PURPOSE, &identity, sealed).await.map_err(ApiError::internal)?;
    TotpSecret::from_bytes(bytes).map_err(ApiError::internal)
}

/// Why a second factor was not accepted.
pub enum SecondFactorError {
    Wrong,
    Failed(ApiError),
}

/// Checks a TOTP code or a recovery code for `user` and records its use. On success
/// `user` holds the stored state.
pub async fn check_second_factor(
    state: &ApiState,
    user: &mut User,
    totp_code: Option<&str>,
    recovery_code: Option<&str>,
) -> Result<(), SecondFactorError> {
    let failed = SecondFactorError::Failed;
    let sealed = user.totp.clone().ok_or(SecondFactorError::Wrong)?;
    let previous_step = user.totp_last_step;
    if let Some(code) = totp_code {
        let secret = open_secret(state, &user.id, "totp", &sealed).await.map_err(failed)?;
        let last = (previous_step > 0).then_some(previous_step);
        let step = tern_security::totp::verify(&secret, code, state.now_unix(), last).map_err(|_| SecondFactorError::Wrong)?;
        user.totp_last_step = step;
    } else if let Some(code) = recovery_code {
        let mut hashes: Vec<tern_security::recovery::RecoveryCodeHash> =
            user.recovery_hashes.iter().filter_map(|h| tern_security::recovery::RecoveryCodeHash::from_hex(h).ok()).collect();
        tern_security::recovery::consume(&mut hashes, code).map_err(|_| SecondFactorError::Wrong)?;
        user.recovery_hashes = hashes.into_iter().map(|h| h.to_hex()).collect();
    } else {
        return Err(SecondFactorError::Wrong);
    }
    // Conditional on the step we read: of two sign-ins with the same code, one wins.
    match state.global.replace_if(user, None, "totp_last_step", AttributeValue::N(previous_step.to_string())).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed) => Err(SecondFactorError::Wrong),
        Err(e) => Err(failed(ApiError::unavailable(e))),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TwoFactorSetup {
    /// Base32 secret, for typing into an authenticator app. Shown once.
    secret: String,
    /// `otpauth://` URI, for a QR code.
    otpauth_uri: String,
}

/// Starts turning on 2FA: a new secret, confirmed by the first code.
#[utoipa::path(post, path = "/v1/me/2fa/setup", responses((status = 200, body = TwoFactorSetup), (status = 409, description = "already on")))]
pub async fn setup(State(state): State<Arc<ApiState>>, caller: Caller) -> Result<Response, ApiError> {
    let mut user = state.global.get::<User>(&caller.user_id).await.map_err(ApiError::unavailable)?.ok_or_else(ApiError::not_found)?;
    if user.has_two_factor() {
        return Err(ApiError::new(StatusCode::CONFLICT, "two_factor_on", "Two-factor authentication is already on; turn it off first."));
    }
    let secret = TotpSecret::generate().map_err(ApiError::internal)?;
    user.totp_pending = Some(seal_secret(&state, &user.id, "totp_pending", &secret).await?);
    state.global.put(&user, None).await.map_err(ApiError::unavailable)?;
    let body = TwoFactorSetup {
        secret: secret.to_base32().expose().clone(),
        otpauth_uri: secret.provisioning_uri("Tern", &user.email).expose().clone(),
    };
    let mut response = Json(body).into_response();
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Code {
    code: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    /// Each works once, instead of a code. Shown once.
    recovery_codes: Vec<String>,
}

/// Confirms 2FA with the first code from the app; returns the recovery codes.
#[utoipa::path(post, path = "/v1/me/2fa/confirm", request_body = Code, responses((status = 200, body = RecoveryCodes), (status = 422, description = "wrong code")))]
pub async fn confirm(State(state): State<Arc<ApiState>>, caller: Caller, client: Client, Json(input): Json<Code>) -> Result<Response, ApiError> {
    let mut user = state.global.get::<User>(&caller.user_id).await.map_err(ApiError::unavailable)?.ok_or_else(ApiError::not_found)?;
    let pending = user
        .totp_pending
        .clone()
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "no_setup", "Start with POST /v1/me/2fa/setup."))?;
    let secret = open_secret(&state, &user.id, "totp_pending", &pending).await?;
    let step = tern_security::totp::verify(&secret, &input.code, state.now_unix(), None)
        .map_err(|_| ApiError::unprocessable("invalid_code", "That code is not right for this secret; check the app's clock."))?;
    let codes = tern_security::recovery::generate().map_err(ApiError::internal)?;
    user.totp = Some(seal_secret(&state, &user.id, "totp", &secret).await?);
    user.totp_pending = None;
    user.totp_last_step = step;
    user.recovery_hashes = codes.hashes.iter().map(|h| h.to_hex()).collect();
    state.global.put(&user, None).await.map_err(ApiError::unavailable)?;
    // This session just proved the second factor.
    if let Some(mut session) = state.global.get::<Session>(&caller.session_id).await.map_err(ApiError::unavailable)? {
        session.two_factor = true;
        state.global.put(&session, sessions::expiry(&session)).await.map_err(ApiError::unavailable)?;
    }
    for ws in user.workspaces.iter().filter_map(|w| WorkspaceId::parse(w).ok()) {
        audit(&state, ws, &user.id, "user.two_factor_enabled", Some(&user.id), serde_json::json!({}), &client).await?;
    }
    let body = RecoveryCodes { recovery_codes: codes.codes.iter().map(|c| c.expose().clone()).collect() };
    let mut response = Json(body).into_response();
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Turns 2FA off; needs a current code.
#[utoipa::path(delete, path = "/v1/me/2fa", request_body = Code, responses((status = 204), (status = 422, description = "wrong code")))]
pub async fn disable(State(state): State<Arc<ApiState>>, caller: Caller, client: Client, Json(input): Json<Code>) -> Result<Response, ApiError> {
    let mut user = state.global.get::<User>(&caller.user_id).await.map_err(ApiError::unavailable)?.ok_or_else(ApiError::not_found)?;
    match check_second_factor(&state, &mut user, Some(&input.code), None).await {
        Ok(()) => {}
        Err(SecondFactorError::Wrong) => return Err(ApiError::unprocessable("invalid_code", "That code is not right, or was already used.")),
        Err(SecondFactorError::Failed(e)) => return Err(e),
    }
    user.totp = None;
    user.recovery_hashes.clear();
    state.global.put(&user, None).await.map_err(ApiError::unavailable)?;
    for ws in user.workspaces.iter().filter_map(|w| WorkspaceId::parse(w).ok()) {
        audit(&state, ws, &user.id, "user.two_factor_disabled", Some(&user.id), serde_json::json!({}), &client).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
