//! The `housekeeping` function, run daily by EventBridge: retention windows,
//! exports, erasure and workspace deletion.
//!
//! It also takes privacy tasks from the privacy queue ([`handle_jobs`]): erasing a
//! person ([`erasure`]). The daily run reports the time it ran for and what it
//! changed.

pub mod deletion;
pub mod erasure;

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use serde::Serialize;
use tern_aws::{AwsClients, Config};
use tern_domain::clock::SharedClock;

pub struct HousekeepingDeps {
    pub config: Config,
    pub clients: AwsClients,
    pub clock: SharedClock,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct HousekeepingReport {
    #[serde(with = "time::serde::rfc3339")]
    pub ran_for: time::OffsetDateTime,
    pub items_changed: u64,
    /// Workspace deletions whose grace period ended ([`deletion`]).
    pub deletions: deletion::DeletionReport,
}

#[derive(Debug, thiserror::Error)]
pub enum HousekeepingError {}

pub async fn handle(deps: &HousekeepingDeps, event: CloudWatchEvent) -> Result<HousekeepingReport, HousekeepingError> {
    let ran_for = deps.clock.now();
    tracing::info!(event_id = event.id.as_deref().unwrap_or_default(), at = %ran_for, "housekeeping run");
    let deletions = deletion::run_due(deps).await;
    Ok(HousekeepingReport { ran_for, items_changed: deletions.items_deleted, deletions })
}

/// A redelivered job past this many attempts marks its task failed (the job then
/// goes to the dead-letter queue for a person to look at).
pub const MAX_TASK_ATTEMPTS: u32 = 5;

/// Privacy tasks from the privacy queue, one per job.
pub async fn handle_jobs(deps: &HousekeepingDeps, event: aws_lambda_events::event::sqs::SqsEvent) -> aws_lambda_events::event::sqs::SqsBatchResponse {
    let sealer = tern_aws::sealing::Sealer::new(deps.clients.kms.clone(), tern_aws::sealing::DEFAULT_CACHE_TTL);
    tern_aws::worker::process_batch("housekeeping", event, |job: tern_domain::jobs::PrivacyJob, delivery| run_task(deps, &sealer, job, delivery)).await
}

async fn run_task(
    deps: &HousekeepingDeps,
    sealer: &tern_aws::sealing::Sealer,
    job: tern_domain::jobs::PrivacyJob,
    delivery: tern_aws::worker::Delivery,
) -> Result<(), tern_aws::worker::JobError> {
    use tern_aws::privacy::{PrivacyTask, PrivacyTaskKind, TaskState};
    use tern_aws::worker::JobError;
    let table = tern_aws::table::Table::new(deps.clients.dynamodb.clone(), deps.config.table.clone());
    let scoped = table.scope(job.workspace_id);
    let transient = |e: &dyn std::fmt::Display| JobError::Transient(e.to_string());
    let Some(mut task) = scoped.get::<PrivacyTask>(&job.task_id).await.map_err(|e| transient(&e))? else {
        return Err(JobError::Poison(format!("no privacy task {} in this workspace", job.task_id)));
    };
    if matches!(task.state, TaskState::Done | TaskState::Failed) {
        return Ok(());
    }
    task.state = TaskState::Running;
    scoped.put(&task, None).await.map_err(|e| transient(&e))?;
    let global = tern_aws::global::GlobalTable::new(deps.clients.dynamodb.clone(), deps.config.table.clone());
    let now = deps.clock.now();
    let outcome = match &task.kind {
        PrivacyTaskKind::Erasure { email_index } => {
            let erasure = erasure::Erasure { scoped: &scoped, global: &global, sealer, s3: &deps.clients.s3, bucket: &deps.config.bucket, now: now.unix_timestamp() };
            erasure.run(email_index).await
        }
    };
    match outcome {
        Ok(removed) => {
            for (kind, n) in &removed.0 {
                *task.removed_by_kind.entry(kind.clone()).or_default() += n;
            }
            task.removed += removed.total();
            task.state = TaskState::Done;
            task.finished_at = Some(now.unix_timestamp());
            task.error = None;
            scoped.put(&task, None).await.map_err(|e| transient(&e))?;
            // The trail says what was done and how much, never to whom.
            let draft = tern_security::audit::AuditDraft {
                workspace_id: job.workspace_id.to_string(),
                actor: "system".into(),
                action: "privacy.erasure_completed".into(),
                target: Some(task.id.clone()),
                occurred_at_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
                source_ip: None,
                user_agent: None,
                request_id: Some(job.request_id.to_string()),
                parameters: serde_json::json!({ "removed": task.removed_by_kind }),
            };
            tern_aws::audit::AuditLog::new(deps.clients.dynamodb.clone(), deps.config.table.clone())
                .append(job.workspace_id, draft, now)
                .await
                .map_err(|e| transient(&e))?;
            tracing::info!(task = %task.id, removed = task.removed, "privacy task done");
            Ok(())
        }
        Err(error) => {
            tracing::warn!(task = %task.id, error = %error, attempt = delivery.receive_count, "privacy task failed; it resumes on the next delivery");
            if delivery.receive_count >= MAX_TASK_ATTEMPTS {
                task.state = TaskState::Failed;
                task.error = Some(error.to_string());
                scoped.put(&task, None).await.map_err(|e| transient(&e))?;
            }
            Err(JobError::Transient(error.to_string()))
        }
    }
}
