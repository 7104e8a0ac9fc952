//! Inbound-mail provider formats, decoded into one shape: the raw message plus
//! the transport facts the provider reports.
//!
//! - CloudMailin **raw** (`multipart/form-data`: the whole message in `message`,
//!   the SMTP envelope in `envelope[...]`),
//! - CloudMailin **JSON** and **multipart** (normalised or original: headers,
//!   `plain`/`html` bodies and attachments, which are put back together into a
//!   MIME message so one classifier reads every format),
//! - SES inbound **receipt notifications** (`notificationType: Received`, bare or
//!   in their SNS envelope), whose message is either inline (SNS action) or in
//!   the bucket (S3 action).
//!
//! Pure: bytes in, a [`Received`] out, a clear [`WebhookError`] for anything
//! else. Attachments the provider stored elsewhere (an attachment-store URL) are
//! not fetched: Tern never follows URLs found in inbound mail.

use crate::parse::MAX_MESSAGE_BYTES;
use data_encoding::BASE64;
use serde_json::Value;
use tern_domain::inbound::Transport;

/// Posts larger than this are refused before decoding (base64 attachments in
/// JSON make a post about a third larger than the message it carries).
pub const MAX_WEBHOOK_BYTES: usize = 14 * 1024 * 1024;

/// Form fields or JSON values read from the envelope are cut to this length.
const MAX_FACT_CHARS: usize = 512;
/// More form fields than this is not an e-mail post.
const MAX_FORM_FIELDS: usize = 2_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the post is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("the body is not valid JSON: {0}")]
    NotJson(String),
    #[error("the body is not multipart/form-data: {0}")]
    NotMultipart(String),
    #[error("the post has no `{0}` field")]
    MissingField(&'static str),
    #[error("the `{field}` field is invalid: {why}")]
    InvalidField { field: String, why: String },
    #[error("not an SES receipt notification: {0}")]
    NotReceipt(String),
}

/// One received message, as every format decodes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub message: Vec<u8>,
    pub transport: Transport,
}

/// A `multipart/form-data` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormField {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub value: Vec<u8>,
}

impl FormField {
    fn text(&self) -> String {
        fact(&String::from_utf8_lossy(&self.value))
    }
}

fn fact(value: &str) -> String {
    value.trim().chars().filter(|c| !c.is_control()).take(MAX_FACT_CHARS).collect()
}

fn check_size(body: &[u8]) -> Result<(), WebhookError> {
    if body.len() > MAX_WEBHOOK_BYTES {
        return Err(WebhookError::TooLarge { size: body.len(), limit: MAX_WEBHOOK_BYTES });
    }
    Ok(())
}

/// Splits a `multipart/form-data` body (RFC 7578) into its fields, given the
/// request's `Content-Type`. Lines may end in CRLF or a bare LF.
pub fn form_fields(body: &[u8], content_type: &str) -> Result<Vec<FormField>, WebhookError> {
    check_size(body)?;
    let not_multipart = |why: &str| WebhookError::NotMultipart(why.to_string());
    let (mime, params) = content_type.split_once(';').unwrap_or((content_type, ""));
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return Err(not_multipart("the Content-Type is not multipart/form-data"));
    }
    let boundary = params
        .split(';')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .filter(|b| !b.is_empty() && b.len() <= 200)
        .ok_or_else(|| not_multipart("the Content-Type has no boundary"))?;
    let delimiter = [b"--", boundary.as_bytes()].concat();

    let starts = find_all(body, &delimiter);
    let mut fields = Vec::new();
    let mut closed = false;
    for (i, &start) in starts.iter().enumerate() {
        // A delimiter counts only at the start of a line.
        if start != 0 && body[start - 1] != b'\n' {
            continue;
        }
        let after = start + delimiter.len();
        if body[after..].starts_with(b"--") {
            closed = true;
            break;
        }
        let Some(end) = starts[i + 1..].iter().copied().find(|&s| body[s - 1] == b'\n') else {
            return Err(not_multipart("a part is not followed by a boundary"));
        };
        let part = &body[after..end];
        // Drop the rest of the delimiter line, and the line break before the next one.
        let part = match part.iter().position(|&b| b == b'\n') {
            Some(newline) => &part[newline + 1..],
            None => return Err(not_multipart("a boundary line does not end")),
        };
        let part = part.strip_suffix(b"\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r").unwrap_or(part);
        fields.push(form_field(part)?);
        if fields.len() > MAX_FORM_FIELDS {
            return Err(not_multipart("the form has too many fields"));
        }
    }
    if !closed {
        return Err(not_multipart("the closing boundary is missing (truncated body?)"));
    }
    Ok(fields)
}

fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = haystack[from..].windows(needle.len()).position(|w| w == needle) {
        found.push(from + at);
        from += at + needle.len();
    }
    found
}

fn form_field(part: &[u8]) -> Result<FormField, WebhookError> {
    // The header block ends at the first empty line, whichever line ending is used.
    let crlf = find_all(part, b"\r\n\r\n").first().map(|&i| (i, i + 4));
    let lf = find_all(part, b"\n\n").first().map(|&i| (i, i + 2));
    let (head, value) = match [crlf, lf].into_iter().flatten().min() {
        Some((head_end, value_start)) => (&part[..head_end], &part[value_start..]),
        None => return Err(WebhookError::NotMultipart("a part has no header block".into())),
    };
    let head = String::from_utf8_lossy(head);
    let mut name = None;
    let mut filename = None;
    let mut content_type = None;
    for line in head.lines() {
        let Some((key, rest)) = line.split_once(':') else { continue };
        if key.trim().eq_ignore_ascii_case("content-disposition") {
            for param in rest.split(';').skip(1) {
                if let Some((k, v)) = param.split_once('=') {
                    let v = v.trim().trim_matches('"').to_string();
                    match k.trim().to_ascii_lowercase().as_str() {
                        "name" => name = Some(v),
                        "filename" => filename = Some(v),
                        _ => {}
                    }
                }
            }
        } else if key.trim().eq_ignore_ascii_case("content-type") {
            content_type = Some(rest.trim().to_string());
        }
    }
    let name = name.ok_or_else(|| WebhookError::NotMultipart("a part has no name".into()))?;
    Ok(FormField { name, filename, content_type, value: value.to_vec() })
}

/// CloudMailin's raw format: the message as it arrived, plus the envelope.
pub fn cloudmailin_raw(fields: &[FormField]) -> Result<Received, WebhookError> {
    let message = fields
        .iter()
        .find(|f| f.name == "message")
        .map(|f| f.value.clone())
        .filter(|m| !m.is_empty())
        .ok_or(WebhookError::MissingField("message"))?;
    check_message(&message)?;
    let transport = envelope_from_form(fields)?;
    Ok(Received { message, transport })
}

/// CloudMailin's multipart format (normalised or original): the message is put
/// back together from its headers, bodies and attachments.
pub fn cloudmailin_multipart(fields: &[FormField]) -> Result<Received, WebhookError> {
    let transport = envelope_from_form(fields)?;
    let mut headers = Vec::new();
    let mut plain = None;
    let mut html = None;
    let mut attachments = Vec::new();
    for field in fields {
        let name = field.name.as_str();
        if let Some(rest) = name.strip_prefix("headers[") {
            // `headers[Name]` or `headers[Name][0]`.
            let header = rest.split(']').next().unwrap_or_default();
            headers.push((header.to_string(), String::from_utf8_lossy(&field.value).into_owned()));
        } else if name == "plain" {
            plain = Some(String::from_utf8_lossy(&field.value).into_owned());
        } else if name == "html" {
            html = Some(String::from_utf8_lossy(&field.value).into_owned());
        } else if name.starts_with("attachments[") && field.filename.is_some() {
            attachments.push(Attachment {
                file_name: field.filename.clone().unwrap_or_default(),
                content_type: field.content_type.clone().unwrap_or_else(|| "application/octet-stream".into()),
                content: field.value.clone(),
            });
        }
    }
    let message = rebuild(&headers, plain.as_deref(), html.as_deref(), &attachments)?;
    Ok(Received { message, transport })
}

