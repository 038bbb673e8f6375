//! What durable timers do when they fire: move an unacknowledged escalation to the next
//! rung, remind whoever holds a deadline, record a breach and tell the rung above, or
//! escalate a ticket nobody answered.
//!
//! A batch of claimed timers is handled in the worker's transaction: everything the batch
//! needs is read in a few queries (tickets, escalations, the organisations' people,
//! customers), each timer's effects are decided in memory, and all of them are written
//! together ([`Changes`]), each ticket's timer rewritten to what comes next or removed.
//! Effects and firing commit together or not at all.

use ladder_core::AuditKind;
use ladder_core::{CustomerId, EscalationId, TenantId, TicketId, UserId};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use jiff::Timestamp;
use ladder_core::policy::EscalationSnapshot;
use ladder_core::sla::{next_on_chain, Clock, TimerKind};
use ladder_core::text::LongText;
use ladder_core::NotificationKind;
use ladder_core::{
    Category, ContactMethod, EscalationState, Priority, TicketStatus, TriggerKind, Urgency,
};
use ladder_storage::directory::{self, Customer};
use ladder_storage::escalations::{self, Escalation};
use ladder_storage::tickets::{self, Ticket};
use ladder_storage::timers::{self, Timer};
use ladder_storage::WriteTx;
use serde::Serialize;
use serde_json::json;
use sqlx::AnyConnection;

use super::changes::Changes;
use super::escalation::{open_escalation, plan_move_up, Escalate, MoveReason};
use super::people::People;
use super::{policy_in, record};
use crate::flows::{FlowError, FlowResult};
use crate::sla;

/// What became of a timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fired {
    /// It did its work; the audit event kind it wrote.
    Done(&'static str),
    /// It fell outside opening hours or its deadline moved: set again for later.
    Postponed,
    /// Cancelled or made moot since it was set (acknowledged, resolved, moved up…).
    Moot,
}

/// What a batch reads before deciding.
struct Loaded {
    tickets: HashMap<TicketId, (TenantId, Ticket)>,
    escalations: HashMap<EscalationId, Escalation>,
    /// By tenant id (as text: the routing directory keys its organisations so).
    people: HashMap<String, People>,
    customers: HashMap<CustomerId, Customer>,
}

/// The most events one ticket goes through in one firing (a long outage can leave several
/// due at once: a reminder, a breach, a rung timeout…).
const MAX_STEPS: usize = 16;

/// Fires a batch of claimed timers inside `tx`, at `now`: for each ticket, everything its
/// active escalation's clocks have due by now, earliest first. Returns the kinds of the audit
/// events written; the caller commits. On error nothing is to be committed: the caller rolls
/// `tx` back.
pub async fn fire_batch(
    tx: &mut WriteTx,
    claimed: &[Timer],
    now: Timestamp,
) -> FlowResult<Vec<&'static str>> {
    let (first_responses, escalated) = split(claimed)?;
    // A first-response timer is taken now; the others are rewritten with the batch's changes.
    let ids: Vec<TicketId> = first_responses.iter().map(|t| t.id.clone()).collect();
    timers::take_many(tx.conn(), &ids).await?;
    let mut loaded = load(tx.conn(), claimed).await?;
    let mut done = Vec::with_capacity(claimed.len());
    let mut changes = Changes::default();
    changes.fired(escalated.iter().map(|t| t.ticket_id.clone()));
    for t in &escalated {
        fire_ticket(&mut changes, &mut loaded, t, now, &mut done)?;
    }
    changes.write(tx, now).await?;
    // Rare, and each opens an escalation the way a person would: one at a time, after the
    // batch's own writes.
    for t in &first_responses {
        let Some((tenant, mut ticket)) = loaded.tickets.remove(&t.ticket_id) else {
            continue;
        };
        if let Fired::Done(kind) = first_response(tx, &tenant, &mut ticket, now).await? {
            done.push(kind);
        }
    }
    // Appended here rather than at the commit, so that an append that fails fails the batch
    // like any other error, and the engine retries its timers one by one.
    tx.append_recorded().await?;
    Ok(done)
}

