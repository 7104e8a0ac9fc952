//! Opaque random tokens and refresh-token rotation with reuse detection.
//!
//! An opaque token is 32 random bytes as unpadded base64url (43 characters).
//! Only its SHA-256 ([`TokenHash`]) is stored, so a leaked table does not yield
//! usable tokens; SHA-256 (not a slow hash) is enough because the input already
//! has 256 bits of entropy. Hash equality is constant time.
//!
//! Refresh tokens carry their family id in clear (`<family_id>.<secret>`) so
//! the family can be loaded by id even when a rotated-out token is presented —
//! that is what makes reuse detection possible.

use data_encoding::BASE64URL_NOPAD;

use crate::digest::{digest32, sha256};
use crate::rng::{self, RngError};
use crate::secret::SecretString;

/// Length of an encoded opaque token.
pub const TOKEN_LEN: usize = 43;

digest32!(
    /// SHA-256 of a token's text: the only form that is stored.
    TokenHash
);

impl TokenHash {
    /// Hash a token string exactly as presented. Use after [`OpaqueToken::parse`]
    /// (or for values like CSRF tokens that are compared, not looked up).
    pub fn of(token: &str) -> TokenHash {
        TokenHash::from_bytes(sha256(token.as_bytes()))
    }
}

/// A presented token was not in the expected format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Wrong length or characters.
    #[error("token is malformed")]
    Malformed,
}

/// A freshly minted or presented opaque token (refresh, invite, CSRF,
/// unsubscribe, password reset). Redacted in logs.
#[derive(Debug, Clone)]
pub struct OpaqueToken(SecretString);

impl OpaqueToken {
    /// Mint a new token from 32 OS-random bytes.
    pub fn generate() -> Result<OpaqueToken, RngError> {
        let bytes: [u8; 32] = rng::bytes()?;
        Ok(OpaqueToken(SecretString::new(BASE64URL_NOPAD.encode(&bytes))))
    }

    /// Check a presented token's shape (43 base64url characters) before hashing,
    /// so garbage is rejected early and with a clear error.
    pub fn parse(presented: &str) -> Result<OpaqueToken, TokenError> {
        if presented.len() != TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        // Canonical decoding (data-encoding rejects non-zero trailing bits), so one
        // token has exactly one accepted spelling.
        match BASE64URL_NOPAD.decode(presented.as_bytes()) {
            Ok(bytes) if bytes.len() == 32 => Ok(OpaqueToken(SecretString::from(presented))),
            _ => Err(TokenError::Malformed),
        }
    }

    /// The token text, to hand to the client exactly once.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// What to store.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.0.expose())
    }
}

/// Identifies a refresh-token family (one sign-in session on one device).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct FamilyId(String);

impl FamilyId {
    /// A new random id (16 bytes, base64url, 22 characters).
    pub fn generate() -> Result<FamilyId, RngError> {
        let bytes: [u8; 16] = rng::bytes()?;
        Ok(FamilyId(BASE64URL_NOPAD.encode(&bytes)))
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A refresh token as sent to the client: `<family_id>.<opaque token>`.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    /// Which family (session) it belongs to; not secret.
    pub family_id: FamilyId,
    /// The secret half.
    pub secret: OpaqueToken,
}

impl RefreshToken {
    /// The string for the cookie. Contains the secret: never log it.
    pub fn to_cookie_value(&self) -> SecretString {
        SecretString::new(format!("{}.{}", self.family_id.0, self.secret.expose()))
    }

    /// Parse a presented refresh token.
    pub fn parse(presented: &str) -> Result<RefreshToken, TokenError> {
        let (family, secret) = presented.split_once('.').ok_or(TokenError::Malformed)?;
        let family_ok = family.len() == 22 && BASE64URL_NOPAD.decode(family.as_bytes()).is_ok_and(|b| b.len() == 16);
        if !family_ok {
            return Err(TokenError::Malformed);
        }
        Ok(RefreshToken { family_id: FamilyId(family.to_owned()), secret: OpaqueToken::parse(secret)? })
    }
}

/// How long a session lasts: idle timeout (each refresh extends to `now + idle`)
/// and an absolute cap from sign-in, after which the user signs in again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefreshLifetime {
    /// Seconds a refresh token stays valid without use.
    pub idle_secs: u64,
    /// Seconds from sign-in after which the family can no longer refresh.
    pub absolute_secs: u64,
}

