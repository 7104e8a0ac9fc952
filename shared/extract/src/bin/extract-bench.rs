//! Single-core throughput of `extract_page` over the golden fixtures.
//!
//! `cargo run --release -p tern-extract --bin extract-bench -- [ROUNDS]`
//! (default 50 rounds). Prints pages/s and MB/s, overall and per fixture.

use std::path::Path;
use std::time::{Duration, Instant};

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut pages: Vec<(String, Vec<u8>)> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "html"))
            .filter_map(|e| Some((e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).ok()?)))
            .collect(),
        Err(e) => {
            eprintln!("cannot read {}: {e}", dir.display());
            std::process::exit(1);
        }
    };
    pages.sort();
    let url = "https://www.example-company.de/";
    // Warm-up: regexes are compiled lazily on first use.
    for (_, body) in &pages {
        let _ = tern_extract::extract_page(url, Some("text/html"), body);
    }
    let mut per_page = vec![Duration::ZERO; pages.len()];
    let start = Instant::now();
    for _ in 0..rounds {
        for (i, (_, body)) in pages.iter().enumerate() {
            let t = Instant::now();
            let r = tern_extract::extract_page(url, None, body);
            per_page[i] += t.elapsed();
            std::hint::black_box(r.ok());
        }
    }
    let total = start.elapsed().as_secs_f64();
    let n = (rounds * pages.len()) as f64;
    let bytes: usize = pages.iter().map(|(_, b)| b.len()).sum::<usize>() * rounds;
    println!("{} fixtures x {rounds} rounds, single thread", pages.len());
    println!("{:.0} pages/s, {:.1} MB/s ({:.2} ms/page mean)", n / total, bytes as f64 / total / 1e6, total * 1e3 / n);
    for ((name, body), d) in pages.iter().zip(per_page) {
        let secs = d.as_secs_f64() / rounds as f64;
        println!("  {name:32} {:>8} B  {:>8.3} ms  {:>6.1} MB/s", body.len(), secs * 1e3, body.len() as f64 / secs / 1e6);
    }
}
