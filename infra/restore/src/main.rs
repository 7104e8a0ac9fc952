//! `tern-restore`: the table's point-in-time restore, as a runbook that checks its
//! own result. Run it through `scripts/restore` (see `--help`).
//!
//! 1. Reads the source table's point-in-time recovery window and refuses a time
//!    outside it.
//! 2. Restores the source to that time under a new table name (never in place:
//!    DynamoDB cannot, and the live table stays untouched for comparison).
//! 3. Waits until the new table is ACTIVE.
//! 4. Checks it: items counted by a `Select=COUNT` scan, a sample of workspaces
//!    whose workspace item must be present, its encryption, point-in-time
//!    recovery and TTL settings.
//! 5. Prints what is left to do by hand.
//!
//! `--dry-run` prints the equivalent AWS CLI commands and calls nothing.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::DateTime;
use aws_sdk_dynamodb::types::{AttributeValue, Select, SseSpecification, SseType, TableStatus};
use std::collections::{BTreeSet, HashMap};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const USAGE: &str = "\
usage: scripts/restore --table NAME --to TIME [options]

Restores DynamoDB table NAME to TIME under a new name, waits until it is ACTIVE,
and checks it. The source table is never changed.

  --table NAME          the table to restore from (the stack's table)
  --to TIME             RFC 3339 UTC time, e.g. 2026-11-23T10:00:00Z, or `latest`
                        (the latest restorable time, about 5 minutes ago)
  --target NAME         the new table's name (default: NAME-restored-<time>)
  --region R            AWS region (default: the SDK's: AWS_REGION, profile)
  --endpoint-url URL    another endpoint, e.g. a local moto (http://127.0.0.1:5077)
  --kms-key KEY         encrypt the new table with this KMS key (id, ARN or alias);
                        pass the stack's platform key to keep the same encryption
  --samples N           workspaces to check in the new table (default 5)
  --timeout-minutes M   how long to wait for ACTIVE (default 360)
  --dry-run             print the equivalent AWS CLI commands and exit
  -h, --help            this text

Credentials come from the usual AWS chain (environment, profile, SSO).";

#[derive(Debug, Clone, PartialEq)]
enum PointInTime {
    Latest,
    At(OffsetDateTime),
}

#[derive(Debug, Clone)]
struct Options {
    table: String,
    to: PointInTime,
    target: String,
    region: Option<String>,
    endpoint_url: Option<String>,
    kms_key: Option<String>,
    samples: usize,
    timeout: Duration,
    dry_run: bool,
}

fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut table = None;
    let mut to = None;
    let mut target = None;
    let mut region = None;
    let mut endpoint_url = None;
    let mut kms_key = None;
    let mut samples = 5usize;
    let mut timeout_minutes = 360u64;
    let mut dry_run = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next().cloned()).ok_or_else(|| format!("{name} needs a value"));
        match name {
            "-h" | "--help" => return Ok(None),
            "--table" => table = Some(value()?),
            "--to" => to = Some(value()?),
            "--target" => target = Some(value()?),
            "--region" => region = Some(value()?),
            "--endpoint-url" => endpoint_url = Some(value()?),
            "--kms-key" => kms_key = Some(value()?),
            "--samples" => samples = value()?.parse().map_err(|_| "--samples needs a number".to_string())?,
            "--timeout-minutes" => timeout_minutes = value()?.parse().map_err(|_| "--timeout-minutes needs a number".to_string())?,
            "--dry-run" => dry_run = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let table = table.ok_or("--table is required")?;
    let to = match to.ok_or("--to is required (an RFC 3339 time such as 2026-11-23T10:00:00Z, or `latest`)")?.as_str() {
        "latest" => PointInTime::Latest,
        text => PointInTime::At(
            OffsetDateTime::parse(text, &Rfc3339)
                .map_err(|e| format!("--to {text}: not an RFC 3339 time ({e}); e.g. 2026-11-23T10:00:00Z"))?,
        ),
    };
    let target = match target {
        Some(target) => target,
        None => {
            let stamp = match &to {
                PointInTime::At(at) => compact(*at),
                PointInTime::Latest => format!("latest-{}", compact(OffsetDateTime::now_utc())),
            };
            format!("{table}-restored-{stamp}")
        }
    };
    if target == table {
        return Err("--target must differ from --table: a restore always creates a new table".into());
    }
    if !(3..=255).contains(&target.len()) || !target.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
        return Err(format!("--target {target}: table names are 3-255 characters of a-z, A-Z, 0-9, _ - ."));
    }
    Ok(Some(Options {
        table,
        to,
        target,
        region,
        endpoint_url,
        kms_key,
        samples,
        timeout: Duration::from_secs(timeout_minutes * 60),
        dry_run,
    }))
}

/// `20261123T100000Z`: a time that fits in a table name.
fn compact(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{:04}{:02}{:02}T{:02}{:02}{:02}Z", at.year(), u8::from(at.month()), at.day(), at.hour(), at.minute(), at.second())
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

fn cli_commands(o: &Options) -> Vec<String> {
    let mut global = String::new();
    if let Some(region) = &o.region {
        global.push_str(&format!(" --region {region}"));
    }
    if let Some(endpoint) = &o.endpoint_url {
        global.push_str(&format!(" --endpoint-url {endpoint}"));
    }
    let when = match &o.to {
        PointInTime::Latest => "--use-latest-restorable-time".to_string(),
        PointInTime::At(at) => format!("--restore-date-time {}", rfc3339(*at)),
    };
    let sse = o
        .kms_key
        .as_ref()
        .map(|key| format!(" --sse-specification-override Enabled=true,SSEType=KMS,KMSMasterKeyId={key}"))
        .unwrap_or_default();
    vec![
        format!("aws dynamodb describe-continuous-backups{global} --table-name {}", o.table),
        format!(
            "aws dynamodb restore-table-to-point-in-time{global} --source-table-name {} --target-table-name {} {when}{sse}",
            o.table, o.target
        ),
        format!("aws dynamodb wait table-exists{global} --table-name {}", o.target),
        format!("aws dynamodb scan{global} --table-name {} --select COUNT", o.target),
        format!(
            "aws dynamodb get-item{global} --table-name {} --key '{{\"pk\":{{\"S\":\"{}\"}},\"sk\":{{\"S\":\"WORKSPACE\"}}}}'",
            o.target,
            keys::entity_partition("<ws>", "WORKSPACE", "<ws>")
        ),
        format!(
            "aws dynamodb describe-table{global} --table-name {} --query 'Table.[TableStatus,SSEDescription,RestoreSummary]'",
            o.target
        ),
        format!("aws dynamodb describe-continuous-backups{global} --table-name {}", o.target),
        format!("aws dynamodb describe-time-to-live{global} --table-name {}", o.target),
    ]
}

fn dynamo_time(at: OffsetDateTime) -> DateTime {
    DateTime::from_nanos(at.unix_timestamp_nanos()).unwrap_or_else(|_| DateTime::from_secs(at.unix_timestamp()))
}

fn offset_time(at: &DateTime) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(at.secs()).ok()
}

fn fail(message: impl std::fmt::Display) -> String {
    message.to_string()
}

fn sdk_error<E>(what: &str, error: aws_sdk_dynamodb::error::SdkError<E>) -> String
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
{
    let detail = match error.as_service_error() {
        Some(service) => format!("{}: {}", service.code().unwrap_or("error"), service.message().unwrap_or_default()),
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
    };
    format!("{what} failed: {detail}")
}

async fn client(o: &Options) -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = &o.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(endpoint) = &o.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    Client::new(&loader.load().await)
}

