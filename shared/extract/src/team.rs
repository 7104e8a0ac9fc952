//! People and their positions: team-page cards and imprint lines
//! ("Geschäftsführer: …", "Directeur de la publication : …").

use std::sync::LazyLock;

use regex::Regex;
use scraper::{ElementRef, Html};

use crate::html::element_text;
use crate::model::TeamMember;

/// A team page rarely lists more; beyond this it is a customer or alumni list.
pub(crate) const MAX_TEAM: usize = 60;

const ROLE_WORDS: &[&str] = &[
    "ceo",
    "cto",
    "coo",
    "cfo",
    "cmo",
    "cpo",
    "cro",
    "ciso",
    "vp",
    "svp",
    "evp",
    "founder",
    "co-founder",
    "cofounder",
    "gründer",
    "gründerin",
    "mitgründer",
    "mitgründerin",
    "president",
    "chief",
    "head",
    "director",
    "manager",
    "lead",
    "engineer",
    "developer",
    "designer",
    "partner",
    "owner",
    "inhaber",
    "inhaberin",
    "geschäftsführer",
    "geschäftsführerin",
    "geschäftsleitung",
    "leiter",
    "leiterin",
    "vorstand",
    "prokurist",
    "prokuristin",
    "berater",
    "beraterin",
    "consultant",
    "officer",
    "sales",
    "marketing",
    "gérant",
    "gérante",
    "directeur",
    "directrice",
    "fondateur",
    "fondatrice",
    "président",
    "présidente",
    "responsable",
    "associé",
    "associée",
    "chef",
    "advisor",
    "executive",
    "strategist",
    "architect",
    "analyst",
    "scientist",
    "recruiter",
    "operations",
    "product",
    "specialist",
    "coordinator",
    "assistant",
    "account",
    "entwickler",
    "entwicklerin",
    "projektleiter",
    "projektleiterin",
    "vertrieb",
    "teamlead",
    "principal",
    "chairman",
    "chairwoman",
    "managing",
];

/// Words that show a heading is not a person's name.
const NOT_NAME_WORDS: &[&str] = &[
    "team",
    "our",
    "about",
    "contact",
    "services",
    "service",
    "product",
    "products",
    "home",
    "blog",
    "news",
    "careers",
    "jobs",
    "meet",
    "the",
    "leadership",
    "unser",
    "unsere",
    "über",
    "kontakt",
    "impressum",
    "pricing",
    "features",
    "customers",
    "partners",
    "solutions",
    "case",
    "studies",
    "get",
    "started",
    "free",
    "trial",
    "sign",
    "login",
    "newsletter",
    "follow",
    "uns",
    "de",
    "management",
    "board",
    "advisors",
    "investors",
    "office",
    "offices",
    "and",
    "und",
    "et",
    "gmbh",
    "inc",
    "ltd",
    "ag",
    "sas",
    "privacy",
    "policy",
    "terms",
    "cookie",
    "cookies",
    "support",
    "help",
    "docs",
    "learn",
    "more",
    "read",
    "who",
    "we",
    "are",
    "what",
    "do",
    "why",
    "how",
    "join",
    "ihr",
    "ihre",
    "your",
    "votre",
    "notre",
    "nos",
    "ventures",
    "capital",
    "investors",
    "investor",
    "fund",
    "labs",
    "group",
    "holding",
    "studio",
    "agency",
    "agentur",
    "partner",
    "angel",
    "angels",
    "software",
    "solutions",
];

const PARTICLES: &[&str] = &["von", "van", "de", "der", "den", "da", "di", "du", "zu", "la", "le", "del", "dos", "ten", "ter"];
const HONORIFICS: &[&str] =
    &["Dr.", "Prof.", "Dipl.-Ing.", "Dipl.-Kfm.", "Mag.", "Ing.", "M.", "Mme", "Mme.", "Mr.", "Mrs.", "Ms.", "Herr", "Frau"];

