//! A real SMTP server on loopback that keeps what it receives: the other end
//! of tern-send's SMTP client in tests, and a catch-all for `scripts/dev`.
//!
//! It speaks enough RFC 5321 for real clients — EHLO/HELO, STARTTLS
//! (RFC 3207), AUTH PLAIN and LOGIN (RFC 4954), MAIL, RCPT, DATA with
//! dot-unstuffing, RSET, NOOP, QUIT — over a self-signed certificate made at
//! start (SANs `localhost` and `127.0.0.1`) that tests trust through
//! [`MailSink::certificate_der`]. It can also misbehave on purpose
//! ([`Behaviour`]) so a client's error mapping can be tested against real
//! replies and real dropped connections.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use tern_mailsink::{MailSink, SinkOptions, TlsMode};
//! let sink = MailSink::start(SinkOptions {
//!     mode: TlsMode::StartTls,
//!     credentials: Some(("user".into(), "pass".into())),
//! })
//! .await?;
//! println!("SMTP on 127.0.0.1:{}", sink.port());
//! // … send something …
//! assert_eq!(sink.count(), 0);
//! # Ok(()) }
//! ```
//!
//! It is a test tool, not a mail server: it binds loopback only, relays
//! nothing, and keeps messages in memory until it is dropped.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use data_encoding::BASE64;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Longest command line accepted (RFC 5321 §4.5.3.1.4 says 512; AUTH lines
/// with initial responses are longer, so leave room).
const MAX_COMMAND_LINE: usize = 4096;
/// Largest message accepted in DATA (also announced as SIZE).
const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;
/// A connection silent this long is closed, so a stuck client cannot keep a
/// task alive for the rest of a test run.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// DATA is read in pieces of at most this many bytes.
const DATA_CHUNK: u64 = 64 * 1024;
/// The name the sink greets with.
const SERVER_NAME: &str = "localhost";

/// How the sink offers TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Plain port; STARTTLS offered, AUTH only after it.
    #[default]
    StartTls,
    /// TLS from the first byte (the "SMTPS" port 465 style, RFC 8314).
    Implicit,
    /// No STARTTLS at all, AUTH offered in the clear: a server a careful
    /// client must refuse to talk to.
    PlainOnly,
}

/// How a sink is started. `Debug` leaves the password out, even a test one,
/// so a log line never teaches anyone to print credentials.
#[derive(Clone, Default)]
pub struct SinkOptions {
    pub mode: TlsMode,
    /// `(user, password)` the sink requires before MAIL; `None` accepts mail
    /// without AUTH (and does not offer it).
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for SinkOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkOptions")
            .field("mode", &self.mode)
            .field("credentials", &self.credentials.as_ref().map(|(user, _)| (user, "[redacted]")))
            .finish()
    }
}

/// What the sink does with the next transactions (changeable at any time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// Accept everything (250 after DATA).
    #[default]
    Accept,
    /// 451 after the message data: not stored, try again later.
    TempFailData,
    /// 550 on every RCPT TO.
    PermFailRcpt,
    /// Store the message as received, then close the connection without the
    /// final reply: the client cannot know whether it was delivered.
    DropAfterData,
    /// Store the message as received, then never answer (until the client
    /// gives up and closes): a client's timeout after DATA.
    HangAfterData,
    /// 535 on every AUTH, whatever the credentials.
    RejectAuth,
}

/// One message the sink accepted (or stored before dropping the connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The MAIL FROM path without angle brackets (empty for the null path).
    pub mail_from: String,
    /// The RCPT TO paths without angle brackets, in order.
    pub rcpt_to: Vec<String>,
    /// The message as transmitted after dot-unstuffing (CRLF line endings
    /// as the client sent them).
    pub data: Vec<u8>,
    /// Whether the connection was TLS-protected when the message was sent.
    pub tls: bool,
    /// The user that authenticated on this connection, if any.
    pub authenticated_as: Option<String>,
}

#[derive(Default)]
struct State {
    messages: Mutex<Vec<Received>>,
    behaviour: Mutex<Behaviour>,
}

/// A lock that survives a panicked holder: the data (a list, an enum) is
/// valid at every step, so poisoning carries no meaning here.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running sink. Dropping it stops the listener and every open connection.
pub struct MailSink {
    port: u16,
    cert_der: Vec<u8>,
    cert_pem: String,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for MailSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSink").field("port", &self.port).field("messages", &self.count()).finish_non_exhaustive()
    }
}

