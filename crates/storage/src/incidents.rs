//! Incidents: one parent ticket grouping the tickets of many customers who report the same
//! problem at once. Children are linked to the parent with `child_of` ticket links.

use jiff::Timestamp;
use ladder_core::{CustomerId, LinkKind, TenantId, TicketId};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::row::{micros, new_id, RowExt};
use crate::{Result, StorageError};

#[derive(Clone, Debug, Serialize)]
pub struct Incident {
    pub id: String,
    pub incident_key: String,
    pub parent_ticket_id: TicketId,
    /// Distinct customers among the linked children.
    pub customers: u32,
    pub escalated_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

fn incident_from_row(row: &AnyRow) -> Result<Incident> {
    let id = row.text("id")?;
    let customers = row.int("customers")?;
    let customers = u32::try_from(customers).map_err(|_| StorageError::Corrupt {
        table: "incidents",
        detail: format!("incident {id}: {customers} customers"),
    })?;
    Ok(Incident {
        id,
        incident_key: row.text("incident_key")?,
        parent_ticket_id: TicketId(row.text("parent_ticket_id")?),
        customers,
        escalated_at: row.opt_time("escalated_at")?,
        created_at: row.time("created_at")?,
    })
}

/// One ticket reporting a problem: who, and when.
#[derive(Clone, Debug)]
pub struct Report {
    pub ticket_id: TicketId,
    pub customer_id: CustomerId,
    pub created_at: Timestamp,
}

/// On PostgreSQL, makes every transaction handling `key` wait for the others until they
/// commit, so that each counts the reports the ones before it made. (SQLite's write gate
/// already runs one writer at a time.)
pub async fn lock_key(
    conn: &mut AnyConnection,
    pg: bool,
    tenant_id: &TenantId,
    key: &str,
) -> Result<()> {
    if pg {
        sqlx::query("SELECT 1 AS locked FROM pg_advisory_xact_lock($1)")
            .bind(lock_id(tenant_id, key))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// A stable 64-bit FNV-1a hash: every process sharing the database must agree on it.
fn lock_id(tenant_id: &TenantId, key: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in tenant_id.as_str().bytes().chain([0]).chain(key.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

/// How many distinct customers reported `key` in `[since, until]` on tickets no incident has
/// taken yet, counting up to `cap`. A skip scan of `tickets_by_incident_key`: one seek per
/// customer, stopped at `cap`, so a customer who sent a thousand reports costs what one who
/// sent one does, and the count costs the same however many tickets there are.
pub async fn distinct_reporters(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    key: &str,
    since: Timestamp,
    until: Timestamp,
    cap: u32,
) -> Result<u32> {
    if cap == 0 {
        return Ok(0);
    }
    // Every step, the first one too, seeks `customer_id > previous` (the first after '').
    // The time bounds carry a unary plus (no value changes on either database), which keeps
    // both planners off the tenant's index by time. With no customer bound there, and
    // again with a million tickets' statistics even with one, SQLite chose that index and
    // sorted the whole window (1.0 ms against 0.19 ms with 1,300 reports in the hour); so
    // did PostgreSQL for the later steps, reading every ticket of the hour at each (5.3 ms
    // against 0.27 ms at a million tickets, `EXPLAIN ANALYZE`).
    let seek = "SELECT t.customer_id FROM tickets t \
         WHERE t.tenant_id = $1 AND t.incident_key = $2 AND +t.created_at >= $3 \
         AND +t.created_at <= $4 \
         AND NOT EXISTS (SELECT 1 FROM ticket_links l \
         WHERE l.tenant_id = t.tenant_id AND l.from_ticket_id = t.id AND l.kind = $5)";
    let (n,): (i64,) = sqlx::query_as(&format!(
        "WITH RECURSIVE seen (customer_id, n) AS ( \
         SELECT ({seek} AND t.customer_id > $7 ORDER BY t.customer_id LIMIT 1), 1 \
         UNION ALL \
         SELECT ({seek} AND t.customer_id > s.customer_id ORDER BY t.customer_id LIMIT 1), s.n + 1 \
         FROM seen s WHERE s.customer_id IS NOT NULL AND s.n < $6) \
         SELECT COUNT(customer_id) FROM seen"
    ))
    .bind(tenant_id.as_str())
    .bind(key)
    .bind(micros(since))
    .bind(micros(until))
    .bind(LinkKind::ChildOf.as_str())
    .bind(i64::from(cap))
    .bind("")
    .fetch_one(conn)
    .await?;
    Ok(u32::try_from(n.max(0)).unwrap_or(u32::MAX).min(cap))
}

/// Tickets reporting `key` since `since` that no incident has taken yet, oldest first.
pub async fn unlinked_reports(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    key: &str,
    since: Timestamp,
) -> Result<Vec<Report>> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT t.id, t.customer_id, t.created_at FROM tickets t \
         WHERE t.tenant_id = $1 AND t.incident_key = $2 AND t.created_at >= $3 \
         AND NOT EXISTS (SELECT 1 FROM ticket_links l \
         WHERE l.tenant_id = t.tenant_id AND l.from_ticket_id = t.id AND l.kind = $4) \
         ORDER BY t.created_at, t.id LIMIT 1000",
    )
    .bind(tenant_id.as_str())
    .bind(key)
    .bind(micros(since))
    .bind(LinkKind::ChildOf.as_str())
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(ticket_id, customer_id, at)| Report {
            ticket_id: TicketId(ticket_id),
            customer_id: CustomerId(customer_id),
            created_at: crate::from_micros(at),
        })
        .collect())
}

const COLS: &str = "id, incident_key, parent_ticket_id, customers, escalated_at, created_at";

/// The open incident for `key`, if any.
pub async fn open(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    key: &str,
) -> Result<Option<Incident>> {
    let row = sqlx::query(&format!(
        "SELECT {COLS} FROM incidents WHERE tenant_id = $1 AND incident_key = $2 AND closed_at IS NULL"
    ))
    .bind(tenant_id.as_str())
    .bind(key)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(incident_from_row).transpose()
}

/// Opens an incident unless one is already open for its key; returns it, or None when
/// another transaction got there first.
pub async fn insert(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    key: &str,
    parent_ticket_id: &TicketId,
    customers: u32,
    now: Timestamp,
) -> Result<Option<Incident>> {
    let id = new_id();
    let r = sqlx::query(
        "INSERT INTO incidents (id, tenant_id, incident_key, parent_ticket_id, customers, \
         escalated_at, created_at, updated_at, closed_at) \
         VALUES ($1, $2, $3, $4, $5, NULL, $6, $6, NULL) ON CONFLICT DO NOTHING",
    )
    .bind(&id)
    .bind(tenant_id.as_str())
    .bind(key)
    .bind(parent_ticket_id.as_str())
    .bind(i64::from(customers))
    .bind(micros(now))
    .execute(conn)
    .await?;
    Ok((r.rows_affected() == 1).then(|| Incident {
        id,
        incident_key: key.to_owned(),
        parent_ticket_id: parent_ticket_id.clone(),
        customers,
        escalated_at: None,
        created_at: now,
    }))
}

/// Writes back the customer count and when the parent was escalated.
pub async fn update(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    i: &Incident,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "UPDATE incidents SET customers = $1, escalated_at = $2, updated_at = $3 \
         WHERE tenant_id = $4 AND id = $5",
    )
    .bind(i64::from(i.customers))
    .bind(i.escalated_at.map(micros))
    .bind(micros(now))
    .bind(tenant_id.as_str())
    .bind(&i.id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Closes an incident whose parent was resolved, so the next reports open a new one.
pub async fn close(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "UPDATE incidents SET closed_at = $1, updated_at = $1 \
         WHERE tenant_id = $2 AND id = $3 AND closed_at IS NULL",
    )
    .bind(micros(now))
    .bind(tenant_id.as_str())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Distinct customers among the children linked to a parent.
pub async fn child_customers(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    parent_ticket_id: &TicketId,
) -> Result<u32> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(DISTINCT t.customer_id) FROM ticket_links l \
         JOIN tickets t ON t.id = l.from_ticket_id AND t.tenant_id = l.tenant_id \
         WHERE l.tenant_id = $1 AND l.to_ticket_id = $2 AND l.kind = $3",
    )
    .bind(tenant_id.as_str())
    .bind(parent_ticket_id.as_str())
    .bind(LinkKind::ChildOf.as_str())
    .fetch_one(conn)
    .await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}
