//! The guarded fetcher against real HTTP servers on 127.0.0.1:0, with the
//! explicit test allowance scoped to the server's own port.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tern_web::fetch::{FetchError, Fetcher, GuardedResolver, HostResolver, Limits, Oversize, ResolveError, SystemResolver, USER_AGENT};
use tern_web::guard::{AddressClass, Policy, Refusal};
use url::Url;

#[derive(Clone, Default)]
struct Hits {
    all: Arc<AtomicUsize>,
    secret: Arc<AtomicUsize>,
    robots: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct AppState {
    hits: Hits,
    robots_status: u16,
    other_port: u16,
}

fn html(body: &str) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body.to_string()).into_response()
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// A server that counts every request, so tests can prove "never reached".
async fn counting_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let router = Router::new().fallback(move || {
        let h = h.clone();
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            html("<p>reached</p>")
        }
    });
    (serve(router).await, hits)
}

async fn app(robots_status: u16, other_port: u16) -> (SocketAddr, Hits) {
    let hits = Hits::default();
    let state = AppState { hits: hits.clone(), robots_status, other_port };
    let router = Router::new()
        .route("/robots.txt", get(robots))
        .route("/page", get(|| async { html("<html><title>ok</title></html>") }))
        .route(
            "/ua",
            get(|headers: HeaderMap| async move {
                let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                html(&ua)
            }),
        )
        .route(
            "/private/secret",
            get(|State(s): State<AppState>| async move {
                s.hits.secret.fetch_add(1, Ordering::SeqCst);
                html("secret")
            }),
        )
        .route("/redirect-ok", get(|| async { redirect("/page#frag") }))
        .route("/to-private", get(|| async { redirect("http://10.0.0.1/") }))
        .route("/to-metadata", get(|| async { redirect("http://169.254.169.254/latest/meta-data/") }))
        .route("/to-decimal-loopback", get(|| async { redirect("http://2130706433/") }))
        .route("/to-ftp", get(|| async { redirect("ftp://example.com/") }))
        .route("/to-other-port", get(|State(s): State<AppState>| async move { redirect(&format!("http://127.0.0.1:{}/", s.other_port)) }))
        .route("/loop-a", get(|| async { redirect("/loop-b") }))
        .route("/loop-b", get(|| async { redirect("/loop-a") }))
        .route("/hop/{n}", get(|Path(n): Path<u32>| async move { redirect(&format!("/hop/{}", n + 1)) }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                html("late")
            }),
        )
        .route("/huge", get(|| async { html(&"x".repeat(3 * 1024 * 1024)) }))
        .route("/json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], "{}").into_response() }))
        .route("/no-type", get(|| async { "plain body without a content type".into_response() }))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND.into_response() }))
        .with_state(state);
    let hits_all = hits.all.clone();
    let router = router.layer(axum::middleware::from_fn(move |req: axum::extract::Request, next: axum::middleware::Next| {
        let hits_all = hits_all.clone();
        async move {
            hits_all.fetch_add(1, Ordering::SeqCst);
            next.run(req).await
        }
    }));
    (serve(router).await, hits)
}

async fn robots(State(s): State<AppState>) -> Response {
    s.hits.robots.fetch_add(1, Ordering::SeqCst);
    match s.robots_status {
        // "Slow": robots.txt never arrives in time.
        0 => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::OK.into_response()
        }
        200 => ([(header::CONTENT_TYPE, "text/plain")], "User-agent: *\nDisallow: /private\n\nUser-agent: OtherBot\nDisallow: /\n")
            .into_response(),
        code => StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR).into_response(),
    }
}

fn limits() -> Limits {
    Limits {
        total_timeout: Duration::from_millis(1500),
        connect_timeout: Duration::from_millis(300),
        max_body_bytes: 64 * 1024,
        max_redirects: 5,
        max_pages: 50,
        oversize: Oversize::Truncate,
    }
}

fn fetcher_for(addr: SocketAddr, limits: Limits) -> Fetcher {
    Fetcher::new(Policy::website().allow_loopback_for_tests(addr.port()), limits).expect("fetcher builds")
}

fn url(addr: SocketAddr, path: &str) -> Url {
    Url::parse(&format!("http://{addr}{path}")).expect("test URL")
}

fn assert_refused(result: Result<tern_web::Page, FetchError>, what: &str) -> Refusal {
    match result {
        Err(FetchError::Refused { reason }) => reason,
        other => panic!("{what}: expected Refused, got {other:?}"),
    }
}

// ---------------------------------------------------------------- basics

