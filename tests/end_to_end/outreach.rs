//! The outreach engine end to end on the dev host: contacts imported from CSV, a
//! four-step sequence on the default +2/+5/+14 business-day cadence, sent through a
//! real SMTP conversation (STARTTLS, AUTH) to a local mail sink while the clock
//! moves over weekends, holidays and a DST change; a human reply and a one-click
//! unsubscribe stop their sequences.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tern_devhost::{DevHost, MailDelivery};
use tern_mailsink::{MailSink, SinkOptions, TlsMode};
use tern_tests::{WEBHOOK_SECRET, call, captured_logs, cloudmailin_raw_post, eventually, start_dev_host_custom};
use time::OffsetDateTime;
use time::macros::datetime;

pub const PASSWORD: &str = "correct horse battery staple 42";
pub const SMTP_PASSWORD: &str = "planted-smtp-secret-7f3a9c";

/// The platform with a mail sink the SMTP client may reach (and trust) on loopback.
pub async fn host_with_sink(name: &str) -> (DevHost, MailSink) {
    let sink = MailSink::start(SinkOptions { mode: TlsMode::StartTls, credentials: Some(("ann".into(), SMTP_PASSWORD.into())) })
        .await
        .expect("mail sink starts");
    let (port, cert) = (sink.port(), sink.certificate_der());
    let host = start_dev_host_custom(name, move |options| {
        options.mail_delivery = MailDelivery {
            policy: tern_web::guard::Policy::mail().allow_loopback_for_tests(port),
            extra_roots: vec![cert],
            resolver: None,
        };
    })
    .await;
    (host, sink)
}

/// Moves the dev host's clock forward to `at` (it only goes forward).
pub fn set_clock(host: &DevHost, at: OffsetDateTime) {
    use tern_domain::clock::Clock;
    let by = at - host.clock.now();
    if by.is_positive() {
        host.clock.advance(by).expect("the clock moves forward");
    }
}

