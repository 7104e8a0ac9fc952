//! `<meta>` tags, OpenGraph and the document title.

use crate::html::{Scan, collapse};
use crate::model::{Fact, Method, PageFacts};

/// Shortens to at most `max` bytes on a word boundary, with an ellipsis.
pub(crate) fn clip(s: &str, max: usize) -> String {
    let s = collapse(s);
    if s.len() <= max {
        return s;
    }
    let cut = crate::html::prefix_at_boundary(&s, max.saturating_sub(3));
    let cut = cut.rsplit_once(' ').map_or(cut, |(a, _)| a);
    format!("{cut}…")
}

pub(crate) fn extract(scan: &Scan, f: &mut PageFacts, src: &str, host: &str) {
    if let Some(n) = scan.meta("og:site_name") {
        f.names.push(Fact::new(collapse(n), src, Method::Opengraph));
    }
    for key in ["application-name", "apple-mobile-web-app-title"] {
        if let Some(n) = scan.meta(key) {
            f.names.push(Fact::new(collapse(n), src, Method::Meta));
        }
    }
    if let Some(name) = scan.title.as_deref().and_then(|t| clean_title(t, host)) {
        f.names.push(Fact::new(name, src, Method::Title));
    }
    if let Some(d) = scan.meta("og:description") {
        f.descriptions.push(Fact::new(clip(d, 500), src, Method::Opengraph));
    }
    if let Some(d) = scan.meta("description") {
        f.descriptions.push(Fact::new(clip(d, 500), src, Method::Meta));
    }
    if let Some(k) = scan.meta("keywords") {
        for kw in k.split([',', ';']).map(collapse).filter(|k| !k.is_empty() && k.len() <= 60).take(10) {
            if !f.industries.iter().any(|x| x.value.eq_ignore_ascii_case(&kw)) {
                f.industries.push(Fact::new(kw, src, Method::Meta));
            }
        }
    }
}

/// Segments of a title that name the page, not the company.
const GENERIC: &[&str] = &[
    "home",
    "homepage",
    "home page",
    "startseite",
    "start",
    "accueil",
    "welcome",
    "willkommen",
    "inicio",
    "index",
    "official site",
    "official website",
    "about",
    "about us",
    "über uns",
    "ueber uns",
    "kontakt",
    "contact",
    "contact us",
    "team",
    "our team",
    "unser team",
    "impressum",
    "imprint",
    "mentions légales",
    "legal notice",
    "blog",
    "news",
    "page d'accueil",
    "qui sommes-nous",
    "shop",
    "store",
    "online shop",
    "onlineshop",
];

/// "Home | Acme" → "Acme"; "Acme – Project management for agencies" → "Acme"
/// (the segment matching the domain, else the shortest).
pub(crate) fn clean_title(title: &str, host: &str) -> Option<String> {
    let title = collapse(title);
    let mut segs: Vec<String> = vec![title];
    for sep in [" | ", " - ", " – ", " — ", " :: ", " · ", " • ", " // ", ": ", " » "] {
        segs = segs.iter().flat_map(|s| s.split(sep).map(str::to_owned).collect::<Vec<_>>()).collect();
    }
    let segs: Vec<String> = segs
        .into_iter()
        .map(|s| {
            let s = s.trim().to_owned();
            let l = s.to_lowercase();
            for prefix in ["welcome to ", "willkommen bei ", "bienvenue chez "] {
                if l.starts_with(prefix) {
                    return s[prefix.len()..].trim().to_owned();
                }
            }
            s
        })
        .filter(|s| !s.is_empty() && !GENERIC.contains(&s.to_lowercase().as_str()))
        .collect();
    let label = registrable_label(host);
    let squash = |s: &str| s.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect::<String>();
    let pick = if segs.len() <= 1 {
        segs.into_iter().next()?
    } else if let Some(m) = segs.iter().find(|s| {
        let q = squash(s);
        label.len() >= 3 && (q.contains(&label) || (q.len() >= 3 && label.contains(&q)))
    }) {
        m.clone()
    } else {
        segs.into_iter().min_by_key(|s| s.chars().count())?
    };
    (pick.chars().count() <= 80).then_some(pick)
}

fn registrable_label(host: &str) -> String {
    let reg = crate::links::registrable_domain(host);
    reg.split('.').next().unwrap_or("").chars().filter(|c| c.is_alphanumeric()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert_eq!(clean_title("Home | Acme", "acme.com").as_deref(), Some("Acme"));
        assert_eq!(clean_title("Flowdesk – The client portal for agencies", "www.flowdesk.io").as_deref(), Some("Flowdesk"));
        assert_eq!(clean_title("Über uns - Pixelwerk Digitalagentur", "pixelwerk-agentur.de").as_deref(), Some("Pixelwerk Digitalagentur"));
        assert_eq!(clean_title("Startseite", "x.de"), None);
        assert_eq!(clean_title("Welcome to Nordlicht", "nordlicht.shop").as_deref(), Some("Nordlicht"));
        assert_eq!(clean_title("Products - Services - Solutions", "zz.com").as_deref(), Some("Products"));
    }

    #[test]
    fn clip_on_word() {
        assert_eq!(clip("aaa bbb ccc", 9), "aaa…");
        assert_eq!(clip("short", 9), "short");
    }
}
