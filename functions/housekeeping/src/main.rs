// The async main nests many SDK futures; their layout needs more than the default depth.
#![recursion_limit = "256"]
use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
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
    let deps = tern_housekeeping::HousekeepingDeps { config, clients, clock: Arc::new(SystemClock) };
    let deps = &deps;
    // Two triggers, one function: the daily schedule and the privacy queue. An SQS
    // event is the one with `Records`.
    run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        if event.payload.get("Records").is_some() {
            let batch: SqsEvent = serde_json::from_value(event.payload)?;
            Ok::<_, Error>(serde_json::to_value(tern_housekeeping::handle_jobs(deps, batch).await)?)
        } else {
            let tick: CloudWatchEvent = serde_json::from_value(event.payload)?;
            Ok(serde_json::to_value(tern_housekeeping::handle(deps, tick).await?)?)
        }
    }))
    .await
}
