//! Writing what an import brings (customers, tickets, comments) in batches: multi-row
//! statements inside the caller's write transaction. Each row carries the id it had in the
//! help desk it came from (`external_id`, unique per organisation), so that importing the
//! same file again finds the rows already there instead of adding them twice.

use std::collections::HashMap;

use jiff::Timestamp;
use ladder_core::{Category, Channel, CustomerTier, Priority, TenantId, TicketStatus};
use sqlx::AnyConnection;

use crate::row::{micros, new_id, new_id_at, RowExt};
use crate::sql::{in_list, rows_per_statement, Sql, CHUNK};
use crate::Result;

/// A table that holds imported rows.
#[derive(Clone, Copy, Debug)]
pub enum Table {
    Customers,
    Tickets,
    Comments,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Customers => "customers",
            Table::Tickets => "tickets",
            Table::Comments => "comments",
        }
    }
}

/// The ids of the rows of `table` already imported under these external ids.
pub async fn known(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    table: Table,
    external_ids: &[&str],
) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    for chunk in external_ids.chunks(CHUNK) {
        let mut sql = Sql::new(&format!(
            "SELECT id, external_id FROM {} WHERE tenant_id = ",
            table.name()
        ));
        let t = sql.text_arg(tenant_id.0.clone());
        sql.push(&format!("{t} AND external_id IN "));
        let list = in_list(&mut sql, chunk.iter().copied());
        sql.push(&list);
        for row in sql.fetch_all(conn).await? {
            out.insert(row.text("external_id")?, row.text("id")?);
        }
    }
    Ok(out)
}

pub struct ImportedCustomer<'a> {
    pub external_id: &'a str,
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub tier: CustomerTier,
}

