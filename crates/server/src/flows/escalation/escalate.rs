//! Escalating a ticket: by hand, or automatically (triggers, first response, incidents).

use jiff::Timestamp;
use ladder_core::escalation::{check_escalate, priority_at};
use ladder_core::sla::{position_on_chain, SlaClocks};
use ladder_core::text::{LongText, Text};
use ladder_core::AuditKind;
use ladder_core::NotificationKind;
use ladder_core::TicketId;
use ladder_core::{
    Category, ContactMethod, EscalationState, Target, TicketStatus, TriggerKind, Urgency,
};
use ladder_core::{EscalationId, TenantId, UserId};
use ladder_storage::directory;
use ladder_storage::escalations::{self, Escalation};
use ladder_storage::tickets::{self, Ticket};
use ladder_storage::{new_id, Db, WriteTx};
use serde_json::json;
use sqlx::AnyConnection;

use super::{details, target_json};
use crate::flows::people::People;
use crate::flows::tickets::load_for_update;
use crate::flows::Actor;
use crate::flows::{notify_staff, policy_in, record};
use crate::flows::{FlowError, FlowResult};
use crate::sla;

/// The command to escalate a ticket, by hand or automatically.
pub struct Escalate {
    /// Who to escalate to; the policy's chain (by default the owner) when `None`.
    pub target: Option<Target>,
    pub category: Category,
    /// What the issue is and why it is escalated.
    pub note: LongText,
    /// What was already tried.
    pub tried: Option<LongText>,
    pub contact_method: ContactMethod,
    pub urgency: Urgency,
    /// The triggers that motivated the escalation.
    pub triggers: Vec<TriggerKind>,
}

async fn validate_target(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    target: &Target,
) -> FlowResult<()> {
    match target {
        Target::User { id } => {
            let u = directory::users_by_id(conn, tenant, std::slice::from_ref(&id.0)).await?;
            match u.first() {
                None => Err(FlowError::field(
                    "target.id",
                    format!("no user with id {:?} in this organisation", id.0),
                )),
                Some(u) if !u.role.is_tenant_staff() => Err(FlowError::field(
                    "target.id",
                    format!("{} is an {} and cannot take escalations", u.name, u.role),
                )),
                Some(_) => Ok(()),
            }
        }
        Target::Team { id } => match directory::team(conn, tenant, id).await? {
            Some(_) => Ok(()),
            None => Err(FlowError::field(
                "target.id",
                format!("no team with id {:?} in this organisation", id.0),
            )),
        },
        Target::Role { role } if !role.is_tenant_staff() => Err(FlowError::field(
            "target.role",
            format!("escalations go to owner, admin, agent or specialist roles, not {role}"),
        )),
        _ => Ok(()),
    }
}

/// Which triggers a manual escalation carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carried {
    /// Those detected on the ticket: the escalator named none.
    Detected,
    /// Exactly the escalator's list (`Escalate::triggers`), which may leave detected ones
    /// out.
    Chosen,
}

/// Escalates a ticket by hand. The automatic paths (triggers, first response, incidents)
/// call [`open_escalation`] inside their own transaction.
pub async fn escalate(
    db: &Db,
    actor: &Actor,
    ticket_id: &TicketId,
    mut req: Escalate,
    carried: Carried,
    now: Timestamp,
) -> FlowResult<Escalation> {
    let mut tx = db.write().await?;
    let (tenant, mut ticket) = load_for_update(&mut tx, db, actor, ticket_id).await?;
    check_escalate(
        ticket.status,
        ticket.active_escalation_id.is_some(),
        &actor.rules(),
    )?;
    if carried == Carried::Detected {
        req.triggers = crate::triggers::stored(&ticket)?
            .into_iter()
            .map(|f| f.kind)
            .collect();
    }
    let e = open_escalation(&mut tx, &tenant, &mut ticket, Some(actor.id()), req, now).await?;
    tx.commit().await?;
    Ok(e)
}

