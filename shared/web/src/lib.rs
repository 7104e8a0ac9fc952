//! tern-web: everything Tern does on the open network on a lead's behalf.
//!
//! - [`guard`]: the SSRF guard — which URLs, hosts, ports and addresses we may
//!   connect to. Every outbound fetch and every mailbox host goes through it.
//! - [`fetch`]: the guarded website fetcher (DNS pinned to checked addresses,
//!   manual redirects, time/size/page limits, robots.txt).
//! - [`robots`]: robots.txt parsing and matching (RFC 9309).
//! - [`verify`]: e-mail address verification without probing mailboxes.
//! - [`llm`]: the optional language-model client (OpenAI-compatible), through
//!   the same guard, for reading the intent of human replies.

pub mod fetch;
pub mod guard;
pub mod llm;
pub mod robots;
pub mod verify;

pub use fetch::{FetchError, FetchSession, Fetcher, Limits, Page};
pub use guard::{AddressClass, Policy, Refusal, check_mail_host, check_url, classify_ip, is_forbidden};
pub use llm::{LlmClient, LlmEndpoint, LlmError, LlmLimits, Refinement};
pub use verify::{Reason, Verdict, Verification, Verifier};
