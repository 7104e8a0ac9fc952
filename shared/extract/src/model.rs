//! The shapes this crate hands out. Everything serialises with serde so the
//! enrichment worker can store it as-is and the golden files stay readable.

use serde::{Deserialize, Serialize};

/// How a fact was found. The order of the variants is the precedence used by
/// [`crate::merge`]: structured data the site wrote for machines beats
/// social-card metadata, which beats guesses from markup and visible text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// `<script type="application/ld+json">` (schema.org).
    JsonLd,
    /// schema.org microdata (`itemscope` / `itemprop`).
    Microdata,
    /// OpenGraph `<meta property="og:…">`.
    Opengraph,
    /// Other `<meta>` tags (description, keywords, generator, application-name).
    Meta,
    /// An `href`: `mailto:`, `tel:`, a profile link, a same-site page.
    Link,
    /// A `<script src>` or a known global inside an inline script.
    Script,
    /// Attributes and element structure (team cards, framework markers).
    Markup,
    /// The document `<title>`, cleaned.
    Title,
    /// Patterns in the visible text (imprint lines, obfuscated addresses).
    Text,
}

impl Method {
    /// Rank for precedence: lower wins.
    pub fn rank(self) -> u8 {
        self as u8
    }
}

/// One extracted value with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact<T> {
    pub value: T,
    /// The page URL the fact was read from.
    pub source: String,
    pub method: Method,
}

impl<T> Fact<T> {
    pub fn new(value: T, source: &str, method: Method) -> Self {
        Fact { value, source: source.to_owned(), method }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostalAddress {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2 when it could be resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl PostalAddress {
    pub fn is_empty(&self) -> bool {
        self.street.is_none() && self.postal_code.is_none() && self.locality.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    /// As published (trimmed).
    pub raw: String,
    /// `+<country code><number>` when the number is international or the
    /// page's country is known; `None` rather than a guess otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e164: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SocialNetwork {
    Linkedin,
    X,
    Facebook,
    Github,
    Instagram,
    Youtube,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocialProfile {
    pub network: SocialNetwork,
    /// Canonical form: `https://`, host without `www.`, no query or fragment,
    /// no trailing slash.
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Technology {
    pub name: String,
    pub category: String,
    /// The marker that matched, so a person can check the claim.
    pub evidence: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMember {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// A personal LinkedIn profile published next to the person, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linkedin: Option<String>,
}

/// Employee count as published (schema.org `numberOfEmployees`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmployeeCount {
    pub min: Option<u32>,
    pub max: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageKind {
    Imprint,
    About,
    Contact,
    Team,
}

/// A same-site page worth fetching next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextPage {
    pub url: String,
    pub kind: PageKind,
}

/// How the body was read, so a caller can tell a partial result from a full one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodeInfo {
    /// WHATWG encoding name actually used (`UTF-8`, `windows-1252`, …).
    pub charset: String,
    /// Where the charset came from: `content-type`, `bom`, `meta`, `default`
    /// (valid UTF-8) or `fallback` (undeclared and not UTF-8: windows-1252).
    pub charset_source: String,
    /// Bytes were replaced by U+FFFD while decoding.
    pub had_errors: bool,
    pub bytes_total: usize,
    pub bytes_parsed: usize,
    /// Only the first [`crate::MAX_PARSE_BYTES`] were parsed.
    pub truncated: bool,
    /// Tags dropped because elements nested deeper than [`crate::MAX_NESTING`].
    pub nesting_tags_dropped: usize,
}

/// Everything found on one page. Lists keep document order within a method
/// and are sorted by [`Method`] precedence; values are de-duplicated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageFacts {
    pub url: String,
    pub decode: DecodeInfo,
    pub names: Vec<Fact<String>>,
    pub legal_names: Vec<Fact<String>>,
    pub descriptions: Vec<Fact<String>>,
    pub industries: Vec<Fact<String>>,
    pub addresses: Vec<Fact<PostalAddress>>,
    /// ISO 3166-1 alpha-2, only from an address (never from language or TLD).
    pub countries: Vec<Fact<String>>,
    pub employees: Vec<Fact<EmployeeCount>>,
    pub phones: Vec<Fact<Phone>>,
    pub emails: Vec<Fact<String>>,
    pub social: Vec<Fact<SocialProfile>>,
    pub technologies: Vec<Fact<Technology>>,
    pub team: Vec<Fact<TeamMember>>,
    pub next_pages: Vec<NextPage>,
}

/// A company assembled from several pages by [`crate::merge`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompanyProfile {
    pub name: Option<Fact<String>>,
    pub legal_name: Option<Fact<String>>,
    pub description: Option<Fact<String>>,
    pub industries: Vec<Fact<String>>,
    pub address: Option<Fact<PostalAddress>>,
    pub country: Option<Fact<String>>,
    pub employees: Option<Fact<EmployeeCount>>,
    pub phones: Vec<Fact<Phone>>,
    pub emails: Vec<Fact<String>>,
    pub social: Vec<Fact<SocialProfile>>,
    pub technologies: Vec<Fact<Technology>>,
    pub team: Vec<Fact<TeamMember>>,
    /// The page URLs merged, in the order given.
    pub pages: Vec<String>,
    /// Pages whose body was cut at the parse cap.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub truncated_pages: Vec<String>,
}
