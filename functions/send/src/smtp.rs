//! The SMTP client for mailboxes a workspace connects (its own SMTP server).
//!
//! The server is the workspace's choice, so it is outside input twice over:
//! its host must not steer us into our own network, and its answers decide
//! whether a lead gets one message, none or two. Hence:
//!
//! - **SSRF guard.** The host goes through [`check_mail_host_with`] (ports
//!   25/465/587 only, no private, loopback or metadata literals, no local
//!   names); a name is resolved once through the [`GuardedResolver`], which
//!   drops forbidden answers, and the TCP connection goes to those checked
//!   addresses — there is no second lookup a rebinding DNS server could answer
//!   differently. TLS still verifies the certificate against the configured
//!   host name (SNI = name), or against the IP for an IP literal.
//! - **TLS or nothing.** [`SmtpSecurity`] has no plaintext option; a server
//!   that does not offer STARTTLS is refused before AUTH or MAIL, so neither
//!   the password nor the message is ever sent in the clear. Bare CR or LF in
//!   the message is refused too: they are how SMTP smuggling starts.
//! - **Exactly once.** Failures are split by *when* they happened.
//!   Everything before the server accepted `DATA` (354) means the message was
//!   not transmitted: a 4xx or an I/O failure there is [`SmtpError::Transient`]
//!   (retry), a 5xx [`SmtpError::Permanent`]. After the data went out, only an
//!   explicit reply decides: 250 is accepted, 4xx transient, 5xx permanent, and
//!   anything else — connection lost, timeout, a garbled reply — is
//!   [`SmtpError::Ambiguous`]: the server may have queued it, so the caller
//!   must reconcile (by the Message-ID) instead of retrying.
//! - **No secrets in errors.** The password lives in a [`SecretString`];
//!   every error text is scrubbed of it (and of its base64 forms) before it
//!   leaves this module, in case a server echoes what it was sent.
//!
//! One [`SmtpClient::send`] is one connection: connect, TLS, AUTH, one
//! transaction, QUIT. Mailbox volumes are small and Lambdas short-lived, so a
//! connection pool would only add stale-connection cases to reason about.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use data_encoding::BASE64;
use lettre::Address;
use lettre::transport::smtp::Error as LettreError;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use serde::{Deserialize, Serialize};
use tern_security::secret::SecretString;
use tern_web::Policy;
use tern_web::fetch::{GuardedResolver, HostResolver, ResolveError};
use tern_web::guard::{CheckedHost, Refusal, check_mail_host_with};

/// Default time allowed for each step (connect and TLS, each command, the
/// message data and its reply).
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a polite QUIT may take before the connection is just dropped.
const QUIT_TIMEOUT: Duration = Duration::from_secs(2);

/// How the connection to the server is protected. There is deliberately no
/// plaintext variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain connect, then STARTTLS (RFC 3207) before anything else; port 587
    /// (or 25).
    StartTls,
    /// TLS from the first byte (RFC 8314); port 465.
    ImplicitTls,
}

/// A connected mailbox's SMTP settings. `Debug` shows the password as
/// `[redacted]`.
#[derive(Debug, Clone)]
pub struct SmtpAccount {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: String,
    pub password: SecretString,
}

/// The server took responsibility for the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The final reply after the data (e.g. `250 2.0.0 Ok: queued as
    /// 4F1A2B`): servers often name their queue id there, which helps when a
    /// send has to be traced later.
    pub reply: String,
}

/// Why a send or an account check failed. Messages name the server and the
/// step, never the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtpError {
    /// The SSRF guard refused the host, port or every address it resolved to.
    #[error("refused by the SSRF guard: {0}")]
    Refused(Refusal),
    /// Will not work on retry: a 5xx reply, failed authentication, no TLS
    /// offered, an untrusted certificate, an invalid address.
    #[error("permanent SMTP failure: {0}")]
    Permanent(String),
    /// Nothing was delivered and a later attempt may work: a 4xx reply, a
    /// DNS or connection failure, a timeout before the message data was sent.
    #[error("temporary SMTP failure: {0}")]
    Transient(String),
    /// The message data was sent but the final reply never came (connection
    /// lost, timeout, unreadable reply): it may have been delivered. Do not
    /// retry blindly; reconcile by Message-ID.
    #[error("SMTP outcome unknown: {0}")]
    Ambiguous(String),
}

