//! Tickets, comments, watchers and links.

use jiff::Timestamp;
use ladder_core::{
    Category, Channel, CommentId, CustomerId, EscalationId, LinkKind, Priority, TeamId, TenantId,
    TicketId, TicketStatus, UserId,
};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::directory::{self, Customer};
use crate::escalations::{self, Escalation};
use crate::row::{in_table, micros, name_row, new_id, new_id_at, Prefixed, RowExt};
use crate::sql::{in_list, rows_per_statement, Sql, CHUNK};
use crate::{Result, StorageError};

#[derive(Clone, Debug)]
pub struct Ticket {
    pub id: TicketId,
    pub subject: String,
    pub description: String,
    pub customer_id: CustomerId,
    pub channel: Channel,
    pub category: Option<Category>,
    pub priority: Priority,
    pub status: TicketStatus,
    pub assignee_id: Option<UserId>,
    pub team_id: Option<TeamId>,
    pub tags: Vec<String>,
    /// Escalation triggers detected in the ticket's text and history: `[{kind, evidence, mode}]`.
    pub triggers: serde_json::Value,
    pub active_escalation_id: Option<EscalationId>,
    pub first_response_at: Option<Timestamp>,
    pub created_by: Option<UserId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The category as read or written, so that [`update`] recomputes the runs (whose
    /// returns go by category) only when it changed.
    stored_category: Option<Category>,
}

/// A ticket's columns, with its active escalation found through the index that allows one
/// per ticket. The ticket row does not store it: the escalation's state is the one record of
/// whether it is active, so moving up a rung writes escalations only, not the ticket.
pub(crate) const TICKET_COLS: &str = "t.id, t.subject, t.description, t.customer_id, t.channel, \
    t.category, t.priority, t.status, t.assignee_id, t.team_id, t.tags, t.triggers, \
    (SELECT ae.id FROM escalations ae WHERE ae.ticket_id = t.id \
     AND ae.state IN ('requested', 'acknowledged')) AS active_escalation_id, \
    t.first_response_at, t.created_by, t.created_at, t.updated_at";

/// The ticket columns of [`TICKET_COLS`] for a query that joins the active escalation as `e`.
const TICKET_COLS_JOINED: &str = "t.id, t.subject, t.description, t.customer_id, t.channel, \
    t.category, t.priority, t.status, t.assignee_id, t.team_id, t.tags, t.triggers, \
    e.id AS active_escalation_id, t.first_response_at, t.created_by, t.created_at, \
    t.updated_at";

pub(crate) fn ticket_from_row(row: &AnyRow) -> Result<Ticket> {
    in_table("tickets", row, ticket_columns)
}

fn ticket_columns(row: &AnyRow) -> Result<Ticket> {
    let category = row.opt_parse("category")?;
    Ok(Ticket {
        id: TicketId(row.text("id")?),
        subject: row.text("subject")?,
        description: row.text("description")?,
        customer_id: CustomerId(row.text("customer_id")?),
        channel: row.parse("channel")?,
        category,
        priority: row.parse("priority")?,
        status: row.parse("status")?,
        assignee_id: row.opt_text("assignee_id")?.map(UserId),
        team_id: row.opt_text("team_id")?.map(TeamId),
        tags: row.json("tags")?,
        triggers: row.json("triggers")?,
        active_escalation_id: row.opt_text("active_escalation_id")?.map(EscalationId),
        first_response_at: row.opt_time("first_response_at")?,
        created_by: row.opt_text("created_by")?.map(UserId),
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        stored_category: category,
    })
}

pub struct NewTicket<'a> {
    pub tenant_id: &'a TenantId,
    pub subject: &'a str,
    pub description: &'a str,
    pub customer_id: &'a CustomerId,
    pub channel: Channel,
    pub category: Option<Category>,
    pub priority: Priority,
    pub assignee_id: Option<&'a UserId>,
    pub team_id: Option<&'a TeamId>,
    pub triggers: serde_json::Value,
    pub created_by: Option<&'a UserId>,
    /// The problem key that groups reports of one problem (core's `grouping_key`), if the
    /// text has one.
    pub incident_key: Option<&'a str>,
}

