//! Return dates in out-of-office text, in English, German, French, Spanish,
//! Italian, Dutch and Portuguese: ISO dates, numeric dates (`14.03.2025`,
//! `14/03/2025`, `3/14/2025`) and written ones (`14 March 2025`,
//! `March 14th`, `14. März`, `14 de marzo de 2025`, `1er avril`).
//!
//! Dates without a year take the year that puts them on or after the
//! message date. Dates before the message date are ignored (they are the
//! start of the absence or quoted history). A date after a "until"/"back
//! on"-style cue wins; otherwise the latest date is the return date.

use time::{Date, Month};

const MONTHS: &[(&str, u8)] = &[
    // English
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("sept", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
    // German
    ("januar", 1),
    ("jänner", 1),
    ("februar", 2),
    ("märz", 3),
    ("maerz", 3),
    ("mai", 5),
    ("juni", 6),
    ("juli", 7),
    ("oktober", 10),
    ("dezember", 12),
    ("okt", 10),
    ("dez", 12),
    // French
    ("janvier", 1),
    ("février", 2),
    ("fevrier", 2),
    ("mars", 3),
    ("avril", 4),
    ("juin", 6),
    ("juillet", 7),
    ("août", 8),
    ("aout", 8),
    ("septembre", 9),
    ("octobre", 10),
    ("novembre", 11),
    ("décembre", 12),
    ("decembre", 12),
    // Spanish
    ("enero", 1),
    ("febrero", 2),
    ("marzo", 3),
    ("abril", 4),
    ("mayo", 5),
    ("junio", 6),
    ("julio", 7),
    ("agosto", 8),
    ("septiembre", 9),
    ("setiembre", 9),
    ("octubre", 10),
    ("noviembre", 11),
    ("diciembre", 12),
    // Italian
    ("gennaio", 1),
    ("febbraio", 2),
    ("aprile", 4),
    ("maggio", 5),
    ("giugno", 6),
    ("luglio", 7),
    ("settembre", 9),
    ("ottobre", 10),
    ("dicembre", 12),
    // Dutch
    ("januari", 1),
    ("februari", 2),
    ("maart", 3),
    ("mei", 5),
    ("augustus", 8),
    // Portuguese
    ("janeiro", 1),
    ("fevereiro", 2),
    ("março", 3),
    ("marco", 3),
    ("maio", 5),
    ("junho", 6),
    ("julho", 7),
    ("setembro", 9),
    ("outubro", 10),
    ("novembro", 11),
    ("dezembro", 12),
];

/// Words after which a date is the return date (or the last day away).
const CUES: &[&str] = &[
    "until",
    "till",
    "til",
    "through",
    "back",
    "return",
    "returning",
    "returns",
    "after",
    "bis",
    "einschließlich",
    "zurück",
    "wieder",
    "ab",
    "jusqu",
    "jusqu'au",
    "jusqu’au",
    "retour",
    "partir",
    "hasta",
    "regreso",
    "regresaré",
    "vuelta",
    "volveré",
    "fino",
    "al",
    "rientro",
    "rientrerò",
    "ritorno",
    "tot",
    "terug",
    "vanaf",
    "met",
    "até",
    "retorno",
    "volta",
    "voltarei",
    "retornarei",
];

/// Words that may sit between a day number and the month.
const DAY_FILLERS: &[&str] = &["st", "nd", "rd", "th", "er", "de", "of", "º", "o", "ème"];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num { value: u32, digits: usize },
    Word(String),
    Sep(char),
}

#[derive(Debug)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_ascii_digit() {
            let mut end = i;
            let mut value: u32 = 0;
            let mut digits = 0;
            while let Some(&(j, d)) = chars.peek() {
                if !d.is_ascii_digit() {
                    break;
                }
                value = value.saturating_mul(10).saturating_add(d as u32 - '0' as u32);
                digits += 1;
                end = j + 1;
                chars.next();
            }
            out.push(Token { tok: Tok::Num { value, digits }, start: i, end });
        } else if c.is_alphabetic() || c == 'º' {
            let mut end = i;
            let mut word = String::new();
            while let Some(&(j, d)) = chars.peek() {
                if !(d.is_alphabetic() || d == 'º' || d == '\'' || d == '’') {
                    break;
                }
                word.extend(d.to_lowercase());
                end = j + d.len_utf8();
                chars.next();
            }
            out.push(Token { tok: Tok::Word(word), start: i, end });
        } else if c.is_whitespace() {
            chars.next();
        } else {
            out.push(Token { tok: Tok::Sep(c), start: i, end: i + c.len_utf8() });
            chars.next();
        }
        if out.len() > 20_000 {
            break;
        }
    }
    out
}

fn month_of(word: &str) -> Option<u8> {
    let w = word.trim_end_matches('.');
    MONTHS.iter().find(|(name, _)| *name == w).map(|(_, m)| *m)
}

