//! A workspace's settings (outreach defaults, security switches, retention) and
//! the client workspaces of an agency.

use super::{audit, text};
use super::{locale, timezone};
use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use crate::limits;
use crate::records::{Member, Plan, User, Workspace};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::Tenant;
use tern_aws::privacy::{PrivacyTask, PrivacyTaskKind};
use tern_domain::ids::{RequestId, WorkspaceId};
use tern_domain::jobs::PrivacyJob;
use tern_domain::retention::{RetentionCategory, RetentionError, RetentionSettings};
use tern_http::{ApiError, Json};
use tern_security::roles::Role;

/// What a new workspace starts with.
pub struct NewWorkspace {
    pub name: String,
    pub plan: Plan,
    pub timezone: String,
    pub locale: String,
    pub parent_id: Option<WorkspaceId>,
}

/// Creates a workspace, its own KMS key, and `owner` as its owner, and audits it.
pub(crate) async fn create_workspace(
    state: &ApiState,
    tenant: Tenant,
    settings: NewWorkspace,
    owner: &User,
    client: &Client,
) -> Result<Workspace, ApiError> {
    let workspace = tenant.workspace();
    let kms_key_id = state.platform.create_workspace_key(workspace).await?;
    let now = state.platform.clock().now().unix_timestamp();
    let record = Workspace {
        id: workspace.to_string(),
        name: settings.name,
        plan: settings.plan,
        timezone: settings.timezone,
        locale: settings.locale,
        parent_id: settings.parent_id.map(|p| p.to_string()),
        kms_key_id,
        require_2fa: false,
        created_at: now,
        ip_allowlist: Vec::new(),
        parent_may_read_audit: false,
        holidays: Default::default(),
        postal_address: None,
        company_description: None,
        custom_fields: Default::default(),
        sending_domain: None,
        inbound_retention_days: None,
        retention: Default::default(),
        deletion_scheduled_for: None,
    };
    let scoped = state.platform.table().scope(tenant);
    scoped.create(&record, None).await?;
    let member =
        Member { user_id: owner.id.clone(), email: owner.email.clone(), name: owner.name.clone(), role: Role::Owner, joined_at: now };
    scoped.create(&member, None).await?;
    let parameters = serde_json::json!({ "plan": record.plan, "parent": record.parent_id });
    audit(state, tenant, &owner.id, "workspace.created", Some(&record.id), parameters, client).await?;
    Ok(record)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WorkspaceView {
    id: String,
    name: String,
    plan: Plan,
    timezone: String,
    locale: String,
    parent_id: Option<String>,
    require_2fa: bool,
    created_at: i64,
    #[schema(value_type = Vec<String>)]
    holidays: std::collections::BTreeSet<jiff::civil::Date>,
    postal_address: Option<String>,
    company_description: Option<String>,
    custom_fields: std::collections::BTreeSet<String>,
    sending_domain: Option<String>,
    /// Days inbound-mail metadata is kept (default 60); the same as `retention.inbound_metadata_days`.
    inbound_retention_days: u16,
    retention: RetentionView,
    /// On the PATCH that shortened a window: the privacy task applying it to
    /// existing items (`GET .../privacy/tasks/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    retention_task_id: Option<String>,
    /// Unix time the workspace's scheduled deletion is due (`POST .../deletion`); `null` when none.
    deletion_scheduled_for: Option<i64>,
    /// The caller's role here.
    #[schema(value_type = String)]
    your_role: Role,
}

/// The retention windows in force, in days (`null`: kept until deleted). New
/// items get their TTL from these when written; a shortened window is also
/// applied to existing items by a privacy task, a lengthened one only to new items.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RetentionView {
    /// Text of received mail (reply snippets, the language model's reading); never longer than `inbound_metadata_days`.
    email_bodies_days: Option<u16>,
    /// Notes on contacts; `null` (the default) keeps them until deleted.
    contact_notes_days: Option<u16>,
    /// Envelope, headers and verdict of received mail (default 60).
    inbound_metadata_days: Option<u16>,
    /// The delivery log (one record per sent step) and finished privacy tasks; `null` (the default) keeps them while the workspace exists.
    logs_days: Option<u16>,
    /// The audit trail: at least 400 days (the default).
    audit_days: Option<u16>,
}

