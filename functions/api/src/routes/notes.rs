//! Notes on contacts: free text members write about a person. The text is sealed
//! with the workspace's own key (purpose `contact-note`) and never reaches the
//! audit trail or logs; reading it needs the read-contact-notes permission (never
//! platform support). A note is kept for the workspace's contact-note window when
//! one is set (its TTL, fixed when written), else until it or its contact is deleted.

use super::audit;
use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::entities::{CONTACT_NOTE_PURPOSE, ContactNote};
use tern_aws::outreach::Contact;
use tern_aws::sealing::SealingError;
use tern_aws::table::{ScopedTable, StoreError};
use tern_domain::retention::RetentionCategory;
use tern_http::{ApiError, Json, Path};

/// The longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 5_000;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    /// 1 to 5,000 characters; may span lines.
    text: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NoteView {
    id: String,
    contact_id: String,
    text: String,
    /// The user who wrote it.
    author: String,
    created_at: i64,
    /// Unix time the note is deleted (the workspace's contact-note window when it
    /// was written); `null`: kept until deleted.
    expires_at: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NoteList {
    notes: Vec<NoteView>,
}

async fn contact(ctx: &InWorkspace<impl crate::auth::Needs>, id: &str) -> Result<Contact, ApiError> {
    ctx.scoped.get::<Contact>(id).await?.ok_or_else(ApiError::not_found)
}

fn sealing_failed(e: SealingError) -> ApiError {
    match e {
        SealingError::Kms(e) => ApiError::unavailable(e),
        other => ApiError::internal(other),
    }
}

async fn open(state: &ApiState, ctx: &InWorkspace<need::ReadContactNotes>, note: ContactNote) -> Result<NoteView, ApiError> {
    let workspace = ctx.workspace().to_string();
    let text = state
        .platform
        .sealer()
        .open(ctx.workspace(), CONTACT_NOTE_PURPOSE, &ContactNote::identity(&workspace, &note.id), &note.text)
        .await
        .map_err(sealing_failed)?;
    let text = String::from_utf8(text.expose().to_vec()).map_err(ApiError::internal)?;
    Ok(NoteView {
        id: note.note_id,
        contact_id: note.contact_id,
        text,
        author: note.author,
        created_at: note.created_at,
        expires_at: note.expires_at,
    })
}

/// Adds a note to a contact; its text is sealed, the audit entry names only the note.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/contacts/{contact_id}/notes", params(("ws" = String, Path), ("contact_id" = String, Path)),
    request_body = NewNote, responses((status = 201, body = NoteView), (status = 403), (status = 404), (status = 422)))]
pub async fn create(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::WriteContacts>,
    Path((_, contact_id)): Path<(String, String)>,
    Json(input): Json<NewNote>,
) -> Result<Response, ApiError> {
    let contact = contact(&ctx, &contact_id).await?;
    let text = input.text.trim();
    if text.is_empty() || text.chars().count() > MAX_NOTE_CHARS || text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ApiError::unprocessable("invalid_note", format!("`text` must be 1 to {MAX_NOTE_CHARS} characters of text.")));
    }
    let note_id = uuid::Uuid::now_v7().to_string();
    let id = ContactNote::key(&contact.id, &note_id);
    let workspace = ctx.workspace().to_string();
    let sealed = state
        .platform
        .sealer()
        .seal(ctx.workspace(), &ctx.settings.kms_key_id, CONTACT_NOTE_PURPOSE, &ContactNote::identity(&workspace, &id), text.as_bytes())
        .await
        .map_err(sealing_failed)?;
    let now = state.platform.clock().now().unix_timestamp();
    let note = ContactNote {
        id,
        contact_id: contact.id.clone(),
        note_id: note_id.clone(),
        text: sealed,
        author: ctx.actor.user_id().to_string(),
        created_at: now,
        expires_at: ctx.settings.retention().expiry_unix(RetentionCategory::ContactNotes, now),
    };
    ctx.scoped.create(&note, None).await?;
    audit(
        &state,
        ctx.tenant,
        &ctx.actor.audit_name(),
        "contact.note_added",
        Some(&contact.id),
        serde_json::json!({ "note_id": note_id }),
        &client,
    )
    .await?;
    let view = NoteView {
        id: note_id,
        contact_id: contact.id,
        text: text.to_string(),
        author: note.author,
        created_at: now,
        expires_at: note.expires_at,
    };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// A contact's notes, oldest first.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/contacts/{contact_id}/notes", params(("ws" = String, Path), ("contact_id" = String, Path)),
    responses((status = 200, body = NoteList), (status = 403), (status = 404)))]
pub async fn list(
    State(state): State<Arc<ApiState>>,
    ctx: InWorkspace<need::ReadContactNotes>,
    Path((_, contact_id)): Path<(String, String)>,
) -> Result<Json<NoteList>, ApiError> {
    let contact = contact(&ctx, &contact_id).await?;
    let stored = notes_of(&ctx.scoped, &contact.id).await?;
    let now = state.platform.clock().now().unix_timestamp();
    let mut notes = Vec::with_capacity(stored.len());
    // DynamoDB deletes expired items within days, not at once: past its window a note is gone.
    for note in stored.into_iter().filter(|n| n.expires_at.is_none_or(|at| at > now)) {
        notes.push(open(&state, &ctx, note).await?);
    }
    Ok(Json(NoteList { notes }))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/contacts/{contact_id}/notes/{note_id}",
    params(("ws" = String, Path), ("contact_id" = String, Path), ("note_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::WriteContacts>,
    Path((_, contact_id, note_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let contact = contact(&ctx, &contact_id).await?;
    let id = ContactNote::key(&contact.id, &note_id);
    if ctx.scoped.get::<ContactNote>(&id).await?.is_none() {
        return Err(ApiError::not_found());
    }
    ctx.scoped.delete::<ContactNote>(&id).await?;
    audit(
        &state,
        ctx.tenant,
        &ctx.actor.audit_name(),
        "contact.note_deleted",
        Some(&contact.id),
        serde_json::json!({ "note_id": note_id }),
        &client,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every note on one contact (one query: their ids share the contact's prefix).
pub(crate) async fn notes_of(scoped: &ScopedTable, contact_id: &str) -> Result<Vec<ContactNote>, StoreError> {
    scoped.list_prefixed::<ContactNote>(&ContactNote::key(contact_id, "")).await
}

/// Deletes every note on a contact (the contact is being deleted); how many.
pub(crate) async fn delete_notes_of(scoped: &ScopedTable, contact_id: &str) -> Result<usize, StoreError> {
    let notes = notes_of(scoped, contact_id).await?;
    for note in &notes {
        scoped.delete::<ContactNote>(&note.id).await?;
    }
    Ok(notes.len())
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default().add(__path_create, create).add(__path_list, list).add(__path_delete, delete)
}
