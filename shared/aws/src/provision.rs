//! Stands up template.yaml's stateful resources on the local AWS stand-in.
//!
//! CloudFormation does this on AWS. Locally (dev host and tests) the same template is
//! read and each table, queue, bucket and key is created through the real SDK, under
//! a name prefix so many test runs can share one moto without seeing each other.

use crate::clients::AwsClients;
use crate::config::{Config, QueueName};
use crate::template::{Template, TemplateError};
use aws_sdk_dynamodb::types as ddb;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("template.yaml must define exactly one {0}")]
    Shape(&'static str),
    #[error("creating {resource} failed: {message}")]
    Aws { resource: String, message: String },
}

fn aws_error(resource: &str, error: impl std::error::Error) -> ProvisionError {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        message = format!("{message}: {inner}");
        source = inner.source();
    }
    ProvisionError::Aws { resource: resource.to_string(), message }
}

/// What was created, by logical id, beyond what [`Config`] carries.
#[derive(Debug, Clone, Default)]
pub struct Provisioned {
    pub queue_urls: BTreeMap<String, String>,
    pub queue_arns: BTreeMap<String, String>,
}

/// Creates every table, queue, bucket and KMS key of `template`, names prefixed with
/// `prefix`, and returns the configuration functions need to use them.
pub async fn provision(template: &Template, clients: &AwsClients, prefix: &str) -> Result<(Config, Provisioned), ProvisionError> {
    let table = single(template.tables()?, "AWS::DynamoDB::Table")?;
    let table_name = format!("{prefix}-{}", table.logical_id);
    create_table(clients, &table_name, &table).await?;

    let mut provisioned = Provisioned::default();
    let queues = template.queues()?;
    // Dead-letter queues first: a queue's redrive policy names its DLQ's ARN.
    let (plain, redriven): (Vec<_>, Vec<_>) = queues.into_iter().partition(|q| q.redrive.is_none());
    for spec in plain.iter().chain(redriven.iter()) {
        let name = if spec.fifo { format!("{prefix}-{}.fifo", spec.logical_id) } else { format!("{prefix}-{}", spec.logical_id) };
        let mut request = clients.sqs.create_queue().queue_name(&name);
        use aws_sdk_sqs::types::QueueAttributeName as A;
        if spec.fifo {
            request = request.attributes(A::FifoQueue, "true");
        }
        if let Some(v) = spec.visibility_timeout_seconds {
            request = request.attributes(A::VisibilityTimeout, v.to_string());
        }
        if let Some(v) = spec.retention_seconds {
            request = request.attributes(A::MessageRetentionPeriod, v.to_string());
        }
        if let Some((dlq, max)) = &spec.redrive {
            let arn = provisioned.queue_arns.get(dlq).ok_or(ProvisionError::Shape("dead-letter queue for every RedrivePolicy"))?;
            let policy = serde_json::json!({ "deadLetterTargetArn": arn, "maxReceiveCount": max });
            request = request.attributes(A::RedrivePolicy, policy.to_string());
        }
        let url = request.send().await.map_err(|e| aws_error(&name, e))?.queue_url.unwrap_or_default();
        let arn = clients
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(A::QueueArn)
            .send()
            .await
            .map_err(|e| aws_error(&name, e))?
            .attributes
            .and_then(|mut a| a.remove(&A::QueueArn))
            .unwrap_or_default();
        provisioned.queue_urls.insert(spec.logical_id.clone(), url);
        provisioned.queue_arns.insert(spec.logical_id.clone(), arn);
    }

    let bucket = single(template.buckets(), "AWS::S3::Bucket")?;
    let bucket_name = format!("{prefix}-{}", bucket.logical_id).to_ascii_lowercase();
    let mut create_bucket = clients.s3.create_bucket().bucket(&bucket_name);
    // Outside us-east-1, S3 wants the bucket's region named.
    if let Some(region) = clients.s3.config().region().map(|r| r.to_string()).filter(|r| r != "us-east-1") {
        create_bucket = create_bucket.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    match create_bucket.send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|s| s.is_bucket_already_owned_by_you()) => {}
        Err(e) => return Err(aws_error(&bucket_name, e)),
    }
    if bucket.versioned {
        clients
            .s3
            .put_bucket_versioning()
            .bucket(&bucket_name)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder().status(aws_sdk_s3::types::BucketVersioningStatus::Enabled).build(),
            )
            .send()
            .await
            .map_err(|e| aws_error(&bucket_name, e))?;
    }

    let key = single(template.keys(), "AWS::KMS::Key")?;
    let key_id = create_key(clients, prefix, &key.aliases, key.rotation).await?;

    // SES refuses to send from an unverified identity (moto enforces it too); the
    // local platform's sending domain is verified here, as DNS records would on AWS.
    clients.ses.verify_domain_identity().domain(LOCAL_SENDING_DOMAIN).send().await.map_err(|e| aws_error(LOCAL_SENDING_DOMAIN, e))?;

    let config = Config {
        table: table_name,
        bucket: bucket_name,
        platform_key: key_id,
        s3_path_style: true,
        queues: QueueName::ALL.into_iter().filter_map(|q| provisioned.queue_urls.get(q.logical_id()).map(|url| (q, url.clone()))).collect(),
        inbound_webhook_secret: None,
        session_key: None,
        sending_domain: Some(LOCAL_SENDING_DOMAIN.to_string()),
        public_url: None,
        inbound_domain: Some(LOCAL_INBOUND_DOMAIN.to_string()),
        ses_configuration_set: None,
    };
    Ok((config, provisioned))
}

