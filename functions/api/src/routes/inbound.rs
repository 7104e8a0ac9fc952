//! Inbound mail as the workspace sees it: the credential its own mail provider
//! posts with, and the metadata of what arrived (never bodies: Tern keeps a
//! 500-character snippet of the new text, in its own item under the workspace's
//! e-mail-body window, shown only to roles that may read message bodies).

use super::audit;
use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::entities::InboundText;
use tern_aws::inbound::{InboundWebhookCredential, WEBHOOK_SECRET_PURPOSE, webhook_secret_identity};
use tern_domain::inbound::{InboundMessage, Transport};
use tern_http::{ApiError, Json, Path, Query};
use tern_security::roles::Permission;
use tern_security::token::{OpaqueToken, TokenHash};

#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookCredentialView {
    username: String,
    created_at: i64,
    created_by: String,
    /// Where the provider posts, one URL per format (`raw`, `json`, `multipart`).
    urls: Vec<String>,
    /// For signed posts instead of basic authentication: HMAC-SHA256 of
    /// `<t>.<body>` under the secret, sent as `X-Tern-Signature: t=<unix seconds>,v1=<hex>`.
    signature_header: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookCredentialCreated {
    /// The secret: the basic-authentication password and the HMAC key. Shown once.
    secret: String,
    #[serde(flatten)]
    credential: WebhookCredentialView,
}

fn view(state: &ApiState, workspace: &str, credential: &InboundWebhookCredential) -> WebhookCredentialView {
    let base = state.platform.config().public_url.clone().unwrap_or_default();
    WebhookCredentialView {
        username: credential.username.clone(),
        created_at: credential.created_at,
        created_by: credential.created_by.clone(),
        urls: ["raw", "json", "multipart"].iter().map(|f| format!("{base}/inbound/workspaces/{workspace}/{f}")).collect(),
        signature_header: "X-Tern-Signature",
    }
}

/// Creates the workspace's webhook credential, or replaces it (the old secret
/// stops working at once).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/inbound/credential", params(("ws" = String, Path)),
    responses((status = 201, body = WebhookCredentialCreated), (status = 403), (status = 404)))]
pub async fn create_credential(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageMailboxes>,
) -> Result<Response, ApiError> {
    let workspace = ctx.workspace().to_string();
    let secret = OpaqueToken::generate().map_err(ApiError::internal)?;
    let sealed_secret = state
        .platform
        .sealer()
        .seal(
            ctx.workspace(),
            &ctx.settings.kms_key_id,
            WEBHOOK_SECRET_PURPOSE,
            &webhook_secret_identity(&workspace),
            secret.expose().as_bytes(),
        )
        .await?;
    let credential = InboundWebhookCredential {
        id: InboundWebhookCredential::ID.into(),
        username: format!("tern-{}", &workspace[workspace.len().saturating_sub(8)..]).to_ascii_lowercase(),
        secret_hash: TokenHash::of(secret.expose()).to_hex(),
        sealed_secret,
        created_at: state.platform.clock().now().unix_timestamp(),
        created_by: ctx.actor.user_id().to_string(),
    };
    ctx.scoped.put(&credential, None).await?;
    audit(
        &state,
        ctx.tenant,
        &ctx.actor.audit_name(),
        "inbound.credential_created",
        None,
        serde_json::json!({ "username": credential.username }),
        &client,
    )
    .await?;
    let body = WebhookCredentialCreated { secret: secret.expose().to_string(), credential: view(&state, &workspace, &credential) };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/inbound/credential", params(("ws" = String, Path)),
    responses((status = 200, body = WebhookCredentialView), (status = 403), (status = 404)))]
