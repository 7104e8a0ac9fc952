//! What a person's reply means for the outreach, as an optional language model
//! reads it: interested, not interested, a meeting, a referral, the wrong person.
//!
//! The rules classifier (`tern_mail`) decides whether a reply is human and what
//! it does to the sequence; the intent only adds a reading of a human reply and
//! never changes that verdict. The model is asked to answer one JSON object,
//! `{"intent": "...", "confidence": 0..1, "reason": "..."}`; [`parse_answer`]
//! accepts exactly that (optionally inside a ```json fence, as chat models like
//! to write it) and turns anything else into an [`AnswerError`], so a model that
//! rambles, invents a category or returns nothing is recorded as a failure
//! rather than guessed at.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a human reply says about the lead's interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyIntent {
    /// Wants to hear more or carry on the conversation.
    Interested,
    /// Declines.
    NotInterested,
    /// Proposes, accepts or asks to book a call or meeting.
    Meeting,
    /// Names someone else to talk to.
    Referral,
    /// Says they are not the right person, without naming anyone.
    WrongPerson,
}

impl ReplyIntent {
    pub const ALL: [ReplyIntent; 5] =
        [ReplyIntent::Interested, ReplyIntent::NotInterested, ReplyIntent::Meeting, ReplyIntent::Referral, ReplyIntent::WrongPerson];

    pub const fn as_str(self) -> &'static str {
        match self {
            ReplyIntent::Interested => "interested",
            ReplyIntent::NotInterested => "not_interested",
            ReplyIntent::Meeting => "meeting",
            ReplyIntent::Referral => "referral",
            ReplyIntent::WrongPerson => "wrong_person",
        }
    }
}

impl fmt::Display for ReplyIntent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReplyIntent {
    type Err = AnswerError;

    /// Exactly the snake_case names: a model that answers "Interested!" has not
    /// followed the instructions, and its other fields are not trusted either.
    fn from_str(s: &str) -> Result<Self, AnswerError> {
        ReplyIntent::ALL.into_iter().find(|i| i.as_str() == s).ok_or_else(|| AnswerError::UnknownIntent(truncate(s, 40)))
    }
}

/// How sure the model says it is, in `0.0..=1.0`. Always finite, which is what
/// makes it `Eq` (records holding it compare whole).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Confidence(f64);

impl Eq for Confidence {}

