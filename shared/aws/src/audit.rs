//! The audit log's storage: append-only, one hash chain per workspace.
//!
//! Entries live in their own partition, `pk = WS#<ws>#AUDIT`, `sk = <seq, 20 digits>`,
//! so a workspace's trail reads in order and template.yaml can deny updates and
//! deletes of that partition to every role but housekeeping. This module offers
//! append and read, and one housekeeping operation that only moves entries' TTL
//! earlier (a shortened audit window): the data layer has no way to change an entry.
//! The entry is stored as its exact JSON (plus a few attributes for filtering) so
//! what is read back hashes to what was written.

use crate::global::{GlobalKind, GlobalRecord, GlobalTable};
use crate::sealing::{FieldIdentity, SealedValue, Sealer};
use crate::table::{Condition, Entity, ScopedTable, StoreError, write_item};
use crate::tenant::Tenant;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use tern_domain::ids::WorkspaceId;
use tern_security::audit::{AnchorKey, AuditCheckpoint, AuditDraft, AuditEntry, AuditHash, AuditMac, ChainBreak, verify_anchored};
use time::OffsetDateTime;

/// Retention every audit entry keeps at least, whatever a workspace chooses.
pub const MINIMUM_AUDIT_RETENTION: time::Duration = time::Duration::days(tern_domain::retention::MINIMUM_AUDIT_RETENTION_DAYS as i64);

/// How often one append tries for the next position before it gives up.
const APPEND_ATTEMPTS: u32 = 32;

#[derive(Clone)]
pub struct AuditLog {
    client: aws_sdk_dynamodb::Client,
    table: String,
    anchor: Arc<Anchor>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").field("table", &self.table).finish_non_exhaustive()
    }
}

/// Where the anchor key comes from: sealed under the platform key (purpose
/// [`ANCHOR_PURPOSE`], in the platform's scope), stored as a global record, opened
/// once per container.
struct Anchor {
    sealer: Sealer,
    platform_key: String,
    global: GlobalTable,
    key: OnceLock<Arc<AnchorKey>>,
}

/// The KMS encryption-context purpose of the anchor key (template.yaml grants it to
/// the appender and housekeeping only).
pub const ANCHOR_PURPOSE: &str = "audit-anchor";

/// How far ahead the daily checkpoint looks: entries expiring before now plus this
/// are treated as gone, so a week of failed runs still finds a checkpoint in place.
pub const CHECKPOINT_HORIZON: time::Duration = time::Duration::days(7);

/// The checkpoint's sort key in the audit partition: `#` sorts before the entries'
/// digits, so reading entries (`sk > <seq>`) never meets it.
const CHECKPOINT_SK: &str = "#CHECKPOINT";

/// The sealed anchor key, one for the platform.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditAnchorKey {
    pub id: String,
    pub sealed: SealedValue,
    pub created_at: i64,
}

impl GlobalRecord for AuditAnchorKey {
    const KIND: GlobalKind = GlobalKind::AuditAnchorKey;
    fn key(&self) -> String {
        self.id.clone()
    }
}

const ANCHOR_KEY_ID: &str = "v1";

