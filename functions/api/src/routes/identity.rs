//! Sign-up, sign-in, token refresh, sessions and password changes.

use super::{audit, email, locale, text, timezone, weak_password};
use crate::auth::{Caller, Client, REFRESH_COOKIE, cookie};
use crate::platform_mail::{self, PlatformMail};
use crate::records::{EmailLookup, EmailToken, EmailTokenPurpose, Member, PendingSignup, Plan, Session, Throttle, User};
use crate::sessions::{self, SignedIn};
use crate::{ApiState, attempts, limits, users};
use aws_sdk_dynamodb::types::AttributeValue;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::Tenant;
use tern_aws::table::StoreError;
use tern_http::{ApiError, Json, Path};
use tern_security::roles::Role;
use tern_security::secret::SecretString;
use tern_security::token::{OpaqueToken, RefreshToken, RotateOutcome, TokenHash};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
    name: String,
    workspace_name: String,
    /// Every workspace starts on `trial`; only `trial` is accepted here (another plan
    /// is refused with `plan_not_selectable`: plans change through billing or a
    /// platform operator, never the client).
    #[serde(default)]
    plan: Option<Plan>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    remember_me: bool,
}

/// How long a sign-up's or an address's verification link works.
pub const VERIFICATION_LIFETIME: time::Duration = time::Duration::hours(24);

/// The one answer sign-up gives, whether or not the address has an account.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CheckYourEmail {
    /// Always `verification_sent`.
    status: &'static str,
    message: &'static str,
}

fn check_your_email() -> Response {
    let body = CheckYourEmail { status: "verification_sent", message: "Check your e-mail: the link we sent finishes the sign-up." };
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// Starts a sign-up: mails a link that proves the address. Nothing is created until
/// the link is used (`POST /v1/signup/verify`), so a stranger's sign-up with someone's
/// address claims nothing. The answer is the same whether or not the address has an
/// account (its owner gets a mail saying someone tried, instead of a link).
#[utoipa::path(post, path = "/v1/signup", request_body = SignUp, responses(
    (status = 202, body = CheckYourEmail, description = "the same for every valid request"),
    (status = 422, description = "invalid fields, or a plan other than trial (`plan_not_selectable`)"),
    (status = 429, description = "too many sign-ups from this address (`rate_limited`, with Retry-After)")))]
pub async fn sign_up(State(state): State<Arc<ApiState>>, client: Client, Json(input): Json<SignUp>) -> Result<Response, ApiError> {
    // Refused rather than ignored, so a client that asks for a plan learns at once
    // that it did not get it.
    if input.plan.is_some_and(|plan| plan != Plan::Trial) {
        return Err(ApiError::unprocessable(
            "plan_not_selectable",
            "Every workspace starts on the trial plan; the plan changes through billing, not at sign-up.",
        ));
    }
    let email = email(&input.email)?;
    let name = text("name", &input.name, 100)?;
    let workspace_name = text("workspace_name", &input.workspace_name, 100)?;
    let timezone = timezone(input.timezone.as_deref())?;
    let locale = locale(input.locale.as_deref())?;
    state.policy.check(&input.password, &email, Some(&name)).map_err(weak_password)?;
    // Before the password is hashed: a refused sign-up costs the platform one write.
    if let limits::Outcome::Limited { retry_after } = limits::take(&state, limits::SIGNUP_PER_IP, &limits::ip_subject(&client)).await? {
        return Ok(limits::too_many(retry_after, "Too many sign-ups from your address. Try again later."));
    }
    // Hashed on both paths, so the answer takes as long for an existing address.
    let password_hash = state.hasher.hash(&input.password).map_err(ApiError::internal)?;
    let existing = state.platform.global().get::<EmailLookup>(&email).await?;
    // A person's inbox is not a target: past the limit the answer stays the same and nothing is sent.
    if let limits::Outcome::Limited { .. } =
        limits::take(&state, limits::SIGNUP_MAILS_PER_ADDRESS, &limits::address_subject(&email)).await?
    {
        return Ok(check_your_email());
    }
    if existing.is_some() {
        let reset = platform_mail::page(&state, "reset-password")?;
        let text = format!(
            "Someone (perhaps you) tried to sign up for Tern with this address, which already has an account.\n\n\
             If it was you, sign in, or reset your password: {reset}\n\nIf not, you can ignore this message; nothing was changed.\n"
        );
        platform_mail::send(&state, PlatformMail { to: email, subject: "Your Tern account".into(), text }).await?;
        return Ok(check_your_email());
    }
    let token = OpaqueToken::generate().map_err(ApiError::internal)?;
    let expires = state.platform.clock().now() + VERIFICATION_LIFETIME;
    let pending = PendingSignup {
        token_hash: token.hash().to_hex(),
        email: email.clone(),
        name,
        password_hash: password_hash.as_str().to_string(),
        workspace_name,
        timezone,
        locale,
        remember_me: input.remember_me,
        expires_at: expires.unix_timestamp(),
    };
    state.platform.global().create(&pending, Some(expires)).await?;
    let link = platform_mail::link(&state, "signup/verify", token.expose())?;
    let text = format!(
        "Welcome to Tern. Follow this link within 24 hours to confirm your address and finish signing up:\n\n{link}\n\nIf you did not sign up, ignore this message.\n"
    );
    platform_mail::send(&state, PlatformMail { to: email, subject: "Confirm your e-mail address".into(), text }).await?;
    Ok(check_your_email())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifySignUp {
    /// The token from the link in the sign-up mail.
    #[schema(value_type = String)]
    token: SecretString,
    #[serde(default)]
    remember_me: bool,
}

fn link_invalid() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "token_invalid", "This link is invalid, used or expired.")
}

