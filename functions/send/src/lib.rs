//! The `send` worker: re-check, render, claim `(enrollment, step)`, send, record.
//!
//! Exactly once, in the face of at-least-once queues and workers that can die at any
//! instant, rests on one item per step (a [`SendRecord`]) and its states:
//!
//! 1. `claimed` — written in the same transaction that checks the enrollment has not
//!    changed (a reply recorded before wins) and reserves every sending limit. A
//!    claim left behind past its lease means the worker died before calling the
//!    provider: nothing was sent, so it is released and the step retried.
//! 2. `sending` — written just before the provider is called. Left behind past its
//!    lease, nobody can know whether the message left, so the step is parked with a
//!    visible state for a person to resolve (by the deterministic Message-ID we set,
//!    in the mailbox's Sent folder or the provider's logs). Never re-sent blindly.
//! 3. `sent` / `failed` / `parked` — the outcome, recorded after the provider answered.
//!
//! Transient provider failures release the claim and defer the step with backoff;
//! permanent ones stop the enrollment with the reason; an answer lost after the
//! message was handed over ("ambiguous") parks it. A send over a limit is deferred
//! to the next slot the limit allows, never dropped.

pub mod faults;
pub mod provider;
pub mod smtp;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use faults::{FaultPoint, Faults};
use jiff::Timestamp;
use provider::{Outcome, Provider};
use tern_aws::bucket::Object;
use tern_aws::entities::Workspace;
use tern_aws::outreach::schedule::{calendar, next_due};
use tern_aws::outreach::store::{ClaimError, ClaimRefused, CounterLimit, Spacing, claim_and_reserve, last_send_at};
use tern_aws::outreach::template_values;
use tern_aws::outreach::{
    AttachmentRecord, Contact, EnrollmentRecord, Mailbox, SendRecord, SendState, Sequence, Suppression, TemplateRecord,
};
use tern_aws::table::{AttributeValue, IfMissing, ScopedTable, StoreError};
use tern_aws::worker::{JobError, process_batch};
use tern_aws::{Lookup, Platform, Tenant};
use tern_domain::cadence::Calendar;
use tern_domain::deliverability::{self, Health, SendingLimits};
use tern_domain::enrollment::{Event, StopReason, TransitionError};
use tern_domain::jobs::SendJob;
use tern_domain::retention::RetentionCategory;
use tern_domain::template::{MessageTemplate, Values};
use tern_mail::compose::{self, Address, Footer, ListUnsubscribe, Outgoing};

/// How long a claim or a provider call may take before it is presumed dead. Longer
/// than the SMTP client's whole-conversation timeout and the function's timeout.
pub const CLAIM_LEASE_SECONDS: i64 = 120;

/// Transient failures of one step before it is parked for a person.
pub const MAX_TRANSIENT_ATTEMPTS: u32 = 8;

pub struct SendDeps {
    pub platform: Platform,
    pub smtp: smtp::SmtpClient,
    /// Crash injection for the exactly-once tests; empty in production.
    pub faults: Faults,
}

impl SendDeps {
    pub fn new(platform: Platform, smtp: smtp::SmtpClient) -> Self {
        Self { platform, smtp, faults: Faults::none() }
    }
}

pub async fn handle(deps: &SendDeps, event: SqsEvent) -> SqsBatchResponse {
    process_batch("send", deps.platform.poison(), event, |job: SendJob, _delivery| async move { send_step(deps, &job).await }).await
}

fn transient(what: &str, e: impl std::fmt::Display) -> JobError {
    JobError::Transient(format!("{what}: {e}"))
}

/// Runs one job to a settled state. Safe to run any number of times for the same step.
pub async fn send_step(deps: &SendDeps, job: &SendJob) -> Result<(), JobError> {
    let scoped = deps.platform.table().scope(Tenant::of_job(job));
    // A released stale claim is retried once in the same run.
    for _ in 0..2 {
        match attempt(deps, &scoped, job).await? {
            Attempt::Done => return Ok(()),
            Attempt::Again => continue,
        }
    }
    Err(JobError::Transient("the step's claim changed twice while sending; retrying".into()))
}

