//! Whose data code may touch: the [`Tenant`] capability.
//!
//! [`Table::scope`](crate::table::Table::scope) and
//! [`Bucket::scope`](crate::bucket::Bucket::scope) take a `Tenant`, not a bare
//! [`WorkspaceId`], so every read or write of a workspace's items and objects
//! starts from a value whose origin is written at the place it was made. There are
//! three origins, as many as there are reasons code may act for a workspace:
//!
//! - an authenticated request: the api's `InWorkspace` extractor checks the
//!   caller's membership (or API key) in the workspace of the path and hands the
//!   handler its tenant;
//! - a decoded job: [`Tenant::of_job`]; the producer was scoped to the workspace
//!   the job names, and the worker acts for that workspace only;
//! - a named lookup: [`Tenant::found`] with the [`Lookup`] that found the
//!   workspace (an API key's hash, an unsubscribe token, an invitation, an
//!   inbound address, a membership index, ...).
//!
//! A workspace created now is [`Tenant::create`]. The few cross-tenant operations
//! (the due index, the deletion sweep, the audit log's retention and checkpoints)
//! are in this crate and make their tenants with the crate-private
//! `Tenant::cross_tenant`. The test `tenant_origins` (shared/aws/tests) keeps
//! each [`Lookup`] to the files that perform that lookup, so a new one is a
//! reviewed change, not a convenience.

use crate::queue::Queued;
use tern_domain::ids::WorkspaceId;

/// A workspace this code is entitled to act in. How it was found is written where
/// it is made (the constructor, and a [`Lookup`] for lookups), not carried along.
#[derive(Debug, Clone, Copy)]
pub struct Tenant(WorkspaceId);

/// The named lookups that lead from something presented to a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The workspace of a request's path, read only to check the caller's
    /// membership or API key in it (the api's `InWorkspace`, and the settings it
    /// needs to decide); the handler runs only if the check admits the caller.
    RequestPath,
    /// The workspace a presented API key's hash belongs to.
    ApiKey,
    /// The workspaces a signed-in person is a member of (their membership index).
    Membership,
    /// The workspace an invitation token was issued in.
    Invitation,
    /// The workspace of an unsubscribe token (the one-click link or the
    /// List-Unsubscribe address).
    UnsubscribeToken,
    /// The workspace an inbound address or a workspace's own webhook names; its
    /// credential or routing rule is checked before anything is stored.
    InboundRoute,
    /// The workspace the tags of our own sent mail name (SES feedback).
    SentMailTag,
    /// The agency workspace of a sub-workspace, read for the rules it sets.
    Parent,
    /// A workspace an operator names on the command line (each action audited).
    Operator,
    /// Tests and benchmarks, observing what the platform stored.
    Observer,
}

impl Tenant {
    /// The workspace a decoded job names.
    pub fn of_job<J: Queued>(job: &J) -> Self {
        Self(job.workspace())
    }

    /// A workspace being created now: a fresh id holds nobody's data yet.
    pub fn create() -> Self {
        Self(WorkspaceId::generate())
    }

    /// A workspace found by `lookup` (see [`Lookup`] for what each one checked).
    /// The lookup is not stored: naming it at the call is what `tenant_origins`
    /// checks against the file that performs it.
    pub fn found(workspace: WorkspaceId, _lookup: Lookup) -> Self {
        Self(workspace)
    }

    /// For this crate's named cross-tenant modules only.
    pub(crate) fn cross_tenant(workspace: WorkspaceId) -> Self {
        Self(workspace)
    }

    pub fn workspace(self) -> WorkspaceId {
        self.0
    }
}

impl std::fmt::Display for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
