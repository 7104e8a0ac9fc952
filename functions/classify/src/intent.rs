//! Optional intent refinement: a human reply linked to an enrollment is read by the
//! workspace's own language model (interested, not interested, meeting, referral,
//! wrong person), when the workspace has set one up and left it enabled.
//!
//! The rules have already decided by the time this runs: the kind and the effect
//! (a human reply stopped the sequence) are never changed here. A provider that
//! fails, times out or answers nonsense leaves `intent` empty and an
//! `intent_error` behind; the job itself neither fails nor retries because of it.
//! What the model was asked (the prompt version) and what it said are kept on the
//! workspace's own inbound record, so they expire with it.

use std::sync::OnceLock;
use tern_aws::llm::{LLM_API_KEY_PURPOSE, LlmSettings, llm_api_key_identity};
use tern_aws::table::ScopedTable;
use tern_aws::worker::JobError;
use tern_domain::inbound::InboundMessage;
use tern_security::secret::SecretString;
use tern_web::guard::Policy;
use tern_web::llm::{LlmClient, LlmEndpoint, LlmError, LlmLimits, PROMPT_VERSION};

/// The provider client, built on the first reply that needs one: most workspaces
/// have no provider, and cold starts should not pay for TLS roots they never use.
pub struct LlmAccess {
    policy: Policy,
    limits: LlmLimits,
    client: OnceLock<LlmClient>,
}

impl LlmAccess {
    /// `policy` is the SSRF guard's provider policy; tests add their loopback allowance.
    pub fn new(policy: Policy, limits: LlmLimits) -> Self {
        Self { policy, limits, client: OnceLock::new() }
    }

    fn client(&self) -> Result<&LlmClient, LlmError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let built = LlmClient::new(self.policy.clone(), self.limits.clone())?;
        Ok(self.client.get_or_init(|| built))
    }
}

impl Default for LlmAccess {
    fn default() -> Self {
        Self::new(Policy::provider_api(), LlmLimits::default())
    }
}

/// Adds the model's reading to a classified message, if there is one to add.
/// Only reading the settings can fail the job (like any other read of the table).
pub(crate) async fn refine(
    llm: &LlmAccess,
    sealer: &tern_aws::sealing::Sealer,
    scoped: &ScopedTable,
    message: &mut InboundMessage,
) -> Result<(), JobError> {
    let reply = message.snippet.clone().unwrap_or_default();
    if message.kind.as_deref() != Some("human") || message.enrollment_id.is_none() || reply.trim().is_empty() {
        return Ok(());
    }
    let settings =
        scoped.get::<LlmSettings>(LlmSettings::ID).await.map_err(|e| JobError::Transient(format!("reading the LLM settings: {e}")))?;
    let Some(settings) = settings.filter(|s| s.enabled) else {
        return Ok(());
    };
    message.intent_prompt_version = Some(PROMPT_VERSION.to_string());
    match ask(llm, sealer, scoped, &settings, message.subject.as_deref(), &reply).await {
        Ok(refinement) => {
            tracing::info!(inbound_id = %message.id, intent = %refinement.answer.intent, "reply intent read");
            message.intent = Some(refinement.answer.intent);
            message.intent_confidence = Some(refinement.answer.confidence);
            message.intent_reason = Some(refinement.answer.reason);
            message.intent_raw_output = Some(refinement.raw_output);
            message.intent_error = None;
        }
        Err(error) => {
            tracing::warn!(inbound_id = %message.id, error = %error, "reply intent not read; the rules' verdict stands");
            message.intent = None;
            message.intent_confidence = None;
            message.intent_reason = None;
            message.intent_raw_output = error.raw_output().map(String::from);
            message.intent_error = Some(error.to_string());
        }
    }
    Ok(())
}

/// Why no intent was read.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("the provider key cannot be opened: {0}")]
    Key(String),
    #[error(transparent)]
    Llm(#[from] LlmError),
}

impl Failure {
    fn raw_output(&self) -> Option<&str> {
        match self {
            Failure::Llm(e) => e.raw_output(),
            Failure::Key(_) => None,
        }
    }
}

async fn ask(
    llm: &LlmAccess,
    sealer: &tern_aws::sealing::Sealer,
    scoped: &ScopedTable,
    settings: &LlmSettings,
    subject: Option<&str>,
    reply: &str,
) -> Result<tern_web::Refinement, Failure> {
    let workspace = scoped.workspace();
    let ws = workspace.to_string();
    // Opened for this one request, zeroed when dropped.
    let opened = sealer
        .open(workspace, LLM_API_KEY_PURPOSE, &llm_api_key_identity(&ws), &settings.api_key)
        .await
        .map_err(|e| Failure::Key(e.to_string()))?;
    let text = std::str::from_utf8(opened.expose()).map_err(|_| Failure::Key("it is not text".into()))?;
    let api_key = SecretString::from(text);
    let endpoint = LlmEndpoint { base_url: &settings.base_url, model: &settings.model, api_key: &api_key };
    Ok(llm.client()?.refine(&endpoint, subject, reply).await?)
}
