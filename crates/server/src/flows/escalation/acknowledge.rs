//! Taking ownership of an escalation.

use jiff::Timestamp;
use ladder_core::escalation::check_acknowledge;
use ladder_core::AuditKind;
use ladder_core::EscalationId;
use ladder_core::EscalationState;
use ladder_core::NotificationKind;
use ladder_storage::directory;
use ladder_storage::escalations::{self, Escalation};
use ladder_storage::tickets::{self};
use ladder_storage::Db;
use serde_json::json;

use super::{load, user_name};
use crate::flows::Actor;
use crate::flows::{notify_customer, notify_staff, record};
use crate::flows::{FlowError, FlowResult};
use crate::sla;

/// The actor becomes the single named owner of the escalation.
pub async fn acknowledge(
    db: &Db,
    actor: &Actor,
    id: &EscalationId,
    now: Timestamp,
) -> FlowResult<Escalation> {
    Ok(acknowledge_reporting(db, actor, id, now).await?.0)
}

/// [`acknowledge`], saying whether it acknowledged (`false`: the actor already owned it,
/// and nothing was written), so that counters count only what the audit trail records.
pub async fn acknowledge_reporting(
    db: &Db,
    actor: &Actor,
    id: &EscalationId,
    now: Timestamp,
) -> FlowResult<(Escalation, bool)> {
    let mut tx = db.write().await?;
    let (tenant, mut e, mut ticket) = load(&mut tx, db, actor, id).await?;
    let owner_name = match &e.escalation_owner_id {
        Some(o) => Some((o.clone(), user_name(tx.conn(), &tenant, o).await?)),
        None => None,
    };
    let owner = owner_name.as_ref().map(|(i, n)| (i.as_str(), n.as_str()));
    if !check_acknowledge(e.state, &e.target, owner, &actor.rules())? {
        return Ok((e, false));
    }
    e.state = EscalationState::Acknowledged;
    e.escalation_owner_id = Some(actor.id().to_owned());
    e.acknowledged_at = Some(now);
    e.updated_at = now;
    let (snap, mut run) = sla::state_of(&e)?;
    run.clocks.acknowledge(now);
    sla::apply(&mut e, &snap, &run)?;
    if !escalations::update_if_state(tx.conn(), &e, EscalationState::Requested).await? {
        // Someone else acknowledged between our read and our write.
        let cur = escalations::get(tx.conn(), Some(&tenant), id)
            .await?
            .ok_or_else(|| FlowError::NotFound("escalation"))?;
        let name = match &cur.escalation_owner_id {
            Some(o) => user_name(tx.conn(), &tenant, o).await?,
            None => "another user".into(),
        };
        return Err(FlowError::Conflict(format!(
            "already acknowledged by {name}, who owns this escalation"
        )));
    }
    let before_assignee = ticket.assignee_id.clone();
    if !actor.is_platform() {
        ticket.assignee_id = Some(actor.id().to_owned());
        tickets::update(tx.conn(), &tenant, &ticket, now).await?;
    }
    let event = record(
        &mut tx,
        &tenant,
        Some(&ticket.id),
        Some(actor.id()),
        AuditKind::Acknowledged,
        json!({
            "escalation_id": e.id, "escalation_owner_id": actor.id(), "escalation_owner": actor.name,
            "before": {"state": "requested", "assignee_id": before_assignee},
            "after": {"state": "acknowledged", "assignee_id": ticket.assignee_id},
            "update_due_at": e.update_due_at,
        }),
        now,
    );
    if let Some(by) = &e.requested_by {
        let payload = json!({"escalation_id": e.id, "ticket_id": ticket.id, "subject": ticket.subject, "escalation_owner": actor.name})
    .to_string();
        notify_staff(
            tx.conn(),
            &tenant,
            &ticket.id,
            std::slice::from_ref(by),
            NotificationKind::EscalationAcknowledged,
            &event,
            &payload,
            now,
        )
        .await?;
    }
    let customer = directory::customer(tx.conn(), &tenant, &ticket.customer_id).await?;
    let payload = json!({
        "ticket_id": ticket.id, "subject": ticket.subject, "escalation_owner": actor.name,
        "contact_method": e.contact_method, "next_update_by": e.update_due_at,
    })
    .to_string();
    let email = customer.as_ref().and_then(|c| c.email.as_deref());
    notify_customer(
        tx.conn(),
        &tenant,
        &ticket.id,
        email,
        NotificationKind::CustomerAcknowledgement,
        &event,
        &payload,
        now,
    )
    .await?;
    sla::sync_timers(tx.conn(), &e, now).await?;
    tx.commit().await?;
    Ok((e, true))
}
