//! template.yaml against the source tree: every function deployed, none over-privileged.

use serde_yaml::Value;
use std::collections::BTreeSet;
use tern_aws::template::Template;
use tern_tests::repo_path;

fn raw_template() -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(repo_path("template.yaml")).unwrap()).unwrap()
}

#[test]
fn every_function_directory_is_a_function_in_the_template_and_the_dev_host() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(repo_path("functions"))
        .unwrap()
        .map(|e| format!("functions/{}", e.unwrap().file_name().into_string().unwrap()))
        .collect();
    let functions = Template::repository().unwrap().functions().unwrap();
    let in_template: BTreeSet<String> = functions.iter().map(|f| f.code_uri.trim_end_matches('/').to_string()).collect();
    assert_eq!(on_disk, in_template);
    let known: BTreeSet<&str> = tern_devhost::functions::KNOWN.into_iter().collect();
    let declared: BTreeSet<&str> = functions.iter().map(|f| f.logical_id.as_str()).collect();
    assert_eq!(known, declared, "the dev host runs exactly the template's functions");
}

#[test]
fn no_function_policy_allows_a_wildcard_action() {
    let template = raw_template();
    let resources = template["Resources"].as_mapping().unwrap();
    let mut checked = 0;
    for (name, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        for policy in resource["Properties"]["Policies"].as_sequence().unwrap() {
            for statement in policy["Statement"].as_sequence().unwrap() {
                let actions: Vec<&str> = match &statement["Action"] {
                    Value::String(a) => vec![a.as_str()],
                    Value::Sequence(list) => list.iter().filter_map(Value::as_str).collect(),
                    other => panic!("{name:?}: unexpected Action {other:?}"),
                };
                for action in actions {
                    checked += 1;
                    assert!(!action.contains('*'), "{name:?} allows {action}");
                }
            }
        }
    }
    assert!(checked > 20);
}

/// The actions a function's policy allows.
fn allowed_actions(function: &str) -> BTreeSet<String> {
    let template = raw_template();
    let mut actions = BTreeSet::new();
    for policy in template["Resources"][function]["Properties"]["Policies"].as_sequence().unwrap() {
        for statement in policy["Statement"].as_sequence().unwrap() {
            if statement["Effect"].as_str() != Some("Allow") {
                continue;
            }
            match &statement["Action"] {
                Value::String(a) => {
                    actions.insert(a.clone());
                }
                Value::Sequence(list) => actions.extend(list.iter().filter_map(Value::as_str).map(String::from)),
                _ => {}
            }
        }
    }
    actions
}

#[test]
fn the_classify_worker_cannot_send_and_the_send_worker_cannot_read_inbound_mail() {
    assert!(allowed_actions("ClassifyFunction").iter().all(|a| !a.starts_with("ses:")));
    let template = std::fs::read_to_string(repo_path("template.yaml")).unwrap();
    let send: Value = raw_template()["Resources"]["SendFunction"]["Properties"]["Policies"].clone();
    let send_text = serde_yaml::to_string(&send).unwrap();
    assert!(!send_text.contains("inbound/"), "the send worker's policy mentions inbound objects");
    assert!(allowed_actions("SendFunction").contains("ses:SendRawEmail"));
    assert!(template.contains("PointInTimeRecoveryEnabled: true"));
}

#[test]
fn every_queue_a_function_consumes_has_a_dead_letter_queue() {
    let template = Template::repository().unwrap();
    let queues = template.queues().unwrap();
    for function in template.functions().unwrap() {
        for trigger in &function.triggers {
            if let tern_aws::template::Trigger::Sqs { queue_logical_id, report_batch_item_failures, .. } = trigger {
                let queue = queues.iter().find(|q| &q.logical_id == queue_logical_id).unwrap();
                assert!(queue.redrive.is_some(), "{queue_logical_id} has no DLQ");
                assert!(report_batch_item_failures, "{} should report batch item failures", function.logical_id);
            }
        }
    }
}

#[test]
fn only_housekeeping_may_change_or_delete_audit_entries() {
    let template = raw_template();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let statements = resource["Properties"]["Policies"][0]["Statement"].as_sequence().unwrap();
        let denies_audit = statements.iter().any(|s| {
            s["Effect"].as_str() == Some("Deny")
                && serde_yaml::to_string(&s["Condition"]).unwrap().contains(tern_aws::keys::AUDIT_PARTITION_PATTERN)
        });
        let is_housekeeping = name.as_str() == Some("HousekeepingFunction");
        assert_eq!(denies_audit, !is_housekeeping, "{name:?}");
    }
}

/// Every Allow statement of `function`, with its actions.
fn allow_statements(function: &str) -> Vec<(Vec<String>, Value)> {
    let template = raw_template();
    let mut out = Vec::new();
    for policy in template["Resources"][function]["Properties"]["Policies"].as_sequence().unwrap() {
        for statement in policy["Statement"].as_sequence().unwrap() {
            if statement["Effect"].as_str() != Some("Allow") {
                continue;
            }
            let actions = match &statement["Action"] {
                Value::String(a) => vec![a.clone()],
                Value::Sequence(list) => list.iter().filter_map(Value::as_str).map(String::from).collect(),
                _ => Vec::new(),
            };
            out.push((actions, statement.clone()));
        }
    }
    out
}

