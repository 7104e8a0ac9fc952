//! The `enrich` worker: public company facts from a company's own website.
//!
//! For each [`EnrichJob`]: reuse the cross-tenant cache of public facts when it is
//! fresh, otherwise crawl the site through the SSRF-guarded fetcher and cache the
//! depersonalised result; count the success against the workspace's monthly quota;
//! store the workspace's own copy. Every way a site can fail (refused address,
//! timeout, redirect loop, not HTML, too large) ends as a recorded, readable failure
//! and a finished job: nothing is retried forever. The lead score is computed when
//! read, against the workspace's current ideal-customer settings.
//!
//! A job may also name contacts (`contact_ids`): after the company, their addresses
//! are verified (syntax, MX with A fallback, disposable/free/role lists; never an SMTP
//! probe) and the result is stored on each contact. A `verify_only` job does only that.

pub mod crawl;
pub mod verification;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use tern_aws::entities::{Enrichment, EnrichmentStatus, EnrichmentUsage};
use tern_aws::global::{COMPANY_CACHE_TTL, CachedCompany};
use tern_aws::table::{AttributeValue, ScopedTable, StoreError};
use tern_aws::worker::{Delivery, JobError, process_batch};
use tern_aws::{Platform, Tenant};
use tern_domain::jobs::EnrichJob;
use tern_web::fetch::Fetcher;

/// Builds the website fetcher when the first crawl needs it.
pub type MakeFetcher = Box<dyn Fn() -> Result<Fetcher, tern_web::FetchError> + Send + Sync>;

pub struct EnrichDeps {
    pub platform: Platform,
    fetcher: std::sync::OnceLock<Fetcher>,
    make_fetcher: Option<MakeFetcher>,
    verifier: std::sync::OnceLock<tern_web::Verifier>,
}

impl EnrichDeps {
    pub fn new(platform: Platform, fetcher: Fetcher) -> Self {
        let deps = Self::lazy(platform, None);
        let _ = deps.fetcher.set(fetcher);
        deps
    }

    /// The fetcher (its TLS roots and resolver, a few milliseconds) is built on the
    /// first crawl, not at cold start: most invocations are cache hits or quota checks.
    pub fn with_lazy_fetcher(platform: Platform, make: MakeFetcher) -> Self {
        Self::lazy(platform, Some(make))
    }

    fn lazy(platform: Platform, make_fetcher: Option<MakeFetcher>) -> Self {
        Self { platform, fetcher: std::sync::OnceLock::new(), make_fetcher, verifier: std::sync::OnceLock::new() }
    }

    /// Verifies addresses with this verifier (tests: one on their own DNS server)
    /// instead of the system's name servers. `false` if one was already in use.
    pub fn use_verifier(&self, verifier: tern_web::Verifier) -> bool {
        self.verifier.set(verifier).is_ok()
    }

    /// The e-mail verifier, on the system's name servers unless one was given.
    fn verifier(&self) -> Result<&tern_web::Verifier, JobError> {
        if let Some(verifier) = self.verifier.get() {
            return Ok(verifier);
        }
        let built = tern_web::Verifier::from_system(verification::DNS_TIMEOUT)
            .map_err(|e| JobError::Transient(format!("the e-mail verifier could not be built: {e}")))?;
        Ok(self.verifier.get_or_init(|| built))
    }

    fn fetcher(&self) -> Result<&Fetcher, JobError> {
        if let Some(fetcher) = self.fetcher.get() {
            return Ok(fetcher);
        }
        let make = self.make_fetcher.as_ref().ok_or_else(|| JobError::Transient("no website fetcher configured".into()))?;
        let built = make().map_err(|e| JobError::Transient(format!("the website fetcher could not be built: {e}")))?;
        Ok(self.fetcher.get_or_init(|| built))
    }
}

pub async fn handle(deps: &EnrichDeps, event: SqsEvent) -> SqsBatchResponse {
    process_batch("enrich", deps.platform.poison(), event, |job: EnrichJob, delivery| enrich_one(deps, job, delivery)).await
}

fn transient(e: StoreError) -> JobError {
    JobError::Transient(e.to_string())
}

