//! Helpers for tests that run against the local platform.
//!
//! `scripts/test` starts moto on a free loopback port and exports its address as
//! `TERN_TEST_AWS_ENDPOINT`; every test provisions its own resources under a unique
//! prefix, so tests run in parallel against one moto without seeing each other.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

pub mod dns;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;
use tern_devhost::{DevHost, DevHostOptions};

pub const WEBHOOK_SECRET: &str = "test-webhook-secret";

/// The local AWS stand-in. Panics with instructions when tests run without it.
pub fn aws_endpoint() -> String {
    std::env::var("TERN_TEST_AWS_ENDPOINT")
        .unwrap_or_else(|_| panic!("TERN_TEST_AWS_ENDPOINT is not set: run the tests with scripts/test, which starts moto for them"))
}

/// A short, unique, lowercase resource-name prefix (bucket names allow 63 characters).
pub fn unique_prefix(name: &str) -> String {
    let id = tern_domain::ids::RequestId::generate().to_string().replace('-', "");
    format!("t-{name}-{}", &id[id.len() - 10..])
}

pub async fn start_dev_host(name: &str) -> DevHost {
    start_dev_host_with_secret(name, WEBHOOK_SECRET).await
}

pub async fn start_dev_host_with_secret(name: &str, secret: &str) -> DevHost {
    start_dev_host_with(name, secret, Default::default()).await
}

pub async fn start_dev_host_with(name: &str, secret: &str, website_fetch: tern_devhost::WebsiteFetch) -> DevHost {
    start_dev_host_custom(name, |options| {
        options.webhook_secret = secret.to_string();
        options.website_fetch = website_fetch;
    })
    .await
}

/// A dev host with the test's own adjustments to the options (mail delivery, ticks…).
pub async fn start_dev_host_custom(name: &str, adjust: impl FnOnce(&mut DevHostOptions)) -> DevHost {
    capture_logs();
    let mut options = DevHostOptions {
        aws_endpoint: aws_endpoint(),
        prefix: unique_prefix(name),
        bind: "127.0.0.1:0".parse().expect("loopback address"),
        tick_every_seconds: None,
        poll_wait_seconds: 1,
        webhook_secret: WEBHOOK_SECRET.to_string(),
        website_fetch: Default::default(),
        mail_delivery: Default::default(),
        llm: Default::default(),
        manual_functions: Vec::new(),
        region: None,
    };
    adjust(&mut options);
    DevHost::start(options).await.expect("dev host starts on moto")
}

/// A test's own clients for looking at (and, to stage an attack, writing to) the
/// stand-in directly. Never the functions' clients, which stay inside `tern_aws`,
/// and unmetered, so what a test reads is never counted as what the platform spent.
pub struct Observer {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub kms: aws_sdk_kms::Client,
    pub ses: aws_sdk_ses::Client,
}

impl Observer {
    pub fn new(sdk: &tern_aws::clients::SdkConfig) -> Self {
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build());
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            s3,
            sqs: aws_sdk_sqs::Client::new(sdk),
            kms: aws_sdk_kms::Client::new(sdk),
            ses: aws_sdk_ses::Client::new(sdk),
        }
    }
}

/// An [`Observer`] of the default region's stand-in.
pub fn observer_clients() -> Observer {
    Observer::new(&tern_aws::clients::local_sdk_config(&aws_endpoint()))
}

/// An [`Observer`] of what `host` runs on (its region, too).
pub fn observe(host: &DevHost) -> Observer {
    Observer::new(&host.sdk_config)
}

/// The platform value a function would build, on `host`'s clients and clock, for
/// tests that invoke a function by hand.
pub fn platform_of(host: &DevHost) -> tern_aws::Platform {
    tern_aws::Platform::new(host.config.clone(), host.clients.clone(), host.clock.clone())
}

/// Polls `check` until it returns `Some`, or fails the test after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// ../shared/corpus, beside the repository.
pub fn corpus_dir() -> PathBuf {
    tern_aws::template::repository_root().join("../shared/corpus")
}

/// The repository's own files (events/, template.yaml, ...).
pub fn repo_path(relative: &str) -> PathBuf {
    tern_aws::template::repository_root().join(relative)
}

