//! Moving an escalation up its chain: asked for (re-escalation), or because the rung timed
//! out, went away or an SLA deadline passed.

use std::sync::Arc;

use jiff::Timestamp;
use ladder_core::escalation::{check_active, priority_at};
use ladder_core::policy::EscalationSnapshot;
use ladder_core::sla::next_on_chain;
use ladder_core::text::LongText;
use ladder_core::AuditKind;
use ladder_core::NotificationKind;
use ladder_core::{EscalationId, TenantId, UserId};
use ladder_core::{EscalationState, Priority, Target};
use ladder_storage::directory;
use ladder_storage::escalations::Escalation;
use ladder_storage::tickets::Ticket;
use ladder_storage::{new_id, Db, WriteTx};
use serde::Serialize;

use super::{details, load};
use crate::flows::changes::Changes;
use crate::flows::people::People;
use crate::flows::Actor;
use crate::flows::{FlowError, FlowResult};
use crate::sla;

/// The audit event of a move up the chain. Typed, like [`Details`], because the timer engine
/// writes one per rung timeout.
#[derive(Serialize)]
struct MovedUp<'a> {
    ack_due_at: Option<Timestamp>,
    after: Position<'a>,
    automatic: bool,
    before: Position<'a>,
    chain_position: usize,
    escalation_id: &'a EscalationId,
    note: &'a str,
    rung: i64,
    skipped: Vec<Skipped<'a>>,
    superseded_escalation_id: &'a EscalationId,
}

/// Where an escalation stood, before or after a move.
#[derive(Serialize)]
struct Position<'a> {
    escalation_id: &'a EscalationId,
    priority: Priority,
    target: &'a Target,
}

/// A rung passed over on the way, and why.
#[derive(Serialize)]
struct Skipped<'a> {
    reason: &'a str,
    target: &'a Target,
}

/// Moves the escalation one rung up its chain, with a note saying why.
pub async fn re_escalate(
    db: &Db,
    actor: &Actor,
    id: &EscalationId,
    note: &LongText,
    now: Timestamp,
) -> FlowResult<Escalation> {
    let mut tx = db.write().await?;
    let (tenant, e, mut ticket) = load(&mut tx, db, actor, id).await?;
    check_active(e.state, &e.target, &actor.rules(), "re-escalate")?;
    let e = move_up(
        &mut tx,
        &tenant,
        e,
        &mut ticket,
        Some(actor.id()),
        note.as_str(),
        MoveReason::Asked,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(e)
}

/// Why an escalation moves up a rung.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoveReason {
    /// Someone asked (re-escalation).
    Asked,
    /// The rung did not acknowledge in time.
    RungTimedOut,
    /// Everyone the rung reaches became unavailable.
    TargetAway,
    /// An SLA deadline passed and the rule re-escalates on breach.
    SlaBreached,
}

impl MoveReason {
    pub fn event_kind(self) -> AuditKind {
        match self {
            MoveReason::Asked => AuditKind::ReEscalated,
            MoveReason::RungTimedOut => AuditKind::RungTimedOut,
            MoveReason::TargetAway => AuditKind::TargetAway,
            MoveReason::SlaBreached => AuditKind::SlaBreachReEscalated,
        }
    }
}

/// Supersedes the active escalation with a new one on the next rung of its chain (the
/// snapshot it started with). Used by re-escalation and availability changes; the timer
/// engine plans the same move for whole batches with [`plan_move_up`].
#[allow(clippy::too_many_arguments)]
pub async fn move_up(
    tx: &mut WriteTx,
    tenant: &TenantId,
    old: Escalation,
    ticket: &mut Ticket,
    by: Option<&UserId>,
    note: &str,
    reason: MoveReason,
    now: Timestamp,
) -> FlowResult<Escalation> {
    let people = People::load(tx.conn(), tenant).await?;
    let customer = directory::customer(tx.conn(), tenant, &ticket.customer_id).await?;
    let mut changes = Changes::default();
    let state = sla::state_of(&old)?;
    let new = plan_move_up(
        &mut changes,
        &people,
        customer.as_ref(),
        old,
        state,
        ticket,
        by,
        note,
        reason,
        now,
    )?;
    changes.write(tx, now).await?;
    Ok(new)
}

