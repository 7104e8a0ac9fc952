//! The guarded website fetcher.
//!
//! Pinning: the reqwest client's DNS resolver is [`GuardedResolver`], which
//! resolves the name, drops every forbidden address and hands the connector
//! only the checked ones. The check and the connection use the *same* lookup
//! result, so there is no time-of-check/time-of-use gap and a DNS answer that
//! changes between lookups (rebinding) cannot steer a connection to a private
//! address. IP-literal hosts never reach a resolver; [`check_url`] classifies
//! them before every request.
//!
//! Redirects are followed here, not by reqwest, so every hop is re-checked
//! (scheme, port, credentials, host, and resolution when it connects) and
//! re-checked against robots.txt.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Response, StatusCode};
use tokio::time::{Instant, timeout_at};
use url::Url;

use crate::guard::{AddressClass, Policy, Refusal, check_url, classify_ip};
use crate::robots::{MAX_ROBOTS_BYTES, RobotsRules};

/// The product token robots.txt groups are matched against.
pub const ROBOTS_TOKEN: &str = "TernBot";

/// The User-Agent on every request: names us and says where to read why.
pub const USER_AGENT: &str = concat!("TernBot/", env!("CARGO_PKG_VERSION"), " (+https://tern.example/bot)");

/// What to do when a body is larger than [`Limits::max_body_bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oversize {
    /// Keep the first `max_body_bytes` and mark the page `truncated` (the head
    /// of a page carries most of what enrichment needs).
    Truncate,
    /// Fail with [`FetchError::TooLarge`].
    Fail,
}

/// Limits on one fetch and one enrichment session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall time for one page: every redirect hop plus the body.
    pub total_timeout: Duration,
    /// Time to establish one TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Body bytes kept per page; reading stops there.
    pub max_body_bytes: usize,
    /// Redirects followed per page.
    pub max_redirects: usize,
    /// Pages one [`FetchSession`] (one enrichment) may fetch; robots.txt
    /// fetches do not count.
    pub max_pages: usize,
    /// What happens past `max_body_bytes`.
    pub oversize: Oversize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            total_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            max_body_bytes: 2 * 1024 * 1024,
            max_redirects: 5,
            max_pages: 10,
            oversize: Oversize::Truncate,
        }
    }
}

/// A fetched page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The final URL, after redirects.
    pub url: Url,
    pub status: u16,
    /// The media type without parameters, lower-case (e.g. "text/html").
    pub content_type: String,
    pub body: Vec<u8>,
    /// True when the body was cut at `max_body_bytes`.
    pub truncated: bool,
    /// Every URL requested before the final one, in order (empty without
    /// redirects).
    pub fetched_via: Vec<Url>,
}

/// Why a fetch failed. Every variant reads as a sentence.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("refused by the SSRF guard: {reason}")]
    Refused { reason: Refusal },
    #[error("timed out")]
    Timeout,
    #[error("body larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("redirect loop back to {url}")]
    RedirectLoop { url: Url },
    #[error("more than {max} redirects")]
    TooManyRedirects { max: usize },
    #[error("bad redirect: {reason}")]
    BadRedirect { reason: String },
    #[error("not an HTML page (content type {content_type:?})")]
    NotHtml { content_type: String },
    #[error("HTTP status {status}")]
    Http { status: u16 },
    #[error("disallowed by robots.txt: {url}")]
    Robots { url: Url },
    #[error("DNS lookup failed: {reason}")]
    Dns { reason: String },
    #[error("connection failed: {reason}")]
    Connect { reason: String },
    #[error("the page budget of {max} pages for this enrichment is used up")]
    PageBudget { max: usize },
    #[error("HTTP client setup failed: {reason}")]
    Client { reason: String },
}

/// A name-to-addresses lookup. Production uses [`SystemResolver`]; tests
/// inject their own (e.g. one whose answer changes between calls).
pub trait HostResolver: Send + Sync {
    fn lookup<'a>(&'a self, host: &'a str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>>;
}

/// The operating system's resolver (getaddrinfo via tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl HostResolver for SystemResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host, 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// The error a [`GuardedResolver`] hands reqwest; recovered from the error
/// chain to tell a guard refusal from a DNS failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    Refused(Refusal),
    #[error("{0}")]
    Dns(String),
}

