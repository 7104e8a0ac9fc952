//! Sign-in latency and cost on the dev host: `scripts/bench-signin`.
//!
//! Signs up one user, then signs in sequentially through the dev host's HTTP port
//! (argon2id verification, throttle reads, session write, audit append) and prints
//! latency percentiles and the AWS requests one sign-in costs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use std::time::{Duration, Instant};
use tern_domain::cost::PriceTable;

const PASSWORD: &str = "correct horse battery staple 42";

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(50);
    // Not tern_tests::start_dev_host: that one captures debug logs, which would be measured too.
    let host = tern_devhost::DevHost::start(tern_devhost::DevHostOptions {
        aws_endpoint: tern_tests::aws_endpoint(),
        prefix: tern_tests::unique_prefix("bench"),
        bind: "127.0.0.1:0".parse().expect("loopback"),
        tick_every_seconds: None,
        poll_wait_seconds: 1,
        webhook_secret: tern_tests::WEBHOOK_SECRET.into(),
        website_fetch: Default::default(),
        mail_delivery: Default::default(),
        llm: Default::default(),
        manual_functions: Vec::new(),
        region: None,
    })
    .await
    .expect("dev host");
    let client = reqwest::Client::new();
    tern_tests::sign_up(
        &host,
        serde_json::json!({ "email": "bench@acme.example", "password": PASSWORD, "name": "Bench", "workspace_name": "Bench" }),
    )
    .await;
    let before = host.clients.meter().snapshot();
    let mut latencies = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        let response = client
            .post(format!("{}/v1/sessions", host.base_url()))
            .json(&serde_json::json!({ "email": "bench@acme.example", "password": PASSWORD }))
            .send()
            .await
            .expect("sign-in");
        assert_eq!(response.status(), 200);
        latencies.push(started.elapsed());
    }
    let spent = host.clients.meter().snapshot().since(&before);
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("sign-in on the dev host (moto on loopback), {rounds} sequential requests");
    println!("  p50 {:.1} ms   p90 {:.1} ms   p99 {:.1} ms   max {:.1} ms", ms(at(0.5)), ms(at(0.9)), ms(at(0.99)), ms(at(1.0)));
    println!("  AWS requests per sign-in: {:.1}", spent.total_requests() as f64 / rounds as f64);
    println!("  dollars per 1,000 sign-ins: ${:.5}", PriceTable::US_EAST_1.dollars(&spent) / rounds as f64 * 1000.0);
    print!("{spent}");
    host.stop().await;
}