pub async fn get_credential(
    State(state): State<Arc<ApiState>>,
    ctx: InWorkspace<need::ManageMailboxes>,
) -> Result<Json<WebhookCredentialView>, ApiError> {
    let credential = ctx.scoped.get::<InboundWebhookCredential>(InboundWebhookCredential::ID).await?.ok_or_else(ApiError::not_found)?;
    Ok(Json(view(&state, &ctx.workspace().to_string(), &credential)))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/inbound/credential", params(("ws" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete_credential(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageMailboxes>,
) -> Result<StatusCode, ApiError> {
    if ctx.scoped.get::<InboundWebhookCredential>(InboundWebhookCredential::ID).await?.is_none() {
        return Err(ApiError::not_found());
    }
    ctx.scoped.delete::<InboundWebhookCredential>(InboundWebhookCredential::ID).await?;
    audit(&state, ctx.tenant, &ctx.actor.audit_name(), "inbound.credential_revoked", None, serde_json::json!({}), &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InboundMessageView {
    id: String,
    received_at: String,
    status: String,
    #[schema(value_type = Object)]
    transport: Transport,
    from: Option<String>,
    subject: Option<String>,
    message_id: Option<String>,
    in_reply_to: Vec<String>,
    references: Vec<String>,
    /// The first 500 characters of the new text; only for roles that may read bodies.
    snippet: Option<String>,
    kind: Option<String>,
    status_code: Option<String>,
    reason: Option<String>,
    return_date: Option<String>,
    enrollment_id: Option<String>,
    /// What linked it to `enrollment_id`: `message_id`, `reply_token`,
    /// `unsubscribe_token`, or the sender vouched for by the receiving provider
    /// (`sender_dmarc_pass`, `sender_aligned_spf_pass`).
    #[schema(value_type = Option<String>)]
    linked_by: Option<tern_domain::inbound::LinkEvidence>,
    effect: Option<String>,
    /// With the workspace's language model configured: what a human reply wants
    /// (`interested`, `not_interested`, `meeting`, `referral`, `wrong_person`).
    #[schema(value_type = Option<String>)]
    intent: Option<tern_domain::intent::ReplyIntent>,
    #[schema(value_type = Option<f64>)]
    intent_confidence: Option<tern_domain::intent::Confidence>,
    intent_reason: Option<String>,
    intent_error: Option<String>,
}

/// The views of `messages`, with their text (kept apart, under the e-mail-body
/// window) for roles that may read bodies: one range query for the whole page.
async fn views(ctx: &InWorkspace<need::ReadContacts>, messages: Vec<InboundMessage>) -> Result<Vec<InboundMessageView>, ApiError> {
    if !ctx.role.has(Permission::ReadMessageBodies) || messages.is_empty() {
        return Ok(messages.into_iter().map(|m| message_view(m, None)).collect());
    }
    let first = messages.iter().map(|m| m.id.as_str()).min().unwrap_or_default();
    let last = messages.iter().map(|m| m.id.as_str()).max().unwrap_or_default();
    let mut texts: std::collections::HashMap<String, InboundText> =
        ctx.scoped.list_range::<InboundText>(first, last).await?.into_iter().map(|t| (t.id.clone(), t)).collect();
    Ok(messages
        .into_iter()
        .map(|mut m| {
            // Messages classified before texts had their own item carry it themselves.
            let text = texts.remove(&m.id).or_else(|| InboundText::take_from(&mut m));
            message_view(m, text)
        })
        .collect())
}

/// `text` only for roles that may read bodies.
fn message_view(m: InboundMessage, text: Option<InboundText>) -> InboundMessageView {
    let (snippet, intent_reason) = text.map(|t| (t.snippet, t.intent_reason)).unwrap_or_default();
    InboundMessageView {
        received_at: m.received_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        status: serde_json::to_value(m.status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
        id: m.id,
        transport: m.transport,
        from: m.from,
        subject: m.subject,
        message_id: m.message_id,
        in_reply_to: m.in_reply_to,
        references: m.references,
        snippet,
        kind: m.kind,
        status_code: m.status_code,
        reason: m.reason,
        return_date: m.return_date,
        enrollment_id: m.enrollment_id,
        linked_by: m.linked_by,
        effect: m.effect,
        intent: m.intent,
        intent_confidence: m.intent_confidence,
        intent_reason,
        intent_error: m.intent_error,
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct InboundListQuery {
    /// Only this classification (`human`, `bounce_hard`, ...).
    kind: Option<String>,
    /// Only messages linked to this enrollment.
    enrollment_id: Option<String>,
    limit: Option<usize>,
    after: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InboundPage {
    items: Vec<InboundMessageView>,
    next: Option<String>,
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/inbound/messages", params(("ws" = String, Path), InboundListQuery),
    responses((status = 200, body = InboundPage), (status = 403), (status = 404)))]
pub async fn list_messages(
    ctx: InWorkspace<need::ReadContacts>,
    Query(query): Query<InboundListQuery>,
) -> Result<Json<InboundPage>, ApiError> {
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let page = ctx
        .scoped
        .list_matching::<InboundMessage>(limit, query.after.clone(), 2_000, |m| {
            query.kind.as_ref().is_none_or(|k| m.kind.as_ref() == Some(k))
                && query.enrollment_id.as_ref().is_none_or(|e| m.enrollment_id.as_ref() == Some(e))
        })
        .await?;
    Ok(Json(InboundPage { items: views(&ctx, page.items).await?, next: page.next }))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/inbound/messages/{id}", params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = InboundMessageView), (status = 403), (status = 404)))]
pub async fn get_message(
    ctx: InWorkspace<need::ReadContacts>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<InboundMessageView>, ApiError> {
    let message = ctx.scoped.get::<InboundMessage>(&id).await?.ok_or_else(ApiError::not_found)?;
    let mut views = views(&ctx, vec![message]).await?;
    Ok(Json(views.remove(0)))
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default()
        .add(__path_create_credential, create_credential)
        .add(__path_get_credential, get_credential)
        .add(__path_delete_credential, delete_credential)
        .add(__path_list_messages, list_messages)
        .add(__path_get_message, get_message)
}
