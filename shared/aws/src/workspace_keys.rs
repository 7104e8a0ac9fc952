//! Per-workspace KMS keys (DESIGN §4): one symmetric key per tenant, found by the
//! alias `alias/tern/ws/<workspace-id>`, and scheduled for deletion when the
//! workspace is deleted, which crypto-shreds every value sealed for it — backups
//! included, since they hold only KMS-encrypted data keys.

use crate::sealing::{SealingError, kms_error};
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType, Tag};
use tern_domain::ids::WorkspaceId;

/// The tag every workspace key carries, so keys can be audited and attributed
/// to their tenant without reading the alias table.
pub const WORKSPACE_TAG: &str = "tern:workspace";

/// KMS's own bounds for the deletion waiting period, in days.
pub const DELETION_WINDOW_DAYS: std::ops::RangeInclusive<i32> = 7..=30;

/// The alias naming a workspace's key.
pub fn workspace_key_alias(workspace: WorkspaceId) -> String {
    format!("alias/tern/ws/{workspace}")
}

/// Creates the workspace's key and its alias, and returns the key id.
///
/// Idempotent: when the alias already exists (a retried workspace-creation job,
/// or two racing ones) the key it names is returned and no second key is kept.
pub async fn create_workspace_key(kms: &aws_sdk_kms::Client, workspace: WorkspaceId) -> Result<String, SealingError> {
    let alias = workspace_key_alias(workspace);
    // The common retry case costs one DescribeKey and creates nothing.
    if let Some(existing) = key_behind_alias(kms, &alias).await? {
        return Ok(existing);
    }
    let tag = Tag::builder()
        .tag_key(WORKSPACE_TAG)
        .tag_value(workspace.to_string())
        .build()
        .map_err(|e| SealingError::Kms(format!("building the workspace tag: {e}")))?;
    let created = kms
        .create_key()
        .description(format!("Tern workspace {workspace}: seals this workspace's fields"))
        .key_usage(KeyUsageType::EncryptDecrypt)
        .key_spec(KeySpec::SymmetricDefault)
        .tags(tag)
        .send()
        .await
        .map_err(|e| kms_error("CreateKey", &e))?;
    let key_id = created.key_metadata.map(|m| m.key_id).ok_or_else(|| SealingError::Kms("CreateKey returned no key metadata".into()))?;

    match kms.create_alias().alias_name(&alias).target_key_id(&key_id).send().await {
        Ok(_) => Ok(key_id),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_already_exists_exception()) => {
            // Lost a race with another creator: theirs is the workspace's key.
            // Ours was never named or used, so schedule it away (best effort —
            // an orphan key costs money but holds nothing) and return theirs.
            let _ = kms.schedule_key_deletion().key_id(&key_id).pending_window_in_days(7).send().await;
            key_behind_alias(kms, &alias).await?.ok_or_else(|| SealingError::Kms(format!("{alias} exists but names no key")))
        }
        Err(e) => Err(kms_error("CreateAlias", &e)),
    }
}

/// Disables `workspace`'s key and schedules its deletion after `days` (7..=30).
///
/// The key must carry the workspace's tag ([`WORKSPACE_TAG`], set at creation):
/// a key id recorded wrongly, or planted in a deletion record, that names another
/// workspace's key (or the platform key, which has no such tag) is refused with
/// [`SealingError::NotThisWorkspace`] and left untouched. Disabling first makes
/// the key unusable at once, and stays in force even if scheduling fails; the
/// waiting period is KMS's undo window. Calling again for a key already pending
/// deletion is a no-op. Containers still holding cached data keys of the
/// workspace can open values until their cache entries expire (`Sealer` TTL);
/// call `Sealer::forget_workspace` in the container doing this.
pub async fn schedule_workspace_key_deletion(
    kms: &aws_sdk_kms::Client,
    workspace: &str,
    key_id: &str,
    days: i32,
) -> Result<(), SealingError> {
    if !DELETION_WINDOW_DAYS.contains(&days) {
        return Err(SealingError::Invalid(format!("key deletion window must be 7..=30 days, got {days}")));
    }
    require_workspace_tag(kms, workspace, key_id).await?;
    let described = kms.describe_key().key_id(key_id).send().await.map_err(|e| kms_error("DescribeKey", &e))?;
    // AWS refuses DisableKey on a key pending deletion, so a retry would fail
    // without this check.
    if described.key_metadata().and_then(|m| m.key_state()) == Some(&KeyState::PendingDeletion) {
        return Ok(());
    }
    kms.disable_key().key_id(key_id).send().await.map_err(|e| kms_error("DisableKey", &e))?;
    kms.schedule_key_deletion()
        .key_id(key_id)
        .pending_window_in_days(days)
        .send()
        .await
        .map_err(|e| kms_error("ScheduleKeyDeletion", &e))?;
    Ok(())
}

/// Refuses unless `key_id` is tagged as `workspace`'s key.
pub async fn require_workspace_tag(kms: &aws_sdk_kms::Client, workspace: &str, key_id: &str) -> Result<(), SealingError> {
    let mut marker: Option<String> = None;
    loop {
        let page = kms
            .list_resource_tags()
            .key_id(key_id)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| kms_error("ListResourceTags", &e))?;
        if page.tags().iter().any(|t| t.tag_key() == WORKSPACE_TAG && t.tag_value() == workspace) {
            return Ok(());
        }
        match page.next_marker() {
            Some(next) if page.truncated() => marker = Some(next.to_string()),
            _ => return Err(SealingError::NotThisWorkspace { key_id: key_id.to_string(), workspace: workspace.to_string() }),
        }
    }
}

/// The key id an alias names, or `None` when the alias does not exist.
async fn key_behind_alias(kms: &aws_sdk_kms::Client, alias: &str) -> Result<Option<String>, SealingError> {
    match kms.describe_key().key_id(alias).send().await {
        Ok(out) => Ok(out.key_metadata.map(|m| m.key_id)),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found_exception()) => Ok(None),
        Err(e) => Err(kms_error("DescribeKey", &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names_the_workspace() {
        let ws = WorkspaceId::parse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b").unwrap();
        assert_eq!(workspace_key_alias(ws), "alias/tern/ws/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    }
}
