//! What a classified reply does to the outreach, decided here as a pure function of
//! its kind (the adapter, `tern_aws::outreach::effects`, carries it out): a person's
//! reply stops the sequence, an out-of-office pauses it until the stated return,
//! bounces and complaints suppress the address. Every kind has its decision: a new
//! kind does not compile until it is decided, and nothing falls silently into "no
//! change" because a name was misspelt.

use serde::{Deserialize, Serialize};

/// What an inbound message is, from our side of an outreach conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A person wrote this; stop the sequence and show it.
    Human,
    /// A person asks not to be contacted again.
    UnsubscribeRequest,
    /// An out-of-office notice; `return_date` when it states one.
    AutoReplyOoo,
    /// Any other automatic answer: ticket acknowledgements, unmonitored
    /// mailboxes, challenge-response, read receipts.
    AutoReplyOther,
    /// The address does not or cannot exist.
    BounceHard,
    /// Delivery failed for another reason (full, policy, spam, expired, ...).
    BounceSoft,
    /// An ARF (RFC 5965) abuse report.
    Complaint,
    /// A successful delivery notice.
    DeliveryReport,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Human,
        Kind::UnsubscribeRequest,
        Kind::AutoReplyOoo,
        Kind::AutoReplyOther,
        Kind::BounceHard,
        Kind::BounceSoft,
        Kind::Complaint,
        Kind::DeliveryReport,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Human => "human",
            Kind::UnsubscribeRequest => "unsubscribe_request",
            Kind::AutoReplyOoo => "auto_reply_ooo",
            Kind::AutoReplyOther => "auto_reply_other",
            Kind::BounceHard => "bounce_hard",
            Kind::BounceSoft => "bounce_soft",
            Kind::Complaint => "complaint",
            Kind::DeliveryReport => "delivery_report",
        }
    }

    /// Parses a kind name; also accepts the corpus labels `fbl_complaint`
    /// and `dsn_delivered`.
    pub fn from_label(label: &str) -> Option<Kind> {
        let label = label.trim();
        match label {
            "fbl_complaint" => Some(Kind::Complaint),
            "dsn_delivered" => Some(Kind::DeliveryReport),
            _ => Kind::ALL.into_iter().find(|k| k.as_str() == label),
        }
    }

    pub fn is_bounce(self) -> bool {
        matches!(self, Kind::BounceHard | Kind::BounceSoft)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an address must never be written to again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionReason {
    Unsubscribed,
    HardBounce,
    Complaint,
    RepeatedSoftBounces,
    Manual,
    /// The person asked to be forgotten; only this entry remains.
    Erased,
}

/// A mailbox's deliverability counters, one per kind of bad outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxCounter {
    HardBounces,
    Complaints,
    SoftBounces,
}

impl MailboxCounter {
    /// The mailbox item's attribute that holds it.
    pub fn attribute(self) -> &'static str {
        match self {
            MailboxCounter::HardBounces => "hard_bounces",
            MailboxCounter::Complaints => "complaints",
            MailboxCounter::SoftBounces => "soft_bounces",
        }
    }
}

/// Soft bounces of one address before it is suppressed.
pub const SOFT_BOUNCES_BEFORE_SUPPRESSION: u32 = 3;

/// What one classified message does to the enrollment it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// A person replied: the enrollment stops (and, where the sequence says so,
    /// every colleague's at the same company).
    StopReplied,
    /// The address is suppressed workspace-wide and its enrollments stop; `counted`
    /// against the sending mailbox's deliverability when it says something about it.
    Suppress { reason: SuppressionReason, counted: Option<MailboxCounter> },
    /// Out of office until this date: pause until the next business morning after it.
    PauseUntil(jiff::civil::Date),
    /// A soft bounce: counted against the mailbox and the address; the address is
    /// suppressed at [`SOFT_BOUNCES_BEFORE_SUPPRESSION`] ([`after_soft_bounces`]).
    CountSoftBounce,
    /// Nothing changes, and why.
    Nothing(&'static str),
}

/// The effect of a message of `kind`; `return_date` is an out-of-office's stated return.
pub fn effect_of(kind: Kind, return_date: Option<jiff::civil::Date>) -> Effect {
    match kind {
        Kind::Human => Effect::StopReplied,
        Kind::UnsubscribeRequest => Effect::Suppress { reason: SuppressionReason::Unsubscribed, counted: None },
        Kind::AutoReplyOoo => match return_date {
            Some(date) => Effect::PauseUntil(date),
            None => Effect::Nothing("out of office without a return date"),
        },
        Kind::AutoReplyOther => Effect::Nothing("an automatic reply"),
        Kind::BounceHard => Effect::Suppress { reason: SuppressionReason::HardBounce, counted: Some(MailboxCounter::HardBounces) },
        Kind::BounceSoft => Effect::CountSoftBounce,
        Kind::Complaint => Effect::Suppress { reason: SuppressionReason::Complaint, counted: Some(MailboxCounter::Complaints) },
        Kind::DeliveryReport => Effect::Nothing("a delivery report"),
    }
}

/// After an address's `seen`-th soft bounce: suppressed, or still counting.
pub fn after_soft_bounces(seen: u32) -> Option<SuppressionReason> {
    (seen >= SOFT_BOUNCES_BEFORE_SUPPRESSION).then_some(SuppressionReason::RepeatedSoftBounces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_effect() {
        let back = jiff::civil::date(2026, 12, 14);
        let table: [(Kind, Option<jiff::civil::Date>, Effect); 10] = [
            (Kind::Human, None, Effect::StopReplied),
            (Kind::Human, Some(back), Effect::StopReplied),
            (Kind::UnsubscribeRequest, None, Effect::Suppress { reason: SuppressionReason::Unsubscribed, counted: None }),
            (Kind::AutoReplyOoo, Some(back), Effect::PauseUntil(back)),
            (Kind::AutoReplyOoo, None, Effect::Nothing("out of office without a return date")),
            (Kind::AutoReplyOther, None, Effect::Nothing("an automatic reply")),
            (
                Kind::BounceHard,
                None,
                Effect::Suppress { reason: SuppressionReason::HardBounce, counted: Some(MailboxCounter::HardBounces) },
            ),
            (Kind::BounceSoft, None, Effect::CountSoftBounce),
            (Kind::Complaint, None, Effect::Suppress { reason: SuppressionReason::Complaint, counted: Some(MailboxCounter::Complaints) }),
            (Kind::DeliveryReport, None, Effect::Nothing("a delivery report")),
        ];
        for (kind, date, effect) in table {
            assert_eq!(effect_of(kind, date), effect, "{kind} with return date {date:?}");
        }
        // The table covers every kind.
        for kind in Kind::ALL {
            assert!(table.iter().any(|(k, _, _)| *k == kind), "{kind} has no row");
        }
    }

    #[test]
    fn the_third_soft_bounce_suppresses() {
        assert_eq!(
            (1..=4).map(after_soft_bounces).collect::<Vec<_>>(),
            [None, None, Some(SuppressionReason::RepeatedSoftBounces), Some(SuppressionReason::RepeatedSoftBounces)]
        );
    }

    #[test]
    fn kinds_read_their_names_and_the_corpus_labels() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_label(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(Kind::from_label("fbl_complaint"), Some(Kind::Complaint));
        assert_eq!(Kind::from_label("dsn_delivered"), Some(Kind::DeliveryReport));
        assert_eq!(Kind::from_label("humane"), None);
    }
}
