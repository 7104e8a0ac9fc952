//! Cold-start bench for the Lambda functions.
//!
//! For each function it starts a local Lambda Runtime API (see `runtime_api`), spawns
//! the function's release binary the way Lambda would (a fresh process, Lambda's
//! environment variables), hands it one event, and measures:
//! - init: spawn until the first `GET /runtime/invocation/next` (config, SDK clients,
//!   runtime start-up);
//! - first response: spawn until the answer to that event is posted;
//! - peak RSS: the process's `VmHWM` once it has answered (the kernel keeps the
//!   high-water mark, so one read after the work is exact, no sampling needed);
//! - zip size: the binary renamed `bootstrap`, zipped the way it is deployed.
//!
//! It prints a markdown table and checks the budgets. It is a measuring tool, not a
//! test: numbers depend on the machine and its load.
//!
//!   tern-bench [--runs N] [--bin-dir DIR] [--work-dir DIR] [--timeout-ms MS]
//!              [--max-zip-mb MB] [--max-first-response-ms MS] [--max-rss-mb MB]
//!              [FUNCTION...]
//!
//! FUNCTION is one of api, inbound, classify, enrich, dispatch, send, feedback,
//! housekeeping, bare (the `bare-lambda` floor); the default is all of them.
//! Exit status: 0 all within budget, 1 over budget, 2 a run failed or bad usage.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a measuring tool: a failed step ends the run, with its place

mod events;
mod runtime_api;
mod stats;

use events::{FUNCTIONS, Trigger};
use runtime_api::{Outcome, RuntimeApi};
use stats::Summary;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const MIB: f64 = 1024.0 * 1024.0;

struct Args {
    runs: usize,
    bin_dir: PathBuf,
    work_dir: PathBuf,
    timeout: Duration,
    max_zip_mb: f64,
    max_first_response_ms: f64,
    max_rss_mb: f64,
    functions: Vec<String>,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut args = Args {
            runs: 20,
            bin_dir: PathBuf::from("target/release"),
            work_dir: PathBuf::from("target/bench-coldstart"),
            timeout: Duration::from_secs(10),
            max_zip_mb: 10.0,
            max_first_response_ms: 20.0,
            max_rss_mb: 64.0,
            functions: Vec::new(),
        };
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--runs" => args.runs = number(&arg, &value()?)?,
                "--bin-dir" => args.bin_dir = PathBuf::from(value()?),
                "--work-dir" => args.work_dir = PathBuf::from(value()?),
                "--timeout-ms" => args.timeout = Duration::from_millis(number(&arg, &value()?)?),
                "--max-zip-mb" => args.max_zip_mb = number(&arg, &value()?)?,
                "--max-first-response-ms" => args.max_first_response_ms = number(&arg, &value()?)?,
                "--max-rss-mb" => args.max_rss_mb = number(&arg, &value()?)?,
                "-h" | "--help" => return Err(String::new()),
                f if FUNCTIONS.contains(&f) => args.functions.push(f.to_string()),
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        if args.runs == 0 {
            return Err("--runs must be at least 1".to_string());
        }
        if args.functions.is_empty() {
            args.functions = FUNCTIONS.iter().map(|f| f.to_string()).collect();
        }
        // Absolute, because each function is started in its own directory (as Lambda
        // starts `bootstrap` in LAMBDA_TASK_ROOT).
        args.bin_dir = std::fs::canonicalize(&args.bin_dir).map_err(|e| format!("--bin-dir {}: {e}", args.bin_dir.display()))?;
        Ok(args)
    }
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("{flag}: `{value}` is not a valid number"))
}

/// One cold start.
struct Sample {
    init: Duration,
    first_response: Duration,
    peak_rss_bytes: u64,
    result: String,
    aws_calls: usize,
}

/// One function's line of the table.
struct Row {
    function: String,
    init_ms: Summary,
    first_response_ms: Summary,
    peak_rss_mb: f64,
    binary_mb: f64,
    zip_mb: f64,
    result: String,
}

// A current-thread runtime: the bench's own work (one tiny HTTP server) should take
// as little CPU as possible from the function it is timing on a 2-core machine.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("tern-bench: {message}");
            }
            eprintln!("{}", usage());
            return ExitCode::from(2);
        }
    };
    let dirs = [args.work_dir.join("logs"), args.work_dir.join("home")];
    if let Err(e) = dirs.iter().try_for_each(std::fs::create_dir_all) {
        eprintln!("tern-bench: cannot create {}: {e}", args.work_dir.display());
        return ExitCode::from(2);
    }

    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for function in &args.functions {
        eprintln!("tern-bench: {function}: {} runs", args.runs);
        match bench_function(&args, function).await {
            Ok(row) => rows.push(row),
            Err(e) => failures.push(format!("{function}: {e}")),
        }
    }

    println!("{}", table(&rows, args.runs));
    let over = over_budget(&args, &rows);
    println!(
        "Budgets: zip ≤ {} MB, first response p90 ≤ {} ms, peak RSS ≤ {} MB.",
        args.max_zip_mb, args.max_first_response_ms, args.max_rss_mb
    );
    for line in &over {
        println!("- OVER BUDGET: {line}");
    }
    for line in &failures {
        println!("- FAILED: {line}");
    }
    if !failures.is_empty() {
        ExitCode::from(2)
    } else if !over.is_empty() {
        ExitCode::from(1)
    } else {
        println!("All functions are within budget.");
        ExitCode::SUCCESS
    }
}

