#![no_main]
//! Uploaded CSV files are outside input: any bytes must give a file error or a
//! stream of row outcomes, never a panic, and whatever was imported must serialise
//! and export.

use libfuzzer_sys::fuzz_target;
use tern_domain::contact_csv::{ColumnTarget, ExportRow, ImportOptions, RowOutcome, export, import};

fuzz_target!(|data: &[u8]| {
    let Ok(rows) = import(data, &ImportOptions::default()) else {
        return;
    };
    let custom_columns: Vec<String> = rows
        .columns()
        .iter()
        .filter_map(|column| match &column.target {
            ColumnTarget::Custom(name) => Some(name.clone()),
            _ => None,
        })
        .collect();
    let mut contacts = Vec::new();
    for outcome in rows {
        match outcome {
            Ok(RowOutcome::Contact(contact)) => {
                let _ = serde_json::to_string(&contact).expect("a contact serialises");
                contacts.push(ExportRow::from(contact));
            }
            Ok(invalid) => {
                let _ = serde_json::to_string(&invalid).expect("a row error serialises");
            }
            Err(error) => {
                let _ = error.to_string();
            }
        }
    }
    export(Vec::new(), &custom_columns, contacts).expect("writing to memory cannot fail");
});
