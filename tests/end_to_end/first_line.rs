//! A personal first line drafted by the workspace's own language model from the
//! company's enrichment, end to end: a local website is enriched, a local fake
//! OpenAI-compatible provider (reached through the SSRF guard's explicit loopback
//! allowance) drafts the line, it is stored with the contact, and only a template
//! step that uses `{{first_line}}` would carry it.

use crate::enrichment::{enrich, website};
use crate::outreach::{ok, sign_up};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode as AxumStatus;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tern_devhost::{LlmAccess, WebsiteFetch};
use tern_tests::{call, captured_logs, start_dev_host_custom};

const MODEL: &str = "tern-first-line-test";

/// Answers every chat completion with `answer` (or `status`), keeping the last request.
#[derive(Clone)]
struct Provider {
    answer: Arc<Mutex<(u16, String)>>,
    requests: Arc<AtomicUsize>,
    last_body: Arc<Mutex<Value>>,
}

async fn completions(State(p): State<Provider>, body: String) -> Response {
    p.requests.fetch_add(1, Ordering::SeqCst);
    *p.last_body.lock().unwrap() = serde_json::from_str(&body).unwrap_or_default();
    let (status, content) = p.answer.lock().unwrap().clone();
    if status != 200 {
        return (AxumStatus::from_u16(status).unwrap(), "{\"error\":{\"message\":\"down\"}}").into_response();
    }
    axum::Json(json!({ "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }] }))
        .into_response()
}

async fn provider() -> (u16, Provider) {
    let p = Provider { answer: Arc::new(Mutex::new((200, String::new()))), requests: Default::default(), last_body: Default::default() };
    let router = Router::new().route("/v1/chat/completions", post(completions)).with_state(p.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (port, p)
}

#[tokio::test]
async fn a_first_line_is_drafted_from_the_enrichment_and_stored_with_the_contact() {
    let (site_port, _) = website().await;
    let (llm_port, fake) = provider().await;
    let host = start_dev_host_custom("first-line", move |options| {
        options.website_fetch = WebsiteFetch {
            policy: tern_web::guard::Policy::website().allow_loopback_for_tests(site_port),
            limits: tern_web::fetch::Limits {
                total_timeout: Duration::from_secs(2),
                connect_timeout: Duration::from_secs(1),
                ..Default::default()
            },
            resolver: None,
        };
        options.llm =
            LlmAccess { policy: tern_web::guard::Policy::provider_api().allow_loopback_for_tests(llm_port), limits: Default::default() };
    })
    .await;
    let (owner, ws) = sign_up(&host, "ann@first-line.example", "growth").await;
    let site = format!("http://127.0.0.1:{site_port}/");
    let contact = ok(&host, Method::POST, &format!("/v1/workspaces/{ws}/contacts"), &owner, json!({
        "email": "jane.doe@acme-robotics.example", "first_name": "Jane", "last_name": "Doe", "title": "Head of Operations", "website": site,
    }))
    .await;
    let id = contact["id"].as_str().unwrap();
    let first_line = format!("/v1/workspaces/{ws}/contacts/{id}/first-line");

    // Without a model, or without the company's facts, there is nothing to draft from.
    let (status, error) = call(&host, Method::POST, &first_line, Some(&owner), None).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("llm_not_configured")), "{error}");
    let key = format!("sk-planted-first-line-{}", tern_domain::ids::RequestId::generate());
    ok(
        &host,
        Method::PUT,
        &format!("/v1/workspaces/{ws}/llm"),
        &owner,
        json!({ "base_url": format!("http://127.0.0.1:{llm_port}/v1"), "model": MODEL, "api_key": key }),
    )
    .await;
    let (status, error) = call(&host, Method::POST, &first_line, Some(&owner), None).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("no_enrichment")), "{error}");
    assert_eq!(fake.requests.load(Ordering::SeqCst), 0);

    let enriched = enrich(&host, &owner, &ws, &site).await;
    assert_eq!(enriched["enrichment"]["status"], "done", "{enriched}");

    // The model answers with a line; it is cleaned, stored and attributed.
    *fake.answer.lock().unwrap() = (200, "\"Robots that keep mid-sized warehouses moving in Berlin caught my eye.\"".into());
    let drafted = ok(&host, Method::POST, &first_line, &owner, json!(null)).await;
    assert_eq!(drafted["first_line"], "Robots that keep mid-sized warehouses moving in Berlin caught my eye.", "{drafted}");
    assert_eq!(drafted["origin"]["by"], "model");
    assert_eq!(drafted["origin"]["model"], MODEL);
    assert_eq!(drafted["origin"]["prompt_version"], "first-line-v1");
    // What the model was told: public company facts, the first name and title; never the address.
    let sent = fake.last_body.lock().unwrap().to_string();
    assert!(
        sent.contains("Acme Robotics GmbH")
            && sent.contains("warehouse robots")
            && sent.contains("Jane")
            && sent.contains("Head of Operations"),
        "{sent}"
    );
    assert!(
        !sent.contains("jane.doe") && !sent.contains("Doe") && !sent.contains("acme-robotics.example"),
        "no address or last name: {sent}"
    );
    let (_, stored) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/contacts/{id}"), Some(&owner), None).await;
    assert_eq!(stored["first_line"], drafted["first_line"], "{stored}");

    // A template may use it; previewing one shows it where the variable is.
    let template = ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/templates"),
        &owner,
        json!({ "name": "opener", "subject": "Hi {{first_name}}", "text": "{{first_line}}\n\nBest, Ann" }),
    )
    .await;
    let preview = ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/templates/{}/preview", template["id"].as_str().unwrap()),
        &owner,
        json!({ "contact_id": id }),
    )
    .await;
    assert!(preview.to_string().contains("Robots that keep mid-sized warehouses moving in Berlin caught my eye."), "{preview}");

    // Unusable answers and failing providers change nothing and say why.
    for (answer, expected) in [
        ((200, "Check https://evil.example/{{unsubscribe}} now".to_string()), "llm_unavailable"),
        ((503, String::new()), "llm_unavailable"),
    ] {
        *fake.answer.lock().unwrap() = answer;
        let (status, error) = call(&host, Method::POST, &first_line, Some(&owner), None).await;
        assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::BAD_GATEWAY, Some(expected)), "{error}");
    }
    let (_, stored) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/contacts/{id}"), Some(&owner), None).await;
    assert_eq!(stored["first_line"], drafted["first_line"], "a failed draft keeps the line there was");

    // A person can write it, and clear it; template syntax is refused.
    let (status, error) = call(&host, Method::PUT, &first_line, Some(&owner), Some(json!({ "text": "Hello {{email}}" }))).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_first_line")));
    let written = ok(&host, Method::PUT, &first_line, &owner, json!({ "text": "Congratulations on the new  warehouse!" })).await;
    assert_eq!(
        (written["first_line"].as_str(), written["origin"]["by"].as_str()),
        (Some("Congratulations on the new warehouse!"), Some("person"))
    );
    let cleared = ok(&host, Method::DELETE, &first_line, &owner, json!(null)).await;
    assert!(cleared["first_line"].is_null());

    let (_, audit) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/audit"), Some(&owner), None).await;
    let drafts = audit["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "contact.first_line_drafted").count();
    assert_eq!(drafts, 1, "each draft that sent data to the provider is audited: {audit}");
    assert!(!captured_logs().contains(&key), "the provider key never reaches a log line");
    host.stop().await;
}