pub async fn insert(conn: &mut AnyConnection, t: NewTicket<'_>, now: Timestamp) -> Result<Ticket> {
    let id = TicketId(new_id_at(now));
    let status = TicketStatus::New;
    sqlx::query(
        "INSERT INTO tickets (id, tenant_id, subject, description, customer_id, channel, category, \
         priority, status, assignee_id, team_id, tags, triggers, first_response_at, created_by, \
         created_at, updated_at, incident_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '[]', $12, NULL, $13, $14, $14, $15)",
    )
    .bind(id.as_str())
    .bind(t.tenant_id.as_str())
    .bind(t.subject)
    .bind(t.description)
    .bind(t.customer_id.as_str())
    .bind(t.channel.as_str())
    .bind(t.category.map(Category::as_str))
    .bind(t.priority.as_str())
    .bind(status.as_str())
    .bind(t.assignee_id.map(UserId::as_str))
    .bind(t.team_id.map(TeamId::as_str))
    .bind(t.triggers.to_string())
    .bind(t.created_by.map(UserId::as_str))
    .bind(micros(now))
    .bind(t.incident_key)
    .execute(&mut *conn)
    .await?;
    // The customer's new ticket may be the return of one of their resolved escalations (by
    // category or problem key, so the key is written with the row rather than after it).
    // It has no escalation, so no runs of its own.
    crate::metrics::refresh_customer(conn, t.tenant_id, &id, t.customer_id, now).await?;
    Ok(Ticket {
        id,
        subject: t.subject.to_owned(),
        description: t.description.to_owned(),
        customer_id: t.customer_id.clone(),
        channel: t.channel,
        category: t.category,
        priority: t.priority,
        status,
        assignee_id: t.assignee_id.cloned(),
        team_id: t.team_id.cloned(),
        tags: Vec::new(),
        triggers: t.triggers,
        active_escalation_id: None,
        first_response_at: None,
        created_by: t.created_by.cloned(),
        created_at: now,
        updated_at: now,
        stored_category: t.category,
    })
}

/// Reads a ticket inside a transaction. On PostgreSQL the row is locked until the
/// transaction ends, so two commands on one ticket run one after the other.
pub async fn get_for_update(
    conn: &mut AnyConnection,
    pg: bool,
    tenant_id: &TenantId,
    id: &TicketId,
) -> Result<Option<Ticket>> {
    let sql = format!(
        "SELECT {TICKET_COLS} FROM tickets t WHERE t.tenant_id = $1 AND t.id = $2{}",
        if pg { " FOR UPDATE" } else { "" }
    );
    let row = sqlx::query(&sql)
        .bind(tenant_id.as_str())
        .bind(id.as_str())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(ticket_from_row).transpose()
}

pub async fn get(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &TicketId,
) -> Result<Option<Ticket>> {
    get_for_update(conn, false, tenant_id, id).await
}

/// Writes back every mutable field of a ticket.
pub async fn update(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    t: &Ticket,
    now: Timestamp,
) -> Result<()> {
    write_back(conn, tenant_id, t, now, true).await
}

/// [`update`] for a caller that recomputes the ticket's own runs right after (inserting an
/// escalation does): a changed category still recomputes what it decides among the
/// customer's other tickets, but the ticket's runs are left to the caller, not done twice.
pub async fn update_without_own_runs(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    t: &Ticket,
    now: Timestamp,
) -> Result<()> {
    write_back(conn, tenant_id, t, now, false).await
}

async fn write_back(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    t: &Ticket,
    now: Timestamp,
    own_runs: bool,
) -> Result<()> {
    let r = sqlx::query(
        "UPDATE tickets SET category = $1, priority = $2, status = $3, assignee_id = $4, \
         team_id = $5, tags = $6, triggers = $7, first_response_at = $8, updated_at = $9 \
         WHERE tenant_id = $10 AND id = $11",
    )
    .bind(t.category.map(Category::as_str))
    .bind(t.priority.as_str())
    .bind(t.status.as_str())
    .bind(t.assignee_id.as_ref().map(UserId::as_str))
    .bind(t.team_id.as_ref().map(TeamId::as_str))
    .bind(serde_json::to_string(&t.tags).unwrap_or_else(|_| "[]".into()))
    .bind(t.triggers.to_string())
    .bind(t.first_response_at.map(micros))
    .bind(micros(now))
    .bind(tenant_id.as_str())
    .bind(t.id.as_str())
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() != 1 {
        return Err(StorageError::Conflict(format!(
            "ticket {} vanished during update",
            t.id
        )));
    }
    // Its category decides what counts as a return, of its own escalations and as the
    // customer's later ticket. (Of what it writes, only the category goes into a run:
    // escalations, responses, links and reopening recompute the runs themselves.)
    if t.category != t.stored_category {
        if own_runs {
            crate::metrics::refresh(conn, tenant_id, &[&t.id]).await?;
        }
        crate::metrics::refresh_customer(conn, tenant_id, &t.id, &t.customer_id, t.created_at)
            .await?;
    }
    Ok(())
}

