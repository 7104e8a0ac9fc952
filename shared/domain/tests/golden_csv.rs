//! Golden files for the contact CSV import.
//!
//! Every `tests/golden/csv/<name>.csv` is imported with the default options and the
//! result (the column mapping and every row's outcome, or the file error) is compared
//! with `<name>.json` next to it. To add a case, drop in a `.csv` and run
//!
//! ```sh
//! UPDATE_GOLDEN=1 cargo test -p tern-domain --test golden_csv
//! ```
//!
//! which writes the missing or changed `.json` files; read them before committing,
//! because from then on they are what "correct" means.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use tern_domain::contact_csv::{ImportOptions, import};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/csv")
}

/// What importing `input` gives, as the JSON the expectations hold.
fn import_as_json(input: &[u8]) -> Value {
    let rows = match import(input, &ImportOptions::default()) {
        Ok(rows) => rows,
        Err(error) => return json!({ "file_error": error.to_string() }),
    };
    let columns = serde_json::to_value(rows.columns()).expect("columns serialise");
    let outcomes: Vec<Value> = rows
        .map(|outcome| match outcome {
            Ok(outcome) => serde_json::to_value(outcome).expect("outcomes serialise"),
            Err(error) => json!({ "stream_error": error.to_string() }),
        })
        .collect();
    json!({ "columns": columns, "rows": outcomes })
}

#[test]
fn every_csv_file_imports_as_its_json_says() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|value| value == "1");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("the golden folder exists")
        .map(|entry| entry.expect("readable folder").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "csv"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "the golden files are missing");

    let mut failures = Vec::new();
    for input in &inputs {
        let actual = import_as_json(&std::fs::read(input).expect("readable input"));
        let actual_text = serde_json::to_string_pretty(&actual).expect("JSON") + "\n";
        let expected_path = input.with_extension("json");
        let expected_text = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual_text == expected_text {
            continue;
        }
        if update {
            std::fs::write(&expected_path, &actual_text).expect("writable expectation");
        } else {
            failures.push(format!("{}:\n--- expected\n{expected_text}\n--- actual\n{actual_text}", input.display()));
        }
    }
    assert!(failures.is_empty(), "{} golden file(s) differ (UPDATE_GOLDEN=1 rewrites them):\n{}", failures.len(), failures.join("\n"));
}
