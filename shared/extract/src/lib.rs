//! Public company facts from HTML pages, and an explainable lead score.
//!
//! Pure: the input is a page's bytes, its content type and its URL; nothing
//! here does I/O. The enrichment worker fetches pages (through the SSRF
//! guard), calls [`extract_page`] on each, [`merge`]s the results into a
//! [`CompanyProfile`] and [`score()`]s it against a workspace's
//! [`IdealCustomer`].
//!
//! Every fact carries the URL it came from and the [`Method`] that found it.
//! Nothing panics on any input; outside input that is not an HTML page is an
//! [`ExtractError`].

mod address;
mod contacts;
mod country;
mod decode;
mod html;
mod jsonld;
mod links;
mod merge;
mod meta;
mod microdata;
mod model;
mod nesting;
pub mod score;
mod social;
mod team;
mod tech;

use scraper::Html;
use url::Url;

pub use contacts::{normalise_email, normalise_phone};
pub use country::{countries_for_e164, country_code};
pub use links::registrable_domain;
pub use merge::merge;
pub use model::*;
pub use nesting::MAX_NESTING;
pub use score::{IdealCustomer, LeadScore, Signal, SizeRange, score};

/// Only this many bytes of a body are decoded and parsed. Company facts sit
/// in the first kilobytes (head, header, footer of a normal page); a bigger
/// body is a catalogue or an app bundle, and parsing it all would let one
/// page eat a Lambda's time budget. [`DecodeInfo::truncated`] says when it applied.
pub const MAX_PARSE_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The content type (given, or sniffed when none was given) is not HTML.
    #[error("not an HTML page: content type {content_type}")]
    NotHtml { content_type: String },
    /// The page URL is needed to resolve links and to attribute facts.
    #[error("page URL is not an absolute http(s) URL: {url}")]
    InvalidUrl { url: String },
}

/// Extracts the public company facts of one page.
///
/// `url` is the final URL after redirects (links resolve against it);
/// `content_type` the response's `Content-Type` header, if any.
pub fn extract_page(url: &str, content_type: Option<&str>, body: &[u8]) -> Result<PageFacts, ExtractError> {
    let page = Url::parse(url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| ExtractError::InvalidUrl { url: meta::clip(url, 200) })?;
    decode::check_content_type(content_type, body)?;
    let (text, mut decode) = decode::decode(content_type, body);
    let (guarded, dropped) = nesting::limit(&text);
    decode.nesting_tags_dropped = dropped;
    let doc = Html::parse_document(&guarded);
    drop(guarded);
    drop(text);
    let scan = html::scan(&doc);
    let src = page.as_str().to_owned();
    let host = page.host_str().unwrap_or("").to_owned();
    let mut f = PageFacts {
        url: src.clone(),
        decode,
        names: vec![],
        legal_names: vec![],
        descriptions: vec![],
        industries: vec![],
        addresses: vec![],
        countries: vec![],
        employees: vec![],
        phones: vec![],
        emails: vec![],
        social: vec![],
        technologies: vec![],
        team: vec![],
        next_pages: vec![],
    };

    // Structured data first: its facts lead each list.
    jsonld::extract(&scan.jsonld, &mut f, &src);
    jsonld::extract_items(&microdata::items(&doc), &mut f, &src);
    meta::extract(&scan, &mut f, &src, &host);

    // Links resolve against <base href> when the page sets one.
    let base = scan.base_href.as_deref().and_then(|b| page.join(b).ok()).unwrap_or_else(|| page.clone());
    let anchors: Vec<(Url, String)> = scan.anchors.iter().filter_map(|a| Some((base.join(&a.href).ok()?, a.text.clone()))).collect();

    // The country hint (ccTLD, then language region) only decides ambiguous
    // postcodes and national phone formats; it never becomes a country fact.
    let hint = country::from_host(&host)
        .or_else(|| scan.meta("og:locale").and_then(country::from_locale))
        .or_else(|| scan.lang.as_deref().and_then(country::from_locale));
    for a in address::from_text(&scan.text, hint) {
        if let Some(c) = &a.address.country {
            f.countries.push(Fact::new(c.clone(), &src, Method::Text));
        }
        f.addresses.push(Fact::new(a.address, &src, Method::Text));
        if let Some(l) = a.legal_name {
            f.legal_names.push(Fact::new(l, &src, Method::Text));
        }
    }

    for (u, _) in &anchors {
        let s = u.as_str();
        for e in contacts::from_mailto(s) {
            contacts::push_email(&mut f, e, &src, Method::Link);
        }
        if let Some(tel) = contacts::strip_prefix_ci(s, "tel:").or_else(|| contacts::strip_prefix_ci(s, "callto:")) {
            contacts::push_phone(&mut f, contacts::percent_decode(tel), &src, Method::Link);
        }
        if let Some(p) = social::classify(u) {
            f.social.push(Fact::new(p, &src, Method::Link));
        }
    }
    for hex in &scan.cf_emails {
        if let Some(e) = contacts::decode_cfemail(hex) {
            contacts::push_email(&mut f, e, &src, Method::Markup);
        }
    }
    for e in contacts::from_text(&scan.text) {
        contacts::push_email(&mut f, e, &src, Method::Text);
    }
    for p in contacts::phones_from_text(&scan.text) {
        contacts::push_phone(&mut f, p, &src, Method::Text);
    }

    tech::detect(&scan, &mut f, &src);
    for m in team::from_cards(&doc) {
        f.team.push(Fact::new(m, &src, Method::Markup));
    }
    for m in team::from_text(&scan.text) {
        f.team.push(Fact::new(m, &src, Method::Text));
    }
    f.next_pages = links::next_pages(&page, &anchors);

    let phone_country = f.countries.first().map(|c| c.value.clone()).or(hint.map(str::to_owned));
    finalise(&mut f, phone_country.as_deref());
    Ok(f)
}

