//! The role × route matrix, API-key scopes and cross-tenant isolation, driven by
//! the OpenAPI document: every documented operation is covered by construction,
//! so a route added later is checked without editing this file. The document's
//! `x-tern-permission` / `x-tern-scope` come from the API's route table; the roles'
//! permissions from tern_security::roles.

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use tern_devhost::DevHost;
use tern_security::api_key::Scope;
use tern_security::roles::{Permission, Role};
use tern_tests::{call, observer_clients, start_dev_host};

const PASSWORD: &str = "correct horse battery staple 42";

/// `(access token, workspace id, user id)` of a new account (on the default plan).
async fn sign_up(host: &DevHost, email: &str) -> (String, String, String) {
    let body = json!({ "email": email, "password": PASSWORD, "name": "Ann", "workspace_name": "Acme GmbH" });
    // Through the shared helper: sign-up mails a link, which it follows.
    let body = tern_tests::sign_up(host, body).await;
    (body["access_token"].as_str().unwrap().into(), body["workspace_id"].as_str().unwrap().into(), body["user_id"].as_str().unwrap().into())
}

/// A platform support account (made by Tern's operators, here directly in the table).
pub(crate) async fn support_account(host: &DevHost, email: &str) -> String {
    use tern_api::records::User;
    let (_, _, staff_id) = sign_up(host, email).await;
    let global = tern_aws::global::GlobalTable::new(observer_clients().dynamodb, host.config.table.clone());
    let mut staff: User = global.get(&staff_id).await.unwrap().unwrap();
    staff.platform_support = true;
    global.put(&staff, None).await.unwrap();
    let (status, session) = call(host, Method::POST, "/v1/sessions", None, Some(json!({ "email": email, "password": PASSWORD }))).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    session["access_token"].as_str().unwrap().to_string()
}

/// An API key of `ws` with exactly `scopes`, made by `token`'s holder.
pub(crate) async fn key_with(host: &DevHost, token: &str, ws: &str, scopes: &[Scope]) -> (String, String) {
    let scopes: Vec<String> = scopes.iter().map(ToString::to_string).collect();
    let (status, created) = call(
        host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/api-keys"),
        Some(token),
        Some(json!({ "name": "matrix", "scopes": scopes })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{scopes:?}: {created}");
    (created["key"].as_str().unwrap().to_string(), created["id"].as_str().unwrap().to_string())
}

/// One documented operation under `/v1/workspaces/{ws}`.
struct Operation {
    method: Method,
    template: String,
    permission: Permission,
    scope: Option<Scope>,
    /// The request body's schema, if it takes a JSON one.
    body_schema: Option<Value>,
}

impl Operation {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.template)
    }

    /// The path with each `{param}` from `values` (or a value nothing has).
    fn path(&self, values: &BTreeMap<&str, String>) -> String {
        let mut path = self.template.clone();
        while let Some(start) = path.find('{') {
            let end = start + path[start..].find('}').unwrap();
            let name = &path[start + 1..end];
            let value = values.get(name).cloned().unwrap_or_else(|| NOBODY.to_string());
            path.replace_range(start..=end, &value);
        }
        path
    }

    fn has_object_params(&self) -> bool {
        self.template.matches('{').count() > 1
    }

    /// `{}` for any JSON body: enough for the auth decision, which comes first.
    fn empty_body(&self) -> Option<Value> {
        self.body_schema.as_ref().map(|_| json!({}))
    }
}

/// An id no workspace has.
const NOBODY: &str = "0193a5f0-7c1e-7d2a-9b3c-1d2e3f405162";

/// Resolves `$ref`s of the document's components.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            resolve(document, document.pointer(pointer).unwrap_or(&Value::Null))
        }
        None => schema,
    }
}

/// A body that passes the schema: required fields with plausible values; `hints`
/// gives the value of fields whose text must mean something (roles, ids, …).
fn sample_body(document: &Value, schema: &Value, hints: &BTreeMap<&str, Value>) -> Value {
    let schema = resolve(document, schema);
    if let Some(first) = schema.get("oneOf").or(schema.get("anyOf")).and_then(Value::as_array).and_then(|a| a.first()) {
        return sample_body(document, first, hints);
    }
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|a| a.first()) {
        return first.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::Array(kinds)) => kinds.iter().find(|k| *k != "null").cloned().unwrap_or(Value::Null),
        Some(kind) => kind.clone(),
        None => json!("object"),
    };
    match kind.as_str().unwrap_or("object") {
        "string" => json!("A line of text"),
        "integer" | "number" => json!(1),
        "boolean" => json!(false),
        "array" => json!([]),
        _ => {
            let mut body = Map::new();
            let properties = schema.get("properties").and_then(Value::as_object);
            for name in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
                let value = match (hints.get(name), properties.and_then(|p| p.get(name))) {
                    (Some(hint), _) => hint.clone(),
                    (None, Some(property)) => sample_body(document, property, hints),
                    (None, None) => json!("A line of text"),
                };
                body.insert(name.to_string(), value);
            }
            Value::Object(body)
        }
    }
}