/// The local platform's domains (`.test` is reserved: nothing real answers there).
pub const LOCAL_SENDING_DOMAIN: &str = "send.tern.test";
pub const LOCAL_INBOUND_DOMAIN: &str = "in.tern.test";

fn single<T>(mut items: Vec<T>, what: &'static str) -> Result<T, ProvisionError> {
    if items.len() == 1 { Ok(items.remove(0)) } else { Err(ProvisionError::Shape(what)) }
}

async fn create_table(clients: &AwsClients, name: &str, spec: &crate::template::TableSpec) -> Result<(), ProvisionError> {
    let key = |k: &crate::template::KeySchemaElement| {
        ddb::KeySchemaElement::builder()
            .attribute_name(&k.attribute_name)
            .key_type(ddb::KeyType::from(k.key_type.as_str()))
            .build()
            .map_err(|e| aws_error(name, e))
    };
    let mut request = clients.dynamodb.create_table().table_name(name).billing_mode(ddb::BillingMode::PayPerRequest);
    for a in &spec.attributes {
        request = request.attribute_definitions(
            ddb::AttributeDefinition::builder()
                .attribute_name(&a.attribute_name)
                .attribute_type(ddb::ScalarAttributeType::from(a.attribute_type.as_str()))
                .build()
                .map_err(|e| aws_error(name, e))?,
        );
    }
    for k in &spec.key_schema {
        request = request.key_schema(key(k)?);
    }
    for gsi in &spec.global_indexes {
        let mut index = ddb::GlobalSecondaryIndex::builder().index_name(&gsi.index_name).projection(
            ddb::Projection::builder()
                .projection_type(ddb::ProjectionType::from(gsi.projection.projection_type.as_str()))
                .set_non_key_attributes((!gsi.projection.non_key_attributes.is_empty()).then(|| gsi.projection.non_key_attributes.clone()))
                .build(),
        );
        for k in &gsi.key_schema {
            index = index.key_schema(key(k)?);
        }
        request = request.global_secondary_indexes(index.build().map_err(|e| aws_error(name, e))?);
    }
    match request.send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => return Ok(()),
        Err(e) => return Err(aws_error(name, e)),
    }
    if let Some(attribute) = &spec.ttl_attribute {
        clients
            .dynamodb
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                ddb::TimeToLiveSpecification::builder().attribute_name(attribute).enabled(true).build().map_err(|e| aws_error(name, e))?,
            )
            .send()
            .await
            .map_err(|e| aws_error(name, e))?;
    }
    Ok(())
}

/// Creates the platform key (or finds it by alias when provisioning again) and returns its id.
async fn create_key(clients: &AwsClients, prefix: &str, aliases: &[String], rotation: bool) -> Result<String, ProvisionError> {
    // Aliases are account-wide: give each prefix its own, alias/tern/x → alias/<prefix>/x.
    let aliases: Vec<String> =
        aliases.iter().map(|a| format!("alias/{prefix}/{}", a.trim_start_matches("alias/").trim_start_matches("tern/"))).collect();
    if let Some(alias) = aliases.first()
        && let Ok(found) = clients.kms.describe_key().key_id(alias).send().await
        && let Some(id) = found.key_metadata.map(|m| m.key_id)
    {
        return Ok(id);
    }
    let created =
        clients.kms.create_key().description(format!("{prefix} platform key")).send().await.map_err(|e| aws_error("platform key", e))?;
    let key_id = created.key_metadata.map(|m| m.key_id).ok_or(ProvisionError::Shape("KMS key metadata"))?;
    if rotation {
        clients.kms.enable_key_rotation().key_id(&key_id).send().await.map_err(|e| aws_error("platform key", e))?;
    }
    for alias in &aliases {
        clients.kms.create_alias().alias_name(alias).target_key_id(&key_id).send().await.map_err(|e| aws_error(alias, e))?;
    }
    Ok(key_id)
}
