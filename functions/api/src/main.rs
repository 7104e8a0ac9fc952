// The async main nests many SDK futures; their layout needs more than the default depth.
#![recursion_limit = "256"]
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tern_aws::logging::init();
    let state = Arc::new(tern_api::ApiState::new(tern_aws::Platform::from_env().await?)?);
    lambda_http::run(tern_api::router(state)).await
}