/// What the checks found; `problems` empty means the restore is usable.
#[derive(Debug, Default)]
struct Report {
    items: u64,
    workspaces_checked: Vec<String>,
    problems: Vec<String>,
}

async fn run(o: &Options) -> Result<Report, String> {
    let db = client(o).await;

    println!("== 1/5 point-in-time recovery window of {}", o.table);
    let backups =
        db.describe_continuous_backups().table_name(&o.table).send().await.map_err(|e| sdk_error("DescribeContinuousBackups", e))?;
    let pitr = backups.continuous_backups_description().and_then(|d| d.point_in_time_recovery_description());
    let status = pitr.and_then(|p| p.point_in_time_recovery_status()).map(|s| s.as_str().to_string()).unwrap_or_else(|| "unknown".into());
    if status != "ENABLED" {
        return Err(format!(
            "point-in-time recovery is {status} on {}: nothing to restore from (template.yaml enables it on the stack's table)",
            o.table
        ));
    }
    let earliest = pitr.and_then(|p| p.earliest_restorable_date_time()).and_then(offset_time);
    let latest = pitr.and_then(|p| p.latest_restorable_date_time()).and_then(offset_time);
    println!(
        "   enabled; restorable from {} to {}",
        earliest.map(rfc3339).unwrap_or("?".into()),
        latest.map(rfc3339).unwrap_or("?".into())
    );
    if let PointInTime::At(at) = o.to {
        if let Some(earliest) = earliest
            && at < earliest
        {
            return Err(format!("{} is before the earliest restorable time {}", rfc3339(at), rfc3339(earliest)));
        }
        if let Some(latest) = latest
            && at > latest
        {
            return Err(format!(
                "{} is after the latest restorable time {} (use --to latest for the newest state)",
                rfc3339(at),
                rfc3339(latest)
            ));
        }
    }

    println!(
        "== 2/5 restoring {} to {} as {}",
        o.table,
        match o.to {
            PointInTime::Latest => "the latest restorable time".to_string(),
            PointInTime::At(at) => rfc3339(at),
        },
        o.target
    );
    let mut restore = db.restore_table_to_point_in_time().source_table_name(&o.table).target_table_name(&o.target);
    restore = match o.to {
        PointInTime::Latest => restore.use_latest_restorable_time(true),
        PointInTime::At(at) => restore.restore_date_time(dynamo_time(at)),
    };
    if let Some(key) = &o.kms_key {
        let sse = SseSpecification::builder().enabled(true).sse_type(SseType::Kms).kms_master_key_id(key).build();
        restore = restore.sse_specification_override(sse);
    }
    restore.send().await.map_err(|e| sdk_error("RestoreTableToPointInTime", e))?;

    println!("== 3/5 waiting for {} to become ACTIVE (large tables take hours)", o.target);
    let started = Instant::now();
    loop {
        let described = db.describe_table().table_name(&o.target).send().await.map_err(|e| sdk_error("DescribeTable", e))?;
        let status = described.table().and_then(|t| t.table_status()).cloned();
        if status == Some(TableStatus::Active) {
            println!("   ACTIVE after {}s", started.elapsed().as_secs());
            break;
        }
        if started.elapsed() > o.timeout {
            return Err(format!(
                "{} is still {:?} after {} minutes; it keeps restoring, run the checks later with the AWS CLI (--dry-run lists them)",
                o.target,
                status,
                o.timeout.as_secs() / 60
            ));
        }
        println!(
            "   {} … ({}s)",
            status.map(|s| s.as_str().to_string()).unwrap_or_else(|| "not yet described".into()),
            started.elapsed().as_secs()
        );
        tokio::time::sleep(Duration::from_secs(15)).await;
    }

    println!("== 4/5 checking {}", o.target);
    let mut report = Report { items: count(&db, &o.target).await?, ..Report::default() };
    println!("   items (scan, Select=COUNT): {}", report.items);
    if report.items == 0 {
        report.problems.push(format!("{} is empty", o.target));
    }
    let workspaces = sample_workspaces(&db, &o.target, o.samples).await?;
    for ws in &workspaces {
        let key = HashMap::from([
            ("pk".to_string(), AttributeValue::S(keys::entity_partition(ws, "WORKSPACE", ws))),
            ("sk".to_string(), AttributeValue::S("WORKSPACE".into())),
        ]);
        let found = db
            .get_item()
            .table_name(&o.target)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        let collection = db
            .query()
            .table_name(&o.target)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::workspace_partition(ws)))
            .select(Select::Count)
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let present = found.item().is_some();
        println!(
            "   workspace {ws}: workspace item {}, {} items in its collection partition",
            if present { "present" } else { "MISSING" },
            collection.count()
        );
        if !present {
            report.problems.push(format!("workspace {ws} has items but no workspace item in {}", o.target));
        }
        report.workspaces_checked.push(ws.clone());
    }
    if workspaces.is_empty() {
        report.problems.push(format!("no workspace partition (pk {}…) found in {}", keys::workspace_partition(""), o.target));
    }

    let described = db.describe_table().table_name(&o.target).send().await.map_err(|e| sdk_error("DescribeTable", e))?;
    let table = described.table();
    let sse = table.and_then(|t| t.sse_description());
    let sse_text = match sse {
        Some(sse) => format!(
            "{} {} {}",
            sse.status().map(|s| s.as_str()).unwrap_or("?"),
            sse.sse_type().map(|s| s.as_str()).unwrap_or("?"),
            sse.kms_master_key_arn().unwrap_or("")
        ),
        None => "AWS owned key (no SSEDescription)".to_string(),
    };
    println!("   encryption: {}", sse_text.trim());
    if let Some(summary) = table.and_then(|t| t.restore_summary()) {
        println!(
            "   restored from {} at {}",
            summary.source_table_arn().unwrap_or("?"),
            offset_time(summary.restore_date_time()).map(rfc3339).unwrap_or("?".into())
        );
    }
    let target_pitr = db
        .describe_continuous_backups()
        .table_name(&o.target)
        .send()
        .await
        .map_err(|e| sdk_error("DescribeContinuousBackups", e))?
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("   point-in-time recovery on the new table: {target_pitr} (restores never carry it over)");
    let ttl = db
        .describe_time_to_live()
        .table_name(&o.target)
        .send()
        .await
        .map_err(|e| sdk_error("DescribeTimeToLive", e))?
        .time_to_live_description()
        .and_then(|d| d.time_to_live_status())
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("   TTL on the new table: {ttl} (restores never carry it over)");
    Ok(report)
}