impl RefreshLifetime {
    /// Default session: 24 h idle, 7 days absolute.
    pub const DEFAULT: RefreshLifetime = RefreshLifetime { idle_secs: 24 * 3600, absolute_secs: 7 * 24 * 3600 };
    /// "Remember me": 30 days, idle and absolute.
    pub const REMEMBER_ME: RefreshLifetime = RefreshLifetime { idle_secs: 30 * 24 * 3600, absolute_secs: 30 * 24 * 3600 };
}

/// How many rotated-out hashes a family remembers. Bounds the stored item; a
/// token older than this is treated as unknown (rejected without revoking).
pub const MAX_ROTATED_HASHES: usize = 64;

/// Stored state of one refresh-token family. Times are unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefreshFamily {
    /// Family id (also inside every token of the family).
    pub family_id: FamilyId,
    /// Hash of the only token that may be used next.
    pub current_hash: TokenHash,
    /// Hashes of tokens already used (most recent last). Presenting one of these
    /// means a token was copied: the family is revoked.
    pub rotated_hashes: Vec<TokenHash>,
    /// When the family was started (sign-in).
    pub created_at: u64,
    /// When the current token stops being accepted.
    pub expires_at: u64,
    /// Lifetime policy chosen at sign-in.
    pub lifetime: RefreshLifetime,
    /// When the family was revoked (sign-out, reuse, password change), if it was.
    pub revoked_at: Option<u64>,
}

/// Result of presenting a refresh token to its family.
#[derive(Debug)]
pub enum RotateOutcome {
    /// Accepted: hand out `token`, store the updated family (conditional on the
    /// previous `current_hash`, so a concurrent rotation loses cleanly).
    Rotated {
        /// The new refresh token.
        token: RefreshToken,
    },
    /// A rotated-out token was presented: it was stolen or copied. The family is
    /// now marked revoked; store it and revoke its access sessions too.
    ReuseDetected,
    /// The current token has expired (idle or absolute).
    Expired,
    /// The family was already revoked.
    Revoked,
    /// The token does not belong to this family's history. Rejected without
    /// revoking: only someone holding a real old token can end a session.
    Unknown,
}

impl RefreshFamily {
    /// Start a family at sign-in; returns the state to store and the first token.
    pub fn start(lifetime: RefreshLifetime, now: u64) -> Result<(RefreshFamily, RefreshToken), RngError> {
        let family_id = FamilyId::generate()?;
        let secret = OpaqueToken::generate()?;
        let family = RefreshFamily {
            family_id: family_id.clone(),
            current_hash: secret.hash(),
            rotated_hashes: Vec::new(),
            created_at: now,
            expires_at: Self::expiry(lifetime, now, now),
            lifetime,
            revoked_at: None,
        };
        Ok((family, RefreshToken { family_id, secret }))
    }

    fn expiry(lifetime: RefreshLifetime, created_at: u64, now: u64) -> u64 {
        now.saturating_add(lifetime.idle_secs).min(created_at.saturating_add(lifetime.absolute_secs))
    }

