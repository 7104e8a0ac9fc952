//! Contacts in and out of CSV files, as spreadsheets write and read them.
//!
//! # Import
//!
//! [`import`] reads any [`Read`] and yields one [`RowOutcome`] per record, so a file
//! of any size is read in bounded memory: a fixed read buffer plus one record, and a
//! record is at most [`ImportLimits::max_record_bytes`]. A bad row never fails the
//! file; it becomes a [`RowOutcome::Invalid`] with the line it starts on, and the
//! rows after it are still read. Only what makes every row meaningless is a
//! [`FileError`], reported before any row: no header, no e-mail column, a header
//! that is not UTF-8, a mapping that names a column the file does not have.
//!
//! What the reader accepts: UTF-8 with or without a byte-order mark; `,` or `;`
//! between fields (whichever the header line has more of, outside quotes: German
//! Excel writes `;`); CRLF, LF or CR line ends; RFC 4180 quoting, so fields may hold
//! the delimiter, line breaks (imported as LF) and doubled quotes. Blank rows, and rows whose fields are
//! all blank (spreadsheets leave them at the end), are skipped without a word.
//!
//! Every value is trimmed; an empty value is no value. The e-mail address is only
//! trimmed: the caller normalises and verifies it, and decides what a duplicate is.
//!
//! # Columns
//!
//! Each header goes to a standard [`Field`], to a custom field, or nowhere
//! ([`ColumnTarget`]); [`ContactRows::columns`] says which, so the UI can show it and
//! send back a corrected mapping in the same words. Headers are matched by their
//! letters and digits only, ignoring case, spaces and punctuation, against the
//! synonyms in [`Field::from_header`] (`E-Mail`, `Work Email`, `Vorname`, ...). The
//! first column that matches a field gets it; a later one becomes a custom field. A
//! header written `custom.<name>` (as [`export`] writes them) is that custom field.
//! Any other column becomes a custom field named by its header in snake case
//! (`Industry Vertical` → `industry_vertical`), or is ignored with
//! [`ImportOptions::ignore_unmapped`].
//!
//! # Export
//!
//! [`export`] writes RFC 4180 CSV that imports back to the same contacts, through
//! [`crate::spreadsheet::SpreadsheetWriter`], which defuses spreadsheet formulas: a
//! cell that starts with `=`, `+`, `-`, `@`, tab or CR would be run as a formula by
//! Excel or Sheets (CSV injection), so it gets a leading `'`, which spreadsheets
//! read as "this is text". A cell that starts with `'` gets one too, so the import
//! can remove exactly one and give back the value.

use crate::spreadsheet::{SpreadsheetWriter, undo_formula_guard};
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{self, Read, Write};

/// Bounds that keep one import's memory and output sane, whatever the file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportLimits {
    /// Columns in the header; a wider file is refused.
    pub max_columns: usize,
    /// Characters in one field; a longer field makes its row invalid.
    pub max_field_chars: usize,
    /// Custom fields the columns may create; more is refused (map or ignore some).
    pub max_custom_fields: usize,
    /// Bytes in one record. This is what bounds memory: an unterminated quote makes
    /// the rest of the file one record, and the import stops once it passes this
    /// (give or take the read buffer, [`READ_BUFFER_BYTES`]).
    pub max_record_bytes: usize,
}

impl Default for ImportLimits {
    fn default() -> Self {
        Self { max_columns: 200, max_field_chars: 10_000, max_custom_fields: 64, max_record_bytes: 1024 * 1024 }
    }
}

/// The reader's buffer. Records may run this far past [`ImportLimits::max_record_bytes`]
/// before the limit trips, because the reader reads ahead by up to one buffer.
pub const READ_BUFFER_BYTES: usize = 64 * 1024;

/// How many bytes of the file's start are looked at to guess the delimiter.
const SNIFF_BYTES: usize = 64 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The longest custom-field name a header turns into, in characters.
pub const MAX_CUSTOM_NAME_CHARS: usize = 64;

/// How to read a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Header → target, overriding the automatic mapping for the headers named: a
    /// [`Field`] name (`email`, `first_name`, ...), `custom:<name>` or `ignore`.
    /// Headers are compared after trimming. Headers not named are mapped
    /// automatically, except that a field taken here is not given to another column.
    pub mapping: BTreeMap<String, String>,
    /// Drop columns that no synonym, `custom.` header or `mapping` entry claims,
    /// instead of keeping them as custom fields.
    pub ignore_unmapped: bool,
    pub limits: ImportLimits,
}

/// The standard contact fields a column can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Email,
    FirstName,
    LastName,
    /// Split into first and last name where those are empty ([`split_full_name`]).
    FullName,
    Company,
    Website,
    Title,
    Timezone,
}

impl Field {
    pub const ALL: [Field; 8] =
        [Field::Email, Field::FirstName, Field::LastName, Field::FullName, Field::Company, Field::Website, Field::Title, Field::Timezone];

