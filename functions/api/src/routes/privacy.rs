//! Privacy operations a workspace runs on the data it holds about people: erasing
//! one person (right to be forgotten), exporting the whole workspace, and exporting
//! everything about one person (a data-subject access request). Each request is
//! recorded as a task and done by the housekeeping function; its progress is
//! readable here, and a finished export is fetched through a presigned URL that
//! lives [`DOWNLOAD_LINK_LIFETIME`]. Addresses are never stored with the task or
//! written to the audit trail: the person is named by the workspace's blind index.

use super::audit;
use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::bucket::Object;
use tern_aws::privacy::{PrivacyTask, PrivacyTaskKind, TaskState};
use tern_domain::ids::RequestId;
use tern_domain::jobs::PrivacyJob;
use tern_http::{ApiError, Json, Path};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequest {
    /// The person's address. Everything held about it in this workspace is deleted,
    /// and it stays suppressed.
    email: String,
}

/// Erases one person: their contact, enrollments, send records, inbound mail,
/// counters and mentions in the workspace's enrichment; a suppression by blind
/// index remains. Answers 202 with the task; the work takes seconds to minutes.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/privacy/erasures", params(("ws" = String, Path)), request_body = ErasureRequest,
    responses((status = 202, body = Object), (status = 403), (status = 404), (status = 422)))]
pub async fn request_erasure(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageWorkspace>,
    request_id: Option<axum::Extension<RequestId>>,
    Json(input): Json<ErasureRequest>,
) -> Result<Response, ApiError> {
    let email_index = person(&state, &ctx.scoped, &input.email).await?;
    let task =
        PrivacyTask::queued(PrivacyTaskKind::Erasure { email_index }, ctx.actor.user_id(), state.platform.clock().now().unix_timestamp());
    start(&state, &ctx.scoped, task, (&ctx.actor.audit_name(), "privacy.erasure_requested"), &client, request_id).await
}

/// Exports the whole workspace: every item as JSON lines, CSV tables of contacts,
/// companies, messages' metadata, sequences and the audit trail, and attachments,
/// in one zip encrypted with the workspace's key. Answers 202 with the task; follow
/// its progress at `privacy/tasks/{task_id}`, then ask for a download link.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/privacy/exports", params(("ws" = String, Path)),
    responses((status = 202, body = Object), (status = 403), (status = 404)))]
pub async fn request_export(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::Export>,
    request_id: Option<axum::Extension<RequestId>>,
) -> Result<Response, ApiError> {
    let task = PrivacyTask::queued(PrivacyTaskKind::WorkspaceExport, ctx.actor.user_id(), state.platform.clock().now().unix_timestamp());
    start(&state, &ctx.scoped, task, (&ctx.actor.audit_name(), "privacy.export_requested"), &client, request_id).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessRequest {
    /// The person's address: the export holds everything the workspace keeps about it.
    email: String,
}

/// Exports everything the workspace holds about one person (a data-subject access
/// request), with a summary they can read and the same data as JSON. Answers 202
/// with the task.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/privacy/access-requests", params(("ws" = String, Path)), request_body = AccessRequest,
    responses((status = 202, body = Object), (status = 403), (status = 404), (status = 422)))]
pub async fn request_access_export(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::Export>,
    request_id: Option<axum::Extension<RequestId>>,
    Json(input): Json<AccessRequest>,
) -> Result<Response, ApiError> {
    let email_index = person(&state, &ctx.scoped, &input.email).await?;
    let task = PrivacyTask::queued(
        PrivacyTaskKind::PersonExport { email_index },
        ctx.actor.user_id(),
        state.platform.clock().now().unix_timestamp(),
    );
    start(&state, &ctx.scoped, task, (&ctx.actor.audit_name(), "privacy.access_export_requested"), &client, request_id).await
}

/// How long a download link works. Short: a link that leaks from a browser's
/// history or a chat is worthless a few minutes later; ask again for a new one.
pub const DOWNLOAD_LINK_LIFETIME: std::time::Duration = std::time::Duration::from_secs(5 * 60);

