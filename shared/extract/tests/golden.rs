//! Golden files: every fixture page in `tests/fixtures/manifest.json` is
//! extracted and compared with `<name>.expected.json`; every site is merged
//! and scored and compared with `<site>.expected.json`.
//!
//! `UPDATE_GOLDEN=1 cargo test -p tern-extract --test golden` rewrites the
//! expectations. Review the diff by hand before accepting it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};
use tern_extract::{IdealCustomer, PageFacts, extract_page, merge, score};

#[derive(Deserialize)]
struct Manifest {
    pages: Vec<PageCase>,
    sites: Vec<SiteCase>,
}

#[derive(Deserialize)]
struct PageCase {
    name: String,
    file: Option<String>,
    url: String,
    content_type: Option<String>,
}

#[derive(Deserialize)]
struct SiteCase {
    name: String,
    pages: Vec<String>,
    icp: IdealCustomer,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn manifest() -> Manifest {
    let text = fs::read_to_string(dir().join("manifest.json")).expect("manifest.json");
    serde_json::from_str(&text).expect("manifest.json parses")
}

fn run(case: &PageCase) -> (Value, Option<PageFacts>) {
    let file = case.file.clone().unwrap_or_else(|| format!("{}.html", case.name));
    let body = fs::read(dir().join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    match extract_page(&case.url, case.content_type.as_deref(), &body) {
        Ok(f) => (json!({ "ok": f }), Some(f)),
        Err(e) => (json!({ "error": e.to_string() }), None),
    }
}

/// Compares with, or (UPDATE_GOLDEN=1) rewrites, one expectation file.
fn check(name: &str, actual: &Value, failures: &mut Vec<String>) {
    let path = dir().join(format!("{name}.expected.json"));
    let pretty = serde_json::to_string_pretty(actual).expect("serialise") + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(&path, pretty).expect("write golden");
        return;
    }
    let expected: Value = match fs::read_to_string(&path) {
        Ok(t) => serde_json::from_str(&t).expect("golden parses"),
        Err(_) => {
            failures.push(format!("{name}: no {} (run with UPDATE_GOLDEN=1)", path.display()));
            return;
        }
    };
    if &expected != actual {
        failures.push(format!("{name}: differs from {}; actual:\n{pretty}", path.display()));
    }
}

#[test]
fn golden_pages_and_sites() {
    let m = manifest();
    assert!(m.pages.len() >= 12, "at least 12 fixtures");
    let mut failures = Vec::new();
    let mut facts = std::collections::HashMap::new();
    for case in &m.pages {
        let (value, f) = run(case);
        check(&case.name, &value, &mut failures);
        if let Some(f) = f {
            facts.insert(case.name.clone(), f);
        }
    }
    for site in &m.sites {
        let pages: Vec<PageFacts> = site.pages.iter().map(|p| facts[p].clone()).collect();
        let profile = merge(&pages);
        let lead = score(&profile, &site.icp);
        check(&site.name, &json!({ "profile": profile, "score": lead }), &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every fixture, cut at every 997th byte, still gives Ok or a clear Err.
#[test]
fn truncated_fixtures_never_panic() {
    for case in manifest().pages {
        let file = case.file.clone().unwrap_or_else(|| format!("{}.html", case.name));
        let body = fs::read(dir().join(&file)).expect("fixture");
        let step = (body.len() / 40).max(997);
        for cut in (0..body.len()).step_by(step) {
            let _ = extract_page(&case.url, case.content_type.as_deref(), &body[..cut]);
        }
    }
}
