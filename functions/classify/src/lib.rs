//! The `classify` worker: turns a received e-mail into a verdict.
//!
//! For each [`ClassifyJob`] it reads the raw message from the bucket, parses and
//! classifies it with `tern_mail` (pure code, shared with `scripts/classify`),
//! records the metadata Tern keeps (never the body; a snippet of the new text goes
//! to its own item under the workspace's e-mail-body window), and deletes the raw message.
//! Re-delivery is harmless: a message already classified is only cleaned up.
//!
//! The verdict is then linked to the enrollment it answers (our deterministic
//! Message-IDs in In-Reply-To/References or a bounce's returned original, the
//! token of the address it was sent to, else the sender's blind index, but only
//! when the receiving provider vouches for the sender with an aligned pass), the
//! evidence recorded as `linked_by`, and its
//! effect applied before the message is marked classified: a human reply stops the
//! sequence, an out-of-office pauses it until the stated return, a hard bounce or
//! complaint suppresses the address. A redelivered job re-applies the same,
//! idempotent effects.

pub mod intent;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use tern_aws::bucket::Object;
use tern_aws::entities::InboundText;
use tern_aws::outreach::effects;
use tern_aws::table::ScopedTable;
use tern_aws::worker::{Delivery, JobError, process_batch};
use tern_aws::{Platform, Tenant};
use tern_domain::inbound::{DEFAULT_INBOUND_RETENTION, InboundMessage, InboundStatus, LinkEvidence};
use tern_domain::jobs::ClassifyJob;
use tern_domain::retention::RetentionCategory;

pub struct ClassifyDeps {
    pub platform: Platform,
    /// The optional language model that reads human replies' intent.
    pub llm: intent::LlmAccess,
}

impl ClassifyDeps {
    pub fn new(platform: Platform) -> Self {
        Self { platform, llm: Default::default() }
    }
}

pub async fn handle(deps: &ClassifyDeps, event: SqsEvent) -> SqsBatchResponse {
    process_batch("classify", deps.platform.poison(), event, |job: ClassifyJob, delivery| classify_one(deps, job, delivery)).await
}

async fn classify_one(deps: &ClassifyDeps, job: ClassifyJob, _delivery: Delivery) -> Result<(), JobError> {
    let tenant = Tenant::of_job(&job);
    let scoped = deps.platform.table().scope(tenant);
    let transient = |e: &dyn std::fmt::Display| JobError::Transient(e.to_string());
    let Some(mut message) = scoped.get::<InboundMessage>(&job.inbound_id).await.map_err(|e| transient(&e))? else {
        return Err(JobError::Poison(format!("no inbound message {} in this workspace", job.inbound_id)));
    };
    let objects = deps.platform.bucket().scope(tenant);
    let raw_object = Object::InboundRaw(&job.inbound_id);
    if message.status != InboundStatus::Received {
        return objects.delete(raw_object).await.map_err(|e| transient(&e));
    }
    let Some(raw) = objects.get(raw_object).await.map_err(|e| transient(&e))? else {
        return Err(JobError::Poison(format!("raw message {} is gone", objects.key(raw_object))));
    };
    let workspace = scoped.get::<tern_aws::entities::Workspace>(&job.workspace_id.to_string()).await.map_err(|e| transient(&e))?;
    match tern_mail::parse_and_classify(&raw) {
        Ok((mail, mut verdict)) => {
            if message.to_unsubscribe_address {
                to_unsubscribe_address(&mut verdict);
            }
            message.status = InboundStatus::Classified;
            message.from = mail.from.as_ref().and_then(|m| m.address.clone());
            message.subject = mail.subject.clone();
            message.message_id = mail.message_id.clone();
            message.in_reply_to = mail.in_reply_to.clone();
            message.references = mail.references.clone();
            message.snippet = Some(mail.snippet.clone()).filter(|s| !s.is_empty());
            message.kind = Some(verdict.kind.as_str().to_string());
            message.status_code = verdict.status.clone();
            message.reason = verdict.reason.clone();
            message.return_date = verdict.return_date.map(|d| d.to_string());
            let (linked, effect) = match &workspace {
                Some(_) => apply_effects(deps, &scoped, &mail, &verdict, &message).await?,
                // Mail for a workspace that does not (or no longer) exist answers nothing.
                None => (None, Some("none: no such workspace".into())),
            };
            message.enrollment_id = linked.as_ref().map(|(id, _)| id.clone());
            message.linked_by = linked.map(|(_, evidence)| evidence);
            message.effect = effect;
            intent::refine(&deps.llm, deps.platform.sealer(), &scoped, &mut message).await?;
            tracing::info!(inbound_id = %job.inbound_id, kind = verdict.kind.as_str(), request_id = %job.request_id, "classified");
        }
        Err(error) => {
            // Not e-mail at all: keep the metadata for a person, never retry forever.
            message.status = InboundStatus::Unparseable;
            message.reason = Some(error.to_string());
            tracing::warn!(inbound_id = %job.inbound_id, error = %error, "inbound message is not parseable e-mail");
        }
    }
    let retention = workspace.as_ref().map(|w| w.retention()).unwrap_or_default();
    // The text goes to its own item, under the e-mail-body window, before the
    // metadata says "classified": a crash in between classifies again and rewrites both.
    if let Some(text) = InboundText::take_from(&mut message) {
        let expires = retention.expiry(RetentionCategory::EmailBodies, message.received_at);
        scoped.put(&text, expires).await.map_err(|e| transient(&e))?;
    }
    let metadata_window = retention.window(RetentionCategory::InboundMetadata).unwrap_or(DEFAULT_INBOUND_RETENTION);
    scoped.put(&message, Some(message.expires_at(metadata_window))).await.map_err(|e| transient(&e))?;
    objects.delete(raw_object).await.map_err(|e| JobError::Transient(e.to_string()))
}

