//! Erasing one person from a workspace (right to be forgotten).
//!
//! The person is named by the blind index of their address. Everything held about
//! them is deleted: their contact and its notes, enrollments, send records and
//! unsubscribe links, inbound messages they sent or that answered their enrollments
//! (with their text, and any raw copy still in the bucket), soft-bounce counters, and their name and address
//! in the workspace's copy of their company's enrichment. What stays is a
//! suppression by blind index (reason `erased` unless one already existed), so a
//! new import of the same address is suppressed and nothing is ever sent to it.
//!
//! Order matters for resuming: the suppression comes first (nothing can be sent
//! while the rest runs), the contact (which holds the address needed to clean the
//! enrichment) last. Every step only deletes what still matches, so running the
//! task again after a crash finishes it and changes nothing more.

use std::collections::{BTreeMap, BTreeSet};
use tern_aws::entities::{ContactNote, Enrichment, InboundText};
use tern_aws::global::GlobalTable;
use tern_aws::outreach::{Contact, ContactByEmail, EnrollmentRecord, SendCounter, SendRecord, Suppression, SuppressionReason, UnsubscribeLink};
use tern_aws::sealing::Sealer;
use tern_aws::table::{ScopedTable, StoreError};
use tern_domain::inbound::InboundMessage;

/// What one erasure removed, by item kind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removed(pub BTreeMap<String, u64>);

impl Removed {
    fn add(&mut self, kind: &str, n: u64) {
        if n > 0 {
            *self.0.entry(kind.to_string()).or_default() += n;
        }
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("opening the workspace's blind-index key: {0}")]
    Key(String),
    #[error("deleting a stored object: {0}")]
    Bucket(String),
}

pub struct Erasure<'a> {
    pub scoped: &'a ScopedTable,
    pub global: &'a GlobalTable,
    pub sealer: &'a Sealer,
    pub s3: &'a aws_sdk_s3::Client,
    pub bucket: &'a str,
    pub now: i64,
}

