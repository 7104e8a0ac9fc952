//! schema.org JSON-LD (and microdata, converted to the same JSON shape):
//! organisations, their people, addresses and contact points.

use serde_json::{Map, Value};

use crate::country::country_code;
use crate::html::collapse;
use crate::model::{EmployeeCount, Fact, Method, PageFacts, Phone, PostalAddress, TeamMember};

/// Nesting followed inside one item; real markup is 3–4 deep.
const MAX_DEPTH: usize = 6;
const MAX_BLOCKS: usize = 20;
const MAX_NODES: usize = 100;
/// Per-list cap while collecting; `finalise` trims further.
const MAX_VALUES: usize = 100;

/// Parses each `<script type="application/ld+json">` block and records facts.
pub(crate) fn extract(blocks: &[String], f: &mut PageFacts, src: &str) {
    let mut site_names = Vec::new();
    // Bounded work: a page with hundreds of blocks is a product listing.
    for block in blocks.iter().take(MAX_BLOCKS) {
        let Some(v) = parse_lenient(block) else {
            continue;
        };
        for node in top_level_nodes(&v).into_iter().take(MAX_NODES) {
            visit_node(node, f, src, Method::JsonLd, &mut site_names);
        }
    }
    // A WebSite's name is the brand as often as not; it only counts after
    // any organisation name.
    f.names.extend(site_names);
}

/// CMS plugins wrap JSON-LD in HTML comments or CDATA, and some emit trailing
/// commas; browsers do not care, so a second, forgiving attempt is made.
fn parse_lenient(block: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str(block.trim()) {
        return Some(v);
    }
    let mut s = block.trim().to_owned();
    for junk in ["<!--", "-->", "//<![CDATA[", "//]]>", "<![CDATA[", "]]>"] {
        s = s.replace(junk, "");
    }
    let s = strip_trailing_commas(&s);
    serde_json::from_str(s.trim()).ok()
}

