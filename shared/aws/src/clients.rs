//! The AWS clients, built once per cold start and shared by every handler call.

use crate::config::Config;
use crate::cost_meter::CostMeter;
use aws_config::BehaviorVersion;
pub use aws_config::SdkConfig;

/// The raw clients are this crate's alone: code outside reaches AWS through the
/// adapters a [`crate::Platform`] hands out, which scope every key to a workspace.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub(crate) dynamodb: aws_sdk_dynamodb::Client,
    pub(crate) sqs: aws_sdk_sqs::Client,
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) kms: aws_sdk_kms::Client,
    pub(crate) ses: aws_sdk_ses::Client,
    pub(crate) meter: CostMeter,
}

impl AwsClients {
    /// Requests made through these clients, by service and operation.
    pub fn meter(&self) -> &CostMeter {
        &self.meter
    }

    /// Loads the SDK's own configuration chain (region, credentials, and
    /// `AWS_ENDPOINT_URL`, which is how local runs and tests reach moto).
    pub async fn from_env(config: &Config) -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self::from_sdk_config(&sdk, config.s3_path_style)
    }

    /// `s3_path_style`: path-style bucket addressing, which the local stand-in needs.
    pub fn from_sdk_config(sdk: &SdkConfig, s3_path_style: bool) -> Self {
        let meter = CostMeter::new();
        Self {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(aws_sdk_dynamodb::config::Builder::from(sdk).interceptor(meter.clone()).build()),
            sqs: aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(sdk).interceptor(meter.clone()).build()),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(sdk).force_path_style(s3_path_style).interceptor(meter.clone()).build(),
            ),
            kms: aws_sdk_kms::Client::from_conf(aws_sdk_kms::config::Builder::from(sdk).interceptor(meter.clone()).build()),
            ses: aws_sdk_ses::Client::from_conf(aws_sdk_ses::config::Builder::from(sdk).interceptor(meter.clone()).build()),
            meter,
        }
    }
}

/// An SDK configuration for a local AWS stand-in at `endpoint`, with fixed test
/// credentials. Used by the dev host and tests; Lambda uses [`AwsClients::from_env`].
pub fn local_sdk_config(endpoint: &str) -> SdkConfig {
    local_sdk_config_in(endpoint, "us-east-1")
}

/// As [`local_sdk_config`], in another region: the stand-in keeps each region's
/// services apart (a test that counts SES sends gets its own SES this way).
pub fn local_sdk_config_in(endpoint: &str, region: &str) -> SdkConfig {
    let credentials = aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "tern-local");
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(credentials))
        .build()
}
