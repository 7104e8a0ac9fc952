//! Intent refinement by a workspace's own language model, end to end: the provider
//! is set through the API, a lead's human reply arrives through the inbound
//! webhook, the rules stop the sequence, and the classify worker asks a local fake
//! OpenAI-compatible provider (reached through the SSRF guard with an explicit
//! loopback allowance for its port) what the reply means. A failing provider
//! leaves the rules' verdict and effect as they are.

use crate::outreach::{SMTP_PASSWORD, default_sequence, header, ok, set_clock, sign_up, smtp_mailbox, tick_dispatch, to, token};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus, header as axum_header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tern_aws::entities::InboundText;
use tern_aws::table::Table;
use tern_devhost::{DevHost, LlmAccess, MailDelivery};
use tern_domain::ids::WorkspaceId;
use tern_domain::inbound::{InboundMessage, InboundStatus};
use tern_domain::intent::ReplyIntent;
use tern_mailsink::{MailSink, SinkOptions, TlsMode};
use tern_tests::{WEBHOOK_SECRET, call, captured_logs, cloudmailin_raw_post, eventually, observer_clients, start_dev_host_custom};
use time::macros::datetime;

const MODEL: &str = "tern-intent-test";
const LEAD: &str = "carla@replyco.example";
const REPLY_TEXT: &str = "Hi Ann, thanks for reaching out. Yes, Tuesday works for a call, how about 3pm?";

/// A fake OpenAI-compatible provider: counts requests, keeps the last body, and
/// answers only the right key and model.
#[derive(Clone)]
struct FakeProvider {
    key: String,
    status: u16,
    requests: Arc<AtomicUsize>,
    last_body: Arc<Mutex<Value>>,
}

