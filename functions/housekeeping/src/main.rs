// The async main nests many SDK futures; their layout needs more than the default depth.
#![recursion_limit = "256"]
use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use tern_aws::Platform;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tern_aws::logging::init();
    let platform = Platform::from_env().await?;
    let deps = &platform;
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
