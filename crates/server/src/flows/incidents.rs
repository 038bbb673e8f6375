//! The same problem from many customers at once: every new ticket records the key of its
//! problem; when enough distinct customers share a key within the policy's window, one parent
//! incident ticket groups them (`child_of` links), and — in `auto` mode — the parent alone
//! escalates, once. In `suggest` mode the parent is still opened, because the grouping is what
//! lets one person answer everybody, but nobody is paged.
//!
//! It runs in two steps inside the ticket's own transaction. [`prepare`] waits for other
//! reports of the same problem (PostgreSQL advisory lock; SQLite's write gate) and locks the
//! tickets it will change; [`apply`] then writes the parent, the links, the triggers and the
//! audit events. (The tenant's audit-chain lock is taken at commit, after every other lock of
//! the transaction, so it never orders against these.)

use jiff::{SignedDuration, Timestamp};
use ladder_core::text::LongText;
use ladder_core::triggers::history::{grouping_key, incident_reached};
use ladder_core::AuditKind;
use ladder_core::TenantId;
use ladder_core::{
    Category, Channel, ContactMethod, LinkKind, Policy, Priority, TicketStatus, TriggerKind,
    TriggerMode, Urgency,
};
use ladder_storage::incidents::{self, Incident};
use ladder_storage::tickets::{self, NewTicket, Ticket};
use ladder_storage::{Backend, Db, StorageError, WriteTx};
use serde_json::json;

use super::escalation::{open_escalation, Escalate};
use super::record;
use crate::flows::{FlowError, FlowResult};
use crate::triggers::FoundTrigger;

/// What [`prepare`] found for a new ticket, for [`apply`] to write.
pub struct Grouping {
    key: String,
    category: Category,
    step: Step,
}

impl Grouping {
    /// Whether [`apply`] links the new ticket to others (it opens or joins an incident).
    pub fn links(&self) -> bool {
        !matches!(self.step, Step::Wait)
    }
}

enum Step {
    /// Fewer customers than the threshold, and no incident open: nothing to write.
    Wait,
    /// The threshold is reached: open an incident over these earlier reports (locked) and
    /// the new ticket.
    Open {
        customers: u32,
        earlier: Vec<Ticket>,
    },
    /// An incident is open for this problem: join it. The parent is locked.
    Join {
        incident: Incident,
        parent: Box<Ticket>,
    },
}

fn is_finished(status: TicketStatus) -> bool {
    matches!(status, TicketStatus::Resolved | TicketStatus::Closed)
}

/// The key that groups a new ticket with other reports of its problem, if its text has one:
/// written with the ticket, and read by [`prepare`].
pub fn problem_key(category: Option<Category>, subject: &str, description: &str) -> Option<String> {
    grouping_key(
        category.unwrap_or(Category::Other),
        &format!("{subject}\n\n{description}"),
    )
}

