//! Single-core parse+classify throughput over a set of files, for
//! `scripts/bench-classify`. Prints one JSON object.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
        entries.sort();
        for e in entries {
            collect(&e, out)?;
        }
    } else if path.extension().is_some_and(|x| x == "eml") {
        out.push(path.to_path_buf());
    }
    Ok(())
}

fn main() {
    let mut seconds = 5.0_f64;
    let mut per_file = false;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--per-file" {
            per_file = true;
        } else if a == "--seconds" {
            seconds = args.next().and_then(|s| s.parse().ok()).unwrap_or(seconds);
        } else {
            paths.push(PathBuf::from(a));
        }
    }
    let mut files = Vec::new();
    for p in &paths {
        if let Err(e) = collect(p, &mut files) {
            eprintln!("tern-mail-bench: {}: {e}", p.display());
            std::process::exit(1);
        }
    }
    let inputs: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    if inputs.is_empty() {
        eprintln!("usage: tern-mail-bench [--seconds N] DIR|FILE...");
        std::process::exit(2);
    }
    // One pass to warm caches and count what parses.
    let parsed = inputs.iter().filter(|raw| tern_mail::parse_and_classify(raw).is_ok()).count();
    if per_file {
        // Where the time goes: the slowest inputs, 50 runs each.
        let mut times: Vec<(f64, &PathBuf)> = inputs
            .iter()
            .zip(&files)
            .map(|(raw, f)| {
                let t = Instant::now();
                for _ in 0..50 {
                    let _ = tern_mail::parse_and_classify(raw);
                }
                (t.elapsed().as_secs_f64() / 50.0 * 1e6, f)
            })
            .collect();
        times.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (us, f) in times.iter().take(15) {
            println!("{us:10.1} us  {}", f.display());
        }
        let total: f64 = times.iter().map(|t| t.0).sum();
        println!("total {total:.0} us over {} files", times.len());
        return;
    }
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut done = 0_u64;
    let mut checksum = 0_usize;
    while start.elapsed() < budget {
        for raw in &inputs {
            if let Ok((_, c)) = tern_mail::parse_and_classify(raw) {
                checksum = checksum.wrapping_add(c.kind as usize);
            }
            done += 1;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "{{\"impl\":\"tern-mail\",\"files\":{},\"parsed\":{},\"messages\":{},\"seconds\":{:.3},\"msgs_per_sec\":{:.1},\"checksum\":{}}}",
        inputs.len(),
        parsed,
        done,
        elapsed,
        done as f64 / elapsed,
        checksum
    );
}
