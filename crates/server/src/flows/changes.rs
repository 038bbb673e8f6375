//! The changes a command decides on (escalations made or changed, ticket priorities,
//! audit events, notifications, timers), collected first and then written together with
//! multi-row statements. One command writes a handful of statements; a batch of timers
//! writes the same handful for all of them, which is what lets the timer engine keep up
//! when thousands fall due in the same second.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use jiff::Timestamp;
use ladder_core::sla::TimerKind;
use ladder_core::{
    AuditKind, EscalationId, EventId, NotificationKind, Priority, TenantId, TicketId, UserId,
};
use ladder_storage::audit::PlannedEvent;
use ladder_storage::escalations::{self, Escalation};
use ladder_storage::outbox::{self, Audience, NewMessage};
use ladder_storage::timers::{self, NewTimer};
use ladder_storage::{new_id, tickets, WriteTx};
use serde::Serialize;

use crate::flows::FlowResult;
use crate::sla;

/// One notification: everyone told the same thing about the same event.
struct Message {
    tenant: TenantId,
    ticket: TicketId,
    users: Vec<UserId>,
    kind: NotificationKind,
    /// The audit event it is about.
    event: EventId,
    /// JSON text, shared with the other notifications of the same event.
    payload: Arc<str>,
}

/// A ticket whose timers are set anew.
struct Reset {
    tenant: TenantId,
    /// The active escalation whose clocks the timers follow (none: the ticket is left
    /// without timers).
    active: Option<Escalation>,
    /// What those clocks have due, when the caller already worked it out.
    due: Option<Vec<(TimerKind, Timestamp)>>,
}

/// Everything a batch of commands will write.
#[derive(Default)]
pub struct Changes {
    /// Escalations by id, in their final state, and whether they are new.
    escalations: BTreeMap<EscalationId, (Escalation, bool)>,
    /// Tickets whose priority rose, with their tenant.
    priorities: BTreeMap<TicketId, (TenantId, Priority)>,
    watchers: BTreeSet<(TenantId, TicketId, UserId)>,
    events: Vec<PlannedEvent>,
    messages: Vec<Message>,
    /// Where each notification is in `messages`, by event and kind.
    message_at: HashMap<(EventId, NotificationKind), usize>,
    /// Tickets whose timers are set anew.
    timers_of: BTreeMap<TicketId, Reset>,
    /// Timers set for a later time than the clocks say (a reminder held for opening hours).
    held: BTreeMap<(TicketId, &'static str), Timestamp>,
    /// Tickets whose timer fired: removed unless the clocks set it again.
    fired: BTreeSet<TicketId>,
}

impl Changes {
    /// The current state of an escalation this batch already changed, if any.
    pub fn escalation(&self, id: &EscalationId) -> Option<&Escalation> {
        self.escalations.get(id).map(|(e, _)| e)
    }

    /// Records an escalation's new state (`new`: it is to be inserted).
    pub fn put_escalation(&mut self, e: Escalation, new: bool) {
        let new = new || self.escalations.get(&e.id).is_some_and(|(_, n)| *n);
        self.reset_timers(&e);
        self.escalations.insert(e.id.clone(), (e, new));
    }

    /// Sets a ticket's priority. (Which escalation is active needs no write to the ticket:
    /// it is the one whose state says so.)
    pub fn set_priority(&mut self, tenant: &TenantId, ticket: &TicketId, priority: Priority) {
        self.priorities
            .insert(ticket.clone(), (tenant.clone(), priority));
    }

    /// Sets the ticket's timers anew from `e`'s clocks when written (none once `e` is no
    /// longer active, unless another escalation of the ticket took over).
    pub fn reset_timers(&mut self, e: &Escalation) {
        let entry = self
            .timers_of
            .entry(e.ticket_id.clone())
            .or_insert_with(|| Reset {
                tenant: e.tenant_id.clone(),
                active: None,
                due: None,
            });
        if e.is_active() {
            entry.active = Some(e.clone());
            entry.due = None;
        } else if entry.active.as_ref().is_some_and(|a| a.id == e.id) {
            entry.active = None;
            entry.due = None;
        }
    }

    /// Whether the ticket's timers are already to be set anew.
    pub fn resets_timers_of(&self, ticket: &TicketId) -> bool {
        self.timers_of.contains_key(ticket)
    }

    /// Records what the clocks of `escalation`, the ticket's active one as last reset, have
    /// due (from `SlaClocks::timers`), so that writing needs not work it out again.
    pub fn timers_known(
        &mut self,
        ticket: &TicketId,
        escalation: &EscalationId,
        due: Vec<(TimerKind, Timestamp)>,
    ) {
        if let Some(reset) = self.timers_of.get_mut(ticket) {
            if reset.active.as_ref().is_some_and(|a| a.id == *escalation) {
                reset.due = Some(due);
            }
        }
    }

    /// Marks the tickets whose timers fired: their timer rows are updated to what the clocks
    /// say next, or removed.
    pub fn fired(&mut self, tickets: impl IntoIterator<Item = TicketId>) {
        self.fired.extend(tickets);
    }

    fn take_events(&mut self) -> Vec<PlannedEvent> {
        std::mem::take(&mut self.events)
    }

