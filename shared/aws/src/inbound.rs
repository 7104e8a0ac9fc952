//! Taking in a received e-mail, whichever way it arrived (a CloudMailin webhook
//! in the `inbound` function, an SES receipt in the `feedback` worker): find its
//! workspace (and enrollment, when the address carries a token), keep the raw
//! message under the workspace's own key only until it is classified, record its
//! metadata with the workspace's retention, and queue classification.
//!
//! Also the per-workspace webhook credential: what a workspace's own mail
//! provider authenticates with.

use crate::Platform;
use crate::bucket::{Object, Put};
use crate::entities::Workspace;
use crate::outreach::UnsubscribeLink;
use crate::table::{Entity, StoreError};
use crate::tenant::{Lookup, Tenant};
use sha2::{Digest, Sha256};
use tern_domain::ids::{RequestId, WorkspaceId};
use tern_domain::inbound::{InboundMessage, Route, Transport, address_domain, route};
use tern_domain::jobs::ClassifyJob;

/// Where a raw message waits for classification. The bucket's lifecycle rule on
/// `inbound/` deletes anything the classify worker did not.
pub fn raw_object_key(workspace: WorkspaceId, inbound_id: &str) -> String {
    Object::InboundRaw(inbound_id).key(workspace)
}

pub use crate::bucket::SES_INBOUND_PREFIX;

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// No recipient belongs to a workspace (that exists).
    #[error("the recipient address does not belong to any workspace")]
    UnknownRecipient,
    #[error("{0}")]
    Unavailable(String),
}

impl From<StoreError> for IntakeError {
    fn from(e: StoreError) -> Self {
        IntakeError::Unavailable(e.to_string())
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Accepted {
    pub id: String,
    pub workspace_id: WorkspaceId,
}

pub struct Intake<'a> {
    platform: &'a Platform,
}

/// Where a message belongs, as its recipients say.
struct Destination {
    tenant: Tenant,
    workspace: Workspace,
    enrollment: Option<String>,
    unsubscribe: bool,
}

impl<'a> Intake<'a> {
    pub fn new(platform: &'a Platform) -> Self {
        Self { platform }
    }

