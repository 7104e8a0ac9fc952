//! `tern-mailsink`: a local SMTP sink for `scripts/dev`.
//!
//! Usage: `tern-mailsink [--port N] [--implicit-tls | --plain-only] [--user U --password P]`
//!
//! Prints `port=N` and `cert=PATH` (the PEM of its self-signed certificate),
//! then the header section of every message it receives. Stop it with Ctrl-C.

use std::time::Duration;

use tern_mailsink::{MailSink, SinkOptions, TlsMode};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut options = SinkOptions::default();
    let mut port = 0;
    let (mut user, mut password) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse().ok()).unwrap_or(0),
            "--implicit-tls" => options.mode = TlsMode::Implicit,
            "--plain-only" => options.mode = TlsMode::PlainOnly,
            "--user" => user = args.next(),
            "--password" => password = args.next(),
            other => {
                eprintln!("unknown argument {other:?}; see the doc comment of src/main.rs");
                std::process::exit(2);
            }
        }
    }
    options.credentials = user.zip(password);

    let sink = MailSink::start_on(port, options).await?;
    let cert = std::env::temp_dir().join(format!("tern-mailsink-{}.pem", sink.port()));
    std::fs::write(&cert, sink.certificate_pem())?;
    println!("port={}", sink.port());
    println!("cert={}", cert.display());

    let mut shown = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tick.tick() => {
                for m in sink.messages().into_iter().skip(shown) {
                    shown += 1;
                    let text = String::from_utf8_lossy(&m.data);
                    let head = text.split("\r\n\r\n").next().unwrap_or_default();
                    println!(
                        "--- message {shown}: from <{}> to {:?} tls={} auth={:?}\n{head}\n",
                        m.mail_from, m.rcpt_to, m.tls, m.authenticated_as
                    );
                }
            }
        }
    }
}
