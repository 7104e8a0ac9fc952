//! Reading and verifying a workspace's audit trail.

use crate::ApiState;
use crate::auth::{InWorkspace, need};
use axum::extract::State;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_http::{ApiError, Json, Query};
use tern_security::audit::AuditEntry;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries after this sequence number (0 for the start).
    after: Option<u64>,
    limit: Option<i32>,
    /// Only actions starting with this, e.g. `member.`.
    action: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    #[schema(value_type = Vec<Object>)]
    entries: Vec<AuditEntry>,
    /// Pass as `after` for the next page.
    next: Option<u64>,
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/audit", params(("ws" = String, Path), AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403), (status = 404)))]
pub async fn list(
    State(state): State<Arc<ApiState>>,
    ctx: InWorkspace<need::ReadAudit>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::unprocessable("invalid_limit", "`limit` must be from 1 to 500."));
    }
    let entries = state.platform.audit().entries(ctx.workspace(), query.after.unwrap_or(0), limit).await?;
    let next = (entries.len() == limit as usize).then(|| entries.last().map(|e| e.seq)).flatten();
    let entries = entries.into_iter().filter(|e| query.action.as_deref().is_none_or(|a| e.action.starts_with(a)));
    // Readers from outside the workspace (platform support, a granted agency) see the
    // trail without people's addresses (e.g. an invitation's target).
    let outside = ctx.role == tern_security::roles::Role::Support;
    let entries = entries.map(|e| if outside { without_addresses(e) } else { e }).collect();
    Ok(Json(AuditPage { entries, next }))
}

/// The entry with every e-mail address in its target and parameters replaced.
/// (The stored entry is untouched, so the chain still verifies.)
fn without_addresses(mut entry: AuditEntry) -> AuditEntry {
    fn is_address(text: &str) -> bool {
        text.contains('@') && tern_security::blind_index::normalise_email(text).is_ok()
    }
    fn scrub(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(text) if is_address(text) => *text = "[address hidden]".into(),
            serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
            serde_json::Value::Object(fields) => fields.values_mut().for_each(scrub),
            _ => {}
        }
    }
    if entry.target.as_deref().is_some_and(is_address) {
        entry.target = Some("[address hidden]".into());
    }
    scrub(&mut entry.parameters);
    entry
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChainReport {
    valid: bool,
    /// Entries checked (those not yet expired).
    entries: u64,
    /// Where verification started: the daily checkpoint's first entry (older entries
    /// expire), or none when the trail is checked from entry 1.
    checkpoint_from: Option<u64>,
    /// The first entry that does not fit the chain.
    broken_at: Option<u64>,
    /// `HashMismatch`, `PrevHashMismatch`, `SequenceGap`, `WorkspaceMismatch`,
    /// `MacMismatch` (not written by Tern: a rewritten or recomputed chain),
    /// `CheckpointForged`, `Truncated` (entries the checkpoint needs are gone).
    reason: Option<String>,
}

/// Re-reads the whole stored trail and checks every entry's hash, link and MAC
/// (the platform's anchor key), from the checkpoint housekeeping writes before
/// entries expire, or from entry 1.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/audit/verify", params(("ws" = String, Path)),
    responses((status = 200, body = ChainReport), (status = 403), (status = 404)))]
pub async fn verify(State(state): State<Arc<ApiState>>, ctx: InWorkspace<need::ReadAudit>) -> Result<Json<ChainReport>, ApiError> {
    let checked = state.platform.audit().verify(ctx.workspace()).await?;
    let (valid, broken_at, reason) = match checked.result {
        Ok(()) => (true, None, None),
        Err(brk) => (false, Some(brk.seq), Some(format!("{:?}", brk.reason))),
    };
    Ok(Json(ChainReport { valid, entries: checked.entries, checkpoint_from: checked.checkpoint_from, broken_at, reason }))
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default().add(__path_list, list).add(__path_verify, verify)
}
