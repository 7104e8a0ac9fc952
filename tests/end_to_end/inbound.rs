//! Inbound mail through the dev host's HTTP port and the classify worker: every
//! CloudMailin format, the platform webhook and a workspace's own (basic or
//! HMAC-signed), SES inbound through the feedback queue, routing by reply and
//! List-Unsubscribe tokens, and what is refused (401/413/422, nothing stored).

use crate::outreach::{
    contact_ids, default_sequence, header, host_with_sink, import, ok, set_clock, sign_up, smtp_mailbox, tick_dispatch, to, token,
};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use tern_aws::table::Table;
use tern_devhost::DevHost;
use tern_domain::cost::PriceTable;
use tern_domain::ids::WorkspaceId;
use tern_domain::inbound::{DEFAULT_INBOUND_RETENTION, InboundMessage, InboundStatus};
use tern_tests::{WEBHOOK_SECRET, call, cloudmailin_raw_post, corpus_dir, eventually, observer_clients, repo_path, start_dev_host};
use time::macros::datetime;

/// A workspace of its own on the host (inbound mail for unknown workspaces is refused).
async fn workspace(host: &DevHost, name: &str) -> (String, WorkspaceId) {
    let (owner, ws) = sign_up(host, &format!("owner@{name}.example"), "growth").await;
    (owner, WorkspaceId::parse(&ws).unwrap())
}

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

