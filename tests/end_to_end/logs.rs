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
    let response = tern_tests::sign_up_response(
        &host,
        json!({ "email": email, "password": password, "name": "Quinn Example", "workspace_name": "Workspace" }),
    )
    .await;
    let cookies: Vec<String> = response.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).map(String::from).collect();
    let signed_up: Value = response.json().await.unwrap();
    let access = signed_up["access_token"].as_str().unwrap().to_string();
    let ws = signed_up["workspace_id"].as_str().unwrap().to_string();
    let refresh = cookies.iter().find_map(|c| c.strip_prefix("tern_refresh=")).unwrap().split(';').next().unwrap().to_string();

    let (_, setup) = call(&host, Method::POST, "/v1/me/2fa/setup", Some(&access), Some(json!({ "password": password }))).await;
    let totp_secret = setup["secret"].as_str().unwrap().to_string();
    let secret = tern_security::totp::TotpSecret::from_base32(&totp_secret).unwrap();
    let code =
        tern_security::totp::code_at(&secret, host.clock.now().unix_timestamp() as u64, tern_security::totp::TotpParams::DEFAULT).unwrap();
    let (_, confirmed) = call(&host, Method::POST, "/v1/me/2fa/confirm", Some(&access), Some(json!({ "code": code }))).await;
    let recovery = confirmed["recovery_codes"][0].as_str().unwrap().to_string();

    let (_, key) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/api-keys"),
        Some(&access),
        Some(json!({ "name": "k", "scopes": ["audit:read"] })),
    )
    .await;
    let api_key = key["key"].as_str().unwrap().to_string();
    call(&host, Method::GET, &format!("/v1/workspaces/{ws}/audit"), Some(&api_key), None).await;
    let (_, invite) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/invites"),
        Some(&access),
        Some(json!({ "email": "n@acme.example", "role": "member" })),
    )
    .await;
    let invite_token = invite["token"].as_str().unwrap().to_string();
    call(
        &host,
        Method::POST,
        "/v1/invites/accept",
        None,
        Some(json!({ "token": invite_token, "name": "Nora Example", "password": password })),
    )
    .await;

    // Failures log more than successes: wrong password, wrong code, reused refresh token.
    call(&host, Method::POST, "/v1/sessions", None, Some(json!({ "email": email, "password": format!("{password}-wrong") }))).await;
    call(&host, Method::POST, "/v1/sessions", None, Some(json!({ "email": email, "password": password, "totp_code": "000000" }))).await;
    let (status, _) =
        call(&host, Method::POST, "/v1/sessions", None, Some(json!({ "email": email, "password": password, "recovery_code": recovery })))
            .await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..2 {
        reqwest::Client::new()
            .post(format!("{}/v1/sessions/refresh", host.base_url()))
            .header("cookie", format!("tern_refresh={refresh}"))
            .send()
            .await
            .unwrap();
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

/// Tokens that travel in paths and addresses: the unsubscribe token of a sent
/// message (its one-click link, opened and posted, and its `mailto:`), and tokens
/// tried in paths no route has (an invite token, a made-up one). The request span
/// logs the route's template, and unmatched paths with token-looking segments
/// redacted, so none of them reaches a log line.
#[tokio::test]
async fn unsubscribe_and_invite_tokens_in_paths_never_appear_in_any_log_line() {
    use crate::outreach::{
        default_sequence, header, host_with_sink, import, ok, one_click_unsubscribe, set_clock, sign_up, smtp_mailbox, tick_dispatch, to,
    };
    let (host, sink) = host_with_sink("logs-paths").await;
    set_clock(&host, time::macros::datetime!(2027-06-07 09:00 UTC)); // a Monday
    let (owner, ws) = sign_up(&host, "ann@logs-paths.example", "growth").await;
    let mailbox = smtp_mailbox(&host, &owner, &ws, &sink).await;
    let sequence = default_sequence(&host, &owner, &ws, &mailbox, false).await;
    import(&host, &owner, &ws, "email,first_name\ncarla@lead.example,Carla\n").await;
    let contacts = crate::outreach::contact_ids(&host, &owner, &ws).await;
    ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/sequences/{sequence}/enrollments"),
        &owner,
        json!({ "contact_ids": [contacts["carla@lead.example"]] }),
    )
    .await;
    let sent = tern_tests::eventually("the first step", std::time::Duration::from_secs(30), || async {
        tick_dispatch(&host).await;
        to(&sink, "carla@lead.example").first().cloned()
    })
    .await;
    let list = header(&sent, "List-Unsubscribe").unwrap();
    let mailto = list.split(',').map(|p| p.trim().trim_matches(['<', '>'])).find_map(|u| u.strip_prefix("mailto:")).unwrap().to_string();
    let unsubscribe_token = mailto.split_once('+').unwrap().1.split_once('@').unwrap().0.to_string();
    assert!(list.contains(&format!("/v1/unsubscribe/{unsubscribe_token}")), "the link and the mailto: carry the same token: {list}");

    one_click_unsubscribe(&host, &sent).await;
    let request =
        format!("From: carla@lead.example\r\nTo: {mailto}\r\nSubject: unsubscribe\r\nMessage-ID: <unsub-logs@lead.example>\r\n\r\n\r\n");
    let posted = crate::inbound::post(&host.base_url(), request.as_bytes(), &mailto, tern_tests::WEBHOOK_SECRET).await;
    assert_eq!(posted.status(), StatusCode::ACCEPTED);
    let (_, invite) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/invites"),
        Some(&owner),
        Some(json!({ "email": "nia@logs-paths.example", "role": "member" })),
    )
    .await;
    let invite_token = invite["token"].as_str().unwrap().to_string();
    let made_up = tern_security::token::OpaqueToken::generate().unwrap().expose().to_string();
    for path in [format!("/v1/invites/{invite_token}"), format!("/v1/unsubscribe/{made_up}/again"), format!("/u/{made_up}")] {
        let (status, _) = call(&host, Method::GET, &path, None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    // The classify worker has taken the mailto: request in (its lines are logged too).
    let owner = crate::outreach::token(&host, "ann@logs-paths.example").await;
    tern_tests::eventually("the mailto: request classified", std::time::Duration::from_secs(30), || async {
        let (_, page) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/inbound/messages"), Some(&owner), None).await;
        page["items"].as_array().is_some_and(|items| items.iter().any(|m| m["status"] == "classified")).then_some(())
    })
    .await;

    let logs = captured_logs();
    assert!(logs.contains("/v1/unsubscribe/{token}"), "the unsubscribe requests are logged by their route");
    assert!(logs.contains("/u/[redacted]"), "an unmatched path is logged redacted");
    for (what, secret) in
        [("unsubscribe token", unsubscribe_token.as_str()), ("invite token", invite_token.as_str()), ("made-up token", made_up.as_str())]
    {
        assert!(!logs.contains(secret), "the {what} appears in the logs");
    }
    host.stop().await;
}
