//! `enrich-url URL`: the worker's guard, fetch and extraction from the command line,
//! with no AWS. Prints the company profile as JSON (every fact with its source), or
//! a JSON refusal with the reason and exits 1.
//!
//! `--allow-loopback-port N` lets the guard reach 127.0.0.1:N, for trying a local
//! test site. It is never the default.

use tern_web::fetch::{Fetcher, Limits};
use tern_web::guard::Policy;

const USAGE: &str = "usage: enrich-url [--allow-loopback-port N] URL";

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let mut policy = Policy::website();
    let mut target = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--allow-loopback-port" => match args.next().and_then(|p| p.parse::<u16>().ok()) {
                Some(port) => policy = policy.allow_loopback_for_tests(port),
                None => return usage("--allow-loopback-port takes a port number"),
            },
            "-h" | "--help" => return usage(""),
            other if target.is_none() && !other.starts_with("--") => target = Some(other.to_string()),
            other => return usage(&format!("unexpected argument {other}")),
        }
    }
    let Some(target) = target else { return usage("a URL is required") };
    let refuse = |reason: String| {
        println!("{}", serde_json::json!({ "url": target, "refused": true, "reason": reason }));
        std::process::ExitCode::FAILURE
    };
    let url = match tern_enrich::crawl::website_url(&target) {
        Ok(url) => url,
        Err(e) => return refuse(e.to_string()),
    };
    let fetcher = match Fetcher::new(policy, Limits::default()) {
        Ok(f) => f,
        Err(e) => return refuse(e.to_string()),
    };
    match tern_enrich::crawl::crawl(&fetcher, &url).await {
        Ok(crawl) => {
            let out = serde_json::json!({ "url": url.as_str(), "pages_fetched": crawl.pages_fetched, "skipped": crawl.skipped, "profile": crawl.profile });
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => refuse(e.to_string()),
    }
}

fn usage(problem: &str) -> std::process::ExitCode {
    if !problem.is_empty() {
        eprintln!("enrich-url: {problem}");
    }
    eprintln!("{USAGE}");
    std::process::ExitCode::from(2)
}
