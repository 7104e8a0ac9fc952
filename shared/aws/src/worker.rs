//! The shape every SQS worker shares: decode each record into its job type, run the
//! job, and report only the records that failed (`ReportBatchItemFailures`), so a
//! batch with one bad record re-delivers that record alone. Records that keep
//! failing transiently reach the queue's dead-letter queue through its redrive
//! policy. A poison record (one that can never succeed: a body that is not a job, an
//! item we cannot decode) is recorded with its reason as a [`PoisonJob`] and
//! acknowledged, so it is neither retried in vain nor dropped silently.

use crate::global::{GlobalKind, GlobalRecord, GlobalTable};
use crate::table::StoreError;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use serde::de::DeserializeOwned;
use sha2::Digest;
use std::future::Future;
use tern_domain::clock::SharedClock;
use tracing::Instrument;

/// Why one job failed. A transient failure is retried by SQS (and dead-lettered if it
/// keeps failing); a poison one will never succeed: it is recorded for a person and
/// acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("poison message: {0}")]
    Poison(String),
    #[error("transient failure: {0}")]
    Transient(String),
}

/// Facts about the delivery that a job may need (retry-aware behaviour, logs).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub message_id: String,
    /// 1 on first delivery.
    pub receive_count: u32,
}

/// A job acknowledged without success because it never could succeed, kept for an
/// operator to read (`pk = POISON#<function>#<message id>`) for as long as SQS would
/// have kept it in a dead-letter queue. It holds the reason and the body's digest and
/// size, not the body (which may name people).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PoisonJob {
    pub id: String,
    pub function: String,
    pub message_id: String,
    pub reason: String,
    pub receive_count: u32,
    pub body_sha256: String,
    pub body_bytes: usize,
    pub recorded_at: i64,
}

impl GlobalRecord for PoisonJob {
    const KIND: GlobalKind = GlobalKind::PoisonJob;
    fn key(&self) -> String {
        self.id.clone()
    }
}

/// How long a [`PoisonJob`] is kept: SQS's longest message retention.
pub const POISON_RETENTION: time::Duration = time::Duration::days(14);

/// Where a worker records its poison jobs.
#[derive(Debug, Clone)]
pub struct PoisonLog {
    global: GlobalTable,
    clock: SharedClock,
}

impl PoisonLog {
    pub fn new(global: GlobalTable, clock: SharedClock) -> Self {
        Self { global, clock }
    }

    async fn record(&self, function: &str, delivery: &Delivery, body: &str, reason: &str) -> Result<(), StoreError> {
        let now = self.clock.now();
        let record = PoisonJob {
            id: poison_id(function, &delivery.message_id),
            function: function.to_string(),
            message_id: delivery.message_id.clone(),
            reason: reason.to_string(),
            receive_count: delivery.receive_count,
            body_sha256: data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(body.as_bytes())),
            body_bytes: body.len(),
            recorded_at: now.unix_timestamp(),
        };
        match self.global.create(&record, Some(now + POISON_RETENTION)).await {
            // A redelivery of a record already kept (the acknowledgement was lost).
            Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The poison job `function` recorded for the message `message_id`, if any
    /// (operators, tests).
    pub async fn get(&self, function: &str, message_id: &str) -> Result<Option<PoisonJob>, StoreError> {
        self.global.get::<PoisonJob>(&poison_id(function, message_id)).await
    }
}

/// A [`PoisonJob`]'s key: one per function and message.
fn poison_id(function: &str, message_id: &str) -> String {
    format!("{function}#{message_id}")
}

/// Runs `handle` on every record of `event` and returns the ones to deliver again:
/// transient failures, and poison ones that could not be recorded.
pub async fn process_batch<T, F, Fut>(function: &'static str, poison: &PoisonLog, event: SqsEvent, handle: F) -> SqsBatchResponse
where
    T: DeserializeOwned,
    F: Fn(T, Delivery) -> Fut,
    Fut: Future<Output = Result<(), JobError>>,
{
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let delivery = delivery_of(&record);
        let span = tracing::info_span!("job", function, message_id = %delivery.message_id, receive_count = delivery.receive_count);
        let body = record.body.as_deref().unwrap_or_default();
        let outcome = async {
            let job: T = serde_json::from_str(body).map_err(|e| JobError::Poison(format!("body is not a valid job: {e}")))?;
            handle(job, delivery.clone()).await
        }
        .instrument(span.clone())
        .await;
        let again = match outcome {
            Ok(()) => false,
            Err(JobError::Transient(reason)) => {
                span.in_scope(|| tracing::warn!(error = %reason, "job failed; SQS will deliver it again or dead-letter it"));
                true
            }
            Err(JobError::Poison(reason)) => match poison.record(function, &delivery, body, &reason).await {
                Ok(()) => {
                    span.in_scope(|| tracing::error!(error = %reason, "poison job recorded and acknowledged; it will never succeed"));
                    false
                }
                Err(e) => {
                    span.in_scope(|| tracing::warn!(error = %reason, record_error = %e, "poison job could not be recorded; SQS will deliver it again"));
                    true
                }
            },
        };
        if again {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = delivery.message_id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

fn delivery_of(record: &SqsMessage) -> Delivery {
    Delivery {
        message_id: record.message_id.clone().unwrap_or_default(),
        receive_count: record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1),
    }
}

/// An error with its whole source chain on one line. SDK errors say little at the top
/// ("service error") and everything useful in their sources.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}

/// Storage failures inside a job: an item we cannot decode will fail the same way
/// every time (poison). Everything else is worth another delivery, a request DynamoDB
/// refuses included: that is usually configuration (a policy, a table name), and the
/// dead-letter queue keeps the job's body for a redrive once it is fixed, where a
/// poison record keeps only its digest.
impl From<StoreError> for JobError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Codec(_) => JobError::Poison(format!("storage: {error}")),
            StoreError::Unavailable(_) | StoreError::ConditionFailed | StoreError::Request(_) => {
                JobError::Transient(format!("storage: {error}"))
            }
        }
    }
}
