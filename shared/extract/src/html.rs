//! One walk over the parsed document that collects everything the extractors
//! read, so each extractor works on plain strings and the tree is walked once.

use scraper::{ElementRef, Html, Node};

/// Inline scripts are scanned for known globals only up to this many bytes
/// each, and this many in total: tag snippets sit near the top of a script,
/// and a megabyte of serialized state must not dominate the work.
const INLINE_SCRIPT_SCAN_BYTES: usize = 64 * 1024;
const INLINE_SCRIPT_TOTAL_BYTES: usize = 512 * 1024;
/// JSON-LD blocks larger than this are skipped (product feeds, not company data).
const JSONLD_MAX_BYTES: usize = 512 * 1024;
/// Anchors kept; a page with more links than this is a sitemap, not a home page.
const MAX_ANCHORS: usize = 2000;

#[derive(Debug, Default)]
pub(crate) struct Anchor {
    pub href: String,
    pub text: String,
}

#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub title: Option<String>,
    pub lang: Option<String>,
    pub base_href: Option<String>,
    /// `(name-or-property lowercased, content)`.
    pub metas: Vec<(String, String)>,
    pub jsonld: Vec<String>,
    pub script_srcs: Vec<String>,
    pub inline_scripts: Vec<String>,
    /// `<link href>` values (stylesheets, preconnects).
    pub link_hrefs: Vec<String>,
    pub anchors: Vec<Anchor>,
    pub form_actions: Vec<String>,
    /// Markup markers such as `attr:data-wf-site` or `id:__next`.
    pub markers: Vec<String>,
    /// Cloudflare-obfuscated addresses (`data-cfemail` hex).
    pub cf_emails: Vec<String>,
    /// Visible text, one line per block element.
    pub text: String,
}

impl Scan {
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metas.iter().find(|(k, v)| k == key && !v.trim().is_empty()).map(|(_, v)| v.trim())
    }
}

const SKIP_TEXT: &[&str] = &["script", "style", "noscript", "template", "svg", "head", "iframe", "object", "select", "textarea"];

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "body"
            | "br"
            | "dd"
            | "div"
            | "dl"
            | "dt"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "form"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "header"
            | "hr"
            | "li"
            | "main"
            | "nav"
            | "ol"
            | "p"
            | "pre"
            | "section"
            | "table"
            | "td"
            | "th"
            | "tr"
            | "ul"
            | "button"
            | "label"
            | "option"
            | "center"
    )
}

const ATTR_MARKERS: &[&str] = &[
    "data-wf-site",
    "data-wf-page",
    "data-reactroot",
    "data-react-helmet",
    "ng-version",
    "data-server-rendered",
    "data-n-head",
    "data-hubspot-form",
    "data-elementor-type",
    "data-cfemail",
];
const ID_MARKERS: &[&str] = &["__next", "__NEXT_DATA__", "__nuxt", "___gatsby", "hubspot-messages-iframe-container", "wix-warmup-data"];

pub(crate) fn scan(doc: &Html) -> Scan {
    let mut s = Scan::default();
    let mut inline_budget = INLINE_SCRIPT_TOTAL_BYTES;
    let mut text = String::new();
    // Iterative depth-first walk: recursion would overflow the stack on
    // pathological nesting.
    let root = doc.tree.root();
    let mut stack = vec![(root, false)];
    let mut skip_depth = 0usize;
    while let Some((node, closing)) = stack.pop() {
        if closing {
            if let Node::Element(el) = node.value() {
                let name = el.name();
                if SKIP_TEXT.contains(&name) {
                    skip_depth = skip_depth.saturating_sub(1);
                } else if is_block(name) {
                    text.push('\n');
                }
            }
            continue;
        }
        match node.value() {
            Node::Text(t) if skip_depth == 0 => {
                text.push_str(t);
            }
            Node::Element(el) => {
                let name = el.name();
                let Some(er) = ElementRef::wrap(node) else {
                    continue;
                };
                visit_element(&mut s, er, name, &mut inline_budget);
                if SKIP_TEXT.contains(&name) {
                    skip_depth += 1;
                } else if is_block(name) {
                    text.push('\n');
                }
                stack.push((node, true));
                let children: Vec<_> = node.children().collect();
                for c in children.into_iter().rev() {
                    stack.push((c, false));
                }
            }
            Node::Document | Node::Fragment => {
                let children: Vec<_> = node.children().collect();
                for c in children.into_iter().rev() {
                    stack.push((c, false));
                }
            }
            _ => {}
        }
    }
    s.text = normalise_lines(&text);
    s
}

