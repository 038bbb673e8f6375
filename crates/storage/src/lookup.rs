//! What the pages list: customers by name (the new-ticket picker, the customers page before
//! anything is typed), and a customer's tickets and escalations.
//!
//! Matching is a case-insensitive substring (`LIKE` on `lower(…)`), the same on both
//! databases (SQLite lower-cases ASCII letters only), bounded by `limit`. Full-text search
//! over descriptions and messages, and customers by name, email or phone as a person types,
//! is `search.rs`.

use ladder_core::{CustomerId, TenantId};
use sqlx::AnyConnection;

use crate::directory::{customer_from_row, Customer};
use crate::escalations::{escalation_from_row, Escalation, ESCALATION_COLS};
use crate::tickets::{ticket_from_row, Ticket, TICKET_COLS};
use crate::Result;

/// `text` as a `LIKE` pattern matching it anywhere, lower-cased, with `%`, `_` and the escape
/// character itself taken literally.
pub fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Customers whose name or email contains `query`, by name; all of them (up to `limit`)
/// when the query is empty.
pub async fn customers_matching(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    query: &str,
    limit: i64,
) -> Result<Vec<Customer>> {
    let rows = sqlx::query(
        "SELECT id, name, email, phone, tier, created_at FROM customers WHERE tenant_id = $1 \
         AND (lower(name) LIKE $2 ESCAPE '\\' OR lower(COALESCE(email, '')) LIKE $2 ESCAPE '\\') \
         ORDER BY lower(name), id LIMIT $3",
    )
    .bind(tenant_id.as_str())
    .bind(contains_pattern(query.trim()))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(customer_from_row).collect()
}

/// A customer's tickets, newest first.
pub async fn tickets_of_customer(
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

/// The escalations of a customer's tickets (every rung of every run), newest first, with
/// each one's ticket subject.
pub async fn escalations_of_customer(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    customer_id: &CustomerId,
    limit: i64,
) -> Result<Vec<(Escalation, String)>> {
    let rows = sqlx::query(&format!(
        "SELECT {ESCALATION_COLS}, t.subject AS ticket_subject FROM escalations e \
         JOIN tickets t ON t.tenant_id = e.tenant_id AND t.id = e.ticket_id \
         WHERE t.tenant_id = $1 AND t.customer_id = $2 \
         ORDER BY e.created_at DESC LIMIT $3"
    ))
    .bind(tenant_id.as_str())
    .bind(customer_id.as_str())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            use crate::row::RowExt;
            Ok((escalation_from_row(r)?, r.text("ticket_subject")?))
        })
        .collect()
}
