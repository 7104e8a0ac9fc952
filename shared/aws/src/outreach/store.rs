//! The writes of the outreach engine that need more than one item or a condition
//! the generic table API does not express: the send claim with its limit
//! reservations (one transaction), the due index, and the workspace's blind-index key.

use super::{EnrollmentRecord, SendCounter, SendRecord, WorkspaceSecrets, parse_due_sort_key};
use crate::sealing::{FieldIdentity, Sealer, SealingError};
use crate::table::{AttributeValue, EXPIRES_AT, IfMissing, ScopedTable, StoreError};
use aws_sdk_dynamodb::types::{ConditionCheck, Put, ReturnConsumedCapacity, TransactWriteItem, Update};
use tern_domain::ids::WorkspaceId;
use tern_security::blind_index::BlindIndexKey;

/// One limit reserved with the claim: `counter` may not pass `limit` in its window.
#[derive(Debug, Clone)]
pub struct CounterLimit {
    /// A [`SendCounter`] id naming the window (`day.<mailbox>.2026-11-23`).
    pub counter_id: String,
    pub limit: u32,
    /// When the window's counter may be forgotten (unix seconds).
    pub expires_at: i64,
}

/// Minimum spacing between two sends of one mailbox.
#[derive(Debug, Clone)]
pub struct Spacing {
    pub counter_id: String,
    pub now: i64,
    pub min_gap_seconds: i64,
}

/// Why a claim was not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum ClaimRefused {
    /// The step is already claimed or sent.
    AlreadyClaimed,
    /// The enrollment changed since it was read (a reply stopped it, a pause…).
    EnrollmentChanged,
    /// `limits[i]` is used up for its window.
    LimitReached(usize),
    /// The mailbox sent too recently.
    TooSoon,
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("claim refused: {0:?}")]
    Refused(ClaimRefused),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn codec(e: impl std::fmt::Display) -> StoreError {
    StoreError::Codec(e.to_string())
}

/// Claims `(enrollment, step)` and reserves its sending limits in one transaction:
/// the claim is new, the enrollment is still at `enrollment_version`, every counter
/// is below its limit and the mailbox's spacing is respected — or nothing is written.
/// So two workers can never both send a step, a reply recorded before the claim
/// always wins, and no check-then-send race can overshoot a limit.
pub async fn claim_and_reserve(
    scoped: &ScopedTable,
    claim: &SendRecord,
    enrollment_version: u64,
    limits: &[CounterLimit],
    spacing: Option<&Spacing>,
) -> Result<(), ClaimError> {
    let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Codec(e.to_string());
    let table = scoped.table_name().to_string();
    let mut items = vec![
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&table)
                    .set_item(Some(scoped.item_of(claim, None)?))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .map_err(build)?,
            )
            .build(),
        TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name(&table)
                    .set_key(Some(scoped.key_of::<EnrollmentRecord>(&claim.enrollment_id)))
                    .condition_expression("version = :v")
                    .expression_attribute_values(":v", AttributeValue::N(enrollment_version.to_string()))
                    .build()
                    .map_err(build)?,
            )
            .build(),
    ];
    for limit in limits {
        items.push(
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&table)
                        .set_key(Some(scoped.key_of::<SendCounter>(&limit.counter_id)))
                        .update_expression("ADD #c :one SET #id = :id, #e = :exp")
                        .condition_expression("attribute_not_exists(#c) OR #c < :limit")
                        .expression_attribute_names("#c", "count")
                        .expression_attribute_names("#id", "id")
                        .expression_attribute_names("#e", EXPIRES_AT)
                        .expression_attribute_values(":one", AttributeValue::N("1".into()))
                        .expression_attribute_values(":id", AttributeValue::S(limit.counter_id.clone()))
                        .expression_attribute_values(":exp", AttributeValue::N(limit.expires_at.to_string()))
                        .expression_attribute_values(":limit", AttributeValue::N(limit.limit.to_string()))
                        .build()
                        .map_err(build)?,
                )
                .build(),
        );
    }
    if let Some(spacing) = spacing {
        items.push(
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&table)
                        .set_key(Some(scoped.key_of::<SendCounter>(&spacing.counter_id)))
                        .update_expression("SET #last = :now, #id = :id, #c = :zero")
                        .condition_expression("attribute_not_exists(#last) OR #last <= :earliest")
                        .expression_attribute_names("#last", "last_at")
                        .expression_attribute_names("#id", "id")
                        .expression_attribute_names("#c", "count")
                        .expression_attribute_values(":now", AttributeValue::N(spacing.now.to_string()))
                        .expression_attribute_values(":id", AttributeValue::S(spacing.counter_id.clone()))
                        .expression_attribute_values(":zero", AttributeValue::N("0".into()))
                        .expression_attribute_values(":earliest", AttributeValue::N((spacing.now - spacing.min_gap_seconds).to_string()))
                        .build()
                        .map_err(build)?,
                )
                .build(),
        );
    }
    let result = scoped
        .client()
        .transact_write_items()
        .set_transact_items(Some(items))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await;
    let Err(error) = result else { return Ok(()) };
    let reasons: Vec<String> = error
        .as_service_error()
        .and_then(|e| match e {
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
            _ => None,
        })
        .map(|c| c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_string()).collect())
        .unwrap_or_default();
    let failed = reasons.iter().position(|code| code == "ConditionalCheckFailed");
    match failed {
        Some(0) => Err(ClaimError::Refused(ClaimRefused::AlreadyClaimed)),
        Some(1) => Err(ClaimError::Refused(ClaimRefused::EnrollmentChanged)),
        Some(i) if i - 2 < limits.len() => Err(ClaimError::Refused(ClaimRefused::LimitReached(i - 2))),
        Some(_) => Err(ClaimError::Refused(ClaimRefused::TooSoon)),
        // Conflicting transactions, throttling: worth another try.
        None if reasons.iter().any(|c| c == "TransactionConflict") => Err(StoreError::Unavailable("transaction conflict".into()).into()),
        None => Err(StoreError::from_sdk(error).into()),
    }
}

