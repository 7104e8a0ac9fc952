//! Route handlers, by area. Each handler's extractors declare what it needs: a
//! `Caller` (signed in) or an `InWorkspace<need::X>` (member with permission X).
//!
//! Each area lists its handlers once, in its `routes()` ([`Routes`]): the router
//! serves each at the method and path of its `#[utoipa::path]`, and the OpenAPI
//! document describes the same list, so neither can name a route the other lacks.
//! [`all`] is every area's list; who may call each route is `crate::policy`'s table.

pub mod api_keys;
pub mod audit;
pub mod contact_export;
pub mod contact_import;
pub mod contacts;
pub mod deletion;
pub mod enrichment;
pub mod enrollments;
pub mod first_line;
pub mod identity;
pub mod inbound;
pub mod invites;
pub mod llm;
pub mod mailboxes;
pub mod members;
pub mod notes;
pub mod privacy;
pub mod sending_domains;
pub mod sends;
pub mod sequences;
pub mod suppressions;
pub mod templates;
pub mod two_factor;
pub mod unsubscribe;
pub mod workspaces;

use crate::ApiState;
use crate::auth::Client;
use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};
use std::sync::Arc;
use tern_aws::Tenant;
use tern_http::ApiError;
use tern_security::audit::AuditDraft;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::HttpMethod;

/// Every route the api serves.
pub fn all() -> Routes {
    Routes::default()
        .merge(crate::meta_routes())
        .merge(identity::routes())
        .merge(two_factor::routes())
        .merge(workspaces::routes())
        .merge(members::routes())
        .merge(invites::routes())
        .merge(deletion::routes())
        .merge(api_keys::routes())
        .merge(inbound::routes())
        .merge(privacy::routes())
        .merge(first_line::routes())
        .merge(enrichment::routes())
        .merge(llm::routes())
        .merge(contacts::routes())
        .merge(contact_import::routes())
        .merge(contact_export::routes())
        .merge(suppressions::routes())
        .merge(notes::routes())
        .merge(templates::routes())
        .merge(sending_domains::routes())
        .merge(mailboxes::routes())
        .merge(sequences::routes())
        .merge(enrollments::routes())
        .merge(sends::routes())
        .merge(unsubscribe::routes())
        .merge(audit::routes())
}

/// A list of routes: the router that serves them and, built only when the OpenAPI
/// document is asked for (not at cold start), their description.
#[derive(Default)]
pub struct Routes {
    router: Router<Arc<ApiState>>,
    described: Vec<fn(&mut OpenApi)>,
}

impl Routes {
    /// Serves `handler` at the method(s) and path its `#[utoipa::path]` names.
    /// `_described` is the unit struct that attribute generates beside the handler
    /// (`__path_<handler>`), which carries that method, path and description.
    pub fn add<D, H, T>(mut self, _described: D, handler: H) -> Self
    where
        D: utoipa::Path + utoipa::__dev::SchemaReferences,
        H: Handler<T, Arc<ApiState>>,
        T: 'static,
    {
        let path = D::path();
        for method in D::methods() {
            self.router = self.router.route(&path, on(method_filter(&method), handler.clone()));
        }
        self.described.push(describe::<D>);
        self
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.described.extend(other.described);
        self
    }

    pub fn into_router(self) -> Router<Arc<ApiState>> {
        self.router
    }

    /// Adds these routes' operations, and the schemas they refer to, to `openapi`.
    pub fn describe(&self, openapi: &mut OpenApi) {
        for describe in &self.described {
            describe(openapi);
        }
    }
}

fn describe<D: utoipa::Path + utoipa::__dev::SchemaReferences>(openapi: &mut OpenApi) {
    openapi.paths.add_path_operation(D::path(), D::methods(), D::operation());
    let mut schemas = Vec::new();
    D::schemas(&mut schemas);
    openapi.components.get_or_insert_with(Default::default).schemas.extend(schemas);
}

fn method_filter(method: &HttpMethod) -> MethodFilter {
    match method {
        HttpMethod::Get => MethodFilter::GET,
        HttpMethod::Post => MethodFilter::POST,
        HttpMethod::Put => MethodFilter::PUT,
        HttpMethod::Delete => MethodFilter::DELETE,
        HttpMethod::Patch => MethodFilter::PATCH,
        HttpMethod::Head => MethodFilter::HEAD,
        HttpMethod::Options => MethodFilter::OPTIONS,
        HttpMethod::Trace => MethodFilter::TRACE,
    }
}

/// Appends to a workspace's audit trail. An action that cannot be audited fails:
/// the trail must not have gaps.
pub(crate) async fn audit(
    state: &ApiState,
    tenant: Tenant,
    actor: &str,
    action: &str,
    target: Option<&str>,
    parameters: serde_json::Value,
    client: &Client,
) -> Result<(), ApiError> {
    let now = state.platform.clock().now();
    let draft = AuditDraft {
        workspace_id: tenant.to_string(),
        actor: actor.to_string(),
        action: action.to_string(),
        target: target.map(String::from),
        occurred_at_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
        source_ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
        request_id: client.request_id.clone(),
        parameters,
    };
    state.platform.audit().append(tenant, draft, now).await.map(|_| ()).map_err(ApiError::from)
}

/// A text field that must be present, trimmed, and of a sane length.
pub(crate) fn text(field: &'static str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(ApiError::unprocessable("invalid_fields", format!("`{field}` must be 1 to {max} characters of text.")));
    }
    Ok(value.to_string())
}

pub(crate) fn email(value: &str) -> Result<String, ApiError> {
    tern_security::blind_index::normalise_email(value)
        .map(|e| e.as_str().to_string())
        .map_err(|_| ApiError::unprocessable("invalid_email", "That is not a valid e-mail address."))
}

/// Items one filtered listing (contacts, enrollments, sends) reads at most before it
/// answers with what it found and a cursor: a filter that matches little stays fast.
pub(crate) const MAX_SCANNED_PER_PAGE: usize = 1_000;

pub(crate) fn timezone(value: Option<&str>) -> Result<String, ApiError> {
    let tz = value.unwrap_or("UTC").trim();
    let ok = !tz.is_empty()
        && tz.len() <= 64
        && tz.split('/').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || "_+-".contains(c)));
    if ok { Ok(tz.to_string()) } else { Err(ApiError::unprocessable("invalid_timezone", "Use an IANA time zone such as Europe/Berlin.")) }
}

pub(crate) fn locale(value: Option<&str>) -> Result<String, ApiError> {
    let locale = value.unwrap_or("en").trim();
    let mut parts = locale.split('-');
    let language = parts.next().unwrap_or_default();
    let region = parts.next();
    let ok = (2..=3).contains(&language.len())
        && language.chars().all(|c| c.is_ascii_lowercase())
        && region.is_none_or(|r| r.len() == 2 && r.chars().all(|c| c.is_ascii_uppercase()))
        && parts.next().is_none();
    if ok { Ok(locale.to_string()) } else { Err(ApiError::unprocessable("invalid_locale", "Use a locale such as en or de-DE.")) }
}

pub(crate) fn weak_password(violation: tern_security::password::PolicyViolation) -> ApiError {
    ApiError::unprocessable("weak_password", violation.to_string())
}
