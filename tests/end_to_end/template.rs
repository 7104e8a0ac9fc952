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
            s["Effect"].as_str() == Some("Deny") && serde_yaml::to_string(&s["Condition"]).unwrap().contains("WS#*#AUDIT")
        });
        let is_housekeeping = name.as_str() == Some("HousekeepingFunction");
        assert_eq!(denies_audit, !is_housekeeping, "{name:?}");
    }
}
