//! The three work queues — mine, watching, escalations — with keyset pagination so that the
//! thousandth page costs what the first does, and with counts per status.
//!
//! Each query is shaped to walk one partial index in order and stop after `limit` rows. The
//! escalations queue has several audiences (the user, their role, each of their teams, and
//! what they own), so it reads each audience's index separately with a limit and merges.

use std::collections::BTreeMap;

use ladder_core::{Category, EscalationId, EscalationState, TenantId, TicketStatus, UserId};
use sqlx::AnyConnection;

use crate::escalations::{escalation_from_row, Escalation, ESCALATION_COLS};
use crate::row::{name_row, RowExt};
use crate::sql::Sql;
use crate::tickets::{ticket_from_row, Ticket, TICKET_COLS};
use crate::{Result, StorageError};

/// The open statuses that make up "mine"; must match the `tickets_mine` index predicate.
const MINE_STATUSES: &str = "('new', 'open', 'pending')";
/// Must match the predicate of the escalation queue indexes.
const ACTIVE: &str = "('requested', 'acknowledged')";

/// A page of a queue.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// How many items the whole queue holds, by status.
    pub counts: BTreeMap<String, i64>,
    pub total: i64,
}

#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub status: Option<String>,
    pub category: Option<Category>,
    pub cursor: Option<String>,
    pub limit: i64,
}

/// One line of the escalations queue: the escalation and what a person needs to triage it.
#[derive(Clone, Debug)]
pub struct EscalationItem {
    pub escalation: Escalation,
    pub ticket_subject: String,
    pub ticket_status: TicketStatus,
}

fn parse_cursor(c: &str) -> Result<(i64, String)> {
    let (k, id) = c
        .split_once('_')
        .ok_or_else(|| StorageError::Config("cursor".into()))?;
    let k = k
        .parse()
        .map_err(|_| StorageError::Config("cursor".into()))?;
    Ok((k, id.to_owned()))
}

/// Parses a cursor as a client sent it, for validation at the edge.
pub fn cursor_is_valid(c: &str) -> bool {
    parse_cursor(c).is_ok()
}

fn cursor(key: i64, id: &str) -> String {
    format!("{key}_{id}")
}

fn status_filter(sql: &mut Sql, col: &str, f: &Filter) {
    if let Some(s) = &f.status {
        let p = sql.text_arg(s.clone());
        sql.push(&format!(" AND {col} = {p}"));
    }
}

fn category_filter(sql: &mut Sql, col: &str, f: &Filter) {
    if let Some(c) = f.category {
        let p = sql.text_arg(c.as_str().to_owned());
        sql.push(&format!(" AND {col} = {p}"));
    }
}

async fn counts(conn: &mut AnyConnection, mut sql: Sql) -> Result<(BTreeMap<String, i64>, i64)> {
    sql.push(" GROUP BY 1");
    let (text, args) = sql.into_parts(conn);
    let rows: Vec<(String, i64)> = sqlx::query_as_with(&text, args).fetch_all(conn).await?;
    let total = rows.iter().map(|(_, n)| n).sum();
    Ok((rows.into_iter().collect(), total))
}

/// Tickets assigned to the user that are still theirs to work: not escalated away, not done.
pub async fn mine(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    user_id: &UserId,
    f: &Filter,
) -> Result<Page<Ticket>> {
    let (items, next_cursor) = mine_rows(conn, tenant_id, user_id, f).await?;
    let mut c = Sql::new("SELECT t.status, COUNT(*) FROM tickets t");
    mine_where(&mut c, tenant_id, user_id, f);
    let (counts, total) = counts(conn, c).await?;
    Ok(Page {
        items,
        next_cursor,
        counts,
        total,
    })
}

fn mine_where(sql: &mut Sql, tenant_id: &TenantId, user_id: &UserId, f: &Filter) {
    let t = sql.text_arg(tenant_id.0.clone());
    let u = sql.text_arg(user_id.0.clone());
    sql.push(&format!(
        " WHERE t.tenant_id = {t} AND t.assignee_id = {u} AND t.status IN {MINE_STATUSES}"
    ));
    status_filter(sql, "t.status", f);
    category_filter(sql, "t.category", f);
}

