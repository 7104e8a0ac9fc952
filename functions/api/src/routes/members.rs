//! A workspace's members: list, change a role, remove (never the last owner).

use super::audit;
use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use crate::records::Member;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_http::{ApiError, Json, Path, Query};
use tern_security::roles::Role;

#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberView {
    user_id: String,
    /// `null` for platform support, which sees who holds which role but not their addresses.
    email: Option<String>,
    name: String,
    #[schema(value_type = String)]
    role: Role,
    joined_at: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberPage {
    members: Vec<MemberView>,
    /// Pass as `after` for the next page.
    next: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    after: Option<String>,
    limit: Option<i32>,
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/members", params(("ws" = String, Path), PageQuery), responses((status = 200, body = MemberPage), (status = 404)))]
pub async fn list_members(ctx: InWorkspace<need::ReadWorkspace>, Query(page): Query<PageQuery>) -> Result<Json<MemberPage>, ApiError> {
    let limit = page.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::unprocessable("invalid_limit", "`limit` must be from 1 to 100."));
    }
    let found = ctx.scoped.list::<Member>(limit, page.after.as_deref()).await?;
    // Support diagnoses from metadata; members' addresses are the customer's personal data.
    let addresses = ctx.role != Role::Support;
    Ok(Json(MemberPage {
        members: found
            .items
            .into_iter()
            .map(|m| MemberView {
                user_id: m.user_id,
                email: addresses.then_some(m.email),
                name: m.name,
                role: m.role,
                joined_at: m.joined_at,
            })
            .collect(),
        next: found.next,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    #[schema(value_type = String)]
    role: Role,
}

async fn owners(ctx: &InWorkspace<need::ManageMembers>) -> Result<usize, ApiError> {
    let mut count = 0;
    let mut after = None;
    loop {
        let page = ctx.scoped.list::<Member>(100, after.as_deref()).await?;
        count += page.items.iter().filter(|m| m.role == Role::Owner).count();
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(count),
        }
    }
}

#[utoipa::path(patch, path = "/v1/workspaces/{ws}/members/{user_id}", params(("ws" = String, Path), ("user_id" = String, Path)),
    request_body = RoleChange, responses((status = 200, body = MemberView), (status = 403), (status = 404), (status = 409)))]
pub async fn change_role(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageMembers>,
    Path((_, user_id)): Path<(String, String)>,
    Json(change): Json<RoleChange>,
) -> Result<Json<MemberView>, ApiError> {
    let mut member = ctx.scoped.get::<Member>(&user_id).await?.ok_or_else(ApiError::not_found)?;
    if !ctx.role.can_change_role(member.role, change.role) {
        return Err(ApiError::forbidden(format!("A {} cannot change a {} into a {}.", ctx.role, member.role, change.role)));
    }
    if member.role == Role::Owner && change.role != Role::Owner && owners(&ctx).await? <= 1 {
        return Err(ApiError::new(StatusCode::CONFLICT, "last_owner", "A workspace keeps at least one owner."));
    }
    let previous = member.role;
    member.role = change.role;
    ctx.scoped.put(&member, None).await?;
    let parameters = serde_json::json!({ "from": previous, "to": change.role });
    audit(&state, ctx.tenant, &ctx.actor.audit_name(), "member.role_changed", Some(&user_id), parameters, &client).await?;
    super::api_keys::revoke_beyond_role(&state, &ctx.scoped, &user_id, Some(change.role), &ctx.actor.audit_name(), &client).await?;
    Ok(Json(MemberView {
        user_id: member.user_id,
        email: Some(member.email),
        name: member.name,
        role: member.role,
        joined_at: member.joined_at,
    }))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/members/{user_id}", params(("ws" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
pub async fn remove_member(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageMembers>,
    Path((_, user_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let member = ctx.scoped.get::<Member>(&user_id).await?.ok_or_else(ApiError::not_found)?;
    if !ctx.role.can_grant(member.role) {
        return Err(ApiError::forbidden(format!("A {} cannot remove a {}.", ctx.role, member.role)));
    }
    if member.role == Role::Owner && owners(&ctx).await? <= 1 {
        return Err(ApiError::new(StatusCode::CONFLICT, "last_owner", "A workspace keeps at least one owner."));
    }
    ctx.scoped.delete::<Member>(&user_id).await?;
    audit(
        &state,
        ctx.tenant,
        &ctx.actor.audit_name(),
        "member.removed",
        Some(&user_id),
        serde_json::json!({ "role": member.role }),
        &client,
    )
    .await?;
    super::api_keys::revoke_beyond_role(&state, &ctx.scoped, &user_id, None, &ctx.actor.audit_name(), &client).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default()
        .add(__path_list_members, list_members)
        .add(__path_change_role, change_role)
        .add(__path_remove_member, remove_member)
}
