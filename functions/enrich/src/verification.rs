//! E-mail verification of contacts, stored on each contact. DNS only (MX, A/AAAA
//! fallback) and the domain lists: the platform never probes a mailbox (no SMTP
//! `RCPT TO`), so a catch-all domain cannot be told and is not guessed.

use std::time::Duration;
use tern_aws::outreach::{Contact, ContactVerification, VerificationResult};
use tern_aws::table::{ScopedTable, StoreError};
use tern_aws::worker::JobError;
use tern_domain::clock::SharedClock;
use tern_web::verify::{Reason, Verdict, Verification, Verifier};

/// All DNS work for one address ends within this (then the result is `unknown`).
/// Addresses of one job share a domain, so the resolver's cache answers all but the
/// first; a domain whose DNS never answers costs this per address
/// (`EnrichJob::MAX_CONTACTS` of them at most).
pub const DNS_TIMEOUT: Duration = Duration::from_secs(2);

/// Stable codes for the reasons (the API shows them; the words are in the docs).
pub fn reason_code(reason: &Reason) -> &'static str {
    match reason {
        Reason::Syntax(_) => "syntax",
        Reason::DomainNotFound => "domain_not_found",
        Reason::NullMx => "null_mx",
        Reason::NoMailServer => "no_mail_server",
        Reason::ImplicitMx => "implicit_mx",
        Reason::Disposable => "disposable",
        Reason::FreeProvider => "free_provider",
        Reason::RoleAccount => "role_account",
        Reason::DnsTimeout => "dns_timeout",
        Reason::DnsError(_) => "dns_error",
    }
}

pub fn stored(verification: &Verification, checked_at: i64) -> ContactVerification {
    ContactVerification {
        result: match verification.verdict {
            Verdict::Valid => VerificationResult::Valid,
            Verdict::Risky => VerificationResult::Risky,
            Verdict::Invalid => VerificationResult::Invalid,
            Verdict::Unknown => VerificationResult::Unknown,
        },
        reasons: verification.reasons.iter().map(|r| reason_code(r).to_string()).collect(),
        checked_at,
    }
}

fn transient(e: StoreError) -> JobError {
    JobError::Transient(e.to_string())
}

/// Verifies each contact's address and stores the result on the contact. Only the
/// `verification` attribute is written, so an edit made meanwhile is never undone
/// (a whole-item write conditioned on `updated_at` lost edits made within the same
/// second). A contact deleted meanwhile is skipped.
pub async fn verify_contacts(scoped: &ScopedTable, verifier: &Verifier, clock: &SharedClock, ids: &[String]) -> Result<(), JobError> {
    for id in ids {
        let Some(contact) = scoped.get::<Contact>(id).await.map_err(transient)? else { continue };
        let result = stored(&verifier.verify(&contact.email).await, clock.now().unix_timestamp());
        if !scoped.set_attribute::<Contact, _>(id, "verification", &result).await.map_err(transient)? {
            continue;
        }
        tracing::info!(contact = %id, result = ?result.result, "address verified");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_and_reasons_are_stored_as_stable_codes() {
        let v = Verification {
            verdict: Verdict::Risky,
            reasons: vec![Reason::RoleAccount, Reason::ImplicitMx, Reason::DnsError("SERVFAIL".into())],
            normalised: "info@a.example".into(),
            mx_hosts: vec![],
            free_provider: false,
            disposable: false,
            role_account: true,
        };
        let s = stored(&v, 7);
        assert_eq!(s.result, VerificationResult::Risky);
        assert_eq!(s.reasons, ["role_account", "implicit_mx", "dns_error"]);
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"result": "risky", "reasons": ["role_account", "implicit_mx", "dns_error"], "checked_at": 7})
        );
    }
}
