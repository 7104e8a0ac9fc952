//! Contacts trigger enrichment and e-mail verification: a contact at a company
//! domain queues the company's enrichment (once per domain, skipped while the
//! workspace has a fresh one) and the verification of the contact's address, which
//! the enrich worker runs against DNS (here a DNS server this test starts on
//! loopback) and stores on the contact. A second workspace's contact at the same
//! domain is served from the cross-tenant cache without a second fetch.

use crate::enrichment::website;
use crate::outreach::{import, sign_up};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tern_devhost::{DevHost, WebsiteFetch};
use tern_tests::dns::Zone;
use tern_tests::{call, eventually, start_dev_host_with};
use tern_web::fetch::HostResolver;

const SITE: &str = "acme-robotics.example";
/// A company domain whose website does not resolve: its enrichment fails.
const DEAD: &str = "gone-robotics.example";

/// The website fetcher's name resolution: the test site's name is on loopback,
/// every other name does not exist.
struct SiteResolver;

impl HostResolver for SiteResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'a>> {
        Box::pin(async move {
            if host.trim_end_matches('.').eq_ignore_ascii_case(SITE) {
                Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)])
            } else {
                Err(std::io::Error::new(std::io::ErrorKind::NotFound, format!("{host}: no such name")))
            }
        })
    }
}

/// DNS for e-mail verification: MX for the site's domain, an A record only
/// (implicit MX) for the dead one, NXDOMAIN otherwise.
async fn dns_server() -> SocketAddr {
    let zone = Zone::default();
    zone.publish_mx(SITE, 10, "mx.acme-robotics.example");
    zone.publish_a(DEAD, Ipv4Addr::new(192, 0, 2, 10));
    zone.serve().await
}

async fn host(port: u16) -> DevHost {
    let limits =
        tern_web::fetch::Limits { total_timeout: Duration::from_secs(2), connect_timeout: Duration::from_secs(1), ..Default::default() };
    let fetch = WebsiteFetch {
        // The site's name may resolve to the test server (that name and port only).
        policy: tern_web::guard::Policy::website().allow_loopback_for_tests(port).allow_loopback_name_for_tests(SITE),
        limits,
        resolver: Some(Arc::new(SiteResolver)),
    };
    let host = start_dev_host_with("contact-enrich", tern_tests::WEBHOOK_SECRET, fetch).await;
    let verifier = tern_web::Verifier::with_name_servers(&[dns_server().await], Duration::from_secs(2)).unwrap();
    assert!(host.functions.enrich().use_verifier(verifier), "the test's verifier is the first");
    host
}

async fn enrichment_done(host: &DevHost, token: &str, ws: &str, domain: &str) -> Value {
    eventually("the enrichment to finish", Duration::from_secs(30), || async {
        let (status, view) = call(host, Method::GET, &format!("/v1/workspaces/{ws}/enrichments/{domain}"), Some(token), None).await;
        (status == StatusCode::OK && view["enrichment"]["status"] != "pending").then_some(view)
    })
    .await
}

async fn verified(host: &DevHost, token: &str, ws: &str, id: &str) -> Value {
    eventually("the address to be verified", Duration::from_secs(30), || async {
        let (_, contact) = call(host, Method::GET, &format!("/v1/workspaces/{ws}/contacts/{id}"), Some(token), None).await;
        (!contact["verification"].is_null()).then_some(contact)
    })
    .await
}

fn sqs_sends(usage: &tern_domain::cost::Usage) -> u64 {
    usage.requests("sqs", "SendMessage") + usage.requests("sqs", "SendMessageBatch")
}

