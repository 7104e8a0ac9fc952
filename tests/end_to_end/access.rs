//! API keys, two-factor authentication, IP allow-lists, agency grants and platform
//! support: the other ways in, each held to the same tenancy and permission rules.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tern_devhost::DevHost;
use tern_tests::{call, observer_clients, start_dev_host, totp};

const PASSWORD: &str = "correct horse battery staple 42";

/// `(access token, workspace id, user id)` of a new account.
async fn sign_up(host: &DevHost, email: &str, plan: &str) -> (String, String, String) {
    let body = tern_tests::sign_up(host, json!({ "email": email, "password": PASSWORD, "name": "Ann", "workspace_name": "Acme" })).await;
    tern_tests::set_plan(host, body["workspace_id"].as_str().unwrap(), plan).await;
    (body["access_token"].as_str().unwrap().into(), body["workspace_id"].as_str().unwrap().into(), body["user_id"].as_str().unwrap().into())
}

async fn sign_in(host: &DevHost, body: Value) -> (StatusCode, Value) {
    call(host, Method::POST, "/v1/sessions", None, Some(body)).await
}

/// Invites and accepts; returns the new member's access token and user id.
pub(crate) async fn join(host: &DevHost, token: &str, ws: &str, email: &str, role: &str) -> (String, String) {
    let (_, invite) =
        call(host, Method::POST, &format!("/v1/workspaces/{ws}/invites"), Some(token), Some(json!({ "email": email, "role": role }))).await;
    let (status, body) =
        call(host, Method::POST, "/v1/invites/accept", None, Some(json!({ "token": invite["token"], "name": "Bo", "password": PASSWORD })))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    tern_tests::verify_email(host, email, body["access_token"].as_str().unwrap()).await;
    (body["access_token"].as_str().unwrap().into(), body["user_id"].as_str().unwrap().into())
}

async fn advance(host: &DevHost, seconds: i64) {
    call(host, Method::POST, "/_dev/clock/advance", None, Some(json!({ "seconds": seconds }))).await;
}

