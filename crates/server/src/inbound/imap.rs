//! Polling organisations' IMAP mailboxes (async-imap on tokio; TLS by rustls with the
//! webpki roots).
//!
//! A poll of one mailbox: log in, SELECT the folder, read its UIDVALIDITY, search the unseen
//! messages, skip the UIDs taken before (a crash after the commit and before the flag), then
//! fetch each message without marking it (`BODY.PEEK[]`) and take it in through
//! [`super::receive`], which records the UID in the same transaction as the ticket. Only
//! then is the message flagged `\Seen`. So a message becomes a ticket once, whatever stops
//! when: a crash before the commit leaves it unseen and untaken (taken next time), one after
//! it leaves it taken (flagged next time). A message that is not one (refused by the parser)
//! or over the size limit is taken as nothing and flagged `\Seen \Flagged` for a person to
//! look at; a database error leaves it for the next poll.
//!
//! `ladder serve` polls every mailbox every `--imap-interval` (the worker, [`spawn`]); the
//! tests call [`poll`] themselves.

use std::sync::Arc;

use futures::TryStreamExt;
use ladder_core::TenantId;
use ladder_storage::inbound::{self as store, Mailbox};
use secrecy::ExposeSecret;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::{prepare, receive, Outcome, Source, Us};
use crate::flows::FlowError;
use crate::state::AppState;

/// How a mailbox's connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    /// Plain IMAP (only for a server on the same host or network).
    None,
    /// IMAP over TLS from the start (port 993).
    Tls,
    /// Plain IMAP upgraded with STARTTLS (port 143).
    StartTls,
}

impl Tls {
    pub fn parse(s: &str) -> Option<Tls> {
        match s {
            "none" => Some(Tls::None),
            "tls" => Some(Tls::Tls),
            "starttls" => Some(Tls::StartTls),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tls::None => "none",
            Tls::Tls => "tls",
            Tls::StartTls => "starttls",
        }
    }
}

/// What one poll did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Polled {
    pub created: usize,
    pub replied: usize,
    pub ignored: usize,
    /// Taken before (flagged now).
    pub already_taken: usize,
    /// Refused (malformed, too large) and flagged for a person.
    pub refused: usize,
}

/// Starts the poller: every interval, each organisation's mailbox in turn. One per server;
/// two servers polling one mailbox still take each message once (the UID is recorded with
/// the ticket), at the cost of a fetch.
pub fn spawn(state: AppState) -> Option<JoinHandle<()>> {
    if !state.inbound.imap_worker {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.inbound.imap_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let boxes = match store::mailboxes(&state.db).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "reading the IMAP mailboxes failed");
                    continue;
                }
            };
            for m in boxes {
                if let Err(e) = poll(&state, &m.tenant_id).await {
                    tracing::warn!(tenant = %m.tenant_id, error = %e, "polling an IMAP mailbox failed");
                }
            }
        }
    }))
}

/// Polls the organisation's mailbox once, recording the outcome (or the error) on it.
pub async fn poll(state: &AppState, tenant: &TenantId) -> anyhow::Result<Polled> {
    let mut conn = state.db.conn().await?;
    let Some(mailbox) = store::mailbox(&mut conn, tenant).await? else {
        anyhow::bail!("the organisation has no IMAP mailbox");
    };
    drop(conn);
    let result = poll_mailbox(state, &mailbox).await;
    let error = result.as_ref().err().map(|e| format!("{e:#}"));
    store::mark_polled(&state.db, tenant, error.as_deref(), state.now()).await?;
    result
}

async fn poll_mailbox(state: &AppState, m: &Mailbox) -> anyhow::Result<Polled> {
    let key = state.inbound.secret_key.as_ref().ok_or_else(|| {
        anyhow::anyhow!("the server has no secret key (--secret-key) to open the mailbox password")
    })?;
    let password = key
        .open(m.tenant_id.as_str(), &m.password_sealed)
        .map_err(|e| anyhow::anyhow!("the mailbox password: {e}"))?;
    let tls = Tls::parse(&m.tls)
        .ok_or_else(|| anyhow::anyhow!("the mailbox's TLS mode {:?} is unknown", m.tls))?;
    let tcp = TcpStream::connect((m.host.as_str(), m.port))
        .await
        .map_err(|e| anyhow::anyhow!("connecting to {}:{}: {e}", m.host, m.port))?;
    match tls {
        Tls::None => {
            let mut client = async_imap::Client::new(tcp);
            greeting(&mut client).await?;
            session(state, m, password.expose_secret(), client).await
        }
        Tls::Tls => {
            let stream = tls_connect(&m.host, tcp).await?;
            let mut client = async_imap::Client::new(stream);
            greeting(&mut client).await?;
            session(state, m, password.expose_secret(), client).await
        }
        Tls::StartTls => {
            let mut client = async_imap::Client::new(tcp);
            greeting(&mut client).await?;
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| anyhow::anyhow!("STARTTLS: {e}"))?;
            let stream = tls_connect(&m.host, client.into_inner()).await?;
            // No greeting after STARTTLS.
            session(
                state,
                m,
                password.expose_secret(),
                async_imap::Client::new(stream),
            )
            .await
        }
    }
}

