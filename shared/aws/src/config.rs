//! Configuration, read once from the environment at cold start.
//!
//! Every value is named by its environment variable in errors, so a function that
//! starts without one says exactly what is missing instead of failing later.

use std::collections::BTreeMap;

/// The queues Tern's functions talk through. Names match the logical ids in template.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QueueName {
    Classify,
    Enrich,
    Send,
    Feedback,
    /// Privacy operations (erasure) run by the housekeeping function.
    Privacy,
}

impl QueueName {
    pub const ALL: [QueueName; 5] = [Self::Classify, Self::Enrich, Self::Send, Self::Feedback, Self::Privacy];

    pub fn env_var(self) -> &'static str {
        match self {
            Self::Classify => "TERN_CLASSIFY_QUEUE_URL",
            Self::Enrich => "TERN_ENRICH_QUEUE_URL",
            Self::Send => "TERN_SEND_QUEUE_URL",
            Self::Feedback => "TERN_FEEDBACK_QUEUE_URL",
            Self::Privacy => "TERN_PRIVACY_QUEUE_URL",
        }
    }

    /// The queue's logical id in template.yaml.
    pub fn logical_id(self) -> &'static str {
        match self {
            Self::Classify => "ClassifyQueue",
            Self::Enrich => "EnrichQueue",
            Self::Send => "SendQueue",
            Self::Feedback => "FeedbackQueue",
            Self::Privacy => "PrivacyQueue",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

pub const TABLE_VAR: &str = "TERN_TABLE";
pub const BUCKET_VAR: &str = "TERN_BUCKET";
pub const PLATFORM_KEY_VAR: &str = "TERN_PLATFORM_KEY";
pub const S3_PATH_STYLE_VAR: &str = "TERN_S3_PATH_STYLE";
pub const INBOUND_SECRET_VAR: &str = "TERN_INBOUND_WEBHOOK_SECRET";
pub const SESSION_KEY_VAR: &str = "TERN_SESSION_KEY";
pub const SENDING_DOMAIN_VAR: &str = "TERN_SENDING_DOMAIN";
pub const PUBLIC_URL_VAR: &str = "TERN_PUBLIC_URL";
pub const INBOUND_DOMAIN_VAR: &str = "TERN_INBOUND_DOMAIN";
pub const SES_CONFIGURATION_SET_VAR: &str = "TERN_SES_CONFIGURATION_SET";

#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    pub table: String,
    pub bucket: String,
    /// The platform KMS key (id, ARN or alias) protecting platform-level data.
    pub platform_key: String,
    /// Path-style S3 addressing; needed against moto, harmless on AWS.
    pub s3_path_style: bool,
    pub queues: BTreeMap<QueueName, String>,
    /// Shared secret for inbound-mail webhooks (HTTP basic password).
    pub inbound_webhook_secret: Option<String>,
    /// Key that signs access tokens (at least 32 bytes); the api function needs it.
    pub session_key: Option<String>,
    /// The platform's sending domain (trial and starter plans send from it).
    pub sending_domain: Option<String>,
    /// Where recipients reach the API: unsubscribe links start with it.
    pub public_url: Option<String>,
    /// The domain inbound mail arrives at (replies, mailto unsubscribes).
    pub inbound_domain: Option<String>,
    /// SES configuration set whose events (bounces, complaints) feed back to us.
    pub ses_configuration_set: Option<String>,
}

