//! 32-byte digest newtypes (SHA-256 outputs) shared by several modules.
//!
//! Equality is constant time so that comparing a presented token's hash with a
//! stored one leaks nothing through timing, even when a caller just writes `==`.

/// Define a 32-byte digest newtype with constant-time equality, lowercase-hex
/// serde and `Debug`, and `from_hex`/`to_hex`.
macro_rules! digest32 {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy)]
        pub struct $name([u8; 32]);

        impl $name {
            /// Wrap raw digest bytes.
            pub const fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// The raw digest bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// Lowercase hex (64 characters), the stored form.
            pub fn to_hex(self) -> String {
                data_encoding::HEXLOWER.encode(&self.0)
            }

            /// Parse 64 hex characters (either case).
            pub fn from_hex(s: &str) -> Result<Self, $crate::digest::DigestParseError> {
                $crate::digest::parse_hex32(s).map(Self)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                use subtle::ConstantTimeEq;
                self.0.ct_eq(&other.0).into()
            }
        }

        impl Eq for $name {}

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.0.hash(state);
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                Self::from_hex(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use digest32;

/// A stored digest was not 64 hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expected a 32-byte digest as 64 hex characters")]
pub struct DigestParseError;

pub(crate) fn parse_hex32(s: &str) -> Result<[u8; 32], DigestParseError> {
    let lower = s.to_ascii_lowercase();
    let bytes = data_encoding::HEXLOWER.decode(lower.as_bytes()).map_err(|_| DigestParseError)?;
    bytes.try_into().map_err(|_| DigestParseError)
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    digest32!(
        /// Test digest.
        TestDigest
    );

    #[test]
    fn sha256_matches_fips_180_vector() {
        // FIPS 180-2 Appendix B.1: SHA-256("abc").
        assert_eq!(data_encoding::HEXLOWER.encode(&sha256(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn hex_round_trip_and_rejects_bad_input() {
        let d = TestDigest::from_bytes(sha256(b"x"));
        assert_eq!(TestDigest::from_hex(&d.to_hex()).unwrap(), d);
        assert_eq!(TestDigest::from_hex(&d.to_hex().to_uppercase()).unwrap(), d);
        assert!(TestDigest::from_hex("abcd").is_err());
        assert!(TestDigest::from_hex(&"zz".repeat(32)).is_err());
        assert!(TestDigest::from_hex(&"ab".repeat(33)).is_err());
    }

    #[test]
    fn serde_is_hex_string() {
        let d = TestDigest::from_bytes([0xab; 32]);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{}\"", "ab".repeat(32)));
        let back: TestDigest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
        assert!(serde_json::from_str::<TestDigest>("\"nothex\"").is_err());
    }

    #[test]
    fn equality_distinguishes_one_bit() {
        let a = TestDigest::from_bytes([0; 32]);
        let mut b_bytes = [0u8; 32];
        b_bytes[31] = 1;
        assert_ne!(a, TestDigest::from_bytes(b_bytes));
        assert_eq!(a.as_bytes(), &[0u8; 32]);
    }
}
