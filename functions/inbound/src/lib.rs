//! The `inbound` function: inbound-mail webhooks.
//!
//! A provider (CloudMailin today) POSTs each received e-mail here. The handler
//! authenticates the provider, routes the mail to its workspace by recipient,
//! stores the raw message encrypted in the bucket (only until it is classified),
//! records its transport metadata and queues classification. It answers fast and
//! does no parsing beyond the envelope: classification is the `classify` worker's.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tern_aws::table::{StoreError, Table};
use tern_aws::{AwsClients, Config, QueueName};
use tern_domain::clock::SharedClock;
use tern_domain::ids::{RequestId, WorkspaceId};
use tern_domain::inbound::{DEFAULT_INBOUND_RETENTION, InboundMessage, Transport, workspace_tag};
use tern_domain::jobs::ClassifyJob;
use tern_http::{ApiError, Json, Path};

/// E-mails larger than this are refused with 413 (the provider bounces them).
pub const MAX_WEBHOOK_BYTES: usize = 12 * 1024 * 1024;

pub struct InboundState {
    pub config: Config,
    pub clients: AwsClients,
    pub table: Table,
    pub clock: SharedClock,
}

impl InboundState {
    pub fn new(config: Config, clients: AwsClients, clock: SharedClock) -> Self {
        let table = Table::new(clients.dynamodb.clone(), config.table.clone());
        Self { config, clients, table, clock }
    }
}

pub fn router(state: Arc<InboundState>) -> Router {
    let routes = Router::new()
        .route("/inbound/{format}", post(receive))
        .layer(DefaultBodyLimit::max(MAX_WEBHOOK_BYTES))
        .with_state(state);
    tern_http::with_common_layers(routes, MAX_WEBHOOK_BYTES)
}

#[derive(Debug, Serialize)]
pub struct Accepted {
    pub id: String,
    pub workspace_id: WorkspaceId,
}

async fn receive(
    State(state): State<Arc<InboundState>>,
    Path(format): Path<String>,
    headers: HeaderMap,
    request_id: Option<axum::Extension<RequestId>>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    authenticate(&headers, state.config.inbound_webhook_secret.as_deref())?;
    if format != "raw" {
        return Err(ApiError::bad_request(
            "unsupported_format",
            format!("Unknown webhook format `{}`; this endpoint accepts: raw.", format.chars().take(32).collect::<String>()),
        ));
    }
    let multipart = multipart.map_err(|e| ApiError::bad_request("invalid_body", e.body_text()))?;
    let post = read_raw_post(multipart).await?;
    let workspace = workspace_tag(&post.transport.envelope_to)
        .and_then(|tag| WorkspaceId::parse(tag).ok())
        .ok_or_else(|| {
            ApiError::unprocessable("unknown_recipient", "The recipient address does not belong to any workspace.")
        })?;

    // The id is derived from the content, so a provider's retry of the same post is
    // stored once and classified once.
    let id = content_id(workspace, &post.message);
    let object_key = raw_object_key(workspace, &id);
    state
        .clients
        .s3
        .put_object()
        .bucket(&state.config.bucket)
        .key(&object_key)
        .body(post.message.into())
        .content_type("message/rfc822")
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
        .ssekms_key_id(&state.config.platform_key)
        .send()
        .await
        .map_err(|e| ApiError::unavailable(tern_aws::worker::error_chain(&e)))?;

    let message = InboundMessage::received(id.clone(), state.clock.now(), post.transport);
    let scoped = state.table.scope(workspace);
    match scoped.create(&message, Some(message.expires_at(DEFAULT_INBOUND_RETENTION))).await {
        Ok(()) | Err(StoreError::ConditionFailed) => {}
        Err(e) => return Err(ApiError::unavailable(e)),
    }
    let queue = state.config.queue_url(QueueName::Classify).map_err(ApiError::internal)?;
    let job = ClassifyJob {
        workspace_id: workspace,
        request_id: request_id.map(|r| r.0).unwrap_or_else(RequestId::generate),
        inbound_id: id.clone(),
    };
    tern_aws::queue::enqueue(&state.clients.sqs, queue, &job).await.map_err(ApiError::unavailable)?;
    tracing::info!(workspace = %workspace, inbound_id = %id, "inbound mail accepted");
    Ok((StatusCode::ACCEPTED, Json(Accepted { id, workspace_id: workspace })))
}

