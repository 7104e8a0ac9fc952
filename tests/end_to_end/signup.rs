//! Sign-up and account recovery under attack: the plan is not the client's to pick,
//! sign-ups are rate-limited and capped, addresses are verified by a link before an
//! account can act, sign-up and reset do not reveal which addresses have accounts,
//! and reset tokens work once.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tern_devhost::DevHost;
use tern_tests::{call, start_dev_host};

const PASSWORD: &str = "correct horse battery staple 42";

fn code(answer: &Value) -> Option<&str> {
    answer["error"]["code"].as_str()
}

async fn audit_actions(host: &DevHost, token: &str, ws: &str) -> Vec<(String, String)> {
    let (status, trail) = call(host, Method::GET, &format!("/v1/workspaces/{ws}/audit"), Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{trail}");
    trail["entries"].as_array().unwrap().iter().map(|e| (e["action"].as_str().unwrap().to_string(), e["actor"].as_str().unwrap_or_default().to_string())).collect()
}

#[tokio::test]
async fn signing_up_with_plan_enterprise_gets_trial() {
    let host = start_dev_host("signup-plan").await;
    let body = json!({ "email": "eve@evil.example", "password": PASSWORD, "name": "Eve", "workspace_name": "Evil", "plan": "enterprise" });
    let (status, answer) = call(&host, Method::POST, "/v1/signup", None, Some(body)).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, Some("plan_not_selectable")), "{answer}");
    // Nothing was created: the address can still sign up, and lands on trial.
    let session = tern_tests::sign_up(&host, json!({ "email": "eve@evil.example", "password": PASSWORD, "name": "Eve", "workspace_name": "Evil", "plan": "trial" })).await;
    let (token, ws) = (session["access_token"].as_str().unwrap(), session["workspace_id"].as_str().unwrap());
    let (_, workspace) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}"), Some(token), None).await;
    assert_eq!(workspace["plan"], "trial");
    // Nor can the owner change it through the API.
    let (status, answer) = call(&host, Method::PATCH, &format!("/v1/workspaces/{ws}"), Some(token), Some(json!({ "plan": "enterprise" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (_, workspace) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}"), Some(token), None).await;
    assert_eq!(workspace["plan"], "trial");

    // The operator's command does, and the trail says who and why.
    let (status, changed) = call(&host, Method::POST, &format!("/_dev/workspaces/{ws}/plan"), None, Some(json!({ "plan": "enterprise", "operator": "ana", "reason": "contract 42" }))).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!((changed["from"].as_str(), changed["to"].as_str()), (Some("trial"), Some("enterprise")));
    let (_, workspace) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}"), Some(token), None).await;
    assert_eq!(workspace["plan"], "enterprise");
    let actions = audit_actions(&host, token, ws).await;
    assert!(actions.contains(&("workspace.plan_changed".into(), "operator:ana".into())), "{actions:?}");
    // An operator command without a reason is refused and changes nothing.
    let (status, answer) = call(&host, Method::POST, &format!("/_dev/workspaces/{ws}/plan"), None, Some(json!({ "plan": "trial", "operator": "ana", "reason": " " }))).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_operator_request")), "{answer}");
    host.stop().await;
}
