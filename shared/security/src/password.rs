//! Password hashing (argon2id, PHC strings) and the password policy.
//!
//! Hashing uses OWASP's argon2id parameters (m = 19456 KiB, t = 2, p = 1). The
//! parameters are recorded in each PHC string, so old hashes keep verifying after
//! a change and [`PasswordHasher::needs_rehash`] says when to re-hash on the next
//! successful sign-in.
//!
//! The policy follows NIST SP 800-63B: length (counted in Unicode scalar values,
//! not bytes), no composition rules, reject the user's own identifiers and known
//! common passwords.

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, PasswordHash as Phc, Version};

use crate::secret::SecretString;

/// Longest password accepted for verification, in bytes. The policy caps new
/// passwords at 128 characters (≤ 512 bytes); anything longer cannot match and
/// is refused before spending argon2 time on it.
pub const MAX_VERIFY_BYTES: usize = 1024;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Argon2Params {
    /// OWASP Password Storage Cheat Sheet: argon2id, 19 MiB, 2 iterations, 1 lane.
    pub const OWASP: Argon2Params = Argon2Params { m_kib: 19_456, t: 2, p: 1 };
}

/// A PHC-format argon2id hash (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), the stored form.
///
/// `Debug` shows only the parameters: a full hash in a log line is material for
/// offline cracking.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `$argon2id$v=19$m=..,t=..,p=..$salt$hash` → keep the first three fields.
        let head: Vec<&str> = self.0.split('$').take(4).collect();
        write!(f, "PasswordHash({}$[redacted])", head.join("$"))
    }
}

/// Stored hashes asking for more than this are refused as corrupt rather than
/// letting one bad row allocate gigabytes inside a Lambda.
const MAX_VERIFY_M_KIB: u32 = 256 * 1024;
const MAX_VERIFY_T: u32 = 16;

impl PasswordHash {
    /// Wrap a stored PHC string (validated when used).
    pub fn from_stored(phc: String) -> PasswordHash {
        PasswordHash(phc)
    }

    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Hashing or verification failed for a reason other than a wrong password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// The stored hash is not a PHC string we can verify (corrupt or foreign).
    #[error("stored password hash is malformed or uses an unsupported algorithm")]
    MalformedHash,
    /// argon2 refused the input or parameters.
    #[error("password hashing failed")]
    Hashing,
}

/// Hashes and verifies passwords with fixed argon2id parameters.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: Argon2Params,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        PasswordHasher { params: Argon2Params::OWASP }
    }
}

impl PasswordHasher {
    /// A hasher with custom parameters (tests use cheap ones; production uses
    /// [`PasswordHasher::default`]).
    pub fn with_params(params: Argon2Params) -> Result<PasswordHasher, PasswordError> {
        Self::argon2_params(params)?;
        Ok(PasswordHasher { params })
    }

    fn argon2_params(p: Argon2Params) -> Result<Params, PasswordError> {
        Params::new(p.m_kib, p.t, p.p, None).map_err(|_| PasswordError::Hashing)
    }

