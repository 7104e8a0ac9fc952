//! Sequences (steps on a business-day cadence, send window, timezone), enrolling
//! contacts, an enrollment's life (pause, resume, stop), the sends a person must
//! resolve, and the public one-click unsubscribe.

use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use crate::routes::audit;
use crate::routes::contacts::{ContactFilter, filter_of, find};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::outreach::schedule::{calendar, next_due};
use tern_aws::outreach::store::update_enrollment;
use tern_aws::outreach::{
    Contact, EnrollmentRecord, Mailbox, SendRecord, SendState, Sequence, SequenceStep, Suppression, SuppressionReason, TemplateRecord,
    UnsubscribeLink,
};
use tern_aws::table::{ScopedTable, StoreError};
use tern_domain::cadence::{DEFAULT_CADENCE, SendWindow, WeekdayName};
use tern_domain::enrollment::{Enrollment, Event, State as EnrollmentState, StopReason};
use tern_http::{ApiError, Json, Path, Query};

/// Items one filtered listing reads at most before it answers with a cursor.
const MAX_SCANNED_PER_PAGE: usize = 1_000;

/// Most steps a sequence may have, and the latest a follow-up may come.
pub const MAX_STEPS: usize = 10;
pub const MAX_BUSINESS_DAYS: u32 = 120;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepInput {
    template_id: String,
    /// Business days after the first e-mail; by default 0, then +2, +5, +14.
    business_days: Option<u32>,
    /// Start a new thread instead of replying under the first e-mail.
    #[serde(default)]
    new_thread: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowInput {
    /// Weekday names, e.g. `["monday", …, "friday"]`.
    #[schema(value_type = Vec<String>)]
    days: Vec<WeekdayName>,
    /// `HH:MM`, local time.
    opens: String,
    closes: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SequenceInput {
    name: String,
    mailbox_id: String,
    steps: Vec<StepInput>,
    /// Mon–Fri 08:00–18:00 by default.
    window: Option<WindowInput>,
    /// IANA zone of the window; the workspace's by default.
    timezone: Option<String>,
    #[serde(default)]
    use_contact_timezone: bool,
    #[serde(default)]
    stop_company_on_reply: bool,
}

fn parse_time(value: &str) -> Result<jiff::civil::Time, ApiError> {
    let invalid = || ApiError::unprocessable("invalid_window", "Window times are written HH:MM, e.g. 08:00.");
    let (h, m) = value.trim().split_once(':').ok_or_else(invalid)?;
    let (h, m): (i8, i8) = (h.parse().map_err(|_| invalid())?, m.parse().map_err(|_| invalid())?);
    jiff::civil::Time::new(h, m, 0, 0).map_err(|_| invalid())
}

async fn check_sequence(
    ctx: &InWorkspace<need::ManageSequences>,
    input: &SequenceInput,
) -> Result<(String, Vec<SequenceStep>, SendWindow, Option<String>), ApiError> {
    let name = super::text("name", &input.name, 100)?;
    if ctx.scoped.get::<Mailbox>(&input.mailbox_id).await?.is_none() {
        return Err(ApiError::unprocessable("unknown_mailbox", "There is no such mailbox in this workspace."));
    }
    if input.steps.is_empty() || input.steps.len() > MAX_STEPS {
        return Err(ApiError::unprocessable("invalid_steps", format!("A sequence has 1 to {MAX_STEPS} steps.")));
    }
    let mut steps = Vec::with_capacity(input.steps.len());
    for (i, step) in input.steps.iter().enumerate() {
        // Past the default cadence, a week apart.
        let default = if i == 0 { 0 } else { DEFAULT_CADENCE.get(i - 1).copied().unwrap_or_else(|| 14 + 7 * (i as u32).saturating_sub(3)) };
        let business_days = step.business_days.unwrap_or(default);
        let previous = steps.last().map(|s: &SequenceStep| s.business_days);
        if (i == 0 && business_days != 0) || previous.is_some_and(|p| business_days <= p) || business_days > MAX_BUSINESS_DAYS {
            return Err(ApiError::unprocessable(
                "invalid_steps",
                format!(
                    "The first step is sent at day 0 and each follow-up later than the one before, at most {MAX_BUSINESS_DAYS} business days in."
                ),
            ));
        }
        if ctx.scoped.get::<TemplateRecord>(&step.template_id).await?.is_none() {
            return Err(ApiError::unprocessable("unknown_template", format!("Step {} names a template that does not exist.", i + 1)));
        }
        steps.push(SequenceStep { template_id: step.template_id.clone(), business_days, new_thread: step.new_thread });
    }
    let window = match &input.window {
        None => SendWindow::office_hours(),
        Some(w) => SendWindow { days: w.days.iter().copied().collect(), opens: parse_time(&w.opens)?, closes: parse_time(&w.closes)? },
    };
    if window.days.is_empty() || window.opens >= window.closes {
        return Err(ApiError::unprocessable("invalid_window", "The window needs at least one day and must open before it closes."));
    }
    let timezone = match input.timezone.as_deref().map(str::trim).filter(|z| !z.is_empty()) {
        None => None,
        Some(z) if z.len() <= 64 && jiff::tz::TimeZone::get(z).is_ok() => Some(z.to_string()),
        Some(_) => return Err(ApiError::unprocessable("invalid_timezone", "`timezone` must be an IANA zone such as Europe/Berlin.")),
    };
    Ok((name, steps, window, timezone))
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/sequences", params(("ws" = String, Path)), request_body = SequenceInput,
    responses((status = 201, body = Object), (status = 422)))]
pub async fn create(
    State(state): State<Arc<ApiState>>,
    ctx: InWorkspace<need::ManageSequences>,
    Json(input): Json<SequenceInput>,
) -> Result<(StatusCode, Json<Sequence>), ApiError> {
    let (name, steps, window, timezone) = check_sequence(&ctx, &input).await?;
    let now = state.platform.clock().now().unix_timestamp();
    let sequence = Sequence {
        id: uuid::Uuid::now_v7().to_string(),
        name,
        mailbox_id: input.mailbox_id,
        steps,
        window,
        timezone,
        use_contact_timezone: input.use_contact_timezone,
        stop_company_on_reply: input.stop_company_on_reply,
        created_at: now,
        updated_at: now,
    };
    ctx.scoped.create(&sequence, None).await?;
    Ok((StatusCode::CREATED, Json(sequence)))
}

/// Changes a sequence. Enrollments already running keep the steps they have sent
/// and follow the new steps and cadence from their next step on.
#[utoipa::path(put, path = "/v1/workspaces/{ws}/sequences/{sequence_id}", params(("ws" = String, Path), ("sequence_id" = String, Path)),
    request_body = SequenceInput, responses((status = 200, body = Object), (status = 404), (status = 422)))]
