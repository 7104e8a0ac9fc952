//! The smallest Lambda we could ship: lambda_runtime with an echo handler and no
//! AWS SDK, no logging setup. The bench runs it next to the real functions so the
//! table shows how much of a cold start is the runtime itself.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|event: LambdaEvent<Value>| async move { Ok::<_, Error>(event.payload) })).await
}
