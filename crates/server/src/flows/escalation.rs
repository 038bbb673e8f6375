//! Escalate, acknowledge, resolve, de-escalate and re-escalate, with approvals for
//! compensation above the resolver's authority.

use std::sync::Arc;

use jiff::Timestamp;
use ladder_core::escalation::{approval_needed, check_acknowledge, check_active, check_escalate};
use ladder_core::policy::EscalationSnapshot;
use ladder_core::sla::{next_on_chain, position_on_chain, SlaClocks};
use ladder_core::text::{LongText, Text};
use ladder_core::{
    ApprovalState, Category, CompensationKind, ContactMethod, CustomerTier, CustomerVerification,
    EscalationState, Policy, Priority, Target, TicketStatus, TriggerKind, Urgency,
};
use ladder_storage::directory;
use ladder_storage::escalations::{self, Approval, Escalation};
use ladder_storage::tickets::{self, Ticket};
use ladder_storage::{new_id, Db, WriteTx};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::AnyConnection;

use super::changes::Changes;
use super::people::People;
use super::tickets::load_for_update;
use super::{notify_customer, notify_staff, policy_in, record};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::sla;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateRequest {
    /// Who to escalate to; the policy's chain (by default the owner) when left out.
    pub target: Option<Target>,
    pub category: Category,
    /// What the issue is and why it is escalated.
    #[schema(value_type = String, max_length = 20000)]
    pub note: LongText,
    /// What was already tried.
    #[schema(value_type = Option<String>)]
    pub tried: Option<LongText>,
    pub contact_method: ContactMethod,
    pub urgency: Urgency,
    /// The triggers that motivated the escalation.
    #[serde(default)]
    pub triggers: Vec<TriggerKind>,
}

async fn validate_target(conn: &mut AnyConnection, tenant: &str, target: &Target) -> ApiResult<()> {
    match target {
        Target::User { id } => {
            let u = directory::users_by_id(conn, tenant, std::slice::from_ref(&id.0)).await?;
            match u.first() {
                None => Err(ApiError::field(
                    "target.id",
                    format!("no user with id {:?} in this organisation", id.0),
                )),
                Some(u) if !u.role.is_tenant_staff() => Err(ApiError::field(
                    "target.id",
                    format!("{} is an {} and cannot take escalations", u.name, u.role),
                )),
                Some(_) => Ok(()),
            }
        }
        Target::Team { id } => match directory::team(conn, tenant, id.as_str()).await? {
            Some(_) => Ok(()),
            None => Err(ApiError::field(
                "target.id",
                format!("no team with id {:?} in this organisation", id.0),
            )),
        },
        Target::Role { role } if !role.is_tenant_staff() => Err(ApiError::field(
            "target.role",
            format!("escalations go to owner, admin, agent or specialist roles, not {role}"),
        )),
        _ => Ok(()),
    }
}

fn target_json(t: &Target) -> serde_json::Value {
    serde_json::to_value(t).unwrap_or_default()
}

/// The audit event of a move up the chain. Typed, like [`Details`], because the timer engine
/// writes one per rung timeout.
#[derive(Serialize)]
struct MovedUp<'a> {
    ack_due_at: Option<Timestamp>,
    after: Position<'a>,
    automatic: bool,
    before: Position<'a>,
    chain_position: usize,
    escalation_id: &'a str,
    note: &'a str,
    rung: i64,
    skipped: Vec<Skipped<'a>>,
    superseded_escalation_id: &'a str,
}

/// Where an escalation stood, before or after a move.
#[derive(Serialize)]
struct Position<'a> {
    escalation_id: &'a str,
    priority: Priority,
    target: &'a Target,
}

/// A rung passed over on the way, and why.
#[derive(Serialize)]
struct Skipped<'a> {
    reason: &'a str,
    target: &'a Target,
}

/// Everything the person taking an escalation needs, in the notification itself. A typed
/// struct rather than a `json!` tree: the timer engine writes thousands of these a second.
#[derive(Serialize)]
struct Details<'a> {
    ack_due_at: Option<Timestamp>,
    category: Category,
    contact_method: ContactMethod,
    customer: Option<CustomerDetails<'a>>,
    escalation_id: &'a str,
    note: &'a str,
    priority: Priority,
    requested_by: Option<&'a str>,
    resolve_due_at: Option<Timestamp>,
    subject: &'a str,
    target: &'a Target,
    ticket_id: &'a str,
    tried: Option<&'a str>,
    triggers: &'a [TriggerKind],
    urgency: Urgency,
}

