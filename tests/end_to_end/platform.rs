//! The dev host as a newcomer meets it: health, the stable error body, the clock.

use tern_tests::start_dev_host;

#[tokio::test]
async fn health_answers_through_the_dev_host_port() {
    let host = start_dev_host("health").await;
    let response = reqwest::get(format!("{}/health", host.base_url())).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    host.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_stable_error_body() {
    let host = start_dev_host("errors").await;
    let client = reqwest::Client::new();
    for (method, path, status, code) in [
        (reqwest::Method::GET, "/nowhere", 404, "not_found"),
        (reqwest::Method::GET, "/v1/nothing-here-yet", 404, "not_found"),
        (reqwest::Method::DELETE, "/health", 405, "method_not_allowed"),
        (reqwest::Method::GET, "/inbound/raw", 405, "method_not_allowed"),
    ] {
        let response = client.request(method.clone(), format!("{}{path}", host.base_url())).send().await.unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{method} {path}");
    }
    host.stop().await;
}

#[tokio::test]
async fn the_clock_moves_forward_and_schedules_see_the_moved_time() {
    let host = start_dev_host("clock").await;
    let client = reqwest::Client::new();
    let base = host.base_url();
    let advanced: serde_json::Value = client
        .post(format!("{base}/_dev/clock/advance"))
        .json(&serde_json::json!({ "days": 14, "hours": 1 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(advanced["offset_seconds"], 14 * 86_400 + 3600);

    let tick = client.post(format!("{base}/_dev/tick/DispatchFunction")).send().await.unwrap();
    assert_eq!(tick.status(), 200);
    let report: serde_json::Value = tick.json().await.unwrap();
    let ran_for = time::OffsetDateTime::parse(report["ran_for"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
    let lead = ran_for - time::OffsetDateTime::now_utc();
    assert!(lead > time::Duration::days(14), "the function saw {ran_for}");

    let backwards = client.post(format!("{base}/_dev/clock/advance")).json(&serde_json::json!({ "days": -1 })).send().await.unwrap();
    assert_eq!(backwards.status(), 422);
    let unknown = client.post(format!("{base}/_dev/tick/NoSuchFunction")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    host.stop().await;
}
