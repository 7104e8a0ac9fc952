//! TOTP two-factor authentication (RFC 6238) with recovery codes.
//!
//! The secret is sealed under the platform key (users belong to no single
//! workspace), with the user and field as associated data. A code is accepted once:
//! the accepted time step (or the spent recovery code) is stored with a write
//! conditional on the user's version, so a replay within the window, even a
//! concurrent one, is refused.
//!
//! Turning 2FA on or off needs the password again (and a code when it is on), and
//! every password or code checked here counts against the account's sign-in
//! throttle (`crate::attempts`): a stolen session can neither enrol its own
//! authenticator nor guess codes.

use super::audit;
use crate::auth::{Caller, Client};
use crate::records::{Session, User};
use crate::sessions;
use crate::{ApiState, attempts, users};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::sealing::{FieldIdentity, SealedValue};
use tern_domain::ids::WorkspaceId;
use tern_http::{ApiError, Json};
use tern_security::secret::SecretString;
use tern_security::totp::TotpSecret;

const PURPOSE: &str = "totp";

async fn seal_secret(state: &ApiState, user_id: &str, field: &str, secret: &TotpSecret) -> Result<SealedValue, ApiError> {
    // Platform-level secrets: no workspace's key can open them.
    let scope = WorkspaceId::PLATFORM;
    let scope_text = scope.to_string();
    let identity = FieldIdentity { workspace: &scope_text, entity: "user", id: user_id, field };
    state
        .platform
        .sealer()
        .seal(scope, &state.platform.config().platform_key, PURPOSE, &identity, secret.expose_bytes())
        .await
        .map_err(ApiError::from)
}

async fn open_secret(state: &ApiState, user_id: &str, field: &str, sealed: &SealedValue) -> Result<TotpSecret, ApiError> {
    // Platform-level secrets: no workspace's key can open them.
    let scope = WorkspaceId::PLATFORM;
    let scope_text = scope.to_string();
    let identity = FieldIdentity { workspace: &scope_text, entity: "user", id: user_id, field };
    let bytes = state.platform.sealer().open(scope, PURPOSE, &identity, sealed).await.map_err(ApiError::internal)?;
    TotpSecret::from_bytes(bytes).map_err(ApiError::internal)
}

/// Why a second factor was not accepted.
pub enum SecondFactorError {
    Wrong,
    Failed(ApiError),
}

impl From<ApiError> for SecondFactorError {
    fn from(error: ApiError) -> Self {
        SecondFactorError::Failed(error)
    }
}

/// Checks a TOTP code or a recovery code for the user and records its use; returns
/// the stored user. The check and the record are one write conditional on the user's
/// version (`crate::users::update`): of two concurrent uses of one code, the second
/// is checked again against the first's result, and refused.
pub async fn check_second_factor(
    state: &ApiState,
    user_id: &str,
    totp_code: Option<&str>,
    recovery_code: Option<&str>,
) -> Result<User, SecondFactorError> {
    let now = state.now_unix();
    let read = state.platform.global().get::<User>(user_id).await.map_err(ApiError::from)?.ok_or_else(ApiError::not_found)?;
    let sealed = read.totp.clone().ok_or(SecondFactorError::Wrong)?;
    let secret = match totp_code {
        Some(_) => Some(open_secret(state, user_id, "totp", &sealed).await?),
        None => None,
    };
    let (user, ()) = users::update(state, user_id, |user: &mut User| {
        // The secret opened above must still be the user's (not turned off and on again).
        if user.totp.as_ref() != Some(&sealed) {
            return Err(SecondFactorError::Wrong);
        }
        if let (Some(code), Some(secret)) = (totp_code, &secret) {
            let last = (user.totp_last_step > 0).then_some(user.totp_last_step);
            user.totp_last_step = tern_security::totp::verify(secret, code, now, last).map_err(|_| SecondFactorError::Wrong)?;
        } else if let Some(code) = recovery_code {
            let mut hashes: Vec<tern_security::recovery::RecoveryCodeHash> =
                user.recovery_hashes.iter().filter_map(|h| tern_security::recovery::RecoveryCodeHash::from_hex(h).ok()).collect();
            tern_security::recovery::consume(&mut hashes, code).map_err(|_| SecondFactorError::Wrong)?;
            user.recovery_hashes = hashes.into_iter().map(|h| h.to_hex()).collect();
        } else {
            return Err(SecondFactorError::Wrong);
        }
        Ok(())
    })
    .await?;
    Ok(user)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TwoFactorSetup {
    /// Base32 secret, for typing into an authenticator app. Shown once.
    secret: String,
    /// `otpauth://` URI, for a QR code.
    otpauth_uri: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartSetup {
    /// The caller's password, asked again: a stolen session alone cannot enrol its
    /// own authenticator.
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    response
}

fn already_on() -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "two_factor_on", "Two-factor authentication is already on; turn it off first.")
}

/// Starts turning on 2FA after re-authentication: a new secret, confirmed by the
/// first code. Wrong passwords count against the account's sign-in throttle.
#[utoipa::path(post, path = "/v1/me/2fa/setup", request_body = StartSetup, responses(
    (status = 200, body = TwoFactorSetup), (status = 403, description = "`reauthentication_failed`: wrong password"),
    (status = 409, description = "already on"), (status = 429, description = "throttled")))]
