//! Carrying out workspace deletions whose grace period is over (issue #7; the API
//! schedules them, see [`crate::deletion`]; the housekeeping function runs
//! [`run_due`] daily). The one operation that reads and writes across every
//! workspace's keys, so it lives here, by name, beside the raw clients.
//!
//! For each due [`PendingDeletion`], in this order:
//! 1. a strongly consistent Scan of the whole table finds everything of the
//!    workspace: every item under a partition key starting `WS#<ws>` (its own
//!    items, its collection partition `WS#<ws>`, its audit log `WS#<ws>#AUDIT`),
//!    the global records naming it (`workspace_id`: API-key lookups, invitations,
//!    unsubscribe links, sessions acting in it), the users listing it among their
//!    workspaces, and its sub-workspaces (`parent_id`). A Scan, not Queries per
//!    partition, because per-entity partitions (`WS#<ws>#CONTACT#<id>`) cannot be
//!    listed without knowing their ids; deletions are rare and daily, so reading the
//!    table once per deleted workspace is the price of a sweep that misses nothing.
//! 2. each sub-workspace the agency still administers (every owner of it is an
//!    owner of the agency) gets its own pending deletion (due now), so it is
//!    deleted by this loop like any other, and survives a crash of this run; one
//!    that has an owner from outside the agency (a client the agency handed it to)
//!    is not the agency's to delete: it is detached and becomes a standalone
//!    workspace with its members, its data and its audit trail, which records it
//!    (`workspace.detached_from_agency`);
//! 3. every object version under the workspace's S3 prefixes is deleted;
//! 4. the items and global records are deleted, the users keep their accounts
//!    (only the workspace leaves their list), and the workspace item goes last;
//! 5. a second Scan proves nothing is left (otherwise the run fails and the next
//!    one resumes);
//! 6. the workspace's KMS key is disabled and scheduled for deletion, which
//!    crypto-shreds whatever copies remain (backups, old object versions); only
//!    a key tagged as this workspace's (checked first of all, before step 1, and
//!    again here), so a wrong key id in the record never destroys another's key;
//! 7. the pending deletion itself is removed and a platform log line records it:
//!    the workspace's own audit log went with it, so that line (and the KMS key's
//!    CloudTrail events) are the evidence that remains.
//!
//! Every step is idempotent, so a crashed run is finished by the next one.
//! The cross-tenant company cache (`COMPANY#<domain>`) holds only depersonalised
//! public facts and no workspace id (`tern_aws::global::CachedCompany`): nothing of
//! the workspace is there to delete.

use crate::Platform;
use crate::bucket::workspace_prefixes;
use crate::deletion::{KEY_DELETION_WINDOW_DAYS, PENDING_DELETIONS, PendingDeletion};
use crate::global::{GlobalKind, GlobalTable};
use crate::table::AttributeValue;
use crate::worker::error_chain;
use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
use std::collections::{BTreeSet, HashMap};

type Item = HashMap<String, AttributeValue>;

/// What one run deleted, for the housekeeping report.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeletionReport {
    pub workspaces_deleted: u64,
    pub items_deleted: u64,
    pub objects_deleted: u64,
    /// Due deletions that failed this time; the next run resumes them.
    pub failed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DeletionError {
    #[error("DynamoDB: {0}")]
    Store(String),
    #[error("S3: {0}")]
    Objects(String),
    #[error("KMS: {0}")]
    Key(String),
    #[error("items of the workspace are still there after the sweep: {0}")]
    Incomplete(String),
}

fn store<E: std::fmt::Display>(e: E) -> DeletionError {
    DeletionError::Store(e.to_string())
}

/// Every pending deletion due by now. Never fails the housekeeping run: a failing
/// workspace is logged, counted and retried tomorrow, and does not stop the others.
pub async fn run_due(platform: &Platform) -> DeletionReport {
    let global = platform.global();
    let now = platform.clock().now().unix_timestamp();
    let mut report = DeletionReport::default();
    // Handled this run: the index is eventually consistent and may list a finished
    // one again; sub-workspaces found on the way are added and taken next round.
    let mut handled = BTreeSet::new();
    loop {
        let listed = match global.by_gsi1::<PendingDeletion>(PENDING_DELETIONS, 100).await {
            Ok(listed) => listed,
            Err(e) => {
                tracing::error!(error = %e, "listing pending workspace deletions failed");
                report.failed += 1;
                return report;
            }
        };
        let due: Vec<_> = listed.into_iter().filter(|p| p.due_at <= now && !handled.contains(&p.workspace_id)).collect();
        if due.is_empty() {
            return report;
        }
        for pending in due {
            handled.insert(pending.workspace_id.clone());
            match delete_workspace(platform, global, &pending, now).await {
                Ok((items, objects)) => {
                    report.workspaces_deleted += 1;
                    report.items_deleted += items;
                    report.objects_deleted += objects;
                }
                Err(e) => {
                    tracing::error!(workspace = %pending.workspace_id, error = %e, "workspace deletion failed; the next run resumes it");
                    report.failed += 1;
                }
            }
        }
    }
}

