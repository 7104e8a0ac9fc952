//! Workspace deletion with crypto-shredding (issue #7): the owner schedules it after
//! re-authenticating, can cancel it, and after the grace period housekeeping
//! deletes every item and object of the workspace and its sub-workspace, disables
//! its KMS key and schedules the key's deletion; another workspace is untouched.

use crate::outreach::{PASSWORD, contact_ids, default_sequence, host_with_sink, import, ok, set_clock, sign_up, smtp_mailbox};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::collections::HashMap;
use tern_aws::outreach::{Mailbox, MailboxProvider, SMTP_PASSWORD_PURPOSE, smtp_password_identity};
use tern_aws::sealing::Sealer;
use tern_aws::table::{AttributeValue, Table};
use tern_devhost::DevHost;
use tern_domain::clock::Clock;
use tern_domain::ids::WorkspaceId;
use tern_tests::{call, cloudmailin_raw_post, observer_clients};

/// Every table item whose keys or attributes name `ws` (the whole table, scanned).
async fn items_naming(host: &DevHost, ws: &str) -> Vec<HashMap<String, AttributeValue>> {
    let dynamodb = observer_clients().dynamodb;
    let mut found = Vec::new();
    let mut start = None;
    loop {
        let page =
            dynamodb.scan().table_name(&host.config.table).consistent_read(true).set_exclusive_start_key(start).send().await.unwrap();
        for item in page.items.unwrap_or_default() {
            if format!("{item:?}").contains(ws) {
                found.push(item);
            }
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return found,
        }
    }
}

/// Every object version and delete marker whose key names `ws`, in the whole bucket.
async fn objects_naming(host: &DevHost, ws: &str) -> Vec<String> {
    let listed = observer_clients().s3.list_object_versions().bucket(&host.config.bucket).send().await.unwrap();
    let versions = listed.versions().iter().filter_map(|v| v.key().map(String::from));
    let markers = listed.delete_markers().iter().filter_map(|m| m.key().map(String::from));
    versions.chain(markers).filter(|k| k.contains(ws)).collect()
}

/// The key's state as KMS names it (`Enabled`, `Disabled`, `PendingDeletion`).
async fn key_state(key_id: &str) -> String {
    let described = observer_clients().kms.describe_key().key_id(key_id).send().await.unwrap();
    let metadata = described.key_metadata().unwrap();
    metadata.key_state().unwrap().as_str().to_string()
}

