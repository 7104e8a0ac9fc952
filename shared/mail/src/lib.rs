//! Reply and bounce classification (pure, no I/O).
//!
//! ```
//! let raw = b"From: Ann <ann@example.com>\r\nSubject: Re: Intro\r\n\r\nYes, Tuesday works.\r\n";
//! let mail = tern_mail::parse(raw).expect("parses");
//! let verdict = tern_mail::classify(&mail);
//! assert_eq!(verdict.kind, tern_mail::Kind::Human);
//! ```
//!
//! [`parse`] turns raw MIME into an owned [`ParsedMail`] (never panics, refuses
//! inputs over [`MAX_MESSAGE_BYTES`]); [`classify`] turns that into a
//! [`Classification`]. [`parse_and_classify`] does both.

mod autoreply;
mod bounce;
mod classify;
pub mod compose;
mod dates;
mod dsn;
pub mod eval;
mod intent;
mod parse;
mod reason;
mod reply;
pub mod ses;
mod text;
pub mod webhook;

pub use classify::{Classification, Kind, classify};
pub use dsn::{DeliveryStatus, FeedbackReport, RecipientStatus};
pub use parse::{MAX_MESSAGE_BYTES, Mailbox, OriginalMessage, ParseError, ParsedMail, SNIPPET_CHARS, parse};

/// Parses and classifies raw MIME in one call.
pub fn parse_and_classify(raw: &[u8]) -> Result<(ParsedMail, Classification), ParseError> {
    let mail = parse(raw)?;
    let verdict = classify(&mail);
    Ok((mail, verdict))
}