#[tokio::test]
async fn fetches_an_html_page_with_our_user_agent() {
    let (addr, _) = app(200, 1).await;
    let fetcher = fetcher_for(addr, limits());
    let mut session = fetcher.session();
    let page = session.fetch(&url(addr, "/page")).await.expect("page");
    assert_eq!(page.status, 200);
    assert_eq!(page.content_type, "text/html");
    assert!(!page.truncated);
    assert!(page.fetched_via.is_empty());
    assert_eq!(page.body, b"<html><title>ok</title></html>");

    let ua = session.fetch(&url(addr, "/ua")).await.expect("ua page");
    assert_eq!(String::from_utf8_lossy(&ua.body), USER_AGENT);
    assert!(USER_AGENT.starts_with("TernBot/"));
    assert!(USER_AGENT.ends_with("(+https://tern.example/bot)"));
}

#[tokio::test]
async fn one_redirect_is_followed_and_recorded() {
    let (addr, _) = app(200, 1).await;
    let fetcher = fetcher_for(addr, limits());
    let page = fetcher.session().fetch(&url(addr, "/redirect-ok")).await.expect("page");
    assert_eq!(page.url, url(addr, "/page"));
    assert_eq!(page.fetched_via, vec![url(addr, "/redirect-ok")]);
}

// ---------------------------------------------------- every form refused

#[tokio::test]
async fn every_blocked_form_is_refused_by_the_fetcher() {
    // The production policy, the system resolver: nothing here may connect.
    let fetcher = Fetcher::new(Policy::website(), limits()).expect("fetcher");
    let mut session = fetcher.session();
    for u in [
        "http://127.0.0.1/",
        "http://localhost/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://[fd00:ec2::254]/",
        "http://224.0.0.1/",
        "ftp://example.com/",
        "http://example.com:22/",
        "http://user:pass@example.com/",
    ] {
        let result = session.fetch(&Url::parse(u).expect("url")).await;
        assert_refused(result, u);
    }
}

#[tokio::test]
async fn localhost_resolves_only_to_forbidden_addresses() {
    let resolver = GuardedResolver::new(Arc::new(SystemResolver), Policy::website());
    match resolver.resolve("localhost").await {
        Err(ResolveError::Refused(Refusal::NoAllowedAddress { dropped, .. })) => {
            assert!(!dropped.is_empty());
            assert!(dropped.iter().all(|(_, c)| *c == AddressClass::Loopback));
        }
        // Some minimal containers have no hosts entry at all: then the
        // name simply does not resolve, which is also not a connection.
        Err(ResolveError::Dns(_)) => {}
        other => panic!("localhost must not resolve to an allowed address: {other:?}"),
    }
}

// ------------------------------------------------------ redirects

#[tokio::test]
async fn redirect_to_private_address_is_refused() {
    let (addr, _) = app(200, 1).await;
    let fetcher = fetcher_for(addr, limits());
    let mut session = fetcher.session();
    let r = assert_refused(session.fetch(&url(addr, "/to-private")).await, "to-private");
    assert!(matches!(r, Refusal::Address { class: AddressClass::Private, .. }), "{r}");
    let r = assert_refused(session.fetch(&url(addr, "/to-metadata")).await, "to-metadata");
    assert!(matches!(r, Refusal::Address { class: AddressClass::CloudMetadata, .. }), "{r}");
    let r = assert_refused(session.fetch(&url(addr, "/to-decimal-loopback")).await, "to-decimal-loopback");
    // Port 80 on loopback: outside the allowance, which names one port.
    assert!(matches!(r, Refusal::Address { class: AddressClass::Loopback, .. }), "{r}");
    let r = assert_refused(session.fetch(&url(addr, "/to-ftp")).await, "to-ftp");
    assert_eq!(r, Refusal::Scheme("ftp".into()));
}

