//! The `api` function: the web client's and the public API's HTTP routes.
//!
//! An axum router, served by lambda_http on Lambda and by the dev host on a local
//! port. Identity (sign-up, sign-in, sessions), workspaces, members, invitations and
//! the audit log live here; errors, limits and request ids come from `tern_http`,
//! the security primitives from `tern_security`, storage from `tern_aws`.

pub mod auth;
pub mod openapi;
pub mod records;
pub mod routes;
pub mod sessions;

use axum::Router;
use axum::routing::{delete, get, patch, post};
use std::sync::Arc;
use tern_aws::audit::AuditLog;
use tern_aws::global::GlobalTable;
use tern_aws::table::Table;
use tern_aws::{AwsClients, Config, ConfigError};
use tern_domain::clock::SharedClock;
use tern_http::Json;
use tern_security::access_token::{Keyring, SigningKey};
use tern_security::password::{PasswordHasher, PasswordPolicy};

pub struct ApiState {
    pub config: Config,
    pub clients: AwsClients,
    pub clock: SharedClock,
    pub table: Table,
    pub global: GlobalTable,
    pub audit: AuditLog,
    pub keyring: Keyring,
    pub hasher: PasswordHasher,
    pub policy: PasswordPolicy,
}

impl ApiState {
    pub fn new(config: Config, clients: AwsClients, clock: SharedClock) -> Result<Self, ConfigError> {
        let invalid = |reason: &str| ConfigError::Invalid { name: tern_aws::config::SESSION_KEY_VAR, reason: reason.into() };
        let key = config.session_key.clone().ok_or(ConfigError::Missing(tern_aws::config::SESSION_KEY_VAR))?;
        let signing = SigningKey::new("k1", key.into_bytes().into()).map_err(|_| invalid("must be at least 32 bytes"))?;
        let keyring = Keyring::new(signing, Vec::new()).map_err(|_| invalid("bad key id"))?;
        Ok(Self {
            table: Table::new(clients.dynamodb.clone(), config.table.clone()),
            global: GlobalTable::new(clients.dynamodb.clone(), config.table.clone()),
            audit: AuditLog::new(clients.dynamodb.clone(), config.table.clone()),
            config,
            clients,
            clock,
            keyring,
            hasher: PasswordHasher::default(),
            policy: PasswordPolicy::default(),
        })
    }

    pub fn now_unix(&self) -> u64 {
        self.clock.now().unix_timestamp().max(0) as u64
    }
}

pub fn router(state: Arc<ApiState>) -> Router {
    use routes::{audit, identity, workspaces};
    let routes = Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi::document))
        .route("/v1/signup", post(identity::sign_up))
        .route("/v1/sessions", post(identity::sign_in).get(identity::list_sessions))
        .route("/v1/sessions/refresh", post(identity::refresh))
        .route("/v1/sessions/{session_id}", delete(identity::revoke_session))
        .route("/v1/me/password", post(identity::change_password))
        .route("/v1/invites/accept", post(workspaces::accept_invite))
        .route("/v1/workspaces/{ws}", get(workspaces::get_workspace).patch(workspaces::update_workspace))
        .route("/v1/workspaces/{ws}/members", get(workspaces::list_members))
        .route(
            "/v1/workspaces/{ws}/members/{user_id}",
            patch(workspaces::change_role).delete(workspaces::remove_member),
        )
        .route("/v1/workspaces/{ws}/invites", post(workspaces::invite))
        .route("/v1/workspaces/{ws}/audit", get(audit::list))
        .route("/v1/workspaces/{ws}/audit/verify", get(audit::verify))
        .with_state(state);
    tern_http::with_common_layers(routes, tern_http::DEFAULT_BODY_LIMIT)
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
    version: &'static str,
}

/// Shallow on purpose: it says the function runs, without spending AWS requests on
/// every load-balancer probe.
#[utoipa::path(get, path = "/health", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION") })
}
