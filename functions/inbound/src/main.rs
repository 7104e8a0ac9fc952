// The async main nests many SDK futures; their layout needs more than the default depth.
#![recursion_limit = "256"]
use std::sync::Arc;
use tern_aws::QueueName;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tern_aws::logging::init();
    let platform = tern_aws::Platform::from_env().await?;
    platform.config().require_queues(&[QueueName::Classify])?;
    let state = Arc::new(tern_inbound::InboundState::new(platform));
    lambda_http::run(tern_inbound::router(state)).await
}