fn retention_view(settings: &RetentionSettings) -> RetentionView {
    let days = |category| settings.effective_days(category);
    RetentionView {
        email_bodies_days: days(RetentionCategory::EmailBodies),
        contact_notes_days: days(RetentionCategory::ContactNotes),
        inbound_metadata_days: days(RetentionCategory::InboundMetadata),
        logs_days: days(RetentionCategory::Logs),
        audit_days: days(RetentionCategory::Audit),
    }
}

fn view(w: Workspace, role: Role) -> WorkspaceView {
    let inbound_retention_days = w.inbound_retention().whole_days() as u16;
    let retention = retention_view(&w.retention());
    WorkspaceView {
        id: w.id,
        name: w.name,
        plan: w.plan,
        timezone: w.timezone,
        locale: w.locale,
        parent_id: w.parent_id,
        require_2fa: w.require_2fa,
        created_at: w.created_at,
        holidays: w.holidays,
        postal_address: w.postal_address,
        company_description: w.company_description,
        custom_fields: w.custom_fields,
        inbound_retention_days,
        retention,
        retention_task_id: None,
        sending_domain: w.sending_domain,
        deletion_scheduled_for: w.deletion_scheduled_for,
        your_role: role,
    }
}

async fn load(ctx: &InWorkspace<impl crate::auth::Needs>) -> Result<Workspace, ApiError> {
    ctx.scoped.get::<Workspace>(&ctx.workspace().to_string()).await?.ok_or_else(ApiError::not_found)
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}", params(("ws" = String, Path)), responses((status = 200, body = WorkspaceView), (status = 404)))]
pub async fn get_workspace(ctx: InWorkspace<need::ReadWorkspace>) -> Result<Json<WorkspaceView>, ApiError> {
    let workspace = load(&ctx).await?;
    Ok(Json(view(workspace, ctx.role)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceChanges {
    name: Option<String>,
    timezone: Option<String>,
    locale: Option<String>,
    require_2fa: Option<bool>,
    /// Enterprise plan: CIDR entries; requests from elsewhere are refused.
    ip_allowlist: Option<Vec<String>>,
    /// For a sub-workspace: let the agency's owners read this audit trail.
    parent_may_read_audit: Option<bool>,
    /// Dates (`YYYY-MM-DD`) no sequence step falls on; replaces the list.
    holidays: Option<Vec<String>>,
    /// The postal address printed in every message's footer.
    postal_address: Option<String>,
    /// What `{{my_company_description}}` says in templates.
    company_description: Option<String>,
    /// Custom contact fields templates may use; replaces the list.
    custom_fields: Option<Vec<String>>,
    /// Growth plans and above: send from this domain instead of the platform's. The workspace must have proven it
    /// controls it (`POST …/sending-domains`, then `…/verify`: else `domain_not_claimed`) and SES must have verified it.
    sending_domain: Option<String>,
    /// Days inbound-mail metadata is kept, 1 to 730; the same as `retention.inbound_metadata_days` (kept for older clients).
    inbound_retention_days: Option<u16>,
    /// Retention windows; see [`RetentionChanges`].
    retention: Option<RetentionChanges>,
}

/// Retention windows in days. A field left out stays as it is; `null` returns it
/// to its default. New items follow the new windows; when a window gets shorter,
/// existing items are made to follow it too (a privacy task: they expire earlier,
/// or go at once when already older than the window). A longer window applies to
/// items written from then on.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionChanges {
    /// 1 to 730; default: the metadata's window (bodies never outlive it).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u16>, nullable)]
    email_bodies_days: Option<Option<u16>>,
    /// 1 to 3650; default: kept until deleted.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u16>, nullable)]
    contact_notes_days: Option<Option<u16>>,
    /// 1 to 730; default 60.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u16>, nullable)]
    inbound_metadata_days: Option<Option<u16>>,
    /// 30 to 3650; default: kept while the workspace exists.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u16>, nullable)]
    logs_days: Option<Option<u16>>,
    /// 400 to 3650 (below 400 is refused: `retention_below_minimum`); default 400.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u16>, nullable)]
    audit_days: Option<Option<u16>>,
}

/// A field that is present, even as `null` (which `Option` alone cannot tell from absent).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Option<u16>>, D::Error> {
    Option::<u16>::deserialize(deserializer).map(Some)
}

impl RetentionChanges {
    fn each(&self) -> [(RetentionCategory, Option<Option<u16>>); 5] {
        [
            (RetentionCategory::EmailBodies, self.email_bodies_days),
            (RetentionCategory::ContactNotes, self.contact_notes_days),
            (RetentionCategory::InboundMetadata, self.inbound_metadata_days),
            (RetentionCategory::Logs, self.logs_days),
            (RetentionCategory::Audit, self.audit_days),
        ]
    }
}

/// The workspace's windows after `changes`, checked.
fn changed_retention(workspace: &Workspace, changes: &WorkspaceChanges) -> Result<RetentionSettings, ApiError> {
    let mut settings = workspace.retention();
    if let Some(days) = changes.inbound_retention_days {
        if !RetentionCategory::InboundMetadata.allowed_days().contains(&days) {
            return Err(ApiError::unprocessable("invalid_retention", "`inbound_retention_days` must be from 1 to 730."));
        }
        settings.set(RetentionCategory::InboundMetadata, Some(days));
    }
    for (category, change) in changes.retention.iter().flat_map(RetentionChanges::each) {
        if let Some(days) = change {
            settings.set(category, days);
        }
    }
    settings.validate().map_err(|e| match e {
        RetentionError::BelowMinimum { .. } => ApiError::unprocessable("retention_below_minimum", e.to_string()),
        RetentionError::OutOfRange { .. } => ApiError::unprocessable("invalid_retention", e.to_string()),
    })?;
    Ok(settings)
}

/// Audits a change of windows and, when one got shorter, records and queues the
/// privacy task that applies it to existing items. Returns the task's id.
async fn retention_changed(
    state: &ApiState,
    ctx: &InWorkspace<need::ManageWorkspace>,
    client: &Client,
    request_id: Option<RequestId>,
    old: &RetentionSettings,
    new: &RetentionSettings,
) -> Result<Option<String>, ApiError> {
    let shortened = old.shortened_in(new);
    let task = if shortened.is_empty() {
        None
    } else {
        let kind = PrivacyTaskKind::Retention { shortened: shortened.clone() };
        let task = PrivacyTask::queued(kind, ctx.actor.user_id(), state.platform.clock().now().unix_timestamp());
        ctx.scoped.create(&task, None).await?;
        Some(task)
    };
    let parameters = serde_json::json!({
        "old": retention_view(old), "new": retention_view(new), "shortened": shortened, "task": task.as_ref().map(|t| t.id.clone()),
    });
    audit(
        state,
        ctx.tenant,
        &ctx.actor.audit_name(),
        "workspace.retention_changed",
        Some(&ctx.workspace().to_string()),
        parameters,
        client,
    )
    .await?;
    let Some(task) = task else { return Ok(None) };
    let job =
        PrivacyJob { workspace_id: ctx.workspace(), request_id: request_id.unwrap_or_else(RequestId::generate), task_id: task.id.clone() };
    state.platform.queues().send(&job).await?;
    Ok(Some(task.id))
}

#[utoipa::path(patch, path = "/v1/workspaces/{ws}", params(("ws" = String, Path)), request_body = WorkspaceChanges,
    responses((status = 200, body = WorkspaceView), (status = 403), (status = 404), (status = 422, description = "invalid settings, e.g. `retention_below_minimum`")))]
