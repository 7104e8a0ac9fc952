//! What Tern's HTTP functions (api, inbound) share.
//!
//! Every error a client sees has one shape, `{"error": {"code": "...", "message": "..."}}`,
//! with a stable machine-readable code and a sentence a person understands. The
//! mapping from failures to status codes lives here and nowhere else.

use axum::Router;
use axum::extract::{FromRequest, Request, rejection::JsonRejection};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tern_aws::bucket::BucketError;
use tern_aws::queue::QueueError;
use tern_aws::sealing::SealingError;
use tern_aws::table::StoreError;
use tern_domain::ids::RequestId;
use tracing::Instrument;

/// Requests larger than this are refused with 413 before any handler reads them.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// For routes that take files (CSV imports, attachments): what fits in a Lambda
/// payload (6 MB) once API Gateway has base64-encoded it.
pub const UPLOAD_BODY_LIMIT: usize = 4 * 1024 * 1024;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorFields<'a>,
}

#[derive(Serialize)]
struct ErrorFields<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// Also what a foreign workspace's ids get: existence is not revealed across tenants.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "There is nothing at this address.")
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("The request body is larger than the limit of {limit} bytes."),
        )
    }

    /// For failures that are ours, not the caller's. The detail goes to the log with
    /// the request id; the client gets the id to quote, never the detail.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(detail = %detail, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side. Quote the x-request-id header if you contact support.",
        )
    }

    /// A dependency (AWS, a provider) is briefly unavailable; the client may retry.
    pub fn unavailable(detail: impl std::fmt::Display) -> Self {
        tracing::warn!(detail = %detail, "dependency unavailable");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Please try again in a moment.")
    }
}

/// The store's failures, for `?` in a handler: DynamoDB throttling or unreachable is
/// the caller's to retry (503); a condition that no longer held means someone changed
/// the item meanwhile (409); an item we cannot encode or decode, or a request DynamoDB
/// refuses, is our bug (a logged 500, not a "try again").
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => Self::unavailable(error),
            StoreError::ConditionFailed => {
                Self::new(StatusCode::CONFLICT, "conflict", "This changed while your request was being handled. Reload it and try again.")
            }
            StoreError::Codec(_) | StoreError::Request(_) => Self::internal(error),
        }
    }
}

/// Sealing's failures: KMS unreachable is retryable (503); a workspace key that is
/// disabled or scheduled for deletion will not come back (410); a refused or broken
/// sealed value is ours to look into (a logged 500).
impl From<SealingError> for ApiError {
    fn from(error: SealingError) -> Self {
        match error {
            SealingError::Kms(_) => Self::unavailable(error),
            SealingError::KeyUnavailable => Self::new(
                StatusCode::GONE,
                "key_unavailable",
                "This workspace's key is disabled or scheduled for deletion, so its protected data can no longer be read.",
            ),
            _ => Self::internal(error),
        }
    }
}

/// Queueing's failures: SQS refusing or half-accepting a batch is retryable (503); a
/// job we cannot encode is our bug (a logged 500).
impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        match error {
            QueueError::Send(_) | QueueError::Partial { .. } => Self::unavailable(error),
            QueueError::Encode(_) | QueueError::NotConfigured(_) => Self::internal(error),
        }
    }
}

/// Object storage's failures: S3 unreachable or refusing is retryable (503); a
/// download link that cannot be signed is our bug (a logged 500).
impl From<BucketError> for ApiError {
    fn from(error: BucketError) -> Self {
        match error {
            BucketError::Unavailable(_) => Self::unavailable(error),
            BucketError::Presign(_) => Self::internal(error),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorFields { code: self.code, message: &self.message } };
        (self.status, axum::Json(body)).into_response()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

/// `axum::Json`, with every way a body can be wrong mapped to the stable error body.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as JSON with the header Content-Type: application/json.",
        ),
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::bad_request("invalid_json", format!("The body is not valid JSON: {}", e.body_text()))
        }
        JsonRejection::JsonDataError(e) => ApiError::unprocessable("invalid_fields", e.body_text()),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::payload_too_large(DEFAULT_BODY_LIMIT),
        other => ApiError::bad_request("invalid_body", other.body_text()),
    }
}

/// `axum::extract::Query`, with a malformed query string mapped to the stable error body.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))
    }
}

/// `axum::extract::Path`, with an unparseable path parameter answered as "not found".
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|_| ApiError::not_found())
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "This address does not accept that method.")
}

