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
        let sdk = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client()).load().await;
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
        .http_client(https_client())
        .build()
}

/// Amazon Trust Services' root certificates: every AWS endpoint's chain ends in one.
const AMAZON_TRUST_ROOTS: &str = include_str!("../certs/amazon-trust-services.pem");

/// The one HTTPS client all five SDK clients share (one connection pool), trusting
/// only Amazon's roots.
///
/// Why not the SDK's default: it gives each client its own HTTPS client, and each
/// builds its TLS configuration from the system's ~150 root certificates when the
/// client is created, which was about 7 ms of every cold start (measured with
/// `scripts/bench-coldstart`). Five embedded roots cost nothing to parse, and a
/// certificate from any other authority on the host's list cannot stand in for an
/// AWS endpoint. Unlike the default it ignores `HTTPS_PROXY`: Lambda has no proxy.
fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let trust = TrustStore::empty().with_pem_certificate(AMAZON_TRUST_ROOTS.as_bytes());
    // `build` fails only for a malformed extra server name, of which there are none.
    let context = TlsContext::builder().with_trust_store(trust).build().unwrap_or_default();
    aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc)).tls_context(context).build_https()
}

#[cfg(test)]
mod tests {
    use super::AMAZON_TRUST_ROOTS;
    use rustls::pki_types::{CertificateDer, pem::PemObject};

    #[test]
    fn the_embedded_trust_roots_are_amazons_five_and_all_parse() {
        let roots: Vec<_> = CertificateDer::pem_slice_iter(AMAZON_TRUST_ROOTS.as_bytes()).collect::<Result<_, _>>().expect("valid PEM");
        assert_eq!(roots.len(), 5, "Amazon Root CA 1-4 and Starfield Services Root G2");
        let mut store = rustls::RootCertStore::empty();
        let (valid, invalid) = store.add_parsable_certificates(roots);
        assert_eq!((valid, invalid), (5, 0));
    }
}