impl Drop for MailSink {
    fn drop(&mut self) {
        // The accept task owns the connections' JoinSet: aborting it drops
        // the set, which aborts every connection task.
        self.task.abort();
    }
}

impl MailSink {
    /// Starts a sink on `127.0.0.1` on a free port.
    pub async fn start(options: SinkOptions) -> io::Result<MailSink> {
        Self::start_on(0, options).await
    }

    /// Starts a sink on `127.0.0.1:port` (`0` picks a free port).
    pub async fn start_on(port: u16, options: SinkOptions) -> io::Result<MailSink> {
        let certified =
            rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_owned(), "127.0.0.1".to_owned()]).map_err(io::Error::other)?;
        let cert_der = certified.cert.der().to_vec();
        let cert_pem = certified.cert.pem();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
        let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(cert_der.clone())], key)
            .map_err(io::Error::other)?;
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(State::default());
        let server = Arc::new(Server { mode: options.mode, credentials: options.credentials, acceptor, state: Arc::clone(&state) });
        let task = tokio::spawn(accept_loop(listener, server));
        Ok(MailSink { port, cert_der, cert_pem, state, task })
    }

    /// The loopback port the sink listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The sink's self-signed certificate (DER), for a client to trust.
    pub fn certificate_der(&self) -> Vec<u8> {
        self.cert_der.clone()
    }

    /// The same certificate as PEM (for tools that want a file).
    pub fn certificate_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        lock(&self.state.messages).clone()
    }

    /// How many messages were received so far.
    pub fn count(&self) -> usize {
        lock(&self.state.messages).len()
    }

    /// Changes what the sink does from the next command on.
    pub fn set_behaviour(&self, b: Behaviour) {
        *lock(&self.state.behaviour) = b;
    }
}

struct Server {
    mode: TlsMode,
    credentials: Option<(String, String)>,
    acceptor: TlsAcceptor,
    state: Arc<State>,
}

impl Server {
    fn behaviour(&self) -> Behaviour {
        *lock(&self.state.behaviour)
    }
}

