//! Notifications leave the building: the delivery worker.
//!
//! It drains the outbox in two steps, each modelled on the timer engine (claim a batch in
//! one transaction, act, record the outcome):
//!
//! 1. **Fan-out** ([`fan_out_due`]): one write transaction claims outbox rows (on
//!    PostgreSQL `FOR UPDATE SKIP LOCKED`, so servers take disjoint batches; on SQLite under
//!    its one writer), works out who each reaches (staff by email unless they turned that
//!    kind off; the customer unless the organisation did; the organisation's webhooks
//!    subscribed to the event), renders each email and event once, writes one delivery per
//!    recipient with its idempotency key (the Message-ID, the `webhook-id`), marks the rows
//!    handed over, and commits.
//! 2. **Sending** ([`send_due`]): one short transaction claims due deliveries, counting the
//!    attempt and leasing them; they are sent outside it, several at once (pooled SMTP
//!    connections, one HTTP client); another transaction records each outcome: delivered,
//!    or retried with exponential backoff and jitter for a day, then `failed`.
//!
//! A server killed mid-send leaves its claimed deliveries leased; when the lease ends any
//! server sends them again, with the same key, so a receiver can drop the duplicate.
//! Without an SMTP URL, emails are fanned out but wait as `pending`.

pub mod render;
pub mod smtp;
pub mod webhook;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use jiff::SignedDuration;
use ladder_core::{NotificationKind, TenantId, TicketId};
use ladder_storage::deliveries::{
    self, Channel, Delivery, NewDelivery, Pending, Recipient, Webhook, CUSTOMERS, PLATFORM_STAFF,
};
use ladder_storage::{directory, new_id, tickets, StorageError};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::state::AppState;
use render::Mail;

/// How notifications leave: `ladder serve`'s `--smtp-url`, `--mail-from`, `--public-url`,
/// `--allow-private-webhooks`.
#[derive(Clone, Debug)]
pub struct Settings {
    pub smtp: Option<smtp::SmtpUrl>,
    pub mail_from: String,
    /// Where people open a ticket page: links in emails are `{public_url}/tickets/{id}`.
    pub public_url: String,
    pub allow_private_webhooks: bool,
    /// How long a claimed delivery is left to its sender before another may send it.
    pub lease: Duration,
    /// Whether `serve` runs the delivery workers (the API tests drain by hand).
    pub workers: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            smtp: None,
            mail_from: "Ladder <ladder@localhost>".into(),
            public_url: "http://127.0.0.1:8080".into(),
            allow_private_webhooks: false,
            lease: Duration::from_secs(60),
            workers: 0,
        }
    }
}

