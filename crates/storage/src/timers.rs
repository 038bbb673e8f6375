//! Durable timers: SLA deadlines, reminders and rung timeouts waiting to fire.
//!
//! A ticket has at most one timer of each kind; its id is `<ticket_id>:<kind>`, so that
//! rescheduling is an upsert and cancelling is a delete by key. Writers change a ticket's
//! timers only while holding the ticket's row lock, and workers fire a timer by deleting it in
//! the same transaction as its effects: the delete succeeds once, so the timer fires once.

use jiff::Timestamp;
use sqlx::AnyConnection;

use crate::row::{from_micros, micros, RowExt};
use crate::{Backend, Db, Result};

/// A timer read back for firing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timer {
    pub id: String,
    pub tenant_id: String,
    pub ticket_id: String,
    pub escalation_id: Option<String>,
    pub kind: String,
    pub due_at: Timestamp,
    pub attempts: i64,
}

fn key(ticket_id: &str, kind: &str) -> String {
    format!("{ticket_id}:{kind}")
}

/// Sets (or moves) the ticket's timer of `kind` to `due_at`.
pub async fn set(
    conn: &mut AnyConnection,
    tenant_id: &str,
    ticket_id: &str,
    escalation_id: Option<&str>,
    kind: &str,
    due_at: Timestamp,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO timers (id, tenant_id, ticket_id, escalation_id, kind, due_at, attempts, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7) \
         ON CONFLICT (id) DO UPDATE SET escalation_id = excluded.escalation_id, \
         due_at = excluded.due_at, attempts = 0, created_at = excluded.created_at",
    )
    .bind(key(ticket_id, kind))
    .bind(tenant_id)
    .bind(ticket_id)
    .bind(escalation_id)
    .bind(kind)
    .bind(micros(due_at))
    .bind(micros(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces every timer of the ticket except those of the `keep` kinds with `timers`, in
/// two statements: one delete of the kinds no longer wanted, one multi-row upsert.
pub async fn replace(
    conn: &mut AnyConnection,
    tenant_id: &str,
    ticket_id: &str,
    escalation_id: Option<&str>,
    keep: &[&str],
    timers: &[(&str, Timestamp)],
    now: Timestamp,
) -> Result<()> {
    let kept: Vec<&str> = keep
        .iter()
        .copied()
        .chain(timers.iter().map(|(k, _)| *k))
        .collect();
    let mut sql = "DELETE FROM timers WHERE tenant_id = $1 AND ticket_id = $2".to_owned();
    if !kept.is_empty() {
        let marks: Vec<String> = (0..kept.len()).map(|i| format!("${}", i + 3)).collect();
        sql.push_str(&format!(" AND kind NOT IN ({})", marks.join(", ")));
    }
    let mut q = sqlx::query(&sql).bind(tenant_id).bind(ticket_id);
    for k in &kept {
        q = q.bind(*k);
    }
    q.execute(&mut *conn).await?;
    if timers.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..timers.len())
        .map(|i| {
            let b = i * 3;
            format!("(${}, $1, $2, $3, ${}, ${}, 0, $4)", b + 5, b + 6, b + 7)
        })
        .collect();
    let sql = format!(
        "INSERT INTO timers (id, tenant_id, ticket_id, escalation_id, kind, due_at, attempts, created_at) \
         VALUES {} ON CONFLICT (id) DO UPDATE SET escalation_id = excluded.escalation_id, \
         due_at = excluded.due_at, attempts = 0, created_at = excluded.created_at",
        rows.join(", ")
    );
    let mut q = sqlx::query(&sql)
        .bind(tenant_id)
        .bind(ticket_id)
        .bind(escalation_id)
        .bind(micros(now));
    for (kind, due) in timers {
        q = q.bind(key(ticket_id, kind)).bind(*kind).bind(micros(*due));
    }
    q.execute(conn).await?;
    Ok(())
}

/// Removes the ticket's timer of `kind`, if any.
pub async fn cancel(
    conn: &mut AnyConnection,
    tenant_id: &str,
    ticket_id: &str,
    kind: &str,
) -> Result<()> {
    sqlx::query("DELETE FROM timers WHERE id = $1 AND tenant_id = $2")
        .bind(key(ticket_id, kind))
        .bind(tenant_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The ticket's timers, soonest first (for the API and tests).
pub async fn for_ticket(
    conn: &mut AnyConnection,
    tenant_id: &str,
    ticket_id: &str,
) -> Result<Vec<Timer>> {
    let rows = sqlx::query(
        "SELECT id, tenant_id, ticket_id, escalation_id, kind, due_at, attempts FROM timers \
         WHERE tenant_id = $1 AND ticket_id = $2 ORDER BY due_at, id",
    )
    .bind(tenant_id)
    .bind(ticket_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(timer_from_row).collect()
}

fn timer_from_row(r: &sqlx::any::AnyRow) -> Result<Timer> {
    Ok(Timer {
        id: r.text("id")?,
        tenant_id: r.text("tenant_id")?,
        ticket_id: r.text("ticket_id")?,
        escalation_id: r.opt_text("escalation_id")?,
        kind: r.text("kind")?,
        due_at: r.time("due_at")?,
        attempts: r.int("attempts")?,
    })
}

/// Claims up to `limit` timers due at `now`, oldest first, for the caller's transaction.
///
/// On PostgreSQL the timer rows and their tickets are locked with `SKIP LOCKED`: servers
/// sharing the table take disjoint batches, a ticket someone is editing is left for the next
/// round instead of waited for (so a worker never holds a timer while queueing behind a
/// request that holds the ticket), and the locks of a server that dies vanish with its
/// connection. On SQLite the caller holds the only write lock.
pub async fn claim_due(
    conn: &mut AnyConnection,
    backend: Backend,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<Timer>> {
    let sql = match backend {
        Backend::Postgres => {
            "SELECT t.id, t.tenant_id, t.ticket_id, t.escalation_id, t.kind, t.due_at, t.attempts \
             FROM timers t JOIN tickets k ON k.id = t.ticket_id \
             WHERE t.due_at <= $1 ORDER BY t.due_at, t.id LIMIT $2 FOR UPDATE OF t, k SKIP LOCKED"
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
    rows.iter().map(timer_from_row).collect()
}

/// Deletes a claimed timer as it fires. False when it was rescheduled or cancelled since
/// it was read, in which case it must not fire.
pub async fn take(conn: &mut AnyConnection, t: &Timer) -> Result<bool> {
    let r = sqlx::query("DELETE FROM timers WHERE id = $1 AND due_at = $2")
        .bind(&t.id)
        .bind(micros(t.due_at))
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Puts a timer whose firing failed back, due again at `retry_at`, counting the attempt.
pub async fn retry_later(conn: &mut AnyConnection, t: &Timer, retry_at: Timestamp) -> Result<()> {
    sqlx::query("UPDATE timers SET due_at = $1, attempts = attempts + 1 WHERE id = $2")
        .bind(micros(retry_at))
        .bind(&t.id)
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