pub async fn replace(
    State(state): State<Arc<ApiState>>,
    ctx: InWorkspace<need::ManageSequences>,
    Path((_, id)): Path<(String, String)>,
    Json(input): Json<SequenceInput>,
) -> Result<Json<Sequence>, ApiError> {
    let existing = ctx.scoped.get::<Sequence>(&id).await?.ok_or_else(ApiError::not_found)?;
    let (name, steps, window, timezone) = check_sequence(&ctx, &input).await?;
    let sequence = Sequence {
        name,
        mailbox_id: input.mailbox_id,
        steps,
        window,
        timezone,
        use_contact_timezone: input.use_contact_timezone,
        stop_company_on_reply: input.stop_company_on_reply,
        updated_at: state.platform.clock().now().unix_timestamp(),
        ..existing
    };
    ctx.scoped.put(&sequence, None).await?;
    Ok(Json(sequence))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/sequences/{sequence_id}", params(("ws" = String, Path), ("sequence_id" = String, Path)),
    responses((status = 200, body = Object), (status = 404)))]
pub async fn get(ctx: InWorkspace<need::ReadWorkspace>, Path((_, id)): Path<(String, String)>) -> Result<Json<Sequence>, ApiError> {
    Ok(Json(ctx.scoped.get::<Sequence>(&id).await?.ok_or_else(ApiError::not_found)?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SequenceList {
    #[schema(value_type = Vec<Object>)]
    sequences: Vec<Sequence>,
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/sequences", params(("ws" = String, Path)), responses((status = 200, body = SequenceList)))]
pub async fn list(ctx: InWorkspace<need::ReadWorkspace>) -> Result<Json<SequenceList>, ApiError> {
    Ok(Json(SequenceList { sequences: ctx.scoped.list_all::<Sequence>().await? }))
}

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
    audit(&state, ctx.workspace, &ctx.actor.audit_name(), "sequence.enrolled", Some(&sequence.id), parameters, &client).await?;
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
    audit(&state, ctx.workspace, &ctx.actor.audit_name(), action, Some(&id), serde_json::json!({}), &client).await?;
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
        ctx.workspace,
        &ctx.actor.audit_name(),
        "send.resolved",
        Some(&record.id),
        serde_json::json!({ "outcome": resolution.outcome }),
        &client,
    )
    .await?;
    Ok(Json(record))
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem\"><h1>{title}</h1>{body}</body></html>"
    ))
}

