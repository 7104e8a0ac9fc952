//! Stands in for EventBridge schedules: ticks a scheduled function periodically with
//! a real scheduled-event payload. The event's time is the dev host's clock, so a
//! moved clock is what the function sees.

use crate::functions::Functions;
use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use std::sync::Arc;
use std::time::Duration;
use tern_domain::clock::SharedClock;
use tokio::sync::watch;

/// The period of a schedule expression. `rate(...)` is exact; a `cron(...)` runs
/// daily here, which is what Tern's cron schedules are.
pub fn period(expression: &str) -> Duration {
    let daily = Duration::from_secs(24 * 3600);
    let Some(inner) = expression.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) else {
        return daily;
    };
    let mut parts = inner.split_whitespace();
    let n: u64 = parts.next().and_then(|n| n.parse().ok()).unwrap_or(1);
    let unit = match parts.next().unwrap_or("day").trim_end_matches('s') {
        "minute" => 60,
        "hour" => 3600,
        _ => 24 * 3600,
    };
    Duration::from_secs(n * unit)
}

pub fn scheduled_event(function: &str, at: time::OffsetDateTime) -> CloudWatchEvent {
    let time = at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let value = serde_json::json!({
        "version": "0",
        "id": tern_domain::ids::RequestId::generate().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": time,
        "region": "us-east-1",
        "resources": [format!("arn:aws:events:us-east-1:000000000000:rule/{function}")],
        "detail": {}
    });
    serde_json::from_value(value).unwrap_or_default()
}

pub async fn run(function: String, functions: Arc<Functions>, clock: SharedClock, period: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(period);
    interval.tick().await; // the first tick is immediate; EventBridge's is not
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            _ = interval.tick() => {}
        }
        tick(&function, &functions, clock.now()).await;
    }
}

pub async fn tick(function: &str, functions: &Functions, at: time::OffsetDateTime) -> Option<Result<serde_json::Value, String>> {
    let result = functions.invoke_schedule(function, scheduled_event(function, at)).await;
    if let Some(Err(error)) = &result {
        tracing::warn!(function, %error, "scheduled run failed");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_crons() {
        assert_eq!(period("rate(1 minute)"), Duration::from_secs(60));
        assert_eq!(period("rate(5 minutes)"), Duration::from_secs(300));
        assert_eq!(period("rate(2 hours)"), Duration::from_secs(7200));
        assert_eq!(period("cron(15 3 * * ? *)"), Duration::from_secs(86400));
    }

    #[test]
    fn scheduled_events_carry_the_given_time() {
        let at = time::macros::datetime!(2026-12-07 09:00 UTC);
        let event = scheduled_event("DispatchFunction", at);
        assert_eq!(event.time.to_rfc3339(), "2026-12-07T09:00:00+00:00");
        assert_eq!(event.detail_type.as_deref(), Some("Scheduled Event"));
    }
}
