//! Route handlers, by area. Each handler's extractors declare what it needs: a
//! `Caller` (signed in) or an `InWorkspace<need::X>` (member with permission X).

pub mod api_keys;
pub mod audit;
pub mod contacts;
pub mod deletion;
pub mod enrichment;
pub mod first_line;
pub mod identity;
pub mod inbound;
pub mod llm;
pub mod mailboxes;
pub mod notes;
pub mod privacy;
pub mod sending_domains;
pub mod sequences;
pub mod templates;
pub mod two_factor;
pub mod workspaces;

use crate::ApiState;
use crate::auth::Client;
use tern_domain::ids::WorkspaceId;
use tern_http::ApiError;
use tern_security::audit::AuditDraft;

/// Appends to a workspace's audit trail. An action that cannot be audited fails:
/// the trail must not have gaps.
pub(crate) async fn audit(
    state: &ApiState,
    workspace: WorkspaceId,
    actor: &str,
    action: &str,
    target: Option<&str>,
    parameters: serde_json::Value,
    client: &Client,
) -> Result<(), ApiError> {
    let now = state.platform.clock().now();
    let draft = AuditDraft {
        workspace_id: workspace.to_string(),
        actor: actor.to_string(),
        action: action.to_string(),
        target: target.map(String::from),
        occurred_at_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
        source_ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
        request_id: client.request_id.clone(),
        parameters,
    };
    state.platform.audit().append(workspace, draft, now).await.map(|_| ()).map_err(ApiError::from)
}

/// A text field that must be present, trimmed, and of a sane length.
pub(crate) fn text(field: &'static str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(ApiError::unprocessable("invalid_fields", format!("`{field}` must be 1 to {max} characters of text.")));
    }
    Ok(value.to_string())
}

pub(crate) fn email(value: &str) -> Result<String, ApiError> {
    tern_security::blind_index::normalise_email(value)
        .map(|e| e.as_str().to_string())
        .map_err(|_| ApiError::unprocessable("invalid_email", "That is not a valid e-mail address."))
}