    /// The field's name in mappings and exports: `email`, `first_name`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Email => "email",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::FullName => "full_name",
            Field::Company => "company",
            Field::Website => "website",
            Field::Title => "title",
            Field::Timezone => "timezone",
        }
    }

    /// The field a name from [`Field::as_str`] stands for.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|field| field.as_str() == name)
    }

    /// The field a spreadsheet header means, by the header's letters and digits
    /// (lower-cased, everything else dropped): `E-Mail Address` is `emailaddress`.
    /// English and German, as exported by common CRMs and written by people.
    pub fn from_header(header: &str) -> Option<Field> {
        let field = match letters_and_digits(header).as_str() {
            "email" | "emailaddress" | "mail" | "workemail" | "emailadresse" => Field::Email,
            "firstname" | "givenname" | "vorname" => Field::FirstName,
            "lastname" | "surname" | "familyname" | "nachname" => Field::LastName,
            "fullname" | "name" => Field::FullName,
            "company" | "companyname" | "organisation" | "organization" | "account" | "accountname" | "firma" | "unternehmen" => {
                Field::Company
            }
            "website" | "url" | "domain" | "companydomain" | "companywebsite" | "web" | "webseite" => Field::Website,
            "title" | "jobtitle" | "position" | "role" => Field::Title,
            "timezone" | "tz" | "zeitzone" => Field::Timezone,
            _ => return None,
        };
        Some(field)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a column's values go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ColumnTarget {
    Field(Field),
    /// A custom field of this name (`[a-z0-9_]`, 1 to 64 characters).
    Custom(String),
    Ignored,
}

impl ColumnTarget {
    /// Reads the mapping syntax: a field name, `custom:<name>` or `ignore`.
    pub fn parse(text: &str) -> Option<ColumnTarget> {
        let text = text.trim();
        if text == "ignore" {
            return Some(ColumnTarget::Ignored);
        }
        if let Some(name) = text.strip_prefix("custom:") {
            return is_custom_name(name).then(|| ColumnTarget::Custom(name.to_string()));
        }
        Field::from_name(text).map(ColumnTarget::Field)
    }
}

/// Written in the mapping syntax [`ColumnTarget::parse`] reads, so a mapping shown to
/// a user can be edited and sent back as is.
impl fmt::Display for ColumnTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnTarget::Field(field) => f.write_str(field.as_str()),
            ColumnTarget::Custom(name) => write!(f, "custom:{name}"),
            ColumnTarget::Ignored => f.write_str("ignore"),
        }
    }
}

impl Serialize for ColumnTarget {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Which header went where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnMapping {
    /// 1-based, as spreadsheets count.
    pub column: usize,
    /// The header as written, trimmed.
    pub header: String,
    pub target: ColumnTarget,
}

/// One good row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportedContact {
    /// The 1-based line the record starts on.
    pub line: u64,
    /// Trimmed, never empty; not normalised or verified.
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub website: Option<String>,
    pub title: Option<String>,
    pub timezone: Option<String>,
    /// Custom field name → non-empty value.
    pub custom: BTreeMap<String, String>,
}

/// Why a row was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RowError {
    /// The 1-based line the record starts on.
    pub line: u64,
    /// A stable code for programs: one of the `RowError::*` constants.
    pub code: &'static str,
    /// For people.
    pub message: String,
}

impl RowError {
    /// The e-mail column of the row is empty.
    pub const MISSING_EMAIL: &'static str = "missing_email";
    /// The row has fewer fields than the header, or more that are not empty.
    pub const WRONG_FIELD_COUNT: &'static str = "wrong_field_count";
    /// A field is longer than [`ImportLimits::max_field_chars`].
    pub const FIELD_TOO_LONG: &'static str = "field_too_long";
    /// A field is not valid UTF-8 (often: the file was saved as Windows-1252).
    pub const INVALID_UTF8: &'static str = "invalid_utf8";
}

/// What one record of the file gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RowOutcome {
    Contact(ImportedContact),
    Invalid(RowError),
}

/// The file cannot be imported at all; nothing was read past the header.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the file could not be read: {0}")]
    Read(#[source] io::Error),
    #[error("the file is empty")]
    Empty,
    #[error("the header line is longer than {max_bytes} bytes")]
    HeaderTooLarge { max_bytes: usize },
    #[error("the header line is not UTF-8; save the file as \"CSV UTF-8\"")]
    HeaderNotUtf8,
    #[error("the file has {found} columns; at most {max} can be imported")]
    TooManyColumns { found: usize, max: usize },
    #[error("no column holds e-mail addresses; name one \"Email\" or map one to email")]
    NoEmailColumn,
    #[error("the mapping names the column \"{header}\", which the file does not have")]
    MappedColumnMissing { header: String },
    #[error("the mapping for column \"{header}\" is not valid: {reason}")]
    InvalidMapping { header: String, reason: String },
    #[error("{found} columns would become custom fields; at most {max} can: map or ignore some, or import only the mapped columns")]
    TooManyCustomFields { found: usize, max: usize },
}

/// Reading stopped part-way through the file; the rows before it were yielded.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("reading stopped near line {line}: {source}")]
    Read {
        line: u64,
        #[source]
        source: io::Error,
    },
    /// Usually a quote that is never closed. Where the next record would start
    /// cannot be known, so nothing after it can be read.
    #[error(
        "the record starting near line {line} is longer than {max_bytes} bytes (is a quote left open?); the rest of the file was not read"
    )]
    RecordTooLarge { line: u64, max_bytes: usize },
}