fn visit_element(s: &mut Scan, er: ElementRef<'_>, name: &str, inline_budget: &mut usize) {
    let el = er.value();
    for (attr, value) in el.attrs() {
        if ATTR_MARKERS.contains(&attr) {
            let m = format!("attr:{attr}");
            if attr == "data-cfemail" {
                s.cf_emails.push(value.to_owned());
            } else if !s.markers.contains(&m) {
                s.markers.push(m);
            }
        } else if attr == "id" && ID_MARKERS.contains(&value) {
            s.markers.push(format!("id:{value}"));
        }
    }
    match name {
        "html" => s.lang = el.attr("lang").map(str::to_owned),
        "base" if s.base_href.is_none() => s.base_href = el.attr("href").map(str::to_owned),
        "title" if s.title.is_none() => s.title = Some(collapse(&er.text().collect::<String>())),
        "meta" => {
            let key = el.attr("property").or_else(|| el.attr("name")).or_else(|| el.attr("itemprop"));
            if let (Some(k), Some(c)) = (key, el.attr("content")) {
                s.metas.push((k.trim().to_ascii_lowercase(), c.to_owned()));
            }
        }
        "script" => {
            if let Some(src) = el.attr("src") {
                s.script_srcs.push(src.trim().to_owned());
            }
            let ty = el.attr("type").unwrap_or("").trim().to_ascii_lowercase();
            if ty == "application/ld+json" {
                let body: String = er.text().collect();
                if body.len() <= JSONLD_MAX_BYTES {
                    s.jsonld.push(body);
                }
            } else if el.attr("src").is_none() && *inline_budget > 0 {
                let cap = INLINE_SCRIPT_SCAN_BYTES.min(*inline_budget);
                let mut body = String::new();
                for chunk in er.text() {
                    let room = cap - body.len();
                    if chunk.len() <= room {
                        body.push_str(chunk);
                    } else {
                        body.push_str(prefix_at_boundary(chunk, room));
                        break;
                    }
                    if body.len() >= cap {
                        break;
                    }
                }
                *inline_budget -= body.len().min(*inline_budget);
                s.inline_scripts.push(body);
            }
        }
        "link" => {
            if let Some(h) = el.attr("href") {
                s.link_hrefs.push(h.trim().to_owned());
            }
        }
        "a" | "area" if s.anchors.len() < MAX_ANCHORS => {
            if let Some(h) = el.attr("href") {
                let mut t = String::new();
                for chunk in er.text() {
                    t.push_str(chunk);
                    if t.len() > 200 {
                        break;
                    }
                }
                let mut text = collapse(&t);
                if text.is_empty() {
                    text = el.attr("title").or_else(|| el.attr("aria-label")).map(collapse).unwrap_or_default();
                }
                s.anchors.push(Anchor { href: h.trim().to_owned(), text });
            }
        }
        "form" => {
            if let Some(a) = el.attr("action") {
                s.form_actions.push(a.trim().to_owned());
            }
        }
        _ => {}
    }
}

/// The longest prefix of `s` no longer than `max` bytes that ends on a char boundary.
pub(crate) fn prefix_at_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Collapses runs of whitespace (incl. NBSP) to one space and trims.
pub(crate) fn collapse(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split(|c: char| c.is_whitespace() || c == '\u{a0}') {
        if w.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

fn normalise_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len() / 2);
    for line in text.lines() {
        let l = collapse(line);
        if !l.is_empty() {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}

/// Text of an element, whitespace-collapsed, capped (cards are short; a
/// whole-page wrapper is not a card).
pub(crate) fn element_text(er: ElementRef<'_>, cap: usize) -> Option<String> {
    let mut t = String::new();
    for chunk in er.text() {
        t.push_str(chunk);
        t.push(' ');
        if t.len() > cap {
            return None;
        }
    }
    Some(collapse(&t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_text_has_lines_and_skips_scripts() {
        let doc = Html::parse_document(
            "<html><head><title> A  B </title><script>var x='hidden'</script></head><body><p>Hello<br>World</p><div>Foo <b>bar</b></div><style>.x{}</style></body></html>",
        );
        let s = scan(&doc);
        assert_eq!(s.title.as_deref(), Some("A B"));
        assert_eq!(s.text, "Hello\nWorld\nFoo bar\n");
        assert_eq!(s.inline_scripts, vec!["var x='hidden'".to_owned()]);
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        // Parsed without the nesting guard, so kept small: the parser is
        // quadratic in depth; the walk here must not recurse.
        let html = "<div>".repeat(3_000) + "x";
        let s = scan(&Html::parse_document(&html));
        assert!(s.text.contains('x'));
    }
}
