//! Same-site pages worth fetching next (imprint, about, contact, team).

use url::Url;

use crate::model::{NextPage, PageKind};

/// At most this many pages, two per kind: the worker fetches a handful.
pub(crate) const MAX_NEXT_PAGES: usize = 8;
const PER_KIND: usize = 2;

/// The registrable part of a host (eTLD+1 by the Public Suffix List, compiled in
/// by the `psl` crate): `www.shop.example.co.uk` → `example.co.uk`.
///
/// - Private suffixes count: `a.b.github.io` → `b.github.io`, so every user site
///   on a hosting platform is its own registrable domain (and its own company
///   cache entry), never one shared `github.io`.
/// - The host is lower-cased, loses a trailing dot, and an IDN becomes punycode
///   (WHATWG host parsing): `www.Bücher.de.` → `xn--bcher-kva.de`.
/// - IP literals (any notation `url` accepts) come back in their canonical form.
/// - An unknown TLD follows the list's implicit `*` rule (`a.b.corp` → `b.corp`);
///   a host that is itself a public suffix (`co.uk`, `github.io`) or has no
///   registrable part comes back whole.
pub fn registrable_domain(host: &str) -> String {
    let trimmed = host.trim().trim_end_matches('.');
    let bracketless = trimmed.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(trimmed);
    if let Ok(ip) = bracketless.parse::<std::net::IpAddr>() {
        return ip.to_string();
    }
    let host = match url::Host::parse(trimmed) {
        Ok(url::Host::Domain(d)) => d,
        Ok(ip) => return ip.to_string().trim_start_matches('[').trim_end_matches(']').to_string(),
        Err(_) => trimmed.to_ascii_lowercase(),
    };
    match psl_domain(&host) {
        Some(domain) if !domain.is_empty() => domain,
        _ => host,
    }
}

fn psl_domain(host: &str) -> Option<String> {
    use psl::Psl as _;
    let domain = psl::List.domain(host.as_bytes())?;
    std::str::from_utf8(domain.as_bytes()).ok().map(str::to_owned)
}

pub(crate) fn same_site(a: &Url, b: &Url) -> bool {
    match (a.host_str(), b.host_str()) {
        (Some(x), Some(y)) => registrable_domain(x) == registrable_domain(y),
        _ => false,
    }
}

fn kind_of_segment(seg: &str) -> Option<PageKind> {
    let seg = seg.to_lowercase();
    let seg = seg.trim_end_matches(".html").trim_end_matches(".htm").trim_end_matches(".php").trim_end_matches(".aspx");
    let k = match seg {
        "impressum" | "imprint" | "mentions-legales" | "mentions_legales" | "mentionslegales" | "legal-notice" | "legal-notices"
        | "site-notice" | "aviso-legal" | "colofon" | "legal" | "legal-information" => PageKind::Imprint,
        "about" | "about-us" | "aboutus" | "ueber-uns" | "uber-uns" | "über-uns" | "ueberuns" | "unternehmen" | "company"
        | "qui-sommes-nous" | "a-propos" | "apropos" | "à-propos" | "who-we-are" | "our-story" | "chi-siamo" | "over-ons" => {
            PageKind::About
        }
        "team" | "our-team" | "the-team" | "people" | "leadership" | "management" | "das-team" | "unser-team" | "equipe" | "équipe"
        | "notre-equipe" | "founders" | "mitarbeiter" => PageKind::Team,
        "contact" | "contact-us" | "contactus" | "kontakt" | "contacts" | "get-in-touch" | "nous-contacter" | "contactez-nous"
        | "kontaktformular" => PageKind::Contact,
        _ => return None,
    };
    Some(k)
}

fn kind_of_text(text: &str) -> Option<PageKind> {
    let t = text.trim().to_lowercase();
    let k = match t.as_str() {
        "impressum" | "imprint" | "mentions légales" | "mentions legales" | "legal notice" | "site notice" => PageKind::Imprint,
        "about" | "about us" | "über uns" | "ueber uns" | "unternehmen" | "qui sommes-nous" | "qui sommes nous" | "à propos"
        | "a propos" | "who we are" | "company" => PageKind::About,
        "team" | "our team" | "the team" | "unser team" | "das team" | "people" | "leadership" | "équipe" | "notre équipe" => {
            PageKind::Team
        }
        "contact" | "contact us" | "kontakt" | "nous contacter" | "contactez-nous" | "get in touch" => PageKind::Contact,
        _ => return None,
    };
    Some(k)
}

