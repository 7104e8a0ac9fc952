//! The daily audit checkpoint (issue 12, "audit trail after expiry").
//!
//! Audit entries expire by DynamoDB TTL after the workspace's audit window, so a
//! verification from entry 1 would report every old enough trail as broken. Before
//! that happens, the daily run writes each workspace's checkpoint
//! (`tern_aws::audit::AuditLog::write_checkpoint`): the first entry that still
//! exists after [`CHECKPOINT_HORIZON`] and the chain's head, MACed with the
//! platform's anchor key. `GET …/audit/verify` starts from it; entries missing
//! from there on, a gap, or a recomputed chain are still reported.
//!
//! It reads across workspaces (to find them), so it lives here by name; the
//! housekeeping function runs it.
//!
//! Workspaces are found by one Scan of the table for workspace items (keys only
//! projected). Daily and proportional to the table's size: the price of not
//! keeping a separate registry of workspaces; a sparse index is the way out once
//! the table grows large.

use crate::Platform;
use crate::audit::CHECKPOINT_HORIZON;
use crate::table::AttributeValue;
use std::collections::HashMap;
use tern_domain::ids::WorkspaceId;

#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckpointReport {
    pub workspaces: u64,
    pub written: u64,
    /// Workspaces whose checkpoint failed this time (logged; tomorrow's run retries).
    pub failed: u64,
}

pub async fn run(platform: &Platform) -> CheckpointReport {
    let audit = platform.audit();
    let now = platform.clock().now();
    let horizon = (now + CHECKPOINT_HORIZON).unix_timestamp();
    let mut report = CheckpointReport::default();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let page = platform
            .clients()
            .dynamodb
            .scan()
            .table_name(&platform.config().table)
            .filter_expression("sk = :workspace")
            .expression_attribute_values(":workspace", AttributeValue::S("WORKSPACE".into()))
            .projection_expression("pk, sk, id")
            .set_exclusive_start_key(start.take())
            .send()
            .await;
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                tracing::error!(error = %crate::worker::error_chain(&e), "listing workspaces for audit checkpoints failed");
                report.failed += 1;
                return report;
            }
        };
        for item in page.items.unwrap_or_default() {
            let Some(workspace) = item.get("id").and_then(|v| v.as_s().ok()).and_then(|id| WorkspaceId::parse(id).ok()) else { continue };
            report.workspaces += 1;
            match audit.write_checkpoint(workspace, horizon, now).await {
                Ok(Some(from)) => {
                    report.written += 1;
                    tracing::info!(workspace = %workspace, from_seq = from, "audit checkpoint written");
                }
                Ok(None) => {}
                Err(e) => {
                    report.failed += 1;
                    tracing::error!(workspace = %workspace, error = %e, "audit checkpoint failed; tomorrow's run retries");
                }
            }
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return report,
        }
    }
}
