//! A contact's personal first line (`{{first_line}}` in templates): drafted by the
//! workspace's own language model from the company's enrichment, or written by a
//! member. It is stored with the contact and only ever sent by a template step
//! that uses the variable.

use super::audit;
use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::entities::{Enrichment, EnrichmentStatus};
use tern_aws::llm::{LLM_API_KEY_PURPOSE, LlmSettings, llm_api_key_identity};
use tern_aws::outreach::{Contact, FirstLineOrigin};
use tern_http::{ApiError, Json, Path};
use tern_security::secret::SecretString;
use tern_web::llm::{FIRST_LINE_PROMPT_VERSION, FirstLineFacts, LlmEndpoint, LlmError, MAX_FIRST_LINE_CHARS};

#[derive(Serialize, utoipa::ToSchema)]
pub struct FirstLineView {
    first_line: Option<String>,
    #[schema(value_type = Option<Object>)]
    origin: Option<FirstLineOrigin>,
}

fn view(contact: Contact) -> FirstLineView {
    FirstLineView { first_line: contact.first_line, origin: contact.first_line_origin }
}

async fn load(ctx: &InWorkspace<need::WriteContacts>, id: &str) -> Result<Contact, ApiError> {
    ctx.scoped.get::<Contact>(id).await?.ok_or_else(ApiError::not_found)
}

/// Drafts the first line with the workspace's model, from the public facts of the
/// contact's company (its enrichment) and the contact's first name and title.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/contacts/{contact_id}/first-line", params(("ws" = String, Path), ("contact_id" = String, Path)),
    responses((status = 200, body = FirstLineView), (status = 403), (status = 404), (status = 422), (status = 502)))]
pub async fn draft(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::WriteContacts>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<FirstLineView>, ApiError> {
    let mut contact = load(&ctx, &id).await?;
    let settings = ctx.scoped.get::<LlmSettings>(LlmSettings::ID).await?.filter(|s| s.enabled).ok_or_else(|| {
        ApiError::unprocessable("llm_not_configured", "This workspace has no language model set up (PUT /v1/workspaces/{ws}/llm).")
    })?;
    let enrichment = match &contact.domain {
        Some(domain) => ctx.scoped.get::<Enrichment>(domain).await?,
        None => None,
    };
    let Some((domain, profile)) = enrichment.filter(|e| e.status == EnrichmentStatus::Done).and_then(|e| Some((e.domain, e.profile?)))
    else {
        return Err(ApiError::unprocessable(
            "no_enrichment",
            "Enrich the contact's company first: a first line is drafted from its public facts.",
        ));
    };
    let facts = FirstLineFacts {
        first_name: contact.first_name.clone(),
        title: contact.title.clone(),
        company: profile.name.as_ref().map(|f| f.value.clone()).or_else(|| contact.company.clone()),
        description: profile.description.as_ref().map(|f| f.value.clone()),
        industries: profile.industries.iter().map(|f| f.value.clone()).collect(),
        technologies: profile.technologies.iter().map(|f| f.value.name.clone()).collect(),
        country: profile.country.as_ref().map(|f| f.value.clone()),
    };

    let ws = ctx.workspace().to_string();
    // Opened for this one request, zeroed when dropped.
    let opened =
        state.platform.sealer().open(ctx.workspace(), LLM_API_KEY_PURPOSE, &llm_api_key_identity(&ws), &settings.api_key).await.map_err(
            |e| match e {
                tern_aws::sealing::SealingError::Kms(e) => ApiError::unavailable(e),
                other => ApiError::internal(other),
            },
        )?;
    let api_key = SecretString::from(std::str::from_utf8(opened.expose()).map_err(ApiError::internal)?);
    let endpoint = LlmEndpoint { base_url: &settings.base_url, model: &settings.model, api_key: &api_key };
    let llm = state.llm_client().map_err(ApiError::unavailable)?;
    let drafted = llm.draft_first_line(&endpoint, &facts).await.map_err(|e| match e {
        LlmError::Refused(reason) => ApiError::unprocessable("llm_url_refused", format!("The model's address is refused: {reason}.")),
        LlmError::InvalidUrl(why) => ApiError::unprocessable("llm_url_refused", format!("The model's address is not usable: {why}.")),
        LlmError::Client(e) => ApiError::unavailable(e),
        other => {
            tracing::warn!(error = %other, "first line not drafted");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "llm_unavailable",
                format!("The workspace's language model gave no usable first line: {other}."),
            )
        }
    })?;
    let now = state.platform.clock().now().unix_timestamp();
    contact.first_line = Some(drafted.text);
    contact.first_line_origin = Some(FirstLineOrigin::Model {
        model: settings.model.clone(),
        prompt_version: FIRST_LINE_PROMPT_VERSION.into(),
        enrichment_domain: domain.clone(),
        at: now,
    });
    contact.updated_at = now;
    ctx.scoped.put(&contact, None).await?;
    // The contact's first name and title left Tern for the workspace's provider.
    let parameters =
        serde_json::json!({ "model": settings.model, "prompt_version": FIRST_LINE_PROMPT_VERSION, "enrichment_domain": domain });
    audit(&state, ctx.tenant, &ctx.actor.audit_name(), "contact.first_line_drafted", Some(&contact.id), parameters, &client).await?;
    Ok(Json(view(contact)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirstLineText {
    text: String,
}

/// A member writes or edits the first line.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/contacts/{contact_id}/first-line", params(("ws" = String, Path), ("contact_id" = String, Path)),
    request_body = FirstLineText, responses((status = 200, body = FirstLineView), (status = 403), (status = 404), (status = 422)))]
pub async fn set(
    State(state): State<Arc<ApiState>>,
    ctx: InWorkspace<need::WriteContacts>,
    Path((_, id)): Path<(String, String)>,
    Json(input): Json<FirstLineText>,
) -> Result<Json<FirstLineView>, ApiError> {
    let mut contact = load(&ctx, &id).await?;
    let text = input.text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() || text.chars().count() > MAX_FIRST_LINE_CHARS || text.contains("{{") || text.contains("}}") {
        return Err(ApiError::unprocessable(
            "invalid_first_line",
            format!("A first line is 1 to {MAX_FIRST_LINE_CHARS} characters of text, without template syntax."),
        ));
    }
    let now = state.platform.clock().now().unix_timestamp();
    contact.first_line = Some(text);
    contact.first_line_origin = Some(FirstLineOrigin::Person { user_id: ctx.actor.user_id().to_string(), at: now });
    contact.updated_at = now;
    ctx.scoped.put(&contact, None).await?;
    Ok(Json(view(contact)))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/contacts/{contact_id}/first-line", params(("ws" = String, Path), ("contact_id" = String, Path)),
    responses((status = 200, body = FirstLineView), (status = 403), (status = 404)))]
pub async fn clear(
    State(state): State<Arc<ApiState>>,
    ctx: InWorkspace<need::WriteContacts>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<FirstLineView>, ApiError> {
    let mut contact = load(&ctx, &id).await?;
    contact.first_line = None;
    contact.first_line_origin = None;
    contact.updated_at = state.platform.clock().now().unix_timestamp();
    ctx.scoped.put(&contact, None).await?;
    Ok(Json(view(contact)))
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default().add(__path_draft, draft).add(__path_set, set).add(__path_clear, clear)
}
