//! The `inbound` function: inbound-mail webhooks.
//!
//! A mail provider POSTs each received e-mail here, in one of CloudMailin's
//! formats (`raw`, `json`, `multipart`; normalised or original). Two doors:
//!
//! - `POST /inbound/{format}`: the platform's own inbound domain, authenticated
//!   with the platform's webhook secret (HTTP basic); the recipient address says
//!   which workspace (`reply+<workspace>[.<token>]@…`, `unsubscribe+<token>@…`).
//! - `POST /inbound/workspaces/{workspace}/{format}`: a workspace's own provider
//!   account, authenticated with that workspace's credential, by HTTP basic or an
//!   HMAC-SHA256 signature (`X-Tern-Signature: t=<unix seconds>,v1=<hex>` over
//!   `<t>.<body>`), compared in constant time.
//!
//! Unauthenticated posts get 401 and nothing is stored. The handler decodes the
//! post (`tern_mail::webhook`, pure), then `tern_aws::inbound::Intake` stores the
//! raw message under the workspace's key until classification, records the
//! metadata and queues the `classify` worker. It answers fast: no classification
//! here.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use hmac::{KeyInit, Mac};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tern_aws::inbound::{Accepted, InboundWebhookCredential, Intake, IntakeError, WEBHOOK_SECRET_PURPOSE, webhook_secret_identity};
use tern_aws::{Lookup, Platform, Tenant};
use tern_domain::ids::{RequestId, WorkspaceId};
use tern_http::{ApiError, Json, Path};
use tern_mail::webhook::{self, MAX_WEBHOOK_BYTES, Received, WebhookError};
use tern_security::token::TokenHash;

pub use tern_aws::inbound::raw_object_key;

/// A signature older or newer than this is refused (replays of a captured post).
pub const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;
pub const SIGNATURE_HEADER: &str = "x-tern-signature";

pub struct InboundState {
    pub platform: Platform,
}

impl InboundState {
    pub fn new(platform: Platform) -> Self {
        Self { platform }
    }
}

pub fn router(state: Arc<InboundState>) -> Router {
    let routes = Router::new()
        .route("/inbound/{format}", post(receive_platform))
        .route("/inbound/workspaces/{workspace}/{format}", post(receive_workspace))
        .layer(DefaultBodyLimit::max(MAX_WEBHOOK_BYTES))
        .with_state(state);
    tern_http::with_common_layers(routes, MAX_WEBHOOK_BYTES)
}

async fn receive_platform(
    State(state): State<Arc<InboundState>>,
    Path(format): Path<String>,
    headers: HeaderMap,
    request_id: Option<axum::Extension<RequestId>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let secret = state.platform.config().inbound_webhook_secret.as_deref();
    if secret.is_none() {
        tracing::error!("inbound webhook secret is not configured; refusing every post");
    }
    if !secret.is_some_and(|secret| {
        basic_password(&headers).is_some_and(|(_, password)| bool::from(password.as_bytes().ct_eq(secret.as_bytes())))
    }) {
        return Err(refused());
    }
    let body = body.map_err(body_error)?;
    let received = decode(&format, &headers, &body)?;
    accept(&state, received, None, request_id).await
}

async fn receive_workspace(
    State(state): State<Arc<InboundState>>,
    Path((workspace, format)): Path<(String, String)>,
    headers: HeaderMap,
    request_id: Option<axum::Extension<RequestId>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    // An unknown workspace looks exactly like wrong credentials.
    let workspace = WorkspaceId::parse(&workspace).map_err(|_| refused())?;
    // Read only for the credential check below; nothing is stored unless it passes.
    let tenant = Tenant::found(workspace, Lookup::InboundRoute);
    let body = body.map_err(body_error)?;
    let credential =
        state.platform.table().scope(tenant).get::<InboundWebhookCredential>(InboundWebhookCredential::ID).await?.ok_or_else(refused)?;
    authenticate_workspace(&state, workspace, &credential, &headers, &body).await?;
    let received = decode(&format, &headers, &body)?;
    accept(&state, received, Some(tenant), request_id).await
}

async fn accept(
    state: &InboundState,
    received: Received,
    only: Option<Tenant>,
    request_id: Option<axum::Extension<RequestId>>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let request_id = request_id.map(|r| r.0).unwrap_or_else(RequestId::generate);
    match Intake::new(&state.platform).accept(received.message, received.transport, only, request_id).await {
        Ok(accepted) => Ok((StatusCode::ACCEPTED, Json(accepted))),
        Err(IntakeError::UnknownRecipient) => {
            Err(ApiError::unprocessable("unknown_recipient", "The recipient address does not belong to any workspace."))
        }
        Err(IntakeError::Unavailable(e)) => Err(ApiError::unavailable(e)),
    }
}

fn refused() -> ApiError {
    ApiError::unauthorized("Webhook credentials are missing or wrong.")
}

fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large(MAX_WEBHOOK_BYTES)
    } else {
        ApiError::bad_request("invalid_body", rejection.body_text())
    }
}

