//! Machine-readable report parts: RFC 3464 delivery status, RFC 5965
//! feedback reports, and the same `Name: value` field syntax found in the text
//! of bounces that have no DSN part.

use serde::Serialize;

/// Per-recipient fields of a delivery status notification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecipientStatus {
    pub final_recipient: Option<String>,
    pub original_recipient: Option<String>,
    /// Lowercase: `failed`, `delayed`, `delivered`, `relayed`, `expanded`.
    pub action: Option<String>,
    /// Enhanced status code as written (`5.1.1`), comment removed.
    pub status: Option<String>,
    pub remote_mta: Option<String>,
    pub diagnostic_code: Option<String>,
}

/// An RFC 3464 `message/delivery-status` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryStatus {
    pub reporting_mta: Option<String>,
    pub recipients: Vec<RecipientStatus>,
}

/// An RFC 5965 `message/feedback-report` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FeedbackReport {
    /// Lowercase: `abuse`, `fraud`, `not-spam`, `virus`, `other`, ...
    pub feedback_type: Option<String>,
    pub user_agent: Option<String>,
    pub original_mail_from: Option<String>,
    pub original_rcpt_to: Option<String>,
    pub reported_domain: Option<String>,
    pub source_ip: Option<String>,
}

/// Splits header-like text into blocks (separated by blank lines) of
/// `(lowercase name, unfolded value)` pairs. Lines that are not fields are
/// skipped, so prose around the fields does no harm.
pub(crate) fn parse_fields(text: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks: Vec<Vec<(String, String)>> = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    let mut last_was_field = false;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
            last_was_field = false;
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if last_was_field && let Some((_, value)) = current.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        match field(line) {
            Some((name, value)) => {
                current.push((name, value));
                last_was_field = true;
            }
            None => last_was_field = false,
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

fn field(line: &str) -> Option<(String, String)> {
    let colon = line.find(':')?;
    let name = &line[..colon];
    if name.is_empty() || name.len() > 40 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return None;
    }
    Some((name.to_ascii_lowercase(), line[colon + 1..].trim().to_owned()))
}

pub(crate) fn parse_delivery_status(text: &str) -> DeliveryStatus {
    let mut out = DeliveryStatus::default();
    for block in parse_fields(text) {
        let mut rcpt = RecipientStatus::default();
        let mut is_rcpt = false;
        for (name, value) in block {
            match name.as_str() {
                "reporting-mta" if out.reporting_mta.is_none() => {
                    out.reporting_mta = Some(strip_type(&value));
                }
                "final-recipient" => {
                    // Several recipients in one block without a blank line:
                    // a second Final-Recipient starts a new one.
                    if rcpt.final_recipient.is_some() {
                        out.recipients.push(std::mem::take(&mut rcpt));
                    }
                    rcpt.final_recipient = Some(strip_type(&value));
                    is_rcpt = true;
                }
                "original-recipient" => rcpt.original_recipient = Some(strip_type(&value)),
                "action" => {
                    rcpt.action = Some(value.split(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("").to_ascii_lowercase());
                    is_rcpt = true;
                }
                "status" => {
                    rcpt.status = first_status_code(&value).or_else(|| Some(value.clone()));
                    is_rcpt = true;
                }
                "remote-mta" => rcpt.remote_mta = Some(strip_type(&value)),
                "diagnostic-code" => {
                    rcpt.diagnostic_code = Some(value);
                    is_rcpt = true;
                }
                _ => {}
            }
        }
        if is_rcpt {
            out.recipients.push(rcpt);
        }
    }
    out
}

pub(crate) fn parse_feedback_report(text: &str) -> FeedbackReport {
    let mut out = FeedbackReport::default();
    for (name, value) in parse_fields(text).into_iter().flatten() {
        let slot = match name.as_str() {
            "feedback-type" => &mut out.feedback_type,
            "user-agent" => &mut out.user_agent,
            "original-mail-from" => &mut out.original_mail_from,
            "original-rcpt-to" => &mut out.original_rcpt_to,
            "reported-domain" => &mut out.reported_domain,
            "source-ip" => &mut out.source_ip,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value);
        }
    }
    if let Some(t) = out.feedback_type.as_mut() {
        *t = t.to_ascii_lowercase();
    }
    out
}

/// `rfc822; user@example.com` → `user@example.com`.
fn strip_type(value: &str) -> String {
    match value.split_once(';') {
        Some((_, rest)) => rest.trim().to_owned(),
        None => value.trim().to_owned(),
    }
}

/// The first enhanced status code (`class.subject.detail`, RFC 3463) in
/// `text`, with class 2, 4 or 5.
pub(crate) fn first_status_code(text: &str) -> Option<String> {
    status_codes(text).next()
}

/// Every enhanced status code in `text`, in order.
pub(crate) fn status_codes(text: &str) -> impl Iterator<Item = String> + '_ {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let start = i;
            i += 1;
            let c = bytes[start];
            if !matches!(c, b'2' | b'4' | b'5') {
                continue;
            }
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'.') {
                continue;
            }
            // class "." subject(1-3 digits) "." detail(1-3 digits)
            let mut j = start + 1;
            if bytes.get(j) != Some(&b'.') {
                continue;
            }
            j += 1;
            let s = j;
            while j < bytes.len() && bytes[j].is_ascii_digit() && j - s < 3 {
                j += 1;
            }
            if j == s || bytes.get(j) != Some(&b'.') {
                continue;
            }
            j += 1;
            let d = j;
            while j < bytes.len() && bytes[j].is_ascii_digit() && j - d < 3 {
                j += 1;
            }
            if j == d {
                continue;
            }
            // Reject IP addresses and version numbers: 5.1.1.4 or 5.1.1a.
            if j < bytes.len()
                && (bytes[j].is_ascii_alphanumeric() || (bytes[j] == b'.' && bytes.get(j + 1).is_some_and(u8::is_ascii_digit)))
            {
                continue;
            }
            i = j;
            return Some(text[start..j].to_owned());
        }
        None
    })
}