fn envelope_from_form(fields: &[FormField]) -> Result<Transport, WebhookError> {
    let mut transport = Transport { provider: "cloudmailin".into(), ..Transport::default() };
    let mut to = None;
    for field in fields {
        match field.name.as_str() {
            "envelope[to]" => to = Some(field.text()),
            "envelope[from]" => transport.envelope_from = Some(field.text()).filter(|v| !v.is_empty()),
            "envelope[remote_ip]" => transport.remote_ip = Some(field.text()).filter(|v| !v.is_empty()),
            "envelope[helo_domain]" => transport.helo_domain = Some(field.text()).filter(|v| !v.is_empty()),
            "envelope[spf][result]" => transport.spf = Some(field.text().to_ascii_lowercase()).filter(|v| !v.is_empty()),
            "envelope[spf][domain]" => transport.spf_domain = Some(field.text().to_ascii_lowercase()).filter(|v| !v.is_empty()),
            "envelope[tls]" => transport.tls = parse_bool(&field.text()),
            name if name.starts_with("envelope[recipients]") => transport.recipients.push(field.text()),
            _ => {}
        }
    }
    transport.envelope_to = to.filter(|t| !t.is_empty()).ok_or(WebhookError::MissingField("envelope[to]"))?;
    if transport.recipients.is_empty() {
        transport.recipients.push(transport.envelope_to.clone());
    }
    Ok(transport)
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// CloudMailin's JSON format (normalised or original).
pub fn cloudmailin_json(body: &[u8]) -> Result<Received, WebhookError> {
    check_size(body)?;
    let post: Value = serde_json::from_slice(body).map_err(|e| WebhookError::NotJson(e.to_string()))?;
    if !post.is_object() {
        return Err(WebhookError::NotJson("the body is not a JSON object".into()));
    }
    let envelope = &post["envelope"];
    if !envelope.is_object() {
        return Err(WebhookError::MissingField("envelope"));
    }
    let text = |v: &Value| v.as_str().map(fact).filter(|s| !s.is_empty());
    let mut transport = Transport {
        provider: "cloudmailin".into(),
        envelope_to: text(&envelope["to"]).ok_or(WebhookError::MissingField("envelope.to"))?,
        envelope_from: text(&envelope["from"]),
        remote_ip: text(&envelope["remote_ip"]),
        helo_domain: text(&envelope["helo_domain"]),
        tls: envelope["tls"].as_bool().or_else(|| envelope["tls"].as_str().and_then(parse_bool)),
        spf: text(&envelope["spf"]["result"]).map(|s| s.to_ascii_lowercase()),
        spf_domain: text(&envelope["spf"]["domain"]).map(|s| s.to_ascii_lowercase()),
        recipients: envelope["recipients"].as_array().map(|list| list.iter().filter_map(text).collect()).unwrap_or_default(),
        ..Transport::default()
    };
    if transport.recipients.is_empty() {
        transport.recipients.push(transport.envelope_to.clone());
    }

    let mut headers = Vec::new();
    match &post["headers"] {
        Value::Object(map) => {
            for (name, value) in map {
                match value {
                    Value::String(v) => headers.push((name.clone(), v.clone())),
                    Value::Array(list) => headers.extend(list.iter().filter_map(Value::as_str).map(|v| (name.clone(), v.to_string()))),
                    // Some clients post repeated headers as {"0": ..., "1": ...}.
                    Value::Object(indexed) => {
                        headers.extend(indexed.values().filter_map(Value::as_str).map(|v| (name.clone(), v.to_string())))
                    }
                    _ => {}
                }
            }
        }
        Value::Null => return Err(WebhookError::MissingField("headers")),
        _ => return Err(WebhookError::InvalidField { field: "headers".into(), why: "not an object".into() }),
    }
    let mut attachments = Vec::new();
    if let Some(list) = post["attachments"].as_array() {
        for (i, item) in list.iter().enumerate() {
            // Attachments kept in the provider's store come as a URL: not fetched.
            let Some(content) = item["content"].as_str() else { continue };
            let content = BASE64
                .decode(content.as_bytes())
                .or_else(|_| data_encoding::BASE64_MIME.decode(content.as_bytes()))
                .map_err(|e| WebhookError::InvalidField { field: format!("attachments[{i}].content"), why: format!("not base64 ({e})") })?;
            attachments.push(Attachment {
                file_name: item["file_name"].as_str().unwrap_or("attachment").to_string(),
                content_type: item["content_type"].as_str().unwrap_or("application/octet-stream").to_string(),
                content,
            });
        }
    }
    let message = rebuild(&headers, post["plain"].as_str(), post["html"].as_str(), &attachments)?;
    Ok(Received { message, transport })
}

struct Attachment {
    file_name: String,
    content_type: String,
    content: Vec<u8>,
}

/// Header fields that describe the original body's encoding, which the decoded
/// parts no longer have.
const BODY_HEADERS: &[&str] = &["content-type", "content-transfer-encoding", "mime-version", "content-length"];

/// Puts a message back together from decoded headers, bodies and attachments.
/// Normalised header names (`message_id`) get their hyphens back.
fn rebuild(
    headers: &[(String, String)],
    plain: Option<&str>,
    html: Option<&str>,
    attachments: &[Attachment],
) -> Result<Vec<u8>, WebhookError> {
    if headers.is_empty() {
        return Err(WebhookError::MissingField("headers"));
    }
    let mut out = Vec::new();
    for (name, value) in headers {
        let name = name.replace('_', "-");
        let valid = !name.is_empty() && name.len() <= 76 && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        if !valid || BODY_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        // A value with line breaks would inject header fields of its own.
        let value: String = value.chars().map(|c| if c == '\r' || c == '\n' { ' ' } else { c }).collect();
        out.extend_from_slice(format!("{name}: {}\r\n", value.trim()).as_bytes());
    }
    out.extend_from_slice(b"MIME-Version: 1.0\r\n");

    let seed: usize = headers.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>() + attachments.len();
    let all_text = [plain.unwrap_or_default().as_bytes(), html.unwrap_or_default().as_bytes()].concat();
    let boundary = |kind: &str| {
        let mut b = format!("=_tern_{kind}_{seed:x}");
        while contains(&all_text, b.as_bytes()) || attachments.iter().any(|a| contains(&a.content, b.as_bytes())) {
            b.push('x');
        }
        b
    };

    let text_part = |out: &mut Vec<u8>| match (plain, html) {
        (Some(p), Some(h)) => {
            let alt = boundary("alt");
            out.extend_from_slice(format!("Content-Type: multipart/alternative; boundary=\"{alt}\"\r\n\r\n").as_bytes());
            for (subtype, body) in [("plain", p), ("html", h)] {
                out.extend_from_slice(
                    format!("--{alt}\r\nContent-Type: text/{subtype}; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n").as_bytes(),
                );
                out.extend_from_slice(body.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(format!("--{alt}--\r\n").as_bytes());
        }
        (p, h) => {
            let (subtype, body) = match (p, h) {
                (None, Some(h)) => ("html", h),
                (p, _) => ("plain", p.unwrap_or_default()),
            };
            out.extend_from_slice(
                format!("Content-Type: text/{subtype}; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n").as_bytes(),
            );
            out.extend_from_slice(body.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    };

    if attachments.is_empty() {
        text_part(&mut out);
    } else {
        // A report's parts keep their report shape, so bounces and complaints posted
        // in a decoded format are read as such.
        let report = attachments.iter().find_map(|a| {
            match a.content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase().as_str() {
                "message/delivery-status" => Some("delivery-status"),
                "message/feedback-report" => Some("feedback-report"),
                "message/disposition-notification" => Some("disposition-notification"),
                _ => None,
            }
        });
        let mixed = boundary("mixed");
        match report {
            Some(kind) => out
                .extend_from_slice(format!("Content-Type: multipart/report; report-type={kind}; boundary=\"{mixed}\"\r\n\r\n").as_bytes()),
            None => out.extend_from_slice(format!("Content-Type: multipart/mixed; boundary=\"{mixed}\"\r\n\r\n").as_bytes()),
        }
        out.extend_from_slice(format!("--{mixed}\r\n").as_bytes());
        text_part(&mut out);
        for attachment in attachments {
            let content_type: String = attachment.content_type.chars().filter(|c| !c.is_control()).take(200).collect();
            let file_name: String = attachment.file_name.chars().filter(|c| !c.is_control() && *c != '"').take(200).collect();
            out.extend_from_slice(
                format!("--{mixed}\r\nContent-Type: {content_type}\r\nContent-Disposition: attachment; filename=\"{file_name}\"\r\n")
                    .as_bytes(),
            );
            let lower = content_type.to_ascii_lowercase();
            if lower.starts_with("text/") || lower.starts_with("message/") {
                // Reports and returned messages are read as they are (RFC 2046
                // forbids base64 for message/*).
                out.extend_from_slice(b"Content-Transfer-Encoding: 8bit\r\n\r\n");
                out.extend_from_slice(&attachment.content);
            } else {
                out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
                out.extend_from_slice(data_encoding::BASE64_MIME.encode(&attachment.content).as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{mixed}--\r\n").as_bytes());
    }
    check_message(&out)?;
    Ok(out)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn check_message(message: &[u8]) -> Result<(), WebhookError> {
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(WebhookError::TooLarge { size: message.len(), limit: MAX_MESSAGE_BYTES });
    }
    Ok(())
}

// No verdict is read from the message's own `Authentication-Results` headers:
// every provider here reports its own (CloudMailin its SPF check in the envelope,
// SES its receipt verdicts), and a header in the message is whatever its sender,
// or any server on the way, wrote: a forged `dmarc=pass` would vouch for a forged
// From (`Transport::sender_proof`).

/// Where an SES receipt's message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SesContent {
    /// SNS action: the message travelled in the notification.
    Inline(Vec<u8>),
    /// S3 action: the receipt rule wrote the message to this object.
    Stored { bucket: String, key: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SesReceipt {
    pub content: SesContent,
    pub transport: Transport,
    /// SES's id of the received message.
    pub ses_message_id: Option<String>,
}

/// Is this notification (bare or in SNS) an SES receipt? Feedback notifications
/// (bounces, complaints, deliveries) share the queue.
pub fn is_ses_receipt(body: &[u8]) -> bool {
    ses_notification(body).is_ok_and(|n| n["notificationType"].as_str() == Some("Received"))
}

fn ses_notification(body: &[u8]) -> Result<Value, WebhookError> {
    if body.len() > crate::ses::MAX_NOTIFICATION_BYTES {
        return Err(WebhookError::TooLarge { size: body.len(), limit: crate::ses::MAX_NOTIFICATION_BYTES });
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| WebhookError::NotJson(e.to_string()))?;
    match value.get("Message").and_then(Value::as_str) {
        Some(inner) => serde_json::from_str(inner).map_err(|e| WebhookError::NotJson(format!("the SNS Message: {e}"))),
        None => Ok(value),
    }
}

/// Decodes an SES receipt notification.
pub fn ses_receipt(body: &[u8]) -> Result<SesReceipt, WebhookError> {
    let n = ses_notification(body)?;
    if n["notificationType"].as_str() != Some("Received") {
        return Err(WebhookError::NotReceipt("notificationType is not `Received`".into()));
    }
    let receipt = &n["receipt"];
    let mail = &n["mail"];
    let text = |v: &Value| v.as_str().map(fact).filter(|s| !s.is_empty());
    let verdict = |name: &str| text(&receipt[name]["status"]).map(|s| s.to_ascii_lowercase());
    let recipients: Vec<String> = receipt["recipients"]
        .as_array()
        .or_else(|| mail["destination"].as_array())
        .map(|list| list.iter().filter_map(text).collect())
        .unwrap_or_default();
    let envelope_to = recipients.first().cloned().ok_or(WebhookError::MissingField("receipt.recipients"))?;
    // SES does not name the sending server's address; the Received line it added
    // (the first one) does, in brackets.
    let remote_ip = mail["headers"].as_array().and_then(|headers| {
        let received = headers.iter().find(|h| h["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case("received")))?;
        let line = received["value"].as_str()?;
        let start = line.find('[')? + 1;
        let end = start + line[start..].find(']')?;
        line[start..end].parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
    });
    let transport = Transport {
        provider: "ses".into(),
        envelope_from: text(&mail["source"]),
        envelope_to,
        recipients,
        remote_ip,
        helo_domain: None,
        tls: None,
        spf: verdict("spfVerdict"),
        // SES checks SPF for the envelope sender (`mail.source`).
        spf_domain: None,
        dkim: verdict("dkimVerdict"),
        dmarc: verdict("dmarcVerdict"),
        spam: verdict("spamVerdict"),
        virus: verdict("virusVerdict"),
    };
    let action = &receipt["action"];
    let content = match action["type"].as_str() {
        Some("S3") => SesContent::Stored {
            bucket: text(&action["bucketName"]).ok_or(WebhookError::MissingField("receipt.action.bucketName"))?,
            key: action["objectKey"]
                .as_str()
                .filter(|k| !k.is_empty())
                .ok_or(WebhookError::MissingField("receipt.action.objectKey"))?
                .to_string(),
        },
        Some("SNS") => {
            let content = n["content"].as_str().ok_or(WebhookError::MissingField("content"))?;
            let bytes = match action["encoding"].as_str() {
                Some("BASE64") => BASE64
                    .decode(content.as_bytes())
                    .or_else(|_| data_encoding::BASE64_MIME.decode(content.as_bytes()))
                    .map_err(|e| WebhookError::InvalidField { field: "content".into(), why: format!("not base64 ({e})") })?,
                _ => content.as_bytes().to_vec(),
            };
            check_message(&bytes)?;
            SesContent::Inline(bytes)
        }
        other => return Err(WebhookError::NotReceipt(format!("receipt action {other:?} carries no message"))),
    };
    Ok(SesReceipt { content, transport, ses_message_id: text(&mail["messageId"]) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(parts: &[(&str, &str)]) -> (Vec<u8>, String) {
        let mut body = String::new();
        for (name, value) in parts {
            body.push_str(&format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"));
        }
        body.push_str("--XyZ--\r\n");
        (body.into_bytes(), "multipart/form-data; boundary=XyZ".into())
    }

    #[test]
    fn splits_form_fields_with_crlf_or_lf() {
        let (body, ct) = form(&[("a", "one\r\ntwo"), ("b", "")]);
        let fields = form_fields(&body, &ct).unwrap();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0].value, b"one\r\ntwo");
        assert_eq!(fields[1].value, b"");
        let lf = String::from_utf8(body).unwrap().replace("\r\n", "\n");
        let fields = form_fields(lf.as_bytes(), &ct).unwrap();
        assert_eq!(fields[0].value, b"one\ntwo");
    }

    #[test]
    fn a_truncated_form_is_an_error() {
        let (body, ct) = form(&[("a", "one")]);
        assert!(matches!(form_fields(&body[..body.len() - 9], &ct), Err(WebhookError::NotMultipart(_))));
        assert!(matches!(form_fields(&body, "application/json"), Err(WebhookError::NotMultipart(_))));
        assert!(matches!(form_fields(&body, "multipart/form-data"), Err(WebhookError::NotMultipart(_))));
    }

    #[test]
    fn raw_needs_the_message_and_the_recipient() {
        let (body, ct) = form(&[("envelope[to]", "reply+ws@in.example")]);
        assert_eq!(cloudmailin_raw(&form_fields(&body, &ct).unwrap()), Err(WebhookError::MissingField("message")));
        let (body, ct) = form(&[("message", "Subject: x\r\n\r\nhi")]);
        assert_eq!(cloudmailin_raw(&form_fields(&body, &ct).unwrap()), Err(WebhookError::MissingField("envelope[to]")));
    }

    #[test]
    fn header_values_cannot_inject_fields() {
        let headers = vec![("subject".to_string(), "hi\r\nBcc: evil@example.com".to_string()), ("bad name".to_string(), "x".to_string())];
        let message = rebuild(&headers, Some("text"), None, &[]).unwrap();
        let text = String::from_utf8(message).unwrap();
        assert!(text.starts_with("subject: hi  Bcc: evil@example.com\r\n"), "{text}");
        assert!(!text.contains("bad name"));
    }

    #[test]
    fn verdicts_come_from_the_provider_never_from_the_messages_own_headers() {
        let message = "Authentication-Results: mx.cloudmailin.net; dkim=pass header.d=victim.example; dmarc=pass header.from=victim.example; spf=pass\r\nFrom: ceo@victim.example\r\nSubject: x\r\n\r\nbody";
        let (body, ct) = form(&[
            ("message", message),
            ("envelope[to]", "reply+ws@in.example"),
            ("envelope[spf][result]", "SoftFail"),
            ("envelope[spf][domain]", "Evil.Example"),
        ]);
        let transport = cloudmailin_raw(&form_fields(&body, &ct).unwrap()).unwrap().transport;
        assert_eq!((transport.spf.as_deref(), transport.spf_domain.as_deref()), (Some("softfail"), Some("evil.example")));
        assert_eq!((transport.dkim.as_deref(), transport.dmarc.as_deref()), (None, None));
        assert_eq!(transport.sender_proof("ceo@victim.example"), None);
        let json = serde_json::json!({ "envelope": { "to": "reply+ws@in.example", "spf": { "result": "pass", "domain": "evil.example" } },
            "headers": { "authentication_results": "mx.cloudmailin.net; dmarc=pass", "from": "ceo@victim.example" }, "plain": "hi" });
        let transport = cloudmailin_json(json.to_string().as_bytes()).unwrap().transport;
        assert_eq!(
            (transport.spf.as_deref(), transport.spf_domain.as_deref(), transport.dmarc.as_deref()),
            (Some("pass"), Some("evil.example"), None)
        );
        assert_eq!(transport.sender_proof("ceo@victim.example"), None, "SPF passed for the attacker's domain, not the From's");
    }

    #[test]
    fn json_needs_an_envelope_and_headers() {
        assert!(matches!(cloudmailin_json(b"[1]"), Err(WebhookError::NotJson(_))));
        assert!(matches!(cloudmailin_json(b"{\"headers\":{}}"), Err(WebhookError::MissingField("envelope"))));
        assert!(matches!(cloudmailin_json(br#"{"envelope":{"to":"a@b"}}"#), Err(WebhookError::MissingField("headers"))));
        let bad = br#"{"envelope":{"to":"a@b"},"headers":{"subject":"x"},"attachments":[{"content":"!!"}]}"#;
        assert!(matches!(cloudmailin_json(bad), Err(WebhookError::InvalidField { .. })));
    }

    #[test]
    fn a_delivery_status_attachment_keeps_the_report_shape() {
        let json = br#"{"envelope":{"to":"reply+ws@in.example","from":""},
            "headers":{"from":"MAILER-DAEMON@mx.example","subject":"Undelivered Mail Returned to Sender","message_id":"<b1@mx.example>"},
            "plain":"I'm sorry to have to inform you that your message could not be delivered.",
            "attachments":[{"content":"UmVwb3J0aW5nLU1UQTogZG5zOyBteC5leGFtcGxlCgpGaW5hbC1SZWNpcGllbnQ6IHJmYzgyMjsgZ29uZUBleGFtcGxlLmNvbQpBY3Rpb246IGZhaWxlZApTdGF0dXM6IDUuMS4xCkRpYWdub3N0aWMtQ29kZTogc210cDsgNTUwIDUuMS4xIFVzZXIgdW5rbm93bgo=","file_name":"details.txt","content_type":"message/delivery-status"}]}"#;
        let received = cloudmailin_json(json).unwrap();
        let (_, verdict) = crate::parse_and_classify(&received.message).unwrap();
        assert_eq!(verdict.kind, crate::Kind::BounceHard);
        assert_eq!(verdict.status.as_deref(), Some("5.1.1"));
    }

    #[test]
    fn ses_receipts_inline_and_stored() {
        let inline = br#"{"notificationType":"Received","content":"U3ViamVjdDogaGkNCg0KYm9keQ==",
            "receipt":{"recipients":["reply+ws@in.example"],"spfVerdict":{"status":"PASS"},"dkimVerdict":{"status":"FAIL"},
              "dmarcVerdict":{"status":"GRAY"},"spamVerdict":{"status":"PASS"},"virusVerdict":{"status":"PASS"},
              "action":{"type":"SNS","encoding":"BASE64"}},
            "mail":{"source":"a@b.example","messageId":"m1","headers":[{"name":"Received","value":"from x (x [192.0.2.7]) by inbound-smtp"}]}}"#;
        let receipt = ses_receipt(inline).unwrap();
        assert_eq!(receipt.content, SesContent::Inline(b"Subject: hi\r\n\r\nbody".to_vec()));
        assert_eq!(receipt.transport.dkim.as_deref(), Some("fail"));
        assert_eq!(receipt.transport.dmarc.as_deref(), Some("gray"));
        assert_eq!(receipt.transport.remote_ip.as_deref(), Some("192.0.2.7"));
        let wrapped = serde_json::json!({"Type": "Notification", "Message": String::from_utf8_lossy(inline)}).to_string();
        assert!(is_ses_receipt(wrapped.as_bytes()));
        let stored = br#"{"notificationType":"Received","receipt":{"recipients":["r@x"],"action":{"type":"S3","bucketName":"b","objectKey":"ses-inbound/k"}},"mail":{}}"#;
        assert_eq!(ses_receipt(stored).unwrap().content, SesContent::Stored { bucket: "b".into(), key: "ses-inbound/k".into() });
        assert!(!is_ses_receipt(br#"{"notificationType":"Bounce"}"#));
        assert!(matches!(
            ses_receipt(br#"{"notificationType":"Received","receipt":{"recipients":["r@x"],"action":{"type":"Lambda"}}}"#),
            Err(WebhookError::NotReceipt(_))
        ));
    }
}