    /// Holds a timer until `at`, later than its clock would set it.
    pub fn hold_timer(&mut self, ticket: &TicketId, kind: TimerKind, at: Timestamp) {
        self.held.insert((ticket.clone(), kind.as_str()), at);
    }

    pub fn watch(&mut self, tenant: &TenantId, ticket: &TicketId, user: &UserId) {
        self.watchers
            .insert((tenant.clone(), ticket.clone(), user.clone()));
    }

    /// Plans an audit event and returns its id.
    pub fn event(
        &mut self,
        tenant: &TenantId,
        ticket: &TicketId,
        actor: Option<&UserId>,
        kind: AuditKind,
        payload: &impl Serialize,
        now: Timestamp,
    ) -> FlowResult<EventId> {
        // Serialised straight to text, without a `serde_json::Value` tree in between: the
        // engine plans thousands of events a second.
        let payload = serde_json::to_string(payload)
            .map_err(|e| anyhow::anyhow!("the payload of a {kind} event: {e}"))?;
        let id = EventId(new_id());
        self.events.push(PlannedEvent {
            id: id.clone(),
            tenant_id: tenant.clone(),
            ticket_id: Some(ticket.clone()),
            actor_id: actor.cloned(),
            kind,
            payload,
            occurred_at: now,
        });
        Ok(id)
    }

    /// Plans a notification of `kind` about `event` to staff `users`. Asked again for the
    /// same event and kind, it adds to the same notification: a person reached through
    /// several of their roles or teams is told once.
    pub fn notify_staff<'u>(
        &mut self,
        tenant: &TenantId,
        ticket: &TicketId,
        users: impl IntoIterator<Item = &'u UserId>,
        kind: NotificationKind,
        event: &EventId,
        payload: &Arc<str>,
    ) {
        let mut users = users.into_iter().peekable();
        if users.peek().is_none() {
            return;
        }
        let key = (event.clone(), kind);
        let at = match self.message_at.get(&key) {
            Some(&at) => at,
            None => {
                self.message_at.insert(key, self.messages.len());
                self.messages.push(Message {
                    tenant: tenant.clone(),
                    ticket: ticket.clone(),
                    users: Vec::new(),
                    kind,
                    event: event.clone(),
                    payload: Arc::clone(payload),
                });
                self.messages.len() - 1
            }
        };
        let told = &mut self.messages[at].users;
        for user in users {
            if !told.contains(user) {
                told.push(user.clone());
            }
        }
    }

    /// Writes everything, in an order that satisfies the foreign keys; the audit events join
    /// the transaction's, appended at its commit.
    pub async fn write(mut self, tx: &mut WriteTx, now: Timestamp) -> FlowResult<()> {
        let events = self.take_events();
        let conn = tx.conn();
        let (mut created, mut updated) = (Vec::new(), Vec::new());
        for (e, new) in self.escalations.into_values() {
            if new {
                created.push(e);
            } else {
                updated.push(e);
            }
        }
        // Supersede before inserting: one active escalation per ticket at every moment.
        escalations::update_many(&mut *conn, &updated).await?;
        escalations::insert_many(&mut *conn, &created).await?;
        let rows: Vec<_> = self
            .priorities
            .iter()
            .map(|(id, (tenant, priority))| (tenant.clone(), id.clone(), *priority))
            .collect();
        tickets::set_priorities(&mut *conn, &rows, now).await?;
        let watchers: Vec<_> = self.watchers.into_iter().collect();
        tickets::add_watchers(&mut *conn, &watchers, now).await?;
        let messages: Vec<NewMessage<'_>> = self
            .messages
            .iter()
            .map(|m| NewMessage {
                tenant_id: &m.tenant,
                ticket_id: Some(&m.ticket),
                recipient_user_ids: &m.users,
                recipient_email: None,
                audience: Audience::Staff,
                kind: m.kind,
                payload: &m.payload,
                event_id: &m.event,
            })
            .collect();
        outbox::enqueue_many(&mut *conn, &messages, now).await?;

        // Each touched ticket's timer is what its active escalation waits for next.
        let mut timers: Vec<NewTimer> = Vec::new();
        for (ticket, reset) in &self.timers_of {
            let Some(e) = &reset.active else { continue };
            let computed;
            let due = match &reset.due {
                Some(due) => due,
                None => {
                    let (snap, run) = sla::state_of(e)?;
                    computed = run.clocks.timers(&snap, e.created_at, e.ack_due_at);
                    &computed
                }
            };
            let next = due
                .iter()
                .map(|&(kind, due)| {
                    let held = self.held.get(&(ticket.clone(), kind.as_str()));
                    (held.copied().unwrap_or(due), kind)
                })
                .min();
            if let Some((due, kind)) = next {
                timers.push(NewTimer {
                    tenant_id: reset.tenant.clone(),
                    ticket_id: ticket.clone(),
                    escalation_id: Some(e.id.clone()),
                    kind,
                    due_at: due,
                });
            }
        }
        let touched: Vec<TicketId> = self
            .timers_of
            .keys()
            .cloned()
            .chain(self.fired)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        timers::replace_many(&mut *conn, &touched, &timers, now).await?;
        tx.record_many(events);
        Ok(())
    }
}
