//! What each plan includes. One table of numbers, read by the API (quotas shown to
//! users) and the workers (quotas enforced), so the two cannot disagree.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Trial,
    Starter,
    Growth,
    Pro,
    Agency,
    Enterprise,
}

impl Plan {
    /// Successful enrichments included per calendar month.
    pub fn monthly_enrichments(self) -> u32 {
        match self {
            Plan::Trial => 50,
            Plan::Starter => 500,
            Plan::Growth => 2_000,
            Plan::Pro => 10_000,
            Plan::Agency => 25_000,
            Plan::Enterprise => 100_000,
        }
    }

    /// E-mails sent per calendar month (in the sending mailbox's timezone).
    pub fn monthly_sends(self) -> u32 {
        match self {
            Plan::Trial => 200,
            Plan::Starter => 5_000,
            Plan::Growth => 25_000,
            Plan::Pro => 100_000,
            Plan::Agency => 250_000,
            Plan::Enterprise => 1_000_000,
        }
    }

    /// Client workspaces an agency may create (each is a tenancy with its own KMS key).
    pub fn max_sub_workspaces(self) -> u64 {
        match self {
            Plan::Agency => 20,
            Plan::Trial | Plan::Starter | Plan::Growth | Plan::Pro | Plan::Enterprise => 0,
        }
    }

    /// Trial and starter send from the platform's domain with a small "Sent with
    /// Tern" footer; growth and above may send from their own verified domain.
    pub fn may_use_custom_domain(self) -> bool {
        !matches!(self, Plan::Trial | Plan::Starter)
    }
}