async fn completions(State(fake): State<FakeProvider>, headers: HeaderMap, body: String) -> Response {
    fake.requests.fetch_add(1, Ordering::SeqCst);
    let body: Value = serde_json::from_str(&body).unwrap_or_default();
    *fake.last_body.lock().unwrap() = body.clone();
    if headers.get(axum_header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(format!("Bearer {}", fake.key).as_str()) {
        return (AxumStatus::UNAUTHORIZED, "{\"error\":{\"message\":\"bad key\"}}").into_response();
    }
    if body["model"] != MODEL {
        return (AxumStatus::NOT_FOUND, "{\"error\":{\"message\":\"no such model\"}}").into_response();
    }
    if fake.status != 200 {
        return (AxumStatus::from_u16(fake.status).unwrap(), "{\"error\":{\"message\":\"overloaded\"}}").into_response();
    }
    let content = "{\"intent\":\"meeting\",\"confidence\":0.91,\"reason\":\"Proposes a call on Tuesday at 3pm.\"}";
    axum::Json(json!({ "id": "chatcmpl-1", "object": "chat.completion", "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }] }))
        .into_response()
}

async fn fake_provider(key: &str, status: u16) -> (SocketAddr, FakeProvider) {
    let fake = FakeProvider { key: key.into(), status, requests: Default::default(), last_body: Default::default() };
    let router = Router::new().route("/v1/chat/completions", post(completions)).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (addr, fake)
}

struct Scenario {
    host: DevHost,
    owner: String,
    ws: String,
    enrollment: String,
    message: InboundMessage,
}

/// A workspace with the fake provider set, one lead sent the first step over SMTP,
/// and the lead's human reply classified.
async fn reply_with_provider(name: &str, provider: SocketAddr, key: &str) -> Scenario {
    let sink =
        MailSink::start(SinkOptions { mode: TlsMode::StartTls, credentials: Some(("ann".into(), SMTP_PASSWORD.into())) }).await.unwrap();
    let (smtp_port, cert) = (sink.port(), sink.certificate_der());
    let host = start_dev_host_custom(name, move |options| {
        options.mail_delivery = MailDelivery {
            policy: tern_web::guard::Policy::mail().allow_loopback_for_tests(smtp_port),
            extra_roots: vec![cert],
            resolver: None,
        };
        options.llm = LlmAccess {
            policy: tern_web::guard::Policy::provider_api().allow_loopback_for_tests(provider.port()),
            limits: tern_web::llm::LlmLimits { total_timeout: Duration::from_secs(5), ..Default::default() },
        };
    })
    .await;
    // Tuesday 10:00 in Berlin: the first step is due at once.
    set_clock(&host, datetime!(2027-03-23 09:00 UTC));
    let (owner, ws) = sign_up(&host, "ann@acme.example", "growth").await;
    let llm = format!("/v1/workspaces/{ws}/llm");

    // Before it is set there is nothing to show; refused addresses are not stored.
    let (status, _) = call(&host, Method::GET, &llm, Some(&owner), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for refused in [
        "http://169.254.169.254/v1",
        "https://169.254.169.254/v1",
        "https://127.0.0.1/v1",
        "https://10.0.0.8/v1",
        "ftp://llm.example/v1",
        "not a url",
    ] {
        let (status, error) =
            call(&host, Method::PUT, &llm, Some(&owner), Some(json!({ "base_url": refused, "model": MODEL, "api_key": key }))).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("llm_url_refused")),
            "{refused}: {error}"
        );
        assert!(!error.to_string().contains(key), "{error}");
    }
    let set =
        ok(&host, Method::PUT, &llm, &owner, json!({ "base_url": format!("http://{provider}/v1/"), "model": MODEL, "api_key": key })).await;
    assert_eq!(set["base_url"], format!("http://{provider}/v1"), "{set}");
    let (status, shown) = call(&host, Method::GET, &llm, Some(&owner), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (shown["model"].as_str(), shown["enabled"].as_bool(), shown["api_key_set"].as_bool()),
        (Some(MODEL), Some(true), Some(true)),
        "{shown}"
    );
    assert!(!set.to_string().contains(key) && !shown.to_string().contains(key), "the key is never shown: {shown}");

    let mailbox = smtp_mailbox(&host, &owner, &ws, &sink).await;
    let sequence = default_sequence(&host, &owner, &ws, &mailbox, false).await;
    let contact = ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/contacts"),
        &owner,
        json!({ "email": LEAD, "first_name": "Carla", "company": "ReplyCo" }),
    )
    .await;
    let contact = contact["id"].as_str().unwrap().to_string();
    ok(&host, Method::POST, &format!("/v1/workspaces/{ws}/sequences/{sequence}/enrollments"), &owner, json!({ "contact_ids": [contact] }))
        .await;
    // Dispatch runs each minute; tick until the first step reaches the sink.
    for attempt in 0.. {
        assert!(attempt < 12, "the first step never reached the mail sink");
        tick_dispatch(&host).await;
        if eventually_count(&sink, 1, Duration::from_secs(10)).await {
            break;
        }
        set_clock(&host, datetime!(2027-03-23 09:00 UTC) + time::Duration::seconds(30 * (attempt + 1)));
    }
    let first = to(&sink, LEAD).remove(0);

    let message_id = header(&first, "Message-ID").unwrap();
    let subject = header(&first, "Subject").unwrap();
    let reply = format!(
        "From: Carla Rossi <{LEAD}>\r\nTo: Ann Example <ann@acme.example>\r\nSubject: Re: {subject}\r\nMessage-ID: <reply-{}@replyco.example>\r\n\
         In-Reply-To: {message_id}\r\nReferences: {message_id}\r\nDate: Tue, 23 Mar 2027 10:30:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         {REPLY_TEXT}\r\n\r\nCarla\r\n\r\n> {subject}\r\n",
        tern_domain::ids::RequestId::generate()
    );
    let (content_type, body) = cloudmailin_raw_post(reply.as_bytes(), &format!("reply+{ws}@in.tern.test"));
    let response = reqwest::Client::new()
        .post(format!("{}/inbound/raw", host.base_url()))
        .basic_auth("cloudmailin", Some(WEBHOOK_SECRET))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let table = Table::new(observer_clients().dynamodb.clone(), host.config.table.clone());
    let scoped = table.scope(tern_tests::observed(WorkspaceId::parse(&ws).unwrap()));
    let mut message = eventually("the reply's classification", Duration::from_secs(60), || {
        let (scoped, id) = (scoped.clone(), id.clone());
        async move { scoped.get::<InboundMessage>(&id).await.unwrap().filter(|m| m.status != InboundStatus::Received) }
    })
    .await;
    assert!(scoped.expires_at::<InboundMessage>(&id).await.unwrap().is_some(), "the intent expires with the record it is on");
    // The reply's text and the model's reading of it are kept apart from the
    // metadata, under the e-mail-body window.
    assert_eq!(
        (message.snippet.as_deref(), message.intent_reason.as_deref(), message.intent_raw_output.as_deref()),
        (None, None, None),
        "{message:?}"
    );
    let text = scoped.get::<InboundText>(&id).await.unwrap().expect("the reply's text is kept");
    assert!(scoped.expires_at::<InboundText>(&id).await.unwrap().is_some(), "the text expires");
    (message.snippet, message.intent_reason, message.intent_raw_output) = (text.snippet, text.intent_reason, text.intent_raw_output);
    let owner = token(&host, "ann@acme.example").await;
    Scenario { host, owner, ws, enrollment: format!("{sequence}.{contact}"), message }
}

async fn eventually_count(sink: &MailSink, n: usize, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if sink.count() >= n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

async fn assert_stopped_by_the_reply(s: &Scenario) {
    let path = format!("/v1/workspaces/{}/enrollments/{}", s.ws, s.enrollment);
    let (_, enrollment) = call(&s.host, Method::GET, &path, Some(&s.owner), None).await;
    assert_eq!(
        (enrollment["state"]["state"].as_str(), enrollment["state"]["reason"].as_str()),
        (Some("stopped"), Some("replied")),
        "{enrollment}"
    );
}

#[tokio::test]
async fn a_human_reply_is_read_for_its_intent_by_the_workspaces_own_model() {
    let key = format!("sk-planted-llm-key-{}", tern_domain::ids::RequestId::generate());
    let (provider, fake) = fake_provider(&key, 200).await;
    let s = reply_with_provider("llm", provider, &key).await;
    let m = &s.message;
    assert_eq!((m.kind.as_deref(), m.effect.as_deref()), (Some("human"), Some("stopped: replied")), "{m:?}");
    assert_eq!(m.intent, Some(ReplyIntent::Meeting), "{m:?}");
    assert_eq!(m.intent_confidence.map(|c| c.get()), Some(0.91));
    assert_eq!(m.intent_reason.as_deref(), Some("Proposes a call on Tuesday at 3pm."));
    assert_eq!(m.intent_prompt_version.as_deref(), Some(tern_web::llm::PROMPT_VERSION));
    assert!(m.intent_raw_output.as_deref().is_some_and(|raw| raw.contains("\"meeting\"")), "{m:?}");
    assert_eq!(m.intent_error, None);
    assert_stopped_by_the_reply(&s).await;

    // Asked once, with the reply's subject and new text and nothing else of the workspace.
    assert_eq!(fake.requests.load(Ordering::SeqCst), 1);
    let asked = fake.last_body.lock().unwrap().clone();
    let user = asked["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains(REPLY_TEXT) && user.contains("Subject: Re: Quick question"), "{user}");
    for private in [LEAD, "ReplyCo", "ann@acme.example", "Acme"] {
        assert!(!asked.to_string().contains(private), "{private} was sent to the provider: {asked}");
    }

    // The audit trail names the change, never the key; removing the provider works.
    let (_, audit) = call(&s.host, Method::GET, &format!("/v1/workspaces/{}/audit", s.ws), Some(&s.owner), None).await;
    let actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"llm.configured"), "{actions:?}");
    assert!(!audit.to_string().contains(&key), "the key is not in the audit trail");
    let llm = format!("/v1/workspaces/{}/llm", s.ws);
    let (status, _) = call(&s.host, Method::DELETE, &llm, Some(&s.owner), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&s.host, Method::GET, &llm, Some(&s.owner), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!captured_logs().contains(&key), "the provider key never reaches a log line");
    s.host.stop().await;
}

#[tokio::test]
async fn a_failing_provider_leaves_the_rules_verdict_and_records_why() {
    let key = format!("sk-planted-llm-key-{}", tern_domain::ids::RequestId::generate());
    let (provider, fake) = fake_provider(&key, 500).await;
    let s = reply_with_provider("llm-down", provider, &key).await;
    let m = &s.message;
    assert_eq!(
        (m.status, m.kind.as_deref(), m.effect.as_deref()),
        (InboundStatus::Classified, Some("human"), Some("stopped: replied")),
        "{m:?}"
    );
    assert_eq!((m.intent, m.intent_confidence, m.intent_reason.as_deref()), (None, None, None));
    assert_eq!(m.intent_error.as_deref(), Some("the provider answered HTTP 500"), "{m:?}");
    assert_eq!(m.intent_prompt_version.as_deref(), Some(tern_web::llm::PROMPT_VERSION));
    assert_stopped_by_the_reply(&s).await;
    // Tried once: the job finished rather than retrying for the model's sake.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fake.requests.load(Ordering::SeqCst), 1);
    assert!(!captured_logs().contains(&key), "the provider key never reaches a log line");
    s.host.stop().await;
}
