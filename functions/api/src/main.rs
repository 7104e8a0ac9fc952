// The async main nests many SDK futures; their layout needs more than the default depth.
#![recursion_limit = "256"]
use std::sync::Arc;
use tern_aws::{AwsClients, Config};
use tern_domain::clock::SystemClock;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tern_aws::logging::init();
    let config = Config::from_env()?;
    let clients = AwsClients::from_env(&config).await;
    let state = Arc::new(tern_api::ApiState::new(config, clients, Arc::new(SystemClock))?);
    lambda_http::run(tern_api::router(state)).await
}