/// Adds one to the [`SendCounter`] `counter_id` (created at 1 if missing) in one
/// atomic update and returns the new count: two concurrent notices of the same
/// address are two counts, never one.
pub async fn count_up(scoped: &ScopedTable, counter_id: &str) -> Result<u32, StoreError> {
    let counts = scoped.add::<SendCounter>(counter_id, &[("count", 1)], IfMissing::Create).await?;
    Ok(counts.first().map_or(0, |&n| u32::try_from(n).unwrap_or(u32::MAX)))
}

/// Reads the last send time recorded by a [`Spacing`] counter.
pub async fn last_send_at(scoped: &ScopedTable, counter_id: &str) -> Result<Option<i64>, StoreError> {
    let output = scoped
        .client()
        .get_item()
        .table_name(scoped.table_name())
        .set_key(Some(scoped.key_of::<SendCounter>(counter_id)))
        .consistent_read(true)
        .send()
        .await
        .map_err(StoreError::from_sdk)?;
    Ok(output.item.and_then(|i| i.get("last_at").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())))
}

/// A due step as the due index shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueStep {
    pub workspace: WorkspaceId,
    pub enrollment_id: String,
    pub step: u32,
    pub due_at: i64,
    /// The sort key as read: the lease is conditional on it.
    pub due_key: String,
}

/// The sparse `due` index: the one read across workspaces, and it yields only keys.
/// Each result names its workspace, and every write it leads to goes back through
/// that workspace's scope.
#[derive(Debug, Clone)]
pub struct DueIndex {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DueIndex {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Steps of `shard` due at or before `now`, oldest first, at most `limit`.
    pub async fn due(&self, shard: u32, now: i64, limit: usize) -> Result<Vec<DueStep>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("due")
                .key_condition_expression("due_shard = :shard AND due_at <= :now")
                .expression_attribute_values(":shard", AttributeValue::S(format!("DUE#{shard}")))
                // `~` sorts after `#<step>`, so every step due at `now` is included.
                .expression_attribute_values(":now", AttributeValue::S(format!("{:012}~", now.max(0))))
                .limit(((limit - found.len()).min(500)) as i32)
                .set_exclusive_start_key(start)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(StoreError::from_sdk)?;
            for item in output.items.unwrap_or_default() {
                if let Some(step) = due_step_of(&item) {
                    found.push(step);
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() || found.len() >= limit {
                return Ok(found);
            }
        }
    }