/// Opens a CSV file for import: reads the header, maps the columns, and returns the
/// rows to iterate. See the [module documentation](self).
pub fn import<R: Read>(mut input: R, options: &ImportOptions) -> Result<ContactRows<R>, FileError> {
    let limits = options.limits;
    let mut start = read_start(&mut input, SNIFF_BYTES).map_err(FileError::Read)?;
    if start.starts_with(UTF8_BOM) {
        start.drain(..UTF8_BOM.len());
    }
    let delimiter = sniff_delimiter(&start);
    let bounded = RecordBudget::new(io::Cursor::new(start).chain(input), limits.max_record_bytes + READ_BUFFER_BYTES);
    let line_feeds_only = LineFeedsOnly::new(bounded);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .buffer_capacity(READ_BUFFER_BYTES)
        .from_reader(line_feeds_only);

    let mut header = csv::ByteRecord::new();
    match reader.read_byte_record(&mut header) {
        Ok(true) => {}
        Ok(false) => return Err(FileError::Empty),
        Err(error) => {
            return Err(match into_io_error(error) {
                error if is_budget_exhausted(&error) => FileError::HeaderTooLarge { max_bytes: limits.max_record_bytes },
                error => FileError::Read(error),
            });
        }
    }
    if header.len() > limits.max_columns {
        return Err(FileError::TooManyColumns { found: header.len(), max: limits.max_columns });
    }
    let headers = header
        .iter()
        .map(|bytes| std::str::from_utf8(bytes).map(|text| text.trim().to_string()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| FileError::HeaderNotUtf8)?;
    let columns = map_columns(&headers, options)?;
    Ok(ContactRows { reader, columns, limits, record: csv::ByteRecord::new(), finished: false })
}

/// What the CSV parser reads: the start of the file that was read to sniff the
/// delimiter, then the rest, bounded per record, with line ends made LF.
type ParserInput<R> = LineFeedsOnly<RecordBudget<io::Chain<io::Cursor<Vec<u8>>, R>>>;

/// The rows of a file being imported, one [`RowOutcome`] at a time.
///
/// Each item is a row's outcome, or the [`StreamError`] that stopped the reading;
/// after an error the iterator ends. A caller that stops early reads no further.
pub struct ContactRows<R> {
    reader: csv::Reader<ParserInput<R>>,
    columns: Vec<ColumnMapping>,
    limits: ImportLimits,
    /// Reused for every record, so reading allocates only when a record is larger
    /// than any before it.
    record: csv::ByteRecord,
    finished: bool,
}

impl<R> ContactRows<R> {
    /// Which header went where, in column order.
    pub fn columns(&self) -> &[ColumnMapping] {
        &self.columns
    }
}

impl<R: Read> Iterator for ContactRows<R> {
    type Item = Result<RowOutcome, StreamError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.finished {
            let line = self.reader.position().line();
            self.reader.get_mut().inner.refill();
            match self.reader.read_byte_record(&mut self.record) {
                Ok(true) => {
                    if let Some(outcome) = self.current_outcome() {
                        return Some(Ok(outcome));
                    }
                }
                Ok(false) => self.finished = true,
                Err(error) => {
                    self.finished = true;
                    let error = into_io_error(error);
                    return Some(Err(if is_budget_exhausted(&error) {
                        StreamError::RecordTooLarge { line, max_bytes: self.limits.max_record_bytes }
                    } else {
                        StreamError::Read { line, source: error }
                    }));
                }
            }
        }
        None
    }
}

/// After the end, or after a [`StreamError`], every call gives `None`.
impl<R: Read> std::iter::FusedIterator for ContactRows<R> {}

impl<R> ContactRows<R> {
    /// The outcome of the record just read, or `None` for a row of blanks.
    fn current_outcome(&self) -> Option<RowOutcome> {
        let record = &self.record;
        let line = record.position().map_or(0, csv::Position::line);
        if record.iter().all(|field| field.trim_ascii().is_empty()) {
            return None;
        }
        let invalid = |code, message| Some(RowOutcome::Invalid(RowError { line, code, message }));

        let expected = self.columns.len();
        let extra_fields_hold_data = record.iter().skip(expected).any(|field| !field.trim_ascii().is_empty());
        if record.len() < expected || extra_fields_hold_data {
            let message = format!("the row has {} fields; the header has {expected}", record.len());
            return invalid(RowError::WRONG_FIELD_COUNT, message);
        }

        let mut contact = ImportedContact {
            line,
            email: String::new(),
            first_name: None,
            last_name: None,
            company: None,
            website: None,
            title: None,
            timezone: None,
            custom: BTreeMap::new(),
        };
        let mut full_name = None;
        for (column, bytes) in self.columns.iter().zip(record.iter()) {
            if column.target == ColumnTarget::Ignored {
                continue;
            }
            let Ok(text) = std::str::from_utf8(bytes) else {
                let message =
                    format!("column {} (\"{}\") is not valid UTF-8; save the file as \"CSV UTF-8\"", column.column, column.header);
                return invalid(RowError::INVALID_UTF8, message);
            };
            let length = text.chars().count();
            if length > self.limits.max_field_chars {
                let message = format!(
                    "column {} (\"{}\") has {length} characters; at most {} are allowed",
                    column.column, column.header, self.limits.max_field_chars
                );
                return invalid(RowError::FIELD_TOO_LONG, message);
            }
            let value = undo_formula_guard(text.trim());
            if value.is_empty() {
                continue;
            }
            let value = value.to_string();
            match &column.target {
                ColumnTarget::Field(Field::Email) => contact.email = value,
                ColumnTarget::Field(Field::FirstName) => contact.first_name = Some(value),
                ColumnTarget::Field(Field::LastName) => contact.last_name = Some(value),
                ColumnTarget::Field(Field::FullName) => full_name = Some(value),
                ColumnTarget::Field(Field::Company) => contact.company = Some(value),
                ColumnTarget::Field(Field::Website) => contact.website = Some(value),
                ColumnTarget::Field(Field::Title) => contact.title = Some(value),
                ColumnTarget::Field(Field::Timezone) => contact.timezone = Some(value),
                ColumnTarget::Custom(name) => {
                    contact.custom.insert(name.clone(), value);
                }
                ColumnTarget::Ignored => {}
            }
        }
        if contact.email.is_empty() {
            return invalid(RowError::MISSING_EMAIL, "the e-mail address is empty".to_string());
        }
        if let Some(full_name) = full_name {
            let (first, last) = split_full_name(&full_name);
            contact.first_name = contact.first_name.or(first);
            contact.last_name = contact.last_name.or(last);
        }
        Some(RowOutcome::Contact(contact))
    }
}

