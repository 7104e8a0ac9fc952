//! Reading and verifying a workspace's audit trail.

use crate::auth::{InWorkspace, need};
use crate::ApiState;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tern_http::{ApiError, Json, Query};
use tern_security::audit::{AuditEntry, verify_chain};

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
pub async fn list(State(state): State<Arc<ApiState>>, ctx: InWorkspace<need::ReadAudit>, Query(query): Query<AuditQuery>) -> Result<Json<AuditPage>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::unprocessable("invalid_limit", "`limit` must be from 1 to 500."));
    }
    let entries = state.audit.entries(ctx.workspace, query.after.unwrap_or(0), limit).await.map_err(ApiError::unavailable)?;
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
    entries: u64,
    /// The first entry that does not fit the chain.
    broken_at: Option<u64>,
    reason: Option<String>,
}

/// Re-reads the whole trail and checks every entry's hash and link.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/audit/verify", params(("ws" = String, Path)),
    responses((status = 200, body = ChainReport), (status = 403), (status = 404)))]
pub async fn verify(State(state): State<Arc<ApiState>>, ctx: InWorkspace<need::ReadAudit>) -> Result<Json<ChainReport>, ApiError> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |e: &AuditEntry| e.seq);
        let page = state.audit.entries(ctx.workspace, after, 1000).await.map_err(ApiError::unavailable)?;
        let done = page.len() < 1000;
        all.extend(page);
        if done {
            break;
        }
    }
    let report = match verify_chain(&all) {
        Ok(()) => ChainReport { valid: true, entries: all.len() as u64, broken_at: None, reason: None },
        Err(brk) => ChainReport { valid: false, entries: all.len() as u64, broken_at: Some(brk.seq), reason: Some(format!("{:?}", brk.reason)) },
    };
    Ok(Json(report))
}