pub async fn update_workspace(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageWorkspace>,
    request_id: Option<axum::Extension<RequestId>>,
    Json(changes): Json<WorkspaceChanges>,
) -> Result<Json<WorkspaceView>, ApiError> {
    let mut workspace = load(&ctx).await?;
    let old_retention = workspace.retention();
    let new_retention = changed_retention(&workspace, &changes)?;
    if let Some(name) = &changes.name {
        workspace.name = text("name", name, 100)?;
    }
    if changes.timezone.is_some() {
        workspace.timezone = timezone(changes.timezone.as_deref())?;
    }
    if changes.locale.is_some() {
        workspace.locale = locale(changes.locale.as_deref())?;
    }
    if let Some(required) = changes.require_2fa {
        workspace.require_2fa = required;
    }
    if let Some(entries) = &changes.ip_allowlist {
        if workspace.plan != Plan::Enterprise {
            return Err(ApiError::unprocessable("plan_required", "IP allow-listing is part of the enterprise plan."));
        }
        let allowlist = tern_security::allowlist::IpAllowlist::parse(entries.iter().map(String::as_str))
            .map_err(|e| ApiError::unprocessable("invalid_cidr", e.to_string()))?;
        let here = client.ip.as_deref().and_then(|ip| ip.parse().ok());
        if !allowlist.is_empty() && !here.is_some_and(|ip| allowlist.contains(ip)) {
            return Err(ApiError::unprocessable("would_lock_you_out", "The list must include the address you are connecting from."));
        }
        workspace.ip_allowlist = entries.iter().map(|e| e.trim().to_string()).filter(|e| !e.is_empty()).collect();
    }
    if let Some(grant) = changes.parent_may_read_audit {
        if workspace.parent_id.is_none() {
            return Err(ApiError::unprocessable("not_a_sub_workspace", "Only a sub-workspace of an agency can grant its agency access."));
        }
        workspace.parent_may_read_audit = grant;
    }
    apply_outreach_settings(&state, &mut workspace, &changes).await?;
    // The older single field moves into `retention` (same value in force).
    workspace.retention = new_retention;
    workspace.inbound_retention_days = None;
    ctx.scoped.put(&workspace, None).await?;
    state.remember_settings(ctx.workspace(), Arc::new(workspace.clone()));
    let parameters = serde_json::json!({
        "holidays": changes.holidays, "postal_address": changes.postal_address.is_some(), "company_description": changes.company_description.is_some(),
        "custom_fields": changes.custom_fields, "sending_domain": changes.sending_domain,
        "name": changes.name, "timezone": changes.timezone, "locale": changes.locale, "require_2fa": changes.require_2fa,
        "ip_allowlist": changes.ip_allowlist, "parent_may_read_audit": changes.parent_may_read_audit,
        "inbound_retention_days": changes.inbound_retention_days,
    });
    audit(&state, ctx.tenant, &ctx.actor.audit_name(), "workspace.updated", Some(&workspace.id), parameters, &client).await?;
    let retention_task_id = if new_retention != old_retention {
        retention_changed(&state, &ctx, &client, request_id.map(|r| r.0), &old_retention, &new_retention).await?
    } else {
        None
    };
    let mut view = view(workspace, ctx.role);
    view.retention_task_id = retention_task_id;
    Ok(Json(view))
}

