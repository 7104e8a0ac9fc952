//! Message templates: text with `{{ variable }}` placeholders, filled in per contact.
//!
//! # Syntax
//!
//! - `{{first_name}}` or `{{ first_name }}`: the contact's value for `first_name`.
//! - `{{ first_name | there }}`: the same, with a fallback. Everything after the first
//!   `|`, trimmed, is used literally when the value is absent or blank. It may hold
//!   spaces and punctuation (`{{ company | your team, and you }}`), but not `}}` or
//!   `{{`. An empty fallback (`{{ title | }}`) renders nothing.
//! - Variable names are 1 to 64 characters of `a-z`, `0-9`, `_` and `.`. Custom fields
//!   look like any other name (`custom.industry_vertical` or `industry_vertical`): which
//!   names exist is the caller's business, asked through
//!   [`MessageTemplate::unknown_variables`].
//! - Everything else is literal text. A lone `{`, `}` or `}}` is just text.
//!
//! There is deliberately no way to write a literal `{{`. Outreach e-mails have no use
//! for it, and every escape syntax (`{{{{`, `\{{`) is one more thing a user can get
//! wrong in a template that goes out to thousands of people. Writing `{{` always
//! starts a placeholder, so a typo is an error at save time, never a surprise in a
//! sent message.
//!
//! # Rendering
//!
//! Whatever replaces a placeholder (a value or a fallback) is trimmed and escaped for
//! where it goes ([`Escape`]); the template's own text is the author's and is left as
//! written. A value that is absent or only whitespace counts as missing: the fallback
//! is used, or, without one, rendering fails and names every missing variable, so a
//! message never goes out saying "Hi ," to someone.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The values for one contact, by variable name.
pub type Values = BTreeMap<String, String>;

/// The variables every workspace can use without defining them.
pub const STANDARD_VARIABLES: &[&str] = &[
    "first_name",
    "last_name",
    "full_name",
    "email",
    "company",
    "title",
    "domain",
    "website",
    "my_company",
    "my_company_description",
    "sender_name",
    "first_line",
];

/// The longest variable name accepted, in characters.
pub const MAX_VARIABLE_NAME_CHARS: usize = 64;

/// The longest rendered subject, in characters; longer subjects are cut to this.
///
/// 998 is RFC 5322's line limit. The MIME encoder folds and encodes the header on the
/// wire, so this is a sanity bound rather than a wire rule: nobody reads a
/// thousand-character subject, and it only happens when a value is wildly long (a
/// whole paragraph in a company column). Cutting it keeps one odd contact from
/// stopping a sequence; failing would give the user nothing to fix in the template.
pub const MAX_SUBJECT_CHARS: usize = 998;

/// A parsed template, ready to render many times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
}

/// One piece of a template: literal text, or a placeholder to fill in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(String),
    Variable { name: String, fallback: Option<String> },
}

/// Why a template could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {problem}")]
pub struct TemplateError {
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column of the problem, counted in characters (not bytes).
    pub column: usize,
    pub problem: TemplateProblem,
}

/// What is wrong with a template, in words a template author understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateProblem {
    #[error("`{{{{` is never closed; end the variable with `}}}}`")]
    Unclosed,
    #[error("`{{{{` inside another variable; close the first one with `}}}}` before starting the next")]
    Nested,
    #[error("`{{{{ }}}}` has no variable name")]
    EmptyName,
    #[error("variable `{name}` contains {character:?}; names use lower-case letters, digits, `_` and `.`")]
    InvalidCharacter { name: String, character: char },
    #[error("variable `{name}` has upper-case letters; names are lower-case: `{lower_case}`")]
    UpperCase { name: String, lower_case: String },
    #[error("variable name is {length} characters long; at most {MAX_VARIABLE_NAME_CHARS} are allowed")]
    NameTooLong { length: usize },
}

