//! Reads template.yaml, the one description of Tern's cloud resources.
//!
//! Local provisioning and the dev host's event wiring both come from here, so the
//! local platform cannot drift from what is deployed: a queue, index or schedule
//! added to the template appears locally without touching any other file.

use serde::Deserialize;
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("template.yaml is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("resource {logical_id}: {reason}")]
    Resource { logical_id: String, reason: String },
}

#[derive(Debug, Deserialize)]
struct RawTemplate {
    #[serde(rename = "Resources")]
    resources: BTreeMap<String, RawResource>,
}

#[derive(Debug, Deserialize)]
struct RawResource {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Properties", default)]
    properties: Value,
}

#[derive(Debug)]
pub struct Template {
    resources: BTreeMap<String, RawResource>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDefinition {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySchemaElement {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Projection {
    pub projection_type: String,
    #[serde(default)]
    pub non_key_attributes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GlobalSecondaryIndex {
    pub index_name: String,
    pub key_schema: Vec<KeySchemaElement>,
    pub projection: Projection,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    pub logical_id: String,
    pub attributes: Vec<AttributeDefinition>,
    pub key_schema: Vec<KeySchemaElement>,
    pub global_indexes: Vec<GlobalSecondaryIndex>,
    pub ttl_attribute: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueSpec {
    pub logical_id: String,
    pub fifo: bool,
    pub visibility_timeout_seconds: Option<u32>,
    pub retention_seconds: Option<u32>,
    /// `(dead-letter queue's logical id, maxReceiveCount)`.
    pub redrive: Option<(String, u32)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BucketSpec {
    pub logical_id: String,
    pub versioned: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeySpec {
    pub logical_id: String,
    pub rotation: bool,
    pub aliases: Vec<String>,
}

/// How a function is triggered.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    HttpApi { method: String, path: String },
    Sqs { queue_logical_id: String, batch_size: u32, report_batch_item_failures: bool },
    Schedule { expression: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    pub logical_id: String,
    pub code_uri: String,
    pub triggers: Vec<Trigger>,
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text)
    }

    /// The template that ships with this source tree.
    pub fn repository() -> Result<Self, TemplateError> {
        Self::load(&repository_root().join("template.yaml"))
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let raw: RawTemplate = serde_yaml::from_str(text)?;
        Ok(Self { resources: raw.resources })
    }

    pub fn resource_types(&self) -> impl Iterator<Item = (&str, &str)> {
        self.resources.iter().map(|(id, r)| (id.as_str(), r.kind.as_str()))
    }

    fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
        self.resources.iter().filter(move |(_, r)| r.kind == kind).map(|(id, r)| (id, &r.properties))
    }

    pub fn tables(&self) -> Result<Vec<TableSpec>, TemplateError> {
        self.of_kind("AWS::DynamoDB::Table")
            .map(|(id, p)| {
                let global_indexes: Option<Vec<GlobalSecondaryIndex>> = property(id, p, "GlobalSecondaryIndexes")?;
                let ttl = p.get("TimeToLiveSpecification");
                let ttl_enabled = ttl.and_then(|t| t.get("Enabled")).and_then(Value::as_bool).unwrap_or(false);
                Ok(TableSpec {
                    logical_id: id.clone(),
                    attributes: property(id, p, "AttributeDefinitions")?,
                    key_schema: property(id, p, "KeySchema")?,
                    global_indexes: global_indexes.unwrap_or_default(),
                    ttl_attribute: ttl_enabled
                        .then(|| ttl.and_then(|t| t.get("AttributeName")).and_then(Value::as_str).map(String::from))
                        .flatten(),
                })
            })
            .collect()
    }

    pub fn queues(&self) -> Result<Vec<QueueSpec>, TemplateError> {
        self.of_kind("AWS::SQS::Queue")
            .map(|(id, p)| {
                let number = |name: &str| p.get(name).and_then(Value::as_u64).map(|n| n as u32);
                let redrive = match p.get("RedrivePolicy") {
                    None => None,
                    Some(policy) => {
                        let target = policy
                            .get("deadLetterTargetArn")
                            .and_then(reference_target)
                            .ok_or_else(|| resource_error(id, "RedrivePolicy needs deadLetterTargetArn: !GetAtt <Queue>.Arn".into()))?;
                        let max = policy
                            .get("maxReceiveCount")
                            .and_then(Value::as_u64)
                            .ok_or_else(|| resource_error(id, "RedrivePolicy needs maxReceiveCount".into()))?;
                        Some((target, max as u32))
                    }
                };
                Ok(QueueSpec {
                    logical_id: id.clone(),
                    fifo: p.get("FifoQueue").and_then(Value::as_bool).unwrap_or(false),
                    visibility_timeout_seconds: number("VisibilityTimeout"),
                    retention_seconds: number("MessageRetentionPeriod"),
                    redrive,
                })
            })
            .collect()
    }

    pub fn buckets(&self) -> Vec<BucketSpec> {
        self.of_kind("AWS::S3::Bucket")
            .map(|(id, p)| BucketSpec {
                logical_id: id.clone(),
                versioned: p.get("VersioningConfiguration").and_then(|v| v.get("Status")).and_then(Value::as_str) == Some("Enabled"),
            })
            .collect()
    }

    pub fn keys(&self) -> Vec<KeySpec> {
        self.of_kind("AWS::KMS::Key")
            .map(|(id, p)| KeySpec {
                logical_id: id.clone(),
                rotation: p.get("EnableKeyRotation").and_then(Value::as_bool).unwrap_or(false),
                aliases: self
                    .of_kind("AWS::KMS::Alias")
                    .filter(|(_, a)| a.get("TargetKeyId").and_then(reference_target).as_deref() == Some(id.as_str()))
                    .filter_map(|(_, a)| a.get("AliasName").and_then(Value::as_str).map(String::from))
                    .collect(),
            })
            .collect()
    }

    pub fn functions(&self) -> Result<Vec<FunctionSpec>, TemplateError> {
        self.of_kind("AWS::Serverless::Function")
            .map(|(id, p)| {
                let code_uri = p
                    .get("CodeUri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| resource_error(id, "CodeUri must be a path".into()))?
                    .to_string();
                let mut triggers = Vec::new();
                if let Some(Value::Mapping(events)) = p.get("Events") {
                    for (_, event) in events {
                        triggers.push(trigger(id, event)?);
                    }
                }
                Ok(FunctionSpec { logical_id: id.clone(), code_uri, triggers })
            })
            .collect()
    }
}

fn trigger(function: &str, event: &Value) -> Result<Trigger, TemplateError> {
    let kind = event.get("Type").and_then(Value::as_str).unwrap_or_default();
    let props = event.get("Properties").cloned().unwrap_or(Value::Null);
    let text = |name: &str| props.get(name).and_then(Value::as_str).map(String::from);
    match kind {
        "HttpApi" => Ok(Trigger::HttpApi {
            method: text("Method").unwrap_or_else(|| "ANY".into()),
            path: text("Path").unwrap_or_else(|| "/{proxy+}".into()),
        }),
        "SQS" => Ok(Trigger::Sqs {
            queue_logical_id: props
                .get("Queue")
                .and_then(reference_target)
                .ok_or_else(|| resource_error(function, "SQS event needs Queue: !GetAtt <Queue>.Arn".into()))?,
            batch_size: props.get("BatchSize").and_then(Value::as_u64).unwrap_or(10) as u32,
            report_batch_item_failures: props
                .get("FunctionResponseTypes")
                .and_then(Value::as_sequence)
                .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("ReportBatchItemFailures"))),
        }),
        "Schedule" | "ScheduleV2" => Ok(Trigger::Schedule {
            expression: text("Schedule")
                .or_else(|| text("ScheduleExpression"))
                .ok_or_else(|| resource_error(function, "Schedule event needs an expression".into()))?,
        }),
        other => Err(resource_error(function, format!("event type {other} is not supported locally"))),
    }
}

/// The logical id named by `!Ref X`, `!GetAtt X.Arn`, `{Ref: X}` or `{Fn::GetAtt: [X, Arn]}`.
pub fn reference_target(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) => {
            let inner = &tagged.value;
            match tagged.tag.to_string().as_str() {
                "!Ref" => inner.as_str().map(String::from),
                "!GetAtt" => match inner {
                    Value::String(s) => s.split('.').next().map(String::from),
                    Value::Sequence(parts) => parts.first().and_then(Value::as_str).map(String::from),
                    _ => None,
                },
                _ => None,
            }
        }
        Value::Mapping(map) => {
            if let Some(target) = map.get("Ref").and_then(Value::as_str) {
                return Some(target.to_string());
            }
            match map.get("Fn::GetAtt") {
                Some(Value::Sequence(parts)) => parts.first().and_then(Value::as_str).map(String::from),
                Some(Value::String(s)) => s.split('.').next().map(String::from),
                _ => None,
            }
        }
        _ => None,
    }
}

fn property<T: serde::de::DeserializeOwned>(id: &str, properties: &Value, name: &str) -> Result<T, TemplateError> {
    serde_yaml::from_value(properties.get(name).cloned().unwrap_or(Value::Null)).map_err(|e| resource_error(id, format!("{name}: {e}")))
}

fn resource_error(logical_id: &str, reason: String) -> TemplateError {
    TemplateError::Resource { logical_id: logical_id.to_string(), reason }
}

/// The repository's root, found from this crate's location at build time.
pub fn repository_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties: { EnableKeyRotation: true }
  KeyAlias:
    Type: AWS::KMS::Alias
    Properties: { AliasName: alias/tern/platform, TargetKeyId: !Ref Key }
  WorkDLQ:
    Type: AWS::SQS::Queue
  Work:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy: { deadLetterTargetArn: !GetAtt WorkDLQ.Arn, maxReceiveCount: 3 }
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: { "Fn::GetAtt": [Work, Arn] }
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
        Tick:
          Type: Schedule
          Properties: { Schedule: rate(1 minute) }
"#;

