//! Email over SMTP with lettre: a pooled transport built from
//! `smtp://[user:pass@]host:port[?tls=none|starttls|tls][&connections=N]`, and one email per
//! delivery.

use std::time::{Duration, SystemTime};

use jiff::Timestamp;
use ladder_storage::deliveries::Delivery;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Connections kept open to the mail server by default (`?connections=N` sets it): the
/// delivery worker sends this many emails at once. lettre 0.11.23 leaves Nagle's algorithm on
/// (no `TCP_NODELAY`), and it writes a message's closing `.` apart from its body, so every
/// message waits for the server's delayed ACK, about 40 ms on Linux: one connection carries
/// at most ~25 emails/s whatever the CPU, and throughput is this number over 40 ms (see
/// `cargo bench --bench deliveries`). Kept under Postfix's default limit of 50 connections
/// per client.
pub const POOL: u32 = 32;
/// The most connections `?connections=` may ask for.
const MAX_POOL: u32 = 256;

/// How the connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    None,
    StartTls,
    Tls,
}

/// A parsed SMTP URL, without its password in `Debug`.
#[derive(Clone)]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub credentials: Option<(String, String)>,
    /// Connections kept open to the server, and so emails sent at once.
    pub connections: u32,
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("connections", &self.connections)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .finish()
    }
}

impl SmtpUrl {
    /// Parses `smtp://[user:pass@]host[:port][?tls=none|starttls|tls][&connections=N]`. The
    /// port defaults to 25, 587 or 465 by the TLS mode, which defaults to `starttls`;
    /// connections default to [`POOL`].
    pub fn parse(text: &str) -> Result<SmtpUrl, String> {
        let url = reqwest::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
        if url.scheme() != "smtp" {
            return Err(format!("the scheme must be smtp, not {:?}", url.scheme()));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("the URL names no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let mut tls = Tls::StartTls;
        let mut connections = POOL;
        for (k, v) in url.query_pairs() {
            match (k.as_ref(), v.as_ref()) {
                ("tls", "none") => tls = Tls::None,
                ("tls", "starttls") => tls = Tls::StartTls,
                ("tls", "tls") => tls = Tls::Tls,
                ("tls", other) => {
                    return Err(format!("tls must be none, starttls or tls, not {other:?}"))
                }
                ("connections", n) => {
                    connections = n
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_POOL).contains(n))
                        .ok_or_else(|| {
                            format!("connections must be a number from 1 to {MAX_POOL}, not {n:?}")
                        })?
                }
                (other, _) => return Err(format!("unknown parameter {other:?}")),
            }
        }
        let port = url.port().unwrap_or(match tls {
            Tls::None => 25,
            Tls::StartTls => 587,
            Tls::Tls => 465,
        });
        let decode = |s: &str| {
            percent_decode(s).ok_or_else(|| "the user or password is not valid UTF-8".to_owned())
        };
        let credentials = if url.username().is_empty() {
            None
        } else {
            Some((
                decode(url.username())?,
                decode(url.password().unwrap_or(""))?,
            ))
        };
        Ok(SmtpUrl {
            host,
            port,
            tls,
            credentials,
            connections,
        })
    }

    /// A pooled transport to this server (it connects on first use).
    pub fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        type T = AsyncSmtpTransport<Tokio1Executor>;
        let builder = match self.tls {
            Tls::None => T::builder_dangerous(&self.host),
            Tls::StartTls => T::starttls_relay(&self.host).map_err(|e| e.to_string())?,
            Tls::Tls => T::relay(&self.host).map_err(|e| e.to_string())?,
        };
        let mut builder = builder
            .port(self.port)
            .timeout(Some(Duration::from_secs(30)))
            .pool_config(PoolConfig::new().max_size(self.connections));
        if let Some((user, pass)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        Ok(builder.build())
    }
}

/// `%XX` escapes of a URL's user or password. Hand-written: the url crate leaves these
/// encoded, and the few lines save a dependency.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Builds the email of a delivery: from `from`, dated `now`, with the delivery's Message-ID
/// (its idempotency key) and, for a customer's, the ticket's thread.
pub fn message(d: &Delivery, from: &Mailbox, now: Timestamp) -> Result<Message, String> {
    let to: Mailbox = d
        .recipient
        .parse()
        .map_err(|e| format!("recipient {:?}: {e}", d.recipient))?;
    let mut b = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(d.subject.clone())
        .message_id(Some(d.idempotency_key.clone()))
        .date(SystemTime::from(now));
    if let Some(thread) = &d.thread_id {
        b = b.in_reply_to(thread.clone()).references(thread.clone());
    }
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(d.body_text.clone());
    let built = match &d.body_html {
        Some(html) => b.multipart(
            MultiPart::alternative().singlepart(text).singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html.clone()),
            ),
        ),
        None => b.singlepart(text),
    };
    built.map_err(|e| format!("building the email: {e}"))
}

/// Sends one email.
pub async fn send(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    message: Message,
) -> Result<(), String> {
    transport
        .send(message)
        .await
        .map(drop)
        .map_err(|e| format!("SMTP: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_host_port_tls_and_credentials() {
        let u = SmtpUrl::parse("smtp://mailer:p%40ss@127.0.0.1:2525?tls=none").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.tls),
            ("127.0.0.1", 2525, Tls::None)
        );
        assert_eq!(
            u.credentials,
            Some(("mailer".to_owned(), "p@ss".to_owned()))
        );
        let u = SmtpUrl::parse("smtp://mail.example.org").unwrap();
        assert_eq!((u.port, u.tls, u.credentials), (587, Tls::StartTls, None));
        assert_eq!(SmtpUrl::parse("smtp://h?tls=tls").unwrap().port, 465);
        assert!(SmtpUrl::parse("http://h").is_err());
        assert!(SmtpUrl::parse("smtp://h?tls=maybe").is_err());
        assert_eq!(SmtpUrl::parse("smtp://h").unwrap().connections, POOL);
        let u = SmtpUrl::parse("smtp://h?tls=none&connections=8").unwrap();
        assert_eq!((u.tls, u.connections), (Tls::None, 8));
        for bad in ["0", "257", "many", ""] {
            assert!(
                SmtpUrl::parse(&format!("smtp://h?connections={bad}")).is_err(),
                "{bad}"
            );
        }
        assert!(!format!("{:?}", SmtpUrl::parse("smtp://u:secret@h").unwrap()).contains("secret"));
    }
}
