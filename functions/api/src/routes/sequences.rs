//! Sequences: steps on a business-day cadence, the send window and its timezone.

use crate::ApiState;
use crate::auth::{InWorkspace, need};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::outreach::{Mailbox, Sequence, SequenceStep, TemplateRecord};
use tern_domain::cadence::{DEFAULT_CADENCE, SendWindow, WeekdayName};
use tern_http::{ApiError, Json, Path};

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

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default().add(__path_create, create).add(__path_list, list).add(__path_get, get).add(__path_replace, replace)
}
