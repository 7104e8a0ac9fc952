//! Hostile input never panics: every input yields `Ok` or a clear `Err`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use proptest::prelude::*;
use tern_mail::{MAX_MESSAGE_BYTES, ParseError, classify, parse};

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replies").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses and, when that succeeds, classifies; a panic fails the test.
fn exercise(raw: &[u8]) -> Result<(), ParseError> {
    let mail = parse(raw)?;
    let c = classify(&mail);
    assert!(mail.snippet.chars().count() <= tern_mail::SNIPPET_CHARS);
    // The verdict must serialise: the worker stores it as JSON.
    serde_json::to_string(&c).expect("classification serialises");
    Ok(())
}

#[test]
fn every_truncation_of_real_messages() {
    let mut inputs = vec![fixture("read-receipt-thunderbird.eml"), fixture("ooo-notes-de.eml"), fixture("human-html-only.eml")];
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/inbound/sisimai/eml");
    for name in ["rfc3464-01.eml", "lhost-amazonses-10.eml", "arf-01.eml", "lhost-kddi-02.eml"] {
        if let Ok(raw) = std::fs::read(corpus.join(name)) {
            inputs.push(raw);
        }
    }
    for raw in inputs {
        let step = (raw.len() / 200).max(1);
        for end in (0..=raw.len()).step_by(step) {
            let _ = exercise(&raw[..end]);
        }
    }
}

#[test]
fn damaged_multipart_found_by_fuzzing_is_an_error_not_a_panic() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crashes/mail-parser-invalid-part-id.eml");
    let raw = std::fs::read(&path).expect("crash fixture");
    // mail-parser panics inside on this input; parse must contain that.
    assert_eq!(parse(&raw).unwrap_err(), ParseError::Malformed);
}

#[test]
fn oversize_input_is_refused_clearly() {
    let mut raw = b"From: a@b.example\r\nSubject: big\r\n\r\n".to_vec();
    raw.resize(MAX_MESSAGE_BYTES + 1, b'x');
    match parse(&raw) {
        Err(ParseError::TooLarge { size, limit }) => {
            assert_eq!(size, MAX_MESSAGE_BYTES + 1);
            assert_eq!(limit, MAX_MESSAGE_BYTES);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(parse(b"").unwrap_err(), ParseError::Empty);
}

#[test]
fn deep_nesting_and_bad_structure() {
    let mut raw = String::from("From: a@b.example\r\nSubject: nest\r\n");
    for i in 0..300 {
        raw.push_str(&format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"));
    }
    raw.push_str("\r\nhello\r\n");
    let _ = exercise(raw.as_bytes());
    let _ = exercise(b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\nStatus: 5.\r\n--x--");
    let _ = exercise(b"Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\n");
}

const CHARSETS: &[&str] =
    &["utf-8", "utf-16", "utf-16le", "iso-2022-jp", "shift_jis", "gb2312", "koi8-r", "windows-1252", "x-unknown-charset", ""];
const ENCODINGS: &[&str] = &["7bit", "8bit", "base64", "quoted-printable", "x-uuencode"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = exercise(&raw);
    }

    #[test]
    fn random_bodies_under_any_declared_charset(
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        charset in 0..CHARSETS.len(),
        encoding in 0..ENCODINGS.len(),
        html in any::<bool>(),
    ) {
        let mut raw = format!(
            "From: Someone <someone@example.org>\r\nSubject: =?{cs}?B?w6k=?=\r\nAuto-Submitted: auto-replied\r\n\
Content-Type: text/{kind}; charset=\"{cs}\"\r\nContent-Transfer-Encoding: {enc}\r\n\r\n",
            cs = CHARSETS[charset],
            kind = if html { "html" } else { "plain" },
            enc = ENCODINGS[encoding],
        )
        .into_bytes();
        raw.extend_from_slice(&body);
        let _ = exercise(&raw);
    }

    #[test]
    fn random_text_in_dsn_and_reply_shapes(text in "\\PC{0,600}", action in "(failed|delayed|delivered|x)") {
        let dsn = format!(
            "From: MAILER-DAEMON@example.net\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=zz\r\n\r\n\
--zz\r\nContent-Type: text/plain\r\n\r\n{text}\r\n--zz\r\nContent-Type: message/delivery-status\r\n\r\n\
Final-Recipient: rfc822; {text}\r\nAction: {action}\r\nStatus: {text}\r\nDiagnostic-Code: smtp; {text}\r\n--zz--\r\n"
        );
        let _ = exercise(dsn.as_bytes());
        let reply = format!("From: a@b.example\r\nSubject: Re: {text}\r\nAuto-Submitted: auto-replied\r\n\r\n{text}\r\nOn Mon, x wrote:\r\n> {text}\r\n");
        let _ = exercise(reply.as_bytes());
    }
}
