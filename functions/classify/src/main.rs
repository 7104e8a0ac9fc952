// The async main nests many SDK futures; their layout needs more than the default depth.
#![recursion_limit = "256"]
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use std::sync::Arc;
use tern_aws::{AwsClients, Config};
use tern_domain::clock::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tern_aws::logging::init();
    let config = Config::from_env()?;
    let clients = AwsClients::from_env(&config).await;
    let deps = tern_classify::ClassifyDeps::new(config, clients, Arc::new(SystemClock));
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move { Ok::<_, Error>(tern_classify::handle(deps, event.payload).await) }))
        .await
}
