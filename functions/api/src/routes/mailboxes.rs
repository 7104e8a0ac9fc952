//! Sending mailboxes: SES (the platform's domain, or the workspace's own one, proven
//! through `sending_domains` and verified in SES)
//! or the customer's own SMTP server. SMTP passwords are sealed with the workspace
//! key the moment they arrive and are never returned; the host must pass the SSRF
//! guard's mail policy (public address, standard mail port).

use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use crate::routes::audit;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::outreach::{Mailbox, MailboxProvider, SMTP_PASSWORD_PURPOSE, SmtpSecurity, smtp_password_identity};
use tern_domain::deliverability::SendingLimits;
use tern_http::{ApiError, Json, Path};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProviderInput {
    Ses,
    Smtp {
        host: String,
        port: u16,
        #[schema(value_type = String)]
        security: SmtpSecurity,
        username: String,
        password: String,
    },
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailboxInput {
    name: String,
    from_name: Option<String>,
    from_email: String,
    reply_to: Option<String>,
    /// Daily caps and the monthly quota are counted in this zone; the workspace's by default.
    timezone: Option<String>,
    provider: ProviderInput,
    #[serde(flatten)]
    limits: LimitsInput,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct LimitsInput {
    daily_cap: Option<u32>,
    warmup_start: Option<u32>,
    warmup_daily_increase: Option<u32>,
    per_domain_hourly: Option<u32>,
    min_spacing_seconds: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MailboxView {
    id: String,
    name: String,
    from_name: Option<String>,
    from_email: String,
    reply_to: Option<String>,
    /// `ses` or `smtp`.
    kind: &'static str,
    /// SMTP only; the password is never shown.
    host: Option<String>,
    port: Option<u16>,
    username: Option<String>,
    timezone: String,
    daily_cap: u32,
    warmup_start: u32,
    warmup_daily_increase: u32,
    per_domain_hourly: u32,
    min_spacing_seconds: u32,
    sent: u32,
    hard_bounces: u32,
    soft_bounces: u32,
    complaints: u32,
    created_at: i64,
}

fn view(m: Mailbox) -> MailboxView {
    let (kind, host, port, username) = match &m.provider {
        MailboxProvider::Ses => ("ses", None, None, None),
        MailboxProvider::Smtp { host, port, username, .. } => ("smtp", Some(host.clone()), Some(*port), Some(username.clone())),
    };
    MailboxView {
        id: m.id,
        name: m.name,
        from_name: m.from_name,
        from_email: m.from_email,
        reply_to: m.reply_to,
        kind,
        host,
        port,
        username,
        timezone: m.timezone,
        daily_cap: m.daily_cap,
        warmup_start: m.warmup_start,
        warmup_daily_increase: m.warmup_daily_increase,
        per_domain_hourly: m.per_domain_hourly,
        min_spacing_seconds: m.min_spacing_seconds,
        sent: m.sent,
        hard_bounces: m.hard_bounces,
        soft_bounces: m.soft_bounces,
        complaints: m.complaints,
        created_at: m.created_at,
    }
}

/// SES must have verified `domain` (DKIM and ownership) before mail goes out from it.
pub(crate) async fn require_verified_domain(state: &ApiState, domain: &str) -> Result<(), ApiError> {
    let verified = state.platform.ses().domain_verified(domain).await.map_err(ApiError::unavailable)?;
    if !verified {
        return Err(ApiError::unprocessable(
            "domain_not_verified",
            format!("{domain} is not verified for sending yet: publish its DNS records first."),
        ));
    }
    Ok(())
}

fn apply_limits(mailbox: &mut Mailbox, limits: &LimitsInput) -> Result<(), ApiError> {
    let set = |slot: &mut u32, value: Option<u32>, max: u32| {
        if let Some(v) = value {
            if v > max {
                return Err(ApiError::unprocessable("invalid_limits", format!("A limit is at most {max}.")));
            }
            *slot = v;
        }
        Ok(())
    };
    set(&mut mailbox.daily_cap, limits.daily_cap, 10_000)?;
    set(&mut mailbox.warmup_start, limits.warmup_start, 10_000)?;
    set(&mut mailbox.warmup_daily_increase, limits.warmup_daily_increase, 10_000)?;
    set(&mut mailbox.per_domain_hourly, limits.per_domain_hourly, 10_000)?;
    set(&mut mailbox.min_spacing_seconds, limits.min_spacing_seconds, 86_400)?;
    if mailbox.daily_cap == 0 || mailbox.per_domain_hourly == 0 {
        return Err(ApiError::unprocessable("invalid_limits", "Daily and per-domain limits must be at least 1."));
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/mailboxes", params(("ws" = String, Path)), request_body = MailboxInput,
    responses((status = 201, body = MailboxView), (status = 422)))]
pub async fn create(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageMailboxes>,
    Json(input): Json<MailboxInput>,
) -> Result<(StatusCode, Json<MailboxView>), ApiError> {
    let name = super::text("name", &input.name, 100)?;
    let from_name = match input.from_name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => Some(super::text("from_name", n, 100)?),
        None => None,
    };
    let from_email = super::email(&input.from_email)?;
    let reply_to = input.reply_to.as_deref().map(super::email).transpose()?;
    let timezone = match input.timezone.as_deref() {
        Some(zone) if jiff::tz::TimeZone::get(zone).is_ok() && zone.len() <= 64 => zone.to_string(),
        Some(_) => return Err(ApiError::unprocessable("invalid_timezone", "`timezone` must be an IANA zone such as Europe/Berlin.")),
        None => ctx.settings.timezone.clone(),
    };
    let id = uuid::Uuid::now_v7().to_string();
    let from_domain = from_email.rsplit('@').next().unwrap_or_default().to_string();
    // No mailbox, SES or SMTP, speaks as the platform: its domains are not any workspace's.
    if crate::routes::sending_domains::is_platform_domain(&state, &from_domain) {
        return Err(ApiError::unprocessable("platform_domain_reserved", "A mailbox's address cannot be at the platform's own domain."));
    }
    let provider = match input.provider {
        ProviderInput::Ses => {
            // Growth and above send from their own domain once this workspace has
            // proven it controls it and SES has verified it; on other plans (or other
            // domains) the platform's domain sends and replies go to this address.
            if ctx.settings.sending_domain.as_deref() == Some(from_domain.as_str()) {
                crate::routes::sending_domains::require_claim(&state, &ctx.workspace().to_string(), &from_domain).await?;
                require_verified_domain(&state, &from_domain).await?;
            }
            MailboxProvider::Ses
        }
        ProviderInput::Smtp { host, port, security, username, password } => {
            tern_web::guard::check_mail_host_with(&host, port, &state.mail_policy)
                .map_err(|refusal| ApiError::unprocessable("mail_host_refused", format!("That mail server cannot be used: {refusal}.")))?;
            let username = super::text("username", &username, 200)?;
            if password.is_empty() || password.len() > 500 {
                return Err(ApiError::unprocessable("invalid_fields", "`password` must be 1 to 500 characters."));
            }
            let ws = ctx.workspace().to_string();
            let identity = smtp_password_identity(&ws, &id);
            let sealed = state
                .platform
                .sealer()
                .seal(ctx.workspace(), &ctx.settings.kms_key_id, SMTP_PASSWORD_PURPOSE, &identity, password.as_bytes())
                .await?;
            MailboxProvider::Smtp { host: host.trim().to_ascii_lowercase(), port, security, username, password: sealed }
        }
    };
    let defaults = SendingLimits::default();
    let mut mailbox = Mailbox {
        id,
        name,
        from_name,
        from_email,
        reply_to,
        provider,
        timezone,
        daily_cap: defaults.daily_cap,
        warmup_start: defaults.warmup_start,
        warmup_daily_increase: defaults.warmup_daily_increase,
        per_domain_hourly: defaults.per_domain_hourly,
        min_spacing_seconds: defaults.min_spacing_seconds,
        first_send_at: None,
        sent: 0,
        hard_bounces: 0,
        soft_bounces: 0,
        complaints: 0,
        created_at: state.platform.clock().now().unix_timestamp(),
    };
    apply_limits(&mut mailbox, &input.limits)?;
    ctx.scoped.create(&mailbox, None).await?;
    let kind = if matches!(mailbox.provider, MailboxProvider::Ses) { "ses" } else { "smtp" };
    audit(
        &state,
        ctx.tenant,
        &ctx.actor.audit_name(),
        "mailbox.connected",
        Some(&mailbox.id),
        serde_json::json!({ "kind": kind }),
        &client,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view(mailbox))))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/mailboxes/{mailbox_id}", params(("ws" = String, Path), ("mailbox_id" = String, Path)),
    responses((status = 200, body = MailboxView), (status = 404)))]