/// First-response timers apart from the timers of escalations already running.
fn split(claimed: &[Timer]) -> FlowResult<(Vec<&Timer>, Vec<&Timer>)> {
    let mut first_responses = Vec::new();
    let mut escalated = Vec::with_capacity(claimed.len());
    for t in claimed {
        if t.kind == TimerKind::FirstResponse {
            first_responses.push(t);
        } else {
            escalated.push(t);
        }
    }
    Ok((first_responses, escalated))
}

async fn load(conn: &mut AnyConnection, claimed: &[Timer]) -> FlowResult<Loaded> {
    let ticket_ids: Vec<TicketId> = unique(claimed.iter().map(|t| t.ticket_id.clone()));
    // Each ticket with the escalation it has now (whichever one its timer was set for) and
    // its customer.
    let mut tickets = HashMap::with_capacity(ticket_ids.len());
    let mut escalations = HashMap::with_capacity(ticket_ids.len());
    let mut customers = HashMap::new();
    for (tenant, ticket, escalation, customer) in
        tickets::get_many_in_context(conn, &ticket_ids).await?
    {
        if let Some(e) = escalation {
            escalations.insert(e.id.clone(), e);
        }
        if let Some(c) = customer {
            customers.insert(c.id.clone(), c);
        }
        tickets.insert(ticket.id.clone(), (tenant, ticket));
    }
    let unknown =
        sla::unknown_snapshots(escalations.values().filter_map(|e| e.snapshot_id.clone()));
    if !unknown.is_empty() {
        for (id, document) in escalations::snapshots(conn, &unknown).await? {
            sla::learn_snapshot(&id, &document)?;
        }
    }
    let tenants = unique(claimed.iter().map(|t| t.tenant_id.0.clone()));
    let people = People::load_many(conn, &tenants).await?;
    Ok(Loaded {
        tickets,
        escalations,
        people,
        customers,
    })
}

fn unique<T: Ord>(items: impl Iterator<Item = T>) -> Vec<T> {
    items.collect::<BTreeSet<_>>().into_iter().collect()
}

/// Runs everything due on one ticket, earliest first, each step seeing the escalation as
/// the step before left it (a reminder, then a breach, then a move up…).
fn fire_ticket(
    changes: &mut Changes,
    loaded: &mut Loaded,
    t: &Timer,
    now: Timestamp,
    done: &mut Vec<&'static str>,
) -> FlowResult<()> {
    let Some((tenant, ticket)) = loaded.tickets.get_mut(&t.ticket_id) else {
        return Ok(());
    };
    let empty = People::default();
    let people = loaded.people.get(tenant.as_str()).unwrap_or(&empty);
    let customer = loaded.customers.get(&ticket.customer_id);
    let mut passed: Vec<TimerKind> = Vec::new();
    for _ in 0..MAX_STEPS {
        let Some(e) = ticket
            .active_escalation_id
            .as_ref()
            .and_then(|id| {
                changes
                    .escalation(id)
                    .or_else(|| loaded.escalations.get(id))
            })
            .filter(|e| e.is_active())
        else {
            break;
        };
        let (snap, run) = sla::state_of(e)?;
        let timers = run.clocks.timers(&snap, e.created_at, e.ack_due_at);
        let next = timers
            .iter()
            .filter(|(k, due)| *due <= now && !passed.contains(k))
            .min_by_key(|(k, due)| (*due, *k));
        let Some(&(kind, _)) = next else {
            // Nothing more is due: the ticket's timer is set to the earliest of these.
            let id = e.id.clone();
            if !changes.resets_timers_of(&ticket.id) {
                let e = e.clone();
                changes.reset_timers(&e);
            }
            changes.timers_known(&ticket.id, &id, timers);
            break;
        };
        let (e, state) = (e.clone(), (snap, run));
        // Whatever happens, the ticket's timer is set anew from the clocks as they end up.
        changes.reset_timers(&e);
        let outcome = match kind {
            TimerKind::RungTimeout => {
                rung_timeout(changes, people, customer, e, state, ticket, now)?
            }
            TimerKind::Remind(clock) => remind(changes, people, e, state, ticket, clock, now)?,
            TimerKind::Due(clock) => {
                breach(changes, people, customer, e, state, ticket, clock, now)?
            }
            TimerKind::FirstResponse => Fired::Moot,
        };
        match outcome {
            Fired::Done(kind) => done.push(kind),
            Fired::Postponed | Fired::Moot => passed.push(kind),
        }
    }
    Ok(())
}

