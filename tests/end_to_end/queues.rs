//! The dev host's SQS event-source mapping: partial batch failures, visibility
//! timeouts and dead-letter redrive, as Lambda's own mapping behaves; and a poison
//! job, which a worker records and acknowledges instead of leaving it to the redrive.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use aws_sdk_sqs::types::QueueAttributeName as A;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tern_aws::QueueName;
use tern_devhost::poller::{self, Poller};
use tern_tests::{aws_endpoint, eventually, queue_depth, start_dev_host, unique_prefix};

/// A queue with a dead-letter queue (redrive after `max_receives`) and a 1 s visibility timeout.
async fn queue_pair(sqs: &aws_sdk_sqs::Client, max_receives: u32) -> (String, String) {
    let prefix = unique_prefix("q");
    let dlq = sqs.create_queue().queue_name(format!("{prefix}-dlq")).send().await.unwrap().queue_url.unwrap();
    let dlq_arn = sqs.get_queue_attributes().queue_url(&dlq).attribute_names(A::QueueArn).send().await.unwrap().attributes.unwrap()
        [&A::QueueArn]
        .clone();
    let redrive = serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives });
    let queue = sqs
        .create_queue()
        .queue_name(format!("{prefix}-work"))
        .attributes(A::VisibilityTimeout, "1")
        .attributes(A::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (queue, dlq)
}

/// Runs a poller whose handler fails every record whose body starts with "fail",
/// and counts deliveries per body.
fn counting_poller(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    report_batch_item_failures: bool,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> (Poller, Arc<Mutex<BTreeMap<String, u32>>>) {
    let deliveries = Arc::new(Mutex::new(BTreeMap::<String, u32>::new()));
    let seen = deliveries.clone();
    let invoke: poller::Invoke = Arc::new(move |event| {
        let seen = seen.clone();
        Box::pin(async move {
            let mut response = SqsBatchResponse::default();
            for record in event.records {
                let body = record.body.unwrap_or_default();
                *seen.lock().unwrap().entry(body.clone()).or_default() += 1;
                if body.starts_with("fail") {
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = record.message_id.unwrap_or_default();
                    response.batch_item_failures.push(failure);
                }
            }
            Some(response)
        })
    });
    let poller = Poller {
        function: "CountingFunction".into(),
        invoke,
        sqs: sqs.clone(),
        queue_url: queue_url.to_string(),
        queue_arn: String::new(),
        batch_size: 10,
        report_batch_item_failures,
        wait_seconds: 1,
        shutdown,
    };
    (poller, deliveries)
}

async fn send_batch(sqs: &aws_sdk_sqs::Client, queue_url: &str, bodies: &[&str]) {
    let mut request = sqs.send_message_batch().queue_url(queue_url);
    for (i, body) in bodies.iter().enumerate() {
        request = request
            .entries(aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder().id(i.to_string()).message_body(*body).build().unwrap());
    }
    assert!(request.send().await.unwrap().failed.is_empty());
}

fn sqs_client() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&tern_aws::clients::local_sdk_config(&aws_endpoint()))
}

#[tokio::test]
async fn a_partially_failed_batch_redelivers_only_the_failed_records_until_they_are_dead_lettered() {
    let sqs = sqs_client();
    let (queue, dlq) = queue_pair(&sqs, 3).await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let (poller, deliveries) = counting_poller(&sqs, &queue, true, shutdown);
    let running = tokio::spawn(poller::run(poller));
    send_batch(&sqs, &queue, &["ok-1", "fail-1", "ok-2"]).await;

    eventually("the failed record in the DLQ", Duration::from_secs(30), || async { (queue_depth(&sqs, &dlq).await == 1).then_some(()) })
        .await;
    stop.send(true).unwrap();
    running.await.unwrap();

    let counts = deliveries.lock().unwrap().clone();
    assert_eq!(counts.get("ok-1"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("ok-2"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("fail-1"), Some(&3), "delivered maxReceiveCount times: {counts:?}");
    assert_eq!(queue_depth(&sqs, &queue).await, 0);
    let parked = sqs.receive_message().queue_url(&dlq).send().await.unwrap().messages.unwrap();
    assert_eq!(parked[0].body.as_deref(), Some("fail-1"));
}

#[tokio::test]
async fn without_batch_item_failures_one_failure_redelivers_the_whole_batch() {
    let sqs = sqs_client();
    let (queue, dlq) = queue_pair(&sqs, 2).await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let (poller, deliveries) = counting_poller(&sqs, &queue, false, shutdown);
    let running = tokio::spawn(poller::run(poller));
    send_batch(&sqs, &queue, &["ok-1", "fail-1"]).await;

    eventually("the whole batch in the DLQ", Duration::from_secs(30), || async { (queue_depth(&sqs, &dlq).await == 2).then_some(()) })
        .await;
    stop.send(true).unwrap();
    running.await.unwrap();
    let counts = deliveries.lock().unwrap().clone();
    assert_eq!(counts.get("ok-1"), Some(&2), "{counts:?}");
    assert_eq!(counts.get("fail-1"), Some(&2), "{counts:?}");
}

#[tokio::test]
async fn a_poison_job_is_recorded_and_acknowledged_not_retried_into_the_dead_letter_queue() {
    let host = start_dev_host("poison").await;
    let sqs = &tern_tests::observe(&host).sqs;
    let queue = host.config.queue_url(QueueName::Classify).unwrap().to_string();
    let dlq = host.provisioned.queue_urls["ClassifyDLQ"].clone();
    // The template's 60 s visibility timeout, shortened so that a job left
    // unacknowledged would come back within the test.
    sqs.set_queue_attributes().queue_url(&queue).attributes(A::VisibilityTimeout, "1").send().await.unwrap();
    // A receive already waiting (1 s long poll) keeps the timeout it started with.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let body = "{\"not\": \"a classify job\"}";
    let sent = sqs.send_message().queue_url(&queue).message_body(body).send().await.unwrap();
    let message_id = sent.message_id.unwrap();
    let platform = tern_tests::platform_of(&host);
    let poison = platform.poison();
    let kept =
        eventually("the poison job recorded", Duration::from_secs(30), || async { poison.get("classify", &message_id).await.unwrap() })
            .await;
    assert!(kept.reason.starts_with("body is not a valid job"), "{kept:?}");
    assert_eq!((kept.body_bytes, kept.receive_count), (body.len(), 1));
    // Acknowledged: gone from the queue (a message deleted cannot come back) and
    // never dead-lettered. (How often it was handled depends on the machine's speed
    // against the 1 s timeout; a redelivery finds it recorded and acknowledges it too.)
    eventually("the poison job acknowledged", Duration::from_secs(30), || async { (queue_depth(sqs, &queue).await == 0).then_some(()) })
        .await;
    assert_eq!(queue_depth(sqs, &dlq).await, 0);
    host.stop().await;
}
