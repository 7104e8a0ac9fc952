//! Blind index for e-mail addresses: find "this address" without storing it.
//!
//! `index = hex(HMAC-SHA256(workspace key, normalised address))`. Suppression
//! and dedup lookups use the index; after erasure the index remains, so an
//! unsubscribed person stays suppressed, but the address itself is gone and the
//! per-workspace key keeps indexes from being compared across tenants.
//!
//! Normalisation: trim, lowercase the domain (case-insensitive by DNS), and
//! lowercase the local part too. RFC 5321 allows case-sensitive local parts,
//! but no mainstream provider uses them; and here a miss is the costly error —
//! `John@x` and `john@x` indexing differently would e-mail someone who
//! unsubscribed. Provider-specific rules (Gmail dots, `+tags`) are NOT applied:
//! they would merge distinct people at providers that don't follow them.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::secret::SecretBytes;

/// Minimum index key length (256 bits).
pub const MIN_KEY_LEN: usize = 32;

/// An e-mail address after normalisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NormalisedEmail(String);

impl NormalisedEmail {
    /// The address text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why an address could not be normalised. Messages are fit to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// No `@`, or more than one outside the local part we accept.
    #[error("an e-mail address needs exactly one @")]
    MissingAt,
    /// Nothing before the `@`, or over 64 bytes.
    #[error("the part before @ is empty or too long")]
    BadLocalPart,
    /// Domain empty, without a dot, over 253 bytes, or with an empty/over-long label.
    #[error("the domain after @ is not valid")]
    BadDomain,
    /// Whitespace, control characters, quotes or angle brackets inside the address.
    #[error("the address contains characters that are not allowed")]
    BadCharacter,
    /// The index key is shorter than 32 bytes.
    #[error("blind index key must be at least 32 bytes")]
    WeakKey,
}

/// Normalise an address for indexing (see the module docs for the rules).
pub fn normalise_email(input: &str) -> Result<NormalisedEmail, EmailError> {
    let s = input.trim();
    // Quoted local parts and display names are out of scope: the caller extracts
    // the bare address first. Rejecting these characters keeps one address = one form.
    if s.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | ',' | ';' | '\\')) {
        return Err(EmailError::BadCharacter);
    }
    let (local, domain) = s.split_once('@').ok_or(EmailError::MissingAt)?;
    if domain.contains('@') {
        return Err(EmailError::MissingAt);
    }
    if local.is_empty() || local.len() > 64 {
        return Err(EmailError::BadLocalPart);
    }
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.is_empty() || domain.len() > 253 || !domain.contains('.') {
        return Err(EmailError::BadDomain);
    }
    if domain.split('.').any(|label| label.is_empty() || label.len() > 63 || label.starts_with('-') || label.ends_with('-')) {
        return Err(EmailError::BadDomain);
    }
    Ok(NormalisedEmail(format!("{}@{}", local.to_lowercase(), domain.to_lowercase())))
}

/// A per-workspace blind index key. Redacted in logs.
#[derive(Debug, Clone)]
pub struct BlindIndexKey(SecretBytes);

impl BlindIndexKey {
    /// Wrap key material (≥ 32 bytes, e.g. opened from a sealed workspace field).
    pub fn new(key: SecretBytes) -> Result<BlindIndexKey, EmailError> {
        if key.expose().len() < MIN_KEY_LEN {
            return Err(EmailError::WeakKey);
        }
        Ok(BlindIndexKey(key))
    }
}

/// The index of an already normalised address: 64 lowercase hex characters.
pub fn index_normalised(key: &BlindIndexKey, email: &NormalisedEmail) -> Result<String, EmailError> {
    // HMAC accepts keys of any length; the error arm exists so there is no panic path.
    let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.0.expose()).map_err(|_| EmailError::WeakKey)?;
    Ok(data_encoding::HEXLOWER.encode(&mac.chain_update(email.0.as_bytes()).finalize().into_bytes()))
}

/// Normalise `email` and compute its index.
pub fn blind_index(key: &BlindIndexKey, email: &str) -> Result<String, EmailError> {
    index_normalised(key, &normalise_email(email)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(b: u8) -> BlindIndexKey {
        BlindIndexKey::new(SecretBytes::new(vec![b; 32])).unwrap()
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalise_email("  John.Doe+News@Example.COM ").unwrap().as_str(), "john.doe+news@example.com");
        assert_eq!(normalise_email("a@b.co.").unwrap().as_str(), "a@b.co");
        assert_eq!(normalise_email("Ünïcode@Exämple.de").unwrap().as_str(), "ünïcode@exämple.de");
    }

    #[test]
    fn malformed_addresses() {
        let cases = [
            ("", EmailError::MissingAt),
            ("john", EmailError::MissingAt),
            ("a@b@c.com", EmailError::MissingAt),
            ("@example.com", EmailError::BadLocalPart),
            (&format!("{}@example.com", "a".repeat(65)), EmailError::BadLocalPart),
            ("a@", EmailError::BadDomain),
            ("a@localhost", EmailError::BadDomain),
            ("a@exa..mple.com", EmailError::BadDomain),
            ("a@-x.com", EmailError::BadDomain),
            ("a b@example.com", EmailError::BadCharacter),
            ("\"a\"@example.com", EmailError::BadCharacter),
            ("John <j@example.com>", EmailError::BadCharacter),
            ("a@exa\u{0}mple.com", EmailError::BadCharacter),
        ];
        for (input, want) in cases {
            assert_eq!(normalise_email(input).unwrap_err(), want, "{input:?}");
        }
    }

    #[test]
    fn index_is_hmac_sha256_hex_and_case_insensitive() {
        let k = key(7);
        let a = blind_index(&k, "John@Example.com").unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(a, blind_index(&k, " john@example.COM").unwrap());
        assert_ne!(a, blind_index(&k, "john+x@example.com").unwrap());
        // Per-workspace keys: same address, different index.
        assert_ne!(a, blind_index(&key(8), "john@example.com").unwrap());

        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&[7; 32]).unwrap();
        mac.update(b"john@example.com");
        assert_eq!(a, data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes()));
    }

    #[test]
    fn weak_key_rejected() {
        assert_eq!(BlindIndexKey::new(SecretBytes::new(vec![0; 31])).unwrap_err(), EmailError::WeakKey);
    }

    proptest! {
        #[test]
        fn normalisation_is_idempotent(s in "[A-Za-z0-9._+-]{1,20}@[A-Za-z0-9]{1,10}\\.[A-Za-z]{2,6}") {
            let once = normalise_email(&s).unwrap();
            prop_assert_eq!(normalise_email(once.as_str()).unwrap(), once.clone());
            prop_assert_eq!(normalise_email(&s.to_uppercase()).unwrap(), once);
        }

        #[test]
        fn never_panics(s in ".{0,80}") {
            let _ = normalise_email(&s);
        }
    }
}
