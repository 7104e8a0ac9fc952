//! Company profiles on social networks, in one canonical form per profile.

use url::Url;

use crate::model::{SocialNetwork, SocialProfile};

pub(crate) fn classify_str(s: &str) -> Option<SocialProfile> {
    let s = s.trim();
    let url = Url::parse(s).or_else(|_| Url::parse(&format!("https://{}", s.trim_start_matches("//")))).ok()?;
    classify(&url)
}

/// A company profile link, or `None` for share buttons, posts, personal
/// profiles and anything else.
pub(crate) fn classify(url: &Url) -> Option<SocialProfile> {
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = url.host_str()?.to_ascii_lowercase();
    let host = host.strip_prefix("www.").or_else(|| host.strip_prefix("m.")).unwrap_or(&host).to_owned();
    let segs: Vec<String> =
        url.path_segments().map(|s| s.filter(|p| !p.is_empty()).map(crate::contacts::percent_decode).collect()).unwrap_or_default();
    let first = segs.first().map(|s| s.to_ascii_lowercase());
    let (network, path) = match host.as_str() {
        h if h == "linkedin.com" || h.ends_with(".linkedin.com") => {
            let kind = first?;
            if !matches!(kind.as_str(), "company" | "school" | "showcase") {
                return None;
            }
            (SocialNetwork::Linkedin, format!("linkedin.com/{kind}/{}", segs.get(1)?.to_ascii_lowercase()))
        }
        "twitter.com" | "x.com" | "mobile.twitter.com" => {
            let handle = segs.first()?;
            let reserved = [
                "intent", "share", "home", "search", "hashtag", "i", "login", "signup", "explore", "settings", "tos", "privacy", "messages",
            ];
            let valid = handle.len() <= 15 && handle.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid || reserved.contains(&handle.to_ascii_lowercase().as_str()) {
                return None;
            }
            (SocialNetwork::X, format!("x.com/{}", handle.to_ascii_lowercase()))
        }
        "facebook.com" | "fb.com" | "de-de.facebook.com" | "fr-fr.facebook.com" => {
            let page = first?;
            let reserved = [
                "sharer.php",
                "sharer",
                "share.php",
                "share",
                "dialog",
                "plugins",
                "tr",
                "login.php",
                "login",
                "profile.php",
                "events",
                "groups",
                "watch",
                "photo.php",
                "hashtag",
                "privacy",
                "policies",
            ];
            if reserved.contains(&page.as_str()) {
                return None;
            }
            if page == "pages" {
                (SocialNetwork::Facebook, format!("facebook.com/pages/{}", segs[1..].join("/")))
            } else {
                (SocialNetwork::Facebook, format!("facebook.com/{page}"))
            }
        }
        "github.com" => {
            let org = match first?.as_str() {
                "orgs" => segs.get(1)?.to_ascii_lowercase(),
                f => f.to_owned(),
            };
            let reserved = [
                "features",
                "about",
                "pricing",
                "login",
                "join",
                "topics",
                "marketplace",
                "sponsors",
                "enterprise",
                "site",
                "security",
                "explore",
                "settings",
                "apps",
                "collections",
                "trending",
            ];
            if reserved.contains(&org.as_str()) {
                return None;
            }
            (SocialNetwork::Github, format!("github.com/{org}"))
        }
        "instagram.com" => {
            let handle = first?;
            if ["p", "explore", "accounts", "reel", "reels", "stories", "tv", "about"].contains(&handle.as_str()) {
                return None;
            }
            (SocialNetwork::Instagram, format!("instagram.com/{handle}"))
        }
        "youtube.com" => {
            let f = first?;
            let path = if f.starts_with('@') {
                f
            } else if matches!(f.as_str(), "channel" | "c" | "user") {
                format!("{f}/{}", segs.get(1)?)
            } else {
                return None;
            };
            (SocialNetwork::Youtube, format!("youtube.com/{path}"))
        }
        _ => return None,
    };
    Some(SocialProfile { network, url: format!("https://{}", path.trim_end_matches('/')) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Option<String> {
        classify_str(s).map(|p| p.url)
    }

    #[test]
    fn profiles() {
        assert_eq!(c("https://www.linkedin.com/company/Flowdesk/?trk=x").as_deref(), Some("https://linkedin.com/company/flowdesk"));
        assert_eq!(c("https://de.linkedin.com/company/pixelwerk").as_deref(), Some("https://linkedin.com/company/pixelwerk"));
        assert_eq!(c("https://www.linkedin.com/in/someone"), None);
        assert_eq!(c("https://twitter.com/FlowdeskHQ").as_deref(), Some("https://x.com/flowdeskhq"));
        assert_eq!(c("https://twitter.com/intent/tweet?text=hi"), None);
        assert_eq!(c("https://www.facebook.com/sharer/sharer.php?u=x"), None);
        assert_eq!(c("https://facebook.com/pixelwerk.berlin/").as_deref(), Some("https://facebook.com/pixelwerk.berlin"));
        assert_eq!(c("https://github.com/orgs/flowdesk/people").as_deref(), Some("https://github.com/flowdesk"));
        assert_eq!(c("https://www.instagram.com/p/abc123/"), None);
        assert_eq!(c("https://www.youtube.com/@flowdesk").as_deref(), Some("https://youtube.com/@flowdesk"));
        assert_eq!(c("https://www.youtube.com/watch?v=x"), None);
        assert_eq!(c("instagram.com/nordlicht.shop").as_deref(), Some("https://instagram.com/nordlicht.shop"));
    }
}