/// How substituted text is made safe for where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// As is: a plain-text body.
    None,
    /// `&`, `<`, `>`, `"` and `'` become entities: a value can never open a tag or
    /// leave an attribute.
    Html,
    /// For a header such as the subject: every control character (CR, LF, tab, ...)
    /// and the Unicode line and paragraph separators become a space. Unlike the other
    /// modes this applies to the template's own text too, so the output is always one
    /// line and can never smuggle in another header.
    HeaderLine,
}

/// Rendering needs values that the contact does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("missing values for: {}", missing.join(", "))]
pub struct RenderError {
    /// Variables without a fallback whose values are absent or blank; sorted, distinct.
    pub missing: Vec<String>,
}

/// Parses a template. See the [module documentation](self) for the syntax.
pub fn parse(source: &str) -> Result<Template, TemplateError> {
    let mut segments = Vec::new();
    let mut text_start = 0;
    while let Some(found) = source[text_start..].find("{{") {
        let open = text_start + found;
        if open > text_start {
            segments.push(Segment::Text(source[text_start..open].to_string()));
        }
        let inside_start = open + 2;
        let Some(close) = source[inside_start..].find("}}") else {
            return Err(error_at(source, open, TemplateProblem::Unclosed));
        };
        let inside = &source[inside_start..inside_start + close];
        if let Some(nested) = inside.find("{{") {
            return Err(error_at(source, inside_start + nested, TemplateProblem::Nested));
        }
        segments.push(parse_placeholder(source, inside_start, inside)?);
        text_start = inside_start + close + 2;
    }
    if text_start < source.len() {
        segments.push(Segment::Text(source[text_start..].to_string()));
    }
    Ok(Template { segments })
}

/// Parses what is between `{{` and `}}`; `offset` is where `inside` starts in `source`.
fn parse_placeholder(source: &str, offset: usize, inside: &str) -> Result<Segment, TemplateError> {
    let (raw_name, fallback) = match inside.split_once('|') {
        Some((name, fallback)) => (name, Some(fallback.trim().to_string())),
        None => (inside, None),
    };
    let name = raw_name.trim();
    let name_offset = offset + (raw_name.len() - raw_name.trim_start().len());
    if name.is_empty() {
        return Err(error_at(source, offset - 2, TemplateProblem::EmptyName));
    }
    if let Some((index, character)) = name.char_indices().find(|(_, c)| !is_name_char(*c)) {
        let shown = shorten(name);
        let problem = if character.is_ascii_uppercase() && name.chars().all(|c| is_name_char(c.to_ascii_lowercase())) {
            TemplateProblem::UpperCase { lower_case: shown.to_ascii_lowercase(), name: shown }
        } else {
            TemplateProblem::InvalidCharacter { name: shown, character }
        };
        return Err(error_at(source, name_offset + index, problem));
    }
    let length = name.chars().count();
    if length > MAX_VARIABLE_NAME_CHARS {
        return Err(error_at(source, name_offset, TemplateProblem::NameTooLong { length }));
    }
    Ok(Segment::Variable { name: name.to_string(), fallback })
}

fn is_name_char(c: char) -> bool {
    matches!(c, 'a'..='z' | '0'..='9' | '_' | '.')
}

/// A name as shown in an error message: never more than a line's worth.
fn shorten(name: &str) -> String {
    name.chars().take(MAX_VARIABLE_NAME_CHARS).collect()
}

