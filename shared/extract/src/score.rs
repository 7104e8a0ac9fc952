//! The lead score: how well a company profile fits a workspace's ideal
//! customer, as a number from 0 to 100 with every contributing signal listed.
//!
//! Each signal has a base weight. Fit signals (industry, country, keywords,
//! size, technologies) apply only when the ideal customer sets them; data
//! signals (e-mail, phone, decision maker, LinkedIn page, address) always
//! apply. The weights of the applicable signals are scaled to sum to exactly
//! 100 (largest remainder, ties in signal order), and the score is the sum of
//! the points each signal earned: its weight times the fraction matched,
//! rounded down. Same input, same output; no floating point.

use serde::{Deserialize, Serialize};

use crate::country::countries_for_e164;
use crate::model::{CompanyProfile, Method};

/// Employee count range, inclusive; an open end is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeRange {
    pub min: Option<u32>,
    pub max: Option<u32>,
}

/// What a workspace sells to. Empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdealCustomer {
    /// Free words matched against industry hints ("software", "marketing agency").
    pub industries: Vec<String>,
    /// ISO 3166-1 alpha-2.
    pub countries: Vec<String>,
    /// Words looked for in the name, description and industry hints.
    pub keywords: Vec<String>,
    pub size_hint: Option<SizeRange>,
    /// Technology names as this crate reports them ("HubSpot", "Shopify").
    pub required_technologies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    pub name: String,
    /// Share of the 100 points this signal can earn; 0 when it does not apply.
    pub weight: u8,
    /// Fully or partly matched.
    pub matched: bool,
    /// Points earned (≤ weight).
    pub points: u8,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadScore {
    pub score: u8,
    pub signals: Vec<Signal>,
}

/// `(name, base weight)`, in the order signals are listed.
const BASE: &[(&str, u32)] = &[
    ("industry", 25),
    ("country", 20),
    ("keywords", 15),
    ("company_size", 10),
    ("technologies", 10),
    ("public_email", 6),
    ("decision_maker", 5),
    ("phone", 4),
    ("linkedin_page", 3),
    ("postal_address", 2),
];

struct Eval {
    applies: bool,
    /// Matched fraction `(numerator, denominator)`.
    fraction: (u32, u32),
    detail: String,
}

impl Eval {
    fn off(detail: &str) -> Self {
        Eval { applies: false, fraction: (0, 1), detail: detail.to_owned() }
    }
    fn on(num: u32, den: u32, detail: String) -> Self {
        Eval { applies: true, fraction: (num, den.max(1)), detail }
    }
}

pub fn score(profile: &CompanyProfile, icp: &IdealCustomer) -> LeadScore {
    let evals: Vec<Eval> = BASE
        .iter()
        .map(|(name, _)| match *name {
            "industry" => industry(profile, icp),
            "country" => country(profile, icp),
            "keywords" => keywords(profile, icp),
            "company_size" => size(profile, icp),
            "technologies" => technologies(profile, icp),
            "public_email" => public_email(profile),
            "decision_maker" => decision_maker(profile),
            "phone" => phone(profile),
            "linkedin_page" => linkedin(profile),
            _ => address(profile),
        })
        .collect();
    let weights = scale_weights(&evals);
    let mut total: u32 = 0;
    let signals = BASE
        .iter()
        .zip(evals)
        .zip(weights)
        .map(|(((name, _), e), w)| {
            let points = if e.applies { w * e.fraction.0.min(e.fraction.1) / e.fraction.1 } else { 0 };
            total += points;
            Signal {
                name: (*name).to_owned(),
                weight: w as u8,
                matched: e.applies && e.fraction.0 > 0,
                points: points as u8,
                detail: e.detail,
            }
        })
        .collect();
    LeadScore { score: total.min(100) as u8, signals }
}

