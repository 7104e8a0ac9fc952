//! Any text as a URL or mail host: the guard never panics, and never lets a
//! forbidden IP literal through.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_web::guard::{CheckedHost, Policy, check_mail_host, check_url, is_forbidden};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(url) = url::Url::parse(text)
        && let Ok(CheckedHost::Ip(ip)) = check_url(&url, &Policy::website())
    {
        assert!(!is_forbidden(ip));
    }
    if let Ok(CheckedHost::Ip(ip)) = check_mail_host(text, 587) {
        assert!(!is_forbidden(ip));
    }
});
