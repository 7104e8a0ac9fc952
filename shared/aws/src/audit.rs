//! The audit log's storage: append-only, one hash chain per workspace.
//!
//! Entries live in their own partition, `pk = WS#<ws>#AUDIT`, `sk = <seq, 20 digits>`,
//! so a workspace's trail reads in order and template.yaml can deny updates and
//! deletes of that partition to every role but housekeeping. This module offers
//! append and read, and one housekeeping operation that only moves entries' TTL
//! earlier (a shortened audit window): the data layer has no way to change an entry.
//! The entry is stored as its exact JSON (plus a few attributes for filtering) so
//! what is read back hashes to what was written.

use crate::table::{Condition, Entity, ScopedTable, StoreError, write_item};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use std::collections::HashMap;
use tern_domain::ids::WorkspaceId;
use tern_security::audit::{AuditDraft, AuditEntry};
use time::OffsetDateTime;

/// Retention every audit entry keeps at least, whatever a workspace chooses.
pub const MINIMUM_AUDIT_RETENTION: time::Duration =
    time::Duration::days(tern_domain::retention::MINIMUM_AUDIT_RETENTION_DAYS as i64);

/// How often one append tries for the next position before it gives up.
const APPEND_ATTEMPTS: u32 = 32;

#[derive(Debug, Clone)]
pub struct AuditLog {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn partition(workspace: WorkspaceId) -> String {
    format!("WS#{workspace}#AUDIT")
}

fn sort_key(seq: u64) -> String {
    format!("{seq:020}")
}

impl AuditLog {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Appends one entry after the workspace's latest. Two concurrent appends race
    /// for the same position with a conditional write; the loser re-reads and retries.
    /// The entry is kept for the workspace's audit window (read here, so every
    /// caller follows the window in force; never below [`MINIMUM_AUDIT_RETENTION`]).
    pub async fn append(&self, workspace: WorkspaceId, draft: AuditDraft, now: OffsetDateTime) -> Result<AuditEntry, StoreError> {
        self.append_inner(workspace, draft, now, None).await
    }

