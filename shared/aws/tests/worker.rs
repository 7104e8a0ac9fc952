//! The worker loop against a real local DynamoDB (moto): a transient failure is
//! delivered again, a poison record is recorded with its reason and acknowledged
//! (once, however often SQS delivers it), and a poison record that cannot be
//! recorded is delivered again rather than dropped.
//!
//! Needs `TERN_TEST_AWS_ENDPOINT` (scripts/test starts moto and sets it).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use std::sync::{Arc, Mutex};
use tern_aws::worker::{JobError, PoisonLog, process_batch};
use tern_domain::clock::{FixedClock, SharedClock};
use time::OffsetDateTime;

async fn platform() -> (tern_aws::AwsClients, tern_aws::Config) {
    let endpoint = std::env::var("TERN_TEST_AWS_ENDPOINT")
        .unwrap_or_else(|_| panic!("TERN_TEST_AWS_ENDPOINT is not set: run the tests with scripts/test, which starts moto for them"));
    let clients = tern_aws::AwsClients::from_sdk_config(&tern_aws::clients::local_sdk_config(&endpoint), true);
    let template = tern_aws::template::Template::load(&tern_aws::template::repository_root().join("template.yaml")).unwrap();
    let prefix = format!("t-worker-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let (config, _) = tern_aws::provision::provision(&template, &clients, &prefix).await.expect("provisioned on moto");
    (clients, config)
}

fn record(id: &str, body: &str, receive_count: u32) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(id.into());
    m.body = Some(body.into());
    m.attributes.insert("ApproximateReceiveCount".into(), receive_count.to_string());
    m
}

#[derive(serde::Deserialize)]
struct Job {
    n: i32,
}

/// Positive jobs succeed, negative ones fail transiently, zero is poison.
async fn run(poison: &PoisonLog, records: Vec<SqsMessage>, seen: &Mutex<Vec<i32>>) -> Vec<String> {
    let mut event = SqsEvent::default();
    event.records = records;
    let response = process_batch("test", poison, event, |job: Job, _| {
        seen.lock().unwrap().push(job.n);
        async move {
            match job.n {
                0 => Err(JobError::Poison("zero is not a job".into())),
                n if n < 0 => Err(JobError::Transient("negative".into())),
                _ => Ok(()),
            }
        }
    })
    .await;
    response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
}

#[tokio::test]
async fn transient_failures_come_back_and_poison_is_recorded_and_acknowledged_once() {
    let (clients, config) = platform().await;
    let at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    let clock: SharedClock = Arc::new(FixedClock::at(at));
    let poison = tern_aws::Platform::new(config.clone(), clients.clone(), clock.clone()).poison().clone();
    let seen = Mutex::new(Vec::new());
    let records = vec![
        record("ok", r#"{"n":1}"#, 1),
        record("not-json", "{ this is not a job", 1),
        record("flaky", r#"{"n":-1}"#, 2),
        record("zero", r#"{"n":0}"#, 1),
    ];
    let again = run(&poison, records, &seen).await;
    assert_eq!(again, ["flaky"], "only the transient failure is delivered again");
    assert_eq!(*seen.lock().unwrap(), [1, -1, 0], "the undecodable body never reached the handler");

    let kept = poison.get("test", "not-json").await.unwrap().expect("the undecodable body is recorded");
    assert!(kept.reason.starts_with("body is not a valid job"), "{kept:?}");
    assert_eq!((kept.body_bytes, kept.receive_count, kept.recorded_at), ("{ this is not a job".len(), 1, at.unix_timestamp()));
    assert_eq!(kept.body_sha256.len(), 64);
    let zero = poison.get("test", "zero").await.unwrap().expect("a poison job is recorded");
    assert_eq!(zero.reason, "zero is not a job");
    assert!(poison.get("test", "ok").await.unwrap().is_none() && poison.get("test", "flaky").await.unwrap().is_none());

    // SQS delivers the poison record again (its acknowledgement was lost): still
    // acknowledged, and the first record stays as it was.
    let later: SharedClock = Arc::new(FixedClock::at(clock.now() + time::Duration::hours(1)));
    let again = run(
        &tern_aws::Platform::new(config.clone(), clients.clone(), later).poison().clone(),
        vec![record("zero", r#"{"n":0}"#, 2)],
        &seen,
    )
    .await;
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(poison.get("test", "zero").await.unwrap().unwrap(), zero);
}

#[tokio::test]
async fn a_poison_job_that_cannot_be_recorded_is_delivered_again_not_dropped() {
    let (clients, mut config) = platform().await;
    config.table = format!("{}-missing", config.table);
    let clock: SharedClock = Arc::new(FixedClock::at(OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000)));
    let poison = tern_aws::Platform::new(config.clone(), clients.clone(), clock).poison().clone();
    let again = run(&poison, vec![record("zero", r#"{"n":0}"#, 1), record("ok", r#"{"n":3}"#, 1)], &Mutex::new(Vec::new())).await;
    assert_eq!(again, ["zero"]);
}
