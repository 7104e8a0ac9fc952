//! Privacy operations a workspace runs on the data it holds about people: erasing
//! one person (right to be forgotten). The request is recorded as a task and done
//! by the housekeeping function; its progress is readable here. Addresses are
//! never stored with the task or written to the audit trail: the person is named
//! by the workspace's blind index.

use super::audit;
use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use tern_aws::QueueName;
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
    let email = super::email(&input.email)?;
    let key = tern_aws::outreach::store::blind_index_key(&ctx.scoped, &state.sealer).await.map_err(ApiError::unavailable)?;
    let email_index = tern_security::blind_index::blind_index(&key, &email).map_err(|_| ApiError::unprocessable("invalid_email", "That is not a valid e-mail address."))?;
    let task = PrivacyTask {
        id: uuid::Uuid::now_v7().to_string(),
        kind: PrivacyTaskKind::Erasure { email_index },
        state: TaskState::Queued,
        removed: 0,
        removed_by_kind: Default::default(),
        requested_by: ctx.actor.user_id().to_string(),
        requested_at: state.clock.now().unix_timestamp(),
        finished_at: None,
        error: None,
    };
    ctx.scoped.create(&task, None).await.map_err(ApiError::unavailable)?;
    audit(&state, ctx.workspace, &ctx.actor.audit_name(), "privacy.erasure_requested", Some(&task.id), serde_json::json!({}), &client).await?;
    let job = PrivacyJob { workspace_id: ctx.workspace, request_id: request_id.map(|r| r.0).unwrap_or_else(RequestId::generate), task_id: task.id.clone() };
    let queue = state.config.queue_url(QueueName::Privacy).map_err(ApiError::internal)?;
    tern_aws::queue::enqueue(&state.clients.sqs, queue, &job).await.map_err(ApiError::unavailable)?;
    Ok((StatusCode::ACCEPTED, Json(task)).into_response())
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/privacy/tasks/{task_id}", params(("ws" = String, Path), ("task_id" = String, Path)),
    responses((status = 200, body = Object), (status = 403), (status = 404)))]
pub async fn get_task(ctx: InWorkspace<need::ManageWorkspace>, Path((_, id)): Path<(String, String)>) -> Result<Json<PrivacyTask>, ApiError> {
    let task = ctx.scoped.get::<PrivacyTask>(&id).await.map_err(ApiError::unavailable)?.ok_or_else(ApiError::not_found)?;
    Ok(Json(task))
}