enum Attempt {
    Done,
    Again,
}

async fn attempt(deps: &SendDeps, scoped: &ScopedTable, job: &SendJob) -> Result<Attempt, JobError> {
    let now = deps.platform.clock().now().unix_timestamp();
    let Some(enrollment) = scoped.get::<EnrollmentRecord>(&job.enrollment_id).await.map_err(|e| transient("reading the enrollment", e))?
    else {
        tracing::info!(enrollment = %job.enrollment_id, "the enrollment no longer exists; nothing to send");
        return Ok(Attempt::Done);
    };
    let send_id = SendRecord::id_for(&enrollment.id, job.step);
    if let Some(record) = scoped.get::<SendRecord>(&send_id).await.map_err(|e| transient("reading the send record", e))? {
        return settle_existing(deps, scoped, enrollment, record, now).await;
    }
    if enrollment.parked_step.is_some() || enrollment.machine.sendable_step(now) != Some(job.step) {
        tracing::info!(enrollment = %enrollment.id, step = job.step, state = ?enrollment.machine.state, "step not sendable now; job dropped");
        return Ok(Attempt::Done);
    }
    if enrollment.next_due_at.is_some_and(|due| due > now) {
        // Deferred after this job was queued (a limit, a backoff): dispatch queues it again then.
        return Ok(Attempt::Done);
    }
    let ctx = match Context::load(deps, scoped, &enrollment).await? {
        Ok(ctx) => ctx,
        Err(stop) => {
            stop_enrollment(deps, scoped, &enrollment.id, stop.0, &stop.1).await?;
            return Ok(Attempt::Done);
        }
    };
    // A workspace (or its agency) scheduled for deletion sends nothing, but keeps its
    // enrollments as they are: the owner may still cancel. Deferred a day at a time,
    // so a cancelled deletion resumes sending within a day.
    if deletion_scheduled(deps, &ctx.workspace).await? {
        defer(deps, scoped, &enrollment, job.step, now + 86_400, false, "the workspace is scheduled for deletion").await?;
        return Ok(Attempt::Done);
    }
    if let Some(suppression) = scoped.get::<Suppression>(&enrollment.email_index).await.map_err(|e| transient("reading suppressions", e))? {
        let reason = tern_aws::outreach::stop_reason_for(suppression.reason);
        stop_enrollment(deps, scoped, &enrollment.id, reason, "the address is on the suppression list").await?;
        return Ok(Attempt::Done);
    }
    // A queue delay can push a step past its window's close: wait for the next opening.
    let slot = ctx.calendar.next_send_slot(ts(now)).map_err(|e| JobError::Poison(e.to_string()))?.as_second();
    if slot > now {
        defer(deps, scoped, &enrollment, job.step, slot, false, "outside the send window").await?;
        return Ok(Attempt::Done);
    }
    let message = match ctx.compose(deps, scoped, &enrollment, job.step, now).await? {
        Ok(message) => message,
        Err(reason) => {
            fail_step(deps, scoped, &enrollment, job.step, &ctx, reason).await?;
            return Ok(Attempt::Done);
        }
    };

    let claim = SendRecord {
        id: send_id,
        enrollment_id: enrollment.id.clone(),
        step: job.step,
        contact_id: enrollment.contact_id.clone(),
        mailbox_id: ctx.mailbox.id.clone(),
        message_id: message.message_id.clone(),
        claim_token: uuid::Uuid::new_v4().to_string(),
        state: SendState::Claimed { lease_until: now + CLAIM_LEASE_SECONDS },
        claimed_at: now,
        updated_at: now,
        expires_at: ctx.workspace.retention().expiry_unix(RetentionCategory::Logs, now),
    };
    let (limits, spacing) = ctx.limits(now);
    match claim_and_reserve(scoped, &claim, enrollment.version, &limits, spacing.as_ref()).await {
        Ok(()) => {}
        Err(ClaimError::Refused(ClaimRefused::AlreadyClaimed | ClaimRefused::EnrollmentChanged)) => return Ok(Attempt::Again),
        Err(ClaimError::Refused(refusal)) => {
            let (at, why) = ctx.next_allowed(scoped, refusal, now).await?;
            defer(deps, scoped, &enrollment, job.step, at, false, why).await?;
            return Ok(Attempt::Done);
        }
        Err(ClaimError::Store(e)) => return Err(transient("claiming the step", e)),
    }
    deps.faults.check(FaultPoint::AfterClaim)?;

    let mut record = claim;
    record.state = SendState::Sending { lease_until: now + CLAIM_LEASE_SECONDS };
    record.updated_at = now;
    save_send(scoped, &record).await?;
    deps.faults.check(FaultPoint::BeforeProvider)?;

    let workspace = scoped.workspace().to_string();
    let outcome = ctx.provider.send(deps, &message.raw, &message.envelope_from, &message.recipient, &workspace, &enrollment.id).await;
    // The step was sent when it was handed over, the moment its Date header names;
    // the cadence counts from there however long the provider took to answer.
    let sent_at = now;
    let now = deps.platform.clock().now().unix_timestamp();
    match outcome {
        Outcome::Accepted { provider_message_id } => {
            deps.faults.check(FaultPoint::AfterProvider)?;
            record.state = SendState::Sent { sent_at, provider_message_id };
            record.updated_at = now;
            save_send(scoped, &record).await?;
            deps.faults.check(FaultPoint::AfterRecord)?;
            advance(deps, scoped, &enrollment.id, job.step, sent_at, &message, &ctx).await?;
            // Health and warm-up bookkeeping: not worth failing a sent step over.
            if let Err(e) = scoped.add::<Mailbox>(&ctx.mailbox.id, &[("sent", 1)], IfMissing::Refuse).await {
                tracing::warn!(error = %e, "the send was not counted on the mailbox");
            }
            if ctx.mailbox.first_send_at.is_none()
                && let Err(e) = scoped.set_once::<Mailbox>(&ctx.mailbox.id, "first_send_at", AttributeValue::N(sent_at.to_string())).await
            {
                tracing::warn!(error = %e, "the mailbox's first send was not recorded");
            }
            tracing::info!(enrollment = %enrollment.id, step = job.step, message_id = %message.message_id, "sent");
        }
        Outcome::Transient(reason) => {
            // The provider said no for now: nothing left, so the claim is released.
            scoped.delete::<SendRecord>(&record.id).await.map_err(|e| transient("releasing the claim", e))?;
            let attempts = enrollment.attempts + 1;
            if attempts > MAX_TRANSIENT_ATTEMPTS {
                park(deps, scoped, &enrollment.id, job.step, None, &format!("{attempts} transient failures, the last: {reason}")).await?;
            } else {
                let backoff = 60_i64 << (attempts - 1).min(6);
                defer(deps, scoped, &enrollment, job.step, now + backoff, true, &reason).await?;
            }
            tracing::warn!(enrollment = %enrollment.id, step = job.step, attempts, reason = %reason, "transient provider failure; deferred");
        }
        Outcome::Permanent(reason) => {
            record.state = SendState::Failed { reason: reason.clone() };
            record.updated_at = now;
            save_send(scoped, &record).await?;
            stop_enrollment(deps, scoped, &enrollment.id, StopReason::Failed, &reason).await?;
            tracing::warn!(enrollment = %enrollment.id, step = job.step, reason = %reason, "provider refused the message; enrollment stopped");
        }
        Outcome::Unknown(reason) => {
            park(deps, scoped, &enrollment.id, job.step, Some(record), &reason).await?;
            tracing::warn!(enrollment = %enrollment.id, step = job.step, reason = %reason, "send outcome unknown; parked for a person");
        }
    }
    Ok(Attempt::Done)
}