/// One page of "mine" and the cursor of the next, without the counts.
pub async fn mine_rows(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    user_id: &UserId,
    f: &Filter,
) -> Result<(Vec<Ticket>, Option<String>)> {
    let mut sql = Sql::new(&format!("SELECT {TICKET_COLS} FROM tickets t"));
    mine_where(&mut sql, tenant_id, user_id, f);
    if let Some(c) = &f.cursor {
        let (at, id) = parse_cursor(c)?;
        let a = sql.int_arg(at);
        let i = sql.text_arg(id);
        sql.push(&format!(
            " AND (t.created_at > {a} OR (t.created_at = {a} AND t.id > {i}))"
        ));
    }
    let l = sql.int_arg(f.limit + 1);
    sql.push(&format!(" ORDER BY t.created_at, t.id LIMIT {l}"));
    let rows = sql.fetch_all(&mut *conn).await?;
    let mut items = rows
        .iter()
        .map(ticket_from_row)
        .collect::<Result<Vec<_>>>()?;
    let next_cursor = page_end(&mut items, f.limit, |t| {
        cursor(t.created_at.as_microsecond(), t.id.as_str())
    });
    Ok((items, next_cursor))
}

/// How many tickets "mine" holds with the filter's status and category (its cursor aside),
/// counting no further than `cap`: a page that only shows the number says "999+" rather than
/// walk a long queue on every view.
pub async fn mine_total(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    user_id: &UserId,
    f: &Filter,
    cap: i64,
) -> Result<i64> {
    let mut c = Sql::new("SELECT COUNT(*) FROM (SELECT 1 FROM tickets t");
    mine_where(&mut c, tenant_id, user_id, f);
    capped(conn, c, cap).await
}

/// Finishes a `SELECT COUNT(*) FROM (SELECT 1 …` with its limit and runs it.
async fn capped(conn: &mut AnyConnection, mut sql: Sql, cap: i64) -> Result<i64> {
    let l = sql.int_arg(cap.max(0));
    sql.push(&format!(" LIMIT {l}) capped"));
    let (text, args) = sql.into_parts(conn);
    let (n,): (i64,) = sqlx::query_as_with(&text, args).fetch_one(conn).await?;
    Ok(n)
}

fn page_end<T>(items: &mut Vec<T>, limit: i64, key: impl Fn(&T) -> String) -> Option<String> {
    if items.len() as i64 > limit {
        items.truncate(limit.max(0) as usize);
        items.last().map(key)
    } else {
        None
    }
}

/// Tickets the user watches (typically what they escalated), most recently watched first,
/// whatever their status: the escalator follows the ticket to its resolution.
pub async fn watching(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    user_id: &UserId,
    f: &Filter,
) -> Result<Page<Ticket>> {
    let (items, next_cursor) = watching_rows(conn, tenant_id, user_id, f).await?;
    let mut c =
        Sql::new("SELECT t.status, COUNT(*) FROM watchers w JOIN tickets t ON t.id = w.ticket_id");
    watching_where(&mut c, tenant_id, user_id, f);
    let (counts, total) = counts(conn, c).await?;
    Ok(Page {
        items,
        next_cursor,
        counts,
        total,
    })
}

fn watching_where(sql: &mut Sql, tenant_id: &TenantId, user_id: &UserId, f: &Filter) {
    let t = sql.text_arg(tenant_id.0.clone());
    let u = sql.text_arg(user_id.0.clone());
    sql.push(&format!(" WHERE w.tenant_id = {t} AND w.user_id = {u}"));
    status_filter(sql, "t.status", f);
    category_filter(sql, "t.category", f);
}

/// One page of "watching" and the cursor of the next, without the counts.
pub async fn watching_rows(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    user_id: &UserId,
    f: &Filter,
) -> Result<(Vec<Ticket>, Option<String>)> {
    let mut sql = Sql::new(&format!(
        "SELECT {TICKET_COLS}, w.created_at AS watched_at FROM watchers w JOIN tickets t ON t.id = w.ticket_id"
    ));
    watching_where(&mut sql, tenant_id, user_id, f);
    if let Some(c) = &f.cursor {
        let (at, id) = parse_cursor(c)?;
        let a = sql.int_arg(at);
        let i = sql.text_arg(id);
        sql.push(&format!(
            " AND (w.created_at < {a} OR (w.created_at = {a} AND w.ticket_id < {i}))"
        ));
    }
    let l = sql.int_arg(f.limit + 1);
    sql.push(&format!(
        " ORDER BY w.created_at DESC, w.ticket_id DESC LIMIT {l}"
    ));
    let rows = sql.fetch_all(&mut *conn).await?;
    let mut items = Vec::with_capacity(rows.len());
    let mut keys = Vec::with_capacity(rows.len());
    for r in &rows {
        items.push(ticket_from_row(r)?);
        keys.push(r.int("watched_at")?);
    }
    let next_cursor = if items.len() as i64 > f.limit {
        items.truncate(f.limit.max(0) as usize);
        items
            .last()
            .map(|t| cursor(keys[items.len() - 1], t.id.as_str()))
    } else {
        None
    };
    Ok((items, next_cursor))
}

