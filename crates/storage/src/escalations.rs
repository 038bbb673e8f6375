//! Escalations: one hop of a ticket up the ladder, and approval requests.

use jiff::Timestamp;
use ladder_core::{
    ApprovalId, ApprovalState, Category, ContactMethod, EscalationId, EscalationState, Priority,
    Role, Target, TeamId, TenantId, TicketId, TicketStatus, TriggerKind, Urgency, UserId,
};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::row::{in_table, micros, new_id, RowExt};
use crate::sql::{in_list, rows_per_statement, Sql, CHUNK};
use crate::{Result, StorageError};

#[derive(Clone, Debug)]
pub struct Escalation {
    pub id: EscalationId,
    pub tenant_id: TenantId,
    pub ticket_id: TicketId,
    pub state: EscalationState,
    pub target: Target,
    /// How many hops up the ladder this one is (1 for the first escalation of a run).
    pub rung: i64,
    pub category: Category,
    pub note: String,
    pub tried: Option<String>,
    pub contact_method: ContactMethod,
    pub urgency: Urgency,
    pub priority: Priority,
    pub triggers: Vec<TriggerKind>,
    pub requested_by: Option<UserId>,
    /// The single named person who took the escalation.
    pub escalation_owner_id: Option<UserId>,
    pub previous_status: TicketStatus,
    pub previous_assignee_id: Option<UserId>,
    pub previous_team_id: Option<TeamId>,
    /// The policy rule and calendar this escalation started with.
    pub snapshot: Option<serde_json::Value>,
    /// Where the snapshot is stored (its content hash).
    pub snapshot_id: Option<String>,
    /// The run's SLA clocks and this escalation's position on its chain, as stored.
    /// (JSON text: kept as stored, so that copying and writing an escalation does not
    /// rebuild a JSON tree.)
    pub sla: Option<String>,
    pub ack_due_at: Option<Timestamp>,
    pub update_due_at: Option<Timestamp>,
    pub resolve_due_at: Option<Timestamp>,
    pub acknowledged_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    /// Summary, root cause, actions, compensation; or the reason of a de-escalation.
    pub resolution: Option<serde_json::Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Escalation {
    pub fn is_active(&self) -> bool {
        matches!(
            self.state,
            EscalationState::Requested | EscalationState::Acknowledged
        )
    }

    /// The deadline the escalations queue sorts by: acknowledgement while nobody has taken
    /// it, then the next customer update or the resolution, whichever is sooner.
    pub fn queue_due_at(&self) -> Option<Timestamp> {
        match self.state {
            EscalationState::Requested => self.ack_due_at.or(self.resolve_due_at),
            EscalationState::Acknowledged => match (self.update_due_at, self.resolve_due_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            _ => None,
        }
    }
}

/// The queue key under which an escalation's audience finds it.
pub fn target_key(target: &Target) -> String {
    match target {
        Target::Owner => format!("role:{}", Role::Owner.as_str()),
        Target::User { id } => format!("user:{id}"),
        Target::Team { id } => format!("team:{id}"),
        Target::Role { role } => format!("role:{}", role.as_str()),
        Target::Platform => "platform".to_owned(),
    }
}

pub(crate) const ESCALATION_COLS: &str = "e.id, e.tenant_id, e.ticket_id, e.state, e.target_kind, \
    e.target_ref, e.rung, e.category, e.note, e.tried, e.contact_method, e.urgency, e.priority, \
    e.triggers, e.requested_by, e.escalation_owner_id, e.previous_status, e.previous_assignee_id, \
    e.previous_team_id, COALESCE((SELECT s.document FROM escalation_snapshots s \
    WHERE s.id = e.snapshot_id), e.snapshot) AS snapshot, e.snapshot_id, e.sla, e.ack_due_at, e.update_due_at, e.resolve_due_at, \
    e.acknowledged_at, e.closed_at, e.resolution, e.created_at, e.updated_at";

pub(crate) fn escalation_from_row<R: RowExt>(row: &R) -> Result<Escalation> {
    in_table("escalations", row, escalation_columns)
}

fn escalation_columns(row: &impl RowExt) -> Result<Escalation> {
    let target_kind = row.parse("target_kind")?;
    let target_ref = row.opt_text("target_ref")?;
    let target = Target::from_parts(target_kind, target_ref.as_deref()).ok_or_else(|| {
        StorageError::Corrupt {
            table: "escalations",
            detail: format!("target {target_kind} without a valid reference"),
        }
    })?;
    let id = EscalationId(row.text("id")?);
    let snapshot_id: Option<String> = row.opt_text("snapshot_id")?;
    let snapshot = row
        .opt_text("snapshot")?
        .map(|s| serde_json::from_str(&s))
        .transpose()
        .map_err(|err| StorageError::Corrupt {
            table: if snapshot_id.is_some() {
                "escalation_snapshots"
            } else {
                "escalations"
            },
            detail: format!(
                "escalation {id}: the snapshot{} is not JSON: {err}",
                snapshot_id
                    .as_deref()
                    .map(|s| format!(" {s}"))
                    .unwrap_or_default()
            ),
        })?;
    let sla: Option<String> = row.opt_text("sla")?;
    let resolution = row
        .opt_text("resolution")?
        .map(|s| serde_json::from_str(&s))
        .transpose()
        .map_err(|err| StorageError::Corrupt {
            table: "escalations",
            detail: format!("escalation {id}: the resolution is not JSON: {err}"),
        })?;
    Ok(Escalation {
        id,
        tenant_id: TenantId(row.text("tenant_id")?),
        ticket_id: TicketId(row.text("ticket_id")?),
        state: row.parse("state")?,
        target,
        rung: row.int("rung")?,
        category: row.parse("category")?,
        note: row.text("note")?,
        tried: row.opt_text("tried")?,
        contact_method: row.parse("contact_method")?,
        urgency: row.parse("urgency")?,
        priority: row.parse("priority")?,
        triggers: row.json("triggers")?,
        requested_by: row.opt_text("requested_by")?.map(UserId),
        escalation_owner_id: row.opt_text("escalation_owner_id")?.map(UserId),
        previous_status: row.parse("previous_status")?,
        previous_assignee_id: row.opt_text("previous_assignee_id")?.map(UserId),
        previous_team_id: row.opt_text("previous_team_id")?.map(TeamId),
        snapshot,
        snapshot_id,
        sla,
        ack_due_at: row.opt_time("ack_due_at")?,
        update_due_at: row.opt_time("update_due_at")?,
        resolve_due_at: row.opt_time("resolve_due_at")?,
        acknowledged_at: row.opt_time("acknowledged_at")?,
        closed_at: row.opt_time("closed_at")?,
        resolution,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// Inserts a new escalation. The database refuses a second active escalation on one ticket
/// (a partial unique index), which backs up the check the domain already made.
pub async fn insert(conn: &mut AnyConnection, e: &Escalation) -> Result<()> {
    insert_many(conn, std::slice::from_ref(e)).await
}

/// Inserts escalations with multi-row statements.
pub async fn insert_many(conn: &mut AnyConnection, es: &[Escalation]) -> Result<()> {
    for chunk in es.chunks(rows_per_statement(32)) {
        let mut sql = Sql::new(
            "INSERT INTO escalations (id, tenant_id, ticket_id, state, target_key, target_kind, \
             target_ref, rung, category, note, tried, contact_method, urgency, priority, triggers, \
             requested_by, escalation_owner_id, previous_status, previous_assignee_id, \
             previous_team_id, snapshot, due_at, ack_due_at, update_due_at, resolve_due_at, \
             acknowledged_at, closed_at, resolution, created_at, updated_at, sla, snapshot_id) VALUES ",
        );
        for (i, e) in chunk.iter().enumerate() {
            sql.row(i == 0, |q| {
                vec![
                    q.arg(e.id.0.clone()),
                    q.arg(e.tenant_id.0.clone()),
                    q.arg(e.ticket_id.0.clone()),
                    q.arg(e.state.as_str()),
                    q.arg(target_key(&e.target)),
                    q.arg(e.target.kind().as_str()),
                    q.arg(e.target.reference()),
                    q.arg(e.rung),
                    q.arg(e.category.as_str()),
                    q.arg(e.note.clone()),
                    q.arg(e.tried.clone()),
                    q.arg(e.contact_method.as_str()),
                    q.arg(e.urgency.as_str()),
                    q.arg(e.priority.as_str()),
                    q.arg(serde_json::to_string(&e.triggers).unwrap_or_else(|_| "[]".into())),
                    q.arg(e.requested_by.clone().map(|u| u.0)),
                    q.arg(e.escalation_owner_id.clone().map(|u| u.0)),
                    q.arg(e.previous_status.as_str()),
                    q.arg(e.previous_assignee_id.clone().map(|u| u.0)),
                    q.arg(e.previous_team_id.clone().map(|t| t.0)),
                    // Stored once in escalation_snapshots when it has an id.
                    q.arg(
                        e.snapshot
                            .as_ref()
                            .filter(|_| e.snapshot_id.is_none())
                            .map(|s| s.to_string()),
                    ),
                    q.arg(micros(e.queue_due_at().unwrap_or(Timestamp::MAX))),
                    q.arg(e.ack_due_at.map(micros)),
                    q.arg(e.update_due_at.map(micros)),
                    q.arg(e.resolve_due_at.map(micros)),
                    q.arg(e.acknowledged_at.map(micros)),
                    q.arg(e.closed_at.map(micros)),
                    q.arg(e.resolution.as_ref().map(|s| s.to_string())),
                    q.arg(micros(e.created_at)),
                    q.arg(micros(e.updated_at)),
                    q.arg(e.sla.clone()),
                    q.arg(e.snapshot_id.clone()),
                ]
            });
        }
        sql.execute_refusing(&mut *conn, "an active escalation on this ticket")
            .await?;
    }
    crate::metrics::refresh_escalated(conn, es).await
}

/// Snapshot documents by id.
pub async fn snapshots(conn: &mut AnyConnection, ids: &[String]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let mut sql = Sql::new("SELECT id, document FROM escalation_snapshots WHERE id IN ");
        let list = in_list(&mut sql, chunk.iter().map(String::as_str));
        sql.push(&list);
        for row in sql.fetch_all(conn).await? {
            out.push((row.text("id")?, row.text("document")?));
        }
    }
    Ok(out)
}

/// Stores a snapshot document under its id, once.
pub async fn save_snapshot(conn: &mut AnyConnection, id: &str, document: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO escalation_snapshots (id, document) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(document)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes back escalations' mutable fields, one statement per chunk, for escalations the
/// caller holds locked (their tickets' row locks).
pub async fn update_many(conn: &mut AnyConnection, es: &[Escalation]) -> Result<()> {
    for chunk in es.chunks(rows_per_statement(16)) {
        let mut sql = Sql::new(
            "UPDATE escalations SET state = v.column3, escalation_owner_id = v.column4, \
             due_at = v.column5, ack_due_at = v.column6, update_due_at = v.column7, \
             resolve_due_at = v.column8, acknowledged_at = v.column9, closed_at = v.column10, \
             resolution = v.column11, updated_at = v.column12, target_key = v.column13, \
             target_kind = v.column14, target_ref = v.column15, sla = v.column16 FROM (VALUES ",
        );
        for (i, e) in chunk.iter().enumerate() {
            sql.row(i == 0, |q| {
                vec![
                    q.arg(e.id.0.clone()),
                    q.arg(e.tenant_id.0.clone()),
                    q.arg(e.state.as_str()),
                    q.arg(e.escalation_owner_id.clone().map(|u| u.0)),
                    q.arg(micros(e.queue_due_at().unwrap_or(Timestamp::MAX))),
                    q.arg(e.ack_due_at.map(micros)),
                    q.arg(e.update_due_at.map(micros)),
                    q.arg(e.resolve_due_at.map(micros)),
                    q.arg(e.acknowledged_at.map(micros)),
                    q.arg(e.closed_at.map(micros)),
                    q.arg(e.resolution.as_ref().map(|s| s.to_string())),
                    q.arg(micros(e.updated_at)),
                    q.arg(target_key(&e.target)),
                    q.arg(e.target.kind().as_str()),
                    q.arg(e.target.reference()),
                    q.arg(e.sla.clone()),
                ]
            });
        }
        sql.push(") AS v WHERE escalations.id = v.column1 AND escalations.tenant_id = v.column2");
        sql.execute(&mut *conn).await?;
    }
    crate::metrics::refresh_escalated(conn, es).await
}

/// The columns of an escalation, each selected from `e` as `e_<column>`, for joins; the
/// snapshot document is left out (the engine knows snapshots by id, see [`snapshots`]).
pub(crate) fn prefixed_cols() -> String {
    const COLUMNS: &[&str] = &[
        "id",
        "tenant_id",
        "ticket_id",
        "state",
        "target_kind",
        "target_ref",
        "rung",
        "category",
        "note",
        "tried",
        "contact_method",
        "urgency",
        "priority",
        "triggers",
        "requested_by",
        "escalation_owner_id",
        "previous_status",
        "previous_assignee_id",
        "previous_team_id",
        "snapshot",
        "snapshot_id",
        "sla",
        "ack_due_at",
        "update_due_at",
        "resolve_due_at",
        "acknowledged_at",
        "closed_at",
        "resolution",
        "created_at",
        "updated_at",
    ];
    COLUMNS
        .iter()
        .map(|c| format!("e.{c} AS e_{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes back the mutable fields, but only if the escalation is still in `expected` state:
/// a compare-and-set that makes concurrent acknowledgements and resolutions race safely.
/// Returns false when someone else changed it first.
pub async fn update_if_state(
    conn: &mut AnyConnection,
    e: &Escalation,
    expected: EscalationState,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE escalations SET state = $1, escalation_owner_id = $2, due_at = $3, ack_due_at = $4, \
         update_due_at = $5, resolve_due_at = $6, acknowledged_at = $7, closed_at = $8, \
         resolution = $9, updated_at = $10, target_key = $11, target_kind = $12, target_ref = $13, \
         sla = $17 WHERE tenant_id = $14 AND id = $15 AND state = $16",
    )
    .bind(e.state.as_str())
    .bind(e.escalation_owner_id.as_ref().map(UserId::as_str))
    .bind(micros(e.queue_due_at().unwrap_or(Timestamp::MAX)))
    .bind(e.ack_due_at.map(micros))
    .bind(e.update_due_at.map(micros))
    .bind(e.resolve_due_at.map(micros))
    .bind(e.acknowledged_at.map(micros))
    .bind(e.closed_at.map(micros))
    .bind(e.resolution.as_ref().map(|s| s.to_string()))
    .bind(micros(e.updated_at))
    .bind(target_key(&e.target))
    .bind(e.target.kind().as_str())
    .bind(e.target.reference())
    .bind(e.tenant_id.as_str())
    .bind(e.id.as_str())
    .bind(expected.as_str())
    .bind(e.sla.clone())
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() != 1 {
        return Ok(false);
    }
    crate::metrics::refresh_escalated(conn, std::slice::from_ref(e)).await?;
    Ok(true)
}

/// An escalation of the tenant, or, for platform support (`tenant_id = None`), one escalated
/// to the platform by any tenant.
pub async fn get(
    conn: &mut AnyConnection,
    tenant_id: Option<&TenantId>,
    id: &EscalationId,
) -> Result<Option<Escalation>> {
    let row = match tenant_id {
        Some(t) => {
            sqlx::query(&format!("SELECT {ESCALATION_COLS} FROM escalations e WHERE e.tenant_id = $1 AND e.id = $2"))
                .bind(t.as_str())
                .bind(id.as_str())
                .fetch_optional(conn)
                .await?
        }
        None => {
            sqlx::query(&format!(
                "SELECT {ESCALATION_COLS} FROM escalations e WHERE e.id = $1 AND e.target_key = 'platform'"
            ))
            .bind(id.as_str())
            .fetch_optional(conn)
            .await?
        }
    };
    row.as_ref().map(escalation_from_row).transpose()
}

/// Every escalation of a ticket, oldest first.
pub async fn for_ticket(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    ticket_id: &TicketId,
) -> Result<Vec<Escalation>> {
    let rows = sqlx::query(&format!(
        "SELECT {ESCALATION_COLS} FROM escalations e WHERE e.tenant_id = $1 AND e.ticket_id = $2 ORDER BY e.created_at, e.id"
    ))
    .bind(tenant_id.as_str())
    .bind(ticket_id.as_str())
    .fetch_all(conn)
    .await?;
    rows.iter().map(escalation_from_row).collect()
}

/// The tenant's escalations still waiting for acknowledgement under any of the queue `keys`
/// (`user:<id>`, `team:<id>`, `role:<role>`), read through the queue index.
pub async fn requested_for(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    keys: &[String],
) -> Result<Vec<Escalation>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (0..keys.len()).map(|i| format!("${}", i + 2)).collect();
    // The redundant state list is the partial index's own predicate, so the planner uses it.
    let sql = format!(
        "SELECT {ESCALATION_COLS} FROM escalations e WHERE e.tenant_id = $1 \
         AND e.target_key IN ({}) AND e.state IN ('requested', 'acknowledged') \
         AND e.state = 'requested' ORDER BY e.created_at, e.id",
        marks.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(tenant_id.as_str());
    for k in keys {
        q = q.bind(k);
    }
    let rows = q.fetch_all(conn).await?;
    rows.iter().map(escalation_from_row).collect()
}

// --- approvals ------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct Approval {
    pub id: ApprovalId,
    pub escalation_id: EscalationId,
    pub ticket_id: TicketId,
    pub requested_by: UserId,
    /// The rung asked to decide.
    pub approver_role: Role,
    pub amount_minor: i64,
    pub currency: String,
    pub state: ApprovalState,
    /// The resolution that takes effect if approved.
    pub resolution: serde_json::Value,
    pub decided_by: Option<UserId>,
    pub decision_reason: Option<String>,
    pub created_at: Timestamp,
    pub decided_at: Option<Timestamp>,
}

const APPROVAL_COLS: &str =
    "id, escalation_id, ticket_id, requested_by, approver_role, amount_minor, \
    currency, state, resolution, decided_by, decision_reason, created_at, decided_at";

fn approval_from_row(r: &AnyRow) -> Result<Approval> {
    in_table("approvals", r, approval_columns)
}

fn approval_columns(r: &AnyRow) -> Result<Approval> {
    Ok(Approval {
        id: ApprovalId(r.text("id")?),
        escalation_id: EscalationId(r.text("escalation_id")?),
        ticket_id: TicketId(r.text("ticket_id")?),
        requested_by: UserId(r.text("requested_by")?),
        approver_role: r.parse("approver_role")?,
        amount_minor: r.int("amount_minor")?,
        currency: r.text("currency")?,
        state: r.parse("state")?,
        resolution: r.json("resolution")?,
        decided_by: r.opt_text("decided_by")?.map(UserId),
        decision_reason: r.opt_text("decision_reason")?,
        created_at: r.time("created_at")?,
        decided_at: r.opt_time("decided_at")?,
    })
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_approval(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    esc: &Escalation,
    requested_by: &UserId,
    approver_role: Role,
    amount_minor: i64,
    currency: &str,
    resolution: &serde_json::Value,
    now: Timestamp,
) -> Result<Approval> {
    let id = ApprovalId(new_id());
    sqlx::query(&format!(
        "INSERT INTO approvals ({APPROVAL_COLS}, tenant_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL, $10, NULL, $11)"
    ))
    .bind(id.as_str())
    .bind(esc.id.as_str())
    .bind(esc.ticket_id.as_str())
    .bind(requested_by.as_str())
    .bind(approver_role.as_str())
    .bind(amount_minor)
    .bind(currency)
    .bind(ApprovalState::Pending.as_str())
    .bind(resolution.to_string())
    .bind(micros(now))
    .bind(tenant_id.as_str())
    .execute(conn)
    .await
    .map_err(|e| StorageError::conflict_on_unique(e, "a pending approval for this escalation"))?;
    Ok(Approval {
        id,
        escalation_id: esc.id.clone(),
        ticket_id: esc.ticket_id.clone(),
        requested_by: requested_by.clone(),
        approver_role,
        amount_minor,
        currency: currency.to_owned(),
        state: ApprovalState::Pending,
        resolution: resolution.clone(),
        decided_by: None,
        decision_reason: None,
        created_at: now,
        decided_at: None,
    })
}

pub async fn approval(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &ApprovalId,
) -> Result<Option<Approval>> {
    let row = sqlx::query(&format!(
        "SELECT {APPROVAL_COLS} FROM approvals WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant_id.as_str())
    .bind(id.as_str())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(approval_from_row).transpose()
}

pub async fn pending_approval_for(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    escalation_id: &EscalationId,
) -> Result<Option<Approval>> {
    let row = sqlx::query(&format!(
        "SELECT {APPROVAL_COLS} FROM approvals WHERE tenant_id = $1 AND escalation_id = $2 AND state = 'pending'"
    ))
    .bind(tenant_id.as_str())
    .bind(escalation_id.as_str())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(approval_from_row).transpose()
}

/// Records a decision if the approval is still pending; false when someone decided first.
pub async fn decide_approval(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &ApprovalId,
    state: ApprovalState,
    decided_by: &UserId,
    reason: &str,
    now: Timestamp,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE approvals SET state = $1, decided_by = $2, decision_reason = $3, decided_at = $4 \
         WHERE tenant_id = $5 AND id = $6 AND state = 'pending'",
    )
    .bind(state.as_str())
    .bind(decided_by.as_str())
    .bind(reason)
    .bind(micros(now))
    .bind(tenant_id.as_str())
    .bind(id.as_str())
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The `limit` oldest pending approvals of the tenant (the rail counts those it may decide).
pub async fn pending_approvals_first(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    limit: i64,
) -> Result<Vec<Approval>> {
    let rows = sqlx::query(&format!(
        "SELECT {APPROVAL_COLS} FROM approvals WHERE tenant_id = $1 AND state = 'pending' \
         ORDER BY created_at LIMIT $2"
    ))
    .bind(tenant_id.as_str())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(approval_from_row).collect()
}

/// Every pending approval of the tenant, oldest first.
pub async fn pending_approvals(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
) -> Result<Vec<Approval>> {
    // The same query with no cap: `i64::MAX` is a LIMIT both databases accept.
    pending_approvals_first(conn, tenant_id, i64::MAX).await
}
