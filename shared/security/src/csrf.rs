//! Double-submit CSRF check.
//!
//! The API sets a random token (see `token::OpaqueToken`) in a cookie readable by
//! the page's script (`SameSite=Strict; Secure`, not `HttpOnly`); the client echoes
//! it in a header on every state-changing request. A cross-site attacker can make
//! the browser send the cookie but cannot read it to set the header.

use subtle::ConstantTimeEq;

/// Why a request failed the CSRF check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CsrfError {
    /// The cookie is absent or empty.
    #[error("missing CSRF cookie")]
    MissingCookie,
    /// The header is absent or empty.
    #[error("missing CSRF header")]
    MissingHeader,
    /// Both present but different.
    #[error("CSRF token mismatch")]
    Mismatch,
}

/// Compare the cookie and header tokens in constant time.
pub fn verify_double_submit(cookie: Option<&str>, header: Option<&str>) -> Result<(), CsrfError> {
    let cookie = cookie.filter(|c| !c.is_empty()).ok_or(CsrfError::MissingCookie)?;
    let header = header.filter(|h| !h.is_empty()).ok_or(CsrfError::MissingHeader)?;
    // Slices of different lengths compare unequal (length is not secret here:
    // all tokens have the same length).
    if bool::from(cookie.as_bytes().ct_eq(header.as_bytes())) { Ok(()) } else { Err(CsrfError::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::OpaqueToken;

    #[test]
    fn matching_tokens_pass() {
        let t = OpaqueToken::generate().unwrap();
        assert_eq!(verify_double_submit(Some(t.expose()), Some(t.expose())), Ok(()));
    }

    #[test]
    fn missing_and_mismatched_fail() {
        let t = OpaqueToken::generate().unwrap();
        let u = OpaqueToken::generate().unwrap();
        assert_eq!(verify_double_submit(None, Some(t.expose())), Err(CsrfError::MissingCookie));
        assert_eq!(verify_double_submit(Some(""), Some(t.expose())), Err(CsrfError::MissingCookie));
        assert_eq!(verify_double_submit(Some(t.expose()), None), Err(CsrfError::MissingHeader));
        assert_eq!(verify_double_submit(Some(t.expose()), Some("")), Err(CsrfError::MissingHeader));
        assert_eq!(verify_double_submit(Some(t.expose()), Some(u.expose())), Err(CsrfError::Mismatch));
        assert_eq!(verify_double_submit(Some(t.expose()), Some(&t.expose()[..42])), Err(CsrfError::Mismatch));
        assert_eq!(verify_double_submit(None, None), Err(CsrfError::MissingCookie));
    }
}