/// An escalation's snapshot and run, as [`sla::state_of`] reads them.
type State = (Arc<EscalationSnapshot>, sla::Run);

fn rung_timeout(
    changes: &mut Changes,
    people: &People,
    customer: Option<&Customer>,
    e: Escalation,
    (snap, run): State,
    ticket: &mut Ticket,
    now: Timestamp,
) -> FlowResult<Fired> {
    if e.state != EscalationState::Requested {
        return Ok(Fired::Moot);
    }
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
    let reason = MoveReason::RungTimedOut;
    let state = (snap, run);
    plan_move_up(
        changes, people, customer, e, state, ticket, None, &note, reason, now,
    )?;
    Ok(Fired::Done(reason.event_kind().as_str()))
}

fn describe(t: &ladder_core::Target) -> String {
    match t.reference() {
        Some(r) => format!("{} {r}", t.kind()),
        None => t.kind().to_string(),
    }
}

/// Who holds an escalation's deadlines: its owner once someone took it, else everyone its
/// current rung reaches (present people first; if all are away, all of them).
fn holders(people: &People, e: &Escalation, now: Timestamp) -> Vec<UserId> {
    if let Some(owner) = &e.escalation_owner_id {
        return vec![owner.clone()];
    }
    let present = people.reachable(&e.target, now);
    let chosen = if present.is_empty() {
        people.everyone(&e.target)
    } else {
        present
    };
    chosen.into_iter().map(|u| u.id.clone()).collect()
}

/// The deadline a clock runs to, as the escalation stands; for acknowledgement, `ack`.
fn due_of(e: &Escalation, clock: Clock, ack: Timestamp) -> Option<Timestamp> {
    match clock {
        Clock::Acknowledge => Some(ack),
        Clock::Update => e.update_due_at,
        Clock::Resolve => e.resolve_due_at,
    }
}

fn remind(
    changes: &mut Changes,
    people: &People,
    mut e: Escalation,
    (snap, mut run): State,
    ticket: &Ticket,
    clock: Clock,
    now: Timestamp,
) -> FlowResult<Fired> {
    if clock == Clock::Acknowledge && e.state != EscalationState::Requested {
        return Ok(Fired::Moot);
    }
    // Nobody is reminded at midnight on a Sunday: a late timer waits for opening hours.
    if !snap.calendar.is_open(now) {
        let at = snap.calendar.next_open(now);
        changes.hold_timer(&ticket.id, TimerKind::Remind(clock), at);
        return Ok(Fired::Postponed);
    }
    // The reminder to acknowledge is about the rung's own deadline, before it is passed over.
    let ack = e.ack_due_at.unwrap_or(run.clocks.acknowledge_due);
    let due = due_of(&e, clock, ack);
    let to = holders(people, &e, now);
    if to.is_empty() {
        // Nobody holds the deadline (the platform, before it has any staff): a reminder
        // would be a notice to nobody. The clock counts it as given, so that the next one
        // falls at the rule's interval rather than at once.
        run.clocks.reminded.insert(clock, now);
        sla::apply(&mut e, &snap, &run)?;
        e.updated_at = now;
        changes.put_escalation(e, false);
        return Ok(Fired::Moot);
    }
    let repeat = run.clocks.reminded.contains_key(&clock);
    let reminded = Reminded {
        clock,
        due_at: due,
        escalation_id: &e.id,
        reminder: if repeat { "repeat" } else { "first" },
        rule: &snap.rule.name,
        to: &to,
    };
    let event = changes.event(
        &e.tenant_id,
        &ticket.id,
        None,
        AuditKind::SlaReminder,
        &reminded,
        now,
    )?;
    let payload = clock_payload(&e, ticket, clock, due)?;
    let people_told = to.iter();
    changes.notify_staff(
        &e.tenant_id,
        &ticket.id,
        people_told,
        NotificationKind::SlaReminder,
        &event,
        &payload,
    );
    run.clocks.reminded.insert(clock, now);
    sla::apply(&mut e, &snap, &run)?;
    e.updated_at = now;
    changes.put_escalation(e, false);
    Ok(Fired::Done("sla_reminder"))
}

