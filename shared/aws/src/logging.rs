//! Structured logs: JSON lines on Lambda (CloudWatch parses them), the same on the
//! dev host so a test can grep them. Each handler opens a span carrying its request
//! or job id, so every line of one request can be found together.

use tracing_subscriber::EnvFilter;

/// lambda_runtime logs each invocation's raw event at TRACE ("raw JSON event
/// received from Lambda"): for API Gateway that is the request's path, headers and
/// body, so unsubscribe tokens, passwords and cookies. That one target never logs
/// below DEBUG, whatever `TERN_LOG` asks for (it has no DEBUG or INFO lines, so a
/// quieter filter is not made louder).
const RAW_EVENTS: &str = "lambda_runtime::layers::api_response=debug";

/// The filter `TERN_LOG` (or `info`) gives, with `RAW_EVENTS` capped.
#[allow(clippy::expect_used, reason = "RAW_EVENTS is a constant directive, covered by a unit test")]
pub fn filter(spec: Option<&str>) -> EnvFilter {
    let filter = spec.and_then(|spec| EnvFilter::try_new(spec).ok()).unwrap_or_else(|| EnvFilter::new("info"));
    filter.add_directive(RAW_EVENTS.parse().expect("a valid directive"))
}

/// Installs the JSON subscriber once; a second call (tests, dev host) is a no-op.
pub fn init() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter(std::env::var("TERN_LOG").ok().as_deref()))
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a subscriber with `filter(spec)` writes for one line at `level` from the
    /// raw-event target and one from elsewhere.
    fn written(spec: &str) -> String {
        #[derive(Clone, Default)]
        struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt().json().with_env_filter(filter(Some(spec))).with_writer(move || writer.clone()).finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "lambda_runtime::layers::api_response", body = "/v1/unsubscribe/planted-token", "raw JSON event received from Lambda");
            tracing::error!(target: "lambda_runtime::layers::api_response", "runtime error");
            tracing::trace!(target: "tern_api", "our own trace line");
        });
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn raw_lambda_events_are_never_logged_even_at_trace() {
        for spec in ["trace", "lambda_runtime=trace", "lambda_runtime::layers::api_response=trace"] {
            let logs = written(spec);
            assert!(!logs.contains("planted-token"), "{spec}: {logs}");
            assert!(logs.contains("runtime error"), "{spec}: errors still show: {logs}");
        }
        assert!(written("trace").contains("our own trace line"), "other targets keep the level asked for");
        assert!(!written("warn").contains("our own trace line"));
    }
}