#[tokio::test]
async fn contacts_trigger_enrichment_and_verification_and_a_second_workspace_reads_the_cache() {
    let (port, hits) = website().await;
    let host = host(port).await;
    let (ann, a_ws) = sign_up(&host, "ann@seller-a.example", "growth").await;
    let (bob, b_ws) = sign_up(&host, "bob@seller-b.example", "growth").await;

    // A free-mail contact triggers nothing: no job is even queued.
    let before = host.clients.meter().snapshot();
    let (status, free) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{a_ws}/contacts"),
        Some(&ann),
        Some(json!({ "email": "jane.private@gmail.com" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{free}");
    assert_eq!(sqs_sends(&host.clients.meter().snapshot().since(&before)), 0, "a free-mail contact queues nothing");

    // Workspace A: a contact at the company's domain (its website as given, on the test port).
    let before = host.clients.meter().snapshot();
    let (status, jane) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{a_ws}/contacts"),
        Some(&ann),
        Some(json!({
            "email": format!("jane@{SITE}"), "first_name": "Jane", "last_name": "Roe", "website": format!("http://{SITE}:{port}/"),
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{jane}");
    let jane_id = jane["id"].as_str().unwrap().to_string();
    let created = host.clients.meter().snapshot();
    // Waited for with the test's own clients, so the platform's meter counts only the worker.
    let observer = tern_aws::table::Table::new(tern_tests::observer_clients().dynamodb, host.config.table.clone());
    let a_scope = observer.scope(tern_tests::observed(tern_domain::ids::WorkspaceId::parse(&a_ws).unwrap()));
    eventually("the worker to finish", Duration::from_secs(30), || async {
        let done = a_scope
            .get::<tern_aws::entities::Enrichment>(SITE)
            .await
            .unwrap()
            .is_some_and(|e| e.status != tern_aws::entities::EnrichmentStatus::Pending);
        let checked = a_scope.get::<tern_aws::outreach::Contact>(&jane_id).await.unwrap().is_some_and(|c| c.verification.is_some());
        (done && checked).then_some(())
    })
    .await;
    let (api_spent, worker_spent) = (created.since(&before), host.clients.meter().snapshot().since(&created));
    let view = enrichment_done(&host, &ann, &a_ws, SITE).await;
    let jane = verified(&host, &ann, &a_ws, &jane_id).await;
    assert_eq!(view["enrichment"]["status"], "done", "{view}");
    assert_eq!(view["enrichment"]["from_cache"], false);
    assert_eq!(view["enrichment"]["profile"]["name"]["value"], "Acme Robotics GmbH");
    assert_eq!(jane["verification"]["result"], "valid", "{jane}");
    assert_eq!(jane["verification"]["reasons"], json!([]), "{jane}");
    assert!(jane["verification"]["checked_at"].as_i64().unwrap() > 0);
    let pages_served = hits.load(Ordering::SeqCst);
    assert!(pages_served >= 2, "home page and imprint at least");
    eprintln!(
        "contact create (API): {} AWS requests\n{api_spent}\nenrichment + verification (worker, pollers' receives included): {} pages fetched, {} AWS requests\n{worker_spent}",
        api_spent.total_requests(),
        view["enrichment"]["pages_fetched"],
        worker_spent.total_requests()
    );
    // The worker queues nothing further.
    assert_eq!(worker_spent.requests("sqs", "SendMessage") + worker_spent.requests("sqs", "SendMessageBatch"), 0, "{worker_spent}");

    // A second contact at the same domain in A: the fresh enrichment is not redone.
    import(&host, &ann, &a_ws, &format!("email,first_name\nmax@{SITE},Max\n")).await;
    let max_id = contact_id(&host, &ann, &a_ws, &format!("max@{SITE}")).await;
    verified(&host, &ann, &a_ws, &max_id).await;
    assert_eq!(hits.load(Ordering::SeqCst), pages_served, "no second fetch for the same workspace");

    // Workspace B imports contacts at the same domain (and a role address): one
    // enrichment per domain, from the cache, with nothing of A's in it.
    let report = import(&host, &bob, &b_ws, &format!("email,first_name\nlee@{SITE},Lee\ninfo@{SITE},\n")).await;
    assert_eq!(report["created"], 2, "{report}");
    let view = enrichment_done(&host, &bob, &b_ws, SITE).await;
    assert_eq!(view["enrichment"]["status"], "done", "{view}");
    assert_eq!(view["enrichment"]["from_cache"], true, "{view}");
    assert_eq!(view["enrichment"]["profile"]["name"]["value"], "Acme Robotics GmbH");
    assert_eq!(hits.load(Ordering::SeqCst), pages_served, "the website was not fetched again for B");
    let b_copy = view.to_string();
    for a_data in ["jane", "Roe", "erika.mustermann@", &a_ws] {
        assert!(!b_copy.contains(a_data), "B's enrichment holds {a_data:?} of A: {b_copy}");
    }
    let lee = verified(&host, &bob, &b_ws, &contact_id(&host, &bob, &b_ws, &format!("lee@{SITE}")).await).await;
    assert_eq!(lee["verification"]["result"], "valid", "{lee}");
    let info = verified(&host, &bob, &b_ws, &contact_id(&host, &bob, &b_ws, &format!("info@{SITE}")).await).await;
    assert_eq!(
        (info["verification"]["result"].as_str(), info["verification"]["reasons"].clone()),
        (Some("risky"), json!(["role_account"])),
        "{info}"
    );

    // A company whose website cannot be reached: the failure is recorded, not counted;
    // its address is still verified (implicit MX: risky).
    let (status, gone) =
        call(&host, Method::POST, &format!("/v1/workspaces/{a_ws}/contacts"), Some(&ann), Some(json!({ "email": format!("kim@{DEAD}") })))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{gone}");
    let view = enrichment_done(&host, &ann, &a_ws, DEAD).await;
    assert_eq!(view["enrichment"]["status"], "failed", "{view}");
    let gone = verified(&host, &ann, &a_ws, gone["id"].as_str().unwrap()).await;
    assert_eq!(
        (gone["verification"]["result"].as_str(), gone["verification"]["reasons"].clone()),
        (Some("risky"), json!(["implicit_mx"])),
        "{gone}"
    );

    for (token, ws) in [(&ann, &a_ws), (&bob, &b_ws)] {
        let (_, usage) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/enrichment-usage"), Some(token), None).await;
        assert_eq!(usage["used"], 1, "only the successful enrichment counts: {usage}");
    }
    let (_, list) = call(&host, Method::GET, &format!("/v1/workspaces/{a_ws}/enrichments"), Some(&ann), None).await;
    let domains: Vec<&str> = list["enrichments"].as_array().unwrap().iter().map(|e| e["domain"].as_str().unwrap()).collect();
    assert_eq!(domains, [SITE, DEAD], "nothing for gmail.com");
    let (_, free) =
        call(&host, Method::GET, &format!("/v1/workspaces/{a_ws}/contacts/{}", free["id"].as_str().unwrap()), Some(&ann), None).await;
    assert!(free["verification"].is_null(), "{free}");

    // Verification on request, for any contact (the free-mail one included); B cannot ask for A's.
    let path = format!("/v1/workspaces/{a_ws}/contacts/{}/verify", free["id"].as_str().unwrap());
    let (status, _) = call(&host, Method::POST, &path, Some(&bob), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = call(&host, Method::POST, &path, Some(&ann), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let free = verified(&host, &ann, &a_ws, free["id"].as_str().unwrap()).await;
    // The test's DNS knows no gmail.com: NXDOMAIN.
    assert_eq!(free["verification"]["result"], "invalid", "{free}");
    assert!(free["verification"]["reasons"].as_array().unwrap().contains(&json!("free_provider")), "{free}");
    let (status, body) = call(&host, Method::POST, &format!("/v1/workspaces/{a_ws}/contacts/nope/verify"), Some(&ann), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    host.stop().await;
}

async fn contact_id(host: &DevHost, token: &str, ws: &str, email: &str) -> String {
    crate::outreach::contact_ids(host, token, ws).await.remove(email).unwrap_or_else(|| panic!("no contact {email}"))
}