/// What the sweep found of one workspace.
#[derive(Default)]
struct Found {
    /// Items under `WS#<ws>…`, keys only; the workspace item itself apart.
    items: Vec<Item>,
    workspace_item: Option<Item>,
    /// Global records naming the workspace (not its pending deletion).
    references: Vec<Item>,
    /// Users listing it among their workspaces, whole.
    users: Vec<Item>,
    /// Sub-workspaces' items, whole.
    children: Vec<Item>,
}

fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str).unwrap_or_default()
}

fn key_of(item: &Item) -> Item {
    item.iter().filter(|(name, _)| *name == "pk" || *name == "sk").map(|(n, v)| (n.clone(), v.clone())).collect()
}

async fn sweep(platform: &Platform, workspace: &str) -> Result<Found, DeletionError> {
    let prefix = crate::keys::workspace_partition(workspace);
    let own_record = format!("{}#{workspace}", GlobalKind::PendingDeletion.prefix());
    let mut found = Found::default();
    let mut start: Option<Item> = None;
    loop {
        let page = platform
            .clients()
            .dynamodb
            .scan()
            .table_name(&platform.config().table)
            .filter_expression("begins_with(pk, :prefix) OR workspace_id = :ws OR contains(workspaces, :ws) OR parent_id = :ws")
            .expression_attribute_values(":prefix", AttributeValue::S(prefix.clone()))
            .expression_attribute_values(":ws", AttributeValue::S(workspace.to_string()))
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| store(error_chain(&e)))?;
        for item in page.items.unwrap_or_default() {
            let pk = text(&item, "pk");
            // Workspace ids are fixed-length, so this prefix is this workspace's alone.
            if pk.starts_with(&prefix) {
                if text(&item, "sk") == "WORKSPACE" && pk == format!("{prefix}#WORKSPACE#{workspace}") {
                    found.workspace_item = Some(key_of(&item));
                } else {
                    found.items.push(key_of(&item));
                }
            } else if text(&item, "sk") == "WORKSPACE" && text(&item, "parent_id") == workspace {
                found.children.push(item);
            } else if pk.starts_with("USER#") {
                found.users.push(item);
            } else if text(&item, "workspace_id") == workspace && pk != own_record {
                found.references.push(key_of(&item));
            }
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(found),
        }
    }
}

