//! Everything a workspace holds about one person, found by the blind index of
//! their address. Erasure deletes what this finds and a subject-access export
//! writes it out, so both always agree on what "everything" is.

use std::collections::BTreeSet;
use tern_aws::entities::{ContactNote, Enrichment, InboundText};
use tern_aws::outreach::{Contact, EnrollmentRecord, SendCounter, SendRecord, Suppression};
use tern_aws::sealing::Sealer;
use tern_aws::table::{ScopedTable, StoreError};
use tern_domain::inbound::InboundMessage;
use tern_extract::{Fact, TeamMember};

#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("opening the workspace's blind-index key: {0}")]
    Key(String),
}

/// What was found; each part is empty when the workspace holds nothing of that kind.
#[derive(Debug, Default)]
pub struct Holdings {
    pub contacts: Vec<Contact>,
    pub enrollments: Vec<EnrollmentRecord>,
    pub sends: Vec<SendRecord>,
    /// Inbound messages the person sent (by the blind index of the sender or the
    /// envelope sender) or that were linked to their enrollments.
    pub inbound: Vec<InboundMessage>,
    /// The text kept apart from those messages (snippet, the model's reading).
    pub inbound_texts: Vec<InboundText>,
    /// Notes members wrote on their contacts (text still sealed).
    pub notes: Vec<ContactNote>,
    pub suppression: Option<Suppression>,
    pub soft_bounces: Option<SendCounter>,
    /// Their company's enrichment, with the facts that name them.
    pub mentions: Vec<Mentions>,
}

/// The facts of one company's enrichment that are about the person.
#[derive(Debug)]
pub struct Mentions {
    pub enrichment: Enrichment,
    pub team: Vec<Fact<TeamMember>>,
    pub emails: Vec<Fact<String>>,
}

/// The soft-bounce counter's id for an address.
pub fn soft_bounce_counter_id(email_index: &str) -> String {
    format!("softbounce.{email_index}")
}

impl Holdings {
    pub async fn find(scoped: &ScopedTable, sealer: &Sealer, email_index: &str) -> Result<Self, FindError> {
        let contacts: Vec<Contact> = scoped.list_all::<Contact>().await?.into_iter().filter(|c| c.email_index == email_index).collect();
        let enrollments: Vec<EnrollmentRecord> =
            scoped.list_all::<EnrollmentRecord>().await?.into_iter().filter(|e| e.email_index == email_index).collect();
        let enrollment_ids: BTreeSet<&str> = enrollments.iter().map(|e| e.id.as_str()).collect();
        let sends = if enrollment_ids.is_empty() {
            Vec::new()
        } else {
            scoped.list_all::<SendRecord>().await?.into_iter().filter(|s| enrollment_ids.contains(s.enrollment_id.as_str())).collect()
        };
        let inbound = Self::inbound(scoped, sealer, email_index, &enrollment_ids).await?;
        let mut inbound_texts = Vec::new();
        for message in &inbound {
            if let Some(text) = scoped.get::<InboundText>(&message.id).await? {
                inbound_texts.push(text);
            }
        }
        let mut mentions = Vec::new();
        let mut notes = Vec::new();
        for contact in &contacts {
            if let Some(found) = Self::mentions(scoped, contact).await? {
                mentions.push(found);
            }
            notes.extend(scoped.list_prefixed::<ContactNote>(&ContactNote::key(&contact.id, "")).await?);
        }
        Ok(Self {
            suppression: scoped.get::<Suppression>(email_index).await?,
            soft_bounces: scoped.get::<SendCounter>(&soft_bounce_counter_id(email_index)).await?,
            contacts,
            enrollments,
            sends,
            inbound,
            inbound_texts,
            notes,
            mentions,
        })
    }

    async fn inbound(
        scoped: &ScopedTable,
        sealer: &Sealer,
        email_index: &str,
        enrollments: &BTreeSet<&str>,
    ) -> Result<Vec<InboundMessage>, FindError> {
        let messages = scoped.list_all::<InboundMessage>().await?;
        if messages.is_empty() {
            return Ok(messages);
        }
        let key = tern_aws::outreach::store::blind_index_key(scoped, sealer).await.map_err(|e| FindError::Key(e.to_string()))?;
        let is_person = |address: Option<&String>| {
            address.is_some_and(|a| tern_security::blind_index::blind_index(&key, a).is_ok_and(|i| i == email_index))
        };
        Ok(messages
            .into_iter()
            .filter(|m| {
                let linked = m.enrollment_id.as_deref().is_some_and(|e| enrollments.contains(e))
                    || m.addressed_enrollment.as_deref().is_some_and(|e| enrollments.contains(e));
                linked || is_person(m.from.as_ref()) || is_person(m.transport.envelope_from.as_ref())
            })
            .collect())
    }

    /// A team member with the contact's name, their address among the published ones.
    async fn mentions(scoped: &ScopedTable, contact: &Contact) -> Result<Option<Mentions>, StoreError> {
        let Some(domain) = &contact.domain else { return Ok(None) };
        let Some(enrichment) = scoped.get::<Enrichment>(domain).await? else { return Ok(None) };
        let Some(profile) = &enrichment.profile else { return Ok(None) };
        let name = match (&contact.first_name, &contact.last_name) {
            (Some(f), Some(l)) => Some(format!("{f} {l}").to_lowercase()),
            _ => None,
        };
        let team: Vec<_> =
            profile.team.iter().filter(|m| name.as_deref() == Some(m.value.name.trim().to_lowercase().as_str())).cloned().collect();
        let emails: Vec<_> = profile.emails.iter().filter(|e| e.value.trim().eq_ignore_ascii_case(&contact.email)).cloned().collect();
        if team.is_empty() && emails.is_empty() {
            return Ok(None);
        }
        Ok(Some(Mentions { enrichment, team, emails }))
    }
}