    #[test]
    fn reads_queues_with_their_dead_letter_queues() {
        let t = Template::parse(SAMPLE).unwrap();
        let queues = t.queues().unwrap();
        let work = queues.iter().find(|q| q.logical_id == "Work").unwrap();
        assert_eq!(work.redrive, Some(("WorkDLQ".into(), 3)));
        assert_eq!(work.visibility_timeout_seconds, Some(60));
    }

    #[test]
    fn reads_function_triggers_in_short_and_long_form() {
        let t = Template::parse(SAMPLE).unwrap();
        let f = &t.functions().unwrap()[0];
        assert!(f.triggers.contains(&Trigger::Sqs { queue_logical_id: "Work".into(), batch_size: 5, report_batch_item_failures: true }));
        assert!(f.triggers.contains(&Trigger::Schedule { expression: "rate(1 minute)".into() }));
    }

    #[test]
    fn keys_know_their_aliases() {
        let t = Template::parse(SAMPLE).unwrap();
        assert_eq!(t.keys()[0].aliases, vec!["alias/tern/platform".to_string()]);
    }

    #[test]
    fn a_redrive_policy_without_a_target_is_an_error_naming_the_queue() {
        let bad = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy: { maxReceiveCount: 3 }\n";
        let err = Template::parse(bad).unwrap().queues().unwrap_err();
        assert!(err.to_string().starts_with("resource Q:"), "{err}");
    }
}