fn functions() -> Vec<String> {
    Template::repository().unwrap().functions().unwrap().into_iter().map(|f| f.logical_id).collect()
}

fn yaml(value: &Value) -> String {
    serde_yaml::to_string(value).unwrap()
}

/// The purposes (encryption contexts) a function may seal or open under workspace keys.
fn workspace_purposes(function: &str) -> BTreeSet<String> {
    let mut purposes = BTreeSet::new();
    for (_, statement) in allow_statements(function) {
        let condition = &statement["Condition"]["StringEquals"];
        if yaml(&statement["Resource"]).contains("key/*")
            && let Some(list) = condition["kms:EncryptionContext:purpose"].as_sequence()
        {
            purposes.extend(list.iter().filter_map(Value::as_str).map(String::from));
        }
    }
    purposes
}

/// Issue 12, finding 8: no function may use any workspace's key for anything. Every
/// grant of a cryptographic KMS action is either bound to the key's own workspace
/// tag and named purposes, or only through S3 (SSE-KMS on the objects the function
/// may reach); the platform key only through the services it encrypts, or for named
/// platform purposes; destroying keys only by housekeeping, only tagged keys.
#[test]
fn every_kms_grant_is_scoped_to_a_workspace_tag_and_purpose_or_a_service() {
    let crypto = ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"];
    let destructive = ["kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:DeleteAlias"];
    let mut checked = 0;
    for function in functions() {
        for (actions, statement) in allow_statements(&function) {
            let sid = statement["Sid"].as_str().unwrap_or_default().to_string();
            let resource = yaml(&statement["Resource"]);
            let condition = &statement["Condition"];
            let tagged = condition["Null"]["aws:ResourceTag/tern:workspace"].as_str() == Some("false");
            let via = yaml(&condition["StringEquals"]["kms:ViaService"]);
            let context = &condition["StringEquals"];
            let purposes = context["kms:EncryptionContext:purpose"].as_sequence().map(Vec::len).unwrap_or(0);
            if actions.iter().any(|a| crypto.contains(&a.as_str())) {
                checked += 1;
                assert!(!resource.contains("\"*\"") && resource.trim() != "'*'", "{function}/{sid}: crypto on every key");
                if resource.contains("key/*") {
                    assert!(tagged, "{function}/{sid}: workspace keys without the tag condition");
                    let bound =
                        context["kms:EncryptionContext:workspace"].as_str() == Some("${aws:ResourceTag/tern:workspace}") && purposes > 0;
                    let through_s3 = via.contains("s3.") && !via.contains("sqs.") && !via.contains("dynamodb.");
                    assert!(
                        bound || through_s3,
                        "{function}/{sid}: neither bound to the key's workspace and a purpose, nor only through S3"
                    );
                } else {
                    assert!(resource.contains("PlatformKey"), "{function}/{sid}: {resource}");
                    let through_services = !condition["StringEquals"]["kms:ViaService"].is_null();
                    assert!(through_services || purposes > 0, "{function}/{sid}: the platform key used directly for anything");
                }
            }
            if actions.iter().any(|a| destructive.contains(&a.as_str())) {
                assert_eq!(function, "HousekeepingFunction", "{function}/{sid} may destroy keys");
                assert!(tagged, "{function}/{sid}: destroys keys without the tag condition");
            }
        }
    }
    assert!(checked >= 15, "{checked}");
}

/// The functions that parse hostile mail (classify, inbound) open only what they need.
#[test]
fn the_functions_that_parse_hostile_mail_open_only_the_purposes_they_need() {
    let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(workspace_purposes("ClassifyFunction"), set(&["blind-index-key", "llm-credentials"]));
    assert_eq!(workspace_purposes("InboundFunction"), set(&["inbound-webhook"]));
    assert_eq!(workspace_purposes("SendFunction"), set(&["mailbox-credentials"]));
    for function in ["EnrichFunction", "DispatchFunction", "FeedbackFunction"] {
        assert!(workspace_purposes(function).is_empty(), "{function}");
    }
    assert!(workspace_purposes("ApiFunction").contains("mailbox-credentials"));
}

/// Audit entries: only the appender (api) puts them, nobody but housekeeping (TTL
/// lowering, checkpoints, workspace deletion) changes or deletes them.
#[test]
fn only_the_appenders_may_put_audit_entries() {
    let template = raw_template();
    for function in functions() {
        let statements = template["Resources"][&function]["Properties"]["Policies"][0]["Statement"].as_sequence().unwrap();
        let denied: BTreeSet<String> = statements
            .iter()
            .filter(|s| s["Effect"].as_str() == Some("Deny") && yaml(&s["Condition"]).contains(tern_aws::keys::AUDIT_PARTITION_PATTERN))
            .flat_map(|s| s["Action"].as_sequence().cloned().unwrap_or_default())
            .filter_map(|a| a.as_str().map(String::from))
            .collect();
        let expected: &[&str] = match function.as_str() {
            "HousekeepingFunction" => &[],
            "ApiFunction" => &["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem"],
            _ => &["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
        };
        assert_eq!(denied, expected.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>(), "{function}");
    }
}
