//! What the escalation metrics read: the tickets created in a period and the escalation
//! runs that began in it, each with the facts its figures need.
//!
//! A run is what the customer sees as one escalation: its first row (rung 1) and the rows a
//! move up the chain inserts after it, each superseding the one before; the run's last row
//! is the one not superseded (active, resolved or de-escalated) and carries the run's SLA
//! clocks. One statement reads the period's runs through the `escalations_run_starts` index
//! and finds each fact by an index seek (migration 0040), so its cost grows with the
//! period's escalations, not with the tables.

use jiff::Timestamp;
use ladder_core::{Category, EscalationId, EscalationState, TenantId, TicketId, UserId};
use sqlx::AnyConnection;

use crate::row::{in_table, micros, RowExt};
use crate::{Result, StorageError};

/// One escalation run that began in the period, with what the metrics need of it.
#[derive(Clone, Debug)]
pub struct RunFacts {
    /// The run's first escalation.
    pub id: EscalationId,
    pub ticket_id: TicketId,
    pub started_at: Timestamp,
    pub category: Category,
    pub requested_by: Option<UserId>,
    /// The team that held the ticket when it was escalated.
    pub team_id: Option<String>,
    /// The run's last escalation: its state, owner, clocks and end.
    pub last_id: EscalationId,
    pub state: EscalationState,
    pub owner_id: Option<UserId>,
    pub snapshot_id: Option<String>,
    /// The run's SLA clocks as stored (JSON).
    pub sla: Option<String>,
    pub closed_at: Option<Timestamp>,
    /// The compensation kind of a resolution (`none`, `refund`…), when it named one.
    pub compensation: Option<String>,
    /// The first response on the ticket at or after the run began (it may come after the
    /// run ended, which the caller judges).
    pub first_response_at: Option<Timestamp>,
    /// The ticket, or a ticket linked to it, began a run within the repeat window before.
    pub repeat: bool,
    /// Resolved, and within the return window after that the ticket was reopened or the
    /// customer opened a ticket linked to it or about the same problem.
    pub returned: bool,
}

/// Tickets of the tenant created in `[from, to)` (read from the `tickets_by_tenant` index).
pub async fn tickets_created(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    from: Timestamp,
    to: Timestamp,
) -> Result<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM tickets WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3",
    )
    .bind(tenant.as_str())
    .bind(micros(from))
    .bind(micros(to))
    .fetch_one(conn)
    .await?;
    row.int("n")
}

/// The windows, in microseconds, that the run facts are judged in.
#[derive(Clone, Copy, Debug)]
pub struct Windows {
    pub repeat_micros: i64,
    pub return_micros: i64,
}

/// Must match the predicate of the `comments_responses` index (and core's
/// `counts_as_response`: a logged call, or a public comment with a staff author).
const RESPONSE: &str = "(c.logged_call OR (c.public AND c.author_id IS NOT NULL))";

