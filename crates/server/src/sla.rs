//! The seam between escalation flows and the policy engine: which rule and chain an
//! escalation runs under, its SLA clocks and due times, and the durable timers that carry
//! them out.
//!
//! Each escalation row stores the snapshot of the rule it started with (`snapshot`) and the
//! run's clocks with its position on the chain (`sla`). Its `ack_due_at`, `update_due_at`
//! and `resolve_due_at` columns are derived from those, for the queue to sort by.

use jiff::Timestamp;
use ladder_core::policy::{EscalationSnapshot, Facts};
use ladder_core::sla::{next_on_chain, Deadlines, SlaClocks, TimerKind};
use ladder_core::TenantId;
use ladder_core::{
    Category, CustomerTier, Policy, Priority, Target, TicketStatus, TriggerKind, Urgency,
};
use ladder_storage::directory::Customer;
use ladder_storage::escalations::Escalation;
use ladder_storage::tickets::Ticket;
use ladder_storage::timers;
use ladder_storage::StorageError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::flows::FlowResult;

/// What is stored in an escalation's `sla` column: the run's clocks, shared by every rung,
/// and where on the snapshot's chain this escalation stands (1-based; 0 for a target named
/// by hand that is not on the chain).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    pub position: usize,
    pub clocks: SlaClocks,
}

/// The stored triggers of a ticket, by kind; an error naming the ticket when one cannot be
/// read.
pub fn trigger_kinds(ticket: &Ticket) -> Result<Vec<TriggerKind>, StorageError> {
    let corrupt = |what: String| StorageError::Corrupt {
        table: "tickets",
        detail: format!("ticket {}: {what}", ticket.id),
    };
    let list = match &ticket.triggers {
        serde_json::Value::Array(list) => list.as_slice(),
        serde_json::Value::Null => &[],
        other => return Err(corrupt(format!("its triggers are not a list: {other}"))),
    };
    list.iter()
        .map(|t| {
            t["kind"]
                .as_str()
                .and_then(|k| k.parse().ok())
                .ok_or_else(|| corrupt(format!("a trigger of unknown kind: {t}")))
        })
        .collect()
}

/// What the policy's matrix looks at in a ticket.
pub fn facts(
    ticket: &Ticket,
    customer: Option<&Customer>,
    category: Category,
    priority: Priority,
    extra_triggers: &[TriggerKind],
) -> Result<Facts, StorageError> {
    let mut triggers = trigger_kinds(ticket)?;
    for t in extra_triggers {
        if !triggers.contains(t) {
            triggers.push(*t);
        }
    }
    Ok(Facts {
        category,
        priority,
        tier: customer.map_or(CustomerTier::Standard, |c| c.tier),
        triggers,
        channel: ticket.channel,
    })
}

/// The rule that applies to `facts`, frozen. A stored policy always ends with a catch-all
/// rule (validation insists); should one not, the built-in policy's rules stand in.
pub fn snapshot_for(policy: &Policy, facts: &Facts) -> EscalationSnapshot {
    if let Some(snap) = policy
        .match_rule(facts)
        .and_then(|(i, _)| policy.snapshot(i))
    {
        return snap;
    }
    let builtin = Policy::default();
    builtin
        .match_rule(facts)
        .and_then(|(i, _)| builtin.snapshot(i))
        .unwrap_or_else(|| fallback_snapshot(&builtin))
}

fn fallback_snapshot(builtin: &Policy) -> EscalationSnapshot {
    builtin
        .snapshot(builtin.rules.len().saturating_sub(1))
        .expect("invariant: the built-in policy ends with a catch-all rule")
}

/// The snapshot an escalation about to be opened runs under.
pub fn plan(
    policy: &Policy,
    ticket: &Ticket,
    customer: Option<&Customer>,
    category: Category,
    urgency: Urgency,
    triggers: &[TriggerKind],
) -> Result<EscalationSnapshot, StorageError> {
    let priority = urgency.priority().max(ticket.priority);
    let facts = facts(ticket, customer, category, priority, triggers)?;
    Ok(snapshot_for(policy, &facts))
}

type SnapshotCache = Mutex<HashMap<String, Arc<EscalationSnapshot>>>;

