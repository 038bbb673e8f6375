//! Deliveries: the outbox's notifications fanned out into one email or webhook call per
//! recipient, each with the idempotency key its receiver sees, sent at least once by the
//! delivery worker and retried with backoff. Also the organisations' webhooks and the kinds
//! of email people turned off.
//!
//! Claims follow the timer engine's pattern: one short transaction claims a batch (on
//! PostgreSQL with `FOR UPDATE SKIP LOCKED`, so servers take disjoint batches; on SQLite
//! under its one writer), the sending happens outside it, and another records the outcome.
//! A claimed delivery is leased: its next attempt is pushed to the end of the lease, so a
//! server that dies mid-send leaves it to be claimed again when the lease runs out.

use jiff::Timestamp;
use ladder_core::{NotificationKind, TenantId, TicketId, UserId};
use sqlx::AnyConnection;

use crate::row::{in_table, micros, RowExt};
use crate::sql::{in_list, rows_per_statement, Mark, Sql};
use crate::{Backend, Db, Result, StorageError};

/// How a delivery leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    Webhook,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }

    fn parse(s: &str) -> Option<Channel> {
        match s {
            "email" => Some(Channel::Email),
            "webhook" => Some(Channel::Webhook),
            _ => None,
        }
    }
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Pending,
    Delivered,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Delivered => "delivered",
            State::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        match s {
            "pending" => Some(State::Pending),
            "delivered" => Some(State::Delivered),
            "failed" => Some(State::Failed),
            _ => None,
        }
    }
}

/// An outbox row waiting to be fanned out.
#[derive(Clone, Debug)]
pub struct Pending {
    pub key: String,
    pub tenant_id: TenantId,
    pub ticket_id: Option<TicketId>,
    pub recipient_user_ids: Vec<UserId>,
    pub recipient_email: Option<String>,
    /// `staff` or `customer`.
    pub audience: String,
    pub kind: NotificationKind,
    pub payload: serde_json::Value,
    pub created_at: Timestamp,
    pub attempts: i64,
}

/// An outbox row claimed but not readable (an unknown kind, a payload that is not JSON).
#[derive(Debug)]
pub struct Unreadable {
    pub key: String,
    pub attempts: i64,
    pub error: StorageError,
}

const OUTBOX_COLS: &str = "idempotency_key, tenant_id, ticket_id, recipient_user_ids, \
    recipient_email, audience, kind, payload, created_at, attempts";

/// Claims up to `limit` outbox rows due for fan-out at `now`, oldest first (on PostgreSQL
/// skipping rows another transaction holds). The caller fans them out and marks them with
/// [`fanned_out`] in the same transaction.
pub async fn claim_outbox(
    conn: &mut AnyConnection,
    backend: Backend,
    now: Timestamp,
    limit: i64,
) -> Result<(Vec<Pending>, Vec<Unreadable>)> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let rows = sqlx::query(&format!(
        "SELECT {OUTBOX_COLS} FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= $1 \
         ORDER BY next_attempt_at LIMIT $2{lock}"
    ))
    .bind(micros(now))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for r in &rows {
        let key = r.text("idempotency_key")?;
        let parsed = (|| -> Result<Pending> {
            let kind = r.text("kind")?;
            let kind = kind.parse().map_err(|_| StorageError::Corrupt {
                table: "outbox",
                detail: format!("message {key} has an unknown kind {kind:?}"),
            })?;
            Ok(Pending {
                key: key.clone(),
                tenant_id: TenantId(r.text("tenant_id")?),
                ticket_id: r.opt_text("ticket_id")?.map(TicketId),
                recipient_user_ids: r.json("recipient_user_ids")?,
                recipient_email: r.opt_text("recipient_email")?,
                audience: r.text("audience")?,
                kind,
                payload: r.json("payload")?,
                created_at: r.time("created_at")?,
                attempts: r.int("attempts")?,
            })
        })();
        match parsed {
            Ok(p) => good.push(p),
            Err(error) => {
                let error = crate::row::name_row("outbox", &key)(error);
                bad.push(Unreadable {
                    // Put off by its attempts so far; a count that does not read back
                    // counts as none (the row is reported corrupt either way).
                    attempts: r.int("attempts").unwrap_or(0),
                    key,
                    error,
                });
            }
        }
    }
    Ok((good, bad))
}

