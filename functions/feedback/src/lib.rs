//! The `feedback` worker: SES bounce, complaint and delivery notifications, which
//! arrive as SNS envelopes on the feedback queue.
//!
//! Linking a notification to its send and suppressing the address arrive with the
//! inbound-mail issue. Until then a notification is refused as not yet processable,
//! so it is retried and then parked in the dead-letter queue, never dropped.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use tern_aws::worker::{JobError, process_batch};
use tern_aws::{AwsClients, Config};
use tern_domain::clock::SharedClock;

pub struct FeedbackDeps {
    pub config: Config,
    pub clients: AwsClients,
    pub clock: SharedClock,
}

/// The SNS envelope around an SES notification.
#[derive(Debug, serde::Deserialize)]
struct SnsEnvelope {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Message")]
    message: String,
}

pub async fn handle(_deps: &FeedbackDeps, event: SqsEvent) -> SqsBatchResponse {
    process_batch("feedback", event, |envelope: SnsEnvelope, _delivery| async move {
        let notification: serde_json::Value = serde_json::from_str(&envelope.message)
            .map_err(|e| JobError::Poison(format!("SNS {} message is not JSON: {e}", envelope.kind)))?;
        let kind = notification["notificationType"].as_str().or(notification["eventType"].as_str()).unwrap_or("unknown");
        Err(JobError::Transient(format!("SES {kind} notifications are not processed yet; kept for redrive")))
    })
    .await
}