#[derive(Serialize)]
struct CustomerDetails<'a> {
    email: Option<&'a str>,
    name: &'a str,
    phone: Option<&'a str>,
    tier: CustomerTier,
}

/// The notification payload for an escalation, as JSON text.
fn details(e: &Escalation, t: &Ticket, customer: Option<&directory::Customer>) -> Arc<str> {
    let details = Details {
        ack_due_at: e.ack_due_at,
        category: e.category,
        contact_method: e.contact_method,
        customer: customer.map(|c| CustomerDetails {
            email: c.email.as_deref(),
            name: &c.name,
            phone: c.phone.as_deref(),
            tier: c.tier,
        }),
        escalation_id: &e.id,
        note: &e.note,
        priority: e.priority,
        requested_by: e.requested_by.as_deref(),
        resolve_due_at: e.resolve_due_at,
        subject: &t.subject,
        target: &e.target,
        ticket_id: &t.id,
        tried: e.tried.as_deref(),
        triggers: &e.triggers,
        urgency: e.urgency,
    };
    // Serialising plain data into a string cannot fail.
    serde_json::to_string(&details).unwrap_or_default().into()
}

/// Escalates a ticket. Also used by the automatic paths (triggers, SLA), with `caller` None.
pub async fn escalate(
    db: &Db,
    caller: &Caller,
    ticket_id: &str,
    req: EscalateRequest,
    now: Timestamp,
) -> ApiResult<Escalation> {
    let mut tx = db.write().await?;
    let (tenant, mut ticket) = load_for_update(&mut tx, db, caller, ticket_id).await?;
    check_escalate(
        ticket.status,
        ticket.active_escalation_id.is_some(),
        &caller.actor(),
    )?;
    let e = open_escalation(
        &mut tx,
        &tenant,
        &mut ticket,
        Some(&caller.user.id),
        req,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(e)
}

/// The shared body of manual and automatic escalation, inside the caller's transaction.
pub async fn open_escalation(
    tx: &mut WriteTx,
    tenant: &str,
    ticket: &mut Ticket,
    requested_by: Option<&str>,
    req: EscalateRequest,
    now: Timestamp,
) -> ApiResult<Escalation> {
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

    let mut priority = req.urgency.priority().max(ticket.priority);
    if routed.target == Target::Platform && req.category == Category::Legal {
        priority = Priority::Critical;
    }
    let mut e = Escalation {
        id: new_id(),
        tenant_id: tenant.to_owned(),
        ticket_id: ticket.id.clone(),
        state: EscalationState::Requested,
        target: routed.target.clone(),
        rung: 1,
        category: req.category,
        note: req.note.into_string(),
        tried: req.tried.map(Text::into_string),
        contact_method: req.contact_method,
        urgency: req.urgency,
        priority,
        triggers: req.triggers,
        requested_by: requested_by.map(str::to_owned),
        escalation_owner_id: None,
        previous_status: ticket.status,
        previous_assignee_id: ticket.assignee_id.clone(),
        previous_team_id: ticket.team_id.clone(),
        snapshot: None,
        snapshot_id: None,
        sla: None,
        deadlines: None,
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
    escalations::insert(tx.conn(), &e).await?;
    let before =
        json!({"status": ticket.status, "priority": ticket.priority, "category": ticket.category});
    ticket.status = TicketStatus::Escalated;
    ticket.priority = priority;
    ticket.category = ticket.category.or(Some(e.category));
    ticket.active_escalation_id = Some(e.id.clone());
    tickets::update(tx.conn(), tenant, ticket, now).await?;
    if let Some(by) = requested_by {
        tickets::add_watcher(tx.conn(), tenant, &ticket.id, by, now).await?;
    }
    let after =
        json!({"status": ticket.status, "priority": ticket.priority, "category": ticket.category});
    let event = record(
        tx.conn(),
        tenant,
        Some(&ticket.id),
        requested_by,
        "escalated",
        json!({
            "escalation_id": e.id, "requested_target": target_json(&requested),
            "target": target_json(&e.target), "category": e.category, "note": e.note, "tried": e.tried,
            "contact_method": e.contact_method, "urgency": e.urgency, "triggers": e.triggers,
            "automatic": requested_by.is_none(),
            "skipped": routed.skipped.iter().map(|(t, why)| json!({"target": target_json(t), "reason": why})).collect::<Vec<_>>(),
            "rule": snap.rule.name, "policy_version": snap.policy_version, "rung": routed.position,
            "ack_due_at": e.ack_due_at, "update_due_at": e.update_due_at, "resolve_due_at": e.resolve_due_at,
            "before": before, "after": after,
        }),
        now,
    )
    .await?;
    let payload = details(&e, ticket, customer.as_ref());
    let recipients: Vec<String> = routed.recipients.iter().map(|u| u.id.clone()).collect();
    notify_staff(
        tx.conn(),
        tenant,
        &ticket.id,
        &recipients,
        "escalation_requested",
        &event,
        &payload,
        now,
    )
    .await?;
    sla::sync_timers(tx.conn(), &e, now).await?;
    Ok(e)
}

/// Loads an escalation the caller may see (platform support: only platform escalations),
/// and its ticket, locked.
async fn load(
    tx: &mut WriteTx,
    db: &Db,
    caller: &Caller,
    id: &str,
) -> ApiResult<(String, Escalation, Ticket)> {
    let scope = if caller.is_platform() {
        None
    } else {
        Some(caller.tenant_id())
    };
    let e = escalations::get(tx.conn(), scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("escalation"))?;
    let (tenant, ticket) = load_for_update(tx, db, caller, &e.ticket_id).await?;
    // Re-read under the ticket lock so that the state we decide on is current.
    let e = escalations::get(tx.conn(), Some(&tenant), id)
        .await?
        .ok_or_else(|| ApiError::not_found("escalation"))?;
    Ok((tenant, e, ticket))
}

async fn user_name(conn: &mut AnyConnection, tenant: &str, id: &str) -> ApiResult<String> {
    Ok(directory::users_by_id(conn, tenant, &[id.to_owned()])
        .await?
        .into_iter()
        .next()
        .map(|u| u.name)
        .unwrap_or_else(|| "another user".into()))
}

/// The caller becomes the single named owner of the escalation.
pub async fn acknowledge(
    db: &Db,
    caller: &Caller,
    id: &str,
    now: Timestamp,
) -> ApiResult<Escalation> {
    let mut tx = db.write().await?;
    let (tenant, mut e, mut ticket) = load(&mut tx, db, caller, id).await?;
    let owner_name = match &e.escalation_owner_id {
        Some(o) => Some((o.clone(), user_name(tx.conn(), &tenant, o).await?)),
        None => None,
    };
    let owner = owner_name.as_ref().map(|(i, n)| (i.as_str(), n.as_str()));
    if !check_acknowledge(e.state, &e.target, owner, &caller.actor())? {
        return Ok(e);
    }
    e.state = EscalationState::Acknowledged;
    e.escalation_owner_id = Some(caller.user.id.clone());
    e.acknowledged_at = Some(now);
    e.updated_at = now;
    let (snap, mut run) = sla::state_of(&e)?;
    run.clocks.acknowledge(now);
    sla::apply(&mut e, &snap, &run)?;
    if !escalations::update_if_state(tx.conn(), &e, EscalationState::Requested).await? {
        // Someone else acknowledged between our read and our write.
        let cur = escalations::get(tx.conn(), Some(&tenant), id)
            .await?
            .ok_or_else(|| ApiError::not_found("escalation"))?;
        let name = match &cur.escalation_owner_id {
            Some(o) => user_name(tx.conn(), &tenant, o).await?,
            None => "another user".into(),
        };
        return Err(ApiError::Conflict(format!(
            "already acknowledged by {name}, who owns this escalation"
        )));
    }
    let before_assignee = ticket.assignee_id.clone();
    if !caller.is_platform() {
        ticket.assignee_id = Some(caller.user.id.clone());
        tickets::update(tx.conn(), &tenant, &ticket, now).await?;
    }
    let event = record(
        tx.conn(),
        &tenant,
        Some(&ticket.id),
        Some(&caller.user.id),
        "acknowledged",
        json!({
            "escalation_id": e.id, "escalation_owner_id": caller.user.id, "escalation_owner": caller.user.name,
            "before": {"state": "requested", "assignee_id": before_assignee},
            "after": {"state": "acknowledged", "assignee_id": ticket.assignee_id},
            "update_due_at": e.update_due_at,
        }),
        now,
    )
    .await?;
    if let Some(by) = &e.requested_by {
        let payload = json!({"escalation_id": e.id, "ticket_id": ticket.id, "subject": ticket.subject, "escalation_owner": caller.user.name})
    .to_string();
        notify_staff(
            tx.conn(),
            &tenant,
            &ticket.id,
            std::slice::from_ref(by),
            "escalation_acknowledged",
            &event,
            &payload,
            now,
        )
        .await?;
    }
    let customer = directory::customer(tx.conn(), &tenant, &ticket.customer_id).await?;
    let payload = json!({
        "ticket_id": ticket.id, "subject": ticket.subject, "escalation_owner": caller.user.name,
        "contact_method": e.contact_method, "next_update_by": e.update_due_at,
    })
    .to_string();
    let email = customer.as_ref().and_then(|c| c.email.as_deref());
    notify_customer(
        tx.conn(),
        &tenant,
        &ticket.id,
        email,
        "customer_acknowledgement",
        &event,
        &payload,
        now,
    )
    .await?;
    sla::sync_timers(tx.conn(), &e, now).await?;
    tx.commit().await?;
    Ok(e)
}

#[derive(Deserialize, Serialize, utoipa::ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct Compensation {
    pub kind: CompensationKind,
    /// In minor units of the currency (cents).
    #[serde(default)]
    pub amount: i64,
    /// ISO 4217; the policy's currency when left out.
    pub currency: Option<String>,
}

#[derive(Deserialize, Serialize, utoipa::ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// What happened and how it ended: the record that protects everyone later.
    #[schema(value_type = String, max_length = 20000)]
    pub summary: LongText,
    #[schema(value_type = Option<String>)]
    pub root_cause: Option<LongText>,
    #[schema(value_type = Option<String>)]
    pub actions: Option<LongText>,
    #[schema(value_type = Option<String>)]
    pub preventive_actions: Option<LongText>,
    pub compensation: Option<Compensation>,
}

