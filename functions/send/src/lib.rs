//! The `send` worker: render, claim `(enrollment, step)`, send, record.
//!
//! The claim/record protocol and the providers arrive with the outreach engine.
//! Until then a job is refused as not yet processable, so it is retried and then
//! parked in the dead-letter queue where it can be redriven, never dropped.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use tern_aws::worker::{JobError, process_batch};
use tern_aws::{AwsClients, Config};
use tern_domain::clock::SharedClock;
use tern_domain::jobs::SendJob;

pub struct SendDeps {
    pub config: Config,
    pub clients: AwsClients,
    pub clock: SharedClock,
}

pub async fn handle(_deps: &SendDeps, event: SqsEvent) -> SqsBatchResponse {
    process_batch("send", event, |job: SendJob, _delivery| async move {
        Err(JobError::Transient(format!(
            "sending step {} of enrollment {} is not available yet; kept for redrive",
            job.step, job.enrollment_id
        )))
    })
    .await
}
