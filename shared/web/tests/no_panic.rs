//! Outside input never panics the guard, the robots parser or the address
//! parser, and the guard never passes a forbidden literal.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use proptest::prelude::*;
use tern_web::guard::{CheckedHost, Policy, check_mail_host, check_url, is_forbidden};
use tern_web::robots::RobotsRules;
use tern_web::verify::parse_address;

proptest! {
    #[test]
    fn guard_total_on_any_url(s in "(http|https|ftp)://[a-z0-9.:@\\[\\]%x-]{0,40}(/[ -~]{0,10})?") {
        if let Ok(url) = url::Url::parse(&s)
            && let Ok(CheckedHost::Ip(ip)) = check_url(&url, &Policy::website())
        {
            prop_assert!(!is_forbidden(ip));
        }
    }

    #[test]
    fn any_ip_literal_url_agrees_with_classification(bits in any::<u32>(), v6 in any::<u128>()) {
        let v4 = std::net::Ipv4Addr::from(bits);
        let v6 = std::net::Ipv6Addr::from(v6);
        for s in [format!("http://{v4}/"), format!("http://[{v6}]/")] {
            let url = url::Url::parse(&s).expect("literal URL parses");
            let allowed = check_url(&url, &Policy::website()).is_ok();
            let ip = match url.host() {
                Some(url::Host::Ipv4(a)) => std::net::IpAddr::V4(a),
                Some(url::Host::Ipv6(a)) => std::net::IpAddr::V6(a),
                _ => unreachable!("literal host"),
            };
            prop_assert_eq!(allowed, !is_forbidden(ip));
        }
    }

    #[test]
    fn mail_host_total(s in "\\PC{0,60}", port in any::<u16>()) {
        if let Ok(CheckedHost::Ip(ip)) = check_mail_host(&s, port) {
            prop_assert!(!is_forbidden(ip));
        }
    }

    #[test]
    fn robots_total(body in "\\PC{0,400}", path in "\\PC{0,40}") {
        let rules = RobotsRules::parse(&body, "TernBot");
        let _ = rules.is_allowed(&path);
    }

    #[test]
    fn address_parser_total(s in "\\PC{0,300}") {
        if let Ok(a) = parse_address(&s) {
            let n = a.normalised();
            prop_assert!(n.is_ascii());
            prop_assert!(n.len() <= 254);
            prop_assert!(a.local.len() <= 64);
        }
    }
}