/// The settings outreach reads: holidays, footer address, description, custom fields, sending domain.
async fn apply_outreach_settings(state: &ApiState, workspace: &mut Workspace, changes: &WorkspaceChanges) -> Result<(), ApiError> {
    if let Some(days) = &changes.holidays {
        if days.len() > 366 {
            return Err(ApiError::unprocessable("invalid_holidays", "At most 366 holidays."));
        }
        workspace.holidays = days
            .iter()
            .map(|d| d.trim().parse::<jiff::civil::Date>())
            .collect::<Result<_, _>>()
            .map_err(|_| ApiError::unprocessable("invalid_holidays", "Holidays are dates written YYYY-MM-DD."))?;
    }
    if let Some(address) = &changes.postal_address {
        workspace.postal_address = if address.trim().is_empty() { None } else { Some(multiline_text("postal_address", address, 300)?) };
    }
    if let Some(description) = &changes.company_description {
        workspace.company_description =
            if description.trim().is_empty() { None } else { Some(multiline_text("company_description", description, 1000)?) };
    }
    if let Some(fields) = &changes.custom_fields {
        if fields.len() > 64 || !fields.iter().all(|f| crate::routes::contacts::is_custom_field_name(f)) {
            return Err(ApiError::unprocessable(
                "invalid_custom_fields",
                "Up to 64 custom fields, each 1 to 40 lower-case letters, digits or underscores.",
            ));
        }
        workspace.custom_fields = fields.iter().cloned().collect();
    }
    if let Some(domain) = &changes.sending_domain {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if domain.is_empty() {
            workspace.sending_domain = None;
        } else {
            if !workspace.plan.may_use_custom_domain() {
                return Err(ApiError::unprocessable("plan_required", "Sending from your own domain is part of the growth plan and above."));
            }
            // Proven by this workspace first (SES verifying a domain says only that the
            // platform may send from it, not which tenant may), then ready in SES.
            let domain = crate::routes::sending_domains::normalise_domain(&domain)?;
            crate::routes::sending_domains::require_claim(state, &workspace.id, &domain).await?;
            crate::routes::mailboxes::require_verified_domain(state, &domain).await?;
            workspace.sending_domain = Some(domain);
        }
    }
    Ok(())
}

