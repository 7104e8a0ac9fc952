//! One-time recovery codes for a lost second factor.
//!
//! Ten codes of the form `xxxx-xxxx-xxxx` from a 31-symbol alphabet without
//! look-alikes (no `0 1 i l o`): 12 × log2(31) ≈ 59 bits each, far beyond online
//! guessing under sign-in throttling. Only SHA-256 hashes of the normalised code
//! are stored; a code is removed when used.

use subtle::ConstantTimeEq;

use crate::digest::{digest32, sha256};
use crate::rng::{self, RngError};
use crate::secret::SecretString;

/// Codes generated per set.
pub const CODE_COUNT: usize = 10;
/// Alphabet: digits and lowercase letters minus the easily confused `0 1 i l o`.
const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
const GROUPS: usize = 3;
const GROUP_LEN: usize = 4;

digest32!(
    /// SHA-256 of a normalised recovery code (what is stored).
    RecoveryCodeHash
);

/// A freshly generated set: show `codes` once, store `hashes`.
#[derive(Debug)]
pub struct RecoveryCodes {
    /// The codes, formatted `xxxx-xxxx-xxxx`. Redacted in logs.
    pub codes: Vec<SecretString>,
    /// Their hashes, in the same order.
    pub hashes: Vec<RecoveryCodeHash>,
}

/// Generate a new set, replacing any previous one.
pub fn generate() -> Result<RecoveryCodes, RngError> {
    let mut codes = Vec::with_capacity(CODE_COUNT);
    let mut hashes = Vec::with_capacity(CODE_COUNT);
    for _ in 0..CODE_COUNT {
        let raw = SecretString::new(rng::string_from_alphabet(ALPHABET, GROUPS * GROUP_LEN)?);
        let groups: Vec<&str> = (0..GROUPS).map(|g| &raw.expose()[g * GROUP_LEN..(g + 1) * GROUP_LEN]).collect();
        hashes.push(hash_normalised(raw.expose()));
        codes.push(SecretString::new(groups.join("-")));
    }
    Ok(RecoveryCodes { codes, hashes })
}

/// Why a presented code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryError {
    /// Not 12 symbols of the alphabet (after dropping dashes and spaces).
    #[error("recovery codes look like xxxx-xxxx-xxxx")]
    Malformed,
    /// Not one of the remaining codes (wrong, or already used).
    #[error("that recovery code is not valid or has already been used")]
    NotFound,
}

fn hash_normalised(normalised: &str) -> RecoveryCodeHash {
    RecoveryCodeHash::from_bytes(sha256(normalised.as_bytes()))
}

/// Normalise what a user typed: case-insensitive, dashes and whitespace ignored.
fn normalise(presented: &str) -> Result<SecretString, RecoveryError> {
    let n = SecretString::new(presented.chars().filter(|c| *c != '-' && !c.is_whitespace()).map(|c| c.to_ascii_lowercase()).collect());
    let ok = n.expose().len() == GROUPS * GROUP_LEN && n.expose().bytes().all(|b| ALPHABET.contains(&b));
    if ok { Ok(n) } else { Err(RecoveryError::Malformed) }
}

/// Find a presented code among the stored hashes. Compares against every entry
/// in constant time per entry (no early exit), so timing does not reveal the
/// position of a match.
pub fn find(stored: &[RecoveryCodeHash], presented: &str) -> Result<usize, RecoveryError> {
    let h = hash_normalised(normalise(presented)?.expose());
    let mut found: Option<usize> = None;
    for (i, s) in stored.iter().enumerate() {
        let eq: bool = s.as_bytes().ct_eq(h.as_bytes()).into();
        if eq && found.is_none() {
            found = Some(i);
        }
    }
    found.ok_or(RecoveryError::NotFound)
}

/// Use a code: remove its hash from `stored` and return it. The caller persists
/// the removal with a conditional write ("this hash is still in the list"), so
/// two concurrent uses of one code cannot both succeed.
pub fn consume(stored: &mut Vec<RecoveryCodeHash>, presented: &str) -> Result<RecoveryCodeHash, RecoveryError> {
    let i = find(stored, presented)?;
    Ok(stored.remove(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_ten_distinct_well_formed_codes() {
        let set = generate().unwrap();
        assert_eq!(set.codes.len(), CODE_COUNT);
        assert_eq!(set.hashes.len(), CODE_COUNT);
        for code in &set.codes {
            let c = code.expose();
            assert_eq!(c.len(), 14, "{c}");
            assert_eq!(c.as_bytes()[4], b'-');
            assert_eq!(c.as_bytes()[9], b'-');
            assert!(c.bytes().filter(|b| *b != b'-').all(|b| ALPHABET.contains(&b)));
        }
        let mut uniq: Vec<&str> = set.codes.iter().map(|c| c.expose().as_str()).collect();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), CODE_COUNT);
        assert_eq!(ALPHABET.len(), 31);
        assert!(!ALPHABET.iter().any(|b| b"01ilo".contains(b)));
    }

    #[test]
    fn each_code_works_exactly_once() {
        let set = generate().unwrap();
        let mut stored = set.hashes.clone();
        for (i, code) in set.codes.iter().enumerate() {
            let used = consume(&mut stored, code.expose()).unwrap();
            assert_eq!(used, set.hashes[i]);
            assert_eq!(stored.len(), CODE_COUNT - i - 1);
            assert_eq!(consume(&mut stored, code.expose()), Err(RecoveryError::NotFound));
        }
        assert!(stored.is_empty());
    }

    #[test]
    fn typing_variations_are_accepted() {
        let set = generate().unwrap();
        let code = set.codes[3].expose().clone();
        let sloppy = format!("  {} ", code.to_uppercase().replace('-', " "));
        assert_eq!(find(&set.hashes, &sloppy), Ok(3));
        assert_eq!(find(&set.hashes, &code.replace('-', "")), Ok(3));
    }

    #[test]
    fn malformed_and_wrong_codes() {
        let set = generate().unwrap();
        for bad in ["", "abcd-efgh", "abcd-efgh-jkm0", "abcd-efgh-jkmnp", "ABCD-EFGH-IJKL"] {
            assert_eq!(find(&set.hashes, bad), Err(RecoveryError::Malformed), "{bad}");
        }
        assert_eq!(find(&set.hashes, "2222-2222-2222"), Err(RecoveryError::NotFound));
        assert_eq!(find(&[], "2222-2222-2222"), Err(RecoveryError::NotFound));
    }

    #[test]
    fn stored_hash_is_sha256_of_normalised_code() {
        assert_eq!(hash_normalised("abcdefghjkmn").to_hex(), data_encoding::HEXLOWER.encode(&sha256(b"abcdefghjkmn")));
        assert_eq!(find(&[hash_normalised("abcdefghjkmn")], "ABCD-EFGH-JKMN"), Ok(0));
    }
}