fn usage() -> String {
    format!(
        "usage: tern-bench [--runs N] [--bin-dir DIR] [--work-dir DIR] [--timeout-ms MS] \
         [--max-zip-mb MB] [--max-first-response-ms MS] [--max-rss-mb MB] [FUNCTION...]\n\
         functions: {}",
        FUNCTIONS.join(" ")
    )
}

async fn bench_function(args: &Args, function: &str) -> Result<Row, String> {
    let trigger = events::trigger(function).ok_or("no event for this function")?;
    let binary = args.bin_dir.join(events::binary_name(function));
    let binary_bytes =
        std::fs::metadata(&binary).map_err(|e| format!("{}: {e} (build it with cargo build --release first)", binary.display()))?.len();
    let zip_bytes = zip_size(&binary, &args.work_dir.join("zip").join(function))?;
    let log = args.work_dir.join("logs").join(format!("{function}.log"));

    let mut samples = Vec::with_capacity(args.runs);
    for run in 1..=args.runs {
        let sample = cold_start(&binary, &args.work_dir.join("home"), function, trigger, &log, args.timeout)
            .await
            .map_err(|e| format!("run {run}: {e} (its output is in {})", log.display()))?;
        samples.push(sample);
    }

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let aws_calls = samples.iter().map(|s| s.aws_calls).max().unwrap_or(0);
    let mut result = samples[0].result.clone();
    if aws_calls > 0 {
        result.push_str(&format!(", {aws_calls} AWS calls refused"));
    }
    Ok(Row {
        function: function.to_string(),
        init_ms: Summary::of(samples.iter().map(|s| ms(s.init)).collect()),
        first_response_ms: Summary::of(samples.iter().map(|s| ms(s.first_response)).collect()),
        // The budget is about the worst case, so the table shows the largest peak.
        peak_rss_mb: samples.iter().map(|s| s.peak_rss_bytes).max().unwrap_or(0) as f64 / MIB,
        binary_mb: binary_bytes as f64 / MIB,
        zip_mb: zip_bytes as f64 / MIB,
        result,
    })
}

/// Lambda's environment for a function, with dummy credentials and every AWS
/// endpoint pointed at the bench, so nothing leaves the machine.
fn lambda_env(function: &str, runtime_api: &str, task_root: &Path, home: &Path) -> Vec<(&'static str, String)> {
    let name = events::binary_name(function);
    let endpoint = format!("http://{runtime_api}");
    let queue = |q: &str| format!("{endpoint}/123456789012/tern-{q}");
    vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]bench".to_string()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string()),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".to_string()),
        ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
        ("_HANDLER", "bootstrap".to_string()),
        ("TZ", ":UTC".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "AKIDBENCHBENCHBENCH0".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "bench-secret-not-a-real-key".to_string()),
        ("AWS_SESSION_TOKEN", "bench-session-token".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        // Lambda has no ~/.aws: an empty HOME keeps this machine's profile files out of
        // the numbers (pointing AWS_CONFIG_FILE at nothing would log a warning instead).
        ("HOME", home.display().to_string()),
        ("AWS_ENDPOINT_URL", endpoint.clone()),
        ("TERN_TABLE", "tern-bench".to_string()),
        ("TERN_BUCKET", "tern-bench".to_string()),
        ("TERN_PLATFORM_KEY", "alias/tern/platform".to_string()),
        ("TERN_CLASSIFY_QUEUE_URL", queue("classify")),
        ("TERN_ENRICH_QUEUE_URL", queue("enrich")),
        ("TERN_SEND_QUEUE_URL", queue("send")),
        ("TERN_FEEDBACK_QUEUE_URL", queue("feedback")),
        ("TERN_INBOUND_WEBHOOK_SECRET", "bench-webhook-secret".to_string()),
        // api signs sessions with it and refuses to start without 32 bytes or more.
        ("TERN_SESSION_KEY", "bench-session-signing-key-0123456789abcdef".to_string()),
        ("TERN_LOG", "info".to_string()),
    ]
}

