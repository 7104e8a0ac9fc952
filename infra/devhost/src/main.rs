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
        llm: Default::default(),
        manual_functions: Vec::new(),
        region: None,
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
    let mut options = match parse_args() {
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
    // A local SMTP server (STARTTLS, self-signed) so SMTP mailboxes can be tried
    // without sending real mail; the platform may reach it and trusts its certificate.
    let smtp_password = tern_domain::ids::RequestId::generate().to_string().replace('-', "");
    let sink_options =
        tern_mailsink::SinkOptions { mode: tern_mailsink::TlsMode::StartTls, credentials: Some(("dev".into(), smtp_password.clone())) };
    let sink = match tern_mailsink::MailSink::start(sink_options).await {
        Ok(sink) => sink,
        Err(error) => {
            eprintln!("tern-devhost: the local SMTP sink did not start: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    options.mail_delivery = tern_devhost::MailDelivery {
        policy: tern_web::guard::Policy::mail().allow_loopback_for_tests(sink.port()),
        extra_roots: vec![sink.certificate_der()],
        resolver: None,
    };
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
  inbound mail:   curl -u cloudmailin:{secret} -F message=@mail.eml -F 'envelope[to]=reply+<workspace-id>@in.tern.test' {url}/inbound/raw
  SMTP sink:      a mailbox with provider {{\"kind\":\"smtp\",\"host\":\"127.0.0.1\",\"port\":{port},\"security\":\"start_tls\",\"username\":\"dev\",\"password\":\"{smtp_password}\"}}
                  delivers here; each message received is listed below
  unsubscribe:    links in sent mail say https://; locally open them with http://
  clock:          curl {url}/_dev/clock ;  curl -XPOST -H 'content-type: application/json' -d '{{\"days\":2}}' {url}/_dev/clock/advance
  run a schedule: curl -XPOST {url}/_dev/tick/DispatchFunction
  AWS usage:      curl {url}/_dev/usage
  table {}, bucket {}
Ctrl-C stops everything.\n",
        host.config.table, host.config.bucket, port = sink.port()
    );
    tokio::spawn(async move {
        let mut shown = 0;
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            for message in sink.messages().iter().skip(shown) {
                let text = String::from_utf8_lossy(&message.data);
                let subject = text.lines().find_map(|l| l.strip_prefix("Subject: ")).unwrap_or("(no subject)");
                eprintln!("SMTP sink: {} -> {}: {subject}", message.mail_from, message.rcpt_to.join(", "));
                shown += 1;
            }
        }
    });
    let _ = tokio::signal::ctrl_c().await;
    eprintln!("stopping…");
    host.stop().await;
    std::process::ExitCode::SUCCESS
}
