//! Postal addresses and legal names in visible text: the imprint
//! (Impressum) lines of German-speaking sites and French "mentions légales".

use std::sync::LazyLock;

use regex::Regex;

use crate::country::country_code;
use crate::model::PostalAddress;

/// `Musterstraße 1[,\n] [D-]10115 Berlin`.
static DACH: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?m)(?P<street>\p{Lu}[\p{L}\p{M}.'\- ]+?\.?\s\d{1,4}\s?[a-zA-Z]?(?:\s?[\-–/]\s?\d{1,4}[a-zA-Z]?)?)[ \t]*(?:,[ \t]*|\n)(?:(?P<cc>D|A|CH|DE|AT|FL)[ \t]*-[ \t]*)?(?P<zip>\d{4,5})[ \t]+(?P<city>\p{Lu}[\p{L}\p{M}.\- ]+?)[ \t]*(?:$|,|\(|\|)",
    )
    .ok()
});

/// `12 rue de la Paix[,\n] 75002 Paris [CEDEX 02]`.
static FR: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?m)(?P<street>\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?i:rue|avenue|av\.|boulevard|bd|place|quai|chemin|all[ée]e|impasse|route|cours|passage|square|esplanade)\s+[\p{L}\p{M}'’\- ]+?)[ \t]*(?:,[ \t]*|\n)(?P<zip>\d{5})[ \t]+(?P<city>\p{Lu}[\p{L}\p{M}'’\- ]+?)(?:[ \t]+(?i:cedex)(?:[ \t]+\d{1,2})?)?[ \t]*(?:$|,|\()",
    )
    .ok()
});

static LEGAL_FORM: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?-u:\b)(?:GmbH(?:\s*&\s*Co\.\s*KG)?|gGmbH|GesmbH|Ges\.m\.b\.H\.|AG|UG(?:\s*\(haftungsbeschränkt\))?|KG|OHG|GbR|PartG|e\.\s?K\.|e\.\s?V\.|SE|SAS|SASU|SARL|S\.A\.R\.L\.|EURL|SA|SCOP|Sàrl|S\.A\.|Ltd\.?|Limited|LLP|Inc\.?|LLC|Corp\.?|B\.V\.|BV|N\.V\.)(?:$|[\s,.;)])",
    )
    .ok()
});

/// Words that come before a hosting provider's or a data-protection
/// officer's address, which is not the company's.
pub(crate) const FOREIGN_CONTEXT: &[&str] = &[
    "hébergeur",
    "hébergement",
    "hebergeur",
    "hosted by",
    "hosting",
    "hoster",
    "datenschutzbeauftragte",
    "aufsichtsbehörde",
    "streitschlichtung",
];

pub(crate) struct TextAddress {
    pub address: PostalAddress,
    pub legal_name: Option<String>,
}

/// Addresses in text order, with the legal name written just before each, if any.
pub(crate) fn from_text(text: &str, country_hint: Option<&str>) -> Vec<TextAddress> {
    let mut found: Vec<(usize, TextAddress)> = Vec::new();
    if let Some(re) = DACH.as_ref() {
        for c in re.captures_iter(text).take(20) {
            let (Some(whole), Some(street), Some(zip), Some(city)) = (c.get(0), c.name("street"), c.name("zip"), c.name("city")) else {
                continue;
            };
            if foreign_context(text, whole.start()) {
                continue;
            }
            // Lengths are checked here, not with `{m,n}` in the pattern:
            // bounded repeats of Unicode classes make the regex engine slow.
            if street.as_str().len() > 70 || city.as_str().len() > 50 {
                continue;
            }
            let street_s = clean_street(street.as_str());
            // 4-digit codes are AT, CH, LI (and many others): trust only an
            // explicit prefix, a country word, or the site's own hint.
            let country = c
                .name("cc")
                .and_then(|m| country_code(m.as_str()))
                .or_else(|| country_after(text, whole.end()))
                .or(if zip.as_str().len() == 5 { Some("DE") } else { country_hint.filter(|h| matches!(*h, "AT" | "CH" | "LI")) });
            if zip.as_str().len() == 5 && !street_looks_german(&street_s) && c.name("cc").is_none() {
                // A five-digit code with an unusual street: still an address
                // in German-speaking text, but say DE only if the page agrees.
                if country_hint.is_some_and(|h| h != "DE") {
                    continue;
                }
            }
            let addr = PostalAddress {
                street: Some(street_s),
                postal_code: Some(zip.as_str().to_owned()),
                locality: Some(city.as_str().trim().to_owned()),
                region: None,
                country: country.map(str::to_owned),
            };
            found.push((whole.start(), TextAddress { address: addr, legal_name: legal_name_before(text, street.start()) }));
        }
    }
    if let Some(re) = FR.as_ref() {
        for c in re.captures_iter(text).take(20) {
            let (Some(whole), Some(street), Some(zip), Some(city)) = (c.get(0), c.name("street"), c.name("zip"), c.name("city")) else {
                continue;
            };
            if foreign_context(text, whole.start()) {
                continue;
            }
            if street.as_str().len() > 80 || city.as_str().len() > 50 {
                continue;
            }
            let country = country_after(text, whole.end()).unwrap_or("FR");
            let addr = PostalAddress {
                street: Some(clean_street(street.as_str())),
                postal_code: Some(zip.as_str().to_owned()),
                locality: Some(city.as_str().trim().to_owned()),
                region: None,
                country: Some(country.to_owned()),
            };
            found.push((whole.start(), TextAddress { address: addr, legal_name: legal_name_before(text, street.start()) }));
        }
    }
    found.sort_by_key(|(pos, _)| *pos);
    found.into_iter().map(|(_, a)| a).take(3).collect()
}

