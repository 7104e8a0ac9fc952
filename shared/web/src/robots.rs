//! robots.txt parsing and matching (RFC 9309).
//!
//! Groups start with one or more `User-agent` lines; `Allow`/`Disallow` lines
//! belong to the current group. Tern uses the groups naming its product token
//! (`TernBot`, case-insensitive), merged; if there are none, the `*` groups,
//! merged; if there are none either, everything is allowed. The most specific
//! (longest) matching pattern wins, and on a tie `Allow` wins, as RFC 9309
//! §2.2.2 says. Patterns support `*` (any run of bytes) and a trailing `$`
//! (end of path).
//!
//! What happens when robots.txt cannot be read is decided by the fetcher (see
//! [`crate::fetch`] and the README): 4xx and network failures mean "allowed",
//! 5xx means "disallowed for this run".

/// Only this many bytes of a robots.txt are parsed; RFC 9309 asks crawlers to
/// parse at least 500 KiB, and the rest is ignored.
pub const MAX_ROBOTS_BYTES: usize = 500 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    allow: bool,
    pattern: String,
}

/// The rules that apply to one user agent at one origin.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RobotsRules {
    rules: Vec<Rule>,
    /// Set when the whole origin is off-limits for this run (robots.txt
    /// answered 5xx).
    disallow_all: bool,
}

impl RobotsRules {
    /// Nothing is disallowed (no robots.txt, 4xx, or unreadable).
    pub fn allow_all() -> Self {
        Self::default()
    }

    /// Everything is disallowed (robots.txt answered 5xx: the site may be in
    /// trouble and its owner's wishes are unknown, so this run stays away).
    pub fn disallow_all() -> Self {
        Self { rules: Vec::new(), disallow_all: true }
    }

    /// Parses robots.txt `text` for the product token `agent` (e.g. "TernBot").
    pub fn parse(text: &str, agent: &str) -> Self {
        let agent = agent.to_ascii_lowercase();
        let text = match text.get(..MAX_ROBOTS_BYTES) {
            Some(t) => t,
            // Cut at a char boundary at or below the limit.
            None if text.len() > MAX_ROBOTS_BYTES => {
                let mut end = MAX_ROBOTS_BYTES;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                &text[..end]
            }
            None => text,
        };

        // (agents of the group, rules of the group)
        let mut groups: Vec<(Vec<String>, Vec<Rule>)> = Vec::new();
        let mut in_agent_lines = false;
        for raw in text.lines() {
            let line = raw.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            match key.as_str() {
                "user-agent" => {
                    if !in_agent_lines {
                        groups.push((Vec::new(), Vec::new()));
                        in_agent_lines = true;
                    }
                    // The product token is the name before any "/version".
                    let token = value.split(['/', ' ', '\t']).next().unwrap_or("").to_ascii_lowercase();
                    if let Some(group) = groups.last_mut() {
                        group.0.push(token);
                    }
                }
                "allow" | "disallow" => {
                    in_agent_lines = false;
                    // An empty Disallow means "nothing is disallowed".
                    if value.is_empty() {
                        continue;
                    }
                    if let Some(group) = groups.last_mut() {
                        group.1.push(Rule { allow: key == "allow", pattern: value.to_string() });
                    }
                }
                // Sitemap, Crawl-delay, ...: not ours, and they do not end a
                // group's user-agent lines either.
                _ => {}
            }
        }

        // Groups naming us win outright; otherwise the "*" groups apply.
        let wanted = if groups.iter().any(|(agents, _)| agents.contains(&agent)) { agent } else { "*".to_string() };
        let rules = groups.iter().filter(|(agents, _)| agents.contains(&wanted)).flat_map(|(_, rules)| rules.iter().cloned()).collect();
        Self { rules, disallow_all: false }
    }