/// Finishes a sign-up with the token from its mail: creates the account (its address
/// verified), its workspace on the trial plan with its own KMS key, and a session.
/// The link works once and for 24 hours.
#[utoipa::path(post, path = "/v1/signup/verify", request_body = VerifySignUp, responses(
    (status = 201, body = SignedIn), (status = 404, description = "invalid, used or expired (`token_invalid`)"),
    (status = 409, description = "the address got an account meanwhile (`email_taken`): sign in")))]
pub async fn verify_sign_up(
    State(state): State<Arc<ApiState>>,
    client: Client,
    Json(input): Json<VerifySignUp>,
) -> Result<Response, ApiError> {
    let hash = TokenHash::of(input.token.expose()).to_hex();
    // Taking it is the claim: of two concurrent uses, one gets it.
    let pending = state.platform.global().take::<PendingSignup>(&hash).await?.ok_or_else(link_invalid)?;
    let now = state.platform.clock().now().unix_timestamp();
    if pending.expires_at <= now {
        return Err(link_invalid());
    }
    let email = pending.email.clone();
    let user_id = tern_domain::ids::RequestId::generate().to_string();
    let tenant = Tenant::create();
    let workspace = tenant.workspace();
    match state.platform.global().create(&EmailLookup { email: email.clone(), user_id: user_id.clone() }, None).await {
        Ok(()) => {}
        // Only the address's owner holds this link, so saying so reveals nothing.
        Err(StoreError::ConditionFailed) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "This address already has an account; sign in, or reset the password.",
            ));
        }
        Err(e) => return Err(ApiError::unavailable(e)),
    }
    // The e-mail is claimed first (that is what makes sign-up race-free); if anything
    // after it fails, the claim is released so the person can simply sign up again.
    let created = async {
        let mut user =
            User::new(user_id.clone(), email.clone(), pending.name.clone(), pending.password_hash.clone(), now, workspace.to_string());
        user.email_verified_at = Some(now);
        state.platform.global().create(&user, None).await?;
        let settings = super::workspaces::NewWorkspace {
            name: pending.workspace_name.clone(),
            plan: Plan::Trial,
            timezone: pending.timezone.clone(),
            locale: pending.locale.clone(),
            parent_id: None,
        };
        super::workspaces::create_workspace(&state, tenant, settings, &user, &client).await?;
        Ok::<_, ApiError>(())
    }
    .await;
    if let Err(error) = created {
        if let Err(e) = state.platform.global().delete::<EmailLookup>(&email).await {
            tracing::error!(error = %e, "could not release the e-mail claim of a failed sign-up");
        }
        return Err(error);
    }
    audit(&state, tenant, &user_id, "user.email_verified", Some(&user_id), serde_json::json!({ "via": "signup" }), &client).await?;
    let (headers, body) =
        sessions::start(&state, &user_id, &workspace.to_string(), Role::Owner, input.remember_me || pending.remember_me, false, &client)
            .await?;
    audit(&state, tenant, &user_id, "session.signed_in", Some(&body.session_id), serde_json::json!({ "via": "signup" }), &client).await?;
    Ok((StatusCode::CREATED, headers, Json(body)).into_response())
}

