//! The one place a workspace's partition keys are written and read.
//!
//! Every item of a workspace has a partition key starting `WS#<workspace>`:
//!
//! - `WS#<ws>`: the workspace's collection partition (members, API keys, ...),
//!   `sk = <KIND>#<id>`;
//! - `WS#<ws>#<KIND>#<id>`: an entity's own partition, `sk = <KIND>`;
//! - `WS#<ws>#AUDIT`: the audit log, `sk = <sequence, 20 digits>`.
//!
//! Code outside this crate that must name a key (the restore tool, tests that
//! inspect the table from outside, template.yaml's IAM conditions) takes it from
//! here, so the format is written once.

const PREFIX: &str = "WS#";

/// The audit partitions, as IAM's `dynamodb:LeadingKeys` pattern in template.yaml.
pub const AUDIT_PARTITION_PATTERN: &str = "WS#*#AUDIT";

/// `WS#<ws>`: the collection partition, and the prefix of all the workspace's keys.
/// (Any displayable id: the deletion sweep and the restore tool hold ids as text.)
pub fn workspace_partition(workspace: impl std::fmt::Display) -> String {
    format!("{PREFIX}{workspace}")
}

/// `WS#<ws>#<KIND>#<id>`: an entity's own partition.
pub fn entity_partition(workspace: impl std::fmt::Display, kind: &str, id: &str) -> String {
    format!("{PREFIX}{workspace}#{kind}#{id}")
}

/// `WS#<ws>#AUDIT`: the audit log.
pub fn audit_partition(workspace: impl std::fmt::Display) -> String {
    format!("{PREFIX}{workspace}#AUDIT")
}

/// The workspace a partition key belongs to (`None`: a global record's key).
pub fn workspace_of(pk: &str) -> Option<&str> {
    let workspace = pk.strip_prefix(PREFIX)?.split('#').next()?;
    (!workspace.is_empty()).then_some(workspace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_domain::ids::WorkspaceId;

    #[test]
    fn every_key_of_a_workspace_names_it_first() {
        let ws = WorkspaceId::generate();
        let text = ws.to_string();
        for pk in [workspace_partition(ws), entity_partition(ws, "CONTACT", "c1"), audit_partition(ws)] {
            assert!(pk.starts_with(&workspace_partition(ws)), "{pk}");
            assert_eq!(workspace_of(&pk), Some(text.as_str()), "{pk}");
        }
        assert_eq!(entity_partition(ws, "CONTACT", "c1"), format!("WS#{ws}#CONTACT#c1"));
        assert_eq!(audit_partition(ws), format!("WS#{ws}#AUDIT"));
        assert_eq!(workspace_of("USER#u1"), None);
        assert_eq!(workspace_of("WS#abc"), Some("abc"));
        assert_eq!(workspace_of("WS#"), None);
    }

    #[test]
    fn the_iam_pattern_matches_audit_partitions_only() {
        let (head, tail) = AUDIT_PARTITION_PATTERN.split_once('*').unwrap();
        let ws = WorkspaceId::generate();
        let audit = audit_partition(ws);
        assert!(audit.starts_with(head) && audit.ends_with(tail));
        let contact = entity_partition(ws, "CONTACT", "c1");
        assert!(!contact.ends_with(tail));
    }
}
