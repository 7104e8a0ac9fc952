//! Every sample in events/ fed to its function's handler on the local platform.

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use http_body_util::BodyExt;
use std::sync::Arc;
use tern_domain::ids::WorkspaceId;
use tern_domain::inbound::{InboundMessage, InboundStatus};
use tern_tests::{repo_path, start_dev_host_with_secret};
use tower::ServiceExt;

fn sample(path: &str) -> String {
    std::fs::read_to_string(repo_path("events").join(path)).unwrap_or_else(|e| panic!("events/{path}: {e}"))
}

/// What lambda_http does on Lambda: API Gateway's JSON → an HTTP request for the router.
async fn call_http(router: axum::Router, event_json: &str) -> (u16, serde_json::Value) {
    let request = lambda_http::request::from_str(event_json).expect("an API Gateway v2 event");
    let (parts, body) = request.into_parts();
    let request = axum::http::Request::from_parts(parts, axum::body::Body::from(body.to_vec()));
    let response = router.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

fn failed_ids(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

#[tokio::test]
async fn every_sample_event_reaches_its_handler() {
    let host = start_dev_host_with_secret("events", "events-sample-secret").await;
    let platform = || tern_tests::platform_of(&host);
    let observer = tern_tests::observe(&host);

    // HTTP functions, through lambda_http's own conversion.
    let api = tern_api::router(Arc::new(tern_api::ApiState::new(platform()).unwrap()));
    let (status, body) = call_http(api, &sample("api/http-get-health.json")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));

    // The samples are addressed to one workspace; it exists here with a key of its own.
    let sample_workspace = "0193a5f0-7c1e-7d2a-9b3c-1d2e3f405162";
    let key = tern_aws::workspace_keys::create_workspace_key(&observer.kms, WorkspaceId::parse(sample_workspace).unwrap()).await.unwrap();
    let workspace: tern_aws::entities::Workspace = serde_json::from_value(serde_json::json!({
        "id": sample_workspace, "name": "Samples", "plan": "growth", "timezone": "UTC", "locale": "en", "parent_id": null,
        "kms_key_id": key, "require_2fa": false, "created_at": 0,
    }))
    .unwrap();
    tern_aws::table::Table::new(observer.dynamodb.clone(), host.config.table.clone())
        .scope(tern_tests::observed(WorkspaceId::parse(sample_workspace).unwrap()))
        .create(&workspace, None)
        .await
        .unwrap();
    let inbound = tern_inbound::router(Arc::new(tern_inbound::InboundState::new(platform())));
    let (status, accepted) = call_http(inbound, &sample("inbound/http-post-raw.json")).await;
    assert_eq!(status, 202, "{accepted}");

    // The classify sample names the message the inbound sample stored.
    let classify_event: SqsEvent = serde_json::from_str(&sample("classify/sqs.json")).unwrap();
    let job: serde_json::Value = serde_json::from_str(classify_event.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(job["inbound_id"], accepted["id"]);
    let classify = tern_classify::ClassifyDeps::new(platform());
    let response = tern_classify::handle(&classify, classify_event).await;
    assert!(failed_ids(&response).is_empty());
    let workspace = WorkspaceId::parse(job["workspace_id"].as_str().unwrap()).unwrap();
    let message: InboundMessage =
        classify.platform.table().scope(tern_tests::observed(workspace)).get(job["inbound_id"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(message.status, InboundStatus::Classified);
    assert_eq!(message.kind.as_deref(), Some("human"));

    // The other workers, each with its sample.
    let fetcher = tern_web::fetch::Fetcher::new(tern_web::guard::Policy::website(), Default::default()).unwrap();
    let enrich = tern_enrich::EnrichDeps::new(platform(), fetcher);
    let smtp = tern_send::smtp::SmtpClient::new(tern_web::guard::Policy::mail(), Arc::new(tern_web::fetch::SystemResolver));
    let send = tern_send::SendDeps::new(platform(), smtp);
    let feedback = platform();
    let enrich_event: SqsEvent = serde_json::from_str(&sample("enrich/sqs.json")).unwrap();
    // No network here: the sample's site cannot be reached, which the worker records
    // as a failed enrichment and finishes the job.
    assert!(failed_ids(&tern_enrich::handle(&enrich, enrich_event).await).is_empty());
    let recorded: tern_aws::entities::Enrichment = enrich
        .platform
        .table()
        .scope(tern_tests::observed(workspace))
        .get("customer.example")
        .await
        .unwrap()
        .expect("the enrichment is recorded");
    assert_eq!(recorded.status, tern_aws::entities::EnrichmentStatus::Failed);
    assert!(recorded.failure.is_some());
    // The send sample names an enrollment this workspace does not have: nothing to
    // send, and the job is settled rather than retried.
    let send_event: SqsEvent = serde_json::from_str(&sample("send/sqs.json")).unwrap();
    assert!(failed_ids(&tern_send::handle(&send, send_event).await).is_empty());
    // The feedback sample is a bounce of mail Tern did not tag: acknowledged, not retried.
    let feedback_event: SqsEvent = serde_json::from_str(&sample("feedback/sqs.json")).unwrap();
    assert!(failed_ids(&tern_feedback::handle(&feedback, feedback_event).await).is_empty());

    // Scheduled functions get EventBridge's scheduled event and run at the host's clock.
    let dispatch = platform();
    let housekeeping = platform();
    let tick: CloudWatchEvent = serde_json::from_str(&sample("dispatch/schedule.json")).unwrap();
    assert!(tern_dispatch::handle(&dispatch, tick).await.is_ok());
    let daily: CloudWatchEvent = serde_json::from_str(&sample("housekeeping/schedule.json")).unwrap();
    assert!(tern_housekeeping::handle(&housekeeping, daily).await.is_ok());
    host.stop().await;
}

#[test]
fn every_function_has_a_sample_event() {
    for function in std::fs::read_dir(repo_path("functions")).unwrap() {
        let name = function.unwrap().file_name().into_string().unwrap();
        let samples = std::fs::read_dir(repo_path("events").join(&name)).map(|d| d.count()).unwrap_or(0);
        assert!(samples > 0, "events/{name}/ has no sample event");
    }
}
