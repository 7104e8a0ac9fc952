//! The `api` function: the web client's and the public API's HTTP routes.
//!
//! An axum router, served by lambda_http on Lambda and by the dev host on a local
//! port. Routes come with the identity, outreach and privacy issues; the router's
//! error handling, limits and request ids come from `tern_http`.

use axum::Router;
use axum::routing::get;
use serde::Serialize;
use std::sync::Arc;
use tern_aws::{AwsClients, Config};
use tern_domain::clock::SharedClock;
use tern_http::Json;

pub struct ApiState {
    pub config: Config,
    pub clients: AwsClients,
    pub clock: SharedClock,
}

pub fn router(state: Arc<ApiState>) -> Router {
    let routes = Router::new().route("/health", get(health)).with_state(state);
    tern_http::with_common_layers(routes, tern_http::DEFAULT_BODY_LIMIT)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
}

/// Shallow on purpose: it says the function runs, without spending AWS requests on
/// every load-balancer probe.
async fn health() -> Json<Health> {
    Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION") })
}