impl Erasure<'_> {
    pub async fn run(&self, email_index: &str) -> Result<Removed, ErasureError> {
        let mut removed = Removed::default();
        self.suppress(email_index).await?;
        let contacts = self.contacts(email_index).await?;
        for contact in &contacts {
            self.scrub_enrichment(contact, &mut removed).await?;
        }
        let enrollments = self.erase_enrollments(email_index, &mut removed).await?;
        self.erase_inbound(email_index, &enrollments, &mut removed).await?;
        if self.scoped.get::<SendCounter>(&format!("softbounce.{email_index}")).await?.is_some() {
            self.scoped.delete::<SendCounter>(&format!("softbounce.{email_index}")).await?;
            removed.add("COUNTER", 1);
        }
        for contact in &contacts {
            // Notes before their contact: they are found through it.
            for note in self.scoped.list_prefixed::<ContactNote>(&ContactNote::key(&contact.id, "")).await? {
                self.scoped.delete::<ContactNote>(&note.id).await?;
                removed.add("CONTACTNOTE", 1);
            }
            self.scoped.delete::<Contact>(&contact.id).await?;
            removed.add("CONTACT", 1);
        }
        if self.scoped.get::<ContactByEmail>(email_index).await?.is_some() {
            self.scoped.delete::<ContactByEmail>(email_index).await?;
            removed.add("CONTACTEMAIL", 1);
        }
        Ok(removed)
    }

    async fn suppress(&self, email_index: &str) -> Result<(), StoreError> {
        let entry = Suppression { email_index: email_index.to_string(), reason: SuppressionReason::Erased, suppressed_at: self.now };
        match self.scoped.create(&entry, None).await {
            // An existing suppression (a bounce, an unsubscribe) already does the job.
            Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn contacts(&self, email_index: &str) -> Result<Vec<Contact>, StoreError> {
        Ok(self.scoped.list_all::<Contact>().await?.into_iter().filter(|c| c.email_index == email_index).collect())
    }

    /// Removes the person from the workspace's copy of their company's facts: a
    /// team member with their name, their address among the published ones.
    async fn scrub_enrichment(&self, contact: &Contact, removed: &mut Removed) -> Result<(), StoreError> {
        let Some(domain) = &contact.domain else { return Ok(()) };
        let Some(mut enrichment) = self.scoped.get::<Enrichment>(domain).await? else { return Ok(()) };
        let Some(profile) = enrichment.profile.as_mut() else { return Ok(()) };
        let name = match (&contact.first_name, &contact.last_name) {
            (Some(f), Some(l)) => Some(format!("{f} {l}").to_lowercase()),
            _ => None,
        };
        let before = profile.team.len() + profile.emails.len();
        profile.team.retain(|member| name.as_deref() != Some(member.value.name.trim().to_lowercase().as_str()));
        profile.emails.retain(|email| !email.value.trim().eq_ignore_ascii_case(&contact.email));
        let scrubbed = before - (profile.team.len() + profile.emails.len());
        if scrubbed > 0 {
            self.scoped.put(&enrichment, None).await?;
            removed.add("ENRICHMENT facts", scrubbed as u64);
        }
        Ok(())
    }

    /// The person's enrollments with their send records and unsubscribe links.
    async fn erase_enrollments(&self, email_index: &str, removed: &mut Removed) -> Result<BTreeSet<String>, StoreError> {
        let enrollments: Vec<EnrollmentRecord> = self.scoped.list_all::<EnrollmentRecord>().await?.into_iter().filter(|e| e.email_index == email_index).collect();
        let ids: BTreeSet<String> = enrollments.iter().map(|e| e.id.clone()).collect();
        if ids.is_empty() {
            return Ok(ids);
        }
        for send in self.scoped.list_all::<SendRecord>().await? {
            if ids.contains(&send.enrollment_id) {
                self.scoped.delete::<SendRecord>(&send.id).await?;
                removed.add("SEND", 1);
            }
        }
        for enrollment in &enrollments {
            if let Ok(token) = tern_security::token::OpaqueToken::parse(&enrollment.unsubscribe_token) {
                let key = token.hash().to_hex();
                if self.global.get::<UnsubscribeLink>(&key).await?.is_some() {
                    self.global.delete::<UnsubscribeLink>(&key).await?;
                    removed.add("UNSUB", 1);
                }
            }
            self.scoped.delete::<EnrollmentRecord>(&enrollment.id).await?;
            removed.add("ENROLLMENT", 1);
        }
        Ok(ids)
    }

    /// Inbound messages the person sent (by the blind index of the sender or the
    /// envelope sender) or that were linked to their enrollments.
    async fn erase_inbound(&self, email_index: &str, enrollments: &BTreeSet<String>, removed: &mut Removed) -> Result<(), ErasureError> {
        let messages = self.scoped.list_all::<InboundMessage>().await?;
        if messages.is_empty() {
            return Ok(());
        }
        let key = tern_aws::outreach::store::blind_index_key(self.scoped, self.sealer).await.map_err(|e| ErasureError::Key(e.to_string()))?;
        let is_person = |address: Option<&String>| {
            address.is_some_and(|a| tern_security::blind_index::blind_index(&key, a).is_ok_and(|i| i == email_index))
        };
        for message in messages {
            let linked = message.enrollment_id.as_ref().is_some_and(|e| enrollments.contains(e))
                || message.addressed_enrollment.as_ref().is_some_and(|e| enrollments.contains(e));
            if !(linked || is_person(message.from.as_ref()) || is_person(message.transport.envelope_from.as_ref())) {
                continue;
            }
            let object = tern_aws::inbound::raw_object_key(self.scoped.workspace(), &message.id);
            self.s3.delete_object().bucket(self.bucket).key(&object).send().await.map_err(|e| ErasureError::Bucket(tern_aws::worker::error_chain(&e)))?;
            // Its text before the message: it is found through the message.
            if self.scoped.get::<InboundText>(&message.id).await?.is_some() {
                self.scoped.delete::<InboundText>(&message.id).await?;
                removed.add("INBOUNDTEXT", 1);
            }
            self.scoped.delete::<InboundMessage>(&message.id).await?;
            removed.add("INBOUND", 1);
        }
        Ok(())
    }
}
