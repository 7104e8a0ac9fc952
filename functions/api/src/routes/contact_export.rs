//! CSV export of every contact of the workspace.

use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use crate::routes::audit;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tern_aws::outreach::Contact;
use tern_domain::contact_csv;
use tern_http::ApiError;

/// All contacts as CSV (standard columns, then the workspace's custom fields).
#[utoipa::path(get, path = "/v1/workspaces/{ws}/contacts/export", params(("ws" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String)))]
pub async fn export(State(state): State<Arc<ApiState>>, client: Client, ctx: InWorkspace<need::Export>) -> Result<Response, ApiError> {
    let contacts = ctx.scoped.list_all::<Contact>().await?;
    let custom_columns: Vec<String> = ctx.settings.custom_fields.iter().cloned().collect();
    let rows = contacts.iter().map(|c| contact_csv::ExportRow {
        email: c.email.clone(),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        company: c.company.clone(),
        website: c.domain.clone(),
        title: c.title.clone(),
        timezone: c.timezone.clone(),
        custom: c.custom.clone(),
    });
    let mut csv = Vec::new();
    contact_csv::export(&mut csv, &custom_columns, rows).map_err(ApiError::internal)?;
    audit(
        &state,
        ctx.tenant,
        &ctx.actor.audit_name(),
        "contacts.exported",
        None,
        serde_json::json!({ "contacts": contacts.len() }),
        &client,
    )
    .await?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8"), (header::CONTENT_DISPOSITION, "attachment; filename=\"contacts.csv\"")], csv)
        .into_response())
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default().add(__path_export, export)
}
