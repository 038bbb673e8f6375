//! Recording whether the customer confirmed the resolution.

use jiff::Timestamp;
use ladder_core::AuditKind;
use ladder_core::EscalationId;
use ladder_core::{CustomerVerification, EscalationState};
use ladder_storage::escalations::{self, Escalation};
use ladder_storage::Db;
use serde_json::json;

use super::load;
use crate::flows::record;
use crate::flows::Actor;
use crate::flows::{FlowError, FlowResult};

/// Records whether the customer confirmed the resolution.
pub async fn verify(
    db: &Db,
    actor: &Actor,
    id: &EscalationId,
    verification: CustomerVerification,
    now: Timestamp,
) -> FlowResult<Escalation> {
    actor.require_staff("record a customer verification")?;
    let mut tx = db.write().await?;
    let (tenant, mut e, ticket) = load(&mut tx, db, actor, id).await?;
    if e.state != EscalationState::Resolved {
        return Err(FlowError::Conflict(format!(
            "the escalation is {}: only a resolved escalation can be verified",
            e.state
        )));
    }
    let mut resolution = e.resolution.clone().unwrap_or_else(|| json!({}));
    let before = resolution.get("customer_verification").cloned();
    resolution["customer_verification"] = json!(verification);
    e.resolution = Some(resolution);
    e.updated_at = now;
    escalations::update_if_state(tx.conn(), &e, EscalationState::Resolved).await?;
    record(
        &mut tx,
        &tenant,
        Some(&ticket.id),
        Some(actor.id()),
        AuditKind::CustomerVerification,
        json!({"escalation_id": e.id, "before": before, "after": verification}),
        now,
    );
    tx.commit().await?;
    Ok(e)
}