/// Marks outbox rows as handed over to their deliveries.
pub async fn fanned_out(conn: &mut AnyConnection, keys: &[String], now: Timestamp) -> Result<()> {
    for chunk in keys.chunks(crate::sql::CHUNK) {
        let mut sql = Sql::new("UPDATE outbox SET delivered_at = ");
        let at = sql.int_arg(micros(now));
        sql.push(&at.to_string())
            .push(", attempts = attempts + 1, last_error = NULL WHERE idempotency_key IN ");
        let list = in_list(&mut sql, chunk.iter().map(String::as_str));
        sql.push(&list);
        sql.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Puts an outbox row that could not be fanned out back for later, counting the attempt.
pub async fn outbox_retry_later(
    conn: &mut AnyConnection,
    key: &str,
    retry_at: Timestamp,
    error: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE outbox SET next_attempt_at = $1, attempts = attempts + 1, last_error = $2 \
         WHERE idempotency_key = $3",
    )
    .bind(micros(retry_at))
    .bind(error)
    .bind(key)
    .execute(conn)
    .await?;
    Ok(())
}

/// The earliest instant an outbox row is due for fan-out, if any waits.
pub async fn next_outbox_due(db: &Db) -> Result<Option<Timestamp>> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT next_attempt_at FROM outbox WHERE delivered_at IS NULL \
         ORDER BY next_attempt_at LIMIT 1",
    )
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|(t,)| crate::from_micros(t)))
}

/// A staff member a notification goes to, as delivery needs them.
#[derive(Clone, Debug)]
pub struct Recipient {
    pub id: UserId,
    pub email: String,
    pub name: String,
}

/// The staff members `ids` of an organisation, and platform-support staff among them
/// (platform escalations reach people outside the organisation).
pub async fn recipients(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    ids: &[UserId],
) -> Result<Vec<Recipient>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT id, email, name FROM users WHERE (tenant_id = ");
    let t = sql.text_arg(tenant.0.clone());
    sql.push(&t.to_string())
        .push(" OR role = 'platform_support') AND id IN ");
    let list = in_list(&mut sql, ids.iter().map(UserId::as_str));
    sql.push(&list);
    sql.fetch_all(conn)
        .await?
        .iter()
        .map(|r| {
            in_table("users", r, |r| {
                Ok(Recipient {
                    id: UserId(r.text("id")?),
                    email: r.text("email")?,
                    name: r.text("name")?,
                })
            })
        })
        .collect()
}

/// A delivery to write.
#[derive(Clone, Debug)]
pub struct NewDelivery {
    pub id: String,
    pub tenant_id: TenantId,
    pub message_key: String,
    pub ticket_id: Option<TicketId>,
    pub channel: Channel,
    pub recipient: String,
    pub kind: String,
    pub idempotency_key: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub thread_id: Option<String>,
}

const DELIVERY_COLS: &str = "id, tenant_id, message_key, ticket_id, channel, recipient, kind, \
    idempotency_key, subject, body_text, body_html, thread_id, state, attempts, \
    next_attempt_at, last_error, created_at, delivered_at";

