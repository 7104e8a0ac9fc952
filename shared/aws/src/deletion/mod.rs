//! Workspace deletion (issue #7): the owner schedules it, a grace period lets it be
//! cancelled, then housekeeping deletes every item and object of the workspace and
//! its sub-workspaces and schedules the workspace's KMS key for deletion
//! (crypto-shredding: what is left anywhere, backups included, cannot be opened).
//!
//! The schedule lives in two places: `Workspace::deletion_scheduled_for` (what the
//! API shows and the send worker checks) and a global [`PendingDeletion`] record,
//! listed by due date through `gsi1`, so housekeeping finds due deletions with one
//! Query instead of reading every workspace.

pub mod sweep;

use crate::global::{GlobalKind, GlobalRecord};
use serde::{Deserialize, Serialize};

/// How long a scheduled deletion can still be cancelled.
pub const GRACE_PERIOD: time::Duration = time::Duration::days(7);

/// KMS's waiting period before the key is destroyed. The grace period was the
/// owner's undo window; this one is the operators' (a key can be restored from
/// PendingDeletion, the data items cannot), so it is KMS's minimum.
pub const KEY_DELETION_WINDOW_DAYS: i32 = 7;

/// The `gsi1pk` every pending deletion is listed under.
pub const PENDING_DELETIONS: &str = "DELETION";

/// A workspace whose deletion is scheduled. Removed by housekeeping after
/// everything of the workspace is gone (the last step, so a crashed run is resumed
/// by the next one), or by the owner cancelling during the grace period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDeletion {
    pub workspace_id: String,
    /// Kept here because the workspace item holding it is deleted before the key is
    /// scheduled for deletion: a resumed run still knows which key to shred.
    pub kms_key_id: String,
    /// Unix time from which housekeeping deletes it.
    pub due_at: i64,
    /// Who asked (a user id), or `parent:<ws>` for a sub-workspace deleted with its agency.
    pub requested_by: String,
    pub requested_at: i64,
}

impl GlobalRecord for PendingDeletion {
    const KIND: GlobalKind = GlobalKind::PendingDeletion;
    fn key(&self) -> String {
        self.workspace_id.clone()
    }
    /// Sorted by due date (zero-padded so text order is time order).
    fn gsi1(&self) -> Option<(String, String)> {
        Some((
            PENDING_DELETIONS.to_string(),
            format!("{}#{:020}#{}", GlobalKind::PendingDeletion.prefix(), self.due_at.max(0), self.workspace_id),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_deletions_sort_by_due_date() {
        let at = |due_at| PendingDeletion {
            workspace_id: "w".into(),
            kms_key_id: "k".into(),
            due_at,
            requested_by: "u".into(),
            requested_at: 0,
        };
        let (early, late) = (at(999).gsi1().unwrap().1, at(1_000).gsi1().unwrap().1);
        assert!(early < late, "{early} sorts before {late}");
        assert!(early.starts_with("DELETION#"));
    }
}
