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
    /// Contacts whose addresses to verify after the company is enriched (contacts
    /// created or imported at this domain, or one asked for by hand).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contact_ids: Vec<String>,
    /// Only verify `contact_ids`: the company is not (re-)enriched, nothing is
    /// fetched and the quota is not touched.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verify_only: bool,
}

impl EnrichJob {
    /// At most this many contacts ride on one job, so verifying them fits the enrich
    /// function's time limit even when every DNS lookup times out; more are split
    /// over verify-only jobs.
    pub const MAX_CONTACTS: usize = 10;
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

/// Run one privacy task (an erasure) recorded in the workspace; the task item holds
/// what to do and its progress, so a redelivered job resumes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyJob {
    pub workspace_id: WorkspaceId,
    pub request_id: RequestId,
    pub task_id: String,
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

    #[test]
    fn enrich_jobs_without_contacts_read_as_before() {
        let ws = WorkspaceId::generate();
        let rid = RequestId::generate();
        let old = format!(
            r#"{{"workspace_id":"{ws}","request_id":"{rid}","domain":"a.example","website":"https://a.example/","monthly_quota":5}}"#
        );
        let job: EnrichJob = serde_json::from_str(&old).expect("an enrich job of before contact_ids");
        assert!(job.contact_ids.is_empty() && !job.verify_only);
        // And one without contacts is written exactly as before.
        assert_eq!(serde_json::to_value(&job).unwrap(), serde_json::from_str::<serde_json::Value>(&old).unwrap());
        let with = EnrichJob { contact_ids: vec!["c1".into()], verify_only: true, ..job };
        let back: EnrichJob = serde_json::from_str(&serde_json::to_string(&with).unwrap()).unwrap();
        assert_eq!(back, with);
    }
}
