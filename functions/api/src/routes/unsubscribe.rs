//! The public one-click unsubscribe (RFC 8058): the footer link's confirmation
//! page and the POST that suppresses the address, without signing in.

use crate::ApiState;
use crate::routes::audit;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;
use tern_aws::outreach::{SuppressionReason, UnsubscribeLink};
use tern_http::{ApiError, Path};

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem\"><h1>{title}</h1>{body}</body></html>"
    ))
}

fn unsubscribe_headers() -> [(header::HeaderName, &'static str); 2] {
    [(header::CACHE_CONTROL, "no-store"), (header::REFERRER_POLICY, "no-referrer")]
}

async fn link_of(state: &ApiState, token: &str) -> Result<Option<UnsubscribeLink>, ApiError> {
    let Ok(token) = tern_security::token::OpaqueToken::parse(token) else { return Ok(None) };
    state.platform.global().get::<UnsubscribeLink>(&token.hash().to_hex()).await.map_err(ApiError::from)
}

/// The link in the message footer: a confirmation page whose button posts. Opening
/// it changes nothing (mail scanners follow links).
#[utoipa::path(get, path = "/v1/unsubscribe/{token}", params(("token" = String, Path)), responses((status = 200, content_type = "text/html"), (status = 404)))]
pub async fn unsubscribe_page(State(state): State<Arc<ApiState>>, Path(token): Path<String>) -> Result<Response, ApiError> {
    if link_of(&state, &token).await?.is_none() {
        return Ok((
            StatusCode::NOT_FOUND,
            unsubscribe_headers(),
            page("Link not recognised", "<p>This unsubscribe link is not valid.</p>"),
        )
            .into_response());
    }
    let body = "<p>Stop receiving these e-mails?</p><form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
                <button type=\"submit\">Unsubscribe</button></form>";
    Ok((unsubscribe_headers(), page("Unsubscribe", body)).into_response())
}

/// RFC 8058 one-click unsubscribe: a POST (from the mail client or the page's button)
/// suppresses the address and stops its sequences at once, without signing in.
#[utoipa::path(post, path = "/v1/unsubscribe/{token}", params(("token" = String, Path)), responses((status = 200, content_type = "text/html"), (status = 404)))]
pub async fn unsubscribe(State(state): State<Arc<ApiState>>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let Some(link) = link_of(&state, &token).await? else {
        return Ok((
            StatusCode::NOT_FOUND,
            unsubscribe_headers(),
            page("Link not recognised", "<p>This unsubscribe link is not valid.</p>"),
        )
            .into_response());
    };
    let workspace = tern_domain::ids::WorkspaceId::parse(&link.workspace_id).map_err(ApiError::internal)?;
    let workspace = tern_aws::Tenant::found(workspace, tern_aws::Lookup::UnsubscribeToken);
    let scoped = state.platform.table().scope(workspace);
    let now = state.platform.clock().now().unix_timestamp();
    tern_aws::outreach::store::suppress_and_stop(&scoped, &link.email_index, SuppressionReason::Unsubscribed, now).await?;
    let client = crate::auth::Client { ip: None, user_agent: None, request_id: None };
    audit(
        &state,
        workspace,
        "recipient",
        "recipient.unsubscribed",
        Some(&link.email_index),
        serde_json::json!({ "enrollment": link.enrollment_id }),
        &client,
    )
    .await?;
    Ok((unsubscribe_headers(), page("You are unsubscribed", "<p>You will not receive further e-mails from this sender.</p>"))
        .into_response())
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default().add(__path_unsubscribe_page, unsubscribe_page).add(__path_unsubscribe, unsubscribe)
}
