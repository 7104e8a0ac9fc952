//! Classifies e-mail files: one JSON object per file, or with `--labels` a
//! confusion matrix against a `path,label` CSV.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::json;
use tern_mail::eval::{Confusion, parse_labels};

const USAGE: &str = "usage: classify-mail [--evidence] [--dump] FILE|DIR...
       classify-mail --labels LABELS.csv [--mismatches]

Prints one JSON object per file: {\"file\", \"kind\", \"status\", \"reason\", \"return_date\"}.
--evidence adds the reasons for each verdict, --dump the parsed message.
Directories are walked (files ending in .eml, or every file with --all).
With --labels, classifies every file the CSV lists (paths relative to the
CSV) and prints a confusion matrix and accuracy summary instead.";

struct Options {
    labels: Option<PathBuf>,
    mismatches: bool,
    evidence: bool,
    all: bool,
    dump: bool,
    paths: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let mut opts = Options { labels: None, mismatches: false, evidence: false, all: false, dump: false, paths: Vec::new() };
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--labels") => match args.next() {
                Some(v) => opts.labels = Some(PathBuf::from(v)),
                None => return usage_error("--labels needs a file"),
            },
            Some("--mismatches") => opts.mismatches = true,
            Some("--evidence") => opts.evidence = true,
            Some("--all") => opts.all = true,
            Some("--dump") => opts.dump = true,
            Some("-h" | "--help") => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            Some(s) if s.starts_with("--") => return usage_error(&format!("unknown option {s}")),
            _ => opts.paths.push(PathBuf::from(arg)),
        }
    }
    match &opts.labels {
        Some(labels) => run_labels(labels, &opts),
        None if opts.paths.is_empty() => usage_error("no files given"),
        None => run_files(&opts),
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("classify-mail: {msg}\n{USAGE}");
    ExitCode::from(2)
}

fn run_files(opts: &Options) -> ExitCode {
    let mut files = Vec::new();
    for p in &opts.paths {
        if let Err(e) = collect(p, opts.all, &mut files) {
            eprintln!("classify-mail: {}: {e}", p.display());
            return ExitCode::FAILURE;
        }
    }
    let mut failed = false;
    for file in files {
        let line = match std::fs::read(&file) {
            Err(e) => {
                failed = true;
                json!({"file": file.display().to_string(), "error": e.to_string()})
            }
            Ok(raw) => match tern_mail::parse_and_classify(&raw) {
                Err(e) => json!({"file": file.display().to_string(), "error": e.to_string()}),
                Ok((mail, c)) => {
                    let mut v = json!({
                        "file": file.display().to_string(),
                        "kind": c.kind,
                        "status": c.status,
                        "reason": c.reason,
                        "return_date": c.return_date.map(|d| d.to_string()),
                    });
                    if opts.evidence {
                        v["evidence"] = json!(c.evidence);
                    }
                    if opts.dump {
                        v["parsed"] = json!(mail);
                    }
                    v
                }
            },
        };
        println!("{line}");
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn collect(path: &Path, all: bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
        entries.sort();
        for e in entries {
            if e.is_dir() {
                collect(&e, all, out)?;
            } else if all || e.extension().is_some_and(|x| x == "eml") {
                out.push(e);
            }
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

fn run_labels(labels_path: &Path, opts: &Options) -> ExitCode {
    let csv = match std::fs::read_to_string(labels_path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("classify-mail: {}: {e}", labels_path.display());
            return ExitCode::FAILURE;
        }
    };
    let labels = match parse_labels(&csv) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("classify-mail: {}: {e}", labels_path.display());
            return ExitCode::FAILURE;
        }
    };
    let base = labels_path.parent().unwrap_or(Path::new("."));
    let mut matrix = Confusion::default();
    for label in &labels {
        let file = base.join(&label.path);
        let verdict =
            std::fs::read(&file).map_err(|e| e.to_string()).and_then(|raw| tern_mail::parse_and_classify(&raw).map_err(|e| e.to_string()));
        match verdict {
            Ok((_, c)) => {
                matrix.add(label.kind, c.kind);
                if opts.mismatches && c.kind != label.kind {
                    println!(
                        "MISMATCH {} expected={} actual={} status={} reason={} evidence={:?}",
                        label.path,
                        label.kind,
                        c.kind,
                        c.status.as_deref().unwrap_or("-"),
                        c.reason.as_deref().unwrap_or("-"),
                        c.evidence
                    );
                }
            }
            Err(e) => {
                matrix.add_error();
                println!("ERROR {}: {e}", label.path);
            }
        }
    }
    print!("{}", matrix.render());
    ExitCode::SUCCESS
}