/// Every operation under `/v1/workspaces/{ws}`, with its stated access. Fails
/// the test for any documented operation (anywhere) that states none.
fn workspace_operations(document: &Value) -> Vec<Operation> {
    let mut operations = Vec::new();
    let mut unstated = Vec::new();
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let name = format!("{method} {template}");
            let Some(security) = operation.get("security").and_then(Value::as_array) else {
                unstated.push(name);
                continue;
            };
            if !template.starts_with("/v1/workspaces/{ws}") {
                continue;
            }
            let permission = operation.get("x-tern-permission").and_then(|p| serde_json::from_value::<Permission>(p.clone()).ok());
            let scope = match operation.get("x-tern-scope") {
                Some(Value::Null) => Some(None),
                Some(Value::String(s)) => s.parse::<Scope>().ok().map(Some),
                _ => None,
            };
            let (Some(permission), Some(scope)) = (permission, scope) else {
                unstated.push(name);
                continue;
            };
            // The security statement says the same as the extensions.
            assert!(security.contains(&json!({ "session": [] })), "{name}: {security:?}");
            let keys: Vec<&Value> = security.iter().filter_map(|s| s.get("api_key")).collect();
            match scope {
                Some(scope) => assert_eq!(keys, [&json!([scope.to_string()])], "{name}"),
                None => assert!(keys.is_empty(), "{name}: sessions only, yet it names a key scope"),
            }
            let body_schema = operation.pointer("/requestBody/content/application~1json/schema").cloned();
            operations.push(Operation {
                method: method.to_uppercase().parse().unwrap(),
                template: template.clone(),
                permission,
                scope,
                body_schema,
            });
        }
    }
    assert!(unstated.is_empty(), "operations without an access statement (add them to functions/api/src/policy.rs): {unstated:?}");
    assert!(operations.len() > 50, "the document lists the workspace routes");
    operations
}

fn allowed(status: StatusCode) -> bool {
    status.is_success() || [400, 404, 409, 415, 422].contains(&status.as_u16())
}

/// For every operation under `/v1/workspaces/{ws}`: anonymous → 401; each role
/// (and platform support) allowed exactly when it has the route's permission,
/// else 403 `forbidden`; a key with exactly the route's scope allowed, a key with
/// every other scope 403, and on people-only routes a key with every scope 403.
#[tokio::test]
async fn every_documented_route_admits_exactly_the_roles_and_the_key_scope_it_states() {
    let host = start_dev_host("matrix").await;
    let document: Value = reqwest::get(format!("{}/openapi.json", host.base_url())).await.unwrap().json().await.unwrap();
    let operations = workspace_operations(&document);

    let (owner, ws, _) = sign_up(&host, "owner@acme.example").await;
    let mut callers = vec![(Role::Owner, owner.clone())];
    for (role, email) in [(Role::Admin, "admin@acme.example"), (Role::Member, "member@acme.example"), (Role::Readonly, "ro@acme.example")] {
        let (token, _) = crate::access::join(&host, &owner, &ws, email, &role.to_string()).await;
        callers.push((role, token));
    }
    callers.push((Role::Support, support_account(&host, "staff@tern.example").await));

    let grantable: Vec<Scope> = Scope::for_keys().collect();
    let mut exact = BTreeMap::new();
    let mut others = BTreeMap::new();
    for scope in &grantable {
        exact.insert(*scope, key_with(&host, &owner, &ws, &[*scope]).await.0);
        let rest: Vec<Scope> = grantable.iter().copied().filter(|s| s != scope).collect();
        others.insert(*scope, key_with(&host, &owner, &ws, &rest).await.0);
    }
    let every = key_with(&host, &owner, &ws, &grantable).await.0;

    let values = BTreeMap::from([("ws", ws.clone())]);
    for op in &operations {
        let (name, path, body) = (op.name(), op.path(&values), op.empty_body());
        let (status, answer) = call(&host, op.method.clone(), &path, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "anonymous {name}: {answer}");
        for (role, token) in &callers {
            let (status, answer) = call(&host, op.method.clone(), &path, Some(token), body.clone()).await;
            if role.has(op.permission) {
                assert!(allowed(status), "{role} {name}: {status} {answer}");
            } else {
                assert_eq!(
                    (status, answer["error"]["code"].as_str()),
                    (StatusCode::FORBIDDEN, Some("forbidden")),
                    "{role} {name}: {answer}"
                );
            }
        }
        match op.scope {
            Some(scope) => {
                let (status, answer) = call(&host, op.method.clone(), &path, Some(&exact[&scope]), body.clone()).await;
                assert!(allowed(status), "key with {scope} on {name}: {status} {answer}");
                let (status, answer) = call(&host, op.method.clone(), &path, Some(&others[&scope]), body.clone()).await;
                assert_eq!(
                    (status, answer["error"]["code"].as_str()),
                    (StatusCode::FORBIDDEN, Some("forbidden")),
                    "key without {scope} on {name}: {answer}"
                );
            }
            None => {
                let (status, answer) = call(&host, op.method.clone(), &path, Some(&every), body.clone()).await;
                assert_eq!(
                    (status, answer["error"]["code"].as_str()),
                    (StatusCode::FORBIDDEN, Some("forbidden")),
                    "a key on people-only {name}: {answer}"
                );
            }
        }
    }

    // Outside workspaces: session routes take no key and no anonymous caller.
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if template.starts_with("/v1/workspaces/{ws}") || operation["security"] != json!([{ "session": [] }]) {
                continue;
            }
            let path = template.replace("{session_id}", NOBODY);
            let method: Method = method.to_uppercase().parse().unwrap();
            let body = operation.get("requestBody").map(|_| json!({}));
            assert_eq!(
                call(&host, method.clone(), &path, None, body.clone()).await.0,
                StatusCode::UNAUTHORIZED,
                "anonymous {method} {template}"
            );
            assert_eq!(
                call(&host, method.clone(), &path, Some(&every), body).await.0,
                StatusCode::UNAUTHORIZED,
                "a key on {method} {template}"
            );
        }
    }
    host.stop().await;
}

