// The async main nests many SDK futures; their layout needs more than the default depth.
#![recursion_limit = "256"]
use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use tern_aws::Platform;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tern_aws::logging::init();
    let platform = Platform::from_env().await?;
    let deps = &platform;
    run(service_fn(move |event: LambdaEvent<CloudWatchEvent>| async move {
        tern_dispatch::handle(deps, event.payload).await.map_err(Error::from)
    }))
    .await
}