/// Sends through workspace-configured SMTP servers. Cheap to clone; build one
/// per process.
#[derive(Clone)]
pub struct SmtpClient {
    policy: Policy,
    resolver: GuardedResolver,
    extra_roots: Vec<Vec<u8>>,
    step_timeout: Duration,
}

impl std::fmt::Debug for SmtpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpClient")
            .field("policy", &self.policy)
            .field("extra_roots", &self.extra_roots.len())
            .field("step_timeout", &self.step_timeout)
            .finish_non_exhaustive()
    }
}

/// Where one connection goes, after the guard.
struct Target {
    /// `host:port` as configured, for messages.
    label: String,
    /// What the certificate must be valid for (the name, or the IP literal).
    tls_name: String,
    /// The checked addresses, tried in order.
    addrs: Vec<SocketAddr>,
}

impl SmtpClient {
    /// Production: `SmtpClient::new(Policy::mail(), Arc::new(SystemResolver))`.
    pub fn new(policy: Policy, resolver: Arc<dyn HostResolver>) -> Self {
        Self {
            resolver: GuardedResolver::new(resolver, policy.clone()),
            policy,
            extra_roots: Vec::new(),
            step_timeout: DEFAULT_STEP_TIMEOUT,
        }
    }

    /// Also trusts this (DER) certificate as a root, besides the Mozilla
    /// roots. Tests trust the mail sink's self-signed certificate with it;
    /// production never calls it.
    pub fn with_extra_root(mut self, der: Vec<u8>) -> Self {
        self.extra_roots.push(der);
        self
    }

    /// Time allowed for each step; see [`DEFAULT_STEP_TIMEOUT`].
    pub fn with_timeout(mut self, d: Duration) -> Self {
        self.step_timeout = d;
        self
    }

    /// Sends `raw` (a complete RFC 5322 message with CRLF line endings, as
    /// `tern_mail::compose` makes it) from `envelope_from` to `recipients`.
    /// Any recipient refused fails the whole send before the data is sent.
    pub async fn send(&self, account: &SmtpAccount, envelope_from: &str, recipients: &[String], raw: &[u8]) -> Result<Accepted, SmtpError> {
        let scrub = Scrubber::new(account);
        self.send_inner(account, envelope_from, recipients, raw).await.map_err(|e| scrub.error(e))
    }

    /// Connects, negotiates TLS and authenticates, then quits: what
    /// connecting a mailbox checks before its settings are saved.
    pub async fn check_account(&self, account: &SmtpAccount) -> Result<(), SmtpError> {
        let scrub = Scrubber::new(account);
        let result = async {
            let hello = hello_name(&account.username);
            let mut conn = self.open(account, &hello).await?;
            self.quit(&mut conn).await;
            Ok(())
        }
        .await;
        result.map_err(|e| scrub.error(e))
    }