pub(crate) async fn post(base: &str, message: &[u8], to: &str, password: &str) -> reqwest::Response {
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

pub(crate) async fn wait_classified(table: &Table, workspace: WorkspaceId, id: &str) -> InboundMessage {
    let scoped = table.scope(tern_tests::observed(workspace));
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
    let (_, workspace) = self::workspace(&host, "inbound-cost").await;
    let before = host.clients.meter().snapshot();

    let response = post(&host.base_url(), &corpus_file("bounce_hard"), &format!("reply+{workspace}@in.tern.test"), WEBHOOK_SECRET).await;
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
    let ttl = table.scope(tern_tests::observed(workspace)).expires_at::<InboundMessage>(&id).await.unwrap();
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
        let spent = host.clients.meter().snapshot().since(&before);
        (spent.requests("sqs", "DeleteMessageBatch") > 0).then_some(spent)
    })
    .await;
    assert_eq!(spent.requests("s3", "PutObject"), 1, "{spent}");
    assert_eq!(spent.requests("sqs", "SendMessage"), 1, "{spent}");
    // The bounce names no message of ours and its sender is not vouched for by the
    // provider (SPF passed for another domain), so no blind index is computed: no
    // blind-index key, no look-up among the enrollments.
    assert_eq!(
        spent.requests("dynamodb", "PutItem"),
        3,
        "create, the text (its own item, under the body window), then the verdict: {spent}"
    );
    assert_eq!(spent.requests("dynamodb", "GetItem"), 3, "the workspace (webhook), the message, the workspace (worker): {spent}");
    assert_eq!(spent.requests("dynamodb", "Query"), 1, "its mailboxes (own mail?): {spent}");
    assert_eq!(spent.requests("kms", "GenerateDataKey"), 0, "{spent}");
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
    let (_, workspace) = self::workspace(&host, "inbound-retry").await;
    let mail = b"From: ann@customer.example\r\nSubject: Re: hello\r\nMessage-ID: <r1@customer.example>\r\n\r\nyes, Tuesday works\r\n";
    let to = format!("reply+{workspace}@in.tern.test");
    let first: serde_json::Value = post(&host.base_url(), mail, &to, WEBHOOK_SECRET).await.json().await.unwrap();
    let second: serde_json::Value = post(&host.base_url(), mail, &to, WEBHOOK_SECRET).await.json().await.unwrap();
    assert_eq!(first["id"], second["id"]);
    let table = Table::new(observer_clients().dynamodb.clone(), host.config.table.clone());
    let message = wait_classified(&table, workspace, first["id"].as_str().unwrap()).await;
    assert_eq!(message.kind.as_deref(), Some("human"));
    assert_eq!(message.snippet, None, "the text is kept apart from the metadata");
    let text = table
        .scope(tern_tests::observed(workspace))
        .get::<tern_aws::entities::InboundText>(first["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(text.snippet.as_deref(), Some("yes, Tuesday works"));
    host.stop().await;
}

#[tokio::test]
async fn bad_webhook_posts_get_clear_errors_and_store_nothing() {
    let host = start_dev_host("inbound-bad").await;
    let base = host.base_url();
    let (_, workspace) = self::workspace(&host, "inbound-bad").await;
    let before = host.clients.meter().snapshot();
    let to = format!("reply+{workspace}@in.tern.test");
    let mail = b"From: a@b.example\r\n\r\nhello\r\n";

    let cases: Vec<(reqwest::Response, u16, &str)> = vec![
        (post(&base, mail, &to, "wrong-secret").await, 401, "unauthorized"),
        (post(&base, mail, "reply@in.tern.test", WEBHOOK_SECRET).await, 422, "unknown_recipient"),
        (post(&base, mail, "reply+not-a-workspace@in.tern.test", WEBHOOK_SECRET).await, 422, "unknown_recipient"),
        (post(&base, mail, &format!("reply+{}@in.tern.test", WorkspaceId::generate()), WEBHOOK_SECRET).await, 422, "unknown_recipient"),
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
    let stored = tern_tests::observe(&host).s3.list_objects_v2().bucket(&host.config.bucket).prefix("inbound/").send().await.unwrap();
    assert_eq!(stored.key_count, Some(0), "nothing is stored for a refused post");
    let spent = host.clients.meter().snapshot().since(&before);
    assert_eq!(spent.requests("sqs", "SendMessage"), 0);
    let kept = spent.requests("dynamodb", "PutItem");
    assert_eq!(kept, 0, "no metadata is recorded for a refused post");
    host.stop().await;
}

/// A CloudMailin capture (HTTP head, blank line, body) with its recipient
/// replaced: the request's Content-Type and body.
fn capture(path: &std::path::Path, recipient: &str) -> (String, Vec<u8>) {
    let text = String::from_utf8(std::fs::read(path).unwrap()).unwrap();
    let text =
        text.replace("5dae6f85cd65d30d384a@cloudmailin.net", recipient).replace("reply+01JDW0EXAMPLE0WORKSPACE0ID@in.tern.test", recipient);
    let split = [text.find("\r\n\r\n").map(|i| (i, i + 4)), text.find("\n\n").map(|i| (i, i + 2))].into_iter().flatten().min().unwrap();
    let (head, body) = (&text[..split.0], &text[split.1..]);
    let content_type = head.lines().find_map(|l| l.strip_prefix("Content-Type: ")).unwrap().trim().to_string();
    (content_type, body.as_bytes().to_vec())
}

async fn post_capture(host: &DevHost, format: &str, (content_type, body): (String, Vec<u8>)) -> serde_json::Value {
    let response = reqwest::Client::new()
        .post(format!("{}/inbound/{format}", host.base_url()))
        .basic_auth("cloudmailin", Some(WEBHOOK_SECRET))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{format}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn every_cloudmailin_format_is_taken_in_with_its_transport_facts() {
    let host = start_dev_host("inbound-formats").await;
    let (owner, workspace) = self::workspace(&host, "inbound-formats").await;
    let to = format!("reply+{workspace}@in.tern.test");
    let captures = corpus_dir().join("formats/cloudmailin-captures");
    let fixtures = repo_path("shared/mail/tests/fixtures/webhooks");
    let table = Table::new(observer_clients().dynamodb.clone(), host.config.table.clone());

    // The same real message in the three formats is read the same way.
    let mut seen = Vec::new();
    for format in ["raw", "json", "multipart"] {
        let accepted = post_capture(&host, format, capture(&captures.join(format!("{format}__valid.txt")), &to)).await;
        let message = wait_classified(&table, workspace, accepted["id"].as_str().unwrap()).await;
        assert_eq!(message.transport.provider, "cloudmailin");
        assert_eq!(message.transport.envelope_to, to);
        assert_eq!(message.transport.spf.as_deref(), Some("pass"), "{format}");
        assert!(message.transport.remote_ip.as_deref().is_some_and(|ip| ip.starts_with("209.85.")), "{format}: {:?}", message.transport);
        seen.push((message.kind.clone(), message.from.clone(), message.subject.clone()));
    }
    assert!(seen.iter().all(|s| s == &(Some("human".into()), Some("james@opennorth.ca".into()), Some("Test".into()))), "{seen:?}");

    // Normalised JSON: an out-of-office with TLS, DKIM and DMARC verdicts; normalised
    // multipart: a bounce whose delivery-status came as an attachment.
    let ooo = post_capture(&host, "json", capture(&fixtures.join("json__normalized_ooo.txt"), &to)).await;
    let ooo = wait_classified(&table, workspace, ooo["id"].as_str().unwrap()).await;
    assert_eq!((ooo.kind.as_deref(), ooo.return_date.as_deref()), (Some("auto_reply_ooo"), Some("2026-12-04")));
    // Its Authentication-Results header is the message's own text: not read as verdicts.
    assert_eq!((ooo.transport.tls, ooo.transport.dkim.as_deref(), ooo.transport.dmarc.as_deref()), (Some(true), None, None));
    let bounce = post_capture(&host, "multipart", capture(&fixtures.join("multipart__normalized_bounce.txt"), &to)).await;
    let bounce = wait_classified(&table, workspace, bounce["id"].as_str().unwrap()).await;
    assert_eq!((bounce.kind.as_deref(), bounce.status_code.as_deref()), (Some("bounce_hard"), Some("5.1.1")));
    assert_eq!(bounce.transport.tls, Some(false));

    // What the workspace sees: metadata only, never a body.
    let (_, page) =
        call(&host, Method::GET, &format!("/v1/workspaces/{workspace}/inbound/messages?kind=auto_reply_ooo"), Some(&owner), None).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["return_date"], "2026-12-04");
    assert!(items[0]["snippet"].as_str().is_some_and(|s| s.starts_with("Vielen Dank") && s.chars().count() <= 500), "{page}");
    assert!(items[0].get("body").is_none() && items[0].get("plain").is_none());
    host.stop().await;
}

#[tokio::test]
async fn a_workspace_webhook_takes_basic_or_signed_posts_and_refuses_everything_else() {
    let host = start_dev_host("inbound-own").await;
    let (owner, workspace) = self::workspace(&host, "inbound-own").await;
    let (_, other) = self::workspace(&host, "inbound-own-other").await;
    let created = ok(&host, Method::POST, &format!("/v1/workspaces/{workspace}/inbound/credential"), &owner, json!({})).await;
    let (username, secret) = (created["username"].as_str().unwrap().to_string(), created["secret"].as_str().unwrap().to_string());
    assert!(
        created["urls"].as_array().unwrap().iter().any(|u| u.as_str().unwrap().ends_with(&format!("/inbound/workspaces/{workspace}/json")))
    );
    let (_, shown) = call(&host, Method::GET, &format!("/v1/workspaces/{workspace}/inbound/credential"), Some(&owner), None).await;
    assert!(shown.get("secret").is_none(), "the secret is shown once: {shown}");

    let url = |ws: WorkspaceId, format: &str| format!("{}/inbound/workspaces/{ws}/{format}", host.base_url());
    let mail = |n: u32| {
        format!(
            "From: Lee <lee@prospect.example>\r\nTo: ann@acme.example\r\nSubject: Re: hi\r\nMessage-ID: <own-{n}@prospect.example>\r\n\r\nSounds good, call me.\r\n"
        )
    };
    let json_post = |n: u32| {
        json!({ "envelope": { "to": "ann@acme.example", "from": "lee@prospect.example" }, "headers": { "from": "Lee <lee@prospect.example>", "subject": "Re: hi", "message_id": format!("<own-{n}@prospect.example>") }, "plain": "Sounds good." }).to_string()
    };
    let now = {
        use tern_domain::clock::Clock;
        host.clock.now().unix_timestamp()
    };
    let signed = |body: &str, at: i64, key: &str| {
        format!("t={at},v1={}", data_encoding::HEXLOWER.encode(&tern_inbound::signature_of(key.as_bytes(), at, body.as_bytes())))
    };
    let client = reqwest::Client::new();

    // Basic, to any address of the workspace's own provider.
    let (content_type, body) = cloudmailin_raw_post(mail(1).as_bytes(), "ann@acme.example");
    let basic = client
        .post(url(workspace, "raw"))
        .basic_auth(&username, Some(&secret))
        .header("content-type", &content_type)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 202);
    // Signed.
    let body_json = json_post(2);
    let response = client
        .post(url(workspace, "json"))
        .header("x-tern-signature", signed(&body_json, now, &secret))
        .header("content-type", "application/json")
        .body(body_json.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);

    // Refused, each with 401 and nothing stored.
    let refusals = vec![
        ("no credentials", client.post(url(workspace, "json")).body(json_post(3)).send().await.unwrap()),
        (
            "wrong secret",
            client
                .post(url(workspace, "raw"))
                .basic_auth(&username, Some("wrong"))
                .header("content-type", &content_type)
                .body(body.clone())
                .send()
                .await
                .unwrap(),
        ),
        (
            "wrong user",
            client
                .post(url(workspace, "raw"))
                .basic_auth("someone", Some(&secret))
                .header("content-type", &content_type)
                .body(body.clone())
                .send()
                .await
                .unwrap(),
        ),
        (
            "another workspace's door",
            client
                .post(url(other, "raw"))
                .basic_auth(&username, Some(&secret))
                .header("content-type", &content_type)
                .body(body.clone())
                .send()
                .await
                .unwrap(),
        ),
        (
            "no such workspace",
            client
                .post(url(WorkspaceId::generate(), "raw"))
                .basic_auth(&username, Some(&secret))
                .header("content-type", &content_type)
                .body(body.clone())
                .send()
                .await
                .unwrap(),
        ),
        (
            "signature of another body",
            client
                .post(url(workspace, "json"))
                .header("x-tern-signature", signed(&json_post(4), now, &secret))
                .body(json_post(5))
                .send()
                .await
                .unwrap(),
        ),
        (
            "stale signature",
            client
                .post(url(workspace, "json"))
                .header("x-tern-signature", signed(&json_post(6), now - 600, &secret))
                .body(json_post(6))
                .send()
                .await
                .unwrap(),
        ),
        (
            "wrong key",
            client
                .post(url(workspace, "json"))
                .header("x-tern-signature", signed(&json_post(7), now, "not-the-secret"))
                .body(json_post(7))
                .send()
                .await
                .unwrap(),
        ),
        (
            "platform secret on a workspace door",
            client
                .post(url(workspace, "raw"))
                .basic_auth("cloudmailin", Some(WEBHOOK_SECRET))
                .header("content-type", &content_type)
                .body(body.clone())
                .send()
                .await
                .unwrap(),
        ),
    ];
    for (case, response) in refusals {
        assert_eq!(response.status(), 401, "{case}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "unauthorized", "{case}");
    }

    // Rotation: the old secret stops working at once.
    let rotated = ok(&host, Method::POST, &format!("/v1/workspaces/{workspace}/inbound/credential"), &owner, json!({})).await;
    assert_ne!(rotated["secret"], created["secret"]);
    let old = client
        .post(url(workspace, "raw"))
        .basic_auth(&username, Some(&secret))
        .header("content-type", &content_type)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401);
    // Revoked: nothing gets in.
    let (status, _) = call(&host, Method::DELETE, &format!("/v1/workspaces/{workspace}/inbound/credential"), Some(&owner), None).await;
    assert_eq!(status, 204);
    let new_secret = rotated["secret"].as_str().unwrap();
    let revoked = client
        .post(url(workspace, "raw"))
        .basic_auth(&username, Some(new_secret))
        .header("content-type", &content_type)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 401);

    // Exactly the two accepted posts were stored, in this workspace only.
    let table = Table::new(observer_clients().dynamodb.clone(), host.config.table.clone());
    let stored = table.scope(tern_tests::observed(workspace)).list_all::<InboundMessage>().await.unwrap();
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(table.scope(tern_tests::observed(other)).list_all::<InboundMessage>().await.unwrap().is_empty());
    let (_, audit) = call(&host, Method::GET, &format!("/v1/workspaces/{workspace}/audit"), Some(&owner), None).await;
    let actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "inbound.credential_created").count(), 2, "{actions:?}");
    assert!(actions.contains(&"inbound.credential_revoked"), "{actions:?}");
    host.stop().await;
}