/// The user name and password of an HTTP basic `Authorization` header.
fn basic_password(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = data_encoding::BASE64.decode(encoded.trim().as_bytes()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Basic authentication when an `Authorization` header is present, else the
/// HMAC signature. Both compare in constant time.
async fn authenticate_workspace(
    state: &InboundState,
    workspace: WorkspaceId,
    credential: &InboundWebhookCredential,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    if headers.contains_key(header::AUTHORIZATION) {
        let (user, password) = basic_password(headers).ok_or_else(refused)?;
        let stored = TokenHash::from_hex(&credential.secret_hash).map_err(ApiError::internal)?;
        // Both checks run whatever the first says.
        let user_ok = user.as_bytes().ct_eq(credential.username.as_bytes());
        let secret_ok = TokenHash::of(&password) == stored;
        return if bool::from(user_ok) & secret_ok { Ok(()) } else { Err(refused()) };
    }
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).ok_or_else(refused)?;
    let (timestamp, presented) = parse_signature(signature).ok_or_else(refused)?;
    let now = state.platform.clock().now().unix_timestamp();
    if !is_fresh(timestamp, now) {
        return Err(refused());
    }
    let workspace_text = workspace.to_string();
    let secret = state
        .platform
        .sealer()
        .open(workspace, WEBHOOK_SECRET_PURPOSE, &webhook_secret_identity(&workspace_text), &credential.sealed_secret)
        .await
        .map_err(|e| match e {
            tern_aws::sealing::SealingError::Kms(e) => ApiError::unavailable(e),
            other => ApiError::internal(other),
        })?;
    let expected = signature_of(secret.expose(), timestamp, body);
    if bool::from(expected.as_slice().ct_eq(&presented)) { Ok(()) } else { Err(refused()) }
}

/// Is a signature made at `timestamp` within the tolerance of `now`? The timestamp
/// is the sender's (any i64); `abs_diff` cannot overflow where `(now - t).abs()`
/// did for `t=-9223372036854775808`.
fn is_fresh(timestamp: i64, now: i64) -> bool {
    now.abs_diff(timestamp) <= SIGNATURE_TOLERANCE_SECONDS.unsigned_abs()
}

/// `t=<unix seconds>,v1=<hex>`, in any order.
fn parse_signature(header: &str) -> Option<(i64, Vec<u8>)> {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.trim().split_once('=')? {
            ("t", t) => timestamp = t.parse::<i64>().ok(),
            ("v1", v) => signature = data_encoding::HEXLOWER_PERMISSIVE.decode(v.as_bytes()).ok(),
            _ => {}
        }
    }
    Some((timestamp?, signature?))
}

/// HMAC-SHA256 of `<timestamp>.<body>` under the workspace's webhook secret: what
/// a sender puts in `X-Tern-Signature` as `v1`.
#[allow(clippy::expect_used, reason = "HMAC-SHA256 accepts a key of any length: new_from_slice cannot fail")]
pub fn signature_of(secret: &[u8], timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

fn decode(format: &str, headers: &HeaderMap, body: &[u8]) -> Result<Received, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let decoded = match format {
        "raw" => webhook::form_fields(body, content_type).and_then(|fields| webhook::cloudmailin_raw(&fields)),
        "multipart" => webhook::form_fields(body, content_type).and_then(|fields| webhook::cloudmailin_multipart(&fields)),
        "json" => webhook::cloudmailin_json(body),
        other => {
            return Err(ApiError::bad_request(
                "unsupported_format",
                format!("Unknown webhook format `{}`; use raw, json or multipart.", other.chars().take(32).collect::<String>()),
            ));
        }
    };
    decoded.map_err(|e| match e {
        WebhookError::TooLarge { limit, .. } => ApiError::payload_too_large(limit),
        WebhookError::NotJson(_) | WebhookError::NotMultipart(_) => ApiError::bad_request("invalid_body", e.to_string()),
        WebhookError::MissingField(_) => ApiError::unprocessable("missing_field", e.to_string()),
        WebhookError::InvalidField { .. } | WebhookError::NotReceipt(_) => ApiError::unprocessable("invalid_field", e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_basic_credentials() {
        let mut headers = HeaderMap::new();
        let value = data_encoding::BASE64.encode(b"ws-hook:s3:cret");
        headers.insert(header::AUTHORIZATION, format!("Basic {value}").parse().unwrap());
        assert_eq!(basic_password(&headers), Some(("ws-hook".into(), "s3:cret".into())));
        headers.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert_eq!(basic_password(&headers), None);
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(basic_password(&headers), None);
    }

    #[test]
    fn parses_signatures_in_any_order_and_refuses_garbage() {
        assert_eq!(parse_signature("t=17,v1=0aff"), Some((17, vec![0x0a, 0xff])));
        assert_eq!(parse_signature("v1=0AFF, t=17"), Some((17, vec![0x0a, 0xff])));
        assert_eq!(parse_signature("t=17"), None);
        assert_eq!(parse_signature("t=x,v1=00"), None);
        assert_eq!(parse_signature("t=17,v1=zz"), None);
        assert_eq!(parse_signature("garbage"), None);
    }

    #[test]
    fn freshness_holds_for_every_timestamp_without_overflow() {
        let now = 1_800_000_000;
        assert!(is_fresh(now, now));
        assert!(is_fresh(now - SIGNATURE_TOLERANCE_SECONDS, now));
        assert!(is_fresh(now + SIGNATURE_TOLERANCE_SECONDS, now));
        assert!(!is_fresh(now - SIGNATURE_TOLERANCE_SECONDS - 1, now));
        assert!(!is_fresh(now + SIGNATURE_TOLERANCE_SECONDS + 1, now));
        for extreme in [i64::MIN, i64::MIN + 1, i64::MAX, 0] {
            assert!(!is_fresh(extreme, now), "{extreme}");
        }
        assert!(is_fresh(i64::MIN, i64::MIN) && !is_fresh(i64::MAX, i64::MIN) && !is_fresh(i64::MIN, i64::MAX));
    }

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let a = signature_of(b"k", 1, b"body");
        assert_eq!(a, signature_of(b"k", 1, b"body"));
        assert_ne!(a, signature_of(b"k", 2, b"body"));
        assert_ne!(a, signature_of(b"k", 1, b"bodY"));
        assert_ne!(a, signature_of(b"k2", 1, b"body"));
    }
}
