//! Identity and tenancy through the dev host: sign-up, sign-in, sessions, roles,
//! invitations, CSRF, throttling, the audit chain, and cross-tenant isolation.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tern_devhost::DevHost;
use tern_tests::{call, observer_clients, start_dev_host};

const PASSWORD: &str = "correct horse battery staple 42";

struct Account {
    user_id: String,
    workspace: String,
    access: String,
    refresh_cookie: String,
    csrf: String,
}

fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().split_once('=').unwrap().1.to_string())
}

async fn account_from(response: reqwest::Response) -> Account {
    let refresh_cookie = set_cookie(&response, "tern_refresh").expect("refresh cookie");
    let body: Value = response.json().await.unwrap();
    Account {
        user_id: body["user_id"].as_str().unwrap().into(),
        workspace: body["workspace_id"].as_str().unwrap().into(),
        access: body["access_token"].as_str().unwrap().into(),
        refresh_cookie,
        csrf: body["csrf_token"].as_str().unwrap().into(),
    }
}

async fn sign_up(host: &DevHost, email: &str) -> Account {
    let body = json!({ "email": email, "password": PASSWORD, "name": "Ann Example", "workspace_name": "Acme GmbH", "timezone": "Europe/Berlin", "locale": "de-DE" });
    account_from(tern_tests::sign_up_response(host, body).await).await
}

