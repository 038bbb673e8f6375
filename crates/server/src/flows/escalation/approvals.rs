//! Deciding a compensation approval; an approval applies the waiting resolution.

use jiff::Timestamp;
use ladder_core::text::LongText;
use ladder_core::ApprovalId;
use ladder_core::ApprovalState;
use ladder_core::{AuditKind, NotificationKind};
use ladder_storage::escalations::{self, Approval};
use ladder_storage::Db;
use serde_json::json;

use super::load;
use super::resolve::finish_resolution;
use crate::flows::Actor;
use crate::flows::{notify_staff, policy_in, record};
use crate::flows::{FlowError, FlowResult};

/// Approves or denies a compensation request. Approval applies the waiting resolution.
pub async fn decide(
    db: &Db,
    actor: &Actor,
    approval_id: &ApprovalId,
    approve: bool,
    reason: &LongText,
    now: Timestamp,
) -> FlowResult<Approval> {
    let tenant = actor.tenant().to_owned();
    let mut tx = db.write().await?;
    let a = escalations::approval(tx.conn(), &tenant, approval_id)
        .await?
        .ok_or_else(|| FlowError::NotFound("approval"))?;
    let policy = policy_in(tx.conn(), &tenant).await?;
    if actor.role != a.approver_role && !policy.authority_limit(actor.role).covers(a.amount_minor) {
        let role = a.approver_role.as_str();
        let article = if role.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        return Err(FlowError::Forbidden(format!(
            "this approval is for {article} {role} or someone whose limit covers the amount"
        )));
    }
    if a.requested_by == actor.user_id {
        return Err(FlowError::Forbidden(
            "nobody may approve their own request".into(),
        ));
    }
    let state = if approve {
        ApprovalState::Approved
    } else {
        ApprovalState::Denied
    };
    let (_, e, mut ticket) = load(&mut tx, db, actor, &a.escalation_id).await?;
    if !escalations::decide_approval(
        tx.conn(),
        &tenant,
        &a.id,
        state,
        &actor.user_id,
        reason.as_str(),
        now,
    )
    .await?
    {
        return Err(FlowError::Conflict(
            "this approval was already decided".into(),
        ));
    }
    let (kind, told) = if approve {
        (
            AuditKind::ApprovalGranted,
            NotificationKind::ApprovalGranted,
        )
    } else {
        (AuditKind::ApprovalDenied, NotificationKind::ApprovalDenied)
    };
    let event = record(
        &mut tx,
        &tenant,
        Some(&a.ticket_id),
        Some(actor.id()),
        kind,
        json!({"approval_id": a.id, "escalation_id": a.escalation_id, "amount": a.amount_minor,
               "currency": a.currency, "reason": reason.as_str()}),
        now,
    );
    let payload = json!({"approval_id": a.id, "decision": state, "reason": reason.as_str(), "ticket_id": a.ticket_id})
    .to_string();
    notify_staff(
        tx.conn(),
        &tenant,
        &a.ticket_id,
        std::slice::from_ref(&a.requested_by),
        told,
        &event,
        &payload,
        now,
    )
    .await?;
    if approve {
        let mut resolution = a.resolution.clone();
        resolution["approved_by"] = json!(actor.id());
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
        .ok_or_else(|| FlowError::NotFound("approval"))?;
    tx.commit().await?;
    Ok(decided)
}
