//! Enrichment end to end: the API queues it, the enrich worker fetches a real local
//! website through the SSRF guard (with the explicit loopback allowance for that
//! one server), extracts the company, caches the public facts for every workspace,
//! and records every failure in words.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tern_devhost::{DevHost, WebsiteFetch};
use tern_tests::{call, eventually, start_dev_host_with};

const PASSWORD: &str = "correct horse battery staple 42";

const HOME: &str = r#"<!doctype html><html lang="de"><head><meta charset="utf-8">
<title>Acme Robotics | Home</title>
<meta name="description" content="Acme Robotics builds warehouse robots for mid-sized logistics companies.">
<script type="application/ld+json">{"@context":"https://schema.org","@type":"Organization","name":"Acme Robotics GmbH",
"url":"https://acme.example","telephone":"+49 30 1234567","email":"info@acme.example",
"address":{"@type":"PostalAddress","streetAddress":"Musterstraße 1","postalCode":"10115","addressLocality":"Berlin","addressCountry":"DE"},
"sameAs":["https://www.linkedin.com/company/acme-robotics"]}</script>
<script src="https://www.googletagmanager.com/gtm.js?id=GTM-ABC"></script>
</head><body><h1>Robotics for logistics</h1><a href="/impressum">Impressum</a><a href="/team">Team</a></body></html>"#;

const IMPRINT: &str = r#"<!doctype html><html><head><title>Impressum</title></head><body>
<h1>Impressum</h1><p>Acme Robotics GmbH<br>Musterstraße 1<br>10115 Berlin</p>
<p>Geschäftsführer: Erika Mustermann</p><p>E-Mail: <a href="mailto:erika.mustermann@acme.example">erika.mustermann@acme.example</a></p></body></html>"#;