/// The shared body of manual and automatic escalation, inside the caller's transaction.
pub async fn open_escalation(
    tx: &mut WriteTx,
    tenant: &TenantId,
    ticket: &mut Ticket,
    requested_by: Option<&UserId>,
    req: Escalate,
    now: Timestamp,
) -> FlowResult<Escalation> {
    let policy = policy_in(tx.conn(), tenant).await?;
    let customer = directory::customer(tx.conn(), tenant, &ticket.customer_id).await?;
    let snap = sla::plan(
        &policy,
        ticket,
        customer.as_ref(),
        req.category,
        req.urgency,
        &req.triggers,
    )?;
    let chain = snap.chain();
    let requested = match req.target {
        Some(t) => {
            validate_target(tx.conn(), tenant, &t).await?;
            t
        }
        None => chain.first().cloned().unwrap_or(Target::Owner),
    };
    let position = position_on_chain(&chain, &requested);
    let people = People::load(tx.conn(), tenant).await?;
    let routed = people.route(requested.clone(), position, &chain, now);

    let priority = priority_at(
        &routed.target,
        req.category,
        req.urgency.priority().max(ticket.priority),
    );
    let mut e = Escalation {
        id: EscalationId(new_id()),
        tenant_id: tenant.clone(),
        ticket_id: ticket.id.clone(),
        state: EscalationState::Requested,
        target: routed.target.clone(),
        // Rungs skipped on the way (an away owner) count: the escalation stands on the rung
        // after them, as its audit event says.
        rung: rungs_climbed(1, routed.skipped.len())?,
        category: req.category,
        note: req.note.into_string(),
        tried: req.tried.map(Text::into_string),
        contact_method: req.contact_method,
        urgency: req.urgency,
        priority,
        triggers: req.triggers,
        requested_by: requested_by.cloned(),
        escalation_owner_id: None,
        previous_status: ticket.status,
        previous_assignee_id: ticket.assignee_id.clone(),
        previous_team_id: ticket.team_id.clone(),
        snapshot: None,
        snapshot_id: None,
        sla: None,
        ack_due_at: None,
        update_due_at: None,
        resolve_due_at: None,
        acknowledged_at: None,
        closed_at: None,
        resolution: None,
        created_at: now,
        updated_at: now,
    };
    let run = sla::Run {
        position: routed.position,
        clocks: SlaClocks::start(&snap, now),
    };
    let (snapshot_id, document) = sla::stored(&snap)?;
    escalations::save_snapshot(tx.conn(), &snapshot_id, &document.to_string()).await?;
    e.snapshot = Some(document);
    e.snapshot_id = Some(snapshot_id);
    sla::apply(&mut e, &snap, &run)?;
    let before =
        json!({"status": ticket.status, "priority": ticket.priority, "category": ticket.category});
    ticket.status = TicketStatus::Escalated;
    ticket.priority = priority;
    ticket.category = ticket.category.or(Some(e.category));
    ticket.active_escalation_id = Some(e.id.clone());
    // The ticket is written first: inserting the escalation then recomputes its runs once,
    // with both the escalation and the ticket's category.
    tickets::update_without_own_runs(tx.conn(), tenant, ticket, now).await?;
    escalations::insert(tx.conn(), &e).await?;
    if let Some(by) = requested_by {
        tickets::add_watcher(tx.conn(), tenant, &ticket.id, by, now).await?;
    }
    let after =
        json!({"status": ticket.status, "priority": ticket.priority, "category": ticket.category});
    let event = record(
        tx,
        tenant,
        Some(&ticket.id),
        requested_by,
        AuditKind::Escalated,
        json!({
            "escalation_id": e.id, "requested_target": target_json(&requested),
            "target": target_json(&e.target), "category": e.category, "note": e.note, "tried": e.tried,
            "contact_method": e.contact_method, "urgency": e.urgency, "triggers": e.triggers,
            "automatic": requested_by.is_none(),
            "skipped": routed.skipped.iter().map(|(t, why)| json!({"target": target_json(t), "reason": why})).collect::<Vec<_>>(),
            "rule": snap.rule.name, "policy_version": snap.policy_version, "rung": e.rung, "chain_position": routed.position,
            "ack_due_at": e.ack_due_at, "update_due_at": e.update_due_at, "resolve_due_at": e.resolve_due_at,
            "before": before, "after": after,
        }),
        now,
    );
    let payload = details(&e, ticket, customer.as_ref());
    let recipients: Vec<UserId> = routed.recipients.iter().map(|u| u.id.clone()).collect();
    notify_staff(
        tx.conn(),
        tenant,
        &ticket.id,
        &recipients,
        NotificationKind::EscalationRequested,
        &event,
        &payload,
        now,
    )
    .await?;
    sla::sync_timers(tx.conn(), &e, now).await?;
    Ok(e)
}

/// The rung an escalation stands on after `from`, past `skipped` rungs nobody could take.
pub(super) fn rungs_climbed(from: i64, skipped: usize) -> FlowResult<i64> {
    i64::try_from(skipped)
        .ok()
        .and_then(|n| from.checked_add(n))
        .ok_or_else(|| FlowError::Internal(anyhow::anyhow!("{skipped} rungs skipped at once")))
}
