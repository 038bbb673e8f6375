//! Sending an escalated ticket back to whoever had it.

use jiff::Timestamp;
use ladder_core::escalation::check_active;
use ladder_core::text::LongText;
use ladder_core::AuditKind;
use ladder_core::EscalationId;
use ladder_core::NotificationKind;
use ladder_core::{EscalationState, TicketStatus};
use ladder_storage::escalations::{self, Escalation};
use ladder_storage::tickets::{self};
use ladder_storage::Db;
use serde_json::json;

use super::{close_clocks, distinct_except, load};
use crate::flows::Actor;
use crate::flows::{notify_staff, record};
use crate::flows::{FlowError, FlowResult};
use crate::sla;

/// Sends the ticket back to whoever had it, as open.
pub async fn de_escalate(
    db: &Db,
    actor: &Actor,
    id: &EscalationId,
    reason: &LongText,
    now: Timestamp,
) -> FlowResult<Escalation> {
    let mut tx = db.write().await?;
    let (tenant, mut e, mut ticket) = load(&mut tx, db, actor, id).await?;
    check_active(e.state, &e.target, &actor.rules(), "de-escalate")?;
    let prior = e.state;
    e.state = EscalationState::DeEscalated;
    e.closed_at = Some(now);
    e.updated_at = now;
    e.resolution = Some(json!({"reason": reason.as_str(), "by": actor.id()}));
    close_clocks(&mut e, now)?;
    if !escalations::update_if_state(tx.conn(), &e, prior).await? {
        return Err(FlowError::Conflict(
            "the escalation changed meanwhile: reload and try again".into(),
        ));
    }
    let before = json!({"status": ticket.status, "assignee_id": ticket.assignee_id, "team_id": ticket.team_id});
    ticket.status = TicketStatus::Open;
    ticket.assignee_id = e.previous_assignee_id.clone();
    ticket.team_id = e.previous_team_id.clone();
    ticket.active_escalation_id = None;
    tickets::update(tx.conn(), &tenant, &ticket, now).await?;
    let event = record(
        &mut tx,
        &tenant,
        Some(&ticket.id),
        Some(actor.id()),
        AuditKind::DeEscalated,
        json!({"escalation_id": e.id, "reason": reason.as_str(), "before": before,
               "after": {"status": ticket.status, "assignee_id": ticket.assignee_id, "team_id": ticket.team_id}}),
        now,
    );
    let payload = json!({"escalation_id": e.id, "ticket_id": ticket.id, "subject": ticket.subject, "reason": reason.as_str()})
    .to_string();
    let told = distinct_except(
        e.requested_by.iter().chain(e.previous_assignee_id.iter()),
        actor.id(),
    );
    notify_staff(
        tx.conn(),
        &tenant,
        &ticket.id,
        &told,
        NotificationKind::EscalationDeEscalated,
        &event,
        &payload,
        now,
    )
    .await?;
    sla::sync_timers(tx.conn(), &e, now).await?;
    tx.commit().await?;
    Ok(e)
}
