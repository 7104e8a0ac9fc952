//! The messages functions send each other through SQS.
//!
//! One type per queue, owned here so producer and consumer cannot disagree. Every
//! job carries its workspace (workers never guess a tenant) and a request id that
//! follows it through the logs of every function it touches.

use crate::ids::{RequestId, WorkspaceId};
use serde::{Deserialize, Serialize};

/// An inbound e-mail was received and stored; classify it and apply the effects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifyJob {
    pub workspace_id: WorkspaceId,
    pub request_id: RequestId,
    /// The inbound message's id (also its raw object's name, see the inbound function).
    pub inbound_id: String,
}

/// Enrich one company from its website.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichJob {
    pub workspace_id: WorkspaceId,
    pub request_id: RequestId,
    /// The registrable domain, the enrichment's key.
    pub domain: String,
    /// Where fetching starts (`https://example.com/`).
    pub website: String,
    /// The plan's monthly enrichment quota when the job was made.
    pub monthly_quota: u32,
}

/// Send one step of one enrollment. `(enrollment_id, step)` is the idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendJob {
    pub workspace_id: WorkspaceId,
    pub request_id: RequestId,
    pub enrollment_id: String,
    pub step: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_refused_so_a_typo_is_a_poison_message_not_a_silent_default() {
        let ws = WorkspaceId::generate();
        let rid = RequestId::generate();
        let ok = format!(r#"{{"workspace_id":"{ws}","request_id":"{rid}","inbound_id":"m1"}}"#);
        assert!(serde_json::from_str::<ClassifyJob>(&ok).is_ok());
        let typo = format!(r#"{{"workspace_id":"{ws}","request_id":"{rid}","inboundid":"m1"}}"#);
        assert!(serde_json::from_str::<ClassifyJob>(&typo).is_err());
    }
}
