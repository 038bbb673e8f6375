//! An RFC 5322 message as a help desk reads it: who sent it, about what, the readable text
//! (HTML turned into text), the files, what it replies to, and whether a machine sent it.
//! mail-parser does the MIME work (every charset and transfer encoding); html2text the
//! HTML. Nothing here touches the database or the clock.

use std::borrow::Cow;

use mail_parser::{HeaderValue, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

/// Why a message is refused: it names the header or part at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct Malformed {
    pub field: &'static str,
    pub detail: String,
}

fn malformed(field: &'static str, detail: impl Into<String>) -> Malformed {
    Malformed {
        field,
        detail: detail.into(),
    }
}

/// One file of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// A message as Ladder takes it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// In angle brackets, as it is written in headers (`<id@host>`). A message without one
    /// gets one made from the SHA-256 of its bytes, so the same bytes are still one message.
    pub message_id: String,
    /// The sender's address as written (matched to a customer whatever its case).
    pub from_email: String,
    pub from_name: Option<String>,
    pub subject: String,
    /// The readable text, quoted history and all (it is folded when shown).
    pub text: String,
    /// What it replies to, most relevant first: In-Reply-To, then References newest first.
    pub replies_to: Vec<String>,
    /// Why a machine sent it (an auto-reply, a bounce, a list), if one did.
    pub automatic: Option<String>,
    pub files: Vec<File>,
}

/// Parses `raw`. Refuses what is not a message a person sent to us: no headers, no sender
/// address.
pub fn parse(raw: &[u8]) -> Result<Email, Malformed> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(malformed("message", "the message is empty"));
    }
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| malformed("message", "not an RFC 5322 message"))?;
    if msg.headers().is_empty() {
        return Err(malformed("message", "the message has no header fields"));
    }
    let from = msg
        .from()
        .and_then(|a| a.first())
        .ok_or_else(|| malformed("From", "the message has no From address"))?;
    let from_email = from
        .address()
        .map(str::trim)
        .filter(|a| is_address(a))
        .ok_or_else(|| malformed("From", "the From header holds no email address"))?
        .to_owned();
    let from_name = from
        .name()
        .map(clean_line)
        .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case(&from_email));
    let message_id = match msg.message_id().map(str::trim).filter(|m| !m.is_empty()) {
        Some(id) => bracketed(id),
        None => format!(
            "<{}@no-message-id.invalid>",
            hex::encode(Sha256::digest(raw))
        ),
    };
    let subject = msg.subject().map(clean_line).unwrap_or_default();
    let mut replies_to = ids(msg.in_reply_to());
    for r in ids(msg.references()).into_iter().rev() {
        if !replies_to.contains(&r) {
            replies_to.push(r);
        }
    }
    let automatic = automatic(&msg, &from_email);
    let text = body_text(&msg);
    let files = msg
        .attachments()
        .filter_map(|part| file(part))
        .collect::<Vec<_>>();
    Ok(Email {
        message_id,
        from_email,
        from_name,
        subject,
        text,
        replies_to,
        automatic,
        files,
    })
}

/// A plausible single address: `local@domain`, no spaces or controls. mail-parser accepts
/// anything between the brackets; a customer is only made for something mail can reach.
fn is_address(a: &str) -> bool {
    let Some((local, domain)) = a.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && a.len() <= 254
        && !a.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A header's text on one line, without controls.
fn clean_line(s: &str) -> String {
    s.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn bracketed(id: &str) -> String {
    format!("<{}>", id.trim_start_matches('<').trim_end_matches('>'))
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![bracketed(t)],
        HeaderValue::TextList(l) => l.iter().map(|t| bracketed(t)).collect(),
        _ => Vec::new(),
    }
}

/// Why a machine sent the message, by the conventions senders follow (RFC 3834
/// `Auto-Submitted`, `Precedence`, Microsoft's `X-Auto-Response-Suppress`, the null sender
/// and DSN reports of RFC 3464).
fn automatic(msg: &mail_parser::Message<'_>, from: &str) -> Option<String> {
    let header = |name: &str| msg.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    if let Some(v) = header("Auto-Submitted") {
        if v != "no" && !v.is_empty() {
            return Some(format!("Auto-Submitted: {v}"));
        }
    }
    if let Some(v) = header("Precedence") {
        if ["bulk", "junk", "list", "auto_reply"].contains(&v.as_str()) {
            return Some(format!("Precedence: {v}"));
        }
    }
    if let Some(v) = header("X-Auto-Response-Suppress") {
        if !v.is_empty() && v != "none" {
            return Some(format!("X-Auto-Response-Suppress: {v}"));
        }
    }
    for h in ["X-Autoreply", "X-Autorespond", "X-Auto-Reply"] {
        if header(h).is_some() {
            return Some(format!("{h} present"));
        }
    }
    if let Some(rp) = msg.header_raw("Return-Path") {
        if rp.trim() == "<>" {
            return Some("null sender (Return-Path: <>)".into());
        }
    }
    if msg.root_part().content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    }) {
        return Some("a delivery or disposition report (multipart/report)".into());
    }
    let local = from
        .split('@')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ["mailer-daemon", "postmaster"].contains(&local.as_str()) {
        return Some(format!("sent by {local}"));
    }
    None
}