/// Resolves names and keeps only addresses the guard allows. Also usable on
/// its own (e.g. to pin an SMTP connection to checked addresses).
#[derive(Clone)]
pub struct GuardedResolver {
    inner: Arc<dyn HostResolver>,
    policy: Policy,
}

impl GuardedResolver {
    pub fn new(inner: Arc<dyn HostResolver>, policy: Policy) -> Self {
        Self { inner, policy }
    }

    /// Resolves `host` and returns only allowed addresses; fails when none
    /// remain. Addresses are returned in the resolver's order.
    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        // A literal should never get here (callers check literals), but if
        // one does it is judged like any answer.
        let answers = match name.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => self.inner.lookup(&name).await.map_err(|e| ResolveError::Dns(format!("{name}: {e}")))?,
        };
        if answers.is_empty() {
            return Err(ResolveError::Dns(format!("{name}: no addresses")));
        }
        let mut allowed = Vec::new();
        let mut dropped: Vec<(IpAddr, AddressClass)> = Vec::new();
        for ip in answers {
            match self.policy.check_resolved_ip_of(&name, ip) {
                Ok(()) => allowed.push(ip),
                Err(_) => dropped.push((ip, classify_ip(ip))),
            }
        }
        if !dropped.is_empty() {
            tracing::warn!(host = %name, dropped = ?dropped, "guard dropped forbidden DNS answers");
        }
        if allowed.is_empty() {
            return Err(ResolveError::Refused(Refusal::NoAllowedAddress { host: name, dropped }));
        }
        Ok(allowed)
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            // `?` boxes the ResolveError itself, so `map_reqwest` can downcast it.
            let ips = this.resolve(&host).await?;
            // Port 0: the connector puts the URL's port in.
            let addrs: reqwest::dns::Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// What is being fetched: decides content types and the body cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Page,
    Robots,
}

enum Hop {
    Redirect(Url),
    Final(Response),
}

/// The guarded fetcher. Build one per process and share it; start a
/// [`FetchSession`] per enrichment.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Policy,
    limits: Limits,
}

impl Fetcher {
    /// A fetcher on the system resolver.
    pub fn new(policy: Policy, limits: Limits) -> Result<Self, FetchError> {
        Self::with_resolver(policy, limits, Arc::new(SystemResolver))
    }

