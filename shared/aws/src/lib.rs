//! Tern's AWS adapters: everything that talks to AWS goes through here.
//!
//! Functions get a [`config::Config`] from the environment once at cold start, build
//! [`clients::AwsClients`] once, and hand both to their handler. Locally and in tests
//! the same SDK calls reach moto on loopback through `AWS_ENDPOINT_URL`; there is no
//! other "local mode".

pub mod audit;
pub mod clients;
pub mod config;
pub mod cost_meter;
pub mod deletion;
pub mod entities;
pub mod global;
pub mod inbound;
pub mod inventory;
pub mod llm;
pub mod logging;
pub mod outreach;
pub mod privacy;
pub mod provision;
pub mod queue;
pub mod sealing;
pub mod table;
pub mod template;
pub mod worker;
pub mod workspace_keys;

pub use clients::AwsClients;
pub use config::{Config, ConfigError, QueueName};
pub use cost_meter::CostMeter;
