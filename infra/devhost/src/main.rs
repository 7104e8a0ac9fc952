//! `tern-devhost`: run the local platform. `scripts/dev` starts moto and then this.

use std::net::SocketAddr;
use tern_devhost::{DevHost, DevHostOptions};

const USAGE: &str = "usage: tern-devhost --aws-endpoint URL [--port N] [--prefix NAME] [--tick-seconds N]
  --aws-endpoint URL   the local AWS stand-in (moto), e.g. http://127.0.0.1:5000
  --port N             port for the API on 127.0.0.1 (default 3000; 0 picks a free one)
  --prefix NAME        resource name prefix (default tern-dev)
  --tick-seconds N     run every schedule every N seconds instead of its template rate
environment: TERN_INBOUND_WEBHOOK_SECRET (default: a fresh random secret, printed once)";

fn parse_args() -> Result<DevHostOptions, String> {
    let mut args = std::env::args().skip(1);
    let mut options = DevHostOptions {
        aws_endpoint: String::new(),
        prefix: "tern-dev".into(),
        bind: SocketAddr::from(([127, 0, 0, 1], 3000)),
        tick_every_seconds: None,
        poll_wait_seconds: 1,
        webhook_secret: std::env::var("TERN_INBOUND_WEBHOOK_SECRET")
            .unwrap_or_else(|_| tern_domain::ids::RequestId::generate().to_string().replace('-', "")),
        website_fetch: Default::default(),
        mail_delivery: Default::default(),
        manual_functions: Vec::new(),
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--aws-endpoint" => options.aws_endpoint = value()?,
            "--port" => {
                let port = value()?.parse::<u16>().map_err(|_| "--port takes a number from 0 to 65535".to_string())?;
                options.bind.set_port(port);
            }
            "--prefix" => options.prefix = value()?,
            "--tick-seconds" => {
                let n = value()?.parse::<u64>().ok().filter(|n| *n > 0);
                options.tick_every_seconds = Some(n.ok_or("--tick-seconds takes a positive number")?);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if options.aws_endpoint.is_empty() {
        return Err("--aws-endpoint is required".into());
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tern_aws::logging::init();
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("tern-devhost: {message}");
            }
            eprintln!("{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    let secret = options.webhook_secret.clone();
    let host = match DevHost::start(options).await {
        Ok(host) => host,
        Err(error) => {
            eprintln!("tern-devhost: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let url = host.base_url();
    eprintln!(
        "\nTern is running locally.
  API:            {url}   (try: curl {url}/health)
  inbound mail:   curl -u cloudmailin:{secret} -F message=@mail.eml -F 'envelope[to]=reply+<workspace-id>@in.tern.local' {url}/inbound/raw
  clock:          curl {url}/_dev/clock ;  curl -XPOST -H 'content-type: application/json' -d '{{\"days\":2}}' {url}/_dev/clock/advance
  run a schedule: curl -XPOST {url}/_dev/tick/DispatchFunction
  AWS usage:      curl {url}/_dev/usage
  table {}, bucket {}
Ctrl-C stops everything.\n",
        host.config.table, host.config.bucket
    );
    let _ = tokio::signal::ctrl_c().await;
    eprintln!("stopping…");
    host.stop().await;
    std::process::ExitCode::SUCCESS
}
