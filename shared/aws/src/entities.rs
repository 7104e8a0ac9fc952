//! Which domain types are table items, and under what kind. One line per entity.

use crate::table::Entity;
use serde::{Deserialize, Serialize};
use tern_domain::inbound::InboundMessage;
use tern_domain::plan::Plan;
use tern_extract::{CompanyProfile, IdealCustomer};

/// A tenant: its settings and its own KMS key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub plan: Plan,
    pub timezone: String,
    pub locale: String,
    /// The agency workspace this one belongs to, if any.
    pub parent_id: Option<String>,
    pub kms_key_id: String,
    pub require_2fa: bool,
    pub created_at: i64,
    /// Enterprise: requests from other addresses are refused (CIDR entries).
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    /// A sub-workspace's explicit grant: its agency's owners may read its audit trail.
    #[serde(default)]
    pub parent_may_read_audit: bool,
    /// Days no sequence step falls on (besides weekends).
    #[serde(default)]
    pub holidays: std::collections::BTreeSet<jiff::civil::Date>,
    /// The sender's postal address, printed in every message's footer (CAN-SPAM).
    #[serde(default)]
    pub postal_address: Option<String>,
    /// `{{my_company_description}}` in templates.
    #[serde(default)]
    pub company_description: Option<String>,
    /// Custom contact fields templates may use (`{{industry}}`); imports add to it.
    #[serde(default)]
    pub custom_fields: std::collections::BTreeSet<String>,
    /// Growth and above: the workspace's own domain, verified in SES.
    #[serde(default)]
    pub sending_domain: Option<String>,
    /// Days inbound-mail metadata is kept (60 unless the workspace set otherwise).
    #[serde(default)]
    pub inbound_retention_days: Option<u16>,
    /// When the owner scheduled the workspace's deletion, the unix time it is due;
    /// until then it stays readable but sends nothing (see `crate::deletion`).
    #[serde(default)]
    pub deletion_scheduled_for: Option<i64>,
}

impl Workspace {
    /// How long inbound-mail metadata is kept: the workspace's window, else the default.
    pub fn inbound_retention(&self) -> time::Duration {
        self.inbound_retention_days
            .map(|days| time::Duration::days(i64::from(days)))
            .unwrap_or(tern_domain::inbound::DEFAULT_INBOUND_RETENTION)
    }
}

impl Entity for Workspace {
    const KIND: &'static str = "WORKSPACE";
    fn id(&self) -> &str {
        &self.id
    }
}

/// In the workspace's collection, so the workspace's inbound mail can be listed
/// (and erased) with the rest of its data.
impl Entity for InboundMessage {
    const KIND: &'static str = "INBOUND";
    const COLLECTION: bool = true;
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrichmentStatus {
    Pending,
    Done,
    /// Ended without a profile; `failure` says why in words a person understands.
    Failed,
}

/// One workspace's enrichment of one company, keyed by registrable domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    pub domain: String,
    /// Where fetching starts (the website the user gave).
    pub website: String,
    pub status: EnrichmentStatus,
    pub requested_at: i64,
    pub finished_at: Option<i64>,
    pub failure: Option<String>,
    pub profile: Option<CompanyProfile>,
    pub pages_fetched: u32,
    /// Served from the cross-tenant cache of public company facts.
    pub from_cache: bool,
}

impl Entity for Enrichment {
    const KIND: &'static str = "ENRICHMENT";
    const COLLECTION: bool = true;
    fn id(&self) -> &str {
        &self.domain
    }
}

/// Successful enrichments in one month (`YYYY-MM`), counted against the plan's quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrichmentUsage {
    pub month: String,
    pub used: u32,
}

impl Entity for EnrichmentUsage {
    const KIND: &'static str = "ENRICHUSAGE";
    fn id(&self) -> &str {
        &self.month
    }
}

/// What the workspace sells to: the lead score's reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdealCustomerSettings {
    pub id: String,
    pub ideal_customer: IdealCustomer,
}

impl IdealCustomerSettings {
    pub const ID: &'static str = "settings";
}

impl Entity for IdealCustomerSettings {
    const KIND: &'static str = "ICP";
    fn id(&self) -> &str {
        &self.id
    }
}