async fn delete_workspace(
    platform: &Platform,
    global: &GlobalTable,
    pending: &PendingDeletion,
    now: i64,
) -> Result<(u64, u64), DeletionError> {
    let ws = pending.workspace_id.as_str();
    // Before anything is deleted: the key this record will shred must be tagged as
    // this workspace's. A wrong or planted key id (another tenant's key, the
    // platform key) stops the deletion with nothing touched, for a person to look at.
    crate::workspace_keys::require_workspace_tag(&platform.clients().kms, ws, &pending.kms_key_id)
        .await
        .map_err(|e| DeletionError::Key(e.to_string()))?;
    let found = sweep(platform, ws).await?;

    // Sub-workspaces first get their own record, so a crash after this point still
    // deletes them; this same run takes them in its next round. Only those the
    // agency administers: owners from outside it never lose their workspace to the
    // agency's deletion (read while the agency's members are still there; a resumed
    // run that finds them gone detaches every owned sub-workspace, the safe side).
    let agency_owners = owners_of(platform, ws).await?;
    for child in &found.children {
        let id = text(child, "id").to_string();
        let child_owners = owners_of(platform, &id).await?;
        if !child_owners.is_subset(&agency_owners) {
            detach(platform, child, ws, now).await?;
            continue;
        }
        if global.get::<PendingDeletion>(&id).await.map_err(store)?.is_none() {
            let record = PendingDeletion {
                workspace_id: id.clone(),
                kms_key_id: text(child, "kms_key_id").to_string(),
                due_at: pending.due_at.min(now),
                requested_by: format!("parent:{ws}"),
                requested_at: now,
            };
            global.put(&record, None).await.map_err(store)?;
            tracing::info!(workspace = %id, parent = ws, "sub-workspace deletion scheduled with its agency's");
        }
    }

    let objects = delete_objects(platform, ws).await?;

    let mut keys: Vec<Item> = found.items;
    keys.extend(found.references);
    let items = keys.len() as u64 + u64::from(found.workspace_item.is_some());
    delete_items(platform, keys).await?;
    for user in &found.users {
        leave_user_list(platform, user, ws).await?;
    }
    // Last, as the inventory says: until now a resumed run still finds it.
    if let Some(key) = found.workspace_item {
        delete_items(platform, vec![key]).await?;
    }

    let left = sweep(platform, ws).await?;
    let remaining = left.items.len() + left.references.len() + left.users.len() + usize::from(left.workspace_item.is_some());
    if remaining > 0 {
        return Err(DeletionError::Incomplete(format!("{remaining} items or references")));
    }

    crate::workspace_keys::schedule_workspace_key_deletion(&platform.clients().kms, ws, &pending.kms_key_id, KEY_DELETION_WINDOW_DAYS)
        .await
        .map_err(|e| DeletionError::Key(e.to_string()))?;

    global.delete::<PendingDeletion>(ws).await.map_err(store)?;
    // The workspace's audit log is gone with it: this line is the record that remains.
    tracing::warn!(
        workspace = ws,
        requested_by = %pending.requested_by,
        requested_at = pending.requested_at,
        items,
        objects,
        kms_key = %pending.kms_key_id,
        key_deletion_window_days = KEY_DELETION_WINDOW_DAYS,
        "workspace deleted"
    );
    Ok((items, objects))
}

/// The user ids holding the owner role in `workspace` (its `MEMBER#` items).
async fn owners_of(platform: &Platform, workspace: &str) -> Result<BTreeSet<String>, DeletionError> {
    let mut owners = BTreeSet::new();
    let mut start: Option<Item> = None;
    loop {
        let page = platform
            .clients()
            .dynamodb
            .query()
            .table_name(&platform.config().table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :member)")
            .expression_attribute_values(":pk", AttributeValue::S(crate::keys::workspace_partition(workspace)))
            .expression_attribute_values(":member", AttributeValue::S("MEMBER#".into()))
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| store(error_chain(&e)))?;
        for member in page.items.unwrap_or_default() {
            if text(&member, "role") == "owner" {
                owners.insert(text(&member, "user_id").to_string());
            }
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(owners),
        }
    }
}

/// Makes a sub-workspace standalone: no parent (so no agency reads its audit trail or
/// holds back its sends), everything else as it was. Conditional on the parent, so a
/// resumed run changes nothing twice; the sub-workspace's own trail records it.
async fn detach(platform: &Platform, child: &Item, agency: &str, now: i64) -> Result<(), DeletionError> {
    let id = text(child, "id").to_string();
    let detached = platform
        .clients()
        .dynamodb
        .update_item()
        .table_name(&platform.config().table)
        .set_key(Some(key_of(child)))
        .update_expression("REMOVE parent_id SET parent_may_read_audit = :no")
        .condition_expression("parent_id = :agency")
        .expression_attribute_values(":no", AttributeValue::Bool(false))
        .expression_attribute_values(":agency", AttributeValue::S(agency.to_string()))
        .send()
        .await;
    match detached {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => return Ok(()),
        Err(e) => return Err(store(error_chain(&e))),
    }
    let workspace = tern_domain::ids::WorkspaceId::parse(&id).map_err(|e| store(format!("sub-workspace id {id}: {e}")))?;
    let draft = tern_security::audit::AuditDraft {
        workspace_id: id.clone(),
        actor: "system".into(),
        action: "workspace.detached_from_agency".into(),
        target: Some(id.clone()),
        occurred_at_ms: now.saturating_mul(1000),
        source_ip: None,
        user_agent: None,
        request_id: None,
        parameters: serde_json::json!({ "agency": agency, "reason": "the agency was deleted; this workspace has owners outside it" }),
    };
    let at = time::OffsetDateTime::from_unix_timestamp(now).map_err(store)?;
    platform.audit().append(crate::tenant::Tenant::cross_tenant(workspace), draft, at).await.map_err(store)?;
    tracing::info!(workspace = %id, agency, "sub-workspace detached from its deleted agency (it has owners outside it)");
    Ok(())
}

