//! Golden tests of the inbound-mail webhook decoders over CloudMailin's real
//! captures and the SES receiving examples (in `../shared/corpus/formats`, beside
//! the repository) and our own fixtures (`tests/fixtures/webhooks`): each input's
//! decoded transport facts and the classifier's reading of the rebuilt message,
//! or its error, against `tests/golden/webhooks/<name>.json`.
//! `UPDATE_GOLDEN=1 cargo test -p tern-mail --test webhook_golden` rewrites them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use std::path::{Path, PathBuf};
use tern_mail::webhook::{self, Received, SesContent, WebhookError};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus() -> PathBuf {
    manifest_dir().join("../../../shared/corpus/formats")
}

/// An HTTP request as the captures hold it: request head, blank line, body.
fn split_http(capture: &[u8]) -> (String, Vec<u8>) {
    let text_end = capture.windows(2).position(|w| w == b"\n\n").map(|i| (i, i + 2));
    let crlf_end = capture.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, i + 4));
    let (head_end, body_start) = [text_end, crlf_end].into_iter().flatten().min().expect("a request head");
    let head = String::from_utf8_lossy(&capture[..head_end]);
    let content_type = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.trim().to_string()))
        .expect("a Content-Type");
    (content_type, capture[body_start..].to_vec())
}

/// Decodes a capture by its name: `json__…`, `multipart__…`, `raw__…`.
fn decode_capture(name: &str, capture: &[u8]) -> Result<Received, WebhookError> {
    let (content_type, body) = split_http(capture);
    match name.split("__").next().unwrap() {
        "json" => webhook::cloudmailin_json(&body),
        "multipart" => webhook::cloudmailin_multipart(&webhook::form_fields(&body, &content_type)?),
        "raw" => webhook::cloudmailin_raw(&webhook::form_fields(&body, &content_type)?),
        other => panic!("unknown capture format {other}"),
    }
}

fn summary(received: Result<Received, WebhookError>) -> serde_json::Value {
    match received {
        Err(e) => serde_json::json!({ "error": e.to_string() }),
        Ok(received) => serde_json::json!({
            "transport": received.transport,
            "message": reading(&received.message),
            // Whether the provider vouches for the From address (what may link a reply by its sender).
            "sender_proof": sender_proof(&received.transport, &received.message),
        }),
    }
}

fn sender_proof(transport: &tern_domain::inbound::Transport, message: &[u8]) -> serde_json::Value {
    let from = tern_mail::parse_and_classify(message).ok().and_then(|(mail, _)| mail.from.and_then(|m| m.address));
    serde_json::json!(from.and_then(|from| transport.sender_proof(&from)))
}

fn reading(message: &[u8]) -> serde_json::Value {
    match tern_mail::parse_and_classify(message) {
        Err(e) => serde_json::json!({ "error": e.to_string() }),
        Ok((mail, verdict)) => serde_json::json!({
            "from": mail.from.and_then(|m| m.address),
            "subject": mail.subject,
            "message_id": mail.message_id,
            "kind": verdict.kind.as_str(),
            "status": verdict.status,
            "snippet": mail.snippet.chars().take(80).collect::<String>(),
        }),
    }
}

/// The JSON examples inside the SES receiving documentation, as published
/// (one has an invalid escape, `"\email"`: it must be a clear error).
fn ses_examples() -> Vec<(String, Vec<u8>)> {
    let doc = std::fs::read_to_string(corpus().join("ses/receiving-email-notifications-examples.md")).unwrap();
    doc.split("```")
        .skip(1)
        .step_by(2)
        .enumerate()
        .map(|(i, block)| (format!("ses-doc-example-{i}"), block.trim().as_bytes().to_vec()))
        .collect()
}

fn decode_ses(body: &[u8]) -> serde_json::Value {
    match webhook::ses_receipt(body) {
        Err(e) => serde_json::json!({ "error": e.to_string() }),
        Ok(receipt) => {
            let content = match receipt.content {
                SesContent::Inline(message) => {
                    serde_json::json!({ "inline": reading(&message), "sender_proof": sender_proof(&receipt.transport, &message) })
                }
                SesContent::Stored { bucket, key } => serde_json::json!({ "bucket": bucket, "key": key }),
            };
            serde_json::json!({ "transport": receipt.transport, "ses_message_id": receipt.ses_message_id, "content": content })
        }
    }
}

