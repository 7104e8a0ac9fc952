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
    let (status, invite) = call(host, Method::POST, &format!("/v1/workspaces/{}/invites", owner.workspace), Some(&owner.access), Some(json!({ "email": email, "role": role }))).await;
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

    let (status, again) = call(&host, Method::POST, "/v1/signup", None, Some(json!({ "email": "ANN@acme.example", "password": PASSWORD, "name": "x", "workspace_name": "y" }))).await;
    // The same answer as for a new address (the owner is mailed instead): see signup.rs.
    assert_eq!((status, again["status"].as_str()), (StatusCode::ACCEPTED, Some("verification_sent")));
    host.stop().await;
}

#[tokio::test]
async fn a_foreign_workspace_is_not_found_on_every_route() {
    let host = start_dev_host("tenancy").await;
    let ann = sign_up(&host, "ann@acme.example").await;
    let bob = sign_up(&host, "bob@globex.example").await;
    let foreign = &bob.workspace;
    let routes = [
        (Method::GET, format!("/v1/workspaces/{foreign}"), None),
        (Method::PATCH, format!("/v1/workspaces/{foreign}"), Some(json!({ "name": "pwned" }))),
        (Method::GET, format!("/v1/workspaces/{foreign}/members"), None),
        (Method::PATCH, format!("/v1/workspaces/{foreign}/members/{}", bob.user_id), Some(json!({ "role": "readonly" }))),
        (Method::DELETE, format!("/v1/workspaces/{foreign}/members/{}", bob.user_id), None),
        (Method::POST, format!("/v1/workspaces/{foreign}/invites"), Some(json!({ "email": "evil@x.example", "role": "admin" }))),
        (Method::GET, format!("/v1/workspaces/{foreign}/audit"), None),
        (Method::GET, format!("/v1/workspaces/{foreign}/audit/verify"), None),
        (Method::POST, format!("/v1/workspaces/{foreign}/api-keys"), Some(json!({ "name": "x", "scopes": ["audit:read"] }))),
        (Method::GET, format!("/v1/workspaces/{foreign}/api-keys"), None),
        (Method::DELETE, format!("/v1/workspaces/{foreign}/api-keys/{}", bob_key(&host, &bob).await), None),
        (Method::POST, format!("/v1/workspaces/{foreign}/inbound/credential"), None),
        (Method::GET, format!("/v1/workspaces/{foreign}/inbound/credential"), None),
        (Method::DELETE, format!("/v1/workspaces/{foreign}/inbound/credential"), None),
        (Method::POST, format!("/v1/workspaces/{foreign}/privacy/erasures"), Some(json!({ "email": "x@y.example" }))),
        (Method::GET, format!("/v1/workspaces/{foreign}/privacy/tasks/NOSUCHTASK"), None),
        (Method::POST, format!("/v1/workspaces/{foreign}/privacy/exports"), None),
        (Method::GET, format!("/v1/workspaces/{foreign}/privacy/exports/NOSUCHTASK/download"), None),
        (Method::POST, format!("/v1/workspaces/{foreign}/privacy/access-requests"), Some(json!({ "email": "x@y.example" }))),
        (Method::GET, format!("/v1/workspaces/{foreign}/inbound/messages"), None),
        (Method::GET, format!("/v1/workspaces/{foreign}/inbound/messages/0123456789abcdef0123456789abcdef"), None),
        (Method::POST, format!("/v1/workspaces/{foreign}/sub-workspaces"), Some(json!({ "name": "x" }))),
        (Method::POST, format!("/v1/workspaces/{foreign}/deletion"), Some(json!({ "password": "x" }))),
        (Method::DELETE, format!("/v1/workspaces/{foreign}/deletion"), None),
        (Method::POST, format!("/v1/workspaces/{foreign}/enrichments"), Some(json!({ "website": "example.com" }))),
        (Method::GET, format!("/v1/workspaces/{foreign}/enrichments"), None),
        (Method::GET, format!("/v1/workspaces/{foreign}/enrichments/example.com"), None),
        (Method::GET, format!("/v1/workspaces/{foreign}/enrichment-usage"), None),
        (Method::GET, format!("/v1/workspaces/{foreign}/ideal-customer"), None),
        (Method::PUT, format!("/v1/workspaces/{foreign}/ideal-customer"), Some(json!({ "keywords": ["x"] }))),
        (Method::GET, format!("/v1/workspaces/{foreign}/llm"), None),
        (Method::PUT, format!("/v1/workspaces/{foreign}/llm"), Some(json!({ "base_url": "https://api.openai.com/v1", "model": "m", "api_key": "sk-x" }))),
        (Method::DELETE, format!("/v1/workspaces/{foreign}/llm"), None),
        (Method::DELETE, format!("/v1/sessions/{}", bob_session(&host, &bob).await), None),
    ];
    let bobs = outreach_items(&host, &bob).await;
    let mut routes = routes.to_vec();
    // Outreach routes: under bob's workspace, and under ann's own with bob's ids.
    for ws in [foreign.as_str(), ann.workspace.as_str()] {
        let (contact, template, mailbox, sequence, enrollment) = (&bobs.contact, &bobs.template, &bobs.mailbox, &bobs.sequence, &bobs.enrollment);
        let template_body = json!({ "name": "t", "subject": "Hi", "text": "Hello" });
        let sequence_body = json!({ "name": "s", "mailbox_id": mailbox, "steps": [{ "template_id": template }] });
        routes.extend([
            (Method::GET, format!("/v1/workspaces/{ws}/contacts/{contact}"), None),
            (Method::PATCH, format!("/v1/workspaces/{ws}/contacts/{contact}"), Some(json!({ "title": "pwned" }))),
            (Method::DELETE, format!("/v1/workspaces/{ws}/contacts/{contact}"), None),
            (Method::POST, format!("/v1/workspaces/{ws}/contacts/{contact}/verify"), None),
            (Method::POST, format!("/v1/workspaces/{ws}/contacts/{contact}/first-line"), None),
            (Method::PUT, format!("/v1/workspaces/{ws}/contacts/{contact}/first-line"), Some(json!({ "text": "pwned line here" }))),
            (Method::DELETE, format!("/v1/workspaces/{ws}/contacts/{contact}/first-line"), None),
            (Method::POST, format!("/v1/workspaces/{ws}/contacts/{contact}/notes"), Some(json!({ "text": "pwned note" }))),
            (Method::GET, format!("/v1/workspaces/{ws}/contacts/{contact}/notes"), None),
            (Method::DELETE, format!("/v1/workspaces/{ws}/contacts/{contact}/notes/NOSUCHNOTE"), None),
            (Method::GET, format!("/v1/workspaces/{ws}/templates/{template}"), None),
            (Method::PUT, format!("/v1/workspaces/{ws}/templates/{template}"), Some(template_body)),
            (Method::DELETE, format!("/v1/workspaces/{ws}/templates/{template}"), None),
            (Method::POST, format!("/v1/workspaces/{ws}/templates/{template}/preview"), Some(json!({ "contact_id": contact }))),
            (Method::GET, format!("/v1/workspaces/{ws}/mailboxes/{mailbox}"), None),
            (Method::PATCH, format!("/v1/workspaces/{ws}/mailboxes/{mailbox}"), Some(json!({ "daily_cap": 1 }))),
            (Method::DELETE, format!("/v1/workspaces/{ws}/mailboxes/{mailbox}"), None),
            (Method::GET, format!("/v1/workspaces/{ws}/sequences/{sequence}"), None),
            (Method::PUT, format!("/v1/workspaces/{ws}/sequences/{sequence}"), Some(sequence_body)),
            (Method::POST, format!("/v1/workspaces/{ws}/sequences/{sequence}/enrollments"), Some(json!({ "contact_ids": [contact] }))),
            (Method::GET, format!("/v1/workspaces/{ws}/enrollments/{enrollment}"), None),
            (Method::POST, format!("/v1/workspaces/{ws}/enrollments/{enrollment}/actions"), Some(json!({ "action": "stop" }))),
            (Method::POST, format!("/v1/workspaces/{ws}/sends/{enrollment}~0/resolve"), Some(json!({ "outcome": "sent" }))),
        ]);
    }
    {
        let ws = foreign.as_str();
        routes.extend([
            (Method::POST, format!("/v1/workspaces/{ws}/contacts"), Some(json!({ "email": "x@y.example" }))),
            (Method::GET, format!("/v1/workspaces/{ws}/contacts"), None),
            (Method::POST, format!("/v1/workspaces/{ws}/contacts/import"), Some(json!({}))),
            (Method::GET, format!("/v1/workspaces/{ws}/contacts/export"), None),
            (Method::POST, format!("/v1/workspaces/{ws}/suppressions"), Some(json!({ "email": "x@y.example" }))),
            (Method::GET, format!("/v1/workspaces/{ws}/suppressions"), None),
            (Method::POST, format!("/v1/workspaces/{ws}/attachments?filename=a.txt"), Some(json!({}))),
            (Method::POST, format!("/v1/workspaces/{ws}/templates"), Some(json!({ "name": "t", "subject": "Hi", "text": "Hello" }))),
            (Method::GET, format!("/v1/workspaces/{ws}/templates"), None),
            (Method::POST, format!("/v1/workspaces/{ws}/mailboxes"), Some(json!({ "name": "m", "from_email": "a@b.example", "provider": { "kind": "ses" } }))),
            (Method::GET, format!("/v1/workspaces/{ws}/mailboxes"), None),
            (Method::POST, format!("/v1/workspaces/{ws}/sequences"), Some(json!({ "name": "s", "mailbox_id": "x", "steps": [] }))),
            (Method::GET, format!("/v1/workspaces/{ws}/sequences"), None),
            (Method::GET, format!("/v1/workspaces/{ws}/enrollments"), None),
            (Method::GET, format!("/v1/workspaces/{ws}/sends"), None),
        ]);
    }
    for (method, path, body) in routes {
        let (status, error) = call(&host, method.clone(), &path, Some(&ann.access), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {error}");
        assert_eq!(error["error"]["code"], "not_found");
    }
    // Nothing changed in the other workspace.
    let (_, workspace) = call(&host, Method::GET, &format!("/v1/workspaces/{foreign}"), Some(&bob.access), None).await;
    assert_eq!(workspace["name"], "Acme GmbH");
    let (_, members) = call(&host, Method::GET, &format!("/v1/workspaces/{foreign}/members"), Some(&bob.access), None).await;
    assert_eq!(members["members"].as_array().unwrap().len(), 1);
    assert_eq!(members["members"][0]["role"], "owner");
    let (status, _) = call(&host, Method::GET, "/v1/sessions", Some(&bob.access), None).await;
    assert_eq!(status, StatusCode::OK, "bob's session survived");
    let (_, keys) = call(&host, Method::GET, &format!("/v1/workspaces/{foreign}/api-keys"), Some(&bob.access), None).await;
    assert!(keys.as_array().unwrap().iter().all(|k| k["revoked_at"].is_null()), "bob's key survived: {keys}");
    let (_, contact) = call(&host, Method::GET, &format!("/v1/workspaces/{foreign}/contacts/{}", bobs.contact), Some(&bob.access), None).await;
    assert_eq!(contact["title"], "CTO", "bob's contact is untouched");
    let (_, enrollment) = call(&host, Method::GET, &format!("/v1/workspaces/{foreign}/enrollments/{}", bobs.enrollment), Some(&bob.access), None).await;
    assert_eq!(enrollment["state"]["state"], "active", "bob's enrollment is untouched");
    let (_, mailbox) = call(&host, Method::GET, &format!("/v1/workspaces/{foreign}/mailboxes/{}", bobs.mailbox), Some(&bob.access), None).await;
    assert_eq!(mailbox["daily_cap"], 200, "bob's mailbox is untouched");
    host.stop().await;
}

/// Ids of one of each outreach item in `owner`'s workspace.
struct OutreachItems {
    contact: String,
    template: String,
    mailbox: String,
    sequence: String,
    enrollment: String,
}

async fn outreach_items(host: &DevHost, owner: &Account) -> OutreachItems {
    let ws = &owner.workspace;
    let create = |path: String, body: Value| {
        let token = owner.access.clone();
        async move {
            let (status, created) = call(host, Method::POST, &path, Some(&token), Some(body)).await;
            assert!(status.is_success(), "{path}: {status} {created}");
            created
        }
    };
    let contact = create(format!("/v1/workspaces/{ws}/contacts"), json!({ "email": "cto@customer.example", "first_name": "Cy", "title": "CTO" })).await;
    let template = create(format!("/v1/workspaces/{ws}/templates"), json!({ "name": "t", "subject": "Hi {{first_name}}", "text": "Hello" })).await;
    let mailbox = create(format!("/v1/workspaces/{ws}/mailboxes"), json!({ "name": "m", "from_email": "bob@globex.example", "provider": { "kind": "ses" } })).await;
    let sequence = create(format!("/v1/workspaces/{ws}/sequences"), json!({ "name": "s", "mailbox_id": mailbox["id"], "steps": [{ "template_id": template["id"] }] })).await;
    let enrolled = create(format!("/v1/workspaces/{ws}/sequences/{}/enrollments", sequence["id"].as_str().unwrap()), json!({ "contact_ids": [contact["id"]] })).await;
    assert_eq!(enrolled["enrolled"].as_array().unwrap().len(), 1, "{enrolled}");
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();
    OutreachItems {
        enrollment: format!("{}.{}", id(&sequence), id(&contact)),
        contact: id(&contact),
        template: id(&template),
        mailbox: id(&mailbox),
        sequence: id(&sequence),
    }
}

async fn bob_key(host: &DevHost, bob: &Account) -> String {
    let (status, created) = call(host, Method::POST, &format!("/v1/workspaces/{}/api-keys", bob.workspace), Some(&bob.access), Some(json!({ "name": "bob", "scopes": ["audit:read"] }))).await;
    assert_eq!(status, StatusCode::CREATED);
    created["id"].as_str().unwrap().to_string()
}

async fn bob_session(host: &DevHost, bob: &Account) -> String {
    let (_, sessions) = call(host, Method::GET, "/v1/sessions", Some(&bob.access), None).await;
    sessions[0]["id"].as_str().unwrap().to_string()
}

/// Every workspace route with every role: allowed exactly when the role has the
/// route's permission (tern_security::roles is the source of truth).
#[tokio::test]
async fn the_role_by_route_matrix_holds() {
    use tern_security::roles::{Permission, Role};
    let host = start_dev_host("roles").await;
    let owner = sign_up(&host, "owner@acme.example").await;
    let mut accounts = vec![(Role::Owner, owner)];
    for (role, email) in [(Role::Admin, "admin@acme.example"), (Role::Member, "member@acme.example"), (Role::Readonly, "ro@acme.example")] {
        let joined = join(&host, &accounts[0].1, email, &role.to_string()).await;
        accounts.push((role, joined));
    }
    let ws = accounts[0].1.workspace.clone();
    let nobody = tern_domain::ids::RequestId::generate();
    let routes: Vec<(Method, String, Option<Value>, Permission)> = vec![
        (Method::GET, format!("/v1/workspaces/{ws}"), None, Permission::ReadWorkspace),
        (Method::PATCH, format!("/v1/workspaces/{ws}"), Some(json!({ "locale": "en" })), Permission::ManageWorkspace),
        (Method::GET, format!("/v1/workspaces/{ws}/members"), None, Permission::ReadWorkspace),
        // A member that does not exist: allowed roles get 404, others 403 first.
        (Method::PATCH, format!("/v1/workspaces/{ws}/members/{nobody}"), Some(json!({ "role": "readonly" })), Permission::ManageMembers),
        (Method::DELETE, format!("/v1/workspaces/{ws}/members/{nobody}"), None, Permission::ManageMembers),
        (Method::POST, format!("/v1/workspaces/{ws}/invites"), Some(json!({ "email": "new@acme.example", "role": "readonly" })), Permission::ManageMembers),
        (Method::GET, format!("/v1/workspaces/{ws}/audit"), None, Permission::ReadAudit),
        (Method::GET, format!("/v1/workspaces/{ws}/audit/verify"), None, Permission::ReadAudit),
        (Method::POST, format!("/v1/workspaces/{ws}/api-keys"), Some(json!({ "name": "ci", "scopes": ["members:read"] })), Permission::ManageApiKeys),
        (Method::GET, format!("/v1/workspaces/{ws}/api-keys"), None, Permission::ManageApiKeys),
        (Method::DELETE, format!("/v1/workspaces/{ws}/api-keys/NOSUCHKY"), None, Permission::ManageApiKeys),
        (Method::POST, format!("/v1/workspaces/{ws}/inbound/credential"), None, Permission::ManageMailboxes),
        (Method::GET, format!("/v1/workspaces/{ws}/inbound/credential"), None, Permission::ManageMailboxes),
        (Method::DELETE, format!("/v1/workspaces/{ws}/inbound/credential"), None, Permission::ManageMailboxes),
        (Method::GET, format!("/v1/workspaces/{ws}/inbound/messages"), None, Permission::ReadContacts),
        (Method::GET, format!("/v1/workspaces/{ws}/inbound/messages/0123456789abcdef0123456789abcdef"), None, Permission::ReadContacts),
        (Method::POST, format!("/v1/workspaces/{ws}/contacts/NOSUCHCONTACT/first-line"), None, Permission::WriteContacts),
        (Method::PUT, format!("/v1/workspaces/{ws}/contacts/NOSUCHCONTACT/first-line"), Some(json!({ "text": "Nice to meet you." })), Permission::WriteContacts),
        (Method::DELETE, format!("/v1/workspaces/{ws}/contacts/NOSUCHCONTACT/first-line"), None, Permission::WriteContacts),
        (Method::POST, format!("/v1/workspaces/{ws}/privacy/erasures"), Some(json!({ "email": "gone@x.example" })), Permission::ManageWorkspace),
        (Method::GET, format!("/v1/workspaces/{ws}/privacy/tasks/NOSUCHTASK"), None, Permission::ManageWorkspace),
        (Method::POST, format!("/v1/workspaces/{ws}/privacy/exports"), None, Permission::Export),
        (Method::GET, format!("/v1/workspaces/{ws}/privacy/exports/NOSUCHTASK/download"), None, Permission::Export),
        (Method::POST, format!("/v1/workspaces/{ws}/privacy/access-requests"), Some(json!({ "email": "gone@x.example" })), Permission::Export),
        (Method::POST, format!("/v1/workspaces/{ws}/enrichments"), Some(json!({ "website": "not a website" })), Permission::WriteContacts),
        (Method::GET, format!("/v1/workspaces/{ws}/enrichments"), None, Permission::ReadContacts),
        (Method::GET, format!("/v1/workspaces/{ws}/enrichments/example.com"), None, Permission::ReadContacts),
        (Method::GET, format!("/v1/workspaces/{ws}/enrichment-usage"), None, Permission::ReadWorkspace),
        (Method::GET, format!("/v1/workspaces/{ws}/ideal-customer"), None, Permission::ReadWorkspace),
        (Method::PUT, format!("/v1/workspaces/{ws}/ideal-customer"), Some(json!({ "keywords": ["robots"] })), Permission::ManageWorkspace),
        // No provider is set (allowed roles get 404), and the metadata address is refused (422).
        (Method::GET, format!("/v1/workspaces/{ws}/llm"), None, Permission::ManageWorkspace),
        (Method::PUT, format!("/v1/workspaces/{ws}/llm"), Some(json!({ "base_url": "https://169.254.169.254/v1", "model": "m", "api_key": "sk-x" })), Permission::ManageWorkspace),
        (Method::DELETE, format!("/v1/workspaces/{ws}/llm"), None, Permission::ManageWorkspace),
        // Plan-gated: allowed roles get 422 on a trial workspace, the others 403.
        (Method::POST, format!("/v1/workspaces/{ws}/sub-workspaces"), Some(json!({ "name": "Client" })), Permission::ManageWorkspace),
        // A body without the password: the owner gets 422 (nothing is scheduled), the others 403.
        (Method::POST, format!("/v1/workspaces/{ws}/deletion"), Some(json!({ "totp": "123456" })), Permission::DeleteWorkspace),
        // Nothing is scheduled: the owner gets 409.
        (Method::DELETE, format!("/v1/workspaces/{ws}/deletion"), None, Permission::DeleteWorkspace),
        (Method::POST, format!("/v1/workspaces/{ws}/contacts"), Some(json!({ "email": "lead@customer.example" })), Permission::WriteContacts),
        (Method::GET, format!("/v1/workspaces/{ws}/contacts"), None, Permission::ReadContacts),
        // A JSON body is no CSV with an e-mail column: allowed roles get 422.
        (Method::POST, format!("/v1/workspaces/{ws}/contacts/import"), Some(json!({ "not": "csv" })), Permission::Import),
        (Method::GET, format!("/v1/workspaces/{ws}/contacts/export"), None, Permission::Export),
        (Method::GET, format!("/v1/workspaces/{ws}/contacts/{nobody}"), None, Permission::ReadContacts),
        (Method::PATCH, format!("/v1/workspaces/{ws}/contacts/{nobody}"), Some(json!({ "title": "CEO" })), Permission::WriteContacts),
        (Method::DELETE, format!("/v1/workspaces/{ws}/contacts/{nobody}"), None, Permission::WriteContacts),
        (Method::POST, format!("/v1/workspaces/{ws}/contacts/{nobody}/verify"), None, Permission::WriteContacts),
        (Method::POST, format!("/v1/workspaces/{ws}/contacts/{nobody}/notes"), Some(json!({ "text": "A note." })), Permission::WriteContacts),
        (Method::GET, format!("/v1/workspaces/{ws}/contacts/{nobody}/notes"), None, Permission::ReadContactNotes),
        (Method::DELETE, format!("/v1/workspaces/{ws}/contacts/{nobody}/notes/{nobody}"), None, Permission::WriteContacts),
        (Method::POST, format!("/v1/workspaces/{ws}/suppressions"), Some(json!({ "email": "stop@customer.example" })), Permission::WriteContacts),
        (Method::GET, format!("/v1/workspaces/{ws}/suppressions"), None, Permission::ReadContacts),
        // JSON is not an attachment type: allowed roles get 415.
        (Method::POST, format!("/v1/workspaces/{ws}/attachments?filename=a.pdf"), Some(json!({})), Permission::ManageTemplates),
        (Method::POST, format!("/v1/workspaces/{ws}/templates"), Some(json!({ "name": "t", "subject": "Hi", "text": "Hello" })), Permission::ManageTemplates),
        (Method::GET, format!("/v1/workspaces/{ws}/templates"), None, Permission::ReadWorkspace),
        (Method::GET, format!("/v1/workspaces/{ws}/templates/{nobody}"), None, Permission::ReadWorkspace),
        (Method::PUT, format!("/v1/workspaces/{ws}/templates/{nobody}"), Some(json!({ "name": "t", "subject": "Hi", "text": "Hello" })), Permission::ManageTemplates),
        (Method::DELETE, format!("/v1/workspaces/{ws}/templates/{nobody}"), None, Permission::ManageTemplates),
        (Method::POST, format!("/v1/workspaces/{ws}/templates/{nobody}/preview"), Some(json!({ "contact_id": "x" })), Permission::ReadContacts),
        (Method::POST, format!("/v1/workspaces/{ws}/mailboxes"), Some(json!({ "name": "m", "from_email": "ann@acme.example", "provider": { "kind": "ses" } })), Permission::ManageMailboxes),
        (Method::GET, format!("/v1/workspaces/{ws}/mailboxes"), None, Permission::ReadWorkspace),
        (Method::GET, format!("/v1/workspaces/{ws}/mailboxes/{nobody}"), None, Permission::ReadWorkspace),
        (Method::PATCH, format!("/v1/workspaces/{ws}/mailboxes/{nobody}"), Some(json!({ "daily_cap": 50 })), Permission::ManageMailboxes),
        (Method::DELETE, format!("/v1/workspaces/{ws}/mailboxes/{nobody}"), None, Permission::ManageMailboxes),
        (Method::POST, format!("/v1/workspaces/{ws}/sequences"), Some(json!({ "name": "s", "mailbox_id": "none", "steps": [] })), Permission::ManageSequences),
        (Method::GET, format!("/v1/workspaces/{ws}/sequences"), None, Permission::ReadWorkspace),
        (Method::GET, format!("/v1/workspaces/{ws}/sequences/{nobody}"), None, Permission::ReadWorkspace),
        (Method::PUT, format!("/v1/workspaces/{ws}/sequences/{nobody}"), Some(json!({ "name": "s", "mailbox_id": "none", "steps": [] })), Permission::ManageSequences),
        (Method::POST, format!("/v1/workspaces/{ws}/sequences/{nobody}/enrollments"), Some(json!({ "contact_ids": ["x"] })), Permission::Send),
        (Method::GET, format!("/v1/workspaces/{ws}/enrollments"), None, Permission::ReadContacts),
        (Method::GET, format!("/v1/workspaces/{ws}/enrollments/{nobody}"), None, Permission::ReadContacts),
        (Method::POST, format!("/v1/workspaces/{ws}/enrollments/{nobody}/actions"), Some(json!({ "action": "stop" })), Permission::ManageSequences),
        (Method::GET, format!("/v1/workspaces/{ws}/sends"), None, Permission::ReadContacts),
        (Method::POST, format!("/v1/workspaces/{ws}/sends/{nobody}/resolve"), Some(json!({ "outcome": "sent" })), Permission::ManageSequences),
    ];
    for (method, path, body, permission) in &routes {
        let (status, _) = call(&host, method.clone(), path, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "anonymous {method} {path}");
        for (role, account) in &accounts {
            let (status, answer) = call(&host, method.clone(), path, Some(&account.access), body.clone()).await;
            if role.has(*permission) {
                let allowed = status.is_success()
                    || [StatusCode::NOT_FOUND, StatusCode::UNPROCESSABLE_ENTITY, StatusCode::UNSUPPORTED_MEDIA_TYPE, StatusCode::CONFLICT].contains(&status);
                assert!(allowed, "{role} {method} {path}: {status} {answer}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role} {method} {path}: {answer}");
                assert_eq!(answer["error"]["code"], "forbidden");
            }
        }
    }
    host.stop().await;
}

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
    let (_, trail) = call(&host, Method::GET, &format!("/v1/workspaces/{}/audit?action=session.", ann.workspace), Some(&other.access), None).await;
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
    let wrong = client.patch(&url).header("cookie", &cookies).header("x-csrf-token", "not-it").json(&json!({ "name": "x" })).send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let right = client.patch(&url).header("cookie", &cookies).header("x-csrf-token", &ann.csrf).json(&json!({ "name": "Renamed" })).send().await.unwrap();
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
    let response = reqwest::Client::new().post(format!("{}/_dev/clock/advance", host.base_url())).json(&json!({ "seconds": seconds })).send().await.unwrap();
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
        let (path, token, body) = (format!("/v1/workspaces/{}/invites", owner.workspace), owner.access.clone(), json!({ "email": email, "role": "member" }));
        let host = &host;
        async move { call(host, Method::POST, &path, Some(&token), Some(body)).await.1["token"].as_str().unwrap().to_string() }
    };
    let accept = |token: String| {
        let url = format!("{}/v1/invites/accept", host.base_url());
        async move { reqwest::Client::new().post(url).json(&json!({ "token": token, "name": "New Person", "password": PASSWORD })).send().await.unwrap().status() }
    };
    let token = invite("new@acme.example").await;
    assert_eq!(accept(token.clone()).await, StatusCode::CREATED);
    assert_eq!(accept(token).await, StatusCode::NOT_FOUND, "single use");
    let late = invite("late@acme.example").await;
    advance(&host, 8 * 86_400).await;
    assert_eq!(accept(late).await, StatusCode::NOT_FOUND, "expired after seven days");
    let owner = sign_in(&host, "owner@acme.example", PASSWORD).await; // eight days on, the old access token has expired
    let (status, _) = call(&host, Method::POST, &format!("/v1/workspaces/{}/invites", owner.workspace), Some(&owner.access), Some(json!({ "email": "x@acme.example", "role": "support" }))).await;
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
    let (status, _) = call(&host, Method::POST, "/v1/me/password", Some(&laptop.access), Some(json!({ "current_password": PASSWORD, "new_password": "an entirely new passphrase 7" }))).await;
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
    call(&host, Method::PATCH, &format!("/v1/workspaces/{}", owner.workspace), Some(&owner.access), Some(json!({ "name": "Acme AG" }))).await;
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
        ("pk".to_string(), AttributeValue::S(format!("WS#{}#AUDIT", owner.workspace))),
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
        (Method::POST, "/v1/signup".into(), json!({ "email": "x@y.example", "password": PASSWORD, "name": "a", "workspace_name": "b", "plan": "platinum" })),
        (Method::POST, "/v1/signup".into(), json!({ "email": 5, "password": PASSWORD, "name": "a", "workspace_name": "b" })),
        (Method::POST, "/v1/signup".into(), json!({ "email": "x@y.example", "password": PASSWORD, "name": "a", "workspace_name": "b", "timezone": "../../etc" })),
        (Method::POST, "/v1/signup".into(), json!({ "email": "x@y.example", "password": PASSWORD, "name": "a".repeat(500), "workspace_name": "b" })),
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