/// The audit event of a reminder. Like the other payloads the engine writes per timer, a
/// typed struct rather than a `json!` tree. Fields are in alphabetical order, as `json!`
/// wrote them, so the stored text is as before.
#[derive(Serialize)]
struct Reminded<'a> {
    clock: Clock,
    due_at: Option<Timestamp>,
    escalation_id: &'a EscalationId,
    reminder: &'static str,
    rule: &'a str,
    to: &'a [UserId],
}

/// The audit event of a breached deadline.
#[derive(Serialize)]
struct Breached<'a> {
    clock: Clock,
    due_at: Option<Timestamp>,
    escalation_id: &'a EscalationId,
    holders: &'a [UserId],
    re_escalate: bool,
    rule: &'a str,
    told_above: &'a [UserId],
}

/// What a reminder or breach notification says.
#[derive(Serialize)]
struct ClockNotice<'a> {
    clock: Clock,
    due_at: Option<Timestamp>,
    escalation_id: &'a EscalationId,
    subject: &'a str,
    ticket_id: &'a TicketId,
}

/// What a reminder or breach notification says, as JSON text.
fn clock_payload(
    e: &Escalation,
    ticket: &Ticket,
    clock: Clock,
    due: Option<Timestamp>,
) -> FlowResult<Arc<str>> {
    let notice = ClockNotice {
        clock,
        due_at: due,
        escalation_id: &e.id,
        subject: &ticket.subject,
        ticket_id: &ticket.id,
    };
    let text = serde_json::to_string(&notice)
        .map_err(|err| anyhow::anyhow!("the notice of the {} clock: {err}", clock.as_str()))?;
    Ok(text.into())
}

#[allow(clippy::too_many_arguments)]
fn breach(
    changes: &mut Changes,
    people: &People,
    customer: Option<&Customer>,
    mut e: Escalation,
    (snap, mut run): State,
    ticket: &mut Ticket,
    clock: Clock,
    now: Timestamp,
) -> FlowResult<Fired> {
    if clock == Clock::Acknowledge && e.state != EscalationState::Requested {
        return Ok(Fired::Moot);
    }
    let due = due_of(&e, clock, run.clocks.acknowledge_due);
    // The deadline moved since the timer was set (a pause, an update): the timers set anew
    // from the clocks carry the new one.
    if due.is_none_or(|d| d > now) {
        return Ok(Fired::Postponed);
    }
    let to = holders(people, &e, now);
    let next = next_on_chain(&snap.chain(), run.position, &e.target);
    let above: Vec<UserId> = next
        .as_ref()
        .map(|(_, t)| people.reachable(t, now))
        .unwrap_or_default()
        .into_iter()
        .filter(|u| !to.contains(&u.id))
        .map(|u| u.id.clone())
        .collect();
    let re_escalate =
        clock != Clock::Acknowledge && snap.rule.reescalate_on_breach && next.is_some();
    let breached = Breached {
        clock,
        due_at: due,
        escalation_id: &e.id,
        holders: &to,
        re_escalate,
        rule: &snap.rule.name,
        told_above: &above,
    };
    let event = changes.event(
        &e.tenant_id,
        &ticket.id,
        None,
        AuditKind::SlaBreached,
        &breached,
        now,
    )?;
    let payload = clock_payload(&e, ticket, clock, due)?;
    let people_told = to.iter();
    changes.notify_staff(
        &e.tenant_id,
        &ticket.id,
        people_told,
        NotificationKind::SlaBreached,
        &event,
        &payload,
    );
    let people_told = above.iter();
    changes.notify_staff(
        &e.tenant_id,
        &ticket.id,
        people_told,
        NotificationKind::SlaBreachedBelow,
        &event,
        &payload,
    );
    run.clocks.breached.insert(clock, now);
    sla::apply(&mut e, &snap, &run)?;
    e.updated_at = now;
    if re_escalate {
        let note = format!(
            "The {} deadline of rule {:?} passed: moved up automatically.",
            clock.as_str(),
            snap.rule.name
        );
        let reason = MoveReason::SlaBreached;
        plan_move_up(
            changes,
            people,
            customer,
            e,
            (snap, run),
            ticket,
            None,
            &note,
            reason,
            now,
        )?;
    } else {
        changes.put_escalation(e, false);
    }
    Ok(Fired::Done("sla_breached"))
}