async fn housekeeping(host: &DevHost) -> serde_json::Value {
    let (status, report) = call(host, Method::POST, "/_dev/tick/HousekeepingFunction", None, None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

#[tokio::test]
async fn after_the_grace_period_nothing_of_the_workspace_is_left_and_its_key_is_shredded() {
    let (host, sink) = host_with_sink("deletion").await;
    let (owner, ws) = sign_up(&host, "owner@deleted.example", "agency").await;
    let (keeper, kept) = sign_up(&host, "owner@kept.example", "growth").await;
    let base = format!("/v1/workspaces/{ws}");

    // Seed the workspace through the API: contacts, a mailbox with a sealed SMTP
    // password, templates, a sequence with enrollments, an API key, an attachment,
    // inbound mail through its own webhook, a sub-workspace with a contact, a member.
    import(&host, &owner, &ws, "email,first_name,company\nlee@prospect.example,Lee,Prospect\nkim@other.example,Kim,Other\n").await;
    let mailbox = smtp_mailbox(&host, &owner, &ws, &sink).await;
    let sequence = default_sequence(&host, &owner, &ws, &mailbox, false).await;
    let ids = contact_ids(&host, &owner, &ws).await;
    ok(
        &host,
        Method::POST,
        &format!("{base}/sequences/{sequence}/enrollments"),
        &owner,
        json!({ "contact_ids": ids.values().collect::<Vec<_>>() }),
    )
    .await;
    ok(&host, Method::POST, &format!("{base}/api-keys"), &owner, json!({ "name": "ci", "scopes": ["contacts:read"] })).await;
    let pdf = reqwest::Client::new()
        .post(format!("{}{base}/attachments?filename=deck.pdf", host.base_url()))
        .bearer_auth(&owner)
        .header("content-type", "application/pdf")
        .body(b"%PDF-1.4\n% a deck\n".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), StatusCode::CREATED, "{}", pdf.text().await.unwrap());
    let credential = ok(&host, Method::POST, &format!("{base}/inbound/credential"), &owner, json!({})).await;
    let mail = b"From: Lee <lee@prospect.example>\r\nTo: ann@acme.example\r\nSubject: Re: hi\r\nMessage-ID: <del-1@prospect.example>\r\n\r\nCall me.\r\n";
    let (content_type, body) = cloudmailin_raw_post(mail, "ann@acme.example");
    let posted = reqwest::Client::new()
        .post(format!("{}/inbound/workspaces/{ws}/raw", host.base_url()))
        .basic_auth(credential["username"].as_str().unwrap(), credential["secret"].as_str())
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 202);
    let sub = ok(&host, Method::POST, &format!("{base}/sub-workspaces"), &owner, json!({ "name": "Client" })).await;
    let sub = sub["id"].as_str().unwrap().to_string();
    ok(&host, Method::POST, &format!("/v1/workspaces/{sub}/contacts"), &owner, json!({ "email": "pat@client-lead.example" })).await;
    ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{kept}/contacts"),
        &keeper,
        json!({ "email": "sam@kept-lead.example", "title": "CTO" }),
    )
    .await;
    let invite =
        ok(&host, Method::POST, &format!("{base}/invites"), &owner, json!({ "email": "admin@deleted.example", "role": "admin" })).await;
    let (status, joined) = call(
        &host,
        Method::POST,
        "/v1/invites/accept",
        None,
        Some(json!({ "token": invite["token"], "name": "Ada", "password": PASSWORD })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{joined}");
    let admin = joined["access_token"].as_str().unwrap().to_string();
    tern_tests::verify_email(&host, "admin@deleted.example", &admin).await;

    // A sealed value saved before deletion, opened through Tern's sealer.
    let workspace = WorkspaceId::parse(&ws).unwrap();
    let table = Table::new(observer_clients().dynamodb, host.config.table.clone());
    let stored = table.scope(tern_tests::observed(workspace)).get::<Mailbox>(&mailbox).await.unwrap().unwrap();
    let MailboxProvider::Smtp { password: sealed, .. } = stored.provider else { panic!("an SMTP mailbox") };
    let sealer = Sealer::new(observer_clients().kms, tern_aws::sealing::DEFAULT_CACHE_TTL);
    let opened = sealer.open(workspace, SMTP_PASSWORD_PURPOSE, &smtp_password_identity(&ws, &mailbox), &sealed).await.unwrap();
    assert_eq!(&opened.expose()[..], crate::outreach::SMTP_PASSWORD.as_bytes());
    assert!(sealer.cached_entries(workspace) > 0);
    let (_, shown) = call(&host, Method::GET, &base, Some(&owner), None).await;
    let key_id = {
        let item = table.scope(tern_tests::observed(workspace)).get::<tern_aws::entities::Workspace>(&ws).await.unwrap().unwrap();
        item.kms_key_id
    };
    assert!(shown["deletion_scheduled_for"].is_null(), "{shown}");

    // Refused: a wrong password (stable code), a non-owner, an API key has no password.
    let (status, answer) =
        call(&host, Method::POST, &format!("{base}/deletion"), Some(&owner), Some(json!({ "password": "not it" }))).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("reauthentication_failed")), "{answer}");
    let (status, answer) =
        call(&host, Method::POST, &format!("{base}/deletion"), Some(&admin), Some(json!({ "password": PASSWORD }))).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{answer}");
    let (status, _) = call(&host, Method::DELETE, &format!("{base}/deletion"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Scheduled, shown, cancelled, scheduled again.
    // The host's clock runs on between reading it and the request: the due date is the
    // grace period after some second in between, whatever the machine's speed.
    let (grace, asked_at) = (tern_aws::deletion::GRACE_PERIOD.whole_seconds(), host.clock.now().unix_timestamp());
    let scheduled = ok(&host, Method::POST, &format!("{base}/deletion"), &owner, json!({ "password": PASSWORD })).await;
    let due = scheduled["deletion_scheduled_for"].as_i64().unwrap();
    let answered_at = host.clock.now().unix_timestamp();
    assert!((asked_at + grace..=answered_at + grace).contains(&due), "due {due}, asked at {asked_at}, answered at {answered_at}");
    let (_, shown) = call(&host, Method::GET, &base, Some(&admin), None).await;
    assert_eq!(shown["deletion_scheduled_for"], due, "readable, and shows the date: {shown}");
    let cancelled = ok(&host, Method::DELETE, &format!("{base}/deletion"), &owner, json!(null)).await;
    assert!(cancelled["deletion_scheduled_for"].is_null());
    let (_, shown) = call(&host, Method::GET, &base, Some(&owner), None).await;
    assert!(shown["deletion_scheduled_for"].is_null(), "{shown}");
    let (status, answer) = call(&host, Method::DELETE, &format!("{base}/deletion"), Some(&owner), None).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("deletion_not_scheduled")));
    // Housekeeping before the due date deletes nothing.
    ok(&host, Method::POST, &format!("{base}/deletion"), &owner, json!({ "password": PASSWORD })).await;
    let early = housekeeping(&host).await;
    assert_eq!(early["deletions"]["workspaces_deleted"], 0, "{early}");
    let (status, _) = call(&host, Method::GET, &format!("{base}/contacts"), Some(&owner), None).await;
    assert_eq!(status, StatusCode::OK, "still readable during the grace period");

    // The audit trail has the whole story before it goes with the workspace.
    let (_, audit) = call(&host, Method::GET, &format!("{base}/audit?limit=500&action=workspace.deletion"), Some(&owner), None).await;
    let actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["workspace.deletion_scheduled", "workspace.deletion_cancelled"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }

    // The sweeps below see what there is: before the deletion they find plenty.
    let before = items_naming(&host, &ws).await;
    for kind in ["CONTACT", "MAILBOX", "TEMPLATE", "SEQUENCE", "ENROLLMENT", "APIKEY", "INBOUND", "AUDIT", "SESSION", "USER#", "DELETION#"]
    {
        assert!(
            before.iter().any(|item| format!("{:?}{:?}", item.get("pk"), item.get("sk")).contains(kind)),
            "no {kind} item before the deletion"
        );
    }
    assert!(!items_naming(&host, &sub).await.is_empty());
    assert!(objects_naming(&host, &ws).await.iter().any(|k| k.starts_with("attachments/")), "the attachment is in the bucket");

    // After the grace period.
    set_clock(&host, time::OffsetDateTime::from_unix_timestamp(due + tern_aws::deletion::GRACE_PERIOD.whole_seconds() + 60).unwrap());
    let report = housekeeping(&host).await;
    assert_eq!(report["deletions"]["workspaces_deleted"], 2, "the workspace and its sub-workspace: {report}");
    assert_eq!(report["deletions"]["failed"], 0, "{report}");

    for gone in [&ws, &sub] {
        let left = items_naming(&host, gone).await;
        assert!(left.is_empty(), "items of {gone} left: {left:#?}");
        let objects = objects_naming(&host, gone).await;
        assert!(objects.is_empty(), "objects of {gone} left: {objects:?}");
    }
    // moto, unlike AWS, still decrypts under a disabled or pending-deletion key, so
    // the shredding is asserted as the key's state (AWS then refuses every Decrypt
    // of the data keys sealed under it), not as a refused decryption here.
    assert_eq!(key_state(&key_id).await, "PendingDeletion");
    // The in-memory data keys: the deleting code drops them (the API's when the
    // deletion is scheduled); a sealer that forgot them has to ask KMS again.
    sealer.forget_workspace(workspace);
    assert_eq!(sealer.cached_entries(workspace), 0);
    assert!(!sealer.cached_workspaces().contains(&workspace));
    // Through the API the workspace is gone; its owner and member keep their accounts
    // (signing in again: access tokens live minutes of the moved clock).
    let owner = crate::outreach::token(&host, "owner@deleted.example").await;
    let keeper = crate::outreach::token(&host, "owner@kept.example").await;
    let (status, _) = call(&host, Method::GET, &base, Some(&owner), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        call(&host, Method::POST, "/v1/sessions", None, Some(json!({ "email": "admin@deleted.example", "password": PASSWORD }))).await;
    assert_eq!(status, StatusCode::OK, "the member can still sign in");
    // A second run finds nothing to do.
    let again = housekeeping(&host).await;
    assert_eq!(again["deletions"]["workspaces_deleted"], 0, "{again}");

    // The other workspace is untouched.
    let (status, contacts) = call(&host, Method::GET, &format!("/v1/workspaces/{kept}/contacts"), Some(&keeper), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(contacts["contacts"][0]["title"], "CTO", "{contacts}");
    let kept_key = table
        .scope(tern_tests::observed(WorkspaceId::parse(&kept).unwrap()))
        .get::<tern_aws::entities::Workspace>(&kept)
        .await
        .unwrap()
        .unwrap()
        .kms_key_id;
    assert_eq!(key_state(&kept_key).await, "Enabled");
    let (_, verified) = call(&host, Method::GET, &format!("/v1/workspaces/{kept}/audit/verify"), Some(&keeper), None).await;
    assert_eq!(verified["valid"], true, "{verified}");
    host.stop().await;
}

/// Issue 12, finding 8: housekeeping trusts a deletion record's key id only when the
/// key is tagged as that workspace's. A record naming another tenant's key (or the
/// platform key), written here straight into the table as a corrupted or planted
/// record would be, stops the deletion before anything is touched.
#[tokio::test]
async fn a_deletion_whose_recorded_key_belongs_to_another_workspace_refuses_to_touch_it() {
    let host = tern_tests::start_dev_host("deletion-key-tag").await;
    let (owner, ws) = sign_up(&host, "owner@leaving.example", "growth").await;
    let (_, kept) = sign_up(&host, "owner@staying.example", "growth").await;
    ok(&host, Method::POST, &format!("/v1/workspaces/{ws}/contacts"), &owner, json!({ "email": "lee@prospect.example" })).await;
    let scheduled = ok(&host, Method::POST, &format!("/v1/workspaces/{ws}/deletion"), &owner, json!({ "password": PASSWORD })).await;
    let due = scheduled["deletion_scheduled_for"].as_i64().unwrap();
    let table = Table::new(observer_clients().dynamodb, host.config.table.clone());
    let kept_key = table
        .scope(tern_tests::observed(WorkspaceId::parse(&kept).unwrap()))
        .get::<tern_aws::entities::Workspace>(&kept)
        .await
        .unwrap()
        .unwrap()
        .kms_key_id;
    let global = tern_aws::global::GlobalTable::new(observer_clients().dynamodb, host.config.table.clone());
    let mut record = global.get::<tern_aws::deletion::PendingDeletion>(&ws).await.unwrap().unwrap();
    set_clock(&host, time::OffsetDateTime::from_unix_timestamp(due + 60).unwrap());
    for planted in [kept_key.clone(), host.config.platform_key.clone()] {
        record.kms_key_id = planted.clone();
        global.put(&record, None).await.unwrap();
        let report = housekeeping(&host).await;
        assert_eq!(
            (report["deletions"]["workspaces_deleted"].as_u64(), report["deletions"]["failed"].as_u64()),
            (Some(0), Some(1)),
            "{report}"
        );
        assert_eq!(key_state(&planted).await, "Enabled", "{planted} untouched");
    }
    // Nothing of either workspace was deleted: the refusal came first.
    let owner = crate::outreach::token(&host, "owner@leaving.example").await;
    let (status, contacts) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/contacts"), Some(&owner), None).await;
    assert_eq!((status, contacts["contacts"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{contacts}");
    let keeper = crate::outreach::token(&host, "owner@staying.example").await;
    let (status, _) = call(&host, Method::GET, &format!("/v1/workspaces/{kept}"), Some(&keeper), None).await;
    assert_eq!(status, StatusCode::OK);
    host.stop().await;
}

/// Issue 12, finding 14: deleting an agency deletes the sub-workspaces it still
/// administers (every owner is one of the agency's), never one handed to a client:
/// that one is detached and carries on as a standalone workspace with its owners,
/// data, key and a trail that says so.
#[tokio::test]
async fn deleting_an_agency_detaches_a_sub_workspace_it_no_longer_administers() {
    let host = tern_tests::start_dev_host("agency-detach").await;
    let (owner, agency) = sign_up(&host, "owner@agency.example", "agency").await;
    let sub = |name: &'static str| {
        let (host, owner, agency) = (&host, owner.clone(), agency.clone());
        async move {
            ok(host, Method::POST, &format!("/v1/workspaces/{agency}/sub-workspaces"), &owner, json!({ "name": name })).await["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let managed = sub("Still ours").await;
    let handed = sub("Handed over").await;
    // The client becomes an owner of the handed-over workspace.
    let invite = ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{handed}/invites"),
        &owner,
        json!({ "email": "owner@client.example", "role": "owner" }),
    )
    .await;
    let (status, joined) = call(
        &host,
        Method::POST,
        "/v1/invites/accept",
        None,
        Some(json!({ "token": invite["token"], "name": "Cleo", "password": PASSWORD })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{joined}");
    let client = joined["access_token"].as_str().unwrap().to_string();
    tern_tests::verify_email(&host, "owner@client.example", &client).await;
    ok(&host, Method::POST, &format!("/v1/workspaces/{handed}/contacts"), &client, json!({ "email": "lee@client-lead.example" })).await;
    let table = Table::new(observer_clients().dynamodb, host.config.table.clone());
    let handed_key = table
        .scope(tern_tests::observed(WorkspaceId::parse(&handed).unwrap()))
        .get::<tern_aws::entities::Workspace>(&handed)
        .await
        .unwrap()
        .unwrap()
        .kms_key_id;

    let scheduled = ok(&host, Method::POST, &format!("/v1/workspaces/{agency}/deletion"), &owner, json!({ "password": PASSWORD })).await;
    let due = scheduled["deletion_scheduled_for"].as_i64().unwrap();
    set_clock(&host, time::OffsetDateTime::from_unix_timestamp(due + 60).unwrap());
    let report = housekeeping(&host).await;
    assert_eq!(report["deletions"]["workspaces_deleted"], 2, "the agency and the sub-workspace it administers: {report}");
    assert_eq!(report["deletions"]["failed"], 0, "{report}");
    assert!(items_naming(&host, &managed).await.is_empty(), "the managed sub-workspace is gone");

    // The handed-over one stands alone, whole.
    let client = crate::outreach::token(&host, "owner@client.example").await;
    let (status, shown) = call(&host, Method::GET, &format!("/v1/workspaces/{handed}"), Some(&client), None).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert!(shown["parent_id"].is_null(), "{shown}");
    let (_, contacts) = call(&host, Method::GET, &format!("/v1/workspaces/{handed}/contacts"), Some(&client), None).await;
    assert_eq!(contacts["contacts"].as_array().map(Vec::len), Some(1), "{contacts}");
    assert_eq!(key_state(&handed_key).await, "Enabled");
    let (_, trail) =
        call(&host, Method::GET, &format!("/v1/workspaces/{handed}/audit?limit=500&action=workspace.detached"), Some(&client), None).await;
    assert_eq!(trail["entries"][0]["parameters"]["agency"], agency.as_str(), "{trail}");
    let (_, verified) = call(&host, Method::GET, &format!("/v1/workspaces/{handed}/audit/verify"), Some(&client), None).await;
    assert_eq!(verified["valid"], true, "{verified}");
    // The agency's owner keeps their seat in it, as an owner of a workspace of their own now.
    let owner = crate::outreach::token(&host, "owner@agency.example").await;
    let (status, _) = call(&host, Method::GET, &format!("/v1/workspaces/{handed}"), Some(&owner), None).await;
    assert_eq!(status, StatusCode::OK);
    let again = housekeeping(&host).await;
    assert_eq!(again["deletions"]["workspaces_deleted"], 0, "{again}");
    host.stop().await;
}