/// Base weights of applicable signals scaled to sum to 100.
fn scale_weights(evals: &[Eval]) -> Vec<u32> {
    let sum: u32 = BASE.iter().zip(evals).filter(|(_, e)| e.applies).map(|((_, w), _)| w).sum();
    if sum == 0 {
        return vec![0; evals.len()];
    }
    let mut out: Vec<u32> = Vec::with_capacity(evals.len());
    let mut rem: Vec<(u32, usize)> = Vec::new();
    for (i, ((_, w), e)) in BASE.iter().zip(evals).enumerate() {
        if e.applies {
            out.push(w * 100 / sum);
            rem.push((w * 100 % sum, i));
        } else {
            out.push(0);
        }
    }
    let mut left = 100 - out.iter().sum::<u32>();
    // Largest remainder first; equal remainders go to the earlier signal.
    rem.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rem {
        if left == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    out
}

/// Lower-case words: "SoftwareApplication" → "software application".
fn words(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut prev_lower = false;
    for c in s.chars() {
        if c.is_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_lowercase();
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else {
            out.push(' ');
        }
    }
    format!(" {} ", crate::html::collapse(&out))
}

/// Whole-word match, allowing a simple plural ("agency" finds "agencies").
fn has_term(hay_words: &str, term: &str) -> bool {
    let t = words(term);
    let t = t.trim();
    if t.is_empty() {
        return false;
    }
    let mut forms = vec![format!(" {t} "), format!(" {t}s ")];
    if let Some(stem) = t.strip_suffix('y') {
        forms.push(format!(" {stem}ies "));
    }
    if let Some(stem) = t.strip_suffix('s') {
        forms.push(format!(" {stem} "));
    }
    forms.iter().any(|f| hay_words.contains(f.as_str()))
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::JsonLd => "json-ld",
        Method::Microdata => "microdata",
        Method::Opengraph => "opengraph",
        Method::Meta => "meta",
        Method::Link => "link",
        Method::Script => "script",
        Method::Markup => "markup",
        Method::Title => "title",
        Method::Text => "text",
    }
}

fn industry(p: &CompanyProfile, icp: &IdealCustomer) -> Eval {
    if icp.industries.is_empty() {
        return Eval::off("the ideal customer sets no industries");
    }
    for term in &icp.industries {
        if let Some(h) = p.industries.iter().find(|h| has_term(&words(&h.value), term)) {
            return Eval::on(1, 1, format!("\"{term}\" in industry hint \"{}\" ({})", h.value, method_name(h.method)));
        }
    }
    // Only the description mentions it: a weaker signal, half the points.
    if let Some(d) = &p.description {
        let w = words(&d.value);
        if let Some(term) = icp.industries.iter().find(|t| has_term(&w, t)) {
            return Eval::on(1, 2, format!("\"{term}\" only in the description: half the points"));
        }
    }
    Eval::on(0, 1, format!("none of {:?} in the industry hints or description", icp.industries))
}

fn country(p: &CompanyProfile, icp: &IdealCustomer) -> Eval {
    if icp.countries.is_empty() {
        return Eval::off("the ideal customer sets no countries");
    }
    let wanted = |c: &str| icp.countries.iter().any(|w| w.trim().eq_ignore_ascii_case(c));
    if let Some(c) = &p.country {
        return if wanted(&c.value) {
            Eval::on(1, 1, format!("{} from the address ({})", c.value, method_name(c.method)))
        } else {
            Eval::on(0, 1, format!("{} is not in {:?}", c.value, icp.countries))
        };
    }
    // No address: the calling code of a published number is the next best evidence.
    if let Some((e164, c)) = p
        .phones
        .iter()
        .filter_map(|ph| ph.value.e164.as_deref())
        .flat_map(|e| countries_for_e164(e).into_iter().map(move |c| (e, c)))
        .find(|(_, c)| wanted(c))
    {
        return Eval::on(1, 1, format!("{c} from the calling code of {e164} (no address found)"));
    }
    Eval::on(0, 1, "country unknown or not wanted".to_owned())
}