/// Builds an error for the byte offset `at` in `source`, as a 1-based line and column.
fn error_at(source: &str, at: usize, problem: TemplateProblem) -> TemplateError {
    let before = &source[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    TemplateError { line, column, problem }
}

impl Template {
    /// The distinct variable names, in order of first use.
    pub fn variables(&self) -> Vec<&str> {
        let mut seen = BTreeSet::new();
        self.placeholders().map(|(name, _)| name).filter(|name| seen.insert(*name)).collect()
    }

    /// Whether `name` is used and every use of it has a fallback, so the template
    /// renders even when the contact has no value for it.
    pub fn has_fallback(&self, name: &str) -> bool {
        let mut uses = self.placeholders().filter(|(used, _)| *used == name).peekable();
        uses.peek().is_some() && uses.all(|(_, fallback)| fallback.is_some())
    }

    /// Fills in the placeholders from `values`. Fails, naming every missing variable,
    /// when a value is absent or blank and its placeholder has no fallback.
    pub fn render(&self, values: &Values, escape: Escape) -> Result<String, RenderError> {
        let mut output = String::new();
        let mut missing = BTreeSet::new();
        for segment in &self.segments {
            match segment {
                Segment::Text(text) => match escape {
                    Escape::HeaderLine => push_header_safe(&mut output, text),
                    Escape::None | Escape::Html => output.push_str(text),
                },
                Segment::Variable { name, fallback } => {
                    let value = values.get(name).map(|value| value.trim()).filter(|value| !value.is_empty());
                    match value.or(fallback.as_deref()) {
                        Some(replacement) => push_escaped(&mut output, replacement, escape),
                        None => {
                            missing.insert(name.clone());
                        }
                    }
                }
            }
        }
        if missing.is_empty() { Ok(output) } else { Err(RenderError { missing: missing.into_iter().collect() }) }
    }

    /// Every placeholder, in order: its name and its fallback.
    fn placeholders(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Variable { name, fallback } => Some((name.as_str(), fallback.as_deref())),
            Segment::Text(_) => None,
        })
    }
}

fn push_escaped(output: &mut String, text: &str, escape: Escape) {
    match escape {
        Escape::None => output.push_str(text),
        Escape::Html => {
            for c in text.chars() {
                match c {
                    '&' => output.push_str("&amp;"),
                    '<' => output.push_str("&lt;"),
                    '>' => output.push_str("&gt;"),
                    '"' => output.push_str("&quot;"),
                    '\'' => output.push_str("&#39;"),
                    other => output.push(other),
                }
            }
        }
        Escape::HeaderLine => push_header_safe(output, text),
    }
}

fn push_header_safe(output: &mut String, text: &str) {
    output.extend(text.chars().map(|c| {
        // U+2028 and U+2029 are not control characters, but some clients break lines on them.
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' { ' ' } else { c }
    }));
}

/// Which part of a message a template is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessagePart {
    Subject,
    Text,
    Html,
}

impl MessagePart {
    /// The part's name as the API and the UI call it: `subject`, `text` or `html`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessagePart::Subject => "subject",
            MessagePart::Text => "text",
            MessagePart::Html => "html",
        }
    }
}

impl fmt::Display for MessagePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A template of a message failed to parse: which part, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {error}")]
pub struct FieldError {
    pub field: MessagePart,
    pub error: TemplateError,
}

/// A message template: subject + text body + optional HTML body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTemplate {
    pub subject: Template,
    pub text: Template,
    pub html: Option<Template>,
}

/// A message rendered for one contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderedMessage {
    /// One line, at most [`MAX_SUBJECT_CHARS`] characters.
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

impl MessageTemplate {
    /// Parses the three parts; the error names the first part that fails.
    pub fn parse(subject: &str, text: &str, html: Option<&str>) -> Result<Self, FieldError> {
        let subject = parse(subject).map_err(|error| FieldError { field: MessagePart::Subject, error })?;
        let text = parse(text).map_err(|error| FieldError { field: MessagePart::Text, error })?;
        let html = html.map(parse).transpose().map_err(|error| FieldError { field: MessagePart::Html, error })?;
        Ok(Self { subject, text, html })
    }

    /// The variables used anywhere in the message that `is_known` does not accept;
    /// sorted, distinct. A template using one cannot be rendered for anybody, so the
    /// editor reports them when the template is saved.
    pub fn unknown_variables(&self, is_known: impl Fn(&str) -> bool) -> Vec<String> {
        let unknown: BTreeSet<&str> = self.templates().flat_map(Template::variables).filter(|name| !is_known(name)).collect();
        unknown.into_iter().map(str::to_string).collect()
    }