/// Deletes keys 25 at a time (BatchWriteItem's limit), retrying what DynamoDB
/// leaves unprocessed under load.
async fn delete_items(platform: &Platform, keys: Vec<Item>) -> Result<(), DeletionError> {
    for chunk in keys.chunks(25) {
        let mut requests: Vec<WriteRequest> = chunk
            .iter()
            .map(|key| {
                let delete = DeleteRequest::builder().set_key(Some(key.clone())).build().map_err(store)?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<_, DeletionError>>()?;
        for attempt in 0..8u32 {
            let output = platform
                .clients()
                .dynamodb
                .batch_write_item()
                .request_items(&platform.config().table, requests)
                .send()
                .await
                .map_err(|e| store(error_chain(&e)))?;
            requests = output.unprocessed_items.and_then(|mut u| u.remove(&platform.config().table)).unwrap_or_default();
            if requests.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
        }
        if !requests.is_empty() {
            return Err(DeletionError::Store(format!("{} deletes left unprocessed", requests.len())));
        }
    }
    Ok(())
}

/// Takes the workspace out of a user's list; the account stays (the person can
/// sign in and create or join another workspace). Conditional on the list read,
/// so a concurrent change is not overwritten (the final sweep then fails the run
/// and the next one retries).
async fn leave_user_list(platform: &Platform, user: &Item, workspace: &str) -> Result<(), DeletionError> {
    let Some(AttributeValue::L(before)) = user.get("workspaces") else { return Ok(()) };
    let after: Vec<AttributeValue> = before.iter().filter(|w| w.as_s().map(String::as_str) != Ok(workspace)).cloned().collect();
    platform
        .clients()
        .dynamodb
        .update_item()
        .table_name(&platform.config().table)
        .set_key(Some(key_of(user)))
        // The version goes up as with every user write, so an API request holding the
        // record from before cannot write the workspace back (`tern_api::users`).
        .update_expression("SET workspaces = :after ADD version :one")
        .condition_expression("workspaces = :before")
        .expression_attribute_values(":after", AttributeValue::L(after))
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .expression_attribute_values(":before", AttributeValue::L(before.clone()))
        .send()
        .await
        .map_err(|e| store(error_chain(&e)))?;
    Ok(())
}

/// Deletes every version (and delete marker) under the workspace's prefixes: the
/// bucket is versioned, and a plain delete would only hide the current version.
async fn delete_objects(platform: &Platform, workspace: &str) -> Result<u64, DeletionError> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let s3 = &platform.clients().s3;
    let mut deleted = 0;
    for prefix in workspace_prefixes(workspace) {
        loop {
            // Always from the start: what was deleted is no longer listed.
            let listed = s3
                .list_object_versions()
                .bucket(&platform.config().bucket)
                .prefix(&prefix)
                .max_keys(1000)
                .send()
                .await
                .map_err(|e| DeletionError::Objects(error_chain(&e)))?;
            let versions = listed.versions().iter().filter_map(|v| Some((v.key()?.to_string(), v.version_id().map(String::from))));
            let markers = listed.delete_markers().iter().filter_map(|m| Some((m.key()?.to_string(), m.version_id().map(String::from))));
            let ids: Vec<ObjectIdentifier> = versions
                .chain(markers)
                .map(|(key, version)| ObjectIdentifier::builder().key(key).set_version_id(version).build())
                .collect::<Result<_, _>>()
                .map_err(|e| DeletionError::Objects(e.to_string()))?;
            if ids.is_empty() {
                break;
            }
            let count = ids.len() as u64;
            let delete = Delete::builder().set_objects(Some(ids)).quiet(true).build().map_err(|e| DeletionError::Objects(e.to_string()))?;
            let output = s3
                .delete_objects()
                .bucket(&platform.config().bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| DeletionError::Objects(error_chain(&e)))?;
            if let Some(error) = output.errors().first() {
                return Err(DeletionError::Objects(format!("{}: {}", error.key().unwrap_or_default(), error.code().unwrap_or_default())));
            }
            deleted += count;
        }
    }
    Ok(deleted)
}
