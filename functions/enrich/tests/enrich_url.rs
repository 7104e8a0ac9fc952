//! `enrich-url`, the command-line face of the worker's guard, fetch and extraction.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use std::process::Command;

fn run(args: &[&str]) -> (i32, serde_json::Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_enrich-url")).args(args).output().expect("enrich-url runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    (output.status.code().unwrap_or(-1), serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null))
}

#[test]
fn a_refused_address_gets_a_json_refusal_and_a_non_zero_exit() {
    for url in ["http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "ftp://example.com/"] {
        let (code, answer) = run(&[url]);
        assert_eq!(code, 1, "{url}");
        assert_eq!(answer["refused"], true, "{url}: {answer}");
        assert!(answer["reason"].as_str().is_some_and(|r| !r.is_empty()), "{url}: {answer}");
    }
}

#[test]
fn loopback_is_refused_unless_explicitly_allowed_for_that_port() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let port = runtime.block_on(async {
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(|| async {
                axum::response::Html(r#"<html><head><title>Local Test Co</title><meta property="og:site_name" content="Local Test Co"></head><body></body></html>"#)
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        port
    });
    let url = format!("http://127.0.0.1:{port}/");
    let (code, refused) = run(&[&url]);
    assert_eq!((code, refused["refused"].as_bool()), (1, Some(true)), "loopback is not the default: {refused}");
    let (code, profile) = run(&["--allow-loopback-port", &port.to_string(), &url]);
    assert_eq!(code, 0, "{profile}");
    assert_eq!(profile["profile"]["name"]["value"], "Local Test Co");
    assert_eq!(profile["profile"]["name"]["source"], url);
    drop(runtime);
}