/// A send record already exists for this step: finish what an earlier run started.
async fn settle_existing(
    deps: &SendDeps,
    scoped: &ScopedTable,
    enrollment: EnrollmentRecord,
    record: SendRecord,
    now: i64,
) -> Result<Attempt, JobError> {
    match record.state {
        SendState::Sent { sent_at, .. } => {
            // Recorded but the enrollment was not advanced (a crash in between).
            let sent = SentMessage { message_id: record.message_id.clone(), subject: None };
            repair_advance(deps, scoped, &enrollment, record.step, sent_at, &sent).await?;
            Ok(Attempt::Done)
        }
        SendState::Claimed { lease_until } if now < lease_until => {
            Err(JobError::Transient("another worker holds this step's claim".into()))
        }
        SendState::Claimed { .. } => {
            // The claimant died before calling the provider: nothing was sent.
            scoped
                .replace_if(&record, None, "claim_token", AttributeValue::S(record.claim_token.clone()))
                .await
                .map_err(|e| transient("checking the stale claim", e))?;
            scoped.delete::<SendRecord>(&record.id).await.map_err(|e| transient("releasing the stale claim", e))?;
            tracing::warn!(enrollment = %enrollment.id, step = record.step, "released a stale claim (worker died before sending)");
            Ok(Attempt::Again)
        }
        SendState::Sending { lease_until } if now < lease_until => Err(JobError::Transient("another worker is sending this step".into())),
        SendState::Sending { .. } => {
            let step = record.step;
            park(
                deps,
                scoped,
                &enrollment.id,
                step,
                Some(record),
                "the worker stopped while the provider was being called; it may or may not have been sent",
            )
            .await?;
            Ok(Attempt::Done)
        }
        SendState::Failed { .. } | SendState::Parked { .. } => Ok(Attempt::Done),
    }
}

