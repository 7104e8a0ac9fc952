//! API keys: scoped, optionally expiring, shown once, stored as a SHA-256 hash.
//!
//! Keys are made, listed and revoked by signed-in members only (the route table,
//! `crate::policy`): a key never mints a key. A new key holds only scopes a key
//! may hold at all, and only those its creator's role covers; it works where
//! the workspace requires 2FA only when the creating session passed it.

use super::{audit, text};
use crate::ApiState;
use crate::auth::{Actor, Client, InWorkspace, need};
use crate::records::{ApiKey, ApiKeyLookup, Session};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Arc;
use tern_aws::table::ScopedTable;
use tern_http::{ApiError, Json, Path};
use tern_security::api_key::Scope;
use tern_security::roles::Role;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    name: String,
    /// e.g. `contacts:read`, `sequences:write`, `send`: the scopes of the API
    /// key security scheme. `members:write`, `api_keys:*`, `workspace:write` and
    /// `audit:write` are for no key (`scope_not_available`).
    #[schema(value_type = Vec<String>)]
    scopes: BTreeSet<Scope>,
    /// Days until the key stops working; none for no expiry.
    expires_in_days: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    id: String,
    name: String,
    #[schema(value_type = Vec<String>)]
    scopes: BTreeSet<Scope>,
    created_by: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
    /// Created by a session that passed a second factor (needed where the workspace requires 2FA).
    created_with_2fa: bool,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id,
            name: k.name,
            scopes: k.scopes,
            created_by: k.created_by,
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
            created_with_2fa: k.created_with_2fa,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiKeyCreated {
    /// The key itself. Shown once; Tern keeps only its hash.
    key: String,
    #[serde(flatten)]
    settings: ApiKeyView,
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/api-keys", params(("ws" = String, Path)), request_body = NewApiKey,
    responses((status = 201, body = ApiKeyCreated), (status = 403, description = "a scope beyond the creator's role"), (status = 404),
        (status = 422, description = "`scope_not_available`: a scope no key may hold")))]
pub async fn create(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageApiKeys>,
    Json(input): Json<NewApiKey>,
) -> Result<Response, ApiError> {
    let name = text("name", &input.name, 100)?;
    if input.scopes.is_empty() {
        return Err(ApiError::unprocessable("invalid_fields", "Give the key at least one scope."));
    }
    let Actor::User { session_id, .. } = &ctx.actor else {
        return Err(ApiError::forbidden("API keys cannot create API keys."));
    };
    let unavailable: Vec<String> = input.scopes.iter().filter(|s| s.required_permission().is_none()).map(ToString::to_string).collect();
    if !unavailable.is_empty() {
        return Err(ApiError::unprocessable(
            "scope_not_available",
            format!("No API key may hold {}: managing people, keys and settings takes a signed-in member.", unavailable.join(", ")),
        ));
    }
    let beyond = tern_security::api_key::scopes_beyond_role(&input.scopes, ctx.role);
    if !beyond.is_empty() {
        let listed: Vec<String> = beyond.iter().map(ToString::to_string).collect();
        return Err(ApiError::forbidden(format!("A key cannot hold more than its creator may do; not allowed: {}.", listed.join(", "))));
    }
    // Whether the creating session passed a second factor (InWorkspace already refused
    // one that did not where the workspace requires it).
    let session = state.platform.global().get::<Session>(session_id).await?;
    let created_with_2fa = session.is_some_and(|s| s.two_factor);
    let now = state.platform.clock().now().unix_timestamp();
    let expires_at = match input.expires_in_days {
        Some(days) if (1..=3650).contains(&days) => Some(now + i64::from(days) * 86_400),
        Some(_) => return Err(ApiError::unprocessable("invalid_fields", "`expires_in_days` must be from 1 to 3650.")),
        None => None,
    };
    let generated = tern_security::api_key::generate().map_err(ApiError::internal)?;
    let key = ApiKey {
        id: generated.prefix.clone(),
        name,
        scopes: input.scopes,
        created_by: ctx.actor.user_id().to_string(),
        created_at: now,
        expires_at,
        last_used_at: None,
        revoked_at: None,
        created_with_2fa,
    };
    ctx.scoped.create(&key, None).await?;
    let lookup = ApiKeyLookup { hash: generated.hash.to_hex(), workspace_id: ctx.workspace().to_string(), key_id: key.id.clone() };
    state.platform.global().create(&lookup, None).await?;
    let scopes: Vec<String> = key.scopes.iter().map(ToString::to_string).collect();
    let parameters = serde_json::json!({ "scopes": scopes, "expires_at": expires_at, "created_with_2fa": created_with_2fa });
    audit(&state, ctx.tenant, &ctx.actor.audit_name(), "api_key.created", Some(&key.id), parameters, &client).await?;
    let body = ApiKeyCreated { key: generated.key.expose().clone(), settings: key.into() };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/api-keys", params(("ws" = String, Path)), responses((status = 200, body = [ApiKeyView]), (status = 403), (status = 404)))]
pub async fn list(ctx: InWorkspace<need::ManageApiKeys>) -> Result<Json<Vec<ApiKeyView>>, ApiError> {
    let keys = all_keys(&ctx.scoped).await?;
    Ok(Json(keys.into_iter().map(ApiKeyView::from).collect()))
}

async fn all_keys(scoped: &ScopedTable) -> Result<Vec<ApiKey>, ApiError> {
    let mut keys = Vec::new();
    let mut after = None;
    loop {
        let page = scoped.list::<ApiKey>(100, after.as_deref()).await?;
        keys.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(keys),
        }
    }
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/api-keys/{key_id}", params(("ws" = String, Path), ("key_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn revoke(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageApiKeys>,
    Path((_, key_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let mut key = ctx.scoped.get::<ApiKey>(&key_id).await?.ok_or_else(ApiError::not_found)?;
    if key.revoked_at.is_none() {
        key.revoked_at = Some(state.platform.clock().now().unix_timestamp());
        ctx.scoped.put(&key, None).await?;
        audit(&state, ctx.tenant, &ctx.actor.audit_name(), "api_key.revoked", Some(&key.id), serde_json::json!({}), &client).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Revokes `user_id`'s keys that their role (`None`: removed) no longer covers.
/// Keys already shrink with the creator's role at use; this makes it visible and final.
pub(crate) async fn revoke_beyond_role(
    state: &ApiState,
    scoped: &ScopedTable,
    user_id: &str,
    role: Option<Role>,
    actor: &str,
    client: &Client,
) -> Result<(), ApiError> {
    let now = state.platform.clock().now().unix_timestamp();
    for mut key in all_keys(scoped).await? {
        if key.created_by != user_id || key.revoked_at.is_some() {
            continue;
        }
        let still_covered = role.is_some_and(|r| tern_security::api_key::scopes_beyond_role(&key.scopes, r).is_empty());
        if !still_covered {
            key.revoked_at = Some(now);
            scoped.put(&key, None).await?;
            audit(
                state,
                scoped.tenant(),
                actor,
                "api_key.revoked",
                Some(&key.id),
                serde_json::json!({ "reason": "creator removed or demoted" }),
                client,
            )
            .await?;
        }
    }
    Ok(())
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default().add(__path_create, create).add(__path_list, list).add(__path_revoke, revoke)
}
