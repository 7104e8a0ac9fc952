//! Same-site pages worth fetching next (imprint, about, contact, team).

use url::Url;

use crate::model::{NextPage, PageKind};

/// At most this many pages, two per kind: the worker fetches a handful.
pub(crate) const MAX_NEXT_PAGES: usize = 8;
const PER_KIND: usize = 2;

/// Second-level suffixes under which registrations happen; a short list
/// instead of the full public-suffix list keeps the crate light. Hosts under
/// other multi-label suffixes are compared one label too coarsely, which only
/// matters for hosting platforms we do not follow links on anyway.
const TWO_LABEL_SUFFIXES: &[&str] = &[
    "co.uk", "org.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "me.uk", "com.au", "net.au",
    "org.au", "co.nz", "co.jp", "ne.jp", "or.jp", "com.br", "com.cn", "co.at", "or.at", "gv.at",
    "co.za", "com.tr", "com.mx", "co.in", "com.sg", "com.hk", "co.il", "com.ar", "com.pl",
];

/// The registrable part of a host: `www.shop.example.co.uk` → `example.co.uk`.
pub fn registrable_domain(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return host;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len();
    if n <= 2 {
        return host;
    }
    let last_two = format!("{}.{}", labels[n - 2], labels[n - 1]);
    let keep = if TWO_LABEL_SUFFIXES.contains(&last_two.as_str()) {
        3
    } else {
        2
    };
    labels[n.saturating_sub(keep)..].join(".")
}

pub(crate) fn same_site(a: &Url, b: &Url) -> bool {
    match (a.host_str(), b.host_str()) {
        (Some(x), Some(y)) => registrable_domain(x) == registrable_domain(y),
        _ => false,
    }
}

fn kind_of_segment(seg: &str) -> Option<PageKind> {
    let seg = seg.to_lowercase();
    let seg = seg
        .trim_end_matches(".html")
        .trim_end_matches(".htm")
        .trim_end_matches(".php")
        .trim_end_matches(".aspx");
    let k = match seg {
        "impressum" | "imprint" | "mentions-legales" | "mentions_legales" | "mentionslegales"
        | "legal-notice" | "legal-notices" | "site-notice" | "aviso-legal" | "colofon"
        | "legal" | "legal-information" => PageKind::Imprint,
        "about" | "about-us" | "aboutus" | "ueber-uns" | "uber-uns" | "über-uns" | "ueberuns"
        | "unternehmen" | "company" | "qui-sommes-nous" | "a-propos" | "apropos" | "à-propos"
        | "who-we-are" | "our-story" | "chi-siamo" | "over-ons" => PageKind::About,
        "team" | "our-team" | "the-team" | "people" | "leadership" | "management" | "das-team"
        | "unser-team" | "equipe" | "équipe" | "notre-equipe" | "founders" | "mitarbeiter" => {
            PageKind::Team
        }
        "contact" | "contact-us" | "contactus" | "kontakt" | "contacts" | "get-in-touch"
        | "nous-contacter" | "contactez-nous" | "kontaktformular" => PageKind::Contact,
        _ => return None,
    };
    Some(k)
}

fn kind_of_text(text: &str) -> Option<PageKind> {
    let t = text.trim().to_lowercase();
    let k = match t.as_str() {
        "impressum" | "imprint" | "mentions légales" | "mentions legales" | "legal notice"
        | "site notice" => PageKind::Imprint,
        "about" | "about us" | "über uns" | "ueber uns" | "unternehmen" | "qui sommes-nous"
        | "qui sommes nous" | "à propos" | "a propos" | "who we are" | "company" => {
            PageKind::About
        }
        "team" | "our team" | "the team" | "unser team" | "das team" | "people" | "leadership"
        | "équipe" | "notre équipe" => PageKind::Team,
        "contact" | "contact us" | "kontakt" | "nous contacter" | "contactez-nous"
        | "get in touch" => PageKind::Contact,
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
            .and_then(|s| {
                s.filter(|p| !p.is_empty())
                    .map(crate::contacts::percent_decode)
                    .next_back()
            })
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
        if out.iter().filter(|p: &&NextPage| p.kind == kind).count() < PER_KIND
            && out.len() < MAX_NEXT_PAGES
        {
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
        assert_eq!(
            registrable_domain("www.shop.example.co.uk"),
            "example.co.uk"
        );
        assert_eq!(registrable_domain("blog.acme.io"), "acme.io");
        assert_eq!(registrable_domain("acme.io"), "acme.io");
        assert_eq!(registrable_domain("127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn picks_same_site_pages() {
        let page = Url::parse("https://www.acme.de/").unwrap_or_else(|_| unreachable!());
        let a = |s: &str, t: &str| {
            (
                page.join(s).unwrap_or_else(|_| unreachable!()),
                t.to_owned(),
            )
        };
        let anchors = vec![
            a("/kontakt/", "Kontakt"),
            a("https://blog.acme.de/impressum", "Impressum"),
            a("https://other.de/impressum", "Impressum"),
            a("/#top", "Home"),
            a("/de/ueber-uns.html", "Wer wir sind"),
            a("/x?id=3", "Über uns"),
            a("/kontakt/", "Kontakt"),
        ];
        let got: Vec<_> = next_pages(&page, &anchors)
            .into_iter()
            .map(|p| (p.kind, p.url))
            .collect();
        assert_eq!(
            got,
            [
                (
                    PageKind::Imprint,
                    "https://blog.acme.de/impressum".to_owned()
                ),
                (
                    PageKind::About,
                    "https://www.acme.de/de/ueber-uns.html".to_owned()
                ),
                (PageKind::About, "https://www.acme.de/x?id=3".to_owned()),
                (PageKind::Contact, "https://www.acme.de/kontakt/".to_owned()),
            ]
        );
    }
}