/// The signature's timestamp is the sender's number: the ends of i64 (which made
/// `(now - t).abs()` overflow and answer 500) are refused like any stale signature.
#[tokio::test]
async fn a_signature_timestamp_at_the_ends_of_i64_is_refused_not_a_panic() {
    let host = start_dev_host("inbound-overflow").await;
    let (owner, workspace) = self::workspace(&host, "inbound-overflow").await;
    let created = ok(&host, Method::POST, &format!("/v1/workspaces/{workspace}/inbound/credential"), &owner, json!({})).await;
    let secret = created["secret"].as_str().unwrap().to_string();
    let body = json!({ "envelope": { "to": "ann@acme.example", "from": "lee@prospect.example" }, "headers": { "from": "lee@prospect.example", "subject": "hi" }, "plain": "hi" }).to_string();
    for at in [i64::MIN, i64::MIN + 1, i64::MAX, -1] {
        // Correctly signed under the workspace's secret: only the time is wrong.
        let signature =
            format!("t={at},v1={}", data_encoding::HEXLOWER.encode(&tern_inbound::signature_of(secret.as_bytes(), at, body.as_bytes())));
        let response = reqwest::Client::new()
            .post(format!("{}/inbound/workspaces/{workspace}/json", host.base_url()))
            .header("x-tern-signature", signature)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "t={at}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "unauthorized", "t={at}");
    }
    let table = Table::new(observer_clients().dynamodb.clone(), host.config.table.clone());
    assert!(table.scope(tern_tests::observed(workspace)).list_all::<InboundMessage>().await.unwrap().is_empty());
    host.stop().await;
}

