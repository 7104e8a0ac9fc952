//! TOTP second factor (RFC 6238 over RFC 4226 HOTP, HMAC-SHA1).
//!
//! Parameters are the ones every authenticator app supports: SHA-1, 6 digits,
//! 30-second steps. A code is accepted for the current step and one step either
//! side (clock drift), and never for a step at or before the last one used, so
//! a code seen over someone's shoulder cannot be replayed.
//!
//! The seed is sealed at rest (see `seal`); this module only sees it in memory.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::rng::{self, RngError};
use crate::secret::{SecretBytes, SecretString};

/// Seed length: 160 bits, as RFC 4226 recommends for HMAC-SHA1.
pub const SECRET_LEN: usize = 20;

/// TOTP parameters. [`TotpParams::DEFAULT`] is what Tern uses; other digit
/// counts exist for the RFC test vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpParams {
    /// Code length, 6..=8.
    pub digits: u32,
    /// Step length in seconds.
    pub period_secs: u64,
    /// Steps accepted either side of the current one.
    pub skew_steps: u64,
}

impl TotpParams {
    /// SHA-1, 6 digits, 30 s, ±1 step.
    pub const DEFAULT: TotpParams = TotpParams { digits: 6, period_secs: 30, skew_steps: 1 };
}

/// A TOTP seed. Redacted in logs, zeroized on drop.
#[derive(Debug, Clone)]
pub struct TotpSecret(SecretBytes);

impl TotpSecret {
    /// A new random 20-byte seed.
    pub fn generate() -> Result<TotpSecret, RngError> {
        let bytes: [u8; SECRET_LEN] = rng::bytes()?;
        Ok(TotpSecret(SecretBytes::new(bytes.to_vec())))
    }

    /// Wrap seed bytes (e.g. just opened from a sealed field).
    pub fn from_bytes(bytes: SecretBytes) -> Result<TotpSecret, TotpError> {
        if bytes.expose().len() != SECRET_LEN {
            return Err(TotpError::BadSecret);
        }
        Ok(TotpSecret(bytes))
    }

    /// Parse the base32 form (case-insensitive, spaces and `=` padding ignored).
    pub fn from_base32(s: &str) -> Result<TotpSecret, TotpError> {
        let cleaned = SecretString::new(s.chars().filter(|c| !c.is_whitespace() && *c != '=').map(|c| c.to_ascii_uppercase()).collect());
        let bytes = BASE32_NOPAD.decode(cleaned.expose().as_bytes()).map_err(|_| TotpError::BadSecret)?;
        Self::from_bytes(SecretBytes::new(bytes))
    }

    /// Base32 without padding, as shown to users who cannot scan the QR code.
    pub fn to_base32(&self) -> SecretString {
        SecretString::new(BASE32_NOPAD.encode(self.0.expose()))
    }

    /// The raw seed, for sealing.
    pub fn expose_bytes(&self) -> &[u8] {
        self.0.expose()
    }

    /// The `otpauth://` URI for the enrolment QR code. Contains the secret.
    ///
    /// `issuer` (e.g. `Tern`) and `account` (the user's e-mail) are
    /// percent-encoded; a `:` inside them cannot split the label.
    pub fn provisioning_uri(&self, issuer: &str, account: &str) -> SecretString {
        let issuer_enc = percent_encode(issuer);
        SecretString::new(format!(
            "otpauth://totp/{issuer_enc}:{}?secret={}&issuer={issuer_enc}&algorithm=SHA1&digits={}&period={}",
            percent_encode(account),
            self.to_base32().expose(),
            TotpParams::DEFAULT.digits,
            TotpParams::DEFAULT.period_secs,
        ))
    }
}

/// Why a TOTP operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// The stored or entered seed is not a 20-byte base32 value.
    #[error("invalid TOTP secret")]
    BadSecret,
    /// Not the right number of digits.
    #[error("enter the {0}-digit code from your authenticator app")]
    Malformed(u32),
    /// No step in the window matches.
    #[error("the code is incorrect or has expired")]
    Invalid,
    /// The code matches a step that was already used.
    #[error("this code has already been used; wait for the next one")]
    Replayed,
    /// Parameters out of range (digits not 6..=8, zero period).
    #[error("unsupported TOTP parameters")]
    BadParams,
}

