//! The `dispatch` function, run every minute by EventBridge: find the sequence steps
//! due now and queue their send jobs.
//!
//! The due-step index and its queries arrive with the outreach engine; until then
//! a tick reports the time it ran for and that it found no due steps.

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use serde::Serialize;
use tern_aws::{AwsClients, Config};
use tern_domain::clock::SharedClock;

pub struct DispatchDeps {
    pub config: Config,
    pub clients: AwsClients,
    pub clock: SharedClock,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct DispatchReport {
    #[serde(with = "time::serde::rfc3339")]
    pub ran_for: time::OffsetDateTime,
    pub steps_enqueued: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {}

pub async fn handle(deps: &DispatchDeps, event: CloudWatchEvent) -> Result<DispatchReport, DispatchError> {
    let ran_for = deps.clock.now();
    tracing::info!(event_id = event.id.as_deref().unwrap_or_default(), at = %ran_for, "dispatch tick");
    Ok(DispatchReport { ran_for, steps_enqueued: 0 })
}