impl Confidence {
    pub fn new(value: f64) -> Result<Self, AnswerError> {
        if value.is_finite() && (0.0..=1.0).contains(&value) { Ok(Self(value)) } else { Err(AnswerError::Confidence) }
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Confidence {
    type Error = AnswerError;
    fn try_from(value: f64) -> Result<Self, AnswerError> {
        Confidence::new(value)
    }
}

impl From<Confidence> for f64 {
    fn from(c: Confidence) -> f64 {
        c.0
    }
}

/// A model's answer that passed [`parse_answer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentAnswer {
    pub intent: ReplyIntent,
    pub confidence: Confidence,
    /// One short sentence, trimmed and cut to [`MAX_REASON_CHARS`].
    pub reason: String,
}

/// A reason is shown next to the reply, not read as an essay.
pub const MAX_REASON_CHARS: usize = 300;

/// Answers longer than this are not the one small object that was asked for.
pub const MAX_ANSWER_BYTES: usize = 8 * 1024;

/// Why a model's answer was not accepted. Messages never quote more than a few
/// characters of the answer (the whole answer is kept with the record instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("the model's answer is empty")]
    Empty,
    #[error("the model's answer is longer than {MAX_ANSWER_BYTES} bytes")]
    TooLong,
    #[error("the model's answer is not the JSON object asked for: {0}")]
    NotJson(String),
    #[error("the model's answer has no `{0}`")]
    Missing(&'static str),
    #[error("the model's answer has a field that was not asked for: `{0}`")]
    UnexpectedField(String),
    #[error("`{0}` in the model's answer has the wrong type")]
    WrongType(&'static str),
    #[error("the model answered an intent that does not exist: {0:?}")]
    UnknownIntent(String),
    #[error("the model's confidence is not a number from 0 to 1")]
    Confidence,
}

/// Parses a model's answer: one JSON object with `intent`, `confidence` and
/// `reason` and nothing else, optionally inside one Markdown code fence.
pub fn parse_answer(text: &str) -> Result<IntentAnswer, AnswerError> {
    if text.len() > MAX_ANSWER_BYTES {
        return Err(AnswerError::TooLong);
    }
    let body = strip_fence(text.trim()).trim();
    if body.is_empty() {
        return Err(AnswerError::Empty);
    }
    let value: serde_json::Value = serde_json::from_str(body).map_err(|e| AnswerError::NotJson(e.to_string()))?;
    let serde_json::Value::Object(fields) = value else {
        return Err(AnswerError::NotJson("not an object".into()));
    };
    if let Some(extra) = fields.keys().find(|k| !["intent", "confidence", "reason"].contains(&k.as_str())) {
        return Err(AnswerError::UnexpectedField(truncate(extra, 40)));
    }
    let intent = match fields.get("intent") {
        None | Some(serde_json::Value::Null) => return Err(AnswerError::Missing("intent")),
        Some(serde_json::Value::String(s)) => s.parse::<ReplyIntent>()?,
        Some(_) => return Err(AnswerError::WrongType("intent")),
    };
    let confidence = match fields.get("confidence") {
        None | Some(serde_json::Value::Null) => return Err(AnswerError::Missing("confidence")),
        Some(serde_json::Value::Number(n)) => Confidence::new(n.as_f64().ok_or(AnswerError::Confidence)?)?,
        Some(_) => return Err(AnswerError::WrongType("confidence")),
    };
    let reason = match fields.get("reason") {
        None | Some(serde_json::Value::Null) => return Err(AnswerError::Missing("reason")),
        Some(serde_json::Value::String(s)) => truncate(s.trim(), MAX_REASON_CHARS),
        Some(_) => return Err(AnswerError::WrongType("reason")),
    };
    Ok(IntentAnswer { intent, confidence, reason })
}

/// "```json\n{...}\n```" → "{...}". Text without a fence is returned as it is; an
/// opened fence that is never closed is left alone and fails as JSON.
fn strip_fence(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    let Some(inner) = rest.strip_suffix("```") else {
        return text;
    };
    // The info string ("json", "JSON", nothing) runs to the end of the first line.
    match inner.split_once('\n') {
        Some((info, body)) if info.trim().chars().all(|c| c.is_ascii_alphanumeric()) => body,
        _ => text,
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> IntentAnswer {
        parse_answer(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn reads_the_object_that_was_asked_for() {
        let answer = ok(r#"{"intent": "meeting", "confidence": 0.92, "reason": "Proposes Tuesday at 3pm."}"#);
        assert_eq!(answer.intent, ReplyIntent::Meeting);
        assert_eq!(answer.confidence.get(), 0.92);
        assert_eq!(answer.reason, "Proposes Tuesday at 3pm.");
        assert_eq!(ok(r#"{"intent":"wrong_person","confidence":1,"reason":""}"#).confidence.get(), 1.0);
        assert_eq!(ok(r#"{"reason":"x","confidence":0,"intent":"referral"}"#).intent, ReplyIntent::Referral);
    }

    #[test]
    fn tolerates_a_code_fence_and_surrounding_space() {
        for text in [
            "```json\n{\"intent\":\"interested\",\"confidence\":0.7,\"reason\":\"Asks for pricing.\"}\n```",
            "  ```JSON\n{\"intent\":\"interested\",\"confidence\":0.7,\"reason\":\"Asks for pricing.\"}```\n",
            "```\n{\"intent\":\"interested\",\"confidence\":0.7,\"reason\":\"Asks for pricing.\"}\n```",
            "\n{\"intent\":\"interested\",\"confidence\":0.7,\"reason\":\"Asks for pricing.\"}\n",
        ] {
            assert_eq!(ok(text).intent, ReplyIntent::Interested, "{text:?}");
        }
    }

    #[test]
    fn every_intent_round_trips_through_its_name() {
        for intent in ReplyIntent::ALL {
            assert_eq!(intent.as_str().parse::<ReplyIntent>(), Ok(intent));
            assert_eq!(serde_json::to_value(intent).unwrap(), serde_json::Value::String(intent.as_str().into()));
            let answer = ok(&format!(r#"{{"intent":"{intent}","confidence":0.5,"reason":"r"}}"#));
            assert_eq!(answer.intent, intent);
        }
    }

    #[test]
    fn anything_else_is_a_clear_error() {
        let cases: &[(&str, AnswerError)] = &[
            ("", AnswerError::Empty),
            ("   \n ", AnswerError::Empty),
            ("```json\n\n```", AnswerError::Empty),
            (r#"{"intent":"maybe","confidence":0.5,"reason":"r"}"#, AnswerError::UnknownIntent("maybe".into())),
            (r#"{"intent":"Interested","confidence":0.5,"reason":"r"}"#, AnswerError::UnknownIntent("Interested".into())),
            (r#"{"intent":null,"confidence":0.5,"reason":"r"}"#, AnswerError::Missing("intent")),
            (r#"{"confidence":0.5,"reason":"r"}"#, AnswerError::Missing("intent")),
            (r#"{"intent":"meeting","reason":"r"}"#, AnswerError::Missing("confidence")),
            (r#"{"intent":"meeting","confidence":0.5}"#, AnswerError::Missing("reason")),
            (r#"{"intent":"meeting","confidence":1.5,"reason":"r"}"#, AnswerError::Confidence),
            (r#"{"intent":"meeting","confidence":-0.1,"reason":"r"}"#, AnswerError::Confidence),
            (r#"{"intent":"meeting","confidence":"high","reason":"r"}"#, AnswerError::WrongType("confidence")),
            (r#"{"intent":3,"confidence":0.5,"reason":"r"}"#, AnswerError::WrongType("intent")),
            (r#"{"intent":"meeting","confidence":0.5,"reason":["r"]}"#, AnswerError::WrongType("reason")),
            (r#"{"intent":"meeting","confidence":0.5,"reason":"r","next_step":"call"}"#, AnswerError::UnexpectedField("next_step".into())),
        ];
        for (text, want) in cases {
            assert_eq!(parse_answer(text).as_ref(), Err(want), "{text:?}");
        }
        for text in [
            "Sure! The intent is meeting.",
            r#"["meeting", 0.9, "r"]"#,
            r#"Here you go: {"intent":"meeting","confidence":0.9,"reason":"r"}"#,
            "```json\n{\"intent\":\"meeting\",\"confidence\":0.9,\"reason\":\"r\"}",
            r#"{"intent":"meeting","confidence":0.9,"reason":"r"} {"intent":"referral"}"#,
        ] {
            assert!(matches!(parse_answer(text), Err(AnswerError::NotJson(_))), "{text:?}: {:?}", parse_answer(text));
        }
        assert_eq!(parse_answer(&" ".repeat(MAX_ANSWER_BYTES + 1)), Err(AnswerError::TooLong));
    }

    #[test]
    fn long_reasons_are_cut_and_unknown_names_are_not_echoed_in_full() {
        let long = "é".repeat(MAX_REASON_CHARS + 50);
        let answer = ok(&format!(r#"{{"intent":"interested","confidence":0.5,"reason":"{long}"}}"#));
        assert_eq!(answer.reason.chars().count(), MAX_REASON_CHARS);
        let Err(AnswerError::UnknownIntent(echoed)) =
            parse_answer(&format!(r#"{{"intent":"{}","confidence":0.5,"reason":"r"}}"#, "x".repeat(500)))
        else {
            panic!("an unknown intent");
        };
        assert_eq!(echoed.len(), 40);
    }

    #[test]
    fn confidence_is_checked_when_read_back_from_storage() {
        assert!(serde_json::from_str::<Confidence>("0.25").is_ok());
        assert!(serde_json::from_str::<Confidence>("2").is_err());
        assert_eq!(serde_json::to_string(&Confidence::new(0.25).unwrap()).unwrap(), "0.25");
        assert_eq!(Confidence::new(f64::NAN), Err(AnswerError::Confidence));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_text(text in "\\PC{0,300}") {
            let _ = parse_answer(&text);
            let _ = parse_answer(&format!("```json\n{text}\n```"));
        }
    }
}
