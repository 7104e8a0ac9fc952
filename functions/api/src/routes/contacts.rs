//! Contacts: create (merging duplicates by the address's blind index), read, list
//! with filters, change, delete, verify.

use super::MAX_SCANNED_PER_PAGE;
use crate::ApiState;
use crate::auth::{Client, InWorkspace, need};
use crate::routes::audit;
use crate::routes::enrichment::{ContactWork, queue_for_contacts, queue_verification};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use tern_aws::outreach::store::blind_index_key;
use tern_aws::outreach::{Contact, ContactByEmail, Suppression};
use tern_aws::table::{ScopedTable, StoreError};
use tern_domain::ids::RequestId;
use tern_http::{ApiError, Json, Path, Query};
use tern_security::blind_index::{BlindIndexKey, index_normalised, normalise_email};

/// A custom field's name: what templates write between braces.
pub(crate) fn is_custom_field_name(name: &str) -> bool {
    (1..=40).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    pub(crate) email: String,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) company: Option<String>,
    /// Company website or domain.
    pub(crate) website: Option<String>,
    pub(crate) title: Option<String>,
    /// IANA zone, e.g. `Europe/Berlin`.
    pub(crate) timezone: Option<String>,
    #[serde(default)]
    pub(crate) custom: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactChanges {
    first_name: Option<String>,
    last_name: Option<String>,
    company: Option<String>,
    website: Option<String>,
    title: Option<String>,
    timezone: Option<String>,
    /// Merged into the contact's custom fields; an empty value removes the field.
    custom: Option<BTreeMap<String, String>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ContactView {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    contact: Contact,
    /// On the workspace's suppression list: nothing will be sent to it.
    suppressed: bool,
}

fn optional_text(field: &'static str, value: Option<&String>, max: usize) -> Result<Option<String>, ApiError> {
    match value.map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => super::text(field, v, max).map(Some),
    }
}

fn website_domain(value: &str) -> Option<String> {
    let trimmed = value.trim().trim_start_matches("https://").trim_start_matches("http://");
    let host = trimmed.split(['/', '?', '#', ':']).next().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase();
    (host.contains('.') && host.len() <= 253 && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
        .then(|| tern_extract::registrable_domain(&host))
}

/// The registrable domain of a website column, if one was given.
fn check_website(value: Option<&String>) -> Result<Option<String>, ApiError> {
    match value.map(|w| w.trim()).filter(|w| !w.is_empty()) {
        None => Ok(None),
        Some(w) => website_domain(w)
            .map(Some)
            .ok_or_else(|| ApiError::unprocessable("invalid_website", "`website` must be a domain such as example.com.")),
    }
}

/// A contact's fields after checking, before it meets the table.
pub(crate) struct CheckedContact {
    pub(crate) email: String,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) company: Option<String>,
    pub(crate) domain: Option<String>,
    /// The website as given (where an enrichment starts fetching).
    pub(crate) website: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) timezone: Option<String>,
    pub(crate) custom: BTreeMap<String, String>,
}

fn check_custom(custom: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, (&'static str, String)> {
    if custom.len() > 64 {
        return Err(("invalid_custom_fields", "At most 64 custom fields per contact.".into()));
    }
    let mut checked = BTreeMap::new();
    for (name, value) in custom {
        if !is_custom_field_name(name) {
            return Err((
                "invalid_custom_fields",
                format!(
                    "`{}` is not a field name: use 1 to 40 lower-case letters, digits or underscores.",
                    name.chars().take(60).collect::<String>()
                ),
            ));
        }
        if value.chars().count() > 2_000 || value.chars().any(|c| c.is_control() && c != '\n') {
            return Err(("invalid_custom_fields", format!("`{name}` must be at most 2000 characters of text.")));
        }
        checked.insert(name.clone(), value.trim().to_string());
    }
    Ok(checked)
}

fn check_timezone(zone: Option<&String>) -> Result<Option<String>, ApiError> {
    match zone.map(|z| z.trim()).filter(|z| !z.is_empty()) {
        None => Ok(None),
        Some(z) if z.len() <= 64 && jiff::tz::TimeZone::get(z).is_ok() => Ok(Some(z.to_string())),
        Some(_) => Err(ApiError::unprocessable("invalid_timezone", "`timezone` must be an IANA zone such as Europe/Berlin.")),
    }
}

pub(crate) fn check_contact(input: &ContactInput) -> Result<CheckedContact, ApiError> {
    let email = super::email(&input.email)?;
    let custom = check_custom(&input.custom).map_err(|(code, message)| ApiError::unprocessable(code, message))?;
    Ok(CheckedContact {
        first_name: optional_text("first_name", input.first_name.as_ref(), 100)?,
        last_name: optional_text("last_name", input.last_name.as_ref(), 100)?,
        company: optional_text("company", input.company.as_ref(), 200)?,
        domain: check_website(input.website.as_ref())?,
        website: input.website.as_deref().map(str::trim).filter(|w| !w.is_empty()).map(String::from),
        title: optional_text("title", input.title.as_ref(), 200)?,
        timezone: check_timezone(input.timezone.as_ref())?,
        custom,
        email,
    })
}

/// What happened to one contact written through [`upsert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Upserted {
    Created,
    Merged,
}