/// Writes deliveries, due at `now`; one already written for the same message, channel and
/// recipient (a fan-out done twice) is left as it is.
pub async fn insert_many(
    conn: &mut AnyConnection,
    deliveries: &[NewDelivery],
    now: Timestamp,
) -> Result<()> {
    for chunk in deliveries.chunks(rows_per_statement(18)) {
        let mut sql = Sql::new(&format!("INSERT INTO deliveries ({DELIVERY_COLS}) VALUES "));
        for (i, d) in chunk.iter().enumerate() {
            sql.row(i == 0, |q| {
                vec![
                    q.arg(d.id.clone()),
                    q.arg(d.tenant_id.0.clone()),
                    q.arg(d.message_key.clone()),
                    q.arg(d.ticket_id.as_ref().map(|t| t.0.clone())),
                    q.arg(d.channel.as_str()),
                    q.arg(d.recipient.clone()),
                    q.arg(d.kind.clone()),
                    q.arg(d.idempotency_key.clone()),
                    q.arg(d.subject.clone()),
                    q.arg(d.body_text.clone()),
                    q.arg(d.body_html.clone()),
                    q.arg(d.thread_id.clone()),
                    Mark::Lit("'pending'"),
                    Mark::Lit("0"),
                    q.arg(micros(now)),
                    Mark::Lit("NULL"),
                    q.arg(micros(now)),
                    Mark::Lit("NULL"),
                ]
            });
        }
        sql.push(" ON CONFLICT (message_key, channel, recipient) DO NOTHING");
        sql.execute(&mut *conn).await?;
    }
    Ok(())
}

/// One delivery as stored.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub id: String,
    pub tenant_id: TenantId,
    pub message_key: String,
    pub ticket_id: Option<TicketId>,
    pub channel: Channel,
    pub recipient: String,
    pub kind: String,
    pub idempotency_key: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub thread_id: Option<String>,
    pub state: State,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

fn delivery_from_row(r: &sqlx::any::AnyRow) -> Result<Delivery> {
    in_table("deliveries", r, |r| {
        let channel = r.text("channel")?;
        let state = r.text("state")?;
        let unknown = |col: &str, v: &str| StorageError::Corrupt {
            table: "?",
            detail: format!("column {col} holds unknown value {v:?}"),
        };
        Ok(Delivery {
            id: r.text("id")?,
            tenant_id: TenantId(r.text("tenant_id")?),
            message_key: r.text("message_key")?,
            ticket_id: r.opt_text("ticket_id")?.map(TicketId),
            channel: Channel::parse(&channel).ok_or_else(|| unknown("channel", &channel))?,
            recipient: r.text("recipient")?,
            kind: r.text("kind")?,
            idempotency_key: r.text("idempotency_key")?,
            subject: r.text("subject")?,
            body_text: r.text("body_text")?,
            body_html: r.opt_text("body_html")?,
            thread_id: r.opt_text("thread_id")?,
            state: State::parse(&state).ok_or_else(|| unknown("state", &state))?,
            attempts: r.int("attempts")?,
            next_attempt_at: r.time("next_attempt_at")?,
            last_error: r.opt_text("last_error")?,
            created_at: r.time("created_at")?,
            delivered_at: r.opt_time("delivered_at")?,
        })
    })
}

