//! Sending domains (issue 12, finding 2): a workspace sends from a domain only after
//! proving it controls it with a DNS TXT record of its own token, checked through a
//! real resolver (here pointed at a DNS server this test starts on loopback). The
//! platform's domain is never anyone's, and a domain one workspace proved is not
//! another's, whatever SES has verified.

use crate::outreach::{ok, sign_up};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tern_devhost::DevHost;
use tern_tests::{call, start_dev_host};

use tern_tests::dns::Zone;

/// A dev host whose api function checks proofs against `zone`.
pub async fn host_with_dns(name: &str, zone: &Zone) -> DevHost {
    let host = start_dev_host(name).await;
    give_dns(&host, zone).await;
    host
}

/// Points the api function's resolver of `host` at a DNS server serving `zone`.
pub async fn give_dns(host: &DevHost, zone: &Zone) {
    let resolver = tern_web::Verifier::with_name_servers_uncached(&[zone.serve().await], Duration::from_secs(2)).unwrap();
    assert!(host.functions.api_state().use_dns(resolver), "the test's resolver is the first");
}

/// Asks for `domain`, publishes its record in `zone`, verifies it: what a customer
/// does in their DNS console. Returns the verified domain's view.
pub async fn prove_domain(host: &DevHost, token: &str, ws: &str, domain: &str, zone: &Zone) -> Value {
    let asked = ok(host, Method::POST, &format!("/v1/workspaces/{ws}/sending-domains"), token, json!({ "domain": domain })).await;
    zone.publish_txt(asked["record"]["name"].as_str().unwrap(), asked["record"]["value"].as_str().unwrap());
    ok(host, Method::POST, &format!("/v1/workspaces/{ws}/sending-domains/{domain}/verify"), token, json!({})).await
}

fn code(answer: &Value) -> Option<&str> {
    answer["error"]["code"].as_str()
}

#[tokio::test]
async fn a_workspace_cannot_send_from_the_platform_domain() {
    let zone = Zone::default();
    let host = host_with_dns("platform-domain", &zone).await;
    let (owner, ws) = sign_up(&host, "mallory@evil.example", "growth").await;
    let platform = tern_aws::provision::LOCAL_SENDING_DOMAIN;
    // SES has verified the platform's domain (for the platform): that is not this workspace's proof.
    let (status, answer) =
        call(&host, Method::PATCH, &format!("/v1/workspaces/{ws}"), Some(&owner), Some(json!({ "sending_domain": platform }))).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, Some("platform_domain_reserved")), "{answer}");
    // It cannot even be asked for: not the domain, not under it, not above it.
    for domain in
        [platform.to_string(), format!("mail.{platform}"), "tern.test".to_string(), tern_aws::provision::LOCAL_INBOUND_DOMAIN.to_string()]
    {
        let (status, answer) =
            call(&host, Method::POST, &format!("/v1/workspaces/{ws}/sending-domains"), Some(&owner), Some(json!({ "domain": domain })))
                .await;
        assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, Some("platform_domain_reserved")), "{domain}: {answer}");
    }
    // Nor can a mailbox speak as the platform, through SES or its own SMTP server.
    for provider in [
        json!({ "kind": "ses" }),
        json!({ "kind": "smtp", "host": "smtp.evil.example", "port": 587, "security": "start_tls", "username": "m", "password": "p" }),
    ] {
        let (status, answer) = call(
            &host,
            Method::POST,
            &format!("/v1/workspaces/{ws}/mailboxes"),
            Some(&owner),
            Some(json!({
                "name": "support", "from_email": format!("security@{platform}"), "provider": provider,
            })),
        )
        .await;
        assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, Some("platform_domain_reserved")), "{answer}");
    }
    let (_, workspace) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}"), Some(&owner), None).await;
    assert!(workspace["sending_domain"].is_null(), "{workspace}");
    host.stop().await;
}

