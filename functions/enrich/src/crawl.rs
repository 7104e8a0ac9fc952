//! One site, fetched and read: the home page, then the few pages it links to that
//! carry company facts (imprint, about, contact, team). The same code runs in the
//! worker and in `scripts/enrich-url`.

use tern_extract::{CompanyProfile, PageFacts, PageKind};
use tern_web::fetch::{FetchError, Fetcher};
use url::Url;

/// Pages fetched after the home page, at most.
pub const MAX_FOLLOW_PAGES: usize = 4;

#[derive(Debug)]
pub struct Crawl {
    pub profile: CompanyProfile,
    pub pages_fetched: u32,
    /// Follow-up pages that failed; the profile is built from the rest.
    pub skipped: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    #[error("{0} is not a website address")]
    BadWebsite(String),
    #[error("the home page could not be fetched: {0}")]
    Fetch(#[from] FetchError),
    #[error("the home page could not be read: {0}")]
    Extract(#[from] tern_extract::ExtractError),
}

/// `https://example.com/` for `example.com`; a full http(s) URL is kept.
pub fn website_url(input: &str) -> Result<Url, CrawlError> {
    let input = input.trim();
    let with_scheme = if input.contains("://") { input.to_string() } else { format!("https://{input}/") };
    Url::parse(&with_scheme)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| CrawlError::BadWebsite(input.chars().take(100).collect()))
}

fn follow_order(kind: PageKind) -> u8 {
    match kind {
        PageKind::Imprint => 0,
        PageKind::About => 1,
        PageKind::Contact => 2,
        PageKind::Team => 3,
    }
}

pub async fn crawl(fetcher: &Fetcher, website: &Url) -> Result<Crawl, CrawlError> {
    let mut session = fetcher.session();
    let home = session.fetch(website).await?;
    let first = tern_extract::extract_page(home.url.as_str(), Some(&home.content_type), &home.body)?;
    let mut next = first.next_pages.clone();
    next.sort_by_key(|p| follow_order(p.kind));
    next.dedup_by(|a, b| a.url == b.url);
    let mut pages: Vec<PageFacts> = vec![first];
    let mut skipped = Vec::new();
    for page in next.into_iter().take(MAX_FOLLOW_PAGES) {
        let Ok(url) = Url::parse(&page.url) else { continue };
        let read = match session.fetch(&url).await {
            Ok(fetched) => {
                tern_extract::extract_page(fetched.url.as_str(), Some(&fetched.content_type), &fetched.body).map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        match read {
            Ok(facts) => pages.push(facts),
            Err(reason) => skipped.push(format!("{url}: {reason}")),
        }
    }
    Ok(Crawl { profile: tern_extract::merge(&pages), pages_fetched: session.pages_fetched() as u32, skipped })
}
