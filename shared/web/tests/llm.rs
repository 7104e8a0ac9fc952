//! The language-model client against real HTTP servers on 127.0.0.1:0, with the
//! explicit test allowance scoped to the server's own port.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tern_domain::intent::ReplyIntent;
use tern_security::secret::SecretString;
use tern_web::guard::{AddressClass, Policy, Refusal};
use tern_web::llm::{LlmClient, LlmEndpoint, LlmError, LlmLimits, PROMPT_VERSION, SYSTEM_PROMPT};

const KEY: &str = "sk-test-planted-key-9d41c2";
const MODEL: &str = "tern-test-model";

/// What the fake provider does with a request it accepts.
#[derive(Clone, Copy)]
enum Answer {
    Content(&'static str),
    Status(u16),
    Body(&'static str),
    Slow,
    Huge,
}

#[derive(Clone)]
struct Provider {
    answer: Answer,
    hits: Arc<AtomicUsize>,
    last_body: Arc<Mutex<Option<serde_json::Value>>>,
}

async fn completions(State(p): State<Provider>, headers: HeaderMap, body: String) -> Response {
    p.hits.fetch_add(1, Ordering::SeqCst);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    *p.last_body.lock().unwrap() = Some(body.clone());
    let authorised = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {KEY}"));
    if !authorised {
        // Like OpenAI: the error body echoes part of the key.
        return (StatusCode::UNAUTHORIZED, format!("{{\"error\":{{\"message\":\"Incorrect API key provided: {KEY}\"}}}}")).into_response();
    }
    if body["model"] != MODEL {
        return (StatusCode::NOT_FOUND, "{\"error\":{\"message\":\"no such model\"}}").into_response();
    }
    match p.answer {
        Answer::Content(text) => {
            axum::Json(serde_json::json!({ "choices": [{ "index": 0, "message": { "role": "assistant", "content": text } }] }))
                .into_response()
        }
        Answer::Status(status) => (StatusCode::from_u16(status).unwrap(), "{\"error\":{}}").into_response(),
        Answer::Body(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Answer::Slow => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late".into_response()
        }
        Answer::Huge => "x".repeat(1024 * 1024).into_response(),
    }
}

async fn provider(answer: Answer) -> (SocketAddr, Provider) {
    let state = Provider { answer, hits: Default::default(), last_body: Default::default() };
    let router = Router::new()
        .route("/v1/chat/completions", post(completions))
        .route(
            "/redirect/chat/completions",
            post(|| async { (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, "/v1/chat/completions")]) }),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (addr, state)
}

fn limits() -> LlmLimits {
    LlmLimits { total_timeout: Duration::from_millis(800), connect_timeout: Duration::from_millis(500), max_response_bytes: 16 * 1024 }
}

fn client_for(addr: SocketAddr) -> LlmClient {
    LlmClient::new(Policy::provider_api().allow_loopback_for_tests(addr.port()), limits()).expect("client builds")
}

async fn ask(client: &LlmClient, base_url: &str, key: &str) -> Result<tern_web::Refinement, LlmError> {
    let key = SecretString::from(key);
    let endpoint = LlmEndpoint { base_url, model: MODEL, api_key: &key };
    client.refine(&endpoint, Some("Re: Quick question"), "Yes, Tuesday works for a call, how about 3pm?").await
}

#[tokio::test]
async fn a_well_formed_answer_becomes_an_intent_and_the_request_carries_only_the_prompt() {
    let content = "```json\n{\"intent\":\"meeting\",\"confidence\":0.93,\"reason\":\"Proposes Tuesday at 3pm.\"}\n```";
    let (addr, provider) = provider(Answer::Content(content)).await;
    let refinement = ask(&client_for(addr), &format!("http://{addr}/v1/"), KEY).await.expect("an intent");
    assert_eq!(refinement.answer.intent, ReplyIntent::Meeting);
    assert_eq!(refinement.answer.confidence.get(), 0.93);
    assert_eq!(refinement.answer.reason, "Proposes Tuesday at 3pm.");
    assert_eq!(refinement.raw_output, content, "the model's words, kept as they came");
    assert_eq!(provider.hits.load(Ordering::SeqCst), 1);
    let body = provider.last_body.lock().unwrap().clone().unwrap();
    assert_eq!(body["model"], MODEL);
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][0]["content"], SYSTEM_PROMPT);
    assert_eq!(
        body["messages"][1]["content"],
        "Subject: Re: Quick question\n\nReply:\n\"\"\"\nYes, Tuesday works for a call, how about 3pm?\n\"\"\""
    );
    assert_eq!(body.as_object().unwrap().len(), 2, "model and messages, nothing else: {body}");
    assert!(!PROMPT_VERSION.is_empty());
}

