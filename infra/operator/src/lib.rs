//! Platform-operator commands: changes no customer can make through the API, made by
//! a named Tern operator with a reason, each one audited in the workspace's own trail.
//!
//! A workspace's plan is one of them: sign-up always starts on `trial`, and until
//! billing exists (a later issue) only an operator moves a workspace to another plan.
//! `scripts/operator set-plan` runs [`set_plan`] against the stack's table; the dev
//! host runs the very same function behind its local-only `/_dev/workspaces/{ws}/plan`.

use aws_sdk_dynamodb::types::AttributeValue;
use tern_aws::audit::AuditLog;
use tern_aws::entities::Workspace;
use tern_aws::table::{StoreError, Table};
use tern_domain::ids::WorkspaceId;
use tern_domain::plan::Plan;
use tern_security::audit::AuditDraft;
use time::OffsetDateTime;

/// The audit action of a plan change.
pub const PLAN_CHANGED: &str = "workspace.plan_changed";

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("the operator name must be 1 to 64 characters of a-z, 0-9, '.', '_' or '-'")]
    InvalidOperator,
    #[error("a reason is required: 1 to 500 characters of text")]
    InvalidReason,
    #[error("workspace {0} does not exist")]
    NoSuchWorkspace(WorkspaceId),
    #[error("the workspace changed while its plan was being set; run the command again")]
    Conflict,
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

/// What a plan change did.
#[derive(Debug, Clone)]
pub struct PlanChange {
    pub workspace: Workspace,
    pub from: Plan,
    pub to: Plan,
}

/// Who asks, and why: both go into the audit entry.
#[derive(Debug, Clone)]
pub struct Operator<'a> {
    pub name: &'a str,
    pub reason: &'a str,
}

impl Operator<'_> {
    fn check(&self) -> Result<(), OperatorError> {
        let name_ok = (1..=64).contains(&self.name.len())
            && self.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !name_ok {
            return Err(OperatorError::InvalidOperator);
        }
        let reason = self.reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 || reason.chars().any(char::is_control) {
            return Err(OperatorError::InvalidReason);
        }
        Ok(())
    }

    /// How the audit trail names the actor.
    pub fn actor(&self) -> String {
        format!("operator:{}", self.name)
    }
}

/// Sets `workspace`'s plan and appends `workspace.plan_changed` (actor
/// `operator:<name>`, the old and new plan and the reason) to its audit trail.
/// Setting the plan it already has changes nothing and is still audited: the
/// request itself is what the trail records.
pub async fn set_plan(
    table: &Table,
    audit: &AuditLog,
    workspace: WorkspaceId,
    plan: Plan,
    operator: &Operator<'_>,
    now: OffsetDateTime,
) -> Result<PlanChange, OperatorError> {
    operator.check()?;
    let tenant = tern_aws::Tenant::found(workspace, tern_aws::Lookup::Operator);
    let scoped = table.scope(tenant);
    let mut record = scoped.get::<Workspace>(&workspace.to_string()).await?.ok_or(OperatorError::NoSuchWorkspace(workspace))?;
    let from = record.plan;
    record.plan = plan;
    // Conditional on the plan read, so a concurrent change is not silently overwritten
    // (the loser is told to run again, and its audit entry is not written).
    let expected = serde_json::to_value(from).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    match scoped.replace_if(&record, None, "plan", AttributeValue::S(expected)).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => return Err(OperatorError::Conflict),
        Err(e) => return Err(e.into()),
    }
    let draft = AuditDraft {
        workspace_id: workspace.to_string(),
        actor: operator.actor(),
        action: PLAN_CHANGED.to_string(),
        target: Some(workspace.to_string()),
        occurred_at_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
        source_ip: None,
        user_agent: None,
        request_id: None,
        parameters: serde_json::json!({ "from": from, "to": plan, "reason": operator.reason.trim() }),
    };
    audit.append(tenant, draft, now).await?;
    Ok(PlanChange { workspace: record, from, to: plan })
}

/// A plan by its API name (`trial`, `starter`, `growth`, `pro`, `agency`, `enterprise`).
pub fn parse_plan(name: &str) -> Option<Plan> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names_and_reasons_are_checked() {
        assert!(Operator { name: "ana.ops", reason: "contract #42" }.check().is_ok());
        assert!(matches!(Operator { name: "", reason: "x" }.check(), Err(OperatorError::InvalidOperator)));
        assert!(matches!(Operator { name: "Ana Ops", reason: "x" }.check(), Err(OperatorError::InvalidOperator)));
        assert!(matches!(Operator { name: "ana", reason: "  " }.check(), Err(OperatorError::InvalidReason)));
        assert!(matches!(Operator { name: "ana", reason: "a\nb" }.check(), Err(OperatorError::InvalidReason)));
        assert_eq!(Operator { name: "ana", reason: "x" }.actor(), "operator:ana");
    }

    #[test]
    fn plans_parse_by_their_api_names() {
        assert_eq!(parse_plan("growth"), Some(Plan::Growth));
        assert_eq!(parse_plan("enterprise"), Some(Plan::Enterprise));
        assert_eq!(parse_plan("platinum"), None);
    }
}
