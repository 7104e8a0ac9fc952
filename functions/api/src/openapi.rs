//! The OpenAPI 3 document, generated from the handlers' own annotations.

use crate::routes::{api_keys, audit, contacts, enrichment, identity, llm, mailboxes, sequences, templates, two_factor, workspaces};
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
        crate::routes::inbound::create_credential,
        crate::routes::inbound::get_credential,
        crate::routes::inbound::delete_credential,
        crate::routes::inbound::list_messages,
        crate::routes::inbound::get_message,
        workspaces::accept_invite,
        enrichment::request,
        enrichment::list,
        enrichment::get,
        enrichment::usage,
        enrichment::get_ideal_customer,
        enrichment::set_ideal_customer,
        llm::put,
        llm::get,
        llm::delete,
        contacts::create,
        contacts::list,
        contacts::get,
        contacts::update,
        contacts::delete,
        contacts::import,
        contacts::export,
        contacts::suppress,
        contacts::list_suppressions,
        templates::create,
        templates::list,
        templates::get,
        templates::replace,
        templates::delete,
        templates::preview,
        templates::upload_attachment,
        mailboxes::create,
        mailboxes::list,
        mailboxes::get,
        mailboxes::update_limits,
        mailboxes::delete,
        sequences::create,
        sequences::list,
        sequences::get,
        sequences::replace,
        sequences::enroll,
        sequences::list_enrollments,
        sequences::get_enrollment,
        sequences::act_on_enrollment,
        sequences::list_sends,
        sequences::resolve_send,
        sequences::unsubscribe_page,
        sequences::unsubscribe,
        audit::list,
        audit::verify,
    )
)]
pub struct ApiDoc;

#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "this document")))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
