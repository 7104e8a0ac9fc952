//! Short-lived signed access tokens (HMAC-SHA256).
//!
//! Format: `v1.<kid>.<base64url(claims JSON)>.<base64url(mac)>` where the MAC is
//! HMAC-SHA256 under key `kid` over `v1.<kid>.<claims>`. There is no algorithm
//! field: the version fixes the algorithm, so `alg: none` / RS-vs-HS confusion
//! cannot happen. Verification checks the MAC (constant time) before it parses
//! a single claim, then checks expiry against the caller's `now`.
//!
//! Key rotation: sign with the keyring's current key; verify with any key the
//! ring still holds, looked up by `kid`. Retire an old key once every token it
//! signed has expired (access tokens live minutes).

use data_encoding::BASE64URL_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::roles::Role;
use crate::secret::{Secret, SecretBytes};

const VERSION: &str = "v1";
/// Tokens longer than this are refused before any work (headers are small).
pub const MAX_TOKEN_LEN: usize = 2048;
/// Minimum signing-key length: HMAC-SHA256 keys should be at least 256 bits.
pub const MIN_KEY_LEN: usize = 32;
/// Tolerated clock difference for `iat` in the future, in seconds.
pub const CLOCK_SKEW_SECS: u64 = 60;

/// What an access token asserts. Times are unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Workspace id the session is acting in.
    pub ws: String,
    /// Role in that workspace when the token was issued.
    pub role: Role,
    /// Session (refresh family) id, so revoking a session can be checked.
    pub sid: String,
    /// Issued at.
    pub iat: u64,
    /// Expires at (exclusive).
    pub exp: u64,
}

/// An HMAC signing key with its id. Redacted in logs.
#[derive(Debug, Clone)]
pub struct SigningKey {
    kid: String,
    key: SecretBytes,
}

impl SigningKey {
    /// A key with id `kid` (1–16 chars of `[A-Za-z0-9_-]`) and ≥ 32 bytes of key material.
    pub fn new(kid: &str, key: SecretBytes) -> Result<SigningKey, AccessTokenError> {
        let kid_ok = !kid.is_empty() && kid.len() <= 16 && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !kid_ok {
            return Err(AccessTokenError::BadKeyId);
        }
        if key.expose().len() < MIN_KEY_LEN {
            return Err(AccessTokenError::WeakKey);
        }
        Ok(SigningKey { kid: kid.to_owned(), key })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    fn mac(&self, signing_input: &str) -> Result<Hmac<Sha256>, AccessTokenError> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.key.expose()).map_err(|_| AccessTokenError::WeakKey)?;
        mac.update(signing_input.as_bytes());
        Ok(mac)
    }
}

/// The current signing key plus older keys still accepted for verification.
#[derive(Debug, Clone)]
pub struct Keyring {
    current: SigningKey,
    previous: Vec<SigningKey>,
}

impl Keyring {
    /// A ring that signs with `current` and also verifies `previous`. Key ids
    /// must be distinct.
    pub fn new(current: SigningKey, previous: Vec<SigningKey>) -> Result<Keyring, AccessTokenError> {
        let mut ids: Vec<&str> = std::iter::once(current.kid()).chain(previous.iter().map(SigningKey::kid)).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(AccessTokenError::BadKeyId);
        }
        Ok(Keyring { current, previous })
    }

    fn find(&self, kid: &str) -> Option<&SigningKey> {
        std::iter::once(&self.current).chain(&self.previous).find(|k| k.kid == kid)
    }
}

/// Why issuing or verifying failed. Verification errors are deliberately few:
/// the API answers 401 for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessTokenError {
    /// Not `v1.<kid>.<claims>.<mac>`, or too long.
    #[error("access token is malformed")]
    Malformed,
    /// The key id is not in the ring (retired or forged).
    #[error("access token signed with an unknown key")]
    UnknownKey,
    /// MAC mismatch.
    #[error("access token signature is invalid")]
    BadSignature,
    /// `now >= exp`.
    #[error("access token has expired")]
    Expired,
    /// Issued in the future beyond the clock skew allowance.
    #[error("access token is not yet valid")]
    NotYetValid,
    /// Key id not acceptable (empty, too long, odd characters, duplicate).
    #[error("invalid signing key id")]
    BadKeyId,
    /// Key shorter than 32 bytes.
    #[error("signing key must be at least 32 bytes")]
    WeakKey,
    /// TTL of zero or overflowing.
    #[error("invalid access token lifetime")]
    BadLifetime,
}

