//! Any text as an e-mail address: the parser never panics, and what it
//! accepts is ASCII within the length limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_web::verify::parse_address;

fuzz_target!(|data: &str| {
    if let Ok(a) = parse_address(data) {
        let n = a.normalised();
        assert!(n.is_ascii());
        assert!(n.len() <= 254);
        assert!(a.local.len() <= 64);
    }
});