impl Anchor {
    async fn key(&self) -> Result<Arc<AnchorKey>, StoreError> {
        if let Some(key) = self.key.get() {
            return Ok(key.clone());
        }
        let scope = WorkspaceId::PLATFORM;
        let scope_text = scope.to_string();
        let identity = FieldIdentity { workspace: &scope_text, entity: "audit-anchor", id: ANCHOR_KEY_ID, field: "key" };
        let unavailable = |e: crate::sealing::SealingError| StoreError::Unavailable(format!("audit anchor key: {e}"));
        let record = match self.global.get::<AuditAnchorKey>(ANCHOR_KEY_ID).await? {
            Some(record) => record,
            None => {
                let mut material = [0u8; 32];
                getrandom::fill(&mut material).map_err(|e| StoreError::Unavailable(e.to_string()))?;
                let sealed =
                    self.sealer.seal(scope, &self.platform_key, ANCHOR_PURPOSE, &identity, &material).await.map_err(unavailable)?;
                let fresh = AuditAnchorKey { id: ANCHOR_KEY_ID.into(), sealed, created_at: OffsetDateTime::now_utc().unix_timestamp() };
                match self.global.create(&fresh, None).await {
                    Ok(()) => fresh,
                    // Another container made it first: there is only ever one.
                    Err(StoreError::ConditionFailed) => self
                        .global
                        .get::<AuditAnchorKey>(ANCHOR_KEY_ID)
                        .await?
                        .ok_or_else(|| StoreError::Unavailable("audit anchor key vanished".into()))?,
                    Err(e) => return Err(e),
                }
            }
        };
        let opened = self.sealer.open(scope, ANCHOR_PURPOSE, &identity, &record.sealed).await.map_err(unavailable)?;
        let key = Arc::new(AnchorKey::new(opened).map_err(|e| StoreError::Codec(e.to_string()))?);
        Ok(self.key.get_or_init(|| key).clone())
    }
}

/// What `GET …/audit/verify` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Entries read (those not yet expired).
    pub entries: u64,
    /// Where the checkpoint starts, when there is one.
    pub checkpoint_from: Option<u64>,
    pub result: Result<(), ChainBreak>,
}

fn partition(workspace: WorkspaceId) -> String {
    crate::keys::audit_partition(workspace)
}

fn sort_key(seq: u64) -> String {
    format!("{seq:020}")
}

impl AuditLog {
    pub fn new(clients: &crate::AwsClients, config: &crate::Config) -> Self {
        Self::from_parts(clients.dynamodb.clone(), clients.kms.clone(), &config.table, &config.platform_key)
    }

    /// For tools outside the functions (the operator's command line), which have no
    /// [`crate::Config`]: the table and the platform key (id, ARN or alias) by name.
    pub fn from_parts(dynamodb: aws_sdk_dynamodb::Client, kms: aws_sdk_kms::Client, table: &str, platform_key: &str) -> Self {
        let anchor = Anchor {
            sealer: Sealer::new(kms, crate::sealing::DEFAULT_CACHE_TTL),
            platform_key: platform_key.to_string(),
            global: GlobalTable::new(dynamodb.clone(), table.to_string()),
            key: OnceLock::new(),
        };
        Self { client: dynamodb, table: table.to_string(), anchor: Arc::new(anchor) }
    }

    /// Appends one entry after the workspace's latest. Two concurrent appends race
    /// for the same position with a conditional write; the loser re-reads and retries.
    /// The entry is kept for the workspace's audit window (read here, so every
    /// caller follows the window in force; never below [`MINIMUM_AUDIT_RETENTION`]).
    pub async fn append(&self, tenant: Tenant, draft: AuditDraft, now: OffsetDateTime) -> Result<AuditEntry, StoreError> {
        self.append_inner(tenant, draft, now, None).await
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
        self.append_inner(scoped.tenant(), draft, now, Some(item)).await
    }

