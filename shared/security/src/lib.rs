//! Tern's security primitives.
//!
//! Everything here is pure: no I/O, no AWS, no clock reads. Time is always passed
//! in by the caller (unix seconds, or unix milliseconds where stated), randomness
//! comes from the operating system RNG and its (practically impossible) failure is
//! reported as [`RngError`] instead of a panic.
//!
//! The AWS adapter crate wires these into DynamoDB and KMS; the API function wires
//! them into request handling. See `README.md` next to this crate for a map.

pub mod access_token;
pub mod allowlist;
pub mod api_key;
pub mod audit;
pub mod blind_index;
pub mod csrf;
mod digest;
pub mod password;
pub mod recovery;
mod rng;
pub mod roles;
pub mod seal;
pub mod secret;
pub mod throttle;
pub mod token;
pub mod totp;

pub use rng::RngError;
pub use secret::{Secret, SecretBytes, SecretString};