pub async fn setup(State(state): State<Arc<ApiState>>, caller: Caller, Json(input): Json<StartSetup>) -> Result<Response, ApiError> {
    let user = state.platform.global().get::<User>(&caller.user_id).await?.ok_or_else(ApiError::not_found)?;
    if user.has_two_factor() {
        return Err(already_on());
    }
    let proof = attempts::Proof { password: &input.password, totp_code: None, recovery_code: None };
    if let Some(throttled) = attempts::reauthenticate(&state, &user.id, proof).await? {
        return Ok(throttled);
    }
    let secret = TotpSecret::generate().map_err(ApiError::internal)?;
    let pending = seal_secret(&state, &user.id, "totp_pending", &secret).await?;
    let (user, ()) = users::update(&state, &user.id, |user: &mut User| {
        if user.has_two_factor() {
            return Err(already_on());
        }
        user.totp_pending = Some(pending.clone());
        Ok(())
    })
    .await?;
    let body = TwoFactorSetup {
        secret: secret.to_base32().expose().clone(),
        otpauth_uri: secret.provisioning_uri("Tern", &user.email).expose().clone(),
    };
    Ok(no_store(Json(body).into_response()))
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

fn no_setup() -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "no_setup", "Start with POST /v1/me/2fa/setup.")
}

/// Confirms 2FA with the first code from the app; returns the recovery codes. Wrong
/// codes count against the account's sign-in throttle.
#[utoipa::path(post, path = "/v1/me/2fa/confirm", request_body = Code, responses(
    (status = 200, body = RecoveryCodes), (status = 409, description = "no setup started"), (status = 422, description = "wrong code"),
    (status = 429, description = "throttled")))]
pub async fn confirm(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    client: Client,
    Json(input): Json<Code>,
) -> Result<Response, ApiError> {
    let user = state.platform.global().get::<User>(&caller.user_id).await?.ok_or_else(ApiError::not_found)?;
    if user.totp_pending.is_none() {
        return Err(no_setup());
    }
    let attempt = match attempts::admit(&state, vec![attempts::Key::account(&user.email)]).await? {
        attempts::Admission::Admitted(attempt) => attempt,
        attempts::Admission::Refused(response) => return Ok(response),
    };
    let now = state.now_unix();
    let codes = tern_security::recovery::generate().map_err(ApiError::internal)?;
    let hashes: Vec<String> = codes.hashes.iter().map(|h| h.to_hex()).collect();
    let pending = user.totp_pending.clone().ok_or_else(no_setup)?;
    let secret = open_secret(&state, &user.id, "totp_pending", &pending).await?;
    let sealed = seal_secret(&state, &user.id, "totp", &secret).await?;
    // Checked against the record being written: a setup started again meanwhile has
    // replaced the secret this code would have to match. An error here leaves the
    // attempt counted.
    let (user, ()) = users::update(&state, &user.id, |user: &mut User| {
        if user.totp_pending.as_ref() != Some(&pending) {
            return Err(no_setup());
        }
        let step = tern_security::totp::verify(&secret, &input.code, now, None)
            .map_err(|_| ApiError::unprocessable("invalid_code", "That code is not right for this secret; check the app's clock."))?;
        user.totp = Some(sealed.clone());
        user.totp_pending = None;
        user.totp_last_step = step;
        user.recovery_hashes = hashes.clone();
        Ok::<_, ApiError>(())
    })
    .await?;
    attempt.succeeded(&state).await?;
    // This session just proved the second factor.
    if let Some(mut session) = state.platform.global().get::<Session>(&caller.session_id).await? {
        session.two_factor = true;
        state.platform.global().put(&session, sessions::expiry(&session)).await?;
    }
    for ws in crate::users::memberships(&user.workspaces) {
        audit(&state, ws, &user.id, "user.two_factor_enabled", Some(&user.id), serde_json::json!({}), &client).await?;
    }
    let body = RecoveryCodes { recovery_codes: codes.codes.iter().map(|c| c.expose().clone()).collect() };
    Ok(no_store(Json(body).into_response()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableTwoFactor {
    /// The caller's password, asked again.
    #[schema(value_type = String, format = Password)]
    password: SecretString,
    /// A current code from the authenticator app…
    #[serde(default)]
    code: Option<String>,
    /// …or, with the phone lost, one of the recovery codes.
    #[serde(default)]
    recovery_code: Option<String>,
}

/// Turns 2FA off after re-authentication with the password and a current code (or
/// a recovery code), counted against the account's sign-in throttle.
#[utoipa::path(delete, path = "/v1/me/2fa", request_body = DisableTwoFactor, responses(
    (status = 204), (status = 403, description = "`reauthentication_failed`: wrong password or code"),
    (status = 409, description = "2FA is not on"), (status = 429, description = "throttled")))]
pub async fn disable(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    client: Client,
    Json(input): Json<DisableTwoFactor>,
) -> Result<Response, ApiError> {
    let user = state.platform.global().get::<User>(&caller.user_id).await?.ok_or_else(ApiError::not_found)?;
    if !user.has_two_factor() {
        return Err(ApiError::new(StatusCode::CONFLICT, "two_factor_off", "Two-factor authentication is not on."));
    }
    let proof =
        attempts::Proof { password: &input.password, totp_code: input.code.as_deref(), recovery_code: input.recovery_code.as_deref() };
    if let Some(throttled) = attempts::reauthenticate(&state, &user.id, proof).await? {
        return Ok(throttled);
    }
    let (user, ()) = users::update(&state, &user.id, |user: &mut User| {
        user.totp = None;
        user.totp_pending = None;
        user.recovery_hashes.clear();
        Ok::<_, ApiError>(())
    })
    .await?;
    for ws in crate::users::memberships(&user.workspaces) {
        audit(&state, ws, &user.id, "user.two_factor_disabled", Some(&user.id), serde_json::json!({}), &client).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default().add(__path_setup, setup).add(__path_confirm, confirm).add(__path_disable, disable)
}
