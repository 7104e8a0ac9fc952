//! The sink driven by a hand-written client over real TCP and TLS, so the
//! protocol is checked line by line (tern-send's tests use it with lettre).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use std::sync::Arc;

use data_encoding::BASE64;
use tern_mailsink::{Behaviour, MailSink, SinkOptions, TlsMode};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct Client {
    io: BufReader<Box<dyn Io>>,
}

impl Client {
    async fn connect(sink: &MailSink) -> Client {
        let tcp = TcpStream::connect(("127.0.0.1", sink.port())).await.unwrap();
        Client { io: BufReader::new(Box::new(tcp)) }
    }

    async fn connect_tls(sink: &MailSink) -> Client {
        let tcp = TcpStream::connect(("127.0.0.1", sink.port())).await.unwrap();
        let tls = connector(sink).connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
        Client { io: BufReader::new(Box::new(tls)) }
    }

    async fn starttls(self, sink: &MailSink, name: &str) -> Client {
        let stream = self.io.into_inner();
        let tls = connector(sink).connect(ServerName::try_from(name.to_owned()).unwrap(), stream).await.unwrap();
        Client { io: BufReader::new(Box::new(tls)) }
    }

    /// Reads one (possibly multi-line) reply; returns its code and text.
    async fn reply(&mut self) -> (u16, String) {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            // End of stream or a reset: the server hung up.
            if !matches!(self.io.read_line(&mut line).await, Ok(n) if n > 0) {
                return (0, all);
            }
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return (line[..3].parse().unwrap(), all);
            }
        }
    }

    async fn send(&mut self, line: &str) -> (u16, String) {
        self.raw(format!("{line}\r\n").as_bytes()).await
    }

    async fn raw(&mut self, bytes: &[u8]) -> (u16, String) {
        // A write into a closed connection shows up as the reply "0".
        let _ = self.io.get_mut().write_all(bytes).await;
        let _ = self.io.get_mut().flush().await;
        self.reply().await
    }
}

fn connector(sink: &MailSink) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(sink.certificate_der())).unwrap();
    let config = ClientConfig::builder_with_provider(Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

fn plain_auth(user: &str, pass: &str) -> String {
    BASE64.encode(format!("\0{user}\0{pass}").as_bytes())
}

fn creds() -> Option<(String, String)> {
    Some(("ann".to_owned(), "s3cret pass".to_owned()))
}

#[tokio::test]
async fn plain_session_unstuffs_dots_and_keeps_the_envelope() {
    let sink = MailSink::start(SinkOptions { mode: TlsMode::PlainOnly, credentials: None }).await.unwrap();
    let mut c = Client::connect(&sink).await;
    assert_eq!(c.reply().await.0, 220);
    let (code, ehlo) = c.send("EHLO client.example").await;
    assert_eq!(code, 250);
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    assert!(!ehlo.contains("AUTH"), "{ehlo}");
    assert_eq!(c.send("NOOP").await.0, 250);
    assert_eq!(c.send("RCPT TO:<x@y.example>").await.0, 503);
    assert_eq!(c.send("MAIL FROM:<a@b.example> SIZE=100").await.0, 250);
    assert_eq!(c.send("RSET").await.0, 250);
    assert_eq!(c.send("DATA").await.0, 503);
    assert_eq!(c.send("MAIL FROM:<a@b.example>").await.0, 250);
    assert_eq!(c.send("RCPT TO:<one@y.example>").await.0, 250);
    assert_eq!(c.send("rcpt to: <two@y.example>").await.0, 250);
    assert_eq!(c.send("DATA").await.0, 354);
    let (code, _) = c.raw(b"Subject: hi\r\n\r\n..leading dot\r\n...\r\nend\r\n.\r\n").await;
    assert_eq!(code, 250);
    assert_eq!(c.send("BOGUS").await.0, 502);
    assert_eq!(c.send("QUIT").await.0, 221);

    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].mail_from, "a@b.example");
    assert_eq!(got[0].rcpt_to, vec!["one@y.example", "two@y.example"]);
    assert_eq!(got[0].data, b"Subject: hi\r\n\r\n.leading dot\r\n..\r\nend\r\n");
    assert!(!got[0].tls);
    assert_eq!(got[0].authenticated_as, None);
}

