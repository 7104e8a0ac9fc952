//! The one event each function gets in the bench, and what a correct answer to it is.
//!
//! Every event is chosen so the handler does its full decode-route-respond path
//! without calling AWS (there is no AWS here): the API functions get requests that
//! are answered before any data access, the SQS workers an empty batch, the
//! scheduled functions a scheduled tick.

use serde_json::{Value, json};

/// Which functions exist, in the order the table lists them. `bare` is the
/// `bare-lambda` floor; the others are `tern-<name>`.
pub const FUNCTIONS: [&str; 9] = ["api", "inbound", "classify", "enrich", "dispatch", "send", "feedback", "housekeeping", "bare"];

pub fn binary_name(function: &str) -> String {
    if function == "bare" { "bare-lambda".to_string() } else { format!("tern-{function}") }
}

/// How a function is triggered on AWS, which decides its bench event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    HttpApi { method: &'static str, path: &'static str, expected_status: u16 },
    Sqs,
    Schedule,
}

pub fn trigger(function: &str) -> Option<Trigger> {
    Some(match function {
        "api" => Trigger::HttpApi { method: "GET", path: "/health", expected_status: 200 },
        // No Authorization header: the webhook refuses it with 401 before touching
        // the body or AWS, which is still a fully handled event.
        "inbound" => Trigger::HttpApi { method: "POST", path: "/inbound/raw", expected_status: 401 },
        "classify" | "enrich" | "send" | "feedback" => Trigger::Sqs,
        "dispatch" | "housekeeping" | "bare" => Trigger::Schedule,
        _ => return None,
    })
}

pub fn event(trigger: Trigger) -> Value {
    match trigger {
        Trigger::HttpApi { method, path, .. } => http_api_v2(method, path),
        // Zero records: the worker decodes the batch and answers with no failures,
        // so no AWS request is made.
        Trigger::Sqs => json!({ "Records": [] }),
        Trigger::Schedule => scheduled_event(),
    }
}

/// Checks the function's answer, so a fast error is never reported as a fast start.
/// Returns a short description for the table, or why the answer is wrong.
pub fn check_response(trigger: Trigger, body: &[u8]) -> Result<String, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("response is not JSON: {e}"))?;
    match trigger {
        Trigger::HttpApi { expected_status, .. } => {
            let status = value.get("statusCode").and_then(Value::as_u64);
            if status == Some(u64::from(expected_status)) {
                Ok(format!("HTTP {expected_status}"))
            } else {
                Err(format!("expected statusCode {expected_status}, got {}", short(&value)))
            }
        }
        Trigger::Sqs => match value.get("batchItemFailures").and_then(Value::as_array) {
            Some(failures) if failures.is_empty() => Ok("0 failures".to_string()),
            _ => Err(format!("expected an empty batchItemFailures, got {}", short(&value))),
        },
        Trigger::Schedule => Ok("ok".to_string()),
    }
}

fn short(value: &Value) -> String {
    value.to_string().chars().take(200).collect()
}

/// An API Gateway HTTP API (payload format 2.0) request, as AWS documents it.
fn http_api_v2(method: &str, path: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "accept": "*/*",
            "content-length": "0",
            "host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "user-agent": "tern-bench",
            "x-amzn-trace-id": "Root=1-5e1b4151-5ac6c58f5cf9eb0e5b8b0b5d",
            "x-forwarded-for": "203.0.113.10",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https"
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abcdef1234",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "tern-bench"
            },
            "requestId": "bench-request",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000u64
        },
        "isBase64Encoded": false
    })
}

/// An EventBridge scheduled rule's event.
fn scheduled_event() -> Value {
    json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/tern-bench"],
        "detail": {}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_has_a_trigger() {
        for f in FUNCTIONS {
            assert!(trigger(f).is_some(), "{f}");
        }
    }

    #[test]
    fn an_http_answer_must_carry_the_expected_status() {
        let t = trigger("inbound").unwrap();
        assert_eq!(check_response(t, br#"{"statusCode":401,"body":"{}"}"#).unwrap(), "HTTP 401");
        assert!(check_response(t, br#"{"statusCode":500}"#).is_err());
    }

    #[test]
    fn an_sqs_answer_must_report_no_failures() {
        assert!(check_response(Trigger::Sqs, br#"{"batchItemFailures":[]}"#).is_ok());
        assert!(check_response(Trigger::Sqs, br#"{"batchItemFailures":[{"itemIdentifier":"1"}]}"#).is_err());
    }
}
