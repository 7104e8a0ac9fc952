// The async main nests many SDK futures; their layout needs more than the default depth.
#![recursion_limit = "256"]
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use std::sync::Arc;
use tern_aws::Platform;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tern_aws::logging::init();
    let smtp = tern_send::smtp::SmtpClient::new(tern_web::Policy::mail(), Arc::new(tern_web::fetch::SystemResolver));
    let deps = tern_send::SendDeps::new(Platform::from_env().await?, smtp);
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move { Ok::<_, Error>(tern_send::handle(deps, event.payload).await) })).await
}