/// SES inbound: the receipt rule writes the message under `ses-inbound/` and
/// notifies the feedback topic; here the test plays SES and SNS.
async fn ses_receipt(host: &DevHost, recipient: &str, raw: &[u8], inline: bool) {
    let ses_id = tern_domain::ids::RequestId::generate().to_string().replace('-', "");
    let mut receipt = json!({
        "notificationType": "Received",
        "receipt": {
            "recipients": [recipient],
            "spfVerdict": { "status": "PASS" }, "dkimVerdict": { "status": "PASS" }, "dmarcVerdict": { "status": "PASS" },
            "spamVerdict": { "status": "PASS" }, "virusVerdict": { "status": "PASS" },
        },
        "mail": { "source": "lead@customer.example", "messageId": ses_id, "destination": [recipient], "headers": [] },
    });
    if inline {
        receipt["receipt"]["action"] = json!({ "type": "SNS", "encoding": "BASE64" });
        receipt["content"] = json!(data_encoding::BASE64.encode(raw));
    } else {
        let key = format!("ses-inbound/{ses_id}");
        tern_tests::observe(host).s3.put_object().bucket(&host.config.bucket).key(&key).body(raw.to_vec().into()).send().await.unwrap();
        receipt["receipt"]["action"] = json!({ "type": "S3", "bucketName": host.config.bucket, "objectKey": key });
    }
    let envelope = json!({ "Type": "Notification", "Message": receipt.to_string() });
    let queue = host.config.queue_url(tern_aws::QueueName::Feedback).unwrap();
    tern_tests::observe(host).sqs.send_message().queue_url(queue).message_body(envelope.to_string()).send().await.unwrap();
}

