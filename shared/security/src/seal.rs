//! AES-256-GCM field sealing under a per-workspace data key (envelope encryption).
//!
//! The data key comes from KMS `GenerateDataKey` (the adapter crate does that and
//! keeps the encrypted copy, the *key blob*, next to the ciphertext). The item's
//! identity — workspace, entity, id, field — is the associated data, so a
//! ciphertext copied into another item, field or tenant fails to open even under
//! the right key.
//!
//! Sealed format (version 1): `0x01 || nonce (12 bytes, random) || ciphertext || tag (16 bytes)`.
//! The version byte is also bound into the associated data, so it cannot be
//! swapped. Random 96-bit nonces are safe here because one data key seals few
//! values (keys are rotated and cached for minutes), far below the 2^32 limit.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};

use crate::rng::{self, RngError};
use crate::secret::{Secret, SecretBytes};

/// Current sealed-format version.
pub const SEAL_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Domain separation for the associated data, so these bytes can never be
/// mistaken for another protocol's AAD.
const AAD_CONTEXT: &[u8] = b"tern/seal/v1";

/// A 256-bit plaintext data key. Redacted in logs, zeroized on drop.
#[derive(Clone)]
pub struct DataKey(Secret<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

impl DataKey {
    /// Use the plaintext half of a KMS data key (must be exactly 32 bytes).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SealError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| SealError::KeyLength { actual: bytes.len() })?;
        Ok(Self(Secret::new(arr)))
    }

    /// A fresh random key (tests, and local runs without KMS).
    pub fn generate() -> Result<Self, RngError> {
        Ok(Self(Secret::new(rng::bytes()?)))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&(*self.0.expose()).into())
    }
}

/// Which field of which item a value belongs to. Bound into the ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldIdentity<'a> {
    /// Workspace (tenant) id.
    pub workspace: &'a str,
    /// Entity type, e.g. `mailbox`, `contact`.
    pub entity: &'a str,
    /// Item id within the workspace.
    pub id: &'a str,
    /// Field name, e.g. `smtp_password`, `notes`.
    pub field: &'a str,
}

impl FieldIdentity<'_> {
    /// Unambiguous encoding: each part is prefixed with its length (u32 big
    /// endian), so `("ab","c")` and `("a","bc")` differ.
    pub fn associated_data(&self) -> Vec<u8> {
        let parts = [self.workspace, self.entity, self.id, self.field];
        let mut out = Vec::with_capacity(AAD_CONTEXT.len() + 1 + parts.iter().map(|p| 4 + p.len()).sum::<usize>());
        out.extend_from_slice(AAD_CONTEXT);
        out.push(SEAL_VERSION);
        for part in parts {
            // Identities are short ids; saturating keeps this panic-free for
            // absurd >4 GiB inputs (which would then simply not open elsewhere).
            let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }
}

/// Why sealing or opening failed. Deliberately coarse for `open`: telling a
/// caller *why* authentication failed only helps an attacker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The data key was not 32 bytes.
    #[error("data key must be 32 bytes, got {actual}")]
    KeyLength {
        /// Length supplied.
        actual: usize,
    },
    /// Too short to be a sealed value.
    #[error("sealed value is truncated")]
    Truncated,
    /// Unknown version byte.
    #[error("unsupported sealed-value version {0}")]
    UnsupportedVersion(u8),
    /// Wrong key, wrong identity, or tampered bytes.
    #[error("sealed value failed authentication (wrong key, wrong item, or tampered)")]
    Authentication,
    /// Encryption failed (plaintext too large for GCM).
    #[error("encryption failed")]
    Encryption,
    /// The OS RNG failed while drawing a nonce.
    #[error(transparent)]
    Rng(#[from] RngError),
}

/// Seal `plaintext` for `identity` under `key`.
pub fn seal(key: &DataKey, identity: &FieldIdentity<'_>, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
    let nonce: [u8; NONCE_LEN] = rng::bytes()?;
    seal_with_nonce(key, identity, plaintext, nonce)
}

