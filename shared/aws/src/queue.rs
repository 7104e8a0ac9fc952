//! Putting jobs on queues. Jobs are the typed messages of `tern_domain::jobs`.

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("job could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("SQS refused the message: {0}")]
    Send(String),
    #[error("{failed} of {total} messages were not accepted by SQS")]
    Partial { failed: usize, total: usize },
}

/// Sends one job; returns SQS's message id.
pub async fn enqueue<T: Serialize>(sqs: &aws_sdk_sqs::Client, queue_url: &str, job: &T) -> Result<String, QueueError> {
    let body = serde_json::to_string(job)?;
    let sent = sqs
        .send_message()
        .queue_url(queue_url)
        .message_body(body)
        .send()
        .await
        .map_err(|e| QueueError::Send(crate::worker::error_chain(&e)))?;
    Ok(sent.message_id.unwrap_or_default())
}

/// Sends many jobs, ten per request (SQS's batch limit), so a thousand jobs cost a
/// hundred requests rather than a thousand.
pub async fn enqueue_batch<T: Serialize>(sqs: &aws_sdk_sqs::Client, queue_url: &str, jobs: &[T]) -> Result<(), QueueError> {
    use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
    for chunk in jobs.chunks(10) {
        let mut request = sqs.send_message_batch().queue_url(queue_url);
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