struct Candidate {
    year: Option<i32>,
    month: u8,
    day: u8,
    index: usize,
}

/// Finds the return date in out-of-office text. `reference` is the date the
/// message was sent; `month_first` resolves `3/4/2025` as March 4th.
pub(crate) fn return_date(text: &str, reference: Option<Date>, month_first: bool) -> Option<Date> {
    let toks = tokenize(text);
    let mut cands = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if let Some((c, used)) = candidate_at(&toks, i, month_first) {
            cands.push(c);
            i += used;
        } else {
            i += 1;
        }
    }
    let mut resolved: Vec<(Date, bool)> = Vec::new();
    for c in &cands {
        let Some(date) = resolve(c, reference) else {
            continue;
        };
        if let Some(r) = reference
            && (date < r.previous_day().unwrap_or(r) || date > r.saturating_add(time::Duration::days(400)))
        {
            continue;
        }
        resolved.push((date, cued(&toks, c.index)));
    }
    let cued_max = resolved.iter().filter(|(_, cue)| *cue).map(|(d, _)| *d).max();
    cued_max.or_else(|| resolved.iter().map(|(d, _)| *d).max())
}

fn cued(toks: &[Token], index: usize) -> bool {
    toks[index.saturating_sub(4)..index].iter().any(|t| match &t.tok {
        Tok::Word(w) => CUES.iter().any(|c| w == c || w.starts_with("jusqu")),
        _ => false,
    })
}

fn resolve(c: &Candidate, reference: Option<Date>) -> Option<Date> {
    let month = Month::try_from(c.month).ok()?;
    match c.year {
        Some(y) => Date::from_calendar_date(y, month, c.day).ok(),
        None => {
            let r = reference?;
            let this = Date::from_calendar_date(r.year(), month, c.day).ok();
            // Only a date far behind the message date means next year
            // ("back on 5 January" sent in December); one a few days back is
            // the start of the absence.
            match this {
                Some(d) if d >= r.saturating_sub(time::Duration::days(60)) => Some(d),
                _ => Date::from_calendar_date(r.year() + 1, month, c.day).ok(),
            }
        }
    }
}

fn adjacent(toks: &[Token], a: usize, b: usize) -> bool {
    toks[a].end == toks[b].start
}

fn num(t: Option<&Token>) -> Option<(u32, usize)> {
    match t.map(|t| &t.tok) {
        Some(Tok::Num { value, digits }) => Some((*value, *digits)),
        _ => None,
    }
}

fn sep(t: Option<&Token>) -> Option<char> {
    match t.map(|t| &t.tok) {
        Some(Tok::Sep(c)) => Some(*c),
        _ => None,
    }
}

fn word(t: Option<&Token>) -> Option<&str> {
    match t.map(|t| &t.tok) {
        Some(Tok::Word(w)) => Some(w.as_str()),
        _ => None,
    }
}

fn year_of(value: u32, digits: usize) -> Option<i32> {
    match digits {
        4 if (1990..=2100).contains(&value) => Some(value as i32),
        2 => Some(2000 + value as i32),
        _ => None,
    }
}

fn valid_day(d: u32) -> bool {
    (1..=31).contains(&d)
}

/// A date starting at token `i`, and how many tokens it used.
fn candidate_at(toks: &[Token], i: usize, month_first: bool) -> Option<(Candidate, usize)> {
    let (a, ad) = match num(toks.get(i)) {
        Some(n) => n,
        None => return written_month_first(toks, i),
    };
    // ISO 2025-03-14
    if ad == 4
        && sep(toks.get(i + 1)) == Some('-')
        && let (Some((m, _)), Some('-'), Some((d, _))) = (num(toks.get(i + 2)), sep(toks.get(i + 3)), num(toks.get(i + 4)))
        && adjacent(toks, i, i + 1)
        && adjacent(toks, i + 1, i + 2)
        && adjacent(toks, i + 3, i + 4)
        && (1..=12).contains(&m)
        && valid_day(d)
    {
        return Some((Candidate { year: year_of(a, ad), month: m as u8, day: d as u8, index: i }, 5));
    }
    if ad <= 2 {
        // Numeric 14.03.2025, 14/03/25, 3/14/2025, 14.03.
        if let Some(s @ ('.' | '/' | '-')) = sep(toks.get(i + 1))
            && adjacent(toks, i, i + 1)
            && let Some((b, bd)) = num(toks.get(i + 2))
            && bd <= 2
            && adjacent(toks, i + 1, i + 2)
        {
            let mut used = 3;
            let mut year = None;
            if sep(toks.get(i + 3)) == Some(s)
                && toks.get(i + 4).is_some_and(|_| adjacent(toks, i + 2, i + 3))
                && let Some((y, yd)) = num(toks.get(i + 4))
                && adjacent(toks, i + 3, i + 4)
            {
                year = year_of(y, yd);
                year?;
                used = 5;
            } else if s != '.' {
                // "3/4" alone is too often a fraction or a score.
                return None;
            }
            // Dots are always day first; slashes and dashes only when the
            // day cannot be the month or the text is not US English.
            let day_first = s == '.' || a > 12 || !(b > 12 || month_first);
            let (day, month) = if day_first { (a, b) } else { (b, a) };
            if valid_day(day) && (1..=12).contains(&month) {
                return Some((Candidate { year, month: month as u8, day: day as u8, index: i }, used));
            }
            return None;
        }
        // Written, day first: 14 March 2025, 14. März, 14th of March, 14 de marzo de 2025
        if valid_day(a) {
            let mut j = i + 1;
            if sep(toks.get(j)) == Some('.') {
                j += 1;
            }
            while let Some(w) = word(toks.get(j)) {
                if DAY_FILLERS.contains(&w) {
                    j += 1;
                } else {
                    break;
                }
            }
            if let Some(m) = word(toks.get(j)).and_then(month_of) {
                let mut k = j + 1;
                if sep(toks.get(k)) == Some('.') || sep(toks.get(k)) == Some(',') {
                    k += 1;
                }
                if word(toks.get(k)) == Some("de") {
                    k += 1;
                }
                let year = num(toks.get(k)).and_then(|(y, yd)| (yd == 4).then_some(y)).and_then(|y| year_of(y, 4));
                let used = if year.is_some() { k + 1 - i } else { j + 1 - i };
                return Some((Candidate { year, month: m, day: a as u8, index: i }, used));
            }
        }
    }
    None
}