async fn count(db: &Client, table: &str) -> Result<u64, String> {
    let mut total = 0u64;
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let page = db
            .scan()
            .table_name(table)
            .select(Select::Count)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| sdk_error("Scan", e))?;
        total += page.count().max(0) as u64;
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return Ok(total),
        }
    }
}

/// Up to `wanted` workspace ids from the keys of the first pages of a scan.
async fn sample_workspaces(db: &Client, table: &str, wanted: usize) -> Result<Vec<String>, String> {
    let mut found = BTreeSet::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    for _ in 0..20 {
        let page = db
            .scan()
            .table_name(table)
            .projection_expression("pk")
            .limit(500)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| sdk_error("Scan", e))?;
        for item in page.items() {
            if let Some(AttributeValue::S(pk)) = item.get("pk")
                && let Some(ws) = workspace_of(pk)
            {
                found.insert(ws.to_string());
            }
            if found.len() >= wanted {
                return Ok(found.into_iter().collect());
            }
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => break,
        }
    }
    Ok(found.into_iter().collect())
}

use tern_aws::keys::{self, workspace_of};

fn next_steps(o: &Options) -> String {
    let endpoint = o.endpoint_url.as_ref().map(|e| format!(" --endpoint-url {e}")).unwrap_or_default();
    let region = o.region.as_ref().map(|r| format!(" --region {r}")).unwrap_or_default();
    format!(
        "== 5/5 next steps (by hand; nothing below has been done)
   a. Compare: spot-check what was lost or damaged against the live table {table}.
   b. Repair in place (usual case): copy the needed items from {target} back into {table}
      (scan/get from {target}, put into {table}); the live table keeps its name, alarms, TTL and policies.
   c. Or switch over (the live table is unusable): set the restored table's settings, which a
      restore never carries over, then deploy the stack pointing at it:
        aws dynamodb update-continuous-backups{region}{endpoint} --table-name {target} --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true
        aws dynamodb update-time-to-live{region}{endpoint} --table-name {target} --time-to-live-specification Enabled=true,AttributeName=expires_at
      then make it the stack's Table: remove Table from the stack (its DeletionPolicy is Retain,
      so the old table stays), import {target} as Table (CloudFormation resource import, same
      template), and deploy: every function's TERN_TABLE then names {target}.
   d. Erased people: a restore brings back what was erased after {to}; re-apply every erasure
      recorded since then (audit log: erasure entries) before the data is used.
   e. Delete {target} when done: it is billed like any table.",
        table = o.table,
        target = o.target,
        to = match o.to { PointInTime::Latest => "the restore point".to_string(), PointInTime::At(at) => rfc3339(at) },
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("restore: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if options.dry_run {
        println!("# dry run: the restore and its checks, as AWS CLI commands (nothing is called)");
        for command in cli_commands(&options) {
            println!("{command}");
        }
        return ExitCode::SUCCESS;
    }
    match run(&options).await {
        Ok(report) if report.problems.is_empty() => {
            println!("   OK: {} items, workspaces checked: {}", report.items, report.workspaces_checked.len());
            println!("{}", next_steps(&options));
            ExitCode::SUCCESS
        }
        Ok(report) => {
            for problem in &report.problems {
                eprintln!("restore: check failed: {problem}");
            }
            println!("{}", next_steps(&options));
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("restore: {}", fail(e));
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_a_time_and_names_the_target_after_it() {
        let o = parse(&args(&["--table", "tern", "--to", "2026-11-23T10:00:00Z"])).unwrap().unwrap();
        assert_eq!(o.target, "tern-restored-20261123T100000Z");
        assert!(matches!(o.to, PointInTime::At(_)));
        let o = parse(&args(&["--table=tern", "--to=latest", "--target=tern2", "--endpoint-url", "http://x"])).unwrap().unwrap();
        assert_eq!((o.to, o.target.as_str(), o.endpoint_url.as_deref()), (PointInTime::Latest, "tern2", Some("http://x")));
    }

    #[test]
    fn refuses_bad_arguments_with_a_reason() {
        assert!(parse(&args(&["--to", "latest"])).unwrap_err().contains("--table"));
        assert!(parse(&args(&["--table", "t1"])).unwrap_err().contains("--to"));
        assert!(parse(&args(&["--table", "t1", "--to", "yesterday"])).unwrap_err().contains("RFC 3339"));
        assert!(parse(&args(&["--table", "t1", "--to", "latest", "--target", "t1"])).unwrap_err().contains("differ"));
        assert!(parse(&args(&["--table", "t1", "--to", "latest", "--bogus"])).unwrap_err().contains("--bogus"));
        assert!(parse(&args(&["--help"])).unwrap().is_none());
    }

    #[test]
    fn dry_run_lists_the_cli_commands() {
        let o = parse(&args(&[
            "--table",
            "tern",
            "--to",
            "2026-11-23T10:00:00Z",
            "--region",
            "eu-west-1",
            "--kms-key",
            "alias/k",
            "--dry-run",
        ]))
        .unwrap()
        .unwrap();
        let commands = cli_commands(&o).join("\n");
        assert!(commands.contains("restore-table-to-point-in-time --region eu-west-1 --source-table-name tern --target-table-name tern-restored-20261123T100000Z --restore-date-time 2026-11-23T10:00:00Z"));
        assert!(commands.contains("KMSMasterKeyId=alias/k"));
        assert!(commands.contains("--select COUNT"));
    }
}
