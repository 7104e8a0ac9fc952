//! The audit log's storage against a real local DynamoDB (moto): concurrent
//! appenders leave one gap-free chain, and an entry appended together with another
//! item is written with it or not at all.
//!
//! Needs `TERN_TEST_AWS_ENDPOINT` (scripts/test starts moto and sets it). Each test
//! provisions its own table under a unique prefix.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use tern_aws::audit::AuditLog;
use tern_aws::privacy::{PrivacyTask, PrivacyTaskKind, TaskState};
use tern_domain::ids::WorkspaceId;
use tern_security::audit::{AuditDraft, verify_chain};
use time::OffsetDateTime;

async fn table() -> (tern_aws::AwsClients, tern_aws::Config) {
    let endpoint = std::env::var("TERN_TEST_AWS_ENDPOINT")
        .unwrap_or_else(|_| panic!("TERN_TEST_AWS_ENDPOINT is not set: run the tests with scripts/test, which starts moto for them"));
    let clients = tern_aws::AwsClients::from_sdk_config(&tern_aws::clients::local_sdk_config(&endpoint), true);
    let template = tern_aws::template::Template::load(&tern_aws::template::repository_root().join("template.yaml")).unwrap();
    let prefix = format!("t-audit-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let (config, _) = tern_aws::provision::provision(&template, &clients, &prefix).await.expect("provisioned on moto");
    (clients, config)
}

fn draft(ws: WorkspaceId, action: &str, at: OffsetDateTime) -> AuditDraft {
    AuditDraft {
        workspace_id: ws.to_string(),
        actor: "system".into(),
        action: action.into(),
        target: None,
        occurred_at_ms: (at.unix_timestamp_nanos() / 1_000_000) as i64,
        source_ip: None,
        user_agent: None,
        request_id: None,
        parameters: serde_json::json!({}),
    }
}

#[tokio::test]
async fn concurrent_appends_with_and_without_an_item_leave_one_gap_free_chain() {
    let (clients, config) = table().await;
    let ws = WorkspaceId::generate();
    let log = AuditLog::new(&clients, &config);
    let platform = tern_aws::Platform::new(config.clone(), clients.clone(), std::sync::Arc::new(tern_domain::clock::SystemClock));
    let scoped = platform.table().scope(tern_aws::Tenant::found(ws, tern_aws::Lookup::Observer));
    let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    let mut tasks: Vec<PrivacyTask> = (0..4).map(|i| PrivacyTask::queued(PrivacyTaskKind::WorkspaceExport, "u", i)).collect();
    for task in &mut tasks {
        task.state = TaskState::Done;
    }

    // Eight plain appends racing four that each mark a task done with their entry.
    let mut running = tokio::task::JoinSet::new();
    for i in 0..8 {
        let log = log.clone();
        running.spawn(async move {
            log.append(tern_aws::Tenant::found(ws, tern_aws::Lookup::Observer), draft(ws, &format!("plain.{i}"), now), now)
                .await
                .map(|_| ())
        });
    }
    for task in tasks.clone() {
        let (log, scoped) = (log.clone(), scoped.clone());
        running.spawn(
            async move { log.append_with(&scoped, draft(ws, &format!("task.{}", task.id), now), now, &task, None).await.map(|_| ()) },
        );
    }
    while let Some(done) = running.join_next().await {
        done.unwrap().expect("every append lands");
    }

    let entries = log.entries(ws, 0, 100).await.unwrap();
    assert_eq!(entries.len(), 12, "no entry lost or doubled");
    assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=12).collect::<Vec<_>>());
    verify_chain(&entries).expect("one chain, in order");
    for task in &tasks {
        let stored = scoped.get::<PrivacyTask>(&task.id).await.unwrap().expect("the item written with its entry");
        assert_eq!(stored.state, TaskState::Done);
        assert!(entries.iter().any(|e| e.action == format!("task.{}", task.id)));
    }
}
