//! SES feedback notifications: bounces, complaints and deliveries, as SES publishes
//! them (identity notifications with `notificationType`, or configuration-set events
//! with `eventType`), bare or inside the SNS envelope they travel in.
//!
//! Pure: bytes in, a [`Feedback`] out, a clear [`SesError`] for anything else.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// SNS refuses messages over 256 KB; anything larger is not from SES.
pub const MAX_NOTIFICATION_BYTES: usize = 256 * 1024;

/// The message tags Tern sets on SES mail and reads back from its events. Tag
/// values allow no dots, so an enrollment id's dot travels as an underscore.
pub const WORKSPACE_TAG: &str = "workspace";
pub const ENROLLMENT_TAG: &str = "enrollment";

pub fn enrollment_tag_value(enrollment_id: &str) -> String {
    enrollment_id.replace('.', "_")
}

pub fn enrollment_from_tag(value: &str) -> String {
    value.replace('_', ".")
}

/// What a notification says happened to the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeedbackKind {
    /// `Permanent`: the address does not work; never write to it again.
    HardBounce {
        sub_type: Option<String>,
    },
    /// `Transient` with a definite reason (mailbox full, message too large, content
    /// or attachment rejected): may work later.
    SoftBounce {
        sub_type: Option<String>,
    },
    /// `Transient`/`General`, or `Undetermined`: SES files auto-replies (out of office)
    /// here too, so it is not held against the address.
    UnclearBounce {
        sub_type: Option<String>,
    },
    Complaint {
        feedback_type: Option<String>,
    },
    Delivery,
    DeliveryDelay,
    /// Sends, opens, rejects… : nothing to act on.
    Other {
        name: String,
    },
}