#[tokio::test]
async fn redirect_to_another_loopback_port_never_reaches_it() {
    let (other, other_hits) = counting_server().await;
    let (addr, _) = app(200, other.port()).await;
    let fetcher = fetcher_for(addr, limits());
    let result = fetcher.session().fetch(&url(addr, "/to-other-port")).await;
    assert_refused(result, "to-other-port");
    assert_eq!(other_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn redirect_loop_is_detected() {
    let (addr, _) = app(200, 1).await;
    let fetcher = fetcher_for(addr, limits());
    let result = fetcher.session().fetch(&url(addr, "/loop-a")).await;
    assert!(matches!(result, Err(FetchError::RedirectLoop { .. })), "{result:?}");
}

#[tokio::test]
async fn too_many_redirects() {
    let (addr, hits) = app(200, 1).await;
    let fetcher = fetcher_for(addr, limits());
    let result = fetcher.session().fetch(&url(addr, "/hop/0")).await;
    assert!(matches!(result, Err(FetchError::TooManyRedirects { max: 5 })), "{result:?}");
    // robots.txt, the first request and 5 followed redirects: never a 7th hop.
    assert_eq!(hits.all.load(Ordering::SeqCst), 1 + 1 + 5);
}

// ------------------------------------------------------ limits

#[tokio::test]
async fn slow_server_times_out() {
    let (addr, _) = app(200, 1).await;
    let mut l = limits();
    l.total_timeout = Duration::from_millis(300);
    let fetcher = fetcher_for(addr, l);
    let result = fetcher.session().fetch(&url(addr, "/slow")).await;
    assert!(matches!(result, Err(FetchError::Timeout)), "{result:?}");
}

#[tokio::test]
async fn huge_body_is_truncated_at_the_cap() {
    let (addr, _) = app(200, 1).await;
    let fetcher = fetcher_for(addr, limits());
    let page = fetcher.session().fetch(&url(addr, "/huge")).await.expect("page");
    assert!(page.truncated);
    assert_eq!(page.body.len(), 64 * 1024);
}

#[tokio::test]
async fn huge_body_fails_when_asked_to() {
    let (addr, _) = app(200, 1).await;
    let mut l = limits();
    l.oversize = Oversize::Fail;
    let fetcher = fetcher_for(addr, l);
    let result = fetcher.session().fetch(&url(addr, "/huge")).await;
    assert!(matches!(result, Err(FetchError::TooLarge { limit: 65536 })), "{result:?}");
}

#[tokio::test]
async fn non_html_is_refused() {
    let (addr, _) = app(200, 1).await;
    let fetcher = fetcher_for(addr, limits());
    let mut session = fetcher.session();
    let result = session.fetch(&url(addr, "/json")).await;
    assert!(matches!(&result, Err(FetchError::NotHtml { content_type }) if content_type == "application/json"), "{result:?}");
    let result = session.fetch(&url(addr, "/no-type")).await;
    assert!(matches!(&result, Err(FetchError::NotHtml { .. })), "{result:?}");
}

#[tokio::test]
async fn http_errors_are_typed() {
    let (addr, _) = app(200, 1).await;
    let fetcher = fetcher_for(addr, limits());
    let result = fetcher.session().fetch(&url(addr, "/missing")).await;
    assert!(matches!(result, Err(FetchError::Http { status: 404 })), "{result:?}");
}

#[tokio::test]
async fn page_budget_per_session() {
    let (addr, _) = app(200, 1).await;
    let mut l = limits();
    l.max_pages = 2;
    let fetcher = fetcher_for(addr, l);
    let mut session = fetcher.session();
    assert!(session.fetch(&url(addr, "/page")).await.is_ok());
    assert!(session.fetch(&url(addr, "/page")).await.is_ok());
    let result = session.fetch(&url(addr, "/page")).await;
    assert!(matches!(result, Err(FetchError::PageBudget { max: 2 })), "{result:?}");
    // A new session (a new enrichment) has its own budget.
    assert!(fetcher.session().fetch(&url(addr, "/page")).await.is_ok());
}

// ------------------------------------------------------ robots.txt

#[tokio::test]
async fn robots_disallow_is_honoured_and_fetched_once() {
    let (addr, hits) = app(200, 1).await;
    let fetcher = fetcher_for(addr, limits());
    let mut session = fetcher.session();
    let result = session.fetch(&url(addr, "/private/secret")).await;
    assert!(matches!(result, Err(FetchError::Robots { .. })), "{result:?}");
    assert_eq!(hits.secret.load(Ordering::SeqCst), 0, "a disallowed page is never requested");
    assert!(session.fetch(&url(addr, "/page")).await.is_ok());
    assert!(session.fetch(&url(addr, "/page")).await.is_ok());
    assert_eq!(hits.robots.load(Ordering::SeqCst), 1, "robots.txt once per origin per run");
}

#[tokio::test]
async fn robots_5xx_disallows_the_run() {
    let (addr, hits) = app(503, 1).await;
    let fetcher = fetcher_for(addr, limits());
    let mut session = fetcher.session();
    let result = session.fetch(&url(addr, "/page")).await;
    assert!(matches!(result, Err(FetchError::Robots { .. })), "{result:?}");
    let result = session.fetch(&url(addr, "/page")).await;
    assert!(matches!(result, Err(FetchError::Robots { .. })), "{result:?}");
    assert_eq!(hits.robots.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn robots_4xx_allows() {
    let (addr, _) = app(404, 1).await;
    let fetcher = fetcher_for(addr, limits());
    let mut session = fetcher.session();
    assert!(session.fetch(&url(addr, "/private/secret")).await.is_ok());
}

// ------------------------------------------------------ DNS pinning

/// Answers with a public address first, then loopback: a rebinding attack.
struct Rebinding {
    calls: AtomicUsize,
}

impl HostResolver for Rebinding {
    fn lookup<'a>(&'a self, _host: &'a str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let ip = if n == 0 { "1.1.1.1" } else { "127.0.0.1" };
            Ok(vec![ip.parse().map_err(io::Error::other)?])
        })
    }
}

/// Always answers with the given addresses.
struct Fixed(Vec<IpAddr>);

impl HostResolver for Fixed {
    fn lookup<'a>(&'a self, _host: &'a str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>> {
        let ips = self.0.clone();
        Box::pin(async move { Ok(ips) })
    }
}