/// Likely pages from resolved anchors, imprint first (it has the legal
/// facts), then about, contact and team.
pub(crate) fn next_pages(page: &Url, anchors: &[(Url, String)]) -> Vec<NextPage> {
    let mut page_key = page.clone();
    page_key.set_fragment(None);
    let mut found: Vec<(PageKind, usize, String)> = Vec::new();
    for (i, (u, text)) in anchors.iter().enumerate() {
        if !matches!(u.scheme(), "http" | "https") || !same_site(page, u) {
            continue;
        }
        let mut u = u.clone();
        u.set_fragment(None);
        if u == page_key {
            continue;
        }
        // The last meaningful path segment decides ("/de/ueber-uns/" → about).
        let by_path = u
            .path_segments()
            .and_then(|s| s.filter(|p| !p.is_empty()).map(crate::contacts::percent_decode).next_back())
            .and_then(|s| kind_of_segment(&s));
        let Some(kind) = by_path.or_else(|| kind_of_text(text)) else {
            continue;
        };
        let s = u.to_string();
        if found.iter().any(|(_, _, x)| *x == s) {
            continue;
        }
        found.push((kind, i, s));
    }
    found.sort_by_key(|(k, i, _)| (*k, *i));
    let mut out = Vec::new();
    for (kind, _, url) in found {
        if out.iter().filter(|p: &&NextPage| p.kind == kind).count() < PER_KIND && out.len() < MAX_NEXT_PAGES {
            out.push(NextPage { url, kind });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable() {
        assert_eq!(registrable_domain("www.shop.example.co.uk"), "example.co.uk");
        assert_eq!(registrable_domain("blog.acme.io"), "acme.io");
        assert_eq!(registrable_domain("acme.io"), "acme.io");
        assert_eq!(registrable_domain("example.com.au"), "example.com.au");
        assert_eq!(registrable_domain("www.example.com.au"), "example.com.au");
        assert_eq!(registrable_domain("WWW.Example.COM"), "example.com");
    }

    #[test]
    fn private_suffixes_make_each_hosted_site_its_own_domain() {
        assert_eq!(registrable_domain("a.b.github.io"), "b.github.io");
        assert_eq!(registrable_domain("b.github.io"), "b.github.io");
        assert_ne!(registrable_domain("x.github.io"), registrable_domain("y.github.io"));
        // The platform itself is a public suffix: nothing to cut.
        assert_eq!(registrable_domain("github.io"), "github.io");
    }

    #[test]
    fn wildcards_and_exceptions() {
        // *.kawasaki.jp with the exception !city.kawasaki.jp.
        assert_eq!(registrable_domain("city.kawasaki.jp"), "city.kawasaki.jp");
        assert_eq!(registrable_domain("www.city.kawasaki.jp"), "city.kawasaki.jp");
        assert_eq!(registrable_domain("shop.foo.kawasaki.jp"), "shop.foo.kawasaki.jp");
        assert_eq!(registrable_domain("www.shop.foo.kawasaki.jp"), "shop.foo.kawasaki.jp");
    }

    #[test]
    fn idn_trailing_dots_ips_and_unknown_tlds() {
        assert_eq!(registrable_domain("www.Bücher.de."), "xn--bcher-kva.de");
        assert_eq!(registrable_domain("shop.xn--bcher-kva.de"), "xn--bcher-kva.de");
        assert_eq!(registrable_domain("食狮.公司.cn"), "xn--85x722f.xn--55qx5d.cn");
        assert_eq!(registrable_domain("www.example.com."), "example.com");
        assert_eq!(registrable_domain("127.0.0.1"), "127.0.0.1");
        assert_eq!(registrable_domain("10.1.2.3"), "10.1.2.3");
        assert_eq!(registrable_domain("[::1]"), "::1");
        assert_eq!(registrable_domain("2001:db8::1"), "2001:db8::1");
        assert_eq!(registrable_domain("a.b.notarealtld"), "b.notarealtld");
        assert_eq!(registrable_domain("co.uk"), "co.uk");
        assert_eq!(registrable_domain("localhost"), "localhost");
        assert_eq!(registrable_domain(""), "");
    }

    #[test]
    fn picks_same_site_pages() {
        let page = Url::parse("https://www.acme.de/").unwrap_or_else(|_| unreachable!());
        let a = |s: &str, t: &str| (page.join(s).unwrap_or_else(|_| unreachable!()), t.to_owned());
        let anchors = vec![
            a("/kontakt/", "Kontakt"),
            a("https://blog.acme.de/impressum", "Impressum"),
            a("https://other.de/impressum", "Impressum"),
            a("/#top", "Home"),
            a("/de/ueber-uns.html", "Wer wir sind"),
            a("/x?id=3", "Über uns"),
            a("/kontakt/", "Kontakt"),
        ];
        let got: Vec<_> = next_pages(&page, &anchors).into_iter().map(|p| (p.kind, p.url)).collect();
        assert_eq!(
            got,
            [
                (PageKind::Imprint, "https://blog.acme.de/impressum".to_owned()),
                (PageKind::About, "https://www.acme.de/de/ueber-uns.html".to_owned()),
                (PageKind::About, "https://www.acme.de/x?id=3".to_owned()),
                (PageKind::Contact, "https://www.acme.de/kontakt/".to_owned()),
            ]
        );
    }
}
