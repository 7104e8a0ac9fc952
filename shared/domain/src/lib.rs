//! Tern's domain: the types and rules of the product, with no I/O.
//!
//! Nothing here talks to AWS, the network or the file system, and nothing here
//! reads the wall clock directly: time arrives through [`clock::Clock`]. That is
//! what lets every rule be tested in microseconds and every adapter be swapped.

pub mod address;
pub mod cadence;
pub mod clock;
pub mod contact_csv;
pub mod cost;
pub mod deliverability;
pub mod enrollment;
pub mod ids;
pub mod inbound;
pub mod intent;
pub mod jobs;
pub mod message_id;
pub mod plan;
pub mod reply;
pub mod retention;
pub mod spreadsheet;
pub mod template;