fn unsubscribe_headers() -> [(header::HeaderName, &'static str); 2] {
    [(header::CACHE_CONTROL, "no-store"), (header::REFERRER_POLICY, "no-referrer")]
}

async fn link_of(state: &ApiState, token: &str) -> Result<Option<UnsubscribeLink>, ApiError> {
    let Ok(token) = tern_security::token::OpaqueToken::parse(token) else { return Ok(None) };
    state.platform.global().get::<UnsubscribeLink>(&token.hash().to_hex()).await.map_err(ApiError::from)
}

/// The link in the message footer: a confirmation page whose button posts. Opening
/// it changes nothing (mail scanners follow links).
#[utoipa::path(get, path = "/v1/unsubscribe/{token}", params(("token" = String, Path)), responses((status = 200, content_type = "text/html"), (status = 404)))]
pub async fn unsubscribe_page(State(state): State<Arc<ApiState>>, Path(token): Path<String>) -> Result<Response, ApiError> {
    if link_of(&state, &token).await?.is_none() {
        return Ok((
            StatusCode::NOT_FOUND,
            unsubscribe_headers(),
            page("Link not recognised", "<p>This unsubscribe link is not valid.</p>"),
        )
            .into_response());
    }
    let body = "<p>Stop receiving these e-mails?</p><form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
                <button type=\"submit\">Unsubscribe</button></form>";
    Ok((unsubscribe_headers(), page("Unsubscribe", body)).into_response())
}

/// RFC 8058 one-click unsubscribe: a POST (from the mail client or the page's button)
/// suppresses the address and stops its sequences at once, without signing in.
#[utoipa::path(post, path = "/v1/unsubscribe/{token}", params(("token" = String, Path)), responses((status = 200, content_type = "text/html"), (status = 404)))]
pub async fn unsubscribe(State(state): State<Arc<ApiState>>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let Some(link) = link_of(&state, &token).await? else {
        return Ok((
            StatusCode::NOT_FOUND,
            unsubscribe_headers(),
            page("Link not recognised", "<p>This unsubscribe link is not valid.</p>"),
        )
            .into_response());
    };
    let workspace = tern_domain::ids::WorkspaceId::parse(&link.workspace_id).map_err(ApiError::internal)?;
    let scoped = state.platform.table().scope(workspace);
    let now = state.platform.clock().now().unix_timestamp();
    suppress_and_stop(&state, &scoped, &link.email_index, SuppressionReason::Unsubscribed, now).await?;
    let client = crate::auth::Client { ip: None, user_agent: None, request_id: None };
    audit(
        &state,
        workspace,
        "recipient",
        "recipient.unsubscribed",
        Some(&link.email_index),
        serde_json::json!({ "enrollment": link.enrollment_id }),
        &client,
    )
    .await?;
    Ok((unsubscribe_headers(), page("You are unsubscribed", "<p>You will not receive further e-mails from this sender.</p>"))
        .into_response())
}

/// Suppresses an address and stops its enrollments (shared by the routes above).
pub(crate) async fn suppress_and_stop(
    _state: &ApiState,
    scoped: &ScopedTable,
    email_index: &str,
    reason: SuppressionReason,
    now: i64,
) -> Result<u32, ApiError> {
    tern_aws::outreach::store::suppress_and_stop(scoped, email_index, reason, now).await.map_err(ApiError::from)
}