    /// Present a token's hash. Mutates `self` on `Rotated` and `ReuseDetected`.
    pub fn rotate(&mut self, presented: &TokenHash, now: u64) -> Result<RotateOutcome, RngError> {
        if self.revoked_at.is_some() {
            return Ok(RotateOutcome::Revoked);
        }
        // Check reuse before expiry: a replayed old token is evidence of theft
        // whether or not the session has since expired.
        if self.rotated_hashes.iter().any(|h| h == presented) {
            self.revoked_at = Some(now);
            return Ok(RotateOutcome::ReuseDetected);
        }
        if *presented != self.current_hash {
            return Ok(RotateOutcome::Unknown);
        }
        if now >= self.expires_at {
            return Ok(RotateOutcome::Expired);
        }
        let secret = OpaqueToken::generate()?;
        self.rotated_hashes.push(self.current_hash);
        if self.rotated_hashes.len() > MAX_ROTATED_HASHES {
            let excess = self.rotated_hashes.len() - MAX_ROTATED_HASHES;
            self.rotated_hashes.drain(..excess);
        }
        self.current_hash = secret.hash();
        self.expires_at = Self::expiry(self.lifetime, self.created_at, now);
        Ok(RotateOutcome::Rotated { token: RefreshToken { family_id: self.family_id.clone(), secret } })
    }