/// Where a raw message waits for classification. The bucket's lifecycle rule on
/// `inbound/` deletes anything the worker did not.
pub fn raw_object_key(workspace: WorkspaceId, inbound_id: &str) -> String {
    format!("inbound/{workspace}/{inbound_id}.eml")
}

fn content_id(workspace: WorkspaceId, message: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(workspace.to_string().as_bytes());
    hasher.update(message);
    data_encoding::HEXLOWER.encode(&hasher.finalize()[..16])
}

/// HTTP basic authentication against the webhook secret, compared in constant time.
/// Any user name is accepted: the password alone carries the secret.
fn authenticate(headers: &HeaderMap, secret: Option<&str>) -> Result<(), ApiError> {
    let refused = || ApiError::unauthorized("Webhook credentials are missing or wrong.");
    let Some(secret) = secret else {
        tracing::error!("inbound webhook secret is not configured; refusing every post");
        return Err(refused());
    };
    let encoded = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .ok_or_else(refused)?;
    let decoded = data_encoding::BASE64.decode(encoded.trim().as_bytes()).map_err(|_| refused())?;
    let password = decoded.splitn(2, |b| *b == b':').nth(1).ok_or_else(refused)?;
    if bool::from(password.ct_eq(secret.as_bytes())) { Ok(()) } else { Err(refused()) }
}

struct RawPost {
    message: Vec<u8>,
    transport: Transport,
}

/// CloudMailin's raw format: the whole message in `message`, the SMTP envelope in
/// `envelope[...]` fields.
async fn read_raw_post(mut multipart: Multipart) -> Result<RawPost, ApiError> {
    let mut message = None;
    let mut transport = Transport::default();
    let mut to = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        let value = field.bytes().await.map_err(multipart_error)?;
        let text = || String::from_utf8_lossy(&value).trim().chars().take(512).collect::<String>();
        match name.as_str() {
            "message" => message = Some(value.to_vec()),
            "envelope[to]" => to = Some(text()),
            "envelope[from]" => transport.envelope_from = Some(text()),
            "envelope[remote_ip]" => transport.remote_ip = Some(text()),
            "envelope[helo_domain]" => transport.helo_domain = Some(text()),
            "envelope[spf][result]" => transport.spf = Some(text()),
            _ => {}
        }
    }
    let message = message
        .filter(|m| !m.is_empty())
        .ok_or_else(|| ApiError::unprocessable("missing_field", "The post has no `message` field."))?;
    transport.envelope_to =
        to.ok_or_else(|| ApiError::unprocessable("missing_field", "The post has no `envelope[to]` field."))?;
    Ok(RawPost { message, transport })
}

fn multipart_error(error: axum::extract::multipart::MultipartError) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large(MAX_WEBHOOK_BYTES)
    } else {
        ApiError::bad_request("invalid_body", format!("The multipart body could not be read: {}", error.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = data_encoding::BASE64.encode(format!("{user}:{password}").as_bytes());
        headers.insert(axum::http::header::AUTHORIZATION, format!("Basic {value}").parse().unwrap());
        headers
    }

    #[test]
    fn accepts_only_the_configured_secret() {
        assert!(authenticate(&basic("cloudmailin", "s3cret"), Some("s3cret")).is_ok());
        assert!(authenticate(&basic("cloudmailin", "s3cre"), Some("s3cret")).is_err());
        assert!(authenticate(&basic("cloudmailin", "s3cret"), None).is_err());
        assert!(authenticate(&HeaderMap::new(), Some("s3cret")).is_err());
        let mut garbage = HeaderMap::new();
        garbage.insert(axum::http::header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert!(authenticate(&garbage, Some("s3cret")).is_err());
    }

    #[test]
    fn the_same_message_gets_the_same_id_per_workspace_only() {
        let (a, b) = (WorkspaceId::generate(), WorkspaceId::generate());
        assert_eq!(content_id(a, b"mail"), content_id(a, b"mail"));
        assert_ne!(content_id(a, b"mail"), content_id(b, b"mail"));
        assert_ne!(content_id(a, b"mail"), content_id(a, b"mail2"));
    }
}