/// How many tickets the user watches with the filter's status and category, counting no
/// further than `cap`. Without a filter only the watchers index is read: the status is on
/// the ticket, and joining every watched ticket (thousands for an owner who watches what
/// their people escalate) made each page's rail slow.
pub async fn watching_total(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    user_id: &UserId,
    f: &Filter,
    cap: i64,
) -> Result<i64> {
    let c = if f.status.is_none() && f.category.is_none() {
        let mut c = Sql::new("SELECT COUNT(*) FROM (SELECT 1 FROM watchers w");
        let t = c.text_arg(tenant_id.0.clone());
        let u = c.text_arg(user_id.0.clone());
        c.push(&format!(" WHERE w.tenant_id = {t} AND w.user_id = {u}"));
        c
    } else {
        let mut c = Sql::new(
            "SELECT COUNT(*) FROM (SELECT 1 FROM watchers w JOIN tickets t ON t.id = w.ticket_id",
        );
        watching_where(&mut c, tenant_id, user_id, f);
        c
    };
    capped(conn, c, cap).await
}

/// Who an escalations queue is for.
pub enum Audience<'a> {
    /// A tenant user: escalations targeted at any of `keys` (their user, role and team keys)
    /// or owned by them.
    Staff {
        tenant_id: &'a TenantId,
        user_id: &'a UserId,
        keys: &'a [String],
    },
    /// Platform support: every tenant's escalations to the platform.
    Platform,
}

/// Active escalations addressed to the audience, soonest due first.
pub async fn escalations(
    conn: &mut AnyConnection,
    audience: &Audience<'_>,
    f: &Filter,
) -> Result<Page<EscalationItem>> {
    let (items, next_cursor) = escalations_rows(conn, audience, f).await?;
    // Counted per audience branch, like the page, so each branch is one index-only range;
    // UNION drops an escalation both targeted at and owned by the user.
    let mut c = Sql::new("SELECT state, COUNT(*) FROM (");
    audience_union(&mut c, audience, &audience_branches(audience), f);
    c.push(") audience");
    let (counts, total) = counts(conn, c).await?;
    Ok(Page {
        items,
        next_cursor,
        counts,
        total,
    })
}

