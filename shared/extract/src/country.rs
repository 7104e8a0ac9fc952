//! Country names, codes and telephone calling codes for the markets Tern
//! serves. Deliberately a short table: an unknown country stays unknown.

/// `(alpha-2, calling code, national trunk prefix '0' dropped in E.164, names)`.
const COUNTRIES: &[(&str, &str, bool, &[&str])] = &[
    ("DE", "49", true, &["germany", "deutschland", "deu", "allemagne", "d"]),
    ("AT", "43", true, &["austria", "österreich", "oesterreich", "aut", "autriche", "a"]),
    ("CH", "41", true, &["switzerland", "schweiz", "suisse", "svizzera", "che", "ch"]),
    ("LI", "423", false, &["liechtenstein", "lie"]),
    ("FR", "33", true, &["france", "frankreich", "fra"]),
    ("BE", "32", true, &["belgium", "belgique", "belgië", "belgien", "bel"]),
    ("LU", "352", false, &["luxembourg", "luxemburg", "lux"]),
    ("NL", "31", true, &["netherlands", "the netherlands", "nederland", "niederlande", "holland", "nld"]),
    ("GB", "44", true, &["united kingdom", "uk", "great britain", "england", "scotland", "wales", "gbr", "vereinigtes königreich"]),
    ("IE", "353", true, &["ireland", "irland", "irl"]),
    ("US", "1", false, &["united states", "united states of america", "usa", "u.s.a.", "u.s.", "vereinigte staaten"]),
    ("CA", "1", false, &["canada", "kanada", "can"]),
    ("ES", "34", false, &["spain", "españa", "espana", "spanien", "esp"]),
    ("IT", "39", false, &["italy", "italia", "italien", "ita"]),
    ("PT", "351", false, &["portugal", "prt"]),
    ("DK", "45", false, &["denmark", "danmark", "dänemark", "dnk"]),
    ("SE", "46", true, &["sweden", "sverige", "schweden", "swe"]),
    ("NO", "47", false, &["norway", "norge", "norwegen", "nor"]),
    ("FI", "358", true, &["finland", "suomi", "finnland", "fin"]),
    ("PL", "48", false, &["poland", "polska", "polen", "pol"]),
    ("CZ", "420", false, &["czechia", "czech republic", "tschechien", "cze"]),
    ("AU", "61", true, &["australia", "australien", "aus"]),
    ("NZ", "64", true, &["new zealand", "neuseeland", "nzl"]),
];

/// ISO 3166-1 alpha-2 for a code or a common name (English, German, French, native).
pub fn country_code(s: &str) -> Option<&'static str> {
    let l = s.trim().trim_end_matches('.').to_lowercase();
    if l.is_empty() {
        return None;
    }
    COUNTRIES.iter().find(|(code, _, _, names)| code.eq_ignore_ascii_case(&l) || names.contains(&l.as_str())).map(|(code, ..)| *code)
}

pub(crate) fn calling_code(country: &str) -> Option<(&'static str, bool)> {
    COUNTRIES.iter().find(|(c, ..)| c.eq_ignore_ascii_case(country)).map(|(_, cc, trunk, _)| (*cc, *trunk))
}

/// Countries an E.164 number may belong to (several for `+1`).
pub fn countries_for_e164(e164: &str) -> Vec<&'static str> {
    let digits = e164.trim_start_matches('+');
    // Longest calling code first, so +423 is Liechtenstein and not +42x.
    let mut best: Vec<(&str, usize)> =
        COUNTRIES.iter().filter(|(_, cc, ..)| digits.starts_with(cc)).map(|(c, cc, ..)| (*c, cc.len())).collect();
    let longest = best.iter().map(|(_, l)| *l).max().unwrap_or(0);
    best.retain(|(_, l)| *l == longest);
    best.into_iter().map(|(c, _)| c).collect()
}

/// The country a host's ccTLD names (`.de`, `.co.uk`), for phone numbers only.
pub(crate) fn from_host(host: &str) -> Option<&'static str> {
    let tld = host.rsplit('.').next()?;
    match tld {
        "uk" => Some("GB"),
        "com" | "org" | "net" | "io" | "co" | "ai" | "app" | "dev" | "eu" | "tech" | "biz" | "info" => None,
        t if t.len() == 2 => country_code(t),
        _ => None,
    }
}

/// The region of a language tag or OpenGraph locale (`de-AT`, `fr_FR`).
pub(crate) fn from_locale(tag: &str) -> Option<&'static str> {
    let (_, region) = tag.split_once(['-', '_'])?;
    (region.len() == 2).then(|| country_code(region)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes() {
        assert_eq!(country_code("Deutschland"), Some("DE"));
        assert_eq!(country_code("de"), Some("DE"));
        assert_eq!(country_code("Österreich"), Some("AT"));
        assert_eq!(country_code("USA"), Some("US"));
        assert_eq!(country_code("Atlantis"), None);
        assert_eq!(countries_for_e164("+4231234567"), vec!["LI"]);
        assert_eq!(countries_for_e164("+14155550100"), vec!["US", "CA"]);
        assert_eq!(from_host("shop.example.co.uk"), Some("GB"));
        assert_eq!(from_host("example.com"), None);
        assert_eq!(from_locale("de_AT"), Some("AT"));
    }
}