    async fn send_inner(
        &self,
        account: &SmtpAccount,
        envelope_from: &str,
        recipients: &[String],
        raw: &[u8],
    ) -> Result<Accepted, SmtpError> {
        // Checked before connecting: a message we would refuse must not cost
        // the server a connection or us a login.
        check_line_endings(raw)?;
        let from: Address = envelope_from.parse().map_err(|_| permanent(format!("invalid envelope sender {envelope_from:?}")))?;
        if recipients.is_empty() {
            return Err(permanent("no recipients".to_owned()));
        }
        let to = recipients
            .iter()
            .map(|r| r.parse::<Address>().map_err(|_| permanent(format!("invalid recipient {r:?}"))))
            .collect::<Result<Vec<_>, _>>()?;

        let hello = hello_name(envelope_from);
        let mut conn = self.open(account, &hello).await?;
        let label = format!("{}:{}", account.host, account.port);

        let mut params = Vec::new();
        if !raw.is_ascii() {
            if !conn.server_info().supports_feature(Extension::EightBitMime) {
                self.quit(&mut conn).await;
                return Err(permanent(format!("{label}: the message has 8-bit content and the server lacks 8BITMIME")));
            }
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let utf8_envelope = !envelope_from.is_ascii() || recipients.iter().any(|r| !r.is_ascii());
        if utf8_envelope {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                self.quit(&mut conn).await;
                return Err(permanent(format!("{label}: non-ASCII addresses and the server lacks SMTPUTF8")));
            }
            params.push(MailParameter::SmtpUtfEight);
        }

        // Before the data: nothing has been transmitted, so an I/O failure is
        // as retryable as a 4xx.
        let step = |what: &str| format!("{label}: {what}");
        self.command(&mut conn, Mail::new(Some(from), params), &step("MAIL FROM")).await?;
        for recipient in to {
            self.command(&mut conn, Rcpt::new(recipient, vec![]), &step("RCPT TO")).await?;
        }
        self.command(&mut conn, Data, &step("DATA")).await?;

        // lettre ends the data with CRLF "." CRLF; the message's own final
        // CRLF is that first CRLF, so it is not doubled.
        let body = raw.strip_suffix(b"\r\n").unwrap_or(raw);
        let reply = match tokio::time::timeout(self.step_timeout, conn.message(body)).await {
            Err(_) => {
                return Err(SmtpError::Ambiguous(format!(
                    "{label}: no reply within {:?} after the message data was sent",
                    self.step_timeout
                )));
            }
            Ok(Err(e)) if e.is_transient() => {
                self.quit(&mut conn).await;
                return Err(SmtpError::Transient(format!("{label}: after the data: {e}")));
            }
            Ok(Err(e)) if e.is_permanent() => {
                self.quit(&mut conn).await;
                return Err(permanent(format!("{label}: after the data: {e}")));
            }
            // Lost connection, reset, an unreadable reply, or a write that
            // failed part-way: from here we cannot tell what the server kept.
            Ok(Err(e)) => {
                return Err(SmtpError::Ambiguous(format!("{label}: the connection failed after the message data was sent: {e}")));
            }
            Ok(Ok(reply)) => reply,
        };
        let text = format!("{} {}", reply.code(), reply.message().collect::<Vec<_>>().join(" "));
        self.quit(&mut conn).await;
        Ok(Accepted { reply: text })
    }

    /// Guard, connect (pinned), TLS, EHLO, AUTH: a connection ready for MAIL.
    async fn open(&self, account: &SmtpAccount, hello: &ClientId) -> Result<AsyncSmtpConnection, SmtpError> {
        let target = self.target(account).await?;
        let label = &target.label;
        let tls = self.tls_parameters(&target)?;
        let implicit = match account.security {
            SmtpSecurity::ImplicitTls => Some(tls.clone()),
            SmtpSecurity::StartTls => None,
        };
        let connect = AsyncSmtpConnection::connect_tokio1(target.addrs.as_slice(), Some(self.step_timeout), hello, implicit, None);
        let mut conn = match tokio::time::timeout(self.step_timeout, connect).await {
            Err(_) => {
                return Err(SmtpError::Transient(format!(
                    "{label}: no greeting within {:?} (if the port expects implicit TLS, \
                     choose that instead of STARTTLS)",
                    self.step_timeout
                )));
            }
            Ok(Err(e)) => return Err(classify_setup(label, "connecting", &e)),
            Ok(Ok(conn)) => conn,
        };

        if account.security == SmtpSecurity::StartTls {
            if !conn.can_starttls() {
                // Not even a QUIT: nothing more goes over this channel.
                return Err(permanent(format!(
                    "{label}: the server does not offer STARTTLS; refusing to authenticate or send in the clear"
                )));
            }
            match tokio::time::timeout(self.step_timeout, conn.starttls(tls, hello)).await {
                Err(_) => {
                    return Err(SmtpError::Transient(format!("{label}: STARTTLS did not complete within {:?}", self.step_timeout)));
                }
                Ok(Err(e)) => return Err(classify_setup(label, "STARTTLS", &e)),
                Ok(Ok(())) => {}
            }
        }
        if !conn.is_encrypted() {
            return Err(permanent(format!("{label}: the connection is not encrypted")));
        }

        let credentials = Credentials::new(account.username.clone(), account.password.expose().clone());
        let auth = conn.auth(&[Mechanism::Plain, Mechanism::Login], &credentials);
        match tokio::time::timeout(self.step_timeout, auth).await {
            Err(_) => Err(SmtpError::Transient(format!("{label}: authentication did not complete within {:?}", self.step_timeout))),
            Ok(Err(e)) if e.is_transient() => Err(SmtpError::Transient(format!("{label}: authentication failed temporarily: {e}"))),
            Ok(Err(e)) if e.is_permanent() => {
                Err(permanent(format!("{label}: authentication failed for user {:?}: {e}", account.username)))
            }
            Ok(Err(e)) if e.is_client() => Err(permanent(format!("{label}: the server offers neither AUTH PLAIN nor AUTH LOGIN: {e}"))),
            Ok(Err(e)) => Err(SmtpError::Transient(format!("{label}: connection failed during authentication: {e}"))),
            Ok(Ok(_)) => Ok(conn),
        }
    }