fn strip_trailing_commas(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_str = false;
    let mut escaped = false;
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
        } else if c == ',' {
            let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
            if matches!(next, Some('}') | Some(']')) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

fn top_level_nodes(v: &Value) -> Vec<&Map<String, Value>> {
    let mut out = Vec::new();
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    for item in items {
        if let Value::Object(o) = item {
            if let Some(Value::Array(graph)) = o.get("@graph") {
                out.extend(graph.iter().filter_map(Value::as_object));
            }
            if o.contains_key("@type") {
                out.push(o);
            }
        }
    }
    out
}

/// `@type` as plain names: `"schema:Organization"` and
/// `"https://schema.org/Organization"` both give `Organization`.
pub(crate) fn types(o: &Map<String, Value>) -> Vec<String> {
    let raw: Vec<&str> = match o.get("@type") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    raw.into_iter().map(|t| t.rsplit(['/', ':', '#']).next().unwrap_or(t).trim().to_owned()).filter(|t| !t.is_empty()).collect()
}

const GENERIC_ORG_TYPES: &[&str] = &["Organization", "Corporation", "LocalBusiness", "OnlineBusiness", "Company"];

pub(crate) fn is_org_type(t: &str) -> bool {
    GENERIC_ORG_TYPES.contains(&t)
        || ["Organization", "Business", "Store", "Service", "Agency", "Agent", "Restaurant", "Shop", "Office", "Studio"]
            .iter()
            .any(|suffix| t.ends_with(suffix) && t != "WebService")
        || matches!(t, "NGO" | "Consortium" | "Dentist" | "Attorney" | "Notary" | "Physician" | "Hotel" | "Airline")
}

/// Types that say what a company does or sells.
fn industry_type(t: &str) -> bool {
    !GENERIC_ORG_TYPES.contains(&t) && is_org_type(t)
        || matches!(t, "SoftwareApplication" | "WebApplication" | "MobileApplication" | "SaaS")
}

fn visit_node(o: &Map<String, Value>, f: &mut PageFacts, src: &str, method: Method, site_names: &mut Vec<Fact<String>>) {
    let ts = types(o);
    for t in &ts {
        if industry_type(t) {
            push_unique(&mut f.industries, Fact::new(t.clone(), src, method));
        }
    }
    if ts.iter().any(|t| is_org_type(t)) {
        organisation(o, f, src, method, 0);
    } else if ts.iter().any(|t| t == "Person") {
        // A lone Person is usually a blog author; only people with a job
        // title say something about the company.
        if let Some(m) = person(o, None)
            && m.position.is_some()
        {
            f.team.push(Fact::new(m, src, method));
        }
    } else if ts.iter().any(|t| t == "WebSite" || t == "WebPage" || t == "AboutPage" || t == "ContactPage") {
        if ts.iter().any(|t| t == "WebSite")
            && let Some(n) = str_field(o, "name")
        {
            site_names.push(Fact::new(n, src, method));
        }
        for key in ["publisher", "provider", "about", "mainEntity", "author"] {
            for sub in objects(o.get(key)) {
                if types(sub).iter().any(|t| is_org_type(t)) {
                    organisation(sub, f, src, method, 1);
                }
            }
        }
    } else if ts.iter().any(|t| matches!(t.as_str(), "SoftwareApplication" | "WebApplication" | "MobileApplication")) {
        if let Some(c) = str_field(o, "applicationCategory") {
            push_unique(&mut f.industries, Fact::new(c, src, method));
        }
        for sub in objects(o.get("publisher")).into_iter().chain(objects(o.get("provider"))) {
            if types(sub).iter().any(|t| is_org_type(t)) {
                organisation(sub, f, src, method, 1);
            }
        }
    }
}

fn push_unique(v: &mut Vec<Fact<String>>, fact: Fact<String>) {
    if v.len() < MAX_VALUES && !v.iter().any(|x| x.value.eq_ignore_ascii_case(&fact.value)) {
        v.push(fact);
    }
}

fn organisation(o: &Map<String, Value>, f: &mut PageFacts, src: &str, method: Method, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Some(n) = str_field(o, "name") {
        f.names.push(Fact::new(n, src, method));
    }
    if let Some(n) = str_field(o, "legalName") {
        f.legal_names.push(Fact::new(n, src, method));
    }
    if let Some(d) = str_field(o, "description") {
        f.descriptions.push(Fact::new(crate::meta::clip(&d, 500), src, method));
    }
    for key in ["industry", "knowsAbout", "keywords"] {
        for s in strings(o.get(key)) {
            for part in s.split(',').map(str::trim).filter(|p| !p.is_empty() && p.len() <= 80) {
                push_unique(&mut f.industries, Fact::new(part.to_owned(), src, method));
            }
        }
    }
    for a in address_values(o.get("address")) {
        if let Some(c) = &a.country {
            f.countries.push(Fact::new(c.clone(), src, method));
        }
        f.addresses.push(Fact::new(a, src, method));
    }
    if let Some(c) = o.get("addressCountry").and_then(country_value) {
        f.countries.push(Fact::new(c, src, method));
    }
    for t in strings(o.get("telephone")) {
        f.phones.push(Fact::new(Phone { raw: t, e164: None }, src, method));
    }
    for e in strings(o.get("email")) {
        if let Some(e) = crate::contacts::normalise_email(e.trim_start_matches("mailto:")) {
            f.emails.push(Fact::new(e, src, method));
        }
    }
    for cp in objects(o.get("contactPoint")) {
        for t in strings(cp.get("telephone")) {
            f.phones.push(Fact::new(Phone { raw: t, e164: None }, src, method));
        }
        for e in strings(cp.get("email")) {
            if let Some(e) = crate::contacts::normalise_email(e.trim_start_matches("mailto:")) {
                f.emails.push(Fact::new(e, src, method));
            }
        }
    }
    for s in strings(o.get("sameAs")) {
        if let Some(p) = crate::social::classify_str(&s) {
            f.social.push(Fact::new(p, src, method));
        }
    }
    if let Some(n) = o.get("numberOfEmployees").and_then(employee_count) {
        f.employees.push(Fact::new(n, src, method));
    }
    for (key, default_role) in [
        ("founder", Some("Founder")),
        ("founders", Some("Founder")),
        ("employee", None),
        ("employees", None),
        ("member", None),
        ("members", None),
    ] {
        for p in objects(o.get(key)) {
            if (types(p).iter().any(|t| t == "Person") || !p.contains_key("@type"))
                && let Some(m) = person(p, default_role)
            {
                f.team.push(Fact::new(m, src, method));
            }
        }
    }
    // Departments and subsidiaries are the same company for outreach purposes.
    for sub in objects(o.get("department")) {
        if types(sub).iter().any(|t| is_org_type(t)) && depth < 2 {
            for cp in objects(sub.get("contactPoint")) {
                for t in strings(cp.get("telephone")) {
                    f.phones.push(Fact::new(Phone { raw: t, e164: None }, src, method));
                }
            }
        }
    }
}

fn person(p: &Map<String, Value>, default_role: Option<&str>) -> Option<TeamMember> {
    let name = str_field(p, "name").or_else(|| {
        let given = str_field(p, "givenName")?;
        let family = str_field(p, "familyName")?;
        Some(format!("{given} {family}"))
    })?;
    if name.len() > 80 {
        return None;
    }
    let position = strings(p.get("jobTitle")).into_iter().next().or(default_role.map(str::to_owned));
    let linkedin = strings(p.get("sameAs")).into_iter().find(|s| s.contains("linkedin.com/in/"));
    Some(TeamMember { name, position, linkedin })
}

/// A string field, whitespace-collapsed, non-empty.
fn str_field(o: &Map<String, Value>, key: &str) -> Option<String> {
    strings(o.get(key)).into_iter().next()
}

/// Strings from a string, an array of strings, or objects with a `name`
/// (`knowsAbout: [{"@type": "Thing", "name": "…"}]`) or `@value`.
pub(crate) fn strings(v: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |s: &str| {
        let s = collapse(&decode_entities(s));
        if !s.is_empty() && s.len() <= 1000 {
            out.push(s);
        }
    };
    match v {
        Some(Value::String(s)) => push(s),
        Some(Value::Array(a)) => {
            for x in a.iter().take(50) {
                match x {
                    Value::String(s) => push(s),
                    Value::Object(o) => {
                        if let Some(s) = o.get("name").or_else(|| o.get("@value")).and_then(Value::as_str) {
                            push(s)
                        }
                    }
                    _ => {}
                }
            }
        }
        Some(Value::Object(o)) => {
            if let Some(s) = o.get("name").or_else(|| o.get("@value")).and_then(Value::as_str) {
                push(s)
            }
        }
        Some(Value::Number(n)) => push(&n.to_string()),
        _ => {}
    }
    out
}

/// Some CMSs HTML-escape inside JSON-LD (`&amp;`); the text is meant to be read unescaped.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    s.replace("&amp;", "&").replace("&quot;", "\"").replace("&#039;", "'").replace("&#39;", "'").replace("&apos;", "'")
}

