//! Stands in for Lambda's SQS event-source mapping.
//!
//! Like the real one it long-polls the queue, hands the handler a real `SqsEvent`,
//! and with `ReportBatchItemFailures` deletes only the records the handler did not
//! report as failed; without it, any failure leaves the whole batch. Failed records
//! stay invisible for the queue's visibility timeout, come back, and after the
//! redrive policy's maxReceiveCount the stand-in moves them to the dead-letter queue.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Hands one batch to a function; `None` when the function takes no SQS events.
pub type Invoke = Arc<dyn Fn(SqsEvent) -> Pin<Box<dyn Future<Output = Option<SqsBatchResponse>> + Send>> + Send + Sync>;

pub struct Poller {
    /// For logs.
    pub function: String,
    pub invoke: Invoke,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub queue_arn: String,
    pub batch_size: u32,
    pub report_batch_item_failures: bool,
    pub wait_seconds: i32,
    pub shutdown: watch::Receiver<bool>,
}

pub async fn run(mut poller: Poller) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let receive = poller
            .sqs
            .receive_message()
            .queue_url(&poller.queue_url)
            .max_number_of_messages(poller.batch_size.clamp(1, 10) as i32)
            .wait_time_seconds(poller.wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send();
        let received = tokio::select! {
            _ = poller.shutdown.wait_for(|stop| *stop) => return,
            received = receive => received,
        };
        let messages = match received {
            Ok(output) => {
                backoff = Duration::from_millis(200);
                output.messages.unwrap_or_default()
            }
            Err(error) => {
                tracing::warn!(function = %poller.function, error = %tern_aws::worker::error_chain(&error), "poll failed");
                tokio::select! {
                    _ = poller.shutdown.wait_for(|stop| *stop) => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        if messages.is_empty() {
            if poller.wait_seconds == 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            continue;
        }
        deliver(&poller, messages).await;
    }
}

async fn deliver(poller: &Poller, messages: Vec<aws_sdk_sqs::types::Message>) {
    let mut event = SqsEvent::default();
    event.records = messages.iter().map(|m| record(m, &poller.queue_arn)).collect();
    let all_ids: Vec<String> = event.records.iter().filter_map(|r| r.message_id.clone()).collect();

    // A panicking handler fails its whole batch, as a crashed Lambda invocation does.
    let outcome = tokio::spawn((poller.invoke)(event)).await;
    let failed: HashSet<String> = match outcome {
        Ok(Some(response)) if poller.report_batch_item_failures => {
            response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
        }
        Ok(Some(response)) if response.batch_item_failures.is_empty() => HashSet::new(),
        Ok(_) | Err(_) => all_ids.iter().cloned().collect(),
    };

    let entries: Vec<DeleteMessageBatchRequestEntry> = messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m.message_id.as_ref().is_some_and(|id| !failed.contains(id)))
        .filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                .build()
                .ok()
        })
        .collect();
    if entries.is_empty() {
        return;
    }
    if let Err(error) = poller.sqs.delete_message_batch().queue_url(&poller.queue_url).set_entries(Some(entries)).send().await {
        // Not fatal: the messages come back after the visibility timeout and the
        // idempotent workers see them again.
        tracing::warn!(function = %poller.function, error = %tern_aws::worker::error_chain(&error), "delete failed");
    }
}

fn record(message: &aws_sdk_sqs::types::Message, queue_arn: &str) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = message.message_id.clone();
    record.receipt_handle = message.receipt_handle.clone();
    record.body = message.body.clone();
    record.md5_of_body = message.md5_of_body.clone();
    record.attributes =
        message.attributes.as_ref().map(|a| a.iter().map(|(k, v)| (k.as_str().to_string(), v.clone())).collect()).unwrap_or_default();
    record.event_source = Some("aws:sqs".into());
    record.event_source_arn = Some(queue_arn.to_string());
    record.aws_region = Some("us-east-1".into());
    record
}
