//! Tern's AWS adapters: everything that talks to AWS goes through here.
//!
//! Functions build one [`Platform`] at cold start (configuration from the
//! environment, the clients, the adapters) and hand it to their handler. Locally and in tests
//! the same SDK calls reach moto on loopback through `AWS_ENDPOINT_URL`; there is no
//! other "local mode".

pub mod audit;
pub mod audit_checkpoint;
pub mod bucket;
pub mod clients;
pub mod config;
pub mod cost_meter;
pub mod deletion;
pub mod entities;
pub mod global;
pub mod inbound;
pub mod inventory;
pub mod keys;
pub mod llm;
pub mod logging;
pub mod outreach;
pub mod platform;
pub mod privacy;
pub mod provision;
pub mod queue;
pub mod sealing;
pub mod ses;
pub mod table;
pub mod template;
pub mod tenant;
pub mod worker;
pub mod workspace_keys;

pub use clients::AwsClients;
pub use config::{Config, ConfigError, QueueName};
pub use cost_meter::CostMeter;
pub use platform::Platform;
pub use tenant::{Lookup, Tenant};