fn objects(v: Option<&Value>) -> Vec<&Map<String, Value>> {
    match v {
        Some(Value::Object(o)) => vec![o],
        Some(Value::Array(a)) => a.iter().take(100).filter_map(Value::as_object).collect(),
        _ => vec![],
    }
}

fn address_values(v: Option<&Value>) -> Vec<PostalAddress> {
    let mut out = Vec::new();
    for o in objects(v) {
        let a = PostalAddress {
            street: str_field(o, "streetAddress"),
            postal_code: str_field(o, "postalCode"),
            locality: str_field(o, "addressLocality"),
            region: str_field(o, "addressRegion"),
            country: o.get("addressCountry").and_then(country_value),
        };
        if !a.is_empty() {
            out.push(a);
        }
    }
    if let Some(Value::String(s)) = v {
        // An address as one string: use the imprint patterns when they
        // recognise it, else keep it whole (with a trailing country word)
        // rather than guess its parts.
        match crate::address::from_text(s, None).into_iter().next() {
            Some(a) => out.push(a.address),
            None => {
                let whole = collapse(s);
                let country = s.rsplit(['\n', ',']).next().and_then(country_code).map(str::to_owned);
                if !whole.is_empty() && whole.len() <= 300 {
                    out.push(PostalAddress { street: Some(whole), country, ..Default::default() });
                }
            }
        }
    }
    out
}

fn country_value(v: &Value) -> Option<String> {
    strings(Some(v)).into_iter().find_map(|s| country_code(&s).map(str::to_owned))
}