#[derive(Serialize, utoipa::ToSchema)]
pub struct DownloadLink {
    /// A presigned GET of the zip; it stops working at `expires_at`.
    url: String,
    /// Unix time.
    expires_at: i64,
    bytes: u64,
}

/// A short-lived link to a finished export's zip. 409 while the export runs,
/// 410 once the zip itself has expired (exports are kept seven days).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/privacy/exports/{task_id}/download", params(("ws" = String, Path), ("task_id" = String, Path)),
    responses((status = 200, body = DownloadLink), (status = 403), (status = 404), (status = 409), (status = 410)))]
pub async fn download_export(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::Export>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<DownloadLink>, ApiError> {
    let task = ctx.scoped.get::<PrivacyTask>(&id).await?.ok_or_else(ApiError::not_found)?;
    if matches!(task.kind, PrivacyTaskKind::Erasure { .. }) {
        return Err(ApiError::not_found());
    }
    let file = match (task.state, &task.export) {
        (TaskState::Done, Some(file)) => file.clone(),
        (TaskState::Failed, _) => return Err(ApiError::new(StatusCode::CONFLICT, "export_failed", "This export failed; start a new one.")),
        _ => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "export_not_ready",
                "This export is still being prepared; try again when its task is done.",
            ));
        }
    };
    let now = state.platform.clock().now();
    if now.unix_timestamp() >= file.expires_at {
        return Err(ApiError::new(StatusCode::GONE, "export_expired", "This export has expired and was deleted; start a new one."));
    }
    let signed_at = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(now.unix_timestamp().max(0) as u64);
    let url = state.platform.bucket().scope(ctx.tenant).presigned_get(Object::Export(&task.id), signed_at, DOWNLOAD_LINK_LIFETIME).await?;
    audit(
        &state,
        ctx.tenant,
        &ctx.actor.audit_name(),
        "privacy.export_downloaded",
        Some(&task.id),
        serde_json::json!({ "bytes": file.bytes }),
        &client,
    )
    .await?;
    let expires_at = now.unix_timestamp() + DOWNLOAD_LINK_LIFETIME.as_secs() as i64;
    Ok(Json(DownloadLink { url, expires_at, bytes: file.bytes }))
}

/// The blind index of a person's address in this workspace.
async fn person(state: &ApiState, scoped: &tern_aws::table::ScopedTable, email: &str) -> Result<String, ApiError> {
    let email = super::email(email)?;
    let key = tern_aws::outreach::store::blind_index_key(scoped, state.platform.sealer()).await?;
    tern_security::blind_index::blind_index(&key, &email)
        .map_err(|_| ApiError::unprocessable("invalid_email", "That is not a valid e-mail address."))
}

/// Records the task, audits the request and queues the work.
async fn start(
    state: &ApiState,
    scoped: &tern_aws::table::ScopedTable,
    task: PrivacyTask,
    (actor, action): (&str, &str),
    client: &Client,
    request_id: Option<axum::Extension<RequestId>>,
) -> Result<Response, ApiError> {
    scoped.create(&task, None).await?;
    audit(state, scoped.tenant(), actor, action, Some(&task.id), serde_json::json!({}), client).await?;
    let job = PrivacyJob {
        workspace_id: scoped.workspace(),
        request_id: request_id.map(|r| r.0).unwrap_or_else(RequestId::generate),
        task_id: task.id.clone(),
    };
    state.platform.queues().send(&job).await?;
    Ok((StatusCode::ACCEPTED, Json(task)).into_response())
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/privacy/tasks/{task_id}", params(("ws" = String, Path), ("task_id" = String, Path)),
    responses((status = 200, body = Object), (status = 403), (status = 404)))]
pub async fn get_task(
    ctx: InWorkspace<need::ManageWorkspace>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<PrivacyTask>, ApiError> {
    let task = ctx.scoped.get::<PrivacyTask>(&id).await?.ok_or_else(ApiError::not_found)?;
    Ok(Json(task))
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default()
        .add(__path_request_erasure, request_erasure)
        .add(__path_get_task, get_task)
        .add(__path_request_export, request_export)
        .add(__path_download_export, download_export)
        .add(__path_request_access_export, request_access_export)
}