/// Creates the contact, or merges it into the one that already holds the address:
/// values given win over stored ones, custom fields are merged. The address's
/// blind-index item is created first, conditionally, so two concurrent imports of
/// one address end in one contact.
pub(crate) async fn upsert(
    scoped: &ScopedTable,
    key: &BlindIndexKey,
    input: CheckedContact,
    now: i64,
) -> Result<(Contact, Upserted), ApiError> {
    let normalised =
        normalise_email(&input.email).map_err(|_| ApiError::unprocessable("invalid_email", "That is not a valid e-mail address."))?;
    let email_index = index_normalised(key, &normalised).map_err(ApiError::internal)?;
    let facts = tern_domain::address::facts(normalised.as_str());
    for _ in 0..3 {
        let link = scoped.get::<ContactByEmail>(&email_index).await?;
        let existing = match &link {
            Some(link) => scoped.get::<Contact>(&link.contact_id).await?,
            None => None,
        };
        if let Some(mut contact) = existing {
            merge(&mut contact, &input, now);
            scoped.put(&contact, None).await?;
            return Ok((contact, Upserted::Merged));
        }
        let id = match &link {
            // The link was written but its contact was not (an interrupted create): finish it.
            Some(link) => link.contact_id.clone(),
            None => {
                let id = uuid::Uuid::now_v7().to_string();
                match scoped.create(&ContactByEmail { email_index: email_index.clone(), contact_id: id.clone() }, None).await {
                    Ok(()) => id,
                    Err(StoreError::ConditionFailed) => continue,
                    Err(e) => return Err(ApiError::unavailable(e)),
                }
            }
        };
        let email_domain = normalised.as_str().rsplit('@').next().unwrap_or_default().to_string();
        let contact = Contact {
            id,
            email: normalised.as_str().to_string(),
            email_index: email_index.clone(),
            first_name: input.first_name,
            last_name: input.last_name,
            company: input.company,
            domain: input.domain.or_else(|| (!facts.free_mail).then(|| tern_extract::registrable_domain(&email_domain))),
            title: input.title,
            timezone: input.timezone,
            custom: input.custom,
            free_mail: facts.free_mail,
            role_account: facts.role_account,
            first_line: None,
            first_line_origin: None,
            verification: None,
            created_at: now,
            updated_at: now,
        };
        scoped.put(&contact, None).await?;
        return Ok((contact, Upserted::Created));
    }
    Err(ApiError::unavailable("the contact kept changing while it was written"))
}

fn merge(contact: &mut Contact, input: &CheckedContact, now: i64) {
    let take = |slot: &mut Option<String>, value: &Option<String>| {
        if value.is_some() {
            slot.clone_from(value);
        }
    };
    take(&mut contact.first_name, &input.first_name);
    take(&mut contact.last_name, &input.last_name);
    take(&mut contact.company, &input.company);
    take(&mut contact.domain, &input.domain);
    take(&mut contact.title, &input.title);
    take(&mut contact.timezone, &input.timezone);
    for (name, value) in &input.custom {
        if value.is_empty() {
            contact.custom.remove(name);
        } else {
            contact.custom.insert(name.clone(), value.clone());
        }
    }
    contact.updated_at = now;
}

pub(crate) async fn suppressed(scoped: &ScopedTable, contact: &Contact) -> Result<bool, ApiError> {
    Ok(scoped.get::<Suppression>(&contact.email_index).await?.is_some())
}

