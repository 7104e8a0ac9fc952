//! Retention windows end to end: an admin sets the workspace's windows; items
//! written afterwards carry TTLs from them (inbound metadata and its text, a
//! contact note, a send record, audit entries); shortening the windows makes the
//! housekeeping function bring existing items' TTL forward and delete what is
//! already past; the audit window cannot go below its minimum; roles without the
//! permission are refused. Also contact notes: sealed, listed, deleted with their
//! contact, and reachable only in their own workspace by roles that may.

use crate::access::join;
use crate::inbound::{post, wait_classified};
use crate::outreach::{default_sequence, host_with_sink, ok, set_clock, sign_up, smtp_mailbox, tick_dispatch, to, token};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tern_aws::entities::{ContactNote, InboundText};
use tern_aws::outreach::SendRecord;
use tern_aws::table::{AttributeValue, ScopedTable, Table};
use tern_devhost::DevHost;
use tern_domain::ids::WorkspaceId;
use tern_domain::inbound::InboundMessage;
use tern_tests::{WEBHOOK_SECRET, call, eventually, observer_clients};
use time::macros::datetime;

const DAY: i64 = 86_400;
const OWNER: &str = "ann@retention.example";

fn scoped(host: &DevHost, ws: &str) -> ScopedTable {
    Table::new(observer_clients().dynamodb.clone(), host.config.table.clone()).scope(tern_tests::observed(WorkspaceId::parse(ws).unwrap()))
}

async fn patch_retention(host: &DevHost, token: &str, ws: &str, retention: Value) -> (StatusCode, Value) {
    call(host, Method::PATCH, &format!("/v1/workspaces/{ws}"), Some(token), Some(json!({ "retention": retention }))).await
}

/// An audit entry as stored: action, time (unix seconds), TTL, position.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StoredEntry {
    action: String,
    at: i64,
    expires: i64,
    sk: String,
}

fn stored_entry(item: &std::collections::HashMap<String, AttributeValue>) -> StoredEntry {
    let entry: Value = serde_json::from_str(item["entry"].as_s().unwrap()).unwrap();
    StoredEntry {
        action: entry["action"].as_str().unwrap().to_string(),
        at: entry["occurred_at_ms"].as_i64().unwrap() / 1000,
        expires: item["expires_at"].as_n().unwrap().parse().unwrap(),
        sk: item["sk"].as_s().unwrap().clone(),
    }
}

/// The newest audit entry with `action`. Read once, not polled: housekeeping marks a
/// task done in the same transaction as its entry, so once [`wait_task`] has seen the
/// task done the entry is there, wherever later entries (sign-ins) put it in the trail.
async fn last_audit_entry(host: &DevHost, ws: &str, action: &str) -> StoredEntry {
    let output = observer_clients()
        .dynamodb
        .query()
        .table_name(&host.config.table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(tern_aws::keys::audit_partition(ws)))
        .scan_index_forward(false)
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let items = output.items.unwrap_or_default();
    items.iter().map(stored_entry).find(|entry| entry.action == action).unwrap_or_else(|| {
        let newest: Vec<String> = items.iter().take(5).map(|item| stored_entry(item).action).collect();
        panic!("no {action} entry in the trail once its task is done; newest: {newest:?}")
    })
}

