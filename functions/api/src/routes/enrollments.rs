//! Enrolling contacts in a sequence, and an enrollment's life: list, read, pause,
//! resume, stop.

use super::MAX_SCANNED_PER_PAGE;
use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use crate::routes::audit;
use crate::routes::contacts::{ContactFilter, filter_of, find};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::outreach::schedule::{calendar, next_due};
use tern_aws::outreach::store::update_enrollment;
use tern_aws::outreach::{Contact, EnrollmentRecord, Mailbox, Sequence, Suppression, TemplateRecord, UnsubscribeLink};
use tern_aws::table::{ScopedTable, StoreError};
use tern_domain::enrollment::{Enrollment, Event, State as EnrollmentState, StopReason};
use tern_http::{ApiError, Json, Path, Query};

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollFilter {
    q: Option<String>,
    company: Option<String>,
    domain: Option<String>,
    free_mail: Option<bool>,
    role_account: Option<bool>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollInput {
    /// These contacts…
    #[serde(default)]
    contact_ids: Vec<String>,
    /// …or every contact matching this filter (at most 1,000 per request).
    filter: Option<EnrollFilter>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Skipped {
    contact_id: String,
    /// `suppressed`, `already_enrolled`, `missing_values`, `unknown_contact`.
    reason: &'static str,
    message: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EnrollReport {
    enrolled: Vec<String>,
    skipped: Vec<Skipped>,
}

/// Most contacts enrolled by one request.
pub const MAX_ENROLL: usize = 1_000;

/// Enrols contacts in a sequence. Each is checked first: not suppressed, not already
/// in it, and every step renders for it (a missing value without fallback is
/// reported here, not discovered at send time). The first step is scheduled at the
/// next opening of the send window.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sequences/{sequence_id}/enrollments", params(("ws" = String, Path), ("sequence_id" = String, Path)),
    request_body = EnrollInput, responses((status = 200, body = EnrollReport), (status = 404), (status = 422)))]
pub async fn enroll(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::Send>,
    Path((_, sequence_id)): Path<(String, String)>,
    Json(input): Json<EnrollInput>,
) -> Result<Json<EnrollReport>, ApiError> {
    let sequence = ctx.scoped.get::<Sequence>(&sequence_id).await?.ok_or_else(ApiError::not_found)?;
    let contacts: Vec<Result<Contact, String>> = match (&input.filter, input.contact_ids.is_empty()) {
        (Some(f), true) => {
            let filter: ContactFilter = filter_of(f.q.clone(), f.company.clone(), f.domain.clone(), f.free_mail, f.role_account);
            find(&ctx.scoped, &filter, MAX_ENROLL, None).await?.0.into_iter().map(Ok).collect()
        }
        (None, false) if input.contact_ids.len() <= MAX_ENROLL => {
            let mut found = Vec::new();
            for id in &input.contact_ids {
                found.push(ctx.scoped.get::<Contact>(id).await?.ok_or_else(|| id.clone()));
            }
            found
        }
        _ => {
            return Err(ApiError::unprocessable(
                "invalid_selection",
                format!("Give either `contact_ids` (at most {MAX_ENROLL}) or a `filter`."),
            ));
        }
    };
    let mut templates = Vec::new();
    for step in &sequence.steps {
        let template = ctx.scoped.get::<TemplateRecord>(&step.template_id).await?;
        templates.push(
            template
                .ok_or_else(|| ApiError::unprocessable("unknown_template", "A step's template was deleted; fix the sequence first."))?,
        );
    }
    let mailbox = ctx.scoped.get::<Mailbox>(&sequence.mailbox_id).await?;
    let sender_name = mailbox.as_ref().and_then(|m| m.from_name.clone());
    let now = state.platform.clock().now().unix_timestamp();
    let mut report = EnrollReport { enrolled: Vec::new(), skipped: Vec::new() };
    for contact in contacts {
        let contact = match contact {
            Ok(contact) => contact,
            Err(id) => {
                report.skipped.push(Skipped { contact_id: id, reason: "unknown_contact", message: "There is no such contact.".into() });
                continue;
            }
        };
        if ctx.scoped.get::<Suppression>(&contact.email_index).await?.is_some() {
            report.skipped.push(Skipped {
                contact_id: contact.id,
                reason: "suppressed",
                message: "The address is on the suppression list.".into(),
            });
            continue;
        }
        if let Some(problem) =
            templates.iter().find_map(|t| crate::routes::templates::render_for(&ctx.settings, t, &contact, sender_name.as_deref()).err())
        {
            report.skipped.push(Skipped { contact_id: contact.id, reason: "missing_values", message: problem.message });
            continue;
        }
        match start_enrollment(&state, &ctx.scoped, &ctx.settings, &sequence, &contact, now).await? {
            true => report.enrolled.push(contact.id),
            false => report.skipped.push(Skipped {
                contact_id: contact.id,
                reason: "already_enrolled",
                message: "The contact is already in this sequence.".into(),
            }),
        }
    }
    let parameters = serde_json::json!({ "enrolled": report.enrolled.len(), "skipped": report.skipped.len() });
    audit(&state, ctx.tenant, &ctx.actor.audit_name(), "sequence.enrolled", Some(&sequence.id), parameters, &client).await?;
    Ok(Json(report))
}

/// Creates the enrollment (once per contact and sequence) with its unsubscribe link
/// and schedules the first step. `false` when it already existed.
async fn start_enrollment(
    state: &ApiState,
    scoped: &ScopedTable,
    workspace: &tern_aws::entities::Workspace,
    sequence: &Sequence,
    contact: &Contact,
    now: i64,
) -> Result<bool, ApiError> {
    let id = EnrollmentRecord::id_for(&sequence.id, &contact.id);
    if scoped.get::<EnrollmentRecord>(&id).await?.is_some() {
        return Ok(false);
    }
    let token = tern_security::token::OpaqueToken::generate().map_err(ApiError::internal)?;
    let machine = Enrollment::start(sequence.steps.len() as u32).map_err(ApiError::internal)?;
    let mut enrollment = EnrollmentRecord {
        id: id.clone(),
        sequence_id: sequence.id.clone(),
        contact_id: contact.id.clone(),
        mailbox_id: sequence.mailbox_id.clone(),
        machine,
        email_index: contact.email_index.clone(),
        company_domain: contact.domain.clone(),
        enrolled_at: now,
        first_sent_at: None,
        first_message_id: None,
        first_subject: None,
        last_message_id: None,
        next_due_at: None,
        due_shard: None,
        due_at: None,
        unsubscribe_token: token.expose().to_string(),
        parked_step: None,
        attempts: 0,
        note: None,
        version: 1,
        updated_at: now,
    };
    let calendar = calendar(workspace, sequence, contact.timezone.as_deref())
        .map_err(|e| ApiError::unprocessable("invalid_calendar", e.to_string()))?;
    enrollment
        .schedule(next_due(&calendar, sequence, &enrollment).map_err(|e| ApiError::unprocessable("invalid_calendar", e.to_string()))?);
    // The link first: an enrollment that can send always has a working unsubscribe.
    let link = UnsubscribeLink {
        token_hash: token.hash().to_hex(),
        workspace_id: scoped.workspace().to_string(),
        enrollment_id: id,
        contact_id: contact.id.clone(),
        email_index: contact.email_index.clone(),
    };
    state.platform.global().put(&link, None).await?;
    match scoped.create(&enrollment, None).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(ApiError::unavailable(e)),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentQuery {
    sequence_id: Option<String>,
    contact_id: Option<String>,
    after: Option<String>,
    limit: Option<i32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EnrollmentView {
    id: String,
    sequence_id: String,
    contact_id: String,
    #[schema(value_type = Object)]
    state: EnrollmentState,
    steps: u32,
    enrolled_at: i64,
    first_sent_at: Option<i64>,
    next_due_at: Option<i64>,
    /// A step waiting for a person to resolve (see the sends list).
    parked_step: Option<u32>,
    note: Option<String>,
}

fn enrollment_view(e: EnrollmentRecord) -> EnrollmentView {
    EnrollmentView {
        id: e.id,
        sequence_id: e.sequence_id,
        contact_id: e.contact_id,
        state: e.machine.state,
        steps: e.machine.steps,
        enrolled_at: e.enrolled_at,
        first_sent_at: e.first_sent_at,
        next_due_at: e.next_due_at,
        parked_step: e.parked_step,
        note: e.note,
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EnrollmentPage {
    enrollments: Vec<EnrollmentView>,
    next: Option<String>,
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/enrollments", params(("ws" = String, Path), EnrollmentQuery), responses((status = 200, body = EnrollmentPage)))]
pub async fn list_enrollments(
    ctx: InWorkspace<need::ReadContacts>,
    Query(query): Query<EnrollmentQuery>,
) -> Result<Json<EnrollmentPage>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::unprocessable("invalid_limit", "`limit` must be from 1 to 100."));
    }
    let keep = |e: &EnrollmentRecord| {
        query.sequence_id.as_ref().is_none_or(|s| *s == e.sequence_id) && query.contact_id.as_ref().is_none_or(|c| *c == e.contact_id)
    };
    let page = ctx.scoped.list_matching(limit as usize, query.after.clone(), MAX_SCANNED_PER_PAGE, keep).await?;
    Ok(Json(EnrollmentPage { enrollments: page.items.into_iter().map(enrollment_view).collect(), next: page.next }))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/enrollments/{enrollment_id}", params(("ws" = String, Path), ("enrollment_id" = String, Path)),
    responses((status = 200, body = EnrollmentView), (status = 404)))]
pub async fn get_enrollment(
    ctx: InWorkspace<need::ReadContacts>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<EnrollmentView>, ApiError> {
    let enrollment = ctx.scoped.get::<EnrollmentRecord>(&id).await?.ok_or_else(ApiError::not_found)?;
    Ok(Json(enrollment_view(enrollment)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum EnrollmentAction {
    /// Pause until `until` (unix seconds).
    Pause {
        until: i64,
    },
    Resume,
    Stop,
}

/// Pauses, resumes or stops an enrollment by hand.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/enrollments/{enrollment_id}/actions", params(("ws" = String, Path), ("enrollment_id" = String, Path)),
    request_body = EnrollmentAction, responses((status = 200, body = EnrollmentView), (status = 404), (status = 409), (status = 422)))]
pub async fn act_on_enrollment(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageSequences>,
    Path((_, id)): Path<(String, String)>,
    Json(action): Json<EnrollmentAction>,
) -> Result<Json<EnrollmentView>, ApiError> {
    let now = state.platform.clock().now().unix_timestamp();
    let event = match action {
        EnrollmentAction::Pause { until } if until > now && until < now + 366 * 86_400 => Event::Pause { until },
        EnrollmentAction::Pause { .. } => return Err(ApiError::unprocessable("invalid_until", "`until` must be in the next year.")),
        EnrollmentAction::Resume => Event::Resume,
        EnrollmentAction::Stop => Event::Stop(StopReason::Manual),
    };
    let existing = ctx.scoped.get::<EnrollmentRecord>(&id).await?.ok_or_else(ApiError::not_found)?;
    let sequence = ctx.scoped.get::<Sequence>(&existing.sequence_id).await?;
    let contact = ctx.scoped.get::<Contact>(&existing.contact_id).await?;
    let updated = update_enrollment::<ApiErrorOrStore>(&ctx.scoped, &id, now, |e| {
        e.machine = e
            .machine
            .apply(event)
            .map_err(|err| ApiErrorOrStore::Api(ApiError::new(StatusCode::CONFLICT, "invalid_transition", err.to_string())))?;
        let due = match (&sequence, &contact) {
            (Some(sequence), Some(contact)) => {
                let cal = calendar(&ctx.settings, sequence, contact.timezone.as_deref())
                    .map_err(|err| ApiErrorOrStore::Api(ApiError::unprocessable("invalid_calendar", err.to_string())))?;
                next_due(&cal, sequence, e)
                    .map_err(|err| ApiErrorOrStore::Api(ApiError::unprocessable("invalid_calendar", err.to_string())))?
            }
            _ => None,
        };
        e.schedule(due);
        e.note = Some(format!(
            "{} by a person",
            match event {
                Event::Pause { .. } => "paused",
                Event::Resume => "resumed",
                _ => "stopped",
            }
        ));
        Ok(true)
    })
    .await
    .map_err(ApiErrorOrStore::into_api)?
    .ok_or_else(ApiError::not_found)?;
    let action = match event {
        Event::Pause { .. } => "enrollment.paused",
        Event::Resume => "enrollment.resumed",
        _ => "enrollment.stopped",
    };
    audit(&state, ctx.tenant, &ctx.actor.audit_name(), action, Some(&id), serde_json::json!({}), &client).await?;
    Ok(Json(enrollment_view(updated)))
}

/// An error from inside an enrollment update: ours (a refused transition) or the table's.
enum ApiErrorOrStore {
    Api(ApiError),
    Store(StoreError),
}

impl From<StoreError> for ApiErrorOrStore {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl ApiErrorOrStore {
    fn into_api(self) -> ApiError {
        match self {
            Self::Api(e) => e,
            Self::Store(e) => ApiError::unavailable(e),
        }
    }
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default()
        .add(__path_enroll, enroll)
        .add(__path_list_enrollments, list_enrollments)
        .add(__path_get_enrollment, get_enrollment)
        .add(__path_act_on_enrollment, act_on_enrollment)
}