/// The settings and what they open: the SMTP pool and the webhook client, shared by every
/// worker and request.
pub struct Notifier {
    pub settings: Settings,
    mailer: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    http: reqwest::Client,
    /// The domain of Message-IDs: the public URL's host.
    domain: String,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Notifier {
    pub fn new(settings: Settings) -> Result<Notifier, String> {
        let mailer = settings
            .smtp
            .as_ref()
            .map(smtp::SmtpUrl::transport)
            .transpose()?;
        let from: Mailbox = settings
            .mail_from
            .parse()
            .map_err(|e| format!("--mail-from {:?}: {e}", settings.mail_from))?;
        let http = webhook::client(settings.allow_private_webhooks)?;
        let domain = reqwest::Url::parse(&settings.public_url)
            .map_err(|e| format!("--public-url {:?}: {e}", settings.public_url))?
            .host_str()
            .unwrap_or("ladder.invalid")
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        Ok(Notifier {
            settings,
            mailer,
            from,
            http,
            domain,
        })
    }

    /// The channels this server sends: webhooks always, email with an SMTP URL.
    fn channels(&self) -> Vec<Channel> {
        let mut c = vec![Channel::Webhook];
        if self.mailer.is_some() {
            c.insert(0, Channel::Email);
        }
        c
    }

    /// Deliveries sent at once by one worker: the SMTP pool's size.
    fn in_flight(&self) -> usize {
        let pool = self
            .settings
            .smtp
            .as_ref()
            .map_or(smtp::POOL, |s| s.connections);
        usize::try_from(pool).unwrap_or(1)
    }

    /// The domain of the Message-IDs this server sends: a message whose own Message-ID is
    /// in it came from us (`inbound` drops it, so two help desks never answer each other).
    pub fn message_id_domain(&self) -> &str {
        &self.domain
    }

    /// The address emails are sent from.
    pub fn from_address(&self) -> String {
        self.from.email.to_string()
    }

    fn ticket_link(&self, ticket: &str) -> String {
        format!(
            "{}/tickets/{ticket}",
            self.settings.public_url.trim_end_matches('/')
        )
    }
}

impl Default for Notifier {
    fn default() -> Notifier {
        // The default settings are valid by construction.
        match Notifier::new(Settings::default()) {
            Ok(n) => n,
            Err(e) => unreachable!("the default notification settings: {e}"),
        }
    }
}

/// Outbox rows fanned out per transaction.
const FAN_OUT_BATCH: i64 = 200;
/// Deliveries claimed per transaction.
const SEND_BATCH: i64 = 200;
/// How long a failed delivery is retried before it is `failed`.
const RETRY_FOR: SignedDuration = SignedDuration::from_hours(24);

/// Starts the delivery workers; they run until the runtime stops.
pub fn spawn(state: AppState) -> Vec<JoinHandle<()>> {
    (0..state.notifier.settings.workers)
        .map(|_| tokio::spawn(work(state.clone())))
        .collect()
}

async fn work(state: AppState) {
    let idle = Duration::from_millis(500);
    loop {
        let fanned = fan_out_due(&state, FAN_OUT_BATCH)
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "fanning out notifications failed; retrying shortly");
                0
            });
        let sent = send_due(&state, SEND_BATCH).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "sending deliveries failed; retrying shortly");
            0
        });
        if fanned > 0 || sent > 0 {
            continue;
        }
        let now = state.now();
        let channels = state.notifier.channels();
        let next = [
            deliveries::next_outbox_due(&state.db).await,
            deliveries::next_due(&state.db, &channels).await,
        ]
        .into_iter()
        .filter_map(Result::ok)
        .flatten()
        .min();
        let wait = match next {
            Some(at) => Duration::try_from(at.duration_since(now))
                .unwrap_or(Duration::ZERO)
                .clamp(Duration::from_millis(20), idle),
            None => idle,
        };
        tokio::time::sleep(wait).await;
    }
}

/// Fans out and sends everything due at [`AppState::now`], batch after batch, until nothing
/// is left that can go now; returns how many deliveries were attempted. The API tests call
/// this instead of running the workers, on the clock they move.
pub async fn drain(state: &AppState) -> Result<usize, StorageError> {
    let mut attempted = 0;
    loop {
        let fanned = fan_out_due(state, FAN_OUT_BATCH).await?;
        let sent = send_due(state, SEND_BATCH).await?;
        attempted += sent;
        if fanned == 0 && sent == 0 {
            return Ok(attempted);
        }
    }
}

/// Claims up to `batch` outbox rows due now and writes their deliveries, in one
/// transaction; returns how many rows it handled.
pub async fn fan_out_due(state: &AppState, batch: i64) -> Result<usize, StorageError> {
    let mut tx = state.db.write().await?;
    let now = state.now();
    let (pending, unreadable) =
        deliveries::claim_outbox(tx.conn(), state.db.backend(), now, batch).await?;
    for u in &unreadable {
        state.metrics.corrupt("outbox");
        let retry = now + backoff(u.attempts + 1, 0.0);
        tracing::error!(message = %u.key, error = %u.error, retry_at = %retry,
            "an outbox row does not read back");
        deliveries::outbox_retry_later(tx.conn(), &u.key, retry, &u.error.to_string()).await?;
    }
    if pending.is_empty() {
        tx.commit().await?;
        return Ok(unreadable.len());
    }
    let lookups = Lookups::load(tx.conn(), &pending).await?;
    let mut out = Vec::new();
    let mut done = Vec::new();
    for p in &pending {
        match plan(&state.notifier, tx.conn(), &lookups, p).await {
            Ok(mut ds) => {
                out.append(&mut ds);
                done.push(p.key.clone());
            }
            Err(Plan::Storage(e)) => return Err(e),
            Err(Plan::Render(e)) => {
                let retry = now + backoff(p.attempts + 1, 0.0);
                tracing::error!(message = %p.key, error = %e, "a notification could not be rendered");
                deliveries::outbox_retry_later(tx.conn(), &p.key, retry, &e).await?;
            }
        }
    }
    deliveries::insert_many(tx.conn(), &out, now).await?;
    deliveries::fanned_out(tx.conn(), &done, now).await?;
    tx.commit().await?;
    state.metrics.deliveries_queued.inc_by(out.len() as u64);
    Ok(pending.len() + unreadable.len())
}