#[tokio::test]
async fn starttls_then_auth_plain_and_login() {
    let sink = MailSink::start(SinkOptions { mode: TlsMode::StartTls, credentials: creds() }).await.unwrap();
    let mut c = Client::connect(&sink).await;
    c.reply().await;
    let (_, ehlo) = c.send("EHLO me").await;
    assert!(ehlo.contains("STARTTLS"), "{ehlo}");
    assert!(!ehlo.contains("AUTH"), "AUTH is not offered in the clear: {ehlo}");
    assert_eq!(c.send(&format!("AUTH PLAIN {}", plain_auth("ann", "s3cret pass"))).await.0, 538);
    assert_eq!(c.send("MAIL FROM:<a@b.example>").await.0, 530);
    assert_eq!(c.send("STARTTLS").await.0, 220);
    // The certificate names both localhost and 127.0.0.1.
    let mut c = c.starttls(&sink, "127.0.0.1").await;
    assert_eq!(c.send("MAIL FROM:<a@b.example>").await.0, 503, "EHLO again after TLS");
    let (_, ehlo) = c.send("EHLO me").await;
    assert!(!ehlo.contains("STARTTLS") && ehlo.contains("AUTH PLAIN LOGIN"), "{ehlo}");
    assert_eq!(c.send(&format!("AUTH PLAIN {}", plain_auth("ann", "wrong"))).await.0, 535);
    assert_eq!(c.send("AUTH LOGIN").await.0, 334);
    assert_eq!(c.send(&BASE64.encode(b"ann")).await.0, 334);
    assert_eq!(c.send(&BASE64.encode(b"s3cret pass")).await.0, 235);
    assert_eq!(c.send("MAIL FROM:<a@b.example>").await.0, 250);
    assert_eq!(c.send("RCPT TO:<x@y.example>").await.0, 250);
    assert_eq!(c.send("DATA").await.0, 354);
    assert_eq!(c.raw(b"Subject: tls\r\n\r\nbody\r\n.\r\n").await.0, 250);

    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert!(got[0].tls);
    assert_eq!(got[0].authenticated_as.as_deref(), Some("ann"));
}

#[tokio::test]
async fn implicit_tls_with_auth_plain_challenge() {
    let sink = MailSink::start(SinkOptions { mode: TlsMode::Implicit, credentials: creds() }).await.unwrap();
    let mut c = Client::connect_tls(&sink).await;
    assert_eq!(c.reply().await.0, 220);
    let (_, ehlo) = c.send("EHLO me").await;
    assert!(!ehlo.contains("STARTTLS") && ehlo.contains("AUTH"), "{ehlo}");
    assert_eq!(c.send("AUTH PLAIN").await.0, 334);
    assert_eq!(c.send(&plain_auth("ann", "s3cret pass")).await.0, 235);
    assert_eq!(c.send("MAIL FROM:<>").await.0, 250);
    assert_eq!(c.send("RCPT TO:<x@y.example>").await.0, 250);
    assert_eq!(c.send("DATA").await.0, 354);
    assert_eq!(c.raw(b"x\r\n.\r\n").await.0, 250);
    let got = sink.messages();
    assert_eq!(got[0].mail_from, "");
    assert!(got[0].tls);
}

#[tokio::test]
async fn behaviours_fail_on_purpose() {
    let sink = MailSink::start(SinkOptions { mode: TlsMode::PlainOnly, credentials: creds() }).await.unwrap();
    let mut c = Client::connect(&sink).await;
    c.reply().await;
    c.send("EHLO me").await;

    sink.set_behaviour(Behaviour::RejectAuth);
    assert_eq!(c.send(&format!("AUTH PLAIN {}", plain_auth("ann", "s3cret pass"))).await.0, 535);
    sink.set_behaviour(Behaviour::Accept);
    assert_eq!(c.send(&format!("AUTH PLAIN {}", plain_auth("ann", "s3cret pass"))).await.0, 235);

    sink.set_behaviour(Behaviour::PermFailRcpt);
    assert_eq!(c.send("MAIL FROM:<a@b.example>").await.0, 250);
    assert_eq!(c.send("RCPT TO:<x@y.example>").await.0, 550);
    assert_eq!(c.send("DATA").await.0, 554);
    c.send("RSET").await;

    sink.set_behaviour(Behaviour::TempFailData);
    c.send("MAIL FROM:<a@b.example>").await;
    c.send("RCPT TO:<x@y.example>").await;
    assert_eq!(c.send("DATA").await.0, 354);
    assert_eq!(c.raw(b"x\r\n.\r\n").await.0, 451);
    assert_eq!(sink.count(), 0, "a 451 stores nothing");

    sink.set_behaviour(Behaviour::DropAfterData);
    c.send("MAIL FROM:<a@b.example>").await;
    c.send("RCPT TO:<x@y.example>").await;
    assert_eq!(c.send("DATA").await.0, 354);
    let (code, text) = c.raw(b"dropped\r\n.\r\n").await;
    assert_eq!((code, text.as_str()), (0, ""), "no reply, connection closed");
    assert_eq!(sink.count(), 1, "stored before the drop");
    assert_eq!(sink.messages()[0].data, b"dropped\r\n");
}

#[tokio::test]
async fn data_pipelined_after_starttls_closes_the_connection() {
    let sink = MailSink::start(SinkOptions::default()).await.unwrap();
    let mut c = Client::connect(&sink).await;
    c.reply().await;
    c.send("EHLO me").await;
    let (code, _) = c.raw(b"STARTTLS\r\nMAIL FROM:<evil@x.example>\r\n").await;
    assert_eq!(code, 220);
    let mut rest = Vec::new();
    let n = tokio::io::AsyncReadExt::read_to_end(&mut c.io, &mut rest).await;
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?} {rest:?}");
}

#[tokio::test]
async fn dropping_the_sink_stops_it() {
    let sink = MailSink::start(SinkOptions::default()).await.unwrap();
    let port = sink.port();
    let mut open = Client::connect(&sink).await;
    open.reply().await;
    drop(sink);
    tokio::task::yield_now().await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    // The open connection was closed too.
    let (code, _) = open.send("NOOP").await;
    assert_eq!(code, 0);
}
