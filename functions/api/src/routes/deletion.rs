//! Workspace deletion (issue #7): the owner schedules it after re-authenticating,
//! may cancel it during the grace period, and housekeeping carries it out after
//! that (`tern_aws::deletion::sweep`, run by housekeeping). See `tern_aws::deletion`.

use super::audit;
use crate::auth::{Actor, Client, InWorkspace, need};
use crate::records::{User, Workspace};
use crate::{ApiState, attempts};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::deletion::{GRACE_PERIOD, PendingDeletion};
use tern_http::{ApiError, Json};
use tern_security::secret::SecretString;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleDeletion {
    /// The caller's password, asked again: a stolen session alone cannot delete a workspace.
    #[schema(value_type = String, format = Password)]
    password: SecretString,
    /// A current code from the authenticator app; required when the caller has 2FA on.
    #[serde(default)]
    totp: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeletionView {
    workspace_id: String,
    /// Unix time from which the workspace and its sub-workspaces are deleted; `null` when none is scheduled.
    deletion_scheduled_for: Option<i64>,
}

/// Only a person can delete a workspace: an API key has no password to confirm.
fn signed_in_user(actor: &Actor) -> Result<&str, ApiError> {
    match actor {
        Actor::User { user_id, .. } => Ok(user_id),
        Actor::ApiKey { .. } => Err(ApiError::forbidden("API keys cannot delete workspaces.")),
    }
}

async fn load(ctx: &InWorkspace<need::DeleteWorkspace>) -> Result<Workspace, ApiError> {
    ctx.scoped.get::<Workspace>(&ctx.workspace().to_string()).await?.ok_or_else(ApiError::not_found)
}

/// Schedules the workspace's deletion, with its sub-workspaces, after the grace
/// period. Owner only, after re-authentication. Until then the workspace stays
/// readable and sends nothing; the owner can cancel. Scheduling again while one is
/// pending changes nothing and answers the same.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/deletion", params(("ws" = String, Path)), request_body = ScheduleDeletion, responses(
    (status = 202, body = DeletionView), (status = 403, description = "not the owner, or `reauthentication_failed`"), (status = 404), (status = 429, description = "throttled")))]
pub async fn schedule(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::DeleteWorkspace>,
    Json(input): Json<ScheduleDeletion>,
) -> Result<Response, ApiError> {
    let user_id = signed_in_user(&ctx.actor)?;
    let user = state.platform.global().get::<User>(user_id).await?.ok_or_else(ApiError::not_found)?;
    // Throttled under the same account record as sign-in, so guessing here counts there too.
    let proof = attempts::Proof { password: &input.password, totp_code: input.totp.as_deref(), recovery_code: None };
    if let Some(throttled) = attempts::reauthenticate(&state, &user.id, proof).await? {
        return Ok(throttled);
    }
    let mut workspace = load(&ctx).await?;
    let now = state.platform.clock().now();
    let due_at = workspace.deletion_scheduled_for.unwrap_or((now + GRACE_PERIOD).unix_timestamp());
    let pending = PendingDeletion {
        workspace_id: workspace.id.clone(),
        kms_key_id: workspace.kms_key_id.clone(),
        due_at,
        requested_by: user.id.clone(),
        requested_at: now.unix_timestamp(),
    };
    // The flag first: if the record's write fails, a retry finds the flag and writes
    // the record with the same due date, and nothing is ever deleted unannounced.
    if workspace.deletion_scheduled_for.is_none() {
        workspace.deletion_scheduled_for = Some(due_at);
        ctx.scoped.put(&workspace, None).await?;
        state.remember_settings(ctx.workspace(), Arc::new(workspace.clone()));
    }
    state.platform.global().put(&pending, None).await?;
    // This container's cached data keys of the workspace go now; the others' expire
    // within the sealer's TTL, and the key is disabled when the deletion runs.
    state.platform.sealer().forget_workspace(ctx.workspace());
    audit(
        &state,
        ctx.tenant,
        &user.id,
        "workspace.deletion_scheduled",
        Some(&workspace.id),
        serde_json::json!({ "due_at": due_at }),
        &client,
    )
    .await?;
    tracing::warn!(workspace = %ctx.workspace(), due_at, "workspace deletion scheduled");
    Ok((StatusCode::ACCEPTED, Json(DeletionView { workspace_id: workspace.id, deletion_scheduled_for: Some(due_at) })).into_response())
}

/// Cancels a scheduled deletion during the grace period.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/deletion", params(("ws" = String, Path)), responses(
    (status = 200, body = DeletionView), (status = 403), (status = 404),
    (status = 409, description = "`deletion_not_scheduled`, or `deletion_in_progress` once the grace period is over")))]
pub async fn cancel(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::DeleteWorkspace>,
) -> Result<Json<DeletionView>, ApiError> {
    let user_id = signed_in_user(&ctx.actor)?.to_string();
    let mut workspace = load(&ctx).await?;
    let Some(due_at) = workspace.deletion_scheduled_for else {
        return Err(ApiError::new(StatusCode::CONFLICT, "deletion_not_scheduled", "No deletion of this workspace is scheduled."));
    };
    // Past the due date housekeeping may already be deleting: a cancel then would
    // leave a half-deleted workspace looking alive.
    if due_at <= state.platform.clock().now().unix_timestamp() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "deletion_in_progress",
            "The grace period is over; the deletion can no longer be cancelled.",
        ));
    }
    // The record first: once it is gone housekeeping will not start, whatever the flag says.
    state.platform.global().delete::<PendingDeletion>(&workspace.id).await?;
    workspace.deletion_scheduled_for = None;
    ctx.scoped.put(&workspace, None).await?;
    state.remember_settings(ctx.workspace(), Arc::new(workspace.clone()));
    audit(
        &state,
        ctx.tenant,
        &user_id,
        "workspace.deletion_cancelled",
        Some(&workspace.id),
        serde_json::json!({ "was_due_at": due_at }),
        &client,
    )
    .await?;
    Ok(Json(DeletionView { workspace_id: workspace.id, deletion_scheduled_for: None }))
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default().add(__path_schedule, schedule).add(__path_cancel, cancel)
}