    /// Renders the message for one contact: the subject as one header-safe line (cut to
    /// [`MAX_SUBJECT_CHARS`]), the text body as is, the HTML body HTML-escaped. On
    /// failure the missing variables of all three parts are reported together.
    pub fn render(&self, values: &Values) -> Result<RenderedMessage, RenderError> {
        let subject = self.subject.render(values, Escape::HeaderLine);
        let text = self.text.render(values, Escape::None);
        let html = self.html.as_ref().map(|html| html.render(values, Escape::Html)).transpose();
        match (subject, text, html) {
            (Ok(subject), Ok(text), Ok(html)) => Ok(RenderedMessage { subject: cut_subject(subject), text, html }),
            (subject, text, html) => {
                let missing: BTreeSet<String> =
                    [subject.err(), text.err(), html.err()].into_iter().flatten().flat_map(|error| error.missing).collect();
                Err(RenderError { missing: missing.into_iter().collect() })
            }
        }
    }

    fn templates(&self) -> impl Iterator<Item = &Template> {
        [Some(&self.subject), Some(&self.text), self.html.as_ref()].into_iter().flatten()
    }
}

fn cut_subject(subject: String) -> String {
    match subject.char_indices().nth(MAX_SUBJECT_CHARS) {
        Some((cut_at, _)) => subject[..cut_at].to_string(),
        None => subject,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn values(pairs: &[(&str, &str)]) -> Values {
        pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
    }

    fn render(source: &str, pairs: &[(&str, &str)]) -> Result<String, RenderError> {
        parse(source).unwrap().render(&values(pairs), Escape::None)
    }

    fn problem_at(source: &str) -> (usize, usize, TemplateProblem) {
        let error = parse(source).unwrap_err();
        (error.line, error.column, error.problem)
    }

    #[test]
    fn variables_are_filled_in_with_or_without_spaces() {
        let rendered = render("Hi {{first_name}}, {{ company }} rocks", &[("first_name", "Jane"), ("company", "Acme")]);
        assert_eq!(rendered.unwrap(), "Hi Jane, Acme rocks");
    }

    #[test]
    fn a_fallback_is_used_for_absent_or_blank_values() {
        let source = "Hi {{ first_name | there }}, {{ company | your team, and you! }}";
        assert_eq!(render(source, &[]).unwrap(), "Hi there, your team, and you!");
        assert_eq!(render(source, &[("first_name", "  "), ("company", "")]).unwrap(), "Hi there, your team, and you!");
        assert_eq!(render(source, &[("first_name", " Jane ")]).unwrap(), "Hi Jane, your team, and you!");
    }

    #[test]
    fn an_empty_fallback_renders_nothing() {
        assert_eq!(render("Hi{{ title | }}!", &[]).unwrap(), "Hi!");
        assert!(parse("{{ title | }}").unwrap().has_fallback("title"));
    }

    #[test]
    fn everything_after_the_first_bar_is_the_fallback() {
        assert_eq!(render("{{ a | x | y }}", &[]).unwrap(), "x | y");
    }

    #[test]
    fn missing_values_are_all_named_sorted_and_once() {
        let error = render("{{ last_name }} {{first_name}} {{ first_name }} {{ company | x }}", &[]).unwrap_err();
        assert_eq!(error.missing, vec!["first_name", "last_name"]);
        assert_eq!(error.to_string(), "missing values for: first_name, last_name");
    }

    #[test]
    fn stray_braces_are_text() {
        assert_eq!(render("a { b } c }} d", &[]).unwrap(), "a { b } c }} d");
        assert_eq!(render("", &[]).unwrap(), "");
    }

    #[test]
    fn variables_are_listed_once_in_order_of_first_use() {
        let template = parse("{{ b }} {{a}} {{ b | x }} {{ custom.industry_vertical }}").unwrap();
        assert_eq!(template.variables(), vec!["b", "a", "custom.industry_vertical"]);
    }

    #[test]
    fn has_fallback_needs_every_use_to_have_one() {
        let template = parse("{{ a | x }} {{ b | y }} {{ b }}").unwrap();
        assert!(template.has_fallback("a"));
        assert!(!template.has_fallback("b"));
        assert!(!template.has_fallback("not_used"));
    }

    #[test]
    fn errors_point_at_the_problem() {
        assert_eq!(problem_at("Hi {{ first_name"), (1, 4, TemplateProblem::Unclosed));
        assert_eq!(problem_at("Hi\n  {{ a {{ b }}"), (2, 8, TemplateProblem::Nested));
        assert_eq!(problem_at("x {{  }}"), (1, 3, TemplateProblem::EmptyName));
        assert_eq!(problem_at("x {{ | there }}"), (1, 3, TemplateProblem::EmptyName));
        assert_eq!(
            problem_at("héllo {{ first name }}"),
            (1, 15, TemplateProblem::InvalidCharacter { name: "first name".into(), character: ' ' })
        );
        assert_eq!(
            problem_at("{{First_Name}}"),
            (1, 3, TemplateProblem::UpperCase { name: "First_Name".into(), lower_case: "first_name".into() })
        );
        assert_eq!(problem_at(&format!("{{{{{}}}}}", "a".repeat(65))), (1, 3, TemplateProblem::NameTooLong { length: 65 }));
        assert!(parse(&format!("{{{{{}}}}}", "a".repeat(64))).is_ok());
    }

    #[test]
    fn errors_read_well() {
        let error = parse("Hi {{ first-name }}").unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 1, column 12: variable `first-name` contains '-'; names use lower-case letters, digits, `_` and `.`"
        );
        let error = parse("Hi {{ x").unwrap_err();
        assert_eq!(error.to_string(), "line 1, column 4: `{{` is never closed; end the variable with `}}`");
    }

    #[test]
    fn triple_braces_are_an_error_not_an_escape() {
        let (line, column, problem) = problem_at("{{{name}}}");
        assert_eq!((line, column), (1, 3));
        assert!(matches!(problem, TemplateProblem::InvalidCharacter { character: '{', .. }));
    }

    #[test]
    fn html_escaping_covers_values_and_fallbacks_but_not_the_template() {
        let template = parse("<p>{{ company }} &amp; {{ x | <b>'\" }}</p>").unwrap();
        let rendered = template.render(&values(&[("company", "A&B <script>")]), Escape::Html).unwrap();
        assert_eq!(rendered, "<p>A&amp;B &lt;script&gt; &amp; &lt;b&gt;&#39;&quot;</p>");
    }

    #[test]
    fn header_lines_lose_every_line_break() {
        let template = parse("Re: {{ company }}\r\nBcc: x").unwrap();
        let rendered = template.render(&values(&[("company", "Acme\r\nBcc:\u{2028}evil@example.com")]), Escape::HeaderLine);
        assert_eq!(rendered.unwrap(), "Re: Acme  Bcc: evil@example.com  Bcc: x");
    }

    #[test]
    fn a_message_renders_each_part_with_its_escaping() {
        let message = MessageTemplate::parse("Hi {{ first_name }}", "Hi {{first_name}}", Some("<p>{{ first_name }}</p>")).unwrap();
        let rendered = message.render(&values(&[("first_name", "<Jane>\n")])).unwrap();
        assert_eq!(
            rendered,
            RenderedMessage { subject: "Hi <Jane>".into(), text: "Hi <Jane>".into(), html: Some("<p>&lt;Jane&gt;</p>".into()) }
        );
    }

    #[test]
    fn a_message_reports_missing_values_of_all_parts_together() {
        let message = MessageTemplate::parse("{{ b }}", "{{ a }} {{ b }}", Some("{{ c }}")).unwrap();
        assert_eq!(message.render(&Values::new()).unwrap_err().missing, vec!["a", "b", "c"]);
    }

    #[test]
    fn a_message_parse_error_names_the_part() {
        let error = MessageTemplate::parse("ok", "fine", Some("<p>{{ oops</p>")).unwrap_err();
        assert_eq!(error.field, MessagePart::Html);
        assert_eq!(error.to_string(), "html: line 1, column 4: `{{` is never closed; end the variable with `}}`");
        let error = MessageTemplate::parse("{{}}", "{{ also bad", None).unwrap_err();
        assert_eq!(error.field, MessagePart::Subject);
    }

    #[test]
    fn unknown_variables_are_distinct_and_sorted() {
        let message = MessageTemplate::parse("{{ zeta }} {{ first_name }}", "{{ custom.size }} {{ zeta }}", Some("{{ alpha }}")).unwrap();
        let unknown = message.unknown_variables(|name| STANDARD_VARIABLES.contains(&name));
        assert_eq!(unknown, vec!["alpha", "custom.size", "zeta"]);
    }

    #[test]
    fn a_long_subject_is_cut_on_a_character_boundary() {
        let message = MessageTemplate::parse("{{ company }}", "", None).unwrap();
        let rendered = message.render(&values(&[("company", &"ü".repeat(2000))])).unwrap();
        assert_eq!(rendered.subject.chars().count(), MAX_SUBJECT_CHARS);
    }

    /// Template sources rich in the characters the parser cares about.
    fn template_source() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("{{".to_string()),
                Just("}}".to_string()),
                Just("|".to_string()),
                Just("\n".to_string()),
                Just(" ".to_string()),
                "[a-c_.]{1,3}",
                any::<char>().prop_map(String::from),
            ],
            0..24,
        )
        .prop_map(|pieces| pieces.concat())
    }

    fn any_values() -> impl Strategy<Value = Values> {
        proptest::collection::btree_map("[a-c_.]{1,3}", any::<String>(), 0..6)
    }

    proptest! {
        #[test]
        fn parsing_and_rendering_never_panic(source in template_source(), values in any_values()) {
            if let Ok(template) = parse(&source) {
                for escape in [Escape::None, Escape::Html, Escape::HeaderLine] {
                    let _ = template.render(&values, escape);
                }
                let _ = template.variables();
            }
        }

        #[test]
        fn arbitrary_text_never_panics(source in any::<String>()) {
            let _ = parse(&source);
        }

        #[test]
        fn an_error_position_is_inside_the_source(source in template_source()) {
            if let Err(error) = parse(&source) {
                let line = source.split('\n').nth(error.line - 1);
                prop_assert!(line.is_some());
                // A column may point just past the last character: at the line break itself.
                prop_assert!(error.column <= line.unwrap().chars().count() + 1);
            }
        }

        #[test]
        fn html_values_can_never_inject_a_tag(first in any::<String>(), company in any::<String>()) {
            let template = parse("<p>Hi {{ first_name | there }}, {{ company }}</p>").unwrap();
            let values = values(&[("first_name", &first), ("company", &company)]);
            if let Ok(html) = template.render(&values, Escape::Html) {
                prop_assert_eq!(html.matches('<').count(), 2);
                prop_assert_eq!(html.matches('>').count(), 2);
                prop_assert!(!html.contains('"') && !html.contains('\''));
            }
        }

        #[test]
        fn header_lines_never_contain_a_line_break(source in template_source(), values in any_values()) {
            if let Ok(template) = parse(&source)
                && let Ok(line) = template.render(&values, Escape::HeaderLine)
            {
                prop_assert!(!line.contains('\r') && !line.contains('\n'));
            }
        }

        #[test]
        fn text_without_placeholders_renders_as_itself(text in "[^{]*") {
            prop_assert_eq!(parse(&text).unwrap().render(&Values::new(), Escape::None).unwrap(), text);
        }
    }
}
