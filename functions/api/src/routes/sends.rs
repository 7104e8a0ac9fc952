//! The sends of a workspace, and settling a parked one by hand.

use super::MAX_SCANNED_PER_PAGE;
use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use crate::routes::audit;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::outreach::schedule::{calendar, next_due};
use tern_aws::outreach::store::update_enrollment;
use tern_aws::outreach::{Contact, EnrollmentRecord, SendRecord, SendState, Sequence};
use tern_aws::table::StoreError;
use tern_domain::enrollment::Event;
use tern_http::{ApiError, Json, Path, Query};

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SendQuery {
    /// `parked` lists the sends waiting for a person.
    state: Option<String>,
    after: Option<String>,
    limit: Option<i32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SendPage {
    #[schema(value_type = Vec<Object>)]
    sends: Vec<SendRecord>,
    next: Option<String>,
}

fn state_name(state: &SendState) -> &'static str {
    match state {
        SendState::Claimed { .. } => "claimed",
        SendState::Sending { .. } => "sending",
        SendState::Sent { .. } => "sent",
        SendState::Failed { .. } => "failed",
        SendState::Parked { .. } => "parked",
    }
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/sends", params(("ws" = String, Path), SendQuery), responses((status = 200, body = SendPage)))]
pub async fn list_sends(ctx: InWorkspace<need::ReadContacts>, Query(query): Query<SendQuery>) -> Result<Json<SendPage>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::unprocessable("invalid_limit", "`limit` must be from 1 to 100."));
    }
    let wanted = query.state.as_deref();
    if wanted.is_some_and(|s| !["claimed", "sending", "sent", "failed", "parked"].contains(&s)) {
        return Err(ApiError::unprocessable("invalid_state", "`state` is one of claimed, sending, sent, failed, parked."));
    }
    let keep = |record: &SendRecord| wanted.is_none_or(|w| w == state_name(&record.state));
    let page = ctx.scoped.list_matching(limit as usize, query.after.clone(), MAX_SCANNED_PER_PAGE, keep).await?;
    Ok(Json(SendPage { sends: page.items, next: page.next }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    /// `sent`: it left (found in the Sent folder by its Message-ID); the sequence goes on.
    /// `not_sent`: it did not; the step is sent again.
    outcome: String,
}

/// A person settles a parked send, after checking for its Message-ID.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sends/{send_id}/resolve", params(("ws" = String, Path), ("send_id" = String, Path)),
    request_body = Resolution, responses((status = 200, body = Object), (status = 404), (status = 409), (status = 422)))]
pub async fn resolve_send(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageSequences>,
    Path((_, id)): Path<(String, String)>,
    Json(resolution): Json<Resolution>,
) -> Result<Json<SendRecord>, ApiError> {
    let mut record = ctx.scoped.get::<SendRecord>(&id).await?.ok_or_else(ApiError::not_found)?;
    if !matches!(record.state, SendState::Parked { .. }) {
        return Err(ApiError::new(StatusCode::CONFLICT, "not_parked", "Only a parked send can be resolved."));
    }
    let now = state.platform.clock().now().unix_timestamp();
    let enrollment = ctx.scoped.get::<EnrollmentRecord>(&record.enrollment_id).await?;
    let sequence = match &enrollment {
        Some(e) => ctx.scoped.get::<Sequence>(&e.sequence_id).await?,
        None => None,
    };
    let contact = ctx.scoped.get::<Contact>(&record.contact_id).await?;
    let sent = match resolution.outcome.as_str() {
        "sent" => true,
        "not_sent" => false,
        _ => return Err(ApiError::unprocessable("invalid_outcome", "`outcome` is `sent` or `not_sent`.")),
    };
    let token = tern_aws::table::AttributeValue::S(record.claim_token.clone());
    if sent {
        record.state = SendState::Sent { sent_at: now, provider_message_id: None };
        record.updated_at = now;
        // Resolved, the record is log again: kept for the workspace's log window.
        record.expires_at = ctx.settings.retention().expiry_unix(tern_domain::retention::RetentionCategory::Logs, now);
        ctx.scoped.replace_if(&record, None, "claim_token", token).await?;
    } else {
        ctx.scoped.delete::<SendRecord>(&record.id).await?;
    }
    let step = record.step;
    let message_id = record.message_id.clone();
    update_enrollment::<StoreError>(&ctx.scoped, &record.enrollment_id, now, |e| {
        if e.parked_step != Some(step) {
            return Ok(false);
        }
        e.parked_step = None;
        e.attempts = 0;
        e.note = None;
        if sent && let Ok(machine) = e.machine.apply(Event::StepSent { step }) {
            e.machine = machine;
            if e.first_message_id.is_none() {
                e.first_sent_at = Some(now);
                e.first_message_id = Some(message_id.clone());
            }
            e.last_message_id = Some(message_id.clone());
        }
        let due = match (&sequence, &contact) {
            (Some(sequence), Some(contact)) => calendar(&ctx.settings, sequence, contact.timezone.as_deref())
                .ok()
                .and_then(|cal| next_due(&cal, sequence, e).ok().flatten()),
            _ => None,
        };
        e.schedule(due);
        Ok(true)
    })
    .await?;
    audit(
        &state,
        ctx.tenant,
        &ctx.actor.audit_name(),
        "send.resolved",
        Some(&record.id),
        serde_json::json!({ "outcome": resolution.outcome }),
        &client,
    )
    .await?;
    Ok(Json(record))
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default().add(__path_list_sends, list_sends).add(__path_resolve_send, resolve_send)
}
