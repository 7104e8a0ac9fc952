//! Privacy tasks: what a workspace asked Tern to do with personal data (erase a
//! person, export its data), recorded in the workspace with their progress. The API records a task
//! and queues a [`tern_domain::jobs::PrivacyJob`]; the housekeeping function does
//! the work and updates the task, so a redelivered job resumes it and the API can
//! show how far it got.
//!
//! A task never holds an address in clear: a person is named by the workspace's
//! blind index of their address.

use crate::table::Entity;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PrivacyTaskKind {
    /// Everything held about one person (by the blind index of their address) is
    /// deleted; a suppression by blind index stays so they are never written to again.
    Erasure { email_index: String },
    /// Everything the workspace holds, packed as a zip under the workspace's key.
    WorkspaceExport,
    /// Everything held about one person (a data-subject access request), as a zip.
    PersonExport { email_index: String },
    /// Retention windows were shortened: existing items of these categories are
    /// made to follow the workspace's windows in force when the task runs (expire
    /// earlier, or go at once when already past).
    Retention { shortened: Vec<tern_domain::retention::RetentionCategory> },
}

/// A finished export: where its zip is (fetched through a short-lived presigned URL
/// the API makes on request) and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportFile {
    /// Object key in the data bucket, under `exports/<workspace>/`.
    pub key: String,
    pub bytes: u64,
    /// Files inside the zip.
    pub files: u32,
    /// Unix time after which the object is gone (the bucket's lifecycle on `exports/`).
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Queued,
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacyTask {
    pub id: String,
    #[serde(flatten)]
    pub kind: PrivacyTaskKind,
    pub state: TaskState,
    /// Items (and objects) removed so far.
    pub removed: u64,
    /// What was removed, by kind (`CONTACT: 1`, `ENROLLMENT: 2`, …).
    #[serde(default)]
    pub removed_by_kind: std::collections::BTreeMap<String, u64>,
    /// Items read or changed so far, by kind, for tasks that remove nothing (exports).
    #[serde(default)]
    pub processed_by_kind: std::collections::BTreeMap<String, u64>,
    /// An export's zip, once written.
    #[serde(default)]
    pub export: Option<ExportFile>,
    pub requested_by: String,
    pub requested_at: i64,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
}

impl PrivacyTask {
    /// A new task, queued, named by a time-ordered id.
    pub fn queued(kind: PrivacyTaskKind, requested_by: &str, requested_at: i64) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            kind,
            state: TaskState::Queued,
            removed: 0,
            removed_by_kind: Default::default(),
            processed_by_kind: Default::default(),
            export: None,
            requested_by: requested_by.to_string(),
            requested_at,
            finished_at: None,
            error: None,
        }
    }
}

impl Entity for PrivacyTask {
    const KIND: &'static str = "PRIVACYTASK";
    const COLLECTION: bool = true;
    fn id(&self) -> &str {
        &self.id
    }
}