/// Two to four capitalised words of letters: a person's name as printed on a
/// card. Titles like "Dr." are stripped first.
pub(crate) fn person_name(s: &str) -> Option<String> {
    let s = crate::html::collapse(s);
    let mut words: Vec<&str> = s.split(' ').collect();
    while words.first().is_some_and(|w| HONORIFICS.contains(w)) {
        words.remove(0);
    }
    if !(2..=5).contains(&words.len()) {
        return None;
    }
    let mut capitalised = 0;
    for w in &words {
        let lw = w.to_lowercase();
        if lw.contains("team") {
            return None;
        }
        if NOT_NAME_WORDS.contains(&lw.as_str()) && !PARTICLES.contains(&lw.as_str()) {
            return None;
        }
        if PARTICLES.contains(&lw.as_str()) {
            continue;
        }
        let mut chars = w.chars();
        let first = chars.next()?;
        if !first.is_uppercase() || !w.chars().all(|c| c.is_alphabetic() || c == '-' || c == '\'' || c == '’' || c == '.') {
            return None;
        }
        // ALL-CAPS words are headings ("OUR TEAM"), not names.
        if w.chars().count() > 2 && w.chars().all(|c| !c.is_lowercase()) {
            return None;
        }
        capitalised += 1;
    }
    let name = words.join(" ");
    (capitalised >= 2 && name.len() <= 50).then_some(name)
}

pub(crate) fn looks_like_role(s: &str) -> bool {
    if s.is_empty() || s.len() > 80 || s.contains('@') {
        return false;
    }
    let l = s.to_lowercase();
    // German compounds carry the role at the end: "Vertriebsleiter", "Reiseberaterin".
    const SUFFIXES: &[&str] = &[
        "leiter",
        "leiterin",
        "berater",
        "beraterin",
        "entwickler",
        "entwicklerin",
        "planer",
        "planerin",
        "manager",
        "managerin",
        "führer",
        "führerin",
    ];
    l.split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .any(|w| ROLE_WORDS.contains(&w) || SUFFIXES.iter().any(|s| w.len() > s.len() + 2 && w.ends_with(s)))
}

fn is_name_candidate(er: ElementRef<'_>) -> bool {
    let el = er.value();
    matches!(el.name(), "h2" | "h3" | "h4" | "h5" | "h6" | "strong" | "b")
        || el.classes().any(|c| {
            let c = c.to_ascii_lowercase();
            c.contains("name") && !c.contains("company") && !c.contains("brand") && !c.contains("site")
        })
}

fn is_role_class(er: ElementRef<'_>) -> bool {
    er.value().classes().any(|c| {
        let c = c.to_ascii_lowercase();
        ["role", "position", "title", "job", "function", "subtitle", "designation"].iter().any(|k| c.contains(k)) && !c.contains("name")
    })
}

/// Cards: a name heading followed by a role line, or a role-classed element in
/// the same card. A personal LinkedIn link inside the card is kept.
pub(crate) fn from_cards(doc: &Html) -> Vec<TeamMember> {
    let mut out: Vec<TeamMember> = Vec::new();
    for er in doc.root_element().descendent_elements() {
        if out.len() >= MAX_TEAM {
            break;
        }
        if !is_name_candidate(er) {
            continue;
        }
        let Some(raw) = element_text(er, 120) else {
            continue;
        };
        // "Lena Vogel, CEO" / "Lena Vogel – CEO" in one heading.
        let (name, inline_role) = match raw.split_once([',', '–', '—', '|']) {
            Some((n, r)) if looks_like_role(r.trim()) => (person_name(n), Some(r.trim().to_owned())),
            _ => (person_name(&raw), None),
        };
        let Some(name) = name else { continue };
        if out.iter().any(|m| m.name == name) {
            continue;
        }
        // <p><strong>Name</strong></p><p>Role</p>: the wrapper that holds
        // only the name stands for it.
        let mut name_el = er;
        for _ in 0..3 {
            match name_el.parent().and_then(ElementRef::wrap) {
                Some(p) if p.value().name() != "body" && element_text(p, 120).as_deref() == Some(raw.as_str()) => name_el = p,
                _ => break,
            }
        }
        let Some(card) = name_el.parent().and_then(ElementRef::wrap) else {
            continue;
        };
        // A whole section is not a card: only small containers are searched.
        if element_text(card, 600).is_none() {
            if let Some(role) = inline_role.or_else(|| role_in_siblings(name_el)) {
                out.push(TeamMember { name, position: Some(role), linkedin: None });
            }
            continue;
        }
        let role = inline_role.or_else(|| role_near(name_el, card));
        let Some(role) = role else { continue };
        let linkedin = linkedin_in(card).or_else(|| {
            // The link often sits one level up, next to the text block.
            let parent = card.parent().and_then(ElementRef::wrap)?;
            element_text(parent, 400)?;
            linkedin_in(parent)
        });
        out.push(TeamMember { name, position: Some(role), linkedin });
    }
    out
}