/// Orders every list by method precedence and removes duplicates, keeping
/// the best-sourced copy; fills in E.164 now that the country is known.
fn finalise(f: &mut PageFacts, country: Option<&str>) {
    for p in &mut f.phones {
        let raw = p.value.raw.trim();
        let raw = contacts::strip_prefix_ci(raw, "tel:").unwrap_or(raw).trim().to_owned();
        p.value.e164 = contacts::normalise_phone(&raw, country);
        p.value.raw = raw;
    }
    let lower = |s: &String| s.to_lowercase();
    dedup(&mut f.names, lower);
    dedup(&mut f.legal_names, lower);
    dedup(&mut f.descriptions, lower);
    dedup(&mut f.industries, lower);
    dedup(&mut f.countries, String::clone);
    prefer_complete_addresses(&mut f.addresses);
    dedup_in_order(&mut f.addresses, |a| format!("{:?}{:?}", a.street.as_deref().map(str::to_lowercase), a.postal_code));
    dedup(&mut f.employees, |e| format!("{e:?}"));
    dedup(&mut f.phones, phone_key);
    dedup(&mut f.emails, lower);
    dedup(&mut f.social, |s| s.url.clone());
    dedup(&mut f.technologies, |t| t.name.clone());
    dedup_team(&mut f.team);
    f.team.truncate(team::MAX_TEAM);
    f.phones.truncate(contacts::MAX_PHONES);
    f.emails.truncate(contacts::MAX_EMAILS);
    f.social.truncate(30);
    f.industries.truncate(30);
}

/// An address with a postal code beats one without, whatever the method: a
/// one-string JSON-LD address is less useful than the parsed imprint lines.
/// The sort is stable, so method order holds within each group.
pub(crate) fn prefer_complete_addresses(v: &mut [Fact<PostalAddress>]) {
    v.sort_by_key(|a| (a.value.postal_code.is_none(), a.method.rank()));
}

pub(crate) fn phone_key(p: &Phone) -> String {
    p.e164.clone().unwrap_or_else(|| p.raw.chars().filter(char::is_ascii_digit).collect())
}