fn seal_with_nonce(key: &DataKey, identity: &FieldIdentity<'_>, plaintext: &[u8], nonce: [u8; NONCE_LEN]) -> Result<Vec<u8>, SealError> {
    let aad = identity.associated_data();
    let ct = key.cipher().encrypt(&nonce.into(), Payload { msg: plaintext, aad: &aad }).map_err(|_| SealError::Encryption)?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
    out.push(SEAL_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Open a value sealed by [`seal`] for the same `identity` under the same `key`.
pub fn open(key: &DataKey, identity: &FieldIdentity<'_>, sealed: &[u8]) -> Result<SecretBytes, SealError> {
    let (&version, rest) = sealed.split_first().ok_or(SealError::Truncated)?;
    if version != SEAL_VERSION {
        return Err(SealError::UnsupportedVersion(version));
    }
    if rest.len() < NONCE_LEN + TAG_LEN {
        return Err(SealError::Truncated);
    }
    let (nonce, ct) = rest.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::Truncated)?;
    let aad = identity.associated_data();
    key.cipher().decrypt(&nonce.into(), Payload { msg: ct, aad: &aad }).map(Secret::new).map_err(|_| SealError::Authentication)
}

/// What is stored for a sealed field: the KMS-encrypted data key and the sealed
/// bytes. Both are standard base64 in JSON. Neither is secret on its own (the key
/// blob needs KMS and the workspace's key policy to unwrap).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SealedValue {
    /// `CiphertextBlob` from KMS `GenerateDataKey`.
    #[serde(with = "base64_bytes")]
    pub key_blob: Vec<u8>,
    /// Output of [`seal`].
    #[serde(with = "base64_bytes")]
    pub ciphertext: Vec<u8>,
}