/// Splits a full name into first and last name: `Doe, Jane` at the comma, otherwise
/// the first word is the first name and the rest the last name (`Anna Maria Berg` →
/// `Anna` + `Maria Berg`). Names do not split reliably; this rule is predictable, and
/// the result only fills fields the file left empty.
pub fn split_full_name(full_name: &str) -> (Option<String>, Option<String>) {
    let non_empty = |text: &str| Some(text.trim().to_string()).filter(|text| !text.is_empty());
    if let Some((last, first)) = full_name.split_once(',') {
        return (non_empty(first), non_empty(last));
    }
    let mut words = full_name.split_whitespace();
    let first = words.next().map(str::to_string);
    let last = words.collect::<Vec<_>>().join(" ");
    (first, non_empty(&last))
}

/// Decides every column's target; see the module documentation for the rules.
fn map_columns(headers: &[String], options: &ImportOptions) -> Result<Vec<ColumnMapping>, FileError> {
    let mut targets: Vec<Option<ColumnTarget>> = vec![None; headers.len()];
    let mut fields_taken = BTreeSet::new();
    let mut custom_names_taken = BTreeSet::new();

    for (header, target) in &options.mapping {
        let header = header.trim();
        let column = headers
            .iter()
            .position(|candidate| candidate == header)
            .ok_or_else(|| FileError::MappedColumnMissing { header: header.to_string() })?;
        let invalid = |reason: String| FileError::InvalidMapping { header: header.to_string(), reason };
        let target = ColumnTarget::parse(target).ok_or_else(|| {
            invalid(format!(
                "\"{target}\" is not a field; use one of {}, custom:<name> (a-z, 0-9, _) or ignore",
                Field::ALL.map(Field::as_str).join(", ")
            ))
        })?;
        let unique = match &target {
            ColumnTarget::Field(field) => fields_taken.insert(*field),
            ColumnTarget::Custom(name) => custom_names_taken.insert(name.clone()),
            ColumnTarget::Ignored => true,
        };
        if !unique {
            return Err(invalid(format!("another column is already mapped to {target}")));
        }
        targets[column] = Some(target);
    }

    for (index, header) in headers.iter().enumerate() {
        if targets[index].is_some() {
            continue;
        }
        let target = if let Some(name) = custom_header_name(header) {
            ColumnTarget::Custom(unique_name(name, &mut custom_names_taken))
        } else if let Some(field) = Field::from_header(header).filter(|field| fields_taken.insert(*field)) {
            ColumnTarget::Field(field)
        } else if options.ignore_unmapped {
            ColumnTarget::Ignored
        } else {
            let name = custom_name_from_header(header).unwrap_or_else(|| format!("column_{}", index + 1));
            ColumnTarget::Custom(unique_name(name, &mut custom_names_taken))
        };
        targets[index] = Some(target);
    }

    if !fields_taken.contains(&Field::Email) {
        return Err(FileError::NoEmailColumn);
    }
    let custom_fields = custom_names_taken.len();
    if custom_fields > options.limits.max_custom_fields {
        return Err(FileError::TooManyCustomFields { found: custom_fields, max: options.limits.max_custom_fields });
    }
    Ok(headers
        .iter()
        .zip(targets)
        .enumerate()
        .map(|(index, (header, target))| ColumnMapping {
            column: index + 1,
            header: header.clone(),
            target: target.unwrap_or(ColumnTarget::Ignored),
        })
        .collect())
}