/// Snapshots are parsed once per process: there are few distinct ones (one per rule and
/// policy version), and every escalation of every rung refers to one.
fn cache() -> std::sync::MutexGuard<'static, HashMap<String, Arc<EscalationSnapshot>>> {
    static CACHE: OnceLock<SnapshotCache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if map.len() > 10_000 {
        map.clear();
    }
    map
}

/// The snapshot an escalation refers to: from the cache when this process parsed it before,
/// else parsed from `document`. `Ok(None)` when the escalation has none (it predates
/// policies); an error naming the escalation when its snapshot is missing or unreadable.
fn parsed(e: &Escalation) -> Result<Option<Arc<EscalationSnapshot>>, StorageError> {
    let id = e.snapshot_id.as_deref();
    if let Some(hit) = id.and_then(|id| cache().get(id).cloned()) {
        return Ok(Some(hit));
    }
    let Some(document) = e.snapshot.as_ref() else {
        return match id {
            Some(id) => Err(corrupt(e, format!("its snapshot {id} is not stored"))),
            None => Ok(None),
        };
    };
    let snap = serde_json::from_value::<EscalationSnapshot>(document.clone())
        .map_err(|err| corrupt(e, format!("its snapshot is not one: {err}")))?;
    let snap = Arc::new(snap);
    if let Some(id) = id {
        cache().insert(id.to_owned(), snap.clone());
    }
    Ok(Some(snap))
}

/// A stored escalation that cannot be read back.
fn corrupt(e: &Escalation, what: String) -> StorageError {
    StorageError::Corrupt {
        table: "escalations",
        detail: format!("escalation {}: {what}", e.id),
    }
}

/// Of these snapshot ids, the ones this process has not parsed yet.
pub fn unknown_snapshots(ids: impl Iterator<Item = String>) -> Vec<String> {
    let map = cache();
    let mut out: Vec<String> = ids.filter(|id| !map.contains_key(id)).collect();
    out.sort();
    out.dedup();
    out
}

/// Parses and keeps a stored snapshot document, or says which one is unreadable.
pub fn learn_snapshot(id: &str, document: &str) -> Result<(), StorageError> {
    let snap = serde_json::from_str::<EscalationSnapshot>(document).map_err(|err| {
        StorageError::Corrupt {
            table: "escalation_snapshots",
            detail: format!("snapshot {id} is not one: {err}"),
        }
    })?;
    cache().insert(id.to_owned(), Arc::new(snap));
    Ok(())
}

/// A snapshot as stored: its JSON document and its id, the SHA-256 of the document.
pub fn stored(snap: &EscalationSnapshot) -> FlowResult<(String, serde_json::Value)> {
    let document = serde_json::to_value(snap)
        .map_err(|e| anyhow::anyhow!("writing the snapshot of rule {:?}: {e}", snap.rule.name))?;
    let id = hex::encode(Sha256::digest(document.to_string().as_bytes()));
    Ok((id, document))
}

/// The snapshot and run of a stored escalation. Escalations from before policies existed
/// (no snapshot, no run stored) get the built-in rule for their category and a run starting
/// when they were made; a snapshot or run that is stored but unreadable is an error naming
/// the escalation.
pub fn state_of(e: &Escalation) -> Result<(Arc<EscalationSnapshot>, Run), StorageError> {
    let snap = parsed(e)?.unwrap_or_else(|| {
        let facts = Facts {
            category: e.category,
            priority: e.priority,
            tier: CustomerTier::Standard,
            triggers: e.triggers.clone(),
            channel: ladder_core::Channel::Web,
        };
        Arc::new(snapshot_for(&Policy::default(), &facts))
    });
    let run = match e.sla.as_deref() {
        Some(text) => serde_json::from_str::<Run>(text)
            .map_err(|err| corrupt(e, format!("its SLA run is not one: {err}")))?,
        None => Run {
            position: ladder_core::sla::position_on_chain(&snap.chain(), &e.target),
            clocks: SlaClocks::start(&snap, e.created_at),
        },
    };
    Ok((snap, run))
}