    fn argon2(&self) -> Result<Argon2<'static>, PasswordError> {
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, Self::argon2_params(self.params)?))
    }

    /// Hash a password with a fresh random salt.
    pub fn hash(&self, password: &SecretString) -> Result<PasswordHash, PasswordError> {
        let phc = self.argon2()?.hash_password(password.expose().as_bytes()).map_err(|_| PasswordError::Hashing)?;
        Ok(PasswordHash(phc.to_string()))
    }

    /// Whether `password` matches `stored`. `Ok(false)` for a wrong password;
    /// `Err` only when the stored hash itself is unusable. The comparison of
    /// hash outputs inside argon2 is constant time.
    pub fn verify(&self, password: &SecretString, stored: &PasswordHash) -> Result<bool, PasswordError> {
        let phc = Phc::new(stored.as_str()).map_err(|_| PasswordError::MalformedHash)?;
        if phc.algorithm.as_str() != "argon2id" {
            return Err(PasswordError::MalformedHash);
        }
        let params = Params::try_from(&phc).map_err(|_| PasswordError::MalformedHash)?;
        if params.m_cost() > MAX_VERIFY_M_KIB || params.t_cost() > MAX_VERIFY_T {
            return Err(PasswordError::MalformedHash);
        }
        if password.expose().len() > MAX_VERIFY_BYTES {
            return Ok(false);
        }
        // The parameters come from the stored hash, not from `self`.
        match Argon2::default().verify_password(password.expose().as_bytes(), &phc) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
            Err(_) => Err(PasswordError::MalformedHash),
        }
    }

    /// Spend the same time as a real verification, for sign-in attempts on
    /// accounts that do not exist, so response time does not reveal which
    /// e-mail addresses have accounts. Always returns `false`.
    pub fn verify_dummy(&self, password: &SecretString) -> bool {
        let p = self.params;
        // Well-formed PHC string with our parameters; zero salt and output, so no
        // real password matches it.
        let dummy = PasswordHash(format!(
            "$argon2id$v=19$m={},t={},p={}$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            p.m_kib, p.t, p.p
        ));
        let _ = self.verify(password, &dummy);
        false
    }

    /// Whether `stored` should be re-hashed with the current parameters (after a
    /// successful verification, while the plaintext is at hand). Malformed or
    /// foreign hashes also "need rehash".
    pub fn needs_rehash(&self, stored: &PasswordHash) -> bool {
        let Ok(phc) = Phc::new(stored.as_str()) else {
            return true;
        };
        let Ok(params) = Params::try_from(&phc) else {
            return true;
        };
        phc.algorithm.as_str() != "argon2id"
            || phc.version != Some(Version::V0x13 as u32)
            || params.m_cost() != self.params.m_kib
            || params.t_cost() != self.params.t
            || params.p_cost() != self.params.p
    }
}

/// A password-policy violation, with a message fit to show the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    /// Fewer characters than the minimum.
    #[error("use at least {min} characters (this one has {actual})")]
    TooShort {
        /// Minimum length.
        min: usize,
        /// Characters supplied.
        actual: usize,
    },
    /// More characters than the maximum.
    #[error("use at most {max} characters")]
    TooLong {
        /// Maximum length.
        max: usize,
    },
    /// Contains the local part of the user's e-mail address.
    #[error("don't include your e-mail address in your password")]
    ContainsEmail,
    /// Contains the user's name.
    #[error("don't include your name in your password")]
    ContainsName,
    /// Is, or is built on, a very common password.
    #[error("this password is too common; choose something harder to guess")]
    TooCommon,
    /// Uses almost no distinct characters (e.g. `aaaaaaaaaaaa`).
    #[error("this password is too repetitive; choose something harder to guess")]
    TooRepetitive,
}

/// Rules for new passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length in Unicode scalar values.
    pub min_chars: usize,
    /// Maximum length in Unicode scalar values.
    pub max_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy { min_chars: 12, max_chars: 128 }
    }
}

/// Identifiers shorter than this are not checked for containment: a two-letter
/// name would forbid a large share of perfectly good passwords.
const MIN_IDENTIFIER_CHARS: usize = 3;