/// `name`, or `name_2`, `name_3`, ... if taken; the result is marked taken.
fn unique_name(name: String, taken: &mut BTreeSet<String>) -> String {
    let mut candidate = name.clone();
    let mut suffix = 2;
    while taken.contains(&candidate) {
        let suffix_text = format!("_{suffix}");
        let room = MAX_CUSTOM_NAME_CHARS - suffix_text.len();
        candidate = format!("{}{suffix_text}", &name[..name.len().min(room)]);
        suffix += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

/// The custom-field name in a `custom.<name>` (or `custom:<name>`) header.
fn custom_header_name(header: &str) -> Option<String> {
    let lower = header.to_ascii_lowercase();
    let name = lower.strip_prefix("custom.").or_else(|| lower.strip_prefix("custom:"))?;
    is_custom_name(name).then(|| name.to_string())
}

fn is_custom_name(name: &str) -> bool {
    (1..=MAX_CUSTOM_NAME_CHARS).contains(&name.len())
        && name.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

/// A header as a custom-field name in snake case: `Industry Vertical` and
/// `IndustryVertical` give `industry_vertical`, German umlauts are spelled out
/// (`Größe` → `groesse`), anything else that is not a letter or digit separates
/// words. `None` when nothing usable is left.
fn custom_name_from_header(header: &str) -> Option<String> {
    let mut name = String::new();
    let mut word_break = false;
    let mut previous_was_lower_or_digit = false;
    for c in header.chars() {
        if c.is_uppercase() && previous_was_lower_or_digit {
            word_break = true;
        }
        previous_was_lower_or_digit = c.is_lowercase() || c.is_ascii_digit();
        let spelled: Option<&str> = match c.to_lowercase().next().unwrap_or(c) {
            'ä' => Some("ae"),
            'ö' => Some("oe"),
            'ü' => Some("ue"),
            'ß' => Some("ss"),
            _ => None,
        };
        let lower = c.to_ascii_lowercase();
        let letters = match spelled {
            Some(spelled) => spelled.to_string(),
            None if lower.is_ascii_alphanumeric() => lower.to_string(),
            None => {
                word_break = true;
                continue;
            }
        };
        if word_break && !name.is_empty() {
            name.push('_');
        }
        word_break = false;
        name.push_str(&letters);
    }
    name.truncate(MAX_CUSTOM_NAME_CHARS);
    let name = name.trim_end_matches('_');
    (!name.is_empty()).then(|| name.to_string())
}

/// A header's letters and digits, lower-cased.
fn letters_and_digits(header: &str) -> String {
    header.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Reads up to `limit` bytes (fewer only at the end of the input).
fn read_start(input: &mut impl Read, limit: usize) -> io::Result<Vec<u8>> {
    let mut start = Vec::new();
    input.take(limit as u64).read_to_end(&mut start)?;
    Ok(start)
}

/// `;` if the first line has more semicolons than commas outside quotes, else `,`.
fn sniff_delimiter(start: &[u8]) -> u8 {
    let (mut commas, mut semicolons, mut in_quotes) = (0usize, 0usize, false);
    for &byte in start {
        match byte {
            b'"' => in_quotes = !in_quotes,
            b'\n' | b'\r' if !in_quotes => break,
            b',' if !in_quotes => commas += 1,
            b';' if !in_quotes => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas { b';' } else { b',' }
}

/// A contact to export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportRow {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub website: Option<String>,
    pub title: Option<String>,
    pub timezone: Option<String>,
    /// Only the names passed to [`export`] as custom columns are written.
    pub custom: BTreeMap<String, String>,
}

impl From<ImportedContact> for ExportRow {
    fn from(contact: ImportedContact) -> Self {
        Self {
            email: contact.email,
            first_name: contact.first_name,
            last_name: contact.last_name,
            company: contact.company,
            website: contact.website,
            title: contact.title,
            timezone: contact.timezone,
            custom: contact.custom,
        }
    }
}

/// The standard columns of an export, in order.
const EXPORT_FIELDS: [Field; 7] =
    [Field::Email, Field::FirstName, Field::LastName, Field::Company, Field::Website, Field::Title, Field::Timezone];

/// Writes a header and one row per contact: the standard fields, then each custom
/// column, headed `custom.<name>` so that a custom field called `name` or `email`
/// is not taken for a standard field when the file is imported again. Quoting is
/// RFC 4180, lines end in CRLF, and cells are guarded against formula injection (see
/// the module documentation).
pub fn export<W: Write>(out: W, custom_columns: &[String], contacts: impl IntoIterator<Item = ExportRow>) -> io::Result<()> {
    let mut writer = SpreadsheetWriter::new(out);
    let header =
        EXPORT_FIELDS.iter().map(|field| field.as_str().to_string()).chain(custom_columns.iter().map(|name| format!("custom.{name}")));
    writer.write_record(header)?;
    for contact in contacts {
        let standard = [
            Some(&contact.email),
            contact.first_name.as_ref(),
            contact.last_name.as_ref(),
            contact.company.as_ref(),
            contact.website.as_ref(),
            contact.title.as_ref(),
            contact.timezone.as_ref(),
        ];
        let custom = custom_columns.iter().map(|name| contact.custom.get(name));
        let cells = standard.into_iter().chain(custom).map(|cell| cell.map_or("", String::as_str));
        writer.write_record(cells)?;
    }
    writer.flush()
}

/// Turns CRLF and a lone CR into LF.
///
/// The CSV parser counts lines by LF, but ends a CRLF record at its CR, so the LF is
/// counted with the next record, whose start line comes out one short. With LF only,
/// every reported line is the line a text editor shows (CR-only files from old Mac
/// spreadsheets included). As a consequence, line breaks inside quoted fields are
/// imported as LF, whatever the file used.
struct LineFeedsOnly<R> {
    inner: R,
    /// The last byte read was a CR, so an LF right after it belongs to the same break.
    after_cr: bool,
}

impl<R> LineFeedsOnly<R> {
    fn new(inner: R) -> Self {
        Self { inner, after_cr: false }
    }
}

impl<R: Read> Read for LineFeedsOnly<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let read = self.inner.read(buf)?;
            if read == 0 {
                return Ok(0);
            }
            let mut kept = 0;
            for index in 0..read {
                let byte = buf[index];
                if byte == b'\n' && self.after_cr {
                    self.after_cr = false;
                    continue;
                }
                self.after_cr = byte == b'\r';
                buf[kept] = if byte == b'\r' { b'\n' } else { byte };
                kept += 1;
            }
            // Zero would mean the end of the input; a read that held only the LF of a
            // CRLF reads on instead.
            if kept > 0 {
                return Ok(kept);
            }
        }
    }
}

/// Stops a record from growing without bound: the reader under the CSV parser
/// hands out at most `per_record` bytes between two [`RecordBudget::refill`] calls,
/// which [`ContactRows`] makes before each record.
struct RecordBudget<R> {
    inner: R,
    per_record: usize,
    remaining: usize,
}

/// The marker error [`RecordBudget`] reads with, told apart from real read errors.
#[derive(Debug, thiserror::Error)]
#[error("record byte budget exhausted")]
struct BudgetExhausted;

impl<R> RecordBudget<R> {
    fn new(inner: R, per_record: usize) -> Self {
        Self { inner, per_record, remaining: per_record }
    }

    fn refill(&mut self) {
        self.remaining = self.per_record;
    }
}

impl<R: Read> Read for RecordBudget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            return Err(io::Error::other(BudgetExhausted));
        }
        let allowed = buf.len().min(self.remaining);
        let read = self.inner.read(&mut buf[..allowed])?;
        self.remaining -= read;
        Ok(read)
    }
}