/// Inserts customers; returns their new ids in order.
pub async fn insert_customers(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    rows: &[ImportedCustomer<'_>],
    now: Timestamp,
) -> Result<Vec<String>> {
    let ids: Vec<String> = rows.iter().map(|_| new_id()).collect();
    for (chunk, ids) in rows
        .chunks(rows_per_statement(8))
        .zip(ids.chunks(rows_per_statement(8)))
    {
        let mut sql = Sql::new(
            "INSERT INTO customers (id, tenant_id, name, email, phone, tier, created_at, \
             external_id) VALUES ",
        );
        for (i, (c, id)) in chunk.iter().zip(ids).enumerate() {
            sql.row(i == 0, |q| {
                vec![
                    q.arg(id.clone()),
                    q.arg(tenant_id.0.clone()),
                    q.arg(c.name.to_owned()),
                    q.arg(c.email.map(str::to_owned)),
                    q.arg(c.phone.map(str::to_owned)),
                    q.arg(c.tier.as_str()),
                    q.arg(micros(now)),
                    q.arg(c.external_id.to_owned()),
                ]
            });
        }
        sql.execute(&mut *conn).await?;
    }
    Ok(ids)
}

pub struct ImportedTicket<'a> {
    pub external_id: &'a str,
    pub customer_id: &'a str,
    pub subject: &'a str,
    pub description: &'a str,
    pub channel: Channel,
    pub category: Option<Category>,
    pub priority: Priority,
    pub status: TicketStatus,
    pub assignee_id: Option<&'a str>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Inserts tickets as they were (status, times, assignee); returns their new ids in order.
/// No trigger detection, timers or escalations: imported history is not live work.
pub async fn insert_tickets(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    rows: &[ImportedTicket<'_>],
) -> Result<Vec<String>> {
    let ids: Vec<String> = rows.iter().map(|t| new_id_at(t.created_at)).collect();
    let per = rows_per_statement(13);
    for (chunk, ids) in rows.chunks(per).zip(ids.chunks(per)) {
        let mut sql = Sql::new(
            "INSERT INTO tickets (id, tenant_id, subject, description, customer_id, channel, \
             category, priority, status, assignee_id, team_id, tags, triggers, \
             first_response_at, created_by, created_at, updated_at, external_id) VALUES ",
        );
        for (i, (t, id)) in chunk.iter().zip(ids).enumerate() {
            sql.row(i == 0, |q| {
                vec![
                    q.arg(id.clone()),
                    q.arg(tenant_id.0.clone()),
                    q.arg(t.subject.to_owned()),
                    q.arg(t.description.to_owned()),
                    q.arg(t.customer_id.to_owned()),
                    q.arg(t.channel.as_str()),
                    q.arg(t.category.map(Category::as_str)),
                    q.arg(t.priority.as_str()),
                    q.arg(t.status.as_str()),
                    q.arg(t.assignee_id.map(str::to_owned)),
                    crate::sql::Mark::Lit("NULL, '[]', '[]', NULL, NULL"),
                    q.arg(micros(t.created_at)),
                    q.arg(micros(t.updated_at)),
                    q.arg(t.external_id.to_owned()),
                ]
            });
        }
        sql.execute(&mut *conn).await?;
    }
    Ok(ids)
}

pub struct ImportedComment<'a> {
    pub external_id: &'a str,
    pub ticket_id: &'a str,
    /// Staff who wrote it; none when the customer did.
    pub author_id: Option<&'a str>,
    pub body: &'a str,
    pub public: bool,
    pub created_at: Timestamp,
}

/// Inserts comments; returns their new ids in order.
pub async fn insert_comments(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    rows: &[ImportedComment<'_>],
) -> Result<Vec<String>> {
    let ids: Vec<String> = rows.iter().map(|_| new_id()).collect();
    let per = rows_per_statement(10);
    for (chunk, ids) in rows.chunks(per).zip(ids.chunks(per)) {
        let mut sql = Sql::new(
            "INSERT INTO comments (id, tenant_id, ticket_id, author_id, body, public, \
             logged_call, created_at, external_id, indexed_chars) VALUES ",
        );
        for (i, (c, id)) in chunk.iter().zip(ids).enumerate() {
            sql.row(i == 0, |q| {
                vec![
                    q.arg(id.clone()),
                    q.arg(tenant_id.0.clone()),
                    q.arg(c.ticket_id.to_owned()),
                    q.arg(c.author_id.map(str::to_owned)),
                    q.arg(c.body.to_owned()),
                    q.arg(c.public),
                    q.arg(false),
                    q.arg(micros(c.created_at)),
                    q.arg(c.external_id.to_owned()),
                    q.arg(crate::tickets::indexed_chars(c.author_id.is_none(), c.body)),
                ]
            });
        }
        sql.execute(&mut *conn).await?;
        // What the customer wrote carries their id, as `tickets::insert_comment` sets it, so
        // that repeat contact counts imported history too. The ticket may come from an
        // earlier import, so its customer is read here rather than passed in.
        let theirs: Vec<&String> = chunk
            .iter()
            .zip(ids)
            .filter(|(c, _)| c.author_id.is_none())
            .map(|(_, id)| id)
            .collect();
        if !theirs.is_empty() {
            let mut sql = Sql::new(
                "UPDATE comments SET contact_customer_id = (SELECT t.customer_id FROM tickets t \
                 WHERE t.tenant_id = comments.tenant_id AND t.id = comments.ticket_id) \
                 WHERE tenant_id = ",
            );
            let t = sql.text_arg(tenant_id.0.clone());
            sql.push(&format!("{t} AND author_id IS NULL AND id IN "));
            sql.row(true, |q| {
                theirs.iter().map(|id| q.arg((*id).clone())).collect()
            });
            sql.execute(&mut *conn).await?;
        }
    }
    Ok(ids)
}

/// After an import has written new rows, on PostgreSQL: statistics taken before the organisation's
/// external ids existed have the planner look ids up by organisation alone, filtering the
/// ids (95 ms for each batch of 500 when the same 100,000 tickets were imported again at
/// once). Autovacuum would refresh them in time; an import run again need not wait for it.
pub async fn refresh_statistics(db: &crate::Db) -> Result<()> {
    if db.backend() == crate::Backend::Postgres {
        let mut conn = db.conn().await?;
        sqlx::query("ANALYZE customers, tickets, comments")
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
