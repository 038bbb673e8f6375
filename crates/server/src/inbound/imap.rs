//! Watching organisations' IMAP mailboxes (async-imap on tokio; TLS by rustls with the
//! webpki roots).
//!
//! A take of one mailbox: SELECT the folder, read its UIDVALIDITY, search its messages (the
//! unseen ones; every one not deleted when taken messages are moved away), skip the UIDs
//! taken before (a crash after the commit and before the flag or move), then fetch each
//! message without marking it (`BODY.PEEK[]`) and take it in through [`super::receive`],
//! which records the UID in the same transaction as the ticket. Only then is the message
//! flagged `\Seen` and, when the mailbox has a `processed_folder`, moved there (`UID MOVE`
//! where the server advertises MOVE, else `UID COPY`, `\Deleted` and `UID EXPUNGE`, or
//! `EXPUNGE` without UIDPLUS). So a message becomes a ticket once, whatever stops when: a
//! crash before the commit leaves it untaken (taken next time), one after it leaves it taken
//! (flagged and moved next time, which is why a moving mailbox is searched whole rather than
//! for unseen messages). A message that is not one (refused by the parser) or over the size
//! limit is taken as nothing and flagged `\Seen \Flagged` for a person to look at (and
//! moved like the others); a database error leaves it for the next take.
//!
//! `ladder serve` runs [`spawn`]: a supervisor that every `--imap-interval` reads the
//! mailboxes and keeps one [`watch`] task per mailbox (restarted when its settings change).
//! A watch logs in, takes, and then waits in IDLE where the server advertises it, taking
//! again as soon as the server reports a new message (and at least every interval); a
//! server without IDLE is polled each interval. The tests call [`poll`] (one take) directly,
//! and start a [`watch`] to see IDLE wake it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_imap::types::UnsolicitedResponse;
use futures::TryStreamExt;
use jiff::Timestamp;
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

/// A connection to an IMAP server, plain or TLS, as one type, so a session's code is written
/// once for all three ways of connecting.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}

type Session = async_imap::Session<Box<dyn Io>>;

/// What the server advertises that changes how a mailbox is watched and emptied.
#[derive(Clone, Copy, Debug)]
struct Offers {
    idle: bool,
    /// `MOVE` (RFC 6851).
    mv: bool,
    /// `UID EXPUNGE` (RFC 4315).
    uidplus: bool,
}

/// Starts the supervisor: every interval it reads the mailboxes and keeps one [`watch`] per
/// mailbox, restarting a watch whose settings changed (or that ended) and stopping those of
/// mailboxes gone. One per server; two servers watching one mailbox still take each message
/// once (the UID is recorded with the ticket), at the cost of a fetch.
pub fn spawn(state: AppState) -> Option<JoinHandle<()>> {
    if !state.inbound.imap_worker {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut watches = Watches::default();
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
            let current: HashMap<TenantId, Timestamp> = boxes
                .into_iter()
                .map(|m| (m.tenant_id, m.updated_at))
                .collect();
            watches.0.retain(|tenant, (updated, handle)| {
                let keep = current.get(tenant) == Some(updated) && !handle.is_finished();
                if !keep {
                    handle.abort();
                }
                keep
            });
            for (tenant, updated) in current {
                watches
                    .0
                    .entry(tenant.clone())
                    .or_insert_with(|| (updated, watch(state.clone(), tenant)));
            }
        }
    }))
}

/// The running watches, stopped with the supervisor (a task is not stopped by dropping its
/// handle).
#[derive(Default)]
struct Watches(HashMap<TenantId, (Timestamp, JoinHandle<()>)>);

impl Drop for Watches {
    fn drop(&mut self) {
        for (_, handle) in self.0.values() {
            handle.abort();
        }
    }
}

/// Watches the organisation's mailbox until stopped: a connection takes, then idles and takes
/// again on every new message (with IDLE), or takes once (without); after a connection ends
/// (or fails: the error is on the mailbox), the next starts an interval later.
pub fn watch(state: AppState, tenant: TenantId) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = watch_once(&state, &tenant).await {
                tracing::warn!(tenant = %tenant, error = %format!("{e:#}"), "watching an IMAP mailbox failed");
            }
            tokio::time::sleep(state.inbound.imap_interval).await;
        }
    })
}

async fn watch_once(state: &AppState, tenant: &TenantId) -> anyhow::Result<()> {
    let mailbox = read_mailbox(state, tenant).await?;
    let opened = open(state, &mailbox).await;
    let (mut session, offers) = match opened {
        Ok(o) => o,
        Err(e) => {
            record(state, tenant, Some(&e)).await?;
            return Err(e);
        }
    };
    loop {
        // What the server announced before this take, the take sees anyway.
        announced(&session);
        let result = take(state, &mailbox, &mut session, offers).await;
        record(state, tenant, result.as_ref().err()).await?;
        result?;
        if !offers.idle {
            // A failed logout loses nothing: every message taken is committed and flagged.
            let _ = session.logout().await;
            return Ok(());
        }
        // A message that arrived during the take was announced meanwhile: take it now
        // rather than idle past it.
        if announced(&session) {
            continue;
        }
        session = idle(session, state.inbound.imap_interval).await?;
    }
}

