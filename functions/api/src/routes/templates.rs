//! Message templates (subject, text, HTML, attachments) and their preview. A
//! template is parsed and its variables checked when it is saved, so a typo in a
//! variable is a 422 here, never a surprise at send time.

use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use crate::routes::audit;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::entities::Workspace;
use tern_aws::outreach::{AttachmentRecord, Contact, TemplateRecord, template_values};
use tern_domain::template::{MessageTemplate, STANDARD_VARIABLES};
use tern_http::{ApiError, Json, Path, Query};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    name: String,
    /// May use variables: `Quick question, {{first_name | there}}`.
    subject: String,
    text: String,
    html: Option<String>,
    #[serde(default)]
    attachment_ids: Vec<String>,
}

/// Attachments: at most this many per template, this large each.
pub const MAX_ATTACHMENTS: usize = 5;
pub const MAX_ATTACHMENT_BYTES: usize = 3 * 1024 * 1024;

/// Parses the template and checks every variable is known: a standard one or one of
/// the workspace's custom fields.
fn check(workspace: &Workspace, input: &TemplateInput) -> Result<MessageTemplate, ApiError> {
    if input.text.len() > 100_000 || input.html.as_ref().is_some_and(|h| h.len() > 500_000) {
        return Err(ApiError::unprocessable("template_too_long", "Text bodies are limited to 100,000 bytes and HTML to 500,000."));
    }
    if input.attachment_ids.len() > MAX_ATTACHMENTS {
        return Err(ApiError::unprocessable("too_many_attachments", format!("At most {MAX_ATTACHMENTS} attachments per template.")));
    }
    let parsed = MessageTemplate::parse(&input.subject, &input.text, input.html.as_deref())
        .map_err(|e| ApiError::unprocessable("invalid_template", e.to_string()))?;
    let unknown = parsed.unknown_variables(|name| STANDARD_VARIABLES.contains(&name) || workspace.custom_fields.contains(name));
    if !unknown.is_empty() {
        return Err(ApiError::unprocessable(
            "unknown_variables",
            format!(
                "Unknown variables: {}. Use a standard one ({}) or add a custom field to the workspace.",
                unknown.iter().map(|v| format!("{{{{{v}}}}}")).collect::<Vec<_>>().join(", "),
                STANDARD_VARIABLES.join(", ")
            ),
        ));
    }
    Ok(parsed)
}

async fn check_attachments(ctx: &InWorkspace<need::ManageTemplates>, ids: &[String]) -> Result<(), ApiError> {
    for id in ids {
        if ctx.scoped.get::<AttachmentRecord>(id).await?.is_none() {
            return Err(ApiError::unprocessable(
                "unknown_attachment",
                format!("There is no attachment `{}`.", id.chars().take(64).collect::<String>()),
            ));
        }
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/templates", params(("ws" = String, Path)), request_body = TemplateInput,
    responses((status = 201, body = Object), (status = 422)))]
pub async fn create(
    State(state): State<Arc<ApiState>>,
    ctx: InWorkspace<need::ManageTemplates>,
    Json(input): Json<TemplateInput>,
) -> Result<(StatusCode, Json<TemplateRecord>), ApiError> {
    let name = super::text("name", &input.name, 100)?;
    check(&ctx.settings, &input)?;
    check_attachments(&ctx, &input.attachment_ids).await?;
    let now = state.platform.clock().now().unix_timestamp();
    let record = TemplateRecord {
        id: uuid::Uuid::now_v7().to_string(),
        name,
        subject: input.subject,
        text: input.text,
        html: input.html,
        attachment_ids: input.attachment_ids,
        created_at: now,
        updated_at: now,
    };
    ctx.scoped.create(&record, None).await?;
    Ok((StatusCode::CREATED, Json(record)))
}

#[utoipa::path(put, path = "/v1/workspaces/{ws}/templates/{template_id}", params(("ws" = String, Path), ("template_id" = String, Path)),
    request_body = TemplateInput, responses((status = 200, body = Object), (status = 404), (status = 422)))]
pub async fn replace(
    State(state): State<Arc<ApiState>>,
    ctx: InWorkspace<need::ManageTemplates>,
    Path((_, id)): Path<(String, String)>,
    Json(input): Json<TemplateInput>,
) -> Result<Json<TemplateRecord>, ApiError> {
    let existing = ctx.scoped.get::<TemplateRecord>(&id).await?.ok_or_else(ApiError::not_found)?;
    let name = super::text("name", &input.name, 100)?;
    check(&ctx.settings, &input)?;
    check_attachments(&ctx, &input.attachment_ids).await?;
    let record = TemplateRecord {
        name,
        subject: input.subject,
        text: input.text,
        html: input.html,
        attachment_ids: input.attachment_ids,
        updated_at: state.platform.clock().now().unix_timestamp(),
        ..existing
    };
    ctx.scoped.put(&record, None).await?;
    Ok(Json(record))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/templates/{template_id}", params(("ws" = String, Path), ("template_id" = String, Path)),
    responses((status = 200, body = Object), (status = 404)))]
// Templates are outbound message bodies: ReadMessageBodies, which platform support lacks.
pub async fn get(
    ctx: InWorkspace<need::ReadMessageBodies>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<TemplateRecord>, ApiError> {
    Ok(Json(ctx.scoped.get::<TemplateRecord>(&id).await?.ok_or_else(ApiError::not_found)?))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/templates/{template_id}", params(("ws" = String, Path), ("template_id" = String, Path)),
    responses((status = 204), (status = 404)))]