async fn audit_entry_at(host: &DevHost, ws: &str, sk: &str) -> StoredEntry {
    let item = observer_clients()
        .dynamodb
        .get_item()
        .table_name(&host.config.table)
        .key("pk", AttributeValue::S(tern_aws::keys::audit_partition(ws)))
        .key("sk", AttributeValue::S(sk.to_string()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    stored_entry(&item)
}

async fn wait_task(host: &DevHost, ws: &str, id: &str) -> Value {
    let owner = token(host, OWNER).await;
    eventually("the retention task to finish", Duration::from_secs(60), || async {
        let (_, task) = call(host, Method::GET, &format!("/v1/workspaces/{ws}/privacy/tasks/{id}"), Some(&owner), None).await;
        (task["state"] == "done" || task["state"] == "failed").then_some(task)
    })
    .await
}

#[tokio::test]
async fn items_carry_their_windows_and_shortening_a_window_reaches_existing_items() {
    let (host, sink) = host_with_sink("retention").await;
    set_clock(&host, datetime!(2027-06-07 09:00 UTC)); // a Monday
    let (owner, ws) = sign_up(&host, OWNER, "growth").await;
    let (member, _) = join(&host, &owner, &ws, "bo@retention.example", "member").await;
    let table = scoped(&host, &ws);

    // The defaults, as the workspace shows them.
    let (_, workspace) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}"), Some(&owner), None).await;
    assert_eq!(
        workspace["retention"],
        json!({ "email_bodies_days": 60, "contact_notes_days": null, "inbound_metadata_days": 60, "logs_days": null, "audit_days": 400 })
    );

    // Refused: below the floors, out of range, and without the permission.
    for (body, code) in [
        (json!({ "audit_days": 399 }), "retention_below_minimum"),
        (json!({ "logs_days": 7 }), "retention_below_minimum"),
        (json!({ "inbound_metadata_days": 0 }), "invalid_retention"),
        (json!({ "contact_notes_days": 4000 }), "invalid_retention"),
    ] {
        let (status, error) = patch_retention(&host, &owner, &ws, body.clone()).await;
        assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(code)), "{body}: {error}");
    }
    let (status, error) = patch_retention(&host, &owner, &ws, json!({ "audit_days": 399 })).await;
    assert!(error["error"]["message"].as_str().unwrap().contains("400"), "the message names the minimum: {status} {error}");
    let (status, _) = patch_retention(&host, &member, &ws, json!({ "audit_days": 900 })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a member may not change retention");

    // Windows set; existing data is none yet, so the task finds nothing to do.
    let windows =
        json!({ "email_bodies_days": 20, "contact_notes_days": 100, "inbound_metadata_days": 50, "logs_days": 60, "audit_days": 800 });
    let (status, changed) = patch_retention(&host, &owner, &ws, windows.clone()).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["retention"], windows);
    assert_eq!(changed["inbound_retention_days"], 50, "the older field shows the same window");
    wait_task(&host, &ws, changed["retention_task_id"].as_str().expect("from defaults to windows is shorter")).await;

    // Written under the windows: audit entry, note, inbound metadata and text, send record.
    let written_under_800 = last_audit_entry(&host, &ws, "privacy.retention_applied").await;
    assert_eq!(written_under_800.expires, written_under_800.at + 800 * DAY, "audit entries follow the audit window");
    let contact = ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/contacts"),
        &owner,
        json!({ "email": "lead@customer.example", "first_name": "Lena" }),
    )
    .await;
    let contact_id = contact["id"].as_str().unwrap();
    let note =
        ok(&host, Method::POST, &format!("/v1/workspaces/{ws}/contacts/{contact_id}/notes"), &owner, json!({ "text": "Met at the fair." }))
            .await;
    let note_key = ContactNote::key(contact_id, note["id"].as_str().unwrap());
    let noted_at = note["created_at"].as_i64().unwrap();
    assert_eq!(note["expires_at"].as_i64(), Some(noted_at + 100 * DAY));
    assert_eq!(table.expires_at::<ContactNote>(&note_key).await.unwrap(), Some(noted_at + 100 * DAY));

    let mail = b"From: Lena <lead@customer.example>\r\nSubject: Re: hello\r\nMessage-ID: <r1@customer.example>\r\n\r\nSounds good, call me Tuesday.\r\n";
    let accepted: Value = post(&host.base_url(), mail, &format!("reply+{ws}@in.tern.test"), WEBHOOK_SECRET).await.json().await.unwrap();
    let inbound_id = accepted["id"].as_str().unwrap().to_string();
    let message = wait_classified(
        &Table::new(observer_clients().dynamodb.clone(), host.config.table.clone()),
        WorkspaceId::parse(&ws).unwrap(),
        &inbound_id,
    )
    .await;
    let received = message.received_at.unix_timestamp();
    assert_eq!(table.expires_at::<InboundMessage>(&inbound_id).await.unwrap(), Some(received + 50 * DAY));
    assert_eq!(table.expires_at::<InboundText>(&inbound_id).await.unwrap(), Some(received + 20 * DAY), "the text follows the body window");
    let (_, shown) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/inbound/messages/{inbound_id}"), Some(&owner), None).await;
    assert_eq!(shown["snippet"], "Sounds good, call me Tuesday.", "{shown}");

    let mailbox = smtp_mailbox(&host, &owner, &ws, &sink).await;
    let sequence = default_sequence(&host, &owner, &ws, &mailbox, false).await;
    ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/sequences/{sequence}/enrollments"),
        &owner,
        json!({ "contact_ids": [contact_id] }),
    )
    .await;
    eventually("the first step", Duration::from_secs(30), || async {
        tick_dispatch(&host).await;
        (!to(&sink, "lead@customer.example").is_empty()).then_some(())
    })
    .await;
    let send = eventually("its send record", Duration::from_secs(10), || async {
        table.list_all::<SendRecord>().await.unwrap().into_iter().find(|r| matches!(r.state, tern_aws::outreach::SendState::Sent { .. }))
    })
    .await;
    assert_eq!(
        table.expires_at::<SendRecord>(&send.id).await.unwrap(),
        Some(send.claimed_at + 60 * DAY),
        "the delivery log follows the logs window"
    );

    // Ten days on, every window is shortened: the body window (5) is already past.
    set_clock(&host, datetime!(2027-06-17 09:00 UTC));
    let owner = token(&host, OWNER).await;
    let shorter =
        json!({ "email_bodies_days": 5, "contact_notes_days": 30, "inbound_metadata_days": 40, "logs_days": 30, "audit_days": 500 });
    let (status, changed) = patch_retention(&host, &owner, &ws, shorter.clone()).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let task = wait_task(&host, &ws, changed["retention_task_id"].as_str().unwrap()).await;
    assert_eq!(task["state"], "done", "{task}");
    assert_eq!(task["kind"], "retention", "{task}");
    assert_eq!(task["removed_by_kind"]["INBOUNDTEXT"], 1, "{task}");
    assert_eq!(table.get::<InboundText>(&inbound_id).await.unwrap(), None, "text older than the body window is gone at once");
    assert_eq!(table.expires_at::<InboundMessage>(&inbound_id).await.unwrap(), Some(received + 40 * DAY));
    assert_eq!(table.expires_at::<ContactNote>(&note_key).await.unwrap(), Some(noted_at + 30 * DAY));
    assert_eq!(table.expires_at::<SendRecord>(&send.id).await.unwrap(), Some(send.claimed_at + 30 * DAY));
    let (_, shown) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/inbound/messages/{inbound_id}"), Some(&owner), None).await;
    assert_eq!(shown["snippet"], Value::Null, "{shown}");
    let (_, notes) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/contacts/{contact_id}/notes"), Some(&owner), None).await;
    assert_eq!(notes["notes"][0]["expires_at"].as_i64(), Some(noted_at + 30 * DAY), "{notes}");
    // The audit trail: the change (old and new windows), then what the task did;
    // every entry's TTL is now at most 500 days after it.
    let (_, audit) =
        call(&host, Method::GET, &format!("/v1/workspaces/{ws}/audit?action=workspace.retention_changed&limit=500"), Some(&owner), None)
            .await;
    let change = audit["entries"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(change["parameters"]["old"]["audit_days"], 800, "{change}");
    assert_eq!(change["parameters"]["new"], shorter, "{change}");
    let applied = last_audit_entry(&host, &ws, "privacy.retention_applied").await;
    assert_eq!(applied.expires, applied.at + 500 * DAY);
    let before = audit_entry_at(&host, &ws, &written_under_800.sk).await;
    assert_eq!(before.expires, written_under_800.at + 500 * DAY, "an entry written under 800 days now expires 500 days after it");
    let signed_up = audit_entry_at(&host, &ws, &format!("{:020}", 1)).await;
    assert_eq!(signed_up.expires, signed_up.at + 400 * DAY, "one written under 400 days is not extended");

    // Lengthening applies to new items only: no task, existing TTLs stay.
    let (_, longer) =
        patch_retention(&host, &owner, &ws, json!({ "inbound_metadata_days": 300, "audit_days": 900, "contact_notes_days": null })).await;
    assert!(longer.get("retention_task_id").is_none(), "{longer}");
    assert_eq!(longer["retention"]["contact_notes_days"], Value::Null, "null is the default again (kept until deleted)");
    assert_eq!(table.expires_at::<InboundMessage>(&inbound_id).await.unwrap(), Some(received + 40 * DAY));
    assert_eq!(table.expires_at::<ContactNote>(&note_key).await.unwrap(), Some(noted_at + 30 * DAY));
    host.stop().await;
}

