// The async main nests many SDK futures; their layout needs more than the default depth.
#![recursion_limit = "256"]
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use tern_aws::Platform;
use tern_web::fetch::{Fetcher, Limits};
use tern_web::guard::Policy;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tern_aws::logging::init();
    let make = Box::new(|| Fetcher::new(Policy::website(), Limits::default()));
    let deps = tern_enrich::EnrichDeps::with_lazy_fetcher(Platform::from_env().await?, make);
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move { Ok::<_, Error>(tern_enrich::handle(deps, event.payload).await) })).await
}