impl PasswordPolicy {
    /// Check a new password for a user with this e-mail and (optional) name.
    /// Returns the first violation found.
    pub fn check(&self, password: &SecretString, email: &str, name: Option<&str>) -> Result<(), PolicyViolation> {
        let pw = password.expose();
        let chars = pw.chars().count();
        if chars < self.min_chars {
            return Err(PolicyViolation::TooShort { min: self.min_chars, actual: chars });
        }
        if chars > self.max_chars {
            return Err(PolicyViolation::TooLong { max: self.max_chars });
        }
        let lower = SecretString::new(pw.to_lowercase());
        let lower = lower.expose();

        let local = email.rsplit_once('@').map_or(email, |(l, _)| l).trim().to_lowercase();
        if local.chars().count() >= MIN_IDENTIFIER_CHARS && lower.contains(&local) {
            return Err(PolicyViolation::ContainsEmail);
        }
        if let Some(name) = name {
            let name = name.trim().to_lowercase();
            let squashed: String = name.split_whitespace().collect();
            let parts = name.split_whitespace().chain(std::iter::once(squashed.as_str()));
            for part in parts {
                if part.chars().count() >= MIN_IDENTIFIER_CHARS && lower.contains(part) {
                    return Err(PolicyViolation::ContainsName);
                }
            }
        }

        if is_common(lower) {
            return Err(PolicyViolation::TooCommon);
        }
        let mut distinct: Vec<char> = lower.chars().collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < 4 {
            return Err(PolicyViolation::TooRepetitive);
        }
        Ok(())
    }
}

/// Whether a lowercased password is a common one, or a common one padded with
/// digits and symbols (`Password123!`, `!!qwerty2024`).
fn is_common(lower: &str) -> bool {
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    COMMON_PASSWORDS.iter().any(|&c| c == lower || c == core)
}

