#![no_main]
//! SES notifications reach the feedback worker from SNS: any bytes must give
//! `Ok` or `Err`, never a panic, and a parsed notification must serialise.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(feedback) = tern_mail::ses::parse_notification(data) {
        let _ = feedback.kind.classifier_kind();
        let _ = serde_json::to_string(&feedback);
    }
});
