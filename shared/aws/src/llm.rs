//! A workspace's optional language-model provider: one item per workspace.
//!
//! The API key is sealed with the workspace's key the moment it arrives (the API
//! seals, the classify worker opens, nothing else can) and is never returned.
//! Without this item, or with it disabled, replies are classified by the rules
//! alone.

use crate::sealing::{FieldIdentity, SealedValue};
use crate::table::Entity;
use serde::{Deserialize, Serialize};

/// Provider API keys are sealed for this purpose under [`llm_api_key_identity`].
pub const LLM_API_KEY_PURPOSE: &str = "llm-credentials";

pub fn llm_api_key_identity(workspace: &str) -> FieldIdentity<'_> {
    FieldIdentity { workspace, entity: "llm_settings", id: LlmSettings::ID, field: "api_key" }
}

/// Where a workspace's replies are sent for an intent, and with which key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmSettings {
    pub id: String,
    /// An OpenAI-compatible API root (`https://api.openai.com/v1`); requests go
    /// to `{base_url}/chat/completions`.
    pub base_url: String,
    pub model: String,
    pub api_key: SealedValue,
    pub enabled: bool,
    /// Unix seconds.
    pub updated_at: i64,
}

impl LlmSettings {
    pub const ID: &'static str = "settings";
}

impl Entity for LlmSettings {
    const KIND: &'static str = "LLM";
    fn id(&self) -> &str {
        &self.id
    }
}
