//! Attacks on API-key scopes and on what platform support reads (issue 12,
//! findings 1 and 9), each through the dev host's HTTP port.

use crate::route_matrix::{key_with, support_account};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tern_devhost::DevHost;
use tern_security::api_key::{Resource, Scope};
use tern_tests::{call, observer_clients, start_dev_host, totp};

const PASSWORD: &str = "correct horse battery staple 42";

/// `(access token, workspace id, user id)`.
async fn sign_up(host: &DevHost, email: &str) -> (String, String, String) {
    let body = json!({ "email": email, "password": PASSWORD, "name": "Ann", "workspace_name": "Acme" });
    // Through the shared helper: sign-up mails a link, which it follows.
    let body = tern_tests::sign_up(host, body).await;
    (body["access_token"].as_str().unwrap().into(), body["workspace_id"].as_str().unwrap().into(), body["user_id"].as_str().unwrap().into())
}

/// A key stored with `scopes` the API no longer hands out, as one made before
/// scopes were per route would be (the reproduction at 2816b88 minted exactly these).
async fn legacy_key(host: &DevHost, ws: &str, creator: &str, scopes: &[Scope]) -> String {
    use tern_api::records::{ApiKey, ApiKeyLookup};
    let generated = tern_security::api_key::generate().unwrap();
    let workspace = tern_domain::ids::WorkspaceId::parse(ws).unwrap();
    let dynamodb = observer_clients().dynamodb;
    let key = ApiKey {
        id: generated.prefix.clone(),
        name: "made before the fix".into(),
        scopes: scopes.iter().copied().collect(),
        created_by: creator.into(),
        created_at: 0,
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
        created_with_2fa: false,
    };
    tern_aws::table::Table::new(dynamodb.clone(), host.config.table.clone())
        .scope(tern_tests::observed(workspace))
        .create(&key, None)
        .await
        .unwrap();
    let lookup = ApiKeyLookup { hash: generated.hash.to_hex(), workspace_id: ws.into(), key_id: key.id.clone() };
    tern_aws::global::GlobalTable::new(dynamodb, host.config.table.clone()).create(&lookup, None).await.unwrap();
    generated.key.expose().clone()
}

fn forbidden(answer: &(StatusCode, Value)) -> bool {
    answer.0 == StatusCode::FORBIDDEN && answer.1["error"]["code"] == "forbidden"
}

#[tokio::test]
async fn a_key_with_only_api_keys_read_cannot_mint_a_key_with_members_write() {
    let host = start_dev_host("mintkey").await;
    let (owner, ws, owner_id) = sign_up(&host, "owner@acme.example").await;
    let keys = format!("/v1/workspaces/{ws}/api-keys");

    // No key can be given power over keys or people any more.
    for scope in ["api_keys:read", "api_keys:write", "members:write", "workspace:write"] {
        let (status, answer) = call(&host, Method::POST, &keys, Some(&owner), Some(json!({ "name": "x", "scopes": [scope] }))).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("scope_not_available")),
            "{scope}: {answer}"
        );
    }

    // The reproduction: a key holding only api_keys:read mints members:write + exports:read.
    let reader = legacy_key(&host, &ws, &owner_id, &[Scope::Read(Resource::ApiKeys)]).await;
    let mint = json!({ "name": "escalated", "scopes": ["members:write", "exports:read"] });
    assert!(forbidden(&call(&host, Method::POST, &keys, Some(&reader), Some(mint.clone())).await));
    assert!(forbidden(&call(&host, Method::GET, &keys, Some(&reader), None).await), "nor list keys");
    // Nor does a key with every scope a key may hold, even for a key with fewer.
    let every: Vec<Scope> = Scope::for_keys().collect();
    let (strong, _) = key_with(&host, &owner, &ws, &every).await;
    assert!(forbidden(&call(&host, Method::POST, &keys, Some(&strong), Some(json!({ "name": "x", "scopes": ["contacts:read"] }))).await));

    let (_, listed) = call(&host, Method::GET, &keys, Some(&owner), None).await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "nothing was minted: {listed}");
    host.stop().await;
}

