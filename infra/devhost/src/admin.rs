//! The dev host's HTTP side: API Gateway's routing for the template's HTTP routes,
//! plus `/_dev/...` routes that only exist locally (clock, ticks, cost meter, the
//! operator's plan command, the account mails the platform sent).

use crate::functions::Functions;
use crate::schedule;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use std::sync::Arc;
use tern_aws::CostMeter;
use tern_domain::clock::{AdjustableClock, Clock};
use tern_domain::cost::PriceTable;
use tern_http::{ApiError, Json, Path};
use tower::ServiceExt;

#[derive(Clone)]
struct DevState {
    functions: Arc<Functions>,
    clock: Arc<AdjustableClock>,
    meter: CostMeter,
}

/// `routes`: `(function, method, path)` from the template's HttpApi events.
pub fn router(functions: Arc<Functions>, clock: Arc<AdjustableClock>, meter: CostMeter, routes: &[(String, String, String)]) -> Router {
    // Matched here, by API Gateway's rules, rather than by an outer axum router, so
    // each function's router sees the request exactly as it does on Lambda.
    let table: Arc<Vec<(String, Router)>> = Arc::new(
        routes.iter().filter_map(|(function, _method, path)| functions.http_router(function).map(|r| (path.clone(), r))).collect(),
    );
    let dev = Router::new()
        .route("/_dev/clock", get(clock_now))
        .route("/_dev/clock/advance", post(advance_clock))
        .route("/_dev/tick/{function}", post(tick))
        .route("/_dev/usage", get(usage))
        .route("/_dev/workspaces/{ws}/plan", post(set_plan))
        .route("/_dev/mail", get(platform_mail))
        .with_state(DevState { functions, clock, meter });
    let dev = tern_http::with_common_layers(dev, tern_http::DEFAULT_BODY_LIMIT);
    let gateway = tower::service_fn(move |request: axum::extract::Request| {
        let target = table
            .iter()
            .find(|(pattern, _)| route_matches(pattern, request.uri().path()))
            .map(|(_, router)| router.clone())
            .unwrap_or_else(|| dev.clone());
        target.oneshot(request)
    });
    Router::new().fallback_service(gateway)
}

/// API Gateway's route matching: literal segments, `{name}` for one segment,
/// `{name+}` for one or more remaining segments. The method is the function's business
/// (routes here are `ANY` or a single method the function also checks).
fn route_matches(pattern: &str, path: &str) -> bool {
    let mut wanted = pattern.trim_start_matches('/').split('/');
    let mut given = path.trim_start_matches('/').split('/');
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with("+}") => {
                return !g.is_empty() || given.next().is_some();
            }
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') => {
                if g.is_empty() {
                    return false;
                }
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return false,
        }
    }
}

fn clock_json(clock: &AdjustableClock) -> serde_json::Value {
    let now = clock.now().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    serde_json::json!({ "now": now, "offset_seconds": clock.offset().whole_seconds() })
}

async fn clock_now(State(state): State<DevState>) -> Json<serde_json::Value> {
    Json(clock_json(&state.clock))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    #[serde(default)]
    days: i64,
    #[serde(default)]
    hours: i64,
    #[serde(default)]
    minutes: i64,
    #[serde(default)]
    seconds: i64,
}

async fn advance_clock(State(state): State<DevState>, Json(by): Json<Advance>) -> Result<Json<serde_json::Value>, ApiError> {
    let seconds = by
        .days
        .checked_mul(86_400)
        .and_then(|d| d.checked_add(by.hours.checked_mul(3600)?))
        .and_then(|t| t.checked_add(by.minutes.checked_mul(60)?))
        .and_then(|t| t.checked_add(by.seconds))
        .filter(|s| (0..=10 * 365 * 86_400).contains(s))
        .ok_or_else(|| ApiError::unprocessable("invalid_step", "Move the clock forward by zero to ten years."))?;
    state.clock.advance(time::Duration::seconds(seconds)).map_err(|e| ApiError::unprocessable("invalid_step", e.to_string()))?;
    Ok(Json(clock_json(&state.clock)))
}