    /// The guard's verdict on the configured host, resolved once.
    async fn target(&self, account: &SmtpAccount) -> Result<Target, SmtpError> {
        let checked = check_mail_host_with(&account.host, account.port, &self.policy).map_err(SmtpError::Refused)?;
        let label = format!("{}:{}", account.host.trim(), account.port);
        let (tls_name, ips): (String, Vec<IpAddr>) = match checked {
            CheckedHost::Ip(ip) => (ip.to_string(), vec![ip]),
            CheckedHost::Domain(name) => {
                let ips = self.resolver.resolve(&name).await.map_err(|e| match e {
                    ResolveError::Refused(r) => SmtpError::Refused(r),
                    ResolveError::Dns(reason) => SmtpError::Transient(format!("{label}: DNS lookup failed: {reason}")),
                })?;
                (name, ips)
            }
        };
        let addrs = ips.into_iter().map(|ip| SocketAddr::new(ip, account.port)).collect();
        Ok(Target { label, tls_name, addrs })
    }

    fn tls_parameters(&self, target: &Target) -> Result<TlsParameters, SmtpError> {
        let mut builder = TlsParameters::builder(target.tls_name.clone());
        for der in &self.extra_roots {
            let cert = Certificate::from_der(der.clone()).map_err(|e| permanent(format!("extra root certificate: {e}")))?;
            builder = builder.add_root_certificate(cert);
        }
        builder.build().map_err(|e| permanent(format!("{}: TLS setup: {e}", target.label)))
    }

    /// One command before the data: 4xx and I/O failures are transient
    /// (nothing was transmitted), 5xx permanent.
    async fn command<C: std::fmt::Display>(&self, conn: &mut AsyncSmtpConnection, command: C, what: &str) -> Result<(), SmtpError> {
        match tokio::time::timeout(self.step_timeout, conn.command(command)).await {
            Err(_) => Err(SmtpError::Transient(format!("{what}: no reply within {:?}", self.step_timeout))),
            Ok(Err(e)) if e.is_permanent() => {
                self.quit(conn).await;
                Err(permanent(format!("{what}: {e}")))
            }
            Ok(Err(e)) if e.is_transient() => {
                self.quit(conn).await;
                Err(SmtpError::Transient(format!("{what}: {e}")))
            }
            Ok(Err(e)) => Err(SmtpError::Transient(format!("{what}: {e}"))),
            Ok(Ok(_)) => Ok(()),
        }
    }

    /// A polite, bounded QUIT; its outcome changes nothing.
    async fn quit(&self, conn: &mut AsyncSmtpConnection) {
        let _ = tokio::time::timeout(QUIT_TIMEOUT.min(self.step_timeout), conn.quit()).await;
    }
}

fn permanent(message: String) -> SmtpError {
    SmtpError::Permanent(message)
}

/// The EHLO name: the sending domain (what a receiving server can check),
/// or `localhost` when there is none.
fn hello_name(address: &str) -> ClientId {
    match address.rsplit_once('@') {
        Some((_, domain)) if !domain.is_empty() && domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') => {
            ClientId::Domain(domain.to_ascii_lowercase())
        }
        _ => ClientId::Domain("localhost".to_owned()),
    }
}

