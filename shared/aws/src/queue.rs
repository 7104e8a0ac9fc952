//! Putting jobs on queues. Jobs are the typed messages of `tern_domain::jobs`, and
//! each job type names its queue ([`Queued`]), so a job cannot be sent to another
//! function's queue: [`Queues::send`] takes the job and finds the queue itself.

use crate::config::{Config, QueueName};
use serde::Serialize;
use tern_domain::ids::WorkspaceId;
use tern_domain::jobs::{ClassifyJob, EnrichJob, PrivacyJob, SendJob};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("job could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("SQS refused the message: {0}")]
    Send(String),
    #[error("{failed} of {total} messages were not accepted by SQS")]
    Partial { failed: usize, total: usize },
    /// This function's configuration names no URL for the job's queue (a deployment
    /// fault: each function's template entry lists the queues it sends to).
    #[error("the {0:?} queue is not configured for this function")]
    NotConfigured(QueueName),
}

/// A job type and the queue it travels on. Every job names its workspace: the
/// worker that takes it acts for that workspace only (`Tenant::of_job`).
pub trait Queued: Serialize {
    const QUEUE: QueueName;
    fn workspace(&self) -> WorkspaceId;
}

impl Queued for ClassifyJob {
    const QUEUE: QueueName = QueueName::Classify;
    fn workspace(&self) -> WorkspaceId {
        self.workspace_id
    }
}

impl Queued for EnrichJob {
    const QUEUE: QueueName = QueueName::Enrich;
    fn workspace(&self) -> WorkspaceId {
        self.workspace_id
    }
}

impl Queued for SendJob {
    const QUEUE: QueueName = QueueName::Send;
    fn workspace(&self) -> WorkspaceId {
        self.workspace_id
    }
}

impl Queued for PrivacyJob {
    const QUEUE: QueueName = QueueName::Privacy;
    fn workspace(&self) -> WorkspaceId {
        self.workspace_id
    }
}

/// The queues this function sends to.
#[derive(Debug, Clone)]
pub struct Queues {
    sqs: aws_sdk_sqs::Client,
    urls: std::collections::BTreeMap<QueueName, String>,
}

impl Queues {
    pub fn new(sqs: aws_sdk_sqs::Client, config: &Config) -> Self {
        Self { sqs, urls: config.queues.clone() }
    }

    fn url<J: Queued>(&self) -> Result<&str, QueueError> {
        self.urls.get(&J::QUEUE).map(String::as_str).ok_or(QueueError::NotConfigured(J::QUEUE))
    }

    /// Sends one job to its queue; returns SQS's message id.
    pub async fn send<J: Queued>(&self, job: &J) -> Result<String, QueueError> {
        let body = serde_json::to_string(job)?;
        let sent = self
            .sqs
            .send_message()
            .queue_url(self.url::<J>()?)
            .message_body(body)
            .send()
            .await
            .map_err(|e| QueueError::Send(crate::worker::error_chain(&e)))?;
        Ok(sent.message_id.unwrap_or_default())
    }

    /// Sends many jobs, ten per request (SQS's batch limit), so a thousand jobs cost a
    /// hundred requests rather than a thousand.
    pub async fn send_batch<J: Queued>(&self, jobs: &[J]) -> Result<(), QueueError> {
        use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
        let url = self.url::<J>()?;
        for chunk in jobs.chunks(10) {
            let mut request = self.sqs.send_message_batch().queue_url(url);
            for (i, job) in chunk.iter().enumerate() {
                request = request.entries(
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(serde_json::to_string(job)?)
                        .build()
                        .map_err(|e| QueueError::Send(e.to_string()))?,
                );
            }
            let result = request.send().await.map_err(|e| QueueError::Send(crate::worker::error_chain(&e)))?;
            if !result.failed.is_empty() {
                return Err(QueueError::Partial { failed: result.failed.len(), total: chunk.len() });
            }
        }
        Ok(())
    }
}