/// Whether the server announced a new message (EXISTS, RECENT) since last asked; forgets what
/// it announced.
fn announced(session: &Session) -> bool {
    let mut any = false;
    while let Ok(r) = session.unsolicited_responses.try_recv() {
        any |= matches!(
            r,
            UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)
        );
    }
    any
}

/// Waits in IDLE until the server reports a change, or `longest` passes (a take then catches
/// anything a lost notification missed).
async fn idle(session: Session, longest: Duration) -> anyhow::Result<Session> {
    // What the server says while IDLE starts is passed on as unsolicited responses, not to
    // the waiting below: a message that came just before must wake it too.
    let unsolicited = session.unsolicited_responses.clone();
    let mut handle = session.idle();
    handle
        .init()
        .await
        .map_err(|e| anyhow::anyhow!("starting IDLE: {e}"))?;
    {
        let (wait, _stop) = handle.wait_with_timeout(longest);
        let new_message = async {
            loop {
                match unsolicited.recv().await {
                    Ok(UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)) => return,
                    Ok(_) => {}
                    // The session's sender lives as long as the session: never, in practice.
                    Err(_) => futures::future::pending::<()>().await,
                }
            }
        };
        tokio::select! {
            woke = wait => {
                woke.map_err(|e| anyhow::anyhow!("waiting in IDLE: {e}"))?;
            }
            () = new_message => {}
        }
    }
    handle
        .done()
        .await
        .map_err(|e| anyhow::anyhow!("ending IDLE: {e}"))
}

/// Takes the organisation's mailbox once (connect, take, log out), recording the outcome (or
/// the error) on it.
pub async fn poll(state: &AppState, tenant: &TenantId) -> anyhow::Result<Polled> {
    let mailbox = read_mailbox(state, tenant).await?;
    let result = async {
        let (mut session, offers) = open(state, &mailbox).await?;
        let result = take(state, &mailbox, &mut session, offers).await;
        // A failed logout loses nothing: every message taken is committed and flagged.
        let _ = session.logout().await;
        result
    }
    .await;
    record(state, tenant, result.as_ref().err()).await?;
    result
}

async fn read_mailbox(state: &AppState, tenant: &TenantId) -> anyhow::Result<Mailbox> {
    let mut conn = state.db.conn().await?;
    store::mailbox(&mut conn, tenant)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the organisation has no IMAP mailbox"))
}

async fn record(
    state: &AppState,
    tenant: &TenantId,
    error: Option<&anyhow::Error>,
) -> anyhow::Result<()> {
    let error = error.map(|e| format!("{e:#}"));
    store::mark_polled(&state.db, tenant, error.as_deref(), state.now()).await?;
    Ok(())
}

