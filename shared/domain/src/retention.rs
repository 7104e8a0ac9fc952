//! A workspace's retention windows: how long each kind of data is kept, as the
//! workspace's admins set it. Pure rules; the stores apply them as DynamoDB TTL
//! (`expires_at`) when an item is written, and the housekeeping function re-applies
//! them to existing items when a window is shortened.
//!
//! What each window covers (docs/data-inventory.md names the item kinds):
//! - `email_bodies`: the text of received mail Tern keeps (the reply's snippet and
//!   the language model's reading of it). Never kept longer than the metadata.
//! - `contact_notes`: free-text notes members write on contacts; kept until deleted
//!   unless a window is set.
//! - `inbound_metadata`: the envelope, headers and verdict of received mail.
//! - `logs`: the workspace's delivery log (one record per sent step) and finished
//!   privacy-task records; kept while the workspace exists unless a window is set,
//!   never less than [`MINIMUM_LOG_RETENTION_DAYS`].
//! - `audit`: the audit trail; never less than [`MINIMUM_AUDIT_RETENTION_DAYS`].

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// Inbound metadata is kept this long unless the workspace says otherwise.
pub const DEFAULT_INBOUND_METADATA_DAYS: u16 = 60;
/// Audit entries are kept at least this long (legal obligation; admins cannot go below).
pub const MINIMUM_AUDIT_RETENTION_DAYS: u16 = 400;
/// Delivery-log records are kept at least this long: a step's record is what makes
/// a redelivered send job a no-op and what a person resolves a parked step with,
/// and a sequence's last follow-up comes 14 business days after the first.
pub const MINIMUM_LOG_RETENTION_DAYS: u16 = 30;
/// The longest window any category takes (ten years).
pub const MAXIMUM_RETENTION_DAYS: u16 = 3650;
/// Received mail is never kept longer than two years.
pub const MAXIMUM_INBOUND_DAYS: u16 = 730;

/// One kind of data with its own window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionCategory {
    EmailBodies,
    ContactNotes,
    InboundMetadata,
    Logs,
    Audit,
}

impl RetentionCategory {
    pub const ALL: [RetentionCategory; 5] = [
        RetentionCategory::EmailBodies,
        RetentionCategory::ContactNotes,
        RetentionCategory::InboundMetadata,
        RetentionCategory::Logs,
        RetentionCategory::Audit,
    ];

    /// The API's field name for the window (`email_bodies_days`, ...).
    pub fn field(self) -> &'static str {
        match self {
            RetentionCategory::EmailBodies => "email_bodies_days",
            RetentionCategory::ContactNotes => "contact_notes_days",
            RetentionCategory::InboundMetadata => "inbound_metadata_days",
            RetentionCategory::Logs => "logs_days",
            RetentionCategory::Audit => "audit_days",
        }
    }

    /// The days a window may be set to.
    pub fn allowed_days(self) -> std::ops::RangeInclusive<u16> {
        match self {
            RetentionCategory::EmailBodies | RetentionCategory::InboundMetadata => 1..=MAXIMUM_INBOUND_DAYS,
            RetentionCategory::ContactNotes => 1..=MAXIMUM_RETENTION_DAYS,
            RetentionCategory::Logs => MINIMUM_LOG_RETENTION_DAYS..=MAXIMUM_RETENTION_DAYS,
            RetentionCategory::Audit => MINIMUM_AUDIT_RETENTION_DAYS..=MAXIMUM_RETENTION_DAYS,
        }
    }
}