    /// Moves a due step's time to `until` (the hand-off lease) if nobody changed it
    /// since it was read. `false` when another tick or a worker got there first.
    pub async fn lease(&self, step: &DueStep, until: i64) -> Result<bool, StoreError> {
        let scoped_key =
            crate::table::Table::new(self.client.clone(), self.table.clone()).scope(crate::tenant::Tenant::cross_tenant(step.workspace));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(scoped_key.key_of::<EnrollmentRecord>(&step.enrollment_id)))
            .update_expression("SET due_at = :lease")
            .condition_expression("due_at = :seen")
            .expression_attribute_values(":lease", AttributeValue::S(super::due_sort_key(until, step.step)))
            .expression_attribute_values(":seen", AttributeValue::S(step.due_key.clone()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result.map_err(StoreError::from_sdk) {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn due_step_of(item: &std::collections::HashMap<String, AttributeValue>) -> Option<DueStep> {
    let pk = item.get("pk")?.as_s().ok()?;
    let sk = item.get("sk")?.as_s().ok()?;
    let due_key = item.get("due_at")?.as_s().ok()?.clone();
    let workspace = WorkspaceId::parse(crate::keys::workspace_of(pk)?).ok()?;
    let enrollment_id = sk.strip_prefix("ENROLLMENT#")?.to_string();
    let (due_at, step) = parse_due_sort_key(&due_key)?;
    Some(DueStep { workspace, enrollment_id, step, due_at, due_key })
}

const BLIND_KEY_PURPOSE: &str = "blind-index-key";

/// The workspace's blind-index key, made on first use and kept sealed under the
/// workspace's KMS key. Every function that looks up an address by index opens the
/// same key, and erasing the workspace's KMS key makes every index meaningless.
pub async fn blind_index_key(scoped: &ScopedTable, sealer: &Sealer) -> Result<BlindIndexKey, SealingError> {
    let workspace = scoped.workspace();
    let ws = workspace.to_string();
    let identity = FieldIdentity { workspace: &ws, entity: "secrets", id: WorkspaceSecrets::ID, field: "blind_index_key" };
    let stored = scoped.get::<WorkspaceSecrets>(WorkspaceSecrets::ID).await.map_err(|e| SealingError::Invalid(e.to_string()))?;
    let secrets = match stored {
        Some(secrets) => secrets,
        None => {
            let mut material = [0u8; 32];
            getrandom::fill(&mut material).map_err(|e| SealingError::Crypto(e.to_string()))?;
            let key_id = crate::workspace_keys::workspace_key_alias(workspace);
            let sealed = sealer.seal(workspace, &key_id, BLIND_KEY_PURPOSE, &identity, &material).await?;
            let fresh = WorkspaceSecrets { id: WorkspaceSecrets::ID.into(), blind_index_key: sealed };
            match scoped.create(&fresh, None).await {
                Ok(()) => fresh,
                // Another request made it first: use theirs, so there is only ever one.
                Err(StoreError::ConditionFailed) => scoped
                    .get::<WorkspaceSecrets>(WorkspaceSecrets::ID)
                    .await
                    .map_err(codec)
                    .map_err(|e| SealingError::Invalid(e.to_string()))?
                    .ok_or_else(|| SealingError::Invalid("blind-index key vanished".into()))?,
                Err(e) => return Err(SealingError::Invalid(e.to_string())),
            }
        }
    };
    let opened = sealer.open(workspace, BLIND_KEY_PURPOSE, &identity, &secrets.blind_index_key).await?;
    BlindIndexKey::new(opened).map_err(|e| SealingError::Crypto(e.to_string()))
}

/// Applies `change` to the freshest copy of an enrollment under its version guard,
/// re-reading when someone else wrote in between. `change` returns `Ok(false)` when
/// there is nothing to write. `None` when the enrollment does not exist.
pub async fn update_enrollment<E: From<StoreError>>(
    scoped: &ScopedTable,
    id: &str,
    now: i64,
    mut change: impl FnMut(&mut EnrollmentRecord) -> Result<bool, E>,
) -> Result<Option<EnrollmentRecord>, E> {
    for _ in 0..8 {
        let Some(mut enrollment) = scoped.get::<EnrollmentRecord>(id).await? else { return Ok(None) };
        let version = enrollment.version;
        if !change(&mut enrollment)? {
            return Ok(Some(enrollment));
        }
        enrollment.version += 1;
        enrollment.updated_at = now;
        match scoped.replace_if(&enrollment, None, "version", AttributeValue::N(version.to_string())).await {
            Ok(()) => return Ok(Some(enrollment)),
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Unavailable("the enrollment kept changing".into()).into())
}

/// Puts `email_index` on the suppression list (keeping the first reason) and stops
/// every enrollment of that address that has not ended. Idempotent.
pub async fn suppress_and_stop(
    scoped: &ScopedTable,
    email_index: &str,
    reason: super::SuppressionReason,
    now: i64,
) -> Result<u32, StoreError> {
    let entry = super::Suppression { email_index: email_index.to_string(), reason, suppressed_at: now };
    match scoped.create(&entry, None).await {
        Ok(()) | Err(StoreError::ConditionFailed) => {}
        Err(e) => return Err(e),
    }
    let stop = super::stop_reason_for(reason);
    let mut stopped = 0;
    for enrollment in scoped.list_all::<EnrollmentRecord>().await? {
        if enrollment.email_index != email_index || enrollment.machine.is_ended() {
            continue;
        }
        let changed = update_enrollment::<StoreError>(scoped, &enrollment.id, now, |e| {
            if e.machine.is_ended() {
                return Ok(false);
            }
            e.machine = e.machine.apply(tern_domain::enrollment::Event::Stop(stop)).map_err(|err| StoreError::Codec(err.to_string()))?;
            e.schedule(None);
            e.note = Some(format!("stopped: address suppressed ({reason:?})"));
            Ok(true)
        })
        .await?;
        if changed.is_some() {
            stopped += 1;
        }
    }
    Ok(stopped)
}
