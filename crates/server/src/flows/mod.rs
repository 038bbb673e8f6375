//! The imperative shell around the domain core: each flow loads what a command needs inside
//! one write transaction, asks the core to decide, and writes the changes, the audit events
//! and the outbox messages in that same transaction. HTTP handlers and background workers
//! both call these.

mod actor;
pub mod attachments;
pub mod changes;
pub mod directory;
mod error;
pub mod escalation;
pub mod incidents;
pub mod people;
pub mod policy;
pub mod session;
pub mod tickets;
pub mod timers;
pub mod warm;
pub mod webhooks;

use jiff::Timestamp;
use ladder_core::{AuditKind, EventId, NotificationKind, Policy, TenantId, TicketId, UserId};
use ladder_storage::audit::NewEvent;
use ladder_storage::outbox::{self, Audience, NewMessage};
use ladder_storage::{policies, Db, StorageError, WriteTx};
use sqlx::AnyConnection;

pub use actor::Actor;
pub use error::{FieldError, FlowError, FlowResult};

/// Records an audit event of the caller's transaction, appended to the chain at its commit.
pub fn record(
    tx: &mut WriteTx,
    tenant_id: &TenantId,
    ticket_id: Option<&TicketId>,
    actor_id: Option<&UserId>,
    kind: AuditKind,
    payload: serde_json::Value,
    now: Timestamp,
) -> EventId {
    tx.record(
        NewEvent {
            tenant_id,
            ticket_id,
            actor_id,
            kind,
            payload,
        },
        now,
    )
}

/// Queues one notification to staff members in the caller's transaction (nothing when
/// `user_ids` is empty). The idempotency key ties it to the event that caused it, so a
/// retried delivery never doubles up.
#[allow(clippy::too_many_arguments)] // each is a distinct column of the outbox row
pub async fn notify_staff(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    ticket_id: &TicketId,
    user_ids: &[UserId],
    kind: NotificationKind,
    event_id: &EventId,
    payload: &str,
    now: Timestamp,
) -> FlowResult<()> {
    if user_ids.is_empty() {
        return Ok(());
    }
    outbox::enqueue(
        conn,
        NewMessage {
            tenant_id,
            ticket_id: Some(ticket_id),
            recipient_user_ids: user_ids,
            recipient_email: None,
            audience: Audience::Staff,
            kind,
            payload,
            event_id,
        },
        now,
    )
    .await?;
    Ok(())
}

/// Queues a message to the customer.
#[allow(clippy::too_many_arguments)] // each is a distinct column of the outbox row
pub async fn notify_customer(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    ticket_id: &TicketId,
    email: Option<&str>,
    kind: NotificationKind,
    event_id: &EventId,
    payload: &str,
    now: Timestamp,
) -> FlowResult<()> {
    outbox::enqueue(
        conn,
        NewMessage {
            tenant_id,
            ticket_id: Some(ticket_id),
            recipient_user_ids: &[],
            recipient_email: email,
            audience: Audience::Customer,
            kind,
            payload,
            event_id,
        },
        now,
    )
    .await?;
    Ok(())
}

/// Queues a notification that only webhooks receive (a new ticket), if the organisation
/// has a webhook for its event: a notice nobody receives is never written.
pub async fn notify_webhooks(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    ticket_id: &TicketId,
    kind: NotificationKind,
    event_id: &EventId,
    payload: &str,
    now: Timestamp,
) -> FlowResult<()> {
    let Some(event) = crate::notify::render::event_name(kind, &serde_json::Value::Null) else {
        return Ok(());
    };
    let hooks = ladder_storage::deliveries::webhooks(&mut *conn, tenant_id).await?;
    if !hooks.iter().any(|w| w.events.iter().any(|e| e == event)) {
        return Ok(());
    }
    outbox::enqueue(
        conn,
        NewMessage {
            tenant_id,
            ticket_id: Some(ticket_id),
            recipient_user_ids: &[],
            recipient_email: None,
            audience: Audience::Staff,
            kind,
            payload,
            event_id,
        },
        now,
    )
    .await?;
    Ok(())
}

/// The tenant's policy in force (the built-in default until one is saved).
pub async fn policy(db: &Db, tenant_id: &TenantId) -> FlowResult<Policy> {
    match policies::current(db, tenant_id).await? {
        Some((version, doc)) => parse_policy(tenant_id, version, &doc),
        None => Ok(Policy::default()),
    }
}

/// Same as [`policy`], read inside a transaction.
pub async fn policy_in(conn: &mut AnyConnection, tenant_id: &TenantId) -> FlowResult<Policy> {
    match policies::current_in(conn, tenant_id).await? {
        Some((version, doc)) => parse_policy(tenant_id, version, &doc),
        None => Ok(Policy::default()),
    }
}

/// A stored policy that does not parse is a corrupt row: falling back to the built-in policy
/// would route escalations by rules the tenant never chose.
fn parse_policy(tenant_id: &TenantId, version: i64, doc: &str) -> FlowResult<Policy> {
    serde_json::from_str(doc).map_err(|e| {
        FlowError::Storage(StorageError::Corrupt {
            table: "policies",
            detail: format!("tenant {tenant_id}'s policy version {version} does not parse: {e}"),
        })
    })
}