/// Free text that may span lines (addresses, descriptions), without other control characters.
pub(crate) fn multiline_text(field: &'static str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.chars().count() > max || value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::unprocessable("invalid_fields", format!("`{field}` must be at most {max} characters of text.")));
    }
    Ok(value.to_string())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubWorkspace {
    name: String,
    timezone: Option<String>,
    locale: Option<String>,
}

/// The caps' counters: client workspaces per agency and per creating account.
const AGENCY_CAP: &str = "sub-workspaces";
const ACCOUNT_CAP: &str = "account-sub-workspaces";

/// An agency creates a client workspace: its own tenancy boundary and KMS key. The
/// agency sees into it only as its members, or through the grants it gives.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sub-workspaces", params(("ws" = String, Path)), request_body = NewSubWorkspace,
    responses((status = 201, body = WorkspaceView), (status = 403), (status = 404),
        (status = 422, description = "not an agency (`plan_required`), a client workspace (`nested_sub_workspace`), or a cap reached (`sub_workspace_limit`, `account_workspace_limit`)")))]
pub async fn create_sub_workspace(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageWorkspace>,
    Json(input): Json<NewSubWorkspace>,
) -> Result<Response, ApiError> {
    if ctx.settings.plan != Plan::Agency {
        return Err(ApiError::unprocessable("plan_required", "Sub-workspaces are part of the agency plan."));
    }
    // A client workspace has the agency plan too; without this, each level of
    // nesting would multiply the cap below.
    if ctx.settings.parent_id.is_some() {
        return Err(ApiError::unprocessable("nested_sub_workspace", "A client workspace cannot have client workspaces of its own."));
    }
    let crate::auth::Actor::User { user_id, .. } = &ctx.actor else {
        return Err(ApiError::forbidden("API keys cannot create workspaces."));
    };
    let owner = state.platform.global().get::<User>(user_id).await?.ok_or_else(ApiError::not_found)?;
    let settings = NewWorkspace {
        name: text("name", &input.name, 100)?,
        plan: Plan::Agency,
        timezone: timezone(input.timezone.as_deref().or(Some(&ctx.settings.timezone)))?,
        locale: locale(input.locale.as_deref().or(Some(&ctx.settings.locale)))?,
        parent_id: Some(ctx.workspace()),
    };
    // Each one is a KMS key: capped per agency (by plan) and per account (across the
    // agencies it owns), both reserved before the key is made and given back if it is not.
    let agency = ctx.workspace().to_string();
    let max = ctx.settings.plan.max_sub_workspaces();
    if !limits::reserve(&state, AGENCY_CAP, &agency, max, Some(&agency)).await? {
        return Err(ApiError::unprocessable(
            "sub_workspace_limit",
            format!("This plan includes {max} client workspaces, and all are in use."),
        ));
    }
    if !limits::reserve(&state, ACCOUNT_CAP, user_id, limits::SUB_WORKSPACES_PER_ACCOUNT, None).await? {
        limits::release(&state, AGENCY_CAP, &agency).await;
        return Err(ApiError::unprocessable(
            "account_workspace_limit",
            format!("An account can create at most {} client workspaces.", limits::SUB_WORKSPACES_PER_ACCOUNT),
        ));
    }
    let sub = Tenant::create();
    let created = match create_workspace(&state, sub, settings, &owner, &client).await {
        Ok(created) => created,
        Err(error) => {
            limits::release(&state, AGENCY_CAP, &agency).await;
            limits::release(&state, ACCOUNT_CAP, user_id).await;
            return Err(error);
        }
    };
    // Versioned: a concurrent change of the owner's record (a code used, 2FA turned off) is kept.
    crate::users::update(&state, &owner.id, |owner: &mut User| {
        owner.workspaces.push(sub.to_string());
        Ok::<_, ApiError>(())
    })
    .await?;
    audit(&state, ctx.tenant, &ctx.actor.audit_name(), "workspace.sub_created", Some(&created.id), serde_json::json!({}), &client).await?;
    Ok((StatusCode::CREATED, Json(view(created, Role::Owner))).into_response())
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default()
        .add(__path_get_workspace, get_workspace)
        .add(__path_update_workspace, update_workspace)
        .add(__path_create_sub_workspace, create_sub_workspace)
}