/// Signs in again (access tokens live ten minutes of the moving clock).
pub async fn token(host: &DevHost, email: &str) -> String {
    let (status, body) = call(host, Method::POST, "/v1/sessions", None, Some(json!({ "email": email, "password": PASSWORD }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

pub async fn sign_up(host: &DevHost, email: &str, plan: &str) -> (String, String) {
    let body = tern_tests::sign_up(host, json!({ "email": email, "password": PASSWORD, "name": "Ann", "workspace_name": "Acme" })).await;
    tern_tests::set_plan(host, body["workspace_id"].as_str().unwrap(), plan).await;
    (body["access_token"].as_str().unwrap().into(), body["workspace_id"].as_str().unwrap().into())
}

pub async fn ok(host: &DevHost, method: Method, path: &str, token: &str, body: Value) -> Value {
    let (status, answer) = call(host, method, path, Some(token), Some(body)).await;
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

pub async fn smtp_mailbox(host: &DevHost, token: &str, ws: &str, sink: &MailSink) -> String {
    let mailbox = ok(host, Method::POST, &format!("/v1/workspaces/{ws}/mailboxes"), token, json!({
        "name": "Ann's mailbox", "from_name": "Ann Example", "from_email": "ann@acme.example", "timezone": "Europe/Berlin",
        "provider": { "kind": "smtp", "host": "127.0.0.1", "port": sink.port(), "security": "start_tls", "username": "ann", "password": SMTP_PASSWORD },
        "min_spacing_seconds": 0,
    }))
    .await;
    mailbox["id"].as_str().unwrap().to_string()
}

/// Four templates and a sequence on the default cadence (0, +2, +5, +14).
pub async fn default_sequence(host: &DevHost, token: &str, ws: &str, mailbox: &str, use_contact_timezone: bool) -> String {
    let mut steps = Vec::new();
    for (i, (subject, text)) in [
        (
            "Quick question, {{first_name | there}}",
            "Hi {{first_name | there}},\n\nhow does {{company | your team}} handle outreach today?\n\n{{sender_name}}",
        ),
        ("ignored for a follow-up", "Hi {{first_name | there}}, just bringing this to the top of your inbox."),
        ("ignored for a follow-up", "Hi {{first_name | there}}, one more idea for {{company | your team}}."),
        ("ignored for a follow-up", "Hi {{first_name | there}}, I will stop here. All the best!"),
    ]
    .into_iter()
    .enumerate()
    {
        let template = ok(
            host,
            Method::POST,
            &format!("/v1/workspaces/{ws}/templates"),
            token,
            json!({ "name": format!("step {i}"), "subject": subject, "text": text }),
        )
        .await;
        steps.push(json!({ "template_id": template["id"] }));
    }
    let sequence = ok(host, Method::POST, &format!("/v1/workspaces/{ws}/sequences"), token, json!({
        "name": "Spring outreach", "mailbox_id": mailbox, "steps": steps, "timezone": "Europe/Berlin", "use_contact_timezone": use_contact_timezone,
    }))
    .await;
    let days: Vec<u64> = sequence["steps"].as_array().unwrap().iter().map(|s| s["business_days"].as_u64().unwrap()).collect();
    assert_eq!(days, [0, 2, 5, 14], "the default cadence");
    sequence["id"].as_str().unwrap().to_string()
}

pub async fn import(host: &DevHost, token: &str, ws: &str, csv: &str) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/workspaces/{ws}/contacts/import", host.base_url()))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

pub async fn contact_ids(host: &DevHost, token: &str, ws: &str) -> BTreeMap<String, String> {
    let (_, page) = call(host, Method::GET, &format!("/v1/workspaces/{ws}/contacts?limit=100"), Some(token), None).await;
    page["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["email"].as_str().unwrap().to_string(), c["id"].as_str().unwrap().to_string()))
        .collect()
}

pub async fn tick_dispatch(host: &DevHost) -> Value {
    let (status, report) = call(host, Method::POST, "/_dev/tick/DispatchFunction", None, None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

/// An unfolded header of a raw message.
pub fn header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default().replace("\r\n ", " ").replace("\r\n\t", " ");
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

pub fn sent_at(raw: &[u8]) -> OffsetDateTime {
    let date = header(raw, "Date").expect("a Date header");
    OffsetDateTime::parse(&date, &time::format_description::well_known::Rfc2822).unwrap_or_else(|e| panic!("Date `{date}`: {e}"))
}

/// The sink's messages to `address`, in the order received.
pub fn to(sink: &MailSink, address: &str) -> Vec<Vec<u8>> {
    sink.messages().into_iter().filter(|m| m.rcpt_to.iter().any(|r| r == address)).map(|m| m.data).collect()
}

#[tokio::test]
async fn a_default_cadence_sends_each_step_once_at_its_local_time_and_replies_and_unsubscribes_stop_it() {
    let (host, sink) = host_with_sink("cadence").await;
    // Tuesday 23 March 2027, 09:00 UTC: 10:00 in Berlin (CET), 05:00 in New York (EDT).
    set_clock(&host, datetime!(2027-03-23 09:00 UTC));
    let email = "ann@acme.example";
    let (owner, ws) = sign_up(&host, email, "growth").await;
    // Good Friday and Easter Monday; Berlin moves to summer time on Sunday 28 March.
    ok(
        &host,
        Method::PATCH,
        &format!("/v1/workspaces/{ws}"),
        &owner,
        json!({
            "holidays": ["2027-03-26", "2027-03-29"], "postal_address": "Acme GmbH, Hauptstraße 1, 10115 Berlin",
        }),
    )
    .await;
    let mailbox = smtp_mailbox(&host, &owner, &ws, &sink).await;
    let sequence = default_sequence(&host, &owner, &ws, &mailbox, true).await;
    let report = import(
        &host,
        &owner,
        &ws,
        "\u{feff}email,first_name,last_name,company,website,timezone\r\n\
        anna@berlin-gmbh.example,Anna,Schmidt,Berlin GmbH,berlin-gmbh.example,Europe/Berlin\r\n\
        bob@nyc-corp.example,Bob,Miller,NYC Corp,nyc-corp.example,America/New_York\r\n\
        carla@replyco.example,Carla,Rossi,ReplyCo,replyco.example,Europe/Berlin\r\n\
        dan@unsubco.example,Dan,Weber,UnsubCo,unsubco.example,Europe/Berlin\r\n\
        not-an-address,Nobody,,,,\r\n",
    )
    .await;
    assert_eq!((report["created"].as_u64(), report["errors"].as_array().unwrap().len()), (Some(4), 1), "{report}");
    assert_eq!(report["errors"][0]["line"], 6, "{report}");
    let ids = contact_ids(&host, &owner, &ws).await;
    let enrolled = ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/sequences/{sequence}/enrollments"),
        &owner,
        json!({ "contact_ids": ids.values().collect::<Vec<_>>() }),
    )
    .await;
    assert_eq!(enrolled["enrolled"].as_array().unwrap().len(), 4, "{enrolled}");
    // Enrolling again changes nothing.
    let again = ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/sequences/{sequence}/enrollments"),
        &owner,
        json!({ "contact_ids": ids.values().collect::<Vec<_>>() }),
    )
    .await;
    assert!(again["skipped"].as_array().unwrap().iter().all(|s| s["reason"] == "already_enrolled"), "{again}");

    let anna = "anna@berlin-gmbh.example";
    let bob = "bob@nyc-corp.example";
    let carla = "carla@replyco.example";
    let dan = "dan@unsubco.example";
    // Written out by hand from a calendar, not computed by the code under test.
    let berlin = [
        datetime!(2027-03-23 09:00 UTC),
        datetime!(2027-03-25 09:00 UTC),
        datetime!(2027-04-01 08:00 UTC),
        datetime!(2027-04-14 08:00 UTC),
    ];
    let new_york = [
        datetime!(2027-03-23 12:00 UTC),
        datetime!(2027-03-25 12:00 UTC),
        datetime!(2027-04-01 12:00 UTC),
        datetime!(2027-04-14 12:00 UTC),
    ];
    let mut expected: Vec<(OffsetDateTime, &str, usize)> = Vec::new();
    for (i, at) in berlin.iter().enumerate() {
        expected.push((*at, anna, i));
    }
    for (i, at) in new_york.iter().enumerate() {
        expected.push((*at, bob, i));
    }
    expected.push((berlin[0], carla, 0));
    expected.push((berlin[0], dan, 0));
    expected.sort();

    let mut instants: Vec<OffsetDateTime> = expected.iter().map(|e| e.0).collect();
    instants.dedup();
    for at in instants {
        // Dispatch runs each minute. A step is due at the minute its first e-mail
        // left, which on a busy machine can be a minute or two after its slot, and a
        // job that failed for a moment comes back after the queue's visibility timeout
        // (two real minutes): tick each half minute until the steps arrive.
        let due_by_now = expected.iter().filter(|e| e.0 <= at).count();
        let mut late = 0;
        while sink.count() < due_by_now {
            late += 30;
            if late > 360 {
                let owner = token(&host, email).await;
                let (_, states) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/enrollments"), Some(&owner), None).await;
                panic!("{due_by_now} messages by {at}: {} arrived; enrollments: {states}", sink.count());
            }
            set_clock(&host, at + time::Duration::seconds(late));
            tick_dispatch(&host).await;
            for _ in 0..100 {
                if sink.count() >= due_by_now {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        if at == berlin[0] {
            // Between steps: Carla answers, Dan unsubscribes with one click.
            reply_from(&host, &ws, carla, &to(&sink, carla)[0]).await;
            one_click_unsubscribe(&host, &to(&sink, dan)[0]).await;
            let owner = token(&host, email).await;
            let contact = &ids[dan];
            let (_, view) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/contacts/{contact}"), Some(&owner), None).await;
            assert_eq!(view["suppressed"], true, "{view}");
            for (who, reason) in [(carla, "replied"), (dan, "unsubscribed")] {
                let enrollment = format!("{sequence}.{}", ids[who]);
                eventually(&format!("{who}'s enrollment stopped"), Duration::from_secs(30), || {
                    let (host, ws, owner, enrollment) = (&host, &ws, &owner, &enrollment);
                    async move {
                        let (_, e) =
                            call(host, Method::GET, &format!("/v1/workspaces/{ws}/enrollments/{enrollment}"), Some(owner), None).await;
                        (e["state"]["state"] == "stopped" && e["state"]["reason"] == reason).then_some(())
                    }
                })
                .await;
            }
        }
    }
    // Long after the last step nothing more goes out.
    set_clock(&host, datetime!(2027-05-20 09:00 UTC));
    tick_dispatch(&host).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sink.count(), expected.len(), "exactly the due steps, once each");

    for (who, times) in [(anna, &berlin[..]), (bob, &new_york[..]), (carla, &berlin[..1]), (dan, &berlin[..1])] {
        let messages = to(&sink, who);
        assert_eq!(messages.len(), times.len(), "{who}");
        let first_id = header(&messages[0], "Message-ID").unwrap();
        for (step, (raw, at)) in messages.iter().zip(times).enumerate() {
            let drift = (sent_at(raw) - *at).abs();
            // Minutes of slack for a busy machine; a wrong zone, DST or window is an hour or more.
            assert!(drift < time::Duration::minutes(7), "{who} step {step} sent at {} instead of {at}", sent_at(raw));
            assert_eq!(tern_mail::compose::check_one_click(raw), Ok(()), "RFC 8058 headers on {who} step {step}");
            let body = String::from_utf8_lossy(raw);
            assert!(body.contains("Hauptstra"), "the footer carries the postal address");
            let subject = header(raw, "Subject").unwrap();
            if step == 0 {
                assert!(subject.starts_with("Quick question, "), "{subject}");
            } else {
                assert!(subject.starts_with("Re: Quick question, "), "follow-ups thread under the first e-mail: {subject}");
                assert!(header(raw, "References").unwrap().contains(first_id.trim_matches(['<', '>'])), "{who} step {step}");
                assert!(header(raw, "In-Reply-To").is_some());
            }
        }
    }
    assert!(
        sink.messages().iter().all(|m| m.tls && m.authenticated_as.as_deref() == Some("ann")),
        "STARTTLS and AUTH on every conversation"
    );
    assert!(!captured_logs().contains(SMTP_PASSWORD), "the SMTP password never reaches a log line");
    host.stop().await;
}

/// A human reply to `original`, through the inbound webhook.
pub async fn reply_from(host: &DevHost, ws: &str, from: &str, original: &[u8]) {
    let message_id = header(original, "Message-ID").unwrap();
    let subject = header(original, "Subject").unwrap();
    let reply = format!(
        "From: {from}\r\nTo: Ann Example <ann@acme.example>\r\nSubject: Re: {subject}\r\nMessage-ID: <reply-{}@mail.example>\r\n\
         In-Reply-To: {message_id}\r\nReferences: {message_id}\r\nDate: Tue, 23 Mar 2027 09:30:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Hi Ann,\r\n\r\nthanks for reaching out. Yes, Tuesday works for a call, how about 3pm?\r\n\r\nCarla\r\n\r\n> {subject}\r\n",
        uuid_like()
    );
    let (content_type, body) = cloudmailin_raw_post(reply.as_bytes(), &format!("reply+{ws}@in.tern.test"));
    let response = reqwest::Client::new()
        .post(format!("{}/inbound/raw", host.base_url()))
        .basic_auth("cloudmailin", Some(WEBHOOK_SECRET))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

fn uuid_like() -> String {
    tern_domain::ids::RequestId::generate().to_string()
}

/// What a mail client does with `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
pub async fn one_click_unsubscribe(host: &DevHost, message: &[u8]) {
    let list_unsubscribe = header(message, "List-Unsubscribe").unwrap();
    let url =
        list_unsubscribe.split(',').map(|p| p.trim().trim_matches(['<', '>'])).find(|u| u.starts_with("https://")).unwrap().to_string();
    // The dev host serves the same address over plain http.
    let url = url.replacen("https://", "http://", 1);
    assert!(url.starts_with(&host.base_url()), "{url}");
    // Opening the link (a mail scanner does) changes nothing.
    let page = reqwest::get(&url).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("<form method=\"post\""));
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn templates_are_checked_when_saved_and_rendering_problems_show_at_preview() {
    let host = tern_tests::start_dev_host("templates").await;
    let (owner, ws) = sign_up(&host, "ann@acme.example", "growth").await;
    let path = format!("/v1/workspaces/{ws}/templates");
    let (status, error) =
        call(&host, Method::POST, &path, Some(&owner), Some(json!({ "name": "t", "subject": "Hi {{frist_name}}", "text": "x" }))).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_variables")), "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("{{frist_name}}"));
    let (status, error) =
        call(&host, Method::POST, &path, Some(&owner), Some(json!({ "name": "t", "subject": "Hi {{first_name", "text": "x" }))).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_template")), "{error}");
    // A custom field becomes usable once the workspace has it.
    let (status, _) =
        call(&host, Method::POST, &path, Some(&owner), Some(json!({ "name": "t", "subject": "About {{industry}}", "text": "x" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    ok(&host, Method::PATCH, &format!("/v1/workspaces/{ws}"), &owner, json!({ "custom_fields": ["industry"] })).await;
    let strict = ok(&host, Method::POST, &path, &owner, json!({ "name": "strict", "subject": "Hi {{first_name}}", "text": "About {{industry}} at {{company | your company}}", "html": "<p>Hi {{first_name}}</p>" })).await;
    let lenient =
        ok(&host, Method::POST, &path, &owner, json!({ "name": "lenient", "subject": "Hi {{first_name | there}}", "text": "Hello" })).await;
    let nameless =
        ok(&host, Method::POST, &format!("/v1/workspaces/{ws}/contacts"), &owner, json!({ "email": "someone@customer.example" })).await;
    let named = ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/contacts"),
        &owner,
        json!({ "email": "eve@customer.example", "first_name": "<b>Eve</b>", "custom": { "industry": "robots" } }),
    )
    .await;
    let preview = |template: &Value, contact: &Value| {
        let path = format!("/v1/workspaces/{ws}/templates/{}/preview", template["id"].as_str().unwrap());
        let body = json!({ "contact_id": contact["id"] });
        let (host, owner) = (&host, &owner);
        async move { call(host, Method::POST, &path, Some(owner), Some(body)).await }
    };
    let (status, error) = preview(&strict, &nameless).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("missing_values")), "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("first_name"), "{error}");
    let (status, rendered) = preview(&lenient, &nameless).await;
    assert_eq!((status, rendered["subject"].as_str()), (StatusCode::OK, Some("Hi there")));
    let (_, rendered) = preview(&strict, &named).await;
    assert_eq!(rendered["text"], "About robots at your company");
    assert_eq!(rendered["html"], "<p>Hi &lt;b&gt;Eve&lt;/b&gt;</p>", "values are escaped in HTML");
    // Enrolling a contact a step cannot render for is refused for that contact, before anything is sent.
    let mailbox = ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/mailboxes"),
        &owner,
        json!({ "name": "m", "from_email": "ann@acme.example", "provider": { "kind": "ses" } }),
    )
    .await;
    let sequence = ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/sequences"),
        &owner,
        json!({ "name": "s", "mailbox_id": mailbox["id"], "steps": [{ "template_id": strict["id"] }] }),
    )
    .await;
    let report = ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/sequences/{}/enrollments", sequence["id"].as_str().unwrap()),
        &owner,
        json!({ "contact_ids": [nameless["id"], named["id"]] }),
    )
    .await;
    assert_eq!(report["enrolled"], json!([named["id"]]), "{report}");
    assert_eq!(report["skipped"][0]["reason"], "missing_values");

    // Attachments: type- and size-limited, stored under the workspace's own key.
    let upload = |name: &str, content_type: &str, bytes: Vec<u8>| {
        let url = format!("{}/v1/workspaces/{ws}/attachments?filename={name}", host.base_url());
        let (owner, content_type) = (owner.clone(), content_type.to_string());
        async move { reqwest::Client::new().post(url).bearer_auth(owner).header("content-type", content_type).body(bytes).send().await.unwrap() }
    };
    assert_eq!(upload("run.exe", "application/x-msdownload", b"MZ".to_vec()).await.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(upload("fake.pdf", "application/pdf", b"MZ not a pdf".to_vec()).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        upload("big.pdf", "application/pdf", [b"%PDF-".to_vec(), vec![b'x'; 3 * 1024 * 1024 + 1]].concat()).await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let stored = upload("deck.pdf", "application/pdf", b"%PDF-1.7 a tiny deck".to_vec()).await;
    assert_eq!(stored.status(), StatusCode::CREATED);
    let attachment: Value = stored.json().await.unwrap();
    let head = tern_tests::observe(&host)
        .s3
        .head_object()
        .bucket(&host.config.bucket)
        .key(attachment["object_key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let (_, workspace) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}"), Some(&owner), None).await;
    assert_eq!(head.server_side_encryption, Some(aws_sdk_s3::types::ServerSideEncryption::AwsKms));
    let key_id = head.ssekms_key_id.unwrap_or_default();
    let workspace_key = tern_tests::observe(&host)
        .kms
        .describe_key()
        .key_id(format!("alias/tern/ws/{ws}"))
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    assert!(key_id.ends_with(&workspace_key), "encrypted under the workspace's key, not the platform's: {key_id} {workspace}");
    let with_attachment = ok(
        &host,
        Method::POST,
        &path,
        &owner,
        json!({ "name": "a", "subject": "Deck", "text": "Attached.", "attachment_ids": [attachment["id"]] }),
    )
    .await;
    assert_eq!(with_attachment["attachment_ids"][0], attachment["id"]);
    let (status, _) = call(
        &host,
        Method::POST,
        &path,
        Some(&owner),
        Some(json!({ "name": "a", "subject": "x", "text": "y", "attachment_ids": ["nope"] })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    host.stop().await;
}

#[tokio::test]
async fn contacts_merge_by_address_flag_free_mail_and_role_accounts_and_export_as_csv() {
    let host = tern_tests::start_dev_host("contacts").await;
    let (owner, ws) = sign_up(&host, "ann@acme.example", "growth").await;
    let report = import(
        &host,
        &owner,
        &ws,
        "E-Mail;Vorname;Firma;Industry Vertical;Work Email\n\
        lena@firma.example;Lena;Firma GmbH;Robots;\n\
        LENA@Firma.example;Lena-Marie;;;\n\
        info@firma.example;;Firma GmbH;;\n\
        someone@gmail.com;Sam;;;\n\
        tom.private@gmail.com;Tom;;;tom@firma.example\n\
        no address here;Mallory;;;\n",
    )
    .await;
    assert_eq!((report["created"].as_u64(), report["merged"].as_u64()), (Some(4), Some(1)), "{report}");
    assert_eq!(report["errors"].as_array().unwrap().len(), 1, "a row without an address is reported: {report}");
    assert_eq!(report["columns"]["Industry Vertical"], "custom:industry_vertical", "{report}");
    let (_, workspace) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}"), Some(&owner), None).await;
    assert_eq!(workspace["custom_fields"], json!(["industry_vertical", "personal_email"]), "imported columns become template fields");
    let (_, tom) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/contacts?q=tom"), Some(&owner), None).await;
    assert_eq!(tom["contacts"][0]["email"], "tom@firma.example", "the work address is preferred: {tom}");
    assert_eq!(tom["contacts"][0]["custom"]["personal_email"], "tom.private@gmail.com");
    assert_eq!(tom["contacts"][0]["free_mail"], false);
    let (_, page) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/contacts?q=lena"), Some(&owner), None).await;
    let lena = &page["contacts"][0];
    assert_eq!(
        (lena["email"].as_str(), lena["first_name"].as_str(), lena["company"].as_str()),
        (Some("lena@firma.example"), Some("Lena-Marie"), Some("Firma GmbH")),
        "{page}"
    );
    assert_eq!(lena["custom"]["industry_vertical"], "Robots");
    assert_eq!(lena["domain"], "firma.example");
    let (_, roles) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/contacts?role_account=true"), Some(&owner), None).await;
    assert_eq!(roles["contacts"].as_array().unwrap().len(), 1);
    assert_eq!(roles["contacts"][0]["email"], "info@firma.example");
    let (_, free) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/contacts?free_mail=true"), Some(&owner), None).await;
    assert_eq!(free["contacts"][0]["email"], "someone@gmail.com");
    assert!(free["contacts"][0]["domain"].is_null(), "a free-mail domain is not the company's");
    // Paging: one at a time through all three.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let (_, page) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/contacts?limit=1{after}"), Some(&owner), None).await;
        seen.extend(page["contacts"].as_array().unwrap().iter().map(|c| c["email"].as_str().unwrap().to_string()));
        match page["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
    // A duplicate through the API merges too (200, not 201).
    let (status, merged) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/contacts"),
        Some(&owner),
        Some(json!({ "email": " Lena@FIRMA.example ", "title": "CTO" })),
    )
    .await;
    assert_eq!((status, merged["title"].as_str()), (StatusCode::OK, Some("CTO")));
    let (status, error) =
        call(&host, Method::POST, &format!("/v1/workspaces/{ws}/contacts"), Some(&owner), Some(json!({ "email": "not an address" }))).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_email")));

    ok(
        &host,
        Method::PATCH,
        &format!("/v1/workspaces/{ws}/contacts/{}", lena["id"].as_str().unwrap()),
        &owner,
        json!({ "title": "=cmd|' /C calc'!A0" }),
    )
    .await;
    let export = reqwest::Client::new()
        .get(format!("{}/v1/workspaces/{ws}/contacts/export", host.base_url()))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), StatusCode::OK);
    assert!(export.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = export.text().await.unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv.contains("lena@firma.example") && csv.contains("'=cmd"), "formulas are defused: {csv}");
    let (_, audit) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/audit"), Some(&owner), None).await;
    let actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"contacts.imported") && actions.contains(&"contacts.exported"), "{actions:?}");
    host.stop().await;
}
