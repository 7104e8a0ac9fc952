//! The OpenAPI 3 document, generated from the handlers' own annotations.

use crate::routes::{api_keys, audit, enrichment, identity, two_factor, workspaces};
use tern_http::Json;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tern API", description = "Multi-tenant B2B outreach. Errors: {\"error\": {\"code\", \"message\"}}."),
    paths(
        crate::health,
        identity::sign_up,
        identity::sign_in,
        identity::refresh,
        identity::list_sessions,
        identity::revoke_session,
        identity::change_password,
        two_factor::setup,
        two_factor::confirm,
        two_factor::disable,
        workspaces::get_workspace,
        workspaces::update_workspace,
        workspaces::list_members,
        workspaces::change_role,
        workspaces::remove_member,
        workspaces::invite,
        workspaces::create_sub_workspace,
        api_keys::create,
        api_keys::list,
        api_keys::revoke,
        workspaces::accept_invite,
        enrichment::request,
        enrichment::list,
        enrichment::get,
        enrichment::usage,
        enrichment::get_ideal_customer,
        enrichment::set_ideal_customer,
        audit::list,
        audit::verify,
    )
)]
pub struct ApiDoc;

#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "this document")))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
