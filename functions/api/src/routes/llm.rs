//! A workspace's optional language-model provider, which reads the intent of human
//! replies (interested, meeting, referral, ...). Admins only: the provider sees
//! the subject and new text of every human reply. The API key is sealed with the
//! workspace key the moment it arrives and never returned or audited; the base URL
//! must pass the SSRF guard's provider policy (https on 443, a public host).

use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use crate::routes::audit;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::llm::{LLM_API_KEY_PURPOSE, LlmSettings, llm_api_key_identity};
use tern_http::{ApiError, Json};
use tern_security::secret::SecretString;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmInput {
    /// The API root of an OpenAI-compatible provider, e.g. `https://api.openai.com/v1`.
    base_url: String,
    model: String,
    /// Sealed on arrival; never shown again.
    #[schema(value_type = String)]
    api_key: SecretString,
    /// `true` unless given.
    enabled: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LlmView {
    base_url: String,
    model: String,
    enabled: bool,
    /// Always true: the key itself is never shown.
    api_key_set: bool,
    /// The prompt replies are read with.
    prompt_version: &'static str,
    updated_at: i64,
}

fn view(settings: LlmSettings) -> LlmView {
    LlmView {
        base_url: settings.base_url,
        model: settings.model,
        enabled: settings.enabled,
        api_key_set: true,
        prompt_version: tern_web::llm::PROMPT_VERSION,
        updated_at: settings.updated_at,
    }
}

#[utoipa::path(put, path = "/v1/workspaces/{ws}/llm", params(("ws" = String, Path)), request_body = LlmInput,
    responses((status = 200, body = LlmView), (status = 422)))]
pub async fn put(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageWorkspace>,
    Json(input): Json<LlmInput>,
) -> Result<Json<LlmView>, ApiError> {
    if input.base_url.len() > 500 {
        return Err(ApiError::unprocessable("invalid_fields", "`base_url` must be at most 500 characters."));
    }
    let base_url = tern_web::llm::check_base_url(&input.base_url, &state.llm_policy).map_err(|e| {
        ApiError::unprocessable(
            "llm_url_refused",
            format!("That provider address cannot be used ({e}); it must be an https URL of a public host on port 443."),
        )
    })?;
    let model = super::text("model", &input.model, 200)?;
    let key = input.api_key.expose().trim();
    if key.is_empty() || key.len() > 1000 || key.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ApiError::unprocessable("invalid_fields", "`api_key` must be 1 to 1000 characters without spaces."));
    }
    let ws = ctx.workspace().to_string();
    let sealed = state
        .platform
        .sealer()
        .seal(ctx.workspace(), &ctx.settings.kms_key_id, LLM_API_KEY_PURPOSE, &llm_api_key_identity(&ws), key.as_bytes())
        .await?;
    let settings = LlmSettings {
        id: LlmSettings::ID.into(),
        base_url: base_url.to_string(),
        model,
        api_key: sealed,
        enabled: input.enabled.unwrap_or(true),
        updated_at: state.platform.clock().now().unix_timestamp(),
    };
    ctx.scoped.put(&settings, None).await?;
    let parameters = serde_json::json!({ "base_url": settings.base_url, "model": settings.model, "enabled": settings.enabled });
    audit(&state, ctx.tenant, &ctx.actor.audit_name(), "llm.configured", None, parameters, &client).await?;
    Ok(Json(view(settings)))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/llm", params(("ws" = String, Path)),
    responses((status = 200, body = LlmView), (status = 404, description = "no provider is set")))]
pub async fn get(ctx: InWorkspace<need::ManageWorkspace>) -> Result<Json<LlmView>, ApiError> {
    let settings = ctx.scoped.get::<LlmSettings>(LlmSettings::ID).await?;
    Ok(Json(view(settings.ok_or_else(ApiError::not_found)?)))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/llm", params(("ws" = String, Path)),
    responses((status = 204), (status = 404)))]
pub async fn delete(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageWorkspace>,
) -> Result<StatusCode, ApiError> {
    ctx.scoped.get::<LlmSettings>(LlmSettings::ID).await?.ok_or_else(ApiError::not_found)?;
    ctx.scoped.delete::<LlmSettings>(LlmSettings::ID).await?;
    audit(&state, ctx.tenant, &ctx.actor.audit_name(), "llm.removed", None, serde_json::json!({}), &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default().add(__path_put, put).add(__path_get, get).add(__path_delete, delete)
}