/// Every run of the tenant that began in `[from, to)`, oldest first.
pub async fn runs(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    from: Timestamp,
    to: Timestamp,
    windows: Windows,
) -> Result<Vec<RunFacts>> {
    // An earlier run of this ticket or of a ticket linked to it (either way round).
    let earlier = |ticket: &str| {
        format!(
            "EXISTS (SELECT 1 FROM escalations p WHERE p.ticket_id = {ticket} AND p.rung = 1 \
             AND p.created_at < a.created_at AND p.created_at >= a.created_at - $4)"
        )
    };
    let linked_from = earlier("l.to_ticket_id");
    let linked_to = earlier("l.from_ticket_id");
    let own = earlier("a.ticket_id");
    let sql = format!(
        "SELECT r.*, f.state AS f_state, f.escalation_owner_id AS f_owner, f.snapshot_id AS f_snapshot_id, \
           f.sla AS f_sla, f.closed_at AS f_closed_at, \
           CASE WHEN f.state = 'resolved' THEN f.resolution END AS f_resolution, \
           CAST(CASE WHEN f.state = 'resolved' AND (\
             EXISTS (SELECT 1 FROM audit_events v WHERE v.ticket_id = r.ticket_id AND v.kind = 'reopened' \
               AND v.occurred_at > f.closed_at AND v.occurred_at <= f.closed_at + $5) \
             OR EXISTS (SELECT 1 FROM tickets n WHERE n.tenant_id = $1 AND n.customer_id = r.customer_id \
               AND n.created_at > f.closed_at AND n.created_at <= f.closed_at + $5 AND n.id <> r.ticket_id \
               AND (n.category = r.category OR n.category = r.t_category OR n.incident_key = r.incident_key \
                 OR EXISTS (SELECT 1 FROM ticket_links l WHERE l.from_ticket_id = n.id AND l.to_ticket_id = r.ticket_id) \
                 OR EXISTS (SELECT 1 FROM ticket_links l WHERE l.from_ticket_id = r.ticket_id AND l.to_ticket_id = n.id)))) \
           THEN 1 ELSE 0 END AS BIGINT) AS returned \
         FROM (SELECT a.id, a.ticket_id, a.created_at, a.category, a.requested_by, a.previous_team_id, \
             t.customer_id, t.category AS t_category, t.incident_key, \
             (SELECT g.id FROM escalations g WHERE g.ticket_id = a.ticket_id AND g.created_at >= a.created_at \
                AND g.state <> 'superseded' ORDER BY g.created_at, g.rung LIMIT 1) AS last_id, \
             (SELECT MIN(c.created_at) FROM comments c WHERE c.ticket_id = a.ticket_id \
                AND c.created_at >= a.created_at AND {RESPONSE}) AS first_response_at, \
             CAST(CASE WHEN {own} \
               OR EXISTS (SELECT 1 FROM ticket_links l WHERE l.from_ticket_id = a.ticket_id AND {linked_from}) \
               OR EXISTS (SELECT 1 FROM ticket_links l WHERE l.to_ticket_id = a.ticket_id AND {linked_to}) \
             THEN 1 ELSE 0 END AS BIGINT) AS is_repeat \
           FROM escalations a JOIN tickets t ON t.id = a.ticket_id \
           WHERE a.tenant_id = $1 AND a.rung = 1 AND a.created_at >= $2 AND a.created_at < $3) r \
         JOIN escalations f ON f.id = r.last_id \
         ORDER BY r.created_at, r.id"
    );
    let rows = sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(micros(from))
        .bind(micros(to))
        .bind(windows.repeat_micros)
        .bind(windows.return_micros)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| in_table("escalations", row, run_columns))
        .collect()
}

fn run_columns(row: &impl RowExt) -> Result<RunFacts> {
    let id = EscalationId(row.text("id")?);
    let compensation = match row.opt_text("f_resolution")? {
        None => None,
        Some(text) => {
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|err| StorageError::Corrupt {
                    table: "escalations",
                    detail: format!("escalation run {id}: the resolution is not JSON: {err}"),
                })?;
            match &v["compensation"] {
                serde_json::Value::Null => None,
                c => Some(
                    c["kind"]
                        .as_str()
                        .ok_or_else(|| StorageError::Corrupt {
                            table: "escalations",
                            detail: format!("escalation run {id}: a compensation without a kind"),
                        })?
                        .to_owned(),
                ),
            }
        }
    };
    Ok(RunFacts {
        ticket_id: TicketId(row.text("ticket_id")?),
        started_at: row.time("created_at")?,
        category: row.parse("category")?,
        requested_by: row.opt_text("requested_by")?.map(UserId),
        team_id: row.opt_text("previous_team_id")?,
        last_id: EscalationId(row.text("last_id")?),
        state: row.parse("f_state")?,
        owner_id: row.opt_text("f_owner")?.map(UserId),
        snapshot_id: row.opt_text("f_snapshot_id")?,
        sla: row.opt_text("f_sla")?,
        closed_at: row.opt_time("f_closed_at")?,
        compensation,
        first_response_at: row.opt_time("first_response_at")?,
        repeat: row.flag("is_repeat")?,
        returned: row.flag("returned")?,
        id,
    })
}
