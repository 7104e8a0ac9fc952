#![no_main]
//! Outside input reaches `parse` and `classify` from the inbound webhook:
//! any bytes must give `Ok` or `Err`, never a panic, and the verdict must
//! serialise.

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        // libfuzzer-sys aborts from its panic hook, before `parse` can catch
        // the panics mail-parser raises on damaged multipart trees. With the
        // default hook, only panics that escape `parse` reach the harness,
        // which still reports them as crashes.
        let _ = std::panic::take_hook();
    },
    |data: &[u8]| {
        if let Ok((mail, verdict)) = tern_mail::parse_and_classify(data) {
            assert!(mail.snippet.chars().count() <= tern_mail::SNIPPET_CHARS);
            let _ = serde_json::to_string(&verdict);
        }
    }
);
