//! Technologies recognisable from markup: script sources, meta generator,
//! framework markers and well-known globals in inline scripts.

use crate::html::Scan;
use crate::model::{Fact, Method, PageFacts, Technology};

#[derive(Clone, Copy)]
enum Where {
    /// Substring of a `<script src>`, `<link href>` or `<form action>` URL.
    Url,
    /// Substring of `<meta name="generator">`.
    Generator,
    /// Substring of an inline script (first bytes only, see `html.rs`).
    Inline,
    /// A markup marker recorded by the scan (`attr:…`, `id:…`).
    Marker,
    /// Substring of an `<a href>`.
    Anchor,
}

/// `(name, category, where, lower-case pattern)`. Patterns are specific
/// enough that one hit is evidence; order only affects which evidence is shown.
const FINGERPRINTS: &[(&str, &str, Where, &str)] = &[
    ("WordPress", "cms", Where::Generator, "wordpress"),
    ("WordPress", "cms", Where::Url, "/wp-content/"),
    ("WordPress", "cms", Where::Url, "/wp-includes/"),
    ("Elementor", "page builder", Where::Marker, "attr:data-elementor-type"),
    ("Elementor", "page builder", Where::Generator, "elementor"),
    ("Drupal", "cms", Where::Generator, "drupal"),
    ("Drupal", "cms", Where::Inline, "drupalsettings"),
    ("Joomla", "cms", Where::Generator, "joomla"),
    ("TYPO3", "cms", Where::Generator, "typo3"),
    ("TYPO3", "cms", Where::Url, "/typo3conf/"),
    ("TYPO3", "cms", Where::Url, "/typo3temp/"),
    ("Shopify", "ecommerce", Where::Url, "cdn.shopify.com"),
    ("Shopify", "ecommerce", Where::Inline, "shopify.theme"),
    ("Shopify", "ecommerce", Where::Inline, "shopify.shop"),
    ("Webflow", "site builder", Where::Marker, "attr:data-wf-site"),
    ("Webflow", "site builder", Where::Generator, "webflow"),
    ("Webflow", "site builder", Where::Url, "website-files.com"),
    ("Wix", "site builder", Where::Generator, "wix.com"),
    ("Wix", "site builder", Where::Url, "static.parastorage.com"),
    ("Wix", "site builder", Where::Url, "static.wixstatic.com"),
    ("Wix", "site builder", Where::Marker, "id:wix-warmup-data"),
    ("Squarespace", "site builder", Where::Generator, "squarespace"),
    ("Squarespace", "site builder", Where::Url, "static1.squarespace.com"),
    ("Squarespace", "site builder", Where::Url, "assets.squarespace.com"),
    ("Squarespace", "site builder", Where::Inline, "static.squarespace_context"),
    ("HubSpot", "marketing automation", Where::Url, "js.hs-scripts.com"),
    ("HubSpot", "marketing automation", Where::Url, "js.hsforms.net"),
    ("HubSpot", "marketing automation", Where::Url, "js.hs-analytics.net"),
    ("HubSpot", "marketing automation", Where::Inline, "hbspt.forms.create"),
    ("HubSpot", "marketing automation", Where::Inline, "_hsq"),
    ("HubSpot", "marketing automation", Where::Marker, "id:hubspot-messages-iframe-container"),
    ("Salesforce Pardot", "marketing automation", Where::Url, "pi.pardot.com"),
    ("Salesforce Pardot", "marketing automation", Where::Url, "go.pardot.com"),
    ("Salesforce Pardot", "marketing automation", Where::Inline, "piaid"),
    ("Salesforce", "crm", Where::Url, "webto.salesforce.com"),
    ("Salesforce", "crm", Where::Url, "servlet.webtolead"),
    ("Marketo", "marketing automation", Where::Url, "munchkin.marketo.net"),
    ("Marketo", "marketing automation", Where::Url, "marketo.com/js/forms2"),
    ("Marketo", "marketing automation", Where::Inline, "munchkin.init"),
    ("Mailchimp", "email marketing", Where::Url, "list-manage.com"),
    ("Mailchimp", "email marketing", Where::Url, "chimpstatic.com"),
    ("Google Tag Manager", "tag manager", Where::Url, "googletagmanager.com/gtm.js"),
    ("Google Tag Manager", "tag manager", Where::Inline, "googletagmanager.com/gtm.js"),
    ("Google Analytics", "analytics", Where::Url, "google-analytics.com/analytics.js"),
    ("Google Analytics", "analytics", Where::Url, "google-analytics.com/ga.js"),
    ("Google Analytics", "analytics", Where::Url, "googletagmanager.com/gtag/js"),
    ("Google Analytics", "analytics", Where::Inline, "google-analytics.com/analytics.js"),
    ("Google Analytics", "analytics", Where::Inline, "gtag('config'"),
    ("Google Analytics", "analytics", Where::Inline, "gtag(\"config\""),
    ("Segment", "customer data platform", Where::Url, "cdn.segment.com"),
    ("Segment", "customer data platform", Where::Inline, "cdn.segment.com/analytics.js"),
    ("Segment", "customer data platform", Where::Inline, "analytics.load("),
    ("Matomo", "analytics", Where::Url, "matomo.js"),
    ("Matomo", "analytics", Where::Inline, "_paq.push"),
    ("Plausible", "analytics", Where::Url, "plausible.io/js"),
    ("Hotjar", "analytics", Where::Url, "static.hotjar.com"),
    ("Hotjar", "analytics", Where::Inline, "_hjsettings"),
    ("Meta Pixel", "advertising", Where::Url, "connect.facebook.net"),
    ("Meta Pixel", "advertising", Where::Inline, "connect.facebook.net/en_us/fbevents.js"),
    ("LinkedIn Insight Tag", "advertising", Where::Url, "snap.licdn.com"),
    ("LinkedIn Insight Tag", "advertising", Where::Inline, "_linkedin_partner_id"),
    ("Intercom", "live chat", Where::Url, "widget.intercom.io"),
    ("Intercom", "live chat", Where::Url, "js.intercomcdn.com"),
    ("Intercom", "live chat", Where::Inline, "intercomsettings"),
    ("Intercom", "live chat", Where::Inline, "widget.intercom.io"),
    ("Drift", "live chat", Where::Url, "js.driftt.com"),
    ("Zendesk", "customer support", Where::Url, "static.zdassets.com"),
    ("Calendly", "scheduling", Where::Url, "assets.calendly.com"),
    ("Stripe", "payments", Where::Url, "js.stripe.com"),
    ("Cookiebot", "consent management", Where::Url, "consent.cookiebot.com"),
    ("Usercentrics", "consent management", Where::Url, "usercentrics.eu"),
    ("Next.js", "javascript framework", Where::Marker, "id:__next_data__"),
    ("Next.js", "javascript framework", Where::Marker, "id:__next"),
    ("Next.js", "javascript framework", Where::Url, "/_next/static/"),
    ("Nuxt.js", "javascript framework", Where::Marker, "id:__nuxt"),
    ("Nuxt.js", "javascript framework", Where::Url, "/_nuxt/"),
    ("Gatsby", "javascript framework", Where::Marker, "id:___gatsby"),
    ("React", "javascript framework", Where::Marker, "attr:data-reactroot"),
    ("React", "javascript framework", Where::Url, "react.production.min.js"),
    ("React", "javascript framework", Where::Url, "react-dom"),
    ("Vue.js", "javascript framework", Where::Url, "vue.min.js"),
    ("Vue.js", "javascript framework", Where::Url, "vue.global"),
    ("Angular", "javascript framework", Where::Marker, "attr:ng-version"),
    ("jQuery", "javascript library", Where::Url, "jquery"),
    ("Cloudflare", "cdn", Where::Url, "/cdn-cgi/"),
    ("Cloudflare", "cdn", Where::Url, "static.cloudflareinsights.com"),
    ("Cloudflare", "cdn", Where::Anchor, "/cdn-cgi/l/email-protection"),
    ("Cloudflare", "cdn", Where::Marker, "attr:data-cfemail"),
];