/// A ticket read with its tenant, its active escalation and its customer.
pub type TicketContext = (TenantId, Ticket, Option<Escalation>, Option<Customer>);

/// Tickets by id, each with its active escalation (without the snapshot document, which the
/// engine knows by id: [`escalations::snapshots`]) and its customer, in one joined row per
/// ticket: what the timer engine reads for a batch, in a third of the rows and statements.
pub async fn get_many_in_context(
    conn: &mut AnyConnection,
    ids: &[TicketId],
) -> Result<Vec<TicketContext>> {
    let select = format!(
        "SELECT t.tenant_id, {TICKET_COLS_JOINED}, {}, c.id AS c_id, c.name AS c_name, \
         c.email AS c_email, c.phone AS c_phone, c.tier AS c_tier, c.created_at AS c_created_at \
         FROM tickets t \
         LEFT JOIN escalations e ON e.ticket_id = t.id \
             AND e.state IN ('requested', 'acknowledged') \
         LEFT JOIN customers c ON c.id = t.customer_id WHERE t.id IN ",
        escalations::prefixed_cols()
    );
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let mut sql = Sql::new(&select);
        let list = in_list(&mut sql, chunk.iter().map(TicketId::as_str));
        sql.push(&list);
        for row in sql.fetch_all(conn).await? {
            let escalation = Prefixed::joined(&row, "e_", escalations::escalation_from_row)?;
            let customer = Prefixed::joined(&row, "c_", directory::customer_from_row)?;
            out.push((
                TenantId(row.text("tenant_id")?),
                ticket_from_row(&row)?,
                escalation,
                customer,
            ));
        }
    }
    Ok(out)
}