async fn accept_loop(listener: TcpListener, server: Arc<Server>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let server = Arc::clone(&server);
                    connections.spawn(async move {
                        if let Err(e) = serve(stream, server).await {
                            tracing::debug!(error = %e, "mail sink connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    // E.g. too many open files: back off instead of spinning.
                    tracing::warn!(error = %e, "mail sink accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Any stream a session can run on (plain TCP, or TLS over it).
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What one connection has established so far.
#[derive(Default)]
struct Session {
    greeted: bool,
    tls: bool,
    user: Option<String>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

impl Session {
    fn reset_transaction(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
    }
}

/// What the command loop does after one command.
enum Next {
    Continue,
    StartTls,
    Close,
}

async fn serve(tcp: TcpStream, server: Arc<Server>) -> io::Result<()> {
    let mut session = Session::default();
    let mut stream: Box<dyn Io> = if server.mode == TlsMode::Implicit {
        session.tls = true;
        Box::new(server.acceptor.accept(tcp).await?)
    } else {
        Box::new(tcp)
    };
    let mut reader = BufReader::new(stream);
    reply(&mut reader, &format!("220 {SERVER_NAME} ESMTP tern-mailsink ready")).await?;
    loop {
        match session_loop(&mut reader, &server, &mut session).await? {
            Next::Close => return Ok(()),
            Next::Continue => {}
            Next::StartTls => {
                // Anything the client sent after STARTTLS but before the
                // handshake would be injected into the TLS session
                // (CVE-2011-0411 style): refuse the connection instead.
                if !reader.buffer().is_empty() {
                    return Err(io::Error::other("data pipelined after STARTTLS"));
                }
                stream = reader.into_inner();
                let tls = server.acceptor.accept(stream).await?;
                reader = BufReader::new(Box::new(tls));
                // RFC 3207 §4.2: forget everything learned before TLS.
                session = Session { tls: true, ..Session::default() };
            }
        }
    }
}

/// Reads and answers commands until the connection must close or upgrade.
async fn session_loop(io: &mut BufReader<Box<dyn Io>>, server: &Server, session: &mut Session) -> io::Result<Next> {
    loop {
        let Some(line) = read_line(io).await? else {
            return Ok(Next::Close);
        };
        let Ok(line) = String::from_utf8(line) else {
            reply(io, "500 5.5.2 command is not UTF-8").await?;
            continue;
        };
        let (verb, arg) = match line.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim()),
            None => (line.to_ascii_uppercase(), ""),
        };
        let next = match verb.as_str() {
            "EHLO" => ehlo(io, server, session, arg).await?,
            "HELO" => {
                session.greeted = true;
                session.reset_transaction();
                reply(io, &format!("250 {SERVER_NAME}")).await?;
                Next::Continue
            }
            "STARTTLS" => {
                if server.mode != TlsMode::StartTls || session.tls {
                    reply(io, "502 5.5.1 STARTTLS not available").await?;
                    Next::Continue
                } else {
                    reply(io, "220 2.0.0 ready to start TLS").await?;
                    Next::StartTls
                }
            }
            "AUTH" => auth(io, server, session, arg).await?,
            "MAIL" => mail(io, server, session, arg).await?,
            "RCPT" => rcpt(io, server, session, arg).await?,
            "DATA" => data(io, server, session).await?,
            "RSET" => {
                session.reset_transaction();
                reply(io, "250 2.0.0 OK").await?;
                Next::Continue
            }
            "NOOP" => {
                reply(io, "250 2.0.0 OK").await?;
                Next::Continue
            }
            "VRFY" => {
                reply(io, "252 2.5.0 cannot verify, will attempt delivery").await?;
                Next::Continue
            }
            "QUIT" => {
                reply(io, "221 2.0.0 bye").await?;
                Next::Close
            }
            _ => {
                reply(io, "502 5.5.2 command not recognised").await?;
                Next::Continue
            }
        };
        match next {
            Next::Continue => {}
            other => return Ok(other),
        }
    }
}

async fn ehlo(io: &mut BufReader<Box<dyn Io>>, server: &Server, session: &mut Session, client: &str) -> io::Result<Next> {
    session.greeted = true;
    session.reset_transaction();
    let mut lines = vec![
        format!("{SERVER_NAME} greets {client}"),
        "8BITMIME".to_owned(),
        "SMTPUTF8".to_owned(),
        "ENHANCEDSTATUSCODES".to_owned(),
        format!("SIZE {MAX_MESSAGE_BYTES}"),
    ];
    if server.mode == TlsMode::StartTls && !session.tls {
        lines.push("STARTTLS".to_owned());
    }
    // AUTH is offered once the channel is as protected as this mode gets:
    // after STARTTLS, at once with implicit TLS, and in the clear for
    // PlainOnly (so a careless client would actually send its password).
    let protected = session.tls || server.mode == TlsMode::PlainOnly;
    if server.credentials.is_some() && protected && session.user.is_none() {
        lines.push("AUTH PLAIN LOGIN".to_owned());
    }
    let last = lines.len() - 1;
    let mut text = String::new();
    for (i, l) in lines.iter().enumerate() {
        let sep = if i == last { ' ' } else { '-' };
        text.push_str(&format!("250{sep}{l}\r\n"));
    }
    io.get_mut().write_all(text.as_bytes()).await?;
    io.get_mut().flush().await?;
    Ok(Next::Continue)
}

async fn auth(io: &mut BufReader<Box<dyn Io>>, server: &Server, session: &mut Session, arg: &str) -> io::Result<Next> {
    let Some((user, password)) = &server.credentials else {
        reply(io, "502 5.5.1 AUTH not available").await?;
        return Ok(Next::Continue);
    };
    if !session.tls && server.mode != TlsMode::PlainOnly {
        reply(io, "538 5.7.11 encryption required for requested authentication mechanism").await?;
        return Ok(Next::Continue);
    }
    if session.user.is_some() {
        reply(io, "503 5.5.1 already authenticated").await?;
        return Ok(Next::Continue);
    }
    let (mechanism, initial) = match arg.split_once(' ') {
        Some((m, i)) => (m.to_ascii_uppercase(), Some(i.trim().to_owned())),
        None => (arg.to_ascii_uppercase(), None),
    };
    let offered = match mechanism.as_str() {
        "PLAIN" => {
            let response = match initial {
                Some(i) => i,
                None => match challenge(io, "").await? {
                    Some(r) => r,
                    None => return cancelled(io).await,
                },
            };
            decode_plain(&response)
        }
        "LOGIN" => {
            let name = match initial {
                Some(i) => Some(i),
                None => challenge(io, "VXNlcm5hbWU6").await?,
            };
            let Some(name) = name else {
                return cancelled(io).await;
            };
            let Some(pass) = challenge(io, "UGFzc3dvcmQ6").await? else {
                return cancelled(io).await;
            };
            match (decode_text(&name), decode_text(&pass)) {
                (Some(n), Some(p)) => Some((n, p)),
                _ => None,
            }
        }
        _ => {
            reply(io, "504 5.5.4 unrecognised authentication mechanism").await?;
            return Ok(Next::Continue);
        }
    };
    let accepted = server.behaviour() != Behaviour::RejectAuth && offered.as_ref().is_some_and(|(u, p)| u == user && p == password);
    if accepted {
        session.user = offered.map(|(u, _)| u);
        reply(io, "235 2.7.0 authentication successful").await?;
    } else {
        reply(io, "535 5.7.8 authentication credentials invalid").await?;
    }
    Ok(Next::Continue)
}

/// Sends a 334 challenge and reads the answer; `None` when the client
/// cancels with `*` or hangs up.
async fn challenge(io: &mut BufReader<Box<dyn Io>>, prompt: &str) -> io::Result<Option<String>> {
    reply(io, &format!("334 {prompt}")).await?;
    let Some(line) = read_line(io).await? else {
        return Ok(None);
    };
    let line = String::from_utf8_lossy(&line).trim().to_owned();
    Ok(if line == "*" { None } else { Some(line) })
}

async fn cancelled(io: &mut BufReader<Box<dyn Io>>) -> io::Result<Next> {
    reply(io, "501 5.7.0 authentication cancelled").await?;
    Ok(Next::Continue)
}

fn decode_text(b64: &str) -> Option<String> {
    String::from_utf8(BASE64.decode(b64.as_bytes()).ok()?).ok()
}

/// RFC 4616: `authzid NUL authcid NUL passwd`.
fn decode_plain(b64: &str) -> Option<(String, String)> {
    let text = decode_text(b64)?;
    let mut fields = text.split('\0');
    let _authzid = fields.next()?;
    let user = fields.next()?;
    let pass = fields.next()?;
    if fields.next().is_some() {
        return None;
    }
    Some((user.to_owned(), pass.to_owned()))
}

/// The path in `FROM:<path> params` / `TO:<path> params`.
fn path_argument(arg: &str, keyword: &str) -> Option<String> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_owned())
}

async fn mail(io: &mut BufReader<Box<dyn Io>>, server: &Server, session: &mut Session, arg: &str) -> io::Result<Next> {
    if !session.greeted {
        reply(io, "503 5.5.1 say EHLO first").await?;
    } else if server.credentials.is_some() && session.user.is_none() {
        reply(io, "530 5.7.0 authentication required").await?;
    } else if session.mail_from.is_some() {
        reply(io, "503 5.5.1 nested MAIL command").await?;
    } else {
        match path_argument(arg, "FROM:") {
            Some(path) => {
                session.mail_from = Some(path);
                reply(io, "250 2.1.0 OK").await?;
            }
            None => reply(io, "501 5.5.4 syntax: MAIL FROM:<address>").await?,
        }
    }
    Ok(Next::Continue)
}

async fn rcpt(io: &mut BufReader<Box<dyn Io>>, server: &Server, session: &mut Session, arg: &str) -> io::Result<Next> {
    if session.mail_from.is_none() {
        reply(io, "503 5.5.1 need MAIL before RCPT").await?;
        return Ok(Next::Continue);
    }
    let Some(path) = path_argument(arg, "TO:").filter(|p| !p.is_empty()) else {
        reply(io, "501 5.5.4 syntax: RCPT TO:<address>").await?;
        return Ok(Next::Continue);
    };
    if server.behaviour() == Behaviour::PermFailRcpt {
        reply(io, "550 5.1.1 mailbox unavailable").await?;
    } else {
        session.rcpt_to.push(path);
        reply(io, "250 2.1.5 OK").await?;
    }
    Ok(Next::Continue)
}

async fn data(io: &mut BufReader<Box<dyn Io>>, server: &Server, session: &mut Session) -> io::Result<Next> {
    let Some(mail_from) = session.mail_from.clone() else {
        reply(io, "503 5.5.1 need MAIL before DATA").await?;
        return Ok(Next::Continue);
    };
    if session.rcpt_to.is_empty() {
        reply(io, "554 5.5.1 no valid recipients").await?;
        return Ok(Next::Continue);
    }
    reply(io, "354 end data with <CR><LF>.<CR><LF>").await?;
    let mut message = Vec::new();
    let mut too_large = false;
    let mut at_line_start = true;
    loop {
        // Bounded reads: a line without an end cannot grow a buffer forever.
        let mut chunk = Vec::new();
        let read = tokio::time::timeout(IDLE_TIMEOUT, (&mut *io).take(DATA_CHUNK).read_until(b'\n', &mut chunk))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "idle in DATA"))??;
        if read == 0 {
            // The client hung up before the terminating dot: nothing was sent.
            return Ok(Next::Close);
        }
        if at_line_start && (chunk == b".\r\n" || chunk == b".\n") {
            break;
        }
        // RFC 5321 §4.5.2: a leading dot was doubled by the client.
        let content = if at_line_start && chunk.starts_with(b"..") { &chunk[1..] } else { &chunk[..] };
        at_line_start = chunk.ends_with(b"\n");
        if message.len() + content.len() > MAX_MESSAGE_BYTES {
            too_large = true;
        } else {
            message.extend_from_slice(content);
        }
    }
    let rcpt_to = std::mem::take(&mut session.rcpt_to);
    session.mail_from = None;
    if too_large {
        reply(io, "552 5.3.4 message too big").await?;
        return Ok(Next::Continue);
    }
    let received = Received { mail_from, rcpt_to, data: message, tls: session.tls, authenticated_as: session.user.clone() };
    match server.behaviour() {
        Behaviour::TempFailData => {
            reply(io, "451 4.3.0 temporary failure, try again later").await?;
            Ok(Next::Continue)
        }
        Behaviour::DropAfterData => {
            lock(&server.state.messages).push(received);
            // No reply at all: the connection just ends.
            let _ = io.get_mut().shutdown().await;
            Ok(Next::Close)
        }
        Behaviour::HangAfterData => {
            lock(&server.state.messages).push(received);
            // Swallow whatever comes until the client hangs up (or the idle
            // timeout ends the connection).
            let mut sink = tokio::io::sink();
            let _ = tokio::time::timeout(IDLE_TIMEOUT, tokio::io::copy(io, &mut sink)).await;
            Ok(Next::Close)
        }
        Behaviour::Accept | Behaviour::PermFailRcpt | Behaviour::RejectAuth => {
            let id = {
                let mut messages = lock(&server.state.messages);
                messages.push(received);
                messages.len()
            };
            reply(io, &format!("250 2.0.0 OK queued as {id}")).await?;
            Ok(Next::Continue)
        }
    }
}

/// One command line without its line ending; `None` at end of stream. Lines
/// over the limit are answered with 500 and skipped.
async fn read_line(io: &mut BufReader<Box<dyn Io>>) -> io::Result<Option<Vec<u8>>> {
    loop {
        let mut line = Vec::new();
        let read = tokio::time::timeout(IDLE_TIMEOUT, (&mut *io).take(MAX_COMMAND_LINE as u64).read_until(b'\n', &mut line))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "idle connection"))??;
        if read == 0 {
            return Ok(None);
        }
        if !line.ends_with(b"\n") {
            // Over-long: drain the rest of the line in bounded pieces, then complain.
            loop {
                let mut rest = Vec::new();
                let n = (&mut *io).take(MAX_COMMAND_LINE as u64).read_until(b'\n', &mut rest).await?;
                if n == 0 || rest.ends_with(b"\n") {
                    break;
                }
            }
            reply(io, "500 5.5.6 line too long").await?;
            continue;
        }
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        return Ok(Some(line));
    }
}

async fn reply(io: &mut BufReader<Box<dyn Io>>, text: &str) -> io::Result<()> {
    let stream = io.get_mut();
    stream.write_all(text.as_bytes()).await?;
    stream.write_all(b"\r\n").await?;
    stream.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_paths_decode() {
        let b64 = BASE64.encode(b"\0ann\0s3cret");
        assert_eq!(decode_plain(&b64), Some(("ann".to_owned(), "s3cret".to_owned())));
        assert_eq!(decode_plain("!!"), None);
        assert_eq!(path_argument("FROM:<a@b.example> SIZE=10", "FROM:"), Some("a@b.example".to_owned()));
        assert_eq!(path_argument("from: <>", "FROM:"), Some(String::new()));
        assert_eq!(path_argument("TO:a@b", "TO:"), None);
    }

    #[test]
    fn options_debug_hides_the_password() {
        let options = SinkOptions { mode: TlsMode::StartTls, credentials: Some(("ann".into(), "hunter2".into())) };
        let shown = format!("{options:?}");
        assert!(shown.contains("ann") && !shown.contains("hunter2"), "{shown}");
    }
}
