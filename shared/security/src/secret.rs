//! Values that must never reach a log line, an error message or a response body.
//!
//! [`Secret<T>`] prints `[redacted]` through both `Debug` and `Display`, so a
//! `tracing::debug!(?request)` on a struct that holds one is safe. The value is
//! reachable only through the explicit [`Secret::expose`], which is easy to grep
//! for in review. The inner value is zeroized when the wrapper is dropped.
//!
//! `Secret` implements `Deserialize` (request bodies can hold passwords and API
//! keys) but deliberately not `Serialize`: sending or persisting a secret must be
//! a visible decision (`expose()` at the call site), never a side effect of
//! deriving `Serialize` on a surrounding struct.

use std::fmt;
use zeroize::Zeroize;

/// What `Debug` and `Display` print instead of the secret.
pub const REDACTED: &str = "[redacted]";

/// A value whose formatting is redacted and whose memory is zeroized on drop.
pub struct Secret<T: Zeroize>(T);

/// A secret string: passwords, TOTP codes, API keys, tokens.
pub type SecretString = Secret<String>;

/// Secret bytes: data keys, decrypted fields, TOTP seeds.
pub type SecretBytes = Secret<Vec<u8>>;

impl<T: Zeroize> Secret<T> {
    /// Wrap a value.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// Borrow the secret value. Every call site is a place the secret leaves the
    /// wrapper: keep the borrow short and never format it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        // For String/Vec this also clears spare capacity. Copies made earlier (e.g.
        // by a reallocating push before wrapping) are outside our reach.
        self.0.zeroize();
    }
}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T: Zeroize> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T: Zeroize + Clone> Clone for Secret<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: Zeroize> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl From<&[u8]> for SecretBytes {
    fn from(value: &[u8]) -> Self {
        Self(value.to_vec())
    }
}

impl<'de, T: Zeroize + serde::Deserialize<'de>> serde::Deserialize<'de> for Secret<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // serde's "invalid type" errors quote the offending input (e.g. a string
        // where bytes were expected), and request-body errors end up in responses
        // and logs. Replace the message so no part of a secret is ever echoed.
        T::deserialize(d).map(Secret).map_err(|_| serde::de::Error::custom("invalid secret value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct SignIn {
        email: String,
        password: SecretString,
    }

    #[test]
    fn debug_and_display_are_redacted() {
        let s = SecretString::from("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn deserialized_request_body_debug_does_not_leak() {
        let body: SignIn = serde_json::from_str(r#"{"email":"a@b.test","password":"plant-XYZZY-secret"}"#).unwrap();
        let printed = format!("{body:?} {body:#?}");
        assert!(!printed.contains("plant-XYZZY-secret"), "{printed}");
        assert!(printed.contains("[redacted]"));
        assert_eq!(body.email, "a@b.test");
        assert_eq!(body.password.expose(), "plant-XYZZY-secret");
    }

    #[test]
    fn bytes_secret_redacted_and_clone_is_independent() {
        let a = SecretBytes::from(&b"\x01\x02\x03"[..]);
        let b = a.clone();
        drop(a);
        assert_eq!(b.expose(), &vec![1, 2, 3]);
        assert_eq!(format!("{b:?}"), "[redacted]");
    }

    #[test]
    fn deserialize_error_does_not_echo_the_value() {
        // Plain serde would say `invalid type: string "leak-me-please", expected a sequence`.
        let err = serde_json::from_str::<Secret<Vec<u8>>>(r#""leak-me-please""#).unwrap_err();
        assert!(!err.to_string().contains("leak-me-please"), "{err}");
    }
}