pub(crate) async fn workspace_key(state: &ApiState, scoped: &ScopedTable) -> Result<BlindIndexKey, ApiError> {
    blind_index_key(scoped, state.platform.sealer()).await.map_err(ApiError::from)
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/contacts", params(("ws" = String, Path)), request_body = ContactInput,
    responses((status = 201, body = ContactView), (status = 200, description = "merged into the contact with that address", body = ContactView), (status = 422)))]
pub async fn create(
    State(state): State<Arc<ApiState>>,
    ctx: InWorkspace<need::WriteContacts>,
    request_id: Option<axum::Extension<RequestId>>,
    Json(input): Json<ContactInput>,
) -> Result<Response, ApiError> {
    let checked = check_contact(&input)?;
    let website = checked.website.clone();
    let key = workspace_key(&state, &ctx.scoped).await?;
    let (contact, outcome) = upsert(&ctx.scoped, &key, checked, state.platform.clock().now().unix_timestamp()).await?;
    let mut work = ContactWork::default();
    if let Some(domain) = &contact.domain {
        work.add(domain, website.as_deref(), &contact.id);
    }
    queue_for_contacts(&state, &ctx, request_id.map(|r| r.0).unwrap_or_else(RequestId::generate), work).await?;
    let suppressed = suppressed(&ctx.scoped, &contact).await?;
    let status = if outcome == Upserted::Created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(ContactView { contact, suppressed })).into_response())
}

async fn load(ctx: &InWorkspace<impl crate::auth::Needs>, id: &str) -> Result<Contact, ApiError> {
    ctx.scoped.get::<Contact>(id).await?.ok_or_else(ApiError::not_found)
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/contacts/{contact_id}", params(("ws" = String, Path), ("contact_id" = String, Path)),
    responses((status = 200, body = ContactView), (status = 404)))]
pub async fn get(ctx: InWorkspace<need::ReadContacts>, Path((_, id)): Path<(String, String)>) -> Result<Json<ContactView>, ApiError> {
    let contact = load(&ctx, &id).await?;
    let suppressed = suppressed(&ctx.scoped, &contact).await?;
    Ok(Json(ContactView { contact, suppressed }))
}

/// Queues the verification of the contact's address (syntax, the domain's mail
/// servers in DNS, disposable/free/role lists; never a probe of the mailbox). The
/// result lands on the contact as `verification`.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/contacts/{contact_id}/verify", params(("ws" = String, Path), ("contact_id" = String, Path)),
    responses((status = 202, body = ContactView), (status = 404)))]
pub async fn verify(
    State(state): State<Arc<ApiState>>,
    ctx: InWorkspace<need::WriteContacts>,
    request_id: Option<axum::Extension<RequestId>>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let contact = load(&ctx, &id).await?;
    queue_verification(&state, &ctx, request_id.map(|r| r.0).unwrap_or_else(RequestId::generate), &contact).await?;
    let suppressed = suppressed(&ctx.scoped, &contact).await?;
    Ok((StatusCode::ACCEPTED, Json(ContactView { contact, suppressed })).into_response())
}

#[utoipa::path(patch, path = "/v1/workspaces/{ws}/contacts/{contact_id}", params(("ws" = String, Path), ("contact_id" = String, Path)),
    request_body = ContactChanges, responses((status = 200, body = ContactView), (status = 404), (status = 422)))]
pub async fn update(
    State(state): State<Arc<ApiState>>,
    ctx: InWorkspace<need::WriteContacts>,
    Path((_, id)): Path<(String, String)>,
    Json(changes): Json<ContactChanges>,
) -> Result<Json<ContactView>, ApiError> {
    let mut contact = load(&ctx, &id).await?;
    let checked = CheckedContact {
        email: contact.email.clone(),
        first_name: optional_text("first_name", changes.first_name.as_ref(), 100)?,
        last_name: optional_text("last_name", changes.last_name.as_ref(), 100)?,
        company: optional_text("company", changes.company.as_ref(), 200)?,
        domain: check_website(changes.website.as_ref())?,
        website: None,
        title: optional_text("title", changes.title.as_ref(), 200)?,
        timezone: check_timezone(changes.timezone.as_ref())?,
        custom: check_custom(&changes.custom.unwrap_or_default()).map_err(|(code, message)| ApiError::unprocessable(code, message))?,
    };
    merge(&mut contact, &checked, state.platform.clock().now().unix_timestamp());
    ctx.scoped.put(&contact, None).await?;
    let suppressed = suppressed(&ctx.scoped, &contact).await?;
    Ok(Json(ContactView { contact, suppressed }))
}

