//! What a reply, bounce or complaint does to the outreach: find the enrollment it
//! answers, then stop, pause or suppress. Used by the classify worker (inbound mail)
//! and the feedback worker (provider notifications), so both have the same effects.
//! Every effect is idempotent: applying it twice leaves the same state.

use super::schedule::{calendar, next_due};
use super::store::{count_up, suppress_and_stop, update_enrollment};
use super::{Contact, EnrollmentRecord, Mailbox, Sequence, SuppressionReason};
use crate::entities::Workspace;
use crate::table::{IfMissing, ScopedTable, StoreError};
use tern_domain::enrollment::{Event, StopReason};
use tern_domain::inbound::{LinkEvidence, SenderProof};
use tern_domain::message_id::StepMessageId;
use tern_domain::reply::{Effect, Kind, MailboxCounter, SOFT_BOUNCES_BEFORE_SUPPRESSION, after_soft_bounces, effect_of};

/// The enrollment whose message `message_id` is, when it is one of ours
/// ([`StepMessageId`]).
pub fn enrollment_of_message_id(message_id: &str) -> Option<String> {
    StepMessageId::parse(message_id).map(|id| id.enrollment_id)
}

/// A sender's blind index that the receiving side vouched for
/// ([`tern_domain::inbound::Transport::sender_proof`]): the only kind of sender
/// [`link`] will look up, since a From address by itself is whatever the
/// message's author wrote.
#[derive(Debug, Clone, Copy)]
pub struct VouchedSender<'a> {
    pub index: &'a str,
    pub proof: SenderProof,
}

/// Finds the enrollment a message answers, and says what linked it: the
/// Message-IDs it refers to (ours are deterministic), newest reference first;
/// then the token its recipient address carried (`addressed`, with whether it
/// was a List-Unsubscribe address); then, when neither matches and only for a
/// sender the receiving side vouched for, the sender's blind index among the
/// enrollments that have not ended.
pub async fn link(
    scoped: &ScopedTable,
    references: &[String],
    addressed: Option<(&str, bool)>,
    sender: Option<VouchedSender<'_>>,
) -> Result<Option<(EnrollmentRecord, LinkEvidence)>, StoreError> {
    let referenced = references.iter().rev().filter_map(|r| enrollment_of_message_id(r)).map(|id| (id, LinkEvidence::MessageId));
    let addressed = addressed
        .map(|(id, unsubscribe)| (id.to_string(), if unsubscribe { LinkEvidence::UnsubscribeToken } else { LinkEvidence::ReplyToken }));
    for (id, evidence) in referenced.chain(addressed) {
        if let Some(enrollment) = scoped.get::<EnrollmentRecord>(&id).await? {
            return Ok(Some((enrollment, evidence)));
        }
    }
    let Some(sender) = sender else { return Ok(None) };
    let mut candidates: Vec<EnrollmentRecord> = scoped
        .list_all::<EnrollmentRecord>()
        .await?
        .into_iter()
        .filter(|e| e.email_index == sender.index && !e.machine.is_ended())
        .collect();
    // The most recently written one is the conversation most likely answered.
    candidates.sort_by_key(|e| e.updated_at);
    Ok(candidates.pop().map(|e| (e, sender.proof.into())))
}

/// Is `address` one of the workspace's own sending addresses? Our own messages
/// copied back (a BCC, a forwarding rule) are never replies.
pub async fn is_own_address(scoped: &ScopedTable, address: &str) -> Result<bool, StoreError> {
    let address = address.trim().to_ascii_lowercase();
    Ok(scoped.list_all::<Mailbox>().await?.iter().any(|m| m.from_email == address || m.reply_to.as_deref() == Some(address.as_str())))
}

