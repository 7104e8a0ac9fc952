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

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use tern_aws::outreach::effects;
use tern_aws::outreach::EnrollmentRecord;
use tern_aws::table::Table;
use tern_aws::worker::{Delivery, JobError, process_batch};
use tern_aws::{AwsClients, Config};
use tern_domain::clock::SharedClock;
use tern_domain::ids::WorkspaceId;
use tern_mail::ses::{ENROLLMENT_TAG, WORKSPACE_TAG, enrollment_from_tag};

pub struct FeedbackDeps {
    pub config: Config,
    pub clients: AwsClients,
    pub clock: SharedClock,
}

/// The SQS body is the SNS envelope; the parser takes it whole.
#[derive(Debug, serde::Deserialize)]
#[serde(transparent)]
struct Envelope(serde_json::Value);

pub async fn handle(deps: &FeedbackDeps, event: SqsEvent) -> SqsBatchResponse {
    process_batch("feedback", event, |envelope: Envelope, delivery| apply(deps, envelope, delivery)).await
}

async fn apply(deps: &FeedbackDeps, envelope: Envelope, _delivery: Delivery) -> Result<(), JobError> {
    let bytes = serde_json::to_vec(&envelope.0).map_err(|e| JobError::Poison(e.to_string()))?;
    let feedback = tern_mail::ses::parse_notification(&bytes).map_err(|e| JobError::Poison(format!("not an SES notification: {e}")))?;
    let Some(kind) = feedback.kind.classifier_kind() else {
        tracing::info!(kind = ?feedback.kind, "SES notification needs no action");
        return Ok(());
    };
    let tag = |name: &str| feedback.tags.get(name).and_then(|values| values.first()).cloned();
    let workspace = tag(WORKSPACE_TAG).and_then(|w| WorkspaceId::parse(&w).ok());
    let enrollment_id = tag(ENROLLMENT_TAG)
        .map(|e| enrollment_from_tag(&e))
        .or_else(|| feedback.message_id.as_deref().and_then(effects::enrollment_of_message_id).map(String::from));
    let (Some(workspace), Some(enrollment_id)) = (workspace, enrollment_id) else {
        tracing::warn!(ses_message_id = ?feedback.ses_message_id, "SES notification for mail Tern did not tag; acknowledged");
        return Ok(());
    };
    let scoped = Table::new(deps.clients.dynamodb.clone(), deps.config.table.clone()).scope(workspace);
    let Some(enrollment) = scoped.get::<EnrollmentRecord>(&enrollment_id).await? else {
        tracing::info!(enrollment = %enrollment_id, "SES notification for an enrollment that no longer exists");
        return Ok(());
    };
    let now = deps.clock.now().unix_timestamp();
    let effect = effects::apply(&scoped, &enrollment, kind, None, now).await?;
    tracing::info!(enrollment = %enrollment.id, kind, effect = %effect, "SES feedback applied");
    Ok(())
}
