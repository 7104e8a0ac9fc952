//! Re-applying shortened retention windows to what a workspace already holds.
//!
//! Items get their TTL (`expires_at`) from the workspace's windows when they are
//! written. When an admin shortens a window, the API records a privacy task and
//! this module walks the workspace's items of the shortened categories: an item
//! already older than the new window is deleted at once (DynamoDB's TTL deletes
//! within days of expiry, not at it), any other has its TTL brought forward to
//! its creation plus the new window. It reads the windows in force when it runs,
//! so two quick changes end in the last one. Every step only lowers a TTL or
//! deletes what is past, so a redelivered task resumes and changes nothing twice.
//!
//! A longer window is not applied backwards: items written under the shorter one
//! keep the deletion date people were told of, and items it already deleted could
//! not follow anyway.

use std::collections::BTreeMap;
use tern_aws::audit::AuditLog;
use tern_aws::entities::{ContactNote, InboundText, Workspace};
use tern_aws::outreach::{SendRecord, SendState};
use tern_aws::privacy::{PrivacyTask, TaskState};
use tern_aws::table::{Entity, ScopedTable, StoreError};
use tern_domain::inbound::InboundMessage;
use tern_domain::retention::{Reapplied, RetentionCategory, RetentionSettings, reapply};

/// What re-applying did, by item kind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Deleted at once: already past the new window.
    pub removed: BTreeMap<String, u64>,
    /// Now expiring earlier.
    pub expire_earlier: BTreeMap<String, u64>,
    /// The windows applied, in days, by category.
    pub windows: BTreeMap<RetentionCategory, u16>,
}

impl Applied {
    fn count(map: &mut BTreeMap<String, u64>, kind: &str) {
        *map.entry(kind.to_string()).or_default() += 1;
    }
}

pub struct Reapply<'a> {
    pub scoped: &'a ScopedTable,
    pub audit: &'a AuditLog,
    pub now: i64,
    /// The task doing this: its own record is not a finished log entry.
    pub task_id: &'a str,
}

/// Body text an inbound item held before texts had their own item.
const INBOUND_TEXT_ATTRIBUTES: [&str; 3] = ["snippet", "intent_reason", "intent_raw_output"];

impl Reapply<'_> {
    pub async fn run(&self, shortened: &[RetentionCategory]) -> Result<Applied, StoreError> {
        let mut applied = Applied::default();
        let workspace = self.scoped.workspace().to_string();
        // A workspace deleted meanwhile has nothing left to apply windows to.
        let Some(settings) = self.scoped.get::<Workspace>(&workspace).await?.map(|w| w.retention()) else {
            return Ok(applied);
        };
        for &category in shortened {
            let Some(days) = settings.effective_days(category) else { continue };
            applied.windows.insert(category, days);
            match category {
                RetentionCategory::EmailBodies => self.email_bodies(&settings, days, &mut applied).await?,
                RetentionCategory::InboundMetadata => self.inbound_metadata(days, &mut applied).await?,
                RetentionCategory::ContactNotes => {
                    for note in self.scoped.list_all::<ContactNote>().await? {
                        self.apply::<ContactNote>(&note.id, note.created_at, days, &mut applied).await?;
                    }
                }
                RetentionCategory::Logs => self.logs(days, &mut applied).await?,
                RetentionCategory::Audit => {
                    let window = time::Duration::days(i64::from(days));
                    let mut after = 0;
                    loop {
                        let (lowered, next) = self.audit.bring_expiry_forward(self.scoped.workspace(), window, after).await?;
                        *applied.expire_earlier.entry("AUDIT".into()).or_default() += lowered;
                        match next {
                            Some(seq) => after = seq,
                            None => break,
                        }
                    }
                }
            }
        }
        Ok(applied)
    }

    /// Deletes the item now or brings its TTL forward, as the window says.
    async fn apply<E: Entity>(&self, id: &str, created_at: i64, days: u16, applied: &mut Applied) -> Result<(), StoreError> {
        match reapply(created_at, days, None, self.now) {
            Reapplied::DeleteNow => {
                self.scoped.delete::<E>(id).await?;
                Applied::count(&mut applied.removed, E::KIND);
            }
            Reapplied::ExpireAt(at) => {
                // Conditional: only when the item exists and expires later than `at`.
                if self.scoped.lower_expires_at::<E>(id, at).await? {
                    Applied::count(&mut applied.expire_earlier, E::KIND);
                }
            }
            Reapplied::Unchanged => {}
        }
        Ok(())
    }

    async fn email_bodies(&self, settings: &RetentionSettings, days: u16, applied: &mut Applied) -> Result<(), StoreError> {
        for text in self.scoped.list_all::<InboundText>().await? {
            self.apply::<InboundText>(&text.id, text.received_at, days, applied).await?;
        }
        // Messages classified before texts had their own item: their text moves
        // to one (when still inside the window) and leaves the metadata.
        for mut message in self.scoped.list_all::<InboundMessage>().await? {
            let Some(text) = InboundText::take_from(&mut message) else { continue };
            if reapply(text.received_at, days, None, self.now) != Reapplied::DeleteNow {
                let expires = settings.expiry(RetentionCategory::EmailBodies, message.received_at);
                self.scoped.put(&text, expires).await?;
            } else {
                Applied::count(&mut applied.removed, InboundText::KIND);
            }
            self.scoped.remove_attributes::<InboundMessage>(&message.id, &INBOUND_TEXT_ATTRIBUTES).await?;
        }
        Ok(())
    }

    async fn inbound_metadata(&self, days: u16, applied: &mut Applied) -> Result<(), StoreError> {
        for message in self.scoped.list_all::<InboundMessage>().await? {
            let received_at = message.received_at.unix_timestamp();
            if reapply(received_at, days, None, self.now) == Reapplied::DeleteNow {
                // Its text first: it is found through the message.
                if self.scoped.get::<InboundText>(&message.id).await?.is_some() {
                    self.scoped.delete::<InboundText>(&message.id).await?;
                    Applied::count(&mut applied.removed, InboundText::KIND);
                }
            }
            self.apply::<InboundMessage>(&message.id, received_at, days, applied).await?;
        }
        Ok(())
    }

    /// The delivery log's finished records and finished privacy tasks. Steps still
    /// in flight or waiting for a person are work, not log: they are left alone.
    async fn logs(&self, days: u16, applied: &mut Applied) -> Result<(), StoreError> {
        for record in self.scoped.list_all::<SendRecord>().await? {
            if matches!(record.state, SendState::Sent { .. } | SendState::Failed { .. }) {
                self.apply::<SendRecord>(&record.id, record.claimed_at, days, applied).await?;
            }
        }
        for task in self.scoped.list_all::<PrivacyTask>().await? {
            let finished = matches!(task.state, TaskState::Done | TaskState::Failed);
            if let (true, Some(finished_at)) = (finished && task.id != self.task_id, task.finished_at) {
                self.apply::<PrivacyTask>(&task.id, finished_at, days, applied).await?;
            }
        }
        Ok(())
    }
}

/// The TTL of a privacy task's record once it finished: the workspace's log
/// window from then (`None`: kept while the workspace exists).
pub async fn finished_task_expiry(
    scoped: &ScopedTable,
    finished_at: time::OffsetDateTime,
) -> Result<Option<time::OffsetDateTime>, StoreError> {
    let workspace = scoped.get::<Workspace>(&scoped.workspace().to_string()).await?;
    Ok(workspace.and_then(|w| w.retention().expiry(RetentionCategory::Logs, finished_at)))
}