/// A CloudMailin raw-format post: `(content type, body)`.
pub fn cloudmailin_raw_post(message: &[u8], envelope_to: &str) -> (String, Vec<u8>) {
    let boundary = "----tern-test-boundary";
    let mut body = Vec::new();
    let mut field = |name: &str, value: &[u8]| {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes());
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    };
    field("message", message);
    field("envelope[to]", envelope_to.as_bytes());
    field("envelope[from]", b"sender@customer.example");
    field("envelope[remote_ip]", b"198.51.100.25");
    field("envelope[spf][result]", b"pass");
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Counts the messages now in a queue (visible and in flight).
pub async fn queue_depth(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> u64 {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("queue attributes")
        .attributes
        .unwrap_or_default();
    [A::ApproximateNumberOfMessages, A::ApproximateNumberOfMessagesNotVisible]
        .iter()
        .filter_map(|a| attributes.get(a)?.parse::<u64>().ok())
        .sum()
}

/// One API request through the dev host's port: status and JSON body (Null when none).
pub async fn call(
    host: &DevHost,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (reqwest::StatusCode, serde_json::Value) {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", host.base_url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the dev host answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(serde_json::Value::Null))
}

pub const SECOND: Duration = Duration::from_secs(1);

static LOGS: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();

#[derive(Clone)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends every log line of this test process (all tests, every crate, at debug
/// level) to a buffer, as JSON lines like production, so tests can search them.
pub fn capture_logs() {
    let buffer = LOGS.get_or_init(Default::default).clone();
    let writer = Capture(buffer);
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug,hyper=info,h2=info"))
        .with_current_span(true)
        .with_writer(move || writer.clone())
        .try_init();
}

/// Everything logged so far in this process.
pub fn captured_logs() -> String {
    LOGS.get().map(|b| String::from_utf8_lossy(&b.lock().unwrap_or_else(|p| p.into_inner())).into_owned()).unwrap_or_default()
}

/// The token of the newest account mail to `to` whose link goes to `page`
/// (`signup/verify`, `verify-email`, `reset-password`), as the dev host saw it sent.
pub fn mailed_token(host: &DevHost, to: &str, page: &str) -> Option<String> {
    let marker = format!("/{page}#token=");
    host.functions.platform_mail_to(to).iter().rev().find_map(|mail| {
        let at = mail.text.find(&marker)? + marker.len();
        Some(mail.text[at..].chars().take_while(|c| !c.is_whitespace()).collect())
    })
}

/// Signs up as a person does: the sign-up request (`body`), then the link from the
/// mail, and returns the answer that carries the new session (`201` with the tokens
/// in the body and the cookies in its headers). Panics when a step fails.
pub async fn sign_up_response(host: &DevHost, body: serde_json::Value) -> reqwest::Response {
    let email = body["email"].as_str().expect("an e-mail in the sign-up").to_string();
    let client = reqwest::Client::new();
    let before = mailed_token(host, &email, "signup/verify");
    let response = client.post(format!("{}/v1/signup", host.base_url())).json(&body).send().await.expect("the dev host answers");
    assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED, "sign-up of {email}");
    // Mailed before the answer: the newest link is this sign-up's.
    let token = mailed_token(host, &email, "signup/verify").filter(|t| Some(t) != before.as_ref()).expect("a verification link mailed");
    let remember_me = body.get("remember_me").cloned().unwrap_or(serde_json::Value::Bool(false));
    let verify = serde_json::json!({ "token": token, "remember_me": remember_me });
    let response = client.post(format!("{}/v1/signup/verify", host.base_url())).json(&verify).send().await.expect("the dev host answers");
    assert_eq!(response.status(), reqwest::StatusCode::CREATED, "verifying the sign-up of {email}");
    response
}

/// Verifies the address of an account that joined by invitation, with the link
/// mailed to it, as the signed-in account (`access` token).
pub async fn verify_email(host: &DevHost, email: &str, access: &str) {
    let token = mailed_token(host, email, "verify-email").expect("a verification link mailed");
    let (status, answer) =
        call(host, reqwest::Method::POST, "/v1/me/email/verify", Some(access), Some(serde_json::json!({ "token": token }))).await;
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT, "verifying {email}: {answer}");
}

/// Signs up and returns the session's body (`user_id`, `workspace_id`, `access_token`, ...).
pub async fn sign_up(host: &DevHost, body: serde_json::Value) -> serde_json::Value {
    sign_up_response(host, body).await.json().await.expect("a session")
}

/// Moves a workspace to `plan` the way a platform operator does (`scripts/operator
/// set-plan`, here the dev host's `/_dev/workspaces/{ws}/plan`); sign-up always
/// starts on trial. `trial` changes nothing and sends nothing.
pub async fn set_plan(host: &DevHost, workspace: &str, plan: &str) {
    if plan == "trial" {
        return;
    }
    let body = serde_json::json!({ "plan": plan, "operator": "tests", "reason": "test set-up" });
    let (status, answer) = call(host, reqwest::Method::POST, &format!("/_dev/workspaces/{workspace}/plan"), None, Some(body)).await;
    assert_eq!(status, reqwest::StatusCode::OK, "setting the plan of {workspace}: {answer}");
}

/// The TOTP code for `secret` (base32, as 2FA setup shows it) `steps` time steps
/// (30 s each) from the dev host's now: what an authenticator app shows.
pub fn totp(host: &DevHost, secret: &str, steps: i64) -> String {
    use tern_domain::clock::Clock;
    let secret = tern_security::totp::TotpSecret::from_base32(secret).unwrap();
    let at = (host.clock.now().unix_timestamp() + steps * 30) as u64;
    tern_security::totp::code_at(&secret, at, tern_security::totp::TotpParams::DEFAULT).unwrap()
}

/// The tenant a test reads `workspace` as: an observer of what the platform stored.
pub fn observed(workspace: tern_domain::ids::WorkspaceId) -> tern_aws::Tenant {
    tern_aws::Tenant::found(workspace, tern_aws::Lookup::Observer)
}