    /// A fetcher on a given resolver (tests inject one; the guard still
    /// filters every answer).
    pub fn with_resolver(policy: Policy, limits: Limits, resolver: Arc<dyn HostResolver>) -> Result<Self, FetchError> {
        let guarded = GuardedResolver::new(resolver, policy.clone());
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(guarded))
            // Redirects are followed by hand so each hop is re-checked.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve names itself, outside the guard; the
            // HTTP(S)_PROXY variables must not be able to switch that on.
            .no_proxy()
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.total_timeout)
            .user_agent(USER_AGENT)
            .referer(false)
            .build()
            .map_err(|e| FetchError::Client { reason: error_chain(&e) })?;
        Ok(Self { client, policy, limits })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Starts an enrichment: a page budget and a robots.txt cache.
    pub fn session(&self) -> FetchSession<'_> {
        FetchSession { fetcher: self, pages: 0, robots: HashMap::new() }
    }

    /// One request, no redirect following. Re-checks the URL first.
    async fn hop(&self, url: &Url, kind: Kind) -> Result<Hop, FetchError> {
        check_url(url, &self.policy).map_err(|reason| FetchError::Refused { reason })?;
        let accept = match kind {
            Kind::Page => "text/html,application/xhtml+xml;q=0.9",
            Kind::Robots => "text/plain",
        };
        let response = self.client.get(url.clone()).header(ACCEPT, accept).send().await.map_err(map_reqwest)?;
        let status = response.status();
        if is_redirect(status) {
            let Some(location) = response.headers().get(LOCATION) else {
                // A 3xx without Location is a final answer, not a redirect.
                return Ok(Hop::Final(response));
            };
            let location = location.to_str().map_err(|_| FetchError::BadRedirect { reason: "Location is not valid text".to_string() })?;
            let mut next = url.join(location).map_err(|e| FetchError::BadRedirect { reason: format!("Location {location:?}: {e}") })?;
            next.set_fragment(None);
            return Ok(Hop::Redirect(next));
        }
        Ok(Hop::Final(response))
    }

    /// Reads the body up to `cap` bytes, streaming: never more than `cap`
    /// bytes are held, whatever Content-Length claims.
    async fn read_body(&self, mut response: Response, cap: usize) -> Result<(Vec<u8>, bool), FetchError> {
        let declared = response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if self.limits.oversize == Oversize::Fail && declared.is_some_and(|len| len > cap as u64) {
            return Err(FetchError::TooLarge { limit: cap });
        }
        // The declared length is the server's word: only a hint, bounded.
        let hint = declared.map_or(0, |len| len.min(cap as u64) as usize);
        let mut body = Vec::with_capacity(hint.min(64 * 1024));
        while let Some(chunk) = response.chunk().await.map_err(map_reqwest)? {
            let room = cap - body.len();
            if chunk.len() > room {
                if self.limits.oversize == Oversize::Fail {
                    return Err(FetchError::TooLarge { limit: cap });
                }
                body.extend_from_slice(&chunk[..room]);
                // Dropping the response closes the connection: no more is read.
                return Ok((body, true));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, false))
    }

    /// Fetches robots.txt for `origin_of` and turns the outcome into rules.
    ///
    /// Failure policy (common crawler practice, e.g. RFC 9309 §2.3.1):
    /// 2xx text/plain → parsed; 4xx (incl. 404) → allow all; 5xx → disallow
    /// all for this run; network failure, timeout, guard refusal, redirect
    /// trouble or a non-text body → allow all (the page fetch itself is
    /// still guarded).
    async fn robots_for(&self, origin_of: &Url) -> RobotsRules {
        let mut robots_url = origin_of.clone();
        robots_url.set_path("/robots.txt");
        robots_url.set_query(None);
        robots_url.set_fragment(None);
        let deadline = Instant::now() + self.limits.total_timeout;
        let result = timeout_at(deadline, self.follow(&robots_url, Kind::Robots)).await.unwrap_or(Err(FetchError::Timeout));
        match result {
            Ok((response, _chain)) => {
                let status = response.status();
                if status.is_server_error() {
                    return RobotsRules::disallow_all();
                }
                if !status.is_success() {
                    return RobotsRules::allow_all();
                }
                if media_type(&response) != "text/plain" {
                    return RobotsRules::allow_all();
                }
                let cap = MAX_ROBOTS_BYTES.min(self.limits.max_body_bytes);
                match timeout_at(deadline, self.read_body_lenient(response, cap)).await {
                    Ok(Some(body)) => RobotsRules::parse(&String::from_utf8_lossy(&body), ROBOTS_TOKEN),
                    _ => RobotsRules::allow_all(),
                }
            }
            Err(e) => {
                tracing::debug!(url = %robots_url, error = %e, "robots.txt unavailable, treating as allowed");
                RobotsRules::allow_all()
            }
        }
    }

    /// robots.txt past the cap is parsed up to the cap, whatever the
    /// oversize setting for pages.
    async fn read_body_lenient(&self, mut response: Response, cap: usize) -> Option<Vec<u8>> {
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            let room = cap - body.len();
            if chunk.len() >= room {
                body.extend_from_slice(&chunk[..room]);
                return Some(body);
            }
            body.extend_from_slice(&chunk);
        }
        Some(body)
    }

    /// Follows redirects without robots checks (used for robots.txt itself).
    async fn follow(&self, start: &Url, kind: Kind) -> Result<(Response, Vec<Url>), FetchError> {
        let mut chain: Vec<Url> = Vec::new();
        let mut url = start.clone();
        url.set_fragment(None);
        loop {
            match self.hop(&url, kind).await? {
                Hop::Final(response) => return Ok((response, chain)),
                Hop::Redirect(next) => {
                    chain.push(url);
                    url = next_hop(&chain, next, self.limits.max_redirects)?;
                }
            }
        }
    }
}

