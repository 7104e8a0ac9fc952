//! Any bytes give `Ok` or a clear `Err`, never a panic; every `Ok` serialises.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use std::fs;
use std::path::Path;

use proptest::prelude::*;
use tern_extract::{ExtractError, IdealCustomer, extract_page, merge, score};

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("text/html"),
    Some("text/html; charset=utf-8"),
    Some("text/html; charset=iso-8859-1"),
    Some("text/html; charset=shift_jis"),
    Some("text/html; charset=utf-16le"),
    Some("text/html; charset=bogus"),
    Some("application/xhtml+xml"),
    Some("application/json"),
];

fn fixtures() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    for e in fs::read_dir(dir).expect("fixtures dir").flatten() {
        if e.path().extension().is_some_and(|x| x == "html") {
            out.push(fs::read(e.path()).expect("fixture"));
        }
    }
    out.sort();
    out
}

fn check(ct: Option<&str>, body: &[u8]) {
    match extract_page("https://www.example-company.de/kontakt", ct, body) {
        Ok(f) => {
            serde_json::to_string(&f).expect("serialises");
            let p = merge(std::slice::from_ref(&f));
            let s = score(&p, &IdealCustomer { countries: vec!["DE".into()], keywords: vec!["x".into()], ..Default::default() });
            assert!(s.score <= 100);
        }
        Err(ExtractError::NotHtml { content_type }) => assert!(!content_type.is_empty()),
        Err(e) => panic!("unexpected error {e}"),
    }
}

/// Pieces of markup that exercise every extractor when shuffled together.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<div class=\"team-card\">".to_owned()),
        Just("</div>".to_owned()),
        Just("<h3>Anna Schmidt</h3><p class=role>CEO</p>".to_owned()),
        Just("<a href=\"mailto:info@firma.de?subject=x\">".to_owned()),
        Just("<a href='tel:+49 (0)30 123'>".to_owned()),
        Just("<a href=\"https://www.linkedin.com/company/x\">".to_owned()),
        Just(
            "<script type=\"application/ld+json\">{\"@type\":\"Organization\",\"name\":\"A\",\"address\":\"Hauptstr. 1, 10115 Berlin\""
                .to_owned()
        ),
        Just("</script>".to_owned()),
        Just("<meta charset=latin1>".to_owned()),
        Just("<meta property=og:site_name content=X>".to_owned()),
        Just("<title>Home | X</title>".to_owned()),
        Just("Geschäftsführer: ".to_owned()),
        Just("Musterstraße 1\n10115 Berlin\n".to_owned()),
        Just("12 rue de la Paix, 75002 Paris".to_owned()),
        Just("info [at] firma [dot] de".to_owned()),
        Just("Tel.: 030 1234567".to_owned()),
        Just("<span data-cfemail=\"2a43\">".to_owned()),
        Just("<div itemscope itemtype=\"https://schema.org/Organization\"><span itemprop=name>".to_owned()),
        Just("<!--".to_owned()),
        Just("<".to_owned()),
        Just("\u{00a0}\u{feff}\u{fffd}".to_owned()),
        "[a-zA-Z0-9 @.:<>/=\"'\\n-]{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(ct in prop::sample::select(CONTENT_TYPES), body in prop::collection::vec(any::<u8>(), 0..4096)) {
        check(ct, &body);
    }

    #[test]
    fn shuffled_markup(ct in prop::sample::select(CONTENT_TYPES), parts in prop::collection::vec(token(), 0..60)) {
        check(ct, parts.concat().as_bytes());
    }

    #[test]
    fn mutated_fixtures(
        which in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..16),
        ct in prop::sample::select(CONTENT_TYPES),
    ) {
        let all = fixtures();
        let mut body = which.get(&all).clone();
        let len = cut.index(body.len() + 1);
        body.truncate(len);
        if !body.is_empty() {
            for (at, b) in flips {
                let i = at.index(body.len());
                body[i] = b; // invalid UTF-8 and broken tags alike
            }
        }
        check(ct, &body);
    }
}