/// Who the token is for; `issue` adds the times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// User id.
    pub user_id: String,
    /// Workspace id.
    pub workspace_id: String,
    /// Role in the workspace.
    pub role: Role,
    /// Session id.
    pub session_id: String,
}

/// Issue a token valid from `now` for `ttl_minutes`.
pub fn issue(keys: &Keyring, subject: Subject, now: u64, ttl_minutes: u64) -> Result<Secret<String>, AccessTokenError> {
    let exp = ttl_minutes
        .checked_mul(60)
        .and_then(|ttl| now.checked_add(ttl))
        .filter(|_| ttl_minutes > 0)
        .ok_or(AccessTokenError::BadLifetime)?;
    let claims = Claims { sub: subject.user_id, ws: subject.workspace_id, role: subject.role, sid: subject.session_id, iat: now, exp };
    // Serialising a struct of strings and integers cannot fail.
    let json = serde_json::to_vec(&claims).map_err(|_| AccessTokenError::Malformed)?;
    let key = &keys.current;
    let signing_input = format!("{VERSION}.{}.{}", key.kid, BASE64URL_NOPAD.encode(&json));
    let tag = key.mac(&signing_input)?.finalize().into_bytes();
    let token = format!("{signing_input}.{}", BASE64URL_NOPAD.encode(&tag));
    if token.len() > MAX_TOKEN_LEN {
        return Err(AccessTokenError::Malformed);
    }
    Ok(Secret::new(token))
}