/// Mails `user` a single-use link (its hash stored) that verifies their address.
pub(crate) async fn send_verification(state: &ApiState, user: &User) -> Result<(), ApiError> {
    let token = OpaqueToken::generate().map_err(ApiError::internal)?;
    let expires = state.platform.clock().now() + VERIFICATION_LIFETIME;
    let record = EmailToken {
        token_hash: token.hash().to_hex(),
        purpose: EmailTokenPurpose::VerifyEmail,
        user_id: user.id.clone(),
        email: user.email.clone(),
        expires_at: expires.unix_timestamp(),
    };
    state.platform.global().create(&record, Some(expires)).await?;
    let link = platform_mail::link(state, "verify-email", token.expose())?;
    let text = format!(
        "Follow this link within 24 hours to confirm this is your address:\n\n{link}\n\nUntil then your Tern account cannot work in its workspaces.\n"
    );
    platform_mail::send(state, PlatformMail { to: user.email.clone(), subject: "Confirm your e-mail address".into(), text }).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmail {
    /// The token from the link in the verification mail.
    #[schema(value_type = String)]
    token: SecretString,
}

/// Verifies the signed-in account's address with the token from its mail (accounts
/// that joined by invitation, or that existed before verification). Works once.
#[utoipa::path(post, path = "/v1/me/email/verify", request_body = VerifyEmail, responses(
    (status = 204), (status = 401, description = "not signed in"), (status = 404, description = "invalid, used or expired (`token_invalid`)")))]
pub async fn verify_email(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    client: Client,
    Json(input): Json<VerifyEmail>,
) -> Result<Response, ApiError> {
    let hash = TokenHash::of(input.token.expose()).to_hex();
    let record = state.platform.global().get::<EmailToken>(&hash).await?;
    let now = state.platform.clock().now().unix_timestamp();
    // Another account's token is refused without being spent.
    record
        .filter(|t| t.purpose == EmailTokenPurpose::VerifyEmail && t.user_id == caller.user_id && t.expires_at > now)
        .ok_or_else(link_invalid)?;
    let record = state.platform.global().take::<EmailToken>(&hash).await?.ok_or_else(link_invalid)?;
    let user = state.platform.global().get::<User>(&caller.user_id).await?.ok_or_else(ApiError::not_found)?;
    if user.email != record.email {
        return Err(link_invalid());
    }
    if user.email_verified_at.is_none() {
        users::update(&state, &user.id, |user: &mut User| {
            user.email_verified_at.get_or_insert(now);
            Ok::<_, ApiError>(())
        })
        .await?;
        for ws in crate::users::memberships(&user.workspaces) {
            audit(&state, ws, &user.id, "user.email_verified", Some(&user.id), serde_json::json!({}), &client).await?;
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Sends the signed-in account a new verification link (throttled per account).
#[utoipa::path(post, path = "/v1/me/email/verification", responses(
    (status = 202, description = "sent"), (status = 401, description = "not signed in"),
    (status = 409, description = "already verified (`already_verified`)"), (status = 429, description = "`rate_limited`, with Retry-After")))]
