//! Any robots.txt body and any path: parsing and matching never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_web::robots::RobotsRules;

fuzz_target!(|data: (&str, &str)| {
    let (body, path) = data;
    let rules = RobotsRules::parse(body, "TernBot");
    let _ = rules.is_allowed(path);
});