/// The outcome of a resolve request: resolved, or waiting for an approval.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ResolveOutcome {
    pub escalation: Escalation,
    /// Set when the compensation exceeds the resolver's authority: resolution waits for it.
    pub approval: Option<Approval>,
}

pub async fn resolve(
    db: &Db,
    caller: &Caller,
    id: &str,
    req: ResolveRequest,
    now: Timestamp,
) -> ApiResult<ResolveOutcome> {
    if let Some(c) = &req.compensation {
        if c.amount < 0 {
            return Err(ApiError::field(
                "compensation.amount",
                "must not be negative",
            ));
        }
        if c.kind == CompensationKind::None && c.amount != 0 {
            return Err(ApiError::field(
                "compensation.amount",
                "must be 0 when the kind is none",
            ));
        }
        if let Some(cur) = &c.currency {
            if cur.len() != 3 || !cur.chars().all(|ch| ch.is_ascii_uppercase()) {
                return Err(ApiError::field(
                    "compensation.currency",
                    "must be a three-letter ISO 4217 code such as USD",
                ));
            }
        }
    }
    let mut tx = db.write().await?;
    let (tenant, e, mut ticket) = load(&mut tx, db, caller, id).await?;
    check_active(e.state, &e.target, &caller.actor(), "resolve")?;
    if escalations::pending_approval_for(tx.conn(), &tenant, &e.id)
        .await?
        .is_some()
    {
        return Err(ApiError::Conflict(
            "a compensation approval is pending for this escalation: it must be decided first"
                .into(),
        ));
    }
    let policy = policy_in(tx.conn(), &tenant).await?;
    let amount = req.compensation.as_ref().map_or(0, |c| c.amount);
    let resolution = resolution_json(&req, &policy);
    if let Some(approver) = approval_needed(amount, caller.role(), &policy) {
        let currency = resolution["compensation"]["currency"]
            .as_str()
            .unwrap_or(&policy.currency)
            .to_owned();
        let a = escalations::insert_approval(
            tx.conn(),
            &tenant,
            &e,
            &caller.user.id,
            approver,
            amount,
            &currency,
            &resolution,
            now,
        )
        .await?;
        let event = record(
            tx.conn(),
            &tenant,
            Some(&ticket.id),
            Some(&caller.user.id),
            "approval_requested",
            json!({"escalation_id": e.id, "approval_id": a.id, "approver_role": approver, "amount": amount,
                   "currency": currency, "limit": policy.authority_limit(caller.role()), "resolution": resolution}),
            now,
        )
        .await?;
        let payload = json!({"approval_id": a.id, "escalation_id": e.id, "ticket_id": ticket.id, "subject": ticket.subject,
                             "amount": amount, "currency": currency, "requested_by": caller.user.name})
    .to_string();
        let approvers: Vec<String> = directory::users_with_role(tx.conn(), &tenant, approver)
            .await?
            .into_iter()
            .map(|u| u.id)
            .collect();
        notify_staff(
            tx.conn(),
            &tenant,
            &ticket.id,
            &approvers,
            "approval_requested",
            &event,
            &payload,
            now,
        )
        .await?;
        tx.commit().await?;
        return Ok(ResolveOutcome {
            escalation: e,
            approval: Some(a),
        });
    }
    let e = finish_resolution(
        &mut tx,
        &tenant,
        e,
        &mut ticket,
        &caller.user.id,
        resolution,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ResolveOutcome {
        escalation: e,
        approval: None,
    })
}

