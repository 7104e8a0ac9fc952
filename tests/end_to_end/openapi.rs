//! The OpenAPI document and the router come from one list (`tern_api::routes::all`):
//! every documented operation is served, and every one that needs a credential
//! refuses a caller without one.

use tern_tests::start_dev_host;

#[tokio::test]
async fn every_documented_operation_is_served_and_refuses_anonymous_callers_unless_public() {
    let host = start_dev_host("openapi").await;
    let document: serde_json::Value = reqwest::get(format!("{}/openapi.json", host.base_url())).await.unwrap().json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    // The areas are all there (a list that lost an area would still be "consistent").
    for (method, path) in [
        ("post", "/v1/signup"),
        ("get", "/openapi.json"),
        ("post", "/v1/workspaces/{ws}/contacts"),
        ("post", "/v1/workspaces/{ws}/sequences/{sequence_id}/enrollments"),
        ("get", "/v1/unsubscribe/{token}"),
        ("get", "/v1/workspaces/{ws}/audit/verify"),
    ] {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} is missing from /openapi.json");
    }
    let client = reqwest::Client::new();
    let mut checked = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            // Any syntactically valid value for every path parameter.
            let concrete = path
                .split('/')
                .map(|segment| if segment.starts_with('{') { "0193a5f0-7c1e-7d2a-9b3c-1d2e3f405162" } else { segment })
                .collect::<Vec<_>>()
                .join("/");
            let response =
                client.request(method.to_uppercase().parse().unwrap(), format!("{}{concrete}", host.base_url())).send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            let public = operation["security"] == serde_json::json!([{}]);
            if public {
                // Served: anything but the router's own answers for an unknown address or method.
                assert_ne!(status, 405, "{method} {path}: {body}");
                assert!(!(status == 404 && body.contains("There is nothing at this address")), "{method} {path} is not served");
            } else {
                assert_eq!(status, 401, "{method} {path} without a credential: {body}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 90, "only {checked} operations documented");
    host.stop().await;
}
