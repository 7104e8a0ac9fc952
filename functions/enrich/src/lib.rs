//! The `enrich` worker: company facts from public websites.
//!
//! The SSRF-guarded fetcher and the extractors arrive with the enrichment issue.
//! Until then a job is refused as not yet processable, so it is retried and then
//! parked in the dead-letter queue where it can be redriven, never dropped.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use tern_aws::worker::{JobError, process_batch};
use tern_aws::{AwsClients, Config};
use tern_domain::clock::SharedClock;
use tern_domain::jobs::EnrichJob;

pub struct EnrichDeps {
    pub config: Config,
    pub clients: AwsClients,
    pub clock: SharedClock,
}

pub async fn handle(_deps: &EnrichDeps, event: SqsEvent) -> SqsBatchResponse {
    process_batch("enrich", event, |job: EnrichJob, _delivery| async move {
        Err(JobError::Transient(format!("enrichment of {} is not available yet; kept for redrive", job.domain)))
    })
    .await
}