/// Sets tickets' priorities: one statement per chunk of `(tenant, ticket, priority)`.
pub async fn set_priorities(
    conn: &mut AnyConnection,
    rows: &[(TenantId, TicketId, Priority)],
    now: Timestamp,
) -> Result<()> {
    for chunk in rows.chunks(rows_per_statement(4)) {
        let mut sql = Sql::new(
            "UPDATE tickets SET priority = v.column3, updated_at = v.column4 FROM (VALUES ",
        );
        for (i, (tenant, ticket, priority)) in chunk.iter().enumerate() {
            sql.row(i == 0, |q| {
                vec![
                    q.arg(tenant.0.clone()),
                    q.arg(ticket.0.clone()),
                    q.arg(priority.as_str()),
                    q.arg(micros(now)),
                ]
            });
        }
        sql.push(") AS v WHERE tickets.tenant_id = v.column1 AND tickets.id = v.column2");
        sql.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Adds watchers `(tenant, ticket, user)`; those already watching are left as they are.
pub async fn add_watchers(
    conn: &mut AnyConnection,
    rows: &[(TenantId, TicketId, UserId)],
    now: Timestamp,
) -> Result<()> {
    for chunk in rows.chunks(rows_per_statement(4)) {
        let mut sql =
            Sql::new("INSERT INTO watchers (tenant_id, ticket_id, user_id, created_at) VALUES ");
        for (i, (tenant, ticket, user)) in chunk.iter().enumerate() {
            sql.row(i == 0, |q| {
                vec![
                    q.arg(tenant.0.clone()),
                    q.arg(ticket.0.clone()),
                    q.arg(user.0.clone()),
                    q.arg(micros(now)),
                ]
            });
        }
        sql.push(" ON CONFLICT (ticket_id, user_id) DO NOTHING");
        sql.execute(&mut *conn).await?;
    }
    Ok(())
}

/// How many times one customer contacted the tenant in `[since, before)`, counting up to
/// `cap`: each ticket opened for them and each message they sent on any of their tickets (for
/// repeat detection). Read through two indexes and stopped at `cap` each, so it costs the
/// same however long the customer's history is.
pub async fn customer_contacts(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    customer_id: &CustomerId,
    since: Timestamp,
    before: Timestamp,
    cap: u32,
) -> Result<u32> {
    // An incident's parent ticket carries its first reporter as customer but is not a contact.
    let (tickets, messages): (i64, i64) = sqlx::query_as(
        "SELECT \
         (SELECT COUNT(*) FROM (SELECT 1 FROM tickets p \
          WHERE p.tenant_id = $1 AND p.customer_id = $2 AND p.created_at >= $3 AND p.created_at < $4 \
          AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.tenant_id = $1 AND i.parent_ticket_id = p.id) \
          LIMIT $5) AS a), \
         (SELECT COUNT(*) FROM (SELECT 1 FROM comments c \
          WHERE c.tenant_id = $1 AND c.contact_customer_id = $2 \
          AND c.created_at >= $3 AND c.created_at < $4 LIMIT $5) AS b)",
    )
    .bind(tenant_id.as_str())
    .bind(customer_id.as_str())
    .bind(micros(since))
    .bind(micros(before))
    .bind(i64::from(cap))
    .fetch_one(conn)
    .await?;
    let total = u64::try_from(tickets.max(0) + messages.max(0)).unwrap_or(0);
    Ok(u32::try_from(total).unwrap_or(u32::MAX).min(cap))
}

// --- comments -------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct Comment {
    pub id: CommentId,
    pub ticket_id: TicketId,
    pub author_id: Option<UserId>,
    pub body: String,
    /// A reply the customer sees (`true`) or an internal note for staff (`false`).
    pub public: bool,
    /// A phone call with the customer, written up by staff.
    pub logged_call: bool,
    pub created_at: Timestamp,
}

/// How much of a comment's body the search index holds (`comments.indexed_chars`): for a
/// customer's message, what precedes a reply's quoted history; all of it (`None`) for staff
/// comments, which quote no history and whose pages fold none.
pub(crate) fn indexed_chars(from_customer: bool, body: &str) -> Option<i64> {
    if !from_customer {
        return None;
    }
    ladder_core::quoting::indexed_chars(body)
}

#[allow(clippy::too_many_arguments)] // each is a column of the comment row
pub async fn insert_comment(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    ticket_id: &TicketId,
    author_id: Option<&UserId>,
    body: &str,
    public: bool,
    logged_call: bool,
    now: Timestamp,
) -> Result<Comment> {
    let id = new_id();
    // What the customer sent (no author) carries their id, for `customer_contacts`, and
    // leaves a reply's quoted history out of the search index.
    sqlx::query(
        "INSERT INTO comments (id, tenant_id, ticket_id, author_id, body, public, logged_call, \
         created_at, contact_customer_id, indexed_chars) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, (SELECT t.customer_id FROM tickets t \
         WHERE t.tenant_id = $2 AND t.id = $3 AND $9), $10)",
    )
    .bind(&id)
    .bind(tenant_id.as_str())
    .bind(ticket_id.as_str())
    .bind(author_id.map(UserId::as_str))
    .bind(body)
    .bind(public)
    .bind(logged_call)
    .bind(micros(now))
    .bind(author_id.is_none())
    .bind(indexed_chars(author_id.is_none(), body))
    .execute(&mut *conn)
    .await?;
    if logged_call || (public && author_id.is_some()) {
        // A response: the first one after an escalation is one of its figures.
        crate::metrics::refresh(conn, tenant_id, &[ticket_id]).await?;
    }
    Ok(Comment {
        id: CommentId(id),
        ticket_id: ticket_id.clone(),
        author_id: author_id.cloned(),
        body: body.to_owned(),
        public,
        logged_call,
        created_at: now,
    })
}

pub async fn comments(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    ticket_id: &TicketId,
) -> Result<Vec<Comment>> {
    let rows = sqlx::query(
        "SELECT id, ticket_id, author_id, body, CAST(public AS INTEGER) AS public, \
         CAST(logged_call AS INTEGER) AS logged_call, created_at FROM comments \
         WHERE tenant_id = $1 AND ticket_id = $2 ORDER BY created_at, id",
    )
    .bind(tenant_id.as_str())
    .bind(ticket_id.as_str())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Comment {
                id: CommentId(r.text("id")?),
                ticket_id: TicketId(r.text("ticket_id")?),
                author_id: r.opt_text("author_id")?.map(UserId),
                body: r.text("body")?,
                public: r.flag("public")?,
                logged_call: r.flag("logged_call")?,
                created_at: r.time("created_at")?,
            })
        })
        .collect()
}