/// Written, month first: March 14, 2025 / March 14th.
fn written_month_first(toks: &[Token], i: usize) -> Option<(Candidate, usize)> {
    let w = word(toks.get(i))?;
    // "may" is an English verb far more often than a month here.
    if w == "may" && !matches!(num(toks.get(i + 1)), Some((_, 1 | 2))) {
        return None;
    }
    let m = month_of(w)?;
    let mut j = i + 1;
    if sep(toks.get(j)) == Some('.') {
        j += 1;
    }
    let (d, dd) = num(toks.get(j))?;
    if dd > 2 || !valid_day(d) {
        return None;
    }
    let mut k = j + 1;
    if word(toks.get(k)).is_some_and(|w| matches!(w, "st" | "nd" | "rd" | "th")) {
        k += 1;
    }
    if sep(toks.get(k)) == Some(',') {
        k += 1;
    }
    let year = num(toks.get(k)).and_then(|(y, yd)| (yd == 4).then(|| year_of(y, 4)).flatten());
    let used = if year.is_some() { k + 1 - i } else { j + 1 - i };
    Some((Candidate { year, month: m, day: d as u8, index: i }, used))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn rd(text: &str) -> Option<Date> {
        return_date(text, Some(date!(2025 - 03 - 03)), false)
    }

    #[test]
    fn formats() {
        assert_eq!(rd("I am back on 2025-03-14."), Some(date!(2025 - 03 - 14)));
        assert_eq!(rd("Ich bin bis 14.03.2025 nicht im Büro."), Some(date!(2025 - 03 - 14)));
        assert_eq!(rd("bis zum 14.3. abwesend"), Some(date!(2025 - 03 - 14)));
        assert_eq!(rd("until March 14th, 2025"), Some(date!(2025 - 03 - 14)));
        assert_eq!(rd("de retour le 1er avril"), Some(date!(2025 - 04 - 01)));
        assert_eq!(rd("hasta el 10 de marzo de 2025"), Some(date!(2025 - 03 - 10)));
        assert_eq!(rd("tot en met 14 maart"), Some(date!(2025 - 03 - 14)));
        assert_eq!(rd("até 20 de março de 2025"), Some(date!(2025 - 03 - 20)));
        assert_eq!(rd("fino al 12/03/2025"), Some(date!(2025 - 03 - 12)));
    }

    #[test]
    fn month_first_only_when_asked_or_forced() {
        let r = Some(date!(2025 - 03 - 03));
        assert_eq!(return_date("back on 4/5/2025", r, true), Some(date!(2025 - 04 - 05)));
        assert_eq!(return_date("back on 4/5/2025", r, false), Some(date!(2025 - 05 - 04)));
        assert_eq!(return_date("back on 3/14/2025", r, false), Some(date!(2025 - 03 - 14)));
    }

    #[test]
    fn range_and_past_dates() {
        assert_eq!(rd("away from 1 March to 10 March"), Some(date!(2025 - 03 - 10)));
        assert_eq!(rd("out of office from 5 March, back 12 March, call 17 March for sales"), Some(date!(2025 - 03 - 12)));
        assert_eq!(rd("since 1 February 2025"), None);
        assert_eq!(rd("in January"), None);
    }

    #[test]
    fn year_rolls_over() {
        let r = Some(date!(2025 - 12 - 20));
        assert_eq!(return_date("back on 5 January", r, false), Some(date!(2026 - 01 - 05)));
    }
}