/// Claims up to `batch` deliveries due now, sends them, and records each outcome; returns
/// how many it attempted.
pub async fn send_due(state: &AppState, batch: i64) -> Result<usize, StorageError> {
    let notifier = &state.notifier;
    let channels = notifier.channels();
    let now = state.now();
    let lease =
        SignedDuration::try_from(notifier.settings.lease).unwrap_or(SignedDuration::from_secs(60));
    let mut tx = state.db.write().await?;
    let claimed = deliveries::claim(
        tx.conn(),
        state.db.backend(),
        &channels,
        now,
        now + lease,
        batch,
    )
    .await?;
    let hooks: HashMap<String, Webhook> = {
        let tenants: HashSet<&str> = claimed
            .iter()
            .filter(|d| d.channel == Channel::Webhook)
            .map(|d| d.tenant_id.as_str())
            .collect();
        let tenants: Vec<&str> = tenants.into_iter().collect();
        deliveries::webhooks_of(tx.conn(), &tenants)
            .await?
            .into_iter()
            .map(|w| (w.id.clone(), w))
            .collect()
    };
    tx.commit().await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let hooks = &hooks;
    let sends: Vec<_> = claimed
        .iter()
        .enumerate()
        .map(|(i, d)| async move { (i, send_one(state, hooks, d).await) })
        .collect();
    let outcomes: Vec<(usize, Result<(), String>)> = futures::stream::iter(sends)
        .buffer_unordered(notifier.in_flight())
        .collect()
        .await;
    let done_at = state.now();
    let mut tx = state.db.write().await?;
    let mut delivered = Vec::new();
    for (i, outcome) in outcomes {
        let d = &claimed[i];
        match outcome {
            Ok(()) => delivered.push(d.id.clone()),
            Err(e) => {
                let retry = (done_at < d.created_at + RETRY_FOR)
                    .then(|| done_at + backoff(d.attempts, rand::random::<f64>()));
                state
                    .metrics
                    .delivery_failed(d.channel.as_str(), retry.is_none());
                tracing::warn!(delivery = %d.id, channel = d.channel.as_str(), attempts = d.attempts,
                    error = %e, retry_at = ?retry, "a delivery failed");
                deliveries::mark_attempt_failed(tx.conn(), &d.id, &e, retry).await?;
            }
        }
    }
    deliveries::mark_delivered(tx.conn(), &delivered, done_at).await?;
    tx.commit().await?;
    for d in claimed.iter().filter(|d| delivered.contains(&d.id)) {
        state.metrics.delivered(d.channel.as_str());
    }
    Ok(claimed.len())
}

async fn send_one(
    state: &AppState,
    hooks: &HashMap<String, Webhook>,
    d: &Delivery,
) -> Result<(), String> {
    let notifier = &state.notifier;
    match d.channel {
        Channel::Email => {
            let mailer = notifier
                .mailer
                .as_ref()
                .ok_or("no SMTP server is configured")?;
            let message = smtp::message(d, &notifier.from, state.now())?;
            smtp::send(mailer, message).await
        }
        Channel::Webhook => {
            let hook = hooks.get(&d.recipient).ok_or("the webhook was deleted")?;
            webhook::send(
                &notifier.http,
                hook,
                d,
                notifier.settings.allow_private_webhooks,
                state.now(),
            )
            .await
        }
    }
}

/// The delay before attempt `attempts + 1`: 30 s doubling per attempt up to an hour, less a
/// random share (`jitter` in 0..1) of up to half, so that deliveries failing together do not
/// come back together.
pub fn backoff(attempts: i64, jitter: f64) -> SignedDuration {
    let exp = u32::try_from((attempts - 1).clamp(0, 7)).unwrap_or(7);
    let full = (30i64 << exp).min(3600) as f64;
    let secs = full * (1.0 - 0.5 * jitter.clamp(0.0, 1.0));
    SignedDuration::from_secs_f64(secs)
}

/// What fan-out reads once per batch.
struct Lookups {
    /// Staff by organisation and id (platform staff under [`PLATFORM_STAFF`]).
    people: HashMap<(String, String), Recipient>,
    org_names: HashMap<String, String>,
    webhooks: HashMap<String, Vec<Webhook>>,
    /// `(organisation, subject, kind)` turned off.
    opted_out: HashSet<(String, String, String)>,
}