/// The next one or two element siblings: <h3>Name</h3><p>Role</p>. A sibling
/// that holds another name is the next card, not a role.
fn role_in_siblings(name_el: ElementRef<'_>) -> Option<String> {
    for sib in name_el.next_siblings().filter_map(ElementRef::wrap).take(2) {
        if is_name_candidate(sib) || sib.descendent_elements().skip(1).any(is_name_candidate) {
            return None;
        }
        if let Some(t) = element_text(sib, 120)
            && looks_like_role(&t)
        {
            return Some(t);
        }
    }
    None
}

fn role_near(name_el: ElementRef<'_>, card: ElementRef<'_>) -> Option<String> {
    if let Some(r) = role_in_siblings(name_el) {
        return Some(r);
    }
    // A role-classed element anywhere in the card.
    for el in card.descendent_elements() {
        if el.id() != name_el.id()
            && is_role_class(el)
            && let Some(t) = element_text(el, 120)
            && looks_like_role(&t)
        {
            return Some(t);
        }
    }
    None
}

fn linkedin_in(el: ElementRef<'_>) -> Option<String> {
    el.descendent_elements().filter(|e| e.value().name() == "a").find_map(|a| {
        let href = a.value().attr("href")?;
        href.contains("linkedin.com/in/").then(|| href.trim().to_owned())
    })
}

static LABELLED: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?im)^[ \t]*(vertreten durch(?: den| die)?(?: geschäftsführer(?:in)?| vorstand)?|vertretungsberechtigte[r]? geschäftsführer(?:in)?|geschäftsführer(?:in)?|geschäftsführende[r]? gesellschafter(?:in)?|geschäftsführung|inhaber(?:in)?|vorstand|vorstandsvorsitzende[r]?|managing directors?|represented by|directeur de la publication|directrice de la publication|responsable de la publication|directeur général|directrice générale|gérant(?:e)?|président(?:e)?|ceo)[ \t]*([:：])?[ \t]*(.*)$",
    )
    .ok()
});