pub async fn get(ctx: InWorkspace<need::ReadWorkspace>, Path((_, id)): Path<(String, String)>) -> Result<Json<MailboxView>, ApiError> {
    Ok(Json(view(ctx.scoped.get::<Mailbox>(&id).await?.ok_or_else(ApiError::not_found)?)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MailboxList {
    mailboxes: Vec<MailboxView>,
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/mailboxes", params(("ws" = String, Path)), responses((status = 200, body = MailboxList)))]
pub async fn list(ctx: InWorkspace<need::ReadWorkspace>) -> Result<Json<MailboxList>, ApiError> {
    let all = ctx.scoped.list_all::<Mailbox>().await?;
    Ok(Json(MailboxList { mailboxes: all.into_iter().map(view).collect() }))
}

#[utoipa::path(patch, path = "/v1/workspaces/{ws}/mailboxes/{mailbox_id}", params(("ws" = String, Path), ("mailbox_id" = String, Path)),
    request_body = LimitsInput, responses((status = 200, body = MailboxView), (status = 404), (status = 422)))]
pub async fn update_limits(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageMailboxes>,
    Path((_, id)): Path<(String, String)>,
    Json(limits): Json<LimitsInput>,
) -> Result<Json<MailboxView>, ApiError> {
    let mut mailbox = ctx.scoped.get::<Mailbox>(&id).await?.ok_or_else(ApiError::not_found)?;
    apply_limits(&mut mailbox, &limits)?;
    ctx.scoped.put(&mailbox, None).await?;
    audit(&state, ctx.tenant, &ctx.actor.audit_name(), "mailbox.limits_changed", Some(&mailbox.id), serde_json::json!({}), &client).await?;
    Ok(Json(view(mailbox)))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/mailboxes/{mailbox_id}", params(("ws" = String, Path), ("mailbox_id" = String, Path)),
    responses((status = 204), (status = 404)))]
pub async fn delete(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageMailboxes>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    ctx.scoped.get::<Mailbox>(&id).await?.ok_or_else(ApiError::not_found)?;
    ctx.scoped.delete::<Mailbox>(&id).await?;
    audit(&state, ctx.tenant, &ctx.actor.audit_name(), "mailbox.removed", Some(&id), serde_json::json!({}), &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default()
        .add(__path_create, create)
        .add(__path_list, list)
        .add(__path_get, get)
        .add(__path_update_limits, update_limits)
        .add(__path_delete, delete)
}