/// Ids of one of each object in a workspace, by the path parameter naming it.
async fn objects_of(host: &DevHost, token: &str, ws: &str, user_id: &str) -> BTreeMap<&'static str, String> {
    let create = |path: String, body: Option<Value>| {
        let token = token.to_string();
        async move {
            let (status, created) = call(host, Method::POST, &path, Some(&token), body).await;
            assert!(status.is_success(), "{path}: {status} {created}");
            created
        }
    };
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();
    let contact = create(
        format!("/v1/workspaces/{ws}/contacts"),
        Some(json!({ "email": "cto@customer.example", "first_name": "Cy", "title": "CTO" })),
    )
    .await;
    let template =
        create(format!("/v1/workspaces/{ws}/templates"), Some(json!({ "name": "t", "subject": "Hi {{first_name}}", "text": "Hello" })))
            .await;
    let mailbox = create(
        format!("/v1/workspaces/{ws}/mailboxes"),
        Some(json!({ "name": "m", "from_email": "bob@globex.example", "provider": { "kind": "ses" } })),
    )
    .await;
    let sequence = create(
        format!("/v1/workspaces/{ws}/sequences"),
        Some(json!({ "name": "s", "mailbox_id": mailbox["id"], "steps": [{ "template_id": template["id"] }] })),
    )
    .await;
    let enrolled =
        create(format!("/v1/workspaces/{ws}/sequences/{}/enrollments", id(&sequence)), Some(json!({ "contact_ids": [contact["id"]] })))
            .await;
    assert_eq!(enrolled["enrolled"].as_array().unwrap().len(), 1, "{enrolled}");
    let note = create(format!("/v1/workspaces/{ws}/contacts/{}/notes", id(&contact)), Some(json!({ "text": "Met at the fair." }))).await;
    let task = create(format!("/v1/workspaces/{ws}/privacy/exports"), None).await;
    let (_, key_id) = key_with(host, token, ws, &[Scope::Read(tern_security::api_key::Resource::Audit)]).await;
    let enrollment = format!("{}.{}", id(&sequence), id(&contact));
    BTreeMap::from([
        ("ws", ws.to_string()),
        ("user_id", user_id.to_string()),
        ("key_id", key_id),
        ("task_id", id(&task)),
        ("contact_id", id(&contact)),
        ("note_id", id(&note)),
        ("template_id", id(&template)),
        ("mailbox_id", id(&mailbox)),
        ("sequence_id", id(&sequence)),
        ("send_id", format!("{enrollment}~0")),
        ("enrollment_id", enrollment),
        // No message reached this workspace, and enrichments are per workspace: ids nothing has.
        ("id", "0123456789abcdef0123456789abcdef".to_string()),
        ("domain", "nothing-here.example".to_string()),
    ])
}

