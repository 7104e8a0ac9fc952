//! Rate limits and caps on what costs the platform money or mails a person: sign-ups
//! (each creates a KMS key, $1 a month), workspaces per agency and per account, and
//! the mails sign-up, verification and password reset send.
//!
//! A limit is a counter record (`COUNTER#<name>:<subject>[:<window>]`) raised by one
//! conditional UpdateItem that refuses at the maximum
//! ([`tern_aws::global::GlobalTable::increment_below`]): checking and counting are one
//! step, so any number of concurrent requests gets exactly `max` through. Rate limits
//! count in fixed windows of the platform clock and expire with their window.

use crate::ApiState;
use crate::records::Counter;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tern_http::ApiError;

/// At most `max` per `window_secs` per subject.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub name: &'static str,
    pub max: u64,
    pub window_secs: u64,
}

/// Sign-ups from one source address per hour (each verified one creates a KMS key).
pub const SIGNUP_PER_IP: RateLimit = RateLimit { name: "signup-ip", max: 10, window_secs: 3600 };
/// Mails sign-up sends to one address per hour (a verification link, or the notice
/// to an existing account); beyond it sign-up answers the same and sends nothing.
pub const SIGNUP_MAILS_PER_ADDRESS: RateLimit = RateLimit { name: "signup-mail", max: 3, window_secs: 3600 };
/// Password-reset requests from one source address per hour.
pub const RESET_PER_IP: RateLimit = RateLimit { name: "reset-ip", max: 10, window_secs: 3600 };
/// Reset mails to one address per hour; beyond it the answer is the same, unsent.
pub const RESET_MAILS_PER_ADDRESS: RateLimit = RateLimit { name: "reset-mail", max: 3, window_secs: 3600 };
/// Verification links one account may ask to be sent again per hour.
pub const VERIFICATION_RESENDS_PER_ACCOUNT: RateLimit = RateLimit { name: "verify-resend", max: 3, window_secs: 3600 };

/// Sub-workspaces one account may create, across every agency it owns.
pub const SUB_WORKSPACES_PER_ACCOUNT: u64 = 50;

pub enum Outcome {
    Allowed,
    /// Refused until `retry_after` seconds from now.
    Limited {
        retry_after: u64,
    },
}

/// Counts one request of `subject` against `limit`.
pub async fn take(state: &ApiState, limit: RateLimit, subject: &str) -> Result<Outcome, ApiError> {
    let now = state.now_unix();
    let window = now / limit.window_secs;
    let window_end = (window + 1) * limit.window_secs;
    let key = format!("{}:{subject}:{window}", limit.name);
    let expires = time::OffsetDateTime::from_unix_timestamp(window_end as i64).ok();
    match state.platform.global().increment_below::<Counter>(&key, limit.max, expires, None).await? {
        Some(_) => Ok(Outcome::Allowed),
        None => Ok(Outcome::Limited { retry_after: window_end.saturating_sub(now).max(1) }),
    }
}

/// Reserves one of `max` under the cap `name` for `subject` (no window): `false`
/// when the cap is reached. [`release`] gives it back when the work fails.
/// `workspace`: the workspace the cap belongs to (deleted with it).
pub async fn reserve(state: &ApiState, name: &str, subject: &str, max: u64, workspace: Option<&str>) -> Result<bool, ApiError> {
    let key = format!("{name}:{subject}");
    Ok(state.platform.global().increment_below::<Counter>(&key, max, None, workspace).await?.is_some())
}

pub async fn release(state: &ApiState, name: &str, subject: &str) {
    if let Err(error) = state.platform.global().decrement::<Counter>(&format!("{name}:{subject}")).await {
        tracing::error!(%error, cap = name, "could not give back a reserved slot");
    }
}

/// 429 `rate_limited` with `Retry-After`.
pub fn too_many(retry_after: u64, message: &'static str) -> Response {
    let mut response = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message).into_response();
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// The subject of per-address limits: never the address itself in a key.
pub fn address_subject(email: &str) -> String {
    use sha2::Digest;
    data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(email.as_bytes()))
}

/// The subject of per-source limits: the address, or for IPv6 its /64 (one
/// subscriber's whole network, which an attacker could otherwise rotate through).
pub fn ip_subject(client: &crate::auth::Client) -> String {
    match client.ip.as_deref().map(str::parse::<std::net::IpAddr>) {
        Some(Ok(std::net::IpAddr::V6(v6))) if v6.to_ipv4_mapped().is_some() => {
            format!("ip:{}", v6.to_ipv4_mapped().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED))
        }
        Some(Ok(std::net::IpAddr::V6(v6))) => {
            let s = v6.segments();
            format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(Ok(ip)) => format!("ip:{ip}"),
        _ => "ip:unknown".to_string(),
    }
}