pub async fn delete(ctx: InWorkspace<need::ManageTemplates>, Path((_, id)): Path<(String, String)>) -> Result<StatusCode, ApiError> {
    ctx.scoped.get::<TemplateRecord>(&id).await?.ok_or_else(ApiError::not_found)?;
    ctx.scoped.delete::<TemplateRecord>(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TemplateList {
    #[schema(value_type = Vec<Object>)]
    templates: Vec<TemplateRecord>,
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/templates", params(("ws" = String, Path)), responses((status = 200, body = TemplateList)))]
pub async fn list(ctx: InWorkspace<need::ReadMessageBodies>) -> Result<Json<TemplateList>, ApiError> {
    Ok(Json(TemplateList { templates: ctx.scoped.list_all::<TemplateRecord>().await? }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    /// Render for this contact, exactly as it would be sent.
    contact_id: String,
    /// The sender name to use for `{{sender_name}}`.
    sender_name: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Preview {
    subject: String,
    text: String,
    html: Option<String>,
}

/// Renders the template for one contact. A variable the contact has no value for
/// and the template gives no fallback for is a 422 naming it: the same check the
/// send worker makes, surfaced before anything is sent.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/templates/{template_id}/preview", params(("ws" = String, Path), ("template_id" = String, Path)),
    request_body = PreviewInput, responses((status = 200, body = Preview), (status = 404), (status = 422)))]
pub async fn preview(
    ctx: InWorkspace<need::ReadContacts>,
    Path((_, id)): Path<(String, String)>,
    Json(input): Json<PreviewInput>,
) -> Result<Json<Preview>, ApiError> {
    let template = ctx.scoped.get::<TemplateRecord>(&id).await?.ok_or_else(ApiError::not_found)?;
    let contact = ctx
        .scoped
        .get::<Contact>(&input.contact_id)
        .await?
        .ok_or_else(|| ApiError::unprocessable("unknown_contact", "There is no such contact in this workspace."))?;
    let rendered = render_for(&ctx.settings, &template, &contact, input.sender_name.as_deref())?;
    Ok(Json(Preview { subject: rendered.subject, text: rendered.text, html: rendered.html }))
}

/// Renders `template` for `contact`, or says which values are missing.
pub(crate) fn render_for(
    workspace: &Workspace,
    template: &TemplateRecord,
    contact: &Contact,
    sender_name: Option<&str>,
) -> Result<tern_domain::template::RenderedMessage, ApiError> {
    let parsed = MessageTemplate::parse(&template.subject, &template.text, template.html.as_deref())
        .map_err(|e| ApiError::unprocessable("invalid_template", e.to_string()))?;
    parsed.render(&template_values(workspace, contact, sender_name)).map_err(|e| {
        ApiError::unprocessable(
            "missing_values",
            format!("{} has no value for {} and the template gives no fallback.", contact.email, e.missing.join(", ")),
        )
    })
}

/// File types people attach to outreach; anything else is refused.
const ALLOWED_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "text/plain",
    "text/csv",
    "text/calendar",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
];

/// The declared type must match the bytes where the format has a signature, so a
/// renamed executable cannot ride along as a "PDF".
fn content_matches(content_type: &str, bytes: &[u8]) -> bool {
    match content_type {
        "application/pdf" => bytes.starts_with(b"%PDF-"),
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/gif" => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
        t if t.starts_with("application/vnd.openxmlformats") => bytes.starts_with(b"PK\x03\x04"),
        _ => std::str::from_utf8(bytes).is_ok(),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AttachmentQuery {
    filename: String,
}

/// Stores a file (the request body, with its Content-Type) for templates to attach,
/// in S3 under the workspace's own KMS key.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/attachments", params(("ws" = String, Path), AttachmentQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Object), (status = 413), (status = 415), (status = 422)))]
pub async fn upload_attachment(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageTemplates>,
    Query(query): Query<AttachmentQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<AttachmentRecord>), ApiError> {
    let filename = super::text("filename", &query.filename, 200)?;
    if filename.contains(['/', '\\', '"']) {
        return Err(ApiError::unprocessable("invalid_filename", "A file name cannot contain slashes or quotes."));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !ALLOWED_TYPES.contains(&content_type.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_attachment_type",
            "Attach PDF, PNG, JPEG, GIF, plain text, CSV, calendar or Office (docx, xlsx, pptx) files.",
        ));
    }
    if body.len() > MAX_ATTACHMENT_BYTES {
        return Err(ApiError::payload_too_large(MAX_ATTACHMENT_BYTES));
    }
    if body.is_empty() || !content_matches(&content_type, &body) {
        return Err(ApiError::unprocessable("attachment_type_mismatch", format!("The file's content is not {content_type}.")));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let objects = state.platform.bucket().scope(ctx.tenant);
    let object = tern_aws::bucket::Object::Attachment(&id);
    let how = tern_aws::bucket::Put { kms_key_id: &ctx.settings.kms_key_id, content_type: Some(&content_type), content_disposition: None };
    objects.put(object, body.to_vec().into(), how).await?;
    let object_key = objects.key(object);
    let record = AttachmentRecord {
        id,
        filename,
        content_type,
        size: body.len() as u64,
        object_key,
        created_at: state.platform.clock().now().unix_timestamp(),
    };
    ctx.scoped.create(&record, None).await?;
    audit(
        &state,
        ctx.tenant,
        &ctx.actor.audit_name(),
        "attachment.uploaded",
        Some(&record.id),
        serde_json::json!({ "size": record.size }),
        &client,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default()
        .add(__path_create, create)
        .add(__path_list, list)
        .add(__path_get, get)
        .add(__path_replace, replace)
        .add(__path_delete, delete)
        .add(__path_preview, preview)
        .add(__path_upload_attachment, upload_attachment)
}
