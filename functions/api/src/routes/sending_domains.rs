//! Sending domains a workspace has proven it controls (issue 12, finding 2).
//!
//! SES verifying a domain says the platform's AWS account may send from it, not
//! which workspace may: without this, any growth workspace could name the
//! platform's own domain, or another tenant's, as its sending domain. So a
//! workspace first asks for a domain (`POST …/sending-domains`) and gets a token
//! of its own; it publishes `_tern-challenge.<domain> TXT "tern-verify=<token>"`;
//! `POST …/sending-domains/{domain}/verify` reads it through a real DNS resolver
//! and records the global [`DomainClaim`] (one workspace per domain, created with
//! a condition). Setting `sending_domain` and creating an SES mailbox at it need
//! that claim (`require_claim`). The platform's own domains (and their
//! subdomains and parents) can never be claimed. The full set-up wizard (DKIM,
//! SPF, DMARC records) is a later issue; this closes the hole.

use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use crate::routes::audit;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::entities::SendingDomain;
use tern_aws::global::DomainClaim;
use tern_aws::table::StoreError;
use tern_http::{ApiError, Json, Path};

/// The label under which the token is published.
pub const CHALLENGE_LABEL: &str = "_tern-challenge";
/// What the TXT record says before the token.
pub const CHALLENGE_PREFIX: &str = "tern-verify=";
/// A workspace asks for at most this many domains (a claim is a DNS look-up each).
const MAX_DOMAINS: usize = 20;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainInput {
    /// The domain to send from, e.g. `mail.acme.example`.
    domain: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DnsRecord {
    /// Where to publish it.
    name: String,
    /// Always `TXT`.
    #[serde(rename = "type")]
    kind: &'static str,
    value: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SendingDomainView {
    domain: String,
    /// `pending` until the TXT record is found, then `verified`.
    status: &'static str,
    /// The record that proves the workspace controls the domain.
    record: DnsRecord,
    created_at: i64,
    verified_at: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SendingDomainList {
    domains: Vec<SendingDomainView>,
}

fn view(d: SendingDomain) -> SendingDomainView {
    SendingDomainView {
        record: DnsRecord { name: format!("{CHALLENGE_LABEL}.{}", d.domain), kind: "TXT", value: format!("{CHALLENGE_PREFIX}{}", d.token) },
        status: if d.verified_at.is_some() { "verified" } else { "pending" },
        domain: d.domain,
        created_at: d.created_at,
        verified_at: d.verified_at,
    }
}

/// A domain as stored: lower-case ASCII (IDNs as punycode), no trailing dot, a
/// host name of at least two labels; the same rules as an address's domain.
pub(crate) fn normalise_domain(input: &str) -> Result<String, ApiError> {
    let input = input.trim();
    if input.is_empty() || input.contains('@') || input.len() > 253 {
        return Err(invalid_domain());
    }
    tern_web::verify::parse_address(&format!("postmaster@{input}")).map(|a| a.domain).map_err(|_| invalid_domain())
}

fn invalid_domain() -> ApiError {
    ApiError::unprocessable("invalid_domain", "That is not a domain name such as mail.example.com.")
}

/// The platform's own domains: what it sends from and receives at.
fn platform_domains(state: &ApiState) -> impl Iterator<Item = String> + '_ {
    [&state.platform.config().sending_domain, &state.platform.config().inbound_domain]
        .into_iter()
        .flatten()
        .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
}

/// True when `domain` is one of the platform's domains, under one, or above one
/// (its organisational domain would align with the platform's DKIM under DMARC's
/// relaxed rules).
pub(crate) fn is_platform_domain(state: &ApiState, domain: &str) -> bool {
    platform_domains(state).any(|p| domain == p || domain.ends_with(&format!(".{p}")) || p.ends_with(&format!(".{domain}")))
}

fn platform_domain_refused() -> ApiError {
    ApiError::unprocessable("platform_domain_reserved", "The platform's own domains cannot be used as a workspace's sending domain.")
}

fn claimed_elsewhere() -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "domain_claimed", "Another workspace has already proven it controls this domain.")
}

/// Refuses unless this workspace has proven it controls `domain`. The one check
/// every use of a sending domain goes through.
pub(crate) async fn require_claim(state: &ApiState, workspace: &str, domain: &str) -> Result<(), ApiError> {
    if is_platform_domain(state, domain) {
        return Err(platform_domain_refused());
    }
    let claim = state.platform.global().get::<DomainClaim>(domain).await?;
    match claim {
        Some(c) if c.workspace_id == workspace => Ok(()),
        _ => Err(ApiError::unprocessable(
            "domain_not_claimed",
            format!("This workspace has not proven it controls {domain}: add it under sending-domains and publish its DNS record first."),
        )),
    }
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/sending-domains", params(("ws" = String, Path)), request_body = DomainInput,
    responses((status = 201, body = SendingDomainView), (status = 200, body = SendingDomainView, description = "already asked for"),
        (status = 409, description = "`domain_claimed`: another workspace proved it"),
        (status = 422, description = "`invalid_domain`, `platform_domain_reserved`, `plan_required`, `too_many_domains`")))]