/// Imprint lines that name the people legally responsible for the company.
pub(crate) fn from_text(text: &str) -> Vec<TeamMember> {
    let Some(re) = LABELLED.as_ref() else {
        return vec![];
    };
    let mut out: Vec<TeamMember> = Vec::new();
    for c in re.captures_iter(text) {
        let (Some(label), Some(rest), Some(whole)) = (c.get(1), c.get(3), c.get(0)) else {
            continue;
        };
        let l = label.as_str().to_lowercase();
        // Without a colon, "Inhaberin & Reiseplanerin" is a role line, not a
        // label; only "vertreten durch …" reads as one without it.
        if c.get(2).is_none() && !rest.as_str().trim().is_empty() && !l.starts_with("vertreten") && !l.starts_with("represented") {
            continue;
        }
        let position = canonical_position(label.as_str());
        let mut names = rest.as_str().trim().to_owned();
        if names.is_empty() {
            // "Vertreten durch:\nAnna Schmidt", unless the next line is a
            // labelled line itself (it is matched on its own).
            let next = text[whole.end()..].trim_start_matches('\n').lines().next().unwrap_or("");
            if re.is_match(next) {
                continue;
            }
            names = next.to_owned();
        }
        for part in
            names.split([',', ';', '&', '/']).flat_map(|p| p.split(" und ")).flat_map(|p| p.split(" and ")).flat_map(|p| p.split(" et "))
        {
            // "Anna Schmidt (Geschäftsführerin)" → the name only.
            let part = part.split('(').next().unwrap_or("").trim();
            if let Some(name) = person_name(part)
                && out.len() < MAX_TEAM
                && !out.iter().any(|m| m.name == name)
            {
                out.push(TeamMember { name, position: Some(position.clone()), linkedin: None });
            }
        }
    }
    out
}

fn canonical_position(label: &str) -> String {
    let l = label.to_lowercase();
    let p = if l.contains("vorstand") {
        "Vorstand"
    } else if l.contains("geschäftsführ") {
        "Geschäftsführer"
    } else if l.starts_with("vertreten") || l.starts_with("represented") {
        "Vertretungsberechtigt"
    } else if l.starts_with("inhaber") {
        "Inhaber"
    } else if l.starts_with("managing director") {
        "Managing Director"
    } else if l.contains("publication") {
        "Directeur de la publication"
    } else if l.starts_with("directe") || l.starts_with("directrice") {
        "Directeur général"
    } else if l.starts_with("gérant") {
        "Gérant"
    } else if l.starts_with("présid") {
        "Président"
    } else {
        "CEO"
    };
    p.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(person_name("Dr. Anna Schmidt").as_deref(), Some("Anna Schmidt"));
        assert_eq!(person_name("Ludwig van der Berg").as_deref(), Some("Ludwig van der Berg"));
        assert_eq!(person_name("Our Team"), None);
        assert_eq!(person_name("MEET US"), None);
        assert_eq!(person_name("Madonna"), None);
        assert_eq!(person_name("Pixelwerk GmbH"), None);
        assert!(looks_like_role("CTO & Co-founder"));
        assert!(looks_like_role("Geschäftsführerin"));
        assert!(!looks_like_role("Loves climbing and coffee"));
    }

    #[test]
    fn cards() {
        let doc = Html::parse_document(
            r#"<section><h2>Our Team</h2>
            <div class="team-card"><img src="a.jpg"><div class="info"><h3 class="team-name">Lena Vogel</h3><div class="team-role">CEO &amp; Co-founder</div></div><a href="https://www.linkedin.com/in/lenavogel/">in</a></div>
            <div class="card"><h4>Marc Dubois, Head of Sales</h4></div>
            <div class="card"><h3>Quarterly Report</h3><p>Download now</p></div></section>"#,
        );
        let t = from_cards(&doc);
        assert_eq!(t.len(), 2, "{t:?}");
        assert_eq!(t[0].position.as_deref(), Some("CEO & Co-founder"));
        assert_eq!(t[0].linkedin.as_deref(), Some("https://www.linkedin.com/in/lenavogel/"));
        assert_eq!(t[1].name, "Marc Dubois");
    }

    #[test]
    fn imprint_lines() {
        let t = "Geschäftsführer: Anna Schmidt, Dr. Jonas Weber\nVertreten durch:\nPixelwerk Verwaltungs GmbH\nDirectrice de la publication : Claire Martin\n";
        let m = from_text(t);
        let got: Vec<_> = m.iter().map(|m| (m.name.as_str(), m.position.as_deref().unwrap_or(""))).collect();
        assert_eq!(
            got,
            [("Anna Schmidt", "Geschäftsführer"), ("Jonas Weber", "Geschäftsführer"), ("Claire Martin", "Directeur de la publication")]
        );
    }
}
