//! Public e-mail addresses and telephone numbers.

use std::sync::LazyLock;

use regex::Regex;

use crate::country::calling_code;
use crate::model::{Fact, Method, PageFacts, Phone};

/// Caps per page: a page listing hundreds of addresses is a directory, and
/// the first ones are the company's own.
pub(crate) const MAX_EMAILS: usize = 30;
pub(crate) const MAX_PHONES: usize = 20;

static EMAIL: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)(?-u:\b)[a-z0-9][a-z0-9._%+\-]{0,63}@[a-z0-9](?:[a-z0-9\-]{0,62}\.)+[a-z]{2,24}(?-u:\b)").ok());

/// `info [at] example [dot] com`, `info(at)example(punkt)de`, `info{@}example.com`.
static OBFUSCATED: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?-u:\b)([a-z0-9][a-z0-9._%+\-]{0,63})\s*[\[\(\{<]\s*(?:at|@|ät|arobase)\s*[\]\)\}>]\s*([a-z0-9\-]+(?:(?:\s*[\[\(\{<]\s*(?:dot|punkt|point|\.)\s*[\]\)\}>]\s*|\.)[a-z0-9\-]+)+)",
    )
    .ok()
});
/// `info AT example DOT com` (upper case only: lower-case "at"/"dot" is prose).
static SHOUTED: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)([A-Za-z0-9][A-Za-z0-9._%+\-]{0,63})\s+AT\s+([A-Za-z0-9\-]+(?:\s+DOT\s+[A-Za-z0-9\-]+)+)(?-u:\b)").ok()
});
static DOT_TOKEN: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)\s*[\[\(\{<]\s*(?:dot|punkt|point|\.)\s*[\]\)\}>]\s*|\s+DOT\s+").ok());

/// A labelled phone number in text. Fax numbers are matched so they can be skipped.
static PHONE_LINE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:^|[^\p{L}])(fax|telefax|tel|telefon|telephone|phone|fon|mobil|mobile|handy|t[ée]l[ée]phone|t[ée]l|hotline|call us|ruf|t)\.?\s*(?:\([^)]{0,20}\))?\s*[:.]?\s*(\+?\(?\d[\d\s()./\-–]{5,24}\d)",
    )
    .ok()
});

const PLACEHOLDER_DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "domain.com",
    "yourdomain.com",
    "email.com",
    "mustermann.de",
    "beispiel.de",
    "sentry.io",
    "wixpress.com",
];
const FILE_TLDS: &[&str] = &["png", "jpg", "jpeg", "gif", "svg", "webp", "css", "js", "ico", "avif", "pdf"];

/// Lower-cases the domain, keeps the local part, refuses what is not a
/// deliverable public address (file names like `logo@2x.png`, placeholders).
pub fn normalise_email(s: &str) -> Option<String> {
    let s = s.trim().trim_matches(|c: char| c == '.' || c == ',' || c == ';' || c == '<' || c == '>');
    let (local, domain) = s.rsplit_once('@')?;
    let domain = domain.to_ascii_lowercase();
    if local.is_empty() || local.len() > 64 || domain.len() > 253 || local.contains("..") || domain.contains("..") {
        return None;
    }
    if !local.chars().all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c)) {
        return None;
    }
    if !domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') {
        return None;
    }
    let tld = domain.rsplit('.').next()?;
    if !domain.contains('.') || tld.len() < 2 || !tld.chars().all(|c| c.is_ascii_alphabetic()) || FILE_TLDS.contains(&tld) {
        return None;
    }
    if PLACEHOLDER_DOMAINS.contains(&domain.as_str()) || domain.split('.').any(str::is_empty) {
        return None;
    }
    Some(format!("{local}@{domain}"))
}

/// `mailto:a@b.de,c@d.de?subject=…` → addresses.
pub(crate) fn from_mailto(href: &str) -> Vec<String> {
    let Some(rest) = strip_prefix_ci(href.trim(), "mailto:") else {
        return vec![];
    };
    let rest = rest.split('?').next().unwrap_or("");
    let rest = percent_decode(rest);
    rest.split([',', ';']).filter_map(normalise_email).collect()
}

pub(crate) fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &s[prefix.len()..])
}

pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Addresses in visible text, plain and obfuscated.
pub(crate) fn from_text(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(re) = EMAIL.as_ref() {
        out.extend(re.find_iter(text).filter_map(|m| normalise_email(m.as_str())));
    }
    for re in [OBFUSCATED.as_ref(), SHOUTED.as_ref()].into_iter().flatten() {
        for c in re.captures_iter(text) {
            let (Some(local), Some(domain)) = (c.get(1), c.get(2)) else {
                continue;
            };
            let domain = match DOT_TOKEN.as_ref() {
                Some(dot) => dot.replace_all(domain.as_str(), ".").into_owned(),
                None => continue,
            };
            if let Some(e) = normalise_email(&format!("{}@{}", local.as_str(), domain)) {
                out.push(e);
            }
        }
    }
    out
}