impl Lookups {
    async fn load(
        conn: &mut sqlx::AnyConnection,
        pending: &[Pending],
    ) -> Result<Lookups, StorageError> {
        let tenants: HashSet<&str> = pending.iter().map(|p| p.tenant_id.as_str()).collect();
        let tenants: Vec<&str> = tenants.into_iter().collect();
        let mut ids: HashSet<&str> = HashSet::new();
        for p in pending {
            ids.extend(p.recipient_user_ids.iter().map(|u| u.as_str()));
            for k in ["requested_by", "escalation_owner_id"] {
                if let Some(id) = p.payload.get(k).and_then(Value::as_str) {
                    ids.insert(id);
                }
            }
        }
        let ids: Vec<&str> = ids.into_iter().collect();
        let people = deliveries::people_named(conn, &tenants, &ids)
            .await?
            .into_iter()
            .map(|(t, r)| ((t, r.id.0.clone()), r))
            .collect();
        let org_names = deliveries::tenant_names(conn, &tenants).await?;
        let mut webhooks: HashMap<String, Vec<Webhook>> = HashMap::new();
        for w in deliveries::webhooks_of(conn, &tenants).await? {
            webhooks.entry(w.tenant_id.0.clone()).or_default().push(w);
        }
        let opted_out = deliveries::opt_outs_of(conn, &tenants)
            .await?
            .into_iter()
            .collect();
        Ok(Lookups {
            people,
            org_names,
            webhooks,
            opted_out,
        })
    }

    fn person(&self, tenant: &TenantId, id: &str) -> Option<&Recipient> {
        self.people
            .get(&(tenant.0.clone(), id.to_owned()))
            .or_else(|| self.people.get(&(PLATFORM_STAFF.to_owned(), id.to_owned())))
    }

    fn name(&self, tenant: &TenantId, id: &str) -> Option<String> {
        self.person(tenant, id).map(|r| r.name.clone())
    }

    fn opted_out(&self, tenant: &TenantId, subject: &str, kind: NotificationKind) -> bool {
        self.opted_out.contains(&(
            tenant.0.clone(),
            subject.to_owned(),
            kind.as_str().to_owned(),
        ))
    }
}

enum Plan {
    Storage(StorageError),
    Render(String),
}

impl From<StorageError> for Plan {
    fn from(e: StorageError) -> Plan {
        Plan::Storage(e)
    }
}

/// The deliveries of one notification.
async fn plan(
    notifier: &Notifier,
    conn: &mut sqlx::AnyConnection,
    lookups: &Lookups,
    p: &Pending,
) -> Result<Vec<NewDelivery>, Plan> {
    let mut out = Vec::new();
    let tenant = &p.tenant_id;
    let new = |channel: Channel, recipient: String, kind: &str, key: String| NewDelivery {
        id: String::new(),
        tenant_id: tenant.clone(),
        message_key: p.key.clone(),
        ticket_id: p.ticket_id.clone(),
        channel,
        recipient,
        kind: kind.to_owned(),
        idempotency_key: key,
        subject: String::new(),
        body_text: String::new(),
        body_html: None,
        thread_id: None,
    };
    // Webhooks subscribed to the event.
    if let Some(event) = render::event_name(p.kind, &p.payload) {
        let body = render::webhook_body(
            event,
            p.created_at,
            p.ticket_id.as_ref().map(TicketId::as_str),
            &p.payload,
        );
        for w in lookups.webhooks.get(tenant.as_str()).into_iter().flatten() {
            if w.events.iter().any(|e| e == event) {
                let id = new_id();
                let mut d = new(Channel::Webhook, w.id.clone(), event, format!("msg_{id}"));
                d.id = id;
                d.subject = event.to_owned();
                d.body_text = body.clone();
                out.push(d);
            }
        }
    }
    if !render::is_emailed(p.kind) {
        return Ok(out);
    }
    // Emails: each staff member named, unless they turned the kind off; the customer,
    // unless the organisation did.
    let mut to: Vec<(String, String, bool)> = Vec::new();
    for id in &p.recipient_user_ids {
        if lookups.opted_out(tenant, id.as_str(), p.kind) {
            continue;
        }
        if let Some(r) = lookups.person(tenant, id.as_str()) {
            to.push((r.email.clone(), r.name.clone(), true));
        }
    }
    let mut ticket = None;
    if let Some(t) = &p.ticket_id {
        let needs_ticket = p.kind == NotificationKind::EscalationRequested
            || p.audience == "customer"
            || p.payload.get("subject").is_none();
        if needs_ticket && (!to.is_empty() || p.recipient_email.is_some()) {
            ticket = tickets::get(conn, tenant, t).await?;
        }
    }
    if let Some(email) = &p.recipient_email {
        if p.audience == "customer" && !lookups.opted_out(tenant, CUSTOMERS, p.kind) {
            let name = match &ticket {
                Some(t) => directory::customer(conn, tenant, &t.customer_id)
                    .await?
                    .map(|c| c.name),
                None => None,
            };
            to.push((email.clone(), name.unwrap_or_else(|| "there".into()), false));
        }
    }
    if to.is_empty() {
        return Ok(out);
    }
    let base = mail(notifier, lookups, p, ticket.as_ref());
    for (email, name, staff) in to {
        let mut m = base.clone();
        m.to_name = name;
        m.staff = staff;
        let rendered = m.render().map_err(|e| Plan::Render(e.to_string()))?;
        let id = new_id();
        let mut d = new(
            Channel::Email,
            email,
            p.kind.as_str(),
            format!("<{id}@{}>", notifier.domain),
        );
        d.id = id;
        d.subject = rendered.subject;
        d.body_text = rendered.text;
        d.body_html = Some(rendered.html);
        if !staff {
            d.thread_id = p
                .ticket_id
                .as_ref()
                .map(|t| format!("<ticket-{t}@{}>", notifier.domain));
        }
        out.push(d);
    }
    Ok(out)
}

