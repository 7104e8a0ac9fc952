//! Golden tests over the sisimai corpus (beside the repository, in
//! `../shared/corpus`) and over our own reply fixtures.
//!
//! Each input has a committed expectation under `tests/golden/` holding
//! kind, status, reason and return date. `UPDATE_GOLDEN=1 cargo test -p
//! tern-mail --test golden` rewrites them; review the diff before committing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tern_mail::eval::{Confusion, Label, parse_labels};
use tern_mail::{Classification, Kind};

/// sisimai agreement on hard versus soft: the target, 0.95 (the classifier
/// reaches 0.963 on the corpus as of this floor).
const MIN_HARD_SOFT_AGREEMENT: f64 = 0.95;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `<repo>/../shared/corpus/inbound`: the shared folder beside the repo.
fn corpus_dir() -> PathBuf {
    manifest_dir().join("../../../shared/corpus/inbound")
}

fn fixtures_dir() -> PathBuf {
    manifest_dir().join("tests/fixtures/replies")
}

/// Hand-written bounces in shapes the corpus does not cover (several
/// recipients, sender-side rejections, vendor wording).
fn bounce_fixtures_dir() -> PathBuf {
    manifest_dir().join("tests/fixtures/bounces")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Golden {
    kind: Kind,
    status: Option<String>,
    reason: Option<String>,
    return_date: Option<String>,
}

impl From<&Classification> for Golden {
    fn from(c: &Classification) -> Self {
        Golden { kind: c.kind, status: c.status.clone(), reason: c.reason.clone(), return_date: c.return_date.map(|d| d.to_string()) }
    }
}

fn load_labels(dir: &Path) -> Vec<Label> {
    let csv_path = dir.join("labels.csv");
    let csv = std::fs::read_to_string(&csv_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e} (the corpus lives in ../shared beside the repository)", csv_path.display()));
    parse_labels(&csv).expect("label file parses")
}

fn classify_file(path: &Path) -> Classification {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (_, c) = tern_mail::parse_and_classify(&raw).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
    c
}

/// Compares every labelled input with its golden file (or rewrites them).
fn check_golden(set: &str, dir: &Path, labels: &[Label]) {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let golden_dir = manifest_dir().join("tests/golden").join(set);
    std::fs::create_dir_all(&golden_dir).expect("golden dir");
    let mut diffs = Vec::new();
    for label in labels {
        let actual = Golden::from(&classify_file(&dir.join(&label.path)));
        let name = Path::new(&label.path).file_stem().and_then(|s| s.to_str()).expect("file name");
        let golden_path = golden_dir.join(format!("{name}.json"));
        if update {
            let mut json = serde_json::to_string_pretty(&actual).expect("serialise");
            json.push('\n');
            std::fs::write(&golden_path, json).expect("write golden");
            continue;
        }
        let expected: Golden = match std::fs::read_to_string(&golden_path) {
            Ok(s) => serde_json::from_str(&s).expect("golden parses"),
            Err(_) => {
                diffs.push(format!("{}: no golden file (run with UPDATE_GOLDEN=1)", label.path));
                continue;
            }
        };
        if expected != actual {
            diffs.push(format!("{}: expected {expected:?}, got {actual:?}", label.path));
        }
    }
    assert!(diffs.is_empty(), "{} golden mismatches:\n{}", diffs.len(), diffs.join("\n"));
}

#[test]
fn corpus_bounces_complaints_and_reports() {
    let dir = corpus_dir();
    let labels = load_labels(&dir);
    assert!(labels.len() > 400, "corpus looks incomplete: {} files", labels.len());
    let mut matrix = Confusion::default();
    let mut wrong_family = Vec::new();
    for label in &labels {
        let c = classify_file(&dir.join(&label.path));
        matrix.add(label.kind, c.kind);
        let ok = if label.kind.is_bounce() { c.kind.is_bounce() } else { c.kind == label.kind };
        if !ok {
            wrong_family.push(format!("{}: {} classified as {}", label.path, label.kind, c.kind));
        }
    }
    println!("{}", matrix.render());
    assert!(wrong_family.is_empty(), "bounces not seen as bounces, or complaints/delivery reports wrong:\n{}", wrong_family.join("\n"));
    let (total, _, agreed) = matrix.bounce_scores();
    let agreement = agreed as f64 / total as f64;
    assert!(agreement >= MIN_HARD_SOFT_AGREEMENT, "hard/soft agreement {agreement:.3} below {MIN_HARD_SOFT_AGREEMENT}");
}

#[test]
fn corpus_matches_golden_files() {
    let dir = corpus_dir();
    check_golden("sisimai", &dir, &load_labels(&dir));
}

#[test]
fn reply_fixtures_are_classified_exactly() {
    let dir = fixtures_dir();
    let labels = load_labels(&dir);
    assert!(labels.len() >= 40, "expected 40+ reply fixtures");
    assert_exact(&dir, &labels);
}

#[test]
fn bounce_fixtures_are_classified_exactly() {
    let dir = bounce_fixtures_dir();
    let labels = load_labels(&dir);
    assert!(labels.len() >= 8, "expected 8+ bounce fixtures");
    assert_exact(&dir, &labels);
}

#[test]
fn bounce_fixtures_match_golden_files() {
    let dir = bounce_fixtures_dir();
    check_golden("bounces", &dir, &load_labels(&dir));
}

fn assert_exact(dir: &Path, labels: &[Label]) {
    let mut wrong = Vec::new();
    for label in labels {
        let c = classify_file(&dir.join(&label.path));
        if c.kind != label.kind {
            wrong.push(format!("{}: expected {}, got {} ({:?})", label.path, label.kind, c.kind, c.evidence));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn reply_fixtures_match_golden_files() {
    let dir = fixtures_dir();
    check_golden("replies", &dir, &load_labels(&dir));
}
