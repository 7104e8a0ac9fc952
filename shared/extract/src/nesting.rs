//! A guard in front of the HTML parser against deep nesting.
//!
//! html5ever checks "is X in scope" by walking the stack of open elements,
//! so each start tag costs the current depth and a page of 40,000 nested
//! `<div>`s takes seconds (2 MiB of them, minutes). Real pages nest a few
//! dozen levels. This pass drops start tags beyond [`MAX_NESTING`] (and the
//! end tags that match them), which keeps parsing linear; text is kept.

use std::borrow::Cow;

/// Open elements allowed before further start tags are dropped.
pub const MAX_NESTING: usize = 128;

/// Elements the parser closes implicitly or never opens as containers:
/// counting them would overestimate depth on old pages full of unclosed `<p>`.
fn not_counted(name: &[u8]) -> bool {
    const LIST: &[&[u8]] = &[
        b"area",
        b"base",
        b"br",
        b"col",
        b"embed",
        b"hr",
        b"img",
        b"input",
        b"link",
        b"meta",
        b"source",
        b"track",
        b"wbr",
        b"param",
        b"keygen",
        b"p",
        b"li",
        b"dt",
        b"dd",
        b"option",
        b"optgroup",
        b"tr",
        b"td",
        b"th",
        b"thead",
        b"tbody",
        b"tfoot",
        b"colgroup",
        b"caption",
        b"rb",
        b"rt",
        b"rtc",
        b"rp",
        b"html",
        b"head",
        b"body",
        b"frame",
        b"basefont",
        b"bgsound",
        b"image",
    ];
    LIST.iter().any(|l| l.eq_ignore_ascii_case(name))
}

fn raw_text(name: &[u8]) -> bool {
    const LIST: &[&[u8]] =
        &[b"script", b"style", b"textarea", b"title", b"xmp", b"noembed", b"noframes", b"iframe", b"plaintext", b"noscript"];
    LIST.iter().any(|l| l.eq_ignore_ascii_case(name))
}

/// Returns the text unchanged (borrowed) when nesting stays under the limit,
/// else a copy without the excess tags, and how many tags were dropped.
pub(crate) fn limit(text: &str) -> (Cow<'_, str>, usize) {
    if !exceeds(text) {
        return (Cow::Borrowed(text), 0);
    }
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    let mut excess = 0usize;
    let mut dropped = 0usize;
    let mut copied = 0usize;
    walk(b, |tag| {
        let keep = match tag.kind {
            Kind::Start if depth >= MAX_NESTING => {
                excess += 1;
                false
            }
            Kind::Start => {
                depth += 1;
                true
            }
            Kind::End if excess > 0 => {
                excess -= 1;
                false
            }
            Kind::End => {
                depth = depth.saturating_sub(1);
                true
            }
        };
        if !keep {
            // Tag boundaries are ASCII '<' and '>', so these are char boundaries.
            out.push_str(&text[copied..tag.start]);
            copied = tag.end;
            dropped += 1;
        }
    });
    out.push_str(&text[copied..]);
    (Cow::Owned(out), dropped)
}

fn exceeds(text: &str) -> bool {
    let mut depth = 0usize;
    let mut over = false;
    walk(text.as_bytes(), |tag| match tag.kind {
        Kind::Start => {
            depth += 1;
            over |= depth > MAX_NESTING;
        }
        Kind::End => depth = depth.saturating_sub(1),
    });
    over
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Start,
    End,
}

struct Tag {
    kind: Kind,
    start: usize,
    end: usize,
}

/// Calls `f` for each counted start tag and each end tag, skipping comments,
/// raw-text element contents and uncounted elements.
fn walk(b: &[u8], mut f: impl FnMut(Tag)) {
    let mut i = 0;
    let mut foreign = 0usize;
    while let Some(off) = memchr(b'<', &b[i..]) {
        let start = i + off;
        let rest = &b[start..];
        if rest.starts_with(b"<!--") {
            i = find(b, start + 4, b"-->").map_or(b.len(), |e| e + 3);
            continue;
        }
        let (is_end, name_at) = if rest.get(1) == Some(&b'/') { (true, start + 2) } else { (false, start + 1) };
        let name_len = b[name_at..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'-').count();
        if name_len == 0 || !b[name_at].is_ascii_alphabetic() {
            i = start + 1;
            continue;
        }
        let name = &b[name_at..name_at + name_len];
        let end = tag_end(b, name_at + name_len);
        let self_closing = end >= 2 && b.get(end - 2) == Some(&b'/');
        if !is_end && raw_text(name) {
            // Skip to the matching end tag: '<' inside a script is not markup.
            let mut close = Vec::with_capacity(name.len() + 2);
            close.extend_from_slice(b"</");
            close.extend(name.iter().map(u8::to_ascii_lowercase));
            i = find_ci(b, end, &close).unwrap_or(b.len());
            continue;
        }
        // In HTML, `<div/>` is `<div>`: the slash is ignored and the element
        // stays open. Only inside SVG/MathML does it close the element.
        let foreign_root = name.eq_ignore_ascii_case(b"svg") || name.eq_ignore_ascii_case(b"math");
        if foreign_root && !self_closing {
            if is_end {
                foreign = foreign.saturating_sub(1);
            } else {
                foreign += 1;
            }
        }
        let counted = !not_counted(name) && (is_end || !self_closing || foreign == 0);
        if counted {
            f(Tag { kind: if is_end { Kind::End } else { Kind::Start }, start, end });
        }
        i = end.max(start + 1);
    }
}

/// Index just past the `>` closing a tag, honouring quoted attribute values.
fn tag_end(b: &[u8], mut i: usize) -> usize {
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if c == b'>' => return i + 1,
            None => {}
        }
        i += 1;
    }
    b.len()
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&c| c == needle)
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

fn find_ci(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle)).map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_pages_are_untouched() {
        let html = "<html><body><p>a<p>b<div><span>c</span></div><script>if (a<b) {}</script></body></html>";
        let (out, dropped) = limit(html);
        assert!(matches!(out, Cow::Borrowed(_)));
        assert_eq!(dropped, 0);
    }

    #[test]
    fn deep_nesting_is_flattened_and_text_kept() {
        let html = "<div>".repeat(1000) + "deep text" + &"</div>".repeat(1000) + "<p>after</p>";
        let (out, dropped) = limit(&html);
        assert_eq!(dropped, 2 * (1000 - MAX_NESTING));
        assert!(out.contains("deep text") && out.contains("<p>after</p>"));
        assert!(!exceeds(&out));
    }

    #[test]
    fn self_closing_html_tags_still_nest() {
        let html = "<div/>".repeat(1000);
        let (_, dropped) = limit(&html);
        assert_eq!(dropped, 1000 - MAX_NESTING);
        let icons = "<svg><path d='M0'/><path/></svg>".repeat(1000);
        assert_eq!(limit(&icons).1, 0);
    }

    #[test]
    fn quotes_and_unterminated_tags() {
        let (out, _) = limit("<a title='>'>x</a><div");
        assert_eq!(out, "<a title='>'>x</a><div");
    }
}
