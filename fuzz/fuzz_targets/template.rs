#![no_main]
//! Templates are written by workspace users and values come from imported contacts:
//! any source must parse or give a positioned error, any values must render or name
//! what is missing, never a panic, and the header escape must keep its promise.

use libfuzzer_sys::fuzz_target;
use tern_domain::template::{Escape, MAX_SUBJECT_CHARS, MessageTemplate, Values, parse};

fuzz_target!(|input: (String, Vec<(String, String)>)| {
    let (source, pairs) = input;
    let values: Values = pairs.into_iter().collect();
    match parse(&source) {
        Ok(template) => {
            let _ = template.variables();
            let _ = template.render(&values, Escape::None);
            let _ = template.render(&values, Escape::Html);
            if let Ok(line) = template.render(&values, Escape::HeaderLine) {
                assert!(!line.contains(['\r', '\n']), "a header line with a line break");
            }
        }
        Err(error) => assert!(error.line >= 1 && error.column >= 1),
    }
    if let Ok(message) = MessageTemplate::parse(&source, &source, Some(&source))
        && let Ok(rendered) = message.render(&values)
    {
        assert!(rendered.subject.chars().count() <= MAX_SUBJECT_CHARS);
    }
});