#[tokio::test]
async fn a_key_cannot_invite_an_owner() {
    let host = start_dev_host("keyinvite").await;
    let (owner, ws, owner_id) = sign_up(&host, "owner@acme.example").await;
    let (_, member_id) = crate::access::join(&host, &owner, &ws, "member@acme.example", "member").await;
    // A members:write key made before the fix, and one with every scope a key may hold now.
    let legacy = legacy_key(&host, &ws, &owner_id, &[Scope::Write(Resource::Members), Scope::Read(Resource::Exports)]).await;
    let every: Vec<Scope> = Scope::for_keys().collect();
    let (strong, _) = key_with(&host, &owner, &ws, &every).await;
    for key in [&legacy, &strong] {
        let invite = json!({ "email": "attacker@evil.example", "role": "owner" });
        assert!(forbidden(&call(&host, Method::POST, &format!("/v1/workspaces/{ws}/invites"), Some(key), Some(invite)).await));
        let promote = json!({ "role": "owner" });
        assert!(forbidden(
            &call(&host, Method::PATCH, &format!("/v1/workspaces/{ws}/members/{member_id}"), Some(key), Some(promote)).await
        ));
        assert!(forbidden(&call(&host, Method::DELETE, &format!("/v1/workspaces/{ws}/members/{owner_id}"), Some(key), None).await));
    }
    let (_, members) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/members"), Some(&owner), None).await;
    let roles: BTreeSet<&str> = members["members"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, BTreeSet::from(["owner", "member"]), "{members}");
    let (_, trail) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/audit?action=member.invited"), Some(&owner), None).await;
    assert_eq!(trail["entries"].as_array().unwrap().len(), 1, "only the owner's own invitation: {trail}");
    host.stop().await;
}

#[tokio::test]
async fn a_key_with_every_scope_cannot_switch_off_the_workspaces_protections() {
    let host = start_dev_host("keysettings").await;
    let (owner, ws, _) = sign_up(&host, "owner@acme.example").await;
    let every: Vec<Scope> = Scope::for_keys().collect();
    let (strong, _) = key_with(&host, &owner, &ws, &every).await;
    for (method, path, body) in [
        (Method::PATCH, format!("/v1/workspaces/{ws}"), json!({ "require_2fa": false })),
        (Method::PATCH, format!("/v1/workspaces/{ws}"), json!({ "retention": { "audit_days": 400 } })),
        (Method::POST, format!("/v1/workspaces/{ws}/deletion"), json!({ "password": PASSWORD })),
        (Method::POST, format!("/v1/workspaces/{ws}/privacy/erasures"), json!({ "email": "lead@customer.example" })),
    ] {
        let answer = call(&host, method.clone(), &path, Some(&strong), Some(body)).await;
        assert!(forbidden(&answer), "{method} {path}: {answer:?}");
    }
    host.stop().await;
}

#[tokio::test]
async fn a_templates_read_key_cannot_read_members_or_mailboxes_or_settings() {
    let host = start_dev_host("tplkey").await;
    let (owner, ws, _) = sign_up(&host, "owner@acme.example").await;
    let (key, _) = key_with(&host, &owner, &ws, &[Scope::Read(Resource::Templates)]).await;
    assert_eq!(call(&host, Method::GET, &format!("/v1/workspaces/{ws}/templates"), Some(&key), None).await.0, StatusCode::OK);
    for path in ["members", "mailboxes", "sequences", "enrichment-usage", "ideal-customer"]
        .map(|p| format!("/v1/workspaces/{ws}/{p}"))
        .into_iter()
        .chain([format!("/v1/workspaces/{ws}")])
    {
        let answer = call(&host, Method::GET, &path, Some(&key), None).await;
        assert!(forbidden(&answer), "{path}: {answer:?}");
        assert!(answer.1["error"]["message"].as_str().unwrap().contains("scope"), "the refusal names the missing scope: {answer:?}");
    }
    host.stop().await;
}