    /// Takes in one message. `only` is the workspace a workspace's own webhook is
    /// for: recipients naming another workspace are then ignored. The id comes
    /// from the content, so a provider's retry of the same post is stored and
    /// classified once.
    pub async fn accept(
        &self,
        message: Vec<u8>,
        transport: Transport,
        only: Option<Tenant>,
        request_id: RequestId,
    ) -> Result<Accepted, IntakeError> {
        let destination = self.destination(&transport, only).await?.ok_or(IntakeError::UnknownRecipient)?;
        let workspace_id = destination.tenant.workspace();
        let id = content_id(workspace_id, &message);
        self.platform
            .bucket()
            .scope(destination.tenant)
            .put(
                Object::InboundRaw(&id),
                message.into(),
                Put { kms_key_id: &destination.workspace.kms_key_id, content_type: Some("message/rfc822"), content_disposition: None },
            )
            .await
            .map_err(|e| IntakeError::Unavailable(e.to_string()))?;

        let mut record = InboundMessage::received(id.clone(), self.platform.clock().now(), transport);
        record.addressed_enrollment = destination.enrollment;
        record.to_unsubscribe_address = destination.unsubscribe;
        let scoped = self.platform.table().scope(destination.tenant);
        match scoped.create(&record, Some(record.expires_at(destination.workspace.inbound_retention()))).await {
            Ok(()) | Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
        let job = ClassifyJob { workspace_id, request_id, inbound_id: id.clone() };
        self.platform.queues().send(&job).await.map_err(|e| IntakeError::Unavailable(e.to_string()))?;
        tracing::info!(workspace = %workspace_id, inbound_id = %id, provider = %record.transport.provider, "inbound mail accepted");
        Ok(Accepted { id, workspace_id })
    }

    /// The first recipient that names an existing workspace (directly, through a
    /// reply token, or through a List-Unsubscribe address) decides. Only addresses
    /// at the platform's inbound domain route: `reply+<ws>@` anywhere else is
    /// someone else's address (a forwarder, a look-alike domain), not ours.
    async fn destination(&self, transport: &Transport, only: Option<Tenant>) -> Result<Option<Destination>, IntakeError> {
        let inbound_domain = self.platform.config().inbound_domain.as_deref().map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase());
        if inbound_domain.is_none() && only.is_none() {
            tracing::error!("the inbound domain is not configured; no recipient can be routed");
        }
        let ours = |recipient: &str| inbound_domain.is_some() && address_domain(recipient) == inbound_domain;
        let recipients = std::iter::once(&transport.envelope_to).chain(transport.recipients.iter());
        for recipient in recipients.filter(|r| ours(r)) {
            let (workspace, enrollment, unsubscribe, lookup) = match route(recipient) {
                Some(Route::Unsubscribe { token }) => match self.link(&token).await? {
                    Some(link) => (link.workspace_id, Some(link.enrollment_id), true, Lookup::UnsubscribeToken),
                    None => continue,
                },
                Some(Route::Workspace { workspace, reply_token }) => {
                    let enrollment = match reply_token {
                        Some(token) => self.link(&token).await?.filter(|l| l.workspace_id == workspace).map(|l| l.enrollment_id),
                        None => None,
                    };
                    (workspace, enrollment, false, Lookup::InboundRoute)
                }
                None => continue,
            };
            let Ok(workspace_id) = WorkspaceId::parse(&workspace) else { continue };
            if only.is_some_and(|only| only.workspace() != workspace_id) {
                continue;
            }
            let tenant = Tenant::found(workspace_id, lookup);
            if let Some(found) = self.platform.table().scope(tenant).get::<Workspace>(&workspace).await? {
                return Ok(Some(Destination { tenant, workspace: found, enrollment, unsubscribe }));
            }
        }
        // A workspace's own webhook takes mail for any address it is pointed at.
        if let Some(only) = only
            && let Some(found) = self.platform.table().scope(only).get::<Workspace>(&only.to_string()).await?
        {
            return Ok(Some(Destination { tenant: only, workspace: found, enrollment: None, unsubscribe: false }));
        }
        Ok(None)
    }

    async fn link(&self, token: &str) -> Result<Option<UnsubscribeLink>, IntakeError> {
        let Ok(token) = tern_security::token::OpaqueToken::parse(token) else { return Ok(None) };
        Ok(self.platform.global().get::<UnsubscribeLink>(&token.hash().to_hex()).await?)
    }
}

fn content_id(workspace: WorkspaceId, message: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(workspace.to_string().as_bytes());
    hasher.update(message);
    data_encoding::HEXLOWER.encode(&hasher.finalize()[..16])
}

/// A workspace's credential for its own inbound webhook: HTTP basic (user name
/// and secret) or an HMAC-SHA256 signature with the same secret. The secret is
/// shown once; Tern keeps its hash for basic authentication and the secret
/// sealed under the workspace key for signatures.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct InboundWebhookCredential {
    /// Always [`InboundWebhookCredential::ID`]: one credential per workspace,
    /// replaced on rotation.
    pub id: String,
    pub username: String,
    /// `TokenHash` of the secret (an opaque token, 256 random bits, so a plain
    /// hash makes the stored value useless to a reader).
    pub secret_hash: String,
    pub sealed_secret: crate::sealing::SealedValue,
    pub created_at: i64,
    pub created_by: String,
}

impl InboundWebhookCredential {
    pub const ID: &'static str = "webhook";
}

impl Entity for InboundWebhookCredential {
    const KIND: &'static str = "INBOUND_WEBHOOK";
    fn id(&self) -> &str {
        &self.id
    }
}

/// Webhook secrets are sealed for this purpose: the API seals, the inbound
/// function opens.
pub const WEBHOOK_SECRET_PURPOSE: &str = "inbound-webhook";

pub fn webhook_secret_identity(workspace: &str) -> crate::sealing::FieldIdentity<'_> {
    crate::sealing::FieldIdentity { workspace, entity: "inbound_webhook", id: InboundWebhookCredential::ID, field: "secret" }
}