pub async fn resend_verification(State(state): State<Arc<ApiState>>, caller: Caller) -> Result<Response, ApiError> {
    let user = state.platform.global().get::<User>(&caller.user_id).await?.ok_or_else(ApiError::not_found)?;
    if user.email_verified_at.is_some() {
        return Err(ApiError::new(StatusCode::CONFLICT, "already_verified", "This address is already verified."));
    }
    if let limits::Outcome::Limited { retry_after } = limits::take(&state, limits::VERIFICATION_RESENDS_PER_ACCOUNT, &user.id).await? {
        return Ok(limits::too_many(retry_after, "A link was sent several times already. Check your inbox, or try again later."));
    }
    send_verification(&state, &user).await?;
    Ok(StatusCode::ACCEPTED.into_response())
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
    let mut response =
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", "Too many sign-in attempts. Wait a moment and try again.")
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

    let lookup = state.platform.global().get::<EmailLookup>(&email).await?;
    let user = match lookup {
        Some(l) => state.platform.global().get::<User>(&l.user_id).await?,
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
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "two_factor_required",
                "Send the code from your authenticator app as totp_code.",
            ));
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
    let role = match crate::users::membership(&workspace) {
        Some(ws) => state.platform.table().scope(ws).get::<Member>(&user.id).await?.map(|m| m.role),
        None => None,
    };
    let (headers, body) =
        sessions::start(&state, &user.id, &workspace, role.unwrap_or(Role::Readonly), input.remember_me, two_factor, &client).await?;
    if let Some(ws) = crate::users::membership(&workspace) {
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
pub async fn refresh(
    State(state): State<Arc<ApiState>>,
    client: Client,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    // The body is optional: browsers send only the cookie.
    let body: Refresh = if body.iter().all(u8::is_ascii_whitespace) {
        Refresh::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::unprocessable("invalid_fields", format!("The body is not a valid refresh request: {e}")))?
    };
    let presented = body
        .refresh_token
        .map(|t| t.expose().to_string())
        .or_else(|| cookie(&headers, REFRESH_COOKIE).map(String::from))
        .ok_or_else(|| ApiError::unauthorized("No refresh token was sent."))?;
    let invalid = || ApiError::unauthorized("The refresh token is invalid, expired or revoked.");
    let token = RefreshToken::parse(&presented).map_err(|_| invalid())?;
    let mut session = state.platform.global().get::<Session>(token.family_id.as_str()).await?.ok_or_else(invalid)?;
    let previous_hash = session.current_hash.clone();
    let now = state.now_unix();
    match session.family.rotate(&token.secret.hash(), now).map_err(ApiError::internal)? {
        RotateOutcome::Rotated { token } => {
            session.current_hash = session.family.current_hash.to_hex();
            session.last_seen_at = now as i64;
            session.ip = client.ip.clone();
            match state
                .platform
                .global()
                .replace_if(&session, sessions::expiry(&session), "current_hash", AttributeValue::S(previous_hash))
                .await
            {
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
            state.platform.global().put(&session, sessions::expiry(&session)).await?;
            if let Some(ws) = crate::users::membership(&session.workspace_id) {
                audit(
                    &state,
                    ws,
                    &session.user_id,
                    "session.refresh_token_reused",
                    Some(&session.id),
                    serde_json::json!({ "revoked": true }),
                    &client,
                )
                .await?;
            }
            tracing::warn!(session = %session.id, "refresh token reused; session revoked");
            Err(invalid())
        }
        RotateOutcome::Expired | RotateOutcome::Revoked | RotateOutcome::Unknown => Err(invalid()),
    }
}

async fn role_in(state: &ApiState, session: &Session) -> Result<Role, ApiError> {
    let Some(ws) = crate::users::membership(&session.workspace_id) else {
        return Ok(Role::Readonly);
    };
    let member = state.platform.table().scope(ws).get::<Member>(&session.user_id).await?;
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
            .map(|s| SessionView {
                current: s.id == caller.session_id,
                id: s.id,
                device: s.device,
                ip: s.ip,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
            })
            .collect(),
    ))
}

/// Signs one of the caller's sessions out, on whatever device it is.
#[utoipa::path(delete, path = "/v1/sessions/{session_id}", params(("session_id" = String, Path)), responses(
    (status = 204), (status = 404, description = "no such session of yours")))]
