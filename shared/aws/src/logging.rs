//! Structured logs: JSON lines on Lambda (CloudWatch parses them), the same on the
//! dev host so a test can grep them. Each handler opens a span carrying its request
//! or job id, so every line of one request can be found together.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber once; a second call (tests, dev host) is a no-op.
pub fn init() {
    let filter = EnvFilter::try_from_env("TERN_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .without_time()
        .try_init();
}