/// Cloudflare's e-mail obfuscation: hex, first byte is the XOR key.
pub(crate) fn decode_cfemail(hex: &str) -> Option<String> {
    let bytes: Vec<u8> =
        (0..hex.len() / 2).map(|i| hex.get(i * 2..i * 2 + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect::<Option<_>>()?;
    let (&key, rest) = bytes.split_first()?;
    let plain: Vec<u8> = rest.iter().map(|b| b ^ key).collect();
    normalise_email(std::str::from_utf8(&plain).ok()?)
}

/// Labelled numbers in visible text (`Tel.: 030 123456`), fax excluded.
pub(crate) fn phones_from_text(text: &str) -> Vec<String> {
    let Some(re) = PHONE_LINE.as_ref() else {
        return vec![];
    };
    let mut out = Vec::new();
    for line in text.lines() {
        // A hosting provider's number in the imprint is not the company's.
        let lower = line.to_lowercase();
        if crate::address::FOREIGN_CONTEXT.iter().any(|w| lower.contains(w)) {
            continue;
        }
        for c in re.captures_iter(line) {
            let label = c.get(1).map_or("", |m| m.as_str()).to_lowercase();
            if label.contains("fax") {
                continue;
            }
            if let Some(n) = c.get(2) {
                let raw = n.as_str().trim().trim_end_matches(['-', '–', '.', '/']).trim().to_owned();
                // Years, postcodes and prices also match digit runs; a
                // phone number has at least 6 digits.
                if raw.chars().filter(char::is_ascii_digit).count() >= 6 {
                    out.push(raw);
                }
            }
        }
    }
    out
}

/// E.164 for a published number, when that can be known: the number is
/// international (`+…`, `00…`), or the country is known and the number is in
/// its national format.
pub fn normalise_phone(raw: &str, country: Option<&str>) -> Option<String> {
    // "+49 (0)30 …": the "(0)" is the trunk prefix, dialled only nationally.
    let cleaned = raw.replace("(0)", "");
    let cleaned = strip_prefix_ci(cleaned.trim(), "tel:").unwrap_or(cleaned.trim()).to_owned();
    let plus = cleaned.trim_start().starts_with('+');
    let digits: String = cleaned.chars().filter(char::is_ascii_digit).collect();
    if cleaned.chars().any(|c| c.is_alphabetic()) && !cleaned.to_lowercase().contains("ext") {
        return None;
    }
    let e164 = if plus {
        digits
    } else if let Some(intl) = digits.strip_prefix("00") {
        intl.to_owned()
    } else {
        let (cc, trunk) = calling_code(country?)?;
        if cc == "1" {
            match digits.len() {
                10 => format!("1{digits}"),
                11 if digits.starts_with('1') => digits,
                _ => return None,
            }
        } else if trunk {
            format!("{cc}{}", digits.strip_prefix('0')?)
        } else {
            format!("{cc}{digits}")
        }
    };
    ((8..=15).contains(&e164.len()) && !e164.starts_with('0')).then(|| format!("+{e164}"))
}

pub(crate) fn push_email(f: &mut PageFacts, e: String, src: &str, method: Method) {
    if f.emails.len() < MAX_EMAILS && !f.emails.iter().any(|x| x.value.eq_ignore_ascii_case(&e)) {
        f.emails.push(Fact::new(e, src, method));
    }
}

pub(crate) fn push_phone(f: &mut PageFacts, raw: String, src: &str, method: Method) {
    if f.phones.len() < MAX_PHONES {
        f.phones.push(Fact::new(Phone { raw, e164: None }, src, method));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(normalise_email("Info@Example.DE"), Some("Info@example.de".into()));
        assert_eq!(normalise_email("logo@2x.png"), None);
        assert_eq!(normalise_email("you@example.com"), None);
        assert_eq!(from_mailto("MAILTO:sales%40acme.io?subject=Hi"), vec!["sales@acme.io".to_owned()]);
        let t = "Schreiben Sie an info [at] pixelwerk [dot] de oder vertrieb(at)pixelwerk(punkt)de, \
                 jobs AT pixelwerk DOT de, hello{@}acme.io. Not: meet at noon dot com.";
        let got = from_text(t);
        assert_eq!(got, ["info@pixelwerk.de", "vertrieb@pixelwerk.de", "hello@acme.io", "jobs@pixelwerk.de"]);
    }

    #[test]
    fn cloudflare() {
        // "a@b.de" XOR 0x42
        let plain = b"a@b.de";
        let hex: String = std::iter::once(0x42u8).chain(plain.iter().map(|b| b ^ 0x42)).map(|b| format!("{b:02x}")).collect();
        assert_eq!(decode_cfemail(&hex), Some("a@b.de".into()));
        assert_eq!(decode_cfemail("zz"), None);
    }

    #[test]
    fn phones() {
        assert_eq!(normalise_phone("+49 (0)30 1234567", None).as_deref(), Some("+49301234567"));
        assert_eq!(normalise_phone("030 / 123 45 67", Some("DE")).as_deref(), Some("+49301234567"));
        assert_eq!(normalise_phone("030 1234567", None), None);
        assert_eq!(normalise_phone("0041 44 123 45 67", None).as_deref(), Some("+41441234567"));
        assert_eq!(normalise_phone("(415) 555-0100", Some("US")).as_deref(), Some("+14155550100"));
        assert_eq!(normalise_phone("01 23 45 67 89", Some("FR")).as_deref(), Some("+33123456789"));
        assert_eq!(normalise_phone("06 1234 5678", Some("IT")).as_deref(), Some("+390612345678"));
        assert_eq!(normalise_phone("call me", Some("DE")), None);
        let t = "Tel.: +49 (0)30 1234567\nFax: +49 30 1234568\nTéléphone : 01 23 45 67 89\nGegründet 2012";
        assert_eq!(phones_from_text(t), ["+49 (0)30 1234567", "01 23 45 67 89"]);
    }
}