fn clean_street(s: &str) -> String {
    crate::html::collapse(s.trim_start_matches(|c: char| c == ',' || c.is_whitespace()))
}

fn street_looks_german(s: &str) -> bool {
    let l = s.to_lowercase();
    [
        "str",
        "weg",
        "gasse",
        "platz",
        "allee",
        "ring",
        "damm",
        "ufer",
        "chaussee",
        "steig",
        "pfad",
        "markt",
        "hof",
        "berg",
        "feld",
        "graben",
        "kai",
        "zeile",
        "park",
        "tor",
        "brücke",
        "am ",
        "an der ",
        "im ",
        "unter den",
        "auf der",
    ]
    .iter()
    .any(|w| l.contains(w))
}

fn foreign_context(text: &str, pos: usize) -> bool {
    let start = floor_boundary(text, pos.saturating_sub(160));
    let before = text[start..pos].to_lowercase();
    // Only the current and previous line: a hoster block is short.
    let near: String = before.rsplit('\n').take(3).collect::<Vec<_>>().join("\n");
    FOREIGN_CONTEXT.iter().any(|w| near.contains(w))
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A country word on the rest of the line or the next line.
fn country_after(text: &str, end: usize) -> Option<&'static str> {
    let rest = &text[end.min(text.len())..];
    let rest = rest.trim_start_matches([',', ' ', '\n']);
    let line = rest.lines().next()?;
    let word = line.split([',', '(', '|']).next()?.trim();
    (word.len() <= 30).then(|| country_code(word)).flatten()
}

/// The company's legal name: a line (or the start of this line) with a legal
/// form just before the street, minus labels like "Éditeur :".
fn legal_name_before(text: &str, street_start: usize) -> Option<String> {
    let re = LEGAL_FORM.as_ref()?;
    let before = &text[..street_start];
    let mut candidates: Vec<&str> = Vec::new();
    let mut lines = before.rsplit('\n');
    if let Some(same) = lines.next() {
        candidates.push(same);
    }
    candidates.extend(lines.take(2));
    for cand in candidates {
        let cand = cand.trim().trim_end_matches(',').trim();
        if cand.is_empty() || cand.len() > 150 || !re.is_match(cand) {
            continue;
        }
        // "Éditeur : Atelier Lumière SAS, au capital de 10 000 €"
        let mut name = cand;
        if let Some((label, rest)) = name.split_once(':')
            && label.len() <= 40
            && !re.is_match(label)
        {
            name = rest.trim();
        }
        let name = match name.split_once(", ") {
            Some((head, _)) if re.is_match(head) => head,
            _ => name,
        };
        let name = name.trim().trim_end_matches([',', ';']).trim();
        if !name.is_empty() && name.len() <= 100 {
            return Some(name.to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn german_imprint() {
        let t = "Impressum\nAngaben gemäß § 5 TMG\nPixelwerk Digitalagentur GmbH\nMusterstraße 12\n10115 Berlin\nDeutschland\n";
        let a = from_text(t, None);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].address.street.as_deref(), Some("Musterstraße 12"));
        assert_eq!(a[0].address.locality.as_deref(), Some("Berlin"));
        assert_eq!(a[0].address.country.as_deref(), Some("DE"));
        assert_eq!(a[0].legal_name.as_deref(), Some("Pixelwerk Digitalagentur GmbH"));
    }

    #[test]
    fn one_line_and_austria() {
        let t = "Müller & Söhne GesmbH, Hauptstraße 5a, A-8010 Graz, Österreich";
        let a = from_text(t, None);
        assert_eq!(a[0].address.postal_code.as_deref(), Some("8010"));
        assert_eq!(a[0].address.country.as_deref(), Some("AT"));
        let b = from_text("Bahnhofstrasse 10\n8001 Zürich\n", Some("CH"));
        assert_eq!(b[0].address.country.as_deref(), Some("CH"));
        let c = from_text("Bahnhofstrasse 10\n8001 Zürich\n", None);
        assert_eq!(c[0].address.country, None);
    }

    #[test]
    fn french_with_hoster() {
        let t = "Éditeur : Atelier Lumière SAS, au capital de 10 000 €, 12 rue de la Paix, 75002 Paris\n\
                 Hébergeur : OVH SAS, 2 rue Kellermann, 59100 Roubaix, France\n";
        let a = from_text(t, None);
        assert_eq!(a.len(), 1, "{:?}", a.iter().map(|a| &a.address).collect::<Vec<_>>());
        assert_eq!(a[0].address.street.as_deref(), Some("12 rue de la Paix"));
        assert_eq!(a[0].address.country.as_deref(), Some("FR"));
        assert_eq!(a[0].legal_name.as_deref(), Some("Atelier Lumière SAS"));
    }

    #[test]
    fn prose_is_not_an_address() {
        assert!(from_text("We have 12 offices and 300 people.\nSince 2012 we help.", None).is_empty());
    }
}