/// One page of the escalations queue and the cursor of the next, without the counts.
pub async fn escalations_rows(
    conn: &mut AnyConnection,
    audience: &Audience<'_>,
    f: &Filter,
) -> Result<(Vec<EscalationItem>, Option<String>)> {
    let after = f.cursor.as_deref().map(parse_cursor).transpose()?;
    // One ordered, limited index walk per audience key.
    let branches = audience_branches(audience);
    let mut sql = Sql::new("SELECT id, due_at FROM (");
    for (i, (col, key)) in branches.iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ");
        }
        sql.push("SELECT * FROM (SELECT e.id, e.due_at FROM escalations e WHERE ");
        branch_filter(&mut sql, audience, col, key.as_deref(), f);
        if let Some((at, id)) = &after {
            let a = sql.int_arg(*at);
            let b = sql.text_arg(id.clone());
            sql.push(&format!(
                " AND (e.due_at > {a} OR (e.due_at = {a} AND e.id > {b}))"
            ));
        }
        let l = sql.int_arg(f.limit + 1);
        sql.push(&format!(" ORDER BY e.due_at, e.id LIMIT {l}) b{i}"));
    }
    let l = sql.int_arg(f.limit + 1);
    sql.push(&format!(") merged ORDER BY due_at, id LIMIT {l}"));
    let (text, args) = sql.into_parts(conn);
    let ids: Vec<(EscalationId, i64)> = sqlx::query_as_with::<_, (String, i64), _>(&text, args)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|(id, due)| (EscalationId(id), due))
        .collect();

    let mut items = Vec::with_capacity(ids.len());
    if !ids.is_empty() {
        let mut q = Sql::new(&format!(
            "SELECT {ESCALATION_COLS}, t.subject AS ticket_subject, t.status AS ticket_status \
             FROM escalations e JOIN tickets t ON t.id = e.ticket_id WHERE e.id IN ("
        ));
        for (i, (id, _)) in ids.iter().enumerate() {
            let p = q.text_arg(id.0.clone());
            q.push(if i == 0 { "" } else { ", " }).push(&p.to_string());
        }
        q.push(")");
        let rows = sqlx::query_with(&q.text, q.args)
            .fetch_all(&mut *conn)
            .await?;
        let mut by_id = std::collections::HashMap::with_capacity(rows.len());
        for r in &rows {
            let e = escalation_from_row(r)?;
            let item = EscalationItem {
                ticket_subject: r.text("ticket_subject")?,
                ticket_status: r
                    .parse("ticket_status")
                    .map_err(name_row("tickets", e.ticket_id.as_str()))?,
                escalation: e,
            };
            by_id.insert(item.escalation.id.clone(), item);
        }
        for (id, _) in &ids {
            if let Some(item) = by_id.remove(id) {
                items.push(item);
            }
        }
    }
    let due: std::collections::HashMap<EscalationId, i64> = ids.into_iter().collect();
    let next_cursor = page_end(&mut items, f.limit, |it| {
        cursor(
            due.get(&it.escalation.id).copied().unwrap_or_default(),
            it.escalation.id.as_str(),
        )
    });

    Ok((items, next_cursor))
}

fn audience_branches(audience: &Audience<'_>) -> Vec<(String, Option<String>)> {
    let mut branches: Vec<(String, Option<String>)> = Vec::new();
    match audience {
        Audience::Staff { keys, .. } => {
            for k in keys.iter() {
                branches.push(("e.target_key".into(), Some(k.clone())));
            }
            branches.push(("e.escalation_owner_id".into(), None));
        }
        Audience::Platform => branches.push(("e.target_key".into(), Some("platform".into()))),
    }
    branches
}

/// Every audience branch's escalations, `(id, state)`, each one index range.
fn audience_union(
    sql: &mut Sql,
    audience: &Audience<'_>,
    branches: &[(String, Option<String>)],
    f: &Filter,
) {
    for (i, (col, key)) in branches.iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ");
        }
        sql.push("SELECT e.id, e.state FROM escalations e WHERE ");
        branch_filter(sql, audience, col, key.as_deref(), f);
    }
}

/// How many active escalations the audience's queue holds with the filter's status and
/// category, counting no further than `cap`.
pub async fn escalations_total(
    conn: &mut AnyConnection,
    audience: &Audience<'_>,
    f: &Filter,
    cap: i64,
) -> Result<i64> {
    let mut c = Sql::new("SELECT COUNT(*) FROM (SELECT 1 FROM (");
    audience_union(&mut c, audience, &audience_branches(audience), f);
    c.push(") audience");
    capped(conn, c, cap).await
}

/// The WHERE clause of one audience branch of the escalations queue: one partial-index range
/// (the tenant and one audience key, or the platform), with the caller's filters.
fn branch_filter(sql: &mut Sql, audience: &Audience<'_>, col: &str, key: Option<&str>, f: &Filter) {
    if let Audience::Staff {
        tenant_id, user_id, ..
    } = audience
    {
        let t = sql.text_arg(tenant_id.0.clone());
        let v = sql.text_arg(key.unwrap_or(user_id.as_str()).to_owned());
        sql.push(&format!("e.tenant_id = {t} AND {col} = {v}"));
    } else {
        sql.push("e.target_key = 'platform'");
    }
    sql.push(&format!(" AND e.state IN {ACTIVE}"));
    status_filter(sql, "e.state", f);
    category_filter(sql, "e.category", f);
}

/// Whether `s` names an escalation state that can be in the queue.
pub fn is_queue_state(s: &str) -> bool {
    matches!(
        s.parse::<EscalationState>(),
        Ok(EscalationState::Requested | EscalationState::Acknowledged)
    )
}
