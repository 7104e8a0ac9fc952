//! The `dispatch` function, run every minute by EventBridge: find the sequence steps
//! due now and queue their send jobs.
//!
//! Each due step is handed off with a lease: a conditional write moves its due time
//! a few minutes ahead (only if nobody changed it since it was read), and only then
//! is its send job queued. Two overlapping ticks cannot both win the write, so a
//! step is queued once; a tick that dies after the write leaves the step due again
//! when the lease runs out, so nothing is lost. The send worker's claim makes the
//! rare second job (a lease that ran out while the first job waited) harmless.

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use serde::Serialize;
use tern_aws::outreach::DUE_SHARDS;
use tern_aws::outreach::store::{DueIndex, DueStep};
use tern_aws::{Platform, QueueName};
use tern_domain::ids::RequestId;
use tern_domain::jobs::SendJob;

/// How long a queued step stays out of the index before it counts as due again.
/// Longer than a send job normally waits in the queue plus its visibility timeout.
pub const HAND_OFF_LEASE_SECONDS: i64 = 15 * 60;

/// At most this many steps per shard per tick; the rest wait for the next minute,
/// so one tick always finishes well inside its timeout.
pub const MAX_STEPS_PER_SHARD: usize = 2_000;

/// Concurrent lease writes per tick.
const CONCURRENCY: usize = 16;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct DispatchReport {
    #[serde(with = "time::serde::rfc3339")]
    pub ran_for: time::OffsetDateTime,
    /// Due steps seen in the index.
    pub steps_due: u64,
    /// Steps this tick handed to the send queue.
    pub steps_enqueued: u64,
    /// Steps another tick or a worker changed first (not queued here).
    pub steps_skipped: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("the due index could not be read: {0}")]
    Index(String),
    #[error("send jobs could not be queued: {0}")]
    Queue(String),
    #[error(transparent)]
    Config(#[from] tern_aws::ConfigError),
}

pub async fn handle(platform: &Platform, event: CloudWatchEvent) -> Result<DispatchReport, DispatchError> {
    // Before any step is leased: without a send queue, a leased step would only wait
    // out its lease.
    platform.config().require_queues(&[QueueName::Send])?;
    let ran_for = platform.clock().now();
    let now = ran_for.unix_timestamp();
    let index = platform.due_index();
    let mut report = DispatchReport { ran_for, steps_due: 0, steps_enqueued: 0, steps_skipped: 0 };
    for shard in 0..DUE_SHARDS {
        let due = index.due(shard, now, MAX_STEPS_PER_SHARD).await.map_err(|e| DispatchError::Index(e.to_string()))?;
        report.steps_due += due.len() as u64;
        let seen = due.len() as u64;
        let leased = lease_all(&index, due, now + HAND_OFF_LEASE_SECONDS).await?;
        report.steps_skipped += seen - leased.len() as u64;
        let jobs: Vec<SendJob> = leased
            .into_iter()
            .map(|step| SendJob {
                workspace_id: step.workspace,
                request_id: RequestId::generate(),
                enrollment_id: step.enrollment_id,
                step: step.step,
            })
            .collect();
        platform.queues().send_batch(&jobs).await.map_err(|e| DispatchError::Queue(e.to_string()))?;
        report.steps_enqueued += jobs.len() as u64;
    }
    tracing::info!(event_id = event.id.as_deref().unwrap_or_default(), at = %ran_for, due = report.steps_due,
        enqueued = report.steps_enqueued, skipped = report.steps_skipped, "dispatch tick");
    Ok(report)
}

/// Leases the steps, a few writes at a time; returns the ones this tick won.
async fn lease_all(index: &DueIndex, due: Vec<DueStep>, until: i64) -> Result<Vec<DueStep>, DispatchError> {
    let mut won = Vec::with_capacity(due.len());
    let mut pending = due.into_iter();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < CONCURRENCY {
            let Some(step) = pending.next() else { break };
            let index = index.clone();
            running.spawn(async move { index.lease(&step, until).await.map(|ok| ok.then_some(step)) });
        }
        let Some(done) = running.join_next().await else { return Ok(won) };
        match done {
            Ok(Ok(Some(step))) => won.push(step),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => return Err(DispatchError::Index(e.to_string())),
            Err(e) => return Err(DispatchError::Index(format!("lease task failed: {e}"))),
        }
    }
}
