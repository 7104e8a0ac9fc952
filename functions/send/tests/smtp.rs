//! tern-send's SMTP client against the mail sink: a real SMTP server on
//! loopback with a self-signed certificate, STARTTLS or implicit TLS, AUTH,
//! and failures on demand. Only loopback is ever connected to: every other
//! address in here is refused by the guard before a socket is opened.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tern_mailsink::{Behaviour, MailSink, SinkOptions, TlsMode};
use tern_send::smtp::{SmtpAccount, SmtpClient, SmtpError, SmtpSecurity};
use tern_web::Policy;
use tern_web::fetch::{HostResolver, SystemResolver};
use tern_web::guard::Refusal;

const USER: &str = "ann@sender.example";
const PASSWORD: &str = "plant-XYZZY-pw-7c1e";
const FROM: &str = "bounces+s1@sender.example";

const RAW: &[u8] = b"From: Ann <ann@sender.example>\r\n\
To: lee@lead.example\r\n\
Subject: Quick question\r\n\
Message-ID: <e1.0@sender.example>\r\n\
\r\n\
Hi Lee,\r\n\
.a line starting with a dot\r\n\
.\r\n\
bye\r\n";

async fn sink(mode: TlsMode) -> MailSink {
    MailSink::start(SinkOptions { mode, credentials: Some((USER.to_owned(), PASSWORD.to_owned())) }).await.expect("mail sink starts")
}

/// A client allowed to reach this sink (and only it) on loopback, trusting
/// its certificate.
fn client(sink: &MailSink) -> SmtpClient {
    untrusting_client(sink).with_extra_root(sink.certificate_der())
}

fn untrusting_client(sink: &MailSink) -> SmtpClient {
    SmtpClient::new(Policy::mail().allow_loopback_for_tests(sink.port()), Arc::new(SystemResolver)).with_timeout(Duration::from_secs(5))
}

fn account(port: u16, security: SmtpSecurity, password: &str) -> SmtpAccount {
    SmtpAccount { host: "127.0.0.1".to_owned(), port, security, username: USER.to_owned(), password: password.into() }
}

fn to() -> Vec<String> {
    vec!["lee@lead.example".to_owned()]
}

