#![no_main]
//! Outside input reaches `extract_page` from any company website: any bytes
//! must give `Ok` or `Err`, never a panic, and the result must serialise.
//! The first byte picks a content type so charset handling is fuzzed too.

use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("text/html"),
    Some("text/html; charset=utf-8"),
    Some("text/html; charset=windows-1252"),
    Some("text/html; charset=utf-16be"),
    Some("text/html; charset=gb18030"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let ct = CONTENT_TYPES[pick as usize % CONTENT_TYPES.len()];
    if let Ok(facts) = tern_extract::extract_page("https://www.fuzz-firma.de/impressum", ct, body) {
        let profile = tern_extract::merge(std::slice::from_ref(&facts));
        let icp = tern_extract::IdealCustomer { countries: vec!["DE".into()], ..Default::default() };
        let lead = tern_extract::score(&profile, &icp);
        assert!(lead.score <= 100);
        let _ = serde_json::to_string(&facts);
    }
});