/// The most common passwords and password stems (from public breach top lists),
/// lowercased. Short entries matter as stems: `password` blocks `Password2024!!`.
const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "passw0rd",
    "password1",
    "password12",
    "password123",
    "password1234",
    "passwordpassword",
    "qwerty",
    "qwertyuiop",
    "qwertyuiopasdfghjkl",
    "qwerty123",
    "qwertyqwerty",
    "asdfghjkl",
    "asdfasdfasdf",
    "zxcvbnm",
    "zxcvbnmasdfghjkl",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "1qaz2wsx",
    "q1w2e3r4t5y6",
    "qazwsxedc",
    "qazwsxedcrfv",
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456789123",
    "123123123123",
    "111111111111",
    "000000000000",
    "121212121212",
    "987654321098",
    "abcdefghijkl",
    "abcd1234abcd",
    "abc123abc123",
    "iloveyou",
    "iloveyou123",
    "letmein",
    "letmein123",
    "welcome",
    "welcome123",
    "welcome1234",
    "monkey",
    "dragon",
    "master",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "basketball",
    "superman",
    "batman",
    "trustno1",
    "shadow",
    "michael",
    "jennifer",
    "jordan",
    "hunter",
    "ranger",
    "buster",
    "soccer",
    "harley",
    "charlie",
    "thomas",
    "robert",
    "starwars",
    "pokemon",
    "freedom",
    "whatever",
    "computer",
    "internet",
    "secret",
    "changeme",
    "changeme123",
    "default",
    "administrator",
    "admin",
    "admin123",
    "root",
    "login",
    "access",
    "summer",
    "winter",
    "spring",
    "autumn",
    "chocolate",
    "cookie",
    "flower",
    "hello",
    "helloworld",
    "hello123",
    "loveme",
    "lovely",
    "friends",
    "family",
    "samsung",
    "google",
    "microsoft",
    "linkedin",
    "facebook",
    "myspace",
    "mustang",
    "maggie",
    "ginger",
    "pepper",
    "cheese",
    "biteme",
    "matrix",
    "killer",
    "qwertyu",
    "asdf",
    "zaq12wsx",
    "zaq1zaq1",
    "passpass",
    "testtest",
    "test1234",
    "testing123",
    "letmeinnow",
    "nothing",
    "blahblah",
    "fuckyou",
    "abcdefgh",
    "abcdef",
    "correcthorsebatterystaple",
    "iloveyouforever",
    "mypassword",
    "yourpassword",
    "newpassword",
    "oldpassword",
    "p@ssw0rd",
    "p@ssword",
    "pa$$word",
    "tern",
    "ternapp",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters so unit tests stay fast in debug builds.
    const CHEAP: Argon2Params = Argon2Params { m_kib: 64, t: 1, p: 1 };

    fn s(x: &str) -> SecretString {
        SecretString::from(x)
    }

    #[test]
    fn owasp_defaults_are_used_and_verify() {
        let h = PasswordHasher::default();
        let stored = h.hash(&s("correct horse battery")).unwrap();
        assert!(stored.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", stored.as_str());
        assert!(h.verify(&s("correct horse battery"), &stored).unwrap());
        assert!(!h.needs_rehash(&stored));
    }

    #[test]
    fn wrong_password_is_false_not_error() {
        let h = PasswordHasher::with_params(CHEAP).unwrap();
        let stored = h.hash(&s("correct horse battery")).unwrap();
        assert!(h.verify(&s("correct horse battery"), &stored).unwrap());
        assert!(!h.verify(&s("correct horse batterY"), &stored).unwrap());
        assert!(!h.verify(&s(""), &stored).unwrap());
        assert!(!h.verify(&s(&"x".repeat(MAX_VERIFY_BYTES + 1)), &stored).unwrap());
    }

    #[test]
    fn salts_differ() {
        let h = PasswordHasher::with_params(CHEAP).unwrap();
        assert_ne!(h.hash(&s("same password!")).unwrap(), h.hash(&s("same password!")).unwrap());
    }

    #[test]
    fn rfc9106_argon2id_test_vector() {
        // RFC 9106 §5.3: checks that the argon2 crate we depend on computes argon2id
        // correctly (secret and associated data exercised too).
        let params = argon2::ParamsBuilder::new()
            .m_cost(32)
            .t_cost(3)
            .p_cost(4)
            .data(argon2::AssociatedData::new(&[4; 12]).unwrap())
            .output_len(32)
            .build()
            .unwrap();
        let a = Argon2::new_with_secret(&[3; 8], Algorithm::Argon2id, Version::V0x13, params).unwrap();
        let mut out = [0u8; 32];
        a.hash_password_into(&[1; 32], &[2; 16], &mut out).unwrap();
        assert_eq!(data_encoding::HEXLOWER.encode(&out), "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659");
    }

    #[test]
    fn malformed_or_foreign_hashes() {
        let h = PasswordHasher::with_params(CHEAP).unwrap();
        for bad in ["", "plaintext", "$2b$12$abcdefghijklmnopqrstuv", "$argon2id$v=19$m=64,t=1,p=1$bad"] {
            let stored = PasswordHash::from_stored(bad.into());
            assert_eq!(h.verify(&s("whatever"), &stored), Err(PasswordError::MalformedHash), "{bad}");
            assert!(h.needs_rehash(&stored), "{bad}");
        }
        // argon2i (not id) is refused for verification and flagged for rehash.
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::new(64, 1, 1, None).unwrap())
            .hash_password_with_salt(b"pw", b"somesalt")
            .unwrap()
            .to_string();
        let stored = PasswordHash::from_stored(argon2i);
        assert_eq!(h.verify(&s("pw"), &stored), Err(PasswordError::MalformedHash));
        assert!(h.needs_rehash(&stored));
    }

    #[test]
    fn debug_hides_salt_and_hash_and_huge_costs_are_refused() {
        let h = PasswordHasher::with_params(CHEAP).unwrap();
        let stored = h.hash(&s("a long enough pw")).unwrap();
        let salt_and_hash = stored.as_str().rsplitn(3, '$').take(2).collect::<Vec<_>>();
        let dbg = format!("{stored:?}");
        assert_eq!(dbg, "PasswordHash($argon2id$v=19$m=64,t=1,p=1$[redacted])");
        assert!(salt_and_hash.iter().all(|part| !dbg.contains(part)));

        let huge = PasswordHash::from_stored(stored.as_str().replace("m=64", "m=4194304"));
        assert_eq!(h.verify(&s("a long enough pw"), &huge), Err(PasswordError::MalformedHash));
    }

    #[test]
    fn needs_rehash_when_params_change() {
        let cheap = PasswordHasher::with_params(CHEAP).unwrap();
        let stored = cheap.hash(&s("a long enough pw")).unwrap();
        assert!(!cheap.needs_rehash(&stored));
        let stronger = PasswordHasher::with_params(Argon2Params { m_kib: 128, ..CHEAP }).unwrap();
        assert!(stronger.needs_rehash(&stored));
        // Old hashes still verify under a hasher configured with new params.
        assert!(stronger.verify(&s("a long enough pw"), &stored).unwrap());
    }

    #[test]
    fn dummy_verify_is_false_and_invalid_params_rejected() {
        let h = PasswordHasher::with_params(CHEAP).unwrap();
        assert!(!h.verify_dummy(&s("anything at all")));
        assert_eq!(PasswordHasher::with_params(Argon2Params { m_kib: 1, t: 1, p: 1 }).unwrap_err(), PasswordError::Hashing);
    }

    fn check(pw: &str, email: &str, name: Option<&str>) -> Result<(), PolicyViolation> {
        PasswordPolicy::default().check(&s(pw), email, name)
    }

    #[test]
    fn length_counts_unicode_scalars() {
        assert_eq!(check("short", "a@b.c", None), Err(PolicyViolation::TooShort { min: 12, actual: 5 }));
        // 11 two-byte characters: 22 bytes but 11 characters, so too short.
        assert_eq!(check("ééééééééééé", "a@b.c", None), Err(PolicyViolation::TooShort { min: 12, actual: 11 }));
        assert_eq!(check("ñandú-café-ñu", "a@b.c", None), Ok(()));
        assert_eq!(check(&"ab1d".repeat(32), "a@b.c", None), Ok(()));
        assert_eq!(check(&"ab1dx".repeat(26), "a@b.c", None), Err(PolicyViolation::TooLong { max: 128 }));
        // 128 four-byte emoji: 512 bytes, 128 characters: allowed by length.
        let emoji: String = ['🦊', '🐢', '🐙', '🦉'].iter().cycle().take(128).collect();
        assert_eq!(check(&emoji, "a@b.c", None), Ok(()));
    }

    #[test]
    fn own_identifiers_are_refused() {
        assert_eq!(check("xx-Ana.Lopez-2024", "ana.lopez@example.com", None), Err(PolicyViolation::ContainsEmail));
        assert_eq!(check("my mate Lopez rocks", "al@example.com", Some("Ana Lopez")), Err(PolicyViolation::ContainsName));
        assert_eq!(check("anaLOPEZ forever!", "al@example.com", Some("Ana Lopez")), Err(PolicyViolation::ContainsName));
        // Too-short identifiers are not used for matching.
        assert_eq!(check("jo walks far away", "jo@example.com", Some("Jo")), Ok(()));
    }

    #[test]
    fn common_and_repetitive_are_refused() {
        for pw in ["password1234", "Password2024!", "!!QWERTYUIOP!!", "123456789012", "iloveyou1234", "P@ssw0rd2024"] {
            assert_eq!(check(pw, "x@example.com", None), Err(PolicyViolation::TooCommon), "{pw}");
        }
        assert_eq!(check("aaaaaaaaaaaa", "x@example.com", None), Err(PolicyViolation::TooRepetitive));
        assert_eq!(check("abababababab", "x@example.com", None), Err(PolicyViolation::TooRepetitive));
        assert_eq!(check("tangerine kayak ladder", "x@example.com", None), Ok(()));
    }

    #[test]
    fn messages_are_human() {
        assert_eq!(PolicyViolation::TooShort { min: 12, actual: 5 }.to_string(), "use at least 12 characters (this one has 5)");
        assert!(PolicyViolation::TooCommon.to_string().contains("too common"));
    }
}