/// Nobody answered a ticket within its rule's first-response limit: it escalates by policy.
async fn first_response(
    tx: &mut WriteTx,
    tenant: &TenantId,
    ticket: &mut Ticket,
    now: Timestamp,
) -> FlowResult<Fired> {
    if ticket.first_response_at.is_some()
        || ticket.active_escalation_id.is_some()
        || !matches!(ticket.status, TicketStatus::New | TicketStatus::Open)
    {
        return Ok(Fired::Moot);
    }
    let policy = policy_in(tx.conn(), tenant).await?;
    let customer = directory::customer(tx.conn(), tenant, &ticket.customer_id).await?;
    let category = ticket.category.unwrap_or(Category::Other);
    let facts = sla::facts(ticket, customer.as_ref(), category, ticket.priority, &[])?;
    let snap = sla::snapshot_for(&policy, &facts);
    let Some(due) = snap.first_response_due(ticket.created_at) else {
        return Ok(Fired::Moot);
    };
    if due > now {
        // The ticket's fields or the policy changed since: its deadline is later now.
        let kind = TimerKind::FirstResponse;
        timers::set(tx.conn(), tenant, &ticket.id, None, kind, due, now).await?;
        return Ok(Fired::Postponed);
    }
    let within = snap
        .rule
        .first_response_within
        .map(|d| d.to_string())
        .unwrap_or_default();
    record(
        tx,
        tenant,
        Some(&ticket.id),
        None,
        AuditKind::SlaBreached,
        json!({"clock": "first_response", "due_at": due, "rule": snap.rule.name, "within": within}),
        now,
    );
    let note = format!(
        "No first response within {within} (rule {:?}): escalated automatically.",
        snap.rule.name
    );
    let req = Escalate {
        target: None,
        category,
        note: LongText::new(&note)
            .map_err(|e| FlowError::Internal(anyhow::anyhow!("automatic note: {e}")))?,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed payloads write the text the `json!` trees they replaced wrote (sorted keys),
    /// so reminders and breaches read the same in old and new audit trails.
    #[test]
    fn typed_payloads_write_what_json_trees_wrote() {
        let due: Option<Timestamp> = "2026-11-24T10:00:00Z".parse().ok();
        let (e1, t1) = (EscalationId::from("e1"), TicketId::from("t1"));
        let (to, above) = (
            vec![UserId::from("u1"), UserId::from("u2")],
            vec![UserId::from("u3")],
        );
        let reminded = Reminded {
            clock: Clock::Update,
            due_at: due,
            escalation_id: &e1,
            reminder: "repeat",
            rule: "Urgent",
            to: &to,
        };
        let tree = json!({"escalation_id": "e1", "clock": Clock::Update, "due_at": due,
            "rule": "Urgent", "reminder": "repeat", "to": to});
        assert_eq!(
            serde_json::to_string(&reminded).ok(),
            Some(tree.to_string())
        );
        let breached = Breached {
            clock: Clock::Resolve,
            due_at: due,
            escalation_id: &e1,
            holders: &to,
            re_escalate: true,
            rule: "Urgent",
            told_above: &above,
        };
        let tree = json!({"escalation_id": "e1", "clock": Clock::Resolve, "due_at": due,
            "rule": "Urgent", "holders": to, "told_above": above, "re_escalate": true});
        assert_eq!(
            serde_json::to_string(&breached).ok(),
            Some(tree.to_string())
        );
        let notice = ClockNotice {
            clock: Clock::Acknowledge,
            due_at: None,
            escalation_id: &e1,
            subject: "Crown came off \"again\"",
            ticket_id: &t1,
        };
        let tree = json!({"escalation_id": "e1", "ticket_id": "t1",
            "subject": "Crown came off \"again\"", "clock": Clock::Acknowledge, "due_at": null});
        assert_eq!(serde_json::to_string(&notice).ok(), Some(tree.to_string()));
    }
}