    async fn append_inner(
        &self,
        tenant: Tenant,
        draft: AuditDraft,
        now: OffsetDateTime,
        with: Option<HashMap<String, AttributeValue>>,
    ) -> Result<AuditEntry, StoreError> {
        let workspace = tenant.workspace();
        let retention = self.retention(tenant).await?;
        let key = self.anchor.key().await?;
        // Each lost race means another append took the position, so with n appends in
        // flight one loses at most n - 1 times; a short random pause keeps those in
        // flight from retrying in lockstep.
        for attempt in 0..APPEND_ATTEMPTS {
            if attempt > 0 {
                let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % (2 * attempt as u64 + 1);
                tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
            }
            let previous = match self.latest(workspace).await? {
                Some(latest) => Some(latest),
                None => self.continued_from_checkpoint(workspace).await?,
            };
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
                // The anchor: without the key, a rewritten or recomputed chain has no valid MACs.
                ("mac".to_string(), AttributeValue::S(key.entry_mac(&entry).to_hex())),
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
    async fn retention(&self, tenant: Tenant) -> Result<time::Duration, StoreError> {
        let settings = crate::table::Table::new(self.client.clone(), self.table.clone())
            .scope(tenant)
            .get::<crate::entities::Workspace>(&tenant.to_string())
            .await?;
        let window = settings.and_then(|w| w.retention().window(tern_domain::retention::RetentionCategory::Audit));
        Ok(window.unwrap_or(MINIMUM_AUDIT_RETENTION).max(MINIMUM_AUDIT_RETENTION))
    }

    /// Brings entries' TTL forward to `window` after each entry (a shortened audit
    /// window, never below the minimum), from `after` on, a page at a time; the
    /// entries themselves are not touched. Only the housekeeping function may
    /// (template.yaml). Returns how many entries now expire earlier and the last
    /// sequence number read, to resume from.
    pub async fn bring_expiry_forward(
        &self,
        workspace: WorkspaceId,
        window: time::Duration,
        after: u64,
    ) -> Result<(u64, Option<u64>), StoreError> {
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
            .key_condition_expression("pk = :pk AND sk >= :first")
            .expression_attribute_values(":pk", AttributeValue::S(partition(workspace)))
            .expression_attribute_values(":first", AttributeValue::S(sort_key(0)))
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
        Ok(self.stored(workspace, after, limit).await?.into_iter().map(|s| s.entry).collect())
    }

    /// When every entry has expired, the next one follows the checkpoint's head
    /// rather than starting a new chain at 1.
    async fn continued_from_checkpoint(&self, workspace: WorkspaceId) -> Result<Option<AuditEntry>, StoreError> {
        let Some((checkpoint, _)) = self.checkpoint(workspace).await? else { return Ok(None) };
        let Some(seq) = checkpoint.from_seq.checked_sub(1).filter(|s| *s > 0) else { return Ok(None) };
        // Only its workspace, position and hash are read by `AuditEntry::append`.
        Ok(Some(AuditEntry {
            workspace_id: workspace.to_string(),
            seq,
            actor: String::new(),
            action: String::new(),
            target: None,
            occurred_at_ms: 0,
            source_ip: None,
            user_agent: None,
            request_id: None,
            parameters: serde_json::Value::Null,
            prev_hash: AuditHash::GENESIS,
            hash: checkpoint.from_prev_hash,
        }))
    }

    /// The workspace's checkpoint and its MAC, if housekeeping wrote one.
    pub async fn checkpoint(&self, workspace: WorkspaceId) -> Result<Option<(AuditCheckpoint, AuditMac)>, StoreError> {
        let key = HashMap::from([
            ("pk".to_string(), AttributeValue::S(partition(workspace))),
            ("sk".to_string(), AttributeValue::S(CHECKPOINT_SK.to_string())),
        ]);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        let Some(item) = output.item else { return Ok(None) };
        let text = |name: &str| {
            item.get(name).and_then(|v| v.as_s().ok()).cloned().ok_or_else(|| StoreError::Codec(format!("audit checkpoint without {name}")))
        };
        let checkpoint: AuditCheckpoint = serde_json::from_str(&text("checkpoint")?).map_err(|e| StoreError::Codec(e.to_string()))?;
        let mac = AuditMac::from_hex(&text("mac")?).map_err(|e| StoreError::Codec(e.to_string()))?;
        Ok(Some((checkpoint, mac)))
    }

    /// The daily checkpoint (housekeeping): the first entry that still exists after
    /// `horizon` (unix seconds) and the chain's head, MACed, written only when that
    /// first entry moved on (some entry expires before the horizon). `Some(from_seq)`
    /// when one was written.
    pub async fn write_checkpoint(&self, workspace: WorkspaceId, horizon: i64, now: OffsetDateTime) -> Result<Option<u64>, StoreError> {
        let existing = self.checkpoint(workspace).await?;
        let mut after = existing.as_ref().map_or(0, |(c, _)| c.from_seq.saturating_sub(1));
        let mut expiring = false;
        let survivor = loop {
            let page = self.stored(workspace, after, 200).await?;
            let Some(last) = page.last() else { break None };
            after = last.entry.seq;
            let full = page.len() == 200;
            if let Some(found) = page.iter().find(|s| s.expires_at.is_none_or(|at| at > horizon)) {
                expiring |= page.first().is_some_and(|first| first.entry.seq < found.entry.seq);
                break Some(found.entry.clone());
            }
            expiring = true;
            if !full {
                break None;
            }
        };
        if !expiring {
            return Ok(None);
        }
        let Some(head) = self.latest(workspace).await? else { return Ok(None) };
        let (from_seq, from_prev_hash) = match &survivor {
            Some(e) => (e.seq, e.prev_hash),
            None => (head.seq.saturating_add(1), head.hash),
        };
        if existing.as_ref().is_some_and(|(c, _)| c.from_seq == from_seq) {
            return Ok(None);
        }
        let checkpoint = AuditCheckpoint {
            workspace_id: workspace.to_string(),
            from_seq,
            from_prev_hash,
            head_seq: head.seq,
            head_hash: head.hash,
            written_at_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
        };
        let key = self.anchor.key().await?;
        let json = serde_json::to_string(&checkpoint).map_err(|e| StoreError::Codec(e.to_string()))?;
        let item = HashMap::from([
            ("pk".to_string(), AttributeValue::S(partition(workspace))),
            ("sk".to_string(), AttributeValue::S(CHECKPOINT_SK.to_string())),
            ("ws".to_string(), AttributeValue::S(workspace.to_string())),
            ("checkpoint".to_string(), AttributeValue::S(json)),
            ("mac".to_string(), AttributeValue::S(key.checkpoint_mac(&checkpoint).to_hex())),
        ]);
        write_item(&self.client, &self.table, item, Condition::Always).await?;
        Ok(Some(from_seq))
    }

    /// Re-reads the whole stored trail and checks it against the anchor key and the
    /// checkpoint (see [`verify_anchored`]).
    pub async fn verify(&self, workspace: WorkspaceId) -> Result<Verification, StoreError> {
        let key = self.anchor.key().await?;
        let checkpoint = self.checkpoint(workspace).await?;
        let mut all: Vec<(AuditEntry, Option<AuditMac>)> = Vec::new();
        loop {
            let after = all.last().map_or(0, |(e, _)| e.seq);
            let page = self.stored(workspace, after, 1000).await?;
            let done = page.len() < 1000;
            all.extend(page.into_iter().map(|s| (s.entry, s.mac)));
            if done {
                break;
            }
        }
        let result = verify_anchored(&key, checkpoint.as_ref().map(|(c, m)| (c, m)), &all);
        Ok(Verification { entries: all.len() as u64, checkpoint_from: checkpoint.map(|(c, _)| c.from_seq), result })
    }

    /// Entries as stored (with their MAC and expiry), `seq > after`, oldest first.
    async fn stored(&self, workspace: WorkspaceId, after: u64, limit: i32) -> Result<Vec<Stored>, StoreError> {
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
        output.items.unwrap_or_default().into_iter().map(decode_stored).collect()
    }
}

struct Stored {
    entry: AuditEntry,
    mac: Option<AuditMac>,
    expires_at: Option<i64>,
}

fn decode_stored(item: HashMap<String, AttributeValue>) -> Result<Stored, StoreError> {
    let mac = item.get("mac").and_then(|v| v.as_s().ok()).and_then(|hex| AuditMac::from_hex(hex).ok());
    let expires_at = item.get(crate::table::EXPIRES_AT).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok());
    Ok(Stored { entry: decode(item)?, mac, expires_at })
}

fn decode(mut item: HashMap<String, AttributeValue>) -> Result<AuditEntry, StoreError> {
    let json = match item.remove("entry") {
        Some(AttributeValue::S(json)) => json,
        _ => return Err(StoreError::Codec("audit item without its entry".into())),
    };
    serde_json::from_str(&json).map_err(|e| StoreError::Codec(e.to_string()))
}