/// Gives every request an id (the caller's `x-request-id` when it is a valid one),
/// runs the request inside a span carrying it, and returns it in the response.
async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| RequestId::parse(v).ok())
        .unwrap_or_else(RequestId::generate);
    request.extensions_mut().insert(id);
    // Routers nested behind this one (the dev host's gateway) see the same id.
    if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
        request.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %loggable_path(&request));
    let mut response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| tracing::info!(status = response.status().as_u16(), "response"));
    if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// The path as it may be logged: paths carry secrets (`/v1/unsubscribe/<token>`,
/// and any route that takes a token in its path later), and log lines are read by
/// more people, and kept longer, than the tokens are meant for. A matched route is
/// logged by its template (`/v1/unsubscribe/{token}`), so no parameter of any route
/// reaches a log line, whatever the route; an unmatched one (a 404, where there is
/// no template) has its token-looking segments redacted.
pub fn loggable_path(request: &Request) -> std::borrow::Cow<'_, str> {
    match request.extensions().get::<axum::extract::MatchedPath>() {
        Some(matched) => matched.as_str().into(),
        None => redact_tokens(request.uri().path()).into(),
    }
}

/// Written in place of a path segment that looks like a secret.
pub const REDACTED_SEGMENT: &str = "[redacted]";

/// `path` with every segment that could be a secret replaced by [`REDACTED_SEGMENT`].
/// Kept: short segments, ids (hexadecimal UUIDs, alone or joined by `.`), and words
/// (lowercase letters, `-`, `_`), the shapes of every literal and id in our routes.
/// Anything else of 16 characters or more goes, which covers our tokens (43
/// characters of base64url), API keys and foreign tokens alike.
pub fn redact_tokens(path: &str) -> String {
    path.split('/').map(|segment| if looks_like_a_secret(segment) { REDACTED_SEGMENT } else { segment }).collect::<Vec<_>>().join("/")
}

fn looks_like_a_secret(segment: &str) -> bool {
    let id = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-' || b == b'.');
    let word = |s: &str| s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_');
    segment.len() >= 16 && !id(segment) && !word(segment)
}

/// A body-limit failure from the limit layer arrives as a bare 413; give it the stable body.
async fn error_bodies(axum::extract::State(limit): axum::extract::State<usize>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let is_plain = response.headers().get(http::header::CONTENT_TYPE).is_none_or(|v| !v.as_bytes().starts_with(b"application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && is_plain {
        return ApiError::payload_too_large(limit).into_response();
    }
    response
}

fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    // Handlers must not panic; if one does, the client still gets the stable body.
    ApiError::internal("handler panicked").into_response()
}