async fn tick(State(state): State<DevState>, Path(function): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    match schedule::tick(&function, &state.functions, state.clock.now()).await {
        Some(Ok(result)) => Ok(Json(result)),
        Some(Err(error)) => Err(ApiError::new(StatusCode::BAD_GATEWAY, "function_failed", error)),
        None => Err(ApiError::not_found()),
    }
}

async fn usage(State(state): State<DevState>) -> Json<serde_json::Value> {
    let usage = state.meter.snapshot();
    Json(serde_json::json!({
        "aws": usage,
        "aws_requests": usage.total_requests(),
        "dollars": PriceTable::US_EAST_1.dollars(&usage),
        "invocations": state.functions.invocations(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MailQuery {
    to: String,
}

/// The account mails (verification and reset links) the platform sent to an
/// address, oldest first: locally there is no inbox to read them in.
async fn platform_mail(State(state): State<DevState>, tern_http::Query(query): tern_http::Query<MailQuery>) -> Json<serde_json::Value> {
    let mails = state.functions.platform_mail_to(&query.to);
    Json(
        serde_json::json!({ "messages": mails.iter().map(|m| serde_json::json!({ "to": m.to, "subject": m.subject, "text": m.text })).collect::<Vec<_>>() }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetPlan {
    plan: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    operator: Option<String>,
}

/// `scripts/operator set-plan`, locally: the same [`tern_operator::set_plan`] on the
/// dev host's table, so tests and local users move a workspace off its trial the way
/// an operator does in production (audited as `operator:<name>`).
async fn set_plan(
    State(state): State<DevState>,
    Path(ws): Path<String>,
    Json(input): Json<SetPlan>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let workspace = tern_domain::ids::WorkspaceId::parse(&ws).map_err(|_| ApiError::not_found())?;
    let plan = tern_operator::parse_plan(&input.plan)
        .ok_or_else(|| ApiError::unprocessable("invalid_plan", "One of trial, starter, growth, pro, agency, enterprise."))?;
    let api = state.functions.api_state();
    let operator = tern_operator::Operator {
        name: input.operator.as_deref().unwrap_or("dev"),
        reason: input.reason.as_deref().unwrap_or("set on the dev host"),
    };
    let change = tern_operator::set_plan(api.platform.table(), api.platform.audit(), workspace, plan, &operator, state.clock.now())
        .await
        .map_err(|e| match e {
        tern_operator::OperatorError::NoSuchWorkspace(_) => ApiError::not_found(),
        tern_operator::OperatorError::Store(e) => ApiError::unavailable(e),
        other => ApiError::unprocessable("invalid_operator_request", other.to_string()),
    })?;
    // The api function caches settings per container; the operator's change applies
    // at once here (in production within the cache's lifetime).
    api.remember_settings(workspace, Arc::new(change.workspace));
    Ok(Json(serde_json::json!({ "workspace_id": ws, "from": change.from, "to": change.to })))
}

#[cfg(test)]
mod tests {
    use super::route_matches;

    #[test]
    fn matches_like_api_gateway() {
        assert!(route_matches("/health", "/health"));
        assert!(!route_matches("/health", "/health/x"));
        assert!(route_matches("/v1/{proxy+}", "/v1/workspaces/abc"));
        assert!(route_matches("/v1/{proxy+}", "/v1/x"));
        assert!(!route_matches("/v1/{proxy+}", "/v1/"));
        assert!(!route_matches("/v1/{proxy+}", "/v1"));
        assert!(route_matches("/inbound/{format}", "/inbound/raw"));
        assert!(!route_matches("/inbound/{format}", "/inbound/raw/extra"));
        assert!(!route_matches("/inbound/{format}", "/inbound/"));
    }
}