/// Stable sort by precedence, then keep the first of each key.
pub(crate) fn dedup<T, K: std::hash::Hash + Eq>(v: &mut Vec<Fact<T>>, key: impl Fn(&T) -> K) {
    v.sort_by_key(|f| f.method.rank());
    dedup_in_order(v, key);
}

/// Keeps the first of each key without reordering.
pub(crate) fn dedup_in_order<T, K: std::hash::Hash + Eq>(v: &mut Vec<Fact<T>>, key: impl Fn(&T) -> K) {
    let mut seen = std::collections::HashSet::with_capacity(v.len());
    v.retain(|f| seen.insert(key(&f.value)));
}

/// People are one entry per name; a later copy fills a missing position or
/// LinkedIn link (the card has the link, the imprint has the title).
pub(crate) fn dedup_team(v: &mut Vec<Fact<TeamMember>>) {
    v.sort_by_key(|f| f.method.rank());
    let mut out: Vec<Fact<TeamMember>> = Vec::with_capacity(v.len());
    for m in v.drain(..) {
        match out.iter_mut().find(|o| o.value.name.eq_ignore_ascii_case(&m.value.name)) {
            Some(o) => {
                if o.value.position.is_none() {
                    o.value.position = m.value.position;
                }
                if o.value.linkedin.is_none() {
                    o.value.linkedin = m.value.linkedin;
                }
            }
            None => out.push(m),
        }
    }
    *v = out;
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn empty_facts() -> PageFacts {
        PageFacts {
            url: "https://x.test/".into(),
            decode: DecodeInfo {
                charset: "UTF-8".into(),
                charset_source: "default".into(),
                had_errors: false,
                bytes_total: 0,
                bytes_parsed: 0,
                truncated: false,
                nesting_tags_dropped: 0,
            },
            names: vec![],
            legal_names: vec![],
            descriptions: vec![],
            industries: vec![],
            addresses: vec![],
            countries: vec![],
            employees: vec![],
            phones: vec![],
            emails: vec![],
            social: vec![],
            technologies: vec![],
            team: vec![],
            next_pages: vec![],
        }
    }

    #[test]
    fn rejects_bad_url_and_non_html() {
        assert!(matches!(extract_page("/relative", None, b"<p>"), Err(ExtractError::InvalidUrl { .. })));
        assert!(matches!(extract_page("ftp://x.de/", None, b"<p>"), Err(ExtractError::InvalidUrl { .. })));
        let e = extract_page("https://x.de/", Some("image/png"), b"\x89PNG").unwrap_err();
        assert_eq!(e.to_string(), "not an HTML page: content type image/png");
    }

    #[test]
    fn empty_body_is_ok_and_empty() {
        let f = extract_page("https://x.de/", Some("text/html"), b"").unwrap();
        assert!(f.names.is_empty() && f.emails.is_empty());
    }

    #[test]
    fn precedence_within_a_page() {
        let html = r#"<html><head><title>Home | Acme Widgets</title>
            <meta property="og:site_name" content="Acme">
            <script type="application/ld+json">{"@type":"Organization","name":"ACME Inc."}</script>
            </head><body><a href="mailto:hi@acme.com">hi@acme.com</a> or write to hi@acme.com</body></html>"#;
        let f = extract_page("https://acme.com/", None, html.as_bytes()).unwrap();
        let names: Vec<_> = f.names.iter().map(|n| (n.value.as_str(), n.method)).collect();
        assert_eq!(names, [("ACME Inc.", Method::JsonLd), ("Acme", Method::Opengraph), ("Acme Widgets", Method::Title)]);
        assert_eq!(f.emails.len(), 1);
        assert_eq!(f.emails[0].method, Method::Link);
    }

    #[test]
    fn truncation_is_reported() {
        let mut body = b"<html><head><title>Big</title></head><body>".to_vec();
        body.resize(MAX_PARSE_BYTES + 10, b'x');
        let f = extract_page("https://big.test/", Some("text/html"), &body).unwrap();
        assert!(f.decode.truncated);
        assert_eq!(f.decode.bytes_parsed, MAX_PARSE_BYTES);
        assert_eq!(f.names[0].value, "Big");
    }
}