#[tokio::test]
async fn dns_rebinding_cannot_reach_loopback() {
    let (target, target_hits) = counting_server().await;
    let resolver = Arc::new(Rebinding { calls: AtomicUsize::new(0) });
    // Even with the loopback allowance for the target's own port, a *name*
    // that resolves to loopback is refused: the allowance is for literals.
    let fetcher =
        Fetcher::with_resolver(Policy::website().allow_loopback_for_tests(target.port()), limits(), resolver.clone()).expect("fetcher");
    let u = Url::parse(&format!("http://rebind.example:{}/page", target.port())).expect("url");
    let mut session = fetcher.session();
    // First lookup (robots.txt) gets 1.1.1.1, which is unreachable here; the
    // page's lookup gets 127.0.0.1 and must be refused, not connected.
    let result = session.fetch(&u).await;
    let again = session.fetch(&u).await;
    assert!(resolver.calls.load(Ordering::SeqCst) >= 2, "the name was looked up again");
    // Without network the 1.1.1.1 connection fails, so both page lookups
    // hit the loopback answer and are refused by the guard.
    let refused = [&result, &again].iter().filter(|r| matches!(r, Err(FetchError::Refused { .. }))).count();
    assert!(refused >= 1, "{result:?} / {again:?}");
    for r in [result, again] {
        assert!(r.is_err(), "{r:?}");
        if let Err(FetchError::Refused { reason }) = r {
            assert!(
                matches!(&reason, Refusal::NoAllowedAddress { dropped, .. }
                    if dropped.iter().all(|(_, c)| *c == AddressClass::Loopback)),
                "{reason}"
            );
        }
    }
    assert_eq!(target_hits.load(Ordering::SeqCst), 0, "never connected to loopback");
}

#[tokio::test]
async fn mixed_answers_keep_only_public_addresses() {
    let (target, target_hits) = counting_server().await;
    let answers = vec!["127.0.0.1".parse().expect("ip"), "10.0.0.7".parse().expect("ip"), "1.1.1.1".parse().expect("ip")];
    let guarded = GuardedResolver::new(Arc::new(Fixed(answers.clone())), Policy::website());
    assert_eq!(guarded.resolve("mixed.example").await.expect("one public"), vec!["1.1.1.1".parse::<IpAddr>().expect("ip")]);
    let fetcher = Fetcher::with_resolver(Policy::website().allow_loopback_for_tests(target.port()), limits(), Arc::new(Fixed(answers)))
        .expect("fetcher");
    let u = Url::parse(&format!("http://mixed.example:{}/", target.port())).expect("url");
    let result = fetcher.session().fetch(&u).await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(target_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn name_resolving_to_loopback_is_refused() {
    let (target, target_hits) = counting_server().await;
    let fetcher = Fetcher::with_resolver(
        Policy::website().allow_loopback_for_tests(target.port()),
        limits(),
        Arc::new(Fixed(vec!["127.0.0.1".parse().expect("ip")])),
    )
    .expect("fetcher");
    let u = Url::parse(&format!("http://evil.example:{}/", target.port())).expect("url");
    let r = assert_refused(fetcher.session().fetch(&u).await, "evil.example");
    assert!(matches!(r, Refusal::NoAllowedAddress { .. }), "{r}");
    assert_eq!(target_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn dns_failure_is_typed() {
    struct Failing;
    impl HostResolver for Failing {
        fn lookup<'a>(&'a self, _host: &'a str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>> {
            Box::pin(async { Err(io::Error::other("no such host")) })
        }
    }
    let fetcher = Fetcher::with_resolver(Policy::website(), limits(), Arc::new(Failing)).expect("fetcher");
    let result = fetcher.session().fetch(&Url::parse("http://nowhere.example/").expect("url")).await;
    assert!(matches!(result, Err(FetchError::Dns { .. })), "{result:?}");
}

#[tokio::test]
async fn robots_timeout_allows() {
    let (addr, hits) = app(0, 1).await;
    let mut l = limits();
    l.total_timeout = Duration::from_millis(300);
    let fetcher = fetcher_for(addr, l);
    let page = fetcher.session().fetch(&url(addr, "/page")).await;
    assert!(page.is_ok(), "{page:?}");
    assert_eq!(hits.robots.load(Ordering::SeqCst), 1);
}