/// Refuses bare CR or LF: every line must end in CRLF, or a server that reads
/// line endings differently from us could see a different message end (SMTP
/// smuggling).
fn check_line_endings(raw: &[u8]) -> Result<(), SmtpError> {
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' if raw.get(i + 1) == Some(&b'\n') => i += 2,
            b'\r' | b'\n' => {
                return Err(permanent(format!("the message has a bare CR or LF at byte {i}; lines must end in CRLF")));
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Maps a failure while connecting or negotiating TLS (no data sent yet).
fn classify_setup(label: &str, what: &str, e: &LettreError) -> SmtpError {
    if let Some(tls) = rustls_error(e) {
        // Certificate and protocol mismatches are configuration problems
        // that a retry will not fix; anything else in TLS may be a glitch.
        return match tls {
            rustls::Error::InvalidCertificate(_)
            | rustls::Error::PeerIncompatible(_)
            | rustls::Error::NoCertificatesPresented
            | rustls::Error::UnsupportedNameType => permanent(format!("{label}: {what}: TLS verification failed: {tls}")),
            // What a plain SMTP greeting looks like to a TLS client.
            rustls::Error::InvalidMessage(_) if what == "connecting" => permanent(format!(
                "{label}: {what}: the server does not speak TLS on this port \
                 (does it expect STARTTLS instead of implicit TLS?): {tls}"
            )),
            _ => SmtpError::Transient(format!("{label}: {what}: TLS failed: {tls}")),
        };
    }
    if e.is_permanent() {
        return permanent(format!("{label}: {what}: {e}"));
    }
    SmtpError::Transient(format!("{label}: {what}: {e}"))
}

/// The rustls error inside a lettre error, if the failure was TLS's.
/// tokio-rustls reports handshake failures as `io::Error`s wrapping it.
fn rustls_error(e: &LettreError) -> Option<&rustls::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = source {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(tls) = inner.downcast_ref::<rustls::Error>()
        {
            return Some(tls);
        }
        source = err.source();
    }
    None
}

/// Removes the password (as written and in the base64 forms AUTH PLAIN and
/// LOGIN send) from error texts, in case a server echoed it back.
struct Scrubber {
    needles: Vec<String>,
}

impl Scrubber {
    fn new(account: &SmtpAccount) -> Self {
        let password = account.password.expose();
        let mut needles = Vec::new();
        if !password.is_empty() {
            needles.push(password.clone());
            needles.push(BASE64.encode(password.as_bytes()));
            let plain = format!("\0{}\0{password}", account.username);
            needles.push(BASE64.encode(plain.as_bytes()));
        }
        Self { needles }
    }

    fn text(&self, text: String) -> String {
        let mut text = text;
        for needle in &self.needles {
            if text.contains(needle.as_str()) {
                text = text.replace(needle.as_str(), tern_security::secret::REDACTED);
            }
        }
        text
    }

    fn error(&self, e: SmtpError) -> SmtpError {
        match e {
            SmtpError::Refused(r) => SmtpError::Refused(r),
            SmtpError::Permanent(m) => SmtpError::Permanent(self.text(m)),
            SmtpError::Transient(m) => SmtpError::Transient(self.text(m)),
            SmtpError::Ambiguous(m) => SmtpError::Ambiguous(self.text(m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_line_endings_are_refused() {
        assert!(check_line_endings(b"a\r\nb\r\n").is_ok());
        assert!(check_line_endings(b"").is_ok());
        assert!(check_line_endings(b"a\nb").is_err());
        assert!(check_line_endings(b"a\rb").is_err());
        assert!(check_line_endings(b"a\r\n.\n").is_err());
        assert!(check_line_endings(b"a\r").is_err());
    }

    #[test]
    fn scrubber_removes_every_form_of_the_password() {
        let account = SmtpAccount {
            host: "smtp.example.com".into(),
            port: 587,
            security: SmtpSecurity::StartTls,
            username: "ann".into(),
            password: "hunter2-planted".into(),
        };
        let s = Scrubber::new(&account);
        let plain = BASE64.encode(b"\0ann\0hunter2-planted");
        let login = BASE64.encode(b"hunter2-planted");
        let out = s.text(format!("535 bad: hunter2-planted {plain} {login}"));
        assert!(!out.contains("hunter2"), "{out}");
        assert!(!out.contains(&plain) && !out.contains(&login), "{out}");
        assert!(!format!("{account:?}").contains("hunter2"));
    }

    #[test]
    fn security_serialises_snake_case() {
        assert_eq!(serde_json::to_string(&SmtpSecurity::ImplicitTls).unwrap(), "\"implicit_tls\"");
        assert_eq!(serde_json::from_str::<SmtpSecurity>("\"start_tls\"").unwrap(), SmtpSecurity::StartTls);
        assert!(serde_json::from_str::<SmtpSecurity>("\"none\"").is_err());
    }

    #[test]
    fn hello_name_is_the_sending_domain() {
        assert_eq!(hello_name("ann@Sender.Example"), ClientId::Domain("sender.example".into()));
        assert_eq!(hello_name("ann"), ClientId::Domain("localhost".into()));
        assert_eq!(hello_name("ann@bad domain\r\n"), ClientId::Domain("localhost".into()));
    }
}