#[tokio::test]
async fn a_refused_key_is_an_http_error_that_does_not_repeat_the_key() {
    let (addr, provider) = provider(Answer::Content(r#"{"intent":"not_interested","confidence":0.8,"reason":"Declines."}"#)).await;
    let error = ask(&client_for(addr), &format!("http://{addr}/v1"), "sk-wrong-key-0000").await.unwrap_err();
    assert!(matches!(error, LlmError::Http { status: 401 }), "{error:?}");
    let (text, debug) = (error.to_string(), format!("{error:?}"));
    assert!(!text.contains("sk-") && !debug.contains("sk-"), "{text} / {debug}");
    assert_eq!(provider.hits.load(Ordering::SeqCst), 1);
    let error = ask(&client_for(addr), &format!("http://{addr}/v1"), KEY).await;
    assert!(error.is_ok(), "the right key works against the same server: {error:?}");
}

#[tokio::test]
async fn provider_failures_are_typed() {
    let (addr, _) = provider(Answer::Status(500)).await;
    assert!(matches!(ask(&client_for(addr), &format!("http://{addr}/v1"), KEY).await, Err(LlmError::Http { status: 500 })));

    let (addr, _) = provider(Answer::Body("{\"id\":\"x\",\"choices\":[]}")).await;
    let error = ask(&client_for(addr), &format!("http://{addr}/v1"), KEY).await.unwrap_err();
    assert!(matches!(&error, LlmError::BadAnswer { raw_output: None, .. }), "{error:?}");

    let (addr, _) = provider(Answer::Huge).await;
    assert!(matches!(ask(&client_for(addr), &format!("http://{addr}/v1"), KEY).await, Err(LlmError::TooLarge { .. })));

    // A redirect is not followed: it would take the key somewhere else.
    let (addr, provider) = provider(Answer::Content("{}")).await;
    let error = ask(&client_for(addr), &format!("http://{addr}/redirect"), KEY).await.unwrap_err();
    assert!(matches!(error, LlmError::Http { status: 307 }), "{error:?}");
    assert_eq!(provider.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_malformed_answer_is_a_bad_answer_that_keeps_the_models_words() {
    let words = "I think they would like a meeting next week.";
    let (addr, _) = provider(Answer::Content(words)).await;
    let error = ask(&client_for(addr), &format!("http://{addr}/v1"), KEY).await.unwrap_err();
    assert!(matches!(&error, LlmError::BadAnswer { .. }), "{error:?}");
    assert_eq!(error.raw_output(), Some(words));
    assert!(error.to_string().contains("not the JSON object"), "{error}");

    // A model made to repeat the key (prompt injection) does not get it stored.
    let (addr, _) = provider(Answer::Content("sk-test-planted-key-9d41c2")).await;
    let error = ask(&client_for(addr), &format!("http://{addr}/v1"), KEY).await.unwrap_err();
    assert_eq!(error.raw_output(), Some("[redacted]"));
}

#[tokio::test]
async fn a_slow_provider_times_out_within_the_limit() {
    let (addr, provider) = provider(Answer::Slow).await;
    // The provider holds its answer for 30 s: a Timeout error (not an answer) shows
    // the client gave up at its own limit; no wall-clock bound is asserted.
    let error = ask(&client_for(addr), &format!("http://{addr}/v1"), KEY).await.unwrap_err();
    assert!(matches!(error, LlmError::Timeout), "{error:?}");
    assert_eq!(provider.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_guard_refuses_loopback_without_the_allowance_and_metadata_always() {
    let (addr, provider) = provider(Answer::Content("{}")).await;
    let production = LlmClient::new(Policy::provider_api(), limits()).unwrap();
    for base in [format!("http://{addr}/v1"), format!("https://{addr}/v1")] {
        let error = ask(&production, &base, KEY).await.unwrap_err();
        assert!(matches!(error, LlmError::Refused(_)), "{base}: {error:?}");
    }
    let error = ask(&production, "https://127.0.0.1/v1", KEY).await.unwrap_err();
    assert!(matches!(error, LlmError::Refused(Refusal::Address { class: AddressClass::Loopback, .. })), "{error:?}");
    for client in [&production, &client_for(addr)] {
        for base in ["http://169.254.169.254/latest", "https://169.254.169.254/v1", "https://[fd00:ec2::254]/v1"] {
            let error = ask(client, base, KEY).await.unwrap_err();
            assert!(matches!(error, LlmError::Refused(_)), "{base}: {error:?}");
        }
        let error = ask(client, "https://169.254.169.254/v1", KEY).await.unwrap_err();
        assert!(matches!(error, LlmError::Refused(Refusal::Address { class: AddressClass::CloudMetadata, .. })), "{error:?}");
        let error = ask(client, "https://metadata.google.internal/v1", KEY).await.unwrap_err();
        assert!(matches!(error, LlmError::Refused(Refusal::LocalName(_))), "{error:?}");
    }
    // The allowance is for its own port only.
    let other = LlmClient::new(Policy::provider_api().allow_loopback_for_tests(addr.port().wrapping_add(1)), limits()).unwrap();
    assert!(matches!(ask(&other, &format!("http://{addr}/v1"), KEY).await, Err(LlmError::Refused(_))));
    assert_eq!(provider.hits.load(Ordering::SeqCst), 0, "never reached");
}
