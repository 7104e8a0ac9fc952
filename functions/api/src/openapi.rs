//! The OpenAPI 3 document, generated from the handlers' own annotations, with
//! each operation's access stated from the route table (`crate::policy`):
//! `security` (the `session` scheme, and the `api_key` scheme with the one scope
//! that reaches the route; `[]` for public routes), and for workspace routes
//! `x-tern-permission` (the role permission) and `x-tern-scope` (`null`: no key).

use crate::policy::{Access, WorkspaceAccess};
use tern_http::Json;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};

/// The document's fixed parts; its operations come from [`crate::routes::all`].
#[derive(OpenApi)]
#[openapi(info(title = "Tern API", description = "Multi-tenant B2B outreach. Errors: {\"error\": {\"code\", \"message\"}}."))]
pub struct ApiDoc;

/// Names of the security schemes.
pub const SESSION_SCHEME: &str = "session";
pub const API_KEY_SCHEME: &str = "api_key";

/// Writes the route table into the document.
struct AccessRules;

impl utoipa::Modify for AccessRules {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let session = "An access token from sign-in (`Authorization: Bearer`, or the `tern_access` cookie with the `x-csrf-token` header on changes).";
        components.add_security_scheme(
            SESSION_SCHEME,
            SecurityScheme::Http(Http::builder().scheme(HttpAuthScheme::Bearer).description(Some(session)).build()),
        );
        let scopes: Vec<String> = tern_security::api_key::Scope::for_keys().map(|s| format!("`{s}`: {}", s.description())).collect();
        let api_key = format!(
            "An API key (`Authorization: Bearer tern_…`). Each operation names the one scope it needs; the key's creator's current role must also allow the operation. Scopes: {}",
            scopes.join(" ")
        );
        components.add_security_scheme(
            API_KEY_SCHEME,
            SecurityScheme::Http(
                Http::builder().scheme(HttpAuthScheme::Bearer).bearer_format("tern_<prefix>_<secret>").description(Some(api_key)).build(),
            ),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                ("GET", &mut item.get),
                ("PUT", &mut item.put),
                ("POST", &mut item.post),
                ("DELETE", &mut item.delete),
                ("PATCH", &mut item.patch),
                ("HEAD", &mut item.head),
                ("OPTIONS", &mut item.options),
                ("TRACE", &mut item.trace),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation.as_mut() else { continue };
                // A route missing from the table gets no statement, which the
                // end-to-end test of the document refuses.
                let Some(access) = crate::policy::access(method, path) else { continue };
                let session = || SecurityRequirement::new(SESSION_SCHEME, Vec::<String>::new());
                operation.security = Some(match access {
                    Access::Public => vec![SecurityRequirement::default()],
                    Access::Session => vec![session()],
                    Access::Workspace(WorkspaceAccess { scope, .. }) => {
                        let mut any = vec![session()];
                        any.extend(scope.map(|s| SecurityRequirement::new(API_KEY_SCHEME, [s.to_string()])));
                        any
                    }
                });
                if let Access::Workspace(WorkspaceAccess { permission, scope }) = access {
                    let extensions = operation.extensions.get_or_insert_with(Default::default);
                    extensions.insert("x-tern-permission".into(), serde_json::json!(permission));
                    extensions.insert("x-tern-scope".into(), serde_json::json!(scope.map(|s| s.to_string())));
                }
            }
        }
    }
}

/// The whole document: the fixed parts, every route's operation, and who may call it.
pub fn build() -> utoipa::openapi::OpenApi {
    let mut openapi = ApiDoc::openapi();
    crate::routes::all().describe(&mut openapi);
    utoipa::Modify::modify(&AccessRules, &mut openapi);
    openapi
}

#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "this document")))]
pub async fn document() -> Json<&'static utoipa::openapi::OpenApi> {
    // Built on the first request, not at cold start.
    static DOCUMENT: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    Json(DOCUMENT.get_or_init(build))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The route table and the document list the same operations, and each says who may call it.
    #[test]
    fn every_documented_operation_states_its_access_from_the_route_table() {
        let document = serde_json::to_value(build()).unwrap();
        let mut documented = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                documented.push((method.to_uppercase(), path.clone()));
                assert!(operation["security"].is_array(), "{method} {path}");
                if path.starts_with("/v1/workspaces/{ws}") {
                    assert!(operation["x-tern-permission"].is_string(), "{method} {path}");
                    assert!(operation.get("x-tern-scope").is_some(), "{method} {path}");
                }
            }
        }
        for (method, path, _) in crate::policy::ROUTES {
            assert!(
                documented.contains(&(method.to_string(), path.to_string())),
                "{method} {path} is in the route table but not documented"
            );
        }
        let templates = &document["paths"]["/v1/workspaces/{ws}/templates/{template_id}"]["get"];
        assert_eq!(templates["x-tern-permission"], "read_message_bodies");
        assert_eq!(templates["security"], serde_json::json!([{ "session": [] }, { "api_key": ["templates:read"] }]));
        let invite = &document["paths"]["/v1/workspaces/{ws}/invites"]["post"];
        assert_eq!((&invite["x-tern-scope"], &invite["security"]), (&serde_json::Value::Null, &serde_json::json!([{ "session": [] }])));
        assert_eq!(document["paths"]["/v1/signup"]["post"]["security"], serde_json::json!([{}]));
        let schemes = &document["components"]["securitySchemes"];
        assert!(schemes["api_key"]["description"].as_str().unwrap().contains("`templates:read`"), "{schemes}");
        assert!(!schemes["api_key"]["description"].as_str().unwrap().contains("`members:write`"), "{schemes}");
    }
}