/// The windows a workspace set, in days; `None` is the category's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionSettings {
    #[serde(default)]
    pub email_bodies_days: Option<u16>,
    #[serde(default)]
    pub contact_notes_days: Option<u16>,
    #[serde(default)]
    pub inbound_metadata_days: Option<u16>,
    #[serde(default)]
    pub logs_days: Option<u16>,
    #[serde(default)]
    pub audit_days: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetentionError {
    /// Below a floor admins may not go under (the audit trail, the delivery log).
    #[error("`{field}` must be at least {minimum} days; {given} is below that minimum.")]
    BelowMinimum { field: &'static str, minimum: u16, given: u16 },
    #[error("`{field}` must be from {min} to {max} days.")]
    OutOfRange { field: &'static str, min: u16, max: u16 },
}

impl RetentionSettings {
    pub fn set_days(&self, category: RetentionCategory) -> Option<u16> {
        match category {
            RetentionCategory::EmailBodies => self.email_bodies_days,
            RetentionCategory::ContactNotes => self.contact_notes_days,
            RetentionCategory::InboundMetadata => self.inbound_metadata_days,
            RetentionCategory::Logs => self.logs_days,
            RetentionCategory::Audit => self.audit_days,
        }
    }

    pub fn set(&mut self, category: RetentionCategory, days: Option<u16>) {
        let slot = match category {
            RetentionCategory::EmailBodies => &mut self.email_bodies_days,
            RetentionCategory::ContactNotes => &mut self.contact_notes_days,
            RetentionCategory::InboundMetadata => &mut self.inbound_metadata_days,
            RetentionCategory::Logs => &mut self.logs_days,
            RetentionCategory::Audit => &mut self.audit_days,
        };
        *slot = days;
    }

    /// Every window that is set lies in its category's allowed range.
    pub fn validate(&self) -> Result<(), RetentionError> {
        for category in RetentionCategory::ALL {
            let Some(days) = self.set_days(category) else { continue };
            let allowed = category.allowed_days();
            if days < *allowed.start() && matches!(category, RetentionCategory::Audit | RetentionCategory::Logs) {
                return Err(RetentionError::BelowMinimum { field: category.field(), minimum: *allowed.start(), given: days });
            }
            if !allowed.contains(&days) {
                return Err(RetentionError::OutOfRange { field: category.field(), min: *allowed.start(), max: *allowed.end() });
            }
        }
        Ok(())
    }

    /// The window in force for `category`, in days; `None` is "kept until deleted".
    /// Defaults fill what is not set; floors hold even for values stored before a
    /// floor existed; bodies never outlive the metadata they belong to.
    pub fn effective_days(&self, category: RetentionCategory) -> Option<u16> {
        let metadata = self.inbound_metadata_days.unwrap_or(DEFAULT_INBOUND_METADATA_DAYS);
        match category {
            RetentionCategory::InboundMetadata => Some(metadata),
            RetentionCategory::EmailBodies => Some(self.email_bodies_days.map_or(metadata, |days| days.min(metadata))),
            RetentionCategory::ContactNotes => self.contact_notes_days,
            RetentionCategory::Logs => self.logs_days.map(|days| days.max(MINIMUM_LOG_RETENTION_DAYS)),
            RetentionCategory::Audit => {
                Some(self.audit_days.map_or(MINIMUM_AUDIT_RETENTION_DAYS, |days| days.max(MINIMUM_AUDIT_RETENTION_DAYS)))
            }
        }
    }

    pub fn window(&self, category: RetentionCategory) -> Option<Duration> {
        self.effective_days(category).map(|days| Duration::days(i64::from(days)))
    }

    /// When an item of `category` created at `created_at` expires; `None` when kept until deleted.
    pub fn expiry(&self, category: RetentionCategory, created_at: OffsetDateTime) -> Option<OffsetDateTime> {
        self.window(category).map(|window| created_at + window)
    }

    /// [`RetentionSettings::expiry`] in unix seconds, for records that carry their own TTL.
    pub fn expiry_unix(&self, category: RetentionCategory, created_at: i64) -> Option<i64> {
        self.effective_days(category).map(|days| created_at + i64::from(days) * 86_400)
    }

    /// The categories whose window in force is shorter under `new` than under `self`
    /// (kept-until-deleted to any window counts): the ones existing items must follow.
    pub fn shortened_in(&self, new: &RetentionSettings) -> Vec<RetentionCategory> {
        RetentionCategory::ALL
            .into_iter()
            .filter(|&category| match (self.effective_days(category), new.effective_days(category)) {
                (None, Some(_)) => true,
                (Some(old), Some(new)) => new < old,
                _ => false,
            })
            .collect()
    }
}

/// Where an existing item stands under a (shortened) window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reapplied {
    /// Already past the window: delete it now (DynamoDB's TTL takes days to act).
    DeleteNow,
    /// Expire it earlier than it would: set its TTL to this unix time.
    ExpireAt(i64),
    /// Its TTL is already at or before the window's end.
    Unchanged,
}

/// What a window of `window_days` means for an item created at `created_at` whose
/// TTL is `current_expiry` (`None`: none yet). Only ever earlier: a lengthened window
/// does not extend items written under the shorter one, whose deletion people were
/// promised when they were written (and items the shorter window already deleted
/// could not be brought back to match anyway).
pub fn reapply(created_at: i64, window_days: u16, current_expiry: Option<i64>, now: i64) -> Reapplied {
    let due = created_at + i64::from(window_days) * 86_400;
    if due <= now {
        Reapplied::DeleteNow
    } else if current_expiry.is_none_or(|current| due < current) {
        Reapplied::ExpireAt(due)
    } else {
        Reapplied::Unchanged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const DAY: i64 = 86_400;

    #[test]
    fn defaults_are_sixty_days_of_mail_and_the_audit_minimum() {
        let defaults = RetentionSettings::default();
        assert_eq!(defaults.effective_days(RetentionCategory::InboundMetadata), Some(60));
        assert_eq!(defaults.effective_days(RetentionCategory::EmailBodies), Some(60));
        assert_eq!(defaults.effective_days(RetentionCategory::ContactNotes), None);
        assert_eq!(defaults.effective_days(RetentionCategory::Logs), None);
        assert_eq!(defaults.effective_days(RetentionCategory::Audit), Some(400));
        let at = datetime!(2027-01-01 00:00 UTC);
        assert_eq!(defaults.expiry(RetentionCategory::InboundMetadata, at), Some(datetime!(2027-03-02 00:00 UTC)));
        assert_eq!(defaults.expiry(RetentionCategory::ContactNotes, at), None);
    }

    #[test]
    fn bodies_never_outlive_their_metadata() {
        let settings = RetentionSettings { email_bodies_days: Some(90), inbound_metadata_days: Some(30), ..Default::default() };
        assert_eq!(settings.effective_days(RetentionCategory::EmailBodies), Some(30));
        let settings = RetentionSettings { email_bodies_days: Some(7), inbound_metadata_days: Some(30), ..Default::default() };
        assert_eq!(settings.effective_days(RetentionCategory::EmailBodies), Some(7));
    }

    #[test]
    fn floors_hold_and_are_refused_below() {
        let audit = RetentionSettings { audit_days: Some(399), ..Default::default() };
        assert_eq!(audit.validate(), Err(RetentionError::BelowMinimum { field: "audit_days", minimum: 400, given: 399 }));
        assert_eq!(audit.effective_days(RetentionCategory::Audit), Some(400), "a stored value below the floor still keeps the floor");
        let logs = RetentionSettings { logs_days: Some(29), ..Default::default() };
        assert!(matches!(logs.validate(), Err(RetentionError::BelowMinimum { field: "logs_days", .. })));
        assert_eq!(logs.effective_days(RetentionCategory::Logs), Some(30));
        assert!(RetentionSettings { audit_days: Some(400), logs_days: Some(30), ..Default::default() }.validate().is_ok());
        assert!(RetentionSettings { audit_days: Some(3651), ..Default::default() }.validate().is_err());
        assert!(matches!(
            RetentionSettings { inbound_metadata_days: Some(0), ..Default::default() }.validate(),
            Err(RetentionError::OutOfRange { .. })
        ));
        assert!(matches!(
            RetentionSettings { email_bodies_days: Some(731), ..Default::default() }.validate(),
            Err(RetentionError::OutOfRange { .. })
        ));
    }

    #[test]
    fn shortening_is_what_changes_in_force() {
        let old = RetentionSettings { inbound_metadata_days: Some(60), audit_days: Some(800), ..Default::default() };
        let new = RetentionSettings {
            inbound_metadata_days: Some(20),
            audit_days: Some(900),
            contact_notes_days: Some(10),
            ..Default::default()
        };
        // Bodies follow the metadata down; notes go from "until deleted" to a window.
        assert_eq!(
            old.shortened_in(&new),
            vec![RetentionCategory::EmailBodies, RetentionCategory::ContactNotes, RetentionCategory::InboundMetadata]
        );
        assert_eq!(new.shortened_in(&old), vec![RetentionCategory::Audit], "lengthening and clearing are not shortening");
        // Setting the default explicitly changes nothing in force.
        assert!(
            RetentionSettings::default()
                .shortened_in(&RetentionSettings { inbound_metadata_days: Some(60), ..Default::default() })
                .is_empty()
        );
    }

    #[test]
    fn reapplying_only_brings_expiry_earlier_or_deletes() {
        let now = 100 * DAY;
        assert_eq!(reapply(10 * DAY, 30, Some(70 * DAY), now), Reapplied::DeleteNow, "created 90 days ago, window 30");
        assert_eq!(reapply(now - DAY, 30, Some(now + 59 * DAY), now), Reapplied::ExpireAt(now + 29 * DAY));
        assert_eq!(reapply(now - DAY, 30, None, now), Reapplied::ExpireAt(now + 29 * DAY), "an item kept until deleted gets a TTL");
        assert_eq!(reapply(now - DAY, 30, Some(now + DAY), now), Reapplied::Unchanged, "never extended");
        assert_eq!(reapply(now - 30 * DAY, 30, None, now), Reapplied::DeleteNow, "due exactly now");
    }
}
