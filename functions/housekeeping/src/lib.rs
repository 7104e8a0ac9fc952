//! The `housekeeping` function, run daily by EventBridge: retention windows,
//! exports, erasure and workspace deletion.
//!
//! Those jobs arrive with the privacy issue; until then a run reports the time it
//! ran for and that it had nothing to do.

pub mod deletion;

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
