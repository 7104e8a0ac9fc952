//! Bytes to text: content-type gate, charset detection, capped lossy decode.

use encoding_rs::Encoding;

use crate::{DecodeInfo, ExtractError, MAX_PARSE_BYTES};

/// How far into the body `<meta charset>` is looked for. The HTML standard
/// prescans 1024 bytes; real pages put comments and long `<meta>` lists first,
/// so a little more is forgiving at no real cost.
const META_PRESCAN_BYTES: usize = 4096;

/// Refuses content types that are not HTML. With no content type the body is
/// sniffed, so a JSON API answer or an image is refused too.
pub(crate) fn check_content_type(content_type: Option<&str>, body: &[u8]) -> Result<(), ExtractError> {
    let essence = content_type.map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase()).filter(|e| !e.is_empty());
    match essence {
        Some(e) if e == "text/html" || e == "application/xhtml+xml" => Ok(()),
        Some(e) => Err(ExtractError::NotHtml { content_type: e }),
        None => match sniff_non_html(body) {
            Some(kind) => Err(ExtractError::NotHtml { content_type: format!("{kind} (sniffed)") }),
            None => Ok(()),
        },
    }
}

fn sniff_non_html(body: &[u8]) -> Option<&'static str> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = body.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(body.len());
    let head = &body[start..];
    const MAGIC: &[(&[u8], &str)] = &[
        (b"%PDF-", "application/pdf"),
        (b"\x89PNG", "image/png"),
        (b"GIF8", "image/gif"),
        (b"\xFF\xD8\xFF", "image/jpeg"),
        (b"PK\x03\x04", "application/zip"),
        (b"\x1F\x8B", "application/gzip"),
        (b"RIFF", "image/webp"),
    ];
    if let Some((_, kind)) = MAGIC.iter().find(|(m, _)| head.starts_with(m)) {
        return Some(kind);
    }
    if matches!(head.first(), Some(b'{') | Some(b'[')) {
        return Some("application/json");
    }
    // NUL bytes do not occur in HTML text in any ASCII-compatible charset.
    if head.iter().take(512).any(|&b| b == 0) && !head.starts_with(b"\xFF\xFE") && !head.starts_with(b"\xFE\xFF") {
        return Some("application/octet-stream");
    }
    None
}

/// Decodes at most [`MAX_PARSE_BYTES`] of `body`. Never fails: undecodable
/// bytes become U+FFFD and the result says so.
pub(crate) fn decode(content_type: Option<&str>, body: &[u8]) -> (String, DecodeInfo) {
    let (encoding, source, bom_len) = detect(content_type, body);
    let mut end = body.len().min(MAX_PARSE_BYTES);
    let truncated = end < body.len();
    if truncated {
        end = char_boundary(encoding, body, end);
    }
    let bytes = body.get(bom_len.min(end)..end).unwrap_or(&[]);
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    let info = DecodeInfo {
        charset: encoding.name().to_owned(),
        charset_source: source.to_owned(),
        had_errors,
        bytes_total: body.len(),
        bytes_parsed: end,
        truncated,
        nesting_tags_dropped: 0,
    };
    (text.into_owned(), info)
}

fn detect(content_type: Option<&str>, body: &[u8]) -> (&'static Encoding, &'static str, usize) {
    // A BOM wins over everything, as in browsers.
    if let Some((enc, len)) = Encoding::for_bom(body) {
        return (enc, "bom", len);
    }
    if let Some(enc) = content_type.and_then(charset_param).and_then(|l| Encoding::for_label(l.as_bytes())) {
        return (enc, "content-type", 0);
    }
    if let Some(enc) = meta_charset(&body[..body.len().min(META_PRESCAN_BYTES)]) {
        // A page cannot declare UTF-16 in ASCII-compatible bytes; the standard
        // says to read such a declaration as UTF-8.
        let enc = if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE { encoding_rs::UTF_8 } else { enc };
        return (enc, "meta", 0);
    }
    let probe = &body[..body.len().min(MAX_PARSE_BYTES)];
    match std::str::from_utf8(probe) {
        Ok(_) => (encoding_rs::UTF_8, "default", 0),
        // Invalid only because the cap split a character: still UTF-8.
        Err(e) if e.error_len().is_none() => (encoding_rs::UTF_8, "default", 0),
        // Undeclared and not UTF-8: what browsers assume for Western pages;
        // every byte maps to a character, so nothing is lost.
        Err(_) => (encoding_rs::WINDOWS_1252, "fallback", 0),
    }
}

fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("charset").then(|| v.trim().trim_matches(['"', '\'']).to_owned())
    })
}

/// Finds `charset=` inside a `<meta …>` tag: covers both `<meta charset="x">`
/// and `<meta http-equiv="Content-Type" content="text/html; charset=x">`.
fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let lower = head.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = find(&lower[from..], b"<meta") {
        let tag_start = from + pos;
        let tag_end = find(&lower[tag_start..], b">").map_or(lower.len(), |e| tag_start + e);
        let tag = &lower[tag_start..tag_end];
        if let Some(c) = find(tag, b"charset") {
            let rest = &tag[c + 7..];
            let rest = trim_start(rest);
            if let Some(rest) = rest.strip_prefix(b"=") {
                let rest = trim_start(rest);
                let rest = rest.strip_prefix(b"\"").or_else(|| rest.strip_prefix(b"'")).unwrap_or(rest);
                let label_len =
                    rest.iter().position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))).unwrap_or(rest.len());
                if let Some(enc) = Encoding::for_label(&rest[..label_len]) {
                    return Some(enc);
                }
            }
        }
        from = tag_end.max(tag_start + 1);
        if from >= lower.len() {
            break;
        }
    }
    None
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(s.len());
    &s[n..]
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Moves a cut point back so it does not split a character, so the cap does
/// not add a spurious replacement character at the end.
fn char_boundary(encoding: &'static Encoding, body: &[u8], end: usize) -> usize {
    if encoding == encoding_rs::UTF_8 {
        let mut cut = end;
        // A UTF-8 character is at most 4 bytes: look back 3 continuation bytes at most.
        while cut > end.saturating_sub(3) && cut > 0 && body.get(cut).is_some_and(|b| b & 0xC0 == 0x80) {
            cut -= 1;
        }
        cut
    } else if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE {
        end & !1
    } else {
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_gate() {
        assert!(check_content_type(Some("text/html; charset=utf-8"), b"").is_ok());
        assert!(check_content_type(Some("application/xhtml+xml"), b"").is_ok());
        let err = check_content_type(Some("application/json"), b"{}").unwrap_err();
        assert_eq!(err.to_string(), "not an HTML page: content type application/json");
        assert!(check_content_type(None, b"  {\"a\":1}").is_err());
        assert!(check_content_type(None, b"%PDF-1.4").is_err());
        assert!(check_content_type(None, b"<!doctype html>").is_ok());
        assert!(check_content_type(Some(""), b"<p>").is_ok());
    }

    #[test]
    fn charset_sources() {
        let (_, i) = decode(Some("text/html; charset=ISO-8859-1"), b"caf\xe9");
        assert_eq!((i.charset.as_str(), i.charset_source.as_str()), ("windows-1252", "content-type"));
        let (t, i) = decode(None, b"<meta charset='latin1'>Stra\xdfe");
        assert_eq!(i.charset_source, "meta");
        assert!(t.ends_with("Straße"));
        let (t, _) = decode(None, b"<META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=iso-8859-1\">\xfc");
        assert!(t.ends_with('ü'));
        let (t, i) = decode(None, b"\xEF\xBB\xBFhi");
        assert_eq!((t.as_str(), i.charset_source.as_str()), ("hi", "bom"));
        let (_, i) = decode(None, "grüß".as_bytes());
        assert_eq!(i.charset_source, "default");
        let (t, i) = decode(None, b"gr\xfc\xdf");
        assert_eq!((t.as_str(), i.charset_source.as_str()), ("grüß", "fallback"));
    }

    #[test]
    fn declared_utf8_with_bad_bytes_is_lossy() {
        let (t, i) = decode(Some("text/html; charset=utf-8"), b"a\xff\xfeb");
        assert!(i.had_errors);
        assert_eq!(t, "a\u{FFFD}\u{FFFD}b");
    }

    #[test]
    fn cap_does_not_split_characters() {
        let mut body = vec![b'a'; MAX_PARSE_BYTES - 1];
        body.extend_from_slice("ü and more".as_bytes());
        let (t, i) = decode(Some("text/html; charset=utf-8"), &body);
        assert!(i.truncated);
        assert!(!i.had_errors);
        assert_eq!(i.bytes_parsed, MAX_PARSE_BYTES - 1);
        assert!(!t.contains('\u{FFFD}'));
    }
}
