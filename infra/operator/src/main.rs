//! `tern-operator`: platform-operator commands against the stack's table, with the
//! AWS SDK's usual credential chain. Run it through `scripts/operator` (see `--help`).

use std::process::ExitCode;
use tern_aws::audit::AuditLog;
use tern_aws::table::Table;
use tern_domain::ids::WorkspaceId;
use tern_domain::plan::Plan;
use tern_operator::{Operator, parse_plan, set_plan};

const USAGE: &str = "\
usage: scripts/operator set-plan --workspace ID --plan PLAN --reason TEXT --operator NAME [options]

Sets a workspace's plan and writes `workspace.plan_changed` to its audit trail, with
the actor `operator:NAME`, the old and new plan and the reason.

  --workspace ID        the workspace's id
  --plan PLAN           trial, starter, growth, pro, agency or enterprise
  --reason TEXT         why (a ticket, a contract): required, kept in the trail
  --operator NAME       who you are (a-z, 0-9, '.', '_', '-')
  --table NAME          the stack's table (default: $TERN_TABLE)
  --platform-key KEY    the platform KMS key that seals the audit anchor (default:
                        $TERN_PLATFORM_KEY)
  --region R            AWS region (default: the SDK's: AWS_REGION, profile)
  --endpoint-url URL    another endpoint, e.g. a local moto (http://127.0.0.1:5077)
  -h, --help            this text

Credentials come from the usual AWS chain (environment, profile, SSO). The API caches
workspace settings for up to 15 seconds per container, so a change reaches every
request within that time.";

#[derive(Debug)]
struct SetPlan {
    workspace: WorkspaceId,
    plan: Plan,
    reason: String,
    operator: String,
    table: String,
    platform_key: String,
    region: Option<String>,
    endpoint_url: Option<String>,
}

/// What the environment supplies when an option is not given.
#[derive(Debug, Default)]
struct Defaults {
    table: Option<String>,
    platform_key: Option<String>,
}

fn parse(args: &[String], defaults: Defaults) -> Result<Option<SetPlan>, String> {
    let mut args = args.iter();
    match args.next().map(String::as_str) {
        Some("set-plan") => {}
        Some("-h" | "--help") | None => return Ok(None),
        Some(other) => return Err(format!("unknown command {other} (the one command is set-plan)")),
    }
    let (mut workspace, mut plan, mut reason, mut operator, mut region, mut endpoint_url) = (None, None, None, None, None, None);
    let (mut table, mut platform_key) = (defaults.table, defaults.platform_key);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next().cloned()).ok_or_else(|| format!("{name} needs a value"));
        match name {
            "-h" | "--help" => return Ok(None),
            "--workspace" => {
                let text = value()?;
                workspace = Some(WorkspaceId::parse(&text).map_err(|_| format!("--workspace {text}: not a workspace id"))?);
            }
            "--plan" => {
                let text = value()?;
                plan = Some(
                    parse_plan(&text).ok_or_else(|| format!("--plan {text}: one of trial, starter, growth, pro, agency, enterprise"))?,
                );
            }
            "--reason" => reason = Some(value()?),
            "--operator" => operator = Some(value()?),
            "--table" => table = Some(value()?),
            "--platform-key" => platform_key = Some(value()?),
            "--region" => region = Some(value()?),
            "--endpoint-url" => endpoint_url = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Some(SetPlan {
        workspace: workspace.ok_or("--workspace is required")?,
        plan: plan.ok_or("--plan is required")?,
        reason: reason.ok_or("--reason is required")?,
        operator: operator.ok_or("--operator is required")?,
        table: table.ok_or("--table is required (or set TERN_TABLE)")?,
        platform_key: platform_key.ok_or("--platform-key is required (or set TERN_PLATFORM_KEY)")?,
        region,
        endpoint_url,
    }))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let defaults = Defaults { table: std::env::var("TERN_TABLE").ok(), platform_key: std::env::var("TERN_PLATFORM_KEY").ok() };
    let command = match parse(&args, defaults) {
        Ok(Some(command)) => command,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("operator: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = command.region.clone() {
        loader = loader.region(aws_config::Region::new(region));
    }
    if let Some(endpoint) = &command.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    let sdk = loader.load().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = Table::new(client.clone(), command.table.clone());
    // Each audit entry carries a MAC under the anchor key, sealed under the platform key.
    let audit = AuditLog::from_parts(client, aws_sdk_kms::Client::new(&sdk), &command.table, &command.platform_key);
    let operator = Operator { name: &command.operator, reason: &command.reason };
    match set_plan(&table, &audit, command.workspace, command.plan, &operator, time::OffsetDateTime::now_utc()).await {
        Ok(change) => {
            let name = |p: Plan| serde_json::to_value(p).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
            println!(
                "workspace {}: plan {} -> {} (audited as {} by {})",
                command.workspace,
                name(change.from),
                name(change.to),
                tern_operator::PLAN_CHANGED,
                operator.actor()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("operator: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both() -> Defaults {
        Defaults { table: Some("t".into()), platform_key: Some("alias/p".into()) }
    }

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn set_plan_needs_every_part() {
        let ws = WorkspaceId::generate();
        let parsed =
            parse(&args(&format!("set-plan --workspace {ws} --plan growth --reason contract-42 --operator ana")), both()).unwrap().unwrap();
        assert_eq!((parsed.workspace, parsed.plan, parsed.table.as_str()), (ws, Plan::Growth, "t"));
        assert!(parse(&args(&format!("set-plan --workspace {ws} --plan growth --operator ana")), both()).unwrap_err().contains("--reason"));
        assert!(
            parse(&args(&format!("set-plan --workspace {ws} --plan platinum --reason r --operator ana")), Defaults::default()).is_err()
        );
        assert!(parse(&args("set-plan --workspace nope --plan growth --reason r --operator ana"), Defaults::default()).is_err());
        assert!(
            parse(&args(&format!("set-plan --workspace {ws} --plan growth --reason r --operator ana")), Defaults::default())
                .unwrap_err()
                .contains("--table")
        );
        assert!(parse(&args("--help"), Defaults::default()).unwrap().is_none());
        let no_key = Defaults { table: Some("t".into()), platform_key: None };
        assert!(
            parse(&args(&format!("set-plan --workspace {ws} --plan growth --reason r --operator ana")), no_key)
                .unwrap_err()
                .contains("--platform-key")
        );
    }
}
