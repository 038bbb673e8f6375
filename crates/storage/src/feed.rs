//! What the live stream reads: a tenant's audit trail after a position, and which of the
//! tickets it mentions concern a person. The position is the chain's `seq`, which the
//! append assigns under the tenant's head lock and which therefore becomes visible in
//! order: once `seq` n is committed, nothing at or below n is still to come. Reading after
//! it walks the `(tenant_id, seq)` primary key.

use std::collections::{BTreeMap, HashSet};

use ladder_core::{TenantId, TicketId, UserId};

use crate::audit::{event_from_row, AuditEvent};
use crate::row::RowExt;
use crate::sql::{in_list, Sql, CHUNK};
use crate::{Db, Result};

/// The tenant's last position (0 before its first event).
pub async fn head(db: &Db, tenant: &TenantId) -> Result<i64> {
    let head: Option<(i64,)> = sqlx::query_as("SELECT seq FROM audit_heads WHERE tenant_id = $1")
        .bind(tenant.as_str())
        .fetch_optional(db.pool())
        .await?;
    Ok(head.map_or(0, |(seq,)| seq))
}

/// Every tenant's last position: one row per organisation.
pub async fn heads(db: &Db) -> Result<BTreeMap<TenantId, i64>> {
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT tenant_id, seq FROM audit_heads")
        .fetch_all(db.pool())
        .await?;
    Ok(rows.into_iter().map(|(t, s)| (TenantId(t), s)).collect())
}

/// Up to `limit` of the tenant's events after position `after`, in order.
pub async fn after(db: &Db, tenant: &TenantId, after: i64, limit: i64) -> Result<Vec<AuditEvent>> {
    let rows = sqlx::query(
        "SELECT id, seq, ticket_id, actor_id, kind, payload, occurred_at, hash FROM audit_events \
         WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(tenant.as_str())
    .bind(after)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(event_from_row).collect()
}

/// Who a stream is for.
pub enum Reader<'a> {
    /// A member of the tenant: a ticket concerns them if it is assigned to them, they watch
    /// it, or any of its escalations (moved-up ones included) was addressed to one of `keys`
    /// (their user, role and team keys), owned by them or raised by them.
    Staff {
        user_id: &'a UserId,
        keys: &'a [String],
    },
    /// Platform support: tickets escalated to the platform.
    Platform,
}

/// Which of `tickets`, all of `tenant`, concern `reader`.
pub async fn concerning(
    db: &Db,
    tenant: &TenantId,
    reader: &Reader<'_>,
    tickets: &[&TicketId],
) -> Result<HashSet<TicketId>> {
    let mut out = HashSet::new();
    for chunk in tickets.chunks(CHUNK) {
        let mut sql = Sql::new("SELECT t.id FROM tickets t WHERE t.tenant_id = ");
        let t = sql.text_arg(tenant.0.clone());
        sql.push(&t.to_string()).push(" AND t.id IN ");
        let list = in_list(&mut sql, chunk.iter().map(|t| t.as_str()));
        sql.push(&list);
        match reader {
            Reader::Staff { user_id, keys } => {
                let u = sql.text_arg(user_id.0.clone());
                sql.push(&format!(" AND (t.assignee_id = {u}"));
                let u = sql.text_arg(user_id.0.clone());
                sql.push(&format!(
                    " OR EXISTS (SELECT 1 FROM watchers w WHERE w.ticket_id = t.id AND w.user_id = {u})"
                ));
                sql.push(" OR EXISTS (SELECT 1 FROM escalations e WHERE e.ticket_id = t.id AND (");
                if !keys.is_empty() {
                    let list = in_list(&mut sql, keys.iter().map(String::as_str));
                    sql.push(&format!("e.target_key IN {list} OR "));
                }
                let u = sql.text_arg(user_id.0.clone());
                let r = sql.text_arg(user_id.0.clone());
                sql.push(&format!(
                    "e.escalation_owner_id = {u} OR e.requested_by = {r})))"
                ));
            }
            Reader::Platform => {
                sql.push(
                    " AND EXISTS (SELECT 1 FROM escalations e WHERE e.ticket_id = t.id \
                     AND e.target_key = 'platform')",
                );
            }
        }
        for row in sql.fetch_all(&mut *db.conn().await?).await? {
            out.insert(TicketId(row.text("id")?));
        }
    }
    Ok(out)
}
