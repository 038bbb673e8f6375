//! What a durable timer does when it fires: move an unacknowledged escalation to the next
//! rung, remind whoever holds a deadline, record a breach and tell the rung above, or
//! escalate a ticket nobody answered. Runs inside the worker's transaction; the timer row is
//! deleted in it, so the effects and the firing commit together or not at all.

use jiff::Timestamp;
use ladder_core::sla::{next_on_chain, Clock, TimerKind};
use ladder_core::text::LongText;
use ladder_core::{
    Category, ContactMethod, EscalationState, Priority, TicketStatus, TriggerKind, Urgency,
};
use ladder_storage::escalations::{self, Escalation};
use ladder_storage::tickets::{self, Ticket};
use ladder_storage::timers::{self, Timer};
use ladder_storage::{directory, WriteTx};
use serde_json::json;

use super::escalation::{
    audience_including_away, move_up, open_escalation, EscalateRequest, MoveReason,
};
use super::{notify_staff, policy_in, record};
use crate::error::{ApiError, ApiResult};
use crate::sla;

/// What became of a timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fired {
    /// It did its work; the audit event kind it wrote.
    Done(&'static str),
    /// It fell outside opening hours or its deadline moved: set again for later.
    Postponed,
    /// Rescheduled, cancelled or made moot since it was read (acknowledged, resolved…).
    Moot,
}

pub async fn fire(tx: &mut WriteTx, t: &Timer, now: Timestamp) -> ApiResult<Fired> {
    if !timers::take(tx.conn(), t).await? {
        return Ok(Fired::Moot);
    }
    let kind = sla::timer_kind(&t.kind)?;
    let tenant = t.tenant_id.as_str();
    let Some(mut ticket) = tickets::get(tx.conn(), tenant, &t.ticket_id).await? else {
        return Ok(Fired::Moot);
    };
    if kind == TimerKind::FirstResponse {
        return first_response(tx, tenant, &mut ticket, now).await;
    }
    let Some(e) = active(tx, tenant, &ticket, t.escalation_id.as_deref()).await? else {
        return Ok(Fired::Moot);
    };
    match kind {
        TimerKind::RungTimeout => rung_timeout(tx, tenant, e, &mut ticket, now).await,
        TimerKind::Remind(clock) => remind(tx, tenant, e, &ticket, clock, now).await,
        TimerKind::Due(clock) => breach(tx, tenant, e, &mut ticket, clock, now).await,
        TimerKind::FirstResponse => Ok(Fired::Moot),
    }
}

/// The escalation a timer was set for, if it is still the ticket's active one.
async fn active(
    tx: &mut WriteTx,
    tenant: &str,
    ticket: &Ticket,
    escalation_id: Option<&str>,
) -> ApiResult<Option<Escalation>> {
    let Some(id) = escalation_id.filter(|id| ticket.active_escalation_id.as_deref() == Some(*id))
    else {
        return Ok(None);
    };
    let e = escalations::get(tx.conn(), Some(tenant), id).await?;
    Ok(e.filter(Escalation::is_active))
}

async fn rung_timeout(
    tx: &mut WriteTx,
    tenant: &str,
    e: Escalation,
    ticket: &mut Ticket,
    now: Timestamp,
) -> ApiResult<Fired> {
    if e.state != EscalationState::Requested {
        return Ok(Fired::Moot);
    }
    let (snap, run) = sla::state_of(&e);
    let within = snap
        .rule
        .chain
        .get(run.position.saturating_sub(1))
        .map_or_else(String::new, |r| format!(" within {}", r.ack_within));
    let note = format!(
        "Not acknowledged{within} by {}: moved up the chain of rule {:?} automatically.",
        describe(&e.target),
        snap.rule.name
    );
    move_up(
        tx,
        tenant,
        e,
        ticket,
        None,
        &note,
        MoveReason::RungTimedOut,
        now,
    )
    .await?;
    Ok(Fired::Done(MoveReason::RungTimedOut.event_kind()))
}

fn describe(t: &ladder_core::Target) -> String {
    match t.reference() {
        Some(r) => format!("{} {r}", t.kind()),
        None => t.kind().to_string(),
    }
}

