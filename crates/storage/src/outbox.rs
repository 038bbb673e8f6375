//! The outbox: notifications written in the same transaction as the change they announce,
//! delivered later, at least once, by a worker.

use jiff::Timestamp;
use ladder_core::{EventId, NotificationKind, TenantId, TicketId, UserId};
use sqlx::AnyConnection;

use crate::row::{in_table, micros, new_id, RowExt};
use crate::sql::{rows_per_statement, Mark, Sql};
use crate::{Db, Result, StorageError};

/// Who a notification is for. SLA reminders and breaches are only ever for staff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Staff,
    Customer,
}

impl Audience {
    fn as_str(self) -> &'static str {
        match self {
            Audience::Staff => "staff",
            Audience::Customer => "customer",
        }
    }
}

/// One notification, stored once with everyone it goes to.
pub struct NewMessage<'a> {
    pub tenant_id: &'a TenantId,
    pub ticket_id: Option<&'a TicketId>,
    /// The staff members it goes to; none for a message to a customer.
    pub recipient_user_ids: &'a [UserId],
    pub recipient_email: Option<&'a str>,
    pub audience: Audience,
    pub kind: NotificationKind,
    /// The message's content as JSON text.
    pub payload: &'a str,
    /// The audit event that caused it. With the kind and the audience it makes the
    /// message's key, so that a retried command cannot notify twice; the key begins with the
    /// event's id, which is how a ticket's notifications are found (`for_ticket`).
    pub event_id: &'a EventId,
}

impl NewMessage<'_> {
    fn idempotency_key(&self) -> String {
        match self.audience {
            Audience::Staff => format!("{}:{}", self.event_id, self.kind),
            Audience::Customer => format!("{}:{}:customer", self.event_id, self.kind),
        }
    }

    fn recipients_json(&self) -> String {
        // Ids are plain strings; serialising a slice of them cannot fail.
        serde_json::to_string(self.recipient_user_ids).unwrap_or_else(|_| "[]".to_owned())
    }
}

/// Queues a notification; a second message with the same idempotency key is ignored.
pub async fn enqueue(conn: &mut AnyConnection, m: NewMessage<'_>, now: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO outbox (id, tenant_id, ticket_id, recipient_user_ids, recipient_email, audience, \
         kind, payload, idempotency_key, created_at, attempts, next_attempt_at, delivered_at, last_error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $10, NULL, NULL) \
         ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(new_id())
    .bind(m.tenant_id.as_str())
    .bind(m.ticket_id.map(TicketId::as_str))
    .bind(m.recipients_json())
    .bind(m.recipient_email)
    .bind(m.audience.as_str())
    .bind(m.kind.as_str())
    .bind(m.payload)
    .bind(m.idempotency_key())
    .bind(micros(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Queues many notifications with multi-row statements. Their idempotency keys must be new
/// and distinct (each names an audit event of the same transaction): the unique index still
/// refuses a duplicate, but as an error, because checking each row for a conflict first
/// costs PostgreSQL a speculative insertion per row.
pub async fn enqueue_many(
    conn: &mut AnyConnection,
    messages: &[NewMessage<'_>],
    now: Timestamp,
) -> Result<()> {
    for chunk in messages.chunks(rows_per_statement(10)) {
        let mut sql = Sql::new(
            "INSERT INTO outbox (id, tenant_id, ticket_id, recipient_user_ids, recipient_email, audience, \
             kind, payload, idempotency_key, created_at, attempts, next_attempt_at, delivered_at, last_error) \
             VALUES ",
        );
        for (i, m) in chunk.iter().enumerate() {
            sql.row(i == 0, |q| {
                vec![
                    q.arg(new_id()),
                    q.arg(m.tenant_id.0.clone()),
                    q.arg(m.ticket_id.map(|t| t.0.clone())),
                    q.arg(m.recipients_json()),
                    q.arg(m.recipient_email.map(str::to_owned)),
                    q.arg(m.audience.as_str()),
                    q.arg(m.kind.as_str()),
                    q.arg(m.payload.to_owned()),
                    q.arg(m.idempotency_key()),
                    q.arg(micros(now)),
                    Mark::Lit("0"),
                    q.arg(micros(now)),
                    Mark::Lit("NULL"),
                    Mark::Lit("NULL"),
                ]
            });
        }
        sql.execute(&mut *conn).await?;
    }
    Ok(())
}

#[derive(Clone, Debug)]
pub struct Message {
    pub id: String,
    pub ticket_id: Option<TicketId>,
    /// The staff members it goes to (empty for a message to a customer).
    pub recipient_user_ids: Vec<UserId>,
    pub recipient_email: Option<String>,
    pub audience: String,
    pub kind: NotificationKind,
    pub payload: serde_json::Value,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// The notifications about one ticket, oldest first.
///
/// The outbox has no index by ticket (it is written far more often than read this way): a
/// message's key begins with the id of the audit event that caused it and a colon, so the
/// ticket's events, found by their own index, give each a range of the outbox's key.
pub async fn for_ticket(
    db: &Db,
    tenant_id: &TenantId,
    ticket_id: &TicketId,
) -> Result<Vec<Message>> {
    let rows = sqlx::query(
        "SELECT o.id, o.ticket_id, o.recipient_user_ids, o.recipient_email, o.audience, o.kind, \
         o.payload, o.created_at, o.delivered_at, o.attempts, o.last_error \
         FROM audit_events e JOIN outbox o \
           ON o.idempotency_key > e.id || ':' AND o.idempotency_key < e.id || ';' \
         WHERE e.ticket_id = $2 AND e.tenant_id = $1 AND o.tenant_id = $1 AND o.ticket_id = $2 \
         ORDER BY o.created_at, o.id",
    )
    .bind(tenant_id.as_str())
    .bind(ticket_id.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            in_table("outbox", r, |r| {
                let id = r.text("id")?;
                let kind = r.text("kind")?;
                let kind = kind.parse().map_err(|_| StorageError::Corrupt {
                    table: "outbox",
                    detail: format!("message {id} has an unknown kind {kind:?}"),
                })?;
                Ok(Message {
                    id,
                    ticket_id: r.opt_text("ticket_id")?.map(TicketId),
                    recipient_user_ids: r.json("recipient_user_ids")?,
                    recipient_email: r.opt_text("recipient_email")?,
                    audience: r.text("audience")?,
                    kind,
                    payload: r.json("payload")?,
                    created_at: r.time("created_at")?,
                    delivered_at: r.opt_time("delivered_at")?,
                    attempts: r.int("attempts")?,
                    last_error: r.opt_text("last_error")?,
                })
            })
        })
        .collect()
}