/// Verify a presented token at `now` and return its claims.
pub fn verify(keys: &Keyring, token: &str, now: u64) -> Result<Claims, AccessTokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AccessTokenError::Malformed);
    }
    let (signing_input, tag_b64) = token.rsplit_once('.').ok_or(AccessTokenError::Malformed)?;
    let mut parts = signing_input.split('.');
    let (Some(version), Some(kid), Some(claims_b64), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(AccessTokenError::Malformed);
    };
    if version != VERSION {
        return Err(AccessTokenError::Malformed);
    }
    let key = keys.find(kid).ok_or(AccessTokenError::UnknownKey)?;
    let tag = BASE64URL_NOPAD.decode(tag_b64.as_bytes()).map_err(|_| AccessTokenError::Malformed)?;
    // `verify_slice` compares in constant time (and rejects a wrong-length tag).
    key.mac(signing_input)?.verify_slice(&tag).map_err(|_| AccessTokenError::BadSignature)?;

    // Authentic from here on; parse only now.
    let json = BASE64URL_NOPAD.decode(claims_b64.as_bytes()).map_err(|_| AccessTokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&json).map_err(|_| AccessTokenError::Malformed)?;
    if now >= claims.exp {
        return Err(AccessTokenError::Expired);
    }
    if claims.iat > now.saturating_add(CLOCK_SKEW_SECS) {
        return Err(AccessTokenError::NotYetValid);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: u64 = 1_700_000_000;

    fn key(kid: &str, byte: u8) -> SigningKey {
        SigningKey::new(kid, SecretBytes::new(vec![byte; 32])).unwrap()
    }

    fn subject() -> Subject {
        Subject { user_id: "u_1".into(), workspace_id: "ws_1".into(), role: Role::Admin, session_id: "s_1".into() }
    }

    fn ring() -> Keyring {
        Keyring::new(key("k2", 2), vec![key("k1", 1)]).unwrap()
    }

    #[test]
    fn issue_then_verify() {
        let t = issue(&ring(), subject(), NOW, 15).unwrap();
        assert!(t.expose().starts_with("v1.k2."));
        let c = verify(&ring(), t.expose(), NOW + 60).unwrap();
        assert_eq!(c, Claims { sub: "u_1".into(), ws: "ws_1".into(), role: Role::Admin, sid: "s_1".into(), iat: NOW, exp: NOW + 900 });
    }

    #[test]
    fn expiry_is_exclusive() {
        let t = issue(&ring(), subject(), NOW, 15).unwrap();
        assert!(verify(&ring(), t.expose(), NOW + 899).is_ok());
        assert_eq!(verify(&ring(), t.expose(), NOW + 900), Err(AccessTokenError::Expired));
    }

    #[test]
    fn future_iat_beyond_skew_is_refused() {
        let t = issue(&ring(), subject(), NOW + 120, 15).unwrap();
        assert_eq!(verify(&ring(), t.expose(), NOW), Err(AccessTokenError::NotYetValid));
        let t = issue(&ring(), subject(), NOW + 30, 15).unwrap();
        assert!(verify(&ring(), t.expose(), NOW).is_ok());
    }

    #[test]
    fn key_rotation() {
        let old = Keyring::new(key("k1", 1), vec![]).unwrap();
        let t = issue(&old, subject(), NOW, 15).unwrap();
        // Still accepted after rotation while k1 is in the ring …
        assert!(verify(&ring(), t.expose(), NOW).is_ok());
        // … and refused once it is retired.
        let retired = Keyring::new(key("k2", 2), vec![]).unwrap();
        assert_eq!(verify(&retired, t.expose(), NOW), Err(AccessTokenError::UnknownKey));
        // Same kid, different material: signature fails.
        let swapped = Keyring::new(key("k1", 9), vec![]).unwrap();
        assert_eq!(verify(&swapped, t.expose(), NOW), Err(AccessTokenError::BadSignature));
    }

    #[test]
    fn tampering_is_detected_before_parsing() {
        let t = issue(&ring(), subject(), NOW, 15).unwrap();
        let parts: Vec<&str> = t.expose().split('.').collect();
        // Escalate the role in the claims and keep the old MAC.
        let mut claims: serde_json::Value = serde_json::from_slice(&BASE64URL_NOPAD.decode(parts[2].as_bytes()).unwrap()).unwrap();
        claims["role"] = "owner".into();
        let forged = format!("v1.k2.{}.{}", BASE64URL_NOPAD.encode(&serde_json::to_vec(&claims).unwrap()), parts[3]);
        assert_eq!(verify(&ring(), &forged, NOW), Err(AccessTokenError::BadSignature));
        // Claim the other key id with the same MAC.
        let rekeyed = format!("v1.k1.{}.{}", parts[2], parts[3]);
        assert_eq!(verify(&ring(), &rekeyed, NOW), Err(AccessTokenError::BadSignature));
        // Truncated MAC.
        let short = format!("v1.k2.{}.{}", parts[2], &parts[3][..20]);
        assert_eq!(verify(&ring(), &short, NOW), Err(AccessTokenError::BadSignature));
    }

    #[test]
    fn jwt_style_and_malformed_tokens() {
        for bad in ["", "v1", "v1.k2.e30", "v1.k2.e30.x.y", "v2.k2.e30.AAAA", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "v1.k2.e30.!!!"] {
            assert!(verify(&ring(), bad, NOW).is_err(), "{bad}");
        }
        assert_eq!(verify(&ring(), &"a".repeat(MAX_TOKEN_LEN + 1), NOW), Err(AccessTokenError::Malformed));
    }

    #[test]
    fn key_validation() {
        assert_eq!(SigningKey::new("k", SecretBytes::new(vec![0; 31])).unwrap_err(), AccessTokenError::WeakKey);
        for kid in ["", "a.b", "seventeen-chars-x", "k 1"] {
            assert_eq!(SigningKey::new(kid, SecretBytes::new(vec![0; 32])).unwrap_err(), AccessTokenError::BadKeyId);
        }
        assert_eq!(Keyring::new(key("a", 1), vec![key("a", 2)]).unwrap_err(), AccessTokenError::BadKeyId);
        assert!(!format!("{:?}", key("a", 0x41)).contains("AAAA"));
        assert_eq!(issue(&ring(), subject(), NOW, 0).unwrap_err(), AccessTokenError::BadLifetime);
        assert_eq!(issue(&ring(), subject(), u64::MAX, 1).unwrap_err(), AccessTokenError::BadLifetime);
    }

    #[test]
    fn mac_matches_rfc4231_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    proptest! {
        #[test]
        fn verify_never_panics(s in ".{0,300}") {
            let _ = verify(&ring(), &s, NOW);
        }

        #[test]
        fn any_single_char_change_is_rejected(idx in 0usize..200, c in "[A-Za-z0-9_.-]") {
            let t = issue(&ring(), subject(), NOW, 15).unwrap();
            let mut bytes = t.expose().clone().into_bytes();
            let i = idx % bytes.len();
            let c = c.as_bytes()[0];
            prop_assume!(bytes[i] != c);
            bytes[i] = c;
            let changed = String::from_utf8(bytes).unwrap();
            // Either rejected, or a different-but-equivalent base64 spelling is
            // impossible: data-encoding enforces canonical trailing bits.
            prop_assert!(verify(&ring(), &changed, NOW).is_err());
        }
    }
}