#[tokio::test]
async fn support_cannot_read_template_bodies_or_member_emails() {
    let host = start_dev_host("supportbodies").await;
    let (owner, ws, _) = sign_up(&host, "owner@acme.example").await;
    crate::access::join(&host, &owner, &ws, "colleague@acme.example", "member").await;
    let (status, template) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/templates"),
        Some(&owner),
        Some(json!({ "name": "t", "subject": "Our secret offer", "text": "The confidential body" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{template}");
    let support = support_account(&host, "staff@tern.example").await;

    assert!(forbidden(&call(&host, Method::GET, &format!("/v1/workspaces/{ws}/templates"), Some(&support), None).await));
    assert!(forbidden(
        &call(&host, Method::GET, &format!("/v1/workspaces/{ws}/templates/{}", template["id"].as_str().unwrap()), Some(&support), None)
            .await
    ));
    let (status, members) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/members"), Some(&support), None).await;
    assert_eq!(status, StatusCode::OK, "support still sees who holds which role");
    let members = members["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    assert!(members.iter().all(|m| m["email"].is_null() && m["role"].is_string()), "{members:?}");
    let text = serde_json::to_string(members).unwrap();
    assert!(!text.contains("owner@acme.example") && !text.contains("colleague@acme.example"), "{text}");
    // Nor through the audit trail (the invitation names the address it went to).
    let (status, trail) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/audit"), Some(&support), None).await;
    assert_eq!(status, StatusCode::OK);
    let invited =
        trail["entries"].as_array().unwrap().iter().find(|e| e["action"] == "member.invited").expect("the invitation is in the trail");
    assert_eq!(invited["target"], "[address hidden]", "{invited}");
    assert!(!trail.to_string().contains("colleague@acme.example"), "{trail}");
    // Members themselves still see the addresses.
    let (_, seen) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/members"), Some(&owner), None).await;
    assert!(seen.to_string().contains("colleague@acme.example"), "{seen}");
    let (_, trail) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/audit?action=member.invited"), Some(&owner), None).await;
    assert_eq!(trail["entries"][0]["target"], "colleague@acme.example", "{trail}");
    host.stop().await;
}

#[tokio::test]
async fn a_key_made_without_two_factor_stops_when_the_workspace_requires_it() {
    let host = start_dev_host("key2fa").await;
    let (owner, ws, _) = sign_up(&host, "owner@acme.example").await;
    let contacts = format!("/v1/workspaces/{ws}/contacts");
    // Made by a session that never passed a second factor (e.g. a stolen one).
    let (early, _) = key_with(&host, &owner, &ws, &[Scope::Read(Resource::Contacts)]).await;
    assert_eq!(call(&host, Method::GET, &contacts, Some(&early), None).await.0, StatusCode::OK);

    let (_, setup) = call(&host, Method::POST, "/v1/me/2fa/setup", Some(&owner), Some(json!({ "password": PASSWORD }))).await;
    let secret = setup["secret"].as_str().unwrap().to_string();
    assert_eq!(
        call(&host, Method::POST, "/v1/me/2fa/confirm", Some(&owner), Some(json!({ "code": totp(&host, &secret, 0) }))).await.0,
        StatusCode::OK
    );
    call(&host, Method::POST, "/_dev/clock/advance", None, Some(json!({ "seconds": 31 }))).await; // a fresh time step
    let (status, session) = call(
        &host,
        Method::POST,
        "/v1/sessions",
        None,
        Some(json!({ "email": "owner@acme.example", "password": PASSWORD, "totp_code": totp(&host, &secret, 0) })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let with_2fa = session["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        call(&host, Method::PATCH, &format!("/v1/workspaces/{ws}"), Some(&with_2fa), Some(json!({ "require_2fa": true }))).await.0,
        StatusCode::OK
    );

    let (status, refused) = call(&host, Method::GET, &contacts, Some(&early), None).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("two_factor_required")), "{refused}");
    let (late, _) = key_with(&host, &with_2fa, &ws, &[Scope::Read(Resource::Contacts)]).await;
    assert_eq!(call(&host, Method::GET, &contacts, Some(&late), None).await.0, StatusCode::OK, "a key made under 2FA works");
    let (_, listed) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/api-keys"), Some(&with_2fa), None).await;
    let flags: BTreeSet<bool> = listed.as_array().unwrap().iter().map(|k| k["created_with_2fa"].as_bool().unwrap()).collect();
    assert_eq!(flags, BTreeSet::from([false, true]), "{listed}");
    host.stop().await;
}
