//! Erasing a person end to end: a contact seeded across every feature (enrichment
//! of their company's site naming them, a sequence sent over SMTP, their reply
//! through the inbound webhook) is erased through the API; then the whole table
//! and the whole bucket are searched for their address and name, another contact
//! is untouched, the audit trail says what happened without saying to whom, and
//! importing the address again gives a suppressed contact.

use crate::enrichment::{enrich, website};
use crate::outreach::{SMTP_PASSWORD, default_sequence, ok, reply_from, set_clock, sign_up, smtp_mailbox, tick_dispatch, to, token};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tern_devhost::{DevHost, MailDelivery, WebsiteFetch};
use tern_mailsink::{MailSink, SinkOptions, TlsMode};
use tern_tests::{call, eventually, observer_clients, start_dev_host_custom};
use time::macros::datetime;

const ERIKA: &str = "erika.mustermann@acme.example";
const OWNER: &str = "ann@erasure.example";

/// Every item of the host's table, as text.
async fn table_dump(host: &DevHost) -> Vec<String> {
    let observer = observer_clients();
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = observer.dynamodb.scan().table_name(&host.config.table).set_exclusive_start_key(start).send().await.unwrap();
        items.extend(page.items.unwrap_or_default().into_iter().map(|item| format!("{item:?}")));
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return items,
        }
    }
}

/// Every object of the host's bucket, as (key, bytes).
async fn bucket_dump(host: &DevHost) -> Vec<(String, Vec<u8>)> {
    let observer = observer_clients();
    let listed = observer.s3.list_objects_v2().bucket(&host.config.bucket).send().await.unwrap();
    let mut objects = Vec::new();
    for object in listed.contents.unwrap_or_default() {
        let key = object.key.unwrap();
        let body = observer
            .s3
            .get_object()
            .bucket(&host.config.bucket)
            .key(&key)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes()
            .to_vec();
        objects.push((key, body));
    }
    objects
}

async fn erase(host: &DevHost, owner: &str, ws: &str, email: &str) -> Value {
    let (status, task) =
        call(host, Method::POST, &format!("/v1/workspaces/{ws}/privacy/erasures"), Some(owner), Some(json!({ "email": email }))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{task}");
    assert!(!task.to_string().contains(email), "the task does not hold the address: {task}");
    let id = task["id"].as_str().unwrap().to_string();
    eventually("the erasure to finish", Duration::from_secs(60), || async {
        let owner = token(host, OWNER).await;
        let (_, task) = call(host, Method::GET, &format!("/v1/workspaces/{ws}/privacy/tasks/{id}"), Some(&owner), None).await;
        (task["state"] == "done" || task["state"] == "failed").then_some(task)
    })
    .await
}

#[tokio::test]
async fn an_erased_person_is_nowhere_in_the_table_or_the_bucket_and_stays_suppressed() {
    let sink =
        MailSink::start(SinkOptions { mode: TlsMode::StartTls, credentials: Some(("ann".into(), SMTP_PASSWORD.into())) }).await.unwrap();
    let (site_port, _) = website().await;
    let (smtp_port, cert) = (sink.port(), sink.certificate_der());
    let host = start_dev_host_custom("erasure", move |options| {
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
    let site = format!("http://127.0.0.1:{site_port}/");

    // Erika is on her company's imprint (name and address), a contact, enrolled, written to, and replies.
    let erika = ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/contacts"),
        &owner,
        json!({ "email": ERIKA, "first_name": "Erika", "last_name": "Mustermann", "title": "Geschäftsführerin", "website": site }),
    )
    .await;
    let bob = ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/contacts"),
        &owner,
        json!({ "email": "bob@keep.example", "first_name": "Bob" }),
    )
    .await;
    // A note on her (sealed, so the table search below could not find its text: the count says it went).
    ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/contacts/{}/notes", erika["id"].as_str().unwrap()),
        &owner,
        json!({ "text": "Erika Mustermann prefers German." }),
    )
    .await;
    let enriched = enrich(&host, &owner, &ws, &site).await;
    assert!(enriched.to_string().contains(ERIKA) && enriched.to_string().contains("Erika Mustermann"), "the site names her: {enriched}");
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
        let (e, b) = (to(&sink, ERIKA), to(&sink, "bob@keep.example"));
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
    let before = table_dump(&host).await;
    assert!(before.iter().any(|i| i.contains(ERIKA)), "seeded: her address is stored");

    // A member without the permission cannot erase.
    let task = erase(&host, &owner, &ws, ERIKA).await;
    assert_eq!(task["state"], "done", "{task}");
    for kind in ["CONTACT", "CONTACTNOTE", "ENROLLMENT", "SEND", "INBOUND", "INBOUNDTEXT", "UNSUB", "ENRICHMENT facts"] {
        assert!(task["removed_by_kind"][kind].as_u64().unwrap_or(0) >= 1, "{kind}: {task}");
    }

    // Nowhere in the table (any item, any attribute) or the bucket (any object).
    let after = table_dump(&host).await;
    for needle in [ERIKA, "mustermann", "Mustermann"] {
        let found: Vec<&String> = after.iter().filter(|i| i.contains(needle)).collect();
        assert!(found.is_empty(), "`{needle}` is still stored: {found:#?}");
    }
    for (key, body) in bucket_dump(&host).await {
        assert!(!String::from_utf8_lossy(&body).to_lowercase().contains("mustermann"), "`{key}` still holds her");
    }
    // Sealed fields cannot be searched: her note is proven gone by kind.
    let notes: Vec<&String> = after.iter().filter(|i| i.contains("CONTACTNOTE#")).collect();
    assert!(notes.is_empty(), "her note is still stored: {notes:#?}");

    // Bob is untouched: his contact and enrollment are there.
    let (status, kept) =
        call(&host, Method::GET, &format!("/v1/workspaces/{ws}/contacts/{}", bob["id"].as_str().unwrap()), Some(&owner), None).await;
    assert_eq!(status, StatusCode::OK, "{kept}");
    let (_, enrollments) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/enrollments"), Some(&owner), None).await;
    assert_eq!(enrollments["enrollments"].as_array().unwrap().len(), 1, "{enrollments}");

    // Imported again, the address is suppressed: it can be stored but never written to.
    let owner = token(&host, OWNER).await;
    let again = ok(&host, Method::POST, &format!("/v1/workspaces/{ws}/contacts"), &owner, json!({ "email": ERIKA })).await;
    assert_eq!(again["suppressed"], true, "{again}");
    let (_, refused) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/sequences/{sequence}/enrollments"),
        Some(&owner),
        Some(json!({ "contact_ids": [again["id"]] })),
    )
    .await;
    assert!(refused["enrolled"].as_array().is_none_or(|e| e.is_empty()), "a suppressed address is not enrolled: {refused}");

    // Erasing again finds nothing more to remove (idempotent).
    let again_task = erase(&host, &owner, &ws, ERIKA).await;
    assert_eq!(again_task["state"], "done");
    let removed_again: u64 = again_task["removed_by_kind"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.as_str() != "CONTACT" && k.as_str() != "CONTACTEMAIL")
        .map(|(_, v)| v.as_u64().unwrap())
        .sum();
    assert_eq!(removed_again, 0, "only the re-imported contact was left to remove: {again_task}");

    // The trail says what was done, not to whom.
    let (_, audit) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/audit"), Some(&owner), None).await;
    let actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"privacy.erasure_requested") && actions.contains(&"privacy.erasure_completed"), "{actions:?}");
    assert!(!audit.to_string().to_lowercase().contains("mustermann"), "the audit trail never names her");
    host.stop().await;
}