pub async fn revoke_session(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    client: Client,
    Path(session_id): Path<String>,
) -> Result<Response, ApiError> {
    let session = state.platform.global().get::<Session>(&session_id).await?;
    let Some(session) = session.filter(|s| s.user_id == caller.user_id) else {
        return Err(ApiError::not_found());
    };
    sessions::revoke(&state, &session.id).await?;
    if let Some(ws) = crate::users::membership(&session.workspace_id) {
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
pub async fn change_password(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    client: Client,
    Json(input): Json<ChangePassword>,
) -> Result<Response, ApiError> {
    let proof = attempts::Proof {
        password: &input.current_password,
        totp_code: input.totp_code.as_deref(),
        recovery_code: input.recovery_code.as_deref(),
    };
    if let Some(throttled) = attempts::reauthenticate(&state, &caller.user_id, proof).await? {
        return Ok(throttled);
    }
    let user = state.platform.global().get::<User>(&caller.user_id).await?.ok_or_else(ApiError::not_found)?;
    state.policy.check(&input.new_password, &user.email, Some(&user.name)).map_err(weak_password)?;
    let password_hash = state.hasher.hash(&input.new_password).map_err(ApiError::internal)?.as_str().to_string();
    let (user, ()) = users::update(&state, &user.id, |user: &mut User| {
        user.password_hash = password_hash.clone();
        Ok::<_, ApiError>(())
    })
    .await?;
    let revoked = sessions::revoke_all(&state, &user.id, Some(&caller.session_id)).await?;
    for ws in crate::users::memberships(&user.workspaces) {
        audit(
            &state,
            ws,
            &user.id,
            "user.password_changed",
            Some(&user.id),
            serde_json::json!({ "other_sessions_revoked": true, "sessions_revoked": revoked }),
            &client,
        )
        .await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// How long a password-reset link works.
pub const RESET_LIFETIME: time::Duration = time::Duration::hours(1);

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    email: String,
}

/// The one answer a reset request gets, whether or not the address has an account.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ResetRequested {
    /// Always `reset_requested`.
    status: &'static str,
    message: &'static str,
}

/// Mails a single-use link (valid one hour; only its hash is stored) to reset the
/// password of the address's account. Unknown addresses get the same answer and no
/// mail; requests are limited per source address (429) and mails per address
/// (silently: the answer stays the same).
#[utoipa::path(post, path = "/v1/password-reset", request_body = PasswordResetRequest, responses(
    (status = 202, body = ResetRequested, description = "the same for every valid address"),
    (status = 422, description = "not an e-mail address"), (status = 429, description = "`rate_limited`, with Retry-After")))]
pub async fn request_password_reset(
    State(state): State<Arc<ApiState>>,
    client: Client,
    Json(input): Json<PasswordResetRequest>,
) -> Result<Response, ApiError> {
    let email = email(&input.email)?;
    if let limits::Outcome::Limited { retry_after } = limits::take(&state, limits::RESET_PER_IP, &limits::ip_subject(&client)).await? {
        return Ok(limits::too_many(retry_after, "Too many reset requests from your address. Try again later."));
    }
    let answer = || {
        let body = ResetRequested {
            status: "reset_requested",
            message: "If this address has an account, a link to reset its password is on its way.",
        };
        (StatusCode::ACCEPTED, Json(body)).into_response()
    };
    if let limits::Outcome::Limited { .. } = limits::take(&state, limits::RESET_MAILS_PER_ADDRESS, &limits::address_subject(&email)).await?
    {
        return Ok(answer());
    }
    let Some(lookup) = state.platform.global().get::<EmailLookup>(&email).await? else {
        return Ok(answer());
    };
    let token = OpaqueToken::generate().map_err(ApiError::internal)?;
    let expires = state.platform.clock().now() + RESET_LIFETIME;
    let record = EmailToken {
        token_hash: token.hash().to_hex(),
        purpose: EmailTokenPurpose::PasswordReset,
        user_id: lookup.user_id,
        email: email.clone(),
        expires_at: expires.unix_timestamp(),
    };
    state.platform.global().create(&record, Some(expires)).await?;
    let link = platform_mail::link(&state, "reset-password", token.expose())?;
    let text = format!(
        "Someone (we hope you) asked to reset the password of your Tern account. Follow this link within an hour to choose a new one:\n\n{link}\n\n\
         Resetting signs out every session. If you did not ask, ignore this message; your password stays as it is.\n"
    );
    platform_mail::send(&state, PlatformMail { to: email, subject: "Reset your Tern password".into(), text }).await?;
    Ok(answer())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    /// The token from the link in the reset mail.
    #[schema(value_type = String)]
    token: SecretString,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// Sets a new password with the token from a reset mail (once, within the hour) and
/// signs out every session of the account. The link proves the address, so an
/// unverified account becomes verified, and whatever its unproven holder set up
/// (a second factor) is cleared: the address's owner always gets the account back.
#[utoipa::path(post, path = "/v1/password-reset/confirm", request_body = PasswordResetConfirm, responses(
    (status = 204), (status = 404, description = "invalid, used or expired (`token_invalid`)"), (status = 422, description = "weak password")))]