/// Deletes the contact and its notes (its enrollments stop at their next step).
/// Its suppression entry, if any, stays: a deleted contact is still never written to.
#[utoipa::path(delete, path = "/v1/workspaces/{ws}/contacts/{contact_id}", params(("ws" = String, Path), ("contact_id" = String, Path)),
    responses((status = 204), (status = 404)))]
pub async fn delete(
    State(state): State<Arc<ApiState>>,
    client: Client,
    ctx: InWorkspace<need::WriteContacts>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let contact = load(&ctx, &id).await?;
    // Notes first: they are found through their contact, so a retry after a
    // failure in between still finds (and deletes) what is left.
    let notes = super::notes::delete_notes_of(&ctx.scoped, &contact.id).await?;
    ctx.scoped.delete::<Contact>(&contact.id).await?;
    ctx.scoped.delete::<ContactByEmail>(&contact.email_index).await?;
    audit(
        &state,
        ctx.tenant,
        &ctx.actor.audit_name(),
        "contact.deleted",
        Some(&contact.id),
        serde_json::json!({ "notes_deleted": notes }),
        &client,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ContactQuery {
    after: Option<String>,
    limit: Option<i32>,
    /// Matches name, address, company or title (case-insensitive substring).
    q: Option<String>,
    company: Option<String>,
    domain: Option<String>,
    free_mail: Option<bool>,
    role_account: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ContactPage {
    #[schema(value_type = Vec<Object>)]
    contacts: Vec<Contact>,
    /// Pass as `after` for the next page.
    next: Option<String>,
}

pub(crate) struct ContactFilter {
    q: Option<String>,
    company: Option<String>,
    domain: Option<String>,
    free_mail: Option<bool>,
    role_account: Option<bool>,
}

impl ContactFilter {
    pub(crate) fn matches(&self, c: &Contact) -> bool {
        let has = |value: &Option<String>, needle: &str| value.as_deref().is_some_and(|v| v.to_lowercase().contains(needle));
        self.q
            .as_deref()
            .is_none_or(|q| c.email.contains(q) || has(&c.first_name, q) || has(&c.last_name, q) || has(&c.company, q) || has(&c.title, q))
            && self.company.as_deref().is_none_or(|company| has(&c.company, company))
            && self.domain.as_deref().is_none_or(|d| c.domain.as_deref() == Some(d))
            && self.free_mail.is_none_or(|f| c.free_mail == f)
            && self.role_account.is_none_or(|r| c.role_account == r)
    }
}

/// A page of contacts matching `filter`, in creation order.
pub(crate) async fn find(
    scoped: &ScopedTable,
    filter: &ContactFilter,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<Contact>, Option<String>), ApiError> {
    let page = scoped.list_matching::<Contact>(limit, after, MAX_SCANNED_PER_PAGE, |c| filter.matches(c)).await?;
    Ok((page.items, page.next))
}

pub(crate) fn filter_of(
    q: Option<String>,
    company: Option<String>,
    domain: Option<String>,
    free_mail: Option<bool>,
    role_account: Option<bool>,
) -> ContactFilter {
    let lower = |v: Option<String>| v.map(|v| v.trim().to_lowercase()).filter(|v| !v.is_empty());
    ContactFilter { q: lower(q), company: lower(company), domain: lower(domain), free_mail, role_account }
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/contacts", params(("ws" = String, Path), ContactQuery), responses((status = 200, body = ContactPage)))]
pub async fn list(ctx: InWorkspace<need::ReadContacts>, Query(query): Query<ContactQuery>) -> Result<Json<ContactPage>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::unprocessable("invalid_limit", "`limit` must be from 1 to 100."));
    }
    let filter = filter_of(query.q, query.company, query.domain, query.free_mail, query.role_account);
    let (contacts, next) = find(&ctx.scoped, &filter, limit as usize, query.after).await?;
    Ok(Json(ContactPage { contacts, next }))
}

/// This area's routes (see [`super::Routes`]).
pub fn routes() -> super::Routes {
    super::Routes::default()
        .add(__path_create, create)
        .add(__path_list, list)
        .add(__path_get, get)
        .add(__path_update, update)
        .add(__path_delete, delete)
        .add(__path_verify, verify)
}