async fn greeting<T>(client: &mut async_imap::Client<T>) -> anyhow::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    client
        .read_response()
        .await
        .map_err(|e| anyhow::anyhow!("reading the server's greeting: {e}"))?
        .ok_or_else(|| anyhow::anyhow!("the server closed the connection before its greeting"))?;
    Ok(())
}

async fn tls_connect(
    host: &str,
    tcp: TcpStream,
) -> anyhow::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // ring, which the build has already (reqwest, lettre); its post-quantum key exchange is
    // what rustls deprecates it over, and aws-lc-rs would add a C toolchain to the build.
    #[allow(deprecated)]
    let provider = tokio_rustls::rustls::crypto::ring::default_provider();
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("TLS configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| anyhow::anyhow!("the host {host:?} as a TLS name: {e}"))?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| anyhow::anyhow!("TLS with {host}: {e}"))
}

async fn session<T>(
    state: &AppState,
    m: &Mailbox,
    password: &str,
    client: async_imap::Client<T>,
) -> anyhow::Result<Polled>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let mut session = client
        .login(&m.username, password)
        .await
        .map_err(|(e, _)| anyhow::anyhow!("logging in as {:?}: {e}", m.username))?;
    let result = take_unseen(state, m, &mut session).await;
    // A failed logout loses nothing: every message taken is committed and flagged.
    let _ = session.logout().await;
    result
}

async fn take_unseen<T>(
    state: &AppState,
    m: &Mailbox,
    session: &mut async_imap::Session<T>,
) -> anyhow::Result<Polled>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let selected = session
        .select(&m.folder)
        .await
        .map_err(|e| anyhow::anyhow!("selecting {:?}: {e}", m.folder))?;
    let validity = selected
        .uid_validity
        .ok_or_else(|| anyhow::anyhow!("the server gave {:?} no UIDVALIDITY", m.folder))?;
    let mut unseen: Vec<u32> = session
        .uid_search("UNSEEN")
        .await
        .map_err(|e| anyhow::anyhow!("searching unseen messages: {e}"))?
        .into_iter()
        .collect();
    unseen.sort_unstable();
    let mut polled = Polled::default();
    let taken = store::taken_uids(&state.db, &m.tenant_id, validity, &unseen).await?;
    if !taken.is_empty() {
        polled.already_taken = taken.len();
        flag(session, &taken, "\\Seen").await?;
    }
    let us = Us::of(&state.notifier);
    for uid in unseen.into_iter().filter(|u| !taken.contains(u)) {
        let fetched: Vec<async_imap::types::Fetch> = session
            .uid_fetch(uid.to_string(), "(UID RFC822.SIZE BODY.PEEK[])")
            .await
            .map_err(|e| anyhow::anyhow!("fetching UID {uid}: {e}"))?
            .try_collect()
            .await
            .map_err(|e| anyhow::anyhow!("fetching UID {uid}: {e}"))?;
        let Some(raw) = fetched
            .iter()
            .find(|f| f.uid == Some(uid))
            .and_then(|f| f.body())
        else {
            // Expunged meanwhile.
            continue;
        };
        let now = state.now();
        let outcome = match prepare(&state.inbound, raw.to_vec()) {
            Ok(message) => {
                receive(
                    &state.db,
                    &us,
                    &state.inbound,
                    &m.tenant_id,
                    message,
                    Source::Imap {
                        uid_validity: validity,
                        uid,
                    },
                    now,
                )
                .await
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(r) => {
                match (r.duplicate, r.outcome) {
                    (true, _) => polled.already_taken += 1,
                    (false, Outcome::Created) => polled.created += 1,
                    (false, Outcome::Replied) => polled.replied += 1,
                    (false, Outcome::Ignored) => polled.ignored += 1,
                }
                flag(session, &[uid], "\\Seen").await?;
            }
            Err(FlowError::Invalid { field, detail }) => {
                tracing::warn!(uid, %field, %detail, "an IMAP message was refused; flagged for a person");
                let mut tx = state.db.write().await?;
                store::take_uid(tx.conn(), &m.tenant_id, validity, uid, now).await?;
                tx.commit().await?;
                polled.refused += 1;
                flag(session, &[uid], "\\Seen \\Flagged").await?;
            }
            Err(e) => return Err(anyhow::anyhow!("taking UID {uid} in: {e}")),
        }
    }
    Ok(polled)
}

async fn flag<T>(
    session: &mut async_imap::Session<T>,
    uids: &[u32],
    flags: &str,
) -> anyhow::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let set = uids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let _: Vec<_> = session
        .uid_store(&set, format!("+FLAGS.SILENT ({flags})"))
        .await
        .map_err(|e| anyhow::anyhow!("flagging UIDs {set}: {e}"))?
        .try_collect()
        .await
        .map_err(|e| anyhow::anyhow!("flagging UIDs {set}: {e}"))?;
    Ok(())
}