mod base64_bytes {
    use data_encoding::BASE64;

    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE64.encode(bytes))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        BASE64.decode(s.as_bytes()).map_err(|_| serde::de::Error::custom("invalid base64"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id<'a>(workspace: &'a str, entity: &'a str, id: &'a str, field: &'a str) -> FieldIdentity<'a> {
        FieldIdentity { workspace, entity, id, field }
    }

    const HOME: FieldIdentity<'static> = FieldIdentity { workspace: "ws_1", entity: "mailbox", id: "mb_1", field: "smtp_password" };

    #[test]
    fn round_trip_and_format() {
        let key = DataKey::generate().unwrap();
        let sealed = seal(&key, &HOME, b"s3cret").unwrap();
        assert_eq!(sealed[0], SEAL_VERSION);
        assert_eq!(sealed.len(), 1 + 12 + 6 + 16);
        assert_eq!(open(&key, &HOME, &sealed).unwrap().expose(), b"s3cret");
    }

    #[test]
    fn nonces_are_fresh_per_seal() {
        let key = DataKey::generate().unwrap();
        let a = seal(&key, &HOME, b"same").unwrap();
        let b = seal(&key, &HOME, b"same").unwrap();
        assert_ne!(a[1..13], b[1..13]);
        assert_ne!(a, b);
    }

    #[test]
    fn moving_to_another_identity_fails() {
        let key = DataKey::generate().unwrap();
        let sealed = seal(&key, &HOME, b"s3cret").unwrap();
        let others = [
            id("ws_2", "mailbox", "mb_1", "smtp_password"),
            id("ws_1", "contact", "mb_1", "smtp_password"),
            id("ws_1", "mailbox", "mb_2", "smtp_password"),
            id("ws_1", "mailbox", "mb_1", "oauth_token"),
        ];
        for other in others {
            assert_eq!(open(&key, &other, &sealed).unwrap_err(), SealError::Authentication, "{other:?}");
        }
    }

    #[test]
    fn identity_encoding_is_unambiguous() {
        // Plain concatenation would make these two identical.
        let a = id("ws_1a", "b", "c", "d");
        let b = id("ws_1", "ab", "c", "d");
        assert_ne!(a.associated_data(), b.associated_data());
        let key = DataKey::generate().unwrap();
        let sealed = seal(&key, &a, b"x").unwrap();
        assert!(open(&key, &b, &sealed).is_err());
    }

    #[test]
    fn wrong_key_fails() {
        let sealed = seal(&DataKey::generate().unwrap(), &HOME, b"s3cret").unwrap();
        assert_eq!(open(&DataKey::generate().unwrap(), &HOME, &sealed).unwrap_err(), SealError::Authentication);
    }

    #[test]
    fn every_single_bit_flip_fails() {
        let key = DataKey::generate().unwrap();
        let sealed = seal(&key, &HOME, b"short secret").unwrap();
        for i in 0..sealed.len() {
            for bit in 0..8 {
                let mut t = sealed.clone();
                t[i] ^= 1 << bit;
                assert!(open(&key, &HOME, &t).is_err(), "flip byte {i} bit {bit} accepted");
            }
        }
    }

    #[test]
    fn truncated_and_unknown_versions_are_typed_errors() {
        let key = DataKey::generate().unwrap();
        assert_eq!(open(&key, &HOME, &[]).unwrap_err(), SealError::Truncated);
        assert_eq!(open(&key, &HOME, &[1; 28]).unwrap_err(), SealError::Truncated);
        assert_eq!(open(&key, &HOME, &[2; 40]).unwrap_err(), SealError::UnsupportedVersion(2));
        let sealed = seal(&key, &HOME, b"abc").unwrap();
        assert_eq!(open(&key, &HOME, &sealed[..sealed.len() - 1]).unwrap_err(), SealError::Authentication);
    }

    #[test]
    fn empty_plaintext_round_trips() {
        let key = DataKey::generate().unwrap();
        let sealed = seal(&key, &HOME, b"").unwrap();
        assert!(open(&key, &HOME, &sealed).unwrap().expose().is_empty());
    }

    #[test]
    fn key_length_is_checked() {
        assert_eq!(DataKey::from_slice(&[0; 16]).unwrap_err(), SealError::KeyLength { actual: 16 });
        assert!(DataKey::from_slice(&[0; 32]).is_ok());
        assert_eq!(format!("{:?}", DataKey::from_slice(&[7; 32]).unwrap()), "DataKey([redacted])");
    }

    #[test]
    fn known_answer_with_fixed_nonce() {
        // Pins the wire format and AAD encoding: if either changes, stored data
        // would stop opening, so this must be a deliberate, versioned change.
        let key = DataKey::from_slice(&[0x42; 32]).unwrap();
        let sealed = seal_with_nonce(&key, &HOME, b"hello", [0x24; 12]).unwrap();
        let expected_aad: Vec<u8> = [
            &b"tern/seal/v1"[..],
            &[1],
            &[0, 0, 0, 4],
            b"ws_1",
            &[0, 0, 0, 7],
            b"mailbox",
            &[0, 0, 0, 4],
            b"mb_1",
            &[0, 0, 0, 13],
            b"smtp_password",
        ]
        .concat();
        assert_eq!(HOME.associated_data(), expected_aad);
        // Independently computed with the same key/nonce/AAD.
        let direct =
            Aes256Gcm::new(&[0x42u8; 32].into()).encrypt(&[0x24u8; 12].into(), Payload { msg: b"hello", aad: &expected_aad }).unwrap();
        assert_eq!(&sealed[13..], &direct[..]);
        assert_eq!(open(&key, &HOME, &sealed).unwrap().expose(), b"hello");
    }

    #[test]
    fn aes_256_gcm_nist_vector() {
        // NIST GCM test vector (gcmEncryptExtIV256, Count 0 with 128-bit PT):
        // McGrew & Viega "GCM" spec Test Case 14: K=0^256, IV=0^96, P=0^128.
        let cipher = Aes256Gcm::new(&[0u8; 32].into());
        let out = cipher.encrypt(&[0u8; 12].into(), Payload { msg: &[0u8; 16], aad: b"" }).unwrap();
        assert_eq!(data_encoding::HEXLOWER.encode(&out), "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
    }

    #[test]
    fn sealed_value_serde_is_base64() {
        let v = SealedValue { key_blob: vec![0, 1, 2, 255], ciphertext: b"hi".to_vec() };
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, r#"{"key_blob":"AAEC/w==","ciphertext":"aGk="}"#);
        assert_eq!(serde_json::from_str::<SealedValue>(&json).unwrap(), v);
        assert!(serde_json::from_str::<SealedValue>(r#"{"key_blob":"!!","ciphertext":""}"#).is_err());
    }

    proptest! {
        #[test]
        fn round_trips_any_plaintext(pt in proptest::collection::vec(any::<u8>(), 0..512), ws in "[a-z0-9_]{0,12}") {
            let key = DataKey::generate().unwrap();
            let ident = id(&ws, "contact", "c1", "notes");
            let sealed = seal(&key, &ident, &pt).unwrap();
            let opened = open(&key, &ident, &sealed).unwrap();
            prop_assert_eq!(opened.expose(), &pt);
        }

        #[test]
        fn open_never_panics_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let key = DataKey::from_slice(&[1; 32]).unwrap();
            prop_assert!(open(&key, &HOME, &bytes).is_err());
        }
    }
}
