//! The audit trail after expiry (issue 12): entries expire by TTL after the audit
//! window, so housekeeping's daily run writes a MACed checkpoint before they go and
//! `GET …/audit/verify` starts from it; a truncation past it, a deleted entry, or a
//! rewritten chain with recomputed hashes are still detected (the MACs need the
//! platform's anchor key). moto does not expire items by TTL: the test deletes the
//! expired entries itself, standing in for DynamoDB's TTL, and says where.

use crate::outreach::{ok, set_clock, sign_up, token};
use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use tern_devhost::DevHost;
use tern_domain::clock::Clock;
use tern_security::audit::AuditEntry;
use tern_tests::{call, observer_clients, start_dev_host};

type Item = HashMap<String, AttributeValue>;

/// The workspace's audit entries as stored, oldest first (the checkpoint item apart).
async fn stored(host: &DevHost, ws: &str) -> Vec<Item> {
    let output = observer_clients()
        .dynamodb
        .query()
        .table_name(&host.config.table)
        .key_condition_expression("pk = :pk AND sk >= :first")
        .expression_attribute_values(":pk", AttributeValue::S(tern_aws::keys::audit_partition(ws)))
        .expression_attribute_values(":first", AttributeValue::S(format!("{:020}", 0)))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    output.items.unwrap_or_default()
}

fn entry(item: &Item) -> AuditEntry {
    serde_json::from_str(item["entry"].as_s().unwrap()).unwrap()
}

async fn put(host: &DevHost, item: Item) {
    observer_clients().dynamodb.put_item().table_name(&host.config.table).set_item(Some(item)).send().await.unwrap();
}

async fn delete(host: &DevHost, item: &Item) {
    let key = item.iter().filter(|(k, _)| *k == "pk" || *k == "sk").map(|(k, v)| (k.clone(), v.clone())).collect();
    observer_clients().dynamodb.delete_item().table_name(&host.config.table).set_key(Some(key)).send().await.unwrap();
}

async fn verify(host: &DevHost, token: &str, ws: &str) -> Value {
    let (status, report) = call(host, Method::GET, &format!("/v1/workspaces/{ws}/audit/verify"), Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

/// Puts the trail back as it was before an attack.
async fn restore(host: &DevHost, ws: &str, original: &[Item]) {
    for item in stored(host, ws).await {
        delete(host, &item).await;
    }
    for item in original {
        put(host, item.clone()).await;
    }
}

#[tokio::test]
async fn the_trail_verifies_after_entries_expire_and_truncation_or_a_recomputed_chain_is_still_detected() {
    let host = start_dev_host("audit-expiry").await;
    let email = "ann@acme.example";
    let (owner, ws) = sign_up(&host, email, "growth").await;
    let patch = |token: String, locale: &'static str| {
        let (host, ws) = (&host, ws.clone());
        async move { ok(host, Method::PATCH, &format!("/v1/workspaces/{ws}"), &token, json!({ "locale": locale })).await }
    };
    patch(owner.clone(), "de").await;
    patch(owner.clone(), "en").await;
    let old = stored(&host, &ws).await.len();
    // Three days before the oldest entries' window (400 days) ends: newer entries.
    set_clock(&host, host.clock.now() + time::Duration::days(397));
    let owner = token(&host, email).await;
    patch(owner.clone(), "fr").await;
    patch(owner.clone(), "en").await;
    assert_eq!(verify(&host, &owner, &ws).await["valid"], true);

    // The daily run sees the old entries expire within its horizon and checkpoints.
    let (status, report) = call(&host, Method::POST, "/_dev/tick/HousekeepingFunction", None, None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["audit_checkpoints"]["written"], 1, "{report}");
    let (_, again) = call(&host, Method::POST, "/_dev/tick/HousekeepingFunction", None, None).await;
    assert_eq!(again["audit_checkpoints"]["written"], 0, "unchanged, not rewritten: {again}");

    // Past the old entries' window. moto does not expire by TTL: delete what DynamoDB
    // would have deleted by now (expires_at in the past).
    set_clock(&host, host.clock.now() + time::Duration::days(5));
    let now = host.clock.now().unix_timestamp();
    let mut expired = 0;
    for item in stored(&host, &ws).await {
        if item["expires_at"].as_n().unwrap().parse::<i64>().unwrap() < now {
            delete(&host, &item).await;
            expired += 1;
        }
    }
    assert!(expired >= old, "{expired} of the {old} old entries expired");
    let owner = token(&host, email).await;
    let report = verify(&host, &owner, &ws).await;
    assert_eq!(report["valid"], true, "{report}");
    let original = stored(&host, &ws).await;
    let first = entry(&original[0]).seq;
    assert_eq!(report["checkpoint_from"], first, "{report}");

    // A rewritten entry with every later hash recomputed: the plain chain is
    // consistent again, but its MACs are not the platform's.
    let mut rewritten = original.clone();
    let mut previous = entry(&rewritten[0]).prev_hash;
    for (i, item) in rewritten.iter_mut().enumerate() {
        let mut e = entry(item);
        if i == 1 {
            e.actor = "someone-else".into();
        }
        e.prev_hash = previous;
        e.hash = e.compute_hash();
        previous = e.hash;
        item.insert("entry".into(), AttributeValue::S(serde_json::to_string(&e).unwrap()));
        put(&host, item.clone()).await;
    }
    let report = verify(&host, &owner, &ws).await;
    assert_eq!((report["valid"].as_bool(), report["reason"].as_str()), (Some(false), Some("MacMismatch")), "{report}");
    assert_eq!(report["broken_at"], first + 1, "{report}");
    restore(&host, &ws, &original).await;

    // An entry deleted in the middle.
    delete(&host, &original[1]).await;
    let report = verify(&host, &owner, &ws).await;
    assert_eq!((report["valid"].as_bool(), report["reason"].as_str()), (Some(false), Some("SequenceGap")), "{report}");
    restore(&host, &ws, &original).await;

    // Truncated past the checkpoint: its first entries, or the last it saw, removed.
    delete(&host, &original[0]).await;
    let report = verify(&host, &owner, &ws).await;
    assert_eq!((report["valid"].as_bool(), report["reason"].as_str()), (Some(false), Some("Truncated")), "{report}");
    restore(&host, &ws, &original).await;
    let seen_head = original.iter().map(entry).rfind(|e| e.action == "workspace.updated").unwrap().seq;
    for item in original.iter().filter(|i| entry(i).seq >= seen_head) {
        delete(&host, item).await;
    }
    let report = verify(&host, &owner, &ws).await;
    assert_eq!((report["valid"].as_bool(), report["reason"].as_str()), (Some(false), Some("Truncated")), "{report}");
    restore(&host, &ws, &original).await;
    assert_eq!(verify(&host, &owner, &ws).await["valid"], true);
    host.stop().await;
}
