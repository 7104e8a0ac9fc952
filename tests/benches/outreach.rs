//! What 1,000 e-mails cost the platform and how fast dispatch hands them over, on
//! the dev host against moto: `scripts/bench-outreach` (EMAILS=200 by default,
//! figures scaled to 1,000: every request is per e-mail except dispatch's per-tick
//! shard queries, so the scaling overstates those slightly). Not 1,000 by default
//! because moto deep-copies the whole table for each item of every DynamoDB
//! transaction, which makes a large run slow and memory-hungry there (not on AWS).
//!
//! N contacts are imported and enrolled in a one-step SES sequence that is due at
//! once. Dispatch runs until the due index is empty (timed: steps enqueued per
//! second), then the send worker takes the queue in batches of ten, as Lambda's SQS
//! event source would, including its ReceiveMessage and DeleteMessageBatch requests.
//! The cost meter counts every AWS request and the capacity DynamoDB reports.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use std::collections::HashMap;
use std::time::Instant;
use tern_domain::cost::PriceTable;

const PASSWORD: &str = "correct horse battery staple 42";

#[tokio::main]
async fn main() {
    tern_aws::logging::init();
    let emails: usize = std::env::var("EMAILS").ok().and_then(|n| n.parse().ok()).unwrap_or(200).clamp(10, 1000);
    let host = tern_devhost::DevHost::start(tern_devhost::DevHostOptions {
        aws_endpoint: tern_tests::aws_endpoint(),
        prefix: tern_tests::unique_prefix("bench-outreach"),
        bind: "127.0.0.1:0".parse().expect("loopback"),
        tick_every_seconds: None,
        poll_wait_seconds: 1,
        webhook_secret: tern_tests::WEBHOOK_SECRET.into(),
        website_fetch: Default::default(),
        mail_delivery: Default::default(),
        llm: Default::default(),
        manual_functions: vec!["SendFunction".into(), "DispatchFunction".into()],
        region: None,
    })
    .await
    .expect("dev host");
    let base = host.base_url();
    let client = reqwest::Client::new();
    let post = |path: String, token: Option<String>, body: serde_json::Value| {
        let request = client.post(format!("{base}{path}")).json(&body);
        let request = match token {
            Some(t) => request.bearer_auth(t),
            None => request,
        };
        async move {
            let response = request.send().await.expect("the dev host answers");
            assert!(response.status().is_success(), "{path}: {}", response.status());
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let signup = tern_tests::sign_up(
        &host,
        serde_json::json!({ "email": "bench@acme.example", "password": PASSWORD, "name": "Bench", "workspace_name": "Bench" }),
    )
    .await;
    let token = signup["access_token"].as_str().unwrap().to_string();
    let ws = signup["workspace_id"].as_str().unwrap().to_string();
    tern_tests::set_plan(&host, &ws, "pro").await;
    let mailbox = post(
        format!("/v1/workspaces/{ws}/mailboxes"),
        Some(token.clone()),
        serde_json::json!({
            "name": "SES", "from_email": "bench@acme.example", "provider": { "kind": "ses" }, "timezone": "UTC",
            "daily_cap": 10000, "warmup_start": 10000, "per_domain_hourly": 10000, "min_spacing_seconds": 0,
        }),
    )
    .await;
    let template = post(format!("/v1/workspaces/{ws}/templates"), Some(token.clone()), serde_json::json!({ "name": "t", "subject": "Hello {{first_name | there}}", "text": "Hi {{first_name | there}}, a short note from {{my_company}}." })).await;
    let always = serde_json::json!({ "days": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"], "opens": "00:00", "closes": "23:59" });
    let sequence = post(
        format!("/v1/workspaces/{ws}/sequences"),
        Some(token.clone()),
        serde_json::json!({
            "name": "bench", "mailbox_id": mailbox["id"], "timezone": "UTC", "window": always, "steps": [{ "template_id": template["id"] }],
        }),
    )
    .await;
    let mut csv = String::from("email,first_name\n");
    for i in 0..emails {
        csv.push_str(&format!("lead{i}@customer{}.example,Lead{i}\n", i % 97));
    }
    let imported = client
        .post(format!("{base}/v1/workspaces/{ws}/contacts/import"))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(imported["created"].as_u64(), Some(emails as u64), "{imported}");
    let enrolled = post(
        format!("/v1/workspaces/{ws}/sequences/{}/enrollments", sequence["id"].as_str().unwrap()),
        Some(token.clone()),
        serde_json::json!({ "filter": {} }),
    )
    .await;
    assert_eq!(enrolled["enrolled"].as_array().unwrap().len(), emails);
    // Past the window's opening minute for everyone.
    host.clock.advance(time::Duration::minutes(2)).unwrap();

    let dispatch = tern_tests::platform_of(&host);
    let smtp = tern_send::smtp::SmtpClient::new(tern_web::guard::Policy::mail(), std::sync::Arc::new(tern_web::fetch::SystemResolver));
    let send = tern_send::SendDeps::new(tern_tests::platform_of(&host), smtp);
    let queue = host.config.queue_url(tern_aws::QueueName::Send).unwrap().to_string();

    let before_dispatch = host.clients.meter().snapshot();
    let started = Instant::now();
    let mut enqueued = 0;
    loop {
        let report = tern_dispatch::handle(&dispatch, Default::default()).await.expect("dispatch");
        enqueued += report.steps_enqueued;
        if report.steps_due == 0 {
            break;
        }
    }
    let dispatch_seconds = started.elapsed().as_secs_f64();
    let after_dispatch = host.clients.meter().snapshot();
    assert_eq!(enqueued, emails as u64);

    // Built before the clock starts, once: the bench times sending, not client setup.
    let sqs = tern_tests::observe(&host).sqs;
    let started = Instant::now();
    let mut sent = 0;
    while sent < emails {
        let received = sqs.receive_message().queue_url(&queue).max_number_of_messages(10).send().await.unwrap();
        let messages = received.messages.unwrap_or_default();
        let mut event = SqsEvent::default();
        let mut handles = HashMap::new();
        for m in &messages {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id.clone();
            record.receipt_handle = m.receipt_handle.clone();
            record.body = m.body.clone();
            event.records.push(record);
            handles.insert(m.message_id.clone().unwrap_or_default(), m.receipt_handle.clone().unwrap_or_default());
        }
        let failed = tern_send::handle(&send, event).await.batch_item_failures;
        if let Some(first) = failed.first() {
            let body = messages
                .iter()
                .find(|m| m.message_id.as_deref() == Some(first.item_identifier.as_str()))
                .and_then(|m| m.body.clone())
                .unwrap();
            let job: tern_domain::jobs::SendJob = serde_json::from_str(&body).unwrap();
            panic!("a send failed: {:?}", tern_send::send_step(&send, &job).await);
        }
        if !messages.is_empty() {
            let mut delete = sqs.delete_message_batch().queue_url(&queue);
            for (i, handle) in handles.values().enumerate() {
                delete = delete.entries(
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(handle).build().unwrap(),
                );
            }
            delete.send().await.unwrap();
        }
        sent += messages.len();
    }
    let send_seconds = started.elapsed().as_secs_f64();
    let after_send = host.clients.meter().snapshot();

    let dispatch_spent = after_dispatch.since(&before_dispatch);
    let send_spent = after_send.since(&after_dispatch);
    let all = after_send.since(&before_dispatch);
    let per_thousand = 1000.0 / emails as f64;
    let prices = PriceTable::US_EAST_1;
    let platform = prices.platform_dollars(&all);
    println!("emails: {emails}");
    println!(
        "dispatch: {:.0} steps enqueued per second ({dispatch_seconds:.2} s), {:.2} AWS requests per step",
        emails as f64 / dispatch_seconds,
        dispatch_spent.total_requests() as f64 / emails as f64
    );
    println!(
        "send: {:.0} e-mails per second ({send_seconds:.2} s), {:.2} AWS requests per e-mail (SES call included)",
        emails as f64 / send_seconds,
        send_spent.total_requests() as f64 / emails as f64
    );
    println!("\ndispatch + send, all {emails} e-mails:\n{all}");
    println!("AWS requests per 1,000 e-mails: {:.0}", all.total_requests() as f64 * per_thousand);
    println!(
        "platform cost per 1,000 e-mails (everything but SES's own price): ${:.5} = {:.2}% of SES's $0.10",
        platform * per_thousand,
        platform * per_thousand / 0.10 * 100.0
    );
    host.stop().await;
}