fn keywords(p: &CompanyProfile, icp: &IdealCustomer) -> Eval {
    let terms: Vec<&String> = icp.keywords.iter().filter(|k| !k.trim().is_empty()).collect();
    if terms.is_empty() {
        return Eval::off("the ideal customer sets no keywords");
    }
    let mut hay = String::new();
    for s in p.name.iter().chain(p.description.iter()).chain(p.industries.iter()) {
        hay.push_str(&words(&s.value));
    }
    let found: Vec<&str> = terms.iter().filter(|t| has_term(&hay, t)).map(|t| t.as_str()).collect();
    let n = terms.len() as u32;
    Eval::on(found.len() as u32, n, format!("{} of {} keywords found: {:?}", found.len(), n, found))
}

fn size(p: &CompanyProfile, icp: &IdealCustomer) -> Eval {
    let Some(want) = icp.size_hint else {
        return Eval::off("the ideal customer sets no size");
    };
    let (lo, hi) = (want.min.unwrap_or(0), want.max.unwrap_or(u32::MAX));
    if let Some(e) = &p.employees {
        let (emin, emax) = (e.value.min.unwrap_or(0), e.value.max.unwrap_or(u32::MAX));
        let overlap = emin <= hi && emax >= lo;
        let shown = format!("{}–{}", fmt_bound(e.value.min), fmt_bound(e.value.max));
        return if overlap {
            Eval::on(1, 1, format!("{shown} employees ({}) within the wanted size", method_name(e.method)))
        } else {
            Eval::on(0, 1, format!("{shown} employees ({}) outside the wanted size", method_name(e.method)))
        };
    }
    // The team page is a lower bound only: it can rule a company out, not in.
    let listed = p.team.len() as u32;
    if listed > hi {
        return Eval::on(0, 1, format!("at least {listed} people listed, more than the wanted maximum {hi}"));
    }
    Eval::on(0, 1, format!("size unknown ({listed} people listed)"))
}

fn fmt_bound(b: Option<u32>) -> String {
    b.map_or_else(|| "?".to_owned(), |n| n.to_string())
}

fn technologies(p: &CompanyProfile, icp: &IdealCustomer) -> Eval {
    let req: Vec<&String> = icp.required_technologies.iter().filter(|t| !t.trim().is_empty()).collect();
    if req.is_empty() {
        return Eval::off("the ideal customer requires no technologies");
    }
    let found: Vec<&str> =
        req.iter().filter(|r| p.technologies.iter().any(|t| t.value.name.eq_ignore_ascii_case(r.trim()))).map(|r| r.as_str()).collect();
    let n = req.len() as u32;
    Eval::on(found.len() as u32, n, format!("{} of {} required technologies found: {:?}", found.len(), n, found))
}

fn public_email(p: &CompanyProfile) -> Eval {
    match p.emails.first() {
        Some(e) => Eval::on(1, 1, format!("{} ({})", e.value, method_name(e.method))),
        None => Eval::on(0, 1, "no public e-mail address".to_owned()),
    }
}

const LEADERSHIP: &[&str] = &[
    "ceo",
    "founder",
    "co-founder",
    "cofounder",
    "gründer",
    "geschäftsführer",
    "geschäftsführerin",
    "managing director",
    "owner",
    "inhaber",
    "président",
    "gérant",
    "directeur",
    "cto",
    "coo",
    "cfo",
    "cmo",
    "chief",
    "vorstand",
    "president",
    "head",
    "vp",
    "partner",
    "vertretungsberechtigt",
];

fn decision_maker(p: &CompanyProfile) -> Eval {
    let hit = p.team.iter().find(|m| {
        m.value.position.as_deref().is_some_and(|pos| {
            let w = words(pos);
            LEADERSHIP.iter().any(|l| w.contains(&format!(" {} ", words(l).trim())))
        })
    });
    match hit {
        Some(m) => Eval::on(1, 1, format!("{} ({}), {}", m.value.name, m.value.position.as_deref().unwrap_or(""), method_name(m.method))),
        None => Eval::on(0, 1, format!("no named decision maker among {} people", p.team.len())),
    }
}

fn phone(p: &CompanyProfile) -> Eval {
    match p.phones.first() {
        Some(ph) => Eval::on(1, 1, ph.value.e164.clone().unwrap_or_else(|| ph.value.raw.clone())),
        None => Eval::on(0, 1, "no public phone number".to_owned()),
    }
}