pub async fn create(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageWorkspace>,
    Json(input): Json<DomainInput>,
) -> Result<(StatusCode, Json<SendingDomainView>), ApiError> {
    let domain = normalise_domain(&input.domain)?;
    if !ctx.settings.plan.may_use_custom_domain() {
        return Err(ApiError::unprocessable("plan_required", "Sending from your own domain is part of the growth plan and above."));
    }
    if is_platform_domain(&state, &domain) {
        return Err(platform_domain_refused());
    }
    let ws = ctx.workspace().to_string();
    if let Some(claim) = state.platform.global().get::<DomainClaim>(&domain).await?
        && claim.workspace_id != ws
    {
        return Err(claimed_elsewhere());
    }
    if let Some(existing) = ctx.scoped.get::<SendingDomain>(&domain).await? {
        return Ok((StatusCode::OK, Json(view(existing))));
    }
    if ctx.scoped.list_all::<SendingDomain>().await?.len() >= MAX_DOMAINS {
        return Err(ApiError::unprocessable("too_many_domains", format!("A workspace can have at most {MAX_DOMAINS} sending domains.")));
    }
    let record = SendingDomain {
        domain,
        token: uuid::Uuid::new_v4().simple().to_string(),
        created_at: state.platform.clock().now().unix_timestamp(),
        verified_at: None,
    };
    match ctx.scoped.create(&record, None).await {
        Ok(()) => {}
        // A concurrent request asked first: the same answer as asking twice.
        Err(StoreError::ConditionFailed) => {
            let existing = ctx.scoped.get::<SendingDomain>(&record.domain).await?.ok_or_else(ApiError::not_found)?;
            return Ok((StatusCode::OK, Json(view(existing))));
        }
        Err(e) => return Err(ApiError::unavailable(e)),
    }
    audit(&state, ctx.tenant, &ctx.actor.audit_name(), "sending_domain.added", Some(&record.domain), serde_json::json!({}), &client)
        .await?;
    Ok((StatusCode::CREATED, Json(view(record))))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/sending-domains", params(("ws" = String, Path)), responses((status = 200, body = SendingDomainList)))]
pub async fn list(ctx: InWorkspace<need::ReadWorkspace>) -> Result<Json<SendingDomainList>, ApiError> {
    let all = ctx.scoped.list_all::<SendingDomain>().await?;
    Ok(Json(SendingDomainList { domains: all.into_iter().map(view).collect() }))
}

/// Looks the TXT record up and, when it carries this workspace's token, records
/// the claim. Another workspace's claim on the domain wins (it proved it first).
#[utoipa::path(post, path = "/v1/workspaces/{ws}/sending-domains/{domain}/verify", params(("ws" = String, Path), ("domain" = String, Path)),
    responses((status = 200, body = SendingDomainView), (status = 404), (status = 409, description = "`domain_claimed`"),
        (status = 422, description = "`domain_not_proven`: the TXT record is not there (yet)"), (status = 503, description = "`dns_unavailable`")))]
pub async fn verify(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageWorkspace>,
    Path((_, domain)): Path<(String, String)>,
) -> Result<Json<SendingDomainView>, ApiError> {
    let domain = normalise_domain(&domain).map_err(|_| ApiError::not_found())?;
    let mut record = ctx.scoped.get::<SendingDomain>(&domain).await?.ok_or_else(ApiError::not_found)?;
    // Checked again: the platform's configuration may have changed since it was asked for.
    if is_platform_domain(&state, &domain) {
        return Err(platform_domain_refused());
    }
    let ws = ctx.workspace().to_string();
    let name = format!("{CHALLENGE_LABEL}.{domain}");
    let expected = format!("{CHALLENGE_PREFIX}{}", record.token);
    let published = state.dns().map_err(ApiError::unavailable)?.txt_records(&name).await.map_err(|e| {
        tracing::warn!(error = %e, "sending-domain TXT look-up failed");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "dns_unavailable", "DNS did not answer; please try again in a moment.")
    })?;
    if !published.iter().any(|txt| txt.trim() == expected) {
        return Err(ApiError::unprocessable(
            "domain_not_proven",
            format!("No TXT record \"{expected}\" was found at {name}. DNS changes can take a while to show; try again later."),
        ));
    }
    let now = state.platform.clock().now().unix_timestamp();
    let claim = DomainClaim { domain: domain.clone(), workspace_id: ws.clone(), verified_at: now };
    match state.platform.global().create(&claim, None).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => {
            let holder = state.platform.global().get::<DomainClaim>(&domain).await?;
            if holder.is_none_or(|h| h.workspace_id != ws) {
                return Err(claimed_elsewhere());
            }
        }
        Err(e) => return Err(ApiError::unavailable(e)),
    }
    if record.verified_at.is_none() {
        record.verified_at = Some(now);
        ctx.scoped.put(&record, None).await?;
        audit(&state, ctx.tenant, &ctx.actor.audit_name(), "sending_domain.verified", Some(&domain), serde_json::json!({}), &client)
            .await?;
    }
    Ok(Json(view(record)))
}

/// Gives the domain up: the claim goes, so another workspace can prove it. Refused
/// while it is the workspace's sending domain.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/sending-domains/{domain}", params(("ws" = String, Path), ("domain" = String, Path)),
    responses((status = 204), (status = 404), (status = 409, description = "`domain_in_use`: it is the workspace's sending domain")))]
pub async fn delete(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::ManageWorkspace>,
    Path((_, domain)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let domain = normalise_domain(&domain).map_err(|_| ApiError::not_found())?;
    ctx.scoped.get::<SendingDomain>(&domain).await?.ok_or_else(ApiError::not_found)?;
    if ctx.settings.sending_domain.as_deref() == Some(domain.as_str()) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "domain_in_use",
            "This is the workspace's sending domain: choose another (or none) first.",
        ));
    }
    let ws = ctx.workspace().to_string();
    if state.platform.global().get::<DomainClaim>(&domain).await?.is_some_and(|c| c.workspace_id == ws) {
        state.platform.global().delete::<DomainClaim>(&domain).await?;
    }
    ctx.scoped.delete::<SendingDomain>(&domain).await?;
    audit(&state, ctx.tenant, &ctx.actor.audit_name(), "sending_domain.removed", Some(&domain), serde_json::json!({}), &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default().add(__path_create, create).add(__path_list, list).add(__path_verify, verify).add(__path_delete, delete)
}
