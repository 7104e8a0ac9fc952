//! A minimal local Lambda Runtime API: it serves exactly one invocation and records
//! when the function asked for it and how it answered.
//!
//! Routes follow <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>.
//! Anything else that reaches this server is an AWS SDK call (the bench points
//! `AWS_ENDPOINT_URL` here): it is counted and refused at once with a client error,
//! so a handler that unexpectedly calls AWS shows up in the table instead of
//! hanging on retries towards the real endpoints.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(10);

/// How the function ended its one invocation.
#[derive(Debug, Clone)]
pub enum Outcome {
    Response { at: Instant, body: Bytes },
    InvocationError { at: Instant, body: Bytes },
    InitError { body: Bytes },
}

#[derive(Default)]
struct Recorded {
    first_next: Option<Instant>,
    nexts: usize,
    outcome: Option<Outcome>,
}

struct Shared {
    function_name: String,
    event: Value,
    recorded: Mutex<Recorded>,
    finished: Notify,
    aws_calls: AtomicUsize,
}

/// One run's server; dropped (and its task aborted) when the run is over.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start(function_name: &str, event: Value) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            function_name: function_name.to_string(),
            event,
            recorded: Mutex::new(Recorded::default()),
            finished: Notify::new(),
            aws_calls: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(invocation_error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .fallback(aws_call)
            .with_state(shared.clone());
        // Port 0: each run gets a fresh port, so a previous run's child can never
        // reach this one.
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, task })
    }

    /// `host:port`, the form `AWS_LAMBDA_RUNTIME_API` takes.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// Waits until the function has answered (or failed) its invocation.
    pub async fn finished(&self) {
        self.shared.finished.notified().await;
    }

    pub fn first_next(&self) -> Option<Instant> {
        self.shared.recorded.lock().unwrap().first_next
    }

    pub fn outcome(&self) -> Option<Outcome> {
        self.shared.recorded.lock().unwrap().outcome.clone()
    }

    pub fn aws_calls(&self) -> usize {
        self.shared.aws_calls.load(Ordering::Relaxed)
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let now = Instant::now();
    let first = {
        let mut recorded = shared.recorded.lock().unwrap();
        recorded.nexts += 1;
        if recorded.first_next.is_none() {
            recorded.first_next = Some(now);
        }
        recorded.nexts == 1
    };
    if !first {
        // After its answer the runtime polls again; like Lambda freezing an idle
        // sandbox, we never answer, and the bench kills the process.
        std::future::pending::<()>().await;
    }
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + FUNCTION_TIMEOUT;
    let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{}", shared.function_name);
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", HeaderValue::from_static(REQUEST_ID));
    headers.insert("lambda-runtime-deadline-ms", HeaderValue::from(deadline.as_millis() as u64));
    headers.insert("lambda-runtime-invoked-function-arn", HeaderValue::try_from(arn).expect("ascii arn"));
    headers.insert(
        "lambda-runtime-trace-id",
        HeaderValue::from_static("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"),
    );
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    (headers, shared.event.to_string())
}

fn finish(shared: &Shared, outcome: Outcome) -> StatusCode {
    let mut recorded = shared.recorded.lock().unwrap();
    // Only the first outcome counts; Lambda would refuse a second one too.
    if recorded.outcome.is_some() {
        return StatusCode::BAD_REQUEST;
    }
    recorded.outcome = Some(outcome);
    shared.finished.notify_one();
    StatusCode::ACCEPTED
}

async fn response(State(shared): State<Arc<Shared>>, Path(_id): Path<String>, body: Bytes) -> StatusCode {
    finish(&shared, Outcome::Response { at: Instant::now(), body })
}

async fn invocation_error(State(shared): State<Arc<Shared>>, Path(_id): Path<String>, body: Bytes) -> StatusCode {
    finish(&shared, Outcome::InvocationError { at: Instant::now(), body })
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    finish(&shared, Outcome::InitError { body })
}

/// Any AWS SDK request. A 400 with an AWS-shaped error body is not retried, so the
/// handler fails fast and the run is reported with its AWS call count.
async fn aws_call(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    shared.aws_calls.fetch_add(1, Ordering::Relaxed);
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/x-amz-json-1.0")],
        r#"{"__type":"tern.bench#NoAws","message":"the cold-start bench has no AWS"}"#,
    )
}