/// Who holds an escalation's deadlines: its owner once someone took it, else everyone its
/// current rung reaches (present people first; if all are away, all of them).
async fn holders(
    tx: &mut WriteTx,
    tenant: &str,
    e: &Escalation,
    now: Timestamp,
) -> ApiResult<Vec<String>> {
    if let Some(owner) = &e.escalation_owner_id {
        return Ok(vec![owner.clone()]);
    }
    let everyone = audience_including_away(tx.conn(), tenant, &e.target).await?;
    let present: Vec<String> = everyone
        .iter()
        .filter(|u| !u.is_away(now))
        .map(|u| u.id.clone())
        .collect();
    Ok(if present.is_empty() {
        everyone.into_iter().map(|u| u.id).collect()
    } else {
        present
    })
}

/// The deadline a clock runs to, as the escalation stands.
fn due_of(e: &Escalation, clock: Clock, acknowledge_due: Timestamp) -> Option<Timestamp> {
    match clock {
        Clock::Acknowledge => e.ack_due_at.or(Some(acknowledge_due)),
        Clock::Update => e.update_due_at,
        Clock::Resolve => e.resolve_due_at,
    }
}

async fn remind(
    tx: &mut WriteTx,
    tenant: &str,
    mut e: Escalation,
    ticket: &Ticket,
    clock: Clock,
    now: Timestamp,
) -> ApiResult<Fired> {
    let (snap, mut run) = sla::state_of(&e);
    if clock == Clock::Acknowledge && e.state != EscalationState::Requested {
        return Ok(Fired::Moot);
    }
    // Nobody is reminded at midnight on a Sunday: a late timer waits for opening hours.
    if !snap.calendar.is_open(now) {
        let at = snap.calendar.next_open(now);
        let kind = TimerKind::Remind(clock).as_str();
        timers::set(tx.conn(), tenant, &ticket.id, Some(&e.id), kind, at, now).await?;
        return Ok(Fired::Postponed);
    }
    let due = due_of(&e, clock, run.clocks.acknowledge_due);
    let to = holders(tx, tenant, &e, now).await?;
    let event = record(
        tx.conn(),
        tenant,
        Some(&ticket.id),
        None,
        "sla_reminder",
        json!({"escalation_id": e.id, "clock": clock, "due_at": due, "rule": snap.rule.name,
               "reminder": run.clocks.reminded.contains_key(&clock).then_some("repeat").unwrap_or("first"),
               "to": to}),
        now,
    )
    .await?;
    let payload = json!({"escalation_id": e.id, "ticket_id": ticket.id, "subject": ticket.subject,
                         "clock": clock, "due_at": due});
    for u in &to {
        notify_staff(
            tx.conn(),
            tenant,
            &ticket.id,
            u,
            "sla_reminder",
            &event,
            payload.clone(),
            now,
        )
        .await?;
    }
    run.clocks.reminded.insert(clock, now);
    save(tx, &mut e, &snap, &run, now).await?;
    Ok(Fired::Done("sla_reminder"))
}

