//! What the API shows: the JSON of each object as a client sees it, converted from storage
//! rows (which keep what only the server needs, such as an escalation's stored clocks) and
//! carrying what only a response has (an escalation's deadlines as of the request). The
//! OpenAPI schemas come from these types.

use std::collections::BTreeMap;

use jiff::Timestamp;
use ladder_core::sla::Deadlines;
use ladder_core::{
    ApprovalState, AuditKind, Category, Channel, ContactMethod, CustomerTier, EscalationState,
    LinkKind, NotificationKind, Priority, Role, Target, TicketStatus, TriggerKind, Urgency,
};
use ladder_storage::{audit, directory, escalations, outbox, queues, tickets, StorageError};
use serde::Serialize;

use crate::flows::tickets::TicketDetail;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Set while the user is away; escalations route around them until then.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub away_until: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<directory::User> for User {
    fn from(u: directory::User) -> User {
        User {
            id: u.id.0,
            email: u.email,
            name: u.name,
            role: u.role,
            away_until: u.away_until,
            created_at: u.created_at,
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<directory::Team> for Team {
    fn from(t: directory::Team) -> Team {
        Team {
            id: t.id.0,
            name: t.name,
            members: t.members.into_iter().map(|m| m.0).collect(),
            created_at: t.created_at,
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub tier: CustomerTier,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<directory::Customer> for Customer {
    fn from(c: directory::Customer) -> Customer {
        Customer {
            id: c.id.0,
            name: c.name,
            email: c.email,
            phone: c.phone,
            tier: c.tier,
            created_at: c.created_at,
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Ticket {
    pub id: String,
    pub subject: String,
    pub description: String,
    pub customer_id: String,
    pub channel: Channel,
    pub category: Option<Category>,
    pub priority: Priority,
    pub status: TicketStatus,
    pub assignee_id: Option<String>,
    pub team_id: Option<String>,
    pub tags: Vec<String>,
    /// Escalation triggers detected in the ticket's text and history: `[{kind, evidence, mode}]`.
    #[schema(value_type = Vec<Object>)]
    pub triggers: serde_json::Value,
    pub active_escalation_id: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_response_at: Option<Timestamp>,
    pub created_by: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<tickets::Ticket> for Ticket {
    fn from(t: tickets::Ticket) -> Ticket {
        Ticket {
            id: t.id.0,
            subject: t.subject,
            description: t.description,
            customer_id: t.customer_id.0,
            channel: t.channel,
            category: t.category,
            priority: t.priority,
            status: t.status,
            assignee_id: t.assignee_id.map(|u| u.0),
            team_id: t.team_id.map(|t| t.0),
            tags: t.tags,
            triggers: t.triggers,
            active_escalation_id: t.active_escalation_id.map(|e| e.0),
            first_response_at: t.first_response_at,
            created_by: t.created_by.map(|u| u.0),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A ticket with what a person needs beside it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TicketView {
    #[serde(flatten)]
    pub ticket: Ticket,
    pub active_escalation: Option<Escalation>,
    pub watchers: Vec<String>,
    pub links: Vec<Link>,
}

impl TicketView {
    /// The ticket as shown at `now` (its escalation's deadlines stand as of then).
    pub fn at(d: TicketDetail, now: Timestamp) -> Result<TicketView, StorageError> {
        Ok(TicketView {
            ticket: d.ticket.into(),
            active_escalation: d
                .active_escalation
                .map(|e| Escalation::at(e, now))
                .transpose()?,
            watchers: d.watchers.into_iter().map(|u| u.0).collect(),
            links: all(d.links),
        })
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Comment {
    pub id: String,
    pub ticket_id: String,
    pub author_id: Option<String>,
    pub body: String,
    /// A reply the customer sees (`true`) or an internal note for staff (`false`).
    pub public: bool,
    /// A phone call with the customer, written up by staff.
    pub logged_call: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<tickets::Comment> for Comment {
    fn from(c: tickets::Comment) -> Comment {
        Comment {
            id: c.id.0,
            ticket_id: c.ticket_id.0,
            author_id: c.author_id.map(|u| u.0),
            body: c.body,
            public: c.public,
            logged_call: c.logged_call,
            created_at: c.created_at,
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Link {
    pub from_ticket_id: String,
    pub to_ticket_id: String,
    pub kind: LinkKind,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<tickets::Link> for Link {
    fn from(l: tickets::Link) -> Link {
        Link {
            from_ticket_id: l.from_ticket_id.0,
            to_ticket_id: l.to_ticket_id.0,
            kind: l.kind,
            created_at: l.created_at,
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Escalation {
    pub id: String,
    pub tenant_id: String,
    pub ticket_id: String,
    pub state: EscalationState,
    pub target: Target,
    /// How many hops up the ladder this one is (1 for the first escalation of a run).
    pub rung: i64,
    pub category: Category,
    pub note: String,
    pub tried: Option<String>,
    pub contact_method: ContactMethod,
    pub urgency: Urgency,
    pub priority: Priority,
    pub triggers: Vec<TriggerKind>,
    pub requested_by: Option<String>,
    /// The single named person who took the escalation.
    pub escalation_owner_id: Option<String>,
    /// The policy rule and calendar this escalation started with.
    #[schema(value_type = Option<Object>)]
    pub snapshot: Option<serde_json::Value>,
    /// The acknowledge, update and resolve deadlines with their state, computed for the
    /// moment of the response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadlines: Option<Deadlines>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ack_due_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub update_due_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolve_due_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<Timestamp>,
    /// Summary, root cause, actions, compensation; or the reason of a de-escalation.
    #[schema(value_type = Option<Object>)]
    pub resolution: Option<serde_json::Value>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl Escalation {
    /// The escalation with its three deadlines as they stand at `now`.
    pub fn at(e: escalations::Escalation, now: Timestamp) -> Result<Escalation, StorageError> {
        let deadlines = crate::sla::deadlines(&e, now)?;
        Ok(Escalation {
            id: e.id.0,
            tenant_id: e.tenant_id.0,
            ticket_id: e.ticket_id.0,
            state: e.state,
            target: e.target,
            rung: e.rung,
            category: e.category,
            note: e.note,
            tried: e.tried,
            contact_method: e.contact_method,
            urgency: e.urgency,
            priority: e.priority,
            triggers: e.triggers,
            requested_by: e.requested_by.map(|u| u.0),
            escalation_owner_id: e.escalation_owner_id.map(|u| u.0),
            snapshot: e.snapshot,
            deadlines: Some(deadlines),
            ack_due_at: e.ack_due_at,
            update_due_at: e.update_due_at,
            resolve_due_at: e.resolve_due_at,
            acknowledged_at: e.acknowledged_at,
            closed_at: e.closed_at,
            resolution: e.resolution,
            created_at: e.created_at,
            updated_at: e.updated_at,
        })
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Approval {
    pub id: String,
    pub escalation_id: String,
    pub ticket_id: String,
    pub requested_by: String,
    /// The rung asked to decide.
    pub approver_role: Role,
    pub amount_minor: i64,
    pub currency: String,
    pub state: ApprovalState,
    /// The resolution that takes effect if approved.
    #[schema(value_type = Object)]
    pub resolution: serde_json::Value,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<Timestamp>,
}

impl From<escalations::Approval> for Approval {
    fn from(a: escalations::Approval) -> Approval {
        Approval {
            id: a.id.0,
            escalation_id: a.escalation_id.0,
            ticket_id: a.ticket_id.0,
            requested_by: a.requested_by.0,
            approver_role: a.approver_role,
            amount_minor: a.amount_minor,
            currency: a.currency,
            state: a.state,
            resolution: a.resolution,
            decided_by: a.decided_by.map(|u| u.0),
            decision_reason: a.decision_reason,
            created_at: a.created_at,
            decided_at: a.decided_at,
        }
    }
}

/// One event of the audit trail as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub id: String,
    pub seq: i64,
    pub ticket_id: Option<String>,
    pub actor_id: Option<String>,
    /// What happened, e.g. `ticket_created`, `escalated`, `acknowledged`.
    #[schema(value_type = String)]
    pub kind: AuditKind,
    /// Who/what/why, with `before` and `after` for changes.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: Timestamp,
    pub hash: String,
}

impl From<audit::AuditEvent> for AuditEvent {
    fn from(e: audit::AuditEvent) -> AuditEvent {
        AuditEvent {
            id: e.id.0,
            seq: e.seq,
            ticket_id: e.ticket_id.map(|t| t.0),
            actor_id: e.actor_id.map(|u| u.0),
            kind: e.kind,
            payload: e.payload,
            occurred_at: e.occurred_at,
            hash: e.hash,
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Message {
    pub id: String,
    pub ticket_id: Option<String>,
    /// The staff members it goes to (empty for a message to a customer).
    pub recipient_user_ids: Vec<String>,
    pub recipient_email: Option<String>,
    pub audience: String,
    #[schema(value_type = String)]
    pub kind: NotificationKind,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<Timestamp>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

impl From<outbox::Message> for Message {
    fn from(m: outbox::Message) -> Message {
        Message {
            id: m.id,
            ticket_id: m.ticket_id.map(|t| t.0),
            recipient_user_ids: m.recipient_user_ids.into_iter().map(|u| u.0).collect(),
            recipient_email: m.recipient_email,
            audience: m.audience,
            kind: m.kind,
            payload: m.payload,
            created_at: m.created_at,
            delivered_at: m.delivered_at,
            attempts: m.attempts,
            last_error: m.last_error,
        }
    }
}

/// A page of a queue.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// How many items the whole queue holds, by status.
    pub counts: BTreeMap<String, i64>,
    pub total: i64,
}

impl<T> Page<T> {
    /// A page of rows shown as views.
    pub fn of<R>(page: queues::Page<R>, view: impl FnMut(R) -> T) -> Page<T> {
        Page {
            items: page.items.into_iter().map(view).collect(),
            next_cursor: page.next_cursor,
            counts: page.counts,
            total: page.total,
        }
    }

    /// A page of rows shown as views, when showing one can fail.
    pub fn try_of<R, E>(
        page: queues::Page<R>,
        view: impl FnMut(R) -> Result<T, E>,
    ) -> Result<Page<T>, E> {
        Ok(Page {
            items: page.items.into_iter().map(view).collect::<Result<_, E>>()?,
            next_cursor: page.next_cursor,
            counts: page.counts,
            total: page.total,
        })
    }
}

/// One line of the escalations queue: the escalation and what a person needs to triage it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EscalationItem {
    #[serde(flatten)]
    pub escalation: Escalation,
    pub ticket_subject: String,
    pub ticket_status: TicketStatus,
}

impl EscalationItem {
    pub fn at(
        item: queues::EscalationItem,
        now: Timestamp,
    ) -> Result<EscalationItem, StorageError> {
        Ok(EscalationItem {
            escalation: Escalation::at(item.escalation, now)?,
            ticket_subject: item.ticket_subject,
            ticket_status: item.ticket_status,
        })
    }
}

/// Shows each row of a list.
pub fn all<R, V: From<R>>(rows: Vec<R>) -> Vec<V> {
    rows.into_iter().map(V::from).collect()
}
