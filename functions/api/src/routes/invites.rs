//! Invitations: an owner or admin invites an address with a role; the link signs a
//! new account up, or lets an existing one join.

use super::{audit, email, text, weak_password};
use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use crate::records::{EmailLookup, Invite, Member, User};
use crate::sessions::{self, SignedIn};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::table::StoreError;
use tern_aws::{Lookup, Tenant};
use tern_domain::ids::WorkspaceId;
use tern_http::{ApiError, Json};
use tern_security::roles::Role;
use tern_security::secret::SecretString;
use tern_security::token::{OpaqueToken, TokenHash};

/// How long an invitation link works.
pub const INVITE_LIFETIME: time::Duration = time::Duration::days(7);

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvite {
    email: String,
    #[schema(value_type = String)]
    role: Role,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InviteCreated {
    /// Shown once: the link carries it. Only its hash is stored.
    token: String,
    expires_at: i64,
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/invites", params(("ws" = String, Path)), request_body = NewInvite,
    responses((status = 201, body = InviteCreated), (status = 403), (status = 404)))]
pub async fn invite(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageMembers>,
    Json(input): Json<NewInvite>,
) -> Result<Response, ApiError> {
    let email = email(&input.email)?;
    if input.role == Role::Support || !ctx.role.can_grant(input.role) {
        return Err(ApiError::forbidden(format!("A {} cannot invite a {}.", ctx.role, input.role)));
    }
    let token = OpaqueToken::generate().map_err(ApiError::internal)?;
    let expires = state.platform.clock().now() + INVITE_LIFETIME;
    let invite = Invite {
        token_hash: token.hash().to_hex(),
        workspace_id: ctx.workspace().to_string(),
        email: email.clone(),
        role: input.role,
        invited_by: ctx.actor.audit_name(),
        expires_at: expires.unix_timestamp(),
    };
    state.platform.global().create(&invite, Some(expires)).await?;
    audit(&state, ctx.tenant, &ctx.actor.audit_name(), "member.invited", Some(&email), serde_json::json!({ "role": input.role }), &client)
        .await?;
    Ok((StatusCode::CREATED, Json(InviteCreated { token: token.expose().to_string(), expires_at: invite.expires_at })).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvite {
    #[schema(value_type = String)]
    token: SecretString,
    /// For a new account; signed in as the invited address, leave it out.
    #[serde(default)]
    name: Option<String>,
    /// For a new account; signed in as the invited address, leave it out.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    password: Option<SecretString>,
    #[serde(default)]
    remember_me: bool,
}

/// Accepts an invitation: as a new user (whose address is then verified by a mailed
/// link before the account can act), or signed in as the invited address's existing,
/// verified account, which joins the workspace. The link works once and for seven days.
#[utoipa::path(post, path = "/v1/invites/accept", request_body = AcceptInvite, responses(
    (status = 201, body = SignedIn, description = "a session in the invited workspace"),
    (status = 403, description = "signed in as another address (`invite_for_another_address`) or unverified (`email_not_verified`)"),
    (status = 404, description = "invalid, used or expired"), (status = 409, description = "account exists: sign in to accept")))]