#[tokio::test]
async fn a_workspace_cannot_take_a_domain_another_workspace_verified() {
    let zone = Zone::default();
    let host = host_with_dns("domain-taken", &zone).await;
    let (ann, ann_ws) = sign_up(&host, "ann@acme.example", "growth").await;
    let (mallory, mallory_ws) = sign_up(&host, "mallory@evil.example", "growth").await;
    let domain = format!("acme-{}.example", &ann_ws[ann_ws.len() - 8..]);
    tern_tests::observe(&host).ses.verify_domain_identity().domain(&domain).send().await.unwrap();
    let proven = prove_domain(&host, &ann, &ann_ws, &domain, &zone).await;
    assert_eq!(proven["status"], "verified", "{proven}");
    ok(&host, Method::PATCH, &format!("/v1/workspaces/{ann_ws}"), &ann, json!({ "sending_domain": domain })).await;

    // Mallory cannot ask for it, set it, or open an SES mailbox at it.
    let (status, answer) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{mallory_ws}/sending-domains"),
        Some(&mallory),
        Some(json!({ "domain": domain.to_uppercase() })),
    )
    .await;
    assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, Some("domain_claimed")), "{answer}");
    let (status, answer) =
        call(&host, Method::PATCH, &format!("/v1/workspaces/{mallory_ws}"), Some(&mallory), Some(json!({ "sending_domain": domain })))
            .await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, Some("domain_not_claimed")), "{answer}");
    let (_, workspace) = call(&host, Method::GET, &format!("/v1/workspaces/{mallory_ws}"), Some(&mallory), None).await;
    assert!(workspace["sending_domain"].is_null(), "{workspace}");
    // Ann's claim and its routes are hers: another workspace's path answers 404.
    for (method, path) in [
        (Method::POST, format!("/v1/workspaces/{ann_ws}/sending-domains/{domain}/verify")),
        (Method::DELETE, format!("/v1/workspaces/{ann_ws}/sending-domains/{domain}")),
        (Method::GET, format!("/v1/workspaces/{ann_ws}/sending-domains")),
    ] {
        let (status, _) = call(&host, method.clone(), &path, Some(&mallory), Some(json!({}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    let (status, _) =
        call(&host, Method::POST, &format!("/v1/workspaces/{mallory_ws}/sending-domains/{domain}/verify"), Some(&mallory), Some(json!({})))
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "Mallory never asked for it");
    // While it is Ann's sending domain she cannot give it up; afterwards she can, and it is free again.
    let (status, answer) =
        call(&host, Method::DELETE, &format!("/v1/workspaces/{ann_ws}/sending-domains/{domain}"), Some(&ann), None).await;
    assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, Some("domain_in_use")), "{answer}");
    ok(&host, Method::PATCH, &format!("/v1/workspaces/{ann_ws}"), &ann, json!({ "sending_domain": "" })).await;
    let (status, _) = call(&host, Method::DELETE, &format!("/v1/workspaces/{ann_ws}/sending-domains/{domain}"), Some(&ann), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Mallory's own token, published in Mallory's name (Ann's old record is still in DNS and proves nothing for her).
    let asked =
        ok(&host, Method::POST, &format!("/v1/workspaces/{mallory_ws}/sending-domains"), &mallory, json!({ "domain": domain })).await;
    let (status, answer) =
        call(&host, Method::POST, &format!("/v1/workspaces/{mallory_ws}/sending-domains/{domain}/verify"), Some(&mallory), Some(json!({})))
            .await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, Some("domain_not_proven")), "{asked} {answer}");
    host.stop().await;
}

#[tokio::test]
async fn an_unverified_domain_cannot_be_used() {
    let zone = Zone::default();
    let host = host_with_dns("domain-unverified", &zone).await;
    let (owner, ws) = sign_up(&host, "ann@acme.example", "growth").await;
    let domain = format!("acme-{}.example", &ws[ws.len() - 8..]);
    // SES has verified it (the platform's account may send from it): not enough.
    tern_tests::observe(&host).ses.verify_domain_identity().domain(&domain).send().await.unwrap();
    let (status, answer) =
        call(&host, Method::PATCH, &format!("/v1/workspaces/{ws}"), Some(&owner), Some(json!({ "sending_domain": domain }))).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, Some("domain_not_claimed")), "{answer}");
    let asked = ok(&host, Method::POST, &format!("/v1/workspaces/{ws}/sending-domains"), &owner, json!({ "domain": domain })).await;
    assert_eq!((asked["status"].as_str(), asked["record"]["type"].as_str()), (Some("pending"), Some("TXT")), "{asked}");
    assert_eq!(asked["record"]["name"], format!("_tern-challenge.{domain}"));
    // Not published yet, then published with someone else's token: not proven, nothing usable.
    let verify = format!("/v1/workspaces/{ws}/sending-domains/{domain}/verify");
    let (status, answer) = call(&host, Method::POST, &verify, Some(&owner), Some(json!({}))).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, Some("domain_not_proven")), "{answer}");
    zone.publish_txt(&format!("_tern-challenge.{domain}"), "tern-verify=0123456789abcdef0123456789abcdef");
    let (status, answer) = call(&host, Method::POST, &verify, Some(&owner), Some(json!({}))).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, Some("domain_not_proven")), "{answer}");
    let (status, answer) =
        call(&host, Method::PATCH, &format!("/v1/workspaces/{ws}"), Some(&owner), Some(json!({ "sending_domain": domain }))).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, Some("domain_not_claimed")), "{answer}");
    // The right record: proven, and now the domain can be set.
    zone.publish_txt(asked["record"]["name"].as_str().unwrap(), asked["record"]["value"].as_str().unwrap());
    let proven = ok(&host, Method::POST, &verify, &owner, json!({})).await;
    assert_eq!(proven["status"], "verified", "{proven}");
    let updated =
        ok(&host, Method::PATCH, &format!("/v1/workspaces/{ws}"), &owner, json!({ "sending_domain": domain.to_uppercase() })).await;
    assert_eq!(updated["sending_domain"], domain.as_str());
    let (_, listed) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/sending-domains"), Some(&owner), None).await;
    assert_eq!(listed["domains"].as_array().unwrap().len(), 1, "{listed}");
    let (_, trail) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/audit?action=sending_domain."), Some(&owner), None).await;
    let actions: Vec<&str> = trail["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["sending_domain.added", "sending_domain.verified"], "{trail}");
    host.stop().await;
}