async fn save_send(scoped: &ScopedTable, record: &SendRecord) -> Result<(), JobError> {
    scoped.replace_if(record, None, "claim_token", AttributeValue::S(record.claim_token.clone())).await.map_err(|e| match e {
        StoreError::ConditionFailed => JobError::Transient("the step's claim was taken over".into()),
        other => transient("recording the send", other),
    })
}

fn ts(unix: i64) -> Timestamp {
    Timestamp::from_second(unix).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// What one send needs besides the enrollment, loaded once.
struct Context {
    workspace: Workspace,
    contact: Contact,
    mailbox: Mailbox,
    sequence: Sequence,
    calendar: Calendar,
    provider: Provider,
}

/// The message, composed and ready to hand over.
struct Composed {
    raw: Vec<u8>,
    message_id: String,
    subject: String,
    envelope_from: String,
    recipient: String,
}

/// What [`advance`] needs of the message that was sent.
struct SentMessage {
    message_id: String,
    subject: Option<String>,
}

impl Context {
    /// `Err((reason, why))` when the enrollment cannot go on and must stop.
    async fn load(
        deps: &SendDeps,
        scoped: &ScopedTable,
        enrollment: &EnrollmentRecord,
    ) -> Result<Result<Context, (StopReason, String)>, JobError> {
        let read = |what: &'static str| move |e: StoreError| transient(what, e);
        let workspace = scoped.get::<Workspace>(&scoped.workspace().to_string()).await.map_err(read("reading the workspace"))?;
        let Some(workspace) = workspace else { return Ok(Err((StopReason::Manual, "the workspace is gone".into()))) };
        let Some(contact) = scoped.get::<Contact>(&enrollment.contact_id).await.map_err(read("reading the contact"))? else {
            return Ok(Err((StopReason::Manual, "the contact was deleted".into())));
        };
        let Some(sequence) = scoped.get::<Sequence>(&enrollment.sequence_id).await.map_err(read("reading the sequence"))? else {
            return Ok(Err((StopReason::Manual, "the sequence was deleted".into())));
        };
        let Some(mailbox) = scoped.get::<Mailbox>(&enrollment.mailbox_id).await.map_err(read("reading the mailbox"))? else {
            return Ok(Err((StopReason::Failed, "the sending mailbox was removed".into())));
        };
        let calendar = match calendar(&workspace, &sequence, contact.timezone.as_deref()) {
            Ok(calendar) => calendar,
            Err(e) => return Ok(Err((StopReason::Failed, format!("the send calendar is invalid: {e}")))),
        };
        let provider = match Provider::for_mailbox(deps, &workspace, &mailbox) {
            Ok(provider) => provider,
            Err(why) => return Ok(Err((StopReason::Failed, why))),
        };
        Ok(Ok(Context { workspace, contact, mailbox, sequence, calendar, provider }))
    }

    fn values(&self) -> Values {
        template_values(&self.workspace, &self.contact, self.mailbox.from_name.as_deref())
    }

    /// Renders and composes step `step`; `Ok(Err(reason))` when it cannot be sent at all.
    async fn compose(
        &self,
        deps: &SendDeps,
        scoped: &ScopedTable,
        enrollment: &EnrollmentRecord,
        step: u32,
        now: i64,
    ) -> Result<Result<Composed, String>, JobError> {
        let Some(step_spec) = self.sequence.steps.get(step as usize) else {
            return Ok(Err(format!("the sequence has no step {}", step + 1)));
        };
        let Some(template) =
            scoped.get::<TemplateRecord>(&step_spec.template_id).await.map_err(|e| transient("reading the template", e))?
        else {
            return Ok(Err(format!("the template of step {} was deleted", step + 1)));
        };
        let parsed = match MessageTemplate::parse(&template.subject, &template.text, template.html.as_deref()) {
            Ok(parsed) => parsed,
            Err(e) => return Ok(Err(format!("the template of step {} does not parse: {e}", step + 1))),
        };
        let rendered = match parsed.render(&self.values()) {
            Ok(rendered) => rendered,
            Err(e) => return Ok(Err(format!("the contact has no value for {} and the template gives no fallback", e.missing.join(", ")))),
        };
        let mut attachments = Vec::new();
        for id in &template.attachment_ids {
            let Some(meta) = scoped.get::<AttachmentRecord>(id).await.map_err(|e| transient("reading an attachment", e))? else {
                return Ok(Err("an attachment of the template was deleted".into()));
            };
            let object = deps.platform.bucket().scope(scoped.tenant()).get(Object::Attachment(&meta.id)).await;
            // Gone from the bucket while its record stays: a person must re-attach it.
            let Some(bytes) = object.map_err(|e| transient("reading an attachment", e))? else {
                return Ok(Err("an attachment of the template is missing from storage".into()));
            };
            attachments.push(compose::Attachment { filename: meta.filename, content_type: meta.content_type, content: bytes });
        }

        let from_domain = self.provider.from_domain().to_string();
        let message_id = tern_domain::message_id::StepMessageId::new(&enrollment.id, step, &from_domain).to_string();
        let threaded = step > 0 && !step_spec.new_thread && enrollment.first_message_id.is_some();
        let subject = match (&enrollment.first_subject, threaded) {
            (Some(first), true) => compose::reply_subject(first),
            _ => rendered.subject.clone(),
        };
        let (in_reply_to, references) = if threaded {
            let mut references: Vec<String> = enrollment.first_message_id.iter().cloned().collect();
            if let Some(last) = enrollment.last_message_id.as_ref().filter(|l| Some(*l) != enrollment.first_message_id.as_ref()) {
                references.push(last.clone());
            }
            (references.last().cloned(), references)
        } else {
            (None, Vec::new())
        };
        let public_url = deps.platform.config().public_url.as_deref().unwrap_or("https://app.tern.invalid");
        let unsubscribe_url = format!("{public_url}/v1/unsubscribe/{}", enrollment.unsubscribe_token);
        let list_unsubscribe = ListUnsubscribe {
            https_url: unsubscribe_url.clone(),
            mailto: deps
                .platform
                .config()
                .inbound_domain
                .as_ref()
                .map(|d| format!("mailto:unsubscribe+{}@{d}", enrollment.unsubscribe_token)),
        };
        let mut footer = Vec::new();
        if let Some(address) = &self.workspace.postal_address {
            footer.push(format!("{} · {address}", self.workspace.name));
        }
        footer.push(format!("Unsubscribe: {unsubscribe_url}"));
        if self.provider.platform_domain() {
            footer.push("Sent with Tern".to_string());
        }
        let (from, reply_to) = self.provider.addresses(&self.mailbox);
        let outgoing = Outgoing {
            from: from.clone(),
            to: Address { name: self.values().get("full_name").cloned(), email: self.contact.email.clone() },
            reply_to,
            subject: subject.clone(),
            text: rendered.text,
            html: rendered.html,
            message_id: message_id.clone(),
            in_reply_to,
            references,
            date_unix: now,
            list_unsubscribe: Some(list_unsubscribe),
            footer: Some(Footer { text: footer.join("\n") }),
            attachments,
            extra_headers: Vec::new(),
        };
        match compose::compose(&outgoing) {
            Ok(raw) => Ok(Ok(Composed { raw, message_id, subject, envelope_from: from.email, recipient: self.contact.email.clone() })),
            Err(e) => Ok(Err(format!("the message could not be built: {e}"))),
        }
    }

    fn limits(&self, now: i64) -> (Vec<CounterLimit>, Option<Spacing>) {
        let m = &self.mailbox;
        let zone = jiff::tz::TimeZone::get(&m.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
        let at = ts(now);
        let settings = SendingLimits {
            daily_cap: m.daily_cap,
            warmup_start: m.warmup_start,
            warmup_daily_increase: m.warmup_daily_increase,
            per_domain_hourly: m.per_domain_hourly,
            min_spacing_seconds: m.min_spacing_seconds,
        };
        let days_active = m.first_send_at.map_or(0, |first| ((now - first).max(0) / 86_400) as u32);
        let health = Health { sent: m.sent, hard_bounces: m.hard_bounces, complaints: m.complaints };
        let day = deliverability::local_day(at, &zone);
        let recipient_domain = self.contact.email.rsplit('@').next().unwrap_or_default();
        let month = deliverability::local_month_key(at, &zone);
        let daily = deliverability::daily_limit(&settings, days_active, &health);
        let mut limits = vec![
            CounterLimit {
                counter_id: format!("day.{}.{day}", m.id),
                limit: daily,
                expires_at: deliverability::next_local_midnight(at, &zone).as_second() + 86_400,
            },
            CounterLimit {
                counter_id: format!("month.{month}"),
                limit: self.workspace.plan.monthly_sends(),
                expires_at: deliverability::next_local_month_start(at, &zone).as_second() + 40 * 86_400,
            },
        ];
        // A per-domain hourly limit at or above today's whole cap cannot bind: not
        // reserving it saves a transactional write on every send.
        if m.per_domain_hourly < daily {
            limits.push(CounterLimit {
                counter_id: format!("domainhour.{}.{recipient_domain}.{}", m.id, deliverability::utc_hour_key(at)),
                limit: m.per_domain_hourly,
                expires_at: deliverability::next_utc_hour(at).as_second() + 3_600,
            });
        }
        let spacing = (m.min_spacing_seconds > 0).then(|| Spacing {
            counter_id: format!("spacing.{}", m.id),
            now,
            min_gap_seconds: i64::from(m.min_spacing_seconds),
        });
        (limits, spacing)
    }

    /// The first moment the refused limit allows another send, in the send window.
    async fn next_allowed(&self, scoped: &ScopedTable, refusal: ClaimRefused, now: i64) -> Result<(i64, &'static str), JobError> {
        let zone = jiff::tz::TimeZone::get(&self.mailbox.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
        let at = ts(now);
        let (earliest, why) = match refusal {
            ClaimRefused::LimitReached(0) => (deliverability::next_local_midnight(at, &zone), "the mailbox's daily limit is reached"),
            ClaimRefused::LimitReached(1) => {
                (deliverability::next_local_month_start(at, &zone), "the plan's monthly sending quota is used up")
            }
            ClaimRefused::LimitReached(_) => (deliverability::next_utc_hour(at), "the hourly limit for the recipient's domain is reached"),
            ClaimRefused::TooSoon => {
                let last =
                    last_send_at(scoped, &format!("spacing.{}", self.mailbox.id)).await.map_err(|e| transient("reading the spacing", e))?;
                let next = last.unwrap_or(now) + i64::from(self.mailbox.min_spacing_seconds);
                (ts(next.max(now + 1)), "the mailbox sent too recently")
            }
            ClaimRefused::AlreadyClaimed | ClaimRefused::EnrollmentChanged => (ts(now + 1), "retry"),
        };
        let slot = self.calendar.next_send_slot(earliest).map_err(|e| JobError::Poison(e.to_string()))?;
        Ok((slot.as_second(), why))
    }
}

async fn update_enrollment(
    scoped: &ScopedTable,
    id: &str,
    now: i64,
    change: impl FnMut(&mut EnrollmentRecord) -> Result<bool, JobError>,
) -> Result<Option<EnrollmentRecord>, JobError> {
    tern_aws::outreach::store::update_enrollment(scoped, id, now, change).await
}

/// Whether `workspace`, or the agency workspace it belongs to (deleted with it), is
/// scheduled for deletion. The agency's item is read only for sub-workspaces, and
/// only this flag of it is used.
async fn deletion_scheduled(deps: &SendDeps, workspace: &Workspace) -> Result<bool, JobError> {
    if workspace.deletion_scheduled_for.is_some() {
        return Ok(true);
    }
    let Some(parent) = workspace.parent_id.as_deref().and_then(|p| tern_domain::ids::WorkspaceId::parse(p).ok()) else {
        return Ok(false);
    };
    let scoped = deps.platform.table().scope(Tenant::found(parent, Lookup::Parent));
    let agency = scoped.get::<Workspace>(&parent.to_string()).await.map_err(|e| transient("reading the agency workspace", e))?;
    Ok(agency.is_some_and(|a| a.deletion_scheduled_for.is_some()))
}

/// Moves the step to `at` (still due, just later).
async fn defer(
    deps: &SendDeps,
    scoped: &ScopedTable,
    enrollment: &EnrollmentRecord,
    step: u32,
    at: i64,
    count_attempt: bool,
    why: &str,
) -> Result<(), JobError> {
    let now = deps.platform.clock().now().unix_timestamp();
    update_enrollment(scoped, &enrollment.id, now, |e| {
        if e.machine.is_ended() || e.parked_step.is_some() {
            return Ok(false);
        }
        e.schedule(Some((step, at)));
        if count_attempt {
            e.attempts += 1;
        }
        e.note = Some(format!("deferred: {why}"));
        Ok(true)
    })
    .await?;
    tracing::info!(enrollment = %enrollment.id, step, until = at, why, "step deferred");
    Ok(())
}

/// Records a sent step on the enrollment and schedules the next one.
async fn advance(
    deps: &SendDeps,
    scoped: &ScopedTable,
    enrollment_id: &str,
    step: u32,
    sent_at: i64,
    message: &Composed,
    ctx: &Context,
) -> Result<(), JobError> {
    let sent = SentMessage { message_id: message.message_id.clone(), subject: Some(message.subject.clone()) };
    advance_with(deps, scoped, enrollment_id, step, sent_at, &sent, Some(ctx)).await
}

async fn repair_advance(
    deps: &SendDeps,
    scoped: &ScopedTable,
    enrollment: &EnrollmentRecord,
    step: u32,
    sent_at: i64,
    sent: &SentMessage,
) -> Result<(), JobError> {
    let ctx = Context::load(deps, scoped, enrollment).await?.ok();
    advance_with(deps, scoped, &enrollment.id, step, sent_at, sent, ctx.as_ref()).await
}

async fn advance_with(
    deps: &SendDeps,
    scoped: &ScopedTable,
    enrollment_id: &str,
    step: u32,
    sent_at: i64,
    sent: &SentMessage,
    ctx: Option<&Context>,
) -> Result<(), JobError> {
    let now = deps.platform.clock().now().unix_timestamp();
    update_enrollment(scoped, enrollment_id, now, |e| {
        match e.machine.apply(Event::StepSent { step }) {
            Ok(machine) => e.machine = machine,
            // Already recorded by an earlier run.
            Err(TransitionError::OutOfOrder { expected, .. }) if expected > step => return Ok(false),
            Err(TransitionError::Ended(_)) | Err(_) => {
                // Stopped while this step was in flight: keep the stop, drop the schedule.
                let scheduled = e.due_shard.is_some();
                e.schedule(None);
                return Ok(scheduled);
            }
        }
        if step == 0 || e.first_message_id.is_none() {
            e.first_sent_at = Some(sent_at);
            e.first_message_id = Some(sent.message_id.clone());
            e.first_subject = sent.subject.clone();
        }
        e.last_message_id = Some(sent.message_id.clone());
        e.attempts = 0;
        e.note = None;
        let next = match ctx {
            Some(ctx) => next_due(&ctx.calendar, &ctx.sequence, e).map_err(|err| JobError::Poison(err.to_string()))?,
            // Without its context (deleted sequence) nothing more can be sent.
            None => None,
        };
        e.schedule(next);
        Ok(true)
    })
    .await?;
    Ok(())
}

/// Stops an enrollment for good (and takes it out of the due index).
async fn stop_enrollment(
    deps: &SendDeps,
    scoped: &ScopedTable,
    enrollment_id: &str,
    reason: StopReason,
    why: &str,
) -> Result<(), JobError> {
    let now = deps.platform.clock().now().unix_timestamp();
    update_enrollment(scoped, enrollment_id, now, |e| {
        if e.machine.is_ended() {
            return Ok(false);
        }
        e.machine = e.machine.apply(Event::Stop(reason)).map_err(|err| JobError::Poison(err.to_string()))?;
        e.schedule(None);
        e.note = Some(why.to_string());
        Ok(true)
    })
    .await?;
    tracing::info!(enrollment = %enrollment_id, ?reason, why, "enrollment stopped");
    Ok(())
}

/// A step that cannot be sent at all (template broken, contact lacks a value): the
/// reason is recorded on the step and the enrollment stops, visibly.
async fn fail_step(
    deps: &SendDeps,
    scoped: &ScopedTable,
    enrollment: &EnrollmentRecord,
    step: u32,
    ctx: &Context,
    reason: String,
) -> Result<(), JobError> {
    let now = deps.platform.clock().now().unix_timestamp();
    let record = SendRecord {
        id: SendRecord::id_for(&enrollment.id, step),
        enrollment_id: enrollment.id.clone(),
        step,
        contact_id: enrollment.contact_id.clone(),
        mailbox_id: ctx.mailbox.id.clone(),
        message_id: String::new(),
        claim_token: uuid::Uuid::new_v4().to_string(),
        state: SendState::Failed { reason: reason.clone() },
        claimed_at: now,
        updated_at: now,
        expires_at: ctx.workspace.retention().expiry_unix(RetentionCategory::Logs, now),
    };
    match scoped.create(&record, None).await {
        Ok(()) | Err(StoreError::ConditionFailed) => {}
        Err(e) => return Err(transient("recording the failure", e)),
    }
    stop_enrollment(deps, scoped, &enrollment.id, StopReason::Failed, &reason).await
}

/// Parks a step for a person: its record says why, the enrollment waits.
async fn park(
    deps: &SendDeps,
    scoped: &ScopedTable,
    enrollment_id: &str,
    step: u32,
    record: Option<SendRecord>,
    reason: &str,
) -> Result<(), JobError> {
    let now = deps.platform.clock().now().unix_timestamp();
    if let Some(mut record) = record {
        record.state = SendState::Parked { reason: reason.to_string(), parked_at: now };
        record.updated_at = now;
        // Waiting for a person is work, not log: it must not expire before they answer.
        record.expires_at = None;
        save_send(scoped, &record).await?;
    }
    update_enrollment(scoped, enrollment_id, now, |e| {
        e.parked_step = Some(step);
        e.schedule(None);
        e.note = Some(format!("waiting for a person: {reason}"));
        Ok(true)
    })
    .await?;
    Ok(())
}