/// RFC 4226 HOTP value for `counter`, as a number below `10^digits`.
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> Result<u32, TotpError> {
    if !(6..=8).contains(&digits) {
        return Err(TotpError::BadParams);
    }
    let mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key)
        .map_err(|_| TotpError::BadSecret)?
        .chain_update(counter.to_be_bytes())
        .finalize()
        .into_bytes();
    // Dynamic truncation (RFC 4226 §5.3).
    let offset = usize::from(mac[19] & 0x0f);
    let bin = u32::from_be_bytes([mac[offset] & 0x7f, mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
    Ok(bin % 10u32.pow(digits))
}

/// The time step containing `unix_time`.
pub fn step_at(unix_time: u64, params: TotpParams) -> Result<u64, TotpError> {
    unix_time.checked_div(params.period_secs).ok_or(TotpError::BadParams)
}

/// The code for `unix_time`, zero-padded to `params.digits`.
pub fn code_at(secret: &TotpSecret, unix_time: u64, params: TotpParams) -> Result<String, TotpError> {
    let value = hotp(secret.expose_bytes(), step_at(unix_time, params)?, params.digits)?;
    Ok(format!("{value:0width$}", width = params.digits as usize))
}

/// Verify `code` at `unix_time` with Tern's parameters. Returns the matched step,
/// which the caller stores as the new `last_used_step` (with a conditional write
/// so two concurrent sign-ins cannot both use one code).
pub fn verify(secret: &TotpSecret, code: &str, unix_time: u64, last_used_step: Option<u64>) -> Result<u64, TotpError> {
    verify_with(secret, code, unix_time, last_used_step, TotpParams::DEFAULT)
}

/// [`verify`] with explicit parameters.
pub fn verify_with(
    secret: &TotpSecret,
    code: &str,
    unix_time: u64,
    last_used_step: Option<u64>,
    params: TotpParams,
) -> Result<u64, TotpError> {
    // Apps show "123 456"; accept inner spaces but nothing else.
    let entered: String = code.chars().filter(|c| *c != ' ').collect();
    if entered.len() != params.digits as usize || !entered.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TotpError::Malformed(params.digits));
    }
    let now_step = step_at(unix_time, params)?;
    let first = now_step.saturating_sub(params.skew_steps);
    let last = now_step.saturating_add(params.skew_steps);

    // Check every step in the window without early exit, so timing does not tell
    // which step (if any) matched.
    let mut fresh_match: Option<u64> = None;
    let mut replayed = false;
    for step in first..=last {
        let candidate = format!("{:0width$}", hotp(secret.expose_bytes(), step, params.digits)?, width = params.digits as usize);
        let matches: bool = candidate.as_bytes().ct_eq(entered.as_bytes()).into();
        if matches {
            if last_used_step.is_some_and(|used| step <= used) {
                replayed = true;
            } else if fresh_match.is_none() {
                fresh_match = Some(step);
            }
        }
    }
    match (fresh_match, replayed) {
        (Some(step), _) => Ok(step),
        (None, true) => Err(TotpError::Replayed),
        (None, false) => Err(TotpError::Invalid),
    }
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 6238 Appendix B / RFC 4226 Appendix D seed: ASCII "12345678901234567890".
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(SecretBytes::from(&b"12345678901234567890"[..])).unwrap()
    }

    #[test]
    fn rfc4226_hotp_vectors() {
        let expected = [755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489];
        for (counter, want) in expected.into_iter().enumerate() {
            assert_eq!(hotp(b"12345678901234567890", counter as u64, 6).unwrap(), want, "counter {counter}");
        }
    }

    #[test]
    fn rfc6238_sha1_vectors() {
        let params = TotpParams { digits: 8, ..TotpParams::DEFAULT };
        let vectors = [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ];
        let secret = rfc_secret();
        for (t, want) in vectors {
            assert_eq!(code_at(&secret, t, params).unwrap(), want, "t={t}");
            assert_eq!(verify_with(&secret, want, t, None, params).unwrap(), t / 30);
        }
    }

    #[test]
    fn window_is_plus_minus_one_step() {
        let s = rfc_secret();
        let t = 1_700_000_000;
        let p = TotpParams::DEFAULT;
        let step = t / 30;
        for (offset, ok) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let at = (t as i64 + offset * 30) as u64;
            let code = code_at(&s, at, p).unwrap();
            let res = verify(&s, &code, t, None);
            if ok {
                assert_eq!(res, Ok((step as i64 + offset) as u64), "offset {offset}");
            } else {
                assert_eq!(res, Err(TotpError::Invalid), "offset {offset}");
            }
        }
    }

    #[test]
    fn replay_is_refused() {
        let s = rfc_secret();
        let t = 1_700_000_000;
        let code = code_at(&s, t, TotpParams::DEFAULT).unwrap();
        let used = verify(&s, &code, t, None).unwrap();
        assert_eq!(verify(&s, &code, t + 5, Some(used)), Err(TotpError::Replayed));
        // The previous step's code is also refused after a later step was used.
        let prev = code_at(&s, t - 30, TotpParams::DEFAULT).unwrap();
        assert_eq!(verify(&s, &prev, t, Some(used)), Err(TotpError::Replayed));
        // The next step's code is fine.
        let next = code_at(&s, t + 30, TotpParams::DEFAULT).unwrap();
        assert_eq!(verify(&s, &next, t + 30, Some(used)), Ok(used + 1));
    }

    #[test]
    fn malformed_codes() {
        let s = rfc_secret();
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６", "123-456"] {
            assert_eq!(verify(&s, bad, 1_700_000_000, None), Err(TotpError::Malformed(6)), "{bad:?}");
        }
        let code = code_at(&s, 1_700_000_000, TotpParams::DEFAULT).unwrap();
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(verify(&s, &spaced, 1_700_000_000, None).is_ok());
    }

    #[test]
    fn step_zero_window_does_not_underflow() {
        let s = rfc_secret();
        let code = code_at(&s, 0, TotpParams::DEFAULT).unwrap();
        assert_eq!(verify(&s, &code, 10, None), Ok(0));
        let far = code_at(&s, u64::MAX, TotpParams::DEFAULT).unwrap();
        assert!(verify(&s, &far, u64::MAX, None).is_ok());
    }

    #[test]
    fn bad_params_are_errors() {
        let s = rfc_secret();
        assert_eq!(code_at(&s, 1, TotpParams { digits: 9, ..TotpParams::DEFAULT }), Err(TotpError::BadParams));
        assert_eq!(code_at(&s, 1, TotpParams { period_secs: 0, ..TotpParams::DEFAULT }), Err(TotpError::BadParams));
    }

    #[test]
    fn secret_generation_and_base32() {
        let s = TotpSecret::generate().unwrap();
        let b32 = s.to_base32();
        assert_eq!(b32.expose().len(), 32); // 160 bits / 5
        assert!(b32.expose().bytes().all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c)));
        let back = TotpSecret::from_base32(&b32.expose().to_lowercase()).unwrap();
        assert_eq!(back.expose_bytes(), s.expose_bytes());
        assert_eq!(TotpSecret::from_base32("GEZDGNBV").unwrap_err(), TotpError::BadSecret);
        assert_eq!(TotpSecret::from_base32("!!!!").unwrap_err(), TotpError::BadSecret);
        assert_eq!(format!("{s:?}"), "TotpSecret([redacted])");
    }

    #[test]
    fn provisioning_uri_shape() {
        // base32 of the RFC seed.
        let s = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
        assert_eq!(s.expose_bytes(), b"12345678901234567890");
        let uri = s.provisioning_uri("Tern", "ana+x@example.com");
        assert_eq!(
            uri.expose(),
            "otpauth://totp/Tern:ana%2Bx%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Tern&algorithm=SHA1&digits=6&period=30"
        );
        let uri = s.provisioning_uri("Tern: Evil", "a:b");
        assert!(uri.expose().starts_with("otpauth://totp/Tern%3A%20Evil:a%3Ab?"));
    }

    proptest! {
        #[test]
        fn generated_codes_verify_and_never_panic(t in 30u64..u64::MAX / 2, junk in ".{0,12}") {
            let s = rfc_secret();
            let code = code_at(&s, t, TotpParams::DEFAULT).unwrap();
            prop_assert_eq!(verify(&s, &code, t, None), Ok(t / 30));
            let _ = verify(&s, &junk, t, Some(t / 30));
        }
    }
}
