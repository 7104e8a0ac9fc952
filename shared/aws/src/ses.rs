//! Sending through SES: the platform's own account mail, outreach from verified
//! domains, and whether a domain is verified. The classification of SES's answers
//! (retry, give up, or unknown: the request may have reached SES) lives here once.

use aws_sdk_ses::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ses::primitives::Blob;
use aws_sdk_ses::types::{Body, Content, Destination, Message, MessageTag, RawMessage, VerificationStatus};

/// Why SES did not take a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SesError {
    /// Nothing was sent; trying again later may work (throttling, SES paused).
    #[error("{0}")]
    Transient(String),
    /// SES refused this message for good (a rejected address, a bad message).
    #[error("{0}")]
    Permanent(String),
    /// The request may have reached SES: whether it was sent is not known.
    #[error("{0}")]
    Unknown(String),
}

#[derive(Debug, Clone)]
pub struct Ses {
    client: aws_sdk_ses::Client,
    configuration_set: Option<String>,
}

impl Ses {
    pub fn new(client: aws_sdk_ses::Client, configuration_set: Option<String>) -> Self {
        Self { client, configuration_set }
    }

    /// Sends a raw MIME message from `envelope_from`, tagged (the tags come back on
    /// bounce and complaint events). No explicit destinations: SES sends to the
    /// message's own To, which compose writes once; naming it twice would make moto
    /// count two sends for one message. Returns SES's message id.
    pub async fn send_raw(&self, raw: &[u8], envelope_from: &str, tags: &[(&str, String)]) -> Result<String, SesError> {
        let message = RawMessage::builder().data(Blob::new(raw.to_vec())).build().map_err(|e| SesError::Permanent(e.to_string()))?;
        let tags = tags.iter().filter_map(|(name, value)| MessageTag::builder().name(*name).value(value).build().ok()).collect::<Vec<_>>();
        let result = self
            .client
            .send_raw_email()
            .raw_message(message)
            .source(envelope_from)
            .set_configuration_set_name(self.configuration_set.clone())
            .set_tags(Some(tags))
            .send()
            .await;
        result.map(|output| output.message_id).map_err(classify)
    }

    /// A plain-text message from the platform (sign-up, password reset) to one person.
    pub async fn send_text(&self, from: &str, to: &str, subject: &str, text: &str) -> Result<(), SesError> {
        let content = |data: &str| Content::builder().data(data).charset("UTF-8").build().map_err(|e| SesError::Permanent(e.to_string()));
        self.client
            .send_email()
            .source(from)
            .destination(Destination::builder().to_addresses(to).build())
            .message(Message::builder().subject(content(subject)?).body(Body::builder().text(content(text)?).build()).build())
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    /// Whether SES has verified `domain` (ownership and DKIM) for sending.
    pub async fn domain_verified(&self, domain: &str) -> Result<bool, SesError> {
        let answer = self.client.get_identity_verification_attributes().identities(domain).send().await.map_err(classify)?;
        Ok(answer.verification_attributes.get(domain).is_some_and(|a| a.verification_status == VerificationStatus::Success))
    }
}

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(error: SdkError<E, R>) -> SesError {
    match &error {
        SdkError::ServiceError(e) => {
            let code = e.err().code().unwrap_or_default().to_string();
            let text = format!("SES {code}: {}", e.err().message().unwrap_or_default());
            match code.as_str() {
                "Throttling"
                | "ThrottlingException"
                | "ServiceUnavailable"
                | "InternalFailure"
                | "AccountSendingPausedException"
                | "ConfigurationSetSendingPausedException" => SesError::Transient(text),
                _ => SesError::Permanent(text),
            }
        }
        // The request never left: nothing was sent.
        SdkError::ConstructionFailure(e) => SesError::Transient(format!("SES request not built: {e:?}")),
        // Timeouts, broken connections, unreadable answers: the request may have
        // reached SES, so the outcome is unknown and the step is not retried blindly.
        _ => SesError::Unknown(format!("SES answer lost: {}", crate::worker::error_chain(&error))),
    }
}
