//! Company enrichment: request it for a website, read the profile and its lead
//! score, see the month's usage against the plan, and set the ideal customer the
//! score is measured against. The work itself is the `enrich` worker's.

use crate::ApiState;
use crate::auth::{InWorkspace, need};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_aws::entities::{Enrichment, EnrichmentStatus, EnrichmentUsage, IdealCustomerSettings};
use tern_domain::ids::RequestId;
use tern_domain::jobs::EnrichJob;
use tern_extract::{IdealCustomer, LeadScore};
use tern_http::{ApiError, Json, Path, Query};

fn this_month(state: &ApiState) -> String {
    let now = state.platform.clock().now();
    format!("{:04}-{:02}", now.year(), u8::from(now.month()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrichmentRequest {
    /// A domain (`example.com`) or a website address (`https://www.example.com/`).
    website: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EnrichmentView {
    #[schema(value_type = Object)]
    enrichment: Enrichment,
    /// Against the workspace's ideal customer; present once a profile exists.
    #[schema(value_type = Option<Object>)]
    score: Option<LeadScore>,
}

/// Queues an enrichment (or returns the one already there). Only successful ones
/// count against the plan's monthly quota.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/enrichments", params(("ws" = String, Path)), request_body = EnrichmentRequest,
    responses((status = 202, body = EnrichmentView), (status = 200, body = EnrichmentView), (status = 422), (status = 429, description = "quota used up")))]
pub async fn request(
    State(state): State<Arc<ApiState>>,
    ctx: InWorkspace<need::WriteContacts>,
    request_id: Option<axum::Extension<RequestId>>,
    Json(input): Json<EnrichmentRequest>,
) -> Result<Response, ApiError> {
    let website = website_url(&input.website)?;
    let host = website.host_str().unwrap_or_default();
    let domain = tern_extract::registrable_domain(host);
    if let Some(existing) = ctx.scoped.get::<Enrichment>(&domain).await?
        && existing.status != EnrichmentStatus::Failed
    {
        let score = score_of(&ctx, &existing).await?;
        return Ok((StatusCode::OK, Json(EnrichmentView { enrichment: existing, score })).into_response());
    }
    let quota = ctx.settings.plan.monthly_enrichments();
    let used = ctx.scoped.get::<EnrichmentUsage>(&this_month(&state)).await?.map_or(0, |u| u.used);
    if used >= quota {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "quota_exceeded",
            format!("This month's {quota} enrichments are used up."),
        ));
    }
    let record = Enrichment {
        domain: domain.clone(),
        website: website.to_string(),
        status: EnrichmentStatus::Pending,
        requested_at: state.platform.clock().now().unix_timestamp(),
        finished_at: None,
        failure: None,
        profile: None,
        pages_fetched: 0,
        from_cache: false,
    };
    ctx.scoped.put(&record, None).await?;
    let job = EnrichJob {
        workspace_id: ctx.workspace(),
        request_id: request_id.map(|r| r.0).unwrap_or_else(RequestId::generate),
        domain,
        website: website.to_string(),
        monthly_quota: quota,
        contact_ids: Vec::new(),
        verify_only: false,
    };
    state.platform.queues().send(&job).await?;
    Ok((StatusCode::ACCEPTED, Json(EnrichmentView { enrichment: record, score: None })).into_response())
}

fn website_url(input: &str) -> Result<url::Url, ApiError> {
    let input = input.trim();
    let with_scheme = if input.contains("://") { input.to_string() } else { format!("https://{input}/") };
    url::Url::parse(&with_scheme)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| h.contains('.')) && input.len() <= 2048)
        .ok_or_else(|| ApiError::unprocessable("invalid_website", "Give a domain such as example.com or an http(s) address."))
}

async fn score_of<P: crate::auth::Needs>(ctx: &InWorkspace<P>, enrichment: &Enrichment) -> Result<Option<LeadScore>, ApiError> {
    let Some(profile) = &enrichment.profile else { return Ok(None) };
    let icp = ctx.scoped.get::<IdealCustomerSettings>(IdealCustomerSettings::ID).await?;
    Ok(Some(tern_extract::score(profile, &icp.map(|s| s.ideal_customer).unwrap_or_default())))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/enrichments/{domain}", params(("ws" = String, Path), ("domain" = String, Path)),
    responses((status = 200, body = EnrichmentView), (status = 404)))]