pub async fn confirm_password_reset(
    State(state): State<Arc<ApiState>>,
    client: Client,
    Json(input): Json<PasswordResetConfirm>,
) -> Result<Response, ApiError> {
    let hash = TokenHash::of(input.token.expose()).to_hex();
    let now = state.platform.clock().now().unix_timestamp();
    let record = state.platform.global().get::<EmailToken>(&hash).await?;
    let record = record.filter(|t| t.purpose == EmailTokenPurpose::PasswordReset && t.expires_at > now).ok_or_else(link_invalid)?;
    let user = state.platform.global().get::<User>(&record.user_id).await?.ok_or_else(link_invalid)?;
    if user.email != record.email {
        return Err(link_invalid());
    }
    // Checked before the token is spent, so a weak choice can be corrected with the same link.
    state.policy.check(&input.password, &user.email, Some(&user.name)).map_err(weak_password)?;
    let password_hash = state.hasher.hash(&input.password).map_err(ApiError::internal)?;
    // Taking it is the claim: of two concurrent uses, one gets it.
    state.platform.global().take::<EmailToken>(&hash).await?.ok_or_else(link_invalid)?;
    // Versioned: a concurrent change of the record is re-read and kept.
    let (user, (was_unverified, two_factor_cleared)) = users::update(&state, &user.id, |user: &mut User| {
        let was_unverified = user.email_verified_at.is_none();
        let two_factor_cleared = was_unverified && (user.totp.is_some() || user.totp_pending.is_some());
        if was_unverified {
            user.totp = None;
            user.totp_pending = None;
            user.recovery_hashes.clear();
            user.email_verified_at = Some(now);
        }
        user.password_hash = password_hash.as_str().to_string();
        Ok::<_, ApiError>((was_unverified, two_factor_cleared))
    })
    .await?;
    sessions::revoke_all(&state, &user.id, None).await?;
    // A lock-out from wrong passwords ends with the new one.
    state.platform.global().delete::<Throttle>(&account_key(&user.email)).await?;
    let parameters =
        serde_json::json!({ "sessions_revoked": true, "email_verified": was_unverified, "two_factor_cleared": two_factor_cleared });
    for ws in crate::users::memberships(&user.workspaces) {
        audit(&state, ws, &user.id, "user.password_reset", Some(&user.id), parameters.clone(), &client).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default()
        .add(__path_sign_up, sign_up)
        .add(__path_verify_sign_up, verify_sign_up)
        .add(__path_verify_email, verify_email)
        .add(__path_resend_verification, resend_verification)
        .add(__path_request_password_reset, request_password_reset)
        .add(__path_confirm_password_reset, confirm_password_reset)
        .add(__path_sign_in, sign_in)
        .add(__path_refresh, refresh)
        .add(__path_list_sessions, list_sessions)
        .add(__path_revoke_session, revoke_session)
        .add(__path_change_password, change_password)
}