/// Loop and count checks for the next redirect target.
fn next_hop(chain: &[Url], next: Url, max: usize) -> Result<Url, FetchError> {
    if chain.contains(&next) {
        return Err(FetchError::RedirectLoop { url: next });
    }
    if chain.len() > max {
        return Err(FetchError::TooManyRedirects { max });
    }
    Ok(next)
}

/// One enrichment's fetching: a page budget and one robots.txt lookup per
/// origin (cached for the session, so a 5xx keeps the origin off-limits for
/// the rest of the run).
pub struct FetchSession<'f> {
    fetcher: &'f Fetcher,
    pages: usize,
    robots: HashMap<String, RobotsRules>,
}

impl FetchSession<'_> {
    /// Pages fetched (attempted) so far.
    pub fn pages_fetched(&self) -> usize {
        self.pages
    }

    /// Fetches an HTML page: guard, robots.txt, redirects (each hop
    /// re-checked), content type, time and size limits.
    pub async fn fetch(&mut self, url: &Url) -> Result<Page, FetchError> {
        let limits = self.fetcher.limits.clone();
        if self.pages >= limits.max_pages {
            return Err(FetchError::PageBudget { max: limits.max_pages });
        }
        self.pages += 1;

        let mut chain: Vec<Url> = Vec::new();
        let mut url = url.clone();
        url.set_fragment(None);
        // The page deadline covers every hop and the body; robots.txt
        // lookups have their own deadline and are not charged to the page.
        let mut spent = Duration::ZERO;
        loop {
            // Refuse before even asking for robots.txt of a forbidden host.
            check_url(&url, &self.fetcher.policy).map_err(|reason| FetchError::Refused { reason })?;
            self.check_robots(&url).await?;
            let started = Instant::now();
            let remaining = limits.total_timeout.saturating_sub(spent);
            let hop = timeout_at(started + remaining, self.fetcher.hop(&url, Kind::Page)).await.map_err(|_| FetchError::Timeout)??;
            spent += started.elapsed();
            match hop {
                Hop::Redirect(next) => {
                    chain.push(url);
                    url = next_hop(&chain, next, limits.max_redirects)?;
                }
                Hop::Final(response) => {
                    let status = response.status();
                    if !status.is_success() {
                        return Err(FetchError::Http { status: status.as_u16() });
                    }
                    let content_type = media_type(&response);
                    if !matches!(content_type.as_str(), "text/html" | "application/xhtml+xml") {
                        return Err(FetchError::NotHtml { content_type });
                    }
                    let remaining = limits.total_timeout.saturating_sub(spent);
                    let (body, truncated) = timeout_at(Instant::now() + remaining, self.fetcher.read_body(response, limits.max_body_bytes))
                        .await
                        .map_err(|_| FetchError::Timeout)??;
                    return Ok(Page { url, status: status.as_u16(), content_type, body, truncated, fetched_via: chain });
                }
            }
        }
    }

    async fn check_robots(&mut self, url: &Url) -> Result<(), FetchError> {
        let origin = url.origin().ascii_serialization();
        if !self.robots.contains_key(&origin) {
            let rules = self.fetcher.robots_for(url).await;
            self.robots.insert(origin.clone(), rules);
        }
        let mut path = url.path().to_string();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        match self.robots.get(&origin) {
            Some(rules) if !rules.is_allowed(&path) => Err(FetchError::Robots { url: url.clone() }),
            _ => Ok(()),
        }
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// The media type without parameters, lower-case; "" when absent.
fn media_type(response: &Response) -> String {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Maps a reqwest error to ours, recovering the guard's verdict from the
/// error chain (the resolver's error is wrapped by hyper and reqwest).
pub(crate) fn map_reqwest(e: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(resolve) = err.downcast_ref::<ResolveError>() {
            return match resolve {
                ResolveError::Refused(r) => FetchError::Refused { reason: r.clone() },
                ResolveError::Dns(reason) => FetchError::Dns { reason: reason.clone() },
            };
        }
        source = err.source();
    }
    if e.is_timeout() {
        return FetchError::Timeout;
    }
    FetchError::Connect { reason: error_chain(&e) }
}

/// "outer: inner: innermost", for readable reasons.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