async fn enrich_one(deps: &EnrichDeps, job: EnrichJob, _delivery: Delivery) -> Result<(), JobError> {
    let scoped = deps.platform.table().scope(Tenant::of_job(&job));
    if !job.verify_only {
        enrich_company(deps, &scoped, &job).await?;
    }
    if !job.contact_ids.is_empty() {
        verification::verify_contacts(&scoped, deps.verifier()?, deps.platform.clock(), &job.contact_ids).await?;
    }
    Ok(())
}

async fn enrich_company(deps: &EnrichDeps, scoped: &ScopedTable, job: &EnrichJob) -> Result<(), JobError> {
    let now = deps.platform.clock().now();
    let mut record = match scoped.get::<Enrichment>(&job.domain).await.map_err(transient)? {
        Some(done) if done.status != EnrichmentStatus::Pending => return Ok(()),
        Some(pending) => pending,
        None => Enrichment {
            domain: job.domain.clone(),
            website: job.website.clone(),
            status: EnrichmentStatus::Pending,
            requested_at: now.unix_timestamp(),
            finished_at: None,
            failure: None,
            profile: None,
            pages_fetched: 0,
            from_cache: false,
        },
    };

    let month = format!("{:04}-{:02}", now.year(), u8::from(now.month()));
    let usage = scoped.get::<EnrichmentUsage>(&month).await.map_err(transient)?;
    let used = usage.as_ref().map_or(0, |u| u.used);
    if used >= job.monthly_quota {
        return finish(deps, scoped, record, Err(format!("the plan's {} enrichments this month are used up", job.monthly_quota))).await;
    }

    let cached = deps.platform.global().get::<CachedCompany>(&job.domain).await.map_err(transient)?;
    let fresh = cached.filter(|c| now.unix_timestamp() - c.fetched_at < COMPANY_CACHE_TTL.whole_seconds());
    let outcome = match fresh {
        Some(cached) => {
            record.from_cache = true;
            Ok(cached.profile)
        }
        None => match crawl::website_url(&job.website) {
            Err(e) => Err(e.to_string()),
            Ok(url) => match crawl::crawl(deps.fetcher()?, &url).await {
                Ok(crawled) => {
                    record.pages_fetched = crawled.pages_fetched;
                    let entry = CachedCompany {
                        domain: job.domain.clone(),
                        profile: CachedCompany::depersonalised(crawled.profile.clone()),
                        fetched_at: now.unix_timestamp(),
                        pages_fetched: crawled.pages_fetched,
                    };
                    deps.platform.global().put(&entry, Some(now + COMPANY_CACHE_TTL)).await.map_err(transient)?;
                    Ok(crawled.profile)
                }
                Err(e) => Err(e.to_string()),
            },
        },
    };
    if outcome.is_ok() {
        count_success(scoped, &month, usage).await?;
    }
    finish(deps, scoped, record, outcome).await
}

/// Adds one success to the month's count; two workers counting at once both land.
async fn count_success(scoped: &ScopedTable, month: &str, mut usage: Option<EnrichmentUsage>) -> Result<(), JobError> {
    for _ in 0..10 {
        let written = match &usage {
            None => scoped.create(&EnrichmentUsage { month: month.to_string(), used: 1 }, None).await,
            Some(current) => {
                let next = EnrichmentUsage { month: month.to_string(), used: current.used + 1 };
                scoped.replace_if(&next, None, "used", AttributeValue::N(current.used.to_string())).await
            }
        };
        match written {
            Ok(()) => return Ok(()),
            Err(StoreError::ConditionFailed) => usage = scoped.get::<EnrichmentUsage>(month).await.map_err(transient)?,
            Err(e) => return Err(transient(e)),
        }
    }
    Err(JobError::Transient("the usage counter kept changing; will retry".into()))
}

async fn finish(
    deps: &EnrichDeps,
    scoped: &ScopedTable,
    mut record: Enrichment,
    outcome: Result<tern_extract::CompanyProfile, String>,
) -> Result<(), JobError> {
    record.finished_at = Some(deps.platform.clock().now().unix_timestamp());
    match outcome {
        Ok(profile) => {
            record.status = EnrichmentStatus::Done;
            record.profile = Some(profile);
        }
        Err(reason) => {
            tracing::info!(domain = %record.domain, %reason, "enrichment failed");
            record.status = EnrichmentStatus::Failed;
            record.failure = Some(reason);
        }
    }
    scoped.put(&record, None).await.map_err(transient)
}
