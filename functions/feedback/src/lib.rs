//! The `feedback` worker: SES bounce, complaint and delivery notifications, which
//! arrive as SNS envelopes on the feedback queue.
//!
//! The send worker tags every SES message with its workspace and enrollment, and
//! configuration-set events carry the tags back; the notification is then applied
//! with the same effects as the classifier's verdict on an inbound bounce: a hard
//! bounce or a complaint stops the enrollment and suppresses the address and counts
//! against the mailbox; a soft one counts (and suppresses after repeats); SES's
//! `Transient`/`General` bounces, where out-of-office replies land too, change
//! nothing. A notification for mail Tern did not tag (or a deleted enrollment) is
//! acknowledged and logged, never retried forever.
//!
//! SES inbound shares the queue: a receipt rule on the inbound domain writes each
//! received message to the bucket under `ses-inbound/` (or sends it inline) and
//! notifies the same topic. A `Received` notification is taken in exactly as a
//! webhook post is (`tern_aws::inbound::Intake`: routed by recipient, re-stored
//! under the workspace's key, queued for classification), then SES's copy is
//! deleted.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use tern_aws::inbound::{Intake, IntakeError, SES_INBOUND_PREFIX};
use tern_aws::outreach::EnrollmentRecord;
use tern_aws::outreach::effects;
use tern_aws::worker::{Delivery, JobError, process_batch};
use tern_aws::{Lookup, Platform, Tenant};
use tern_domain::ids::{RequestId, WorkspaceId};
use tern_mail::ses::{ENROLLMENT_TAG, WORKSPACE_TAG, enrollment_from_tag};
use tern_mail::webhook::SesContent;

/// The SQS body is the SNS envelope; the parser takes it whole.
#[derive(Debug, serde::Deserialize)]
#[serde(transparent)]
struct Envelope(serde_json::Value);

pub async fn handle(platform: &Platform, event: SqsEvent) -> SqsBatchResponse {
    process_batch("feedback", platform.poison(), event, |envelope: Envelope, delivery| apply(platform, envelope, delivery)).await
}

async fn apply(platform: &Platform, envelope: Envelope, _delivery: Delivery) -> Result<(), JobError> {
    let bytes = serde_json::to_vec(&envelope.0).map_err(|e| JobError::Poison(e.to_string()))?;
    if tern_mail::webhook::is_ses_receipt(&bytes) {
        return receive(platform, &bytes).await;
    }
    let feedback = tern_mail::ses::parse_notification(&bytes).map_err(|e| JobError::Poison(format!("not an SES notification: {e}")))?;
    let Some(kind) = feedback.kind.classifier_kind() else {
        tracing::info!(kind = ?feedback.kind, "SES notification needs no action");
        return Ok(());
    };
    let tag = |name: &str| feedback.tags.get(name).and_then(|values| values.first()).cloned();
    let workspace = tag(WORKSPACE_TAG).and_then(|w| WorkspaceId::parse(&w).ok());
    let enrollment_id = tag(ENROLLMENT_TAG)
        .map(|e| enrollment_from_tag(&e))
        .or_else(|| feedback.message_id.as_deref().and_then(effects::enrollment_of_message_id));
    let (Some(workspace), Some(enrollment_id)) = (workspace, enrollment_id) else {
        tracing::warn!(ses_message_id = ?feedback.ses_message_id, "SES notification for mail Tern did not tag; acknowledged");
        return Ok(());
    };
    let scoped = platform.table().scope(Tenant::found(workspace, Lookup::SentMailTag));
    let Some(enrollment) = scoped.get::<EnrollmentRecord>(&enrollment_id).await? else {
        tracing::info!(enrollment = %enrollment_id, "SES notification for an enrollment that no longer exists");
        return Ok(());
    };
    let now = platform.clock().now().unix_timestamp();
    let effect = effects::apply(&scoped, &enrollment, kind, None, now).await?;
    tracing::info!(enrollment = %enrollment.id, kind = kind.as_str(), effect = %effect, "SES feedback applied");
    Ok(())
}

/// Takes in one message SES received.
async fn receive(platform: &Platform, notification: &[u8]) -> Result<(), JobError> {
    let receipt = tern_mail::webhook::ses_receipt(notification).map_err(|e| JobError::Poison(format!("SES receipt: {e}")))?;
    let (message, stored_at) = match receipt.content {
        SesContent::Inline(message) => (message, None),
        SesContent::Stored { bucket, key } => {
            // Only our own bucket's SES prefix: a notification must not make us read
            // (or delete) anything else.
            let Some(object) = platform.bucket().ses_inbound(&bucket, &key) else {
                return Err(JobError::Poison(format!("SES receipt points outside {}/{SES_INBOUND_PREFIX}", platform.config().bucket)));
            };
            let Some(body) = object.get().await.map_err(|e| JobError::Transient(e.to_string()))? else {
                // Already taken in and deleted by an earlier delivery of this notification.
                tracing::info!(key = %key, "SES receipt's message is gone; already taken in");
                return Ok(());
            };
            (body, Some(object))
        }
    };
    let intake = Intake::new(platform);
    match intake.accept(message, receipt.transport, None, RequestId::generate()).await {
        Ok(accepted) => tracing::info!(inbound_id = %accepted.id, ses_message_id = ?receipt.ses_message_id, "SES inbound mail taken in"),
        Err(IntakeError::UnknownRecipient) => {
            tracing::warn!(ses_message_id = ?receipt.ses_message_id, "SES inbound mail for no workspace; dropped")
        }
        Err(IntakeError::Unavailable(e)) => return Err(JobError::Transient(e)),
    }
    if let Some(object) = stored_at {
        object.delete().await.map_err(|e| JobError::Transient(e.to_string()))?;
    }
    Ok(())
}