fn resolution_json(req: &ResolveRequest, policy: &Policy) -> serde_json::Value {
    let compensation = req.compensation.as_ref().map(|c| {
        json!({"kind": c.kind, "amount": c.amount, "currency": c.currency.clone().unwrap_or_else(|| policy.currency.clone())})
    });
    json!({
        "summary": req.summary.as_str(),
        "root_cause": req.root_cause.as_ref().map(|t| t.as_str()),
        "actions": req.actions.as_ref().map(|t| t.as_str()),
        "preventive_actions": req.preventive_actions.as_ref().map(|t| t.as_str()),
        "compensation": compensation,
    })
}

async fn finish_resolution(
    tx: &mut WriteTx,
    tenant: &str,
    mut e: Escalation,
    ticket: &mut Ticket,
    by: &str,
    mut resolution: serde_json::Value,
    now: Timestamp,
) -> ApiResult<Escalation> {
    let prior = e.state;
    resolution["resolved_by"] = json!(by);
    e.state = EscalationState::Resolved;
    e.closed_at = Some(now);
    e.updated_at = now;
    e.resolution = Some(resolution.clone());
    close_clocks(&mut e, now)?;
    if !escalations::update_if_state(tx.conn(), &e, prior).await? {
        return Err(ApiError::Conflict(
            "the escalation changed while resolving it: reload and try again".into(),
        ));
    }
    let before = json!({"state": prior, "status": ticket.status});
    ticket.status = TicketStatus::Resolved;
    ticket.active_escalation_id = None;
    tickets::update(tx.conn(), tenant, ticket, now).await?;
    let event = record(
        tx.conn(),
        tenant,
        Some(&ticket.id),
        Some(by),
        "resolved",
        json!({"escalation_id": e.id, "resolution": resolution, "before": before,
               "after": {"state": "resolved", "status": "resolved"}}),
        now,
    )
    .await?;
    // The escalator and everyone watching hear how it ended.
    let payload = json!({"escalation_id": e.id, "ticket_id": ticket.id, "subject": ticket.subject, "summary": resolution["summary"]})
    .to_string();
    let watchers = tickets::watchers(tx.conn(), tenant, &ticket.id).await?;
    let told = distinct_except(e.requested_by.iter().chain(watchers.iter()), by);
    notify_staff(
        tx.conn(),
        tenant,
        &ticket.id,
        &told,
        "escalation_resolved",
        &event,
        &payload,
        now,
    )
    .await?;
    let customer = directory::customer(tx.conn(), tenant, &ticket.customer_id).await?;
    let email = customer.as_ref().and_then(|c| c.email.as_deref());
    let payload = json!({"ticket_id": ticket.id, "subject": ticket.subject, "summary": resolution["summary"], "verify": true})
    .to_string();
    notify_customer(
        tx.conn(),
        tenant,
        &ticket.id,
        email,
        "resolution_verification_request",
        &event,
        &payload,
        now,
    )
    .await?;
    sla::sync_timers(tx.conn(), &e, now).await?;
    Ok(e)
}

