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
use axum::routing::{delete, get, patch, post};
use std::sync::Arc;
use tern_aws::{ConfigError, Platform};
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
    pub async fn workspace_settings(&self, workspace: WorkspaceId) -> Result<Option<Arc<records::Workspace>>, tern_http::ApiError> {
        let cached = self.settings_cache.lock().unwrap_or_else(|p| p.into_inner()).get(&workspace).cloned();
        if let Some((at, settings)) = cached
            && at.elapsed() < SETTINGS_CACHE_TTL
        {
            return Ok(Some(settings));
        }
        let loaded = self.platform.table().scope(workspace).get::<records::Workspace>(&workspace.to_string()).await?.map(Arc::new);
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
    use routes::{api_keys, audit, contacts, enrichment, identity, llm, mailboxes, sequences, templates, two_factor, workspaces};
    let routes = Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi::document))
        .route("/v1/signup", post(identity::sign_up))
        .route("/v1/signup/verify", post(identity::verify_sign_up))
        .route("/v1/me/email/verify", post(identity::verify_email))
        .route("/v1/me/email/verification", post(identity::resend_verification))
        .route("/v1/password-reset", post(identity::request_password_reset))
        .route("/v1/password-reset/confirm", post(identity::confirm_password_reset))
        .route("/v1/sessions", post(identity::sign_in).get(identity::list_sessions))
        .route("/v1/sessions/refresh", post(identity::refresh))
        .route("/v1/sessions/{session_id}", delete(identity::revoke_session))
        .route("/v1/me/password", post(identity::change_password))
        .route("/v1/me/2fa/setup", post(two_factor::setup))
        .route("/v1/me/2fa/confirm", post(two_factor::confirm))
        .route("/v1/me/2fa", delete(two_factor::disable))
        .route("/v1/invites/accept", post(workspaces::accept_invite))
        .route("/v1/workspaces/{ws}", get(workspaces::get_workspace).patch(workspaces::update_workspace))
        .route("/v1/workspaces/{ws}/members", get(workspaces::list_members))
        .route("/v1/workspaces/{ws}/members/{user_id}", patch(workspaces::change_role).delete(workspaces::remove_member))
        .route("/v1/workspaces/{ws}/invites", post(workspaces::invite))
        .route("/v1/workspaces/{ws}/sub-workspaces", post(workspaces::create_sub_workspace))
        .route("/v1/workspaces/{ws}/deletion", post(routes::deletion::schedule).delete(routes::deletion::cancel))
        .route("/v1/workspaces/{ws}/api-keys", post(api_keys::create).get(api_keys::list))
        .route("/v1/workspaces/{ws}/api-keys/{key_id}", delete(api_keys::revoke))
        .route(
            "/v1/workspaces/{ws}/inbound/credential",
            post(routes::inbound::create_credential).get(routes::inbound::get_credential).delete(routes::inbound::delete_credential),
        )
        .route("/v1/workspaces/{ws}/inbound/messages", get(routes::inbound::list_messages))
        .route("/v1/workspaces/{ws}/inbound/messages/{id}", get(routes::inbound::get_message))
        .route("/v1/workspaces/{ws}/privacy/erasures", post(routes::privacy::request_erasure))
        .route("/v1/workspaces/{ws}/privacy/tasks/{task_id}", get(routes::privacy::get_task))
        .route("/v1/workspaces/{ws}/privacy/exports", post(routes::privacy::request_export))
        .route("/v1/workspaces/{ws}/privacy/exports/{task_id}/download", get(routes::privacy::download_export))
        .route("/v1/workspaces/{ws}/privacy/access-requests", post(routes::privacy::request_access_export))
        .route(
            "/v1/workspaces/{ws}/contacts/{contact_id}/first-line",
            post(routes::first_line::draft).put(routes::first_line::set).delete(routes::first_line::clear),
        )
        .route("/v1/workspaces/{ws}/enrichments", post(enrichment::request).get(enrichment::list))
        .route("/v1/workspaces/{ws}/enrichments/{domain}", get(enrichment::get))
        .route("/v1/workspaces/{ws}/enrichment-usage", get(enrichment::usage))
        .route("/v1/workspaces/{ws}/ideal-customer", get(enrichment::get_ideal_customer).put(enrichment::set_ideal_customer))
        .route("/v1/workspaces/{ws}/llm", get(llm::get).put(llm::put).delete(llm::delete))
        .route("/v1/workspaces/{ws}/contacts", post(contacts::create).get(contacts::list))
        .route("/v1/workspaces/{ws}/contacts/import", post(contacts::import))
        .route("/v1/workspaces/{ws}/contacts/export", get(contacts::export))
        .route("/v1/workspaces/{ws}/contacts/{contact_id}", get(contacts::get).patch(contacts::update).delete(contacts::delete))
        .route("/v1/workspaces/{ws}/contacts/{contact_id}/verify", post(contacts::verify))
        .route("/v1/workspaces/{ws}/contacts/{contact_id}/notes", post(routes::notes::create).get(routes::notes::list))
        .route("/v1/workspaces/{ws}/contacts/{contact_id}/notes/{note_id}", delete(routes::notes::delete))
        .route("/v1/workspaces/{ws}/suppressions", post(contacts::suppress).get(contacts::list_suppressions))
        .route("/v1/workspaces/{ws}/attachments", post(templates::upload_attachment))
        .route("/v1/workspaces/{ws}/templates", post(templates::create).get(templates::list))
        .route("/v1/workspaces/{ws}/templates/{template_id}", get(templates::get).put(templates::replace).delete(templates::delete))
        .route("/v1/workspaces/{ws}/templates/{template_id}/preview", post(templates::preview))
        .route("/v1/workspaces/{ws}/sending-domains", post(routes::sending_domains::create).get(routes::sending_domains::list))
        .route("/v1/workspaces/{ws}/sending-domains/{domain}", delete(routes::sending_domains::delete))
        .route("/v1/workspaces/{ws}/sending-domains/{domain}/verify", post(routes::sending_domains::verify))
        .route("/v1/workspaces/{ws}/mailboxes", post(mailboxes::create).get(mailboxes::list))
        .route("/v1/workspaces/{ws}/mailboxes/{mailbox_id}", get(mailboxes::get).patch(mailboxes::update_limits).delete(mailboxes::delete))
        .route("/v1/workspaces/{ws}/sequences", post(sequences::create).get(sequences::list))
        .route("/v1/workspaces/{ws}/sequences/{sequence_id}", get(sequences::get).put(sequences::replace))
        .route("/v1/workspaces/{ws}/sequences/{sequence_id}/enrollments", post(sequences::enroll))
        .route("/v1/workspaces/{ws}/enrollments", get(sequences::list_enrollments))
        .route("/v1/workspaces/{ws}/enrollments/{enrollment_id}", get(sequences::get_enrollment))
        .route("/v1/workspaces/{ws}/enrollments/{enrollment_id}/actions", post(sequences::act_on_enrollment))
        .route("/v1/workspaces/{ws}/sends", get(sequences::list_sends))
        .route("/v1/workspaces/{ws}/sends/{send_id}/resolve", post(sequences::resolve_send))
        .route("/v1/unsubscribe/{token}", get(sequences::unsubscribe_page).post(sequences::unsubscribe))
        .route("/v1/workspaces/{ws}/audit", get(audit::list))
        .route("/v1/workspaces/{ws}/audit/verify", get(audit::verify))
        .with_state(state);
    tern_http::with_common_layers(routes, tern_http::UPLOAD_BODY_LIMIT)
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
