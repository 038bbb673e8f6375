//! The live stream (`GET /api/v1/stream`): each signed-in person's events as Server-Sent
//! Events, read from their organisation's audit trail.
//!
//! The audit trail is the source because every change writes it in its own transaction, so
//! what a stream sends is exactly what committed, and its per-tenant `seq` is a durable,
//! gapless position: it is each event's SSE `id`, and a browser that reconnects with
//! `Last-Event-ID` is sent everything after it. Nothing is kept in memory but the wake-ups:
//! [`Feed`] broadcasts "tenant T has new events" to the streams of this server, which then
//! read the trail themselves. On PostgreSQL the wake-ups come from `LISTEN` on a connection
//! of its own (every server's appends `pg_notify` in their transaction, so the message
//! arrives at commit, whichever server made it); on SQLite, the one server sees its own
//! commits ([`ladder_storage::Db::commits`]) and looks for chain heads that moved, and
//! looks every [`POLL`] for those of other processes (the command line).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::response::sse::Event;
use jiff::Timestamp;
use ladder_core::{AuditKind, Role, TenantId, TicketId, UserId};
use ladder_storage::audit::{AuditEvent, NOTIFY_CHANNEL};
use ladder_storage::feed::{self, Reader};
use ladder_storage::{Backend, Db};
use serde_json::json;
use tokio::sync::{broadcast, mpsc, watch};

use crate::state::AppState;

/// How often an idle stream sends a comment, so that proxies and browsers keep it open.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Streams one person may hold open at once (a browser holds one per open page).
pub const MAX_STREAMS_PER_USER: usize = 8;
/// A browser further behind than this many events of its organisation is told to reload
/// (`reset`) rather than sent them all.
pub const MAX_BEHIND: i64 = 10_000;
/// Events read per query.
const PAGE: i64 = 200;
/// How long one connection of a tenant's staff serves before it ends and the browser
/// reconnects (with its last id, so nothing is missed): the reconnection signs the person in
/// again, so a revoked session or a changed role or team stops showing within this time.
pub const LIFETIME: Duration = Duration::from_secs(300);
/// What a browser waits before reconnecting (the `retry` field).
pub const RETRY: Duration = Duration::from_secs(1);
/// On SQLite, how often the chain heads are looked at for commits of other processes.
pub const POLL: Duration = Duration::from_secs(2);
/// The `id` of a platform-support stream's events: their positions span every organisation,
/// which one id cannot say, so a platform page that reconnects is told to reload.
pub const PLATFORM_ID: &str = "platform";

/// What a stream is woken for.
#[derive(Clone, Debug)]
pub enum Wake {
    /// The tenant's chain has new events.
    Tenant(TenantId),
    /// Anything may have been missed (the listener reconnected): every stream reads again.
    All,
}

/// The wake-ups of this server's streams, and how many each person holds open.
pub struct Feed {
    wakes: broadcast::Sender<Wake>,
    open: Mutex<HashMap<UserId, usize>>,
    closing: watch::Sender<bool>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed::new()
    }
}

impl Feed {
    pub fn new() -> Feed {
        Feed {
            // A stream that falls this far behind reads again (`Lagged` is a wake-up too).
            wakes: broadcast::channel(1024).0,
            open: Mutex::new(HashMap::new()),
            closing: watch::Sender::new(false),
        }
    }

    pub fn wake(&self, wake: Wake) {
        // No receiver means no open stream: nobody to wake.
        let _ = self.wakes.send(wake);
    }

    /// Ends every stream, so that a graceful shutdown does not wait on open connections.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// A place for one more stream of `user`, or none if they hold the most already.
    pub fn admit(self: &Arc<Self>, user: &UserId) -> Option<Admission> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(user.clone()).or_default();
        if *n >= MAX_STREAMS_PER_USER {
            return None;
        }
        *n += 1;
        Some(Admission {
            feed: self.clone(),
            user: user.clone(),
        })
    }
}