/// Invites `email` with `role` into `owner`'s workspace and accepts as a new user.
async fn join(host: &DevHost, owner: &Account, email: &str, role: &str) -> Account {
    let (status, invite) = call(
        host,
        Method::POST,
        &format!("/v1/workspaces/{}/invites", owner.workspace),
        Some(&owner.access),
        Some(json!({ "email": email, "role": role })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{invite}");
    let response = reqwest::Client::new()
        .post(format!("{}/v1/invites/accept", host.base_url()))
        .json(&json!({ "token": invite["token"], "name": "Bo Teammate", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let account = account_from(response).await;
    tern_tests::verify_email(host, email, &account.access).await;
    account
}

#[tokio::test]
async fn sign_up_creates_a_workspace_with_its_own_key_and_the_owner_can_read_it() {
    let host = start_dev_host("signup").await;
    let ann = sign_up(&host, "ann@acme.example").await;
    let (status, workspace) = call(&host, Method::GET, &format!("/v1/workspaces/{}", ann.workspace), Some(&ann.access), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(workspace["your_role"], "owner");
    assert_eq!(workspace["timezone"], "Europe/Berlin");
    assert_eq!(workspace["plan"], "trial");

    let key = observer_clients().kms.describe_key().key_id(format!("alias/tern/ws/{}", ann.workspace)).send().await.unwrap();
    assert!(key.key_metadata.unwrap().enabled);

    let (status, again) = call(
        &host,
        Method::POST,
        "/v1/signup",
        None,
        Some(json!({ "email": "ANN@acme.example", "password": PASSWORD, "name": "x", "workspace_name": "y" })),
    )
    .await;
    // The same answer as for a new address (the owner is mailed instead): see signup.rs.
    assert_eq!((status, again["status"].as_str()), (StatusCode::ACCEPTED, Some("verification_sent")));
    host.stop().await;
}

// The cross-tenant test and the role × route matrix are driven by the OpenAPI
// document: route_matrix.rs.

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_session() {
    let host = start_dev_host("refresh").await;
    let ann = sign_up(&host, "ann@acme.example").await;
    let refresh = |cookie: String| {
        let url = format!("{}/v1/sessions/refresh", host.base_url());
        async move { reqwest::Client::new().post(url).header("cookie", format!("tern_refresh={cookie}")).send().await.unwrap() }
    };
    let first = refresh(ann.refresh_cookie.clone()).await;
    assert_eq!(first.status(), StatusCode::OK);
    let rotated = account_from(first).await;
    assert_ne!(rotated.refresh_cookie, ann.refresh_cookie);
    let (status, _) = call(&host, Method::GET, "/v1/sessions", Some(&rotated.access), None).await;
    assert_eq!(status, StatusCode::OK);

    // The spent token again: someone copied it. The whole family goes.
    let reused = refresh(ann.refresh_cookie.clone()).await;
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = call(&host, Method::GET, "/v1/sessions", Some(&rotated.access), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the access token of a revoked session is refused");
    assert_eq!(refresh(rotated.refresh_cookie.clone()).await.status(), StatusCode::UNAUTHORIZED);

    let other = sign_in(&host, "ann@acme.example", PASSWORD).await;
    let (_, trail) =
        call(&host, Method::GET, &format!("/v1/workspaces/{}/audit?action=session.", ann.workspace), Some(&other.access), None).await;
    let actions: Vec<&str> = trail["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"session.refresh_token_reused"), "{actions:?}");
    host.stop().await;
}

async fn sign_in(host: &DevHost, email: &str, password: &str) -> Account {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/sessions", host.base_url()))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    account_from(response).await
}

#[tokio::test]
async fn cookie_sessions_need_the_csrf_token_on_mutating_requests() {
    let host = start_dev_host("csrf").await;
    let ann = sign_up(&host, "ann@acme.example").await;
    let url = format!("{}/v1/workspaces/{}", host.base_url(), ann.workspace);
    let cookies = format!("tern_access={}; tern_csrf={}", ann.access, ann.csrf);
    let client = reqwest::Client::new();
    let read = client.get(&url).header("cookie", &cookies).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::OK, "reads need no CSRF token");
    let missing = client.patch(&url).header("cookie", &cookies).json(&json!({ "name": "x" })).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let wrong =
        client.patch(&url).header("cookie", &cookies).header("x-csrf-token", "not-it").json(&json!({ "name": "x" })).send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let right = client
        .patch(&url)
        .header("cookie", &cookies)
        .header("x-csrf-token", &ann.csrf)
        .json(&json!({ "name": "Renamed" }))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    let bearer = client.patch(&url).bearer_auth(&ann.access).json(&json!({ "name": "Again" })).send().await.unwrap();
    assert_eq!(bearer.status(), StatusCode::OK, "a bearer token is not ambient: no CSRF token needed");
    host.stop().await;
}

async fn attempt(host: &DevHost, email: &str, password: &str) -> StatusCode {
    reqwest::Client::new()
        .post(format!("{}/v1/sessions", host.base_url()))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
}

async fn advance(host: &DevHost, seconds: i64) {
    let response = reqwest::Client::new()
        .post(format!("{}/_dev/clock/advance", host.base_url()))
        .json(&json!({ "seconds": seconds }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

#[tokio::test]
async fn sign_in_slows_down_then_locks_out_the_same_way_for_real_and_unknown_accounts() {
    let host = start_dev_host("throttle").await;
    sign_up(&host, "ann@acme.example").await;
    let mut patterns = Vec::new();
    for email in ["ann@acme.example", "nobody@acme.example"] {
        let mut seen = Vec::new();
        for _ in 0..10 {
            seen.push(attempt(&host, email, "wrong password, sorry").await.as_u16());
            // Straight away again: delayed once past the free failures.
            seen.push(attempt(&host, email, "wrong password, sorry").await.as_u16());
            advance(&host, 61).await;
        }
        // Locked now, whatever the password.
        seen.push(attempt(&host, email, PASSWORD).await.as_u16());
        patterns.push(seen);
        advance(&host, 16 * 60).await;
    }
    assert_eq!(patterns[0], patterns[1], "an unknown account must look like a real one");
    // Three free failures, then each retry within the growing delay is refused unchecked.
    assert_eq!(&patterns[0][..6], &[401, 401, 401, 401, 401, 429]);
    assert_eq!(*patterns[0].last().unwrap(), 429);
    // After the lockout the right password works again.
    assert_eq!(attempt(&host, "ann@acme.example", PASSWORD).await, StatusCode::OK);
    host.stop().await;
}

#[tokio::test]
async fn invitations_work_once_and_expire() {
    let host = start_dev_host("invites").await;
    let owner = sign_up(&host, "owner@acme.example").await;
    let invite = |email: &str| {
        let (path, token, body) =
            (format!("/v1/workspaces/{}/invites", owner.workspace), owner.access.clone(), json!({ "email": email, "role": "member" }));
        let host = &host;
        async move { call(host, Method::POST, &path, Some(&token), Some(body)).await.1["token"].as_str().unwrap().to_string() }
    };
    let accept = |token: String| {
        let url = format!("{}/v1/invites/accept", host.base_url());
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&json!({ "token": token, "name": "New Person", "password": PASSWORD }))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let token = invite("new@acme.example").await;
    assert_eq!(accept(token.clone()).await, StatusCode::CREATED);
    assert_eq!(accept(token).await, StatusCode::NOT_FOUND, "single use");
    let late = invite("late@acme.example").await;
    advance(&host, 8 * 86_400).await;
    assert_eq!(accept(late).await, StatusCode::NOT_FOUND, "expired after seven days");
    let owner = sign_in(&host, "owner@acme.example", PASSWORD).await; // eight days on, the old access token has expired
    let (status, _) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{}/invites", owner.workspace),
        Some(&owner.access),
        Some(json!({ "email": "x@acme.example", "role": "support" })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the platform support role is never granted by a workspace");
    host.stop().await;
}

#[tokio::test]
async fn changing_the_password_signs_out_every_other_session() {
    let host = start_dev_host("password").await;
    let phone = sign_up(&host, "ann@acme.example").await;
    let laptop = sign_in(&host, "ann@acme.example", PASSWORD).await;
    let (_, sessions) = call(&host, Method::GET, "/v1/sessions", Some(&laptop.access), None).await;
    assert_eq!(sessions.as_array().unwrap().len(), 2);
    let (status, _) = call(
        &host,
        Method::POST,
        "/v1/me/password",
        Some(&laptop.access),
        Some(json!({ "current_password": PASSWORD, "new_password": "an entirely new passphrase 7" })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(call(&host, Method::GET, "/v1/sessions", Some(&phone.access), None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&host, Method::GET, "/v1/sessions", Some(&laptop.access), None).await.0, StatusCode::OK);
    assert_eq!(attempt(&host, "ann@acme.example", PASSWORD).await, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt(&host, "ann@acme.example", "an entirely new passphrase 7").await, StatusCode::OK);

    // A session can be ended remotely.
    let (_, sessions) = call(&host, Method::GET, "/v1/sessions", Some(&laptop.access), None).await;
    let other = sessions.as_array().unwrap().iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_string();
    assert_eq!(call(&host, Method::DELETE, &format!("/v1/sessions/{other}"), Some(&laptop.access), None).await.0, StatusCode::NO_CONTENT);
    let (_, left) = call(&host, Method::GET, "/v1/sessions", Some(&laptop.access), None).await;
    assert_eq!(left.as_array().unwrap().len(), 1);
    host.stop().await;
}

#[tokio::test]
async fn the_audit_chain_verifies_and_detects_a_direct_edit() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let host = start_dev_host("audit").await;
    let owner = sign_up(&host, "owner@acme.example").await;
    join(&host, &owner, "bo@acme.example", "member").await;
    call(&host, Method::PATCH, &format!("/v1/workspaces/{}", owner.workspace), Some(&owner.access), Some(json!({ "name": "Acme AG" })))
        .await;
    let verify = format!("/v1/workspaces/{}/audit/verify", owner.workspace);
    let (_, report) = call(&host, Method::GET, &verify, Some(&owner.access), None).await;
    assert_eq!(report["valid"], true, "{report}");
    let entries = report["entries"].as_u64().unwrap();
    assert!(entries >= 5, "{report}");

    let (_, trail) = call(&host, Method::GET, &format!("/v1/workspaces/{}/audit", owner.workspace), Some(&owner.access), None).await;
    let actions: Vec<&str> = trail["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for expected in ["workspace.created", "session.signed_in", "member.invited", "member.joined", "workspace.updated"] {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }

    // Someone with table access rewrites entry 3's action.
    let dynamodb = observer_clients().dynamodb;
    let key = std::collections::HashMap::from([
        ("pk".to_string(), AttributeValue::S(tern_aws::keys::audit_partition(&owner.workspace))),
        ("sk".to_string(), AttributeValue::S(format!("{:020}", 3))),
    ]);
    let item = dynamodb.get_item().table_name(&host.config.table).set_key(Some(key.clone())).send().await.unwrap().item.unwrap();
    let mut entry: Value = serde_json::from_str(item["entry"].as_s().unwrap()).unwrap();
    entry["action"] = json!("nothing.happened");
    dynamodb
        .update_item()
        .table_name(&host.config.table)
        .set_key(Some(key))
        .update_expression("SET #e = :e")
        .expression_attribute_names("#e", "entry")
        .expression_attribute_values(":e", AttributeValue::S(entry.to_string()))
        .send()
        .await
        .unwrap();
    let (_, report) = call(&host, Method::GET, &verify, Some(&owner.access), None).await;
    assert_eq!(report["valid"], false);
    assert_eq!(report["broken_at"], 3);
    host.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_4xx_with_the_stable_body_never_a_500() {
    let host = start_dev_host("badinput").await;
    let ann = sign_up(&host, "ann@acme.example").await;
    let ws = ann.workspace.clone();
    let cases: Vec<(Method, String, Value)> = vec![
        (Method::POST, "/v1/signup".into(), json!({})),
        (Method::POST, "/v1/signup".into(), json!({ "email": "not-an-email", "password": PASSWORD, "name": "a", "workspace_name": "b" })),
        (Method::POST, "/v1/signup".into(), json!({ "email": "x@y.example", "password": "short", "name": "a", "workspace_name": "b" })),
        (
            Method::POST,
            "/v1/signup".into(),
            json!({ "email": "x@y.example", "password": PASSWORD, "name": "a", "workspace_name": "b", "plan": "platinum" }),
        ),
        (Method::POST, "/v1/signup".into(), json!({ "email": 5, "password": PASSWORD, "name": "a", "workspace_name": "b" })),
        (
            Method::POST,
            "/v1/signup".into(),
            json!({ "email": "x@y.example", "password": PASSWORD, "name": "a", "workspace_name": "b", "timezone": "../../etc" }),
        ),
        (
            Method::POST,
            "/v1/signup".into(),
            json!({ "email": "x@y.example", "password": PASSWORD, "name": "a".repeat(500), "workspace_name": "b" }),
        ),
        (Method::POST, "/v1/sessions".into(), json!({ "email": "x@y.example" })),
        (Method::POST, "/v1/sessions/refresh".into(), json!({ "refresh_token": "garbage" })),
        (Method::POST, "/v1/invites/accept".into(), json!({ "token": "nope", "name": "a", "password": PASSWORD })),
        (Method::PATCH, format!("/v1/workspaces/{ws}"), json!({ "locale": "klingon" })),
        (Method::PATCH, format!("/v1/workspaces/{ws}/members/{}", ann.user_id), json!({ "role": "emperor" })),
        (Method::POST, format!("/v1/workspaces/{ws}/invites"), json!({ "email": "a@b", "role": "member", "extra": 1 })),
        (Method::GET, format!("/v1/workspaces/{ws}/members?limit=100000"), Value::Null),
        (Method::GET, format!("/v1/workspaces/{ws}/audit?after=-1"), Value::Null),
        (Method::GET, "/v1/workspaces/not-a-uuid".into(), Value::Null),
    ];
    for (method, path, body) in cases {
        let body = (!body.is_null()).then_some(body);
        let (status, answer) = call(&host, method.clone(), &path, Some(&ann.access), body).await;
        assert!(status.is_client_error(), "{method} {path}: {status} {answer}");
        assert!(answer["error"]["code"].is_string(), "{method} {path}: {answer}");
    }
    let huge = "x".repeat(5 * 1024 * 1024);
    let (status, answer) = call(&host, Method::POST, "/v1/signup", None, Some(json!({ "email": huge }))).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")));
    host.stop().await;
}
