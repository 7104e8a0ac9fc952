// The async main nests many SDK futures; their layout needs more than the default depth.
#![recursion_limit = "256"]
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use tern_aws::{Platform, QueueName};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tern_aws::logging::init();
    let platform = Platform::from_env().await?;
    // SES inbound mail is queued for classification.
    platform.config().require_queues(&[QueueName::Classify])?;
    let deps = &platform;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move { Ok::<_, Error>(tern_feedback::handle(deps, event.payload).await) }))
        .await
}
