//! The two ways a message leaves: SES (SendRawEmail) and the customer's own SMTP
//! server. Both answer in the same four outcomes, which is all the claim protocol
//! needs to know.

use crate::SendDeps;
use crate::smtp::{SmtpAccount, SmtpError};
use tern_aws::entities::Workspace;
use tern_aws::outreach::{Mailbox, MailboxProvider, SmtpSecurity};
use tern_aws::outreach::{SMTP_PASSWORD_PURPOSE, smtp_password_identity};
use tern_mail::compose::Address;

/// What the provider said.
#[derive(Debug)]
pub enum Outcome {
    Accepted {
        provider_message_id: Option<String>,
    },
    /// Not sent; worth trying again later (throttling, 4xx, connection refused).
    Transient(String),
    /// Not sent and never will be as it stands (5xx, unverified sender, bad credentials).
    Permanent(String),
    /// Handed over, but the answer was lost: it may or may not have been sent.
    Unknown(String),
}

pub enum Provider {
    Ses {
        /// The From domain: the workspace's verified domain, or the platform's.
        domain: String,
        platform: bool,
    },
    Smtp {
        workspace: String,
        mailbox_id: String,
        host: String,
        port: u16,
        security: SmtpSecurity,
        username: String,
        password: tern_aws::sealing::SealedValue,
        domain: String,
    },
}

impl Provider {
    /// Picks how `mailbox` sends for `workspace`'s plan; `Err` says why it cannot.
    pub fn for_mailbox(deps: &SendDeps, workspace: &Workspace, mailbox: &Mailbox) -> Result<Provider, String> {
        let from_domain = mailbox.from_email.rsplit('@').next().unwrap_or_default().to_string();
        match &mailbox.provider {
            MailboxProvider::Ses => {
                let own = workspace.sending_domain.as_ref().filter(|d| workspace.plan.may_use_custom_domain() && **d == from_domain);
                match own {
                    Some(domain) => Ok(Provider::Ses { domain: domain.clone(), platform: false }),
                    None => {
                        let platform = deps
                            .platform
                            .config()
                            .sending_domain
                            .clone()
                            .ok_or("no platform sending domain is configured (TERN_SENDING_DOMAIN)")?;
                        Ok(Provider::Ses { domain: platform, platform: true })
                    }
                }
            }
            MailboxProvider::Smtp { host, port, security, username, password } => Ok(Provider::Smtp {
                workspace: workspace.id.clone(),
                mailbox_id: mailbox.id.clone(),
                host: host.clone(),
                port: *port,
                security: *security,
                username: username.clone(),
                password: password.clone(),
                domain: from_domain,
            }),
        }
    }

    pub fn from_domain(&self) -> &str {
        match self {
            Provider::Ses { domain, .. } | Provider::Smtp { domain, .. } => domain,
        }
    }

    /// Sending from the platform's shared domain (with its footer line).
    pub fn platform_domain(&self) -> bool {
        matches!(self, Provider::Ses { platform: true, .. })
    }

    /// From and Reply-To. On the platform's domain the From is a per-mailbox
    /// address there and replies go to the person's own address.
    pub fn addresses(&self, mailbox: &Mailbox) -> (Address, Option<Address>) {
        let reply_to = mailbox.reply_to.clone().map(|email| Address { name: mailbox.from_name.clone(), email });
        match self {
            Provider::Ses { domain, platform: true } => {
                let local: String = mailbox.id.chars().filter(|c| c.is_ascii_alphanumeric()).take(32).collect();
                let from = Address { name: mailbox.from_name.clone(), email: format!("m-{local}@{domain}") };
                let reply_to = reply_to.or_else(|| Some(Address { name: mailbox.from_name.clone(), email: mailbox.from_email.clone() }));
                (from, reply_to)
            }
            _ => (Address { name: mailbox.from_name.clone(), email: mailbox.from_email.clone() }, reply_to),
        }
    }

    /// Hands the message over. `workspace` and `enrollment` tag SES mail, so its
    /// bounce and complaint events find their way back.
    pub async fn send(
        &self,
        deps: &SendDeps,
        raw: &[u8],
        envelope_from: &str,
        recipient: &str,
        workspace: &str,
        enrollment: &str,
    ) -> Outcome {
        match self {
            Provider::Ses { .. } => send_ses(deps, raw, envelope_from, recipient, workspace, enrollment).await,
            Provider::Smtp { workspace, mailbox_id, host, port, security, username, password, .. } => {
                let Ok(ws) = tern_domain::ids::WorkspaceId::parse(workspace) else {
                    return Outcome::Permanent("invalid workspace id".into());
                };
                let identity = smtp_password_identity(workspace, mailbox_id);
                // Opened here, used for this one conversation, zeroed when dropped.
                let opened = match deps.platform.sealer().open(ws, SMTP_PASSWORD_PURPOSE, &identity, password).await {
                    Ok(opened) => opened,
                    Err(tern_aws::sealing::SealingError::Kms(e)) => {
                        return Outcome::Transient(format!("opening the mailbox credentials: {e}"));
                    }
                    Err(e) => return Outcome::Permanent(format!("the mailbox credentials cannot be opened: {e}")),
                };
                let Ok(password) = String::from_utf8(opened.expose().clone()) else {
                    return Outcome::Permanent("the stored mailbox password is not text".into());
                };
                let account = SmtpAccount {
                    host: host.clone(),
                    port: *port,
                    security: match security {
                        SmtpSecurity::StartTls => crate::smtp::SmtpSecurity::StartTls,
                        SmtpSecurity::ImplicitTls => crate::smtp::SmtpSecurity::ImplicitTls,
                    },
                    username: username.clone(),
                    password: password.into(),
                };
                match deps.smtp.send(&account, envelope_from, &[recipient.to_string()], raw).await {
                    Ok(_) => Outcome::Accepted { provider_message_id: None },
                    Err(SmtpError::Transient(e)) => Outcome::Transient(e),
                    Err(SmtpError::Permanent(e)) => Outcome::Permanent(e),
                    Err(SmtpError::Refused(e)) => Outcome::Permanent(format!("the mail server's address is not allowed: {e}")),
                    Err(SmtpError::Ambiguous(e)) => Outcome::Unknown(e),
                }
            }
        }
    }
}

async fn send_ses(deps: &SendDeps, raw: &[u8], envelope_from: &str, _recipient: &str, workspace: &str, enrollment: &str) -> Outcome {
    use tern_aws::ses::SesError;
    let tags = [
        (tern_mail::ses::WORKSPACE_TAG, workspace.to_string()),
        (tern_mail::ses::ENROLLMENT_TAG, tern_mail::ses::enrollment_tag_value(enrollment)),
    ];
    match deps.platform.ses().send_raw(raw, envelope_from, &tags).await {
        Ok(message_id) => Outcome::Accepted { provider_message_id: Some(message_id) },
        Err(SesError::Transient(e)) => Outcome::Transient(e),
        Err(SesError::Permanent(e)) => Outcome::Permanent(e),
        Err(SesError::Unknown(e)) => Outcome::Unknown(e),
    }
}
