//! Secrets never reach a log line. Secrets are planted through a full identity
//! flow, then every line this test process logged (all tests, every crate, debug
//! level, see `tern_tests::capture_logs`) is searched for them.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tern_tests::{call, captured_logs, start_dev_host};

#[tokio::test]
async fn planted_secrets_never_appear_in_any_log_line() {
    use tern_domain::clock::Clock;
    let host = start_dev_host("logs").await;
    let password = format!("planted-password-{}", tern_domain::ids::RequestId::generate());
    let email = "quinn@acme.example";
    let response = reqwest::Client::new()
        .post(format!("{}/v1/signup", host.base_url()))
        .json(&json!({ "email": email, "password": password, "name": "Quinn Example", "workspace_name": "Workspace" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookies: Vec<String> = response.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).map(String::from).collect();
    let signed_up: Value = response.json().await.unwrap();
    let access = signed_up["access_token"].as_str().unwrap().to_string();
    let ws = signed_up["workspace_id"].as_str().unwrap().to_string();
    let refresh = cookies.iter().find_map(|c| c.strip_prefix("tern_refresh=")).unwrap().split(';').next().unwrap().to_string();

    let (_, setup) = call(&host, Method::POST, "/v1/me/2fa/setup", Some(&access), Some(json!({ "password": password }))).await;
    let totp_secret = setup["secret"].as_str().unwrap().to_string();
    let secret = tern_security::totp::TotpSecret::from_base32(&totp_secret).unwrap();
    let code = tern_security::totp::code_at(&secret, host.clock.now().unix_timestamp() as u64, tern_security::totp::TotpParams::DEFAULT).unwrap();
    let (_, confirmed) = call(&host, Method::POST, "/v1/me/2fa/confirm", Some(&access), Some(json!({ "code": code }))).await;
    let recovery = confirmed["recovery_codes"][0].as_str().unwrap().to_string();

    let (_, key) = call(&host, Method::POST, &format!("/v1/workspaces/{ws}/api-keys"), Some(&access), Some(json!({ "name": "k", "scopes": ["audit:read"] }))).await;
    let api_key = key["key"].as_str().unwrap().to_string();
    call(&host, Method::GET, &format!("/v1/workspaces/{ws}/audit"), Some(&api_key), None).await;
    let (_, invite) = call(&host, Method::POST, &format!("/v1/workspaces/{ws}/invites"), Some(&access), Some(json!({ "email": "n@acme.example", "role": "member" }))).await;
    let invite_token = invite["token"].as_str().unwrap().to_string();
    call(&host, Method::POST, "/v1/invites/accept", None, Some(json!({ "token": invite_token, "name": "Nora Example", "password": password }))).await;

    // Failures log more than successes: wrong password, wrong code, reused refresh token.
    call(&host, Method::POST, "/v1/sessions", None, Some(json!({ "email": email, "password": format!("{password}-wrong") }))).await;
    call(&host, Method::POST, "/v1/sessions", None, Some(json!({ "email": email, "password": password, "totp_code": "000000" }))).await;
    let (status, _) = call(&host, Method::POST, "/v1/sessions", None, Some(json!({ "email": email, "password": password, "recovery_code": recovery }))).await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..2 {
        reqwest::Client::new().post(format!("{}/v1/sessions/refresh", host.base_url())).header("cookie", format!("tern_refresh={refresh}")).send().await.unwrap();
    }
    call(&host, Method::POST, "/v1/signup", None, Some(json!({ "email": email, "password": password, "name": 5 }))).await;

    let logs = captured_logs();
    assert!(logs.contains("/v1/me/2fa/confirm"), "the capture holds this flow's request lines");
    assert!(logs.contains("refresh token reused"), "the capture holds warnings too");
    let refresh_secret = refresh.split_once('.').map(|(_, s)| s.to_string()).unwrap();
    for (what, secret) in [
        ("password", password.as_str()),
        ("TOTP secret", totp_secret.as_str()),
        ("recovery code", recovery.as_str()),
        ("refresh token", refresh_secret.as_str()),
        ("access token", access.as_str()),
        ("API key", api_key.as_str()),
        ("invite token", invite_token.as_str()),
    ] {
        assert!(!logs.contains(secret), "the {what} appears in the logs");
    }
    host.stop().await;
}