/// An outbound e-mail, then replies that carry no thread headers and come from
/// other addresses: routed by the tokens in the addresses they were sent to.
#[tokio::test]
async fn ses_inbound_mail_is_routed_by_reply_and_unsubscribe_tokens() {
    let (host, sink) = host_with_sink("inbound-ses").await;
    set_clock(&host, datetime!(2027-06-07 09:00 UTC)); // a Monday
    let email = "ann@inbound-ses.example";
    let (owner, ws) = sign_up(&host, email, "growth").await;
    let mailbox = smtp_mailbox(&host, &owner, &ws, &sink).await;
    let sequence = default_sequence(&host, &owner, &ws, &mailbox, false).await;
    import(&host, &owner, &ws, "email,first_name\ncarla@lead-one.example,Carla\ndev@lead-two.example,Dev\n").await;
    let contacts = contact_ids(&host, &owner, &ws).await;
    let ids: Vec<&String> = contacts.values().collect();
    ok(&host, Method::POST, &format!("/v1/workspaces/{ws}/sequences/{sequence}/enrollments"), &owner, json!({ "contact_ids": ids })).await;
    let first_steps = eventually("the first steps", Duration::from_secs(30), || async {
        tick_dispatch(&host).await;
        let (carla, dev) = (to(&sink, "carla@lead-one.example"), to(&sink, "dev@lead-two.example"));
        (!carla.is_empty() && !dev.is_empty()).then(|| (carla[0].clone(), dev[0].clone()))
    })
    .await;
    let mailto = |message: &[u8]| {
        let list = header(message, "List-Unsubscribe").unwrap();
        list.split(',').map(|p| p.trim().trim_matches(['<', '>'])).find_map(|u| u.strip_prefix("mailto:")).unwrap().to_string()
    };

    // Carla's assistant writes from another address, to the reply address that
    // carries Carla's token, with no In-Reply-To: the token links it.
    let carla_unsubscribe = mailto(&first_steps.0);
    let token_part = carla_unsubscribe.split_once('+').unwrap().1.split_once('@').unwrap().0.to_string();
    let reply_to = format!("reply+{ws}.{token_part}@in.tern.test");
    let reply = format!(
        "From: Assistant <office@lead-one.example>\r\nTo: {reply_to}\r\nSubject: Carla\r\nMessage-ID: <asst-1@lead-one.example>\r\n\r\nCarla asked me to say she is interested, please call her on Thursday.\r\n"
    );
    ses_receipt(&host, &reply_to, reply.as_bytes(), false).await;
    // Dev writes to the List-Unsubscribe mailto: address, saying nothing in words.
    let dev_unsubscribe = mailto(&first_steps.1);
    let request =
        format!("From: dev@lead-two.example\r\nTo: {dev_unsubscribe}\r\nSubject: \r\nMessage-ID: <unsub-1@lead-two.example>\r\n\r\n\r\n");
    ses_receipt(&host, &dev_unsubscribe, request.as_bytes(), true).await;

    let states = eventually("both enrollments stopped", Duration::from_secs(30), || async {
        let owner = token(&host, email).await;
        let (_, page) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/enrollments?limit=10"), Some(&owner), None).await;
        let states: Vec<(String, String)> = page["enrollments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["contact_id"].as_str().unwrap().to_string(), e["state"]["reason"].as_str().unwrap_or_default().to_string()))
            .collect();
        states.iter().all(|(_, reason)| !reason.is_empty()).then_some(states)
    })
    .await;
    let reason_of = |address: &str| states.iter().find(|(c, _)| c == &contacts[address]).unwrap().1.clone();
    assert_eq!(reason_of("carla@lead-one.example"), "replied");
    assert_eq!(reason_of("dev@lead-two.example"), "unsubscribed");
    let owner = token(&host, email).await;
    let (_, dev) =
        call(&host, Method::GET, &format!("/v1/workspaces/{ws}/contacts/{}", contacts["dev@lead-two.example"]), Some(&owner), None).await;
    assert_eq!(dev["suppressed"], true, "{dev}");
    let (_, carla) =
        call(&host, Method::GET, &format!("/v1/workspaces/{ws}/contacts/{}", contacts["carla@lead-one.example"]), Some(&owner), None).await;
    assert_eq!(carla["suppressed"], false, "a reply is not an unsubscribe: {carla}");

    // The metadata names the transport and the route; SES's own copy is gone.
    let (_, page) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/inbound/messages"), Some(&owner), None).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    assert!(
        items.iter().all(|m| m["transport"]["provider"] == "ses" && m["transport"]["dkim"] == "pass" && m["enrollment_id"].is_string()),
        "{page}"
    );
    let mut linked_by: Vec<&str> = items.iter().filter_map(|m| m["linked_by"].as_str()).collect();
    linked_by.sort();
    assert_eq!(linked_by, ["reply_token", "unsubscribe_token"], "{page}");
    let left = tern_tests::observe(&host).s3.list_objects_v2().bucket(&host.config.bucket).prefix("ses-inbound/").send().await.unwrap();
    assert_eq!(left.key_count, Some(0), "SES's copy is deleted once taken in");
    host.stop().await;
}