    /// Appends one entry and writes `entity` (an item of the same workspace) in one
    /// transaction: both are written or neither. For state whose change must never
    /// be visible without its entry (a privacy task marked done: marking it first and
    /// appending after lost the entry for good when the append failed, since the
    /// redelivered job found the task done and stopped).
    pub async fn append_with<E: Entity>(
        &self,
        scoped: &ScopedTable,
        draft: AuditDraft,
        now: OffsetDateTime,
        entity: &E,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<AuditEntry, StoreError> {
        let item = scoped.item_of(entity, expires_at)?;
        self.append_inner(scoped.workspace(), draft, now, Some(item)).await
    }

    async fn append_inner(
        &self,
        workspace: WorkspaceId,
        draft: AuditDraft,
        now: OffsetDateTime,
        with: Option<HashMap<String, AttributeValue>>,
    ) -> Result<AuditEntry, StoreError> {
        let retention = self.retention(workspace).await?;
        // Each lost race means another append took the position, so with n appends in
        // flight one loses at most n - 1 times; a short random pause keeps those in
        // flight from retrying in lockstep.
        for attempt in 0..APPEND_ATTEMPTS {
            if attempt > 0 {
                let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % (2 * attempt as u64 + 1);
                tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
            }
            let previous = self.latest(workspace).await?;
            let entry = AuditEntry::append(previous.as_ref(), draft.clone()).map_err(|e| StoreError::Codec(e.to_string()))?;
            let json = serde_json::to_string(&entry).map_err(|e| StoreError::Codec(e.to_string()))?;
            let expires = (now + retention).unix_timestamp();
            let item = HashMap::from([
                ("pk".to_string(), AttributeValue::S(partition(workspace))),
                ("sk".to_string(), AttributeValue::S(sort_key(entry.seq))),
                ("ws".to_string(), AttributeValue::S(workspace.to_string())),
                ("action".to_string(), AttributeValue::S(entry.action.clone())),
                ("actor".to_string(), AttributeValue::S(entry.actor.clone())),
                ("entry".to_string(), AttributeValue::S(json)),
                (crate::table::EXPIRES_AT.to_string(), AttributeValue::N(expires.to_string())),
            ]);
            let written = match &with {
                None => write_item(&self.client, &self.table, item, Condition::New).await,
                Some(other) => self.write_both(item, other.clone()).await,
            };
            match written {
                Ok(()) => return Ok(entry),
                Err(StoreError::ConditionFailed) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Unavailable("audit append kept losing the race for the next position".into()))
    }

    /// The entry (at a position that must still be free) and another item, in one
    /// transaction. A lost race for the position is [`StoreError::ConditionFailed`].
    async fn write_both(&self, entry: HashMap<String, AttributeValue>, other: HashMap<String, AttributeValue>) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Codec(e.to_string());
        let entry = Put::builder()
            .table_name(&self.table)
            .set_item(Some(entry))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build)?;
        let other = Put::builder().table_name(&self.table).set_item(Some(other)).build().map_err(build)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(entry).build())
            .transact_items(TransactWriteItem::builder().put(other).build())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let Err(error) = result else { return Ok(()) };
        let reasons: Vec<String> = match error.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_string()).collect()
            }
            _ => Vec::new(),
        };
        if reasons.first().is_some_and(|code| code == "ConditionalCheckFailed") {
            return Err(StoreError::ConditionFailed);
        }
        // Another write to the same position was in flight: the same race, lost.
        if reasons.iter().any(|code| code == "TransactionConflict") {
            return Err(StoreError::ConditionFailed);
        }
        Err(StoreError::from_sdk(error))
    }

    /// The workspace's audit window; the minimum once the workspace is gone (its
    /// deletion's last lines).
    async fn retention(&self, workspace: WorkspaceId) -> Result<time::Duration, StoreError> {
        let settings = crate::table::Table::new(self.client.clone(), self.table.clone())
            .scope(workspace)
            .get::<crate::entities::Workspace>(&workspace.to_string())
            .await?;
        let window = settings.and_then(|w| w.retention().window(tern_domain::retention::RetentionCategory::Audit));
        Ok(window.unwrap_or(MINIMUM_AUDIT_RETENTION).max(MINIMUM_AUDIT_RETENTION))
    }

    /// Brings entries' TTL forward to `window` after each entry (a shortened audit
    /// window, never below the minimum), from `after` on, a page at a time; the
    /// entries themselves are not touched. Only the housekeeping function may
    /// (template.yaml). Returns how many entries now expire earlier and the last
    /// sequence number read, to resume from.
    pub async fn bring_expiry_forward(&self, workspace: WorkspaceId, window: time::Duration, after: u64) -> Result<(u64, Option<u64>), StoreError> {
        let window = window.max(MINIMUM_AUDIT_RETENTION);
        let entries = self.entries(workspace, after, 500).await?;
        let mut lowered = 0;
        for entry in &entries {
            let due = entry.occurred_at_ms.div_euclid(1000) + window.whole_seconds();
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(partition(workspace)))
                .key("sk", AttributeValue::S(sort_key(entry.seq)))
                .update_expression("SET #e = :at")
                .condition_expression("attribute_exists(pk) AND (attribute_not_exists(#e) OR #e > :at)")
                .expression_attribute_names("#e", crate::table::EXPIRES_AT)
                .expression_attribute_values(":at", AttributeValue::N(due.to_string()))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(StoreError::from_sdk);
            match result {
                Ok(_) => lowered += 1,
                Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e),
            }
        }
        let next = (entries.len() == 500).then(|| entries.last().map(|e| e.seq)).flatten();
        Ok((lowered, next))
    }

    async fn latest(&self, workspace: WorkspaceId) -> Result<Option<AuditEntry>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(partition(workspace)))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        output.items.unwrap_or_default().into_iter().next().map(decode).transpose()
    }

    /// Entries with `seq > after`, oldest first, at most `limit`.
    pub async fn entries(&self, workspace: WorkspaceId, after: u64, limit: i32) -> Result<Vec<AuditEntry>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk > :after")
            .expression_attribute_values(":pk", AttributeValue::S(partition(workspace)))
            .expression_attribute_values(":after", AttributeValue::S(sort_key(after)))
            .limit(limit.clamp(1, 1000))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        output.items.unwrap_or_default().into_iter().map(decode).collect()
    }
}

fn decode(mut item: HashMap<String, AttributeValue>) -> Result<AuditEntry, StoreError> {
    let json = match item.remove("entry") {
        Some(AttributeValue::S(json)) => json,
        _ => return Err(StoreError::Codec("audit item without its entry".into())),
    };
    serde_json::from_str(&json).map_err(|e| StoreError::Codec(e.to_string()))
}