/// The layers every HTTP function wraps its router in: fallbacks with the stable
/// body, the body limit, panic containment and request ids.
pub fn with_common_layers(router: Router, body_limit: usize) -> Router {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(body_limit))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(body_limit, error_bodies))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn(request_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::post;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    /// One error path: each failure of the store, sealing and queues answers with
    /// the status and code its kind deserves when a handler passes it on with `?`.
    #[test]
    fn adapter_errors_map_to_their_status_and_code() {
        let json_error = serde_json::from_str::<u8>("x").unwrap_err();
        let cases: Vec<(ApiError, StatusCode, &str)> = vec![
            (StoreError::Unavailable("throttled".into()).into(), StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            (StoreError::ConditionFailed.into(), StatusCode::CONFLICT, "conflict"),
            (StoreError::Codec("missing field".into()).into(), StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            (StoreError::Request("ValidationException".into()).into(), StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            (SealingError::Kms("timeout".into()).into(), StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            (SealingError::KeyUnavailable.into(), StatusCode::GONE, "key_unavailable"),
            (SealingError::Refused.into(), StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            (SealingError::Crypto("rng".into()).into(), StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            (QueueError::Send("refused".into()).into(), StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            (QueueError::Partial { failed: 1, total: 10 }.into(), StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            (QueueError::Encode(json_error).into(), StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        ];
        for (error, status, code) in cases {
            assert_eq!((error.status, error.code), (status, code), "{error}");
            // What the client reads never carries the failure's detail.
            for detail in ["throttled", "missing field", "ValidationException", "timeout", "rng", "refused"] {
                assert!(!error.message.contains(detail), "{error}");
            }
        }
    }

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Input {
        name: String,
    }

    fn app() -> Router {
        let router = Router::new().route("/echo", post(|Json(input): Json<Input>| async move { input.name })).route(
            "/boom",
            post(|| async {
                if true {
                    panic!("boom")
                }
            }),
        );
        with_common_layers(router, 64)
    }

    async fn call(method: &str, uri: &str, content_type: Option<&str>, body: &str) -> (StatusCode, serde_json::Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let response = app().oneshot(request.body(Body::from(body.to_string())).unwrap()).await.unwrap();
        let status = response.status();
        assert!(response.headers().contains_key(REQUEST_ID_HEADER));
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    #[tokio::test]
    async fn every_kind_of_bad_body_gets_the_stable_error_shape() {
        let json = Some("application/json");
        let cases = [
            ("POST", "/echo", json, "{", 400, "invalid_json"),
            ("POST", "/echo", json, r#"{"name": 5}"#, 422, "invalid_fields"),
            ("POST", "/echo", json, "{}", 422, "invalid_fields"),
            ("POST", "/echo", None, r#"{"name":"a"}"#, 415, "unsupported_media_type"),
            ("POST", "/echo", json, &format!(r#"{{"name":"{}"}}"#, "a".repeat(100)), 413, "payload_too_large"),
            ("GET", "/echo", None, "", 405, "method_not_allowed"),
            ("GET", "/nowhere", None, "", 404, "not_found"),
            ("POST", "/boom", None, "", 500, "internal"),
        ];
        for (method, uri, ct, body, status, code) in cases {
            let (got_status, got) = call(method, uri, ct, body).await;
            assert_eq!(got_status.as_u16(), status, "{method} {uri} {body}: {got}");
            assert_eq!(got["error"]["code"], code, "{method} {uri} {body}: {got}");
            assert!(got["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
    }

    #[test]
    fn token_looking_segments_are_redacted_and_ids_and_words_kept() {
        let token = "Qm9ndXMtdG9rZW4tZm9yLWEtdGVzdC0xMjM0NTY3OA";
        let ws = "0197a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        assert_eq!(redact_tokens(&format!("/v1/unsubscribe/{token}")), "/v1/unsubscribe/[redacted]");
        assert_eq!(redact_tokens(&format!("/u/{token}/more")), "/u/[redacted]/more");
        assert_eq!(redact_tokens("/v1/me/tern_k_ABCDEF0123456789xyz"), "/v1/me/[redacted]");
        for kept in [
            format!("/v1/workspaces/{ws}/enrichment-usage"),
            format!("/v1/workspaces/{ws}/enrollments/{ws}.{ws}/actions"),
            "/v1/workspaces/x/privacy/access-requests".to_string(),
            "/health".to_string(),
            "/".to_string(),
            "".to_string(),
        ] {
            assert_eq!(redact_tokens(&kept), kept);
        }
    }

    /// What the request span records as the path, as a handler sees the request (a
    /// matched route carries its template; the fallback has none). Asserted on the
    /// value rather than on captured log lines: a subscriber set for one test races
    /// tracing's per-callsite interest cache with tests running beside it. The log
    /// lines themselves are searched end to end (tests/end_to_end/logs.rs).
    #[tokio::test]
    async fn the_request_span_logs_the_route_template_never_the_token_in_the_path() {
        let token = "Qm9ndXMtdG9rZW4tZm9yLWEtdGVzdC0xMjM0NTY3OA";
        let echo = |request: Request| async move { loggable_path(&request).into_owned() };
        let router = Router::new().route("/v1/unsubscribe/{token}", axum::routing::get(echo)).fallback(echo);
        for (uri, logged) in
            [(format!("/v1/unsubscribe/{token}"), "/v1/unsubscribe/{token}"), (format!("/nowhere/{token}"), "/nowhere/[redacted]")]
        {
            let response = router.clone().oneshot(Request::builder().uri(&uri).body(Body::empty()).unwrap()).await.unwrap();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(String::from_utf8_lossy(&body), logged, "{uri}");
        }
    }

    #[tokio::test]
    async fn a_valid_caller_request_id_is_kept_and_an_invalid_one_replaced() {
        let id = RequestId::generate().to_string();
        for (sent, kept) in [(id.as_str(), true), ("<script>", false)] {
            let request = Request::builder().uri("/nowhere").header(REQUEST_ID_HEADER, sent).body(Body::empty()).unwrap();
            let response = app().oneshot(request).await.unwrap();
            let got = response.headers()[REQUEST_ID_HEADER].to_str().unwrap().to_string();
            assert_eq!(got == sent, kept);
            assert!(RequestId::parse(&got).is_ok());
        }
    }
}