fn linkedin(p: &CompanyProfile) -> Eval {
    match p.social.iter().find(|s| s.value.network == crate::SocialNetwork::Linkedin) {
        Some(s) => Eval::on(1, 1, s.value.url.clone()),
        None => Eval::on(0, 1, "no LinkedIn company page linked".to_owned()),
    }
}

fn address(p: &CompanyProfile) -> Eval {
    match &p.address {
        Some(a) => Eval::on(
            1,
            1,
            [a.value.street.as_deref(), a.value.postal_code.as_deref(), a.value.locality.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", "),
        ),
        None => Eval::on(0, 1, "no postal address".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EmployeeCount, Fact, Phone, Technology};

    fn profile() -> CompanyProfile {
        let src = "https://acme.io/";
        CompanyProfile {
            name: Some(Fact::new("Acme".into(), src, Method::JsonLd)),
            description: Some(Fact::new("Client portal software for marketing agencies".into(), src, Method::Meta)),
            industries: vec![Fact::new("SoftwareApplication".into(), src, Method::JsonLd)],
            employees: Some(Fact::new(EmployeeCount { min: Some(11), max: Some(50) }, src, Method::JsonLd)),
            phones: vec![Fact::new(Phone { raw: "+49 30 1".into(), e164: Some("+49301234567".into()) }, src, Method::Link)],
            technologies: vec![Fact::new(
                Technology { name: "HubSpot".into(), category: "x".into(), evidence: "y".into() },
                src,
                Method::Script,
            )],
            ..Default::default()
        }
    }

    #[test]
    fn weights_sum_to_100_and_score_is_sum_of_points() {
        for icp in [
            IdealCustomer::default(),
            IdealCustomer { industries: vec!["software".into()], ..Default::default() },
            IdealCustomer {
                industries: vec!["software".into()],
                countries: vec!["DE".into()],
                keywords: vec!["agency".into(), "crm".into()],
                size_hint: Some(SizeRange { min: Some(10), max: Some(200) }),
                required_technologies: vec!["HubSpot".into(), "Salesforce".into()],
            },
        ] {
            let s = score(&profile(), &icp);
            assert_eq!(s.signals.iter().map(|x| x.weight as u32).sum::<u32>(), 100);
            assert_eq!(s.signals.iter().map(|x| x.points as u32).sum::<u32>(), s.score as u32);
            assert!(s.signals.iter().all(|x| x.points <= x.weight));
        }
    }

    #[test]
    fn explainable_signals() {
        let icp = IdealCustomer {
            industries: vec!["software".into()],
            countries: vec!["de".into()],
            keywords: vec!["agency".into(), "crm".into()],
            size_hint: Some(SizeRange { min: Some(10), max: Some(200) }),
            required_technologies: vec!["hubspot".into()],
        };
        let s = score(&profile(), &icp);
        let by = |n: &str| s.signals.iter().find(|x| x.name == n).cloned().unwrap();
        assert!(by("industry").matched);
        assert_eq!(by("industry").detail, "\"software\" in industry hint \"SoftwareApplication\" (json-ld)");
        assert!(by("country").detail.contains("calling code"));
        assert_eq!(by("keywords").points, by("keywords").weight / 2);
        assert!(by("company_size").matched);
        assert!(!by("public_email").matched);
        // Deterministic: same input, same output.
        assert_eq!(s, score(&profile(), &icp));
        assert_eq!(serde_json::to_value(&s).unwrap()["signals"][0]["name"], "industry");
    }

    #[test]
    fn empty_profile_scores_zero() {
        let s = score(&CompanyProfile::default(), &IdealCustomer::default());
        assert_eq!(s.score, 0);
    }

    #[test]
    fn plural_and_camel_case() {
        assert!(has_term(&words("marketing agencies"), "agency"));
        assert!(has_term(&words("LegalService"), "legal"));
        assert!(!has_term(&words("agenda"), "agency"));
    }
}
