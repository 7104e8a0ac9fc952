// The async main nests many SDK futures; their layout needs more than the default depth.
#![recursion_limit = "256"]
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use tern_aws::Platform;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tern_aws::logging::init();
    let deps = tern_classify::ClassifyDeps::new(Platform::from_env().await?);
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move { Ok::<_, Error>(tern_classify::handle(deps, event.payload).await) }))
        .await
}
