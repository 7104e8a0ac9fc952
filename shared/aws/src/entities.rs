//! Which domain types are table items, and under what kind. One line per entity.

use crate::table::Entity;
use serde::{Deserialize, Serialize};
use tern_domain::inbound::InboundMessage;
use tern_extract::{CompanyProfile, IdealCustomer};

impl Entity for InboundMessage {
    const KIND: &'static str = "INBOUND";
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