/// One open stream of a person; dropping it frees the place.
pub struct Admission {
    feed: Arc<Feed>,
    user: UserId,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut open = self
            .feed
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

/// Spawns what wakes this server's streams.
pub fn spawn(state: &AppState) -> tokio::task::JoinHandle<()> {
    let (db, feed) = (state.db.clone(), state.feed.clone());
    match db.backend() {
        Backend::Postgres => tokio::spawn(listen(db, feed)),
        Backend::Sqlite => tokio::spawn(watch_heads(db, feed)),
    }
}

/// PostgreSQL: one connection listening on [`NOTIFY_CHANNEL`]. When it is lost, it is
/// opened again with backoff, and once it listens again every stream reads again: whatever
/// committed in between was announced to nobody.
async fn listen(db: Db, feed: Arc<Feed>) {
    const FIRST: Duration = Duration::from_millis(100);
    let mut backoff = FIRST;
    loop {
        match db.listen(NOTIFY_CHANNEL).await {
            Ok(mut listener) => {
                backoff = FIRST;
                feed.wake(Wake::All);
                loop {
                    match listener.try_recv().await {
                        Ok(Some(n)) => feed.wake(Wake::Tenant(TenantId(n.payload().to_owned()))),
                        Ok(None) => {
                            tracing::warn!("the stream's listening connection was lost");
                            break;
                        }
                        Err(error) => {
                            tracing::warn!(%error, "the stream's listening connection failed");
                            break;
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "cannot listen for new audit events"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// SQLite: after each commit of this process (and every [`POLL`], for other processes),
/// the chain heads that moved wake their tenant's streams.
async fn watch_heads(db: Db, feed: Arc<Feed>) {
    let mut commits = db.commits();
    let mut known: BTreeMap<TenantId, i64> = BTreeMap::new();
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // With no stream open there is nobody to wake, so a commit costs no read here; a
        // stream that opens later reads the trail after its own position anyway.
        if feed.wakes.receiver_count() > 0 {
            match feed::heads(&db).await {
                Ok(heads) => {
                    for (tenant, seq) in &heads {
                        if known.get(tenant) != Some(seq) {
                            feed.wake(Wake::Tenant(tenant.clone()));
                        }
                    }
                    known = heads;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot read the audit chain heads");
                    feed.wake(Wake::All);
                }
            }
        }
        tokio::select! {
            changed = commits.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = poll.tick() => {}
        }
    }
}

/// Who a stream is for, with what the events are filtered by.
pub enum Audience {
    Staff {
        tenant: TenantId,
        user: UserId,
        role: Role,
        keys: Vec<String>,
    },
    Platform,
}

/// Where a stream starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// After this position of the tenant's chain (a reconnecting browser's `Last-Event-ID`).
    After(i64),
    /// At the chain's head: only what happens from now on.
    Now,
    /// The browser is too far behind, or its position means nothing here: tell it to
    /// reload, then go on from the head.
    Reset,
}

/// The SSE name of an audit event, or none for what no page shows (organisation setup).
/// Every kind is named here, so that a new kind is a decision, not a silence.
pub fn event_name(kind: AuditKind) -> Option<&'static str> {
    use AuditKind as K;
    Some(match kind {
        K::Escalated => "escalation.created",
        K::Acknowledged => "escalation.acknowledged",
        K::ReEscalated | K::RungTimedOut | K::TargetAway | K::SlaBreachReEscalated => {
            "escalation.moved_up"
        }
        K::Resolved => "escalation.resolved",
        K::DeEscalated => "escalation.de_escalated",
        K::SlaReminder => "sla.reminder",
        K::SlaBreached => "sla.breached",
        K::ApprovalRequested => "approval.requested",
        K::ApprovalGranted | K::ApprovalDenied => "approval.decided",
        K::TicketCreated => "ticket.created",
        K::TicketUpdated
        | K::Reopened
        | K::Replied
        | K::NoteAdded
        | K::CustomerMessage
        | K::CallLogged
        | K::Linked
        | K::WatcherAdded
        | K::LinkedToIncident
        | K::IncidentChildLinked
        | K::CustomerVerification
        | K::AttachmentAdded => "ticket.updated",
        K::TenantCreated
        | K::UserCreated
        | K::TeamCreated
        | K::CustomerCreated
        | K::AvailabilityChanged
        | K::PolicyChanged
        | K::WebhookCreated
        | K::InboundTokenSet
        | K::InboundMailboxSet
        | K::WebhookDeleted
        | K::EmailPreferencesChanged => return None,
    })
}

/// The SSE event for an audit event: small, since a page only re-fetches on hearing it.
fn sse_event(name: &str, e: &AuditEvent, ticket: &TicketId, id: &str) -> Event {
    let mut data = json!({"type": name, "ticket_id": ticket, "at": e.occurred_at});
    if let Some(escalation) = e.payload.get("escalation_id").and_then(|v| v.as_str()) {
        data["escalation_id"] = json!(escalation);
    }
    Event::default().event(name).id(id).data(data.to_string())
}

fn reset_event(id: &str, now: Timestamp) -> Event {
    Event::default()
        .event("reset")
        .id(id)
        .retry(RETRY)
        .data(json!({"type": "reset", "at": now}).to_string())
}

/// The stream ends: the browser went away, the server is shutting down, or reading failed.
struct Ended;

/// A stream ready to run: subscribed to wake-ups and placed in its chain(s), before the
/// response goes out, so that anything committed after the request is sent.
pub struct Opened {
    stream: Stream,
    place: Place,
    /// Holds the person's place for as long as the stream runs.
    _admission: Admission,
}

enum Place {
    Staff {
        tenant: TenantId,
        user: UserId,
        role: Role,
        keys: Vec<String>,
        /// Where reading starts, and whether the browser must reload first.
        pos: i64,
        reset: bool,
    },
    Platform {
        positions: BTreeMap<TenantId, i64>,
        reset: bool,
    },
}

/// Opens a stream for `audience` from `start`.
pub async fn open(
    state: AppState,
    audience: Audience,
    start: Start,
    admission: Admission,
) -> Result<Opened, ladder_storage::StorageError> {
    // Subscribed before the first read: a commit during it wakes the stream again.
    let wakes = state.feed.wakes.subscribe();
    let closing = state.feed.closing.subscribe();
    let place = match audience {
        Audience::Staff {
            tenant,
            user,
            role,
            keys,
        } => {
            let head = feed::head(&state.db, &tenant).await?;
            let (pos, reset) = match start {
                Start::After(seq) if seq <= head && head - seq <= MAX_BEHIND => (seq, false),
                Start::Now => (head, false),
                Start::After(_) | Start::Reset => (head, true),
            };
            Place::Staff {
                tenant,
                user,
                role,
                keys,
                pos,
                reset,
            }
        }
        Audience::Platform => Place::Platform {
            positions: feed::heads(&state.db).await?,
            reset: start != Start::Now,
        },
    };
    // A platform page that reconnects must reload (its positions span organisations), so
    // its stream is not ended on a schedule: it runs until the page or the server goes.
    let until = match place {
        Place::Staff { .. } => Some(tokio::time::Instant::now() + LIFETIME),
        Place::Platform { .. } => None,
    };
    Ok(Opened {
        stream: Stream {
            state,
            out: None,
            wakes,
            closing,
            until,
        },
        place,
        _admission: admission,
    })
}

impl Opened {
    /// Sends the stream's events into `out` until the browser goes, the server stops or
    /// the connection has served its [`LIFETIME`].
    pub async fn run(mut self, out: mpsc::Sender<Event>) {
        self.stream.out = Some(out);
        let ended = match self.place {
            Place::Staff {
                tenant,
                user,
                role,
                keys,
                pos,
                reset,
            } => {
                self.stream
                    .staff(&tenant, &user, role, &keys, pos, reset)
                    .await
            }
            Place::Platform { positions, reset } => self.stream.platform(positions, reset).await,
        };
        let Err(Ended) = ended;
    }
}

struct Stream {
    state: AppState,
    out: Option<mpsc::Sender<Event>>,
    wakes: broadcast::Receiver<Wake>,
    closing: watch::Receiver<bool>,
    /// When this connection ends, for the browser to reconnect and sign in again.
    until: Option<tokio::time::Instant>,
}

impl Stream {
    async fn send(&self, event: Event) -> Result<(), Ended> {
        match &self.out {
            Some(out) => out.send(event).await.map_err(|_| Ended),
            None => Err(Ended),
        }
    }

    /// Waits until `tenant` (or, for none, any tenant) may have new events; says which.
    async fn woken(&mut self, tenant: Option<&TenantId>) -> Result<Wake, Ended> {
        let Some(out) = self.out.clone() else {
            return Err(Ended);
        };
        let until = self.until;
        loop {
            tokio::select! {
                wake = self.wakes.recv() => match wake {
                    Ok(Wake::Tenant(t)) if tenant.is_none_or(|mine| *mine == t) => {
                        return Ok(Wake::Tenant(t))
                    }
                    Ok(Wake::Tenant(_)) => {}
                    Ok(Wake::All) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        return Ok(Wake::All)
                    }
                    Err(broadcast::error::RecvError::Closed) => return Err(Ended),
                },
                () = out.closed() => return Err(Ended),
                _ = self.closing.wait_for(|closing| *closing) => return Err(Ended),
                () = lifetime(until) => return Err(Ended),
            }
        }
    }

    fn failed(error: ladder_storage::StorageError) -> Ended {
        // The browser reconnects with its last id and misses nothing.
        tracing::warn!(%error, "a live stream stopped reading");
        Ended
    }

    async fn staff(
        &mut self,
        tenant: &TenantId,
        user: &UserId,
        role: Role,
        keys: &[String],
        mut pos: i64,
        reset: bool,
    ) -> Result<std::convert::Infallible, Ended> {
        let db = self.state.db.clone();
        if reset {
            self.send(reset_event(&pos.to_string(), self.state.now()))
                .await?;
        } else {
            // The browser knows where it stands even if nothing happens before it reconnects.
            self.send(Event::default().id(pos.to_string()).retry(RETRY))
                .await?;
        }
        let mut told = pos;
        let reader = Reader::Staff {
            user_id: user,
            keys,
        };
        loop {
            loop {
                let events = feed::after(&db, tenant, pos, PAGE)
                    .await
                    .map_err(Self::failed)?;
                let tickets: Vec<&TicketId> = distinct_tickets(&events);
                let concerning = feed::concerning(&db, tenant, &reader, &tickets)
                    .await
                    .map_err(Self::failed)?;
                for e in &events {
                    pos = e.seq;
                    let (Some(name), Some(ticket)) = (event_name(e.kind), &e.ticket_id) else {
                        continue;
                    };
                    if concerning.contains(ticket) || approver(e, role) {
                        self.send(sse_event(name, e, ticket, &pos.to_string()))
                            .await?;
                        told = pos;
                    }
                }
                if (events.len() as i64) < PAGE {
                    break;
                }
            }
            if told != pos {
                // Nothing for this person, but the position moved on: a reconnect starts
                // here rather than reading those events again.
                self.send(Event::default().id(pos.to_string())).await?;
                told = pos;
            }
            self.woken(Some(tenant)).await?;
        }
    }

    async fn platform(
        &mut self,
        mut positions: BTreeMap<TenantId, i64>,
        reset: bool,
    ) -> Result<std::convert::Infallible, Ended> {
        let db = self.state.db.clone();
        if reset {
            self.send(reset_event(PLATFORM_ID, self.state.now()))
                .await?;
        } else {
            self.send(Event::default().id(PLATFORM_ID).retry(RETRY))
                .await?;
        }
        loop {
            let woken = self.woken(None).await?;
            let tenants: Vec<TenantId> = match woken {
                Wake::Tenant(t) => vec![t],
                // Organisations created since the stream opened start at their beginning.
                Wake::All => feed::heads(&db)
                    .await
                    .map_err(Self::failed)?
                    .into_keys()
                    .collect(),
            };
            for tenant in tenants {
                let mut pos = positions.get(&tenant).copied().unwrap_or(0);
                loop {
                    let events = feed::after(&db, &tenant, pos, PAGE)
                        .await
                        .map_err(Self::failed)?;
                    let tickets = distinct_tickets(&events);
                    let concerning = feed::concerning(&db, &tenant, &Reader::Platform, &tickets)
                        .await
                        .map_err(Self::failed)?;
                    for e in &events {
                        pos = e.seq;
                        let (Some(name), Some(ticket)) = (event_name(e.kind), &e.ticket_id) else {
                            continue;
                        };
                        if concerning.contains(ticket) {
                            self.send(sse_event(name, e, ticket, PLATFORM_ID)).await?;
                        }
                    }
                    if (events.len() as i64) < PAGE {
                        break;
                    }
                }
                positions.insert(tenant, pos);
            }
        }
    }
}

async fn lifetime(until: Option<tokio::time::Instant>) {
    match until {
        Some(until) => tokio::time::sleep_until(until).await,
        None => std::future::pending().await,
    }
}

fn distinct_tickets(events: &[AuditEvent]) -> Vec<&TicketId> {
    let mut seen = HashSet::new();
    events
        .iter()
        .filter_map(|e| e.ticket_id.as_ref())
        .filter(|t| seen.insert(*t))
        .collect()
}

/// A compensation waiting for approval concerns the role that approves it.
fn approver(e: &AuditEvent, role: Role) -> bool {
    e.kind == AuditKind::ApprovalRequested
        && e.payload.get("approver_role").and_then(|r| r.as_str()) == Some(role.as_str())
}
