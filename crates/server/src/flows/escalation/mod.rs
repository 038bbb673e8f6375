//! Escalate, acknowledge, resolve, de-escalate and re-escalate, with approvals for
//! compensation above the resolver's authority: one file per command, and here what they
//! share (loading an escalation, the notification payload, closing the clocks).

mod acknowledge;
mod approvals;
mod away;
mod de_escalate;
mod escalate;
mod move_up;
mod resolve;
mod verify;
mod waiting;

pub use acknowledge::{acknowledge, acknowledge_reporting};
pub use approvals::decide;
pub use away::set_availability;
pub use de_escalate::de_escalate;
pub use escalate::{escalate, open_escalation, Carried, Escalate};
pub use move_up::{move_up, plan_move_up, re_escalate, MoveReason};
pub use resolve::{resolve, Compensation, Resolve, Resolved};
pub use verify::verify;
pub use waiting::{customer_updated, set_waiting};

use std::sync::Arc;

use jiff::Timestamp;
use ladder_core::{
    Category, ContactMethod, CustomerTier, EscalationId, Priority, Target, TenantId, TriggerKind,
    Urgency, UserId,
};
use ladder_storage::directory;
use ladder_storage::escalations::{self, Escalation};
use ladder_storage::tickets::Ticket;
use ladder_storage::{Db, WriteTx};
use serde::Serialize;
use sqlx::AnyConnection;

use crate::flows::tickets::load_for_update;
use crate::flows::Actor;
use crate::flows::{FlowError, FlowResult};
use crate::sla;
fn target_json(t: &Target) -> serde_json::Value {
    serde_json::to_value(t).unwrap_or_default()
}

/// Everything the person taking an escalation needs, in the notification itself. A typed
/// struct rather than a `json!` tree: the timer engine writes thousands of these a second.
#[derive(Serialize)]
struct Details<'a> {
    ack_due_at: Option<Timestamp>,
    category: Category,
    contact_method: ContactMethod,
    customer: Option<CustomerDetails<'a>>,
    escalation_id: &'a str,
    note: &'a str,
    priority: Priority,
    requested_by: Option<&'a str>,
    resolve_due_at: Option<Timestamp>,
    subject: &'a str,
    target: &'a Target,
    ticket_id: &'a str,
    tried: Option<&'a str>,
    triggers: &'a [TriggerKind],
    urgency: Urgency,
}

#[derive(Serialize)]
struct CustomerDetails<'a> {
    email: Option<&'a str>,
    name: &'a str,
    phone: Option<&'a str>,
    tier: CustomerTier,
}

/// The notification payload for an escalation, as JSON text.
fn details(e: &Escalation, t: &Ticket, customer: Option<&directory::Customer>) -> Arc<str> {
    let details = Details {
        ack_due_at: e.ack_due_at,
        category: e.category,
        contact_method: e.contact_method,
        customer: customer.map(|c| CustomerDetails {
            email: c.email.as_deref(),
            name: &c.name,
            phone: c.phone.as_deref(),
            tier: c.tier,
        }),
        escalation_id: e.id.as_str(),
        note: &e.note,
        priority: e.priority,
        requested_by: e.requested_by.as_ref().map(UserId::as_str),
        resolve_due_at: e.resolve_due_at,
        subject: &t.subject,
        target: &e.target,
        ticket_id: t.id.as_str(),
        tried: e.tried.as_deref(),
        triggers: &e.triggers,
        urgency: e.urgency,
    };
    // Serialising plain data into a string cannot fail.
    serde_json::to_string(&details).unwrap_or_default().into()
}

/// Loads an escalation the actor may see (platform support: only platform escalations),
/// and its ticket, locked.
async fn load(
    tx: &mut WriteTx,
    db: &Db,
    actor: &Actor,
    id: &EscalationId,
) -> FlowResult<(TenantId, Escalation, Ticket)> {
    let scope = if actor.is_platform() {
        None
    } else {
        Some(actor.tenant())
    };
    let e = escalations::get(tx.conn(), scope, id)
        .await?
        .ok_or_else(|| FlowError::NotFound("escalation"))?;
    let (tenant, ticket) = load_for_update(tx, db, actor, &e.ticket_id).await?;
    // Re-read under the ticket lock so that the state we decide on is current.
    let e = escalations::get(tx.conn(), Some(&tenant), id)
        .await?
        .ok_or_else(|| FlowError::NotFound("escalation"))?;
    Ok((tenant, e, ticket))
}

async fn user_name(conn: &mut AnyConnection, tenant: &TenantId, id: &UserId) -> FlowResult<String> {
    Ok(
        directory::users_by_id(conn, tenant, std::slice::from_ref(&id.0))
            .await?
            .into_iter()
            .next()
            .map(|u| u.name)
            .unwrap_or_else(|| "another user".into()),
    )
}

/// Stops the run's clocks as the escalation ends.
fn close_clocks(e: &mut Escalation, now: Timestamp) -> FlowResult<()> {
    let (snap, mut run) = sla::state_of(e)?;
    run.clocks.close(now);
    sla::apply(e, &snap, &run)
}

/// The people in `ids`, each once, in order, leaving out `except` (who did it).
fn distinct_except<'a>(ids: impl Iterator<Item = &'a UserId>, except: &UserId) -> Vec<UserId> {
    let mut seen = std::collections::HashSet::new();
    ids.filter(|u| *u != except && seen.insert(*u))
        .cloned()
        .collect()
}
