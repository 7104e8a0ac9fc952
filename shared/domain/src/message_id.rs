//! Our Message-IDs: every outreach step's is `<enrollment id>.<step>@<sending domain>`,
//! the same on every attempt of that step. That is what makes a send reconcilable
//! after a crash (look the id up in provider events or the Sent folder) and what links
//! a reply to its enrollment (its `In-Reply-To` and `References` name it). Composed
//! and parsed here only, so the two can never drift apart.

use std::fmt;

/// The Message-ID of one step of one enrollment, without angle brackets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StepMessageId {
    pub enrollment_id: String,
    pub step: u32,
    /// Lower-case, without a trailing dot.
    pub domain: String,
}

impl StepMessageId {
    pub fn new(enrollment_id: &str, step: u32, domain: &str) -> Self {
        Self { enrollment_id: enrollment_id.trim().to_string(), step, domain: domain.trim().trim_end_matches('.').to_ascii_lowercase() }
    }

    /// Reads a Message-ID as a header carries it (`<…>`, surrounding space). `None`
    /// for anyone else's: no `@`, no numeric step after the last dot of the local
    /// part, or an enrollment id without the dot every enrollment id has.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let text = text.strip_prefix('<').unwrap_or(text);
        let text = text.strip_suffix('>').unwrap_or(text);
        let (local, domain) = text.split_once('@')?;
        let (enrollment, step) = local.rsplit_once('.')?;
        if !enrollment.contains('.') || domain.is_empty() || !step.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self::new(enrollment, step.parse().ok()?, domain))
    }
}

impl fmt::Display for StepMessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}@{}", self.enrollment_id, self.step, self.domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENROLLMENT: &str = "0190f1c2-aaaa-7bbb-8ccc-000000000001.0190f1c2-aaaa-7bbb-8ccc-000000000002";

    #[test]
    fn what_is_composed_parses_back() {
        let id = StepMessageId::new(ENROLLMENT, 3, "Mail.Tern.DEV.");
        assert_eq!(id.to_string(), format!("{ENROLLMENT}.3@mail.tern.dev"));
        for written in [id.to_string(), format!("<{id}>"), format!("  <{id}>\r\n")] {
            assert_eq!(StepMessageId::parse(&written), Some(id.clone()), "{written:?}");
        }
    }

    #[test]
    fn other_message_ids_are_not_ours() {
        for other in [
            "",
            "<>",
            "CAF=abc@mail.gmail.com",
            "0190f1c2-aaaa.x@tern.dev",
            "no-dot.3@tern.dev",
            &format!("{ENROLLMENT}.3"),
            &format!("{ENROLLMENT}.3@"),
            &format!("{ENROLLMENT}.-3@tern.dev"),
            &format!("{ENROLLMENT}.99999999999@tern.dev"),
        ] {
            assert_eq!(StepMessageId::parse(other), None, "{other:?}");
        }
    }
}