/// Every way an error can be shown carries no trace of the password.
fn assert_no_password(e: &SmtpError) {
    let shown = format!("{e} | {e:?} | {e:#?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(!shown.contains("XYZZY"), "{shown}");
}

#[tokio::test]
async fn starttls_and_auth_deliver_the_exact_message() {
    let sink = sink(TlsMode::StartTls).await;
    let accepted = client(&sink).send(&account(sink.port(), SmtpSecurity::StartTls, PASSWORD), FROM, &to(), RAW).await.expect("delivered");
    assert!(accepted.reply.starts_with("250"), "{accepted:?}");

    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert!(got[0].tls, "sent over TLS");
    assert_eq!(got[0].authenticated_as.as_deref(), Some(USER));
    assert_eq!(got[0].mail_from, FROM);
    assert_eq!(got[0].rcpt_to, to());
    // Dot-stuffing on the way and unstuffing at the sink cancel out, and the
    // final CRLF is not doubled.
    assert_eq!(got[0].data, RAW);
}

#[tokio::test]
async fn implicit_tls_delivers() {
    let sink = sink(TlsMode::Implicit).await;
    client(&sink).send(&account(sink.port(), SmtpSecurity::ImplicitTls, PASSWORD), FROM, &to(), RAW).await.expect("delivered");
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert!(got[0].tls);
    assert_eq!(got[0].authenticated_as.as_deref(), Some(USER));
}

#[tokio::test]
async fn check_account_logs_in_and_sends_nothing() {
    let sink = sink(TlsMode::StartTls).await;
    let c = client(&sink);
    c.check_account(&account(sink.port(), SmtpSecurity::StartTls, PASSWORD)).await.expect("valid account");
    let e = c.check_account(&account(sink.port(), SmtpSecurity::StartTls, "wrong-XYZZY")).await.unwrap_err();
    assert!(matches!(e, SmtpError::Permanent(_)), "{e:?}");
    assert_no_password(&e);
    assert!(!e.to_string().contains("wrong-XYZZY"), "{e}");
    assert_eq!(sink.count(), 0);
}

#[tokio::test]
async fn a_server_without_starttls_gets_nothing() {
    // PlainOnly offers AUTH in the clear: a careless client would log in.
    let sink = sink(TlsMode::PlainOnly).await;
    let e = client(&sink).send(&account(sink.port(), SmtpSecurity::StartTls, PASSWORD), FROM, &to(), RAW).await.unwrap_err();
    assert!(matches!(&e, SmtpError::Permanent(m) if m.contains("STARTTLS")), "{e:?}");
    assert_no_password(&e);
    assert_eq!(sink.count(), 0);
}

#[tokio::test]
async fn wrong_password_and_rejected_auth_are_permanent() {
    let sink = sink(TlsMode::StartTls).await;
    let c = client(&sink);
    let wrong = account(sink.port(), SmtpSecurity::StartTls, "plant-XYZZY-wrong");
    let e = c.send(&wrong, FROM, &to(), RAW).await.unwrap_err();
    assert!(matches!(e, SmtpError::Permanent(_)), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("plant-XYZZY-wrong"), "{e:?}");

    sink.set_behaviour(Behaviour::RejectAuth);
    let e = c.send(&account(sink.port(), SmtpSecurity::StartTls, PASSWORD), FROM, &to(), RAW).await.unwrap_err();
    assert!(matches!(e, SmtpError::Permanent(_)), "{e:?}");
    assert_no_password(&e);
    assert_eq!(sink.count(), 0);
}

#[tokio::test]
async fn reply_codes_map_to_transient_and_permanent() {
    let sink = sink(TlsMode::StartTls).await;
    let c = client(&sink);
    let acct = account(sink.port(), SmtpSecurity::StartTls, PASSWORD);

    sink.set_behaviour(Behaviour::TempFailData);
    let e = c.send(&acct, FROM, &to(), RAW).await.unwrap_err();
    assert!(matches!(&e, SmtpError::Transient(m) if m.contains("451")), "{e:?}");
    assert_eq!(sink.count(), 0, "a 451 after the data stores nothing");

    sink.set_behaviour(Behaviour::PermFailRcpt);
    let e = c.send(&acct, FROM, &to(), RAW).await.unwrap_err();
    assert!(matches!(&e, SmtpError::Permanent(m) if m.contains("550") && m.contains("RCPT")), "{e:?}");
    assert_eq!(sink.count(), 0);
    assert_no_password(&e);
}

#[tokio::test]
async fn a_lost_reply_after_the_data_is_ambiguous() {
    let sink = sink(TlsMode::StartTls).await;
    sink.set_behaviour(Behaviour::DropAfterData);
    let e = client(&sink).send(&account(sink.port(), SmtpSecurity::StartTls, PASSWORD), FROM, &to(), RAW).await.unwrap_err();
    assert!(matches!(e, SmtpError::Ambiguous(_)), "{e:?}");
    assert_no_password(&e);
    // The case the variant exists for: it was in fact delivered.
    assert_eq!(sink.count(), 1);
    assert_eq!(sink.messages()[0].data, RAW);
}

#[tokio::test]
async fn a_timeout_after_the_data_is_ambiguous() {
    let sink = sink(TlsMode::Implicit).await;
    sink.set_behaviour(Behaviour::HangAfterData);
    let e = client(&sink)
        .with_timeout(Duration::from_millis(500))
        .send(&account(sink.port(), SmtpSecurity::ImplicitTls, PASSWORD), FROM, &to(), RAW)
        .await
        .unwrap_err();
    assert!(matches!(e, SmtpError::Ambiguous(_)), "{e:?}");
    assert_eq!(sink.count(), 1);
}

#[tokio::test]
async fn a_silent_server_before_the_data_is_transient() {
    // Accepts TCP connections and never says a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let c =
        SmtpClient::new(Policy::mail().allow_loopback_for_tests(port), Arc::new(SystemResolver)).with_timeout(Duration::from_millis(300));
    let e = c.send(&account(port, SmtpSecurity::StartTls, PASSWORD), FROM, &to(), RAW).await.unwrap_err();
    assert!(matches!(e, SmtpError::Transient(_)), "{e:?}");

    // Nothing listening at all: also transient.
    drop(_server);
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = SmtpClient::new(Policy::mail().allow_loopback_for_tests(closed), Arc::new(SystemResolver));
    let e = c.send(&account(closed, SmtpSecurity::ImplicitTls, PASSWORD), FROM, &to(), RAW).await.unwrap_err();
    assert!(matches!(e, SmtpError::Transient(_)), "{e:?}");
}

#[tokio::test]
async fn an_untrusted_certificate_gets_nothing() {
    for (mode, security) in [(TlsMode::StartTls, SmtpSecurity::StartTls), (TlsMode::Implicit, SmtpSecurity::ImplicitTls)] {
        let sink = sink(mode).await;
        let e = untrusting_client(&sink).send(&account(sink.port(), security, PASSWORD), FROM, &to(), RAW).await.unwrap_err();
        assert!(matches!(&e, SmtpError::Permanent(m) if m.contains("certificate") || m.contains("TLS")), "{mode:?}: {e:?}");
        assert_no_password(&e);
        assert_eq!(sink.count(), 0);
    }
}

/// A resolver that answers every name with loopback: a DNS-rebinding attempt.
struct Rebinding;

impl HostResolver for Rebinding {
    fn lookup<'a>(&'a self, _host: &'a str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>> {
        Box::pin(async { Ok(vec!["127.0.0.1".parse().unwrap()]) })
    }
}