/// For every operation under `/v1/workspaces/{ws}`: another tenant's workspace in
/// the path answers 404 to a member (and to their key) of this one, and this
/// workspace's path with the other tenant's object ids answers 404 too; nothing
/// of the other tenant changes.
#[tokio::test]
async fn another_tenants_workspace_and_ids_are_not_found_on_every_documented_route() {
    let host = start_dev_host("tenancy").await;
    let document: Value = reqwest::get(format!("{}/openapi.json", host.base_url())).await.unwrap().json().await.unwrap();
    let operations = workspace_operations(&document);
    let (ann, ann_ws, _) = sign_up(&host, "ann@acme.example").await;
    let (bob, bob_ws, bob_id) = sign_up(&host, "bob@globex.example").await;
    let bobs = objects_of(&host, &bob, &bob_ws, &bob_id).await;
    let grantable: Vec<Scope> = Scope::for_keys().collect();
    let (ann_key, _) = key_with(&host, &ann, &ann_ws, &grantable).await;

    let mut in_ann = bobs.clone();
    in_ann.insert("ws", ann_ws.clone());
    // Values that make a body pass its schema, so the request reaches the look-up.
    let hints: BTreeMap<&str, Value> = BTreeMap::from([
        ("role", json!("readonly")),
        ("action", json!("stop")),
        ("outcome", json!("sent")),
        ("email", json!("someone@customer.example")),
        ("contact_id", json!(bobs["contact_id"])),
        ("contact_ids", json!([bobs["contact_id"]])),
        ("mailbox_id", json!(bobs["mailbox_id"])),
        ("template_id", json!(bobs["template_id"])),
    ]);
    for op in &operations {
        let name = op.name();
        let body = op.body_schema.as_ref().map(|schema| sample_body(&document, schema, &hints));
        for token in [&ann, &ann_key] {
            let (status, answer) = call(&host, op.method.clone(), &op.path(&bobs), Some(token), body.clone()).await;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (StatusCode::NOT_FOUND, Some("not_found")),
                "{name} in the other workspace: {answer}"
            );
        }
        if op.has_object_params() {
            let (status, answer) = call(&host, op.method.clone(), &op.path(&in_ann), Some(&ann), body.clone()).await;
            // 404, or a check of the body's content made before any look-up (which
            // reveals nothing); a body refused for its shape never reached the look-up.
            assert!(
                status == StatusCode::NOT_FOUND
                    || (status == StatusCode::UNPROCESSABLE_ENTITY && answer["error"]["code"] != "invalid_fields"),
                "{name} with the other workspace's ids: {status} {answer} (if the body was refused, add a hint for its field)"
            );
        }
    }

    // Nothing changed in the other workspace.
    let get = |path: String| {
        let bob = bob.clone();
        let host = &host;
        async move { call(host, Method::GET, &path, Some(&bob), None).await.1 }
    };
    assert_eq!(get(format!("/v1/workspaces/{bob_ws}")).await["name"], "Acme GmbH");
    let members = get(format!("/v1/workspaces/{bob_ws}/members")).await;
    assert_eq!((members["members"].as_array().unwrap().len(), &members["members"][0]["role"]), (1, &json!("owner")));
    let keys = get(format!("/v1/workspaces/{bob_ws}/api-keys")).await;
    assert!(keys.as_array().unwrap().iter().all(|k| k["revoked_at"].is_null()), "bob's key survived: {keys}");
    assert_eq!(get(format!("/v1/workspaces/{bob_ws}/contacts/{}", bobs["contact_id"])).await["title"], "CTO");
    assert_eq!(
        get(format!("/v1/workspaces/{bob_ws}/contacts/{}/notes", bobs["contact_id"])).await["notes"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(get(format!("/v1/workspaces/{bob_ws}/templates/{}", bobs["template_id"])).await["text"], "Hello");
    assert_eq!(get(format!("/v1/workspaces/{bob_ws}/enrollments/{}", bobs["enrollment_id"])).await["state"]["state"], "active");
    assert_eq!(get(format!("/v1/workspaces/{bob_ws}/mailboxes/{}", bobs["mailbox_id"])).await["daily_cap"], 200);
    assert_eq!(call(&host, Method::GET, "/v1/sessions", Some(&bob), None).await.0, StatusCode::OK, "bob's session survived");
    host.stop().await;
}