pub async fn accept_invite(
    State(state): State<Arc<ApiState>>,
    client: Client,
    caller: Option<crate::auth::Caller>,
    Json(input): Json<AcceptInvite>,
) -> Result<Response, ApiError> {
    let gone = || ApiError::new(StatusCode::NOT_FOUND, "invite_invalid", "This invitation is invalid, used or expired.");
    let hash = TokenHash::of(input.token.expose()).to_hex();
    let invite = state.platform.global().get::<Invite>(&hash).await?.ok_or_else(gone)?;
    if invite.expires_at <= state.platform.clock().now().unix_timestamp() {
        return Err(gone());
    }
    let workspace = Tenant::found(WorkspaceId::parse(&invite.workspace_id).map_err(ApiError::internal)?, Lookup::Invitation);
    if let Some(caller) = caller {
        return accept_as_existing(&state, &client, caller, invite, &hash, workspace, input.remember_me).await;
    }
    let (Some(name), Some(password)) = (input.name.as_deref(), input.password.as_ref()) else {
        return Err(ApiError::unprocessable(
            "invalid_fields",
            "A new account needs `name` and `password`; an existing one signs in and accepts.",
        ));
    };
    let name = text("name", name, 100)?;
    state.policy.check(password, &invite.email, Some(&name)).map_err(weak_password)?;
    let user_id = tern_domain::ids::RequestId::generate().to_string();
    match state.platform.global().create(&EmailLookup { email: invite.email.clone(), user_id: user_id.clone() }, None).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => {
            return Err(ApiError::new(StatusCode::CONFLICT, "account_exists", "This e-mail already has an account; sign in to accept."));
        }
        Err(e) => return Err(ApiError::unavailable(e)),
    }
    // Single use: the deletion is the claim. A second accept finds nothing.
    state.platform.global().delete::<Invite>(&hash).await?;
    let now = state.platform.clock().now().unix_timestamp();
    let password_hash = state.hasher.hash(password).map_err(ApiError::internal)?;
    // Unverified: whoever holds the link (the inviter has it too) is not yet proven to
    // own the address; the mailed link does that.
    let user = User::new(
        user_id.clone(),
        invite.email.clone(),
        name.clone(),
        password_hash.as_str().to_string(),
        now,
        invite.workspace_id.clone(),
    );
    state.platform.global().create(&user, None).await?;
    let member = Member { user_id: user_id.clone(), email: invite.email.clone(), name, role: invite.role, joined_at: now };
    state.platform.table().scope(workspace).create(&member, None).await?;
    audit(
        &state,
        workspace,
        &user_id,
        "member.joined",
        Some(&user_id),
        serde_json::json!({ "role": invite.role, "invited_by": invite.invited_by }),
        &client,
    )
    .await?;
    super::identity::send_verification(&state, &user).await?;
    let (headers, body): (_, SignedIn) =
        sessions::start(&state, &user_id, &invite.workspace_id, invite.role, input.remember_me, false, &client).await?;
    Ok((StatusCode::CREATED, headers, Json(body)).into_response())
}

/// An existing account joins: it must be the invited address, and verified.
async fn accept_as_existing(
    state: &ApiState,
    client: &Client,
    caller: crate::auth::Caller,
    invite: Invite,
    hash: &str,
    workspace: Tenant,
    remember_me: bool,
) -> Result<Response, ApiError> {
    let mut user = state.platform.global().get::<User>(&caller.user_id).await?.ok_or_else(ApiError::not_found)?;
    if user.email != invite.email {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "invite_for_another_address",
            "This invitation is for another address; sign in as that one.",
        ));
    }
    if user.email_verified_at.is_none() {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "email_not_verified", "Verify your e-mail address first, then accept."));
    }
    let scoped = state.platform.table().scope(workspace);
    if scoped.get::<Member>(&user.id).await?.is_some() {
        return Err(ApiError::new(StatusCode::CONFLICT, "already_a_member", "You are already a member of this workspace."));
    }
    state.platform.global().delete::<Invite>(hash).await?;
    let now = state.platform.clock().now().unix_timestamp();
    let member = Member { user_id: user.id.clone(), email: user.email.clone(), name: user.name.clone(), role: invite.role, joined_at: now };
    scoped.create(&member, None).await?;
    if !user.workspaces.contains(&invite.workspace_id) {
        let joined = invite.workspace_id.clone();
        (user, _) = crate::users::update(state, &user.id, |user: &mut User| {
            if !user.workspaces.contains(&joined) {
                user.workspaces.push(joined.clone());
            }
            Ok::<_, ApiError>(())
        })
        .await?;
    }
    audit(
        state,
        workspace,
        &user.id,
        "member.joined",
        Some(&user.id),
        serde_json::json!({ "role": invite.role, "invited_by": invite.invited_by, "existing_account": true }),
        client,
    )
    .await?;
    let (headers, body): (_, SignedIn) =
        sessions::start(state, &user.id, &invite.workspace_id, invite.role, remember_me, caller.two_factor, client).await?;
    Ok((StatusCode::CREATED, headers, Json(body)).into_response())
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default().add(__path_invite, invite).add(__path_accept_invite, accept_invite)
}
