//! Durable timers: SLA deadlines, reminders and rung timeouts waiting to fire.
//!
//! A ticket has at most one timer: the next moment something is due on it, with what
//! (`kind`). Its id is the ticket's, so that rescheduling is an upsert and cancelling a
//! delete by key. Writers change a ticket's timer only while holding the ticket's row lock,
//! and workers fire a timer by deleting it in the same transaction as its effects: the
//! delete succeeds once, so the timer fires once.

use jiff::Timestamp;
use ladder_core::sla::TimerKind;
use ladder_core::{EscalationId, TenantId, TicketId};
use sqlx::AnyConnection;

use crate::row::{from_micros, micros, RowExt};
use crate::sql::{in_list, rows_per_statement, Mark, Sql, CHUNK};
use crate::{Backend, Db, Result, StorageError};

/// A timer read back for firing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timer {
    /// The ticket's id: a ticket has at most one timer.
    pub id: TicketId,
    pub tenant_id: TenantId,
    pub ticket_id: TicketId,
    pub escalation_id: Option<EscalationId>,
    pub kind: TimerKind,
    pub due_at: Timestamp,
    pub attempts: i64,
}

/// Sets (or moves) the ticket's timer to `due_at`, for `kind`.
pub async fn set(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    ticket_id: &TicketId,
    escalation_id: Option<&EscalationId>,
    kind: TimerKind,
    due_at: Timestamp,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO timers (id, tenant_id, ticket_id, escalation_id, kind, due_at, attempts, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7) \
         ON CONFLICT (id) DO UPDATE SET escalation_id = excluded.escalation_id, \
         kind = excluded.kind, due_at = excluded.due_at, attempts = 0, created_at = excluded.created_at",
    )
    .bind(ticket_id.as_str())
    .bind(tenant_id.as_str())
    .bind(ticket_id.as_str())
    .bind(escalation_id.map(EscalationId::as_str))
    .bind(kind.as_str())
    .bind(micros(due_at))
    .bind(micros(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// A timer to set on a ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTimer {
    pub tenant_id: TenantId,
    pub ticket_id: TicketId,
    /// The escalation whose clocks it serves (none for a first-response timer).
    pub escalation_id: Option<EscalationId>,
    pub kind: TimerKind,
    pub due_at: Timestamp,
}

/// Sets the timers of the given tickets to `timers` (at most one per ticket; a ticket left
/// out is left without a timer), for tickets the caller holds locked. A timer that stays is
/// updated in place: cheaper than deleting and inserting its row, and it keeps a claimed
/// timer's row lock until the transaction ends.
pub async fn replace_many(
    conn: &mut AnyConnection,
    tickets: &[TicketId],
    timers: &[NewTimer],
    now: Timestamp,
) -> Result<()> {
    let kept: std::collections::HashSet<&TicketId> = timers.iter().map(|t| &t.ticket_id).collect();
    let cleared: Vec<TicketId> = tickets
        .iter()
        .filter(|t| !kept.contains(t))
        .cloned()
        .collect();
    take_many(&mut *conn, &cleared).await?;
    for chunk in timers.chunks(rows_per_statement(7)) {
        let mut sql = Sql::new(
            "INSERT INTO timers (id, tenant_id, ticket_id, escalation_id, kind, due_at, attempts, created_at) VALUES ",
        );
        for (i, t) in chunk.iter().enumerate() {
            sql.row(i == 0, |q| {
                vec![
                    q.arg(t.ticket_id.0.clone()),
                    q.arg(t.tenant_id.0.clone()),
                    q.arg(t.ticket_id.0.clone()),
                    q.arg(t.escalation_id.as_ref().map(|e| e.0.clone())),
                    q.arg(t.kind.as_str()),
                    q.arg(micros(t.due_at)),
                    Mark::Lit("0"),
                    q.arg(micros(now)),
                ]
            });
        }
        sql.push(
            " ON CONFLICT (id) DO UPDATE SET escalation_id = excluded.escalation_id, \
             kind = excluded.kind, due_at = excluded.due_at, attempts = 0, \
             created_at = excluded.created_at",
        );
        sql.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Deletes claimed timers as they fire, all at once.
/// (A timer's id is its ticket's.)
pub async fn take_many(conn: &mut AnyConnection, ids: &[TicketId]) -> Result<()> {
    for chunk in ids.chunks(CHUNK) {
        let mut sql = Sql::new("DELETE FROM timers WHERE id IN ");
        let list = in_list(&mut sql, chunk.iter().map(TicketId::as_str));
        sql.push(&list);
        sql.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Removes the ticket's timer if it is of `kind`.
pub async fn cancel(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    ticket_id: &TicketId,
    kind: TimerKind,
) -> Result<()> {
    sqlx::query("DELETE FROM timers WHERE id = $1 AND tenant_id = $2 AND kind = $3")
        .bind(ticket_id.as_str())
        .bind(tenant_id.as_str())
        .bind(kind.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes the ticket's timer, whatever it is for.
pub async fn clear(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    ticket_id: &TicketId,
) -> Result<()> {
    sqlx::query("DELETE FROM timers WHERE id = $1 AND tenant_id = $2")
        .bind(ticket_id.as_str())
        .bind(tenant_id.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

fn timer_from_row(r: &sqlx::any::AnyRow) -> Result<Timer> {
    let id = TicketId(r.text("id")?);
    let kind = r.text("kind")?;
    let kind = TimerKind::parse(&kind).ok_or_else(|| StorageError::Corrupt {
        table: "timers",
        detail: format!("timer {id} has an unknown kind {kind:?}"),
    })?;
    Ok(Timer {
        id,
        tenant_id: TenantId(r.text("tenant_id")?),
        ticket_id: TicketId(r.text("ticket_id")?),
        escalation_id: r.opt_text("escalation_id")?.map(EscalationId),
        kind,
        due_at: r.time("due_at")?,
        attempts: r.int("attempts")?,
    })
}

/// The due timers a claim took: those that read back, and those that do not (an unknown
/// kind, say), which the caller sets aside so that one corrupt row never holds up the rest.
#[derive(Debug, Default)]
pub struct Claim {
    pub timers: Vec<Timer>,
    pub unreadable: Vec<Unreadable>,
}

/// A claimed timer row that does not read back: where it is, and why.
#[derive(Debug)]
pub struct Unreadable {
    pub id: TicketId,
    pub due_at: Timestamp,
    pub attempts: i64,
    pub error: StorageError,
}

impl Claim {
    fn of(rows: &[sqlx::any::AnyRow]) -> Result<Claim> {
        let mut claim = Claim::default();
        for r in rows {
            match timer_from_row(r) {
                Ok(t) => claim.timers.push(t),
                // Only a row whose place in the index cannot even be read fails the claim.
                Err(error) => claim.unreadable.push(Unreadable {
                    id: TicketId(r.text("id")?),
                    due_at: r.time("due_at")?,
                    attempts: r.int("attempts")?,
                    error,
                }),
            }
        }
        Ok(claim)
    }
}

/// Claims up to `limit` timers due at `now`, oldest first, for the caller's transaction.
///
/// On PostgreSQL the timer rows and their tickets are locked with `SKIP LOCKED`: servers
/// sharing the table take disjoint batches, a ticket someone is editing is left for the next
/// round instead of waited for (so a worker never holds a timer while queueing behind a
/// request that holds the ticket), and the locks of a server that dies vanish with its
/// connection. On SQLite the caller holds the only write lock.
///
/// The timers are locked first and their tickets after, in two steps: locked in one step
/// over the join, every timer another worker held was joined to its ticket before being
/// skipped, and a claim behind two batches in flight read 2.5 times the pages it reads now.
/// A timer whose ticket is held stays locked, unclaimed, until the transaction ends, which
/// only keeps other workers off it for that long.
pub async fn claim_due(
    conn: &mut AnyConnection,
    backend: Backend,
    now: Timestamp,
    limit: i64,
) -> Result<Claim> {
    let sql = match backend {
        Backend::Postgres => {
            "WITH t AS MATERIALIZED (\
               SELECT id, tenant_id, ticket_id, escalation_id, kind, due_at, attempts FROM timers \
               WHERE due_at <= $1 ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
             SELECT t.id, t.tenant_id, t.ticket_id, t.escalation_id, t.kind, t.due_at, t.attempts \
             FROM t JOIN tickets k ON k.id = t.ticket_id \
             ORDER BY t.due_at, t.id FOR UPDATE OF k SKIP LOCKED"
        }
        Backend::Sqlite => {
            "SELECT id, tenant_id, ticket_id, escalation_id, kind, due_at, attempts FROM timers \
             WHERE due_at <= $1 ORDER BY due_at, id LIMIT $2"
        }
    };
    let rows = sqlx::query(sql)
        .bind(micros(now))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    Claim::of(&rows)
}

/// Claims one timer again, as it was read (same due time), or `None` if it was fired,
/// moved or is held by another transaction meanwhile.
pub async fn claim_one(
    conn: &mut AnyConnection,
    backend: Backend,
    t: &Timer,
) -> Result<Option<Timer>> {
    let sql = match backend {
        Backend::Postgres => {
            "SELECT t.id, t.tenant_id, t.ticket_id, t.escalation_id, t.kind, t.due_at, t.attempts \
             FROM timers t JOIN tickets k ON k.id = t.ticket_id \
             WHERE t.id = $1 AND t.due_at = $2 FOR UPDATE OF t, k SKIP LOCKED"
        }
        Backend::Sqlite => {
            "SELECT id, tenant_id, ticket_id, escalation_id, kind, due_at, attempts FROM timers \
             WHERE id = $1 AND due_at = $2"
        }
    };
    let row = sqlx::query(sql)
        .bind(t.id.as_str())
        .bind(micros(t.due_at))
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(timer_from_row).transpose()
}

/// Puts a timer whose firing failed back, due again at `retry_at`, counting the attempt;
/// unless it changed since it was read (another server fired it, or a request set it anew).
pub async fn retry_later(conn: &mut AnyConnection, t: &Timer, retry_at: Timestamp) -> Result<()> {
    sqlx::query(
        "UPDATE timers SET due_at = $1, attempts = attempts + 1 WHERE id = $2 AND due_at = $3 AND kind = $4",
    )
    .bind(micros(retry_at))
    .bind(t.id.as_str())
    .bind(micros(t.due_at))
    .bind(t.kind.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Puts a claimed row that does not read back at `retry_at`, counting the attempt; unless it
/// changed since it was read (a request set the ticket's timer anew, which mends it).
pub async fn retry_unreadable(
    conn: &mut AnyConnection,
    u: &Unreadable,
    retry_at: Timestamp,
) -> Result<()> {
    sqlx::query(
        "UPDATE timers SET due_at = $1, attempts = attempts + 1 WHERE id = $2 AND due_at = $3",
    )
    .bind(micros(retry_at))
    .bind(u.id.as_str())
    .bind(micros(u.due_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// When the next timer is due, read from the head of the due-time index.
pub async fn next_due(db: &Db) -> Result<Option<Timestamp>> {
    let (min,): (Option<i64>,) = sqlx::query_as("SELECT MIN(due_at) FROM timers")
        .fetch_one(db.pool())
        .await?;
    Ok(min.map(from_micros))
}