/// Carries out what a classified message of `kind` does to `enrollment`
/// ([`tern_domain::reply::effect_of`] decides it) and says what it did;
/// `return_date` is an out-of-office's stated return.
pub async fn apply(
    scoped: &ScopedTable,
    enrollment: &EnrollmentRecord,
    kind: Kind,
    return_date: Option<jiff::civil::Date>,
    now: i64,
) -> Result<String, StoreError> {
    match effect_of(kind, return_date) {
        Effect::StopReplied => {
            stop(scoped, &enrollment.id, StopReason::Replied, "a person replied", now).await?;
            let mut effect = "stopped: replied".to_string();
            if let Some(sequence) = scoped.get::<Sequence>(&enrollment.sequence_id).await?
                && sequence.stop_company_on_reply
                && let Some(domain) = &enrollment.company_domain
            {
                let colleagues: Vec<EnrollmentRecord> = scoped
                    .list_all::<EnrollmentRecord>()
                    .await?
                    .into_iter()
                    .filter(|e| {
                        e.sequence_id == enrollment.sequence_id
                            && e.id != enrollment.id
                            && e.company_domain.as_ref() == Some(domain)
                            && !e.machine.is_ended()
                    })
                    .collect();
                for colleague in &colleagues {
                    stop(scoped, &colleague.id, StopReason::Replied, "a colleague at the same company replied", now).await?;
                }
                effect.push_str(&format!(" (and {} at the same company)", colleagues.len()));
            }
            Ok(effect)
        }
        Effect::Suppress { reason, counted } => {
            suppress_and_stop(scoped, &enrollment.email_index, reason, now).await?;
            if let Some(counter) = counted {
                count_on_mailbox(scoped, &enrollment.mailbox_id, counter).await?;
            }
            Ok(match reason {
                SuppressionReason::Unsubscribed => "stopped and suppressed: asked not to be contacted".into(),
                SuppressionReason::HardBounce => "stopped and suppressed: hard bounce".into(),
                SuppressionReason::Complaint => "stopped and suppressed: complaint".into(),
                other => format!("stopped and suppressed: {other:?}"),
            })
        }
        Effect::PauseUntil(date) => pause_until_return(scoped, enrollment, date, now).await,
        Effect::CountSoftBounce => {
            count_on_mailbox(scoped, &enrollment.mailbox_id, MailboxCounter::SoftBounces).await?;
            let seen = count_up(scoped, &format!("softbounce.{}", enrollment.email_index)).await?;
            if let Some(reason) = after_soft_bounces(seen) {
                suppress_and_stop(scoped, &enrollment.email_index, reason, now).await?;
                return Ok(format!("stopped and suppressed: {seen} soft bounces"));
            }
            Ok(format!("counted: soft bounce {seen} of {SOFT_BOUNCES_BEFORE_SUPPRESSION}"))
        }
        Effect::Nothing(why) => Ok(format!("no change: {why}")),
    }
}

async fn stop(scoped: &ScopedTable, id: &str, reason: StopReason, why: &str, now: i64) -> Result<(), StoreError> {
    update_enrollment::<StoreError>(scoped, id, now, |e| {
        if e.machine.is_ended() {
            return Ok(false);
        }
        e.machine = e.machine.apply(Event::Stop(reason)).map_err(|err| StoreError::Codec(err.to_string()))?;
        e.schedule(None);
        e.note = Some(why.to_string());
        Ok(true)
    })
    .await?;
    Ok(())
}

async fn count_on_mailbox(scoped: &ScopedTable, mailbox_id: &str, counter: MailboxCounter) -> Result<(), StoreError> {
    match scoped.add::<Mailbox>(mailbox_id, &[(counter.attribute(), 1)], IfMissing::Refuse).await {
        // The mailbox was removed since: nothing to count against.
        Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Pauses until the morning of the first business day after the stated return, in
/// the enrollment's own calendar; the schedule then continues from there.
async fn pause_until_return(
    scoped: &ScopedTable,
    enrollment: &EnrollmentRecord,
    back: jiff::civil::Date,
    now: i64,
) -> Result<String, StoreError> {
    let workspace = scoped.get::<Workspace>(&scoped.workspace().to_string()).await?;
    let sequence = scoped.get::<Sequence>(&enrollment.sequence_id).await?;
    let contact = scoped.get::<Contact>(&enrollment.contact_id).await?;
    let (Some(workspace), Some(sequence)) = (workspace, sequence) else { return Ok("no change: the sequence is gone".into()) };
    let cal = calendar(&workspace, &sequence, contact.as_ref().and_then(|c| c.timezone.as_deref()))
        .map_err(|e| StoreError::Codec(e.to_string()))?;
    let resume_day = cal.add_business_days(back, 1).map_err(|e| StoreError::Codec(e.to_string()))?;
    let start_of_day = cal.start_of(resume_day).map_err(|e| StoreError::Codec(e.to_string()))?;
    let until = cal.next_send_slot(start_of_day).map_err(|e| StoreError::Codec(e.to_string()))?.as_second();
    if until <= now {
        return Ok("no change: the stated return has passed".into());
    }
    update_enrollment::<StoreError>(scoped, &enrollment.id, now, |e| {
        if e.machine.is_ended() {
            return Ok(false);
        }
        e.machine = e.machine.apply(Event::Pause { until }).map_err(|err| StoreError::Codec(err.to_string()))?;
        let due = next_due(&cal, &sequence, e).map_err(|err| StoreError::Codec(err.to_string()))?;
        e.schedule(due);
        e.note = Some(format!("paused: out of office until {back}"));
        Ok(true)
    })
    .await?;
    Ok(format!("paused until {back} plus one business day"))
}