/// Frameworks that imply another one (Next.js renders with React).
const IMPLIES: &[(&str, &str, &str)] = &[
    ("Next.js", "React", "javascript framework"),
    ("Gatsby", "React", "javascript framework"),
    ("Nuxt.js", "Vue.js", "javascript framework"),
];

pub(crate) fn detect(scan: &Scan, f: &mut PageFacts, src: &str) {
    let urls: Vec<String> =
        scan.script_srcs.iter().chain(&scan.link_hrefs).chain(&scan.form_actions).map(|u| u.to_ascii_lowercase()).collect();
    let anchors: Vec<String> = scan.anchors.iter().map(|a| a.href.to_ascii_lowercase()).collect();
    let generators: Vec<String> = scan.metas.iter().filter(|(k, _)| k == "generator").map(|(_, v)| v.trim().to_owned()).collect();
    let inline: Vec<String> = scan.inline_scripts.iter().map(|s| s.to_ascii_lowercase()).collect();
    let mut markers: Vec<String> = scan.markers.iter().map(|m| m.to_ascii_lowercase()).collect();
    if !scan.cf_emails.is_empty() {
        markers.push("attr:data-cfemail".to_owned());
    }

    let mut found: Vec<Fact<Technology>> = Vec::new();
    for &(name, category, place, pat) in FINGERPRINTS {
        if found.iter().any(|t| t.value.name == name) {
            continue;
        }
        let hit = match place {
            Where::Url => urls.iter().find(|u| u.contains(pat)).map(|u| (format!("script/link URL: {}", clip(u)), Method::Script)),
            Where::Anchor => anchors.iter().find(|u| u.contains(pat)).map(|u| (format!("link: {}", clip(u)), Method::Link)),
            Where::Generator => generators
                .iter()
                .find(|g| g.to_ascii_lowercase().contains(pat))
                .map(|g| (format!("meta generator: {}", clip(g)), Method::Meta)),
            Where::Inline => inline.iter().any(|s| s.contains(pat)).then(|| (format!("inline script contains \"{pat}\""), Method::Script)),
            Where::Marker => markers.iter().any(|m| m == pat).then(|| (format!("markup: {pat}"), Method::Markup)),
        };
        if let Some((evidence, method)) = hit {
            found.push(Fact::new(Technology { name: name.to_owned(), category: category.to_owned(), evidence }, src, method));
        }
    }
    for &(by, implied, category) in IMPLIES {
        if found.iter().any(|t| t.value.name == by) && !found.iter().any(|t| t.value.name == implied) {
            found.push(Fact::new(
                Technology { name: implied.to_owned(), category: category.to_owned(), evidence: format!("implied by {by}") },
                src,
                Method::Markup,
            ));
        }
    }
    f.technologies.extend(found);
}

fn clip(s: &str) -> String {
    crate::meta::clip(s, 120)
}