/// Links the message to the enrollment it answers and applies its effect: the
/// enrollment and what linked it, and the effect in words.
async fn apply_effects(
    deps: &ClassifyDeps,
    scoped: &ScopedTable,
    mail: &tern_mail::ParsedMail,
    verdict: &tern_mail::Classification,
    message: &InboundMessage,
) -> Result<(Option<(String, LinkEvidence)>, Option<String>), JobError> {
    let transient = |e: &dyn std::fmt::Display| JobError::Transient(e.to_string());
    let sender = mail.from.as_ref().and_then(|m| m.address.clone());
    if let Some(sender) = &sender
        && effects::is_own_address(scoped, sender).await.map_err(|e| transient(&e))?
    {
        return Ok((None, Some("none: sent by one of the workspace's own mailboxes".into())));
    }
    // A bounce names our message in the returned original's headers, a reply in its own.
    let original = mail.original.as_ref().and_then(|o| o.message_id.clone());
    let references: Vec<String> = mail.references.iter().chain(mail.in_reply_to.iter()).cloned().chain(original).collect();
    // The From address links only when the receiving side vouches for it: anyone
    // can write any From, and a reply stops (an unsubscribe suppresses) the contact.
    let vouched = sender.as_deref().and_then(|address| Some((address, message.transport.sender_proof(address)?)));
    let sender_index = match vouched {
        Some((address, proof)) => {
            let key = tern_aws::outreach::store::blind_index_key(scoped, deps.platform.sealer()).await.map_err(|e| transient(&e))?;
            tern_security::blind_index::blind_index(&key, address).ok().map(|index| (index, proof))
        }
        None => None,
    };
    let addressed = message.addressed_enrollment.as_deref().map(|id| (id, message.to_unsubscribe_address));
    let sender = sender_index.as_ref().map(|(index, proof)| effects::VouchedSender { index, proof: *proof });
    let Some((enrollment, evidence)) = effects::link(scoped, &references, addressed, sender).await.map_err(|e| transient(&e))? else {
        return Ok((None, None));
    };
    let return_date =
        verdict.return_date.and_then(|d| jiff::civil::Date::new(d.year() as i16, u8::from(d.month()) as i8, d.day() as i8).ok());
    let now = deps.platform.clock().now().unix_timestamp();
    let effect = effects::apply(scoped, &enrollment, verdict.kind, return_date, now).await.map_err(|e| transient(&e))?;
    tracing::info!(enrollment = %enrollment.id, kind = verdict.kind.as_str(), linked_by = ?evidence, effect = %effect, "reply applied");
    Ok((Some((enrollment.id, evidence)), Some(effect)))
}

/// Mail sent to a List-Unsubscribe `mailto:` address asks to unsubscribe,
/// whatever its text says; bounces and automatic replies that land there are
/// still what they are.
fn to_unsubscribe_address(verdict: &mut tern_mail::Classification) {
    use tern_mail::Kind;
    if matches!(verdict.kind, Kind::Human | Kind::UnsubscribeRequest) {
        verdict.kind = Kind::UnsubscribeRequest;
        verdict.evidence.push("sent to the List-Unsubscribe mailto: address".into());
    }
}
