//! Inbound mail through the dev host's HTTP port and the classify worker.

use std::time::Duration;
use tern_aws::table::Table;
use tern_domain::cost::PriceTable;
use tern_domain::ids::WorkspaceId;
use tern_domain::inbound::{DEFAULT_INBOUND_RETENTION, InboundMessage, InboundStatus};
use tern_tests::{WEBHOOK_SECRET, cloudmailin_raw_post, corpus_dir, eventually, observer_clients, start_dev_host};

/// The first corpus file with `label`, from labels.csv.
fn corpus_file(label: &str) -> Vec<u8> {
    let labels = std::fs::read_to_string(corpus_dir().join("inbound/labels.csv")).expect("labels.csv beside the repo");
    let path = labels
        .lines()
        .skip(1)
        .find_map(|line| {
            let mut fields = line.split(',');
            let (path, found) = (fields.next()?, fields.next()?);
            (found == label).then(|| path.to_string())
        })
        .expect("a corpus file with that label");
    std::fs::read(corpus_dir().join("inbound").join(path)).unwrap()
}

async fn post(base: &str, message: &[u8], to: &str, password: &str) -> reqwest::Response {
    let (content_type, body) = cloudmailin_raw_post(message, to);
    reqwest::Client::new()
        .post(format!("{base}/inbound/raw"))
        .basic_auth("cloudmailin", Some(password))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn wait_classified(table: &Table, workspace: WorkspaceId, id: &str) -> InboundMessage {
    let scoped = table.scope(workspace);
    eventually("classification", Duration::from_secs(20), || {
        let scoped = scoped.clone();
        let id = id.to_string();
        async move { scoped.get::<InboundMessage>(&id).await.unwrap().filter(|m| m.status != InboundStatus::Received) }
    })
    .await
}

#[tokio::test]
async fn a_bounce_posted_to_the_webhook_is_stored_classified_and_its_raw_mail_deleted() {
    let host = start_dev_host("inbound").await;
    let workspace = WorkspaceId::generate();
    let before = host.clients.meter.snapshot();

    let response = post(&host.base_url(), &corpus_file("bounce_hard"), &format!("reply+{workspace}@in.tern.local"), WEBHOOK_SECRET).await;
    assert_eq!(response.status(), 202);
    let accepted: serde_json::Value = response.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap().to_string();
    assert_eq!(accepted["workspace_id"], workspace.to_string());

    let observer = observer_clients();
    let table = Table::new(observer.dynamodb.clone(), host.config.table.clone());
    let message = wait_classified(&table, workspace, &id).await;
    assert_eq!(message.status, InboundStatus::Classified);
    assert_eq!(message.kind.as_deref(), Some("bounce_hard"));
    assert_eq!(message.transport.remote_ip.as_deref(), Some("198.51.100.25"));
    assert_eq!(message.transport.spf.as_deref(), Some("pass"));

    // Retention is set at write time: received + 60 days.
    let ttl = table.scope(workspace).expires_at::<InboundMessage>(&id).await.unwrap();
    assert_eq!(ttl, Some((message.received_at + DEFAULT_INBOUND_RETENTION).unix_timestamp()));

    // Data minimisation: the raw message is gone once classified.
    let key = tern_inbound::raw_object_key(workspace, &id);
    let gone = eventually("raw mail deletion", Duration::from_secs(10), || async {
        let head = observer.s3.head_object().bucket(&host.config.bucket).key(&key).send().await;
        head.is_err().then_some(())
    })
    .await;
    assert_eq!(gone, ());

    // What one inbound reply costs, from the cost meter. The pollers' receives vary
    // with timing, every other count is exact.
    let spent = eventually("the poller's acknowledgement", Duration::from_secs(10), || async {
        let spent = host.clients.meter.snapshot().since(&before);
        (spent.requests("sqs", "DeleteMessageBatch") > 0).then_some(spent)
    })
    .await;
    assert_eq!(spent.requests("s3", "PutObject"), 1, "{spent}");
    assert_eq!(spent.requests("sqs", "SendMessage"), 1, "{spent}");
    assert_eq!(spent.requests("dynamodb", "PutItem"), 2, "create, then record the verdict: {spent}");
    assert_eq!(spent.requests("dynamodb", "GetItem"), 2, "the message, then its workspace (this one has none, so nothing to link): {spent}");
    assert_eq!(spent.requests("s3", "GetObject"), 1, "{spent}");
    assert_eq!(spent.requests("s3", "DeleteObject"), 1, "{spent}");
    assert_eq!(spent.requests("sqs", "DeleteMessageBatch"), 1, "{spent}");
    assert!(spent.operations["dynamodb:PutItem"].write_units > 0.0, "capacity is read from the responses");
    let dollars = PriceTable::US_EAST_1.dollars(&spent);
    assert!(dollars > 0.0 && dollars < 0.0001, "one reply should cost well under a hundredth of a cent, got ${dollars}");
    host.stop().await;
}

#[tokio::test]
async fn a_provider_retry_of_the_same_post_is_stored_once() {
    let host = start_dev_host("inbound-retry").await;
    let workspace = WorkspaceId::generate();
    let mail = b"From: ann@customer.example\r\nSubject: Re: hello\r\nMessage-ID: <r1@customer.example>\r\n\r\nyes, Tuesday works\r\n";
    let to = format!("reply+{workspace}@in.tern.local");
    let first: serde_json::Value = post(&host.base_url(), mail, &to, WEBHOOK_SECRET).await.json().await.unwrap();
    let second: serde_json::Value = post(&host.base_url(), mail, &to, WEBHOOK_SECRET).await.json().await.unwrap();
    assert_eq!(first["id"], second["id"]);
    let table = Table::new(observer_clients().dynamodb.clone(), host.config.table.clone());
    let message = wait_classified(&table, workspace, first["id"].as_str().unwrap()).await;
    assert_eq!(message.kind.as_deref(), Some("human"));
    assert_eq!(message.snippet.as_deref(), Some("yes, Tuesday works"));
    host.stop().await;
}

#[tokio::test]
async fn bad_webhook_posts_get_clear_errors_and_store_nothing() {
    let host = start_dev_host("inbound-bad").await;
    let base = host.base_url();
    let workspace = WorkspaceId::generate();
    let to = format!("reply+{workspace}@in.tern.local");
    let mail = b"From: a@b.example\r\n\r\nhello\r\n";

    let cases: Vec<(reqwest::Response, u16, &str)> = vec![
        (post(&base, mail, &to, "wrong-secret").await, 401, "unauthorized"),
        (post(&base, mail, "reply@in.tern.local", WEBHOOK_SECRET).await, 422, "unknown_recipient"),
        (post(&base, mail, "reply+not-a-workspace@in.tern.local", WEBHOOK_SECRET).await, 422, "unknown_recipient"),
        (post(&base, &vec![b'x'; 13 * 1024 * 1024], &to, WEBHOOK_SECRET).await, 413, "payload_too_large"),
        (
            reqwest::Client::new()
                .post(format!("{base}/inbound/raw"))
                .basic_auth("cloudmailin", Some(WEBHOOK_SECRET))
                .header("content-type", "multipart/form-data; boundary=x")
                .body("--x\r\nContent-Disposition: form-data; name=\"envelope[to]\"\r\n\r\nreply+abc@x\r\n--x--\r\n")
                .send()
                .await
                .unwrap(),
            422,
            "missing_field",
        ),
        (
            reqwest::Client::new()
                .post(format!("{base}/inbound/raw"))
                .basic_auth("cloudmailin", Some(WEBHOOK_SECRET))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap(),
            400,
            "invalid_body",
        ),
        (
            reqwest::Client::new()
                .post(format!("{base}/inbound/sendgrid"))
                .basic_auth("cloudmailin", Some(WEBHOOK_SECRET))
                .send()
                .await
                .unwrap(),
            400,
            "unsupported_format",
        ),
    ];
    for (response, status, code) in cases {
        assert_eq!(response.status(), status, "expected {code}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code);
    }
    let stored = host.clients.s3.list_objects_v2().bucket(&host.config.bucket).prefix("inbound/").send().await.unwrap();
    assert_eq!(stored.key_count, Some(0), "nothing is stored for a refused post");
    assert_eq!(host.clients.meter.snapshot().requests("sqs", "SendMessage"), 0);
    host.stop().await;
}
