//! The suppression list: addresses (by blind index) never written to again.

use super::contacts::workspace_key;
use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use crate::routes::audit;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::outreach::{Suppression, SuppressionReason};
use tern_http::{ApiError, Json, Query};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuppressionInput {
    email: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SuppressionPage {
    /// Blind indexes only: the list never holds an address in clear.
    #[schema(value_type = Vec<Object>)]
    suppressions: Vec<Suppression>,
    next: Option<String>,
}

/// Adds an address to the suppression list (by blind index) and stops its enrollments.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/suppressions", params(("ws" = String, Path)), request_body = SuppressionInput,
    responses((status = 201), (status = 422)))]
pub async fn suppress(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::WriteContacts>,
    Json(input): Json<SuppressionInput>,
) -> Result<StatusCode, ApiError> {
    let email = super::email(&input.email)?;
    let key = workspace_key(&state, &ctx.scoped).await?;
    let index = tern_security::blind_index::blind_index(&key, &email).map_err(ApiError::internal)?;
    let now = state.platform.clock().now().unix_timestamp();
    tern_aws::outreach::store::suppress_and_stop(&ctx.scoped, &index, SuppressionReason::Manual, now).await?;
    audit(&state, ctx.tenant, &ctx.actor.audit_name(), "suppression.added", Some(&index), serde_json::json!({}), &client).await?;
    Ok(StatusCode::CREATED)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    after: Option<String>,
    limit: Option<i32>,
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/suppressions", params(("ws" = String, Path), PageQuery), responses((status = 200, body = SuppressionPage)))]
pub async fn list_suppressions(
    ctx: InWorkspace<need::ReadContacts>,
    Query(page): Query<PageQuery>,
) -> Result<Json<SuppressionPage>, ApiError> {
    let limit = page.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::unprocessable("invalid_limit", "`limit` must be from 1 to 100."));
    }
    let found = ctx.scoped.list::<Suppression>(limit, page.after.as_deref()).await?;
    Ok(Json(SuppressionPage { suppressions: found.items, next: found.next }))
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default().add(__path_suppress, suppress).add(__path_list_suppressions, list_suppressions)
}
