//! The shape every SQS worker shares: decode each record into its job type, run the
//! job, and report only the records that failed (`ReportBatchItemFailures`), so a
//! batch with one bad record re-delivers that record alone. Records that keep
//! failing reach the queue's dead-letter queue through its redrive policy.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use serde::de::DeserializeOwned;
use std::future::Future;
use tracing::Instrument;

/// Why one job failed. Both kinds are retried by SQS; the distinction is for the
/// logs and for operators reading a dead-letter queue: a poison message will never
/// succeed and needs a person, a transient one may succeed on the next delivery.
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

/// Runs `handle` on every record of `event` and returns the failed ones.
pub async fn process_batch<T, F, Fut>(function: &'static str, event: SqsEvent, handle: F) -> SqsBatchResponse
where
    T: DeserializeOwned,
    F: Fn(T, Delivery) -> Fut,
    Fut: Future<Output = Result<(), JobError>>,
{
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let delivery = delivery_of(&record);
        let span = tracing::info_span!("job", function, message_id = %delivery.message_id, receive_count = delivery.receive_count);
        let outcome = async {
            let job: T = serde_json::from_str(record.body.as_deref().unwrap_or_default())
                .map_err(|e| JobError::Poison(format!("body is not a valid job: {e}")))?;
            handle(job, delivery.clone()).await
        }
        .instrument(span.clone())
        .await;
        if let Err(error) = outcome {
            span.in_scope(|| tracing::warn!(error = %error, "job failed; SQS will deliver it again or dead-letter it"));
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

/// Storage failures inside a job are worth another delivery.
impl From<crate::table::StoreError> for JobError {
    fn from(error: crate::table::StoreError) -> Self {
        JobError::Transient(format!("storage: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, body: &str) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.into());
        m.body = Some(body.into());
        m.attributes.insert("ApproximateReceiveCount".into(), "2".into());
        m
    }

    #[derive(serde::Deserialize)]
    struct Job {
        n: i32,
    }

    #[tokio::test]
    async fn reports_only_the_records_that_failed() {
        let mut event = SqsEvent::default();
        event.records = vec![record("a", r#"{"n":1}"#), record("b", "not json"), record("c", r#"{"n":-1}"#), record("d", r#"{"n":2}"#)];
        let seen = std::sync::Mutex::new(Vec::new());
        let response = process_batch("test", event, |job: Job, delivery| {
            seen.lock().unwrap().push((job.n, delivery.receive_count));
            async move { if job.n < 0 { Err(JobError::Transient("negative".into())) } else { Ok(()) } }
        })
        .await;
        let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(failed, ["b", "c"]);
        assert_eq!(*seen.lock().unwrap(), [(1, 2), (-1, 2), (2, 2)]);
    }
}