/// Claims up to `limit` pending deliveries of `channels` due at `now`, oldest first: each
/// counts an attempt and is leased until `lease_until` (its next attempt if the outcome is
/// never recorded). On PostgreSQL rows another transaction holds are skipped.
pub async fn claim(
    conn: &mut AnyConnection,
    backend: Backend,
    channels: &[Channel],
    now: Timestamp,
    lease_until: Timestamp,
    limit: i64,
) -> Result<Vec<Delivery>> {
    if channels.is_empty() {
        return Ok(Vec::new());
    }
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let mut sql = Sql::new("UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ");
    let lease = sql.int_arg(micros(lease_until));
    sql.push(&lease.to_string())
        .push(" WHERE id IN (SELECT id FROM deliveries WHERE state = 'pending' AND channel IN ");
    let list = in_list(&mut sql, channels.iter().map(|c| c.as_str()));
    sql.push(&list).push(" AND next_attempt_at <= ");
    let at = sql.int_arg(micros(now));
    sql.push(&at.to_string())
        .push(" ORDER BY next_attempt_at LIMIT ");
    let n = sql.int_arg(limit);
    sql.push(&n.to_string())
        .push(lock)
        .push(&format!(") RETURNING {DELIVERY_COLS}"));
    let mut out = sql
        .fetch_all(conn)
        .await?
        .iter()
        .map(delivery_from_row)
        .collect::<Result<Vec<_>>>()?;
    out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// Records deliveries that went out.
pub async fn mark_delivered(
    conn: &mut AnyConnection,
    ids: &[String],
    now: Timestamp,
) -> Result<()> {
    for chunk in ids.chunks(crate::sql::CHUNK) {
        let mut sql = Sql::new(
            "UPDATE deliveries SET state = 'delivered', last_error = NULL, delivered_at = ",
        );
        let at = sql.int_arg(micros(now));
        sql.push(&at.to_string()).push(" WHERE id IN ");
        let list = in_list(&mut sql, chunk.iter().map(String::as_str));
        sql.push(&list);
        sql.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records a failed attempt: tried again at `retry_at`, or `failed` for good when `None`.
pub async fn mark_attempt_failed(
    conn: &mut AnyConnection,
    id: &str,
    error: &str,
    retry_at: Option<Timestamp>,
) -> Result<()> {
    match retry_at {
        Some(at) => {
            sqlx::query("UPDATE deliveries SET last_error = $1, next_attempt_at = $2 WHERE id = $3 AND state = 'pending'")
                .bind(error)
                .bind(micros(at))
                .bind(id)
                .execute(conn)
                .await?
        }
        None => {
            sqlx::query("UPDATE deliveries SET last_error = $1, state = 'failed' WHERE id = $2 AND state = 'pending'")
                .bind(error)
                .bind(id)
                .execute(conn)
                .await?
        }
    };
    Ok(())
}

/// The earliest instant a pending delivery of `channels` is due, if any.
pub async fn next_due(db: &Db, channels: &[Channel]) -> Result<Option<Timestamp>> {
    if channels.is_empty() {
        return Ok(None);
    }
    let mut sql = Sql::new(
        "SELECT MIN(next_attempt_at) AS due FROM deliveries WHERE state = 'pending' AND channel IN ",
    );
    let list = in_list(&mut sql, channels.iter().map(|c| c.as_str()));
    sql.push(&list);
    let mut conn = db.conn().await?;
    let rows = sql.fetch_all(&mut conn).await?;
    match rows.first() {
        Some(r) => Ok(r.opt_time("due")?),
        None => Ok(None),
    }
}

/// An organisation's deliveries, newest first, in `state` if given; `before` (a delivery id)
/// continues a page.
pub async fn list(
    db: &Db,
    tenant: &TenantId,
    state: Option<State>,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Delivery>> {
    let mut sql = Sql::new(&format!(
        "SELECT {DELIVERY_COLS} FROM deliveries WHERE tenant_id = "
    ));
    let t = sql.text_arg(tenant.0.clone());
    sql.push(&t.to_string());
    if let Some(s) = state {
        let s = sql.text_arg(s.as_str().to_owned());
        sql.push(" AND state = ").push(&s.to_string());
    }
    if let Some(b) = before {
        let b = sql.text_arg(b.to_owned());
        sql.push(" AND id < ").push(&b.to_string());
    }
    let n = sql.int_arg(limit);
    sql.push(" ORDER BY id DESC LIMIT ").push(&n.to_string());
    let mut conn = db.conn().await?;
    sql.fetch_all(&mut conn)
        .await?
        .iter()
        .map(delivery_from_row)
        .collect()
}

/// Puts a failed (or pending) delivery of the organisation back in line, due at `now`, with
/// a fresh day of retries. `None` if there is no such delivery or it was delivered.
pub async fn retry(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    id: &str,
    now: Timestamp,
) -> Result<Option<Delivery>> {
    let row = sqlx::query(&format!(
        "UPDATE deliveries SET state = 'pending', next_attempt_at = $1, created_at = $1 \
         WHERE tenant_id = $2 AND id = $3 AND state <> 'delivered' RETURNING {DELIVERY_COLS}"
    ))
    .bind(micros(now))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(delivery_from_row).transpose()
}

/// One delivery of the organisation.
pub async fn get(db: &Db, tenant: &TenantId, id: &str) -> Result<Option<Delivery>> {
    let row = sqlx::query(&format!(
        "SELECT {DELIVERY_COLS} FROM deliveries WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(delivery_from_row).transpose()
}

/// How many deliveries there are, by channel and state, for `/metrics`.
pub async fn counts(db: &Db) -> Result<Vec<(String, String, i64)>> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT channel, state, COUNT(*) FROM deliveries GROUP BY channel, state ORDER BY channel, state",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows)
}

/// An organisation's webhook endpoint.
#[derive(Clone, Debug)]
pub struct Webhook {
    pub id: String,
    pub tenant_id: TenantId,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
    pub created_at: Timestamp,
}

fn webhook_from_row(r: &sqlx::any::AnyRow) -> Result<Webhook> {
    in_table("webhooks", r, |r| {
        Ok(Webhook {
            id: r.text("id")?,
            tenant_id: TenantId(r.text("tenant_id")?),
            url: r.text("url")?,
            events: r.json("events")?,
            secret: r.text("secret")?,
            created_at: r.time("created_at")?,
        })
    })
}

const WEBHOOK_COLS: &str = "id, tenant_id, url, events, secret, created_at";

pub async fn insert_webhook(
    conn: &mut AnyConnection,
    w: &Webhook,
    created_by: Option<&UserId>,
) -> Result<()> {
    let events =
        serde_json::to_string(&w.events).map_err(|e| StorageError::Config(e.to_string()))?;
    sqlx::query(
        "INSERT INTO webhooks (id, tenant_id, url, events, secret, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&w.id)
    .bind(w.tenant_id.as_str())
    .bind(&w.url)
    .bind(events)
    .bind(&w.secret)
    .bind(created_by.map(UserId::as_str))
    .bind(micros(w.created_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// An organisation's webhooks, oldest first.
pub async fn webhooks(conn: &mut AnyConnection, tenant: &TenantId) -> Result<Vec<Webhook>> {
    sqlx::query(&format!(
        "SELECT {WEBHOOK_COLS} FROM webhooks WHERE tenant_id = $1 ORDER BY created_at, id"
    ))
    .bind(tenant.as_str())
    .fetch_all(conn)
    .await?
    .iter()
    .map(webhook_from_row)
    .collect()
}

/// One webhook of the organisation.
pub async fn webhook(db: &Db, tenant: &TenantId, id: &str) -> Result<Option<Webhook>> {
    let row = sqlx::query(&format!(
        "SELECT {WEBHOOK_COLS} FROM webhooks WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(webhook_from_row).transpose()
}

/// Deletes a webhook of the organisation; whether there was one.
pub async fn delete_webhook(conn: &mut AnyConnection, tenant: &TenantId, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Who turns emails off for customers: the organisation.
pub const CUSTOMERS: &str = "customers";

/// The kinds of email each of `subjects` (user ids, or [`CUSTOMERS`]) turned off in the
/// organisation, as `(subject, kind)`.
pub async fn opt_outs(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    subjects: &[&str],
) -> Result<Vec<(String, String)>> {
    if subjects.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT subject, kind FROM email_opt_outs WHERE tenant_id = ");
    let t = sql.text_arg(tenant.0.clone());
    sql.push(&t.to_string()).push(" AND subject IN ");
    let list = in_list(&mut sql, subjects.iter().copied());
    sql.push(&list).push(" ORDER BY subject, kind");
    sql.fetch_all(conn)
        .await?
        .iter()
        .map(|r| Ok((r.text("subject")?, r.text("kind")?)))
        .collect()
}

/// Replaces what `subject` turned off.
pub async fn set_opt_outs(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    subject: &str,
    kinds: &[&str],
) -> Result<()> {
    sqlx::query("DELETE FROM email_opt_outs WHERE tenant_id = $1 AND subject = $2")
        .bind(tenant.as_str())
        .bind(subject)
        .execute(&mut *conn)
        .await?;
    for kind in kinds {
        sqlx::query("INSERT INTO email_opt_outs (tenant_id, subject, kind) VALUES ($1, $2, $3)")
            .bind(tenant.as_str())
            .bind(subject)
            .bind(*kind)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Staff members named by notifications of the given organisations, with their
/// organisation: `(tenant_id, recipient)`. Platform-support staff are found whatever their
/// organisation; the caller keeps, for each notification, its organisation's people and them.
pub async fn people_named(
    conn: &mut AnyConnection,
    tenants: &[&str],
    ids: &[&str],
) -> Result<Vec<(String, Recipient)>> {
    let mut out = Vec::new();
    if ids.is_empty() || tenants.is_empty() {
        return Ok(out);
    }
    for chunk in ids.chunks(crate::sql::CHUNK) {
        let mut sql = Sql::new(
            "SELECT id, tenant_id, email, name, role FROM users WHERE (role = 'platform_support' OR tenant_id IN ",
        );
        let list = in_list(&mut sql, tenants.iter().copied());
        sql.push(&list).push(") AND id IN ");
        let list = in_list(&mut sql, chunk.iter().copied());
        sql.push(&list);
        for r in sql.fetch_all(&mut *conn).await? {
            let role = r.text("role")?;
            let tenant = if role == "platform_support" {
                PLATFORM_STAFF.to_owned()
            } else {
                r.text("tenant_id")?
            };
            out.push((
                tenant,
                Recipient {
                    id: UserId(r.text("id")?),
                    email: r.text("email")?,
                    name: r.text("name")?,
                },
            ));
        }
    }
    Ok(out)
}

/// What [`people_named`] gives as the organisation of platform-support staff.
pub const PLATFORM_STAFF: &str = "*platform*";

/// The names of organisations, by id.
pub async fn tenant_names(
    conn: &mut AnyConnection,
    tenants: &[&str],
) -> Result<std::collections::HashMap<String, String>> {
    let mut out = std::collections::HashMap::new();
    if tenants.is_empty() {
        return Ok(out);
    }
    let mut sql = Sql::new("SELECT id, name FROM tenants WHERE id IN ");
    let list = in_list(&mut sql, tenants.iter().copied());
    sql.push(&list);
    for r in sql.fetch_all(conn).await? {
        out.insert(r.text("id")?, r.text("name")?);
    }
    Ok(out)
}

/// The webhooks of the given organisations.
pub async fn webhooks_of(conn: &mut AnyConnection, tenants: &[&str]) -> Result<Vec<Webhook>> {
    if tenants.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(&format!(
        "SELECT {WEBHOOK_COLS} FROM webhooks WHERE tenant_id IN "
    ));
    let list = in_list(&mut sql, tenants.iter().copied());
    sql.push(&list).push(" ORDER BY created_at, id");
    sql.fetch_all(conn)
        .await?
        .iter()
        .map(webhook_from_row)
        .collect()
}

/// The kinds of email turned off in the given organisations: `(tenant_id, subject, kind)`.
pub async fn opt_outs_of(
    conn: &mut AnyConnection,
    tenants: &[&str],
) -> Result<Vec<(String, String, String)>> {
    if tenants.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql =
        Sql::new("SELECT tenant_id, subject, kind FROM email_opt_outs WHERE tenant_id IN ");
    let list = in_list(&mut sql, tenants.iter().copied());
    sql.push(&list);
    sql.fetch_all(conn)
        .await?
        .iter()
        .map(|r| Ok((r.text("tenant_id")?, r.text("subject")?, r.text("kind")?)))
        .collect()
}