/// Decides what grouping a new ticket takes, given its problem key ([`problem_key`], written
/// with the ticket even with the trigger off, so that turning it on counts recent reports).
/// Call it after inserting the ticket.
pub async fn prepare(
    tx: &mut WriteTx,
    db: &Db,
    tenant: &TenantId,
    policy: &Policy,
    ticket: &Ticket,
    key: Option<String>,
    now: Timestamp,
) -> FlowResult<Option<Grouping>> {
    let category = ticket.category.unwrap_or(Category::Other);
    let Some(key) = key else {
        return Ok(None);
    };
    if policy.trigger_mode(TriggerKind::ManyCustomers) == TriggerMode::Off {
        return Ok(None);
    }
    let pg = db.backend() == Backend::Postgres;
    incidents::lock_key(tx.conn(), pg, tenant, &key).await?;
    if let Some(incident) = incidents::open(tx.conn(), tenant, &key).await? {
        let parent =
            tickets::get_for_update(tx.conn(), pg, tenant, &incident.parent_ticket_id).await?;
        match parent {
            Some(parent) if !is_finished(parent.status) => {
                let step = Step::Join {
                    incident,
                    parent: Box::new(parent),
                };
                return Ok(Some(Grouping {
                    key,
                    category,
                    step,
                }));
            }
            // The incident was dealt with: new reports start a new one.
            _ => incidents::close(tx.conn(), tenant, &incident.id, now).await?,
        }
    }
    let rule = policy.history.many_customers;
    let since = now
        .checked_sub(SignedDuration::from_mins(i64::from(rule.window_minutes)))
        .unwrap_or(Timestamp::MIN);
    // Whether the threshold is reached is counted through the index, up to the threshold;
    // the reports themselves are read only when an incident opens.
    let reporters =
        incidents::distinct_reporters(tx.conn(), tenant, &key, since, now, rule.threshold).await?;
    let step = match incident_reached(reporters, &rule) {
        None => Step::Wait,
        Some(_) => {
            let reports = incidents::unlinked_reports(tx.conn(), tenant, &key, since).await?;
            // A request that read the clock after this one may have committed first: its
            // report is linked and counted too, or it would never join the incident.
            let customers = reports
                .iter()
                .map(|r| r.customer_id.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            let customers = u32::try_from(customers).unwrap_or(u32::MAX);
            let mut earlier = Vec::new();
            // Oldest first, the same order in every transaction.
            for r in reports.iter().filter(|r| r.ticket_id != ticket.id) {
                if let Some(t) =
                    tickets::get_for_update(tx.conn(), pg, tenant, &r.ticket_id).await?
                {
                    earlier.push(t);
                }
            }
            Step::Open { customers, earlier }
        }
    };
    Ok(Some(Grouping {
        key,
        category,
        step,
    }))
}

/// Writes what [`prepare`] decided: opens or joins the incident, links and tags the children,
/// and escalates the parent once when the policy says `auto`.
pub async fn apply(
    tx: &mut WriteTx,
    tenant: &TenantId,
    policy: &Policy,
    ticket: &mut Ticket,
    grouping: Option<Grouping>,
    now: Timestamp,
) -> FlowResult<()> {
    let Some(Grouping {
        key,
        category,
        step,
    }) = grouping
    else {
        return Ok(());
    };
    match step {
        Step::Wait => Ok(()),
        Step::Open { customers, earlier } => {
            open(
                tx, tenant, policy, ticket, &key, category, customers, earlier, now,
            )
            .await
        }
        Step::Join { incident, parent } => {
            join(tx, tenant, policy, ticket, incident, *parent, now).await
        }
    }
}

/// The `many_customers` trigger as children and the parent carry it.
fn found(policy: &Policy, incident: &Incident) -> FoundTrigger {
    FoundTrigger {
        kind: TriggerKind::ManyCustomers,
        mode: policy.trigger_mode(TriggerKind::ManyCustomers),
        confidence: 1.0,
        evidence: json!([{
            "customers": incident.customers,
            "incident_key": incident.incident_key,
            "parent_ticket_id": incident.parent_ticket_id,
            "window_minutes": policy.history.many_customers.window_minutes,
        }]),
    }
}

/// Puts `f` in a ticket's trigger list, replacing an older entry of its kind so the count
/// shown stays current.
fn tag(ticket: &mut Ticket, f: FoundTrigger) -> Result<(), StorageError> {
    let mut all = crate::triggers::stored(ticket)?;
    all.retain(|a| a.kind != f.kind);
    all.push(f);
    if let Ok(v) = serde_json::to_value(all) {
        ticket.triggers = v;
    }
    Ok(())
}

/// At most `max` characters of `s`.
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[allow(clippy::too_many_arguments)] // the grouping's parts, passed on from `apply`
async fn open(
    tx: &mut WriteTx,
    tenant: &TenantId,
    policy: &Policy,
    ticket: &mut Ticket,
    key: &str,
    category: Category,
    customers: u32,
    earlier: Vec<Ticket>,
    now: Timestamp,
) -> FlowResult<()> {
    let window = policy.history.many_customers.window_minutes;
    // A ticket needs a customer: the parent takes the first reporter's; everyone else's
    // tickets hang below it.
    let first = earlier.first().unwrap_or(&*ticket);
    let subject = format!(
        "Incident: {customers} customers report \"{}\"",
        clip(&first.subject, 120)
    );
    let description = format!(
        "{customers} customers reported the same problem within {window} minutes (incident key \
         {key}). Their tickets are linked to this one; the first report:\n\n{}\n\n{}",
        first.subject, first.description
    );
    let mut parent = tickets::insert(
        tx.conn(),
        NewTicket {
            tenant_id: tenant,
            subject: &subject,
            description: &description,
            customer_id: &first.customer_id,
            channel: Channel::Api,
            category: Some(category),
            priority: Priority::High,
            assignee_id: None,
            team_id: None,
            triggers: json!([]),
            created_by: None,
            incident_key: None,
        },
        now,
    )
    .await?;
    let mut incident = incidents::insert(tx.conn(), tenant, key, &parent.id, customers, now)
        .await?
        // Reports of one key wait for each other in `prepare`, so this is a broken invariant
        // (or a hand-made row); refusing keeps "one parent per incident" true.
        .ok_or_else(|| {
            FlowError::Conflict(format!(
                "an incident for {key:?} was opened at the same moment; retry the request"
            ))
        })?;
    tag(&mut parent, found(policy, &incident))?;
    tickets::update(tx.conn(), tenant, &parent, now).await?;
    let children: Vec<&str> = earlier
        .iter()
        .map(|t| t.id.as_str())
        .chain([ticket.id.as_str()])
        .collect();
    record(
        tx,
        tenant,
        Some(&parent.id),
        None,
        AuditKind::TicketCreated,
        json!({
            "after": {
                "subject": parent.subject, "customer_id": parent.customer_id,
                "channel": parent.channel, "category": parent.category, "priority": parent.priority,
                "status": parent.status,
            },
            "incident": {"incident_key": key, "customers": customers, "window_minutes": window, "children": children},
            "triggers": parent.triggers,
        }),
        now,
    );
    for mut child in earlier {
        link_child(tx, tenant, policy, &mut child, &incident, now).await?;
    }
    link_child(tx, tenant, policy, ticket, &incident, now).await?;
    escalate_once(tx, tenant, policy, &mut parent, &mut incident, now).await?;
    incidents::update(tx.conn(), tenant, &incident, now).await?;
    Ok(())
}

async fn join(
    tx: &mut WriteTx,
    tenant: &TenantId,
    policy: &Policy,
    ticket: &mut Ticket,
    mut incident: Incident,
    mut parent: Ticket,
    now: Timestamp,
) -> FlowResult<()> {
    tickets::insert_link(
        tx.conn(),
        tenant,
        &ticket.id,
        &parent.id,
        LinkKind::ChildOf,
        now,
    )
    .await?;
    incident.customers = incidents::child_customers(tx.conn(), tenant, &parent.id).await?;
    tag(ticket, found(policy, &incident))?;
    tickets::update(tx.conn(), tenant, ticket, now).await?;
    ticket.updated_at = now;
    record_child(tx, tenant, ticket, &incident, now).await?;
    tag(&mut parent, found(policy, &incident))?;
    tickets::update(tx.conn(), tenant, &parent, now).await?;
    parent.updated_at = now;
    record(
        tx,
        tenant,
        Some(&parent.id),
        None,
        AuditKind::IncidentChildLinked,
        json!({
            "child_ticket_id": ticket.id, "customer_id": ticket.customer_id,
            "incident_key": incident.incident_key, "customers": incident.customers,
        }),
        now,
    );
    escalate_once(tx, tenant, policy, &mut parent, &mut incident, now).await?;
    incidents::update(tx.conn(), tenant, &incident, now).await?;
    Ok(())
}

/// Links one report below the parent and tags it, with an event on the report.
async fn link_child(
    tx: &mut WriteTx,
    tenant: &TenantId,
    policy: &Policy,
    child: &mut Ticket,
    incident: &Incident,
    now: Timestamp,
) -> FlowResult<()> {
    tickets::insert_link(
        tx.conn(),
        tenant,
        &child.id,
        &incident.parent_ticket_id,
        LinkKind::ChildOf,
        now,
    )
    .await?;
    tag(child, found(policy, incident))?;
    tickets::update(tx.conn(), tenant, child, now).await?;
    child.updated_at = now;
    record_child(tx, tenant, child, incident, now).await
}

async fn record_child(
    tx: &mut WriteTx,
    tenant: &TenantId,
    child: &Ticket,
    incident: &Incident,
    now: Timestamp,
) -> FlowResult<()> {
    record(
        tx,
        tenant,
        Some(&child.id),
        None,
        AuditKind::LinkedToIncident,
        json!({
            "parent_ticket_id": incident.parent_ticket_id, "kind": LinkKind::ChildOf,
            "incident_key": incident.incident_key, "customers": incident.customers,
            "trigger": TriggerKind::ManyCustomers,
        }),
        now,
    );
    Ok(())
}

/// In `auto` mode, escalates the parent the first time the incident is seen in that mode and
/// the parent is free to escalate; never a second time.
async fn escalate_once(
    tx: &mut WriteTx,
    tenant: &TenantId,
    policy: &Policy,
    parent: &mut Ticket,
    incident: &mut Incident,
    now: Timestamp,
) -> FlowResult<()> {
    if policy.trigger_mode(TriggerKind::ManyCustomers) != TriggerMode::Auto
        || incident.escalated_at.is_some()
        || parent.active_escalation_id.is_some()
        || is_finished(parent.status)
    {
        return Ok(());
    }
    let category = policy
        .triggers
        .get(&TriggerKind::ManyCustomers)
        .and_then(|s| s.category)
        .or(parent.category)
        .unwrap_or(Category::Other);
    let note = format!(
        "{} customers reported the same problem within {} minutes (incident key {}). Their \
         tickets are linked to this one: answer them together from here.",
        incident.customers, policy.history.many_customers.window_minutes, incident.incident_key
    );
    let req = Escalate {
        target: None,
        category,
        note: LongText::new(note)
            .map_err(|e| FlowError::Internal(anyhow::anyhow!("incident note: {e}")))?,
        tried: None,
        contact_method: ContactMethod::Email,
        urgency: Urgency::Urgent,
        triggers: vec![TriggerKind::ManyCustomers],
    };
    open_escalation(tx, tenant, parent, None, req, now).await?;
    incident.escalated_at = Some(now);
    Ok(())
}