fn check(name: &str, actual: serde_json::Value) {
    let actual = serde_json::to_string_pretty(&actual).unwrap() + "\n";
    let golden = manifest_dir().join("tests/golden/webhooks").join(format!("{name}.json"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &actual).unwrap();
        return;
    }
    let expected =
        std::fs::read_to_string(&golden).unwrap_or_else(|_| panic!("no golden file {} (run with UPDATE_GOLDEN=1)", golden.display()));
    assert_eq!(actual, expected, "{name}");
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display())).map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn every_cloudmailin_capture_decodes_to_its_golden_expectation() {
    let captures = files(&corpus().join("cloudmailin-captures"));
    assert_eq!(captures.len(), 9, "the corpus is beside the repository");
    for capture in captures {
        let name = capture.file_stem().unwrap().to_string_lossy().to_string();
        let received = decode_capture(&name, &std::fs::read(&capture).unwrap());
        let decoded = received.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded.transport.envelope_to, "5dae6f85cd65d30d384a@cloudmailin.net", "{name}");
        check(&name, summary(received));
    }
}

#[test]
fn every_ses_receiving_example_and_fixture_decodes_to_its_golden_expectation() {
    let mut inputs = ses_examples();
    assert_eq!(inputs.len(), 2);
    for path in files(&manifest_dir().join("tests/fixtures/webhooks")) {
        if path.extension().is_some_and(|e| e == "json") {
            inputs.push((path.file_stem().unwrap().to_string_lossy().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    for (name, body) in inputs {
        check(&name, decode_ses(&body));
    }
}

#[test]
fn every_own_capture_decodes_to_its_golden_expectation() {
    for path in files(&manifest_dir().join("tests/fixtures/webhooks")) {
        if path.extension().is_some_and(|e| e == "txt") {
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            check(&name, summary(decode_capture(&name, &std::fs::read(&path).unwrap())));
        }
    }
}

/// The same message in all three CloudMailin formats reads the same.
#[test]
fn the_three_formats_agree_on_the_same_message() {
    let read = |name: &str| {
        let received = decode_capture(name, &std::fs::read(corpus().join(format!("cloudmailin-captures/{name}.txt"))).unwrap()).unwrap();
        let (mail, verdict) = tern_mail::parse_and_classify(&received.message).unwrap();
        (mail.subject, mail.from.and_then(|m| m.address), verdict.kind, received.transport.spf)
    };
    let raw = read("raw__valid");
    assert_eq!(raw, read("json__valid"));
    assert_eq!(raw, read("multipart__valid"));
    assert_eq!(read("json__spam").3.as_deref(), Some("fail"));
}

/// Truncated, bit-flipped and wrong-charset posts give `Ok` or a clear error,
/// never a panic (the fuzz target `webhook_decoders` explores further).
#[test]
fn damaged_posts_are_errors_not_panics() {
    let mut posts: Vec<(String, Vec<u8>)> = files(&corpus().join("cloudmailin-captures"))
        .into_iter()
        .chain(files(&manifest_dir().join("tests/fixtures/webhooks")).into_iter().filter(|p| p.extension().is_some_and(|e| e == "txt")))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    // Latin-1 bytes where UTF-8 is expected.
    let (_, body) = split_http(&posts[0].1);
    let head = posts[0].1[..posts[0].1.len() - body.len()].to_vec();
    let latin1: Vec<u8> = head.into_iter().chain(body.iter().map(|&b| if b == b'e' { 0xE9 } else { b })).collect();
    posts.push((posts[0].0.clone(), latin1));
    for (name, capture) in &posts {
        let (content_type, body) = split_http(capture);
        for cut in (0..body.len()).step_by(7) {
            let head_and_cut = [&capture[..capture.len() - body.len()], &body[..cut]].concat();
            let _ = decode_capture(name, &head_and_cut);
            let mut flipped = body.clone();
            flipped[cut] ^= 0x5a;
            let _ =
                webhook::form_fields(&flipped, &content_type).map(|f| (webhook::cloudmailin_multipart(&f), webhook::cloudmailin_raw(&f)));
            let _ = webhook::cloudmailin_json(&flipped);
            let _ = webhook::ses_receipt(&flipped);
        }
    }
    let oversize = vec![b'a'; webhook::MAX_WEBHOOK_BYTES + 1];
    assert!(matches!(webhook::cloudmailin_json(&oversize), Err(WebhookError::TooLarge { .. })));
    assert!(matches!(webhook::form_fields(&oversize, "multipart/form-data; boundary=b"), Err(WebhookError::TooLarge { .. })));
    assert!(matches!(webhook::ses_receipt(&oversize), Err(WebhookError::TooLarge { .. })));
}