async fn breach(
    tx: &mut WriteTx,
    tenant: &str,
    mut e: Escalation,
    ticket: &mut Ticket,
    clock: Clock,
    now: Timestamp,
) -> ApiResult<Fired> {
    let (snap, mut run) = sla::state_of(&e);
    let due = due_of(&e, clock, run.clocks.acknowledge_due);
    if clock == Clock::Acknowledge && e.state != EscalationState::Requested {
        return Ok(Fired::Moot);
    }
    // The deadline may have moved since the timer was set (a pause, an update): look again.
    if let Some(d) = due.filter(|d| *d > now) {
        let kind = TimerKind::Due(clock).as_str();
        timers::set(tx.conn(), tenant, &ticket.id, Some(&e.id), kind, d, now).await?;
        return Ok(Fired::Postponed);
    }
    let to = holders(tx, tenant, &e, now).await?;
    let above = match next_on_chain(&snap.chain(), run.position, &e.target) {
        Some((_, t)) => audience_including_away(tx.conn(), tenant, &t).await?,
        None => Vec::new(),
    };
    let above: Vec<String> = above
        .into_iter()
        .filter(|u| !u.is_away(now) && !to.contains(&u.id))
        .map(|u| u.id)
        .collect();
    let re_escalate = clock != Clock::Acknowledge
        && snap.rule.reescalate_on_breach
        && next_on_chain(&snap.chain(), run.position, &e.target).is_some();
    let event = record(
        tx.conn(),
        tenant,
        Some(&ticket.id),
        None,
        "sla_breached",
        json!({"escalation_id": e.id, "clock": clock, "due_at": due, "rule": snap.rule.name,
               "holders": to, "told_above": above, "re_escalate": re_escalate}),
        now,
    )
    .await?;
    let payload = json!({"escalation_id": e.id, "ticket_id": ticket.id, "subject": ticket.subject,
                         "clock": clock, "due_at": due});
    for u in &to {
        notify_staff(
            tx.conn(),
            tenant,
            &ticket.id,
            u,
            "sla_breached",
            &event,
            payload.clone(),
            now,
        )
        .await?;
    }
    for u in &above {
        notify_staff(
            tx.conn(),
            tenant,
            &ticket.id,
            u,
            "sla_breached_below",
            &event,
            payload.clone(),
            now,
        )
        .await?;
    }
    run.clocks.breached.insert(clock, now);
    if re_escalate {
        sla::apply(&mut e, &snap, &run);
        let note = format!(
            "The {} deadline of rule {:?} passed: moved up automatically.",
            clock.as_str(),
            snap.rule.name
        );
        move_up(
            tx,
            tenant,
            e,
            ticket,
            None,
            &note,
            MoveReason::SlaBreached,
            now,
        )
        .await?;
    } else {
        save(tx, &mut e, &snap, &run, now).await?;
    }
    Ok(Fired::Done("sla_breached"))
}

/// Stores changed clocks and sets the timers they now need.
async fn save(
    tx: &mut WriteTx,
    e: &mut Escalation,
    snap: &ladder_core::policy::EscalationSnapshot,
    run: &sla::Run,
    now: Timestamp,
) -> ApiResult<()> {
    sla::apply(e, snap, run);
    e.updated_at = now;
    if !escalations::update_if_state(tx.conn(), e, e.state).await? {
        return Err(ApiError::Conflict(
            "the escalation changed while a timer fired".into(),
        ));
    }
    sla::sync_timers(tx.conn(), e, now).await
}

/// Nobody answered a ticket within its rule's first-response limit: it escalates by policy.
async fn first_response(
    tx: &mut WriteTx,
    tenant: &str,
    ticket: &mut Ticket,
    now: Timestamp,
) -> ApiResult<Fired> {
    if ticket.first_response_at.is_some()
        || ticket.active_escalation_id.is_some()
        || !matches!(ticket.status, TicketStatus::New | TicketStatus::Open)
    {
        return Ok(Fired::Moot);
    }
    let policy = policy_in(tx.conn(), tenant).await?;
    let customer = directory::customer(tx.conn(), tenant, &ticket.customer_id).await?;
    let category = ticket.category.unwrap_or(Category::Other);
    let facts = sla::facts(ticket, customer.as_ref(), category, ticket.priority, &[]);
    let snap = sla::snapshot_for(&policy, &facts);
    let Some(due) = snap.first_response_due(ticket.created_at) else {
        return Ok(Fired::Moot);
    };
    if due > now {
        // The ticket's fields or the policy changed since: its deadline is later now.
        let kind = TimerKind::FirstResponse.as_str();
        timers::set(tx.conn(), tenant, &ticket.id, None, kind, due, now).await?;
        return Ok(Fired::Postponed);
    }
    let within = snap
        .rule
        .first_response_within
        .map(|d| d.to_string())
        .unwrap_or_default();
    record(
        tx.conn(),
        tenant,
        Some(&ticket.id),
        None,
        "sla_breached",
        json!({"clock": "first_response", "due_at": due, "rule": snap.rule.name, "within": within}),
        now,
    )
    .await?;
    let note = format!(
        "No first response within {within} (rule {:?}): escalated automatically.",
        snap.rule.name
    );
    let req = EscalateRequest {
        target: None,
        category,
        note: LongText::new(&note)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("automatic note: {e}")))?,
        tried: None,
        contact_method: ContactMethod::Email,
        urgency: if ticket.priority >= Priority::Urgent {
            Urgency::Urgent
        } else {
            Urgency::Standard
        },
        triggers: vec![TriggerKind::SlaBreach],
    };
    open_escalation(tx, tenant, ticket, None, req, now).await?;
    Ok(Fired::Done("escalated"))
}
