//! Mail the platform itself sends to people about their account (verify your
//! address, someone tried to sign up with it, reset your password): SES `SendEmail`
//! from `accounts@<TERN_SENDING_DOMAIN>`, the one address template.yaml lets the api
//! function send from. Links carry their token after `#`, so it never reaches a
//! server's request line or logs when a browser opens it.

use crate::ApiState;
use std::sync::Arc;
use tern_http::ApiError;

/// One message to one person.
#[derive(Debug, Clone)]
pub struct PlatformMail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// Sees each message the platform sent (after SES accepted it). The dev host keeps
/// them so local users and tests can follow the links; nothing taps in production.
pub type MailTap = Arc<dyn Fn(&PlatformMail) + Send + Sync>;

/// The local part of the platform's own sender address.
pub const SENDER_LOCAL_PART: &str = "accounts";

pub fn sender(state: &ApiState) -> Result<String, ApiError> {
    let domain = state.platform.config().sending_domain.as_deref().ok_or_else(|| ApiError::internal("TERN_SENDING_DOMAIN is not set"))?;
    Ok(format!("Tern <{SENDER_LOCAL_PART}@{domain}>"))
}

/// A page of the web client, `<TERN_PUBLIC_URL>/<page>`.
pub fn page(state: &ApiState, page: &str) -> Result<String, ApiError> {
    let base = state.platform.config().public_url.as_deref().ok_or_else(|| ApiError::internal("TERN_PUBLIC_URL is not set"))?;
    Ok(format!("{}/{page}", base.trim_end_matches('/')))
}

/// A link with a token, `<TERN_PUBLIC_URL>/<page>#token=<token>`.
pub fn link(state: &ApiState, page_name: &str, token: &str) -> Result<String, ApiError> {
    Ok(format!("{}#token={token}", page(state, page_name)?))
}

pub async fn send(state: &ApiState, mail: PlatformMail) -> Result<(), ApiError> {
    state.platform.ses().send_text(&sender(state)?, &mail.to, &mail.subject, &mail.text).await.map_err(ApiError::unavailable)?;
    if let Some(tap) = &state.mail_tap {
        tap(&mail);
    }
    Ok(())
}