/// The first three-digit SMTP reply code (2xx/4xx/5xx) that starts a word.
pub(crate) fn first_reply_code(text: &str) -> Option<u16> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 3 <= bytes.len() {
        let c = bytes[i];
        if matches!(c, b'4' | b'5')
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric() && bytes[i - 1] != b'.')
            && bytes[i + 1].is_ascii_digit()
            && bytes[i + 2].is_ascii_digit()
            && (i + 3 == bytes.len() || matches!(bytes[i + 3], b' ' | b'-' | b'\t' | b'\r' | b'\n'))
        {
            let code = (u16::from(c - b'0')) * 100 + u16::from(bytes[i + 1] - b'0') * 10 + u16::from(bytes[i + 2] - b'0');
            if (400..560).contains(&code) && code % 100 < 60 {
                return Some(code);
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_recipient_blocks() {
        let ds = parse_delivery_status(
            "Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; a@example.org\n\
Action: failed\nStatus: 5.1.1 (bad mailbox)\nDiagnostic-Code: smtp; 550 5.1.1 User\n unknown\n",
        );
        assert_eq!(ds.reporting_mta.as_deref(), Some("mx.example.net"));
        let r = &ds.recipients[0];
        assert_eq!(r.final_recipient.as_deref(), Some("a@example.org"));
        assert_eq!(r.action.as_deref(), Some("failed"));
        assert_eq!(r.status.as_deref(), Some("5.1.1"));
        assert_eq!(r.diagnostic_code.as_deref(), Some("smtp; 550 5.1.1 User unknown"));
    }

    #[test]
    fn finds_status_codes_but_not_addresses() {
        assert_eq!(first_status_code("host 192.5.1.1 said 550 5.7.1 no").as_deref(), Some("5.7.1"));
        assert_eq!(first_status_code("version 5.1.1.2"), None);
        assert_eq!(first_reply_code("said: 550-5.1.1 The email"), Some(550));
        assert_eq!(first_reply_code("port 2525"), None);
    }
}