/// The readable text: every inline text part, HTML turned into text.
fn body_text(msg: &mail_parser::Message<'_>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in msg.text_bodies() {
        let text = match &part.body {
            PartType::Text(t) => t.to_string(),
            PartType::Html(h) => html_text(h),
            _ => continue,
        };
        let text = text.trim_matches(|c: char| c.is_whitespace()).to_owned();
        if !text.is_empty() {
            parts.push(text);
        }
    }
    tidy(&parts.join("\n\n"))
}

/// HTML as readable text. html2text lays the text out (lists, tables, links as footnotes)
/// at this width.
pub fn html_text(html: &str) -> String {
    html2text::config::plain_no_decorate()
        .string_from_read(html.as_bytes(), 100)
        .unwrap_or_else(|_| html.to_owned())
}

/// Text Ladder can store: CRLF as LF, no controls but line breaks and tabs, no runs of more
/// than two blank lines, no trailing spaces.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.replace("\r\n", "\n").replace('\r', "\n").lines() {
        let line: String = line
            .chars()
            .filter(|c| *c == '\t' || !c.is_control())
            .collect();
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim().to_owned()
}

/// An attachment part as a file. A nested message (a forward as attachment) is kept as its
/// own `.eml`; a calendar invite as its `.ics`.
fn file(part: &mail_parser::MessagePart<'_>) -> Option<File> {
    let (data, fallback_type): (Cow<'_, [u8]>, &str) = match &part.body {
        PartType::Binary(b) | PartType::InlineBinary(b) => {
            (Cow::Borrowed(b.as_ref()), "application/octet-stream")
        }
        PartType::Text(t) => (Cow::Borrowed(t.as_bytes()), "text/plain"),
        PartType::Html(h) => (Cow::Borrowed(h.as_bytes()), "text/html"),
        PartType::Message(m) => (Cow::Borrowed(m.raw_message()), "message/rfc822"),
        PartType::Multipart(_) => return None,
    };
    let content_type = part
        .content_type()
        .map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub),
            None => ct.ctype().to_owned(),
        })
        .map(|t| t.to_ascii_lowercase())
        .filter(|t| is_media_type(t))
        .unwrap_or_else(|| fallback_type.to_owned());
    let extension = match content_type.as_str() {
        "message/rfc822" => "eml",
        "text/calendar" => "ics",
        "text/html" => "html",
        t if t.starts_with("text/") => "txt",
        _ => "bin",
    };
    let filename = part
        .attachment_name()
        .map(safe_filename)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("attachment.{extension}"));
    Some(File {
        filename,
        content_type,
        data: data.into_owned(),
    })
}

/// `type/subtype` of token characters, as a Content-Type header can carry it back.
fn is_media_type(t: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    matches!(t.split_once('/'), Some((a, b)) if token(a) && token(b))
}

/// A file name without a path, controls or quotes, at most 200 bytes.
pub fn safe_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut out: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\\'))
        .collect();
    out = out.trim().trim_start_matches('.').to_owned();
    while out.len() > 200 {
        out.pop();
    }
    out
}

/// The text split where the quoted history begins: what is new, and the history, if any
/// (`ladder_core::quoting`). The pages show the history folded.
pub use ladder_core::quoting::split_quoted;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_their_paths() {
        assert_eq!(safe_filename("../../etc/passwd"), "passwd");
        assert_eq!(safe_filename("C:\\x\\a \"b\".pdf"), "a b.pdf");
        assert_eq!(safe_filename(".hidden"), "hidden");
    }
}
