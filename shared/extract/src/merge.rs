//! Several pages of one company into one profile.
//!
//! Precedence per field: the [`Method`] order (JSON-LD > microdata >
//! OpenGraph > meta > links > scripts > markup > title > text), then the
//! order of the pages as given (pass the home page first), then document order.
//! One exception: an address with a postal code beats one without.
//! List fields keep every distinct value with the source of its best copy.

use crate::model::{CompanyProfile, Fact, PageFacts};
use crate::{dedup, dedup_team, phone_key};

pub fn merge(pages: &[PageFacts]) -> CompanyProfile {
    fn all<T: Clone>(pages: &[PageFacts], field: impl Fn(&PageFacts) -> &Vec<Fact<T>>) -> Vec<Fact<T>> {
        pages.iter().flat_map(|p| field(p).iter().cloned()).collect()
    }
    fn best<T: Clone>(pages: &[PageFacts], field: impl Fn(&PageFacts) -> &Vec<Fact<T>>) -> Option<Fact<T>> {
        // min_by_key keeps the first of equal ranks: page order breaks ties.
        all(pages, field).into_iter().min_by_key(|f| f.method.rank())
    }
    let lower = |s: &String| s.to_lowercase();

    let mut industries = all(pages, |p| &p.industries);
    dedup(&mut industries, lower);
    let mut phones = all(pages, |p| &p.phones);
    dedup(&mut phones, phone_key);
    let mut emails = all(pages, |p| &p.emails);
    dedup(&mut emails, lower);
    let mut social = all(pages, |p| &p.social);
    dedup(&mut social, |s| s.url.clone());
    let mut technologies = all(pages, |p| &p.technologies);
    dedup(&mut technologies, |t| t.name.clone());
    let mut team = all(pages, |p| &p.team);
    dedup_team(&mut team);

    let mut addresses = all(pages, |p| &p.addresses);
    crate::prefer_complete_addresses(&mut addresses);
    let address = addresses.into_iter().next();
    // The country of the chosen address wins, so the two never disagree;
    // otherwise the best country fact.
    let country = address
        .as_ref()
        .and_then(|a| a.value.country.clone().map(|c| Fact { value: c, source: a.source.clone(), method: a.method }))
        .or_else(|| best(pages, |p| &p.countries));

    CompanyProfile {
        name: best(pages, |p| &p.names),
        legal_name: best(pages, |p| &p.legal_names),
        description: best(pages, |p| &p.descriptions),
        industries,
        address,
        country,
        employees: best(pages, |p| &p.employees),
        phones,
        emails,
        social,
        technologies,
        team,
        pages: pages.iter().map(|p| p.url.clone()).collect(),
        truncated_pages: pages.iter().filter(|p| p.decode.truncated).map(|p| p.url.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Method;
    use crate::tests::empty_facts;

    #[test]
    fn best_source_wins_and_lists_union() {
        let mut home = empty_facts();
        home.url = "https://a.de/".into();
        home.names.push(Fact::new("A Title".into(), "https://a.de/", Method::Title));
        home.emails.push(Fact::new("info@a.de".into(), "https://a.de/", Method::Text));
        let mut imprint = empty_facts();
        imprint.url = "https://a.de/impressum".into();
        imprint.names.push(Fact::new("A GmbH".into(), "https://a.de/impressum", Method::Opengraph));
        imprint.emails.push(Fact::new("INFO@a.de".into(), "https://a.de/impressum", Method::Link));
        imprint.emails.push(Fact::new("jobs@a.de".into(), "https://a.de/impressum", Method::Text));
        let p = merge(&[home, imprint]);
        assert_eq!(p.name.as_ref().map(|n| n.value.as_str()), Some("A GmbH"));
        let emails: Vec<_> = p.emails.iter().map(|e| (e.value.as_str(), e.method)).collect();
        assert_eq!(emails, [("INFO@a.de", Method::Link), ("jobs@a.de", Method::Text)]);
        assert_eq!(p.pages.len(), 2);
    }
}