fn employee_count(v: &Value) -> Option<EmployeeCount> {
    let num = |v: Option<&Value>| -> Option<u32> {
        match v? {
            Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            Value::String(s) => s.trim().replace(['.', ',', '+'], "").parse().ok(),
            _ => None,
        }
    };
    match v {
        Value::Number(_) => num(Some(v)).map(|n| EmployeeCount { min: Some(n), max: Some(n) }),
        Value::String(s) => {
            // "11-50", "500+", "120"
            let s = s.trim();
            if let Some((a, b)) = s.split_once(['-', '–']) {
                let (min, max) = (a.trim().parse().ok(), b.trim().parse().ok());
                (min.is_some() || max.is_some()).then_some(EmployeeCount { min, max })
            } else if let Some(a) = s.strip_suffix('+') {
                a.trim().parse().ok().map(|n| EmployeeCount { min: Some(n), max: None })
            } else {
                s.parse().ok().map(|n| EmployeeCount { min: Some(n), max: Some(n) })
            }
        }
        Value::Object(o) => {
            if let Some(n) = num(o.get("value")) {
                return Some(EmployeeCount { min: Some(n), max: Some(n) });
            }
            let (min, max) = (num(o.get("minValue")), num(o.get("maxValue")));
            (min.is_some() || max.is_some()).then_some(EmployeeCount { min, max })
        }
        _ => None,
    }
}

/// Microdata items, converted to JSON-LD-shaped objects, go through the same mapping.
pub(crate) fn extract_items(items: &[Value], f: &mut PageFacts, src: &str) {
    let mut site_names = Vec::new();
    for item in items {
        if let Value::Object(o) = item {
            visit_node(o, f, src, Method::Microdata, &mut site_names);
        }
    }
    f.names.extend(site_names);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::empty_facts;

    #[test]
    fn graph_org_people_and_address() {
        let block = r#"{"@context":"https://schema.org","@graph":[
          {"@type":"WebSite","name":"Acme Site"},
          {"@type":["Organization","ProfessionalService"],"name":"Acme","legalName":"Acme GmbH",
           "address":{"@type":"PostalAddress","streetAddress":"Hauptstr. 1","postalCode":"10115","addressLocality":"Berlin","addressCountry":{"@type":"Country","name":"Germany"}},
           "telephone":"+49 30 123456","email":"mailto:Info@ACME.de","sameAs":["https://www.linkedin.com/company/acme/"],
           "numberOfEmployees":{"@type":"QuantitativeValue","minValue":11,"maxValue":50},
           "founder":{"@type":"Person","name":"Ada Example"},
           "knowsAbout":["CRM", {"@type":"Thing","name":"Sales automation"}]}
        ]}"#;
        let mut f = empty_facts();
        extract(&[block.to_owned()], &mut f, "https://acme.de/");
        let names: Vec<_> = f.names.iter().map(|n| n.value.as_str()).collect();
        assert_eq!(names, ["Acme", "Acme Site"]);
        assert_eq!(f.legal_names[0].value, "Acme GmbH");
        assert_eq!(f.addresses[0].value.country.as_deref(), Some("DE"));
        assert_eq!(f.emails[0].value, "Info@acme.de");
        assert_eq!(f.employees[0].value, EmployeeCount { min: Some(11), max: Some(50) });
        assert_eq!(f.team[0].value.position.as_deref(), Some("Founder"));
        let ind: Vec<_> = f.industries.iter().map(|n| n.value.as_str()).collect();
        assert_eq!(ind, ["ProfessionalService", "CRM", "Sales automation"]);
        assert_eq!(f.social.len(), 1);
    }

    #[test]
    fn lenient_parse_and_garbage() {
        let mut f = empty_facts();
        let blocks = vec![
            "<!-- {\"@type\":\"Organization\",\"name\":\"Commented\",} -->".to_owned(),
            "{not json".to_owned(),
            "[1,2,3]".to_owned(),
            "{\"@type\":\"Person\",\"name\":\"Blog Author\"}".to_owned(),
        ];
        extract(&blocks, &mut f, "https://x.test/");
        assert_eq!(f.names.len(), 1);
        assert_eq!(f.names[0].value, "Commented");
        assert!(f.team.is_empty());
    }

    #[test]
    fn employee_count_shapes() {
        assert_eq!(employee_count(&Value::from("11-50")), Some(EmployeeCount { min: Some(11), max: Some(50) }));
        assert_eq!(employee_count(&Value::from("500+")), Some(EmployeeCount { min: Some(500), max: None }));
        assert_eq!(employee_count(&Value::from(42)), Some(EmployeeCount { min: Some(42), max: Some(42) }));
        assert_eq!(employee_count(&Value::from("many")), None);
    }
}