pub async fn get(
    ctx: InWorkspace<need::ReadContacts>,
    Path((_, domain)): Path<(String, String)>,
) -> Result<Json<EnrichmentView>, ApiError> {
    let enrichment = ctx.scoped.get::<Enrichment>(&domain.to_ascii_lowercase()).await?.ok_or_else(ApiError::not_found)?;
    let score = score_of(&ctx, &enrichment).await?;
    Ok(Json(EnrichmentView { enrichment, score }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    after: Option<String>,
    limit: Option<i32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EnrichmentPage {
    #[schema(value_type = Vec<Object>)]
    enrichments: Vec<Enrichment>,
    next: Option<String>,
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/enrichments", params(("ws" = String, Path), PageQuery), responses((status = 200, body = EnrichmentPage)))]
pub async fn list(ctx: InWorkspace<need::ReadContacts>, Query(page): Query<PageQuery>) -> Result<Json<EnrichmentPage>, ApiError> {
    let limit = page.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::unprocessable("invalid_limit", "`limit` must be from 1 to 100."));
    }
    let found = ctx.scoped.list::<Enrichment>(limit, page.after.as_deref()).await?;
    Ok(Json(EnrichmentPage { enrichments: found.items, next: found.next }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Usage {
    month: String,
    used: u32,
    quota: u32,
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/enrichment-usage", params(("ws" = String, Path)), responses((status = 200, body = Usage)))]
pub async fn usage(State(state): State<Arc<ApiState>>, ctx: InWorkspace<need::ReadWorkspace>) -> Result<Json<Usage>, ApiError> {
    let month = this_month(&state);
    let used = ctx.scoped.get::<EnrichmentUsage>(&month).await?.map_or(0, |u| u.used);
    Ok(Json(Usage { month, used, quota: ctx.settings.plan.monthly_enrichments() }))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/ideal-customer", params(("ws" = String, Path)), responses((status = 200, body = Object)))]
pub async fn get_ideal_customer(ctx: InWorkspace<need::ReadWorkspace>) -> Result<Json<IdealCustomer>, ApiError> {
    let settings = ctx.scoped.get::<IdealCustomerSettings>(IdealCustomerSettings::ID).await?;
    Ok(Json(settings.map(|s| s.ideal_customer).unwrap_or_default()))
}

#[utoipa::path(put, path = "/v1/workspaces/{ws}/ideal-customer", params(("ws" = String, Path)), request_body = Object, responses((status = 200, body = Object), (status = 422)))]
pub async fn set_ideal_customer(
    ctx: InWorkspace<need::ManageWorkspace>,
    Json(icp): Json<IdealCustomer>,
) -> Result<Json<IdealCustomer>, ApiError> {
    let lists = [&icp.industries, &icp.countries, &icp.keywords, &icp.required_technologies];
    if lists.iter().any(|l| l.len() > 50 || l.iter().any(|v| v.trim().is_empty() || v.chars().count() > 100)) {
        return Err(ApiError::unprocessable("invalid_fields", "Each list holds at most 50 entries of 1 to 100 characters."));
    }
    if icp.countries.iter().any(|c| c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_alphabetic())) {
        return Err(ApiError::unprocessable("invalid_country", "Countries are ISO 3166-1 alpha-2 codes such as DE or US."));
    }
    let settings = IdealCustomerSettings { id: IdealCustomerSettings::ID.into(), ideal_customer: icp };
    ctx.scoped.put(&settings, None).await?;
    Ok(Json(settings.ideal_customer))
}

/// What created or imported contacts ask of the enrich worker: for each distinct
/// company domain, an enrichment (where fetching starts, the contacts at it). The
/// contacts' addresses are verified by the same jobs.
#[derive(Debug, Default)]
pub(crate) struct ContactWork {
    domains: std::collections::BTreeMap<String, (String, Vec<String>)>,
}

impl ContactWork {
    /// A contact at `domain` (a registrable domain), whose website, when given, is
    /// where fetching starts. Free-mail and disposable domains never trigger
    /// anything, nor does an IP address (no company domain: nothing to key the
    /// cache by; `POST …/enrichments` still takes one explicitly).
    pub(crate) fn add(&mut self, domain: &str, website: Option<&str>, contact_id: &str) {
        if tern_domain::address::is_free_mail_domain(domain)
            || tern_domain::address::is_disposable_domain(domain)
            || domain.parse::<std::net::IpAddr>().is_ok()
            || !domain.contains('.')
        {
            return;
        }
        let entry = self.domains.entry(domain.to_string()).or_insert_with(|| (format!("https://{domain}/"), Vec::new()));
        if let Some(website) = website
            && let Ok(url) = website_url(website)
            && url.host_str().is_some_and(|h| tern_extract::registrable_domain(h) == domain)
        {
            entry.0 = url.to_string();
        }
        if !entry.1.iter().any(|id| id == contact_id) {
            entry.1.push(contact_id.to_string());
        }
    }
}

/// Queues the work for contacts: one enrichment per distinct domain, skipped when the
/// workspace already has a fresh one (pending, or done within the cache's 30 days)
/// or its month's quota is used up (as `POST …/enrichments` refuses then); the
/// contacts are verified either way. Only successful enrichments count.
pub(crate) async fn queue_for_contacts<P: crate::auth::Needs>(
    state: &ApiState,
    ctx: &InWorkspace<P>,
    request_id: RequestId,
    work: ContactWork,
) -> Result<(), ApiError> {
    if work.domains.is_empty() {
        return Ok(());
    }
    let now = state.platform.clock().now().unix_timestamp();
    let quota = ctx.settings.plan.monthly_enrichments();
    let used = ctx.scoped.get::<EnrichmentUsage>(&this_month(state)).await?.map_or(0, |u| u.used);
    let mut jobs = Vec::new();
    for (domain, (website, contact_ids)) in work.domains {
        let fresh = match ctx.scoped.get::<Enrichment>(&domain).await? {
            Some(e) if e.status == EnrichmentStatus::Pending => true,
            Some(e) if e.status == EnrichmentStatus::Done => {
                now - e.finished_at.unwrap_or(e.requested_at) < tern_aws::global::COMPANY_CACHE_TTL.whole_seconds()
            }
            _ => false,
        };
        let enrich = !fresh && used < quota;
        if enrich {
            let record = Enrichment {
                domain: domain.clone(),
                website: website.clone(),
                status: EnrichmentStatus::Pending,
                requested_at: now,
                finished_at: None,
                failure: None,
                profile: None,
                pages_fetched: 0,
                from_cache: false,
            };
            ctx.scoped.put(&record, None).await?;
        }
        for (i, chunk) in contact_ids.chunks(EnrichJob::MAX_CONTACTS).enumerate() {
            jobs.push(EnrichJob {
                workspace_id: ctx.workspace(),
                request_id,
                domain: domain.clone(),
                website: website.clone(),
                monthly_quota: quota,
                contact_ids: chunk.to_vec(),
                verify_only: !(enrich && i == 0),
            });
        }
    }
    state.platform.queues().send_batch(&jobs).await.map_err(ApiError::from)
}

/// Queues the verification of one contact's address.
pub(crate) async fn queue_verification<P: crate::auth::Needs>(
    state: &ApiState,
    ctx: &InWorkspace<P>,
    request_id: RequestId,
    contact: &tern_aws::outreach::Contact,
) -> Result<(), ApiError> {
    let email_domain = contact.email.rsplit('@').next().unwrap_or_default().to_string();
    let domain = contact.domain.clone().unwrap_or(email_domain);
    let job = EnrichJob {
        workspace_id: ctx.workspace(),
        request_id,
        website: format!("https://{domain}/"),
        domain,
        monthly_quota: ctx.settings.plan.monthly_enrichments(),
        contact_ids: vec![contact.id.clone()],
        verify_only: true,
    };
    state.platform.queues().send(&job).await?;
    Ok(())
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default()
        .add(__path_request, request)
        .add(__path_list, list)
        .add(__path_get, get)
        .add(__path_usage, usage)
        .add(__path_get_ideal_customer, get_ideal_customer)
        .add(__path_set_ideal_customer, set_ideal_customer)
}

#[cfg(test)]
mod tests {
    use super::ContactWork;

    #[test]
    fn contact_work_is_one_entry_per_company_domain_and_nothing_for_free_mail_or_ips() {
        let mut work = ContactWork::default();
        work.add("acme.example", None, "c1");
        work.add("acme.example", Some("http://www.acme.example:8080/"), "c2");
        work.add("acme.example", None, "c2");
        // A website on another domain never becomes where this domain's fetch starts.
        work.add("acme.example", Some("https://evil.example/"), "c3");
        work.add("gmail.com", None, "c4");
        work.add("mailinator.com", None, "c5");
        work.add("127.0.0.1", Some("http://127.0.0.1/"), "c6");
        work.add("localhost", None, "c7");
        let got: Vec<_> = work.domains.iter().map(|(d, (w, ids))| (d.as_str(), w.as_str(), ids.clone())).collect();
        assert_eq!(got, [("acme.example", "http://www.acme.example:8080/", vec!["c1".to_string(), "c2".into(), "c3".into()])]);
    }
}
