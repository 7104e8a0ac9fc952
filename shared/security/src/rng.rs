//! Operating-system randomness, with failure as a value instead of a panic.

/// The operating system's random number generator failed.
///
/// On Lambda (Linux `getrandom(2)`) this does not happen in practice, but the
/// request path must not panic, so callers get a typed error to map to a 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system random number generator failed")]
pub struct RngError;

/// Fill `dest` with cryptographically secure random bytes.
pub(crate) fn fill(dest: &mut [u8]) -> Result<(), RngError> {
    getrandom::fill(dest).map_err(|_| RngError)
}

/// `N` cryptographically secure random bytes.
pub(crate) fn bytes<const N: usize>() -> Result<[u8; N], RngError> {
    let mut out = [0u8; N];
    fill(&mut out)?;
    Ok(out)
}

/// Pick `len` characters uniformly from `alphabet` (at most 256 symbols).
///
/// Uses rejection sampling so every symbol is equally likely: a plain
/// `byte % alphabet.len()` would favour the first `256 % len` symbols.
pub(crate) fn string_from_alphabet(alphabet: &[u8], len: usize) -> Result<String, RngError> {
    debug_assert!(!alphabet.is_empty() && alphabet.len() <= 256);
    let n = alphabet.len();
    // Largest multiple of n that fits in a byte; bytes at or above it are redrawn.
    let limit = 256 - (256 % n);
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        fill(&mut buf)?;
        for &b in &buf {
            if out.len() == len {
                break;
            }
            if usize::from(b) < limit {
                out.push(char::from(alphabet[usize::from(b) % n]));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_not_constant() {
        // Two 32-byte draws colliding has probability 2^-256; equality means a broken RNG.
        let a: [u8; 32] = bytes().unwrap();
        let b: [u8; 32] = bytes().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn alphabet_strings_use_only_the_alphabet_and_every_symbol() {
        let alphabet = b"abc";
        let s = string_from_alphabet(alphabet, 3000).unwrap();
        assert_eq!(s.len(), 3000);
        assert!(s.bytes().all(|b| alphabet.contains(&b)));
        for &c in alphabet {
            let count = s.bytes().filter(|&b| b == c).count();
            // Expected 1000 each; 800 is > 8 standard deviations away.
            assert!(count > 800, "symbol {} drawn only {count} times", c as char);
        }
    }
}
