//! The `housekeeping` function, run daily by EventBridge: retention windows,
//! exports, erasure and workspace deletion.
//!
//! It also takes privacy tasks from the privacy queue ([`handle_jobs`]): erasing a
//! person ([`erasure`]), exporting the workspace or what it holds about a person
//! ([`export`]). The daily run reports the time it ran for and what it
//! changed.

pub mod erasure;
pub mod export;
pub mod person;
pub mod retention;

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use serde::Serialize;
use tern_aws::Platform;
use tern_aws::audit_checkpoint;
use tern_aws::deletion::sweep as deletion;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct HousekeepingReport {
    #[serde(with = "time::serde::rfc3339")]
    pub ran_for: time::OffsetDateTime,
    pub items_changed: u64,
    /// Workspace deletions whose grace period ended ([`deletion`]).
    pub deletions: deletion::DeletionReport,
    /// Audit checkpoints written before entries expire ([`audit_checkpoint`]).
    pub audit_checkpoints: audit_checkpoint::CheckpointReport,
}

#[derive(Debug, thiserror::Error)]
pub enum HousekeepingError {}

pub async fn handle(platform: &Platform, event: CloudWatchEvent) -> Result<HousekeepingReport, HousekeepingError> {
    let ran_for = platform.clock().now();
    tracing::info!(event_id = event.id.as_deref().unwrap_or_default(), at = %ran_for, "housekeeping run");
    let deletions = deletion::run_due(platform).await;
    let audit_checkpoints = audit_checkpoint::run(platform).await;
    Ok(HousekeepingReport { ran_for, items_changed: deletions.items_deleted, deletions, audit_checkpoints })
}

/// What a finished privacy task did, for its record and its audit entry.
pub struct Completion {
    /// Items and objects deleted, by kind.
    pub removed: std::collections::BTreeMap<String, u64>,
    /// Items read or changed without being deleted, by kind.
    pub processed: std::collections::BTreeMap<String, u64>,
    pub export: Option<tern_aws::privacy::ExportFile>,
    pub audit_action: &'static str,
    pub audit_parameters: serde_json::Value,
}

impl Completion {
    fn retention(applied: retention::Applied) -> Self {
        let parameters =
            serde_json::json!({ "windows": applied.windows, "removed": applied.removed, "expire_earlier": applied.expire_earlier });
        Self {
            removed: applied.removed,
            processed: applied.expire_earlier,
            export: None,
            audit_action: "privacy.retention_applied",
            audit_parameters: parameters,
        }
    }

    fn erasure(removed: erasure::Removed) -> Self {
        let parameters = serde_json::json!({ "removed": removed.0 });
        Self {
            removed: removed.0,
            processed: Default::default(),
            export: None,
            audit_action: "privacy.erasure_completed",
            audit_parameters: parameters,
        }
    }

    fn export(audit_action: &'static str, done: export::Exported) -> Self {
        let parameters = serde_json::json!({ "items": done.counts, "files": done.file.files, "bytes": done.file.bytes });
        Self { removed: Default::default(), processed: done.counts, export: Some(done.file), audit_action, audit_parameters: parameters }
    }
}

/// A redelivered job past this many attempts marks its task failed (the job then
/// goes to the dead-letter queue for a person to look at).
pub const MAX_TASK_ATTEMPTS: u32 = 5;

/// Privacy tasks from the privacy queue, one per job.
pub async fn handle_jobs(
    platform: &Platform,
    event: aws_lambda_events::event::sqs::SqsEvent,
) -> aws_lambda_events::event::sqs::SqsBatchResponse {
    tern_aws::worker::process_batch("housekeeping", platform.poison(), event, |job: tern_domain::jobs::PrivacyJob, delivery| {
        run_task(platform, job, delivery)
    })
    .await
}

async fn run_task(
    platform: &Platform,
    job: tern_domain::jobs::PrivacyJob,
    delivery: tern_aws::worker::Delivery,
) -> Result<(), tern_aws::worker::JobError> {
    use tern_aws::privacy::{PrivacyTask, PrivacyTaskKind, TaskState};
    use tern_aws::worker::JobError;
    let tenant = tern_aws::Tenant::of_job(&job);
    let scoped = platform.table().scope(tenant);
    let objects = platform.bucket().scope(tenant);
    let sealer = platform.sealer();
    let transient = |e: &dyn std::fmt::Display| JobError::Transient(e.to_string());
    let Some(mut task) = scoped.get::<PrivacyTask>(&job.task_id).await.map_err(|e| transient(&e))? else {
        return Err(JobError::Poison(format!("no privacy task {} in this workspace", job.task_id)));
    };
    if matches!(task.state, TaskState::Done | TaskState::Failed) {
        return Ok(());
    }
    task.state = TaskState::Running;
    scoped.put(&task, None).await.map_err(|e| transient(&e))?;
    let global = platform.global();
    let now = platform.clock().now();
    let audit = platform.audit();
    let exporter = export::Exporter { scoped: &scoped, sealer, objects: &objects, audit, now };
    let kind = task.kind.clone();
    let outcome: Result<Completion, String> = match &kind {
        PrivacyTaskKind::Erasure { email_index } => {
            let erasure = erasure::Erasure { scoped: &scoped, global, sealer, objects: &objects, now: now.unix_timestamp() };
            erasure.run(email_index).await.map(Completion::erasure).map_err(|e| e.to_string())
        }
        PrivacyTaskKind::WorkspaceExport => {
            exporter.workspace(&mut task).await.map(|done| Completion::export("privacy.export_completed", done)).map_err(|e| e.to_string())
        }
        PrivacyTaskKind::PersonExport { email_index } => exporter
            .person(&task, email_index)
            .await
            .map(|done| Completion::export("privacy.access_export_completed", done))
            .map_err(|e| e.to_string()),
        PrivacyTaskKind::Retention { shortened } => {
            let reapply = retention::Reapply { scoped: &scoped, audit, now: now.unix_timestamp(), task_id: &task.id };
            reapply.run(shortened).await.map(Completion::retention).map_err(|e| e.to_string())
        }
    };
    match outcome {
        Ok(done) => {
            for (kind, n) in &done.removed {
                *task.removed_by_kind.entry(kind.clone()).or_default() += n;
            }
            task.removed += done.removed.values().sum::<u64>();
            task.processed_by_kind = done.processed;
            task.export = done.export;
            task.state = TaskState::Done;
            task.finished_at = Some(now.unix_timestamp());
            task.error = None;
            // A finished task is part of the workspace's log: kept for its log window.
            let kept_until = retention::finished_task_expiry(&scoped, now).await.map_err(|e| transient(&e))?;
            // The trail says what was done and how much, never to whom. The task is
            // marked done in the same transaction as its entry: a client that sees it
            // done finds the entry, and a failed append leaves it running, so the
            // redelivered job finishes it (its steps are idempotent) instead of finding
            // it done without an entry.
            let draft = tern_security::audit::AuditDraft {
                workspace_id: job.workspace_id.to_string(),
                actor: "system".into(),
                action: done.audit_action.into(),
                target: Some(task.id.clone()),
                occurred_at_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
                source_ip: None,
                user_agent: None,
                request_id: Some(job.request_id.to_string()),
                parameters: done.audit_parameters,
            };
            audit.append_with(&scoped, draft, now, &task, kept_until).await.map_err(|e| transient(&e))?;
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