/// What the emails of a notification say, but for whom they are to.
fn mail(
    notifier: &Notifier,
    lookups: &Lookups,
    p: &Pending,
    ticket: Option<&tickets::Ticket>,
) -> Mail {
    use render::{field, time_field, words};
    let pl = &p.payload;
    let tenant = &p.tenant_id;
    let ticket_id = p
        .ticket_id
        .as_ref()
        .map(|t| t.0.clone())
        .or_else(|| field(pl, "ticket_id"))
        .unwrap_or_default();
    let subject_line = field(pl, "subject")
        .or_else(|| ticket.map(|t| t.subject.clone()))
        .unwrap_or_else(|| "your ticket".into());
    let customer = pl.get("customer").filter(|c| c.is_object()).map(|c| {
        let mut s = field(c, "name").unwrap_or_else(|| "unnamed".into());
        let ways: Vec<String> = ["email", "phone"]
            .iter()
            .filter_map(|k| field(c, k))
            .collect();
        if !ways.is_empty() {
            s = format!("{s} ({})", ways.join(", "));
        }
        if let Some(tier) = field(c, "tier").filter(|t| t != "standard") {
            s = format!("{s}, {} customer", words(&tier));
        }
        s
    });
    let mut deadlines = Vec::new();
    for (key, label) in [
        ("ack_due_at", "acknowledge by"),
        ("update_due_at", "first update to the customer by"),
        ("resolve_due_at", "resolve by"),
    ] {
        if let Some(t) = time_field(pl, key) {
            deadlines.push(format!("{label} {t}"));
        }
    }
    let name_of = |id: &str| lookups.name(tenant, id);
    Mail {
        kind: p.kind.as_str(),
        staff: true,
        org: lookups
            .org_names
            .get(tenant.as_str())
            .cloned()
            .unwrap_or_default(),
        to_name: String::new(),
        reference: render::reference(&ticket_id),
        link: notifier.ticket_link(&ticket_id),
        subject_line,
        requested_by: field(pl, "requested_by")
            .map(|id| name_of(&id).unwrap_or_else(|| "a colleague".into())),
        urgency: field(pl, "urgency").map(|u| words(&u)),
        customer,
        contact_method: field(pl, "contact_method").map(|m| words(&m)),
        category: field(pl, "category").map(|c| words(&c)),
        priority: field(pl, "priority").map(|c| words(&c)),
        note: field(pl, "note"),
        tried: field(pl, "tried"),
        triggers: ticket
            .map(|t| render::triggers(&t.triggers))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| {
                pl.get("triggers")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(words).collect())
                    .unwrap_or_default()
            }),
        deadlines,
        owner: field(pl, "escalation_owner"),
        actor: field(pl, "requested_by_name")
            .or_else(|| field(pl, "by"))
            .or_else(|| field(pl, "author")),
        summary: field(pl, "summary"),
        reason: field(pl, "reason"),
        target: pl.get("target").and_then(|t| render::target(t, name_of)),
        amount: match (field(pl, "amount"), field(pl, "currency")) {
            (Some(a), Some(c)) => Some(format!("{a} {c} (minor units)")),
            (Some(a), None) => Some(a),
            _ => None,
        },
        clock: field(pl, "clock").map(|c| words(&c)),
        due: time_field(pl, "due_at"),
        next_update: time_field(pl, "next_update_by"),
        body: field(pl, "body"),
    }
}