#[tokio::test]
async fn api_keys_act_within_their_scopes_their_creators_role_and_their_workspace() {
    let host = start_dev_host("apikeys").await;
    let (owner, ws, _) = sign_up(&host, "owner@acme.example", "growth").await;
    let (other_owner, other_ws, _) = sign_up(&host, "owner@globex.example", "growth").await;

    let (status, created) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/api-keys"),
        Some(&owner),
        Some(json!({ "name": "CRM sync", "scopes": ["members:read", "audit:read"] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with(&format!("tern_{}_", created["id"].as_str().unwrap())));

    assert_eq!(call(&host, Method::GET, &format!("/v1/workspaces/{ws}/members"), Some(&key), None).await.0, StatusCode::OK);
    assert_eq!(call(&host, Method::GET, &format!("/v1/workspaces/{ws}/audit"), Some(&key), None).await.0, StatusCode::OK);
    let (status, denied) = call(&host, Method::PATCH, &format!("/v1/workspaces/{ws}"), Some(&key), Some(json!({ "name": "x" }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no scope covers workspace settings: {denied}");
    assert_eq!(call(&host, Method::GET, &format!("/v1/workspaces/{other_ws}/members"), Some(&key), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&host, Method::GET, "/v1/sessions", Some(&key), None).await.0, StatusCode::UNAUTHORIZED, "keys are not sessions");
    let (status, _) = call(
        &host,
        Method::GET,
        &format!("/v1/workspaces/{ws}/members"),
        Some("tern_AAAAAAAA_forgedforgedforgedforgedforgedforgedforge"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Listing never shows the key; only its hash is stored.
    let (_, listed) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/api-keys"), Some(&owner), None).await;
    assert!(!listed.to_string().contains(&key));
    assert!(listed[0]["last_used_at"].is_i64(), "last use is recorded: {listed}");

    // A member cannot mint a key with more than a member may do.
    let (member, _) = join(&host, &owner, &ws, "member@acme.example", "member").await;
    let (status, _) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/api-keys"),
        Some(&member),
        Some(json!({ "name": "x", "scopes": ["members:read"] })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "members cannot manage API keys at all");

    // An admin's keys are revoked when the admin is demoted below what they hold, and all of them on removal.
    // (Keys no longer reach invites at all, so the held-too-much key is an export key.)
    let (admin, admin_id) = join(&host, &owner, &ws, "admin@acme.example", "admin").await;
    let (_, export_key) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/api-keys"),
        Some(&admin),
        Some(json!({ "name": "exports", "scopes": ["exports:read"] })),
    )
    .await;
    let (_, read_key) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/api-keys"),
        Some(&admin),
        Some(json!({ "name": "read", "scopes": ["members:read"] })),
    )
    .await;
    let export_key = export_key["key"].as_str().unwrap().to_string();
    let read_key = read_key["key"].as_str().unwrap().to_string();
    assert_eq!(call(&host, Method::GET, &format!("/v1/workspaces/{ws}/contacts/export"), Some(&export_key), None).await.0, StatusCode::OK);
    call(&host, Method::PATCH, &format!("/v1/workspaces/{ws}/members/{admin_id}"), Some(&owner), Some(json!({ "role": "member" }))).await;
    assert_eq!(
        call(&host, Method::GET, &format!("/v1/workspaces/{ws}/contacts/export"), Some(&export_key), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&host, Method::GET, &format!("/v1/workspaces/{ws}/members"), Some(&read_key), None).await.0,
        StatusCode::OK,
        "still within a member's role"
    );
    call(&host, Method::DELETE, &format!("/v1/workspaces/{ws}/members/{admin_id}"), Some(&owner), None).await;
    assert_eq!(call(&host, Method::GET, &format!("/v1/workspaces/{ws}/members"), Some(&read_key), None).await.0, StatusCode::UNAUTHORIZED);

    // Revoked and expired keys stop.
    let (_, short) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/api-keys"),
        Some(&owner),
        Some(json!({ "name": "short", "scopes": ["audit:read"], "expires_in_days": 1 })),
    )
    .await;
    let short_key = short["key"].as_str().unwrap().to_string();
    assert_eq!(call(&host, Method::GET, &format!("/v1/workspaces/{ws}/audit"), Some(&short_key), None).await.0, StatusCode::OK);
    assert_eq!(
        call(&host, Method::DELETE, &format!("/v1/workspaces/{ws}/api-keys/{}", created["id"].as_str().unwrap()), Some(&owner), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(call(&host, Method::GET, &format!("/v1/workspaces/{ws}/members"), Some(&key), None).await.0, StatusCode::UNAUTHORIZED);
    advance(&host, 2 * 86_400).await;
    assert_eq!(call(&host, Method::GET, &format!("/v1/workspaces/{ws}/audit"), Some(&short_key), None).await.0, StatusCode::UNAUTHORIZED);

    let (status, body) = sign_in(&host, json!({ "email": "owner@acme.example", "password": PASSWORD })).await;
    assert_eq!(status, StatusCode::OK);
    let (_, trail) =
        call(&host, Method::GET, &format!("/v1/workspaces/{ws}/audit?action=api_key."), Some(body["access_token"].as_str().unwrap()), None)
            .await;
    let text = trail.to_string();
    assert!(text.contains("api_key.created") && text.contains("api_key.revoked"), "{text}");
    assert!(!text.contains(&key), "the key never reaches the audit log");
    drop(other_owner);
    host.stop().await;
}

#[tokio::test]
async fn two_factor_sign_in_refuses_replays_and_workspaces_can_require_it() {
    let host = start_dev_host("totp").await;
    let (owner, ws, _) = sign_up(&host, "owner@acme.example", "growth").await;
    let (_, setup) = call(&host, Method::POST, "/v1/me/2fa/setup", Some(&owner), Some(json!({ "password": PASSWORD }))).await;
    let secret = setup["secret"].as_str().unwrap().to_string();
    assert!(setup["otpauth_uri"].as_str().unwrap().starts_with("otpauth://totp/"));
    assert_eq!(
        call(&host, Method::POST, "/v1/me/2fa/confirm", Some(&owner), Some(json!({ "code": "000000" }))).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (status, confirmed) =
        call(&host, Method::POST, "/v1/me/2fa/confirm", Some(&owner), Some(json!({ "code": totp(&host, &secret, 0) }))).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    let recovery: Vec<String> = confirmed["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(recovery.len(), 10);

    let credentials = json!({ "email": "owner@acme.example", "password": PASSWORD });
    let (status, answer) = sign_in(&host, credentials.clone()).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("two_factor_required")));
    let with = |code: &str| json!({ "email": "owner@acme.example", "password": PASSWORD, "totp_code": code });
    advance(&host, 31).await; // a fresh time step: the confirming code's step is spent
    let code = totp(&host, &secret, 0);
    assert_eq!(sign_in(&host, with("123456")).await.1["error"]["code"], "invalid_two_factor");
    assert_eq!(sign_in(&host, with(&code)).await.0, StatusCode::OK);
    assert_eq!(sign_in(&host, with(&code)).await.1["error"]["code"], "invalid_two_factor", "a code works once");
    let recovered = json!({ "email": "owner@acme.example", "password": PASSWORD, "recovery_code": recovery[0] });
    let (status, session) = sign_in(&host, recovered.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sign_in(&host, recovered).await.0, StatusCode::UNAUTHORIZED, "a recovery code works once");

    // The workspace requires 2FA: a member without it is refused until they turn it on.
    let with_2fa = session["access_token"].as_str().unwrap().to_string();
    let (member, _) = join(&host, &with_2fa, &ws, "member@acme.example", "member").await;
    assert_eq!(
        call(&host, Method::PATCH, &format!("/v1/workspaces/{ws}"), Some(&with_2fa), Some(json!({ "require_2fa": true }))).await.0,
        StatusCode::OK
    );
    let (status, refused) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}"), Some(&member), None).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("two_factor_required")));
    let (_, setup) = call(&host, Method::POST, "/v1/me/2fa/setup", Some(&member), Some(json!({ "password": PASSWORD }))).await;
    let member_secret = setup["secret"].as_str().unwrap().to_string();
    call(&host, Method::POST, "/v1/me/2fa/confirm", Some(&member), Some(json!({ "code": totp(&host, &member_secret, 0) }))).await;
    assert_eq!(call(&host, Method::GET, &format!("/v1/workspaces/{ws}"), Some(&member), None).await.0, StatusCode::OK);

    let (_, trail) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/audit?action=user.two_factor"), Some(&with_2fa), None).await;
    assert!(trail["entries"].as_array().unwrap().len() >= 2, "{trail}");
    host.stop().await;
}

#[tokio::test]
async fn an_enterprise_allow_list_refuses_other_addresses() {
    let host = start_dev_host("allowlist").await;
    let (trial, trial_ws, _) = sign_up(&host, "t@small.example", "trial").await;
    let (status, body) =
        call(&host, Method::PATCH, &format!("/v1/workspaces/{trial_ws}"), Some(&trial), Some(json!({ "ip_allowlist": ["127.0.0.1/32"] })))
            .await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("plan_required")));

    let (owner, ws, _) = sign_up(&host, "owner@big.example", "enterprise").await;
    let path = format!("/v1/workspaces/{ws}");
    let (status, body) = call(&host, Method::PATCH, &path, Some(&owner), Some(json!({ "ip_allowlist": ["10.0.0.0/8"] }))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("would_lock_you_out")));
    let (status, body) = call(&host, Method::PATCH, &path, Some(&owner), Some(json!({ "ip_allowlist": ["10.0.0.256/8"] }))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_cidr")));
    assert_eq!(
        call(&host, Method::PATCH, &path, Some(&owner), Some(json!({ "ip_allowlist": ["127.0.0.1/32", "10.0.0.0/8"] }))).await.0,
        StatusCode::OK
    );
    assert_eq!(call(&host, Method::GET, &path, Some(&owner), None).await.0, StatusCode::OK);

    // The same token from another address (127.0.0.2, still loopback) is refused.
    let elsewhere = reqwest::Client::builder().local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap()).build().unwrap();
    let response = elsewhere.get(format!("{}{path}", host.base_url())).bearer_auth(&owner).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "ip_not_allowed");
    host.stop().await;
}

#[tokio::test]
async fn an_agency_reads_a_client_workspace_trail_only_with_its_grant() {
    let host = start_dev_host("agency").await;
    let (founder, agency, _) = sign_up(&host, "founder@agency.example", "agency").await;
    let (status, sub) =
        call(&host, Method::POST, &format!("/v1/workspaces/{agency}/sub-workspaces"), Some(&founder), Some(json!({ "name": "Client A" })))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{sub}");
    let sub = sub["id"].as_str().unwrap().to_string();
    let (partner, _) = join(&host, &founder, &agency, "partner@agency.example", "owner").await;
    let trail = format!("/v1/workspaces/{sub}/audit");
    assert_eq!(call(&host, Method::GET, &trail, Some(&partner), None).await.0, StatusCode::NOT_FOUND, "no grant yet");
    assert_eq!(
        call(&host, Method::PATCH, &format!("/v1/workspaces/{sub}"), Some(&founder), Some(json!({ "parent_may_read_audit": true })))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(call(&host, Method::GET, &trail, Some(&partner), None).await.0, StatusCode::OK);
    assert_eq!(
        call(&host, Method::GET, &format!("/v1/workspaces/{sub}"), Some(&partner), None).await.0,
        StatusCode::NOT_FOUND,
        "the grant covers the trail only"
    );
    assert_eq!(call(&host, Method::GET, &format!("/v1/workspaces/{sub}/members"), Some(&partner), None).await.0, StatusCode::NOT_FOUND);
    let key = observer_clients().kms.describe_key().key_id(format!("alias/tern/ws/{sub}")).send().await.unwrap();
    assert!(key.key_metadata.is_some(), "the client workspace has its own key");
    host.stop().await;
}

#[tokio::test]
async fn platform_support_sees_metadata_and_the_trail_and_changes_nothing() {
    use tern_api::records::{EmailLookup, User};
    use tern_aws::global::GlobalTable;
    let host = start_dev_host("support").await;
    let (_, ws, _) = sign_up(&host, "customer@acme.example", "pro").await;
    let (_, _, staff_id) = sign_up(&host, "staff@tern.example", "trial").await;
    // Support staff are made by Tern's operators, not through the API.
    let global = GlobalTable::new(observer_clients().dynamodb, host.config.table.clone());
    let lookup: EmailLookup = global.get("staff@tern.example").await.unwrap().unwrap();
    assert_eq!(lookup.user_id, staff_id);
    let mut staff: User = global.get(&staff_id).await.unwrap().unwrap();
    staff.platform_support = true;
    global.put(&staff, None).await.unwrap();
    let (_, session) = sign_in(&host, json!({ "email": "staff@tern.example", "password": PASSWORD })).await;
    let support = session["access_token"].as_str().unwrap();

    let (status, workspace) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}"), Some(support), None).await;
    assert_eq!((status, workspace["your_role"].as_str()), (StatusCode::OK, Some("support")));
    assert_eq!(call(&host, Method::GET, &format!("/v1/workspaces/{ws}/members"), Some(support), None).await.0, StatusCode::OK);
    assert_eq!(call(&host, Method::GET, &format!("/v1/workspaces/{ws}/audit"), Some(support), None).await.0, StatusCode::OK);
    for (method, path, body) in [
        (Method::PATCH, format!("/v1/workspaces/{ws}"), json!({ "name": "x" })),
        (Method::POST, format!("/v1/workspaces/{ws}/invites"), json!({ "email": "a@b.example", "role": "member" })),
        (Method::POST, format!("/v1/workspaces/{ws}/api-keys"), json!({ "name": "x", "scopes": ["audit:read"] })),
    ] {
        assert_eq!(call(&host, method.clone(), &path, Some(support), Some(body)).await.0, StatusCode::FORBIDDEN, "{method} {path}");
    }
    use tern_security::roles::{Permission, Role};
    assert!(!Role::Support.has(Permission::ReadContactNotes) && !Role::Support.has(Permission::ReadMessageBodies));
    host.stop().await;
}