/// Stops the run's clocks as the escalation ends.
fn close_clocks(e: &mut Escalation, now: Timestamp) -> ApiResult<()> {
    let (snap, mut run) = sla::state_of(e)?;
    run.clocks.close(now);
    sla::apply(e, &snap, &run)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    #[schema(value_type = String)]
    pub reason: LongText,
}

/// Approves or denies a compensation request. Approval applies the waiting resolution.
pub async fn decide(
    db: &Db,
    caller: &Caller,
    approval_id: &str,
    approve: bool,
    req: DecisionRequest,
    now: Timestamp,
) -> ApiResult<Approval> {
    let tenant = caller.tenant_id().to_owned();
    let mut tx = db.write().await?;
    let a = escalations::approval(tx.conn(), &tenant, approval_id)
        .await?
        .ok_or_else(|| ApiError::not_found("approval"))?;
    let policy = policy_in(tx.conn(), &tenant).await?;
    if caller.role() != a.approver_role && policy.authority_limit(caller.role()) < a.amount_minor {
        return Err(ApiError::Forbidden(format!(
            "this approval is for a {} or someone whose limit covers the amount",
            a.approver_role
        )));
    }
    if a.requested_by == caller.user.id {
        return Err(ApiError::Forbidden(
            "nobody may approve their own request".into(),
        ));
    }
    let state = if approve {
        ApprovalState::Approved
    } else {
        ApprovalState::Denied
    };
    let (_, e, mut ticket) = load(&mut tx, db, caller, &a.escalation_id).await?;
    if !escalations::decide_approval(
        tx.conn(),
        &tenant,
        &a.id,
        state,
        &caller.user.id,
        req.reason.as_str(),
        now,
    )
    .await?
    {
        return Err(ApiError::Conflict(
            "this approval was already decided".into(),
        ));
    }
    let kind = if approve {
        "approval_granted"
    } else {
        "approval_denied"
    };
    let event = record(
        tx.conn(),
        &tenant,
        Some(&a.ticket_id),
        Some(&caller.user.id),
        kind,
        json!({"approval_id": a.id, "escalation_id": a.escalation_id, "amount": a.amount_minor,
               "currency": a.currency, "reason": req.reason.as_str()}),
        now,
    )
    .await?;
    let payload = json!({"approval_id": a.id, "decision": state, "reason": req.reason.as_str(), "ticket_id": a.ticket_id})
    .to_string();
    notify_staff(
        tx.conn(),
        &tenant,
        &a.ticket_id,
        std::slice::from_ref(&a.requested_by),
        kind,
        &event,
        &payload,
        now,
    )
    .await?;
    if approve {
        let mut resolution = a.resolution.clone();
        resolution["approved_by"] = json!(caller.user.id);
        finish_resolution(
            &mut tx,
            &tenant,
            e,
            &mut ticket,
            &a.requested_by,
            resolution,
            now,
        )
        .await?;
    }
    let decided = escalations::approval(tx.conn(), &tenant, approval_id)
        .await?
        .ok_or_else(|| ApiError::not_found("approval"))?;
    tx.commit().await?;
    Ok(decided)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeEscalateRequest {
    /// Why escalation was not warranted.
    #[schema(value_type = String)]
    pub reason: LongText,
}

/// Sends the ticket back to whoever had it, as open.
pub async fn de_escalate(
    db: &Db,
    caller: &Caller,
    id: &str,
    req: DeEscalateRequest,
    now: Timestamp,
) -> ApiResult<Escalation> {
    let mut tx = db.write().await?;
    let (tenant, mut e, mut ticket) = load(&mut tx, db, caller, id).await?;
    check_active(e.state, &e.target, &caller.actor(), "de-escalate")?;
    let prior = e.state;
    e.state = EscalationState::DeEscalated;
    e.closed_at = Some(now);
    e.updated_at = now;
    e.resolution = Some(json!({"reason": req.reason.as_str(), "by": caller.user.id}));
    close_clocks(&mut e, now)?;
    if !escalations::update_if_state(tx.conn(), &e, prior).await? {
        return Err(ApiError::Conflict(
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
        tx.conn(),
        &tenant,
        Some(&ticket.id),
        Some(&caller.user.id),
        "de_escalated",
        json!({"escalation_id": e.id, "reason": req.reason.as_str(), "before": before,
               "after": {"status": ticket.status, "assignee_id": ticket.assignee_id, "team_id": ticket.team_id}}),
        now,
    )
    .await?;
    let payload = json!({"escalation_id": e.id, "ticket_id": ticket.id, "subject": ticket.subject, "reason": req.reason.as_str()})
    .to_string();
    let told = distinct_except(
        e.requested_by.iter().chain(e.previous_assignee_id.iter()),
        &caller.user.id,
    );
    notify_staff(
        tx.conn(),
        &tenant,
        &ticket.id,
        &told,
        "escalation_de_escalated",
        &event,
        &payload,
        now,
    )
    .await?;
    sla::sync_timers(tx.conn(), &e, now).await?;
    tx.commit().await?;
    Ok(e)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReEscalateRequest {
    /// Why it must go higher.
    #[schema(value_type = String)]
    pub note: LongText,
}

pub async fn re_escalate(
    db: &Db,
    caller: &Caller,
    id: &str,
    req: ReEscalateRequest,
    now: Timestamp,
) -> ApiResult<Escalation> {
    let mut tx = db.write().await?;
    let (tenant, e, mut ticket) = load(&mut tx, db, caller, id).await?;
    check_active(e.state, &e.target, &caller.actor(), "re-escalate")?;
    let e = move_up(
        &mut tx,
        &tenant,
        e,
        &mut ticket,
        Some(&caller.user.id),
        req.note.as_str(),
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
    pub fn event_kind(self) -> &'static str {
        match self {
            MoveReason::Asked => "re_escalated",
            MoveReason::RungTimedOut => "rung_timed_out",
            MoveReason::TargetAway => "target_away",
            MoveReason::SlaBreached => "sla_breach_re_escalated",
        }
    }
}

/// Supersedes the active escalation with a new one on the next rung of its chain (the
/// snapshot it started with). Used by re-escalation and availability changes; the timer
/// engine plans the same move for whole batches with [`plan_move_up`].
#[allow(clippy::too_many_arguments)]
pub async fn move_up(
    tx: &mut WriteTx,
    tenant: &str,
    old: Escalation,
    ticket: &mut Ticket,
    by: Option<&str>,
    note: &str,
    reason: MoveReason,
    now: Timestamp,
) -> ApiResult<Escalation> {
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
    changes.write(tx.conn(), now).await?;
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
    by: Option<&str>,
    note: &str,
    reason: MoveReason,
    now: Timestamp,
) -> ApiResult<Escalation> {
    let tenant = old.tenant_id.clone();
    let chain = snap.chain();
    let (position, next) = next_on_chain(&chain, run.position, &old.target).ok_or_else(|| {
        ApiError::Conflict(
            "the escalation is already at the top of the ladder (platform support)".into(),
        )
    })?;
    let routed = people.route(next, position, &chain, now);
    old.state = EscalationState::Superseded;
    old.closed_at = Some(now);
    old.updated_at = now;
    let mut priority = old.priority;
    if routed.target == Target::Platform && old.category == Category::Legal {
        priority = Priority::Critical;
    }
    let mut new = Escalation {
        id: new_id(),
        state: EscalationState::Requested,
        target: routed.target.clone(),
        rung: old.rung + 1,
        note: note.to_owned(),
        priority,
        requested_by: by.map(str::to_owned).or(old.requested_by.clone()),
        escalation_owner_id: None,
        acknowledged_at: None,
        closed_at: None,
        resolution: None,
        deadlines: None,
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
    let recipients = routed.recipients.iter().map(|u| u.id.as_str());
    changes.notify_staff(
        &tenant,
        &ticket.id,
        recipients,
        "escalation_requested",
        &event,
        &payload,
    );
    // The rung that let it pass, and the rungs skipped on the way, are told it went past them.
    let mut passed: Vec<&Target> = routed.skipped.iter().map(|(t, _)| t).collect();
    if reason == MoveReason::RungTimedOut {
        passed.push(&old.target);
    }
    for t in passed {
        let everyone = people.everyone(t).into_iter().map(|u| u.id.as_str());
        changes.notify_staff(
            &tenant,
            &ticket.id,
            everyone,
            "escalation_skipped_you",
            &event,
            &payload,
        );
    }
    let owner = old.escalation_owner_id.as_deref();
    changes.notify_staff(
        &tenant,
        &ticket.id,
        owner,
        "escalation_moved_up",
        &event,
        &payload,
    );
    changes.put_escalation(old, false);
    changes.put_escalation(new.clone(), true);
    Ok(new)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerificationRequest {
    pub customer_verification: CustomerVerification,
}

/// Records whether the customer confirmed the resolution.
pub async fn verify(
    db: &Db,
    caller: &Caller,
    id: &str,
    req: VerificationRequest,
    now: Timestamp,
) -> ApiResult<Escalation> {
    caller.require_staff("record a customer verification")?;
    let mut tx = db.write().await?;
    let (tenant, mut e, ticket) = load(&mut tx, db, caller, id).await?;
    if e.state != EscalationState::Resolved {
        return Err(ApiError::Conflict(format!(
            "the escalation is {}: only a resolved escalation can be verified",
            e.state
        )));
    }
    let mut resolution = e.resolution.clone().unwrap_or_else(|| json!({}));
    let before = resolution.get("customer_verification").cloned();
    resolution["customer_verification"] = json!(req.customer_verification);
    e.resolution = Some(resolution);
    e.updated_at = now;
    escalations::update_if_state(tx.conn(), &e, EscalationState::Resolved).await?;
    record(
        tx.conn(),
        &tenant,
        Some(&ticket.id),
        Some(&caller.user.id),
        "customer_verification",
        json!({"escalation_id": e.id, "before": before, "after": req.customer_verification}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(e)
}

/// Called when the escalation owner answers the customer (a public reply or a logged call):
/// that is the response the interim-update clock waits for, so the next update is due one
/// cadence later.
pub async fn customer_updated(
    conn: &mut AnyConnection,
    e: &Escalation,
    now: Timestamp,
) -> ApiResult<()> {
    let mut e = e.clone();
    let (snap, mut run) = sla::state_of(&e)?;
    run.clocks.customer_updated(&snap, now);
    sla::apply(&mut e, &snap, &run)?;
    e.updated_at = now;
    escalations::update_if_state(conn, &e, e.state).await?;
    sla::sync_timers(conn, &e, now).await?;
    Ok(())
}

/// The ticket started (`true`) or stopped waiting on the customer: the update and resolution
/// clocks of its active escalation pause or run again. Returns whether anything changed.
pub async fn set_waiting(
    conn: &mut AnyConnection,
    e: &Escalation,
    waiting: bool,
    now: Timestamp,
) -> ApiResult<bool> {
    let mut e = e.clone();
    let (snap, mut run) = sla::state_of(&e)?;
    let changed = if waiting {
        run.clocks.pause(now)
    } else {
        run.clocks.resume(&snap, now)
    };
    if changed {
        sla::apply(&mut e, &snap, &run)?;
        e.updated_at = now;
        escalations::update_if_state(conn, &e, e.state).await?;
        sla::sync_timers(conn, &e, now).await?;
    }
    Ok(changed)
}

/// Someone just became unavailable: every escalation waiting for acknowledgement whose rung
/// now reaches nobody moves to the next rung at once, instead of waiting for its timeout.
/// Returns the ids of the escalations that moved.
pub async fn route_around_away(
    tx: &mut WriteTx,
    db: &Db,
    tenant: &str,
    user_id: &str,
    teams: &[String],
    now: Timestamp,
) -> ApiResult<Vec<String>> {
    let Some(user) = directory::users_by_id(tx.conn(), tenant, &[user_id.to_owned()])
        .await?
        .into_iter()
        .next()
    else {
        return Ok(Vec::new());
    };
    let mut keys = vec![
        escalations::target_key(&Target::User {
            id: ladder_core::UserId(user.id.clone()),
        }),
        escalations::target_key(&Target::Role { role: user.role }),
    ];
    keys.extend(teams.iter().map(|t| {
        escalations::target_key(&Target::Team {
            id: ladder_core::TeamId(t.clone()),
        })
    }));
    // Lock every ticket concerned before writing anything, as requests do: no audit chain
    // head is held while waiting for a ticket.
    let mut locked = Vec::new();
    for e in escalations::requested_for(tx.conn(), tenant, &keys).await? {
        let pg = db.backend() == ladder_storage::Backend::Postgres;
        if let Some(ticket) = tickets::get_for_update(tx.conn(), pg, tenant, &e.ticket_id).await? {
            locked.push((e.id, ticket));
        }
    }
    let people = People::load(tx.conn(), tenant).await?;
    let mut moved = Vec::new();
    for (id, mut ticket) in locked {
        // Re-read under the ticket lock: it may have been acknowledged meanwhile.
        let Some(e) = escalations::get(tx.conn(), Some(tenant), &id).await? else {
            continue;
        };
        if e.state != EscalationState::Requested
            || ticket.active_escalation_id.as_deref() != Some(e.id.as_str())
            || !people.reachable(&e.target, now).is_empty()
        {
            continue;
        }
        let note = format!("{} is unavailable: moved up automatically.", user.name);
        let new = move_up(
            tx,
            tenant,
            e,
            &mut ticket,
            None,
            &note,
            MoveReason::TargetAway,
            now,
        )
        .await?;
        moved.push(new.id);
    }
    Ok(moved)
}

/// The people in `ids`, each once, in order, leaving out `except` (who did it).
fn distinct_except<'a>(ids: impl Iterator<Item = &'a String>, except: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.filter(|u| u.as_str() != except && seen.insert(u.as_str()))
        .cloned()
        .collect()
}
