//! CSV import of contacts: rows checked one by one, merged by address, new custom
//! columns registered as workspace fields.

use super::contacts::{ContactInput, Upserted, check_contact, suppressed, upsert, workspace_key};
use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use crate::routes::audit;
use crate::routes::enrichment::{ContactWork, queue_for_contacts};
use axum::body::Bytes;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use tern_domain::contact_csv;
use tern_domain::ids::RequestId;
use tern_http::{ApiError, Json, Query};

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// JSON object from CSV header to field (`email`, `first_name`, …, or `custom:<name>`);
    /// headers not named are mapped by their name.
    mapping: Option<String>,
    /// Drop columns that map to no standard field instead of keeping them as custom fields.
    ignore_unmapped: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RowProblem {
    line: u64,
    code: String,
    message: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    created: u32,
    /// Rows whose address was already a contact (or repeated in the file): merged into it.
    merged: u32,
    /// Imported rows whose address is on the suppression list: stored, never written to.
    suppressed: u32,
    /// Rows not imported, each with its line and why.
    errors: Vec<RowProblem>,
    /// Which header went to which field.
    #[schema(value_type = Object)]
    columns: BTreeMap<String, String>,
}

/// At most this many per-row errors are listed; the count goes on.
const MAX_LISTED_ERRORS: usize = 1_000;

/// Imports a CSV file (the request body, UTF-8 with or without BOM, `,` or `;`).
/// Bad rows are reported with their line and skipped; good rows are created or
/// merged by address. The file's custom columns become workspace custom fields.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/contacts/import", params(("ws" = String, Path), ImportQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport), (status = 422), (status = 413)))]
pub async fn import(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::Import>,
    request_id: Option<axum::Extension<RequestId>>,
    Query(query): Query<ImportQuery>,
    body: Bytes,
) -> Result<Json<ImportReport>, ApiError> {
    let mapping: BTreeMap<String, String> = match query.mapping.as_deref() {
        None | Some("") => BTreeMap::new(),
        Some(json) => serde_json::from_str(json)
            .map_err(|_| ApiError::unprocessable("invalid_mapping", "`mapping` must be a JSON object from header to field name."))?,
    };
    let options = contact_csv::ImportOptions { mapping, ignore_unmapped: query.ignore_unmapped.unwrap_or(false), ..Default::default() };
    let rows =
        contact_csv::import(std::io::Cursor::new(body), &options).map_err(|e| ApiError::unprocessable("invalid_csv", e.to_string()))?;
    let columns: BTreeMap<String, String> = rows.columns().iter().map(|c| (c.header.clone(), c.target.to_string())).collect();
    let key = workspace_key(&state, &ctx.scoped).await?;
    let now = state.platform.clock().now().unix_timestamp();
    let mut report = ImportReport { created: 0, merged: 0, suppressed: 0, errors: Vec::new(), columns };
    let mut new_fields = std::collections::BTreeSet::new();
    let mut error_count = 0usize;
    let mut work = ContactWork::default();
    for row in rows {
        let imported = match row {
            Ok(contact_csv::RowOutcome::Contact(contact)) => contact,
            // The rest of the file cannot be read (a quote never closed): say where, keep what was imported.
            Err(stream) => {
                error_count += 1;
                report.errors.push(RowProblem { line: 0, code: "unreadable_rest".into(), message: stream.to_string() });
                break;
            }
            Ok(contact_csv::RowOutcome::Invalid(problem)) => {
                error_count += 1;
                if report.errors.len() < MAX_LISTED_ERRORS {
                    report.errors.push(RowProblem { line: problem.line, code: problem.code.to_string(), message: problem.message });
                }
                continue;
            }
        };
        let line = imported.line;
        let (email, custom) = prefer_work_address(imported.email, imported.custom);
        let input = ContactInput {
            email,
            first_name: imported.first_name,
            last_name: imported.last_name,
            company: imported.company,
            website: imported.website,
            title: imported.title,
            timezone: imported.timezone,
            custom,
        };
        let checked = match check_contact(&input) {
            Ok(checked) => checked,
            Err(e) => {
                error_count += 1;
                if report.errors.len() < MAX_LISTED_ERRORS {
                    report.errors.push(RowProblem { line, code: e.code.to_string(), message: e.message });
                }
                continue;
            }
        };
        new_fields.extend(checked.custom.keys().cloned());
        let website = checked.website.clone();
        let (contact, outcome) = upsert(&ctx.scoped, &key, checked, now).await?;
        if let Some(domain) = &contact.domain {
            work.add(domain, website.as_deref(), &contact.id);
        }
        match outcome {
            Upserted::Created => report.created += 1,
            Upserted::Merged => report.merged += 1,
        }
        if suppressed(&ctx.scoped, &contact).await? {
            report.suppressed += 1;
        }
    }
    register_custom_fields(&state, &ctx, new_fields).await?;
    queue_for_contacts(&state, &ctx, request_id.map(|r| r.0).unwrap_or_else(RequestId::generate), work).await?;
    let parameters =
        serde_json::json!({ "created": report.created, "merged": report.merged, "errors": error_count, "bytes": report.columns.len() });
    audit(&state, ctx.tenant, &ctx.actor.audit_name(), "contacts.imported", None, parameters, &client).await?;
    Ok(Json(report))
}

/// A row with a free-mail address in its e-mail column and a work address in another
/// column (say "Work Email") is imported under the work address; the free-mail one is
/// kept as the custom field `personal_email`.
fn prefer_work_address(email: String, mut custom: BTreeMap<String, String>) -> (String, BTreeMap<String, String>) {
    let is_free = |address: &str| {
        tern_security::blind_index::normalise_email(address).is_ok_and(|n| tern_domain::address::facts(n.as_str()).free_mail)
    };
    if !is_free(&email) {
        return (email, custom);
    }
    let work = custom
        .iter()
        .find(|(_, value)| tern_security::blind_index::normalise_email(value).is_ok() && !is_free(value))
        .map(|(name, value)| (name.clone(), value.clone()));
    match work {
        Some((name, address)) => {
            custom.remove(&name);
            custom.insert("personal_email".into(), email);
            (address, custom)
        }
        None => (email, custom),
    }
}

/// New custom columns become fields templates may use.
async fn register_custom_fields(
    state: &ApiState,
    ctx: &InWorkspace<need::Import>,
    fields: std::collections::BTreeSet<String>,
) -> Result<(), ApiError> {
    let Some(mut workspace) = ctx.scoped.get::<tern_aws::entities::Workspace>(&ctx.workspace().to_string()).await? else {
        return Ok(());
    };
    let before = workspace.custom_fields.len();
    workspace.custom_fields.extend(fields.into_iter().take(64usize.saturating_sub(before)));
    if workspace.custom_fields.len() != before {
        ctx.scoped.put(&workspace, None).await?;
        state.remember_settings(ctx.workspace(), Arc::new(workspace));
    }
    Ok(())
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default().add(__path_import, import)
}