/// When the rung at `position`, reached at `from`, must acknowledge before the next rung is
/// called; `None` when there is no rung above it. A target off the chain has the first rung's
/// time, one past its end the last rung's.
pub fn rung_ack_due(
    snap: &EscalationSnapshot,
    position: usize,
    target: &Target,
    from: Timestamp,
) -> Option<Timestamp> {
    let chain = snap.chain();
    next_on_chain(&chain, position, target)?;
    let last = snap.rule.chain.len().checked_sub(1)?;
    let index = position.saturating_sub(1).min(last);
    snap.ack_due(index, from)
}

/// Writes the run into the escalation and derives its due-time columns.
pub fn apply(e: &mut Escalation, snap: &EscalationSnapshot, run: &Run) -> FlowResult<()> {
    let text = serde_json::to_string(run)
        .map_err(|err| anyhow::anyhow!("writing the SLA run of escalation {}: {err}", e.id))?;
    e.sla = Some(text);
    e.ack_due_at = if e.state == ladder_core::EscalationState::Requested {
        rung_ack_due(snap, run.position, &e.target, e.created_at)
    } else {
        None
    };
    e.update_due_at = run.clocks.update_due();
    e.resolve_due_at = run.clocks.resolve_due(snap);
    Ok(())
}

/// What an active escalation waits for next: the earliest of the timers its clocks need.
pub fn next_timer(e: &Escalation) -> Result<Option<(TimerKind, Timestamp)>, StorageError> {
    if !e.is_active() {
        return Ok(None);
    }
    let (snap, run) = state_of(e)?;
    Ok(run
        .clocks
        .timers(&snap, e.created_at, e.ack_due_at)
        .into_iter()
        .min_by_key(|(k, t)| (*t, *k)))
}

/// Sets the ticket's timer to what the escalation waits for next; none once it is no longer
/// active.
pub async fn sync_timers(
    conn: &mut AnyConnection,
    e: &Escalation,
    now: Timestamp,
) -> FlowResult<()> {
    match next_timer(e)? {
        Some((kind, due)) => {
            timers::set(
                conn,
                &e.tenant_id,
                &e.ticket_id,
                Some(&e.id),
                kind,
                due,
                now,
            )
            .await?
        }
        None => timers::clear(conn, &e.tenant_id, &e.ticket_id).await?,
    }
    Ok(())
}

/// The three deadlines and their state as of `now`, for a response.
pub fn deadlines(e: &Escalation, now: Timestamp) -> Result<Deadlines, StorageError> {
    let (snap, run) = state_of(e)?;
    Ok(run.clocks.deadlines(&snap, now))
}

/// Sets (or clears) the ticket's first-response timer: a ticket that is not escalated and
/// has had no response escalates by itself when its rule says so.
pub async fn schedule_first_response(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    policy: &Policy,
    ticket: &Ticket,
    customer: Option<&Customer>,
    now: Timestamp,
) -> FlowResult<()> {
    let kind = TimerKind::FirstResponse;
    match first_response_pending(policy, ticket, customer)? {
        Some(due) => timers::set(conn, tenant, &ticket.id, None, kind, due, now).await?,
        None => timers::cancel(conn, tenant, &ticket.id, kind).await?,
    }
    Ok(())
}

/// When `ticket`'s first-response timer is due: `None` unless it waits for a first
/// response (none yet, not escalated, new or open) under a rule that sets a limit.
pub fn first_response_pending(
    policy: &Policy,
    ticket: &Ticket,
    customer: Option<&Customer>,
) -> Result<Option<Timestamp>, StorageError> {
    let waiting = ticket.first_response_at.is_none()
        && ticket.active_escalation_id.is_none()
        && matches!(ticket.status, TicketStatus::New | TicketStatus::Open);
    if waiting {
        first_response_due(policy, ticket, customer)
    } else {
        Ok(None)
    }
}

/// When a ticket escalates by itself for want of a first response, under the rule its
/// current fields match; `None` when that rule sets no limit.
pub fn first_response_due(
    policy: &Policy,
    ticket: &Ticket,
    customer: Option<&Customer>,
) -> Result<Option<Timestamp>, StorageError> {
    let facts = facts(
        ticket,
        customer,
        ticket.category.unwrap_or(Category::Other),
        ticket.priority,
        &[],
    )?;
    Ok(snapshot_for(policy, &facts).first_response_due(ticket.created_at))
}