/// A small website that counts what it serves.
pub(crate) async fn website() -> (u16, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let count = |hits: Arc<AtomicUsize>, body: &'static str, content_type: &'static str| {
        move || {
            hits.fetch_add(1, Ordering::SeqCst);
            async move { ([(header::CONTENT_TYPE, content_type)], body).into_response() }
        }
    };
    let app = Router::new()
        .route("/", get(count(hits.clone(), HOME, "text/html; charset=utf-8")))
        .route("/impressum", get(count(hits.clone(), IMPRINT, "text/html; charset=utf-8")))
        .route("/team", get(count(hits.clone(), "<html><body><h1>Team</h1></body></html>", "text/html")))
        .route("/api/", get(count(hits.clone(), r#"{"not":"html"}"#, "application/json")))
        .route(
            "/slow/",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route("/loop/", get(|| async { axum::response::Redirect::temporary("/loop/") }))
        .route("/private/", get(|| async { axum::response::Redirect::temporary("http://10.0.0.7/") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, hits)
}

async fn host_for(name: &str, port: u16) -> DevHost {
    let limits =
        tern_web::fetch::Limits { total_timeout: Duration::from_secs(2), connect_timeout: Duration::from_secs(1), ..Default::default() };
    let fetch = WebsiteFetch { policy: tern_web::guard::Policy::website().allow_loopback_for_tests(port), limits, resolver: None };
    start_dev_host_with(name, tern_tests::WEBHOOK_SECRET, fetch).await
}

async fn workspace(host: &DevHost, email: &str) -> (String, String) {
    let body = tern_tests::sign_up(host, json!({ "email": email, "password": PASSWORD, "name": "Ann", "workspace_name": "W" })).await;
    tern_tests::set_plan(host, body["workspace_id"].as_str().unwrap(), "growth").await;
    (body["access_token"].as_str().unwrap().into(), body["workspace_id"].as_str().unwrap().into())
}

pub(crate) async fn enrich(host: &DevHost, token: &str, ws: &str, website: &str) -> Value {
    let (status, queued) =
        call(host, Method::POST, &format!("/v1/workspaces/{ws}/enrichments"), Some(token), Some(json!({ "website": website }))).await;
    assert!(status == StatusCode::ACCEPTED || status == StatusCode::OK, "{status} {queued}");
    let domain = queued["enrichment"]["domain"].as_str().unwrap().to_string();
    eventually("the enrichment to finish", Duration::from_secs(30), || async {
        let (_, view) = call(host, Method::GET, &format!("/v1/workspaces/{ws}/enrichments/{domain}"), Some(token), None).await;
        (view["enrichment"]["status"] != "pending").then_some(view)
    })
    .await
}

#[tokio::test]
async fn a_website_is_enriched_once_and_reused_by_another_workspace_from_the_cache() {
    let (port, hits) = website().await;
    let host = host_for("enrich", port).await;
    let (ann, acme_ws) = workspace(&host, "ann@seller.example").await;
    let (bob, other_ws) = workspace(&host, "bob@other-seller.example").await;
    let (status, _) = call(
        &host,
        Method::PUT,
        &format!("/v1/workspaces/{acme_ws}/ideal-customer"),
        Some(&ann),
        Some(json!({ "countries": ["DE"], "keywords": ["robotics"] })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let before = host.clients.meter().snapshot();
    let site = format!("http://127.0.0.1:{port}/");
    let view = enrich(&host, &ann, &acme_ws, &site).await;
    let spent = host.clients.meter().snapshot().since(&before);
    let enrichment = &view["enrichment"];
    assert_eq!(enrichment["status"], "done", "{view}");
    let profile = &enrichment["profile"];
    assert_eq!(profile["name"]["value"], "Acme Robotics GmbH");
    assert_eq!(profile["name"]["source"], site, "every fact names its source");
    assert_eq!(profile["country"]["value"], "DE");
    assert!(profile["technologies"].to_string().contains("Google Tag Manager"), "{profile}");
    assert!(enrichment["pages_fetched"].as_u64().unwrap() >= 2);
    let score = &view["score"];
    assert!(score["score"].as_u64().unwrap() > 0, "{score}");
    assert!(score["signals"].as_array().unwrap().iter().any(|s| s["name"] == "country" && s["matched"] == true), "{score}");
    let pages_served = hits.load(Ordering::SeqCst);
    eprintln!("one enrichment: {} pages, {} AWS requests\n{spent}", enrichment["pages_fetched"], spent.total_requests());

    // The second workspace gets the public facts from the cache: no second fetch.
    let view = enrich(&host, &bob, &other_ws, &site).await;
    assert_eq!(view["enrichment"]["status"], "done");
    assert_eq!(view["enrichment"]["from_cache"], true);
    assert_eq!(view["enrichment"]["profile"]["name"]["value"], "Acme Robotics GmbH");
    assert_eq!(hits.load(Ordering::SeqCst), pages_served, "the website was not fetched again");
    let cached = view["enrichment"]["profile"].to_string();
    assert!(!cached.contains("erika.mustermann@"), "no person's address crosses tenants: {cached}");

    for (token, ws) in [(&ann, &acme_ws), (&bob, &other_ws)] {
        let (_, usage) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/enrichment-usage"), Some(token), None).await;
        assert_eq!((usage["used"].as_u64(), usage["quota"].as_u64()), (Some(1), Some(2000)), "{usage}");
    }
    // Nothing of one workspace's enrichment is readable from the other's id space.
    let (status, _) = call(&host, Method::GET, &format!("/v1/workspaces/{acme_ws}/enrichments/127.0.0.1"), Some(&bob), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    host.stop().await;
}

#[tokio::test]
async fn every_way_a_site_fails_is_recorded_in_words_and_not_counted() {
    let (port, _) = website().await;
    let host = host_for("enrich-fail", port).await;
    let (token, ws) = workspace(&host, "ann@seller.example").await;
    let cases = [
        (format!("http://127.0.0.1:{port}/api/"), "not an HTML page"),
        (format!("http://127.0.0.1:{port}/slow/"), "time"),
        (format!("http://127.0.0.1:{port}/loop/"), "redirect"),
        (format!("http://127.0.0.1:{port}/private/"), "10.0.0.7"),
        ("http://10.0.0.1/".to_string(), "10.0.0.1"),
        ("http://169.254.169.254/latest/meta-data/".to_string(), "169.254.169.254"),
    ];
    for (website, expected) in cases {
        let view = enrich(&host, &token, &ws, &website).await;
        assert_eq!(view["enrichment"]["status"], "failed", "{website}: {view}");
        let reason = view["enrichment"]["failure"].as_str().unwrap().to_lowercase();
        assert!(reason.contains(&expected.to_lowercase()), "{website}: {reason}");
    }
    let (_, usage) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/enrichment-usage"), Some(&token), None).await;
    assert_eq!(usage["used"], 0, "only successful enrichments count");
    let (status, body) =
        call(&host, Method::POST, &format!("/v1/workspaces/{ws}/enrichments"), Some(&token), Some(json!({ "website": "not a website" })))
            .await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_website")));
    host.stop().await;
}