#[tokio::test]
async fn inbound_metadata_is_kept_for_the_workspace_retention_window() {
    let host = start_dev_host("inbound-retention").await;
    let (owner, workspace) = self::workspace(&host, "inbound-retention").await;
    let (status, refused) =
        call(&host, Method::PATCH, &format!("/v1/workspaces/{workspace}"), Some(&owner), Some(json!({ "inbound_retention_days": 0 })))
            .await;
    assert_eq!((status.as_u16(), refused["error"]["code"].as_str()), (422, Some("invalid_retention")));
    let changed = ok(&host, Method::PATCH, &format!("/v1/workspaces/{workspace}"), &owner, json!({ "inbound_retention_days": 14 })).await;
    assert_eq!(changed["inbound_retention_days"], 14);
    let mail = b"From: lee@prospect.example\r\nSubject: Re: hi\r\nMessage-ID: <ret-1@prospect.example>\r\n\r\nsure\r\n";
    let accepted: serde_json::Value =
        post(&host.base_url(), mail, &format!("reply+{workspace}@in.tern.test"), WEBHOOK_SECRET).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    let table = Table::new(observer_clients().dynamodb.clone(), host.config.table.clone());
    let message = wait_classified(&table, workspace, id).await;
    let ttl = table.scope(tern_tests::observed(workspace)).expires_at::<InboundMessage>(id).await.unwrap();
    assert_eq!(ttl, Some((message.received_at + time::Duration::days(14)).unix_timestamp()));
    host.stop().await;
}