#[tokio::test]
async fn the_guard_refuses_before_connecting() {
    let sink = sink(TlsMode::StartTls).await;
    let port = sink.port();
    let production = SmtpClient::new(Policy::mail(), Arc::new(SystemResolver));
    let with_allowance = client(&sink);

    let cases: Vec<(&SmtpClient, &str, u16)> = vec![
        // Loopback without the test allowance (even on the sink's own port).
        (&production, "127.0.0.1", port),
        (&production, "127.0.0.1", 587),
        // The allowance is for the sink's port only.
        (&with_allowance, "127.0.0.1", 8080),
        (&with_allowance, "127.0.0.1", 587),
        (&production, "10.0.0.1", 587),
        (&production, "169.254.169.254", 465),
        (&production, "[::1]", 587),
        (&production, "localhost", 587),
        (&production, "smtp.internal", 587),
        // A public literal on a port that is not SMTP.
        (&production, "93.184.216.34", 8080),
        (&production, "user@smtp.example.com", 587),
    ];
    for (c, host, p) in cases {
        let mut acct = account(p, SmtpSecurity::StartTls, PASSWORD);
        acct.host = host.to_owned();
        let e = c.send(&acct, FROM, &to(), RAW).await.unwrap_err();
        assert!(matches!(e, SmtpError::Refused(_)), "{host}:{p}: {e:?}");
        assert_no_password(&e);
        let e = c.check_account(&acct).await.unwrap_err();
        assert!(matches!(e, SmtpError::Refused(_)), "{host}:{p}: {e:?}");
    }

    // A name is resolved through the guard: resolving to loopback is refused
    // even for a client holding the loopback allowance.
    let rebinding =
        SmtpClient::new(Policy::mail().allow_loopback_for_tests(port), Arc::new(Rebinding)).with_extra_root(sink.certificate_der());
    let mut acct = account(port, SmtpSecurity::StartTls, PASSWORD);
    acct.host = "smtp.attacker.example".to_owned();
    let e = rebinding.send(&acct, FROM, &to(), RAW).await.unwrap_err();
    assert!(matches!(e, SmtpError::Refused(Refusal::NoAllowedAddress { .. })), "{e:?}");
    assert_eq!(sink.count(), 0);
}

#[tokio::test]
async fn bad_envelopes_and_bare_line_feeds_are_refused_before_connecting() {
    let sink = sink(TlsMode::StartTls).await;
    let c = client(&sink);
    let acct = account(sink.port(), SmtpSecurity::StartTls, PASSWORD);
    for (from, rcpts, raw) in [
        ("not an address", to(), RAW),
        (FROM, vec![], RAW),
        (FROM, vec!["x\r\nRCPT TO:<evil@x.example>".to_owned()], RAW),
        (FROM, to(), &b"Subject: x\r\n\r\nsmuggled\n.\r\n"[..]),
    ] {
        let e = c.send(&acct, from, &rcpts, raw).await.unwrap_err();
        assert!(matches!(e, SmtpError::Permanent(_)), "{e:?}");
    }
    assert_eq!(sink.count(), 0);
}

#[tokio::test]
async fn the_password_never_shows() {
    let acct = account(587, SmtpSecurity::StartTls, PASSWORD);
    let shown = format!("{acct:?} {acct:#?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(shown.contains("[redacted]"));
    let sink = sink(TlsMode::StartTls).await;
    let shown = format!("{:?}", client(&sink));
    assert!(!shown.contains(PASSWORD));
}

#[tokio::test]
async fn implicit_tls_against_a_starttls_port_is_a_clear_permanent_error() {
    let sink = sink(TlsMode::StartTls).await;
    let e = client(&sink).send(&account(sink.port(), SmtpSecurity::ImplicitTls, PASSWORD), FROM, &to(), RAW).await.unwrap_err();
    assert!(matches!(&e, SmtpError::Permanent(m) if m.contains("does not speak TLS")), "{e:?}");
    assert_eq!(sink.count(), 0);
}