impl std::fmt::Debug for Config {
    // The webhook secret must never reach a log line, even through `{:?}` of the config.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table", &self.table)
            .field("bucket", &self.bucket)
            .field("platform_key", &self.platform_key)
            .field("s3_path_style", &self.s3_path_style)
            .field("queues", &self.queues)
            .field("inbound_webhook_secret", &self.inbound_webhook_secret.as_ref().map(|_| "[redacted]"))
            .field("session_key", &self.session_key.as_ref().map(|_| "[redacted]"))
            .field("sending_domain", &self.sending_domain)
            .field("public_url", &self.public_url)
            .field("inbound_domain", &self.inbound_domain)
            .field("ses_configuration_set", &self.ses_configuration_set)
            .finish()
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| lookup(name).filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing(name));
        let s3_path_style = match lookup(S3_PATH_STYLE_VAR).as_deref().map(str::trim) {
            None | Some("") | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(other) => {
                return Err(ConfigError::Invalid { name: S3_PATH_STYLE_VAR, reason: format!("expected true or false, got `{other}`") });
            }
        };
        let queues = QueueName::ALL.into_iter().filter_map(|q| lookup(q.env_var()).filter(|v| !v.is_empty()).map(|url| (q, url))).collect();
        Ok(Self {
            table: required(TABLE_VAR)?,
            bucket: required(BUCKET_VAR)?,
            platform_key: required(PLATFORM_KEY_VAR)?,
            s3_path_style,
            queues,
            inbound_webhook_secret: lookup(INBOUND_SECRET_VAR).filter(|v| !v.is_empty()),
            session_key: lookup(SESSION_KEY_VAR).filter(|v| !v.is_empty()),
            sending_domain: lookup(SENDING_DOMAIN_VAR).filter(|v| !v.is_empty()),
            public_url: lookup(PUBLIC_URL_VAR).filter(|v| !v.is_empty()).map(|v| v.trim_end_matches('/').to_string()),
            inbound_domain: lookup(INBOUND_DOMAIN_VAR).filter(|v| !v.is_empty()),
            ses_configuration_set: lookup(SES_CONFIGURATION_SET_VAR).filter(|v| !v.is_empty()),
        })
    }

    pub fn queue_url(&self, queue: QueueName) -> Result<&str, ConfigError> {
        self.queues.get(&queue).map(String::as_str).ok_or(ConfigError::Missing(queue.env_var()))
    }

    /// Fails at cold start, naming the variable, when a function's queues are not configured.
    pub fn require_queues(&self, queues: &[QueueName]) -> Result<(), ConfigError> {
        queues.iter().try_for_each(|q| self.queue_url(*q).map(|_| ()))
    }

    /// The environment this config came from, for handing to a child process.
    pub fn to_env(&self) -> Vec<(String, String)> {
        let mut vars = vec![
            (TABLE_VAR.to_string(), self.table.clone()),
            (BUCKET_VAR.to_string(), self.bucket.clone()),
            (PLATFORM_KEY_VAR.to_string(), self.platform_key.clone()),
            (S3_PATH_STYLE_VAR.to_string(), self.s3_path_style.to_string()),
        ];
        vars.extend(self.queues.iter().map(|(q, url)| (q.env_var().to_string(), url.clone())));
        if let Some(secret) = &self.inbound_webhook_secret {
            vars.push((INBOUND_SECRET_VAR.to_string(), secret.clone()));
        }
        if let Some(key) = &self.session_key {
            vars.push((SESSION_KEY_VAR.to_string(), key.clone()));
        }
        let optional = [
            (SENDING_DOMAIN_VAR, &self.sending_domain),
            (PUBLIC_URL_VAR, &self.public_url),
            (INBOUND_DOMAIN_VAR, &self.inbound_domain),
            (SES_CONFIGURATION_SET_VAR, &self.ses_configuration_set),
        ];
        vars.extend(optional.into_iter().filter_map(|(name, value)| value.as_ref().map(|v| (name.to_string(), v.clone()))));
        vars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    const BASE: [(&str, &str); 3] = [(TABLE_VAR, "tern"), (BUCKET_VAR, "tern-data"), (PLATFORM_KEY_VAR, "alias/tern/platform")];

    #[test]
    fn names_the_missing_variable() {
        let err = Config::from_lookup(env(&[(TABLE_VAR, "t")])).unwrap_err();
        assert_eq!(err, ConfigError::Missing(BUCKET_VAR));
        assert_eq!(err.to_string(), "environment variable TERN_BUCKET is not set");
    }

    #[test]
    fn a_missing_queue_is_named_when_a_function_needs_it() {
        let config = Config::from_lookup(env(&BASE)).unwrap();
        assert_eq!(config.require_queues(&[QueueName::Send]), Err(ConfigError::Missing("TERN_SEND_QUEUE_URL")));
    }

    #[test]
    fn round_trips_through_env() {
        let mut pairs = BASE.to_vec();
        pairs.push(("TERN_CLASSIFY_QUEUE_URL", "http://q/classify"));
        pairs.push((S3_PATH_STYLE_VAR, "true"));
        pairs.push((INBOUND_SECRET_VAR, "hunter2-webhook"));
        let config = Config::from_lookup(env(&pairs)).unwrap();
        assert!(config.s3_path_style);
        let exported = config.to_env();
        let again = Config::from_lookup(|name| exported.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())).unwrap();
        assert_eq!(again, config);
    }

    #[test]
    fn debug_output_never_shows_the_webhook_secret() {
        let mut pairs = BASE.to_vec();
        pairs.push((INBOUND_SECRET_VAR, "hunter2-webhook"));
        pairs.push((SESSION_KEY_VAR, "hunter3-session-key-0123456789abcdef"));
        let config = Config::from_lookup(env(&pairs)).unwrap();
        assert!(!format!("{config:?}").contains("hunter"));
    }

    #[test]
    fn rejects_a_bad_boolean() {
        let mut pairs = BASE.to_vec();
        pairs.push((S3_PATH_STYLE_VAR, "yes please"));
        assert!(matches!(Config::from_lookup(env(&pairs)), Err(ConfigError::Invalid { name: S3_PATH_STYLE_VAR, .. })));
    }
}