    /// Revoke the family (sign-out, password change, admin action). Idempotent:
    /// keeps the first revocation time.
    pub fn revoke(&mut self, now: u64) {
        self.revoked_at.get_or_insert(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: u64 = 1_700_000_000;

    #[test]
    fn tokens_are_43_char_base64url_and_unique() {
        let a = OpaqueToken::generate().unwrap();
        let b = OpaqueToken::generate().unwrap();
        assert_eq!(a.expose().len(), TOKEN_LEN);
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a.expose(), b.expose());
        assert_ne!(a.hash(), b.hash());
        assert_eq!(format!("{a:?}"), "OpaqueToken([redacted])");
    }

    #[test]
    fn parse_accepts_own_tokens_and_rejects_garbage() {
        let t = OpaqueToken::generate().unwrap();
        let parsed = OpaqueToken::parse(t.expose()).unwrap();
        assert_eq!(parsed.hash(), t.hash());
        for bad in ["", "abc", &"a".repeat(42), &"a".repeat(44), &"+".repeat(43), &"=".repeat(43)] {
            assert_eq!(OpaqueToken::parse(bad).unwrap_err(), TokenError::Malformed, "{bad}");
        }
        // 43 chars of base64url encode 258 bits; the last 2 must be zero to be canonical.
        assert!(OpaqueToken::parse(&format!("{}B", "A".repeat(42))).is_err());
    }

    #[test]
    fn hash_is_sha256_of_the_text() {
        assert_eq!(TokenHash::of("abc").to_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn refresh_token_cookie_round_trip() {
        let (_, token) = RefreshFamily::start(RefreshLifetime::DEFAULT, T0).unwrap();
        let cookie = token.to_cookie_value();
        let parsed = RefreshToken::parse(cookie.expose()).unwrap();
        assert_eq!(parsed.family_id, token.family_id);
        assert_eq!(parsed.secret.hash(), token.secret.hash());
        assert!(RefreshToken::parse("nodot").is_err());
        assert!(RefreshToken::parse(&format!("short.{}", token.secret.expose())).is_err());
        assert!(RefreshToken::parse(&format!("{}.short", token.family_id.as_str())).is_err());
    }

    fn rotated(outcome: RotateOutcome) -> RefreshToken {
        match outcome {
            RotateOutcome::Rotated { token } => token,
            other => panic!("expected Rotated, got {other:?}"),
        }
    }

    #[test]
    fn rotation_chain_and_reuse_revokes_family() {
        let (mut fam, t1) = RefreshFamily::start(RefreshLifetime::DEFAULT, T0).unwrap();
        let t2 = rotated(fam.rotate(&t1.secret.hash(), T0 + 10).unwrap());
        let t3 = rotated(fam.rotate(&t2.secret.hash(), T0 + 20).unwrap());
        assert_eq!(fam.current_hash, t3.secret.hash());
        assert_eq!(fam.rotated_hashes, vec![t1.secret.hash(), t2.secret.hash()]);

        // The thief replays t1: family revoked; even the legitimate t3 is now dead.
        assert!(matches!(fam.rotate(&t1.secret.hash(), T0 + 30).unwrap(), RotateOutcome::ReuseDetected));
        assert_eq!(fam.revoked_at, Some(T0 + 30));
        assert!(matches!(fam.rotate(&t3.secret.hash(), T0 + 31).unwrap(), RotateOutcome::Revoked));
    }

    #[test]
    fn unknown_token_is_rejected_without_revoking() {
        let (mut fam, t1) = RefreshFamily::start(RefreshLifetime::DEFAULT, T0).unwrap();
        let stranger = OpaqueToken::generate().unwrap();
        assert!(matches!(fam.rotate(&stranger.hash(), T0 + 1).unwrap(), RotateOutcome::Unknown));
        assert_eq!(fam.revoked_at, None);
        rotated(fam.rotate(&t1.secret.hash(), T0 + 2).unwrap());
    }

    #[test]
    fn idle_and_absolute_expiry() {
        let day = 24 * 3600;
        let (mut fam, t1) = RefreshFamily::start(RefreshLifetime::DEFAULT, T0).unwrap();
        assert_eq!(fam.expires_at, T0 + day);
        assert!(matches!(fam.rotate(&t1.secret.hash(), T0 + day).unwrap(), RotateOutcome::Expired));

        // Active use slides the idle window, but never past 7 days from sign-in.
        let (mut fam, mut t) = RefreshFamily::start(RefreshLifetime::DEFAULT, T0).unwrap();
        let mut now = T0;
        for _ in 0..6 {
            now += day - 1;
            t = rotated(fam.rotate(&t.secret.hash(), now).unwrap());
            assert_eq!(fam.expires_at, now + day, "idle window slides");
        }
        now += day - 1;
        t = rotated(fam.rotate(&t.secret.hash(), now).unwrap());
        assert_eq!(fam.expires_at, T0 + 7 * day, "capped at the absolute lifetime");
        assert!(matches!(fam.rotate(&t.secret.hash(), T0 + 7 * day).unwrap(), RotateOutcome::Expired));

        let (fam, _) = RefreshFamily::start(RefreshLifetime::REMEMBER_ME, T0).unwrap();
        assert_eq!(fam.expires_at, T0 + 30 * day);
    }

    #[test]
    fn reuse_of_an_expired_familys_old_token_still_revokes() {
        let (mut fam, t1) = RefreshFamily::start(RefreshLifetime::DEFAULT, T0).unwrap();
        rotated(fam.rotate(&t1.secret.hash(), T0 + 1).unwrap());
        assert!(matches!(fam.rotate(&t1.secret.hash(), T0 + 999 * 3600).unwrap(), RotateOutcome::ReuseDetected));
    }

    #[test]
    fn revoke_is_idempotent_and_blocks_rotation() {
        let (mut fam, t1) = RefreshFamily::start(RefreshLifetime::DEFAULT, T0).unwrap();
        fam.revoke(T0 + 5);
        fam.revoke(T0 + 9);
        assert_eq!(fam.revoked_at, Some(T0 + 5));
        assert!(matches!(fam.rotate(&t1.secret.hash(), T0 + 6).unwrap(), RotateOutcome::Revoked));
    }

    #[test]
    fn rotated_history_is_bounded() {
        let (mut fam, mut t) = RefreshFamily::start(RefreshLifetime::REMEMBER_ME, T0).unwrap();
        let first = t.secret.hash();
        for i in 0..(MAX_ROTATED_HASHES as u64 + 5) {
            t = rotated(fam.rotate(&t.secret.hash(), T0 + i).unwrap());
        }
        assert_eq!(fam.rotated_hashes.len(), MAX_ROTATED_HASHES);
        // Forgotten: rejected as unknown, no revocation.
        assert!(matches!(fam.rotate(&first, T0 + 100).unwrap(), RotateOutcome::Unknown));
    }

    #[test]
    fn family_serde_round_trip() {
        let (fam, _) = RefreshFamily::start(RefreshLifetime::DEFAULT, T0).unwrap();
        let json = serde_json::to_string(&fam).unwrap();
        assert_eq!(serde_json::from_str::<RefreshFamily>(&json).unwrap(), fam);
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,80}") {
            let _ = OpaqueToken::parse(&s);
            let _ = RefreshToken::parse(&s);
        }
    }
}
