//! The `api` function: the web client's and the public API's HTTP routes.
//!
//! An axum router, served by lambda_http on Lambda and by the dev host on a local
//! port. Identity (sign-up, sign-in, sessions), workspaces, members, invitations and
//! the audit log live here; errors, limits and request ids come from `tern_http`,
//! the security primitives from `tern_security`, storage from `tern_aws`.

pub mod attempts;
pub mod auth;
pub mod limits;
pub mod openapi;
pub mod platform_mail;
pub mod policy;
pub mod records;
pub mod routes;
pub mod sessions;
pub mod users;

use axum::Router;
use std::sync::Arc;
use tern_aws::{ConfigError, Platform, Tenant};
use tern_domain::ids::WorkspaceId;
use tern_http::Json;
use tern_security::access_token::{Keyring, SigningKey};
use tern_security::password::{PasswordHasher, PasswordPolicy};

pub struct ApiState {
    pub platform: Platform,
    pub keyring: Keyring,
    pub hasher: PasswordHasher,
    pub policy: PasswordPolicy,
    /// Which mail hosts a mailbox may name: the SSRF guard's mail policy (tests
    /// allow their own loopback SMTP server through it, explicitly).
    pub mail_policy: tern_web::Policy,
    /// Which language-model providers a workspace may name: the SSRF guard's
    /// provider policy (tests allow their own loopback fake, explicitly).
    pub llm_policy: tern_web::Policy,
    /// The provider client for first-line drafts, built on the first draft (cold
    /// starts do not pay for TLS roots most requests never use).
    llm_client: std::sync::OnceLock<tern_web::llm::LlmClient>,
    /// The DNS resolver that checks sending-domain proofs: the system's name servers
    /// unless one was given ([`ApiState::use_dns`]; tests: their own DNS server).
    dns: std::sync::OnceLock<tern_web::Verifier>,
    /// Workspace settings read on every request (allow-list, 2FA rule), kept for a
    /// few seconds per container so each request does not pay a read for them.
    settings_cache: std::sync::Mutex<std::collections::HashMap<WorkspaceId, (std::time::Instant, Arc<records::Workspace>)>>,
    /// Sees each account mail the platform sent (the dev host keeps them); `None` on Lambda.
    pub mail_tap: Option<platform_mail::MailTap>,
}

/// How long a container trusts its copy of a workspace's settings. A change made
/// through another container takes at most this long to apply here.
/// How long a sending-domain proof waits for DNS.
pub const DNS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub const SETTINGS_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(15);

impl ApiState {
    pub fn new(platform: Platform) -> Result<Self, ConfigError> {
        let invalid = |reason: &str| ConfigError::Invalid { name: tern_aws::config::SESSION_KEY_VAR, reason: reason.into() };
        let key = platform.config().session_key.clone().ok_or(ConfigError::Missing(tern_aws::config::SESSION_KEY_VAR))?;
        let signing = SigningKey::new("k1", key.into_bytes().into()).map_err(|_| invalid("must be at least 32 bytes"))?;
        let keyring = Keyring::new(signing, Vec::new()).map_err(|_| invalid("bad key id"))?;
        Ok(Self {
            platform,
            keyring,
            hasher: PasswordHasher::default(),
            policy: PasswordPolicy::default(),
            settings_cache: Default::default(),
            mail_policy: tern_web::Policy::mail(),
            llm_policy: tern_web::Policy::provider_api(),
            llm_client: std::sync::OnceLock::new(),
            dns: std::sync::OnceLock::new(),
            mail_tap: None,
        })
    }

    /// The language-model client under [`ApiState::llm_policy`].
    pub fn llm_client(&self) -> Result<&tern_web::llm::LlmClient, tern_web::llm::LlmError> {
        if let Some(client) = self.llm_client.get() {
            return Ok(client);
        }
        let built = tern_web::llm::LlmClient::new(self.llm_policy.clone(), tern_web::llm::LlmLimits::default())?;
        Ok(self.llm_client.get_or_init(|| built))
    }

    /// Checks sending-domain proofs with this resolver instead of the system's
    /// name servers. `false` if one was already in use.
    pub fn use_dns(&self, resolver: tern_web::Verifier) -> bool {
        self.dns.set(resolver).is_ok()
    }

    /// The resolver for sending-domain proofs, built on first use.
    pub fn dns(&self) -> Result<&tern_web::Verifier, tern_web::verify::SetupError> {
        if let Some(resolver) = self.dns.get() {
            return Ok(resolver);
        }
        let built = tern_web::Verifier::from_system_uncached(DNS_TIMEOUT)?;
        Ok(self.dns.get_or_init(|| built))
    }

    pub fn now_unix(&self) -> u64 {
        self.platform.clock().now().unix_timestamp().max(0) as u64
    }

    /// A workspace's settings, from the short-lived cache or the table.
    pub async fn workspace_settings(&self, tenant: Tenant) -> Result<Option<Arc<records::Workspace>>, tern_http::ApiError> {
        let workspace = tenant.workspace();
        let cached = self.settings_cache.lock().unwrap_or_else(|p| p.into_inner()).get(&workspace).cloned();
        if let Some((at, settings)) = cached
            && at.elapsed() < SETTINGS_CACHE_TTL
        {
            return Ok(Some(settings));
        }
        let loaded = self.platform.table().scope(tenant).get::<records::Workspace>(&workspace.to_string()).await?.map(Arc::new);
        if let Some(settings) = &loaded {
            self.remember_settings(workspace, settings.clone());
        }
        Ok(loaded)
    }

    /// Called after this container changes a workspace's settings.
    pub fn remember_settings(&self, workspace: WorkspaceId, settings: Arc<records::Workspace>) {
        let mut cache = self.settings_cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(workspace, (std::time::Instant::now(), settings));
    }
}

pub fn router(state: Arc<ApiState>) -> Router {
    tern_http::with_common_layers(routes::all().into_router().with_state(state), tern_http::UPLOAD_BODY_LIMIT)
}

/// The routes about the api itself.
fn meta_routes() -> routes::Routes {
    routes::Routes::default().add(__path_health, health).add(openapi::__path_document, openapi::document)
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
