//! Resolving an escalation, with a compensation approval when it exceeds the resolver's
//! authority.

use jiff::Timestamp;
use ladder_core::escalation::{approval_needed, check_active};
use ladder_core::text::LongText;
use ladder_core::AuditKind;
use ladder_core::{EscalationId, TenantId, UserId};

use ladder_core::NotificationKind;
use ladder_core::{CompensationKind, EscalationState, Policy, TicketStatus};
use ladder_storage::directory;
use ladder_storage::escalations::{self, Approval, Escalation};
use ladder_storage::tickets::{self, Ticket};
use ladder_storage::{Db, WriteTx};
use serde_json::json;

use super::{close_clocks, distinct_except, load};
use crate::flows::Actor;
use crate::flows::{notify_customer, notify_staff, policy_in, record};
use crate::flows::{FlowError, FlowResult};
use crate::sla;

/// A compensation offered to the customer with a resolution.
#[derive(Clone, Debug)]
pub struct Compensation {
    pub kind: CompensationKind,
    /// In minor units of the currency (cents).
    pub amount: i64,
    /// ISO 4217; the policy's currency when `None`.
    pub currency: Option<String>,
}

/// The command to resolve an escalation.
#[derive(Clone, Debug)]
pub struct Resolve {
    /// What happened and how it ended: the record that protects everyone later.
    pub summary: LongText,
    pub root_cause: Option<LongText>,
    pub actions: Option<LongText>,
    pub preventive_actions: Option<LongText>,
    pub compensation: Option<Compensation>,
}

/// What came of a resolution: resolved, or waiting for an approval.
pub struct Resolved {
    pub escalation: Escalation,
    /// Set when the compensation exceeds the resolver's authority: resolution waits for it.
    pub approval: Option<Approval>,
}

pub async fn resolve(
    db: &Db,
    actor: &Actor,
    id: &EscalationId,
    req: Resolve,
    now: Timestamp,
) -> FlowResult<Resolved> {
    if let Some(c) = &req.compensation {
        if c.amount < 0 {
            return Err(FlowError::field(
                "compensation.amount",
                "must not be negative",
            ));
        }
        if c.kind == CompensationKind::None && c.amount != 0 {
            return Err(FlowError::field(
                "compensation.amount",
                "must be 0 when the kind is none",
            ));
        }
        if let Some(cur) = &c.currency {
            if cur.len() != 3 || !cur.chars().all(|ch| ch.is_ascii_uppercase()) {
                return Err(FlowError::field(
                    "compensation.currency",
                    "must be a three-letter ISO 4217 code such as USD",
                ));
            }
        }
    }
    let mut tx = db.write().await?;
    let (tenant, e, mut ticket) = load(&mut tx, db, actor, id).await?;
    check_active(e.state, &e.target, &actor.rules(), "resolve")?;
    if escalations::pending_approval_for(tx.conn(), &tenant, &e.id)
        .await?
        .is_some()
    {
        return Err(FlowError::Conflict(
            "a compensation approval is pending for this escalation: it must be decided first"
                .into(),
        ));
    }
    let policy = policy_in(tx.conn(), &tenant).await?;
    let amount = req.compensation.as_ref().map_or(0, |c| c.amount);
    let resolution = resolution_json(&req, &policy);
    if let Some(approver) = approval_needed(amount, actor.role, &policy) {
        let currency = resolution["compensation"]["currency"]
            .as_str()
            .unwrap_or(&policy.currency)
            .to_owned();
        let a = escalations::insert_approval(
            tx.conn(),
            &tenant,
            &e,
            &actor.user_id,
            approver,
            amount,
            &currency,
            &resolution,
            now,
        )
        .await?;
        let event = record(
            &mut tx,
            &tenant,
            Some(&ticket.id),
            Some(actor.id()),
            AuditKind::ApprovalRequested,
            json!({"escalation_id": e.id, "approval_id": a.id, "approver_role": approver, "amount": amount,
                   "currency": currency, "limit": policy.authority_limit(actor.role), "resolution": resolution}),
            now,
        );
        let payload = json!({"approval_id": a.id, "escalation_id": e.id, "ticket_id": ticket.id, "subject": ticket.subject,
                             "amount": amount, "currency": currency, "requested_by": actor.name})
    .to_string();
        let approvers: Vec<UserId> = directory::users_with_role(tx.conn(), &tenant, approver)
            .await?
            .into_iter()
            .map(|u| u.id)
            .collect();
        notify_staff(
            tx.conn(),
            &tenant,
            &ticket.id,
            &approvers,
            NotificationKind::ApprovalRequested,
            &event,
            &payload,
            now,
        )
        .await?;
        tx.commit().await?;
        return Ok(Resolved {
            escalation: e,
            approval: Some(a),
        });
    }
    let e = finish_resolution(
        &mut tx,
        &tenant,
        e,
        &mut ticket,
        actor.id(),
        resolution,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Resolved {
        escalation: e,
        approval: None,
    })
}

fn resolution_json(req: &Resolve, policy: &Policy) -> serde_json::Value {
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

pub(super) async fn finish_resolution(
    tx: &mut WriteTx,
    tenant: &TenantId,
    mut e: Escalation,
    ticket: &mut Ticket,
    by: &UserId,
    mut resolution: serde_json::Value,
    now: Timestamp,
) -> FlowResult<Escalation> {
    let prior = e.state;
    resolution["resolved_by"] = json!(by);
    e.state = EscalationState::Resolved;
    e.closed_at = Some(now);
    e.updated_at = now;
    e.resolution = Some(resolution.clone());
    close_clocks(&mut e, now)?;
    if !escalations::update_if_state(tx.conn(), &e, prior).await? {
        return Err(FlowError::Conflict(
            "the escalation changed while resolving it: reload and try again".into(),
        ));
    }
    let before = json!({"state": prior, "status": ticket.status});
    ticket.status = TicketStatus::Resolved;
    ticket.active_escalation_id = None;
    tickets::update(tx.conn(), tenant, ticket, now).await?;
    let event = record(
        tx,
        tenant,
        Some(&ticket.id),
        Some(by),
        AuditKind::Resolved,
        json!({"escalation_id": e.id, "resolution": resolution, "before": before,
               "after": {"state": "resolved", "status": "resolved"}}),
        now,
    );
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
        NotificationKind::EscalationResolved,
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
        NotificationKind::ResolutionVerificationRequest,
        &event,
        &payload,
        now,
    )
    .await?;
    sla::sync_timers(tx.conn(), &e, now).await?;
    Ok(e)
}
