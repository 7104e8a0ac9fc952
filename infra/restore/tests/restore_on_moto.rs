//! The restore runbook end to end against moto: a table with two workspaces'
//! items, point-in-time recovery on, `tern-restore --endpoint-url` restores it
//! under a new name and checks it; the restored table holds the same items.
//!
//! Needs `TERN_TEST_AWS_ENDPOINT` (scripts/test starts moto and sets it).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification, ScalarAttributeType,
    Select,
};
use std::process::Command;
use tern_aws::keys;

fn endpoint() -> String {
    std::env::var("TERN_TEST_AWS_ENDPOINT")
        .unwrap_or_else(|_| panic!("TERN_TEST_AWS_ENDPOINT is not set: run the tests with scripts/test, which starts moto for them"))
}

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("t-{name}-{}-{}", std::process::id(), nanos % 1_000_000_000)
}

async fn client() -> Client {
    let credentials = aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "tern-test");
    let config = aws_sdk_dynamodb::config::Builder::new()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(credentials)
        .build();
    Client::from_conf(config)
}

async fn count(db: &Client, table: &str) -> i32 {
    db.scan().table_name(table).select(Select::Count).send().await.expect("scan").count()
}

fn put(pk: String, sk: &str) -> std::collections::HashMap<String, AttributeValue> {
    std::collections::HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk)),
        ("sk".to_string(), AttributeValue::S(sk.to_string())),
        ("name".to_string(), AttributeValue::S("x".into())),
    ])
}

async fn table_with_two_workspaces(db: &Client, table: &str) -> i32 {
    db.create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap())
        .attribute_definitions(AttributeDefinition::builder().attribute_name("sk").attribute_type(ScalarAttributeType::S).build().unwrap())
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .key_schema(KeySchemaElement::builder().attribute_name("sk").key_type(KeyType::Range).build().unwrap())
        .send()
        .await
        .expect("create table");
    let mut written = 0;
    for ws in ["0190a3c4-0000-7000-8000-00000000000a", "0190a3c4-0000-7000-8000-00000000000b"] {
        let mut items =
            vec![put(keys::entity_partition(ws, "WORKSPACE", ws), "WORKSPACE"), put(keys::audit_partition(ws), "00000000000000000001")];
        for n in 0..3 {
            items.push(put(keys::workspace_partition(ws), &format!("CONTACT#{n}")));
        }
        for item in items {
            db.put_item().table_name(table).set_item(Some(item)).send().await.expect("put item");
            written += 1;
        }
    }
    db.put_item().table_name(table).set_item(Some(put("USER#u1".into(), "USER"))).send().await.expect("put user");
    written + 1
}

async fn enable_pitr(db: &Client, table: &str) {
    db.update_continuous_backups()
        .table_name(table)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder().point_in_time_recovery_enabled(true).build().unwrap(),
        )
        .send()
        .await
        .expect("enable point-in-time recovery");
}

fn restore(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tern-restore"))
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run tern-restore")
}

#[tokio::test]
async fn restores_under_a_new_name_and_checks_the_copy() {
    let db = client().await;
    let source = unique("restore-src");
    let target = format!("{source}-restored");
    let written = table_with_two_workspaces(&db, &source).await;
    enable_pitr(&db, &source).await;

    let endpoint = endpoint();
    let output = restore(&["--table", &source, "--to", "latest", "--target", &target, "--endpoint-url", &endpoint]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "tern-restore failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("items (scan, Select=COUNT): {written}")), "{stdout}");
    assert!(stdout.contains("workspace 0190a3c4-0000-7000-8000-00000000000a: workspace item present, 3 items"), "{stdout}");
    assert!(stdout.contains("workspace 0190a3c4-0000-7000-8000-00000000000b: workspace item present"), "{stdout}");
    assert!(stdout.contains("next steps"), "{stdout}");

    // The copy is whole and the source untouched.
    assert_eq!(count(&db, &target).await, written);
    assert_eq!(count(&db, &source).await, written);
}

#[tokio::test]
async fn refuses_a_table_without_point_in_time_recovery() {
    let db = client().await;
    let source = unique("restore-nopitr");
    table_with_two_workspaces(&db, &source).await;
    let endpoint = endpoint();
    let output = restore(&["--table", &source, "--to", "latest", "--endpoint-url", &endpoint]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("point-in-time recovery is DISABLED"), "{stderr}");
}

#[tokio::test]
async fn refuses_a_time_outside_the_window_and_an_existing_target() {
    let db = client().await;
    let source = unique("restore-window");
    table_with_two_workspaces(&db, &source).await;
    enable_pitr(&db, &source).await;
    let endpoint = endpoint();
    let output = restore(&["--table", &source, "--to", "2020-01-01T00:00:00Z", "--endpoint-url", &endpoint]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("before the earliest restorable time"), "{stderr}");

    let other = unique("restore-taken");
    table_with_two_workspaces(&db, &other).await;
    let output = restore(&["--table", &source, "--to", "latest", "--target", &other, "--endpoint-url", &endpoint]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("RestoreTableToPointInTime failed"), "{stderr}");
}
