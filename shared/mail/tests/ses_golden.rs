//! Golden tests of the SES notification parser over sisimai's SES samples (in
//! `../shared/corpus/formats/ses`, beside the repository) and our own fixtures of
//! configuration-set events. `UPDATE_GOLDEN=1 cargo test -p tern-mail --test ses_golden`
//! rewrites `tests/golden/ses/`; review the diff before committing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use std::path::PathBuf;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn inputs() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in
        [manifest_dir().join("../../../shared/corpus/formats/ses/sisimai_obsoleted_ses_json"), manifest_dir().join("tests/fixtures/ses")]
    {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        files.extend(entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "json")));
    }
    files.sort();
    files
}

#[test]
fn every_sample_parses_to_its_golden_expectation() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let inputs = inputs();
    assert!(inputs.len() >= 12, "the corpus and the fixtures are there: {inputs:?}");
    for input in inputs {
        let feedback =
            tern_mail::ses::parse_notification(&std::fs::read(&input).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
        let actual = serde_json::to_string_pretty(&feedback).unwrap() + "\n";
        let golden = manifest_dir().join("tests/golden/ses").join(input.file_name().unwrap());
        if update {
            std::fs::write(&golden, &actual).unwrap();
            continue;
        }
        let expected =
            std::fs::read_to_string(&golden).unwrap_or_else(|_| panic!("no golden file {} (run with UPDATE_GOLDEN=1)", golden.display()));
        assert_eq!(actual, expected, "{}", input.display());
    }
}