/// Decides a move up the chain: the superseded escalation, the new one on the next rung that
/// reaches somebody, the audit event, and who is told (the new rung; the rungs skipped or
/// passed over; whoever held it). The run's clocks carry over: the customer's deadlines do
/// not restart. `state` is the escalation's snapshot and run, as [`sla::state_of`] reads
/// them. The caller holds the ticket locked and writes `changes`.
#[allow(clippy::too_many_arguments)]
pub fn plan_move_up(
    changes: &mut Changes,
    people: &People,
    customer: Option<&directory::Customer>,
    mut old: Escalation,
    (snap, run): (Arc<EscalationSnapshot>, sla::Run),
    ticket: &mut Ticket,
    by: Option<&UserId>,
    note: &str,
    reason: MoveReason,
    now: Timestamp,
) -> FlowResult<Escalation> {
    let tenant = old.tenant_id.clone();
    let chain = snap.chain();
    let (position, next) = next_on_chain(&chain, run.position, &old.target).ok_or_else(|| {
        FlowError::Conflict(
            "the escalation is already at the top of the ladder (platform support)".into(),
        )
    })?;
    let routed = people.route(next, position, &chain, now);
    old.state = EscalationState::Superseded;
    old.closed_at = Some(now);
    old.updated_at = now;
    let priority = priority_at(&routed.target, old.category, old.priority);
    let mut new = Escalation {
        id: EscalationId(new_id()),
        state: EscalationState::Requested,
        target: routed.target.clone(),
        rung: super::escalate::rungs_climbed(old.rung + 1, routed.skipped.len())?,
        note: note.to_owned(),
        priority,
        requested_by: by.cloned().or(old.requested_by.clone()),
        escalation_owner_id: None,
        acknowledged_at: None,
        closed_at: None,
        resolution: None,
        created_at: now,
        updated_at: now,
        ..old.clone()
    };
    let mut run = sla::Run {
        position: routed.position,
        clocks: run.clocks,
    };
    run.clocks.moved_up();
    sla::apply(&mut new, &snap, &run)?;
    let before = Position {
        escalation_id: &old.id,
        priority: ticket.priority,
        target: &old.target,
    };
    ticket.active_escalation_id = Some(new.id.clone());
    if priority > ticket.priority {
        ticket.priority = priority;
        ticket.updated_at = now;
        changes.set_priority(&tenant, &ticket.id, priority);
    }
    if let Some(owner) = &old.escalation_owner_id {
        // Whoever held it stays informed.
        changes.watch(&tenant, &ticket.id, owner);
    }
    let event = changes.event(
        &tenant,
        &ticket.id,
        by,
        reason.event_kind(),
        &MovedUp {
            ack_due_at: new.ack_due_at,
            after: Position {
                escalation_id: &new.id,
                priority: ticket.priority,
                target: &new.target,
            },
            automatic: by.is_none(),
            before,
            chain_position: routed.position,
            escalation_id: &new.id,
            note,
            rung: new.rung,
            skipped: routed
                .skipped
                .iter()
                .map(|(target, reason)| Skipped { reason, target })
                .collect(),
            superseded_escalation_id: &old.id,
        },
        now,
    )?;
    let payload = details(&new, ticket, customer);
    let recipients = routed.recipients.iter().map(|u| &u.id);
    changes.notify_staff(
        &tenant,
        &ticket.id,
        recipients,
        NotificationKind::EscalationRequested,
        &event,
        &payload,
    );
    // The rung that let it pass, and the rungs skipped on the way, are told it went past them.
    let mut passed: Vec<&Target> = routed.skipped.iter().map(|(t, _)| t).collect();
    if reason == MoveReason::RungTimedOut {
        passed.push(&old.target);
    }
    for t in passed {
        let everyone = people.everyone(t).into_iter().map(|u| &u.id);
        changes.notify_staff(
            &tenant,
            &ticket.id,
            everyone,
            NotificationKind::EscalationSkippedYou,
            &event,
            &payload,
        );
    }
    let owner = old.escalation_owner_id.as_ref();
    changes.notify_staff(
        &tenant,
        &ticket.id,
        owner,
        NotificationKind::EscalationMovedUp,
        &event,
        &payload,
    );
    changes.put_escalation(old, false);
    changes.put_escalation(new.clone(), true);
    Ok(new)
}
