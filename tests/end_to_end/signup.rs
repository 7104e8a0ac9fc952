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

#[tokio::test]
async fn sign_up_is_rate_limited_per_ip_under_concurrency() {
    let host = start_dev_host("signup-rate").await;
    let attempts = 16;
    let answers = futures_join_all((0..attempts).map(|i| {
        let body = json!({ "email": format!("bulk{i}@evil.example"), "password": PASSWORD, "name": "Bulk", "workspace_name": "Bulk" });
        let url = format!("{}/v1/signup", host.base_url());
        async move {
            let response = reqwest::Client::new().post(url).json(&body).send().await.unwrap();
            let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
            (response.status(), retry_after, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    }))
    .await;
    let accepted = answers.iter().filter(|(s, _, _)| s.is_success()).count();
    let limited: Vec<_> = answers.iter().filter(|(s, _, _)| *s == StatusCode::TOO_MANY_REQUESTS).collect();
    // Exactly the limit got through, however the requests interleaved.
    assert_eq!((accepted, limited.len()), (10, attempts - 10), "{answers:?}");
    for (_, retry_after, body) in &limited {
        assert_eq!(code(body), Some("rate_limited"));
        assert!(retry_after.is_some_and(|s| (1..=3600).contains(&s)), "Retry-After: {retry_after:?}");
    }
    // The next window lets the address sign up again.
    call(&host, Method::POST, "/_dev/clock/advance", None, Some(json!({ "hours": 1 }))).await;
    tern_tests::sign_up(&host, json!({ "email": "late@evil.example", "password": PASSWORD, "name": "Late", "workspace_name": "Late" })).await;
    host.stop().await;
}

async fn futures_join_all<F: std::future::Future + Send + 'static>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("the request task"));
    }
    out
}

#[tokio::test]
async fn the_sub_workspace_cap_holds() {
    let host = start_dev_host("subws-cap").await;
    let founder = tern_tests::sign_up(&host, json!({ "email": "founder@agency.example", "password": PASSWORD, "name": "Fay", "workspace_name": "Agency" })).await;
    let (token, agency) = (founder["access_token"].as_str().unwrap().to_string(), founder["workspace_id"].as_str().unwrap().to_string());
    tern_tests::set_plan(&host, &agency, "agency").await;
    let cap = tern_domain::plan::Plan::Agency.max_sub_workspaces() as usize;
    // Concurrent waves of six: the last one races for the cap's final slots. (Six,
    // not all at once: every creation also appends to the agency's one audit chain,
    // and an append retries a bounded number of times under contention.)
    let mut answers = Vec::new();
    for wave in (0..cap + 4).collect::<Vec<_>>().chunks(6) {
        answers.extend(
            futures_join_all(wave.iter().map(|i| {
                let url = format!("{}/v1/workspaces/{agency}/sub-workspaces", host.base_url());
                let (token, name) = (token.clone(), format!("Client {i}"));
                async move {
                    let response = reqwest::Client::new().post(url).bearer_auth(token).json(&json!({ "name": name })).send().await.unwrap();
                    (response.status(), response.json::<Value>().await.unwrap_or(Value::Null))
                }
            }))
            .await,
        );
    }
    let created: Vec<_> = answers.iter().filter(|(s, _)| *s == StatusCode::CREATED).collect();
    assert_eq!(created.len(), cap, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!((*status, code(body)), (StatusCode::UNPROCESSABLE_ENTITY, Some("sub_workspace_limit")), "{body}");
    }
    // A client workspace has the agency plan too, but cannot start a second level.
    let sub = created[0].1["id"].as_str().unwrap();
    let (status, answer) = call(&host, Method::POST, &format!("/v1/workspaces/{sub}/sub-workspaces"), Some(&token), Some(json!({ "name": "Nested" }))).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, Some("nested_sub_workspace")), "{answer}");
    host.stop().await;
}