fn is_budget_exhausted(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<BudgetExhausted>())
}

/// Reading byte records of a flexible reader can only fail with an I/O error; the
/// other kinds (bad UTF-8, unequal lengths) are for string records and strict readers.
fn into_io_error(error: csv::Error) -> io::Error {
    match error.into_kind() {
        csv::ErrorKind::Io(error) => error,
        other => io::Error::other(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rows(input: &[u8], options: &ImportOptions) -> Vec<RowOutcome> {
        import(input, options).unwrap().map(Result::unwrap).collect()
    }

    fn contacts(input: &str) -> Vec<ImportedContact> {
        rows(input.as_bytes(), &ImportOptions::default())
            .into_iter()
            .map(|outcome| match outcome {
                RowOutcome::Contact(contact) => contact,
                RowOutcome::Invalid(error) => panic!("unexpected {error}"),
            })
            .collect()
    }

    fn targets(input: &str, options: &ImportOptions) -> Vec<String> {
        import(input.as_bytes(), options).unwrap().columns().iter().map(|column| column.target.to_string()).collect()
    }

    fn codes(input: &[u8]) -> Vec<(u64, &'static str)> {
        rows(input, &ImportOptions::default())
            .into_iter()
            .filter_map(|outcome| match outcome {
                RowOutcome::Invalid(error) => Some((error.line, error.code)),
                RowOutcome::Contact(_) => None,
            })
            .collect()
    }

    #[test]
    fn headers_map_by_synonym_ignoring_case_and_punctuation() {
        let header = "E-Mail,Vorname,NACHNAME,Firma,Web,Job Title,Time Zone,Industry Vertical,Größe\n";
        assert_eq!(
            targets(header, &ImportOptions::default()),
            vec![
                "email",
                "first_name",
                "last_name",
                "company",
                "website",
                "title",
                "timezone",
                "custom:industry_vertical",
                "custom:groesse"
            ]
        );
    }

    #[test]
    fn the_first_column_for_a_field_wins_and_later_ones_stay_custom() {
        let options = ImportOptions::default();
        assert_eq!(
            targets("Email,Work Email,Notes,notes\n", &options),
            vec!["email", "custom:work_email", "custom:notes", "custom:notes_2"]
        );
    }

    #[test]
    fn custom_names_come_from_headers_in_snake_case() {
        assert_eq!(custom_name_from_header("Industry Vertical"), Some("industry_vertical".into()));
        assert_eq!(custom_name_from_header("IndustryVertical"), Some("industry_vertical".into()));
        assert_eq!(custom_name_from_header("  # of Employees (2024) "), Some("of_employees_2024".into()));
        assert_eq!(custom_name_from_header("Straße"), Some("strasse".into()));
        assert_eq!(custom_name_from_header("???"), None);
        assert_eq!(custom_name_from_header(&"x".repeat(100)).map(|name| name.len()), Some(64));
        assert_eq!(targets("email,,???\n", &ImportOptions::default()), vec!["email", "custom:column_2", "custom:column_3"]);
    }

    #[test]
    fn an_explicit_mapping_overrides_and_blocks_the_automatic_one() {
        let mapping = [("Mail", "custom:private_mail"), ("Work", "email"), ("Org", "ignore")]
            .map(|(header, target)| (header.to_string(), target.to_string()))
            .into();
        let options = ImportOptions { mapping, ..Default::default() };
        assert_eq!(
            targets("Mail,Work,Org,Email,Company\n", &options),
            vec!["custom:private_mail", "email", "ignore", "custom:email", "company"]
        );
    }

    #[test]
    fn ignore_unmapped_drops_what_no_rule_claims() {
        let options = ImportOptions { ignore_unmapped: true, ..Default::default() };
        assert_eq!(targets("email,Notes,custom.size\n", &options), vec!["email", "ignore", "custom:size"]);
    }

    #[test]
    fn file_errors_come_before_any_row() {
        let import_error = |input: &str, options: &ImportOptions| import(input.as_bytes(), options).err().unwrap();
        let default = ImportOptions::default();
        assert!(matches!(import_error("", &default), FileError::Empty));
        assert!(matches!(import_error("name,company\nJane,Acme\n", &default), FileError::NoEmailColumn));
        let missing = ImportOptions { mapping: [("Nope".into(), "email".into())].into(), ..Default::default() };
        assert!(matches!(import_error("email\n", &missing), FileError::MappedColumnMissing { .. }));
        let bad_target = ImportOptions { mapping: [("a".into(), "custom:Bad Name".into())].into(), ..Default::default() };
        assert!(matches!(import_error("email,a\n", &bad_target), FileError::InvalidMapping { .. }));
        let twice = ImportOptions { mapping: [("a".into(), "email".into()), ("b".into(), "email".into())].into(), ..Default::default() };
        assert!(matches!(import_error("a,b\n", &twice), FileError::InvalidMapping { .. }));
        let wide = format!("email{}\n", ",x".repeat(200));
        assert!(matches!(import_error(&wide, &default), FileError::TooManyColumns { found: 201, max: 200 }));
        let many_custom: String = (0..65).map(|i| format!(",c{i}")).collect();
        assert!(matches!(import_error(&format!("email{many_custom}\n"), &default), FileError::TooManyCustomFields { found: 65, max: 64 }));
        assert!(matches!(import(&b"em\xFFail\n"[..], &default).err().unwrap(), FileError::HeaderNotUtf8));
    }

    #[test]
    fn the_message_of_a_file_error_says_what_to_do() {
        let error = import(&b"name\n"[..], &ImportOptions::default()).err().unwrap();
        assert_eq!(error.to_string(), "no column holds e-mail addresses; name one \"Email\" or map one to email");
    }

    #[test]
    fn values_are_trimmed_and_empty_ones_are_absent() {
        let [contact] = contacts("email,first name,company,notes\n  jane@acme.example , Jane ,  , x \n").try_into().unwrap();
        assert_eq!(contact.email, "jane@acme.example");
        assert_eq!(contact.first_name.as_deref(), Some("Jane"));
        assert_eq!(contact.company, None);
        assert_eq!(contact.custom, BTreeMap::from([("notes".to_string(), "x".to_string())]));
    }

    #[test]
    fn a_full_name_fills_only_what_is_missing() {
        assert_eq!(split_full_name("Jane Doe"), (Some("Jane".into()), Some("Doe".into())));
        assert_eq!(split_full_name("Doe, Jane"), (Some("Jane".into()), Some("Doe".into())));
        assert_eq!(split_full_name("  Anna  Maria Berg "), (Some("Anna".into()), Some("Maria Berg".into())));
        assert_eq!(split_full_name("Cher"), (Some("Cher".into()), None));
        assert_eq!(split_full_name(""), (None, None));
        let [split, kept] = contacts("email,name,first name\na@x.example,Jane Doe,\nb@x.example,Jane Doe,Janet\n").try_into().unwrap();
        assert_eq!((split.first_name.as_deref(), split.last_name.as_deref()), (Some("Jane"), Some("Doe")));
        assert_eq!((kept.first_name.as_deref(), kept.last_name.as_deref()), (Some("Janet"), Some("Doe")));
    }

    #[test]
    fn bad_rows_are_reported_with_their_line_and_the_rest_is_read() {
        let input = b"email,name\n,Nobody\na@x.example,\"Two\nLines\"\nb@x.example,x,y\nc@x.example\nd@x.example,\xFF\ne@x.example,ok,,\n";
        assert_eq!(
            codes(input),
            vec![
                (2, RowError::MISSING_EMAIL),
                (5, RowError::WRONG_FIELD_COUNT),
                (6, RowError::WRONG_FIELD_COUNT),
                (7, RowError::INVALID_UTF8),
            ]
        );
        assert_eq!(rows(input, &ImportOptions::default()).len(), 6, "the two good rows too");
    }

    #[test]
    fn a_field_over_the_limit_makes_its_row_invalid() {
        let options = ImportOptions { limits: ImportLimits { max_field_chars: 12, ..Default::default() }, ..Default::default() };
        let outcomes = rows("email,name\na@x.example,Jane\nb@x.example,Johannes Maximilian\n".as_bytes(), &options);
        assert!(matches!(
            &outcomes[..],
            [RowOutcome::Contact(_), RowOutcome::Invalid(error)] if error.code == RowError::FIELD_TOO_LONG && error.line == 3
        ));
    }

    #[test]
    fn blank_rows_are_skipped() {
        let outcomes = rows(b"email,name\n\na@x.example,Jane\n,\n , \n", &ImportOptions::default());
        assert_eq!(outcomes.len(), 1);
    }

    #[test]
    fn semicolons_and_a_bom_are_handled() {
        let [contact] = contacts("\u{FEFF}E-Mail;Firma\r\na@x.example;\"Müller; Söhne\"\r\n").try_into().unwrap();
        assert_eq!(contact.company.as_deref(), Some("Müller; Söhne"));
        assert_eq!(sniff_delimiter(b"\"a;b;c\",d"), b',');
        assert_eq!(sniff_delimiter(b"a;b,c;d\nx,x,x,x,x"), b';');
    }

    #[test]
    fn an_open_quote_stops_the_import_with_an_error_not_unbounded_memory() {
        let options = ImportOptions { limits: ImportLimits { max_record_bytes: 1000, ..Default::default() }, ..Default::default() };
        let mut input = b"email,name\na@x.example,ok\nb@x.example,\"never closed\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10 * READ_BUFFER_BYTES));
        let outcomes: Vec<_> = import(&input[..], &options).unwrap().collect();
        assert_eq!(outcomes.len(), 2);
        assert!(matches!(outcomes[0], Ok(RowOutcome::Contact(_))));
        assert!(matches!(outcomes[1], Err(StreamError::RecordTooLarge { line: 3, max_bytes: 1000 })));
    }

    /// A file of `rows` contacts, produced as it is read.
    struct GeneratedFile {
        rows: usize,
        pending: Vec<u8>,
        written: usize,
    }

    impl Read for GeneratedFile {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pending.is_empty() {
                if self.written == 0 {
                    self.pending.extend_from_slice(b"email,first_name\n");
                } else if self.written > self.rows {
                    return Ok(0);
                } else {
                    self.pending.extend(format!("person{}@x.example,Person\n", self.written).bytes());
                }
                self.written += 1;
            }
            let n = buf.len().min(self.pending.len());
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            Ok(n)
        }
    }

    #[test]
    fn a_large_file_streams_row_by_row() {
        let file = GeneratedFile { rows: 200_000, pending: Vec::new(), written: 0 };
        let mut count = 0;
        let mut last_line = 0;
        for outcome in import(file, &ImportOptions::default()).unwrap() {
            let Ok(RowOutcome::Contact(contact)) = outcome else { panic!("{outcome:?}") };
            count += 1;
            last_line = contact.line;
        }
        assert_eq!((count, last_line), (200_000, 200_001));
    }

    /// A reader that fails after its bytes, like a dropped network stream.
    struct Interrupted(io::Cursor<Vec<u8>>);

    impl Read for Interrupted {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(io::Error::new(io::ErrorKind::ConnectionReset, "connection reset")),
                n => Ok(n),
            }
        }
    }

    #[test]
    fn a_read_error_fails_the_file_or_stops_the_rows() {
        let short = Interrupted(io::Cursor::new(b"email\n".to_vec()));
        assert!(matches!(import(short, &ImportOptions::default()), Err(FileError::Read(_))));

        // Past the bytes read to sniff the delimiter: the rows so far, then the error.
        let mut file = b"email\n".to_vec();
        file.extend(std::iter::repeat_n(&b"a@x.example\n"[..], SNIFF_BYTES / 10).flatten());
        let outcomes: Vec<_> = import(Interrupted(io::Cursor::new(file)), &ImportOptions::default()).unwrap().collect();
        assert!(outcomes[..outcomes.len() - 1].iter().all(|outcome| matches!(outcome, Ok(RowOutcome::Contact(_)))));
        assert!(matches!(outcomes.last(), Some(Err(StreamError::Read { .. }))));
    }

    #[test]
    fn export_quotes_and_defuses_formulas() {
        let row = ExportRow {
            email: "a@x.example".into(),
            first_name: Some("=HYPERLINK(\"http://evil\")".into()),
            last_name: Some("-1".into()),
            company: Some("Acme, Inc.\nBerlin".into()),
            website: Some("'quoted".into()),
            custom: [("size".into(), "@SUM(A1)".into())].into(),
            ..Default::default()
        };
        let mut out = Vec::new();
        export(&mut out, &["size".into(), "absent".into()], [row]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "email,first_name,last_name,company,website,title,timezone,custom.size,custom.absent\r\n\
             a@x.example,\"'=HYPERLINK(\"\"http://evil\"\")\",'-1,\"Acme, Inc.\nBerlin\",''quoted,,,'@SUM(A1),\r\n"
        );
    }

    fn an_optional_value() -> impl Strategy<Value = Option<String>> {
        // No CR: line breaks inside fields are imported as LF (see `LineFeedsOnly`).
        proptest::option::of("[ -~\n\tüß€\"';,]{0,20}".prop_map(|value| value.trim().to_string()))
            .prop_map(|value| value.filter(|value| !value.is_empty()))
    }

    fn an_export_row(custom_columns: Vec<String>) -> impl Strategy<Value = ExportRow> {
        let custom_values = proptest::collection::vec(an_optional_value(), custom_columns.len());
        (
            "[a-z0-9=+@'-][a-z0-9@.=+'-]{0,20}",
            [an_optional_value(), an_optional_value(), an_optional_value()],
            [an_optional_value(), an_optional_value(), an_optional_value()],
            custom_values,
        )
            .prop_map(move |(email, [first_name, last_name, company], [website, title, timezone], values)| {
                let custom = custom_columns.iter().zip(values).filter_map(|(name, value)| Some((name.clone(), value?))).collect();
                ExportRow { email, first_name, last_name, company, website, title, timezone, custom }
            })
    }

    fn an_export() -> impl Strategy<Value = (Vec<String>, Vec<ExportRow>)> {
        proptest::collection::btree_set("[a-z][a-z0-9_]{0,10}", 0..4).prop_flat_map(|names| {
            let names: Vec<String> = names.into_iter().collect();
            proptest::collection::vec(an_export_row(names.clone()), 0..8).prop_map(move |rows| (names.clone(), rows))
        })
    }

    proptest! {
        #[test]
        fn export_then_import_gives_the_same_contacts((custom_columns, exported) in an_export()) {
            let mut file = Vec::new();
            export(&mut file, &custom_columns, exported.clone()).unwrap();
            let imported: Vec<ExportRow> = import(&file[..], &ImportOptions::default())
                .unwrap()
                .map(|outcome| match outcome {
                    Ok(RowOutcome::Contact(contact)) => ExportRow::from(contact),
                    other => panic!("{other:?}"),
                })
                .collect();
            prop_assert_eq!(imported, exported);
        }

        #[test]
        fn any_bytes_import_without_panicking(input in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(rows) = import(&input[..], &ImportOptions::default()) {
                for _ in rows {}
            }
        }

        #[test]
        fn csv_shaped_text_imports_without_panicking(input in "(email|name|,|;|\"|\r|\n|a|@|=| |'|\u{FEFF})*") {
            if let Ok(rows) = import(input.as_bytes(), &ImportOptions::default()) {
                for _ in rows {}
            }
        }
    }
}