/// One enrollment whose first step was sent to Carla: the host, the workspace, the
/// owner's e-mail and the message she received.
async fn carla_enrolled(name: &str) -> (DevHost, tern_mailsink::MailSink, String, String, Vec<u8>) {
    let (host, sink) = host_with_sink(name).await;
    set_clock(&host, datetime!(2027-06-07 09:00 UTC)); // a Monday
    let email = format!("ann@{name}.example");
    let (owner, ws) = sign_up(&host, &email, "growth").await;
    let mailbox = smtp_mailbox(&host, &owner, &ws, &sink).await;
    let sequence = default_sequence(&host, &owner, &ws, &mailbox, false).await;
    import(&host, &owner, &ws, "email,first_name\ncarla@lead-one.example,Carla\ndev@lead-two.example,Dev\n").await;
    let contacts = contact_ids(&host, &owner, &ws).await;
    let ids: Vec<&String> = contacts.values().collect();
    ok(&host, Method::POST, &format!("/v1/workspaces/{ws}/sequences/{sequence}/enrollments"), &owner, json!({ "contact_ids": ids })).await;
    let first = eventually("the first steps", Duration::from_secs(30), || async {
        tick_dispatch(&host).await;
        let (carla, dev) = (to(&sink, "carla@lead-one.example"), to(&sink, "dev@lead-two.example"));
        (!carla.is_empty() && !dev.is_empty()).then(|| carla[0].clone())
    })
    .await;
    (host, sink, email, ws, first)
}

/// The enrollments' states by contact address, and the inbound messages, once `count` are classified.
async fn after_classification(
    host: &DevHost,
    email: &str,
    ws: &str,
    count: usize,
) -> (std::collections::BTreeMap<String, serde_json::Value>, Vec<serde_json::Value>) {
    let items = eventually("the inbound mail classified", Duration::from_secs(30), || async {
        let owner = token(host, email).await;
        let (_, page) = call(host, Method::GET, &format!("/v1/workspaces/{ws}/inbound/messages"), Some(&owner), None).await;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        (items.len() == count && items.iter().all(|m| m["status"] != "received")).then_some(items)
    })
    .await;
    let owner = token(host, email).await;
    let contacts = contact_ids(host, &owner, ws).await;
    let (_, page) = call(host, Method::GET, &format!("/v1/workspaces/{ws}/enrollments?limit=10"), Some(&owner), None).await;
    let mut states = std::collections::BTreeMap::new();
    for (address, id) in &contacts {
        let enrollment = page["enrollments"].as_array().unwrap().iter().find(|e| e["contact_id"] == json!(id)).unwrap().clone();
        let (_, contact) = call(host, Method::GET, &format!("/v1/workspaces/{ws}/contacts/{id}"), Some(&owner), None).await;
        states.insert(address.clone(), json!({ "state": enrollment["state"], "suppressed": contact["suppressed"] }));
    }
    (states, items)
}

/// A reply as an attacker writes it: Carla's address in From, no thread headers,
/// and an Authentication-Results header of its own claiming every check passed.
fn forged(text: &str) -> String {
    format!(
        "Authentication-Results: mx.cloudmailin.net; dkim=pass header.d=lead-one.example; dmarc=pass header.from=lead-one.example; spf=pass smtp.mailfrom=lead-one.example\r\n\
         From: Carla <carla@lead-one.example>\r\nTo: ann@acme.example\r\nSubject: Re: hello\r\nMessage-ID: <forged-{}@attacker.example>\r\n\r\n{text}\r\n",
        tern_domain::ids::RequestId::generate()
    )
}

#[tokio::test]
async fn a_forged_from_with_a_self_written_authentication_results_does_not_stop_an_enrollment() {
    let (host, _sink, email, ws, _) = carla_enrolled("forged-stop").await;
    // Posted as CloudMailin would: its envelope SPF passed for the attacker's own domain.
    let response = post(
        &host.base_url(),
        forged("Thanks, sounds great, let's talk on Thursday.").as_bytes(),
        &format!("reply+{ws}@in.tern.test"),
        WEBHOOK_SECRET,
    )
    .await;
    assert_eq!(response.status(), 202);
    let (states, items) = after_classification(&host, &email, &ws, 1).await;
    assert_eq!(items[0]["kind"], "human", "{items:?}");
    assert!(items[0]["enrollment_id"].is_null() && items[0]["linked_by"].is_null(), "not linked: {items:?}");
    assert!(
        items[0]["transport"]["dmarc"].is_null() && items[0]["transport"]["dkim"].is_null(),
        "the message's own header is not a verdict: {items:?}"
    );
    assert_eq!(states["carla@lead-one.example"]["state"]["state"], "active", "{states:?}");
    host.stop().await;
}

