//! CSV for people who open it in a spreadsheet: the one writer every CSV file Tern
//! hands out goes through (the contacts export, the privacy exports' tables).
//!
//! A cell that starts with `=`, `+`, `-`, `@`, tab or CR is run as a formula by
//! Excel, Sheets or LibreOffice (CSV injection: `=HYPERLINK(...)` in a reply's
//! subject becomes a link that leaks data, `@SUM(...)` a formula), so every cell
//! that does gets a leading `'`, which spreadsheets read as "this is text". A cell
//! that starts with `'` gets one too, so [`undo_formula_guard`] can remove exactly
//! one and give back the value. Quoting is RFC 4180 and lines end in CRLF.

use std::borrow::Cow;
use std::io::{self, Write};

/// Characters that make a spreadsheet treat a cell as a formula.
pub fn starts_a_formula(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// The guard put on a cell: a `'` before a formula character or a `'`.
pub fn guard_formula(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some(first) if starts_a_formula(first) || first == '\'' => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Removes the guard [`guard_formula`] adds, and only that: a `'` followed by a
/// formula character or another `'`.
pub fn undo_formula_guard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(|c: char| starts_a_formula(c) || c == '\'') => rest,
        _ => cell,
    }
}

/// A CSV writer that guards every cell it writes, header included. There is no
/// way to write an unguarded cell through it, so a new column cannot forget to.
pub struct SpreadsheetWriter<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> SpreadsheetWriter<W> {
    pub fn new(out: W) -> Self {
        Self { inner: csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out) }
    }

    /// Writes one record, each cell guarded.
    pub fn write_record<I, T>(&mut self, cells: I) -> csv::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.inner.write_record(cells.into_iter().map(|cell| guard_formula(cell.as_ref()).into_owned()))
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl SpreadsheetWriter<std::fs::File> {
    /// A writer to a new file at `path` (the exports build their tables on disk).
    pub fn create(path: impl AsRef<std::path::Path>) -> io::Result<Self> {
        Ok(Self::new(std::fs::File::create(path)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_that_would_run_as_a_formula_is_defused() {
        let mut out = Vec::new();
        let mut writer = SpreadsheetWriter::new(&mut out);
        writer.write_record(["=subject", "from"]).unwrap();
        writer.write_record(["=HYPERLINK(\"http://evil\",\"x\")", "@SUM(1+1) <a@x.example>"]).unwrap();
        writer.write_record(["+1", "-1"]).unwrap();
        writer.write_record(["\tx", "\rx"]).unwrap();
        writer.write_record(["'quoted", "plain"]).unwrap();
        writer.write_record(["", "a=b"]).unwrap();
        writer.flush().unwrap();
        drop(writer);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "'=subject,from\r\n\
             \"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",'@SUM(1+1) <a@x.example>\r\n\
             '+1,'-1\r\n\
             '\tx,\"'\rx\"\r\n\
             ''quoted,plain\r\n\
             ,a=b\r\n"
        );
    }

    #[test]
    fn the_formula_guard_comes_off_exactly() {
        for cell in ["=1", "'=1", "''", "'", "x", "'Tis", "-", "@x", "\tx", "\rx", "+"] {
            assert_eq!(undo_formula_guard(&guard_formula(cell)), cell);
        }
        assert_eq!(undo_formula_guard("'Tis"), "'Tis");
    }
}
