//! The one value each function builds at cold start and hands to every handler
//! call: its configuration, its clock, and every adapter it reaches AWS through.
//!
//! Built once per container, so the caches the adapters keep (the sealer's data
//! keys, the audit anchor key, the SDK's connections) live across batches and
//! requests instead of being rebuilt per job. The raw SDK clients stay inside
//! this crate: code outside reaches the table through a workspace scope, the bucket
//! through a scoped bucket, queues through typed jobs, and the few operations that
//! cross workspaces through their named modules (`deletion`, the due index of
//! `outreach::store`, `global`).

use crate::audit::AuditLog;
use crate::bucket::Bucket;
use crate::clients::AwsClients;
use crate::config::{Config, ConfigError};
use crate::cost_meter::CostMeter;
use crate::global::GlobalTable;
use crate::outreach::store::DueIndex;
use crate::queue::Queues;
use crate::sealing::{DEFAULT_CACHE_TTL, Sealer, SealingError};
use crate::ses::Ses;
use crate::table::Table;
use crate::worker::PoisonLog;
use std::sync::Arc;
use tern_domain::clock::{SharedClock, SystemClock};
use tern_domain::ids::WorkspaceId;

#[derive(Debug, Clone)]
pub struct Platform {
    config: Config,
    clock: SharedClock,
    clients: AwsClients,
    table: Table,
    global: GlobalTable,
    sealer: Sealer,
    audit: AuditLog,
    poison: PoisonLog,
    bucket: Bucket,
    queues: Queues,
    ses: Ses,
}

impl Platform {
    /// What every `main.rs` does first: configuration from the environment, the SDK's
    /// own credential chain, the system clock.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let clients = AwsClients::from_env(&config).await;
        Ok(Self::new(config, clients, Arc::new(SystemClock)))
    }

    /// The dev host and tests: their own clients (moto) and clock.
    pub fn new(config: Config, clients: AwsClients, clock: SharedClock) -> Self {
        let table = Table::new(clients.dynamodb.clone(), config.table.clone());
        let global = GlobalTable::new(clients.dynamodb.clone(), config.table.clone());
        let sealer = Sealer::new(clients.kms.clone(), DEFAULT_CACHE_TTL);
        let audit = AuditLog::new(&clients, &config);
        let poison = PoisonLog::new(global.clone(), clock.clone());
        let bucket = Bucket::new(clients.s3.clone(), config.bucket.clone());
        let queues = Queues::new(clients.sqs.clone(), &config);
        let ses = Ses::new(clients.ses.clone(), config.ses_configuration_set.clone());
        Self { config, clock, clients, table, global, sealer, audit, poison, bucket, queues, ses }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Requests made through this platform's clients, by service and operation.
    pub fn meter(&self) -> &CostMeter {
        &self.clients.meter
    }

    /// The table; reached only through [`Table::scope`].
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Records that belong to no workspace (users, sessions, lookups by token).
    pub fn global(&self) -> &GlobalTable {
        &self.global
    }

    /// The due index: the one read across workspaces that the dispatcher makes.
    pub fn due_index(&self) -> DueIndex {
        DueIndex::new(self.clients.dynamodb.clone(), self.config.table.clone())
    }

    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Where this function's workers record the jobs that can never succeed.
    pub fn poison(&self) -> &PoisonLog {
        &self.poison
    }

    /// The bucket; reached through [`Bucket::scope`] (or by name for SES's landing area).
    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    pub fn queues(&self) -> &Queues {
        &self.queues
    }

    pub fn ses(&self) -> &Ses {
        &self.ses
    }

    /// Creates (or finds, when a retry made it already) `workspace`'s KMS key.
    pub async fn create_workspace_key(&self, workspace: WorkspaceId) -> Result<String, SealingError> {
        crate::workspace_keys::create_workspace_key(&self.clients.kms, workspace).await
    }

    /// Within the crate: the named cross-workspace modules reach the raw clients.
    pub(crate) fn clients(&self) -> &AwsClients {
        &self.clients
    }
}