    /// Whether `path_and_query` (e.g. "/about?x=1") may be fetched.
    pub fn is_allowed(&self, path_and_query: &str) -> bool {
        // robots.txt itself is always allowed (RFC 9309 §2.2.2).
        if path_and_query == "/robots.txt" {
            return true;
        }
        if self.disallow_all {
            return false;
        }
        let mut best: Option<(usize, bool)> = None;
        for rule in &self.rules {
            if pattern_matches(rule.pattern.as_bytes(), path_and_query.as_bytes()) {
                let len = rule.pattern.len();
                best = match best {
                    Some((l, a)) if l > len || (l == len && a) => Some((l, a)),
                    _ => Some((len, rule.allow)),
                };
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

/// Robots pattern match: `*` matches any run of bytes, a trailing `$`
/// anchors at the end; otherwise the pattern is a prefix. Linear-time
/// greedy matching with backtracking to the last star, so a hostile pattern
/// cannot make matching exponential.
fn pattern_matches(pattern: &[u8], path: &[u8]) -> bool {
    let (pattern, anchored) = match pattern.split_last() {
        Some((b'$', rest)) => (rest, true),
        _ => (pattern, false),
    };
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<usize> = None;
    let mut mark = 0usize;
    while si < path.len() {
        if pi == pattern.len() && !anchored {
            // Unanchored: the pattern is a prefix; the rest of the path is free.
            return true;
        }
        match pattern.get(pi) {
            Some(b'*') => {
                star = Some(pi);
                mark = si;
                pi += 1;
            }
            Some(&c) if c == path[si] => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some(st) => {
                    pi = st + 1;
                    mark += 1;
                    si = mark;
                }
                None => return false,
            },
        }
    }
    while pattern.get(pi) == Some(&b'*') {
        pi += 1;
    }
    pi == pattern.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TXT: &str = "\
# comment
User-agent: *
Disallow: /private
Allow: /private/public
Disallow: /*.pdf$

User-agent: OtherBot
Disallow: /

Sitemap: https://example.com/sitemap.xml
";

    #[test]
    fn star_group_applies_with_longest_match() {
        let r = RobotsRules::parse(TXT, "TernBot");
        assert!(r.is_allowed("/"));
        assert!(r.is_allowed("/about"));
        assert!(!r.is_allowed("/private"));
        assert!(!r.is_allowed("/private/x"));
        assert!(r.is_allowed("/private/public/page"));
        assert!(!r.is_allowed("/files/report.pdf"));
        assert!(r.is_allowed("/files/report.pdf?download=1"));
        assert!(r.is_allowed("/robots.txt"));
    }

    #[test]
    fn specific_group_replaces_star() {
        let txt = "User-agent: *\nDisallow: /\n\nUser-agent: ternbot/2.0\nUser-agent: x\nDisallow: /secret\n";
        let r = RobotsRules::parse(txt, "TernBot");
        assert!(r.is_allowed("/"));
        assert!(!r.is_allowed("/secret/a"));
    }

    #[test]
    fn tie_goes_to_allow_and_empty_disallow_is_nothing() {
        let r = RobotsRules::parse("User-agent: *\nDisallow: /a\nAllow: /a\n", "TernBot");
        assert!(r.is_allowed("/a"));
        let r = RobotsRules::parse("User-agent: *\nDisallow:\n", "TernBot");
        assert!(r.is_allowed("/anything"));
    }

    #[test]
    fn wildcards() {
        assert!(pattern_matches(b"/*/x", b"/a/b/x/y"));
        assert!(pattern_matches(b"/a*b$", b"/a123b"));
        assert!(!pattern_matches(b"/a*b$", b"/a123bc"));
        assert!(pattern_matches(b"*", b"/"));
        assert!(!pattern_matches(b"/b", b"/a"));
        // Pathological pattern stays fast.
        let long = "/".to_string() + &"a".repeat(10_000);
        assert!(!pattern_matches("/*a*a*a*a*a*a*a*a*b$".as_bytes(), long.as_bytes()));
    }

    #[test]
    fn disallow_all_and_allow_all() {
        assert!(!RobotsRules::disallow_all().is_allowed("/"));
        assert!(RobotsRules::disallow_all().is_allowed("/robots.txt"));
        assert!(RobotsRules::allow_all().is_allowed("/x"));
        assert!(RobotsRules::parse("garbage\n\0\u{1}", "TernBot").is_allowed("/x"));
    }
}