async fn cold_start(binary: &Path, home: &Path, function: &str, trigger: Trigger, log: &Path, timeout: Duration) -> Result<Sample, String> {
    let api = RuntimeApi::start(function, events::event(trigger)).await.map_err(|e| format!("cannot start the runtime API: {e}"))?;
    let log_file = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
    let task_root = binary.parent().unwrap_or(Path::new("."));

    let mut command = Command::new(binary);
    command
        .env_clear()
        .envs(lambda_env(function, &api.host_port(), task_root, home))
        .current_dir(task_root)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err);
    let spawned = Instant::now();
    let mut child = command.spawn().map_err(|e| format!("cannot start {}: {e}", binary.display()))?;

    // Wait for the answer, watching for the process dying first (bad config, panic).
    // The check interval only bounds how late a crash is noticed; timings come from
    // the server's own timestamps.
    let waited = loop {
        tokio::select! {
            () = api.finished() => break Ok(()),
            () = tokio::time::sleep(Duration::from_millis(20)) => {
                if let Ok(Some(status)) = child.try_wait() {
                    break Err(format!("the process exited ({status}) before answering"));
                }
                if spawned.elapsed() > timeout {
                    break Err(format!("no answer within {timeout:?}"));
                }
            }
        }
    };
    // Read the high-water mark while the process still exists (it is parked on its
    // next poll), then end it.
    let peak_rss_bytes = peak_rss(child.id());
    let _ = child.kill();
    let _ = child.wait();
    waited?;

    let init = api.first_next().ok_or("answered without polling for an event")? - spawned;
    let (answered, result) = match api.outcome() {
        Some(Outcome::Response { at, body }) => (at, events::check_response(trigger, &body)?),
        // A handler whose first step is an AWS call (dispatch reads the due index)
        // answers with the bench's refusal: that answer still ends the cold start.
        Some(Outcome::InvocationError { at, body }) if String::from_utf8_lossy(&body).contains("NoAws") => {
            (at, "error: no AWS here".to_string())
        }
        Some(Outcome::InvocationError { body, .. }) => {
            return Err(format!("the handler failed: {}", String::from_utf8_lossy(&body)));
        }
        Some(Outcome::InitError { body, .. }) => {
            return Err(format!("init failed: {}", String::from_utf8_lossy(&body)));
        }
        None => return Err("finished without an outcome".to_string()),
    };
    Ok(Sample { init, first_response: answered - spawned, peak_rss_bytes: peak_rss_bytes?, result, aws_calls: api.aws_calls() })
}

/// `VmHWM` (peak resident set size) of a live process, in bytes.
fn peak_rss(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| format!("no VmHWM in /proc/{pid}/status"))
}

/// Size of the deployment zip: the binary as `bootstrap` (executable), deflated at
/// zip's default level like cargo-lambda's zips, so the number is what Lambda gets.
fn zip_size(binary: &Path, dir: &Path) -> Result<u64, String> {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let bootstrap = dir.join("bootstrap");
    std::fs::copy(binary, &bootstrap).map_err(|e| format!("copying {}: {e}", binary.display()))?;
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    let status = Command::new("zip")
        .args(["-q", "-X", "bootstrap.zip", "bootstrap"])
        .current_dir(dir)
        .status()
        .map_err(|e| format!("cannot run `zip` ({e}); install it (apt-get install zip)"))?;
    if !status.success() {
        return Err(format!("zip failed: {status}"));
    }
    Ok(std::fs::metadata(dir.join("bootstrap.zip")).map_err(|e| e.to_string())?.len())
}

fn table(rows: &[Row], runs: usize) -> String {
    let mut out = format!(
        "| function | init ms (median / p90) | first response ms (median / p90) | peak RSS MB (max of {runs}) \
         | binary MB | zip MB | answer |\n|---|---:|---:|---:|---:|---:|---|\n"
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} | {:.2} | {:.2} | {} |\n",
            r.function,
            r.init_ms.median,
            r.init_ms.p90,
            r.first_response_ms.median,
            r.first_response_ms.p90,
            r.peak_rss_mb,
            r.binary_mb,
            r.zip_mb,
            r.result
        ));
    }
    out
}

fn over_budget(args: &Args, rows: &[Row]) -> Vec<String> {
    let mut over = Vec::new();
    for r in rows {
        if r.zip_mb > args.max_zip_mb {
            over.push(format!("{}: zip {:.2} MB > {} MB", r.function, r.zip_mb, args.max_zip_mb));
        }
        if r.first_response_ms.p90 > args.max_first_response_ms {
            over.push(format!("{}: first response p90 {:.1} ms > {} ms", r.function, r.first_response_ms.p90, args.max_first_response_ms));
        }
        if r.peak_rss_mb > args.max_rss_mb {
            over.push(format!("{}: peak RSS {:.1} MB > {} MB", r.function, r.peak_rss_mb, args.max_rss_mb));
        }
    }
    over
}