// --- watchers and links ---------------------------------------------------------------------

/// Adds a watcher; returns false when they already watched.
pub async fn add_watcher(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    ticket_id: &TicketId,
    user_id: &UserId,
    now: Timestamp,
) -> Result<bool> {
    let r = sqlx::query(
        "INSERT INTO watchers (tenant_id, ticket_id, user_id, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (ticket_id, user_id) DO NOTHING",
    )
    .bind(tenant_id.as_str())
    .bind(ticket_id.as_str())
    .bind(user_id.as_str())
    .bind(micros(now))
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn watchers(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    ticket_id: &TicketId,
) -> Result<Vec<UserId>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT user_id FROM watchers WHERE tenant_id = $1 AND ticket_id = $2 ORDER BY created_at, user_id")
            .bind(tenant_id.as_str())
            .bind(ticket_id.as_str())
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|(u,)| UserId(u)).collect())
}

#[derive(Clone, Debug)]
pub struct Link {
    pub from_ticket_id: TicketId,
    pub to_ticket_id: TicketId,
    pub kind: LinkKind,
    pub created_at: Timestamp,
}

pub async fn insert_link(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    from: &TicketId,
    to: &TicketId,
    kind: LinkKind,
    now: Timestamp,
) -> Result<Link> {
    sqlx::query(
        "INSERT INTO ticket_links (tenant_id, from_ticket_id, to_ticket_id, kind, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant_id.as_str())
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(kind.as_str())
    .bind(micros(now))
    .execute(&mut *conn)
    .await
    .map_err(|e| StorageError::conflict_on_unique(e, "this link"))?;
    // A link makes escalations repeats of each other, and a later ticket a return.
    crate::metrics::refresh(conn, tenant_id, &[from, to]).await?;
    Ok(Link {
        from_ticket_id: from.clone(),
        to_ticket_id: to.clone(),
        kind,
        created_at: now,
    })
}

/// Links touching a ticket in either direction.
pub async fn links(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    ticket_id: &TicketId,
) -> Result<Vec<Link>> {
    let rows = sqlx::query(
        "SELECT from_ticket_id, to_ticket_id, kind, created_at FROM ticket_links \
         WHERE tenant_id = $1 AND (from_ticket_id = $2 OR to_ticket_id = $2) ORDER BY created_at",
    )
    .bind(tenant_id.as_str())
    .bind(ticket_id.as_str())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Link {
                from_ticket_id: TicketId(r.text("from_ticket_id")?),
                to_ticket_id: TicketId(r.text("to_ticket_id")?),
                kind: r.parse("kind").map_err(name_row(
                    "ticket_links",
                    &format!(
                        "{} -> {}",
                        r.text("from_ticket_id")?,
                        r.text("to_ticket_id")?
                    ),
                ))?,
                created_at: r.time("created_at")?,
            })
        })
        .collect()
}

/// A customer's most recent tickets, newest first, through the `tickets_by_customer` index:
/// the history shown beside a ticket.
pub async fn customer_tickets(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    customer_id: &CustomerId,
    limit: i64,
) -> Result<Vec<Ticket>> {
    let rows = sqlx::query(&format!(
        "SELECT {TICKET_COLS} FROM tickets t WHERE t.tenant_id = $1 AND t.customer_id = $2 \
         ORDER BY t.created_at DESC LIMIT $3"
    ))
    .bind(tenant_id.as_str())
    .bind(customer_id.as_str())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(ticket_from_row).collect()
}