#[tokio::test]
async fn contact_notes_are_sealed_scoped_to_roles_and_deleted_with_their_contact() {
    let (host, _sink) = host_with_sink("notes").await;
    let (owner, ws) = sign_up(&host, "ann@notes.example", "growth").await;
    let (readonly, _) = join(&host, &owner, &ws, "ro@notes.example", "readonly").await;
    let (other_owner, other_ws) = sign_up(&host, "eve@other.example", "growth").await;
    let contact =
        ok(&host, Method::POST, &format!("/v1/workspaces/{ws}/contacts"), &owner, json!({ "email": "lead@customer.example" })).await;
    let notes = format!("/v1/workspaces/{ws}/contacts/{}/notes", contact["id"].as_str().unwrap());

    let first = ok(&host, Method::POST, &notes, &owner, json!({ "text": "Prefers calls after 4pm.\nAsk about the Berlin office." })).await;
    ok(&host, Method::POST, &notes, &owner, json!({ "text": "Second note" })).await;
    assert_eq!(first["expires_at"], Value::Null, "no notes window: kept until deleted");
    let (_, listed) = call(&host, Method::GET, &notes, Some(&readonly), None).await;
    let texts: Vec<&str> = listed["notes"].as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Prefers calls after 4pm.\nAsk about the Berlin office.", "Second note"], "{listed}");

    // Sealed: the text is nowhere in the table in clear.
    let dump = format!("{:?}", scoped(&host, &ws).list_all::<ContactNote>().await.unwrap());
    assert!(!dump.contains("Prefers calls"), "{dump}");
    // Bad input, roles, and another tenant.
    for body in [json!({ "text": "" }), json!({ "text": "x".repeat(5001) }), json!({ "text": "a\u{0007}b" })] {
        let (status, error) = call(&host, Method::POST, &notes, Some(&owner), Some(body)).await;
        assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_note")), "{error}");
    }
    let (status, _) = call(&host, Method::POST, &notes, Some(&readonly), Some(json!({ "text": "ro" }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let note = format!("{notes}/{}", first["id"].as_str().unwrap());
    let (status, _) = call(&host, Method::DELETE, &note, Some(&readonly), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for (method, path) in [(Method::GET, notes.clone()), (Method::DELETE, note.clone())] {
        let (status, _) = call(&host, method, &path, Some(&other_owner), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let foreign_path = notes.replace(&ws, &other_ws);
    let (status, _) = call(&host, Method::GET, &foreign_path, Some(&other_owner), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another workspace's contact id is no contact here");

    // Deleted one by one, and with the contact; both audited without the text.
    let (status, _) = call(&host, Method::DELETE, &note, Some(&owner), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&host, Method::DELETE, &note, Some(&owner), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "already gone");
    let (_, listed) = call(&host, Method::GET, &notes, Some(&owner), None).await;
    assert_eq!(listed["notes"].as_array().unwrap().len(), 1);
    let (status, _) =
        call(&host, Method::DELETE, &format!("/v1/workspaces/{ws}/contacts/{}", contact["id"].as_str().unwrap()), Some(&owner), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(scoped(&host, &ws).list_all::<ContactNote>().await.unwrap().is_empty(), "the contact's notes went with it");
    let (_, audit) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/audit?action=contact.&limit=500"), Some(&owner), None).await;
    let actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "contact.note_added").count(), 2, "{actions:?}");
    assert!(actions.contains(&"contact.note_deleted") && actions.contains(&"contact.deleted"), "{actions:?}");
    assert!(!audit.to_string().contains("Prefers calls") && !audit.to_string().contains("Second note"), "no note text in the trail");
    host.stop().await;
}