/// Connects and logs in; reads what the server offers.
async fn open(state: &AppState, m: &Mailbox) -> anyhow::Result<(Session, Offers)> {
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
    let client: async_imap::Client<Box<dyn Io>> = match tls {
        Tls::None => {
            let mut client = async_imap::Client::new(Box::new(tcp) as Box<dyn Io>);
            greeting(&mut client).await?;
            client
        }
        Tls::Tls => {
            let stream = tls_connect(&m.host, tcp).await?;
            let mut client = async_imap::Client::new(Box::new(stream) as Box<dyn Io>);
            greeting(&mut client).await?;
            client
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
            async_imap::Client::new(Box::new(stream) as Box<dyn Io>)
        }
    };
    let mut session = client
        .login(&m.username, password.expose_secret())
        .await
        .map_err(|(e, _)| anyhow::anyhow!("logging in as {:?}: {e}", m.username))?;
    let caps = session
        .capabilities()
        .await
        .map_err(|e| anyhow::anyhow!("reading the server's capabilities: {e}"))?;
    let offers = Offers {
        idle: caps.has_str("IDLE"),
        mv: caps.has_str("MOVE"),
        uidplus: caps.has_str("UIDPLUS"),
    };
    Ok((session, offers))
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

/// One take of the mailbox's folder (see the module's comment).
async fn take(
    state: &AppState,
    m: &Mailbox,
    session: &mut Session,
    offers: Offers,
) -> anyhow::Result<Polled> {
    if let Some(to) = &m.processed_folder {
        ensure_folder(session, to).await?;
    }
    let selected = session
        .select(&m.folder)
        .await
        .map_err(|e| anyhow::anyhow!("selecting {:?}: {e}", m.folder))?;
    let validity = selected
        .uid_validity
        .ok_or_else(|| anyhow::anyhow!("the server gave {:?} no UIDVALIDITY", m.folder))?;
    // Moved away once taken, every message left is to take (or to move, if taken before a
    // crash, even if someone read it meanwhile); flagged in place, the unseen ones.
    let query = if m.processed_folder.is_some() {
        "UNDELETED"
    } else {
        "UNSEEN"
    };
    let mut found: Vec<u32> = session
        .uid_search(query)
        .await
        .map_err(|e| anyhow::anyhow!("searching the messages to take: {e}"))?
        .into_iter()
        .collect();
    found.sort_unstable();
    let mut polled = Polled::default();
    let taken = store::taken_uids(&state.db, &m.tenant_id, validity, &found).await?;
    if !taken.is_empty() {
        polled.already_taken = taken.len();
        settle(session, m, offers, &taken, "\\Seen").await?;
    }
    let us = Us::of(&state.notifier);
    for uid in found.into_iter().filter(|u| !taken.contains(u)) {
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
                settle(session, m, offers, &[uid], "\\Seen").await?;
            }
            Err(FlowError::Invalid { field, detail }) => {
                tracing::warn!(uid, %field, %detail, "an IMAP message was refused; flagged for a person");
                let mut tx = state.db.write().await?;
                store::take_uid(tx.conn(), &m.tenant_id, validity, uid, now).await?;
                tx.commit().await?;
                polled.refused += 1;
                settle(session, m, offers, &[uid], "\\Seen \\Flagged").await?;
            }
            Err(e) => return Err(anyhow::anyhow!("taking UID {uid} in: {e}")),
        }
    }
    Ok(polled)
}

/// Creates the folder taken messages go to, if it is not there.
async fn ensure_folder(session: &mut Session, folder: &str) -> anyhow::Result<()> {
    let names: Vec<async_imap::types::Name> = session
        .list(None, Some(folder))
        .await
        .map_err(|e| anyhow::anyhow!("looking for the folder {folder:?}: {e}"))?
        .try_collect()
        .await
        .map_err(|e| anyhow::anyhow!("looking for the folder {folder:?}: {e}"))?;
    if names.iter().all(|n| n.name() != folder) {
        session
            .create(folder)
            .await
            .map_err(|e| anyhow::anyhow!("creating the folder {folder:?}: {e}"))?;
    }
    Ok(())
}

/// What becomes of messages once taken: flagged, then moved when the mailbox says where.
async fn settle(
    session: &mut Session,
    m: &Mailbox,
    offers: Offers,
    uids: &[u32],
    flags: &str,
) -> anyhow::Result<()> {
    flag(session, uids, flags).await?;
    let Some(to) = &m.processed_folder else {
        return Ok(());
    };
    let set = uid_set(uids);
    if offers.mv {
        return session
            .uid_mv(&set, to)
            .await
            .map_err(|e| anyhow::anyhow!("moving UIDs {set} to {to:?}: {e}"));
    }
    // Without MOVE: copy, then delete the original. A crash between the two leaves the
    // message in both folders, taken once; the next take copies it again (a second copy in
    // the processed folder, never a second ticket).
    session
        .uid_copy(&set, to)
        .await
        .map_err(|e| anyhow::anyhow!("copying UIDs {set} to {to:?}: {e}"))?;
    flag(session, uids, "\\Deleted").await?;
    if offers.uidplus {
        let _: Vec<u32> = session
            .uid_expunge(&set)
            .await
            .map_err(|e| anyhow::anyhow!("expunging UIDs {set}: {e}"))?
            .try_collect()
            .await
            .map_err(|e| anyhow::anyhow!("expunging UIDs {set}: {e}"))?;
    } else {
        // Also removes whatever else someone marked deleted in the folder: without UIDPLUS
        // IMAP has no narrower way.
        let _: Vec<u32> = session
            .expunge()
            .await
            .map_err(|e| anyhow::anyhow!("expunging: {e}"))?
            .try_collect()
            .await
            .map_err(|e| anyhow::anyhow!("expunging: {e}"))?;
    }
    Ok(())
}

fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

async fn flag(session: &mut Session, uids: &[u32], flags: &str) -> anyhow::Result<()> {
    let set = uid_set(uids);
    let _: Vec<_> = session
        .uid_store(&set, format!("+FLAGS.SILENT ({flags})"))
        .await
        .map_err(|e| anyhow::anyhow!("flagging UIDs {set}: {e}"))?
        .try_collect()
        .await
        .map_err(|e| anyhow::anyhow!("flagging UIDs {set}: {e}"))?;
    Ok(())
}
