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
//! What "everything" is, is decided in one place, [`crate::person`], which the
//! subject-access export uses too.
//!
//! Order matters for resuming: the suppression comes first (nothing can be sent
//! while the rest runs), the contact (which holds the address needed to clean the
//! enrichment) last. Every step only deletes what still matches, so running the
//! task again after a crash finishes it and changes nothing more.

use crate::person::{FindError, Holdings, Mentions};
use std::collections::BTreeMap;
use tern_aws::entities::{ContactNote, InboundText};
use tern_aws::global::GlobalTable;
use tern_aws::outreach::{
    Contact, ContactByEmail, EnrollmentRecord, SendCounter, SendRecord, Suppression, SuppressionReason, UnsubscribeLink,
};
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
    pub objects: &'a tern_aws::bucket::ScopedBucket,
    pub now: i64,
}

impl Erasure<'_> {
    pub async fn run(&self, email_index: &str) -> Result<Removed, ErasureError> {
        let mut removed = Removed::default();
        self.suppress(email_index).await?;
        let found = Holdings::find(self.scoped, self.sealer, email_index).await.map_err(|e| match e {
            FindError::Store(e) => ErasureError::Store(e),
            FindError::Key(e) => ErasureError::Key(e),
        })?;
        for mentions in &found.mentions {
            self.scrub_enrichment(mentions, &mut removed).await?;
        }
        // Messages before the enrollments they are linked through, so a rerun after a
        // crash still finds them.
        for message in &found.inbound {
            self.objects
                .delete(tern_aws::bucket::Object::InboundRaw(&message.id))
                .await
                .map_err(|e| ErasureError::Bucket(e.to_string()))?;
            self.scoped.delete::<InboundMessage>(&message.id).await?;
            removed.add("INBOUND", 1);
        }
        for text in &found.inbound_texts {
            self.scoped.delete::<InboundText>(&text.id).await?;
            removed.add("INBOUNDTEXT", 1);
        }
        for send in &found.sends {
            self.scoped.delete::<SendRecord>(&send.id).await?;
            removed.add("SEND", 1);
        }
        for enrollment in &found.enrollments {
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
        if let Some(counter) = &found.soft_bounces {
            self.scoped.delete::<SendCounter>(&counter.id).await?;
            removed.add("COUNTER", 1);
        }
        for note in &found.notes {
            self.scoped.delete::<ContactNote>(&note.id).await?;
            removed.add("CONTACTNOTE", 1);
        }
        // The contact last: it holds the address and name the steps above search by.
        for contact in &found.contacts {
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

    /// Removes the person from the workspace's copy of their company's facts: a
    /// team member with their name, their address among the published ones.
    async fn scrub_enrichment(&self, mentions: &Mentions, removed: &mut Removed) -> Result<(), StoreError> {
        let mut enrichment = mentions.enrichment.clone();
        let Some(profile) = enrichment.profile.as_mut() else { return Ok(()) };
        let before = profile.team.len() + profile.emails.len();
        profile.team.retain(|member| !mentions.team.contains(member));
        profile.emails.retain(|email| !mentions.emails.contains(email));
        let scrubbed = before - (profile.team.len() + profile.emails.len());
        if scrubbed > 0 {
            self.scoped.put(&enrichment, None).await?;
            removed.add("ENRICHMENT facts", scrubbed as u64);
        }
        Ok(())
    }
}
