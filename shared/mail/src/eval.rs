//! Scoring against labelled files: label-file parsing and a confusion
//! matrix. Pure; callers read the files.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::Kind;

/// One labelled input: path as written in the label file, expected kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub path: String,
    pub kind: Kind,
}

/// Errors in a label file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("label file line {line}: {message}")]
pub struct LabelError {
    pub line: usize,
    pub message: String,
}

/// Parses `path,label[,anything]` lines; a first line starting with `path`
/// is a header. Blank lines and `#` comments are skipped.
pub fn parse_labels(csv: &str) -> Result<Vec<Label>, LabelError> {
    let mut out = Vec::new();
    for (i, line) in csv.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (i == 0 && line.starts_with("path,")) {
            continue;
        }
        let mut fields = line.split(',');
        let path = fields.next().unwrap_or("").trim();
        let label = fields.next().unwrap_or("").trim();
        let kind = Kind::from_label(label).ok_or_else(|| LabelError { line: i + 1, message: format!("unknown label {label:?}") })?;
        if path.is_empty() {
            return Err(LabelError { line: i + 1, message: "empty path".into() });
        }
        out.push(Label { path: path.to_owned(), kind });
    }
    Ok(out)
}

/// Counts of (expected, actual) kinds.
#[derive(Debug, Clone, Default)]
pub struct Confusion {
    cells: BTreeMap<(Kind, Kind), usize>,
    errors: usize,
}

impl Confusion {
    pub fn add(&mut self, expected: Kind, actual: Kind) {
        *self.cells.entry((expected, actual)).or_default() += 1;
    }

    /// An input that could not be parsed at all.
    pub fn add_error(&mut self) {
        self.errors += 1;
    }

    pub fn count(&self, expected: Kind, actual: Kind) -> usize {
        self.cells.get(&(expected, actual)).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.cells.values().sum::<usize>() + self.errors
    }

    pub fn correct(&self) -> usize {
        Kind::ALL.iter().map(|k| self.count(*k, *k)).sum()
    }

    /// Share of inputs whose kind matched exactly.
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct(), self.total())
    }

    /// Among inputs labelled as bounces, the share recognised as a bounce
    /// (hard or soft) and the share with the right hard/soft verdict.
    pub fn bounce_scores(&self) -> (usize, usize, usize) {
        let bounces = [Kind::BounceHard, Kind::BounceSoft];
        let total: usize = self.cells.iter().filter(|((e, _), _)| e.is_bounce()).map(|(_, n)| n).sum();
        let recognised: usize = self.cells.iter().filter(|((e, a), _)| e.is_bounce() && a.is_bounce()).map(|(_, n)| n).sum();
        let agreed: usize = bounces.iter().map(|k| self.count(*k, *k)).sum();
        (total, recognised, agreed)
    }

    /// The matrix as a Markdown table (rows expected, columns actual), with
    /// only the kinds that occur, followed by a summary.
    pub fn render(&self) -> String {
        let used: Vec<Kind> = Kind::ALL.into_iter().filter(|k| self.cells.keys().any(|(e, a)| e == k || a == k)).collect();
        let mut out = String::new();
        let _ = write!(out, "| expected \\ actual |");
        for k in &used {
            let _ = write!(out, " {} |", k.as_str());
        }
        out.push('\n');
        let _ = write!(out, "|---|");
        for _ in &used {
            out.push_str("---:|");
        }
        out.push('\n');
        for e in &used {
            let row: usize = used.iter().map(|a| self.count(*e, *a)).sum();
            if row == 0 {
                continue;
            }
            let _ = write!(out, "| {} |", e.as_str());
            for a in &used {
                let _ = write!(out, " {} |", self.count(*e, *a));
            }
            out.push('\n');
        }
        out.push('\n');
        let _ = writeln!(out, "exact: {}/{} ({:.1}%)", self.correct(), self.total(), 100.0 * self.accuracy());
        let (total, recognised, agreed) = self.bounce_scores();
        if total > 0 {
            let _ = writeln!(out, "bounces recognised as bounces: {}/{} ({:.1}%)", recognised, total, 100.0 * ratio(recognised, total));
            let _ = writeln!(out, "hard/soft agreement: {}/{} ({:.1}%)", agreed, total, 100.0 * ratio(agreed, total));
        }
        if self.errors > 0 {
            let _ = writeln!(out, "unparseable inputs: {}", self.errors);
        }
        out
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_with_header_and_source_column() {
        let l = parse_labels("path,label,source\na.eml,bounce_hard,x\n\nb.eml,fbl_complaint,y\n").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].kind, Kind::Complaint);
        assert!(parse_labels("a.eml,nonsense\n").is_err());
    }

    #[test]
    fn scores() {
        let mut c = Confusion::default();
        c.add(Kind::BounceHard, Kind::BounceHard);
        c.add(Kind::BounceHard, Kind::BounceSoft);
        c.add(Kind::BounceSoft, Kind::Human);
        c.add(Kind::Human, Kind::Human);
        assert_eq!(c.bounce_scores(), (3, 2, 1));
        assert_eq!(c.correct(), 2);
        assert!(c.render().contains("| bounce_hard | 0 | 1 | 1 |"));
    }
}