impl FeedbackKind {
    /// The classifier's name for the same verdict, so one set of effects serves both
    /// inbound mail and provider feedback.
    pub fn classifier_kind(&self) -> Option<crate::Kind> {
        match self {
            FeedbackKind::HardBounce { .. } => Some(crate::Kind::BounceHard),
            FeedbackKind::SoftBounce { .. } => Some(crate::Kind::BounceSoft),
            FeedbackKind::Complaint { .. } => Some(crate::Kind::Complaint),
            FeedbackKind::Delivery | FeedbackKind::DeliveryDelay => Some(crate::Kind::DeliveryReport),
            FeedbackKind::UnclearBounce { .. } | FeedbackKind::Other { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackRecipient {
    pub email: String,
    /// Enhanced status code (`5.1.1`), when SES gives one.
    pub status: Option<String>,
    pub diagnostic: Option<String>,
}

/// One SES notification, reduced to what Tern acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    #[serde(flatten)]
    pub kind: FeedbackKind,
    pub recipients: Vec<FeedbackRecipient>,
    /// SES's own id of the sent message.
    pub ses_message_id: Option<String>,
    /// The Message-ID header we set, without angle brackets.
    pub message_id: Option<String>,
    /// Message tags set at send time (configuration-set events carry them).
    pub tags: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SesError {
    #[error("the notification is larger than {MAX_NOTIFICATION_BYTES} bytes")]
    TooLarge,
    #[error("the notification is not JSON: {0}")]
    NotJson(String),
    #[error("the SNS envelope's Message is not an SES notification: {0}")]
    NotNotification(String),
    #[error("the notification has no notificationType or eventType")]
    NoType,
}

/// Parses a notification, bare or in its SNS envelope.
pub fn parse_notification(input: &[u8]) -> Result<Feedback, SesError> {
    if input.len() > MAX_NOTIFICATION_BYTES {
        return Err(SesError::TooLarge);
    }
    let value: serde_json::Value = serde_json::from_slice(input).map_err(|e| SesError::NotJson(e.to_string()))?;
    // The SNS envelope carries the notification as a JSON string in `Message`.
    let notification = match value.get("Message").and_then(|m| m.as_str()) {
        Some(inner) => serde_json::from_str::<serde_json::Value>(inner).map_err(|e| SesError::NotNotification(e.to_string()))?,
        None => value,
    };
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let name = text(&notification["notificationType"]).or_else(|| text(&notification["eventType"])).ok_or(SesError::NoType)?;
    let recipients = |list: &serde_json::Value| -> Vec<FeedbackRecipient> {
        list.as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|r| match r {
                        serde_json::Value::String(email) => {
                            Some(FeedbackRecipient { email: email.clone(), status: None, diagnostic: None })
                        }
                        other => Some(FeedbackRecipient {
                            email: text(&other["emailAddress"])?,
                            status: text(&other["status"]),
                            diagnostic: text(&other["diagnosticCode"]),
                        }),
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (kind, recipients) = match name.as_str() {
        "Bounce" => {
            let bounce = &notification["bounce"];
            let sub_type = text(&bounce["bounceSubType"]);
            let kind = match (bounce["bounceType"].as_str(), sub_type.as_deref()) {
                (Some("Permanent"), _) => FeedbackKind::HardBounce { sub_type },
                (Some("Transient"), Some("MailboxFull" | "MessageTooLarge" | "ContentRejected" | "AttachmentRejected")) => {
                    FeedbackKind::SoftBounce { sub_type }
                }
                _ => FeedbackKind::UnclearBounce { sub_type },
            };
            (kind, recipients(&bounce["bouncedRecipients"]))
        }
        "Complaint" => {
            let complaint = &notification["complaint"];
            (
                FeedbackKind::Complaint { feedback_type: text(&complaint["complaintFeedbackType"]) },
                recipients(&complaint["complainedRecipients"]),
            )
        }
        "Delivery" => (FeedbackKind::Delivery, recipients(&notification["delivery"]["recipients"])),
        "DeliveryDelay" => (FeedbackKind::DeliveryDelay, recipients(&notification["deliveryDelay"]["delayedRecipients"])),
        other => (FeedbackKind::Other { name: other.chars().take(64).collect() }, Vec::new()),
    };
    let mail = &notification["mail"];
    let header_message_id = mail["headers"].as_array().and_then(|headers| {
        headers.iter().find(|h| h["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case("Message-ID"))).and_then(|h| text(&h["value"]))
    });
    let message_id = text(&mail["commonHeaders"]["messageId"])
        .or(header_message_id)
        .map(|id| id.trim().trim_start_matches('<').trim_end_matches('>').to_string())
        .filter(|id| !id.is_empty());
    let tags = mail["tags"]
        .as_object()
        .map(|tags| {
            tags.iter()
                .map(|(k, v)| {
                    (k.clone(), v.as_array().map(|vs| vs.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Feedback { kind, recipients, ses_message_id: text(&mail["messageId"]), message_id, tags })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_with_tags_inside_an_sns_envelope() {
        let inner = serde_json::json!({
            "eventType": "Bounce",
            "bounce": { "bounceType": "Transient", "bounceSubType": "MailboxFull", "bouncedRecipients": [{ "emailAddress": "a@b.example", "status": "4.2.2" }] },
            "mail": { "messageId": "ses-1", "commonHeaders": { "messageId": "<e1.s1.0@send.example>" }, "tags": { "workspace": ["w1"] } }
        });
        let envelope = serde_json::json!({ "Type": "Notification", "Message": inner.to_string() });
        let feedback = parse_notification(envelope.to_string().as_bytes()).unwrap();
        assert_eq!(feedback.kind, FeedbackKind::SoftBounce { sub_type: Some("MailboxFull".into()) });
        assert_eq!(feedback.message_id.as_deref(), Some("e1.s1.0@send.example"));
        assert_eq!(feedback.tags["workspace"], vec!["w1".to_string()]);
        assert_eq!(feedback.recipients[0].status.as_deref(), Some("4.2.2"));
    }

    #[test]
    fn an_out_of_office_filed_as_a_general_transient_bounce_is_not_held_against_the_address() {
        let n = br#"{"notificationType":"Bounce","bounce":{"bounceType":"Transient","bounceSubType":"General","bouncedRecipients":[]},"mail":{}}"#;
        let feedback = parse_notification(n).unwrap();
        assert_eq!(feedback.kind.classifier_kind(), None);
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        assert!(matches!(parse_notification(b"not json"), Err(SesError::NotJson(_))));
        assert_eq!(parse_notification(b"{}"), Err(SesError::NoType));
        assert!(matches!(parse_notification(br#"{"Message":"not json"}"#), Err(SesError::NotNotification(_))));
        assert_eq!(parse_notification(&vec![b' '; MAX_NOTIFICATION_BYTES + 1]), Err(SesError::TooLarge));
    }
}