#[tokio::test]
async fn a_forged_from_does_not_suppress_a_contact() {
    let (host, _sink, email, ws, _) = carla_enrolled("forged-suppress").await;
    let response = post(
        &host.base_url(),
        forged("Unsubscribe. Remove me from your list, do not contact me again.").as_bytes(),
        &format!("reply+{ws}@in.tern.test"),
        WEBHOOK_SECRET,
    )
    .await;
    assert_eq!(response.status(), 202);
    let (states, items) = after_classification(&host, &email, &ws, 1).await;
    assert_eq!(items[0]["kind"], "unsubscribe_request", "{items:?}");
    assert!(items[0]["enrollment_id"].is_null(), "{items:?}");
    assert_eq!(states["carla@lead-one.example"]["suppressed"], false, "{states:?}");
    assert_eq!(states["carla@lead-one.example"]["state"]["state"], "active", "{states:?}");
    host.stop().await;
}

#[tokio::test]
async fn mail_to_the_reply_address_at_another_domain_is_not_routed() {
    let host = start_dev_host("inbound-domain").await;
    let (_, workspace) = self::workspace(&host, "inbound-domain").await;
    let mail = b"From: lee@prospect.example\r\nSubject: Re: hi\r\nMessage-ID: <dom-1@prospect.example>\r\n\r\nsure\r\n";
    for recipient in [
        format!("reply+{workspace}@evil.example"),
        format!("reply+{workspace}@in.tern.test.evil.example"),
        format!("reply+{workspace}@notin.tern.test"),
    ] {
        let response = post(&host.base_url(), mail, &recipient, WEBHOOK_SECRET).await;
        assert_eq!(response.status(), 422, "{recipient}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "unknown_recipient", "{recipient}");
    }
    let table = Table::new(observer_clients().dynamodb.clone(), host.config.table.clone());
    assert!(table.scope(tern_tests::observed(workspace)).list_all::<InboundMessage>().await.unwrap().is_empty());
    // The platform's own domain, in any case, still routes.
    let response = post(&host.base_url(), mail, &format!("reply+{workspace}@IN.tern.test"), WEBHOOK_SECRET).await;
    assert_eq!(response.status(), 202);
    host.stop().await;
}

/// The legitimate paths: a reply naming our Message-ID stops its enrollment from
/// any address; a reply with no thread headers stops it by its sender when the
/// receiving provider (SES) reports DMARC pass.
#[tokio::test]
async fn a_reply_with_our_message_id_or_a_provider_vouched_sender_stops_the_enrollment() {
    let (host, _sink, email, ws, first) = carla_enrolled("linked-legit").await;
    let message_id = header(&first, "Message-ID").unwrap();
    let reply = format!(
        "From: Carla at home <carla.private@home.example>\r\nTo: ann@acme.example\r\nSubject: Re: hello\r\nMessage-ID: <legit-1@home.example>\r\nIn-Reply-To: {message_id}\r\n\r\nYes, let's talk on Thursday.\r\n"
    );
    assert_eq!(post(&host.base_url(), reply.as_bytes(), &format!("reply+{ws}@in.tern.test"), WEBHOOK_SECRET).await.status(), 202);
    let dev = "From: Dev <dev@lead-two.example>\r\nTo: ann@acme.example\r\nSubject: hello\r\nMessage-ID: <legit-2@lead-two.example>\r\n\r\nInteresting, please call me on Friday.\r\n";
    ses_receipt(&host, &format!("reply+{ws}@in.tern.test"), dev.as_bytes(), true).await;
    let (states, items) = eventually("both replies applied", Duration::from_secs(30), || async {
        let (states, items) = after_classification(&host, &email, &ws, 2).await;
        states.values().all(|s| s["state"]["reason"] == "replied").then_some((states, items))
    })
    .await;
    let mut linked_by: Vec<&str> = items.iter().filter_map(|m| m["linked_by"].as_str()).collect();
    linked_by.sort();
    assert_eq!(linked_by, ["message_id", "sender_dmarc_pass"], "{items:?} {states:?}");
    host.stop().await;
}
